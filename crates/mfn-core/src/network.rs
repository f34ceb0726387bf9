//! Mycelial network extraction: field or image → binary mask → skeleton → graph.
//!
//! A mycelium is a network of hyphae; its shape is read as a graph whose nodes are hyphal
//! tips and branch points and whose edges are the hyphae between them, as in the network
//! analyses of Bebber et al. (*Proc. R. Soc. B* 274:2307, 2007) and NEFI (Dirnberger et
//! al., *Sci. Rep.* 5:15669, 2015). This module computes that graph from an `n×n` field in
//! volts ([`crate::field`]) or a grey image, purely (no I/O); a service stores it and
//! measures it. Pixels are addressed as `(x, y)` = (column, row) with pixel centres at
//! integer coordinates; everything outside the image is background.
//!
//! # 1. Mask ([`mask_from_field`], [`mask_from_gray`])
//! With `Vmv = 1000·V`, a cell is set when
//!
//! | [`MaskThreshold`] | JSON `threshold` | rule |
//! |---|---|---|
//! | `FixedMv(θ)` (default θ = −60 mV) | `fixed` (+ `threshold_mv`) | `V > θ/1000` (volts, strict — as [`crate::features`]) |
//! | `AdaptiveMedian` | `adaptive_median` | `Vmv > median(Vmv)` (as [`crate::features::Threshold::AdaptiveMedian`]) |
//! | `Otsu` | `otsu` | `Vmv > t*`, Otsu's threshold (below) |
//!
//! Images use `g > level` or Otsu on the grey values in their own units (0..1 or
//! 0..255 alike), optionally inverted (dark hyphae on a bright background).
//!
//! **Otsu** (*IEEE Trans. SMC* 9(1), 1979), as scikit-image's `threshold_otsu`: a
//! 256-bin histogram `h_i` over `[min, max]` with bin centres `c_i`; for each split
//! `k` with `ω₀ = Σ_{i≤k} h_i`, `ω₁ = Σ_{i>k} h_i` and class means `μ₀`, `μ₁`, the
//! between-class variance `σ²_B(k) = ω₀·ω₁·(μ₀ − μ₁)²`; `t* = c_k` for the first `k`
//! maximising it. A constant input gives `t* = min`, hence an empty mask.
//!
//! Then, each optional: **opening** (erosion then dilation) removes specks and
//! one-pixel bridges, **closing** (dilation then erosion) fills pinholes and one-pixel
//! gaps, both with the 3×3 square structuring element (opening first when both are
//! asked), computed as in the unbounded plane with background outside the image (a
//! closing is computed on the image padded by one pixel, so it never adds pixels along
//! the border). Last, 8-connected components of fewer than
//! `min_component_px` pixels are removed (default 1: nothing is removed, the mask is the
//! threshold's exactly).
//!
//! # 2. Thinning ([`thin`])
//! Zhang & Suen, "A fast parallel algorithm for thinning digital patterns", *Commun.
//! ACM* 27(3):236–239, 1984. Name the 8 neighbours of a set pixel `P1`
//!
//! ```text
//!   P9 P2 P3          B(P1) = P2 + P3 + … + P9        (set neighbours)
//!   P8 P1 P4          A(P1) = number of 0→1 patterns in P2, P3, …, P9, P2
//!   P7 P6 P5
//! ```
//!
//! Sub-iteration 1 deletes every pixel with `2 ≤ B ≤ 6`, `A = 1`, `P2·P4·P6 = 0` and
//! `P4·P6·P8 = 0` (south-east boundary and north-west corners); sub-iteration 2 the
//! same with `P2·P4·P8 = 0` and `P2·P6·P8 = 0` (north-west boundary, south-east
//! corners). Both select their pixels on the image as it was when the sub-iteration
//! began (parallel); they alternate until neither deletes anything.
//!
//! Parallel Zhang–Suen has two known failures: a 2×2 block vanishes entirely and
//! two-pixel-thick diagonals break, because pixels that are each deletable alone are
//! deleted together. So the selected pixels are committed in raster order and each is
//! deleted only if it still has `A = 1` and `B ≥ 2` in the image updated so far. A pixel
//! with `A = 1`, `2 ≤ B ≤ 6` is *simple* (its set neighbours form one 8-connected group
//! and it touches the background by an edge), and deleting a simple pixel changes no
//! 8-component of the set and no 4-component of the background (Rosenfeld 1970), so the
//! skeleton is homotopic to the mask; the guard changes nothing where no two selected
//! pixels interfere. The first selected pixel is always deleted, so every
//! sub-iteration that selects anything progresses.
//!
//! Zhang–Suen leaves staircase corners (a ring thins to a curve whose corner pixels have
//! three neighbours and would read as junctions), so a final **sequential pass** in
//! raster order deletes every pixel that
//!
//! - has exactly one vertical (`P2 + P6 = 1`) and one horizontal (`P4 + P8 = 1`) set
//!   4-neighbour and whose set 8-neighbours form one 8-connected group (the corner rule
//!   of GRAPH.md), or
//! - lies in a fully set 2×2 block and is simple (a block Zhang–Suen cannot reach
//!   because every pixel in it has `A = 2`).
//!
//! Both delete only simple pixels. Zhang–Suen and the pass repeat until the pass deletes
//! nothing, so the result is a fixed point of both and `thin(thin(m)) = thin(m)`.
//! Invariants (tested, also as properties of random masks): skeleton ⊆ mask; the number
//! of 8-connected components is preserved; a thinned ring has no junction pixel; every
//! fully set 2×2 block left consists of pixels none of which is simple — e.g. the
//! centre of an ✕ of one-pixel diagonals, which no deletion can thin without cutting a
//! branch off. GRAPH.md's "no 2×2 block fully set" therefore holds everywhere except at
//! such irreducible blocks, which no topology-preserving thinning can remove.
//!
//! # 3. Skeleton → graph ([`skeleton_graph`])
//! Each skeleton pixel's number of set 8-neighbours makes it isolated (0), a tip (1), a
//! chain pixel (2) or a junction pixel (≥ 3). Junction pixels that touch (8-adjacency)
//! form one node at their centroid; tips and isolated pixels are one-pixel nodes. From
//! every node pixel the chains of 2-neighbour pixels are traced to the node where they
//! arrive; each is an edge (a tip next to a node pixel is an edge without chain pixels).
//! Chains that meet no node are closed loops.
//!
//! - **Length**: the polyline from the position of `u` through the chain pixels to the
//!   position of `v`, `Σ ‖p_{k+1} − p_k‖`: 1 per orthogonal step, √2 per diagonal step,
//!   and the Euclidean distance to a junction's centroid at the ends. A straight line of
//!   `n` pixels has length `n − 1`, a diagonal one `(n − 1)√2`.
//! - **`pixels`**: the edge's chain pixels (including those of nodes merged into it)
//!   plus 2, one for each end node; a line of `n` pixels gives `n`. With nothing pruned,
//!   `Σ_edges (pixels − 2) + Σ_nodes pixels` is the skeleton's pixel count.
//! - **Pruning**: a spur (an edge between a tip and a node of degree ≥ 3) shorter than
//!   `min_branch_px` is removed with its tip, in one pass over the unpruned graph (spurs
//!   created by pruning are not pruned in turn); a node whose edges are all such spurs
//!   keeps the longest, so pruning never deletes a component.
//! - **Merging**: every node then left with degree 2 is dissolved into its two edges
//!   (concatenated, lengths summed), so edges run between tips and junctions.
//! - **Simple graph**: a closed loop without junctions gets three degree-2 nodes at
//!   equal spacing along its pixels (the first at its first pixel in raster order); a
//!   loop from a node back to itself gets two, at thirds; one of two edges joining the
//!   same pair of nodes gets a degree-2 node at its middle pixel. A loop of at most one
//!   pixel around a node (a pinhole in a junction blob) is absorbed into the node.
//!
//! Node kinds follow the final degree: [`NodeKind::Isolated`] (0), [`NodeKind::Tip`]
//! (1), [`NodeKind::Chain`] (2, kept only by the loop rules), [`NodeKind::Junction`]
//! (≥ 3). Nodes are ordered by their first pixel in raster order, edges by the order in
//! which the raster scan traced them (pieces of a split edge after it), with `u < v`.
//!
//! # 4. Box-counting dimension ([`box_dimension`])
//! The skeleton padded with background to a square of side `max(width, height)` and
//! measured by [`crate::fractal::box_count`] with its default sizes.
//!
//! ```
//! use mfn_core::network::{skeleton_graph, thin, GraphOptions, Mask, NodeKind};
//! // A 5-pixel-wide plus.
//! let plus = Mask::from_fn(31, 31, |x, y| {
//!     (x.abs_diff(15) <= 2 && y.abs_diff(15) <= 12) || (y.abs_diff(15) <= 2 && x.abs_diff(15) <= 12)
//! });
//! let g = skeleton_graph(&thin(&plus), &GraphOptions::default());
//! let count = |k| g.nodes.iter().filter(|n| n.kind == k).count();
//! assert_eq!((count(NodeKind::Junction), count(NodeKind::Tip), g.edges.len()), (1, 4, 4));
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result, check_range_usize};
use crate::features::{DEFAULT_THRESHOLD_MV, median};
use crate::fractal::{BoxCountParams, box_count};

