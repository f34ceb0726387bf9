//! Decoding 2-D arrays and images: `.npy`, CSV grids and PNG, for uploads (REST, MCP)
//! and for the CLI's `--input` files; and writing fields as `.npy`.
//!
//! Formats ([`ArrayFormat`], recognised by [`ArrayFormat::sniff`] from the NPY and PNG
//! magic bytes, else CSV):
//!
//! * **NPY** (format versions 1–3): a 2-D C-order array of `<f8`, `<f4`, `|b1`, `|u1`
//!   or `<i8`. Fortran-order arrays and other dtypes are rejected by name; `<f8`/`<f4`
//!   values must be finite.
//! * **CSV**: rows of numbers separated by commas and/or whitespace; blank lines and
//!   lines starting with `#` are skipped; every row has the same length and every value
//!   is finite (errors name the 1-based line and column).
//! * **PNG**: any colour type, converted to 8-bit grey (Rec. 601 luma; alpha ignored).
//!
//! Every error of [`decode`] is `INVALID_ARGUMENT` about the field `data`, and the
//! number of cells is checked against the caller's `max_cells` before anything sized by
//! the input is allocated: the NPY header's shape, the PNG header's dimensions, and the
//! CSV values as they are read.
//!
//! [`encode_npy`] writes `.npy` version 1.0 files with the header padded so the data
//! starts on a 64-byte boundary, as NumPy does.

use base64::Engine as _;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ServiceError;

/// The request field every [`decode`] error is about.
pub const DATA_FIELD: &str = "data";
/// NPY files start with these six bytes.
pub const NPY_MAGIC: &[u8; 6] = b"\x93NUMPY";
/// PNG files start with these eight bytes.
pub const PNG_MAGIC: &[u8; 8] = b"\x89PNG\r\n\x1a\n";
/// The NPY dtypes [`decode`] reads, for error messages.
const SUPPORTED_DTYPES: &str = "<f8, <f4, |b1, |u1, <i8";

/// The encoding of an uploaded array or image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ArrayFormat {
    /// NumPy `.npy`, versions 1–3.
    Npy,
    /// Rows of numbers separated by commas and/or whitespace.
    Csv,
    /// A PNG image, read as 8-bit grey.
    Png,
}

impl ArrayFormat {
    /// The format of `bytes` by its magic: NPY, PNG, otherwise CSV.
    pub fn sniff(bytes: &[u8]) -> ArrayFormat {
        if bytes.starts_with(NPY_MAGIC) {
            ArrayFormat::Npy
        } else if bytes.starts_with(PNG_MAGIC) {
            ArrayFormat::Png
        } else {
            ArrayFormat::Csv
        }
    }

    /// The name used in JSON (`npy`, `csv`, `png`).
    pub fn as_str(self) -> &'static str {
        match self {
            ArrayFormat::Npy => "npy",
            ArrayFormat::Csv => "csv",
            ArrayFormat::Png => "png",
        }
    }
}

impl std::fmt::Display for ArrayFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the values of an [`Array2`] came from, which decides how to binarise them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArrayKind {
    /// A `|b1` array: every value is 0 or 1, already a mask.
    Bool,
    /// Grey levels 0–255: a PNG image or a `|u1` array.
    Grey8,
    /// Numbers: `<f8`, `<f4`, `<i8` arrays and CSV.
    Numbers,
}

/// A decoded 2-D array, row-major, every value finite.
#[derive(Debug, Clone, PartialEq)]
pub struct Array2 {
    /// Number of columns.
    pub width: usize,
    /// Number of rows.
    pub height: usize,
    /// `width * height` values, row-major.
    pub values: Vec<f64>,
    /// Where the values came from.
    pub kind: ArrayKind,
}

impl Array2 {
    /// Number of cells.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when there are no cells.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// True when every value is exactly 0 or 1 (always for [`ArrayKind::Bool`]).
    pub fn is_binary(&self) -> bool {
        self.values.iter().all(|&v| v == 0.0 || v == 1.0)
    }
}

