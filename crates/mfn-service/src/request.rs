//! Requests as every door receives them, and their validation.
//!
//! The request types mirror the gRPC messages: a parameter with a non-zero default is
//! an `Option`, and `None` means the documented default. They deserialize from JSON
//! with the same names, so REST and MCP reuse them. `resolve` applies defaults, checks
//! every limit (naming the field and the limit) and returns a typed, valid spec —
//! before anything sized by the request is allocated.

use mfn_core::features::{FeatureOptions, Threshold};
use mfn_core::federated::KrumParams;
use mfn_core::field::SimulationParams;
use mfn_core::fractal::BoxCountParams;
use mfn_core::nernst::NernstParams;
use mfn_core::validation::ValidationConfig;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ServiceError;

/// Default seed of every operation.
pub const DEFAULT_SEED: u64 = mfn_core::DEFAULT_SEED;
/// Default number of IFS points.
pub const DEFAULT_IFS_POINTS: usize = 10_000;
/// Default number of IFS maps.
pub const DEFAULT_IFS_TRANSFORMS: usize = 4;
/// Default steps between stream frames.
pub const DEFAULT_STEPS_PER_FRAME: u32 = 10;
/// Longest pacing interval between frames.
pub const MAX_FRAME_INTERVAL_MS: u32 = 60_000;
/// Most history values (`steps × grid_size²`) a `with_history` request may keep (128 MB).
pub const MAX_HISTORY_CELLS: u64 = 1 << 24;
/// Most IFS points one request may generate (16 MB of points).
pub const MAX_IFS_POINTS: u32 = 1_000_000;
/// Default activity threshold of `ComputeFractalDimension`: −60 mV, in volts.
pub const DEFAULT_FRACTAL_THRESHOLD: f64 = -0.060;

/// Server-side limits, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest grid side (`MFN_MAX_GRID_SIZE`).
    pub max_grid_size: usize,
    /// Most steps (`MFN_MAX_STEPS`).
    pub max_steps: usize,
    /// Most gradients in one aggregation request.
    pub max_gradients: usize,
    /// Most values over all gradients of one aggregation request.
    pub max_gradient_values: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_grid_size: 512,
            max_steps: mfn_core::field::MAX_STEPS,
            max_gradients: 100_000,
            max_gradient_values: 16 * 1024 * 1024,
        }
    }
}

/// Seed and simulation parameters (SCIENCE.md §2) as a client sends them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct SimInput {
    /// Default 42.
    pub seed: Option<u64>,
    /// Default 64; [4, max_grid_size].
    pub grid_size: Option<u32>,
    /// Default 64; [1, max_steps].
    pub steps: Option<u32>,
    /// Default 0.18; (0, 0.25].
    pub alpha: Option<f64>,
    /// Default 0.25; [0, 1].
    pub spike_probability: Option<f64>,
    /// Default true.
    pub turing_enabled: Option<bool>,
    /// Default 0.75; [0, 1].
    pub turing_threshold: Option<f64>,
    /// Default false.
    pub quantum_jitter: Option<bool>,
    /// Default 0.0005; [0, 0.01].
    pub jitter_var: Option<f64>,
}

/// A validated simulation: parameters with defaults applied, and the seed.
#[derive(Debug, Clone, PartialEq)]
pub struct SimSpec {
    /// The seed.
    pub seed: u64,
    /// Valid parameters.
    pub params: SimulationParams,
}

impl SimSpec {
    /// A canonical text of the spec, for cache keys.
    pub fn key(&self) -> String {
        let p = &self.params;
        format!(
            "seed={};n={};steps={};alpha={:?};spike={:?};turing={};thr={:?};jitter={};jvar={:?}",
            self.seed,
            p.grid_size,
            p.steps,
            p.alpha,
            p.spike_probability,
            p.turing_enabled,
            p.turing_threshold,
            p.quantum_jitter,
            p.jitter_var
        )
    }
}