/// Default `min_component_px`: 1, every component is kept.
pub const DEFAULT_MIN_COMPONENT_PX: usize = 1;

/// Default `min_branch_px`: spurs shorter than 3 pixels are pruned (see [`GraphOptions`]).
pub const DEFAULT_MIN_BRANCH_PX: usize = 3;

/// Largest accepted `min_component_px` and `min_branch_px`.
pub const MAX_MIN_PX: usize = 1 << 24;

/// Histogram bins of [`otsu_threshold`].
pub const OTSU_BINS: usize = 256;

/// A binary image, row-major: pixel `(x, y)` is `bits[y * width + x]`.
///
/// ```
/// use mfn_core::network::Mask;
/// let m = Mask::from_ascii("##.\n.#.")?;
/// assert_eq!((m.width, m.height, m.count()), (3, 2, 3));
/// assert!(m.get(1, 1) && !m.get(2, 0) && !m.get(7, 7));
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Mask {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// `width × height` pixels, row-major.
    pub bits: Vec<bool>,
}

/// How a field is binarised (see the module docs).
///
/// ```
/// use mfn_core::network::MaskThreshold;
/// assert_eq!(MaskThreshold::default(), MaskThreshold::FixedMv(-60.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaskThreshold {
    /// `V > mv/1000` volts (strict).
    FixedMv(f64),
    /// `Vmv > median(Vmv)`: about half the cells are set.
    AdaptiveMedian,
    /// `Vmv >` Otsu's threshold.
    Otsu,
}

/// Options of [`mask_from_field`].
///
/// As JSON (tool arguments) the options are flat and every key is optional:
/// `threshold` (`"fixed"` | `"adaptive_median"` | `"otsu"`, default `"fixed"`),
/// `threshold_mv` (only with `"fixed"`, default −60), `opening`, `closing` (default
/// false), `min_component_px` (default 1). Unknown keys are rejected.
///
/// ```
/// use mfn_core::network::{MaskOptions, MaskThreshold};
/// let o: MaskOptions = serde_json::from_str(r#"{"threshold_mv": -65, "opening": true}"#).unwrap();
/// assert_eq!(o.threshold, MaskThreshold::FixedMv(-65.0));
/// assert!(o.opening && !o.closing);
/// assert_eq!(o.min_component_px, 1);
/// let e = serde_json::from_str::<MaskOptions>(r#"{"threshold": "otsu", "threshold_mv": -65}"#);
/// assert!(e.unwrap_err().to_string().contains("threshold_mv"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(try_from = "MaskOptionsJson", into = "MaskOptionsJson")]
pub struct MaskOptions {
    /// Threshold rule (default −60 mV, as the features' θ).
    pub threshold: MaskThreshold,
    /// Apply a 3×3 opening (default false).
    pub opening: bool,
    /// Apply a 3×3 closing (default false).
    pub closing: bool,
    /// Remove 8-connected components smaller than this, in `[0, 2^24]` (default 1:
    /// remove nothing).
    pub min_component_px: usize,
}

/// Threshold of a grey image, in the image's own units.
///
/// ```
/// assert_eq!(mfn_core::network::GrayThreshold::default(), mfn_core::network::GrayThreshold::Otsu);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum GrayThreshold {
    /// `g > level`.
    Level(f64),
    /// `g >` Otsu's threshold (default: needs no knowledge of the grey scale).
    #[default]
    Otsu,
}

/// Options of [`mask_from_gray`].
///
/// As JSON: `threshold` (`"fixed"` | `"otsu"`, default `"otsu"`), `threshold_level`
/// (only with `"fixed"`, required then), `invert`, `opening`, `closing`,
/// `min_component_px`.
///
/// ```
/// use mfn_core::network::{GrayMaskOptions, GrayThreshold};
/// let o: GrayMaskOptions = serde_json::from_str(r#"{"threshold": "fixed", "threshold_level": 128}"#).unwrap();
/// assert_eq!(o.threshold, GrayThreshold::Level(128.0));
/// assert!(serde_json::from_str::<GrayMaskOptions>(r#"{"threshold": "fixed"}"#).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(try_from = "GrayMaskOptionsJson", into = "GrayMaskOptionsJson")]
pub struct GrayMaskOptions {
    /// Threshold rule (default Otsu).
    pub threshold: GrayThreshold,
    /// Foreground is dark: take the complement of the thresholded mask (default false).
    pub invert: bool,
    /// Apply a 3×3 opening (default false).
    pub opening: bool,
    /// Apply a 3×3 closing (default false).
    pub closing: bool,
    /// Remove 8-connected components smaller than this, in `[0, 2^24]` (default 1).
    pub min_component_px: usize,
}

/// Options of [`skeleton_graph`].
///
/// `min_branch_px` defaults to 3: thinning a blob leaves one- and two-pixel spurs where
/// its outline has a corner or a bump, and these are not hyphae; any real branch of a
/// mask at least a few pixels wide is longer. 0 keeps the skeleton's topology exactly.
///
/// ```
/// let o: mfn_core::network::GraphOptions = serde_json::from_str("{}").unwrap();
/// assert_eq!(o.min_branch_px, 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct GraphOptions {
    /// Prune tip–junction edges shorter than this many pixels of length, in `[0, 2^24]`
    /// (default 3; 0 prunes nothing).
    pub min_branch_px: usize,
}

/// Options of [`extract`]: the mask's and the graph's.
///
/// As JSON the keys of [`MaskOptions`] and [`GraphOptions`] side by side:
/// `threshold`, `threshold_mv`, `opening`, `closing`, `min_component_px`,
/// `min_branch_px`.
///
/// ```
/// use mfn_core::network::{ExtractOptions, MaskThreshold};
/// let o: ExtractOptions =
///     serde_json::from_str(r#"{"threshold": "adaptive_median", "min_branch_px": 0}"#).unwrap();
/// assert_eq!(o.mask.threshold, MaskThreshold::AdaptiveMedian);
/// assert_eq!(o.graph.min_branch_px, 0);
/// assert!(serde_json::from_str::<ExtractOptions>(r#"{"treshold_mv": 1}"#).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(try_from = "ExtractOptionsJson", into = "ExtractOptionsJson")]
pub struct ExtractOptions {
    /// Step 1.
    pub mask: MaskOptions,
    /// Step 3.
    pub graph: GraphOptions,
}

/// What a graph node is, by its degree in the final graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// Degree 1: a hyphal tip (or the end of an isolated segment).
    Tip,
    /// Degree ≥ 3: a branch point.
    Junction,
    /// Degree 2, kept only to keep the graph simple (loops, parallel edges).
    Chain,
    /// Degree 0: an isolated pixel or blob.
    Isolated,
}

/// A node of a [`SkeletonGraph`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SkelNode {
    /// Column of the node (centroid of its pixels).
    pub x: f64,
    /// Row of the node (centroid of its pixels).
    pub y: f64,
    /// Kind, from the degree.
    pub kind: NodeKind,
    /// Skeleton pixels merged into the node (1 for tips; a junction cluster's size).
    pub pixels: usize,
}

/// An edge of a [`SkeletonGraph`] (undirected, `u < v`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SkelEdge {
    /// Index of one end in [`SkeletonGraph::nodes`].
    pub u: usize,
    /// Index of the other end, `> u`.
    pub v: usize,
    /// Length in pixels (1 per orthogonal step, √2 per diagonal step).
    pub length: f64,
    /// Chain pixels plus 2 (one per end node).
    pub pixels: usize,
    /// `(x, y)` of node `u`.
    pub start: (f64, f64),
    /// `(x, y)` of node `v`.
    pub end: (f64, f64),
}

/// The graph of a skeleton: simple (no self-loops, no parallel edges), undirected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SkeletonGraph {
    /// Width of the skeleton image.
    pub width: usize,
    /// Height of the skeleton image.
    pub height: usize,
    /// Nodes, in raster order of their first pixel.
    pub nodes: Vec<SkelNode>,
    /// Edges, in discovery order.
    pub edges: Vec<SkelEdge>,
}