/// Decode `bytes` as `format` into a 2-D array of at most `max_cells` cells.
///
/// Errors are `INVALID_ARGUMENT` about `data`, naming the problem: the line and column
/// for CSV, the dtype or header for NPY, the decoder's complaint for PNG.
pub fn decode(format: ArrayFormat, bytes: &[u8], max_cells: usize) -> Result<Array2, ServiceError> {
    match format {
        ArrayFormat::Npy => {
            let array = parse_npy(bytes, max_cells)?;
            let (width, height) = (array.cols, array.rows);
            let (values, kind) = match array.data {
                NpyData::Bool(v) => (
                    v.into_iter().map(|b| f64::from(u8::from(b))).collect(),
                    ArrayKind::Bool,
                ),
                NpyData::U8(v) => (v.into_iter().map(f64::from).collect(), ArrayKind::Grey8),
                NpyData::I64(v) => (
                    v.into_iter().map(|x| x as f64).collect(),
                    ArrayKind::Numbers,
                ),
                NpyData::F32(v) => {
                    let values: Vec<f64> = v.into_iter().map(f64::from).collect();
                    check_finite(&values, width)?;
                    (values, ArrayKind::Numbers)
                }
                NpyData::F64(values) => {
                    check_finite(&values, width)?;
                    (values, ArrayKind::Numbers)
                }
            };
            Ok(Array2 {
                width,
                height,
                values,
                kind,
            })
        }
        ArrayFormat::Png => {
            let (height, width, grey) = read_png_grey(bytes, max_cells)?;
            Ok(Array2 {
                width,
                height,
                values: grey.into_iter().map(f64::from).collect(),
                kind: ArrayKind::Grey8,
            })
        }
        ArrayFormat::Csv => {
            let text = std::str::from_utf8(bytes).map_err(|_| {
                invalid("not an npy, png or csv file (csv must be utf-8 text)".to_string())
            })?;
            let (height, width, values) = parse_csv(text, max_cells)?;
            Ok(Array2 {
                width,
                height,
                values,
                kind: ArrayKind::Numbers,
            })
        }
    }
}

/// Decode base64 text (standard alphabet, padding optional, whitespace ignored).
///
/// Errors are `INVALID_ARGUMENT` about `field`.
pub fn decode_base64(text: &str, field: &str) -> Result<Vec<u8>, ServiceError> {
    const ENGINE: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    ENGINE.decode(&compact).map_err(|e| {
        let reason = e.to_string().to_lowercase();
        let reason = reason.trim_end_matches('.');
        ServiceError::invalid(field, format!("{field} is not valid base64: {reason}"))
    })
}

fn invalid(message: String) -> ServiceError {
    ServiceError::invalid(DATA_FIELD, message)
}

fn too_many_cells(what: &str, cells: impl std::fmt::Display, max_cells: usize) -> ServiceError {
    invalid(format!(
        "{what} has {cells} cells, more than the limit of {max_cells}"
    ))
}

fn check_finite(values: &[f64], cols: usize) -> Result<(), ServiceError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(invalid(format!(
            "non-finite value {} at row {}, column {}",
            values[i],
            i / cols.max(1),
            i % cols.max(1)
        ))),
        None => Ok(()),
    }
}

/// The element data of an NPY array, by dtype.
#[derive(Debug, Clone, PartialEq)]
pub enum NpyData {
    /// `<f8`
    F64(Vec<f64>),
    /// `<f4`
    F32(Vec<f32>),
    /// `|b1`
    Bool(Vec<bool>),
    /// `|u1`
    U8(Vec<u8>),
    /// `<i8`
    I64(Vec<i64>),
}

/// A 2-D, C-order (row-major) array as stored in an `.npy` file.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// `rows * cols` elements, row-major.
    pub data: NpyData,
}

