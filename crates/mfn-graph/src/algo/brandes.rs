//! Unweighted Brandes, [`LANES`] sources at once where their levels overlap.
//!
//! One search per source visits every arc twice (forward for σ, backward for δ), and
//! each visit is a test of the neighbour's level that a branch predictor cannot learn.
//! Run the searches of `L` sources together (`L` = [`LANES`]), each node holding its
//! `L` distances, path counts σ and coefficients (1 + δ)/σ side by side, and a node is
//! visited once per *distinct* level it has among the sources: on a small-world graph
//! the `L` distances of a node take two or three values, so the arcs are walked two or
//! three times for `L` sources instead of `L` times, and every lane's test is a vector
//! compare and select (no branch).
//!
//! Level-synchronous over the union of the frontiers, F_ℓ = { v : d_j(v) = ℓ for some
//! lane j }:
//!
//! - forward, for v ∈ F_ℓ and each arc v → w, in every lane j with d_j(v) = ℓ:
//!   d_j(w) ← ℓ + 1 if unseen, and σ_j(w) += σ_j(v) if d_j(w) = ℓ + 1; w joins F_{ℓ+1}
//!   once if any lane saw it first;
//! - backward, ℓ from the deepest level up, for v ∈ F_ℓ, in every lane with d_j(v) = ℓ:
//!   δ_j(v) = σ_j(v) · Σ_{w : d_j(w) = ℓ+1} c_j(w) in arc order and
//!   c_j(v) = (1 + δ_j(v)) / σ_j(v).
//!
//! Each lane's δ is the one-source search's to the bit: the same products and the same
//! sum in the same (arc) order. σ sums the same terms in another order (the union's),
//! exact while path counts stay below 2⁵³ (or a node has at most two predecessors).
//! The sources' contributions are added to the result lane by lane, in source order,
//! as the one-source loop adds them.
//!
//! On a lattice the sources' levels do not overlap (nearby sources' distances to a
//! node differ by as much as the sources are apart: for batches of 8 on a 100×100
//! grid the (node, source) pairs reached are 1.1 times the frontiers joined, against
//! 3.2 times on ER n = 1000, p = 0.01, `scripts/bench/search_spread.py`) and the batch
//! walks nearly as many arcs as single searches, each step wider: a probe batch
//! decides, once per call ([`brandes`]).

use super::csr::{Arcs, Csr, MIN_SOURCES, Progress, STEP, par_chunks};
use crate::GraphError;

/// Sources searched together: one 512-bit vector of `f64`, two of AVX2.
pub(crate) const LANES: usize = 8;

const UNSEEN: u32 = u32::MAX;

/// Brandes' accumulation from every source in `sources` over hop distances
/// (`_single_source_shortest_path_basic` + `_accumulate_basic` / `_accumulate_endpoints`
/// of NetworkX), without rescaling: the sum over sources of δ_s(v) (+ 1 per reached
/// node, and the reached count at the source, with `endpoints`), in source order
/// within fixed chunks run in parallel, the chunks added in order (the result does not
/// depend on the number of threads).
///
/// The searches run [`LANES`] at a time when the first batch of sources shows that
/// they share levels (a node joins fewer than half as many frontiers as the lanes
/// reach it); on a graph where they do not (a lattice: nearby sources' distances to a
/// node differ by as much as the sources are apart) one source at a time is faster.
/// Either way the result is the same, bit for bit, while path counts are exact (see
/// the module documentation).
pub(crate) fn brandes(
    csr: &Csr<'_>,
    sources: &[usize],
    endpoints: bool,
    progress: &Progress<'_>,
) -> Result<Vec<f64>, GraphError> {
    let batched = sources.len() <= MIN_SOURCES || share_levels(csr, &sources[..LANES], progress)?;
    accumulate(csr, sources, endpoints, batched, progress)
}

/// Whether the searches from `probe` share their levels enough to run together: a
/// batch of them, its result thrown away, joins fewer than half as many frontiers as
/// it reaches (node, source) pairs. Costs one batch; decided once per call, so that
/// the result does not depend on which thread ran which chunk.
fn share_levels(
    csr: &Csr<'_>,
    probe: &[usize],
    progress: &Progress<'_>,
) -> Result<bool, GraphError> {
    let n = csr.n();
    let spread = pulp::Arch::new().dispatch(Batch {
        out: &csr.out,
        s: &mut Batched::new(n),
        batch: probe,
        endpoints: false,
        probe: true,
        bc: &mut vec![0.0; n],
        progress,
    })?;
    Ok(2 * spread.joined <= spread.reached)
}

