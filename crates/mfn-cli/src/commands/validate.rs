//! `mfn validate`: the pattern-validation run of SCIENCE.md §7 — a dataset of
//! simulations, a small model trained on it, and reference numbers (Nernst, Lyapunov,
//! an example fractal dimension). The report is `mfn-core`'s `ValidationReport`.

use anyhow::Result;
use clap::Args;
use mfn_core::validation::{ValidationConfig, ValidationReport};
use mfn_service::ops::validate::Validate;
use mfn_service::request::ValidateRequest;

use crate::local::Local;

/// The validation defaults (SCIENCE.md §7), for `--help`.
fn default() -> ValidationConfig {
    ValidationConfig::default()
}

/// Flags of `mfn validate`.
#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    /// Random seed for the dataset, the model and the example run (which uses seed + 1)
    #[arg(long, default_value_t = default().seed)]
    pub seed: u64,
    /// Grid side length N of every simulation
    #[arg(long, default_value_t = default().grid_size, value_name = "N")]
    pub grid_size: usize,
    /// Steps of every simulation
    #[arg(long, default_value_t = default().steps, value_name = "T")]
    pub steps: usize,
    /// Training epochs, in [1, 100]
    #[arg(long, default_value_t = default().epochs, value_name = "E")]
    pub epochs: usize,
    /// Training batch size, in [1, 64]
    #[arg(long, default_value_t = default().batch_size, value_name = "B")]
    pub batch_size: usize,
    /// Disable Turing patterning in the simulations
    #[arg(long)]
    pub no_turing: bool,
    /// Add Gaussian jitter to the simulations
    #[arg(long)]
    pub quantum_jitter: bool,
}

/// Run the validation through the service.
pub fn run(args: &ValidateArgs) -> Result<ValidationReport> {
    let u32_of = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    let req = ValidateRequest {
        seed: Some(args.seed),
        epochs: Some(u32_of(args.epochs)),
        batch_size: Some(u32_of(args.batch_size)),
        grid_size: Some(u32_of(args.grid_size)),
        steps: Some(u32_of(args.steps)),
        turing_enabled: Some(!args.no_turing),
        quantum_jitter: Some(args.quantum_jitter),
    };
    Ok(Local::new()?.run::<Validate>(req)?.report)
}
