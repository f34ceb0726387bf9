//! Breadth-first searches from [`WIDTH`] sources at once, for closeness's distance
//! sums and the diameter, radius and mean distance of the graph statistics
//! (multi-source BFS, Then et al., "The More the Merrier", VLDB 2014).
//!
//! Each node holds one bit per source: `seen` (the source has reached it) and `cur`
//! (it is on the source's current frontier). A level is one pass over the union of the
//! frontiers: every arc v → w ORs `cur(v)` into `next(w)`, and the bits of `next(w)`
//! not yet in `seen(w)` are the sources that reach w at this level. So a node's arcs
//! are walked once per *distinct* distance it has to the sources, not once per source
//! (on ER n = 1000, p = 0.01: about four times for 64 sources), with no test per arc.
//!
//! With the per-source counts of newly reached nodes c_j(ℓ) at each level ℓ, source
//! j's sum of distances is Σ_ℓ ℓ·c_j(ℓ), its reach 1 + Σ_ℓ c_j(ℓ) and its farthest
//! distance the last ℓ with c_j(ℓ) > 0: integers, the same as one search per source.
//! The counts are kept bit-sliced (bit j of word k is bit k of c_j), so a node's new
//! bits are added with a ripple carry of a few word operations rather than 64
//! additions, and read out once per level.

use super::csr::{Arcs, MIN_SOURCES, Progress, STEP, par_chunks};
use crate::GraphError;

/// For each source, over `arcs` of `n` nodes: the sum of the distances to the nodes it
/// reaches, how many it reaches (itself included) and the farthest, in source order.
///
/// [`WIDTH`] sources at a time when a probe batch shows that they share their levels
/// (the nodes join fewer than a quarter as many frontiers as there are (node, source)
/// pairs reached: 17.5 and 22.0 times fewer on ER n = 1000 and BA n = 10 000, 6.8
/// times on karate, `scripts/bench/search_spread.py`); on a lattice they do not (1.3
/// times on a 100×100 grid, where a batch walks nearly as many arcs as single
/// searches, each step wider) and the searches run one source at a time.
pub(crate) fn distance_sums(
    arcs: &Arcs<'_>,
    n: usize,
    sources: &[usize],
    progress: &Progress<'_>,
) -> Result<Vec<Reach>, GraphError> {
    // The probe's sums are the first sources' (exact integers, whichever way they are
    // found), so it costs nothing; the rest run in fixed chunks.
    let mut sums = Vec::with_capacity(sources.len());
    let (batched, rest) = if sources.len() <= MIN_SOURCES {
        (true, sources)
    } else {
        let joined = MsBfs::new(n).batch(arcs, &sources[..WIDTH], &mut sums, progress)?;
        progress.step(WIDTH)?;
        (shared(joined, &sums), &sources[WIDTH..])
    };
    let parts = par_chunks(rest, MIN_SOURCES, |chunk| {
        let mut sums = Vec::with_capacity(chunk.len());
        if batched {
            let mut bfs = MsBfs::new(n);
            for (b, batch) in chunk.chunks(WIDTH).enumerate() {
                bfs.batch(arcs, batch, &mut sums, progress)?;
                for k in 0..batch.len() {
                    progress.tick(b * WIDTH + k)?;
                }
            }
        } else {
            let mut dist = vec![u32::MAX; n];
            let mut order = vec![0u32; n];
            for (k, &s) in chunk.iter().enumerate() {
                sums.push(one_source(arcs, s, &mut dist, &mut order));
                progress.tick(k)?;
            }
        }
        if chunk.len() % STEP != 0 {
            progress.step(chunk.len() % STEP)?;
        }
        Ok(sums)
    })?;
    sums.extend(parts.into_iter().flatten());
    Ok(sums)
}

/// Whether a batch's searches shared their levels enough to run together: its nodes
/// joined fewer than a quarter as many frontiers as (node, source) pairs it reached.
fn shared(joined: usize, sums: &[Reach]) -> bool {
    4 * joined as u64 <= sums.iter().map(|r| r.reached).sum::<u64>()
}

/// [`distance_sums`] of one source. `dist` all `u32::MAX` and `order` of length n, left
/// as found. The neighbour tests are jumps: this path serves lattices, where a
/// predictor learns them, and there they measured faster than selects (100×100 grid
/// closeness: 712–742 → 446–480 ms).
fn one_source(arcs: &Arcs<'_>, s: usize, dist: &mut [u32], order: &mut [u32]) -> Reach {
    dist[s] = 0;
    order[0] = s as u32;
    let (mut head, mut len) = (0, 1);
    let mut tot = 0u64;
    while head < len {
        let v = order[head] as usize;
        head += 1;
        let dv = dist[v] + 1;
        for &w in arcs.nbrs(v) {
            let w = w as usize;
            if dist[w] == u32::MAX {
                dist[w] = dv;
                order[len] = w as u32;
                len += 1;
                tot += u64::from(dv);
            }
        }
    }
    let ecc = dist[order[len - 1] as usize];
    for &v in &order[..len] {
        dist[v as usize] = u32::MAX;
    }
    Reach {
        total: tot,
        reached: len as u64,
        ecc: u64::from(ecc),
    }
}

/// What one source's search found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reach {
    /// Σ of the distances to the nodes it reached.
    pub total: u64,
    /// Nodes it reached, itself included.
    pub reached: u64,
    /// The largest of those distances (its eccentricity when it reaches every node).
    pub ecc: u64,
}

/// Sources searched together: the bits of a `u64`.
const WIDTH: usize = 64;

