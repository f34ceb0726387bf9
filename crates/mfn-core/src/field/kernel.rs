//! The step kernel: diffusion, Turing update, jitter and clamp of one row in one fused
//! pass over the row triple (up, mid, down) of V, a and i.
//!
//! Per cell `(r, c)`, with `L(u) = ((((u↑ + u↓) + u←) + u→) − 4·u)`:
//!
//! ```text
//! v  = V + α·L(V)
//! a' = a + (D_a·L(a) + r_a·(a·(1 − a) − i))
//! i' = i + (D_i·L(i) + r_i·(a' − i))
//! v  = a' > θ ? v + 0.005 : v          (counted)
//! v  = v + z                            (jitter, drawn beforehand in row-major order)
//! V' = clip(v, V_MIN, V_MAX)            (counted when outside)
//! a'' = clip(a', 0, 1);  i'' = clip(i', 0, 1)
//! ```
//!
//! exactly the reference's operations in the reference's order; Rust never contracts
//! `x·y + z` into a fused multiply-add, so vector lanes compute what scalar code does.
//! The interior columns `1..N−1` run in a branch-free loop that LLVM vectorises; the two
//! wrap-around columns are done separately, so the loop has no wrap logic. The loop is
//! compiled twice through [`pulp::Arch::dispatch`] (a safe runtime CPU-feature
//! dispatch): for the baseline target (SSE2 on x86-64) and for x86-64-v3 (AVX2, 4 lanes)
//! when the CPU has it.

use super::{D_A, D_I, R_A, R_I, TURING_INCREMENT, V_MAX, V_MIN};

/// Step constants shared by every row.
#[derive(Clone, Copy, Debug)]
pub(super) struct Consts {
    pub alpha: f64,
    pub threshold: f64,
}

/// Per-step counters, summed over rows (integers: the sum is the same in any order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Counts {
    pub activations: u64,
    pub clamped: u64,
    pub nonfinite: u64,
}

impl std::ops::Add for Counts {
    type Output = Counts;
    fn add(self, o: Counts) -> Counts {
        Counts {
            activations: self.activations + o.activations,
            clamped: self.clamped + o.clamped,
            nonfinite: self.nonfinite + o.nonfinite,
        }
    }
}

/// The state a step reads: V and, with Turing, a and i (empty otherwise); `z` holds the
/// step's jitter draws (empty without jitter).
#[derive(Clone, Copy)]
pub(super) struct Src<'a> {
    pub n: usize,
    pub v: &'a [f64],
    pub a: &'a [f64],
    pub i: &'a [f64],
    pub z: &'a [f64],
}

/// Output rows `first_row..first_row + v.len()/n` of the next state.
pub(super) struct Dst<'a> {
    pub first_row: usize,
    pub v: &'a mut [f64],
    pub a: &'a mut [f64],
    pub i: &'a mut [f64],
}

/// Run the kernel on a block of rows, on the best instruction set this CPU has.
pub(super) fn rows(arch: pulp::Arch, src: Src<'_>, dst: Dst<'_>, k: Consts) -> Counts {
    let turing = !src.a.is_empty();
    let jitter = !src.z.is_empty();
    // `dispatch` inlines the closure into a function compiled for the detected target
    // features; everything below it is `#[inline(always)]`.
    match (turing, jitter) {
        (true, false) => arch.dispatch(|| block::<true, false>(src, dst, k)),
        (true, true) => arch.dispatch(|| block::<true, true>(src, dst, k)),
        (false, false) => arch.dispatch(|| block::<false, false>(src, dst, k)),
        (false, true) => arch.dispatch(|| block::<false, true>(src, dst, k)),
    }
}

#[inline(always)]
fn block<const TURING: bool, const JITTER: bool>(
    src: Src<'_>,
    dst: Dst<'_>,
    k: Consts,
) -> Counts {
    let n = src.n;
    let mut counts = Counts::default();
    let rows = dst.v.len() / n;
    for local in 0..rows {
        let r = dst.first_row + local;
        let out = local * n..(local + 1) * n;
        let (oa, oi): (&mut [f64], &mut [f64]) = if TURING {
            (&mut dst.a[out.clone()], &mut dst.i[out.clone()])
        } else {
            (&mut [], &mut [])
        };
        counts = counts
            + row::<TURING, JITTER>(
                RowIn::new(src, r),
                RowOut {
                    v: &mut dst.v[out],
                    a: oa,
                    i: oi,
                },
                k,
            );
    }
    counts
}

/// Three rows (up, mid, down) of one field.
#[derive(Clone, Copy)]
struct Tri<'a> {
    up: &'a [f64],
    mid: &'a [f64],
    down: &'a [f64],
}