impl SimInput {
    /// Apply defaults and check every limit.
    pub fn resolve(&self, limits: &Limits) -> Result<SimSpec, ServiceError> {
        let d = SimulationParams::default();
        let grid_size = check_u32(
            "grid_size",
            self.grid_size,
            d.grid_size,
            mfn_core::field::MIN_GRID_SIZE,
            limits.max_grid_size,
        )?;
        let steps = check_u32("steps", self.steps, d.steps, 1, limits.max_steps)?;
        let params = SimulationParams {
            grid_size,
            steps,
            alpha: self.alpha.unwrap_or(d.alpha),
            spike_probability: self.spike_probability.unwrap_or(d.spike_probability),
            turing_enabled: self.turing_enabled.unwrap_or(d.turing_enabled),
            turing_threshold: self.turing_threshold.unwrap_or(d.turing_threshold),
            quantum_jitter: self.quantum_jitter.unwrap_or(d.quantum_jitter),
            jitter_var: self.jitter_var.unwrap_or(d.jitter_var),
        };
        params.validate()?;
        Ok(SimSpec {
            seed: self.seed.unwrap_or(DEFAULT_SEED),
            params,
        })
    }
}

fn check_u32(
    field: &str,
    value: Option<u32>,
    default: usize,
    lo: usize,
    hi: usize,
) -> Result<usize, ServiceError> {
    let v = value.map_or(default, |v| v as usize);
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(ServiceError::out_of_range(
            field,
            v,
            &format!("must be in [{lo}, {hi}]"),
        ))
    }
}

/// `RunSimulation` / `Simulate`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct SimulationRequest {
    /// Seed and parameters.
    #[serde(flatten)]
    pub sim: SimInput,
    /// Return the final field.
    pub include_field: bool,
}

/// Frame cadence of a stream, as a client sends it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct FrameInput {
    /// Default 10; [1, steps].
    pub steps_per_frame: Option<u32>,
    /// Default 0; [0, 60000] ms.
    pub frame_interval_ms: Option<u32>,
}

/// Validated frame cadence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameSpec {
    /// Steps between frames.
    pub steps_per_frame: usize,
    /// Minimum time between frames.
    pub interval: std::time::Duration,
}

impl FrameInput {
    /// Apply defaults and check limits against the run's `steps`.
    pub fn resolve(&self, steps: usize) -> Result<FrameSpec, ServiceError> {
        let spf = check_u32(
            "steps_per_frame",
            self.steps_per_frame,
            (DEFAULT_STEPS_PER_FRAME as usize).min(steps),
            1,
            steps,
        )?;
        let ms = self.frame_interval_ms.unwrap_or(0);
        if ms > MAX_FRAME_INTERVAL_MS {
            return Err(ServiceError::out_of_range(
                "frame_interval_ms",
                ms,
                &format!("must be in [0, {MAX_FRAME_INTERVAL_MS}]"),
            ));
        }
        Ok(FrameSpec {
            steps_per_frame: spf,
            interval: std::time::Duration::from_millis(ms.into()),
        })
    }
}

/// `StreamSimulation` / `SimulateStream`, and the start of `SteerSimulation`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct StreamSimulationRequest {
    /// Seed and parameters.
    #[serde(flatten)]
    pub sim: SimInput,
    /// Send the field in every frame.
    pub include_field: bool,
    /// Frame cadence.
    #[serde(flatten)]
    pub frames: FrameInput,
}

/// `ExtractFeatures`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct FeaturesRequest {
    /// Seed and parameters.
    #[serde(flatten)]
    pub sim: SimInput,
    /// Default −60 mV; any finite value.
    pub threshold_mv: Option<f64>,
    /// Use the median of the final field as the threshold.
    pub adaptive_threshold: bool,
    /// Features of every step's field, not only the final one.
    pub with_history: bool,
}

