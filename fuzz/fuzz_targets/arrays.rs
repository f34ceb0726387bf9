//! Uploaded arrays: `mfn_service::arrays::decode` for `.npy`, PNG and CSV (the
//! `fractal_dimension_upload` and `extract_network` uploads), with a small `max_cells`.
//! The first byte picks the format (its low 3 bits: npy, png, csv, sniffed from the bytes,
//! or the bytes as the base64 text of a JSON upload, decoded then sniffed) and the cell
//! limit (its high bit).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfn_service::arrays::{self, ArrayFormat};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    // 64² as the targets' grid limit; with the first byte's high bit, 256² (bigger images).
    let max_cells = if selector & 0x80 == 0 {
        64 * 64
    } else {
        256 * 256
    };
    match selector & 0x7 {
        0 => decode(ArrayFormat::Npy, bytes, max_cells),
        1 => decode(ArrayFormat::Png, bytes, max_cells),
        2 | 5 => decode(ArrayFormat::Csv, bytes, max_cells),
        3 | 6 => decode(ArrayFormat::sniff(bytes), bytes, max_cells),
        _ => {
            let Some(text) = mfn_fuzz::text(bytes) else {
                return;
            };
            if let Ok(raw) = arrays::decode_base64(text, "upload.data") {
                decode(ArrayFormat::sniff(&raw), &raw, max_cells);
            }
        }
    }
});

fn decode(format: ArrayFormat, bytes: &[u8], max_cells: usize) {
    if let Ok(array) = arrays::decode(format, bytes, max_cells) {
        assert!(
            array.values.len() <= max_cells,
            "decoded more cells than allowed"
        );
        assert_eq!(array.values.len(), array.width * array.height);
        // What `fractal_dimension_upload` does next with a square array.
        let _ = mfn_service::ops::fractal_upload::binarise(array, None);
    }
}
