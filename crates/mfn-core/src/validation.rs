//! Pattern validation: train a small sparse-attention regressor on simulated fields
//! (the reference's `ValidatePattern`, SCIENCE.md §7).
//!
//! # Dataset
//! One generator `rng = default_rng(seed)` is shared, in order, by 16 samples. For
//! each sample the field simulation (§2, `alpha = 0.18`, `spike_probability = 0.25`,
//! grid, steps, Turing and jitter from the config) draws from `rng`, then an IFS
//! fractal of 1000 points with 4 transforms (§6) draws from the same `rng`. From the
//! final field `V` (volts):
//!
//! ```text
//! x = (D, 10·mean(V), 10·std(V), 10·max(V))      D = box-counting dimension of V > −60 mV
//! y = 0.5·x₀ + 0.2·x₁ − 0.1·x₂
//! ```
//!
//! # Model
//! With the input `x ∈ ℝ^{B×S×4}` (here the sequence length `S` is 1) and `d = 32`:
//!
//! ```text
//! h  = x·W₀ᵀ + b₀                                   Linear(4, 32)
//! q, k, v = h·W_qᵀ + b_q,  h·W_kᵀ + b_k,  h·W_vᵀ + b_v   Linear(32, 32) each
//! s  = q·kᵀ / √d                                    scores, B×S×S
//! s̃ᵢⱼ = sᵢⱼ if j is among the top-k of row i else −∞    k = min(4, S)
//! a  = softmax(s̃)·v                                 single-head sparse attention
//! p  = mean over the sequence of a                  B×32
//! ŷ  = W₃·relu(W₂·relu(W₁·p + b₁) + b₂) + b₃        Linear(32,32) → Linear(32,16) → Linear(16,1)
//! ```
//!
//! trained with the mean squared error and Adam (`lr = 10⁻³`, β = (0.9, 0.999),
//! ε = 10⁻⁸; Kingma & Ba 2015) on shuffled mini-batches, in `f32` as the reference's
//! torch model. Gradients come from candle's autodiff. The top-k mask follows the
//! sparse transformers of Child et al. 2019 (fixed k per query).
//!
//! Determinism: weights are drawn as torch's `Linear` default,
//! `U(−1/√fan_in, 1/√fan_in)` for weights and biases, from `Rng::new(seed + 0x1417)`;
//! each epoch's batch order is a permutation from `Rng::new(seed + 0x5eed)`. The
//! dataset simulations run in parallel from replayed generator states (see
//! [`build_dataset`]) and the layers' products are summed in a fixed order whatever
//! the thread count, so the report is the same bytes on every run and every thread
//! count. The losses
//! cannot match torch's (different initial weights and batch order); every other field
//! matches the reference for the same seed.
//!
//! # Report
//! Besides the losses: the potential range over the 16 dataset fields, a separate
//! example run from `default_rng(seed + 1)` (its fractal dimension, growth events, and
//! the Lyapunov exponent of an IFS drawn from that generator afterwards), the mean
//! IFS Lyapunov exponent of the dataset, and the K⁺ Nernst potential at 310 K computed
//! both by [`crate::nernst`] and from the closed form `RT/(zF)·ln(c_out/c_in)`.
//!
//! ```
//! use mfn_core::validation::{validate_pattern, ValidationConfig};
//! let cfg = ValidationConfig { grid_size: 16, steps: 8, ..Default::default() };
//! let report = validate_pattern(&cfg)?;
//! assert_eq!(report.loss_drop, report.loss_start - report.loss_final);
//! assert!((report.nernst_numeric_mV - (-89.01066911987907)).abs() < 1e-9);
//! // Same seed, same bytes.
//! assert_eq!(report, validate_pattern(&cfg)?);
//! # Ok::<(), mfn_core::CoreError>(())
//! ```

use candle_core::{D, Device, Tensor, Var};
use candle_nn::{AdamW, Module, Optimizer, ParamsAdamW};
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result, check_range_usize};
use crate::field::{SimulationParams, SimulationResult, simulate_with_rng};
use crate::ifs::generate_fractal_ifs;
use crate::nernst::{FARADAY, GAS_CONSTANT, NernstParams, nernst_potential_mv, rt_over_f_mv};
use crate::rng::Rng;
use crate::stats;