/// A validated feature request.
#[derive(Debug, Clone, PartialEq)]
pub struct FeaturesSpec {
    /// The simulation.
    pub sim: SimSpec,
    /// Extraction options.
    pub options: FeatureOptions,
    /// Whether the history is kept.
    pub with_history: bool,
}

impl FeaturesSpec {
    /// A canonical text of the spec, for cache keys.
    pub fn key(&self) -> String {
        format!(
            "{};threshold={:?};history={}",
            self.sim.key(),
            self.options.threshold,
            self.with_history
        )
    }
}

impl FeaturesRequest {
    /// Apply defaults and check every limit, including the history budget.
    pub fn resolve(&self, limits: &Limits) -> Result<FeaturesSpec, ServiceError> {
        let sim = self.sim.resolve(limits)?;
        let mut options = FeatureOptions::default();
        if self.adaptive_threshold {
            options.threshold = Threshold::AdaptiveMedian;
        } else if let Some(mv) = self.threshold_mv {
            if !mv.is_finite() {
                return Err(ServiceError::out_of_range(
                    "threshold_mv",
                    mv,
                    "must be a finite number",
                ));
            }
            options.threshold = Threshold::FixedMv(mv);
        }
        if self.with_history {
            let n = sim.params.grid_size as u64;
            let cells = sim.params.steps as u64 * n * n;
            if cells > MAX_HISTORY_CELLS {
                return Err(ServiceError::invalid(
                    "steps",
                    format!(
                        "with_history keeps steps × grid_size² values: {cells} is out of range: must be at most {MAX_HISTORY_CELLS}"
                    ),
                ));
            }
        }
        Ok(FeaturesSpec {
            sim,
            options,
            with_history: self.with_history,
        })
    }
}

/// `StreamFeatures`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct StreamFeaturesRequest {
    /// What to extract.
    #[serde(flatten)]
    pub features: FeaturesRequest,
    /// Frame cadence.
    #[serde(flatten)]
    pub frames: FrameInput,
}

/// `ValidatePattern` / `Validate`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ValidateRequest {
    /// Default 42.
    pub seed: Option<u64>,
    /// Default 1; [1, 100].
    pub epochs: Option<u32>,
    /// Default 4; [1, 64].
    pub batch_size: Option<u32>,
    /// Default 64; [4, 256].
    pub grid_size: Option<u32>,
    /// Default 64; [1, 1000].
    pub steps: Option<u32>,
    /// Default true.
    pub turing_enabled: Option<bool>,
    /// Default false.
    pub quantum_jitter: Option<bool>,
}

impl ValidateRequest {
    /// Apply defaults and check every limit.
    pub fn resolve(&self, limits: &Limits) -> Result<ValidationConfig, ServiceError> {
        let d = ValidationConfig::default();
        let max_grid = ValidationConfig::MAX_GRID_SIZE.min(limits.max_grid_size);
        let max_steps = ValidationConfig::MAX_STEPS.min(limits.max_steps);
        let cfg = ValidationConfig {
            seed: self.seed.unwrap_or(d.seed),
            epochs: check_u32(
                "epochs",
                self.epochs,
                d.epochs,
                1,
                ValidationConfig::MAX_EPOCHS,
            )?,
            batch_size: check_u32(
                "batch_size",
                self.batch_size,
                d.batch_size,
                1,
                ValidationConfig::MAX_BATCH_SIZE,
            )?,
            grid_size: check_u32(
                "grid_size",
                self.grid_size,
                d.grid_size,
                ValidationConfig::MIN_GRID_SIZE,
                max_grid,
            )?,
            steps: check_u32("steps", self.steps, d.steps, 1, max_steps)?,
            turing_enabled: self.turing_enabled.unwrap_or(d.turing_enabled),
            quantum_jitter: self.quantum_jitter.unwrap_or(d.quantum_jitter),
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

/// `ComputeNernst`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
#[schemars(extend("x-aliases" = [
    "concentration_out_M", "concentration_out_molar",
    "concentration_in_M", "concentration_in_molar", "temperature_K"
]))]
pub struct NernstRequest {
    /// Ion valence, one of −2, −1, 1, 2, 3.
    pub z_valence: i32,
    /// Outside concentration, mol/L.
    #[serde(alias = "concentration_out_M", alias = "concentration_out_molar")]
    pub concentration_out_m: f64,
    /// Inside concentration, mol/L.
    #[serde(alias = "concentration_in_M", alias = "concentration_in_molar")]
    pub concentration_in_m: f64,
    /// Default 310 K; [273, 373].
    #[serde(alias = "temperature_K")]
    pub temperature_k: Option<f64>,
}