impl NpyData {
    /// The NPY dtype string.
    pub fn descr(&self) -> &'static str {
        match self {
            NpyData::F64(_) => "<f8",
            NpyData::F32(_) => "<f4",
            NpyData::Bool(_) => "|b1",
            NpyData::U8(_) => "|u1",
            NpyData::I64(_) => "<i8",
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            NpyData::F64(v) => v.len(),
            NpyData::F32(v) => v.len(),
            NpyData::Bool(v) => v.len(),
            NpyData::U8(v) => v.len(),
            NpyData::I64(v) => v.len(),
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes per element.
    fn item_size(&self) -> usize {
        match self {
            NpyData::F64(_) | NpyData::I64(_) => 8,
            NpyData::F32(_) => 4,
            NpyData::Bool(_) | NpyData::U8(_) => 1,
        }
    }

    fn write_le_bytes(&self, out: &mut Vec<u8>) {
        match self {
            NpyData::F64(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            NpyData::F32(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            NpyData::Bool(v) => out.extend(v.iter().map(|&b| u8::from(b))),
            NpyData::U8(v) => out.extend_from_slice(v),
            NpyData::I64(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        }
    }
}

/// Parse the bytes of an `.npy` file holding a 2-D C-order array of at most
/// `max_cells` elements (checked on the header's shape, before allocating).
pub fn parse_npy(bytes: &[u8], max_cells: usize) -> Result<NpyArray, ServiceError> {
    let truncated = || invalid("npy header is truncated".to_string());
    if !bytes.starts_with(NPY_MAGIC) {
        return Err(invalid("not an npy file (bad magic)".to_string()));
    }
    if bytes.len() < 10 {
        return Err(truncated());
    }
    let major = bytes[6];
    let (header_len, header_start) = match major {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(truncated());
            }
            let len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
            (usize::try_from(len).map_err(|_| truncated())?, 12)
        }
        v => {
            return Err(invalid(format!(
                "unsupported npy format version {v} (supported: 1, 2, 3)"
            )));
        }
    };
    let body = &bytes[header_start..];
    if body.len() < header_len {
        return Err(truncated());
    }
    let header = std::str::from_utf8(&body[..header_len])
        .map_err(|_| invalid("npy header is not text".to_string()))?;
    let header = parse_header(header)?;
    let data = &body[header_len..];

    let shape = header.shape;
    if shape.len() != 2 {
        return Err(invalid(format!(
            "npy array must be 2-d, got {} dimensions (shape {:?})",
            shape.len(),
            shape
        )));
    }
    if header.fortran_order {
        return Err(invalid(
            "npy array is fortran_order, only C order is supported (save with np.ascontiguousarray)"
                .to_string(),
        ));
    }
    let (rows, cols) = (shape[0], shape[1]);
    let cells = u128::from(rows as u64) * u128::from(cols as u64);
    if cells > max_cells as u128 {
        return Err(too_many_cells(
            &format!("npy shape ({rows}, {cols})"),
            cells,
            max_cells,
        ));
    }
    let count = rows * cols;
    let item = match header.descr.as_str() {
        "<f8" | "<i8" => 8,
        "<f4" => 4,
        "|b1" | "<b1" | "|u1" | "<u1" => 1,
        other => {
            return Err(invalid(format!(
                "unsupported npy dtype '{other}' (supported: {SUPPORTED_DTYPES})"
            )));
        }
    };
    let expected = count
        .checked_mul(item)
        .ok_or_else(|| invalid(format!("npy shape ({rows}, {cols}) is too large")))?;
    if data.len() != expected {
        return Err(invalid(format!(
            "npy data has {} bytes, shape ({rows}, {cols}) of {} needs {expected}",
            data.len(),
            header.descr
        )));
    }
    let data = match header.descr.as_str() {
        "<f8" => NpyData::F64(
            data.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8-byte chunk")))
                .collect(),
        ),
        "<i8" => NpyData::I64(
            data.chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("8-byte chunk")))
                .collect(),
        ),
        "<f4" => NpyData::F32(
            data.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4-byte chunk")))
                .collect(),
        ),
        "|b1" | "<b1" => NpyData::Bool(data.iter().map(|&b| b != 0).collect()),
        _ => NpyData::U8(data.to_vec()),
    };
    Ok(NpyArray { rows, cols, data })
}

/// Encode a 2-D array as an `.npy` (version 1.0) file.
///
/// # Panics
/// If `data` does not hold `rows * cols` elements.
pub fn encode_npy(array: &NpyArray) -> Vec<u8> {
    assert_eq!(
        array.data.len(),
        array.rows * array.cols,
        "npy data length must equal rows * cols"
    );
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': ({}, {}), }}",
        array.data.descr(),
        array.rows,
        array.cols
    );
    // Magic (6) + version (2) + length (2) + header + '\n', padded to 64 bytes.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let header_len = u16::try_from(header.len()).expect("npy header fits in u16");

    let mut out = Vec::with_capacity(10 + header.len() + array.data.len() * array.data.item_size());
    out.extend_from_slice(NPY_MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    array.data.write_le_bytes(&mut out);
    out
}