/// Number of samples in the training set.
pub const DATASET_SIZE: usize = 16;
/// Features per sample: `(D, 10·mean, 10·std, 10·max)`.
pub const NUM_FEATURES: usize = 4;
/// Width of the embedding and of the attention.
pub const HIDDEN: usize = 32;
/// Scores kept per query by the sparse attention.
pub const TOP_K: usize = 4;
/// Adam learning rate.
pub const LEARNING_RATE: f64 = 1e-3;
/// Points of each IFS fractal.
pub const IFS_POINTS: usize = 1000;
/// Affine maps of each IFS fractal.
pub const IFS_TRANSFORMS: usize = 4;
/// Diffusion coefficient of the dataset and example simulations.
pub const SIM_ALPHA: f64 = 0.18;
/// Growth probability of the dataset and example simulations.
pub const SIM_SPIKE_PROBABILITY: f64 = 0.25;

/// Offset of the weight-initialisation stream from the seed.
const INIT_STREAM: u64 = 0x1417;
/// Offset of the batch-order stream from the seed.
const BATCH_STREAM: u64 = 0x5eed;

/// K⁺ valence, concentrations (mol/L) and body temperature of the Nernst check.
const K_VALENCE: i32 = 1;
const K_OUT_M: f64 = 0.005;
const K_IN_M: f64 = 0.140;
const BODY_TEMPERATURE_K: f64 = 310.0;

/// Parameters of a pattern validation; [`ValidationConfig::validate`] gives the ranges.
///
/// ```
/// let cfg = mfn_core::validation::ValidationConfig::default();
/// assert_eq!((cfg.seed, cfg.epochs, cfg.batch_size), (42, 1, 4));
/// assert_eq!((cfg.grid_size, cfg.steps), (64, 64));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ValidationConfig {
    /// Seed of the dataset generator (`default_rng(seed)`); the example run uses
    /// `seed + 1`.
    pub seed: u64,
    /// Passes over the dataset, in `[1, 100]`.
    pub epochs: usize,
    /// Samples per optimiser step, in `[1, 64]` (the last batch may be smaller).
    pub batch_size: usize,
    /// Grid side N of the simulations, in `[4, 256]`.
    pub grid_size: usize,
    /// Steps of each simulation, in `[1, 1000]`.
    pub steps: usize,
    /// Run the activator–inhibitor system in the simulations.
    pub turing_enabled: bool,
    /// Add Gaussian noise to the potential in the simulations.
    pub quantum_jitter: bool,
}

/// Outcome of [`validate_pattern`]; the field names are the reference's JSON keys.
///
/// ```
/// use mfn_core::validation::{validate_pattern, ValidationConfig, ValidationReport};
/// let cfg = ValidationConfig { grid_size: 8, steps: 4, ..Default::default() };
/// let report = validate_pattern(&cfg)?;
/// let json = serde_json::to_string(&report).unwrap();
/// assert!(json.contains("\"pot_min_mV\""));
/// let back: ValidationReport = serde_json::from_str(&json).unwrap();
/// assert_eq!(back, report);
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
#[allow(non_snake_case)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ValidationReport {
    /// MSE of the first batch, before its optimiser step.
    pub loss_start: f64,
    /// MSE of the last batch (computed before its step).
    pub loss_final: f64,
    /// `loss_start − loss_final`.
    pub loss_drop: f64,
    /// Lowest potential over the 16 dataset fields (mV).
    pub pot_min_mV: f64,
    /// Highest potential over the 16 dataset fields (mV).
    pub pot_max_mV: f64,
    /// Box-counting dimension of the example run (`default_rng(seed + 1)`).
    pub example_fractal_dim: f64,
    /// Growth events of the example run.
    pub growth_events: u64,
    /// Lyapunov exponent of the IFS drawn from the example generator after its run.
    pub lyapunov_exponent: f64,
    /// Mean Lyapunov exponent of the 16 dataset IFS fractals.
    pub lyapunov_mean: f64,
    /// K⁺ Nernst potential (5 mM out, 140 mM in, 310 K) from [`crate::nernst`] (mV).
    pub nernst_numeric_mV: f64,
    /// The same potential from the closed form `RT/(zF)·ln(c_out/c_in)` (mV).
    pub nernst_symbolic_mV: f64,
    /// `RT/(zF)` at 310 K for z = 1 (mV).
    pub nernst_rtfz_mV: f64,
}