/// [`brandes`] with the searches `batched` or one at a time.
fn accumulate(
    csr: &Csr<'_>,
    sources: &[usize],
    endpoints: bool,
    batched: bool,
    progress: &Progress<'_>,
) -> Result<Vec<f64>, GraphError> {
    let n = csr.n();
    let arch = pulp::Arch::new();
    let parts = par_chunks(sources, MIN_SOURCES, |chunk| {
        let mut bc = vec![0.0f64; n];
        if batched {
            let mut s = Batched::new(n);
            for (b, batch) in chunk.chunks(LANES).enumerate() {
                arch.dispatch(Batch {
                    out: &csr.out,
                    s: &mut s,
                    batch,
                    endpoints,
                    probe: false,
                    bc: &mut bc,
                    progress,
                })?;
                for k in 0..batch.len() {
                    progress.tick(b * LANES + k)?;
                }
            }
        } else {
            let mut s = Single::new(n);
            for (k, &src) in chunk.iter().enumerate() {
                s.run(&csr.out, src, endpoints, &mut bc);
                progress.tick(k)?;
            }
        }
        if chunk.len() % STEP != 0 {
            progress.step(chunk.len() % STEP)?;
        }
        Ok(bc)
    })?;
    let mut bc = vec![0.0; n];
    for p in parts {
        bc.iter_mut().zip(p).for_each(|(a, b)| *a += b);
    }
    Ok(bc)
}

/// All ones when `on`, else zero: `x & mask(on)` keeps x or makes it +0.0 without a
/// branch. (LLVM turns `if on { x } else { 0.0 }` and `on as f64 * x` back into jumps,
/// which mispredict on the level tests of a search.)
#[inline(always)]
fn mask(on: bool) -> u64 {
    0u64.wrapping_sub(u64::from(on))
}

/// One source at a time: one thread's arrays, reset after each source for the nodes it
/// reached.
struct Single {
    dist: Vec<u32>,
    sigma: Vec<f64>,
    /// (1 + δ(w)) / σ(w) of every node the backward pass has finished; 0 elsewhere.
    coeff: Vec<f64>,
    /// Visit order; a search's first `len` entries are live.
    order: Vec<u32>,
}

impl Single {
    fn new(n: usize) -> Single {
        Single {
            dist: vec![UNSEEN; n],
            sigma: vec![0.0; n],
            coeff: vec![0.0; n],
            order: vec![0; n],
        }
    }

    /// The search from `s`, its contributions added to `bc`.
    fn run(&mut self, out: &Arcs<'_>, s: usize, endpoints: bool, bc: &mut [f64]) {
        let Single {
            dist,
            sigma,
            coeff,
            order,
        } = self;
        dist[s] = 0;
        sigma[s] = 1.0;
        order[0] = s as u32;
        let (mut head, mut len) = (0, 1);
        // The neighbour tests are jumps: this path serves lattices, where a predictor
        // learns them, and there they measured faster than selects (100×100 grid:
        // 1,448–1,476 → 1,293–1,322 ms).
        while head < len {
            let v = order[head] as usize;
            head += 1;
            let (dv, sv) = (dist[v] + 1, sigma[v]);
            for &w in out.nbrs(v) {
                let w = w as usize;
                if dist[w] == UNSEEN {
                    dist[w] = dv;
                    order[len] = w as u32;
                    len += 1;
                }
                if dist[w] == dv {
                    sigma[w] += sv;
                }
            }
        }
        let order = &order[..len];
        if endpoints {
            bc[s] += order.len() as f64 - 1.0;
        }
        let end = if endpoints { 1.0 } else { 0.0 };
        // Dependencies pulled from the successors, deepest level first:
        // δ(v) = σ(v) · Σ_{w : d(w) = d(v) + 1} (1 + δ(w)) / σ(w): nothing is
        // scattered, and no predecessor lists are kept.
        for &v in order.iter().rev() {
            let v = v as usize;
            let next = dist[v] + 1;
            let mut sum = 0.0;
            for &w in out.nbrs(v) {
                let w = w as usize;
                if dist[w] == next {
                    sum += coeff[w];
                }
            }
            let delta = sigma[v] * sum;
            coeff[v] = (1.0 + delta) / sigma[v];
            if v != s {
                bc[v] += delta + end;
            }
        }
        for &v in order {
            let v = v as usize;
            dist[v] = UNSEEN;
            sigma[v] = 0.0;
            coeff[v] = 0.0;
        }
    }
}

type U = [u32; LANES];
type F = [f64; LANES];

