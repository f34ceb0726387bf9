//! `mfn nernst`: the Nernst equilibrium potential (SCIENCE.md §3).

use anyhow::Result;
use clap::Args;
use mfn_core::nernst::{self, NernstParams};
use serde::Serialize;

/// Flags of `mfn nernst`.
#[derive(Debug, Clone, Args)]
pub struct NernstArgs {
    /// Ion valence, one of −2, −1, 1, 2, 3
    #[arg(long, value_name = "Z")]
    pub z: i32,
    /// Extracellular concentration in mol/L (clamped below at 1e-6)
    #[arg(long, value_name = "M")]
    pub c_out: f64,
    /// Intracellular concentration in mol/L (clamped below at 1e-6)
    #[arg(long, value_name = "M")]
    pub c_in: f64,
    /// Temperature in kelvin, in [273, 373] (default 310)
    #[arg(long, value_name = "K")]
    pub temperature: Option<f64>,
}

/// What `mfn nernst` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NernstReport {
    /// Equilibrium potential, mV.
    #[serde(rename = "potential_mV")]
    pub potential_mv: f64,
}

/// Validate and compute.
pub fn run(args: &NernstArgs) -> Result<NernstReport> {
    let params = NernstParams::new(args.z, args.c_out, args.c_in, args.temperature)?;
    Ok(NernstReport {
        potential_mv: nernst::nernst_potential_mv(&params),
    })
}
