//! `mfn ifs`: an IFS fractal point cloud and its Lyapunov exponent (SCIENCE.md §6).
//!
//! The points themselves are summarised by a SHA-256 over their little-endian `f64`
//! `(x, y)` pairs, enough to compare runs bit for bit.

use anyhow::Result;
use clap::Args;
use mfn_service::ops::ifs::Ifs;
use mfn_service::request::{DEFAULT_IFS_POINTS, DEFAULT_IFS_TRANSFORMS, DEFAULT_SEED, IfsRequest};
use serde::Serialize;

use crate::local::Local;

/// Flags of `mfn ifs`.
#[derive(Debug, Clone, Args)]
pub struct IfsArgs {
    /// Random seed (NumPy `default_rng(seed)` stream)
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Number of points to generate
    #[arg(long, default_value_t = DEFAULT_IFS_POINTS, value_name = "N")]
    pub points: usize,
    /// Number of random affine transforms
    #[arg(long, default_value_t = DEFAULT_IFS_TRANSFORMS, value_name = "K")]
    pub transforms: usize,
}

/// What `mfn ifs` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IfsReport {
    /// Mean log-contraction of the transforms applied (negative: contracting).
    pub lyapunov: f64,
    /// SHA-256 hex of the points as little-endian f64 (x, y) pairs.
    pub points_sha256: String,
}

/// Generate and summarise through the service.
pub fn run(args: &IfsArgs) -> Result<IfsReport> {
    let u32_of = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    let req = IfsRequest {
        seed: Some(args.seed),
        points: Some(u32_of(args.points)),
        transforms: Some(u32_of(args.transforms)),
    };
    let r = Local::new()?.run::<Ifs>(req)?;
    Ok(IfsReport {
        lyapunov: r.lyapunov,
        points_sha256: r.points_sha256,
    })
}
