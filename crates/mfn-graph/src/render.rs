//! `visualize_graph`: draw a graph as PNG or SVG.
//!
//! [`visualize`] lays the graph out ([`crate::layout`]), colours its nodes, and draws
//! edges (straight lines with alpha), nodes (filled circles with a thin white outline),
//! optional labels and a legend:
//!
//! - **PNG** is rasterised by [`tiny_skia`] (pure Rust, anti-aliased) and encoded by the
//!   `png` crate, RGBA 8-bit. PNG has no text renderer here: **labels and the legend
//!   are not drawn in PNG** (the legend is returned in [`Visualization::legend`]); ask for
//!   SVG to get them in the image.
//! - **SVG** is written by hand: one `<line>` per edge (self-loops as zero-length lines),
//!   one `<circle>` per node (with a `<title>` tooltip naming the node), `<text>` labels
//!   when `labels` is true, and a legend of `<rect>` swatches and `<text>`.
//!
//! **Canvas.** `width` × `height` pixels (default 800 × 800, each side in
//! `16..=`[`MAX_IMAGE_SIDE`]). Layouts in `[0,1]²` are mapped to the canvas inside a
//! margin of the node radius + 8 px, one scale for both axes (no distortion). Coordinate
//! layouts (`x`, `y` pixel attributes, y growing downwards) are, without a background,
//! normalised the same way without flipping; **with a background** they are mapped as
//! pixel centres of the background image, `((x + ½)·W/bw, (y + ½)·H/bh)`, and the image is
//! drawn stretched to the canvas under them — a field heatmap under its extracted
//! network. A background is drawn only when the layout used is `coordinates`
//! ([`Visualization::background`] says whether it was).
//!
//! **Colour** (`color_by`):
//! - absent or `"none"`: every node `#1f78b4` (NetworkX's default);
//! - `"degree"`: the node degree (out + in for directed graphs), viridis;
//! - `"community"`: Louvain communities ([`crate::algo::community::louvain`], resolution 1,
//!   unweighted, seeded with `seed`), one palette colour per community, largest first;
//! - any other name is a node attribute: numeric values (all numbers) → viridis from the
//!   minimum to the maximum; otherwise each distinct value (as JSON text) gets a colour of
//!   the 20-colour tab10 + tab20-light palette (cycled past 20), in first-seen order. Nodes
//!   without the attribute are grey `#bdbdbd`. An attribute that no node has is an error
//!   naming `color_by`. `degree` and `community` win over attributes of those names.
//!
//! The legend lists the categories (at most [`MAX_LEGEND`], the rest summed up in a last
//! entry), or five stops (min, quartiles, max) of a numeric scale.
//!
//! **Edges** are `#555555` at `edge_alpha` (0.6), `edge_width` px wide (1); with
//! `edge_width_by` naming a numeric edge attribute (e.g. `weight`) the width grows
//! linearly from ½ to 3 × `edge_width` between the smallest and largest value (missing
//! values count as 1, NetworkX's weight default). Direction is not drawn.
//!
//! **Limits.** [`Limits::max_layout_nodes`] (checked first, before any allocation, and
//! named in the error), image sides at most [`MAX_IMAGE_SIDE`]. The caller's
//! [`Control`] is checked between layout iterations and while drawing.

use std::collections::HashMap;
use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tiny_skia::{
    Color, FillRule, FilterQuality, Paint, PathBuilder, Pixmap, PixmapPaint, Stroke, Transform,
};

use crate::algo::community;
use crate::layout::{self, Layout};
use crate::tools::Control;
use crate::{Graph, GraphError, Limits};

/// Largest image side in pixels.
pub const MAX_IMAGE_SIDE: u32 = 4096;
/// Smallest image side in pixels.
pub const MIN_IMAGE_SIDE: u32 = 16;
/// Most entries in a legend; more categories are summed up in a last entry.
pub const MAX_LEGEND: usize = 20;

/// Output image format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    /// PNG (RGBA 8-bit), returned as bytes beside the JSON result.
    #[default]
    Png,
    /// SVG text, returned in [`Visualization::svg`].
    Svg,
}

fn side() -> u32 {
    800
}
fn seed42() -> u64 {
    42
}
fn one() -> f64 {
    1.0
}
fn alpha() -> f64 {
    0.6
}
fn yes() -> bool {
    true
}

