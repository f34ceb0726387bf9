//! `mfn aggregate`: hierarchical Krum aggregation of gradients (SCIENCE.md §8).
//!
//! The input is a JSON file `{"gradients": [[...], ...]}`; vectors must be non-empty,
//! of equal length and finite (checked by `mfn-core`).

use std::path::PathBuf;

use anyhow::{Result, anyhow};
use clap::Args;
use mfn_core::federated::KrumParams;
use mfn_service::ops::aggregate::Aggregate;
use mfn_service::request::AggregateRequest;
use serde::{Deserialize, Serialize};

use crate::input::io_reason;
use crate::local::Local;

/// The aggregation defaults (SCIENCE.md §8), for `--help`.
fn default() -> KrumParams {
    KrumParams::default()
}

/// Flags of `mfn aggregate`.
#[derive(Debug, Clone, Args)]
pub struct AggregateArgs {
    /// JSON file holding {"gradients": [[...], ...]}
    #[arg(long, value_name = "FILE.json")]
    pub input: PathBuf,
    /// Number of first-level clusters, in [1, 1000]
    #[arg(long, default_value_t = default().num_clusters, value_name = "C")]
    pub num_clusters: usize,
    /// Assumed fraction of Byzantine gradients, in [0, 0.5)
    #[arg(long, default_value_t = default().byzantine_fraction, value_name = "B")]
    pub byzantine_fraction: f64,
    /// Fraction sampled when there are more than 1000 gradients, in (0, 1]
    #[arg(long, default_value_t = default().sample_fraction, value_name = "F")]
    pub sample_fraction: f64,
    /// Random seed for sampling and cluster assignment
    #[arg(long, default_value_t = default().seed)]
    pub seed: u64,
}

/// What `mfn aggregate` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AggregateReport {
    /// The robust aggregate.
    pub aggregated_gradient: Vec<f64>,
    /// How many gradients the file held.
    pub num_input_gradients: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputFile {
    gradients: Vec<Vec<f64>>,
}

/// The gradients of an input file (`{"gradients": [[…], …]}`).
pub fn read_gradients(path: &std::path::Path) -> Result<Vec<Vec<f64>>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow!("input: cannot read '{}': {}", path.display(), io_reason(&e)))?;
    let file: InputFile = serde_json::from_str(&text)
        .map_err(|e| anyhow!("input '{}': invalid gradients json: {e}", path.display()))?;
    Ok(file.gradients)
}

/// Read, aggregate through the service.
pub fn run(args: &AggregateArgs) -> Result<AggregateReport> {
    let req = AggregateRequest {
        gradients: read_gradients(&args.input)?,
        num_clusters: Some(u32::try_from(args.num_clusters).unwrap_or(u32::MAX)),
        byzantine_fraction: Some(args.byzantine_fraction),
        sample_fraction: Some(args.sample_fraction),
        seed: Some(args.seed),
    };
    let r = Local::new()?.run::<Aggregate>(req)?;
    Ok(AggregateReport {
        aggregated_gradient: r.aggregated_gradient,
        num_input_gradients: r.num_input_gradients as usize,
    })
}