/// The training set and the by-products of building it.
///
/// ```
/// use mfn_core::validation::{build_dataset, ValidationConfig, DATASET_SIZE};
/// let cfg = ValidationConfig { grid_size: 8, steps: 4, ..Default::default() };
/// let ds = build_dataset(&cfg)?;
/// assert_eq!((ds.x.len(), ds.y.len(), ds.lyapunov.len()), (DATASET_SIZE, DATASET_SIZE, DATASET_SIZE));
/// assert_eq!(ds.y[0], 0.5 * ds.x[0][0] + 0.2 * ds.x[0][1] - 0.1 * ds.x[0][2]);
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Features `(D, 10·mean, 10·std, 10·max)` of each field (volts before scaling).
    pub x: Vec<[f64; NUM_FEATURES]>,
    /// Targets `0.5·x₀ + 0.2·x₁ − 0.1·x₂`.
    pub y: Vec<f64>,
    /// Lowest potential over the fields (mV).
    pub pot_min_mv: f64,
    /// Highest potential over the fields (mV).
    pub pot_max_mv: f64,
    /// Lyapunov exponent of each sample's IFS fractal.
    pub lyapunov: Vec<f64>,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        ValidationConfig {
            seed: crate::DEFAULT_SEED,
            epochs: 1,
            batch_size: 4,
            grid_size: 64,
            steps: 64,
            turing_enabled: true,
            quantum_jitter: false,
        }
    }
}

impl ValidationConfig {
    /// Largest accepted `epochs`.
    pub const MAX_EPOCHS: usize = 100;
    /// Largest accepted `batch_size`.
    pub const MAX_BATCH_SIZE: usize = 64;
    /// Smallest accepted `grid_size`.
    pub const MIN_GRID_SIZE: usize = 4;
    /// Largest accepted `grid_size`.
    pub const MAX_GRID_SIZE: usize = 256;
    /// Largest accepted `steps`.
    pub const MAX_STEPS: usize = 1000;

    /// Check every parameter against its range; the error names the parameter and the
    /// allowed range.
    ///
    /// ```
    /// use mfn_core::validation::ValidationConfig;
    /// let bad = ValidationConfig { batch_size: 0, ..Default::default() };
    /// let e = bad.validate().unwrap_err();
    /// assert_eq!(e.field(), Some("batch_size"));
    /// assert!(e.to_string().contains("[1, 64]"));
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_range_usize("epochs", self.epochs, 1, Self::MAX_EPOCHS)?;
        check_range_usize("batch_size", self.batch_size, 1, Self::MAX_BATCH_SIZE)?;
        check_range_usize(
            "grid_size",
            self.grid_size,
            Self::MIN_GRID_SIZE,
            Self::MAX_GRID_SIZE,
        )?;
        check_range_usize("steps", self.steps, 1, Self::MAX_STEPS)?;
        Ok(())
    }

    /// The simulation every dataset sample and the example run use.
    ///
    /// ```
    /// let p = mfn_core::validation::ValidationConfig::default().simulation_params();
    /// assert_eq!((p.alpha, p.spike_probability), (0.18, 0.25));
    /// ```
    pub fn simulation_params(&self) -> SimulationParams {
        SimulationParams {
            grid_size: self.grid_size,
            steps: self.steps,
            alpha: SIM_ALPHA,
            spike_probability: SIM_SPIKE_PROBABILITY,
            turing_enabled: self.turing_enabled,
            quantum_jitter: self.quantum_jitter,
            ..SimulationParams::default()
        }
    }
}

/// Run a pattern validation: build the dataset, train the model, and gather the
/// report (see the module docs).
///
/// ```
/// use mfn_core::validation::{validate_pattern, ValidationConfig};
/// let cfg = ValidationConfig { grid_size: 8, steps: 4, epochs: 2, ..Default::default() };
/// let r = validate_pattern(&cfg)?;
/// assert!(r.loss_start.is_finite() && r.loss_final.is_finite());
/// assert!(r.pot_min_mV <= r.pot_max_mV);
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
pub fn validate_pattern(cfg: &ValidationConfig) -> Result<ValidationReport> {
    cfg.validate()?;
    // The example run has its own generator, so it overlaps the dataset and training.
    let (trained, example) = rayon::join(
        || -> Result<_> {
            let dataset = build_dataset(cfg)?;
            let losses = train(cfg, &dataset).map_err(training_error)?;
            Ok((dataset, losses))
        },
        || example_run(cfg),
    );
    let (dataset, (loss_start, loss_final)) = trained?;
    let example = example?;

    let k = NernstParams::new(K_VALENCE, K_OUT_M, K_IN_M, Some(BODY_TEMPERATURE_K))?;
    let rt_zf = (GAS_CONSTANT * BODY_TEMPERATURE_K) / (f64::from(K_VALENCE) * FARADAY);
    let nernst_symbolic_mv = rt_zf * (K_OUT_M / K_IN_M).ln() * 1000.0;

    let loss_start = f64::from(loss_start);
    let loss_final = f64::from(loss_final);
    Ok(ValidationReport {
        loss_start,
        loss_final,
        loss_drop: loss_start - loss_final,
        pot_min_mV: dataset.pot_min_mv,
        pot_max_mV: dataset.pot_max_mv,
        example_fractal_dim: example.fractal_dim,
        growth_events: example.growth_events,
        lyapunov_exponent: example.lyapunov,
        lyapunov_mean: stats::mean(&dataset.lyapunov),
        nernst_numeric_mV: nernst_potential_mv(&k),
        nernst_symbolic_mV: nernst_symbolic_mv,
        nernst_rtfz_mV: rt_over_f_mv(BODY_TEMPERATURE_K) / f64::from(K_VALENCE),
    })
}