/// `visualize_graph` arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VisualizeArgs {
    /// Graph name.
    pub graph: String,
    /// auto (default: coordinates when every node has numeric x, y, else spring),
    /// spring, circular, kamada_kawai, coordinates.
    #[serde(default)]
    pub layout: Layout,
    /// png (default) or svg.
    #[serde(default)]
    pub format: ImageFormat,
    /// Image width in pixels (800; 16..=4096).
    #[serde(default = "side")]
    pub width: u32,
    /// Image height in pixels (800; 16..=4096).
    #[serde(default = "side")]
    pub height: u32,
    /// Node colour: none (default), "degree", "community" (Louvain, seeded), or a node
    /// attribute (numeric → viridis, otherwise one colour per value).
    #[serde(default)]
    pub color_by: Option<String>,
    /// Draw node ids next to the nodes (SVG only).
    #[serde(default)]
    pub labels: bool,
    /// Draw the legend (SVG only; always returned in the result).
    #[serde(default = "yes")]
    pub legend: bool,
    /// Seed of the spring and Kamada–Kawai layouts and of Louvain (42).
    #[serde(default = "seed42")]
    pub seed: u64,
    /// Node radius in pixels (default from the image size and node count, 1.5..=8).
    #[serde(default)]
    pub node_size: Option<f64>,
    /// Edge width in pixels (1).
    #[serde(default = "one")]
    pub edge_width: f64,
    /// Edge opacity in [0, 1] (0.6).
    #[serde(default = "alpha")]
    pub edge_alpha: f64,
    /// Numeric edge attribute that scales edge widths (½ to 3 × edge_width), e.g. "weight".
    #[serde(default)]
    pub edge_width_by: Option<String>,
}

/// One legend entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LegendEntry {
    /// Category, community or value.
    pub label: String,
    /// `#rrggbb`.
    pub color: String,
}

/// `visualize_graph` result (the PNG bytes travel beside it).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Visualization {
    /// png or svg.
    pub format: ImageFormat,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The layout used (auto resolved).
    pub layout: Layout,
    /// Nodes drawn.
    pub num_nodes: usize,
    /// Edges drawn.
    pub num_edges: usize,
    /// The colouring used (`null` when none).
    pub color_by: Option<String>,
    /// Colour legend (empty without colouring).
    pub legend: Vec<LegendEntry>,
    /// Whether a background image was drawn.
    pub background: bool,
    /// The SVG document (svg format only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub svg: Option<String>,
}

