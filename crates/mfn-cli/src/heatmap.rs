//! A field as a PNG file: the heatmap of [`mfn_service::render`] (viridis-like map with
//! a labelled colour bar), the same image `GET /v1/simulate/field.png` serves.

use std::path::Path;

use anyhow::{Result, anyhow};

use crate::input::io_reason;

/// Render the field (volts, row-major `n × n`) and write it to `path` as an 8-bit RGB PNG.
pub fn write_png(path: &Path, field_v: &[f64], n: usize) -> Result<()> {
    let fail = |reason: String| anyhow!("png: cannot write '{}': {reason}", path.display());
    let bytes = mfn_service::render::field_png(field_v, n).map_err(|e| fail(e.message))?;
    std::fs::write(path, bytes).map_err(|e| fail(io_reason(&e)))
}
