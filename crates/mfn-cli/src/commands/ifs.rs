//! `mfn ifs`: an IFS fractal point cloud and its Lyapunov exponent (SCIENCE.md §6).
//!
//! The points themselves are summarised by a SHA-256 over their little-endian `f64`
//! `(x, y)` pairs, enough to compare runs bit for bit.

use anyhow::Result;
use clap::Args;
use mfn_core::ifs;
use mfn_core::rng::Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Flags of `mfn ifs`.
#[derive(Debug, Clone, Args)]
pub struct IfsArgs {
    /// Random seed (NumPy `default_rng(seed)` stream)
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Number of points to generate
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub points: usize,
    /// Number of random affine transforms
    #[arg(long, default_value_t = 4, value_name = "K")]
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

/// Generate and summarise.
pub fn run(args: &IfsArgs) -> Result<IfsReport> {
    let mut rng = Rng::new(args.seed);
    let result = ifs::generate_fractal_ifs(&mut rng, args.points, args.transforms)?;
    let bytes = ifs::points_sha256_bytes(&result.points);
    Ok(IfsReport {
        lyapunov: result.lyapunov,
        points_sha256: hex::encode(Sha256::digest(&bytes)),
    })
}
