//! Files in and out of the local verbs: an input file as an upload of the service
//! (`mfn fractal --input`, `mfn network --input`), and fields written as `.npy`.
//!
//! Uploads are recognised by content: `.npy` and PNG magic bytes, else CSV text. The
//! service decodes them ([`mfn_service::arrays`]: NPY versions 1–3 of `<f8`, `<f4`,
//! `|b1`, `|u1`, `<i8`; CSV rows of numbers; PNG as 8-bit grey) and binarises them by
//! the rules of [`mfn_service::ops::fractal_upload`], as it does for REST and MCP.
//!
//! [`encode_npy`] writes `.npy` version 1.0 files with the header padded so the data
//! starts on a 64-byte boundary, as NumPy does; `mfn simulate --field-out` uses it for
//! the final field (`<f8`, shape `(N, N)`, volts).

use std::path::Path;

use anyhow::{Result, anyhow};
use base64::Engine as _;
use mfn_service::arrays::{self, ArrayFormat};
pub use mfn_service::arrays::{NpyArray, NpyData, encode_npy};
use mfn_service::network::UploadInput;

/// The most cells an `.npy` file read by [`parse_npy`] may hold (16384 × 16384).
pub const MAX_INPUT_CELLS: usize = 1 << 28;

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

/// A file's bytes as the service's `upload` argument (format by content).
pub fn upload(bytes: &[u8]) -> UploadInput {
    match ArrayFormat::sniff(bytes) {
        ArrayFormat::Csv => UploadInput {
            format: ArrayFormat::Csv,
            data: String::from_utf8_lossy(bytes).into_owned(),
        },
        format => UploadInput {
            format,
            data: base64::engine::general_purpose::STANDARD.encode(bytes),
        },
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
