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
//! The state is updated in place, one array per field, in bands of rows ([`band`]):
//! each band keeps its rows in two more row slots than it has rows and writes each new
//! row two slots away from its old one, over a row nobody reads any more, so no row is
//! buffered and copied back and there is no second state. Of the two rows just outside
//! a band, the one its neighbour does not write during the step is read in place and
//! the one the neighbour overwrites early is copied before the step, so bands share
//! nothing they write and run on any threads. Grids below 256 are one band, swept by
//! [`ring`] (the wrap-around rows its own). Row-parallel steps were first buffered
//! blocks copying each new row back (24 % more CPU than one band at 512²), then blocks
//! writing a second state (10 % more, and 6 MB more at 512²). (Before the ring, small
//! grids were double-buffered — the same speed at 64², 1–2 % slower at 128² and 512²,
//! and twice the memory.) Grids from 256 take two steps per pass in [`pair`]: the first
//! step's rows go to a ring of three rows and the second step's, computed from them, are
//! written where a single step would write its rows, so the state goes through the
//! caches once per two steps and a row-parallel run joins once per two steps (tried
//! and not kept: sweeping wide rows in column tiles, to keep the rows the loop reuses in
//! L1 — 512² steps were 11–16 % slower, most likely as each row's stream broke into
//! pieces the prefetcher restarts on). One loop per row reads the row triples (up, mid, down) of V, a and
//! i once and computes a', i' and V' of each cell with the mask, jitter, clamp and both
//! counters. (An earlier version kept a' in a scratch row for a second loop over V;
//! with aligned rows the single loop is 2 % faster and saves the scratch row.)
//! The fields are stored with halo columns and aligned rows ([`LEAD`]), so the loop runs
//! over all N columns with no wrap logic and no scalar edge cells, and LLVM vectorises
//! it. The pass is compiled three times through [`pulp::Arch::dispatch`] (a safe
//! runtime CPU-feature dispatch): for the baseline target (SSE2 on x86-64, 2 lanes), for x86-64-v3 (AVX2,
//! 4 lanes) and for x86-64-v4 (AVX-512, 8 lanes and 32 vector registers), the best the
//! CPU has. On a 2-core AVX-512 Xeon (`kernel_timing parts 128 100 7`, alternated
//! builds) the AVX-512 build takes 128×128×100's steps from 1.84–1.90 ms to 1.26–1.32
//! ms: with 16 registers the AVX2 loop re-broadcast constants and spilled; rows aligned
//! to 32 rather than 64 bytes gave 1.37–1.48 ms (every other 8-lane load split a cache
//! line).

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

/// Where a row's N values start in the padded layout: each row of [`stride`] values
/// is stored as `[·×7, u[N−1], u[0], u[1], …, u[N−1], u[0], ·…]`, its wrap-around
/// neighbours as halo columns beside the N values, so the cell loop runs over all N
/// columns with no wrap logic and no scalar edge cells. The kernel refreshes the halo of
/// every row it writes.
///
/// Rows start on 64-byte boundaries ([`Padded`], a stride that is a multiple of 8) and
/// their values eight places in, so the loads of the centre, upper and lower values and
/// every store are aligned to the AVX-512 vector (and so to the AVX2 one): an unaligned
/// vector crossing a cache line costs two accesses (measured: a 5-point stencil 20 %
/// faster aligned with AVX2; the kernel 4–15 % faster with AVX-512, see the module).
pub(super) const LEAD: usize = 8;

/// Row stride of the padded layout (see [`LEAD`]): room for the left halo, N values and
/// the right halo, rounded up to whole 64-byte vectors.
pub(super) const fn stride(n: usize) -> usize {
    (LEAD + n + 1).next_multiple_of(8)
}

/// Set the halo columns of one padded row of N values from its values.
#[inline(always)]
pub(super) fn fill_halo(row: &mut [f64], n: usize) {
    row[LEAD - 1] = row[LEAD + n - 1];
    row[LEAD + n] = row[LEAD];
}

/// A padded state array (rows of [`stride`] values) whose first value is on a
/// 64-byte boundary.
#[derive(Clone, Debug, Default)]
pub(super) struct Padded(Vec<Lane>);

/// Eight values, aligned as one AVX-512 vector (a cache line).
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(64))]
struct Lane([f64; 8]);

