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
//! V' = clip(v, V_MIN, V_MAX)            (counted where V' ≠ v)
//! a'' = clip(a', 0, 1);  i'' = clip(i', 0, 1)
//! ```
//!
//! exactly the reference's operations in the reference's order; Rust never contracts
//! `x·y + z` into a fused multiply-add, so vector lanes compute what scalar code does.
//!
//! One pass per output row reads the row triples (up, mid, down) of V, a and i once
//! from memory; within the row, one loop updates a and i (keeping the unclipped `a'`
//! in a scratch row) and a second loop, over the same rows still in L1, updates V with
//! the mask, jitter, clamp and both counters. Two shorter dependency chains overlap
//! better than one long one; measured, it is as fast as a single loop or faster.
//! The fields are stored with halo columns ([`stride`]), so each loop runs over all N
//! columns with no wrap logic and no scalar edge cells, and LLVM vectorises it. The
//! pass is compiled twice through [`pulp::Arch::dispatch`] (a safe runtime CPU-feature
//! dispatch): for the baseline target (SSE2 on x86-64, 2 lanes) and for x86-64-v3
//! (AVX2, 4 lanes) when the CPU has it.

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

/// The state a step reads, in the padded layout (see [`stride`]): V and, with Turing,
/// a and i (empty otherwise); `z` holds the step's jitter draws, N×N unpadded (empty
/// without jitter).
#[derive(Clone, Copy)]
pub(super) struct Src<'a> {
    pub n: usize,
    pub v: &'a [f64],
    pub a: &'a [f64],
    pub i: &'a [f64],
    pub z: &'a [f64],
}

/// Output rows `first_row..first_row + v.len()/stride` of the next state (padded).
pub(super) struct Dst<'a> {
    pub first_row: usize,
    pub v: &'a mut [f64],
    pub a: &'a mut [f64],
    pub i: &'a mut [f64],
}

/// Row stride of the padded layout: each row is stored as
/// `[u[N−1], u[0], u[1], …, u[N−1], u[0]]`, its wrap-around neighbours as halo
/// columns, so the cell loop runs over all N columns with no wrap logic and no scalar
/// edge cells. The kernel refreshes the halo of every row it writes.
pub(super) const fn stride(n: usize) -> usize {
    n + 2
}

/// Set the halo columns of one padded row from its interior.
#[inline(always)]
pub(super) fn fill_halo(row: &mut [f64]) {
    let n = row.len() - 2;
    row[0] = row[n];
    row[n + 1] = row[1];
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
fn block<const TURING: bool, const JITTER: bool>(src: Src<'_>, dst: Dst<'_>, k: Consts) -> Counts {
    let n = src.n;
    let s = stride(n);
    let mut acc = Acc::default();
    let rows = dst.v.len() / s;
    let mut scratch = vec![0.0; n];
    for local in 0..rows {
        let r = dst.first_row + local;
        let out = local * s..(local + 1) * s;
        let (oa, oi): (&mut [f64], &mut [f64]) = if TURING {
            (&mut dst.a[out.clone()], &mut dst.i[out.clone()])
        } else {
            (&mut [], &mut [])
        };
        row::<TURING, JITTER>(&src, r, &mut dst.v[out], oa, oi, k, &mut acc, &mut scratch);
    }
    Counts {
        activations: acc.activations,
        clamped: acc.clamped,
        nonfinite: acc.nonfinite,
    }
}

/// One field's rows around row `r`, as equal-length slices over the N interior
/// columns: up, down, left, mid, right.
#[derive(Clone, Copy)]
struct Tri<'a> {
    up: &'a [f64],
    down: &'a [f64],
    left: &'a [f64],
    mid: &'a [f64],
    right: &'a [f64],
}

