//! Reading masks and fields from files, and writing fields as `.npy`.
//!
//! `mfn fractal --input FILE` accepts three formats, recognised by their content
//! (`.npy` and PNG magic bytes) or else read as CSV text:
//!
//! * **NPY** (format versions 1–3): a 2-D C-order array of `<f8`, `<f4`, `|b1`, `|u1`
//!   or `<i8`. Fortran-order arrays and other dtypes are rejected by name.
//! * **CSV**: rows of numbers separated by commas and/or whitespace; blank lines and
//!   lines starting with `#` are skipped; every row has the same length and every value
//!   is finite (errors name the line and column).
//! * **PNG**: any colour type, converted to 8-bit grey (Rec. 601 luma; alpha ignored).
//!
//! Binarisation into a box-counting mask (strict `value > threshold`):
//!
//! | data | default threshold |
//! |---|---|
//! | `|b1` arrays | none — used as is, `--threshold` is ignored |
//! | PNG, `|u1` arrays | 127 (grey levels) |
//! | numbers that are all exactly 0 or 1 | 0.5 (a 0/1 mask) |
//! | other numbers | −0.060 (a field in volts: the active-cell threshold, −60 mV) |
//!
//! Box counting needs a square: a non-square array is an error.
//!
//! Decoding is [`mfn_service::arrays::decode`] (shared with REST and MCP uploads); this
//! module adds the file reading, the size limit [`MAX_INPUT_CELLS`] and the mask rules.
//!
//! [`encode_npy`] writes `.npy` version 1.0 files with the header padded so the data
//! starts on a 64-byte boundary, as NumPy does; `mfn simulate --field-out` uses it for
//! the final field (`<f8`, shape `(N, N)`, volts).

use std::path::Path;

use anyhow::{Result, anyhow, bail, ensure};
use mfn_service::arrays::{self, Array2, ArrayFormat, ArrayKind};
pub use mfn_service::arrays::{NpyArray, NpyData, encode_npy};

/// The field binarisation threshold in volts (SCIENCE.md §4).
const FIELD_THRESHOLD_V: f64 = -0.060;
/// Default grey-level threshold for PNG and `|u1` data.
const GREY_THRESHOLD: f64 = 127.0;
/// The most cells an input file may hold (16384 × 16384), checked before allocating.
pub const MAX_INPUT_CELLS: usize = 1 << 28;

/// A square boolean mask, row-major, ready for box counting.
#[derive(Debug, Clone, PartialEq)]
pub struct Mask {
    /// Side length.
    pub n: usize,
    /// `n * n` cells, row-major.
    pub cells: Vec<bool>,
}

/// Parse the bytes of an `.npy` file holding a 2-D C-order array.
pub fn parse_npy(bytes: &[u8]) -> Result<NpyArray> {
    arrays::parse_npy(bytes, MAX_INPUT_CELLS).map_err(|e| anyhow!(e.message))
}

/// Write an `n × n` row-major field of `f64` as a `<f8` `.npy` file.
pub fn write_field_npy(path: &Path, field: &[f64], n: usize) -> Result<()> {
    let array = NpyArray {
        rows: n,
        cols: n,
        data: NpyData::F64(field.to_vec()),
    };
    std::fs::write(path, encode_npy(&array)).map_err(|e| {
        anyhow!(
            "field-out: cannot write '{}': {}",
            path.display(),
            io_reason(&e)
        )
    })
}

/// Read `path` (`.npy`, PNG or CSV) and binarise it into a square mask.
///
/// `threshold` overrides the format's default (see the module docs); it is ignored for
/// boolean arrays. Errors start with `input` and name the file.
pub fn load_mask(path: &Path, threshold: Option<f64>) -> Result<Mask> {
    if let Some(t) = threshold {
        ensure!(
            t.is_finite(),
            "threshold = {t} is out of range: must be a finite number"
        );
    }
    let bytes = std::fs::read(path)
        .map_err(|e| anyhow!("input: cannot read '{}': {}", path.display(), io_reason(&e)))?;
    let array = arrays::decode(ArrayFormat::sniff(&bytes), &bytes, MAX_INPUT_CELLS)
        .map_err(|e| anyhow!("input '{}': {}", path.display(), e.message))?;
    let (rows, cols) = (array.height, array.width);
    if rows != cols {
        bail!(
            "input '{}': array is {rows}x{cols}, box counting needs a square array",
            path.display()
        );
    }
    if rows == 0 {
        bail!("input '{}': array is empty", path.display());
    }
    let cells = match default_threshold(&array) {
        None => array.values.iter().map(|&v| v != 0.0).collect(),
        Some(default) => {
            let t = threshold.unwrap_or(default);
            array.values.iter().map(|&v| v > t).collect()
        }
    };
    Ok(Mask { n: rows, cells })
}

/// The threshold used when none is given (see the module docs); `None` for boolean
/// arrays, which are used as they are.
fn default_threshold(array: &Array2) -> Option<f64> {
    match array.kind {
        ArrayKind::Bool => None,
        _ if array.is_binary() => Some(0.5),
        ArrayKind::Grey8 => Some(GREY_THRESHOLD),
        ArrayKind::Numbers => Some(FIELD_THRESHOLD_V),
    }
}

/// The reason of an I/O error in lowercase, without the OS error number.
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "is a directory".into(),
        _ => {
            let text = e.to_string().to_lowercase();
            match text.find(" (os error") {
                Some(i) => text[..i].to_owned(),
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn array(values: Vec<f64>, kind: ArrayKind) -> Array2 {
        Array2 {
            width: values.len(),
            height: 1,
            values,
            kind,
        }
    }

    #[test]
    fn default_thresholds() {
        let t = |values, kind| default_threshold(&array(values, kind));
        assert_eq!(t(vec![1.0, 0.0], ArrayKind::Bool), None);
        assert_eq!(t(vec![0.0, 1.0], ArrayKind::Numbers), Some(0.5));
        assert_eq!(t(vec![-0.07, 1.0], ArrayKind::Numbers), Some(-0.06));
        assert_eq!(t(vec![0.0, 1.0], ArrayKind::Grey8), Some(0.5));
        assert_eq!(t(vec![0.0, 255.0], ArrayKind::Grey8), Some(127.0));
    }

    #[test]
    fn load_mask_names_the_file_and_binarises() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.csv");
        std::fs::write(&path, "-0.05,-0.07\n-0.07,-0.05\n").unwrap();
        let mask = load_mask(&path, None).unwrap();
        assert_eq!((mask.n, mask.cells), (2, vec![true, false, false, true]));
        let mask = load_mask(&path, Some(-0.08)).unwrap();
        assert_eq!(mask.cells, [true; 4]);
        std::fs::write(&path, "1,x\n").unwrap();
        let err = load_mask(&path, None).unwrap_err().to_string();
        assert!(
            err.starts_with("input '") && err.ends_with("line 1, column 2: 'x' is not a number"),
            "{err}"
        );
    }
}