thread_local! {
    /// Arrays of this thread's finished simulations, for the next ones. A fresh array
    /// costs its page faults (the allocator hands a freed state back to the kernel and
    /// faults it in again): measured, 25 µs of a 64×64×64 run's 0.49 ms went to
    /// allocating a second state alone; at 512×512 a fresh state is ~1,600 page faults,
    /// about 2 ms of a 30 ms run. At most [`SPARE_ARRAYS`] arrays and [`SPARE_BYTES`] in all
    /// are kept per thread, the most recently freed.
    static SPARE: std::cell::RefCell<Vec<Vec<Lane>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Arrays kept per thread for reuse ([`SPARE`]): V, a and i of a few states.
const SPARE_ARRAYS: usize = 8;
/// Bytes kept per thread for reuse ([`SPARE`]): the state of one 512×512 grid (three
/// 2.2 MB arrays) fits.
const SPARE_BYTES: usize = 8 << 20;

impl Padded {
    /// `len` values (a multiple of 8), their contents unspecified: an array of that
    /// length a finished simulation on this thread left behind, or a new zeroed one.
    /// Every user writes a value before it reads it.
    pub(super) fn with_len(len: usize) -> Self {
        debug_assert_eq!(len % 8, 0);
        let lanes = len / 8;
        let spare = SPARE
            .try_with(|spare| {
                let mut spare = spare.try_borrow_mut().ok()?;
                let k = spare.iter().position(|v| v.len() == lanes)?;
                Some(spare.remove(k))
            })
            .ok()
            .flatten();
        Padded(spare.unwrap_or_else(|| bytemuck::zeroed_vec(lanes)))
    }

    /// Make it `len` values long (a multiple of 8), contents unspecified if the length
    /// changes (the step's ghost rows, written before they are read).
    pub(super) fn resize(&mut self, len: usize) {
        if self.len() != len {
            *self = Padded::with_len(len);
        }
    }
}

impl Drop for Padded {
    fn drop(&mut self) {
        let v = std::mem::take(&mut self.0);
        let bytes = |v: &Vec<Lane>| std::mem::size_of_val(&v[..]);
        if v.is_empty() || bytes(&v) > SPARE_BYTES {
            return;
        }
        // Not during the thread's exit, nor from inside `with_len` (no borrow there).
        let _ = SPARE.try_with(|spare| {
            if let Ok(mut spare) = spare.try_borrow_mut() {
                // The oldest make room (the list is in the order arrays were freed).
                let mut kept: usize = spare.iter().map(bytes).sum();
                while !spare.is_empty()
                    && (spare.len() >= SPARE_ARRAYS || kept + bytes(&v) > SPARE_BYTES)
                {
                    kept -= bytes(&spare.remove(0));
                }
                spare.push(v);
            }
        });
    }
}

impl std::ops::Deref for Padded {
    type Target = [f64];
    fn deref(&self) -> &[f64] {
        bytemuck::cast_slice(&self.0)
    }
}

impl std::ops::DerefMut for Padded {
    fn deref_mut(&mut self) -> &mut [f64] {
        bytemuck::cast_slice_mut(&mut self.0)
    }
}

/// A sweep as a [`pulp::WithSimd`] operation: `dispatch` calls `with_simd` from a
/// function compiled for the detected target features, and `#[inline(always)]` all the
/// way down puts the row loop in it. A closure would be inlined there only while the
/// optimiser finds it small enough: a larger sweep written that way ran SSE2, silently.
struct Op<'a, const TURING: bool, const JITTER: bool> {
    sweep: Sweep<'a>,
    k: Consts,
}

