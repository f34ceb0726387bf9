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
//! [`encode_npy`] writes `.npy` version 1.0 files with the header padded so the data
//! starts on a 64-byte boundary, as NumPy does; `mfn simulate --field-out` uses it for
//! the final field (`<f8`, shape `(N, N)`, volts).

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail, ensure};

/// NPY files start with these six bytes.
const NPY_MAGIC: &[u8; 6] = b"\x93NUMPY";
/// PNG files start with these eight bytes.
const PNG_MAGIC: &[u8; 8] = b"\x89PNG\r\n\x1a\n";
/// The field binarisation threshold in volts (SCIENCE.md §4).
const FIELD_THRESHOLD_V: f64 = -0.060;
/// Default grey-level threshold for PNG and `|u1` data.
const GREY_THRESHOLD: f64 = 127.0;

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

/// A square boolean mask, row-major, ready for box counting.
#[derive(Debug, Clone, PartialEq)]
pub struct Mask {
    /// Side length.
    pub n: usize,
    /// `n * n` cells, row-major.
    pub cells: Vec<bool>,
}

/// A 2-D grid of numbers read from a file, before binarisation.
enum Grid {
    /// Already a mask (`|b1`).
    Bool(Vec<bool>),
    /// Numbers, with the threshold to use when none is given.
    Numbers {
        values: Vec<f64>,
        default_threshold: f64,
    },
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

    fn to_le_bytes(&self) -> Vec<u8> {
        match self {
            NpyData::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            NpyData::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            NpyData::Bool(v) => v.iter().map(|&b| u8::from(b)).collect(),
            NpyData::U8(v) => v.clone(),
            NpyData::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }
}

/// Parse the bytes of an `.npy` file holding a 2-D C-order array.
pub fn parse_npy(bytes: &[u8]) -> Result<NpyArray> {
    ensure!(bytes.starts_with(NPY_MAGIC), "not an npy file (bad magic)");
    ensure!(bytes.len() >= 10, "npy header is truncated");
    let major = bytes[6];
    let (header_len, header_start) = match major {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 => {
            ensure!(bytes.len() >= 12, "npy header is truncated");
            let len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
            (usize::try_from(len)?, 12)
        }
        v => bail!("unsupported npy format version {v} (supported: 1, 2, 3)"),
    };
    let body = &bytes[header_start..];
    ensure!(body.len() >= header_len, "npy header is truncated");
    let header = std::str::from_utf8(&body[..header_len]).context("npy header is not text")?;
    let header = parse_header(header)?;
    let data = &body[header_len..];

    let shape = header.shape;
    ensure!(
        shape.len() == 2,
        "npy array must be 2-d, got {} dimensions (shape {:?})",
        shape.len(),
        shape
    );
    ensure!(
        !header.fortran_order,
        "npy array is fortran_order, only C order is supported (save with np.ascontiguousarray)"
    );
    let (rows, cols) = (shape[0], shape[1]);
    let count = rows
        .checked_mul(cols)
        .ok_or_else(|| anyhow!("npy shape ({rows}, {cols}) is too large"))?;
    let item = match header.descr.as_str() {
        "<f8" => 8,
        "<f4" => 4,
        "|b1" | "<b1" => 1,
        "|u1" | "<u1" => 1,
        "<i8" => 8,
        other => bail!("unsupported npy dtype '{other}' (supported: <f8, <f4, |b1, |u1, <i8)"),
    };
    let expected = count
        .checked_mul(item)
        .ok_or_else(|| anyhow!("npy shape ({rows}, {cols}) is too large"))?;
    ensure!(
        data.len() == expected,
        "npy data has {} bytes, shape ({rows}, {cols}) of {} needs {expected}",
        data.len(),
        header.descr
    );
    let data = match item {
        8 if header.descr == "<f8" => NpyData::F64(
            data.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8-byte chunk")))
                .collect(),
        ),
        8 => NpyData::I64(
            data.chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("8-byte chunk")))
                .collect(),
        ),
        4 => NpyData::F32(
            data.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4-byte chunk")))
                .collect(),
        ),
        _ if header.descr.ends_with("b1") => NpyData::Bool(data.iter().map(|&b| b != 0).collect()),
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