/// Build the 16-sample training set from `default_rng(cfg.seed)` (see the module
/// docs).
///
/// The samples share one generator, so the reference runs them in order. Which draws
/// a simulation makes does not depend on the field values, only on the parameters
/// and the draws themselves, so a cheap replay of the draws alone (no field
/// arithmetic) finds where each simulation starts; the 16 simulations then run in
/// parallel. Every simulation's generator is checked against the replay when it
/// ends, and on any difference the samples are recomputed one after another, so the
/// result is always that of the sequential definition.
pub fn build_dataset(cfg: &ValidationConfig) -> Result<Dataset> {
    cfg.validate()?;
    let params = cfg.simulation_params();
    let samples = match simulate_samples_parallel(cfg.seed, &params)? {
        Some(samples) => samples,
        None => simulate_samples_sequential(cfg.seed, &params)?,
    };
    Ok(Dataset::from_samples(samples))
}

/// A simulated field and the Lyapunov exponent of the IFS drawn after it.
struct Sample {
    sim: SimulationResult,
    lyapunov: f64,
}

impl Dataset {
    fn from_samples(samples: Vec<Sample>) -> Self {
        let mut ds = Dataset {
            x: Vec::with_capacity(samples.len()),
            y: Vec::with_capacity(samples.len()),
            pot_min_mv: f64::INFINITY,
            pot_max_mv: f64::NEG_INFINITY,
            lyapunov: Vec::with_capacity(samples.len()),
        };
        for Sample { sim, lyapunov } in samples {
            let v = &sim.field;
            let (lo, hi) = stats::min_max(v);
            let x = [
                // The summary's dimension is `field_fractal_dimension(v, n)`.
                sim.fractal_dimension,
                stats::mean(v) * 10.0,
                stats::std(v) * 10.0,
                hi * 10.0,
            ];
            ds.y.push(0.5 * x[0] + 0.2 * x[1] - 0.1 * x[2]);
            ds.x.push(x);
            ds.pot_min_mv = ds.pot_min_mv.min(lo * 1000.0);
            ds.pot_max_mv = ds.pot_max_mv.max(hi * 1000.0);
            ds.lyapunov.push(lyapunov);
        }
        ds
    }
}

/// The samples by definition: simulation, IFS, simulation, IFS, … on one generator.
fn simulate_samples_sequential(seed: u64, params: &SimulationParams) -> Result<Vec<Sample>> {
    let mut rng = Rng::new(seed);
    (0..DATASET_SIZE)
        .map(|_| {
            let sim = simulate_with_rng(params, &mut rng)?;
            let lyapunov = generate_fractal_ifs(&mut rng, IFS_POINTS, IFS_TRANSFORMS)?.lyapunov;
            Ok(Sample { sim, lyapunov })
        })
        .collect()
}

/// The same samples with the simulations in parallel, or `None` if a simulation's
/// draws differ from the replay (or a simulation fails: the sequential run then
/// reports the error the definition gives). Each simulation starts as soon as the
/// replay has found its starting point, so the replay overlaps the simulations.
fn simulate_samples_parallel(seed: u64, params: &SimulationParams) -> Result<Option<Vec<Sample>>> {
    let mut slots: Vec<Option<Sample>> = (0..DATASET_SIZE).map(|_| None).collect();
    rayon::scope(|scope| -> Result<()> {
        let mut rng = Rng::new(seed);
        for slot in slots.iter_mut() {
            let mut sim_rng = rng.clone();
            skip_simulation_draws(&mut rng, params);
            let end = rng.clone();
            let lyapunov = generate_fractal_ifs(&mut rng, IFS_POINTS, IFS_TRANSFORMS)?.lyapunov;
            scope.spawn(move |_| {
                *slot = simulate_with_rng(params, &mut sim_rng)
                    .ok()
                    .filter(|_| same_stream(&sim_rng, &end))
                    .map(|sim| Sample { sim, lyapunov });
            });
        }
        Ok(())
    })?;
    Ok(slots.into_iter().collect())
}