/// A sweep to run: [`band_sweep`] of a band, [`ring_sweep`] of the whole state, or
/// [`pair_sweep`] of a band for two steps.
enum Sweep<'a> {
    Band(Band<'a>),
    Ring(Ring<'a>),
    Pair(Pair<'a>),
}

impl<const TURING: bool, const JITTER: bool> pulp::WithSimd for Op<'_, TURING, JITTER> {
    /// Each step's counts (a single step's in the first).
    type Output = [Counts; 2];

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> [Counts; 2] {
        match self.sweep {
            Sweep::Band(band) => [
                band_sweep::<TURING, JITTER>(band, self.k),
                Counts::default(),
            ],
            Sweep::Ring(ring) => [
                ring_sweep::<TURING, JITTER>(ring, self.k),
                Counts::default(),
            ],
            Sweep::Pair(pair) => pair_sweep::<TURING, JITTER>(pair, self.k),
        }
    }
}

/// One band of the state for a step, [`band`]: rows `first_row..first_row + len`,
/// each field's in `len + 2` row slots, row `first_row + x` in slot `x + 2` before a
/// step going `down` and in slot `x` before a step going up.
pub(super) struct Band<'a> {
    pub n: usize,
    pub first_row: usize,
    pub len: usize,
    pub down: bool,
    /// `[v, a, i]` (a and i empty without Turing).
    pub parts: [Part<'a>; 3],
    /// The step's jitter draws, N×N unpadded, all rows (empty without jitter).
    pub z: &'a [f64],
}

/// One field of a [`Band`].
#[derive(Default)]
pub(super) struct Part<'a> {
    /// The slots the step writes: going down slots 0..len, going up slots 2..len + 2.
    pub body: &'a mut [f64],
    /// The two slots it does not write: going down slots len and len + 1 (old rows
    /// len − 2 and len − 1), going up slots 0 and 1 (old rows 0 and 1). The band
    /// reads them, and so does its neighbour on that side, for its edge.
    pub kept: &'a [f64],
    /// The old rows just above and just below the band (wrapping around the grid):
    /// the neighbour's kept row on one side, a copy made before the step of the row
    /// the neighbour overwrites on the other.
    pub above: &'a [f64],
    pub below: &'a [f64],
}

/// One step over a band in its ring of `len + 2` row slots. Going down it writes new
/// row x into slot x (old row x − 2's, whose last reader was new row x − 1); going up
/// it writes new row x into slot x + 2. Either way the band ends contiguous at the
/// other end of its slots and no row is copied back; the rows outside the band are
/// read where no band writes them, so bands are independent and run in any order, on
/// any thread. Every new row is computed from old rows only, so the bytes are those of
/// any other sweep.
pub(super) fn band(arch: pulp::Arch, band: Band<'_>, k: Consts) -> Counts {
    let (turing, jitter) = (!band.parts[1].body.is_empty(), !band.z.is_empty());
    dispatch(arch, Sweep::Band(band), turing, jitter, k)[0]
}

#[inline(always)]
fn band_sweep<const TURING: bool, const JITTER: bool>(mut b: Band<'_>, k: Consts) -> Counts {
    let (n, len, down) = (b.n, b.len, b.down);
    let mut acc = Acc::default();
    for step in 0..len {
        let x = if down { step } else { len - 1 - step };
        let [pv, pa, pi] = &mut b.parts;
        let (v, ov) = ring_row(pv, x, len, n, down);
        let ((a, oa), (i, oi)) = if TURING {
            (ring_row(pa, x, len, n, down), ring_row(pi, x, len, n, down))
        } else {
            ((v, <&mut [f64]>::default()), (v, <&mut [f64]>::default()))
        };
        let r = b.first_row + x;
        let z: &[f64] = if JITTER { &b.z[r * n..][..n] } else { &[] };
        row::<TURING, JITTER>([v, a, i], z, ov, oa, oi, k, &mut acc);
    }
    Counts {
        activations: acc.activations,
        clamped: acc.clamped,
        nonfinite: acc.nonfinite,
    }
}

/// One band of the state for two steps in one pass, [`pair`]: the slots as for a
/// [`Band`] going `down` or up, and the rows between the steps in `mid`.
pub(super) struct Pair<'a> {
    pub n: usize,
    pub first_row: usize,
    pub len: usize,
    pub down: bool,
    /// `[v, a, i]` (a and i empty without Turing).
    pub parts: [PairPart<'a>; 3],
    /// Each step's jitter draws, N×N unpadded, all rows (empty without jitter).
    pub z: [&'a [f64]; 2],
    /// The second step's growth event, added to V between the two steps.
    pub spike: Option<Spike>,
    /// Room for three rows of each field (of V alone without Turing): the state
    /// between the steps, never more of it than the second step's row triple.
    pub mid: &'a mut [f64],
}

/// A growth event: `amount` added to V at row `row`, column `col`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Spike {
    pub row: usize,
    pub col: usize,
    pub amount: f64,
}