/// Everything [`extract`] computes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Extraction {
    /// The threshold actually used, in mV (the median or Otsu's value when adaptive).
    pub threshold_mv: f64,
    /// Step 1: the mask.
    pub mask: Mask,
    /// Step 2: its skeleton (before spur pruning, which acts on the graph only).
    pub skeleton: Mask,
    /// Step 3: the graph.
    pub graph: SkeletonGraph,
}

// ---------------------------------------------------------------------------------------
// JSON shapes of the options.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
enum ThresholdName {
    Fixed,
    AdaptiveMedian,
    Otsu,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
enum GrayThresholdName {
    Fixed,
    Otsu,
}

/// Mask options.
#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct MaskOptionsJson {
    /// How the field is binarised: "fixed" (field > threshold_mv), "adaptive_median"
    /// (field > its median) or "otsu" (Otsu's threshold). Default "fixed".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    threshold: Option<ThresholdName>,
    /// Threshold in millivolts for "fixed" (default -60); not allowed with the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    threshold_mv: Option<f64>,
    /// Morphological opening (3x3) after thresholding. Default false.
    #[serde(default)]
    opening: bool,
    /// Morphological closing (3x3) after thresholding. Default false.
    #[serde(default)]
    closing: bool,
    /// Remove 8-connected components with fewer pixels, 0..=16777216. Default 1.
    #[serde(default = "default_min_component_px")]
    min_component_px: usize,
}

/// Grey-image mask options.
#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct GrayMaskOptionsJson {
    /// "fixed" (grey > threshold_level) or "otsu". Default "otsu".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    threshold: Option<GrayThresholdName>,
    /// Grey level for "fixed", in the image's units (e.g. 128 of 255, or 0.5 of 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    threshold_level: Option<f64>,
    /// Hyphae are dark on a bright background. Default false.
    #[serde(default)]
    invert: bool,
    /// Morphological opening (3x3). Default false.
    #[serde(default)]
    opening: bool,
    /// Morphological closing (3x3). Default false.
    #[serde(default)]
    closing: bool,
    /// Remove 8-connected components with fewer pixels, 0..=16777216. Default 1.
    #[serde(default = "default_min_component_px")]
    min_component_px: usize,
}

/// Network extraction options.
#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ExtractOptionsJson {
    /// How the field is binarised: "fixed" (field > threshold_mv), "adaptive_median"
    /// (field > its median) or "otsu" (Otsu's threshold). Default "fixed".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    threshold: Option<ThresholdName>,
    /// Threshold in millivolts for "fixed" (default -60); not allowed with the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    threshold_mv: Option<f64>,
    /// Morphological opening (3x3) after thresholding. Default false.
    #[serde(default)]
    opening: bool,
    /// Morphological closing (3x3) after thresholding. Default false.
    #[serde(default)]
    closing: bool,
    /// Remove 8-connected components with fewer pixels, 0..=16777216. Default 1.
    #[serde(default = "default_min_component_px")]
    min_component_px: usize,
    /// Prune tip-to-junction branches shorter than this many pixels, 0..=16777216.
    /// Default 3.
    #[serde(default = "default_min_branch_px")]
    min_branch_px: usize,
}

fn default_min_component_px() -> usize {
    DEFAULT_MIN_COMPONENT_PX
}

fn default_min_branch_px() -> usize {
    DEFAULT_MIN_BRANCH_PX
}

// ---------------------------------------------------------------------------------------
// Impls.

impl Mask {
    /// A mask from its parts; errors when `bits.len() ≠ width·height`.
    ///
    /// ```
    /// use mfn_core::network::Mask;
    /// assert!(Mask::new(2, 2, vec![true; 4]).is_ok());
    /// assert!(Mask::new(2, 2, vec![true; 3]).is_err());
    /// ```
    pub fn new(width: usize, height: usize, bits: Vec<bool>) -> Result<Mask> {
        if width.checked_mul(height) != Some(bits.len()) {
            return Err(CoreError::invalid(
                "mask",
                format!("{} pixels for a {width}x{height} mask", bits.len()),
            ));
        }
        Ok(Mask {
            width,
            height,
            bits,
        })
    }

    /// An empty (all background) mask.
    ///
    /// ```
    /// assert_eq!(mfn_core::network::Mask::empty(3, 2).count(), 0);
    /// ```
    pub fn empty(width: usize, height: usize) -> Mask {
        Mask {
            width,
            height,
            bits: vec![false; width * height],
        }
    }

    /// A mask with pixel `(x, y)` set when `f(x, y)`.
    ///
    /// ```
    /// let diag = mfn_core::network::Mask::from_fn(4, 4, |x, y| x == y);
    /// assert_eq!(diag.count(), 4);
    /// ```
    pub fn from_fn(width: usize, height: usize, mut f: impl FnMut(usize, usize) -> bool) -> Mask {
        let mut bits = Vec::with_capacity(width * height);
        for y in 0..height {
            for x in 0..width {
                bits.push(f(x, y));
            }
        }
        Mask {
            width,
            height,
            bits,
        }
    }

    /// A mask drawn as text: one line per row, `#` (or `1`) set, `.` (or `0`) unset;
    /// surrounding whitespace and blank lines are ignored. Errors on ragged rows or
    /// other characters.
    ///
    /// ```
    /// let m = mfn_core::network::Mask::from_ascii("\n    .#.\n    ###\n")?;
    /// assert_eq!(m.to_ascii(), ".#.\n###\n");
    /// # Ok::<(), mfn_core::CoreError>(())
    /// ```
    pub fn from_ascii(text: &str) -> Result<Mask> {
        let rows: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let width = rows.first().map_or(0, |r| r.chars().count());
        let mut bits = Vec::with_capacity(width * rows.len());
        for (y, row) in rows.iter().enumerate() {
            if row.chars().count() != width {
                return Err(CoreError::invalid(
                    "mask",
                    format!(
                        "row {y} has {} pixels, row 0 has {width}",
                        row.chars().count()
                    ),
                ));
            }
            for c in row.chars() {
                bits.push(match c {
                    '#' | '1' => true,
                    '.' | '0' => false,
                    _ => {
                        return Err(CoreError::invalid(
                            "mask",
                            format!("row {y} has {c:?}; use '#' or '.'"),
                        ));
                    }
                });
            }
        }
        Mask::new(width, rows.len(), bits)
    }

    /// The mask as text (`#` set, `.` unset, one line per row).
    pub fn to_ascii(&self) -> String {
        let mut s = String::with_capacity((self.width + 1) * self.height);
        for y in 0..self.height {
            for x in 0..self.width {
                s.push(if self.get(x, y) { '#' } else { '.' });
            }
            s.push('\n');
        }
        s
    }

    /// Pixel `(x, y)`; `false` outside the image.
    pub fn get(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.height && self.bits[y * self.width + x]
    }

    /// Number of set pixels.
    pub fn count(&self) -> usize {
        self.bits.iter().filter(|&&b| b).count()
    }

    /// Number of 8-connected components of the set pixels.
    ///
    /// ```
    /// let m = mfn_core::network::Mask::from_ascii("#..\n.#.\n..#\n#..")?;
    /// assert_eq!(m.component_count(), 2);
    /// # Ok::<(), mfn_core::CoreError>(())
    /// ```
    pub fn component_count(&self) -> usize {
        components8(self).len()
    }

    fn with_bits(&self, bits: Vec<bool>) -> Mask {
        Mask {
            width: self.width,
            height: self.height,
            bits,
        }
    }
}

impl Default for MaskOptions {
    fn default() -> Self {
        MaskOptions {
            threshold: MaskThreshold::default(),
            opening: false,
            closing: false,
            min_component_px: DEFAULT_MIN_COMPONENT_PX,
        }
    }
}

impl Default for MaskThreshold {
    fn default() -> Self {
        MaskThreshold::FixedMv(DEFAULT_THRESHOLD_MV)
    }
}

impl MaskOptions {
    /// Check the options: a finite `threshold_mv`, `min_component_px ≤ 2^24`.
    ///
    /// ```
    /// use mfn_core::network::{MaskOptions, MaskThreshold};
    /// let bad = MaskOptions { threshold: MaskThreshold::FixedMv(f64::NAN), ..Default::default() };
    /// assert_eq!(bad.validate().unwrap_err().field(), Some("threshold_mv"));
    /// ```
    pub fn validate(&self) -> Result<()> {
        if let MaskThreshold::FixedMv(t) = self.threshold
            && !t.is_finite()
        {
            return Err(CoreError::out_of_range(
                "threshold_mv",
                t,
                "must be a finite number of millivolts",
            ));
        }
        check_range_usize("min_component_px", self.min_component_px, 0, MAX_MIN_PX)
    }
}

impl Default for GrayMaskOptions {
    fn default() -> Self {
        GrayMaskOptions {
            threshold: GrayThreshold::Otsu,
            invert: false,
            opening: false,
            closing: false,
            min_component_px: DEFAULT_MIN_COMPONENT_PX,
        }
    }
}