    let mut out = Vec::with_capacity(10 + header.len() + array.data.len() * 8);
    out.extend_from_slice(NPY_MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&array.data.to_le_bytes());
    out
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
/// boolean arrays. Errors start with `input:` and name the file.
pub fn load_mask(path: &Path, threshold: Option<f64>) -> Result<Mask> {
    if let Some(t) = threshold {
        ensure!(
            t.is_finite(),
            "threshold = {t} is out of range: must be a finite number"
        );
    }
    let bytes = std::fs::read(path)
        .map_err(|e| anyhow!("input: cannot read '{}': {}", path.display(), io_reason(&e)))?;
    let (rows, cols, grid) =
        read_grid(&bytes).map_err(|e| anyhow!("input '{}': {e:#}", path.display()))?;
    if rows != cols {
        bail!(
            "input '{}': array is {rows}x{cols}, box counting needs a square array",
            path.display()
        );
    }
    if rows == 0 {
        bail!("input '{}': array is empty", path.display());
    }
    let cells = match grid {
        Grid::Bool(cells) => cells,
        Grid::Numbers {
            values,
            default_threshold,
        } => {
            let t = threshold.unwrap_or(default_threshold);
            values.iter().map(|&v| v > t).collect()
        }
    };
    Ok(Mask { n: rows, cells })
}

fn read_grid(bytes: &[u8]) -> Result<(usize, usize, Grid)> {
    if bytes.starts_with(NPY_MAGIC) {
        let array = parse_npy(bytes)?;
        let (rows, cols) = (array.rows, array.cols);
        let grid = match array.data {
            NpyData::Bool(cells) => Grid::Bool(cells),
            NpyData::U8(v) => numbers(v.into_iter().map(f64::from).collect(), GREY_THRESHOLD),
            NpyData::I64(v) => {
                numbers(v.into_iter().map(|x| x as f64).collect(), FIELD_THRESHOLD_V)
            }
            NpyData::F32(v) => {
                let values: Vec<f64> = v.into_iter().map(f64::from).collect();
                check_finite(&values, cols)?;
                numbers(values, FIELD_THRESHOLD_V)
            }
            NpyData::F64(values) => {
                check_finite(&values, cols)?;
                numbers(values, FIELD_THRESHOLD_V)
            }
        };
        Ok((rows, cols, grid))
    } else if bytes.starts_with(PNG_MAGIC) {
        let (rows, cols, grey) = read_png_grey(bytes)?;
        let values = grey.into_iter().map(f64::from).collect();
        Ok((rows, cols, numbers(values, GREY_THRESHOLD)))
    } else {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| anyhow!("not an npy, png or csv file (csv must be utf-8 text)"))?;
        let (rows, cols, values) = parse_csv(text)?;
        Ok((rows, cols, numbers(values, FIELD_THRESHOLD_V)))
    }
}

/// Numbers that are all exactly 0 or 1 are a mask; otherwise use `fallback`.
fn numbers(values: Vec<f64>, fallback: f64) -> Grid {
    let binary = values.iter().all(|&v| v == 0.0 || v == 1.0);
    Grid::Numbers {
        values,
        default_threshold: if binary { 0.5 } else { fallback },
    }
}

fn check_finite(values: &[f64], cols: usize) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => bail!(
            "non-finite value {} at row {}, column {}",
            values[i],
            i / cols.max(1),
            i % cols.max(1)
        ),
        None => Ok(()),
    }
}

/// Parse CSV text: rows of numbers separated by commas and/or whitespace.
///
/// Returns `(rows, cols, values)`; line and column numbers in errors are 1-based.
pub fn parse_csv(text: &str) -> Result<(usize, usize, Vec<f64>)> {
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
                anyhow!("line {line_no}, column {count}: '{token}' is not a number")
            })?;
            ensure!(
                v.is_finite(),
                "line {line_no}, column {count}: '{token}' is not a finite number"
            );
            values.push(v);
        }
        if rows == 0 {
            cols = count;
        } else {
            ensure!(
                count == cols,
                "line {line_no} has {count} values, expected {cols} like the first row"
            );
        }
        rows += 1;
    }
    ensure!(rows > 0, "csv holds no numbers");
    Ok((rows, cols, values))
}

