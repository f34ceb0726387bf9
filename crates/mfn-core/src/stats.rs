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

/// A float64 sequence in NumPy's flat order, read as contiguous pieces: a slice (one
/// piece), the row-major interior of a padded grid ([`Rows`], one piece per row), or
/// values computed on demand ([`FromFn`]). The reductions below depend only on the
/// values in order, never on where the pieces break, so every kind gives the digits of
/// the contiguous array.
pub trait Seq {
    /// Number of elements.
    fn len(&self) -> usize;
    /// Whether there are no elements.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Call `f` on elements `lo..lo + len`, in order, as contiguous pieces.
    fn pieces(&self, lo: usize, len: usize, f: impl FnMut(&[f64]));
}

impl Seq for [f64] {
    fn len(&self) -> usize {
        <[f64]>::len(self)
    }
    #[inline]
    fn pieces(&self, lo: usize, len: usize, mut f: impl FnMut(&[f64])) {
        f(&self[lo..lo + len]);
    }
}

impl Seq for Vec<f64> {
    fn len(&self) -> usize {
        <[f64]>::len(self)
    }
    #[inline]
    fn pieces(&self, lo: usize, len: usize, f: impl FnMut(&[f64])) {
        self[..].pieces(lo, len, f);
    }
}

impl<const N: usize> Seq for [f64; N] {
    fn len(&self) -> usize {
        N
    }
    #[inline]
    fn pieces(&self, lo: usize, len: usize, f: impl FnMut(&[f64])) {
        self[..].pieces(lo, len, f);
    }
}

/// `len` values produced on demand by `f(k)`, so a derived array (differences, squares)
/// never has to exist.
#[derive(Debug, Clone, Copy)]
pub struct FromFn<F> {
    /// Number of values.
    pub len: usize,
    /// Value at flat index `k`.
    pub f: F,
}

impl<F: Fn(usize) -> f64> Seq for FromFn<F> {
    fn len(&self) -> usize {
        self.len
    }
    fn pieces(&self, lo: usize, len: usize, mut f: impl FnMut(&[f64])) {
        let mut buf = [0.0; BLOCK];
        for start in (lo..lo + len).step_by(BLOCK) {
            let take = BLOCK.min(lo + len - start);
            for (k, b) in buf[..take].iter_mut().enumerate() {
                *b = (self.f)(start + k);
            }
            f(&buf[..take]);
        }
    }
}

/// A grid stored with halo columns, and possibly in bands of rows with spare row
/// slots between them, read as if it were the contiguous array: row `r`'s `cols` values
/// start at `data[(r + (r / band)·gap)·stride + offset]`.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    /// The padded storage (whole rows).
    pub data: &'a [f64],
    /// Rows of the grid.
    pub rows: usize,
    /// Values per row.
    pub cols: usize,
    /// Distance between row starts.
    pub stride: usize,
    /// Index of a row's first value within its stride.
    pub offset: usize,
    /// Rows per band (at least 1).
    pub band: usize,
    /// Row slots skipped after each band.
    pub gap: usize,
}

impl<'a> Rows<'a> {
    /// The `cols` values of row `r`.
    #[inline]
    pub fn row(&self, r: usize) -> &'a [f64] {
        // No division for the common one-band layout: the reductions call this per row.
        let slot = if self.gap == 0 {
            r
        } else {
            r + r / self.band * self.gap
        };
        &self.data[slot * self.stride + self.offset..][..self.cols]
    }
}

impl Seq for Rows<'_> {
    fn len(&self) -> usize {
        self.rows * self.cols
    }
    #[inline]
    fn pieces(&self, lo: usize, len: usize, mut f: impl FnMut(&[f64])) {
        let (mut r, mut c, mut left) = (lo / self.cols, lo % self.cols, len);
        while left > 0 {
            let take = (self.cols - c).min(left);
            f(&self.row(r)[c..][..take]);
            (r, c, left) = (r + 1, 0, left - take);
        }
    }
}

/// NumPy's pairwise sum of a float64 sequence (`np.sum`).
pub fn sum<S: Seq + ?Sized>(a: &S) -> f64 {
    // NumPy starts a reduction from the identity 0.0 and adds the pairwise sum.
    0.0 + pairwise(a, 0, a.len(), &|x| x)
}

