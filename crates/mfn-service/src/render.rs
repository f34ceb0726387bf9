//! A field as a PNG heatmap with a colour bar.
//!
//! Layout, left to right: the field (row 0 at the top, upscaled by an integer factor with
//! nearest-neighbour sampling so the image is at least [`MIN_FIELD_PX`] wide), then a
//! vertical colour bar running from the field minimum (bottom) to its maximum (top),
//! labelled in mV with a built-in 5×7 bitmap font. Colours come from a viridis-like
//! perceptual map: nine anchors of matplotlib's viridis with linear interpolation between them.

use crate::error::ServiceError;

/// The field is upscaled until it is at least this many pixels wide.
pub const MIN_FIELD_PX: usize = 512;
/// Empty border around everything, in pixels.
const MARGIN: usize = 16;
/// Gap between the field and the colour bar.
const BAR_GAP: usize = 16;
/// Width of the colour bar.
const BAR_WIDTH: usize = 24;
/// Font pixels per glyph dot.
const FONT_SCALE: usize = 2;
/// Horizontal advance per character, in glyph dots (5 wide + 1 space).
const GLYPH_ADVANCE: usize = 6;
const BACKGROUND: [u8; 3] = [255, 255, 255];
const INK: [u8; 3] = [34, 34, 34];

/// Viridis sampled at 0, 1/8, …, 1 (matplotlib's `viridis`, rounded to 8 bits).
const VIRIDIS: [[u8; 3]; 9] = [
    [68, 1, 84],
    [71, 44, 122],
    [59, 82, 139],
    [44, 113, 142],
    [33, 145, 140],
    [39, 173, 129],
    [92, 200, 99],
    [170, 220, 50],
    [253, 231, 37],
];

/// An 8-bit RGB image, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height * 3` bytes.
    pub rgb: Vec<u8>,
}

impl Image {
    fn new(width: usize, height: usize, fill: [u8; 3]) -> Self {
        Image {
            width,
            height,
            rgb: fill.repeat(width * height),
        }
    }

    fn put(&mut self, x: usize, y: usize, colour: [u8; 3]) {
        if x < self.width && y < self.height {
            let i = (y * self.width + x) * 3;
            self.rgb[i..i + 3].copy_from_slice(&colour);
        }
    }

    fn fill_rect(&mut self, x: usize, y: usize, w: usize, h: usize, colour: [u8; 3]) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.put(xx, yy, colour);
            }
        }
    }

    /// Draw `text` with its top-left corner at `(x, y)`; unknown characters are blank.
    fn text(&mut self, x: usize, y: usize, text: &str, colour: [u8; 3]) {
        for (k, ch) in text.chars().enumerate() {
            let rows = glyph(ch);
            let gx = x + k * GLYPH_ADVANCE * FONT_SCALE;
            for (dy, bits) in rows.iter().enumerate() {
                for dx in 0..5 {
                    if bits & (0x10 >> dx) != 0 {
                        self.fill_rect(
                            gx + dx * FONT_SCALE,
                            y + dy * FONT_SCALE,
                            FONT_SCALE,
                            FONT_SCALE,
                            colour,
                        );
                    }
                }
            }
        }
    }
}

/// The colour of `t` in [0, 1] (clamped) on the viridis-like map.
pub fn colormap(t: f64) -> [u8; 3] {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let pos = t * (VIRIDIS.len() - 1) as f64;
    let i = (pos.floor() as usize).min(VIRIDIS.len() - 2);
    let frac = pos - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    std::array::from_fn(|c| {
        let v = f64::from(a[c]) + (f64::from(b[c]) - f64::from(a[c])) * frac;
        v.round() as u8
    })
}

/// Render an `n × n` row-major field (volts) as a heatmap with a labelled colour bar.
///
/// # Panics
/// If `field_v.len() != n * n` or `n == 0`.
pub fn render(field_v: &[f64], n: usize) -> Image {
    assert!(
        n > 0 && field_v.len() == n * n,
        "field must be n*n with n > 0"
    );
    let (lo, hi) = field_v
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let span = hi - lo;

    let scale = MIN_FIELD_PX.div_ceil(n).max(1);
    let side = n * scale;
    let bar_x = MARGIN + side + BAR_GAP;
    let label_x = bar_x + BAR_WIDTH + 8;
    let labels = [format!("{:.2} mV", hi * 1e3), format!("{:.2} mV", lo * 1e3)];
    let label_chars = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let width = label_x + label_chars * GLYPH_ADVANCE * FONT_SCALE + MARGIN;
    let height = side + 2 * MARGIN;
    let mut img = Image::new(width, height, BACKGROUND);

    // The field, nearest-neighbour upscaled.
    for (r, row) in field_v.chunks_exact(n).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            let t = if span > 0.0 { (v - lo) / span } else { 0.5 };
            img.fill_rect(
                MARGIN + c * scale,
                MARGIN + r * scale,
                scale,
                scale,
                colormap(t),
            );
        }
    }

    // The colour bar: maximum at the top, with a one-pixel frame and end ticks.
    for y in 0..side {
        let t = 1.0 - y as f64 / (side - 1).max(1) as f64;
        img.fill_rect(bar_x, MARGIN + y, BAR_WIDTH, 1, colormap(t));
    }
    img.fill_rect(bar_x - 1, MARGIN - 1, BAR_WIDTH + 2, 1, INK);
    img.fill_rect(bar_x - 1, MARGIN + side, BAR_WIDTH + 2, 1, INK);
    img.fill_rect(bar_x - 1, MARGIN - 1, 1, side + 2, INK);
    img.fill_rect(bar_x + BAR_WIDTH, MARGIN - 1, 1, side + 2, INK);
    img.fill_rect(bar_x + BAR_WIDTH, MARGIN, 5, 1, INK);
    img.fill_rect(bar_x + BAR_WIDTH, MARGIN + side - 1, 5, 1, INK);

    let glyph_h = 7 * FONT_SCALE;
    img.text(label_x, MARGIN, &labels[0], INK);
    img.text(label_x, MARGIN + side - glyph_h, &labels[1], INK);
    img
}

