//! `mfn --remote URL <verb>`: the same verbs, computed by a server through the SDK
//! (`mfn-client`), with the same JSON reports as the local run — byte for byte, since
//! the server runs the same engine (the simulation's `field_sha256` comes from the
//! server too).
//!
//! Every computing verb has an RPC. Input files (`fractal --input`, `aggregate --input`)
//! are read and binarised here and their contents sent; flags that write local files
//! (`--png`, `--field-out`) or time local runs (`--repeat`) are refused with `--remote`.

use anyhow::{Result, anyhow, bail};
use mfn_client::{Client, ClientConfig, pb};
use mfn_core::features::Features;
use mfn_core::validation::ValidationReport;

use crate::commands::SimFlags;
use crate::commands::aggregate::{self, AggregateArgs, AggregateReport};
use crate::commands::features::{FeaturesArgs, FeaturesReport};
use crate::commands::fractal::{FractalArgs, FractalReport};
use crate::commands::ifs::{IfsArgs, IfsReport};
use crate::commands::nernst::{NernstArgs, NernstReport};
use crate::commands::simulate::{SimulateArgs, SimulateReport};
use crate::commands::validate::ValidateArgs;
use mfn_service::ops::fractal_upload;

/// Largest side of a file sent by `fractal --remote` (the server applies its own limit).
const MAX_REMOTE_SIDE: usize = 16_384;

/// How to reach the server.
#[derive(Debug, Clone)]
pub struct Remote {
    /// `http://host:port` or `https://host:port`.
    pub url: String,
    /// API key, if the server needs one.
    pub api_key: Option<String>,
    /// Sign every call (HMAC) instead of sending the bare key.
    pub signed: bool,
}

impl Remote {
    /// Connect (lazily: the first call dials, and retries while the server starts).
    pub fn client(&self) -> Result<Client> {
        let mut b = ClientConfig::builder(self.url.clone());
        if let Some(key) = &self.api_key {
            b = if self.signed {
                b.signed(key.clone())
            } else {
                b.api_key(key.clone())
            };
        } else if self.signed {
            bail!("--signed needs an api key (--api-key or MFN_API_KEY)");
        }
        let config = b.build().map_err(|e| anyhow!("--remote: {e}"))?;
        Client::connect_lazy(config).map_err(|e| anyhow!("--remote {}: {e}", self.url))
    }
}

fn sim_request(s: &SimFlags) -> pb::RunSimulationRequest {
    pb::RunSimulationRequest {
        seed: Some(s.seed),
        grid_size: Some(u32::try_from(s.grid_size).unwrap_or(u32::MAX)),
        steps: Some(u32::try_from(s.steps).unwrap_or(u32::MAX)),
        alpha: Some(s.alpha),
        spike_probability: Some(s.spike_probability),
        turing_enabled: Some(!s.no_turing),
        turing_threshold: Some(s.turing_threshold),
        quantum_jitter: s.quantum_jitter,
        jitter_var: Some(s.jitter_var),
        ..Default::default()
    }
}

/// `simulate` on the server.
pub async fn simulate(client: &Client, args: &SimulateArgs) -> Result<SimulateReport> {
    if args.png.is_some() || args.field_out.is_some() || args.repeat.is_some() {
        bail!("--png, --field-out and --repeat work on a local run only; drop them or --remote");
    }
    let r = client.run_simulation(sim_request(&args.sim)).await?;
    Ok(SimulateReport {
        growth_events: r.growth_events,
        turing_activations: r.turing_activations,
        clamping_events: r.clamping_events,
        pot_min_mv: r.pot_min_m_v,
        pot_max_mv: r.pot_max_m_v,
        pot_mean_mv: r.pot_mean_m_v,
        pot_std_mv: r.pot_std_m_v,
        fractal_dimension: r.fractal_dimension,
        field_sha256: r.field_sha256,
        activator_mean: r.activator_mean,
        inhibitor_mean: r.inhibitor_mean,
        // The server does not return the activator/inhibitor arrays.
        activator_sha256: None,
        inhibitor_sha256: None,
        timing: None,
    })
}

/// `features` on the server.
pub async fn features(client: &Client, args: &FeaturesArgs) -> Result<FeaturesReport> {
    let s = sim_request(&args.sim);
    let req = pb::ExtractFeaturesRequest {
        seed: s.seed,
        grid_size: s.grid_size,
        steps: s.steps,
        alpha: s.alpha,
        spike_probability: s.spike_probability,
        turing_enabled: s.turing_enabled,
        turing_threshold: s.turing_threshold,
        quantum_jitter: s.quantum_jitter,
        jitter_var: s.jitter_var,
        threshold_mv: args.threshold_mv,
        adaptive_threshold: args.adaptive_threshold,
        with_history: args.with_history,
        ..Default::default()
    };
    let f = client
        .extract_features(req)
        .await?
        .features
        .ok_or_else(|| anyhow!("server response has no features"))?;
    Ok(FeaturesReport {
        features: Features {
            d_box: f.d_box,
            d_r2: f.d_r2,
            v_min: f.v_min,
            v_max: f.v_max,
            v_mean: f.v_mean,
            v_std: f.v_std,
            v_skew: f.v_skew,
            v_kurt: f.v_kurt,
            dv_mean: f.d_v_mean,
            dv_max: f.d_v_max,
            t_stable: f.t_stable,
            e_trend: f.e_trend,
            f_active: f.f_active,
            n_clusters_low: f.n_clusters_low,
            n_clusters_med: f.n_clusters_med,
            n_clusters_high: f.n_clusters_high,
            max_cluster_size: f.max_cluster_size,
            cluster_size_std: f.cluster_size_std,
        },
    })
}