/// Decode a PNG into 8-bit grey levels, row-major: `(rows, cols, grey)`.
pub fn read_png_grey(bytes: &[u8]) -> Result<(usize, usize, Vec<u8>)> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder
        .read_info()
        .map_err(|e| anyhow!("invalid png: {e}"))?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| anyhow!("png image is too large"))?;
    let mut buf = vec![0; size];
    let frame = reader
        .next_frame(&mut buf)
        .map_err(|e| anyhow!("invalid png: {e}"))?;
    let (width, height) = (frame.width as usize, frame.height as usize);
    let channels = frame.color_type.samples();
    let mut grey = Vec::with_capacity(width * height);
    for row in buf.chunks(frame.line_size).take(height) {
        for px in row[..width * channels].chunks_exact(channels) {
            grey.push(match frame.color_type {
                png::ColorType::Rgb | png::ColorType::Rgba => luma(px[0], px[1], px[2]),
                _ => px[0],
            });
        }
    }
    Ok((height, width, grey))
}

/// Rec. 601 luma, rounded.
fn luma(r: u8, g: u8, b: u8) -> u8 {
    let y = 0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b);
    y.round().clamp(0.0, 255.0) as u8
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
fn parse_header(text: &str) -> Result<Header> {
    let tokens = tokenize(text)?;
    let mut it = tokens.into_iter().peekable();
    let bad = || anyhow!("malformed npy header: {}", text.trim());
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
                bail!(
                    "structured npy dtypes are not supported (supported: <f8, <f4, |b1, |u1, <i8)"
                )
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

fn tokenize(text: &str) -> Result<Vec<Token>> {
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
                        None => bail!("malformed npy header: unterminated string"),
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
                    bail!("malformed npy header: unexpected '{c}'");
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

    fn round_trip(data: NpyData, rows: usize, cols: usize) {
        let array = NpyArray { rows, cols, data };
        let bytes = encode_npy(&array);
        let header_total = 10 + usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
        assert_eq!(header_total % 64, 0, "data starts on a 64-byte boundary");
        assert_eq!(bytes[header_total - 1], b'\n');
        assert_eq!(parse_npy(&bytes).unwrap(), array);
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
        let array = parse_npy(&bytes).unwrap();
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
            ("{'descr': '<f8', 'shape': (1, 1), }", "malformed"),
        ];
        for (header, needle) in cases {
            let err = parse_npy(&with_header(header, 1, &[0; 8])).unwrap_err();
            assert!(format!("{err:#}").contains(needle), "{header}: {err:#}");
        }
        assert!(parse_npy(b"hello").is_err());
        assert!(parse_npy(b"\x93NUMPY\x01").is_err());
    }

    #[test]
    fn csv_accepts_commas_and_whitespace() {
        let (rows, cols, values) = parse_csv("# comment\n1, 2 3\n\n4\t5,6\n").unwrap();
        assert_eq!((rows, cols), (2, 3));
        assert_eq!(values, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn csv_errors_name_line_and_column() {
        let err = parse_csv("1,2\n3,nan\n").unwrap_err().to_string();
        assert_eq!(err, "line 2, column 2: 'nan' is not a finite number");
        let err = parse_csv("1,2\n3,x\n").unwrap_err().to_string();
        assert_eq!(err, "line 2, column 2: 'x' is not a number");
        let err = parse_csv("1,2\n3\n").unwrap_err().to_string();
        assert_eq!(err, "line 2 has 1 values, expected 2 like the first row");
    }

    #[test]
    fn default_thresholds() {
        let Grid::Numbers {
            default_threshold, ..
        } = numbers(vec![0.0, 1.0], -0.06)
        else {
            unreachable!()
        };
        assert_eq!(default_threshold, 0.5);
        let Grid::Numbers {
            default_threshold, ..
        } = numbers(vec![-0.07, 1.0], -0.06)
        else {
            unreachable!()
        };
        assert_eq!(default_threshold, -0.06);
    }
}
