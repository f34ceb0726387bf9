//! Box-counting fractal dimension of a binary mask.
//!
//! A set that needs `N(s) ∝ s^(−D)` boxes of side `s` to cover it has box-counting
//! (Minkowski–Bouligand) dimension `D` (Mandelbrot, *The Fractal Geometry of Nature*,
//! 1982; Falconer, *Fractal Geometry*, 3rd ed., §3.1). On a finite `N×N` grid we count,
//! for a handful of box sizes `s`, how many boxes of an `s×s` tiling hold at least one
//! true cell, and fit a line
//!
//! ```text
//! ln N(s) = D · ln(1/s) + c          (least squares; R² reported as a fit quality)
//! ```
//!
//! # Box sizes
//! The sizes reproduce the Python reference bit for bit, including its quirks:
//!
//! ```text
//! max_box = min(min_box · 2^(num_scales−1), N/2 if N ≥ 4 else N)     (integer), raised
//!           to min_box if smaller — or the given value (which must be ≥ min_box)
//! y_i     = i · step + log10(min_box),  step = (log10 max_box − log10 min_box)/(k − 1)
//! g_i     = 10^y_i, with g_0 = min_box and g_(k−1) = max_box exactly   (np.geomspace)
//! sizes   = unique(truncate(g))                                        (sorted, deduped)
//! ```
//!
//! Truncation (not rounding) means `10^0.90309 = 7.999999999999999` becomes 7, so the
//! default sizes are `[2, 4, 7, 16, 32]` for `N ≥ 64`, `[2, 3, 5, 9, 16]` for `N = 32`,
//! `[2, 3, 5, 8]` for `N = 16` and `[2, 3, 4]` for `N = 8`.
//!
//! # Counting
//! For each size `s` the mask is cropped to its top-left `⌊N/s⌋·s` square and tiled
//! into `⌊N/s⌋²` boxes; `N(s)` is the number of boxes with any true cell. Sizes with
//! `N(s) = 0` are left out of the fit; with fewer than two sizes left the dimension and
//! R² are 0. A filled square gives 2, a straight line 1, a Sierpinski carpet
//! `ln 8 / ln 3 ≈ 1.893` (given box sizes that are powers of 3).
//!
//! ```
//! use mfn_core::fractal::{box_count, BoxCountParams};
//! let n = 64;
//! let filled = vec![true; n * n];
//! let r = box_count(&filled, n, &BoxCountParams::default())?;
//! assert_eq!(r.box_sizes, vec![2, 4, 7, 16, 32]);
//! assert!((r.dimension - 2.0).abs() < 0.02);
//! # Ok::<(), mfn_core::CoreError>(())
//! ```

use crate::error::{CoreError, Result, check_range_usize};
use crate::field::V_THRESHOLD_ACTIVE;
use crate::stats;

/// Parameters of the box-counting estimate.
///
/// ```
/// let p = mfn_core::fractal::BoxCountParams::default();
/// assert_eq!((p.min_box, p.max_box, p.num_scales), (2, None, 5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoxCountParams {
    /// Smallest box side in cells, `≥ 1` (default 2).
    pub min_box: usize,
    /// Largest box side; `None` = `min(min_box·2^(num_scales−1), N/2)` (see module docs).
    pub max_box: Option<usize>,
    /// Number of geometrically spaced sizes before truncation and de-duplication, in
    /// `[2, 64]` (default 5).
    pub num_scales: usize,
}

impl Default for BoxCountParams {
    fn default() -> Self {
        BoxCountParams {
            min_box: 2,
            max_box: None,
            num_scales: 5,
        }
    }
}

/// Outcome of a box count.
///
/// `box_sizes` and `counts` are parallel and list every size tried, including sizes
/// that found no occupied box (`count = 0`); only the positive counts enter the fit.
///
/// ```
/// use mfn_core::fractal::{box_count, BoxCountParams};
/// let r = box_count(&vec![false; 16], 4, &BoxCountParams::default())?;
/// assert_eq!((r.dimension, r.r_squared), (0.0, 0.0));
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FractalResult {
    /// Box-counting dimension `D` (slope of `ln N(s)` against `ln(1/s)`).
    pub dimension: f64,
    /// Coefficient of determination of that fit (0 if fewer than two sizes were used
    /// or the counts are all equal).
    pub r_squared: f64,
    /// Box sizes tried, ascending.
    pub box_sizes: Vec<usize>,
    /// Number of occupied boxes at each size.
    pub counts: Vec<u64>,
}