/// One thread's arrays, all zero between batches.
struct MsBfs {
    seen: Vec<u64>,
    cur: Vec<u64>,
    next: Vec<u64>,
    /// The nodes on some source's frontier.
    front: Vec<u32>,
    /// The nodes an arc of the level reached, each once (a push writes one slot past
    /// the end before it knows whether it counts).
    hit: Vec<u32>,
    /// Every node a source reached, for the reset.
    reached: Vec<u32>,
}

impl MsBfs {
    fn new(n: usize) -> MsBfs {
        MsBfs {
            seen: vec![0; n],
            cur: vec![0; n],
            next: vec![0; n],
            front: Vec::with_capacity(n),
            hit: vec![0; n + 1],
            reached: Vec::with_capacity(n),
        }
    }

    /// For each of `sources` (at most [`WIDTH`], distinct), over `arcs`, pushed to
    /// `out`: its [`Reach`]. Returns how many frontiers the nodes joined. Checks
    /// `progress` for cancellation at every level (a batch is 64 searches); cancelled,
    /// it leaves the arrays dirty, for the caller to drop.
    fn batch(
        &mut self,
        arcs: &Arcs<'_>,
        sources: &[usize],
        out: &mut Vec<Reach>,
        progress: &Progress<'_>,
    ) -> Result<usize, GraphError> {
        assert!(sources.len() <= WIDTH, "at most {WIDTH} sources");
        let MsBfs {
            seen,
            cur,
            next,
            front,
            hit,
            reached,
        } = self;
        let (seen, cur, next, hit) = (&mut seen[..], &mut cur[..], &mut next[..], &mut hit[..]);
        front.clear();
        reached.clear();
        for (j, &s) in sources.iter().enumerate() {
            seen[s] |= 1 << j;
            cur[s] |= 1 << j;
            front.push(s as u32);
            reached.push(s as u32);
        }
        let mut tot = [0u64; WIDTH];
        let mut count = [1u64; WIDTH];
        let mut ecc = [0u64; WIDTH];
        let mut level = 0u64;
        let mut joined = sources.len();
        while !front.is_empty() {
            progress.check()?;
            level += 1;
            let mut hits = 0;
            for &v in front.iter() {
                let f = cur[v as usize];
                for &w in arcs.nbrs(v as usize) {
                    let w = w as usize;
                    let nw = next[w];
                    hit[hits] = w as u32;
                    hits += usize::from(nw == 0);
                    next[w] = nw | f;
                }
            }
            for &v in front.iter() {
                cur[v as usize] = 0;
            }
            front.clear();
            // How many nodes each source newly reached, as a bit-sliced counter: bit j
            // of plane k is bit k of source j's count, and adding a node's new bits is
            // a ripple carry across the planes (about two steps), not 64 additions.
            let mut planes = [0u64; 64];
            let mut top = 0;
            for &w in &hit[..hits] {
                let w = w as usize;
                let new = next[w] & !seen[w];
                next[w] = 0;
                if new != 0 {
                    if seen[w] == 0 {
                        reached.push(w as u32);
                    }
                    seen[w] |= new;
                    cur[w] = new;
                    front.push(w as u32);
                    joined += 1;
                    let (mut carry, mut k) = (new, 0);
                    while carry != 0 {
                        let c = planes[k] & carry;
                        planes[k] ^= carry;
                        carry = c;
                        k += 1;
                    }
                    top = top.max(k);
                }
            }
            for j in 0..WIDTH {
                let c: u64 = (0..top).map(|k| ((planes[k] >> j) & 1) << k).sum();
                tot[j] += level * c;
                count[j] += c;
                ecc[j] = if c > 0 { level } else { ecc[j] };
            }
        }
        for &v in reached.iter() {
            seen[v as usize] = 0;
        }

        out.extend((0..sources.len()).map(|j| Reach {
            total: tot[j],
            reached: count[j],
            ecc: ecc[j],
        }));
        Ok(joined)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::NoControl;
    use crate::{Graph, Limits, generators};

    #[test]
    fn batches_give_the_sums_of_single_searches() {
        let graphs = super::super::csr::shapes();
        for g in &graphs {
            let n = g.num_nodes();
            let csr = super::super::csr::Csr::build(g, None).unwrap();
            let (mut dist, mut order) = (vec![u32::MAX; n], vec![0u32; n]);
            let mut bfs = MsBfs::new(n);
            let none = Progress::new(&NoControl, n);
            let first: Vec<usize> = (0..WIDTH.min(n)).collect();
            let some: Vec<usize> = (0..n).rev().step_by(7).take(13).collect();
            for arcs in [&csr.out, csr.inc()] {
                for sources in [&first[..], &some[..], &first[3..4]] {
                    let mut sums = Vec::new();
                    bfs.batch(arcs, sources, &mut sums, &none).unwrap();
                    let single: Vec<_> = sources
                        .iter()
                        .map(|&s| one_source(arcs, s, &mut dist, &mut order))
                        .collect();
                    assert_eq!(sums, single, "{} {}", g.name(), sources.len());
                }
            }
            assert!(dist.iter().all(|&d| d == u32::MAX));
        }
    }

    #[test]
    fn lattices_search_one_source_at_a_time() {
        let lim = Limits::default();
        let shares = |g: &Graph| {
            let csr = super::super::csr::Csr::build(g, None).unwrap();
            let mut sums = Vec::new();
            let sources: Vec<usize> = (0..WIDTH).collect();
            let none = Progress::new(&NoControl, WIDTH);
            let joined = MsBfs::new(g.num_nodes())
                .batch(&csr.out, &sources, &mut sums, &none)
                .unwrap();
            shared(joined, &sums)
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