/// Advance `rng` past the draws of one [`simulate_with_rng`] run (SCIENCE.md §2):
/// the initial field, the initial activator and inhibitor, then per step the growth
/// draw (and its cell and amplitude) and the jitter.
fn skip_simulation_draws(rng: &mut Rng, p: &SimulationParams) {
    let n = p.grid_size;
    let cells = n * n;
    for _ in 0..cells {
        rng.standard_normal();
    }
    if p.turing_enabled {
        for _ in 0..2 * cells {
            rng.random();
        }
    }
    for _ in 0..p.steps {
        if rng.random() < p.spike_probability {
            rng.integers(n as u64);
            rng.integers(n as u64);
            rng.standard_normal();
        }
        if p.quantum_jitter {
            for _ in 0..cells {
                rng.standard_normal();
            }
        }
    }
}

/// Whether two generators are in the same state (and so produce the same stream).
fn same_stream(a: &Rng, b: &Rng) -> bool {
    // `Rng` has no `PartialEq`; its `Debug` output is its complete state.
    format!("{a:?}") == format!("{b:?}")
}

/// What the report takes from the example run.
struct Example {
    fractal_dim: f64,
    growth_events: u64,
    lyapunov: f64,
}

/// The example simulation from `default_rng(seed + 1)`, then an IFS from the same
/// generator.
fn example_run(cfg: &ValidationConfig) -> Result<Example> {
    let mut rng = Rng::new(cfg.seed.wrapping_add(1));
    let sim = simulate_with_rng(&cfg.simulation_params(), &mut rng)?;
    let ifs = generate_fractal_ifs(&mut rng, IFS_POINTS, IFS_TRANSFORMS)?;
    Ok(Example {
        // The summary's dimension is `field_fractal_dimension(field, n)`.
        fractal_dim: sim.fractal_dimension,
        growth_events: sim.growth_events,
        lyapunov: ifs.lyapunov,
    })
}

fn training_error(e: candle_core::Error) -> CoreError {
    CoreError::Training(e.to_string())
}

/// Train the model for `cfg.epochs` over `ds`; returns the losses of the first and
/// the last batch, each computed before its optimiser step.
fn train(cfg: &ValidationConfig, ds: &Dataset) -> candle_core::Result<(f32, f32)> {
    let device = Device::Cpu;
    let mut init = Rng::new(cfg.seed.wrapping_add(INIT_STREAM));
    let (model, vars) = PatternModel::new(&mut init, &device)?;
    let mut opt = AdamW::new(
        vars,
        ParamsAdamW {
            lr: LEARNING_RATE,
            weight_decay: 0.0,
            ..ParamsAdamW::default()
        },
    )?;
    let mut order_rng = Rng::new(cfg.seed.wrapping_add(BATCH_STREAM));
    let mut first = None;
    let mut last = f32::NAN;
    let mut xb = Vec::with_capacity(cfg.batch_size * NUM_FEATURES);
    let mut yb = Vec::with_capacity(cfg.batch_size);
    for _ in 0..cfg.epochs {
        let order = order_rng.permutation(ds.x.len());
        for batch in order.chunks(cfg.batch_size) {
            xb.clear();
            yb.clear();
            for &i in batch {
                xb.extend(ds.x[i].iter().map(|&v| v as f32));
                yb.push(ds.y[i] as f32);
            }
            let b = batch.len();
            let x = Tensor::from_slice(&xb, (b, 1, NUM_FEATURES), &device)?;
            let y = Tensor::from_slice(&yb, (b, 1), &device)?;
            let loss = candle_nn::loss::mse(&model.forward(&x)?, &y)?;
            let value = loss.to_scalar::<f32>()?;
            first.get_or_insert(value);
            last = value;
            opt.backward_step(&loss)?;
        }
    }
    Ok((first.unwrap_or(f32::NAN), last))
}

/// A fully connected layer `y = x·Wᵀ + b` over the last dimension (torch's `Linear`).
struct Linear {
    /// `fan_out × fan_in`.
    weight: Tensor,
    /// `fan_out`.
    bias: Tensor,
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        mul_t(x, &self.weight)?.broadcast_add(&self.bias)
    }
}