impl<'a> Tri<'a> {
    #[inline(always)]
    fn of(field: &'a [f64], n: usize, r: usize) -> Self {
        let up = if r == 0 { n - 1 } else { r - 1 };
        let down = if r + 1 == n { 0 } else { r + 1 };
        Tri {
            up: &field[up * n..][..n],
            mid: &field[r * n..][..n],
            down: &field[down * n..][..n],
        }
    }

    /// `L(u)` at column `c` with left/right neighbours `l`, `r`.
    #[inline(always)]
    fn lap(&self, c: usize, l: usize, r: usize) -> f64 {
        let m = self.mid[c];
        self.up[c] + self.down[c] + self.mid[l] + self.mid[r] - 4.0 * m
    }
}

#[derive(Clone, Copy)]
struct RowIn<'a> {
    v: Tri<'a>,
    a: Tri<'a>,
    i: Tri<'a>,
    z: &'a [f64],
}

impl<'a> RowIn<'a> {
    #[inline(always)]
    fn new(src: Src<'a>, r: usize) -> Self {
        let n = src.n;
        let empty = Tri {
            up: &[],
            mid: &[],
            down: &[],
        };
        RowIn {
            v: Tri::of(src.v, n, r),
            a: if src.a.is_empty() {
                empty
            } else {
                Tri::of(src.a, n, r)
            },
            i: if src.i.is_empty() {
                empty
            } else {
                Tri::of(src.i, n, r)
            },
            z: if src.z.is_empty() {
                &[]
            } else {
                &src.z[r * n..][..n]
            },
        }
    }
}

struct RowOut<'a> {
    v: &'a mut [f64],
    a: &'a mut [f64],
    i: &'a mut [f64],
}

/// One row: the interior in a branch-free loop, then the two wrap-around columns.
#[inline(always)]
fn row<const TURING: bool, const JITTER: bool>(x: RowIn<'_>, o: RowOut<'_>, k: Consts) -> Counts {
    let n = o.v.len();
    let mut acc = Acc::default();
    // Interior: left/right are c∓1, no wrap. Every slice has length n (checked once by
    // the re-slicing in `Tri::of`), so the indexing below carries no bounds checks that
    // LLVM cannot hoist, and the loop vectorises.
    for c in 1..n - 1 {
        cell::<TURING, JITTER>(&x, &mut acc, c, c - 1, c + 1, k, o.v, o.a, o.i);
    }
    cell::<TURING, JITTER>(&x, &mut acc, 0, n - 1, 1, k, o.v, o.a, o.i);
    cell::<TURING, JITTER>(&x, &mut acc, n - 1, n - 2, 0, k, o.v, o.a, o.i);
    Counts {
        activations: acc.activations,
        clamped: acc.clamped,
        nonfinite: acc.nonfinite,
    }
}

#[derive(Default)]
struct Acc {
    activations: u64,
    clamped: u64,
    nonfinite: u64,
}

/// One cell; see the module docs for the expression tree.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn cell<const TURING: bool, const JITTER: bool>(
    x: &RowIn<'_>,
    acc: &mut Acc,
    c: usize,
    l: usize,
    r: usize,
    k: Consts,
    ov: &mut [f64],
    oa: &mut [f64],
    oi: &mut [f64],
) {
    let mut v = x.v.mid[c] + k.alpha * x.v.lap(c, l, r);
    if TURING {
        let a = x.a.mid[c];
        let i = x.i.mid[c];
        let a_new = a + (D_A * x.a.lap(c, l, r) + R_A * (a * (1.0 - a) - i));
        let i_new = i + (D_I * x.i.lap(c, l, r) + R_I * (a_new - i));
        let hit = a_new > k.threshold;
        acc.activations += u64::from(hit);
        // A select, not `v + 0.0`: untouched cells keep every bit.
        let raised = v + TURING_INCREMENT;
        v = if hit { raised } else { v };
        oa[c] = clip(a_new, 0.0, 1.0);
        oi[c] = clip(i_new, 0.0, 1.0);
    }
    if JITTER {
        v += x.z[c];
    }
    acc.clamped += u64::from(v < V_MIN || v > V_MAX);
    // ±inf and NaN: `v − v` is NaN exactly for those.
    acc.nonfinite += u64::from((v - v).is_nan());
    ov[c] = clip(v, V_MIN, V_MAX);
}

/// NumPy's `clip`: NaN stays NaN; compiles to a max/min pair.
#[inline(always)]
fn clip(x: f64, lo: f64, hi: f64) -> f64 {
    let y = if x < lo { lo } else { x };
    if y > hi { hi } else { y }
}