impl<'a> Tri<'a> {
    #[inline(always)]
    fn new(field: &'a [f64], n: usize, r: usize) -> Self {
        let s = stride(n);
        let up = if r == 0 { n - 1 } else { r - 1 };
        let down = if r + 1 == n { 0 } else { r + 1 };
        let mid = &field[r * s..][..s];
        Tri {
            up: &field[up * s + 1..][..n],
            down: &field[down * s + 1..][..n],
            left: &mid[..n],
            mid: &mid[1..][..n],
            right: &mid[2..][..n],
        }
    }

    /// `u` and `L(u) = ((((u↑ + u↓) + u←) + u→) − 4·u)` at interior column `c`.
    #[inline(always)]
    fn lap(&self, c: usize) -> (f64, f64) {
        let m = self.mid[c];
        (
            m,
            self.up[c] + self.down[c] + self.left[c] + self.right[c] - 4.0 * m,
        )
    }
}

#[derive(Default)]
struct Acc {
    activations: u64,
    clamped: u64,
    nonfinite: u64,
}

/// One row in one branch-free loop over its N columns, then its halo.
#[inline(always)]
#[expect(
    clippy::too_many_arguments,
    reason = "the three output rows are split borrows of separate arrays; a struct of them would only rename the arguments in the hot loop"
)]
fn row<const TURING: bool, const JITTER: bool>(
    src: &Src<'_>,
    r: usize,
    ov: &mut [f64],
    oa: &mut [f64],
    oi: &mut [f64],
    k: Consts,
    acc: &mut Acc,
    scratch: &mut [f64],
) {
    let n = src.n;
    let v = Tri::new(src.v, n, r);
    let (a, i) = if TURING {
        (Tri::new(src.a, n, r), Tri::new(src.i, n, r))
    } else {
        (v, v)
    };
    let z: &[f64] = if JITTER { &src.z[r * n..][..n] } else { &[] };
    let ovi = &mut ov[1..][..n];
    let (oai, oii): (&mut [f64], &mut [f64]) = if TURING {
        (&mut oa[1..][..n], &mut oi[1..][..n])
    } else {
        (&mut [], &mut [])
    };
    let (mut activations, mut clamped) = (0u64, 0u64);
    let an = &mut scratch[..n];
    if TURING {
        for c in 0..n {
            let (am, la) = a.lap(c);
            let (im, li) = i.lap(c);
            let a_new = am + (D_A * la + R_A * (am * (1.0 - am) - im));
            let i_new = im + (D_I * li + R_I * (a_new - im));
            an[c] = a_new;
            oai[c] = clip(a_new, 0.0, 1.0);
            oii[c] = clip(i_new, 0.0, 1.0);
        }
    }
    for c in 0..n {
        let (vm, lv) = v.lap(c);
        let mut vn = vm + k.alpha * lv;
        if TURING {
            let hit = an[c] > k.threshold;
            activations += u64::from(hit);
            // A select, not `v + 0.0`: untouched cells keep every bit.
            let raised = vn + TURING_INCREMENT;
            vn = if hit { raised } else { vn };
        }
        if JITTER {
            vn += z[c];
        }
        let y = clip(vn, V_MIN, V_MAX);
        // `y != vn` exactly where NumPy's `(V < lo) | (V > hi)` holds, and for NaN.
        clamped += u64::from(y != vn);
        ovi[c] = y;
    }
    // Finite, bounded inputs give finite cells (α ≤ 1/4, a and i in [0, 1]), so this
    // is a guard, not a path: a NaN would be counted as clamped and survive the clip,
    // and only then is the row scanned. (±inf cannot arise from finite inputs.)
    if clamped > 0 && ov[1..=n].iter().any(|x| x.is_nan()) {
        acc.nonfinite += 1;
    }
    fill_halo(ov);
    if TURING {
        fill_halo(oa);
        fill_halo(oi);
    }
    acc.activations += activations;
    acc.clamped += clamped;
}

/// NumPy's `clip`: NaN stays NaN; compiles to a max/min pair.
#[inline(always)]
fn clip(x: f64, lo: f64, hi: f64) -> f64 {
    let y = if x < lo { lo } else { x };
    if y > hi { hi } else { y }
}