/// `a·bᵀ` over the last dimension, `[…, m, k] × [… , n, k] → […, m, n]` (leading
/// dimensions broadcast), as a broadcast product summed over `k`.
///
/// Not `matmul`: candle 0.11's CPU matmul asks for the machine's thread count on every
/// call, and unless `RAYON_NUM_THREADS` is set that parses `/proc/cpuinfo` (~50 µs),
/// which for these tiny products costs five times the whole training otherwise does.
fn mul_t(a: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    let a = a.unsqueeze(a.rank() - 1)?;
    let b = b.unsqueeze(b.rank() - 2)?;
    a.broadcast_mul(&b)?.sum(D::Minus1)
}

/// `Linear(fan_in, fan_out)` initialised as torch's default,
/// `U(−1/√fan_in, 1/√fan_in)` for the weight (row-major, `fan_out × fan_in`) and then
/// the bias; its two parameters are appended to `vars`.
fn linear(
    rng: &mut Rng,
    fan_in: usize,
    fan_out: usize,
    device: &Device,
    vars: &mut Vec<Var>,
) -> candle_core::Result<Linear> {
    let bound = 1.0 / (fan_in as f64).sqrt();
    let mut draw = |len: usize| -> Vec<f32> {
        (0..len)
            .map(|_| rng.uniform(-bound, bound) as f32)
            .collect()
    };
    let w = Var::from_vec(draw(fan_in * fan_out), (fan_out, fan_in), device)?;
    let b = Var::from_vec(draw(fan_out), fan_out, device)?;
    let layer = Linear {
        weight: w.as_tensor().clone(),
        bias: b.as_tensor().clone(),
    };
    vars.push(w);
    vars.push(b);
    Ok(layer)
}

/// Single-head attention that keeps the `top_k` largest scores of every query.
struct SparseAttention {
    q: Linear,
    k: Linear,
    v: Linear,
    top_k: usize,
    scale: f64,
}

impl SparseAttention {
    fn new(
        rng: &mut Rng,
        dim: usize,
        top_k: usize,
        device: &Device,
        vars: &mut Vec<Var>,
    ) -> candle_core::Result<Self> {
        Ok(SparseAttention {
            q: linear(rng, dim, dim, device, vars)?,
            k: linear(rng, dim, dim, device, vars)?,
            v: linear(rng, dim, dim, device, vars)?,
            top_k,
            scale: 1.0 / (dim as f64).sqrt(),
        })
    }

    /// Attention weights `softmax(top-k(q·kᵀ/√d))`, `B×S×S`.
    fn weights(&self, h: &Tensor) -> candle_core::Result<Tensor> {
        let q = self.q.forward(h)?;
        let k = self.k.forward(h)?;
        let scores = (mul_t(&q, &k)? * self.scale)?;
        sparse_softmax(&scores, self.top_k)
    }
}

impl Module for SparseAttention {
    /// `B×S×d → B×S×d`.
    fn forward(&self, h: &Tensor) -> candle_core::Result<Tensor> {
        let v = self.v.forward(h)?;
        mul_t(&self.weights(h)?, &v.transpose(1, 2)?)
    }
}

/// Softmax over the last dimension after setting every score outside the `k` largest
/// of its row to −∞ (ties keep the lower index). With `k ≥ S` nothing is masked.
fn sparse_softmax(scores: &Tensor, k: usize) -> candle_core::Result<Tensor> {
    let (b, s_q, s_k) = scores.dims3()?;
    let masked = if k >= s_k {
        scores.clone()
    } else {
        // The mask is a constant of the graph: gradients flow through the kept scores.
        let values = scores.flatten_all()?.to_vec1::<f32>()?;
        let mut mask = vec![f32::NEG_INFINITY; values.len()];
        let mut idx = Vec::with_capacity(s_k);
        for (row, mask_row) in values.chunks_exact(s_k).zip(mask.chunks_exact_mut(s_k)) {
            idx.clear();
            idx.extend(0..s_k);
            // Stable sort: equal scores keep their order, so the lower index wins.
            idx.sort_by(|&i, &j| row[j].total_cmp(&row[i]));
            for &j in &idx[..k] {
                mask_row[j] = 0.0;
            }
        }
        let mask = Tensor::from_vec(mask, (b, s_q, s_k), scores.device())?;
        (scores + mask)?
    };
    candle_nn::ops::softmax(&masked, D::Minus1)
}

/// `Linear(4,32) → sparse attention → mean over the sequence → Linear(32,32) ReLU →
/// Linear(32,16) ReLU → Linear(16,1)`.
struct PatternModel {
    embed: Linear,
    attention: SparseAttention,
    fc1: Linear,
    fc2: Linear,
    head: Linear,
}