/// Parse CSV text of at most `max_cells` numbers: rows separated by commas and/or
/// whitespace.
///
/// Returns `(rows, cols, values)`; line and column numbers in errors are 1-based.
pub fn parse_csv(text: &str, max_cells: usize) -> Result<(usize, usize, Vec<f64>), ServiceError> {
    let mut values = Vec::new();
    let mut rows = 0;
    let mut cols = 0;
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut count = 0;
        for token in trimmed
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
        {
            count += 1;
            let v: f64 = token.parse().map_err(|_| {
                invalid(format!(
                    "line {line_no}, column {count}: '{token}' is not a number"
                ))
            })?;
            if !v.is_finite() {
                return Err(invalid(format!(
                    "line {line_no}, column {count}: '{token}' is not a finite number"
                )));
            }
            if values.len() >= max_cells {
                return Err(invalid(format!(
                    "line {line_no}: csv holds more than the limit of {max_cells} cells"
                )));
            }
            values.push(v);
        }
        if rows == 0 {
            cols = count;
        } else if count != cols {
            return Err(invalid(format!(
                "line {line_no} has {count} values, expected {cols} like the first row"
            )));
        }
        rows += 1;
    }
    if rows == 0 {
        return Err(invalid("csv holds no numbers".to_string()));
    }
    Ok((rows, cols, values))
}

/// Decode a PNG of at most `max_cells` pixels into 8-bit grey levels, row-major:
/// `(rows, cols, grey)`. The size is checked on the PNG header, before decoding.
pub fn read_png_grey(
    bytes: &[u8],
    max_cells: usize,
) -> Result<(usize, usize, Vec<u8>), ServiceError> {
    let bad =
        |e: png::DecodingError| invalid(format!("invalid png: {}", e.to_string().to_lowercase()));
    // The dimensions are the first fields of the IHDR chunk, right after the magic:
    // check them before the decoder reserves anything.
    if bytes.len() >= 24 && bytes.starts_with(PNG_MAGIC) && &bytes[12..16] == b"IHDR" {
        let width = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
        let height = u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
        check_png_size(width, height, max_cells)?;
    }
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(bad)?;
    let (width, height) = {
        let info = reader.info();
        (info.width, info.height)
    };
    check_png_size(width, height, max_cells)?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| invalid("png image is too large".to_string()))?;
    let mut buf = vec![0; size];
    let frame = reader.next_frame(&mut buf).map_err(bad)?;
    let (width, height) = (frame.width as usize, frame.height as usize);
    let channels = frame.color_type.samples();
    let mut grey = Vec::with_capacity(width * height);
    for row in buf.chunks(frame.line_size.max(1)).take(height) {
        for px in row[..width * channels].chunks_exact(channels) {
            grey.push(match frame.color_type {
                png::ColorType::Rgb | png::ColorType::Rgba => luma(px[0], px[1], px[2]),
                _ => px[0],
            });
        }
    }
    Ok((height, width, grey))
}

fn check_png_size(width: u32, height: u32, max_cells: usize) -> Result<(), ServiceError> {
    let cells = u64::from(width) * u64::from(height);
    if u128::from(cells) > max_cells as u128 {
        return Err(too_many_cells(
            &format!("png image {width}x{height}"),
            cells,
            max_cells,
        ));
    }
    Ok(())
}

/// Rec. 601 luma, rounded.
fn luma(r: u8, g: u8, b: u8) -> u8 {
    let y = 0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b);
    y.round().clamp(0.0, 255.0) as u8
}

/// The fields of an NPY header dict that we need.
struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

#[derive(Debug, PartialEq)]
enum Token {
    Str(String),
    Word(String),
    Punct(char),
}