impl NernstRequest {
    /// Check every field.
    pub fn resolve(&self) -> Result<NernstParams, ServiceError> {
        NernstParams::new(
            self.z_valence,
            self.concentration_out_m,
            self.concentration_in_m,
            self.temperature_k,
        )
        .map_err(|e| {
            rename_field(
                e.into(),
                &[
                    ("z", "z_valence"),
                    ("c_out_m", "concentration_out_M"),
                    ("c_in_m", "concentration_in_M"),
                    ("temperature_k", "temperature_K"),
                ],
            )
        })
    }
}

/// The core names some fields differently from the wire; report the wire name.
fn rename_field(mut e: ServiceError, map: &[(&str, &str)]) -> ServiceError {
    if let Some(f) = e.field.clone()
        && let Some((_, wire)) = map.iter().find(|(core, _)| *core == f)
    {
        e.message = e.message.replacen(&f, wire, 1);
        e.field = Some((*wire).to_string());
    }
    e
}

/// `AggregateFederated`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct AggregateRequest {
    /// Client gradients, all of one length.
    pub gradients: Vec<Vec<f64>>,
    /// Default 10; [1, 1000].
    pub num_clusters: Option<u32>,
    /// Default 0.2; [0, 0.5).
    pub byzantine_fraction: Option<f64>,
    /// Default 0.1; (0, 1].
    pub sample_fraction: Option<f64>,
    /// Default 42.
    pub seed: Option<u64>,
}

