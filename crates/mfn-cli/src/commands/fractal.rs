//! `mfn fractal`: box-counting dimension of a mask or field read from a file
//! (`.npy`, `.csv` or PNG; see [`crate::input`] for formats and thresholds).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use mfn_core::fractal::{self, BoxCountParams};
use serde::Serialize;

use crate::input;

/// Flags of `mfn fractal`.
#[derive(Debug, Clone, Args)]
pub struct FractalArgs {
    /// Square array to analyse: .npy (bool, uint8, int64, float32/64), .csv of numbers, or PNG
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Cells strictly above X are active (default: −0.060 for fields in volts, 127 grey
    /// levels for PNG and uint8, 0.5 for 0/1 data; ignored for bool arrays)
    #[arg(long, value_name = "X")]
    pub threshold: Option<f64>,
    /// Number of box sizes between the smallest and the largest
    #[arg(long, default_value_t = 5, value_name = "K")]
    pub num_scales: usize,
    /// Smallest box side, in cells
    #[arg(long, default_value_t = 2, value_name = "B")]
    pub min_box: usize,
}

/// What `mfn fractal` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FractalReport {
    /// Least-squares slope of ln(count) against ln(1/size).
    pub fractal_dimension: f64,
    /// Coefficient of determination of that fit.
    pub r_squared: f64,
    /// Box sides tried, ascending (parallel to `counts`; only non-zero counts are fitted).
    pub box_sizes: Vec<usize>,
    /// Occupied boxes per size.
    pub counts: Vec<u64>,
}

/// Load, binarise, count.
pub fn run(args: &FractalArgs) -> Result<FractalReport> {
    let mask = input::load_mask(&args.input, args.threshold)?;
    let params = BoxCountParams {
        min_box: args.min_box,
        max_box: None,
        num_scales: args.num_scales,
    };
    let result = fractal::box_count(&mask.cells, mask.n, &params)?;
    Ok(FractalReport {
        fractal_dimension: result.dimension,
        r_squared: result.r_squared,
        box_sizes: result.box_sizes,
        counts: result.counts,
    })
}