/// An RGBA background image (8 bits per channel, not premultiplied, row-major from the
/// top), e.g. a rendered field heatmap; drawn stretched to the canvas under a
/// `coordinates` layout whose `x`, `y` are pixel coordinates of this image.
#[derive(Debug, Clone, PartialEq)]
pub struct Background {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 4` bytes.
    pub rgba: Vec<u8>,
}

type Rgb = [u8; 3];

const DEFAULT_NODE: Rgb = [0x1f, 0x78, 0xb4];
const MISSING: Rgb = [0xbd, 0xbd, 0xbd];
const EDGE: Rgb = [0x55, 0x55, 0x55];

/// matplotlib's viridis at 0, 0.1, …, 1.
const VIRIDIS: [Rgb; 11] = [
    [0x44, 0x01, 0x54],
    [0x48, 0x25, 0x76],
    [0x41, 0x44, 0x87],
    [0x35, 0x60, 0x8d],
    [0x2a, 0x78, 0x8e],
    [0x21, 0x90, 0x8c],
    [0x22, 0xa8, 0x84],
    [0x43, 0xbf, 0x71],
    [0x7a, 0xd1, 0x51],
    [0xbb, 0xdf, 0x27],
    [0xfd, 0xe7, 0x25],
];

/// tab10, then the light half of tab20.
const PALETTE: [Rgb; 20] = [
    [0x1f, 0x77, 0xb4],
    [0xff, 0x7f, 0x0e],
    [0x2c, 0xa0, 0x2c],
    [0xd6, 0x27, 0x28],
    [0x94, 0x67, 0xbd],
    [0x8c, 0x56, 0x4b],
    [0xe3, 0x77, 0xc2],
    [0x7f, 0x7f, 0x7f],
    [0xbc, 0xbd, 0x22],
    [0x17, 0xbe, 0xcf],
    [0xae, 0xc7, 0xe8],
    [0xff, 0xbb, 0x78],
    [0x98, 0xdf, 0x8a],
    [0xff, 0x98, 0x96],
    [0xc5, 0xb0, 0xd5],
    [0xc4, 0x9c, 0x94],
    [0xf7, 0xb6, 0xd2],
    [0xc7, 0xc7, 0xc7],
    [0xdb, 0xdb, 0x8d],
    [0x9e, 0xda, 0xe5],
];

/// Viridis at `t ∈ [0, 1]`, linear between the stops.
pub fn viridis(t: f64) -> [u8; 3] {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * 10.0;
    let i = (x.floor() as usize).min(9);
    let f = x - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    std::array::from_fn(|c| {
        (f64::from(a[c]) + f * (f64::from(b[c]) - f64::from(a[c]))).round() as u8
    })
}

fn hex(c: Rgb) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

/// A number for a legend: up to 4 significant digits, no trailing zeros.
fn fmt_num(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 12) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// Node colours and the legend.
fn colours(
    g: &Graph,
    color_by: Option<&str>,
    seed: u64,
) -> Result<(Vec<Rgb>, Vec<LegendEntry>), GraphError> {
    let n = g.num_nodes();
    let numeric = |vals: Vec<Option<f64>>| {
        let present = vals.iter().flatten().copied();
        let (lo, hi) = present.fold((f64::MAX, f64::MIN), |m, v| (m.0.min(v), m.1.max(v)));
        let span = hi - lo;
        let t = |v: f64| if span > 0.0 { (v - lo) / span } else { 0.5 };
        let cols = vals
            .iter()
            .map(|v| v.map_or(MISSING, |v| viridis(t(v))))
            .collect();
        let legend = if lo > hi {
            Vec::new()
        } else if span > 0.0 {
            [0.0, 0.25, 0.5, 0.75, 1.0]
                .iter()
                .map(|&q| LegendEntry {
                    label: fmt_num(lo + q * span),
                    color: hex(viridis(q)),
                })
                .collect()
        } else {
            vec![LegendEntry {
                label: fmt_num(lo),
                color: hex(viridis(0.5)),
            }]
        };
        (cols, legend)
    };
    let categorical = |labels: Vec<Option<String>>| {
        let mut index: indexmap::IndexMap<String, usize> = indexmap::IndexMap::new();
        for l in labels.iter().flatten() {
            *index.entry(l.clone()).or_default() += 1;
        }
        let pos: HashMap<&str, usize> = index
            .keys()
            .enumerate()
            .map(|(i, k)| (k.as_str(), i))
            .collect();
        let cols = labels
            .iter()
            .map(|l| {
                l.as_deref()
                    .map_or(MISSING, |l| PALETTE[pos[l] % PALETTE.len()])
            })
            .collect();
        let mut legend: Vec<LegendEntry> = index
            .iter()
            .take(MAX_LEGEND)
            .enumerate()
            .map(|(i, (k, _))| LegendEntry {
                label: k.clone(),
                color: hex(PALETTE[i % PALETTE.len()]),
            })
            .collect();
        if index.len() > MAX_LEGEND {
            legend.pop();
            let rest = index.len() - (MAX_LEGEND - 1);
            legend.push(LegendEntry {
                label: format!("… {rest} more"),
                color: hex(MISSING),
            });
        }
        (cols, legend)
    };
    match color_by {
        None | Some("none") => Ok((vec![DEFAULT_NODE; n], Vec::new())),
        Some("degree") => {
            let view = g.view(None)?;
            let deg = (0..n)
                .map(|i| {
                    let d = view.out[i].len() + if view.directed { view.inc[i].len() } else { 0 };
                    // A self-loop counts twice, as in NetworkX.
                    let loops = view.out[i].iter().filter(|e| e.0 == i).count();
                    Some((d + if view.directed { 0 } else { loops }) as f64)
                })
                .collect();
            Ok(numeric(deg))
        }
        Some("community") => {
            let view = g.view(None)?;
            let (labels, _) = community::louvain(&view, 1.0, 1e-7, seed);
            // Communities largest first (ties by first node), as community_detection.
            let k = labels.iter().max().map_or(0, |m| m + 1);
            let mut size = vec![(0usize, usize::MAX); k];
            for (i, &c) in labels.iter().enumerate() {
                size[c].0 += 1;
                size[c].1 = size[c].1.min(i);
            }
            let mut order: Vec<usize> = (0..k).filter(|&c| size[c].0 > 0).collect();
            order.sort_by(|&a, &b| size[b].0.cmp(&size[a].0).then(size[a].1.cmp(&size[b].1)));
            let mut rank = vec![0; k];
            for (r, &c) in order.iter().enumerate() {
                rank[c] = r;
            }
            let cols = labels
                .iter()
                .map(|&c| PALETTE[rank[c] % PALETTE.len()])
                .collect();
            let mut legend: Vec<LegendEntry> = order
                .iter()
                .enumerate()
                .take(MAX_LEGEND)
                .map(|(r, &c)| LegendEntry {
                    label: format!("community {r} ({} nodes)", size[c].0),
                    color: hex(PALETTE[r % PALETTE.len()]),
                })
                .collect();
            if order.len() > MAX_LEGEND {
                legend.pop();
                legend.push(LegendEntry {
                    label: format!("… {} more", order.len() - (MAX_LEGEND - 1)),
                    color: hex(MISSING),
                });
            }
            Ok((cols, legend))
        }
        Some(attr) => {
            let vals: Vec<Option<&Value>> = g.nodes().map(|(_, a)| a.get(attr)).collect();
            if vals.iter().all(Option::is_none) {
                return Err(GraphError::invalid(
                    "color_by",
                    format!("no node has attribute {attr:?} (or use none, degree, community)"),
                ));
            }
            let all_numbers = vals.iter().flatten().all(|v| v.is_number());
            if all_numbers {
                Ok(numeric(
                    vals.iter().map(|v| v.and_then(Value::as_f64)).collect(),
                ))
            } else {
                Ok(categorical(
                    vals.iter()
                        .map(|v| {
                            v.map(|v| match v {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            })
                        })
                        .collect(),
                ))
            }
        }
    }
}

/// Edge widths in pixels.
fn edge_widths(g: &Graph, args: &VisualizeArgs) -> Result<Vec<f64>, GraphError> {
    let base = args.edge_width;
    let Some(key) = args.edge_width_by.as_deref() else {
        return Ok(vec![base; g.num_edges()]);
    };
    let ws: Vec<f64> = g
        .edges()
        .map(|(u, v, a)| {
            Graph::weight_of(a, key)
                .filter(|w| w.is_finite())
                .ok_or_else(|| {
                    GraphError::invalid(
                        "edge_width_by",
                        format!("edge ({u}, {v}): attribute {key:?} is not a number"),
                    )
                })
        })
        .collect::<Result<_, _>>()?;
    let (lo, hi) = ws
        .iter()
        .fold((f64::MAX, f64::MIN), |m, &w| (m.0.min(w), m.1.max(w)));
    Ok(ws
        .iter()
        .map(|&w| {
            let t = if hi > lo { (w - lo) / (hi - lo) } else { 0.5 };
            base * (0.5 + 2.5 * t)
        })
        .collect())
}

fn check_args(args: &VisualizeArgs) -> Result<(), GraphError> {
    for (field, v) in [("width", args.width), ("height", args.height)] {
        if !(MIN_IMAGE_SIDE..=MAX_IMAGE_SIDE).contains(&v) {
            return Err(GraphError::invalid(
                field,
                format!("{v} must be in {MIN_IMAGE_SIDE}..={MAX_IMAGE_SIDE} pixels"),
            ));
        }
    }
    if let Some(s) = args.node_size
        && !(s.is_finite() && s > 0.0 && s <= 200.0)
    {
        return Err(GraphError::invalid(
            "node_size",
            "must be in (0, 200] pixels",
        ));
    }
    if !(args.edge_width.is_finite() && args.edge_width >= 0.0 && args.edge_width <= 100.0) {
        return Err(GraphError::invalid(
            "edge_width",
            "must be in [0, 100] pixels",
        ));
    }
    if !(0.0..=1.0).contains(&args.edge_alpha) {
        return Err(GraphError::invalid("edge_alpha", "must be in [0, 1]"));
    }
    Ok(())
}

fn check_background(bg: &Background) -> Result<(), GraphError> {
    let want = bg.width as usize * bg.height as usize * 4;
    if bg.width == 0 || bg.height == 0 || bg.rgba.len() != want {
        return Err(GraphError::invalid(
            "background",
            format!(
                "{}×{} RGBA needs {want} bytes, got {}",
                bg.width,
                bg.height,
                bg.rgba.len()
            ),
        ));
    }
    Ok(())
}

/// Draw `g`: the JSON result, and the PNG bytes for [`ImageFormat::Png`] (`None` for
/// SVG, whose text is in [`Visualization::svg`]). See the module doc.
///
/// ```
/// use mfn_graph::{generators, render::{visualize, VisualizeArgs}, tools::NoControl, Limits};
/// let g = generators::karate_club("k").unwrap();
/// let args: VisualizeArgs =
///     serde_json::from_value(serde_json::json!({"graph": "k", "format": "svg", "color_by": "community"})).unwrap();
/// let (v, png) = visualize(&g, &args, None, &Limits::default(), &NoControl).unwrap();
/// assert!(png.is_none() && v.svg.unwrap().starts_with("<svg"));
/// assert!(v.legend.len() >= 3);
/// ```
pub fn visualize(
    g: &Graph,
    args: &VisualizeArgs,
    background: Option<&Background>,
    limits: &Limits,
    control: &dyn Control,
) -> Result<(Visualization, Option<Vec<u8>>), GraphError> {
    GraphError::check_limit(
        "nodes",
        g.num_nodes(),
        "max_layout_nodes",
        limits.max_layout_nodes,
    )?;
    check_args(args)?;
    if let Some(bg) = background {
        check_background(bg)?;
    }
    // The canvas (RGBA) and its encoding, the layout's distance matrix, the drawing.
    let pixels = u64::from(args.width) * u64::from(args.height);
    let n = g.num_nodes() as u64;
    limits.budget(
        "width",
        2 * 4 * pixels
            + 4 * n.min(layout::KK_MATRIX_MAX_NODES as u64).pow(2)
            + 256 * (n + g.num_edges() as u64),
    )?;
    let used = args.layout.resolve(g);
    let color_by = args.color_by.as_deref().filter(|c| *c != "none");
    let (node_cols, legend) = colours(g, color_by, args.seed)?;
    let widths = edge_widths(g, args)?;
    let mut pos = layout::layout_with(g, used, args.seed, limits, control)?;
    control.checkpoint(0, 1)?;

    let (w, h) = (f64::from(args.width), f64::from(args.height));
    let n = g.num_nodes();
    let radius = args
        .node_size
        .unwrap_or_else(|| (w.min(h) * 0.15 / (n.max(1) as f64).sqrt()).clamp(1.5, 8.0));
    let bg = background.filter(|_| used == Layout::Coordinates);
    let canvas: Vec<(f64, f64)> = match bg {
        Some(bg) => pos
            .iter()
            .map(|&(x, y)| {
                (
                    (x + 0.5) * w / f64::from(bg.width),
                    (y + 0.5) * h / f64::from(bg.height),
                )
            })
            .collect(),
        None => {
            if used == Layout::Coordinates {
                layout::normalise(&mut pos);
            }
            let margin = (radius + 8.0).min(w.min(h) / 4.0);
            let s = (w - 2.0 * margin).min(h - 2.0 * margin);
            let (ox, oy) = ((w - s) / 2.0, (h - s) / 2.0);
            pos.iter().map(|&(x, y)| (ox + x * s, oy + y * s)).collect()
        }
    };
    let idx: Vec<(usize, usize)> = g
        .edges()
        .map(|(u, v, _)| {
            (
                g.node_index(u).expect("edge end is a node"),
                g.node_index(v).expect("edge end is a node"),
            )
        })
        .collect();
    let scene = Scene {
        g,
        pos: &canvas,
        edges: &idx,
        widths: &widths,
        node_cols: &node_cols,
        legend: if args.legend { &legend[..] } else { &[] },
        radius,
        args,
        background: bg,
    };
    let (svg, png) = match args.format {
        ImageFormat::Svg => (Some(scene.svg(control)?), None),
        ImageFormat::Png => (None, Some(scene.png(control)?)),
    };
    Ok((
        Visualization {
            format: args.format,
            width: args.width,
            height: args.height,
            layout: used,
            num_nodes: n,
            num_edges: g.num_edges(),
            color_by: color_by.map(str::to_owned),
            legend,
            background: bg.is_some(),
            svg,
        },
        png,
    ))
}

/// Everything placed on the canvas.
struct Scene<'a> {
    g: &'a Graph,
    pos: &'a [(f64, f64)],
    edges: &'a [(usize, usize)],
    widths: &'a [f64],
    node_cols: &'a [Rgb],
    legend: &'a [LegendEntry],
    radius: f64,
    args: &'a VisualizeArgs,
    background: Option<&'a Background>,
}