impl AggregateRequest {
    /// Apply defaults and check limits (sizes first, then the core's checks).
    pub fn resolve(&self, limits: &Limits) -> Result<KrumParams, ServiceError> {
        let n = self.gradients.len();
        if n > limits.max_gradients {
            return Err(ServiceError::out_of_range(
                "gradients",
                format!("{n} gradients"),
                &format!("must be at most {}", limits.max_gradients),
            ));
        }
        let values: usize = self.gradients.iter().map(Vec::len).sum();
        if values > limits.max_gradient_values {
            return Err(ServiceError::out_of_range(
                "gradients",
                format!("{values} values"),
                &format!("must be at most {} in total", limits.max_gradient_values),
            ));
        }
        let d = KrumParams::default();
        let p = KrumParams {
            num_clusters: self.num_clusters.map_or(d.num_clusters, |v| v as usize),
            byzantine_fraction: self.byzantine_fraction.unwrap_or(d.byzantine_fraction),
            sample_fraction: self.sample_fraction.unwrap_or(d.sample_fraction),
            seed: self.seed.unwrap_or(d.seed),
        };
        p.validate()?;
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn field_of(e: ServiceError) -> String {
        assert_eq!(e.code, ErrorCode::InvalidArgument, "{e:?}");
        e.field.unwrap()
    }

    #[test]
    fn absent_means_default() {
        let s = SimInput::default().resolve(&Limits::default()).unwrap();
        assert_eq!(s.params, SimulationParams::default());
        assert_eq!(s.seed, 42);
        let n = NernstRequest {
            z_valence: 1,
            concentration_out_m: 0.005,
            concentration_in_m: 0.14,
            temperature_k: None,
        }
        .resolve()
        .unwrap();
        assert_eq!(n.temperature_k, 310.0);
    }

    #[test]
    fn server_limit_on_grid_size_is_named() {
        let limits = Limits {
            max_grid_size: 128,
            ..Limits::default()
        };
        let e = SimInput {
            grid_size: Some(256),
            ..Default::default()
        }
        .resolve(&limits)
        .unwrap_err();
        assert!(e.message.contains("[4, 128]"), "{}", e.message);
        assert_eq!(field_of(e), "grid_size");
    }

    #[test]
    fn every_simulation_parameter_limit_names_its_field() {
        let l = Limits::default();
        let cases: Vec<(SimInput, &str)> = vec![
            (
                SimInput {
                    grid_size: Some(3),
                    ..Default::default()
                },
                "grid_size",
            ),
            (
                SimInput {
                    grid_size: Some(513),
                    ..Default::default()
                },
                "grid_size",
            ),
            (
                SimInput {
                    steps: Some(0),
                    ..Default::default()
                },
                "steps",
            ),
            (
                SimInput {
                    steps: Some(10_001),
                    ..Default::default()
                },
                "steps",
            ),
            (
                SimInput {
                    alpha: Some(0.0),
                    ..Default::default()
                },
                "alpha",
            ),
            (
                SimInput {
                    alpha: Some(0.2500001),
                    ..Default::default()
                },
                "alpha",
            ),
            (
                SimInput {
                    alpha: Some(f64::NAN),
                    ..Default::default()
                },
                "alpha",
            ),
            (
                SimInput {
                    spike_probability: Some(-0.01),
                    ..Default::default()
                },
                "spike_probability",
            ),
            (
                SimInput {
                    spike_probability: Some(1.01),
                    ..Default::default()
                },
                "spike_probability",
            ),
            (
                SimInput {
                    turing_threshold: Some(-0.1),
                    ..Default::default()
                },
                "turing_threshold",
            ),
            (
                SimInput {
                    turing_threshold: Some(1.1),
                    ..Default::default()
                },
                "turing_threshold",
            ),
            (
                SimInput {
                    jitter_var: Some(-1e-9),
                    ..Default::default()
                },
                "jitter_var",
            ),
            (
                SimInput {
                    jitter_var: Some(0.0100001),
                    ..Default::default()
                },
                "jitter_var",
            ),
        ];
        for (input, field) in cases {
            let e = input.resolve(&l).unwrap_err();
            assert!(e.message.contains(field), "{}", e.message);
            assert_eq!(field_of(e), field);
        }
        // The edges themselves are valid.
        for ok in [
            SimInput {
                grid_size: Some(4),
                steps: Some(1),
                ..Default::default()
            },
            SimInput {
                grid_size: Some(512),
                steps: Some(1),
                ..Default::default()
            },
            SimInput {
                alpha: Some(0.25),
                spike_probability: Some(1.0),
                turing_threshold: Some(0.0),
                jitter_var: Some(0.01),
                ..Default::default()
            },
            SimInput {
                spike_probability: Some(0.0),
                turing_threshold: Some(1.0),
                jitter_var: Some(0.0),
                ..Default::default()
            },
        ] {
            ok.resolve(&l).unwrap();
        }
    }

    #[test]
    fn frames_and_history_limits() {
        assert_eq!(
            field_of(
                FrameInput {
                    steps_per_frame: Some(0),
                    ..Default::default()
                }
                .resolve(10)
                .unwrap_err()
            ),
            "steps_per_frame"
        );
        assert_eq!(
            field_of(
                FrameInput {
                    steps_per_frame: Some(11),
                    ..Default::default()
                }
                .resolve(10)
                .unwrap_err()
            ),
            "steps_per_frame"
        );
        assert_eq!(
            field_of(
                FrameInput {
                    frame_interval_ms: Some(60_001),
                    ..Default::default()
                }
                .resolve(10)
                .unwrap_err()
            ),
            "frame_interval_ms"
        );
        // Default cadence never exceeds the run.
        assert_eq!(FrameInput::default().resolve(3).unwrap().steps_per_frame, 3);
        let big = FeaturesRequest {
            sim: SimInput {
                grid_size: Some(512),
                steps: Some(100),
                ..Default::default()
            },
            with_history: true,
            ..Default::default()
        };
        assert_eq!(
            field_of(big.resolve(&Limits::default()).unwrap_err()),
            "steps"
        );
        let nan = FeaturesRequest {
            threshold_mv: Some(f64::INFINITY),
            ..Default::default()
        };
        assert_eq!(
            field_of(nan.resolve(&Limits::default()).unwrap_err()),
            "threshold_mv"
        );
    }

    #[test]
    fn validation_nernst_and_aggregate_limits() {
        let l = Limits::default();
        for (r, f) in [
            (
                ValidateRequest {
                    epochs: Some(0),
                    ..Default::default()
                },
                "epochs",
            ),
            (
                ValidateRequest {
                    epochs: Some(101),
                    ..Default::default()
                },
                "epochs",
            ),
            (
                ValidateRequest {
                    batch_size: Some(0),
                    ..Default::default()
                },
                "batch_size",
            ),
            (
                ValidateRequest {
                    batch_size: Some(65),
                    ..Default::default()
                },
                "batch_size",
            ),
            (
                ValidateRequest {
                    grid_size: Some(3),
                    ..Default::default()
                },
                "grid_size",
            ),
            (
                ValidateRequest {
                    grid_size: Some(257),
                    ..Default::default()
                },
                "grid_size",
            ),
            (
                ValidateRequest {
                    steps: Some(0),
                    ..Default::default()
                },
                "steps",
            ),
            (
                ValidateRequest {
                    steps: Some(1001),
                    ..Default::default()
                },
                "steps",
            ),
        ] {
            assert_eq!(field_of(r.resolve(&l).unwrap_err()), f);
        }
        let base = NernstRequest {
            z_valence: 1,
            concentration_out_m: 0.005,
            concentration_in_m: 0.14,
            temperature_k: None,
        };
        for (r, f) in [
            (
                NernstRequest {
                    z_valence: 0,
                    ..base.clone()
                },
                "z_valence",
            ),
            (
                NernstRequest {
                    z_valence: 4,
                    ..base.clone()
                },
                "z_valence",
            ),
            (
                NernstRequest {
                    concentration_out_m: -1.0,
                    ..base.clone()
                },
                "concentration_out_M",
            ),
            (
                NernstRequest {
                    concentration_in_m: f64::NAN,
                    ..base.clone()
                },
                "concentration_in_M",
            ),
            (
                NernstRequest {
                    temperature_k: Some(272.9),
                    ..base.clone()
                },
                "temperature_K",
            ),
            (
                NernstRequest {
                    temperature_k: Some(373.1),
                    ..base.clone()
                },
                "temperature_K",
            ),
        ] {
            let e = r.resolve().unwrap_err();
            assert!(e.message.contains(f), "{}", e.message);
            assert_eq!(field_of(e), f);
        }
        let g = vec![vec![1.0, 2.0]; 4];
        for (r, f) in [
            (
                AggregateRequest {
                    gradients: g.clone(),
                    num_clusters: Some(0),
                    ..Default::default()
                },
                "num_clusters",
            ),
            (
                AggregateRequest {
                    gradients: g.clone(),
                    num_clusters: Some(1001),
                    ..Default::default()
                },
                "num_clusters",
            ),
            (
                AggregateRequest {
                    gradients: g.clone(),
                    byzantine_fraction: Some(0.5),
                    ..Default::default()
                },
                "byzantine_fraction",
            ),
            (
                AggregateRequest {
                    gradients: g.clone(),
                    sample_fraction: Some(0.0),
                    ..Default::default()
                },
                "sample_fraction",
            ),
        ] {
            assert_eq!(field_of(r.resolve(&l).unwrap_err()), f);
        }
        let tiny = Limits {
            max_gradients: 3,
            ..Limits::default()
        };
        assert_eq!(
            field_of(
                AggregateRequest {
                    gradients: g,
                    ..Default::default()
                }
                .resolve(&tiny)
                .unwrap_err()
            ),
            "gradients"
        );
    }

    #[test]
    fn json_names_match_the_proto() {
        let r: SimulationRequest =
            serde_json::from_str(r#"{"grid_size": 16, "steps": 8, "include_field": true}"#)
                .unwrap();
        assert_eq!(r.sim.grid_size, Some(16));
        assert!(r.include_field);
        let n: NernstRequest = serde_json::from_str(
            r#"{"z_valence": 1, "concentration_out_M": 0.005, "concentration_in_M": 0.14}"#,
        )
        .unwrap();
        assert_eq!(n.concentration_in_m, 0.14);
    }
}

/// `ComputeFractalDimension`: box counting over a square array.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct FractalRequest {
    /// The array, row-major `size × size` (a field in volts, or 0/1 for a mask).
    pub values: Vec<f64>,
    /// Side of the array; [2, max_grid_size].
    pub size: u32,
    /// Cells strictly above this are active. Default −0.060 (−60 mV for fields in volts).
    pub threshold: Option<f64>,
    /// Box sizes between the smallest and the largest. Default 5; [2, 64].
    pub num_scales: Option<u32>,
    /// Smallest box side in cells. Default 2; [1, size].
    pub min_box: Option<u32>,
}

impl FractalRequest {
    /// Check sizes against `limits` (before anything is allocated), then binarise.
    pub fn resolve(
        &self,
        limits: &Limits,
    ) -> Result<(Vec<bool>, usize, BoxCountParams), ServiceError> {
        let n = check_u32("size", Some(self.size), 0, 2, limits.max_grid_size)?;
        if self.values.len() != n * n {
            return Err(ServiceError::invalid(
                "values",
                format!(
                    "values has {} numbers; size {n} needs {n}×{n} = {}",
                    self.values.len(),
                    n * n
                ),
            ));
        }
        let threshold = self.threshold.unwrap_or(DEFAULT_FRACTAL_THRESHOLD);
        if !threshold.is_finite() {
            return Err(ServiceError::invalid(
                "threshold",
                "threshold must be a finite number",
            ));
        }
        let params = BoxCountParams {
            min_box: check_u32("min_box", self.min_box, 2, 1, n)?,
            max_box: None,
            num_scales: check_u32("num_scales", self.num_scales, 5, 2, 64)?,
        };
        let mask = self.values.iter().map(|&v| v > threshold).collect();
        Ok((mask, n, params))
    }
}

/// `GenerateIFS`: an iterated-function-system orbit and its Lyapunov exponent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct IfsRequest {
    /// Default 42.
    pub seed: Option<u64>,
    /// Points to generate. Default 10000; [1, 1000000].
    pub points: Option<u32>,
    /// Random affine maps. Default 4; [1, 64].
    pub transforms: Option<u32>,
}

impl IfsRequest {
    /// `(seed, points, transforms)` with defaults applied and limits checked.
    pub fn resolve(&self) -> Result<(u64, usize, usize), ServiceError> {
        Ok((
            self.seed.unwrap_or(DEFAULT_SEED),
            check_u32(
                "points",
                self.points,
                DEFAULT_IFS_POINTS,
                1,
                MAX_IFS_POINTS as usize,
            )?,
            check_u32(
                "transforms",
                self.transforms,
                DEFAULT_IFS_TRANSFORMS,
                1,
                mfn_core::ifs::MAX_TRANSFORMS,
            )?,
        ))
    }
}