/// The pairwise tree over `f(a[k])` for `k` in `lo..lo + n`: `f` is applied element by
/// element as the tree reads them, so `var` needs no temporary array (NumPy materialises
/// `(a − m)²` first; the sums are the same since the tree only depends on the length).
/// Every block starts at a multiple of 8 from the start of the sequence.
#[inline(always)]
fn pairwise<S: Seq + ?Sized>(a: &S, lo: usize, n: usize, f: &impl Fn(f64) -> f64) -> f64 {
    if n <= BLOCK {
        let mut leaf = Leaf::new(n);
        a.pieces(lo, n, |p| leaf.feed(p, f));
        leaf.finish()
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_rec(a, lo, n2, f) + pairwise_rec(a, lo + n2, n - n2, f)
    }
}

/// The recursive step, kept out of line so the leaf loop inlines into callers.
fn pairwise_rec<S: Seq + ?Sized>(a: &S, lo: usize, n: usize, f: &impl Fn(f64) -> f64) -> f64 {
    pairwise(a, lo, n, f)
}

/// One block of at most 128 elements, fed piece by piece: eight interleaved
/// accumulators over the whole groups of 8, reduced as a tree, then the tail left to
/// right (fewer than 8 elements: left to right from 0). Pieces that keep the groups
/// aligned (rows whose length is a multiple of 8) run the vector loop; others go
/// element by element, with the same result.
struct Leaf {
    r: [f64; 8],
    k: usize,
    whole: usize,
    res: f64,
}

impl Leaf {
    fn new(n: usize) -> Self {
        Leaf {
            r: [0.0; 8],
            k: 0,
            whole: if n < 8 { 0 } else { n - n % 8 },
            res: 0.0,
        }
    }

    #[inline(always)]
    fn feed(&mut self, mut p: &[f64], f: &impl Fn(f64) -> f64) {
        while !p.is_empty() {
            if self.k.is_multiple_of(8) && self.k + 8 <= self.whole && p.len() >= 8 {
                let m = (self.whole - self.k).min(p.len()) / 8 * 8;
                let (body, rest) = p.split_at(m);
                let mut chunks = body.chunks_exact(8);
                let mut r = self.r;
                if self.k == 0 {
                    let c = chunks.next().expect("m >= 8");
                    for (rj, &v) in r.iter_mut().zip(c) {
                        *rj = f(v);
                    }
                }
                for c in chunks {
                    for (rj, &v) in r.iter_mut().zip(c) {
                        *rj += f(v);
                    }
                }
                self.r = r;
                self.k += m;
                p = rest;
            } else {
                self.one(f(p[0]));
                p = &p[1..];
            }
        }
    }

    #[inline(always)]
    fn one(&mut self, x: f64) {
        let k = self.k;
        if k < self.whole {
            if k < 8 {
                self.r[k] = x;
            } else {
                self.r[k % 8] += x;
            }
        } else {
            if k == self.whole && self.whole > 0 {
                self.res = self.tree();
            }
            self.res += x;
        }
        self.k += 1;
    }

    fn tree(&self) -> f64 {
        let r = &self.r;
        ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    }

    fn finish(self) -> f64 {
        if self.whole > 0 && self.k == self.whole {
            self.tree()
        } else {
            self.res
        }
    }
}

/// `np.mean`: pairwise sum divided by the length. NaN for an empty sequence.
pub fn mean<S: Seq + ?Sized>(a: &S) -> f64 {
    sum(a) / a.len() as f64
}

/// `np.std` with `ddof = 0`: `sqrt(sum((a − mean)²) / n)`.
///
/// ```
/// assert_eq!(mfn_core::stats::std(&[1.0, 1.0, 1.0]), 0.0);
/// ```
pub fn std<S: Seq + ?Sized>(a: &S) -> f64 {
    var(a).sqrt()
}

/// `np.var` with `ddof = 0`.
pub fn var<S: Seq + ?Sized>(a: &S) -> f64 {
    var_about(a, mean(a))
}

/// `np.var` given the sequence's `np.mean` `m` (for callers that have it already).
pub fn var_about<S: Seq + ?Sized>(a: &S, m: f64) -> f64 {
    (0.0 + pairwise(a, 0, a.len(), &|v| (v - m) * (v - m))) / a.len() as f64
}

