//! One module per verb. Each has a clap `Args` struct (its flags, documented: the doc
//! comments are the `--help` text), a `Serialize` report (its JSON keys are the
//! contract) and a `run` that builds the operation's request, runs it through the
//! service layer in process ([`crate::local`]) and keeps the report's keys from the
//! service's response. `run` never prints the report; the binary renders it with
//! [`crate::output`]. Defaults shown by `--help` are the service's own constants.

use clap::Args;
use mfn_core::field::SimulationParams;
use mfn_service::request::{DEFAULT_SEED, SimInput};

pub mod aggregate;
pub mod bench;
pub mod features;
pub mod fractal;
pub mod graph;
pub mod health;
pub mod ifs;
pub mod keys;
pub mod mcp;
pub mod nernst;
pub mod network;
pub mod pipeline;
pub mod serve;
pub mod simulate;
pub mod validate;

/// The simulation defaults (SCIENCE.md §2), for `--help`.
fn sim_default() -> SimulationParams {
    SimulationParams::default()
}

/// Flags shared by `simulate` and `features`: the seed and the simulation parameters
/// (SCIENCE.md §2; ranges are checked by the service, as for every door).
#[derive(Debug, Clone, Args)]
pub struct SimFlags {
    /// Random seed (NumPy `default_rng(seed)` stream)
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Grid side length N (the field is N×N)
    #[arg(long, default_value_t = sim_default().grid_size, value_name = "N")]
    pub grid_size: usize,
    /// Number of simulation steps
    #[arg(long, default_value_t = sim_default().steps, value_name = "T")]
    pub steps: usize,
    /// Diffusion coefficient of the potential, in (0, 0.25] (explicit Euler CFL limit)
    #[arg(long, default_value_t = sim_default().alpha, value_name = "A")]
    pub alpha: f64,
    /// Probability of a growth spike per step, in [0, 1]
    #[arg(long, default_value_t = sim_default().spike_probability, value_name = "P")]
    pub spike_probability: f64,
    /// Disable Turing (activator–inhibitor) patterning
    #[arg(long)]
    pub no_turing: bool,
    /// Activator level above which a cell gets the Turing increment, in [0, 1]
    #[arg(long, default_value_t = sim_default().turing_threshold, value_name = "X")]
    pub turing_threshold: f64,
    /// Add Gaussian jitter to the field after every step
    #[arg(long)]
    pub quantum_jitter: bool,
    /// Variance of the jitter in V², in [0, 0.01]
    #[arg(long, default_value_t = sim_default().jitter_var, value_name = "V")]
    pub jitter_var: f64,
}

impl SimFlags {
    /// The simulation parameters as every door sends them.
    pub fn input(&self) -> SimInput {
        SimInput {
            seed: Some(self.seed),
            grid_size: Some(u32::try_from(self.grid_size).unwrap_or(u32::MAX)),
            steps: Some(u32::try_from(self.steps).unwrap_or(u32::MAX)),
            alpha: Some(self.alpha),
            spike_probability: Some(self.spike_probability),
            turing_enabled: Some(!self.no_turing),
            turing_threshold: Some(self.turing_threshold),
            quantum_jitter: Some(self.quantum_jitter),
            jitter_var: Some(self.jitter_var),
        }
    }
}

/// Check an integer flag of the CLI itself, with a message in `mfn-core`'s style.
pub(crate) fn check_flag_range(
    flag: &str,
    value: usize,
    lo: usize,
    hi: usize,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        (lo..=hi).contains(&value),
        "{flag} = {value} is out of range: must be in [{lo}, {hi}]"
    );
    Ok(())
}