impl PatternModel {
    /// The model and its parameters, drawn in layer order from `rng`.
    fn new(rng: &mut Rng, device: &Device) -> candle_core::Result<(Self, Vec<Var>)> {
        let mut vars = Vec::with_capacity(14);
        let model = PatternModel {
            embed: linear(rng, NUM_FEATURES, HIDDEN, device, &mut vars)?,
            attention: SparseAttention::new(rng, HIDDEN, TOP_K, device, &mut vars)?,
            fc1: linear(rng, HIDDEN, HIDDEN, device, &mut vars)?,
            fc2: linear(rng, HIDDEN, 16, device, &mut vars)?,
            head: linear(rng, 16, 1, device, &mut vars)?,
        };
        Ok((model, vars))
    }
}

impl Module for PatternModel {
    /// `B×S×4 → B×1`.
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let h = self.embed.forward(x)?;
        let pooled = self.attention.forward(&h)?.mean(1)?;
        let h = self.fc1.forward(&pooled)?.relu()?;
        let h = self.fc2.forward(&h)?.relu()?;
        self.head.forward(&h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sim_params(
        n: usize,
        steps: usize,
        spike: f64,
        turing: bool,
        jitter: bool,
    ) -> SimulationParams {
        SimulationParams {
            grid_size: n,
            steps,
            spike_probability: spike,
            turing_enabled: turing,
            quantum_jitter: jitter,
            ..SimulationParams::default()
        }
    }

    #[test]
    fn replayed_draws_match_the_simulation() {
        let cases = [
            sim_params(64, 64, 0.25, true, false),
            sim_params(7, 40, 1.0, true, false),
            sim_params(5, 30, 0.5, false, false),
            sim_params(6, 12, 0.9, true, true),
            sim_params(4, 9, 0.0, false, true),
        ];
        for p in &cases {
            for seed in [0, 1, 42, 12345] {
                let mut sim = Rng::new(seed);
                simulate_with_rng(p, &mut sim).unwrap();
                let mut replay = Rng::new(seed);
                skip_simulation_draws(&mut replay, p);
                assert!(same_stream(&sim, &replay), "{p:?} seed {seed}");
                assert_eq!(sim.next_u64(), replay.next_u64());
                assert_eq!(sim.next_u32(), replay.next_u32());
            }
        }
        assert!(!same_stream(&Rng::new(1), &Rng::new(2)));
    }

    #[test]
    fn parallel_samples_equal_the_sequential_definition() {
        for p in [
            sim_params(16, 8, 0.25, true, false),
            sim_params(9, 20, 1.0, false, true),
        ] {
            for seed in [3, 42] {
                let par = simulate_samples_parallel(seed, &p)
                    .unwrap()
                    .expect("the replay matches the simulation");
                let seq = simulate_samples_sequential(seed, &p).unwrap();
                assert_eq!(par.len(), DATASET_SIZE);
                for (a, b) in par.iter().zip(&seq) {
                    assert_eq!(a.sim, b.sim);
                    assert_eq!(a.lyapunov.to_bits(), b.lyapunov.to_bits());
                }
            }
        }
    }

    fn random_tensor(rng: &mut Rng, shape: &[usize]) -> Tensor {
        let len = shape.iter().product();
        let data: Vec<f32> = (0..len).map(|_| rng.normal(0.0, 1.0) as f32).collect();
        Tensor::from_vec(data, shape, &Device::Cpu).unwrap()
    }

    fn assert_close(a: &Tensor, b: &Tensor) {
        assert_eq!(a.dims(), b.dims());
        let a: Vec<f32> = a.flatten_all().unwrap().to_vec1().unwrap();
        let b: Vec<f32> = b.flatten_all().unwrap().to_vec1().unwrap();
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    #[test]
    fn mul_t_is_a_matmul_with_the_transpose() {
        let mut rng = Rng::new(11);
        // Linear on a sequence batch, on a plain batch, and the two attention products.
        let x = random_tensor(&mut rng, &[3, 2, 5]);
        let w = random_tensor(&mut rng, &[7, 5]);
        let want = x.reshape((6, 5)).unwrap().matmul(&w.t().unwrap()).unwrap();
        assert_close(&mul_t(&x, &w).unwrap(), &want.reshape((3, 2, 7)).unwrap());
        let x2 = random_tensor(&mut rng, &[4, 5]);
        assert_close(
            &mul_t(&x2, &w).unwrap(),
            &x2.matmul(&w.t().unwrap()).unwrap(),
        );
        let q = random_tensor(&mut rng, &[2, 6, 8]);
        let k = random_tensor(&mut rng, &[2, 6, 8]);
        assert_close(&mul_t(&q, &k).unwrap(), &q.matmul(&k.t().unwrap()).unwrap());
        let v = random_tensor(&mut rng, &[2, 6, 8]);
        let p = random_tensor(&mut rng, &[2, 6, 6]);
        assert_close(
            &mul_t(&p, &v.transpose(1, 2).unwrap()).unwrap(),
            &p.matmul(&v).unwrap(),
        );
    }

    #[test]
    fn masked_positions_get_zero_weight() {
        let device = Device::Cpu;
        let row = [0.5f32, 3.0, -1.0, 2.0, 2.0, 0.0, 1.0];
        let scores = Tensor::from_slice(&row, (1, 1, 7), &device).unwrap();
        let w = sparse_softmax(&scores, 4).unwrap();
        let w: Vec<f32> = w.flatten_all().unwrap().to_vec1().unwrap();
        // Top 4: 3.0, 2.0, 2.0, 1.0 at indices 1, 3, 4, 6.
        for j in [0, 2, 5] {
            assert_eq!(w[j], 0.0, "masked position {j} got weight {}", w[j]);
        }
        for j in [1, 3, 4, 6] {
            assert!(w[j] > 0.0);
        }
        let total: f32 = w.iter().sum();
        assert!((total - 1.0).abs() < 1e-6);
        assert_eq!(w[3], w[4]);
    }

    #[test]
    fn ties_keep_the_lower_index() {
        let device = Device::Cpu;
        let scores = Tensor::from_slice(&[1.0f32; 6], (1, 1, 6), &device).unwrap();
        let w: Vec<f32> = sparse_softmax(&scores, 4)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(w, vec![0.25, 0.25, 0.25, 0.25, 0.0, 0.0]);
    }

    #[test]
    fn attention_over_a_long_sequence_masks_and_trains() {
        let device = Device::Cpu;
        let mut rng = Rng::new(7);
        let mut vars = Vec::new();
        let attn = SparseAttention::new(&mut rng, HIDDEN, TOP_K, &device, &mut vars).unwrap();
        let (b, s) = (2, 6);
        let h: Vec<f32> = (0..b * s * HIDDEN)
            .map(|_| rng.normal(0.0, 1.0) as f32)
            .collect();
        let h = Tensor::from_vec(h, (b, s, HIDDEN), &device).unwrap();
        let w = attn.weights(&h).unwrap().to_vec3::<f32>().unwrap();
        for row in w.iter().flatten() {
            assert_eq!(row.iter().filter(|&&p| p == 0.0).count(), s - TOP_K);
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
        let out = attn.forward(&h).unwrap();
        assert_eq!(out.dims(), &[b, s, HIDDEN]);
        // Gradients reach every projection and stay finite despite the −∞ mask.
        let grads = out.sqr().unwrap().sum_all().unwrap().backward().unwrap();
        for var in &vars {
            let g = grads.get(var).expect("every parameter gets a gradient");
            let g: Vec<f32> = g.flatten_all().unwrap().to_vec1().unwrap();
            assert!(g.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn model_maps_a_batch_to_one_output_each() {
        let device = Device::Cpu;
        let (model, vars) = PatternModel::new(&mut Rng::new(1), &device).unwrap();
        assert_eq!(vars.len(), 14);
        let params: usize = vars.iter().map(|v| v.elem_count()).sum();
        assert_eq!(
            params,
            (4 * 32 + 32) + 3 * (32 * 32 + 32) + (32 * 32 + 32) + (32 * 16 + 16) + 17
        );
        let x = Tensor::zeros((3, 1, NUM_FEATURES), candle_core::DType::F32, &device).unwrap();
        assert_eq!(model.forward(&x).unwrap().dims(), &[3, 1]);
    }

    #[test]
    fn initial_weights_follow_torch_bounds_and_the_seed() {
        let device = Device::Cpu;
        let (_, a) = PatternModel::new(&mut Rng::new(5), &device).unwrap();
        let (_, b) = PatternModel::new(&mut Rng::new(5), &device).unwrap();
        let bound = 1.0 / (NUM_FEATURES as f32).sqrt();
        let w0: Vec<f32> = a[0].flatten_all().unwrap().to_vec1().unwrap();
        assert!(w0.iter().all(|v| v.abs() <= bound));
        for (va, vb) in a.iter().zip(&b) {
            let va: Vec<f32> = va.flatten_all().unwrap().to_vec1().unwrap();
            let vb: Vec<f32> = vb.flatten_all().unwrap().to_vec1().unwrap();
            assert_eq!(va, vb);
        }
    }
}