impl GrayMaskOptions {
    /// Check the options: a finite `threshold_level`, `min_component_px ≤ 2^24`.
    pub fn validate(&self) -> Result<()> {
        if let GrayThreshold::Level(t) = self.threshold
            && !t.is_finite()
        {
            return Err(CoreError::out_of_range(
                "threshold_level",
                t,
                "must be a finite grey level",
            ));
        }
        check_range_usize("min_component_px", self.min_component_px, 0, MAX_MIN_PX)
    }
}

impl Default for GraphOptions {
    fn default() -> Self {
        GraphOptions {
            min_branch_px: DEFAULT_MIN_BRANCH_PX,
        }
    }
}

impl GraphOptions {
    /// Check the options: `min_branch_px ≤ 2^24`.
    pub fn validate(&self) -> Result<()> {
        check_range_usize("min_branch_px", self.min_branch_px, 0, MAX_MIN_PX)
    }
}

impl ExtractOptions {
    /// Check both parts.
    pub fn validate(&self) -> Result<()> {
        self.mask.validate()?;
        self.graph.validate()
    }
}

fn threshold_from_json(name: Option<ThresholdName>, mv: Option<f64>) -> Result<MaskThreshold> {
    match (name.unwrap_or(ThresholdName::Fixed), mv) {
        (ThresholdName::Fixed, mv) => {
            Ok(MaskThreshold::FixedMv(mv.unwrap_or(DEFAULT_THRESHOLD_MV)))
        }
        (_, Some(_)) => Err(CoreError::invalid(
            "threshold_mv",
            "is only used with threshold = \"fixed\"",
        )),
        (ThresholdName::AdaptiveMedian, None) => Ok(MaskThreshold::AdaptiveMedian),
        (ThresholdName::Otsu, None) => Ok(MaskThreshold::Otsu),
    }
}

fn threshold_to_json(t: MaskThreshold) -> (Option<ThresholdName>, Option<f64>) {
    match t {
        MaskThreshold::FixedMv(mv) => (Some(ThresholdName::Fixed), Some(mv)),
        MaskThreshold::AdaptiveMedian => (Some(ThresholdName::AdaptiveMedian), None),
        MaskThreshold::Otsu => (Some(ThresholdName::Otsu), None),
    }
}

impl TryFrom<MaskOptionsJson> for MaskOptions {
    type Error = CoreError;
    fn try_from(j: MaskOptionsJson) -> Result<Self> {
        let o = MaskOptions {
            threshold: threshold_from_json(j.threshold, j.threshold_mv)?,
            opening: j.opening,
            closing: j.closing,
            min_component_px: j.min_component_px,
        };
        o.validate()?;
        Ok(o)
    }
}

impl From<MaskOptions> for MaskOptionsJson {
    fn from(o: MaskOptions) -> Self {
        let (threshold, threshold_mv) = threshold_to_json(o.threshold);
        MaskOptionsJson {
            threshold,
            threshold_mv,
            opening: o.opening,
            closing: o.closing,
            min_component_px: o.min_component_px,
        }
    }
}

impl TryFrom<GrayMaskOptionsJson> for GrayMaskOptions {
    type Error = CoreError;
    fn try_from(j: GrayMaskOptionsJson) -> Result<Self> {
        let threshold = match (
            j.threshold.unwrap_or(GrayThresholdName::Otsu),
            j.threshold_level,
        ) {
            (GrayThresholdName::Fixed, Some(l)) => GrayThreshold::Level(l),
            (GrayThresholdName::Fixed, None) => {
                return Err(CoreError::invalid(
                    "threshold_level",
                    "is required with threshold = \"fixed\"",
                ));
            }
            (GrayThresholdName::Otsu, Some(_)) => {
                return Err(CoreError::invalid(
                    "threshold_level",
                    "is only used with threshold = \"fixed\"",
                ));
            }
            (GrayThresholdName::Otsu, None) => GrayThreshold::Otsu,
        };
        let o = GrayMaskOptions {
            threshold,
            invert: j.invert,
            opening: j.opening,
            closing: j.closing,
            min_component_px: j.min_component_px,
        };
        o.validate()?;
        Ok(o)
    }
}

impl From<GrayMaskOptions> for GrayMaskOptionsJson {
    fn from(o: GrayMaskOptions) -> Self {
        let (threshold, threshold_level) = match o.threshold {
            GrayThreshold::Level(l) => (GrayThresholdName::Fixed, Some(l)),
            GrayThreshold::Otsu => (GrayThresholdName::Otsu, None),
        };
        GrayMaskOptionsJson {
            threshold: Some(threshold),
            threshold_level,
            invert: o.invert,
            opening: o.opening,
            closing: o.closing,
            min_component_px: o.min_component_px,
        }
    }
}

impl TryFrom<ExtractOptionsJson> for ExtractOptions {
    type Error = CoreError;
    fn try_from(j: ExtractOptionsJson) -> Result<Self> {
        let o = ExtractOptions {
            mask: MaskOptions {
                threshold: threshold_from_json(j.threshold, j.threshold_mv)?,
                opening: j.opening,
                closing: j.closing,
                min_component_px: j.min_component_px,
            },
            graph: GraphOptions {
                min_branch_px: j.min_branch_px,
            },
        };
        o.validate()?;
        Ok(o)
    }
}