/// [`LANES`] sources at a time: one thread's arrays, reset after each batch for the
/// nodes it reached.
struct Batched {
    dist: Vec<U>,
    sigma: Vec<F>,
    /// c_j(v) = (1 + δ_j(v)) / σ_j(v) once v's level is done backward; 0 before.
    coeff: Vec<F>,
    delta: Vec<F>,
    /// The last level whose frontier `v` joined, [`UNSEEN`] if none in this batch.
    mark: Vec<u32>,
    /// The frontiers, level after level (a node once per distinct level it has).
    order: Vec<u32>,
    /// Where each level's frontier starts in `order`, and where the last one ends.
    levels: Vec<usize>,
    /// The nodes a batch reached, each once.
    reached: Vec<u32>,
}

impl Batched {
    fn new(n: usize) -> Batched {
        Batched {
            dist: vec![[UNSEEN; LANES]; n],
            sigma: vec![[0.0; LANES]; n],
            coeff: vec![[0.0; LANES]; n],
            delta: vec![[0.0; LANES]; n],
            mark: vec![UNSEEN; n],
            // A node joins at most one frontier per lane, and a push writes one slot
            // past the end before it knows whether it counts.
            order: vec![0; n * LANES + 1],
            levels: Vec::new(),
            reached: vec![0; n + 1],
        }
    }
}

/// How much a batch's searches shared: frontiers the nodes joined, against
/// (node, source) pairs reached.
struct Spread {
    joined: usize,
    reached: usize,
}

/// One batch of up to [`LANES`] sources as a [`pulp::WithSimd`] operation, so that
/// the lane loops are compiled for the CPU's widest vectors.
struct Batch<'a, 'g> {
    out: &'a Arcs<'g>,
    s: &'a mut Batched,
    batch: &'a [usize],
    endpoints: bool,
    /// Count what the searches reached (for [`Spread`]) even without `endpoints`.
    probe: bool,
    bc: &'a mut [f64],
    /// Checked at every level: a batch is 8 searches, too long to run blind.
    progress: &'a Progress<'a>,
}

impl pulp::WithSimd for Batch<'_, '_> {
    /// `Err(Cancelled)` with the state left dirty: the caller drops it.
    type Output = Result<Spread, GraphError>;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> Result<Spread, GraphError> {
        run_batch(self)
    }
}