/// One field of a [`Pair`].
#[derive(Default)]
pub(super) struct PairPart<'a> {
    /// The slots the pass writes, as [`Part::body`].
    pub body: &'a mut [f64],
    /// The two slots it does not write, as [`Part::kept`].
    pub kept: &'a [f64],
    /// Old rows `first_row − 2`, `first_row − 1`, `first_row + len` and
    /// `first_row + len + 1` (wrapping around the grid), where no band writes them
    /// during the pass: in a neighbour's kept slots or in copies made before it.
    pub outside: [&'a [f64]; 4],
}

/// Two steps over a band in one pass (temporal blocking): each row of the first step
/// goes to a ring of three rows (`mid`), and each row of the second is computed as soon
/// as the first step's rows around it are there, and written where a single step going
/// the same way would write its row — so the state makes one trip through the caches
/// for two steps. The band computes the first step's rows just outside it too (from
/// the old rows outside it, `PairPart::outside`), once more than their own band does:
/// bands share nothing they write, as in [`band`]. The old rows a band overwrites
/// before a neighbour has read them are its first two going down and its last two
/// going up, of which the caller has copies (made by the bands of the pass before as
/// they finished, see `Simulation::sweep_pair`). The second step's growth event is added
/// to its row of the first step (the neighbour's copy of the row too) before that row
/// is read. Every cell of both steps is computed by [`row`] from its inputs as in two
/// single steps, so the bytes are theirs. Returns each step's counts (the first step's
/// rows outside the band not counted).
pub(super) fn pair(arch: pulp::Arch, p: Pair<'_>, k: Consts) -> [Counts; 2] {
    let (turing, jitter) = (!p.parts[1].body.is_empty(), !p.z[0].is_empty());
    dispatch(arch, Sweep::Pair(p), turing, jitter, k)
}

#[inline(always)]
fn pair_sweep<const TURING: bool, const JITTER: bool>(p: Pair<'_>, k: Consts) -> [Counts; 2] {
    let Pair {
        n,
        first_row,
        len,
        down,
        mut parts,
        z: [z1, z2],
        spike,
        mid,
    } = p;
    let at = Rows {
        n,
        first_row,
        len,
        down,
    };
    let (mut first, mut second, mut outside) = (Acc::default(), Acc::default(), Acc::default());
    let l = len as isize;
    // The first step's row y (−1 to len: one row outside the band on each side), then
    // the second step's row beside it once its three inputs are in the ring.
    for j in 0..l + 2 {
        let y = if down { j - 1 } else { l - j };
        let acc = if y < 0 || y == l {
            &mut outside
        } else {
            &mut first
        };
        first_step_row::<TURING, JITTER>(&parts, mid, y, at, z1, spike, k, acc);
        if j >= 2 {
            // Going down, row y − 1 of the second step; going up, row y + 1.
            let x = if down { y - 1 } else { y + 1 } as usize;
            second_step_row::<TURING, JITTER>(&mut parts, mid, x, at, z2, k, &mut second);
        }
    }
    [first, second].map(|acc| Counts {
        activations: acc.activations,
        clamped: acc.clamped,
        nonfinite: acc.nonfinite,
    })
}

/// Where a [`Pair`]'s band is.
#[derive(Clone, Copy)]
struct Rows {
    n: usize,
    first_row: usize,
    len: usize,
    down: bool,
}

impl Rows {
    /// Old row `y` of the band (−2 to len + 1, relative to its first row) of one field.
    #[inline(always)]
    fn old<'x>(self, p: &'x PairPart<'_>, y: isize) -> &'x [f64] {
        let (s, len) = (stride(self.n), self.len);
        if y < 0 {
            return p.outside[(y + 2) as usize];
        }
        let y = y as usize;
        if y >= len {
            return p.outside[y - len + 2];
        }
        if self.down {
            // Old row y is in slot y + 2; slots len and len + 1 are kept.
            let slot = y + 2;
            if slot < len {
                &p.body[slot * s..][..s]
            } else {
                &p.kept[(slot - len) * s..][..s]
            }
        } else if y < 2 {
            // Old row y is in slot y; slots 0 and 1 are kept.
            &p.kept[y * s..][..s]
        } else {
            &p.body[(y - 2) * s..][..s]
        }
    }
}