/// Parse the Python dict literal of an NPY header, e.g.
/// `{'descr': '<f8', 'fortran_order': False, 'shape': (8, 8), }`.
fn parse_header(text: &str) -> Result<Header, ServiceError> {
    let tokens = tokenize(text)?;
    let mut it = tokens.into_iter().peekable();
    let bad = || invalid(format!("malformed npy header: {}", text.trim()));
    if it.next() != Some(Token::Punct('{')) {
        return Err(bad());
    }
    let (mut descr, mut fortran_order, mut shape) = (None, None, None);
    loop {
        let key = match it.next() {
            Some(Token::Punct('}')) => break,
            Some(Token::Str(key)) => key,
            _ => return Err(bad()),
        };
        if it.next() != Some(Token::Punct(':')) {
            return Err(bad());
        }
        match (key.as_str(), it.next()) {
            ("descr", Some(Token::Str(s))) => descr = Some(s),
            ("descr", Some(Token::Punct('['))) => {
                return Err(invalid(format!(
                    "structured npy dtypes are not supported (supported: {SUPPORTED_DTYPES})"
                )));
            }
            ("fortran_order", Some(Token::Word(w))) => {
                fortran_order = Some(match w.as_str() {
                    "True" => true,
                    "False" => false,
                    _ => return Err(bad()),
                });
            }
            ("shape", Some(Token::Punct('('))) => {
                let mut dims = Vec::new();
                loop {
                    match it.next() {
                        Some(Token::Punct(')')) => break,
                        Some(Token::Punct(',')) => {}
                        Some(Token::Word(w)) => dims.push(
                            w.trim_end_matches('L')
                                .parse::<usize>()
                                .map_err(|_| bad())?,
                        ),
                        _ => return Err(bad()),
                    }
                }
                shape = Some(dims);
            }
            _ => return Err(bad()),
        }
        if it.peek() == Some(&Token::Punct(',')) {
            it.next();
        }
    }
    Ok(Header {
        descr: descr.ok_or_else(bad)?,
        fortran_order: fortran_order.ok_or_else(bad)?,
        shape: shape.ok_or_else(bad)?,
    })
}