fn esc(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (k, shift) in [18u32, 12, 6, 0].iter().enumerate() {
            if k <= c.len() {
                out.push(A[((v >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Encode straight (not premultiplied) RGBA as PNG.
fn encode_png(width: u32, height: u32, rgba: &[u8]) -> Result<Vec<u8>, GraphError> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc
            .write_header()
            .map_err(|e| GraphError::Store(format!("png: {e}")))?;
        w.write_image_data(rgba)
            .map_err(|e| GraphError::Store(format!("png: {e}")))?;
    }
    Ok(out)
}

impl Scene<'_> {
    fn svg(&self, control: &dyn Control) -> Result<String, GraphError> {
        let (w, h) = (self.args.width, self.args.height);
        let mut s = String::with_capacity(256 + 80 * (self.edges.len() + self.pos.len()));
        let _ = write!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\n<rect width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>\n"
        );
        if let Some(bg) = self.background {
            let png = encode_png(bg.width, bg.height, &bg.rgba)?;
            let _ = writeln!(
                s,
                "<image x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" preserveAspectRatio=\"none\" href=\"data:image/png;base64,{}\"/>",
                base64(&png)
            );
        }
        let _ = writeln!(
            s,
            "<g stroke=\"{}\" stroke-opacity=\"{}\" stroke-linecap=\"round\">",
            hex(EDGE),
            self.args.edge_alpha
        );
        for (k, (&(u, v), &width)) in self.edges.iter().zip(self.widths).enumerate() {
            if k % 65536 == 0 {
                control.checkpoint(k as u64, self.edges.len() as u64)?;
            }
            let (a, b) = (self.pos[u], self.pos[v]);
            let _ = writeln!(
                s,
                "<line x1=\"{:.2}\" y1=\"{:.2}\" x2=\"{:.2}\" y2=\"{:.2}\" stroke-width=\"{:.2}\"/>",
                a.0, a.1, b.0, b.1, width
            );
        }
        s.push_str("</g>\n<g stroke=\"#ffffff\" stroke-width=\"0.5\">\n");
        for ((id, _), (&p, &c)) in self.g.nodes().zip(self.pos.iter().zip(self.node_cols)) {
            let _ = writeln!(
                s,
                "<circle cx=\"{:.2}\" cy=\"{:.2}\" r=\"{:.2}\" fill=\"{}\"><title>{}</title></circle>",
                p.0,
                p.1,
                self.radius,
                hex(c),
                esc(&id.to_string())
            );
        }
        s.push_str("</g>\n");
        if self.args.labels {
            s.push_str("<g font-family=\"sans-serif\" font-size=\"10\" fill=\"#222222\">\n");
            for ((id, _), &p) in self.g.nodes().zip(self.pos) {
                let text = match id {
                    crate::NodeId::Int(i) => i.to_string(),
                    crate::NodeId::Str(t) => t.clone(),
                };
                let _ = writeln!(
                    s,
                    "<text x=\"{:.2}\" y=\"{:.2}\">{}</text>",
                    p.0 + self.radius + 2.0,
                    p.1 + 3.5,
                    esc(&text)
                );
            }
            s.push_str("</g>\n");
        }
        if !self.legend.is_empty() {
            let longest = self
                .legend
                .iter()
                .map(|e| e.label.chars().count())
                .max()
                .unwrap_or(0);
            let bw = 28 + 6 * longest;
            let bh = 8 + 16 * self.legend.len();
            let _ = writeln!(
                s,
                "<g font-family=\"sans-serif\" font-size=\"11\"><rect x=\"4\" y=\"4\" width=\"{bw}\" height=\"{bh}\" fill=\"#ffffff\" fill-opacity=\"0.8\" stroke=\"#999999\"/>"
            );
            for (i, e) in self.legend.iter().enumerate() {
                let y = 10 + 16 * i;
                let _ = writeln!(
                    s,
                    "<rect x=\"10\" y=\"{y}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"26\" y=\"{}\" fill=\"#222222\">{}</text>",
                    e.color,
                    y + 9,
                    esc(&e.label)
                );
            }
            s.push_str("</g>\n");
        }
        s.push_str("</svg>\n");
        Ok(s)
    }

    fn png(&self, control: &dyn Control) -> Result<Vec<u8>, GraphError> {
        let (w, h) = (self.args.width, self.args.height);
        let mut pm = Pixmap::new(w, h).expect("sides checked to be in 16..=4096");
        pm.fill(Color::WHITE);
        if let Some(bg) = self.background {
            // tiny-skia works on premultiplied RGBA.
            let mut data = bg.rgba.clone();
            for px in data.chunks_exact_mut(4) {
                let a = u16::from(px[3]);
                for c in &mut px[..3] {
                    *c = ((u16::from(*c) * a + 127) / 255) as u8;
                }
            }
            let size = tiny_skia::IntSize::from_wh(bg.width, bg.height).expect("checked non-zero");
            let img = Pixmap::from_vec(data, size).expect("length checked");
            pm.draw_pixmap(
                0,
                0,
                img.as_ref(),
                &PixmapPaint {
                    quality: FilterQuality::Bilinear,
                    ..PixmapPaint::default()
                },
                Transform::from_scale(w as f32 / bg.width as f32, h as f32 / bg.height as f32),
                None,
            );
        }
        let mut paint = Paint {
            anti_alias: true,
            ..Paint::default()
        };
        let alpha = (self.args.edge_alpha * 255.0).round() as u8;
        paint.set_color_rgba8(EDGE[0], EDGE[1], EDGE[2], alpha);
        for (k, (&(u, v), &width)) in self.edges.iter().zip(self.widths).enumerate() {
            if k % 16384 == 0 {
                control.checkpoint(k as u64, self.edges.len() as u64)?;
            }
            if u == v || width <= 0.0 {
                continue;
            }
            let (a, b) = (self.pos[u], self.pos[v]);
            let mut pb = PathBuilder::new();
            pb.move_to(a.0 as f32, a.1 as f32);
            pb.line_to(b.0 as f32, b.1 as f32);
            if let Some(path) = pb.finish() {
                let stroke = Stroke {
                    width: width as f32,
                    line_cap: tiny_skia::LineCap::Round,
                    ..Stroke::default()
                };
                pm.stroke_path(&path, &paint, &stroke, Transform::identity(), None);
            }
        }
        let outline = Stroke {
            width: 0.5,
            ..Stroke::default()
        };
        let mut white = Paint {
            anti_alias: true,
            ..Paint::default()
        };
        white.set_color_rgba8(255, 255, 255, 255);
        for (k, (&p, &c)) in self.pos.iter().zip(self.node_cols).enumerate() {
            if k % 16384 == 0 {
                control.checkpoint(k as u64, self.pos.len() as u64)?;
            }
            if let Some(circle) =
                PathBuilder::from_circle(p.0 as f32, p.1 as f32, self.radius as f32)
            {
                paint.set_color_rgba8(c[0], c[1], c[2], 255);
                pm.fill_path(
                    &circle,
                    &paint,
                    FillRule::Winding,
                    Transform::identity(),
                    None,
                );
                pm.stroke_path(&circle, &white, &outline, Transform::identity(), None);
            }
        }
        // Demultiply for PNG (the canvas is opaque, so this is exact).
        let mut data = pm.take();
        for px in data.chunks_exact_mut(4) {
            let a = u16::from(px[3]);
            if a != 0 && a != 255 {
                for c in &mut px[..3] {
                    *c = ((u16::from(*c) * 255 + a / 2) / a).min(255) as u8;
                }
            }
        }
        encode_png(w, h, &data)
    }
}