/// Row y (−1 to len) of a [`Pair`]'s first step, into ring row (y + 1) mod 3 of `mid`,
/// and the second step's growth event if it falls on this row.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn first_step_row<const TURING: bool, const JITTER: bool>(
    parts: &[PairPart<'_>; 3],
    mid: &mut [f64],
    y: isize,
    at: Rows,
    z: &[f64],
    spike: Option<Spike>,
    k: Consts,
    acc: &mut Acc,
) {
    let (n, s) = (at.n, stride(at.n));
    // A function, not a closure: a closure is not always inlined, and the cell loop
    // must see the slices' lengths to vectorise (it ran scalar, with bounds checks).
    #[inline(always)]
    fn tri<'x>(at: Rows, p: &'x PairPart<'_>, y: isize) -> Tri<'x> {
        Tri::new([at.old(p, y - 1), at.old(p, y), at.old(p, y + 1)], at.n)
    }
    let ring = (y + 1).rem_euclid(3) as usize;
    let (mv, rest) = mid.split_at_mut(3 * s);
    let ov = &mut mv[ring * s..][..s];
    let ((a, oa), (i, oi)) = if TURING {
        let (ma, mi) = rest.split_at_mut(3 * s);
        (
            (tri(at, &parts[1], y), &mut ma[ring * s..][..s]),
            (tri(at, &parts[2], y), &mut mi[ring * s..][..s]),
        )
    } else {
        let v = tri(at, &parts[0], y);
        ((v, <&mut [f64]>::default()), (v, <&mut [f64]>::default()))
    };
    let g = (at.first_row as isize + y).rem_euclid(n as isize) as usize;
    let z: &[f64] = if JITTER { &z[g * n..][..n] } else { &[] };
    let v = tri(at, &parts[0], y);
    row::<TURING, JITTER>([v, a, i], z, ov, oa, oi, k, acc);
    if let Some(sp) = spike
        && sp.row == g
    {
        ov[LEAD + sp.col] += sp.amount;
        fill_halo(ov, n);
    }
}

/// Row x (0 to len − 1) of a [`Pair`]'s second step from the first step's rows
/// x − 1, x and x + 1 in the ring, into the band's slot for it.
#[inline(always)]
fn second_step_row<const TURING: bool, const JITTER: bool>(
    parts: &mut [PairPart<'_>; 3],
    mid: &[f64],
    x: usize,
    at: Rows,
    z: &[f64],
    k: Consts,
    acc: &mut Acc,
) {
    let (n, s) = (at.n, stride(at.n));
    // The first step's row y is in ring row (y + 1) mod 3 (a function: see
    // `first_step_row`).
    #[inline(always)]
    fn tri(mid: &[f64], f: usize, x: usize, n: usize) -> Tri<'_> {
        let s = stride(n);
        let ring = |y: usize| &mid[(3 * f + y % 3) * s..][..s];
        Tri::new([ring(x), ring(x + 1), ring(x + 2)], n)
    }
    let [pv, pa, pi] = parts;
    let ov = &mut pv.body[x * s..][..s];
    let v = tri(mid, 0, x, n);
    let ((a, oa), (i, oi)) = if TURING {
        (
            (tri(mid, 1, x, n), &mut pa.body[x * s..][..s]),
            (tri(mid, 2, x, n), &mut pi.body[x * s..][..s]),
        )
    } else {
        ((v, <&mut [f64]>::default()), (v, <&mut [f64]>::default()))
    };
    let z: &[f64] = if JITTER {
        &z[(at.first_row + x) * n..][..n]
    } else {
        &[]
    };
    row::<TURING, JITTER>([v, a, i], z, ov, oa, oi, k, acc);
}

/// The whole state of one field, N rows in N + 2 row slots, for [`ring`]: row x of
/// the state is in slot `base + x`.
pub(super) struct Ring<'a> {
    pub n: usize,
    /// `(N + 2) · stride(N)` values each; a and i empty without Turing.
    pub v: &'a mut [f64],
    pub a: &'a mut [f64],
    pub i: &'a mut [f64],
    /// The step's jitter draws, N×N unpadded (empty without jitter).
    pub z: &'a [f64],
    /// 2 or 0: where row 0 is before the step; after it, it is at the other.
    pub base: usize,
    /// Room for one saved row of each field (made so if shorter).
    pub saved: &'a mut Padded,
}

