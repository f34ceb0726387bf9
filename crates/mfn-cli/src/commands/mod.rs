//! One module per verb. Each has a clap `Args` struct (its flags, documented: the doc
//! comments are the `--help` text), a `Serialize` report (its JSON keys are the
//! contract) and a `run` that validates, calls `mfn-core` and builds the report.
//! `run` never prints the report; the binary renders it with [`crate::output`].

use clap::Args;
use mfn_core::field::SimulationParams;
use sha2::{Digest, Sha256};

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

/// Flags shared by `simulate` and `features`: the seed and the simulation parameters
/// (SCIENCE.md §2; ranges are checked by `mfn-core`).
#[derive(Debug, Clone, Args)]
pub struct SimFlags {
    /// Random seed (NumPy `default_rng(seed)` stream)
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Grid side length N (the field is N×N)
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub grid_size: usize,
    /// Number of simulation steps
    #[arg(long, default_value_t = 64, value_name = "T")]
    pub steps: usize,
    /// Diffusion coefficient of the potential, in (0, 0.25] (explicit Euler CFL limit)
    #[arg(long, default_value_t = 0.18, value_name = "A")]
    pub alpha: f64,
    /// Probability of a growth spike per step, in [0, 1]
    #[arg(long, default_value_t = 0.25, value_name = "P")]
    pub spike_probability: f64,
    /// Disable Turing (activator–inhibitor) patterning
    #[arg(long)]
    pub no_turing: bool,
    /// Activator level above which a cell gets the Turing increment, in [0, 1]
    #[arg(long, default_value_t = 0.75, value_name = "X")]
    pub turing_threshold: f64,
    /// Add Gaussian jitter to the field after every step
    #[arg(long)]
    pub quantum_jitter: bool,
    /// Variance of the jitter in V², in [0, 0.01]
    #[arg(long, default_value_t = 0.0005, value_name = "V")]
    pub jitter_var: f64,
}

impl SimFlags {
    /// The simulation parameters these flags describe (not yet validated).
    pub fn params(&self) -> SimulationParams {
        SimulationParams {
            grid_size: self.grid_size,
            steps: self.steps,
            alpha: self.alpha,
            spike_probability: self.spike_probability,
            turing_enabled: !self.no_turing,
            turing_threshold: self.turing_threshold,
            quantum_jitter: self.quantum_jitter,
            jitter_var: self.jitter_var,
        }
    }
}

/// SHA-256 hex digest of `f64` values as little-endian bytes, in order.
pub fn sha256_f64_le(values: &[f64]) -> String {
    let mut hasher = Sha256::new();
    for v in values {
        hasher.update(v.to_le_bytes());
    }
    hex::encode(hasher.finalize())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_le_bytes() {
        // sha256 of the empty input.
        assert_eq!(
            sha256_f64_le(&[]),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // 1.0f64 little-endian = 00 00 00 00 00 00 f0 3f.
        let mut h = Sha256::new();
        h.update([0, 0, 0, 0, 0, 0, 0xf0, 0x3f]);
        assert_eq!(sha256_f64_le(&[1.0]), hex::encode(h.finalize()));
    }
}