/// The box sizes [`box_count`] uses for an `n×n` mask (see the module docs).
///
/// ```
/// use mfn_core::fractal::{box_sizes, BoxCountParams};
/// let p = BoxCountParams::default();
/// assert_eq!(box_sizes(64, &p)?, vec![2, 4, 7, 16, 32]);
/// assert_eq!(box_sizes(32, &p)?, vec![2, 3, 5, 9, 16]);
/// assert_eq!(box_sizes(16, &p)?, vec![2, 3, 5, 8]);
/// assert_eq!(box_sizes(8, &p)?, vec![2, 3, 4]);
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
pub fn box_sizes(n: usize, params: &BoxCountParams) -> Result<Vec<usize>> {
    if n < 1 {
        return Err(CoreError::out_of_range("n", n, "must be >= 1"));
    }
    if params.min_box < 1 {
        return Err(CoreError::out_of_range(
            "min_box",
            params.min_box,
            "must be >= 1",
        ));
    }
    check_range_usize("num_scales", params.num_scales, 2, 64)?;
    let max_box = match params.max_box {
        Some(m) if m < params.min_box => {
            return Err(CoreError::out_of_range(
                "max_box",
                m,
                format!("must be >= min_box = {}", params.min_box),
            ));
        }
        Some(m) => m,
        // As the reference: a default below min_box (tiny grids) is raised to min_box.
        None => default_max_box(n, params.min_box, params.num_scales).max(params.min_box),
    };
    let mut sizes: Vec<usize> = geomspace(params.min_box as f64, max_box as f64, params.num_scales)
        .into_iter()
        // Truncation toward zero, as NumPy's `astype(int)`; `as` saturates.
        .map(|g| g as usize)
        .filter(|&s| s >= 1)
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    Ok(sizes)
}

/// Box-counting dimension of a square `n×n` row-major mask with the sizes of
/// [`box_sizes`].
///
/// Errors: `mask` length ≠ `n²`, `n = 0`, `min_box = 0`, `num_scales` outside
/// `[2, 64]`, a given `max_box < min_box`.
///
/// ```
/// use mfn_core::fractal::{box_count, BoxCountParams};
/// let n = 64;
/// // A horizontal line through the middle.
/// let mask: Vec<bool> = (0..n * n).map(|k| k / n == 31).collect();
/// let r = box_count(&mask, n, &BoxCountParams::default())?;
/// assert!((r.dimension - 1.0).abs() < 0.02);
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
pub fn box_count(mask: &[bool], n: usize, params: &BoxCountParams) -> Result<FractalResult> {
    check_mask(mask, n)?;
    let sizes = box_sizes(n, params)?;
    Ok(count_and_fit(mask, n, sizes))
}

/// Box-counting dimension with explicitly chosen box sizes (sorted and de-duplicated
/// before use), e.g. powers of 3 for a Sierpinski carpet.
///
/// ```
/// use mfn_core::fractal::box_count_sizes;
/// let n = 27;
/// let r = box_count_sizes(&vec![true; n * n], n, &[1, 3, 9])?;
/// assert!((r.dimension - 2.0).abs() < 1e-12);
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
pub fn box_count_sizes(mask: &[bool], n: usize, sizes: &[usize]) -> Result<FractalResult> {
    check_mask(mask, n)?;
    if sizes.is_empty() {
        return Err(CoreError::invalid(
            "sizes",
            "at least one box size is required",
        ));
    }
    if let Some(i) = sizes.iter().position(|&s| s == 0) {
        return Err(CoreError::invalid(
            "sizes",
            format!("box size at index {i} is 0; sizes must be >= 1"),
        ));
    }
    let mut sizes = sizes.to_vec();
    sizes.sort_unstable();
    sizes.dedup();
    Ok(count_and_fit(mask, n, sizes))
}

/// Box-counting dimension of a field in volts, binarised as `V > −0.060` (strict), with
/// the default parameters; 0 when the field is not `n×n` or too small to count.
///
/// ```
/// let n = 64;
/// let quiet = vec![-0.070; n * n];
/// assert_eq!(mfn_core::fractal::field_fractal_dimension(&quiet, n), 0.0);
/// let active = vec![-0.050; n * n];
/// assert!((mfn_core::fractal::field_fractal_dimension(&active, n) - 2.0).abs() < 0.02);
/// ```
pub fn field_fractal_dimension<S: stats::Seq + ?Sized>(field_v: &S, n: usize) -> f64 {
    let mut mask = vec![false; field_v.len()];
    let mut at = 0;
    field_v.pieces(0, field_v.len(), |b| {
        for (m, &v) in mask[at..at + b.len()].iter_mut().zip(b) {
            *m = v > V_THRESHOLD_ACTIVE;
        }
        at += b.len();
    });
    box_count(&mask, n, &BoxCountParams::default())
        .map(|r| r.dimension)
        .unwrap_or(0.0)
}

fn default_max_box(n: usize, min_box: usize, num_scales: usize) -> usize {
    let cap = if n >= 4 { n / 2 } else { n };
    // min_box · 2^(num_scales − 1) can exceed usize; u128 holds it for num_scales ≤ 64.
    let grown = (min_box as u128) << (num_scales - 1);
    grown.min(cap as u128) as usize
}

