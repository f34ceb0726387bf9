//! NumPy-compatible reductions.
//!
//! NumPy sums float64 arrays by *pairwise summation*: blocks of at most 128 elements are
//! summed with eight interleaved accumulators, larger ranges are split in two at a
//! multiple of 8 and summed recursively. The rounding error grows as O(log n) instead of
//! O(n), and — what matters here — the digits differ from a left-to-right loop. To give
//! users the same `mean` and `std` as the reference, [`sum`] follows the same tree:
//!
//! ```text
//! n < 8:        ((a0 + a1) + a2) + …
//! n ≤ 128:      r_j = a_j + a_{j+8} + a_{j+16} + …   (j = 0..7, whole groups of 8)
//!               ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)) + tail, left to right
//! otherwise:    n2 = n/2 − (n/2 mod 8);  sum(a[..n2]) + sum(a[n2..])
//! ```
//!
//! `mean = sum / n`; `std = sqrt(sum((a − mean)²) / n)` (population, `ddof = 0`).
//!
//! ```
//! use mfn_core::stats;
//! let a: Vec<f64> = (0..1000).map(|i| i as f64 * 0.1).collect();
//! assert_eq!(stats::mean(&a), 49.95);
//! ```

const BLOCK: usize = 128;

/// NumPy's pairwise sum of a contiguous float64 slice (`np.sum`).
pub fn sum(a: &[f64]) -> f64 {
    // NumPy starts a reduction from the identity 0.0 and adds the pairwise sum.
    0.0 + pairwise(a, &|x| x)
}

/// The pairwise tree over `f(a[k])`: `f` is applied element by element as the tree
/// reads them, so `var` needs no temporary array (NumPy materialises `(a − m)²` first;
/// the sums are the same since the tree only depends on the length).
#[inline(always)]
fn pairwise(a: &[f64], f: &impl Fn(f64) -> f64) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut res = 0.0;
        for &v in a {
            res += f(v);
        }
        res
    } else if n <= BLOCK {
        let mut r = [0.0f64; 8];
        for (rj, &v) in r.iter_mut().zip(&a[..8]) {
            *rj = f(v);
        }
        let whole = n - n % 8;
        for chunk in a[8..whole].chunks_exact(8) {
            for (rj, &v) in r.iter_mut().zip(chunk) {
                *rj += f(v);
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &a[whole..] {
            res += f(v);
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_rec(&a[..n2], f) + pairwise_rec(&a[n2..], f)
    }
}

/// The recursive step, kept out of line so the leaf loop above inlines into callers.
fn pairwise_rec(a: &[f64], f: &impl Fn(f64) -> f64) -> f64 {
    pairwise(a, f)
}

/// `np.mean`: pairwise sum divided by the length. NaN for an empty slice.
pub fn mean(a: &[f64]) -> f64 {
    sum(a) / a.len() as f64
}

/// `np.std` with `ddof = 0`: `sqrt(sum((a − mean)²) / n)`.
///
/// ```
/// assert_eq!(mfn_core::stats::std(&[1.0, 1.0, 1.0]), 0.0);
/// ```
pub fn std(a: &[f64]) -> f64 {
    var(a).sqrt()
}

/// `np.var` with `ddof = 0`.
pub fn var(a: &[f64]) -> f64 {
    let m = mean(a);
    (0.0 + pairwise(a, &|v| (v - m) * (v - m))) / a.len() as f64
}

/// `(min, max)` of a non-empty slice; NaN propagates as in NumPy.
pub fn min_max(a: &[f64]) -> (f64, f64) {
    if a.iter().any(|v| v.is_nan()) {
        return (f64::NAN, f64::NAN);
    }
    // Four independent lanes (min and max are exact, so the grouping cannot change the
    // result), then the tail.
    let mut lo = [f64::INFINITY; 4];
    let mut hi = [f64::NEG_INFINITY; 4];
    let chunks = a.chunks_exact(4);
    let tail = chunks.remainder();
    for c in chunks {
        for j in 0..4 {
            lo[j] = if c[j] < lo[j] { c[j] } else { lo[j] };
            hi[j] = if c[j] > hi[j] { c[j] } else { hi[j] };
        }
    }
    let mut l = lo[0].min(lo[1]).min(lo[2].min(lo[3]));
    let mut h = hi[0].max(hi[1]).max(hi[2].max(hi[3]));
    for &v in tail {
        l = l.min(v);
        h = h.max(v);
    }
    (l, h)
}

/// Least-squares line `y = slope·x + intercept` and its coefficient of determination
/// (0 when `y` is constant). Returns `None` with fewer than two points or constant `x`.
///
/// ```
/// let (s, _, r2) = mfn_core::stats::linear_fit(&[0.0, 1.0, 2.0], &[1.0, 3.0, 5.0]).unwrap();
/// assert!((s - 2.0).abs() < 1e-12 && (r2 - 1.0).abs() < 1e-12);
/// ```
pub fn linear_fit(x: &[f64], y: &[f64]) -> Option<(f64, f64, f64)> {
    let n = x.len();
    if n < 2 || y.len() != n {
        return None;
    }
    let mx = mean(x);
    let my = mean(y);
    let mut sxx = 0.0;
    let mut sxy = 0.0;
    for (&a, &b) in x.iter().zip(y) {
        sxx += (a - mx) * (a - mx);
        sxy += (a - mx) * (b - my);
    }
    if sxx == 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let mut ss_res = 0.0;
    let mut ss_tot = 0.0;
    for (&a, &b) in x.iter().zip(y) {
        let e = b - (slope * a + intercept);
        ss_res += e * e;
        ss_tot += (b - my) * (b - my);
    }
    let r2 = if ss_tot == 0.0 {
        0.0
    } else {
        1.0 - ss_res / ss_tot
    };
    Some((slope, intercept, r2))
}
