//! `mfn nernst`: the Nernst equilibrium potential (SCIENCE.md §3).

use anyhow::Result;
use clap::Args;
use mfn_service::ops::nernst::Nernst;
use mfn_service::request::NernstRequest;
use serde::Serialize;

use crate::local::Local;

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

/// Compute through the service.
pub fn run(args: &NernstArgs) -> Result<NernstReport> {
    let req = NernstRequest {
        z_valence: args.z,
        concentration_out_m: args.c_out,
        concentration_in_m: args.c_in,
        temperature_k: args.temperature,
    };
    Ok(NernstReport {
        potential_mv: Local::new()?.run::<Nernst>(req)?.potential_mV,
    })
}