/// The image as an 8-bit RGB PNG.
pub fn encode_png(img: &Image) -> Result<Vec<u8>, png::EncodingError> {
    let too_big = |what: &str| {
        png::EncodingError::IoError(std::io::Error::other(format!("image too {what}")))
    };
    let width = u32::try_from(img.width).map_err(|_| too_big("wide"))?;
    let height = u32::try_from(img.height).map_err(|_| too_big("tall"))?;
    let mut out = Vec::with_capacity(img.rgb.len() / 4 + 1024);
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&img.rgb)?;
    writer.finish()?;
    Ok(out)
}

/// An `n × n` field (volts) rendered by [`render`] and encoded by [`encode_png`].
pub fn field_png(field_v: &[f64], n: usize) -> Result<Vec<u8>, ServiceError> {
    if n == 0 || field_v.len() != n * n {
        return Err(ServiceError::internal(format!(
            "field of {} values is not {n}×{n}",
            field_v.len()
        )));
    }
    encode_png(&render(field_v, n)).map_err(ServiceError::internal)
}

/// 5×7 glyphs, one byte per row, bit 4 = leftmost column.
fn glyph(ch: char) -> [u8; 7] {
    match ch {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        '-' => [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        'm' => [0x00, 0x00, 0x1A, 0x15, 0x15, 0x15, 0x15],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        _ => [0; 7],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colormap_hits_its_anchors_and_clamps() {
        assert_eq!(colormap(0.0), VIRIDIS[0]);
        assert_eq!(colormap(0.5), VIRIDIS[4]);
        assert_eq!(colormap(1.0), VIRIDIS[8]);
        assert_eq!(colormap(-3.0), VIRIDIS[0]);
        assert_eq!(colormap(7.0), VIRIDIS[8]);
        assert_eq!(colormap(1.0 / 16.0), [70, 23, 103]);
    }

    #[test]
    fn small_fields_are_upscaled_and_get_a_bar() {
        let field: Vec<f64> = (0..64).map(|i| -0.07 + f64::from(i) * 1e-4).collect();
        let img = render(&field, 8);
        assert_eq!(img.height, 512 + 2 * MARGIN);
        assert!(img.width > 512 + 2 * MARGIN + BAR_WIDTH);
        assert_eq!(img.rgb.len(), img.width * img.height * 3);
        // Top-left cell is the minimum, bottom-right the maximum.
        let px = |x: usize, y: usize| {
            let i = (y * img.width + x) * 3;
            [img.rgb[i], img.rgb[i + 1], img.rgb[i + 2]]
        };
        assert_eq!(px(MARGIN, MARGIN), VIRIDIS[0]);
        assert_eq!(px(MARGIN + 511, MARGIN + 511), VIRIDIS[8]);
        let bar_x = MARGIN + 512 + BAR_GAP + BAR_WIDTH / 2;
        assert_eq!(px(bar_x, MARGIN), VIRIDIS[8]);
        assert_eq!(px(bar_x, MARGIN + 511), VIRIDIS[0]);
    }

    #[test]
    fn png_bytes_decode_to_the_rendered_image() {
        let field: Vec<f64> = (0..16).map(|i| -0.07 + f64::from(i) * 1e-3).collect();
        let bytes = field_png(&field, 4).unwrap();
        let img = render(&field, 4);
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(
            (info.width as usize, info.height as usize),
            (img.width, img.height)
        );
        assert_eq!(&buf[..info.buffer_size()], &img.rgb[..]);
        assert!(field_png(&field, 3).is_err());
    }

    #[test]
    fn flat_field_renders() {
        let img = render(&[-0.07; 16], 4);
        assert_eq!(img.height, 512 + 2 * MARGIN);
    }
}
