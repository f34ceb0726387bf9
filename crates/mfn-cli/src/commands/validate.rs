//! `mfn validate`: the pattern-validation run of SCIENCE.md §7 — a dataset of
//! simulations, a small model trained on it, and reference numbers (Nernst, Lyapunov,
//! an example fractal dimension). The report is `mfn-core`'s `ValidationReport`.

use anyhow::Result;
use clap::Args;
use mfn_core::validation::{self, ValidationConfig, ValidationReport};

/// Flags of `mfn validate`.
#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    /// Random seed for the dataset, the model and the example run (which uses seed + 1)
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Grid side length N of every simulation
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub grid_size: usize,
    /// Steps of every simulation
    #[arg(long, default_value_t = 64, value_name = "T")]
    pub steps: usize,
    /// Training epochs, in [1, 100]
    #[arg(long, default_value_t = 1, value_name = "E")]
    pub epochs: usize,
    /// Training batch size, in [1, 64]
    #[arg(long, default_value_t = 4, value_name = "B")]
    pub batch_size: usize,
    /// Disable Turing patterning in the simulations
    #[arg(long)]
    pub no_turing: bool,
    /// Add Gaussian jitter to the simulations
    #[arg(long)]
    pub quantum_jitter: bool,
}

/// Validate the configuration and run the validation.
pub fn run(args: &ValidateArgs) -> Result<ValidationReport> {
    let cfg = ValidationConfig {
        seed: args.seed,
        epochs: args.epochs,
        batch_size: args.batch_size,
        grid_size: args.grid_size,
        steps: args.steps,
        turing_enabled: !args.no_turing,
        quantum_jitter: args.quantum_jitter,
    };
    Ok(validation::validate_pattern(&cfg)?)
}