/// One step over the whole state in its ring of N + 2 row slots, serially: [`band`]
/// when the grid is one band, with the wrap-around rows read in place. (The same step
/// through [`band`] ran 7 % slower at 64² and 3 % at 128², measured with `taskset -c 1
/// kernel_timing simulate|parts`: about 8 ns more per row, spread over the row set-up
/// rather than in the cell loop.) From
/// `base` 2 it sweeps down writing new row r into slot r (old row r − 2's, whose last
/// reader was new row r − 1); from `base` 0 it sweeps up writing new row r into slot
/// r + 2. Either way the state ends contiguous at the other base, no row is copied
/// back, and the only old row overwritten before its last reader — row 0 going down,
/// row N − 1 going up, both neighbours of the wrap — is saved first. Every new row is
/// computed from old rows only, so the bytes are those of any other sweep.
pub(super) fn ring(arch: pulp::Arch, r: Ring<'_>, k: Consts) -> Counts {
    let (turing, jitter) = (!r.a.is_empty(), !r.z.is_empty());
    dispatch(arch, Sweep::Ring(r), turing, jitter, k)[0]
}

/// Run `sweep` compiled for its case (Turing, jitter) on the best instruction set.
fn dispatch(
    arch: pulp::Arch,
    sweep: Sweep<'_>,
    turing: bool,
    jitter: bool,
    k: Consts,
) -> [Counts; 2] {
    match (turing, jitter) {
        (true, false) => arch.dispatch(Op::<true, false> { sweep, k }),
        (true, true) => arch.dispatch(Op::<true, true> { sweep, k }),
        (false, false) => arch.dispatch(Op::<false, false> { sweep, k }),
        (false, true) => arch.dispatch(Op::<false, true> { sweep, k }),
    }
}

#[inline(always)]
fn ring_sweep<const TURING: bool, const JITTER: bool>(r: Ring<'_>, k: Consts) -> Counts {
    let n = r.n;
    let s = stride(n);
    let down = r.base == 2;
    let fields = if TURING { 3 } else { 1 };
    let kept = if down { 0 } else { n - 1 };
    if r.saved.len() < 3 * s {
        r.saved.resize(3 * s);
    }
    let mut states = [r.v, r.a, r.i];
    for (f, st) in states.iter().enumerate().take(fields) {
        r.saved[f * s..][..s].copy_from_slice(&st[(r.base + kept) * s..][..s]);
    }
    let saved = &r.saved[..];
    let mut acc = Acc::default();
    for step in 0..n {
        let row_no = if down { step } else { n - 1 - step };
        let [sv, sa, si] = &mut states;
        let (v, ov) = whole_row(sv, &saved[..s], row_no, n, s, down);
        let ((a, oa), (i, oi)) = if TURING {
            (
                whole_row(sa, &saved[s..][..s], row_no, n, s, down),
                whole_row(si, &saved[2 * s..][..s], row_no, n, s, down),
            )
        } else {
            ((v, <&mut [f64]>::default()), (v, <&mut [f64]>::default()))
        };
        let z: &[f64] = if JITTER { &r.z[row_no * n..][..n] } else { &[] };
        row::<TURING, JITTER>([v, a, i], z, ov, oa, oi, k, &mut acc);
    }
    Counts {
        activations: acc.activations,
        clamped: acc.clamped,
        nonfinite: acc.nonfinite,
    }
}

/// Old rows r − 1, r, r + 1 of one field in its ring (the wrap-around neighbour that the
/// sweep has overwritten from `saved`) and the slot new row r goes to: [`ring_row`]
/// with the band's edges its own.
#[inline(always)]
fn whole_row<'x>(
    st: &'x mut [f64],
    saved: &'x [f64],
    r: usize,
    n: usize,
    s: usize,
    down: bool,
) -> (Tri<'x>, &'x mut [f64]) {
    if down {
        // Old row x is in slot x + 2; the new row goes to slot r, below all of them.
        let (head, tail) = st.split_at_mut((r + 1) * s);
        let tail = &*tail;
        let old = |x: usize| &tail[(x + 1 - r) * s..][..s];
        let up = if r == 0 { old(n - 1) } else { old(r - 1) };
        let below = if r + 1 == n { saved } else { old(r + 1) };
        (Tri::new([up, old(r), below], n), &mut head[r * s..][..s])
    } else {
        // Old row x is in slot x; the new row goes to slot r + 2, above all of them.
        let (head, tail) = st.split_at_mut((r + 2) * s);
        let head = &*head;
        let old = |x: usize| &head[x * s..][..s];
        let up = if r == 0 { saved } else { old(r - 1) };
        let below = if r + 1 == n { old(0) } else { old(r + 1) };
        (Tri::new([up, old(r), below], n), &mut tail[..s])
    }
}