/// `np.geomspace(a, b, k)` for `0 < a ≤ b`, `k ≥ 2`: `10^linspace(log10 a, log10 b, k)`
/// with the endpoints replaced by `a` and `b`.
fn geomspace(a: f64, b: f64, k: usize) -> Vec<f64> {
    let start = a.log10();
    let stop = b.log10();
    let div = (k - 1) as f64;
    let step = (stop - start) / div;
    let mut out: Vec<f64> = (0..k)
        .map(|i| {
            // np.linspace: arange(k)·step + start, last element = stop.
            let y = if i == k - 1 {
                stop
            } else {
                i as f64 * step + start
            };
            10f64.powf(y)
        })
        .collect();
    out[0] = a;
    out[k - 1] = b;
    out
}

fn check_mask(mask: &[bool], n: usize) -> Result<()> {
    if n < 1 {
        return Err(CoreError::out_of_range("n", n, "must be >= 1"));
    }
    match n.checked_mul(n) {
        Some(nn) if nn == mask.len() => Ok(()),
        _ => Err(CoreError::invalid(
            "mask",
            format!("length {} is not n*n for n = {n}", mask.len()),
        )),
    }
}

/// Number of `s×s` boxes of the `⌊n/s⌋·s` crop holding at least one true cell: per
/// band of `s` rows, the rows are OR-ed column by column (a byte loop LLVM vectorises),
/// then each box is one search of `s` bytes — O(n²) per size whatever the density.
fn occupied_boxes(mask: &[bool], n: usize, s: usize) -> u64 {
    let m = n / s;
    let mut any = vec![false; m * s];
    let mut count = 0;
    for band in mask.chunks_exact(n * s).take(m) {
        any.fill(false);
        for row in band.chunks_exact(n) {
            for (a, &b) in any.iter_mut().zip(row) {
                *a |= b;
            }
        }
        count += any.chunks_exact(s).filter(|c| any_true(c)).count() as u64;
    }
    count
}

/// Whether any cell is set (an OR fold, which vectorises; `contains` on a bool slice
/// is a byte-by-byte loop).
fn any_true(mask: &[bool]) -> bool {
    mask.chunks(256)
        .any(|c| c.iter().fold(false, |acc, &b| acc | b))
}

fn count_and_fit(mask: &[bool], n: usize, sizes: Vec<usize>) -> FractalResult {
    // An empty mask (a quiet field) occupies no box at any size.
    let counts: Vec<u64> = if any_true(mask) {
        sizes.iter().map(|&s| occupied_boxes(mask, n, s)).collect()
    } else {
        vec![0; sizes.len()]
    };
    let (xs, ys): (Vec<f64>, Vec<f64>) = sizes
        .iter()
        .zip(&counts)
        .filter(|&(_, &c)| c > 0)
        .map(|(&s, &c)| ((1.0 / s as f64).ln(), (c as f64).ln()))
        .unzip();
    let (dimension, r_squared) = match stats::linear_fit(&xs, &ys) {
        // R² of a least-squares line with intercept is in [0, 1]; clamp rounding.
        Some((slope, _, r2)) => (slope, r2.clamp(0.0, 1.0)),
        None => (0.0, 0.0),
    };
    FractalResult {
        dimension,
        r_squared,
        box_sizes: sizes,
        counts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geomspace_endpoints_are_exact() {
        let g = geomspace(3.0, 17.0, 6);
        assert_eq!(g[0], 3.0);
        assert_eq!(g[5], 17.0);
    }

    #[test]
    fn default_max_box_caps() {
        assert_eq!(default_max_box(64, 2, 5), 32);
        assert_eq!(default_max_box(1000, 2, 5), 32);
        assert_eq!(default_max_box(3, 2, 5), 3);
        assert_eq!(default_max_box(1 << 20, 3, 64), 1 << 19);
    }

    #[test]
    fn occupied_boxes_counts_like_a_box_by_box_search() {
        let brute = |mask: &[bool], n: usize, s: usize| {
            let m = n / s;
            let mut count = 0;
            for bi in 0..m {
                for bj in 0..m {
                    let hit = (bi * s..(bi + 1) * s)
                        .any(|r| (bj * s..(bj + 1) * s).any(|c| mask[r * n + c]));
                    count += u64::from(hit);
                }
            }
            count
        };
        for (n, density) in [(7, 3), (16, 1), (33, 17), (64, 5), (64, 97)] {
            let mask: Vec<bool> = (0..n * n)
                .map(|k| (k * 7919 + 13) % 101 < density)
                .collect();
            for s in 1..=n {
                assert_eq!(
                    occupied_boxes(&mask, n, s),
                    brute(&mask, n, s),
                    "n {n} s {s}"
                );
            }
        }
    }

    #[test]
    fn occupied_boxes_crops() {
        // 5×5 with only the last row/column set: with s = 2 the crop is 4×4 → empty.
        let n = 5;
        let mask: Vec<bool> = (0..n * n).map(|k| k / n == 4 || k % n == 4).collect();
        assert_eq!(occupied_boxes(&mask, n, 2), 0);
        assert_eq!(occupied_boxes(&mask, n, 1), 9);
        assert_eq!(occupied_boxes(&mask, n, 6), 0);
    }
}