impl From<ExtractOptions> for ExtractOptionsJson {
    fn from(o: ExtractOptions) -> Self {
        let (threshold, threshold_mv) = threshold_to_json(o.mask.threshold);
        ExtractOptionsJson {
            threshold,
            threshold_mv,
            opening: o.mask.opening,
            closing: o.mask.closing,
            min_component_px: o.mask.min_component_px,
            min_branch_px: o.graph.min_branch_px,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Step 1: masks.

/// Otsu's threshold of finite values (256 bins, as scikit-image's `threshold_otsu`; see
/// the module docs). A constant input gives its value. Errors on an empty or non-finite
/// input.
///
/// ```
/// let v = [0.1, 0.2, 0.15, 0.8, 0.9, 0.85];
/// let t = mfn_core::network::otsu_threshold(&v)?;
/// assert!(t > 0.2 && t < 0.8);
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
pub fn otsu_threshold(values: &[f64]) -> Result<f64> {
    if values.is_empty() {
        return Err(CoreError::invalid("values", "needs at least one value"));
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(CoreError::invalid(
            "values",
            format!("non-finite value at index {i}"),
        ));
    }
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if lo >= hi {
        return Ok(lo);
    }
    let width = (hi - lo) / OTSU_BINS as f64;
    let mut hist = [0f64; OTSU_BINS];
    for &v in values {
        let b = (((v - lo) / (hi - lo)) * OTSU_BINS as f64) as usize;
        hist[b.min(OTSU_BINS - 1)] += 1.0;
    }
    let centre = |i: usize| lo + (i as f64 + 0.5) * width;
    // Prefix (class 0 = bins 0..=k) and suffix (class 1 = bins k+1..) sums.
    let mut w0 = [0f64; OTSU_BINS];
    let mut m0 = [0f64; OTSU_BINS];
    let (mut sw, mut sm) = (0.0, 0.0);
    for i in 0..OTSU_BINS {
        sw += hist[i];
        sm += hist[i] * centre(i);
        w0[i] = sw;
        m0[i] = sm;
    }
    let (total_w, total_m) = (sw, sm);
    let mut best = (f64::NEG_INFINITY, 0);
    for k in 0..OTSU_BINS - 1 {
        let w1 = total_w - w0[k];
        if w0[k] == 0.0 || w1 == 0.0 {
            continue;
        }
        let mu0 = m0[k] / w0[k];
        let mu1 = (total_m - m0[k]) / w1;
        let var = w0[k] * w1 * (mu0 - mu1) * (mu0 - mu1);
        if var > best.0 {
            best = (var, k);
        }
    }
    Ok(centre(best.1))
}

/// The threshold in mV that [`mask_from_field`] applies (`FixedMv` as given, else the
/// median or Otsu's value of `1000·field`).
///
/// ```
/// use mfn_core::network::{field_threshold_mv, MaskThreshold};
/// let field = [-0.07, -0.06, -0.05];
/// assert!((field_threshold_mv(&field, &MaskThreshold::AdaptiveMedian)? + 60.0).abs() < 1e-9);
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
pub fn field_threshold_mv(field: &[f64], threshold: &MaskThreshold) -> Result<f64> {
    check_values("field", field)?;
    let vmv: Vec<f64> = field.iter().map(|&v| v * 1000.0).collect();
    Ok(match *threshold {
        MaskThreshold::FixedMv(t) => t,
        MaskThreshold::AdaptiveMedian => median(&vmv),
        MaskThreshold::Otsu => otsu_threshold(&vmv)?,
    })
}

/// Binarise an `n×n` field in volts (row-major), then open, close and remove small
/// components as asked (step 1 of the module docs).
///
/// Errors: invalid options, `n = 0`, `field.len() ≠ n²`, a non-finite value.
///
/// ```
/// use mfn_core::network::{mask_from_field, MaskOptions};
/// let mut field = vec![-0.070; 9];
/// field[4] = -0.050;
/// let m = mask_from_field(&field, 3, &MaskOptions::default())?;
/// assert_eq!(m.count(), 1);
/// assert!(m.get(1, 1));
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
pub fn mask_from_field(field: &[f64], n: usize, opts: &MaskOptions) -> Result<Mask> {
    opts.validate()?;
    check_square(field, n)?;
    let bits: Vec<bool> = match opts.threshold {
        MaskThreshold::FixedMv(t) => {
            let t_v = t / 1000.0;
            field.iter().map(|&v| v > t_v).collect()
        }
        other => {
            let t = field_threshold_mv(field, &other)?;
            field.iter().map(|&v| v * 1000.0 > t).collect()
        }
    };
    Ok(postprocess(
        Mask {
            width: n,
            height: n,
            bits,
        },
        opts.opening,
        opts.closing,
        opts.min_component_px,
    ))
}

/// Binarise a `width×height` grey image (row-major, any units) by `g > level` or Otsu,
/// complemented when `invert`, then open, close and remove small components as asked.
///
/// Errors: invalid options, an empty image, `gray.len() ≠ width·height`, a non-finite
/// value.
///
/// ```
/// use mfn_core::network::{mask_from_gray, GrayMaskOptions};
/// // Bright hyphae (200) on a dark background (20), 8-bit units.
/// let gray: Vec<f64> = (0..20).map(|k| if k % 5 == 2 { 200.0 } else { 20.0 }).collect();
/// let m = mask_from_gray(&gray, 5, 4, &GrayMaskOptions::default())?;
/// assert_eq!(m.count(), 4);
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
pub fn mask_from_gray(
    gray: &[f64],
    width: usize,
    height: usize,
    opts: &GrayMaskOptions,
) -> Result<Mask> {
    opts.validate()?;
    if width == 0 || height == 0 {
        return Err(CoreError::invalid(
            "image",
            format!("{width}x{height} has no pixels"),
        ));
    }
    if width.checked_mul(height) != Some(gray.len()) {
        return Err(CoreError::invalid(
            "image",
            format!("{} values for a {width}x{height} image", gray.len()),
        ));
    }
    check_values("image", gray)?;
    let t = match opts.threshold {
        GrayThreshold::Level(l) => l,
        GrayThreshold::Otsu => otsu_threshold(gray)?,
    };
    let bits = gray.iter().map(|&g| (g > t) != opts.invert).collect();
    Ok(postprocess(
        Mask {
            width,
            height,
            bits,
        },
        opts.opening,
        opts.closing,
        opts.min_component_px,
    ))
}

/// Erosion by the 3×3 square: pixels whose whole 3×3 window is set (the outside is
/// background).
///
/// ```
/// use mfn_core::network::{erode, Mask};
/// let m = Mask::from_ascii("###.\n###.\n###.")?;
/// assert_eq!(erode(&m).to_ascii(), "....\n.#..\n....\n");
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
pub fn erode(mask: &Mask) -> Mask {
    morph(mask, true)
}

/// Dilation by the 3×3 square: pixels with any set pixel in their 3×3 window.
///
/// ```
/// use mfn_core::network::{dilate, Mask};
/// let m = Mask::from_ascii("....\n.#..\n....")?;
/// assert_eq!(dilate(&m).count(), 9);
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
pub fn dilate(mask: &Mask) -> Mask {
    morph(mask, false)
}

/// Opening (erosion, then dilation) by the 3×3 square: removes what a 3×3 square
/// cannot fit in.
pub fn opening(mask: &Mask) -> Mask {
    dilate(&erode(mask))
}

/// Closing (dilation, then erosion) by the 3×3 square: fills gaps a 3×3 square
/// cannot fit in.
///
/// ```
/// use mfn_core::network::{closing, Mask};
/// let m = Mask::from_ascii("###\n#.#\n###")?;
/// assert_eq!(closing(&m).count(), 9);
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
pub fn closing(mask: &Mask) -> Mask {
    let (w, h) = (mask.width, mask.height);
    if w == 0 || h == 0 {
        return mask.clone();
    }
    // Pad by one pixel so the dilation can spill over the border and the erosion sees it.
    let padded = Mask::from_fn(w + 2, h + 2, |x, y| {
        x >= 1 && y >= 1 && mask.get(x - 1, y - 1)
    });
    let c = erode(&dilate(&padded));
    Mask::from_fn(w, h, |x, y| c.get(x + 1, y + 1))
}

/// Remove the 8-connected components with fewer than `min_px` pixels.
///
/// ```
/// use mfn_core::network::{remove_small_components, Mask};
/// let m = Mask::from_ascii("#..##\n...##")?;
/// assert_eq!(remove_small_components(&m, 2).count(), 4);
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
pub fn remove_small_components(mask: &Mask, min_px: usize) -> Mask {
    let mut bits = mask.bits.clone();
    for comp in components8(mask) {
        if comp.len() < min_px {
            for k in comp {
                bits[k] = false;
            }
        }
    }
    mask.with_bits(bits)
}

fn postprocess(mut m: Mask, open: bool, close: bool, min_px: usize) -> Mask {
    if open {
        m = opening(&m);
    }
    if close {
        m = closing(&m);
    }
    if min_px > 1 {
        m = remove_small_components(&m, min_px);
    }
    m
}

fn morph(mask: &Mask, erosion: bool) -> Mask {
    let (w, h) = (mask.width as isize, mask.height as isize);
    let mut bits = Vec::with_capacity(mask.bits.len());
    for y in 0..h {
        for x in 0..w {
            let mut hit = erosion;
            'win: for dy in -1..=1 {
                for dx in -1..=1 {
                    let (xx, yy) = (x + dx, y + dy);
                    let inside = xx >= 0 && yy >= 0 && xx < w && yy < h;
                    let v = inside && mask.bits[(yy * w + xx) as usize];
                    if v != erosion {
                        hit = v;
                        break 'win;
                    }
                }
            }
            bits.push(hit);
        }
    }
    mask.with_bits(bits)
}

/// The 8-connected components of the set pixels, each a list of row-major indices, in
/// the order of their first pixel.
fn components8(mask: &Mask) -> Vec<Vec<usize>> {
    let (w, h) = (mask.width, mask.height);
    let mut seen = vec![false; mask.bits.len()];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for start in 0..mask.bits.len() {
        if !mask.bits[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let mut comp = Vec::new();
        while let Some(k) = stack.pop() {
            comp.push(k);
            for q in neighbours8(k, w, h) {
                if mask.bits[q] && !seen[q] {
                    seen[q] = true;
                    stack.push(q);
                }
            }
        }
        out.push(comp);
    }
    out
}

/// Row-major indices of the in-image 8-neighbours of `k`, in raster order.
fn neighbours8(k: usize, w: usize, h: usize) -> impl Iterator<Item = usize> {
    let (x, y) = ((k % w) as isize, (k / w) as isize);
    const D: [(isize, isize); 8] = [
        (-1, -1),
        (0, -1),
        (1, -1),
        (-1, 0),
        (1, 0),
        (-1, 1),
        (0, 1),
        (1, 1),
    ];
    D.iter().filter_map(move |&(dx, dy)| {
        let (xx, yy) = (x + dx, y + dy);
        (xx >= 0 && yy >= 0 && (xx as usize) < w && (yy as usize) < h)
            .then(|| yy as usize * w + xx as usize)
    })
}

fn check_values(name: &'static str, v: &[f64]) -> Result<()> {
    if v.is_empty() {
        return Err(CoreError::invalid(name, "needs at least one value"));
    }
    match v.iter().position(|x| !x.is_finite()) {
        Some(i) => Err(CoreError::invalid(
            name,
            format!("non-finite value at index {i}"),
        )),
        None => Ok(()),
    }
}

fn check_square(field: &[f64], n: usize) -> Result<()> {
    if n == 0 {
        return Err(CoreError::out_of_range("n", n, "must be >= 1"));
    }
    if n.checked_mul(n) != Some(field.len()) {
        return Err(CoreError::invalid(
            "field",
            format!(
                "{} values, expected n*n = {}",
                field.len(),
                n.saturating_mul(n)
            ),
        ));
    }
    check_values("field", field)
}

// ---------------------------------------------------------------------------------------
// Step 2: thinning.

/// Zhang–Suen thinning with the topology guard and the final sequential pass (step 2 of
/// the module docs). Never fails; an empty mask stays empty.
///
/// ```
/// use mfn_core::network::{thin, Mask};
/// let bar = Mask::from_fn(12, 5, |x, y| (1..11).contains(&x) && (1..4).contains(&y));
/// let s = thin(&bar);
/// assert!(s.count() < bar.count() && s.component_count() == 1);
/// assert_eq!(thin(&s), s);
/// ```
pub fn thin(mask: &Mask) -> Mask {
    let (w, h) = (mask.width, mask.height);
    if w == 0 || h == 0 || mask.bits.len() != w * h {
        return mask.clone();
    }
    // One pixel of background around the image so every pixel has 8 neighbours.
    let w2 = w + 2;
    let mut img = vec![0u8; w2 * (h + 2)];
    for y in 0..h {
        for x in 0..w {
            img[(y + 1) * w2 + x + 1] = u8::from(mask.bits[y * w + x]);
        }
    }
    let mut cand = Vec::new();
    loop {
        loop {
            let mut changed = false;
            for sub in 0..2 {
                cand.clear();
                for y in 1..=h {
                    for x in 1..=w {
                        let k = y * w2 + x;
                        if img[k] == 1 && zs_deletable(&ring(&img, w2, k), sub) {
                            cand.push(k);
                        }
                    }
                }
                for &k in &cand {
                    let p = ring(&img, w2, k);
                    if b_count(&p) >= 2 && a_count(&p) == 1 {
                        img[k] = 0;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        if !final_pass(&mut img, w, h) {
            break;
        }
    }
    let mut bits = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            bits.push(img[(y + 1) * w2 + x + 1] == 1);
        }
    }
    mask.with_bits(bits)
}

/// `[P2, P3, P4, P5, P6, P7, P8, P9]` = N, NE, E, SE, S, SW, W, NW.
fn ring(img: &[u8], w2: usize, k: usize) -> [u8; 8] {
    [
        img[k - w2],
        img[k - w2 + 1],
        img[k + 1],
        img[k + w2 + 1],
        img[k + w2],
        img[k + w2 - 1],
        img[k - 1],
        img[k - w2 - 1],
    ]
}

fn b_count(p: &[u8; 8]) -> u8 {
    p.iter().sum()
}

fn a_count(p: &[u8; 8]) -> u8 {
    (0..8)
        .map(|i| u8::from(p[i] == 0 && p[(i + 1) % 8] == 1))
        .sum()
}

fn zs_deletable(p: &[u8; 8], sub: usize) -> bool {
    let b = b_count(p);
    if !(2..=6).contains(&b) || a_count(p) != 1 {
        return false;
    }
    let (p2, p4, p6, p8) = (p[0], p[2], p[4], p[6]);
    if sub == 0 {
        p2 * p4 * p6 == 0 && p4 * p6 * p8 == 0
    } else {
        p2 * p4 * p8 == 0 && p2 * p6 * p8 == 0
    }
}

/// Number of 8-connected groups among the set ring neighbours. A corner between two set
/// edge neighbours joins nothing new (the edges touch), so it is filled in before the
/// cyclic runs are counted.
fn groups8(p: &[u8; 8]) -> u8 {
    let mut q = *p;
    for i in [1, 3, 5, 7] {
        if p[i - 1] == 1 && p[(i + 1) % 8] == 1 {
            q[i] = 1;
        }
    }
    if q.iter().all(|&v| v == 1) {
        return 1;
    }
    a_count(&q)
}

/// The final sequential pass; true if it deleted anything.
fn final_pass(img: &mut [u8], w: usize, h: usize) -> bool {
    let w2 = w + 2;
    let mut changed = false;
    for y in 1..=h {
        for x in 1..=w {
            let k = y * w2 + x;
            if img[k] == 0 {
                continue;
            }
            let p = ring(img, w2, k);
            let (vert, horiz) = (p[0] + p[4], p[2] + p[6]);
            let one_group = groups8(&p) == 1;
            let corner = vert == 1 && horiz == 1 && one_group;
            // A 2×2 block through k: quadrant (edge i, corner i+1, edge i+2).
            let in_block = [0usize, 2, 4, 6]
                .iter()
                .any(|&i| p[i] == 1 && p[i + 1] == 1 && p[(i + 2) % 8] == 1);
            let simple = one_group && vert + horiz < 4 && b_count(&p) >= 2;
            if corner || (in_block && simple) {
                img[k] = 0;
                changed = true;
            }
        }
    }
    changed
}

// ---------------------------------------------------------------------------------------
// Step 3: skeleton → graph.

/// A point of an edge's polyline: a chain pixel, or a node dissolved into the edge.
#[derive(Debug, Clone, Copy)]
struct Stop {
    x: f64,
    y: f64,
    /// Skeleton pixels it stands for.
    w: usize,
    /// Its first pixel (row-major index), for ordering.
    first: usize,
}

#[derive(Debug)]
struct BNode {
    stop: Stop,
    alive: bool,
    /// Incident edges; a self-loop appears twice.
    edges: Vec<usize>,
}

#[derive(Debug)]
struct BEdge {
    u: usize,
    v: usize,
    /// Interior points from `u` to `v`.
    stops: Vec<Stop>,
    key: (usize, usize),
    alive: bool,
}

struct Builder {
    nodes: Vec<BNode>,
    edges: Vec<BEdge>,
    cycles: Vec<(Vec<Stop>, (usize, usize))>,
    sub: usize,
}

/// The graph of a skeleton (step 3 of the module docs). Any mask is accepted (thick
/// blobs give junction clusters); never panics.
///
/// ```
/// use mfn_core::network::{skeleton_graph, GraphOptions, Mask, NodeKind};
/// let line = Mask::from_ascii("......\n.####.\n......")?;
/// let g = skeleton_graph(&line, &GraphOptions::default());
/// assert_eq!(g.nodes.len(), 2);
/// assert!(g.nodes.iter().all(|n| n.kind == NodeKind::Tip));
/// assert_eq!((g.edges[0].length, g.edges[0].pixels), (3.0, 4));
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
pub fn skeleton_graph(skel: &Mask, opts: &GraphOptions) -> SkeletonGraph {
    let (w, h) = (skel.width, skel.height);
    let empty = SkeletonGraph {
        width: w,
        height: h,
        nodes: Vec::new(),
        edges: Vec::new(),
    };
    if w == 0 || h == 0 || skel.bits.len() != w * h {
        return empty;
    }
    let mut b = Builder::trace(skel);
    b.prune(opts.min_branch_px as f64);
    b.merge_degree2();
    b.make_simple();
    b.finish(w, h)
}

fn pixel_stop(k: usize, w: usize) -> Stop {
    Stop {
        x: (k % w) as f64,
        y: (k / w) as f64,
        w: 1,
        first: k,
    }
}

fn dist(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (a.0 - b.0, a.1 - b.1);
    (dx * dx + dy * dy).sqrt()
}

impl Builder {
    /// Classify pixels, cluster junctions, trace chains and loops.
    fn trace(skel: &Mask) -> Builder {
        let (w, h) = (skel.width, skel.height);
        let set = &skel.bits;
        let deg: Vec<usize> = (0..set.len())
            .map(|k| {
                if set[k] {
                    neighbours8(k, w, h).filter(|&q| set[q]).count()
                } else {
                    0
                }
            })
            .collect();
        let is_chain = |k: usize| set[k] && deg[k] == 2;

        // Nodes in raster order of their first pixel.
        let mut node_of: Vec<Option<usize>> = vec![None; set.len()];
        let mut node_pixels: Vec<Vec<usize>> = Vec::new();
        let mut nodes = Vec::new();
        for k in 0..set.len() {
            if !set[k] || deg[k] == 2 || node_of[k].is_some() {
                continue;
            }
            let id = nodes.len();
            let mut px = vec![k];
            node_of[k] = Some(id);
            if deg[k] >= 3 {
                let mut i = 0;
                while i < px.len() {
                    let p = px[i];
                    for q in neighbours8(p, w, h) {
                        if set[q] && deg[q] >= 3 && node_of[q].is_none() {
                            node_of[q] = Some(id);
                            px.push(q);
                        }
                    }
                    i += 1;
                }
                px.sort_unstable();
            }
            let n = px.len() as f64;
            let x = px.iter().map(|&p| (p % w) as f64).sum::<f64>() / n;
            let y = px.iter().map(|&p| (p / w) as f64).sum::<f64>() / n;
            nodes.push(BNode {
                stop: Stop {
                    x,
                    y,
                    w: px.len(),
                    first: k,
                },
                alive: true,
                edges: Vec::new(),
            });
            node_pixels.push(px);
        }

        let mut b = Builder {
            nodes,
            edges: Vec::new(),
            cycles: Vec::new(),
            sub: 1,
        };
        let mut visited = vec![false; set.len()];
        let mut seq = 0;
        for (id, pixels) in node_pixels.iter().enumerate() {
            for &p in pixels {
                for q in neighbours8(p, w, h) {
                    if !set[q] {
                        continue;
                    }
                    if let Some(m) = node_of[q] {
                        // Two node pixels side by side (a tip next to a node).
                        if m > id {
                            b.add_edge(id, m, Vec::new(), (seq, 0));
                            seq += 1;
                        }
                        continue;
                    }
                    if visited[q] {
                        continue;
                    }
                    // Walk the chain from q until a node pixel.
                    let mut stops = Vec::new();
                    let (mut prev, mut cur) = (p, q);
                    let end = loop {
                        visited[cur] = true;
                        stops.push(pixel_stop(cur, w));
                        let next = neighbours8(cur, w, h).find(|&r| set[r] && r != prev);
                        match next {
                            Some(r) if node_of[r].is_some() => break node_of[r],
                            Some(r) if is_chain(r) && !visited[r] => {
                                prev = cur;
                                cur = r;
                            }
                            // Unreachable for a chain pixel (exactly two neighbours);
                            // end the edge where it began rather than panic.
                            _ => break Some(id),
                        }
                    };
                    let m = end.unwrap_or(id);
                    b.add_edge(id, m, stops, (seq, 0));
                    seq += 1;
                }
            }
        }
        // Chains that met no node are closed loops.
        for k in 0..set.len() {
            if !is_chain(k) || visited[k] {
                continue;
            }
            let mut stops = vec![pixel_stop(k, w)];
            visited[k] = true;
            let (mut prev, mut cur) = (k, neighbours8(k, w, h).find(|&r| set[r]));
            while let Some(c) = cur {
                if c == k || visited[c] {
                    break;
                }
                visited[c] = true;
                stops.push(pixel_stop(c, w));
                let next = neighbours8(c, w, h).find(|&r| set[r] && r != prev);
                prev = c;
                cur = next;
            }
            b.cycles.push((stops, (seq, 0)));
            seq += 1;
        }
        b.absorb_small_loops();
        b
    }

    fn add_edge(&mut self, u: usize, v: usize, stops: Vec<Stop>, key: (usize, usize)) -> usize {
        let e = self.edges.len();
        self.edges.push(BEdge {
            u,
            v,
            stops,
            key,
            alive: true,
        });
        self.nodes[u].edges.push(e);
        self.nodes[v].edges.push(e);
        e
    }

    fn add_node(&mut self, stop: Stop) -> usize {
        self.nodes.push(BNode {
            stop,
            alive: true,
            edges: Vec::new(),
        });
        self.nodes.len() - 1
    }

    fn next_key(&mut self, base: (usize, usize)) -> (usize, usize) {
        self.sub += 1;
        (base.0, self.sub)
    }

    fn kill_edge(&mut self, e: usize) {
        self.edges[e].alive = false;
        let (u, v) = (self.edges[e].u, self.edges[e].v);
        self.nodes[u].edges.retain(|&x| x != e);
        self.nodes[v].edges.retain(|&x| x != e);
    }

    fn length(&self, e: usize) -> f64 {
        let ed = &self.edges[e];
        let a = &self.nodes[ed.u].stop;
        let b = &self.nodes[ed.v].stop;
        let mut len = 0.0;
        let mut prev = (a.x, a.y);
        for s in &ed.stops {
            len += dist(prev, (s.x, s.y));
            prev = (s.x, s.y);
        }
        len + dist(prev, (b.x, b.y))
    }

    /// A loop of at most one pixel from a node back to itself is a pinhole in the node.
    fn absorb_small_loops(&mut self) {
        for e in 0..self.edges.len() {
            let ed = &self.edges[e];
            if ed.alive && ed.u == ed.v && ed.stops.len() <= 1 {
                let w: usize = ed.stops.iter().map(|s| s.w).sum();
                let u = ed.u;
                self.kill_edge(e);
                self.nodes[u].stop.w += w;
            }
        }
    }

    /// Remove tip–junction edges shorter than `min_len` (one pass; a node keeps its
    /// longest spur when all its edges are spurs).
    fn prune(&mut self, min_len: f64) {
        if min_len <= 0.0 {
            return;
        }
        let deg: Vec<usize> = self.nodes.iter().map(|n| n.edges.len()).collect();
        // Spurs by junction.
        let mut spurs: BTreeMap<usize, Vec<(usize, usize, f64)>> = BTreeMap::new();
        for e in 0..self.edges.len() {
            let ed = &self.edges[e];
            if !ed.alive || ed.u == ed.v {
                continue;
            }
            let (tip, junction) = match (deg[ed.u], deg[ed.v]) {
                (1, d) if d >= 3 => (ed.u, ed.v),
                (d, 1) if d >= 3 => (ed.v, ed.u),
                _ => continue,
            };
            let len = self.length(e);
            if len < min_len {
                spurs.entry(junction).or_default().push((e, tip, len));
            }
        }
        for (junction, mut list) in spurs {
            if list.len() == deg[junction] {
                // Keep the longest (the first of equals).
                let mut best = 0;
                for (i, s) in list.iter().enumerate() {
                    if s.2 > list[best].2 {
                        best = i;
                    }
                }
                list.remove(best);
            }
            for (e, tip, _) in list {
                self.kill_edge(e);
                self.nodes[tip].alive = false;
            }
        }
    }

    /// Dissolve every degree-2 node into its edges.
    fn merge_degree2(&mut self) {
        for m in 0..self.nodes.len() {
            if !self.nodes[m].alive || self.nodes[m].edges.len() != 2 {
                continue;
            }
            let (e1, e2) = (self.nodes[m].edges[0], self.nodes[m].edges[1]);
            let mstop = self.nodes[m].stop;
            self.nodes[m].alive = false;
            self.nodes[m].edges.clear();
            if e1 == e2 {
                // A loop through m alone: a closed loop without nodes.
                let ed = &mut self.edges[e1];
                ed.alive = false;
                let mut stops = vec![mstop];
                stops.append(&mut ed.stops);
                let key = ed.key;
                self.cycles.push((stops, key));
                continue;
            }
            if self.edges[e1].v != m {
                self.reverse(e1);
            }
            if self.edges[e2].u != m {
                self.reverse(e2);
            }
            let mut tail = std::mem::take(&mut self.edges[e2].stops);
            let (b, key2) = (self.edges[e2].v, self.edges[e2].key);
            self.edges[e2].alive = false;
            let ed = &mut self.edges[e1];
            ed.stops.push(mstop);
            ed.stops.append(&mut tail);
            ed.v = b;
            ed.key = ed.key.min(key2);
            // b now meets e1 instead of e2 (once, even if b is e1's other end too).
            if let Some(slot) = self.nodes[b].edges.iter_mut().find(|x| **x == e2) {
                *slot = e1;
            }
        }
    }

    fn reverse(&mut self, e: usize) {
        let ed = &mut self.edges[e];
        std::mem::swap(&mut ed.u, &mut ed.v);
        ed.stops.reverse();
    }

    /// Nodes on loops and on one of two parallel edges, so no self-loop or parallel
    /// edge is left.
    fn make_simple(&mut self) {
        // Closed loops: three nodes at equal spacing from the first pixel.
        let mut cycles = std::mem::take(&mut self.cycles);
        cycles.sort_by_key(|c| c.1);
        for (mut stops, key) in cycles {
            if let Some(r) = (0..stops.len()).min_by_key(|&i| stops[i].first) {
                stops.rotate_left(r);
            }
            let m = stops.len();
            if m == 0 {
                continue;
            }
            let n0 = self.add_node(stops[0]);
            self.split_loop(n0, &stops[1..], key, true);
        }
        // Self-loops at a node.
        for e in 0..self.edges.len() {
            let ed = &self.edges[e];
            if !ed.alive || ed.u != ed.v {
                continue;
            }
            if ed.stops.len() <= 1 {
                continue; // absorbed before; unreachable
            }
            let (u, key) = (ed.u, ed.key);
            let stops = std::mem::take(&mut self.edges[e].stops);
            self.kill_edge(e);
            self.split_loop(u, &stops, key, false);
        }
        // Parallel edges, in discovery order.
        let mut order: Vec<usize> = (0..self.edges.len())
            .filter(|&e| self.edges[e].alive)
            .collect();
        order.sort_by_key(|&e| self.edges[e].key);
        let mut seen = std::collections::BTreeSet::new();
        for e in order {
            let (u, v) = (self.edges[e].u, self.edges[e].v);
            if u == v {
                // A tiny loop that survived: fold into the node.
                let w: usize = self.edges[e].stops.iter().map(|s| s.w).sum();
                self.kill_edge(e);
                self.nodes[u].stop.w += w;
                continue;
            }
            if seen.insert((u.min(v), u.max(v))) {
                continue;
            }
            let stops = std::mem::take(&mut self.edges[e].stops);
            let key = self.edges[e].key;
            self.kill_edge(e);
            if stops.is_empty() {
                continue;
            }
            let i = stops.len() / 2;
            let mid = self.add_node(stops[i]);
            self.add_edge(u, mid, stops[..i].to_vec(), key);
            let k2 = self.next_key(key);
            self.add_edge(mid, v, stops[i + 1..].to_vec(), k2);
        }
    }

    /// Close the loop `anchor → stops… → anchor` with two more nodes, at a third and two
    /// thirds of its points (the anchor being point 0).
    fn split_loop(&mut self, anchor: usize, stops: &[Stop], key: (usize, usize), fresh: bool) {
        let m = stops.len() + 1;
        match m {
            1 => {}
            2 => {
                // Two points only (not produced by 8-connected chains): one edge.
                let n1 = self.add_node(stops[0]);
                self.add_edge(anchor, n1, Vec::new(), key);
            }
            _ => {
                let (i1, i2) = (m / 3, 2 * m / 3);
                let n1 = self.add_node(stops[i1 - 1]);
                let n2 = self.add_node(stops[i2 - 1]);
                let k0 = if fresh { key } else { self.next_key(key) };
                self.add_edge(anchor, n1, stops[..i1 - 1].to_vec(), k0);
                let k1 = self.next_key(key);
                self.add_edge(n1, n2, stops[i1..i2 - 1].to_vec(), k1);
                let k2 = self.next_key(key);
                self.add_edge(n2, anchor, stops[i2..].to_vec(), k2);
            }
        }
    }

    fn finish(self, w: usize, h: usize) -> SkeletonGraph {
        let mut alive: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].alive)
            .collect();
        alive.sort_by_key(|&i| self.nodes[i].stop.first);
        let mut index = vec![usize::MAX; self.nodes.len()];
        for (new, &old) in alive.iter().enumerate() {
            index[old] = new;
        }
        let nodes: Vec<SkelNode> = alive
            .iter()
            .map(|&i| {
                let n = &self.nodes[i];
                SkelNode {
                    x: n.stop.x,
                    y: n.stop.y,
                    kind: match n.edges.len() {
                        0 => NodeKind::Isolated,
                        1 => NodeKind::Tip,
                        2 => NodeKind::Chain,
                        _ => NodeKind::Junction,
                    },
                    pixels: n.stop.w,
                }
            })
            .collect();
        let mut es: Vec<usize> = (0..self.edges.len())
            .filter(|&e| self.edges[e].alive)
            .collect();
        es.sort_by_key(|&e| self.edges[e].key);
        let edges = es
            .into_iter()
            .map(|e| {
                let ed = &self.edges[e];
                let (mut u, mut v) = (index[ed.u], index[ed.v]);
                if u > v {
                    std::mem::swap(&mut u, &mut v);
                }
                SkelEdge {
                    u,
                    v,
                    length: self.length(e),
                    pixels: ed.stops.iter().map(|s| s.w).sum::<usize>() + 2,
                    start: (nodes[u].x, nodes[u].y),
                    end: (nodes[v].x, nodes[v].y),
                }
            })
            .collect();
        SkeletonGraph {
            width: w,
            height: h,
            nodes,
            edges,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Step 4 and the whole pipeline.

/// Box-counting dimension of a skeleton (or any mask), padded with background to a
/// square of side `max(width, height)`, with [`crate::fractal::box_count`]'s default
/// sizes. Errors on an empty (0-pixel) image.
///
/// ```
/// use mfn_core::network::{box_dimension, Mask};
/// let line = Mask::from_fn(64, 64, |_, y| y == 31);
/// assert!((box_dimension(&line)? - 1.0).abs() < 0.02);
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
pub fn box_dimension(skel: &Mask) -> Result<f64> {
    let n = skel.width.max(skel.height);
    if skel.width == 0 || skel.height == 0 || skel.bits.len() != skel.width * skel.height {
        return Err(CoreError::invalid("mask", "has no pixels"));
    }
    let mut sq = vec![false; n * n];
    for y in 0..skel.height {
        for x in 0..skel.width {
            sq[y * n + x] = skel.bits[y * skel.width + x];
        }
    }
    Ok(box_count(&sq, n, &BoxCountParams::default())?.dimension)
}

/// Mask, skeleton and graph of an `n×n` field in volts (steps 1–3).
///
/// Errors: as [`mask_from_field`], and `min_branch_px > 2^24`.
///
/// ```
/// use mfn_core::network::{extract, ExtractOptions, NodeKind};
/// let n = 16;
/// // A horizontal stripe three cells thick at −50 mV on a −70 mV background.
/// let field: Vec<f64> = (0..n * n)
///     .map(|k| if (7..10).contains(&(k / n)) && (2..14).contains(&(k % n)) { -0.05 } else { -0.07 })
///     .collect();
/// let x = extract(&field, n, &ExtractOptions::default())?;
/// assert_eq!(x.mask.count(), 36);
/// assert_eq!(x.graph.edges.len(), 1);
/// assert!(x.graph.nodes.iter().all(|v| v.kind == NodeKind::Tip));
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
pub fn extract(field: &[f64], n: usize, opts: &ExtractOptions) -> Result<Extraction> {
    opts.validate()?;
    let mask = mask_from_field(field, n, &opts.mask)?;
    let threshold_mv = field_threshold_mv(field, &opts.mask.threshold)?;
    let skeleton = thin(&mask);
    let graph = skeleton_graph(&skeleton, &opts.graph);
    Ok(Extraction {
        threshold_mv,
        mask,
        skeleton,
        graph,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ring positions as (dx, dy), in the order of [`ring`].
    const POS: [(i32, i32); 8] = [
        (0, -1),
        (1, -1),
        (1, 0),
        (1, 1),
        (0, 1),
        (-1, 1),
        (-1, 0),
        (-1, -1),
    ];

    fn pattern(bits: u8) -> [u8; 8] {
        std::array::from_fn(|i| (bits >> i) & 1)
    }

    /// 8-connected groups among the set ring pixels, by search.
    fn groups_by_search(p: &[u8; 8]) -> u8 {
        let mut group = [u8::MAX; 8];
        let mut n = 0;
        for s in 0..8 {
            if p[s] == 0 || group[s] != u8::MAX {
                continue;
            }
            let mut stack = vec![s];
            group[s] = n;
            while let Some(i) = stack.pop() {
                for j in 0..8 {
                    let (a, b) = (POS[i], POS[j]);
                    if p[j] == 1
                        && group[j] == u8::MAX
                        && (a.0 - b.0).abs() <= 1
                        && (a.1 - b.1).abs() <= 1
                    {
                        group[j] = n;
                        stack.push(j);
                    }
                }
            }
            n += 1;
        }
        n
    }

    #[test]
    fn groups8_matches_a_search_on_all_256_neighbourhoods() {
        for bits in 0..=255u8 {
            let p = pattern(bits);
            assert_eq!(groups8(&p), groups_by_search(&p), "pattern {bits:08b}");
        }
    }

    #[test]
    fn zhang_suen_candidates_are_simple() {
        // A = 1 and 2 ≤ B ≤ 6 ⇒ one 8-group of set neighbours and a background
        // 4-neighbour: deleting such a pixel never changes the topology.
        for bits in 0..=255u8 {
            let p = pattern(bits);
            for sub in 0..2 {
                if zs_deletable(&p, sub) {
                    assert_eq!(groups_by_search(&p), 1, "{bits:08b}");
                    assert!(p[0] + p[2] + p[4] + p[6] < 4, "{bits:08b}");
                }
            }
        }
    }

    #[test]
    fn parallel_zhang_suen_alone_would_delete_a_2x2_block() {
        // Every pixel of an isolated 2×2 block is a sub-iteration-1 candidate; the guard
        // keeps two of them.
        let m = Mask::from_ascii("....\n.##.\n.##.\n....").unwrap();
        let s = thin(&m);
        assert_eq!(s.count(), 2);
        assert_eq!(s.component_count(), 1);
    }

    #[test]
    fn empty_and_degenerate_inputs() {
        assert_eq!(thin(&Mask::empty(0, 0)), Mask::empty(0, 0));
        let g = skeleton_graph(&Mask::empty(5, 3), &GraphOptions::default());
        assert!(g.nodes.is_empty() && g.edges.is_empty());
        let one = Mask::from_ascii("#").unwrap();
        let g = skeleton_graph(&thin(&one), &GraphOptions::default());
        assert_eq!(g.nodes.len(), 1);
        assert_eq!(g.nodes[0].kind, NodeKind::Isolated);
    }
}