/// `validate` on the server.
pub async fn validate(client: &Client, args: &ValidateArgs) -> Result<ValidationReport> {
    let r = client
        .validate_pattern(pb::ValidatePatternRequest {
            seed: Some(args.seed),
            epochs: Some(u32::try_from(args.epochs).unwrap_or(u32::MAX)),
            batch_size: Some(u32::try_from(args.batch_size).unwrap_or(u32::MAX)),
            grid_size: Some(u32::try_from(args.grid_size).unwrap_or(u32::MAX)),
            steps: Some(u32::try_from(args.steps).unwrap_or(u32::MAX)),
            turing_enabled: Some(!args.no_turing),
            quantum_jitter: args.quantum_jitter,
            ..Default::default()
        })
        .await?;
    Ok(ValidationReport {
        loss_start: r.loss_start,
        loss_final: r.loss_final,
        loss_drop: r.loss_drop,
        pot_min_mV: r.pot_min_m_v,
        pot_max_mV: r.pot_max_m_v,
        example_fractal_dim: r.example_fractal_dim,
        growth_events: r.growth_events,
        lyapunov_exponent: r.lyapunov_exponent,
        lyapunov_mean: r.lyapunov_mean,
        nernst_numeric_mV: r.nernst_numeric_m_v,
        nernst_symbolic_mV: r.nernst_symbolic_m_v,
        nernst_rtfz_mV: r.nernst_rtfz_m_v,
    })
}

/// `nernst` on the server.
pub async fn nernst(client: &Client, args: &NernstArgs) -> Result<NernstReport> {
    let r = client
        .compute_nernst(pb::NernstRequest {
            z_valence: args.z,
            concentration_out_m: args.c_out,
            concentration_in_m: args.c_in,
            temperature_k: args.temperature,
            ..Default::default()
        })
        .await?;
    Ok(NernstReport {
        potential_mv: r.potential_m_v,
    })
}

/// `fractal` on the server: the file is read and binarised here (same rules as the local
/// run), and the mask is sent as 0/1 values with threshold 0.5.
pub async fn fractal(client: &Client, args: &FractalArgs) -> Result<FractalReport> {
    let bytes = std::fs::read(&args.input).map_err(|e| {
        anyhow!(
            "input: cannot read '{}': {}",
            args.input.display(),
            crate::input::io_reason(&e)
        )
    })?;
    let upload = crate::input::upload(&bytes);
    let array = fractal_upload::decode_square(upload, MAX_REMOTE_SIDE)
        .map_err(|e| anyhow!("input '{}': {}", args.input.display(), e.message))?;
    let size = array.width as u32;
    let r = client
        .compute_fractal_dimension(pb::FractalRequest {
            values: fractal_upload::binarise(array, args.threshold),
            size,
            threshold: Some(0.5),
            num_scales: args.num_scales,
            min_box: args.min_box,
            ..Default::default()
        })
        .await?;
    Ok(FractalReport {
        fractal_dimension: r.fractal_dimension,
        r_squared: r.r_squared,
        box_sizes: r.box_sizes.into_iter().map(|b| b as usize).collect(),
        counts: r.counts,
    })
}

/// `ifs` on the server.
pub async fn ifs(client: &Client, args: &IfsArgs) -> Result<IfsReport> {
    let flag = |name: &str, v: usize| {
        u32::try_from(v).map_err(|_| anyhow!("--{name} = {v} is out of range"))
    };
    let r = client
        .generate_ifs(pb::IfsRequest {
            seed: Some(args.seed),
            points: Some(flag("points", args.points)?),
            transforms: Some(flag("transforms", args.transforms)?),
            ..Default::default()
        })
        .await?;
    Ok(IfsReport {
        lyapunov: r.lyapunov,
        points_sha256: r.points_sha256,
    })
}

/// `aggregate` on the server (the file is read here and sent).
pub async fn aggregate(client: &Client, args: &AggregateArgs) -> Result<AggregateReport> {
    let gradients = aggregate::read_gradients(&args.input)?;
    let r = client
        .aggregate_federated(pb::FederatedAggregateRequest {
            gradients: gradients
                .into_iter()
                .map(|values| pb::Gradient { values })
                .collect(),
            num_clusters: Some(u32::try_from(args.num_clusters).unwrap_or(u32::MAX)),
            byzantine_fraction: Some(args.byzantine_fraction),
            sample_fraction: Some(args.sample_fraction),
            seed: Some(args.seed),
            ..Default::default()
        })
        .await?;
    Ok(AggregateReport {
        aggregated_gradient: r.aggregated_gradient,
        num_input_gradients: r.num_input_gradients as usize,
    })
}