/// Old rows x − 1, x, x + 1 of one field in its band and the slot new row x goes to.
#[inline(always)]
fn ring_row<'x>(
    p: &'x mut Part<'_>,
    x: usize,
    len: usize,
    n: usize,
    down: bool,
) -> (Tri<'x>, &'x mut [f64]) {
    let s = stride(n);
    let kept = p.kept;
    let (old, new): (Tri<'x>, &'x mut [f64]);
    if down {
        // Old row y is in slot y + 2; the new row goes to slot x, below all of them.
        let (head, rest) = p.body.split_at_mut((x + 1) * s);
        let rest = &*rest;
        let at = |y: usize| -> &'x [f64] {
            let slot = y + 2;
            if slot < len {
                &rest[(slot - x - 1) * s..][..s]
            } else {
                &kept[(slot - len) * s..][..s]
            }
        };
        let up = if x == 0 { p.above } else { at(x - 1) };
        let below = if x + 1 == len { p.below } else { at(x + 1) };
        old = Tri::new([up, at(x), below], n);
        new = &mut head[x * s..][..s];
    } else {
        // Old row y is in slot y; the new row goes to slot x + 2, above all of them.
        let (head, rest) = p.body.split_at_mut(x * s);
        let head = &*head;
        let at = |y: usize| -> &'x [f64] {
            if y < 2 {
                &kept[y * s..][..s]
            } else {
                &head[(y - 2) * s..][..s]
            }
        };
        let up = if x == 0 { p.above } else { at(x - 1) };
        let below = if x + 1 == len { p.below } else { at(x + 1) };
        old = Tri::new([up, at(x), below], n);
        new = &mut rest[..s];
    }
    (old, new)
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
    /// From the padded rows above, at and below (each `stride(n)` long).
    #[inline(always)]
    fn new([up, mid, down]: [&'a [f64]; 3], n: usize) -> Self {
        Tri {
            up: &up[LEAD..][..n],
            down: &down[LEAD..][..n],
            left: &mid[LEAD - 1..][..n],
            mid: &mid[LEAD..][..n],
            right: &mid[LEAD + 1..][..n],
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
fn row<const TURING: bool, const JITTER: bool>(
    [v, a, i]: [Tri<'_>; 3],
    z: &[f64],
    ov: &mut [f64],
    oa: &mut [f64],
    oi: &mut [f64],
    k: Consts,
    acc: &mut Acc,
) {
    let n = v.mid.len();
    let ovi = &mut ov[LEAD..][..n];
    let (oai, oii): (&mut [f64], &mut [f64]) = if TURING {
        (&mut oa[LEAD..][..n], &mut oi[LEAD..][..n])
    } else {
        (&mut [], &mut [])
    };
    let (mut activations, mut clamped) = (0u64, 0u64);
    for c in 0..n {
        let mut a_new = 0.0;
        if TURING {
            // In this order (a, then i): measured 3 % faster than both Laplacians first.
            let (am, la) = a.lap(c);
            a_new = am + (D_A * la + R_A * (am * (1.0 - am) - i.mid[c]));
            oai[c] = clip(a_new, 0.0, 1.0);
            let (im, li) = i.lap(c);
            let i_new = im + (D_I * li + R_I * (a_new - im));
            oii[c] = clip(i_new, 0.0, 1.0);
        }
        let (vm, lv) = v.lap(c);
        let mut vn = vm + k.alpha * lv;
        if TURING {
            let hit = a_new > k.threshold;
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
    if clamped > 0 && ov[LEAD..][..n].iter().any(|x| x.is_nan()) {
        acc.nonfinite += 1;
    }
    fill_halo(ov, n);
    if TURING {
        fill_halo(oa, n);
        fill_halo(oi, n);
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