#[inline(always)]
fn run_batch(op: Batch<'_, '_>) -> Result<Spread, GraphError> {
    let Batch {
        out,
        s,
        batch,
        endpoints,
        probe,
        bc,
        progress,
    } = op;
    let Batched {
        dist,
        sigma,
        coeff,
        delta,
        mark,
        order,
        levels,
        reached,
    } = s;
    // Slices, whose addresses and lengths stay in registers; through the `Vec`s they
    // are reloaded after every store.
    let (dist, sigma, coeff, delta) = (
        &mut dist[..],
        &mut sigma[..],
        &mut coeff[..],
        &mut delta[..],
    );
    let (mark, order, reached) = (&mut mark[..], &mut order[..], &mut reached[..]);
    let mut len = 0;
    levels.clear();
    levels.push(0);
    for (j, &src) in batch.iter().enumerate() {
        dist[src][j] = 0;
        sigma[src][j] = 1.0;
        if mark[src] == UNSEEN {
            mark[src] = 0;
            order[len] = src as u32;
            len += 1;
        }
    }
    // Forward: distances and path counts, frontier by frontier.
    let (mut lo, mut level) = (0, 0u32);
    while lo < len {
        progress.check()?;
        let hi = len;
        levels.push(hi);
        let next = level + 1;
        for idx in lo..hi {
            let v = order[idx] as usize;
            let (dv, sv) = (dist[v], sigma[v]);
            let mut on = [false; LANES];
            let mut send = [0.0f64; LANES];
            for j in 0..LANES {
                on[j] = dv[j] == level;
                send[j] = f64::from_bits(sv[j].to_bits() & mask(on[j]));
            }
            for &w in out.nbrs(v) {
                let w = w as usize;
                let mut dw = dist[w];
                let mut any = false;
                for j in 0..LANES {
                    let new = on[j] & (dw[j] == UNSEEN);
                    dw[j] = if new { next } else { dw[j] };
                    any |= new;
                }
                dist[w] = dw;
                let sw = &mut sigma[w];
                for j in 0..LANES {
                    sw[j] += f64::from_bits(send[j].to_bits() & mask(dw[j] == next));
                }
                let mw = mark[w];
                order[len] = w as u32;
                len += usize::from(any & (mw != next));
                mark[w] = if any { next } else { mw };
            }
        }
        lo = hi;
        level = next;
    }
    levels.push(len);
    // Backward: dependencies pulled from the successors, deepest level first.
    {
        for l in (0..levels.len() - 1).rev() {
            progress.check()?;
            let (level, next) = (l as u32, l as u32 + 1);
            for &v in &order[levels[l]..levels[l + 1]] {
                let v = v as usize;
                let mut sum = [0.0f64; LANES];
                for &w in out.nbrs(v) {
                    let w = w as usize;
                    let (dw, cw) = (&dist[w], &coeff[w]);
                    for j in 0..LANES {
                        sum[j] += f64::from_bits(cw[j].to_bits() & mask(dw[j] == next));
                    }
                }
                let (dv, sv) = (dist[v], sigma[v]);
                let (cv, ev) = (&mut coeff[v], &mut delta[v]);
                for j in 0..LANES {
                    let d = sv[j] * sum[j];
                    let on = dv[j] == level;
                    ev[j] = if on { d } else { ev[j] };
                    cv[j] = if on { (1.0 + d) / sv[j] } else { cv[j] };
                }
            }
        }
    }
    // The nodes reached, each once: at its first place in `order` its mark is still
    // set. (A compaction without a branch: which place is a node's first is random.)
    let mut nodes = 0;
    for &v in &order[..len] {
        reached[nodes] = v;
        nodes += usize::from(mark[v as usize] != UNSEEN);
        mark[v as usize] = UNSEEN;
    }
    let nodes = &reached[..nodes];
    let mut count = [0u32; LANES];
    for &v in nodes.iter().filter(|_| endpoints || probe) {
        let dv = &dist[v as usize];
        for j in 0..LANES {
            count[j] += u32::from(dv[j] != UNSEEN);
        }
    }
    // Each source's contributions, added in source order; then the arrays back to
    // unseen. Adding +0.0 for a lane that did not reach the node leaves the sum's bits
    // as they are (no sum here is −0.0).
    let end = if endpoints { 1.0 } else { 0.0 };
    let mut srcs = [UNSEEN; LANES];
    let mut own = [0.0f64; LANES];
    for (j, &src) in batch.iter().enumerate() {
        srcs[j] = src as u32;
        own[j] = if endpoints {
            f64::from(count[j]) - 1.0
        } else {
            0.0
        };
    }
    for &v in nodes {
        let v = v as usize;
        let (dv, ev) = (&dist[v], &delta[v]);
        let mut add = [0.0f64; LANES];
        for j in 0..LANES {
            let other = f64::from_bits((ev[j] + end).to_bits() & mask(dv[j] != UNSEEN));
            add[j] = if v as u32 == srcs[j] { own[j] } else { other };
        }
        for a in add {
            bc[v] += a;
        }
        dist[v] = [UNSEEN; LANES];
        sigma[v] = [0.0; LANES];
        coeff[v] = [0.0; LANES];
    }
    Ok(Spread {
        joined: len,
        reached: count.iter().map(|&c| c as usize).sum(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::NoControl;
    use crate::{Graph, Limits, generators};

    fn both(g: &Graph, sources: &[usize], endpoints: bool) -> [Vec<u64>; 2] {
        let csr = Csr::build(g, None).unwrap();
        [true, false].map(|batched| {
            let progress = Progress::new(&NoControl, sources.len());
            accumulate(&csr, sources, endpoints, batched, &progress)
                .unwrap()
                .into_iter()
                .map(f64::to_bits)
                .collect()
        })
    }

    #[test]
    fn batched_searches_give_the_bytes_of_single_ones() {
        let graphs = super::super::csr::shapes();
        for g in &graphs {
            let n = g.num_nodes();
            let all: Vec<usize> = (0..n).collect();
            // Not a multiple of the lanes, in no particular order.
            let some: Vec<usize> = (0..n).rev().step_by(7).take(13).collect();
            for sources in [&all[..], &some[..], &all[n / 2..n / 2 + 1]] {
                for endpoints in [false, true] {
                    let [batched, single] = both(g, sources, endpoints);
                    let differs = batched.iter().zip(&single).position(|(a, b)| a != b);
                    assert_eq!(differs, None, "{} {} {endpoints}", g.name(), sources.len());
                    assert!(batched.iter().any(|&b| b != 0), "{}", g.name());
                }
            }
        }
    }

    #[test]
    fn lattices_search_one_source_at_a_time() {
        let lim = Limits::default();
        let shares = |g: &Graph| {
            let csr = Csr::build(g, None).unwrap();
            let progress = Progress::new(&NoControl, LANES);
            share_levels(&csr, &(0..LANES).collect::<Vec<_>>(), &progress).unwrap()
        };
        assert!(!shares(&generators::grid_2d("grid", 30, 30, &lim).unwrap()));
        assert!(shares(
            &generators::erdos_renyi("er", 300, 0.03, false, 1, &lim).unwrap()
        ));
        assert!(shares(
            &generators::barabasi_albert("ba", 2000, 3, 1, &lim).unwrap()
        ));
    }
}