/// `(min, max)` of a non-empty sequence; NaN propagates as in NumPy.
pub fn min_max<S: Seq + ?Sized>(a: &S) -> (f64, f64) {
    // Four independent lanes, element k in lane k mod 4, and the last n mod 4 elements
    // folded in after the lanes (min and max are exact; this order also fixes which
    // zero wins a −0/+0 tie).
    let mut lo = [f64::INFINITY; 4];
    let mut hi = [f64::NEG_INFINITY; 4];
    let n = a.len();
    let whole = n - n % 4;
    let (mut k, mut nan) = (0, false);
    let mut tail = Vec::new();
    a.pieces(0, n, |mut p| {
        while !p.is_empty() && k < whole {
            if k.is_multiple_of(4) && p.len() >= 4 {
                let m = (whole - k).min(p.len()) / 4 * 4;
                let mut unordered = [false; 4];
                for c in p[..m].chunks_exact(4) {
                    for j in 0..4 {
                        lo[j] = if c[j] < lo[j] { c[j] } else { lo[j] };
                        hi[j] = if c[j] > hi[j] { c[j] } else { hi[j] };
                        unordered[j] |= c[j].is_nan();
                    }
                }
                nan |= unordered.contains(&true);
                (k, p) = (k + m, &p[m..]);
            } else {
                let (j, v) = (k % 4, p[0]);
                lo[j] = if v < lo[j] { v } else { lo[j] };
                hi[j] = if v > hi[j] { v } else { hi[j] };
                nan |= v.is_nan();
                (k, p) = (k + 1, &p[1..]);
            }
        }
        nan |= p.iter().any(|v| v.is_nan());
        tail.extend_from_slice(p);
        k += p.len();
    });
    if nan {
        return (f64::NAN, f64::NAN);
    }
    let mut l = lo[0].min(lo[1]).min(lo[2].min(lo[3]));
    let mut h = hi[0].max(hi[1]).max(hi[2].max(hi[3]));
    for v in tail {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize) -> Vec<f64> {
        (0..len)
            .map(|i| ((i * 7919) % 1013) as f64 * 0.1 - 3.3)
            .collect()
    }

    /// `values` laid out with `pad` halo columns each side of `cols`-wide rows.
    fn padded(a: &[f64], cols: usize, pad: usize) -> Vec<f64> {
        a.chunks(cols)
            .flat_map(|r| {
                let mut row = vec![f64::NAN; pad];
                row.extend_from_slice(r);
                row.extend(std::iter::repeat_n(f64::NAN, pad));
                row
            })
            .collect()
    }

    #[test]
    fn every_sequence_gives_the_slice_digits() {
        for (rows, cols) in [
            (1, 1),
            (1, 7),
            (3, 5),
            (4, 32),
            (64, 64),
            (9, 129),
            (33, 17),
        ] {
            let a = values(rows * cols);
            let data = padded(&a, cols, 1);
            let grid = Rows {
                data: &data,
                rows,
                cols,
                stride: cols + 2,
                offset: 1,
                band: rows,
                gap: 0,
            };
            // The same rows in bands of two, two NaN rows after each band.
            let nan_rows = vec![f64::NAN; 2 * (cols + 2)];
            let banded: Vec<f64> = data
                .chunks(2 * (cols + 2))
                .flat_map(|band| [band, &nan_rows[..]].concat())
                .collect();
            let bands = Rows {
                data: &banded,
                band: 2,
                gap: 2,
                ..grid
            };
            let by_fn = FromFn {
                len: a.len(),
                f: |k: usize| a[k],
            };
            let want = (sum(&a[..]), var(&a[..]), min_max(&a[..]));
            assert_eq!(grid.len(), a.len());
            assert_eq!(bands.len(), a.len());
            for got in [
                (sum(&grid), var(&grid), min_max(&grid)),
                (sum(&bands), var(&bands), min_max(&bands)),
                (sum(&by_fn), var(&by_fn), min_max(&by_fn)),
            ] {
                assert_eq!(got.0.to_bits(), want.0.to_bits(), "sum {rows}x{cols}");
                assert_eq!(got.1.to_bits(), want.1.to_bits(), "var {rows}x{cols}");
                assert_eq!(got.2, want.2, "min_max {rows}x{cols}");
            }
        }
    }

    #[test]
    fn pairwise_differs_from_a_loop_and_matches_numpy() {
        // np.sum(np.arange(4096) * 0.01) == 83865.59999999999 (pairwise, NumPy 2.x),
        // while a left-to-right loop gives 83865.6.
        let a: Vec<f64> = (0..4096).map(|i| i as f64 * 0.01).collect();
        let naive: f64 = a.iter().fold(0.0, |s, v| s + v);
        assert_eq!(naive, 83865.6);
        assert_eq!(sum(&a), 83865.59999999999);
    }

    #[test]
    fn min_max_propagates_nan_from_any_block() {
        let mut a = values(300);
        a[257] = f64::NAN;
        let (lo, hi) = min_max(&a);
        assert!(lo.is_nan() && hi.is_nan());
        assert_eq!(min_max(&[2.0, -1.0, 5.0]), (-1.0, 5.0));
    }
}
