//! `mfn fractal`: box-counting dimension of a mask or field read from a file
//! (`.npy`, `.csv` or PNG; see [`crate::input`] for formats and thresholds).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use mfn_service::ops::fractal_upload::{FractalDimensionUpload, FractalUploadRequest};
use mfn_service::response::FractalResponse;
use serde::Serialize;

use crate::input;
use crate::local::Local;

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
    /// Number of box sizes between the smallest and the largest [default: 5]
    #[arg(long, value_name = "K")]
    pub num_scales: Option<u32>,
    /// Smallest box side, in cells [default: 2]
    #[arg(long, value_name = "B")]
    pub min_box: Option<u32>,
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

impl From<FractalResponse> for FractalReport {
    fn from(r: FractalResponse) -> Self {
        FractalReport {
            fractal_dimension: r.fractal_dimension,
            r_squared: r.r_squared,
            box_sizes: r.box_sizes,
            counts: r.counts,
        }
    }
}

/// Read the file and count its boxes through the service (`fractal_dimension_upload`).
pub fn run(args: &FractalArgs) -> Result<FractalReport> {
    let bytes = std::fs::read(&args.input).map_err(|e| {
        anyhow::anyhow!(
            "input: cannot read '{}': {}",
            args.input.display(),
            input::io_reason(&e)
        )
    })?;
    let req = FractalUploadRequest {
        upload: Some(input::upload(&bytes)),
        threshold: args.threshold,
        num_scales: args.num_scales,
        min_box: args.min_box,
    };
    let r = Local::new()?
        .run::<FractalDimensionUpload>(req)
        .with_context(|| format!("input '{}'", args.input.display()))?;
    Ok(r.into())
}