fn tokenize(text: &str) -> Result<Vec<Token>, ServiceError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '{' | '}' | '(' | ')' | '[' | ']' | ':' | ',' => {
                tokens.push(Token::Punct(c));
                chars.next();
            }
            '\'' | '"' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some(ch) => s.push(ch),
                        None => {
                            return Err(invalid(
                                "malformed npy header: unterminated string".to_string(),
                            ));
                        }
                    }
                }
                tokens.push(Token::Str(s));
            }
            _ => {
                let mut word = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_alphanumeric() || ch == '_' {
                        word.push(ch);
                        chars.next();
                    } else {
                        break;
                    }
                }
                if word.is_empty() {
                    return Err(invalid(format!("malformed npy header: unexpected '{c}'")));
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;
    use proptest::prelude::*;

    const MAX: usize = 1 << 20;

    fn round_trip(data: NpyData, rows: usize, cols: usize) {
        let array = NpyArray { rows, cols, data };
        let bytes = encode_npy(&array);
        let header_total = 10 + usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
        assert_eq!(header_total % 64, 0, "data starts on a 64-byte boundary");
        assert_eq!(bytes[header_total - 1], b'\n');
        assert_eq!(
            bytes.len(),
            header_total + array.data.len() * array.data.item_size()
        );
        assert_eq!(parse_npy(&bytes, MAX).unwrap(), array);
    }

    /// The error of `result`, checked to be `INVALID_ARGUMENT` about `data`.
    fn data_error<T: std::fmt::Debug>(result: Result<T, ServiceError>) -> String {
        let err = result.unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArgument, "{err:?}");
        assert_eq!(err.field.as_deref(), Some("data"), "{err:?}");
        err.message
    }

    #[test]
    fn npy_round_trips_every_dtype() {
        round_trip(
            NpyData::F64(vec![-0.07, 1.5, f64::MIN_POSITIVE, -0.0, 3.0, 1e300]),
            2,
            3,
        );
        round_trip(NpyData::F32(vec![1.0, -2.5, 0.125, 7.0]), 2, 2);
        round_trip(
            NpyData::Bool(vec![true, false, false, true, true, false]),
            3,
            2,
        );
        round_trip(NpyData::U8(vec![0, 127, 128, 255]), 1, 4);
        round_trip(NpyData::I64(vec![i64::MIN, -1, 0, i64::MAX]), 4, 1);
        round_trip(NpyData::F64(vec![]), 0, 5);
    }

    #[test]
    fn npy_header_matches_numpy_layout() {
        let bytes = encode_npy(&NpyArray {
            rows: 8,
            cols: 8,
            data: NpyData::F64(vec![0.0; 64]),
        });
        let header = std::str::from_utf8(&bytes[10..128]).unwrap();
        assert!(header.starts_with("{'descr': '<f8', 'fortran_order': False, 'shape': (8, 8), }"));
        assert_eq!(bytes.len(), 128 + 64 * 8);
    }

    fn with_header(header: &str, version: u8, data: &[u8]) -> Vec<u8> {
        let mut out = NPY_MAGIC.to_vec();
        out.extend_from_slice(&[version, 0]);
        if version == 1 {
            out.extend_from_slice(&u16::try_from(header.len()).unwrap().to_le_bytes());
        } else {
            out.extend_from_slice(&u32::try_from(header.len()).unwrap().to_le_bytes());
        }
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn npy_reads_version_2_and_double_quotes() {
        let bytes = with_header(
            "{\"descr\": \"|b1\", \"fortran_order\": False, \"shape\": (1, 2)}\n",
            2,
            &[1, 0],
        );
        let array = parse_npy(&bytes, MAX).unwrap();
        assert_eq!(array.data, NpyData::Bool(vec![true, false]));
    }

    #[test]
    fn npy_rejects_what_it_cannot_read() {
        let cases = [
            (
                "{'descr': '<f8', 'fortran_order': True, 'shape': (1, 1), }",
                "fortran_order",
            ),
            (
                "{'descr': '>f8', 'fortran_order': False, 'shape': (1, 1), }",
                "dtype '>f8'",
            ),
            (
                "{'descr': '<c16', 'fortran_order': False, 'shape': (1, 1), }",
                "dtype '<c16'",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }",
                "must be 2-d",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }",
                "needs 32",
            ),
            (
                "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1, 1), }",
                "structured",
            ),
            ("{'descr': '<f8', 'shape': (1, 1), }", "malformed"),
        ];
        for (header, needle) in cases {
            let message = data_error(parse_npy(&with_header(header, 1, &[0; 8]), MAX));
            assert!(message.contains(needle), "{header}: {message}");
            let message = data_error(decode(
                ArrayFormat::Npy,
                &with_header(header, 1, &[0; 8]),
                MAX,
            ));
            assert!(message.contains(needle), "{header}: {message}");
        }
        assert!(data_error(parse_npy(b"hello", MAX)).contains("bad magic"));
        assert!(data_error(parse_npy(b"\x93NUMPY\x01", MAX)).contains("truncated"));
        let v4 = with_header("{}", 4, &[]);
        assert!(data_error(parse_npy(&v4, MAX)).contains("version 4"));
    }

    #[test]
    fn npy_refuses_a_huge_shape_before_allocating() {
        // 2^31 x 2^31 cells of <f8 with no data: refused on the header alone.
        let header =
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2147483648, 2147483648), }";
        let message = data_error(decode(ArrayFormat::Npy, &with_header(header, 1, &[]), MAX));
        assert!(
            message.contains("(2147483648, 2147483648)") && message.contains("limit of 1048576"),
            "{message}"
        );
        // Even a shape whose byte count overflows usize.
        let header = format!(
            "{{'descr': '<f8', 'fortran_order': False, 'shape': ({}, {}), }}",
            usize::MAX,
            usize::MAX
        );
        let message = data_error(parse_npy(&with_header(&header, 1, &[]), usize::MAX));
        assert!(message.contains("limit"), "{message}");
        // Just over the limit, with the data present, is refused too; at the limit it reads.
        let bytes = encode_npy(&NpyArray {
            rows: 4,
            cols: 4,
            data: NpyData::U8(vec![7; 16]),
        });
        assert!(data_error(decode(ArrayFormat::Npy, &bytes, 15)).contains("16 cells"));
        assert_eq!(decode(ArrayFormat::Npy, &bytes, 16).unwrap().len(), 16);
    }

    #[test]
    fn npy_decodes_to_kinds_and_checks_finiteness() {
        let decode_npy = |rows, cols, data| {
            decode(
                ArrayFormat::Npy,
                &encode_npy(&NpyArray { rows, cols, data }),
                MAX,
            )
        };
        let a = decode_npy(1, 2, NpyData::Bool(vec![true, false])).unwrap();
        assert_eq!((a.width, a.height, a.kind), (2, 1, ArrayKind::Bool));
        assert_eq!(a.values, [1.0, 0.0]);
        assert!(a.is_binary());
        let a = decode_npy(2, 1, NpyData::U8(vec![0, 255])).unwrap();
        assert_eq!((a.width, a.height, a.kind), (1, 2, ArrayKind::Grey8));
        assert_eq!(a.values, [0.0, 255.0]);
        let a = decode_npy(1, 2, NpyData::I64(vec![-3, 4])).unwrap();
        assert_eq!((a.kind, a.values), (ArrayKind::Numbers, vec![-3.0, 4.0]));
        let a = decode_npy(1, 1, NpyData::F32(vec![0.5])).unwrap();
        assert_eq!((a.kind, a.values), (ArrayKind::Numbers, vec![0.5]));

        let mut values = vec![0.0; 16];
        values[5] = f64::NAN;
        let message = data_error(decode_npy(4, 4, NpyData::F64(values)));
        assert_eq!(message, "non-finite value NaN at row 1, column 1");
        let message = data_error(decode_npy(1, 2, NpyData::F32(vec![0.0, f32::INFINITY])));
        assert_eq!(message, "non-finite value inf at row 0, column 1");
    }

    #[test]
    fn csv_accepts_commas_and_whitespace() {
        let (rows, cols, values) = parse_csv("# comment\n1, 2 3\n\n4\t5,6\n", MAX).unwrap();
        assert_eq!((rows, cols), (2, 3));
        assert_eq!(values, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let a = decode(ArrayFormat::Csv, b"1,2,3\r\n4,5,6\r\n", MAX).unwrap();
        assert_eq!((a.width, a.height, a.kind), (3, 2, ArrayKind::Numbers));
    }

    #[test]
    fn csv_errors_name_line_and_column() {
        assert_eq!(
            data_error(parse_csv("1,2\n3,nan\n", MAX)),
            "line 2, column 2: 'nan' is not a finite number"
        );
        assert_eq!(
            data_error(parse_csv("1,2\n3,x\n", MAX)),
            "line 2, column 2: 'x' is not a number"
        );
        assert_eq!(
            data_error(parse_csv("1,2\n3\n", MAX)),
            "line 2 has 1 values, expected 2 like the first row"
        );
        assert_eq!(
            data_error(parse_csv("# nothing\n\n", MAX)),
            "csv holds no numbers"
        );
        assert!(data_error(decode(ArrayFormat::Csv, b"1,\xff\n", MAX)).contains("utf-8"));
    }

    #[test]
    fn csv_counts_cells_against_the_limit_as_it_reads() {
        assert_eq!(parse_csv("1 2\n3 4\n", 4).unwrap().2.len(), 4);
        assert_eq!(
            data_error(parse_csv("1 2\n3 4\n5 6\n", 4)),
            "line 3: csv holds more than the limit of 4 cells"
        );
        // A single endless line is stopped at the limit, not at its end.
        let line = "0,".repeat(10_000);
        assert!(data_error(parse_csv(&line, 100)).contains("limit of 100"));
    }

    fn png_bytes(width: u32, height: u32, color: png::ColorType, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(color);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(data).unwrap();
        writer.finish().unwrap();
        out
    }

    #[test]
    fn png_reads_grey_and_rgb_as_rec601_luma() {
        let grey = png_bytes(2, 1, png::ColorType::Grayscale, &[0, 200]);
        assert_eq!(ArrayFormat::sniff(&grey), ArrayFormat::Png);
        let a = decode(ArrayFormat::Png, &grey, MAX).unwrap();
        assert_eq!((a.width, a.height, a.kind), (2, 1, ArrayKind::Grey8));
        assert_eq!(a.values, [0.0, 200.0]);

        let rgba = png_bytes(
            1,
            3,
            png::ColorType::Rgba,
            &[255, 0, 0, 9, 0, 255, 0, 9, 0, 0, 255, 9],
        );
        let a = decode(ArrayFormat::Png, &rgba, MAX).unwrap();
        assert_eq!((a.width, a.height), (1, 3));
        // Rec. 601: 0.299 R + 0.587 G + 0.114 B, rounded; alpha ignored.
        assert_eq!(a.values, [76.0, 150.0, 29.0]);
    }

    #[test]
    fn png_refuses_large_dimensions_before_decoding() {
        let bytes = png_bytes(4, 3, png::ColorType::Grayscale, &[0; 12]);
        assert_eq!(
            data_error(decode(ArrayFormat::Png, &bytes, 11)),
            "png image 4x3 has 12 cells, more than the limit of 11"
        );
        assert_eq!(decode(ArrayFormat::Png, &bytes, 12).unwrap().len(), 12);
        // A header declaring 60000 x 60000 with no image data: refused on the header.
        let mut huge = bytes.clone();
        huge[16..20].copy_from_slice(&60_000u32.to_be_bytes());
        huge[20..24].copy_from_slice(&60_000u32.to_be_bytes());
        let crc = png_crc(&huge[12..29]);
        huge[29..33].copy_from_slice(&crc.to_be_bytes());
        let message = data_error(decode(ArrayFormat::Png, &huge, MAX));
        assert!(message.contains("60000x60000"), "{message}");
        assert!(
            data_error(decode(ArrayFormat::Png, b"\x89PNG\r\n\x1a\nxx", MAX))
                .starts_with("invalid png")
        );
    }

    /// CRC-32 (ISO-HDLC), as PNG chunks use.
    fn png_crc(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn sniff_by_magic_else_csv() {
        let npy = encode_npy(&NpyArray {
            rows: 1,
            cols: 1,
            data: NpyData::U8(vec![1]),
        });
        assert_eq!(ArrayFormat::sniff(&npy), ArrayFormat::Npy);
        assert_eq!(ArrayFormat::sniff(b"1,2\n"), ArrayFormat::Csv);
        assert_eq!(ArrayFormat::sniff(b""), ArrayFormat::Csv);
        assert_eq!(
            serde_json::to_value(ArrayFormat::Npy).unwrap(),
            serde_json::json!("npy")
        );
        let format: ArrayFormat = serde_json::from_str("\"png\"").unwrap();
        assert_eq!(format, ArrayFormat::Png);
        assert_eq!(ArrayFormat::Csv.to_string(), "csv");
    }

    #[test]
    fn base64_is_standard_with_optional_padding_and_whitespace() {
        assert_eq!(decode_base64("aGVsbG8=", "image").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVsbG8", "image").unwrap(), b"hello");
        assert_eq!(
            decode_base64(" aGVs\n bG8=\r\n", "image").unwrap(),
            b"hello"
        );
        assert_eq!(decode_base64("", "image").unwrap(), b"");
        assert_eq!(decode_base64("+/8=", "image").unwrap(), [0xfb, 0xff]);
        let err = decode_base64("-_8=", "image").unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArgument);
        assert_eq!(err.field.as_deref(), Some("image"));
        assert!(
            err.message.starts_with("image is not valid base64"),
            "{err}"
        );
        assert!(decode_base64("aGVsbG8=x", "field_b64").is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            for format in [ArrayFormat::Npy, ArrayFormat::Csv, ArrayFormat::Png] {
                if let Err(e) = decode(format, &bytes, MAX) {
                    prop_assert_eq!(e.field.as_deref(), Some("data"));
                }
            }
            let _ = decode(ArrayFormat::sniff(&bytes), &bytes, 0);
        }

        #[test]
        fn bytes_after_a_magic_never_panic(
            tail in proptest::collection::vec(any::<u8>(), 0..256),
            png in any::<bool>(),
        ) {
            let mut bytes = if png { PNG_MAGIC.to_vec() } else { NPY_MAGIC.to_vec() };
            bytes.extend_from_slice(&tail);
            let _ = decode(ArrayFormat::sniff(&bytes), &bytes, MAX);
        }

        #[test]
        fn npy_headers_from_fragments_never_panic(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("{"), Just("}"), Just("("), Just(")"), Just(","), Just(":"),
                    Just("'descr'"), Just("'<f8'"), Just("'|b1'"), Just("'fortran_order'"),
                    Just("False"), Just("True"), Just("'shape'"), Just("3"),
                    Just("18446744073709551615"), Just("0"), Just("'"), Just("["),
                ],
                0..24,
            ),
            data in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let header: String = parts.concat();
            let mut bytes = NPY_MAGIC.to_vec();
            bytes.extend_from_slice(&[1, 0]);
            bytes.extend_from_slice(&u16::try_from(header.len()).unwrap().to_le_bytes());
            bytes.extend_from_slice(header.as_bytes());
            bytes.extend_from_slice(&data);
            let _ = decode(ArrayFormat::Npy, &bytes, MAX);
        }

        #[test]
        fn base64_never_panics(text in "[A-Za-z0-9+/= \\n\\-_.]{0,64}") {
            let _ = decode_base64(&text, "data");
        }
    }
}
