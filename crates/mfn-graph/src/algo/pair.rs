//! Single-pair shortest paths that touch only what they need: NetworkX's bidirectional
//! breadth-first search (`_bidirectional_pred_succ`) and bidirectional Dijkstra
//! (`bidirectional_dijkstra`), transcribed so that the same graph (same adjacency order)
//! gives the same path.
//!
//! Both run over the graph's cached adjacency ([`super::adjacency`]) and keep their
//! per-node state in slots that are reset in O(1) (an epoch stamp per slot), reused from
//! a thread-local scratch for graphs up to [`SCRATCH_NODES`] nodes and in hash maps
//! beyond (where an O(n) array per call would cost more than the search). A search
//! checks the caller's [`Control`] every 4096 expanded nodes.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use super::adjacency::Rows;
use crate::GraphError;
use crate::tools::Control;

/// Largest graph whose search state lives in reused thread-local arrays.
pub(crate) const SCRATCH_NODES: usize = 1 << 18;

/// "No predecessor" (the search's own end).
const NONE: u32 = u32::MAX;

/// Per-node values of one search.
pub(crate) trait Slots<T: Copy> {
    fn get(&self, k: u32) -> Option<T>;
    fn set(&mut self, k: u32, v: T);
}

/// Values stamped with the epoch of the search that wrote them.
#[derive(Default)]
pub(crate) struct Stamped<T> {
    stamp: Vec<u32>,
    val: Vec<T>,
    epoch: u32,
}

impl<T: Copy + Default> Stamped<T> {
    /// Forget every value and make room for `n` nodes.
    fn reset(&mut self, n: usize) {
        if self.stamp.len() < n {
            self.stamp.resize(n, 0);
            self.val.resize(n, T::default());
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.stamp.iter_mut().for_each(|s| *s = 0);
            self.epoch = 1;
        }
    }
}

impl<T: Copy> Slots<T> for Stamped<T> {
    #[inline]
    fn get(&self, k: u32) -> Option<T> {
        (self.stamp[k as usize] == self.epoch).then(|| self.val[k as usize])
    }
    #[inline]
    fn set(&mut self, k: u32, v: T) {
        self.stamp[k as usize] = self.epoch;
        self.val[k as usize] = v;
    }
}

impl<T: Copy> Slots<T> for HashMap<u32, T> {
    #[inline]
    fn get(&self, k: u32) -> Option<T> {
        HashMap::get(self, &k).copied()
    }
    #[inline]
    fn set(&mut self, k: u32, v: T) {
        self.insert(k, v);
    }
}

/// The reusable state of the searches of one thread.
#[derive(Default)]
struct Scratch {
    pred: [Stamped<u32>; 2],
    dist: [Stamped<f64>; 2],
    seen: [Stamped<f64>; 2],
    /// Fringe vectors of the breadth-first search (kept for their capacity).
    fringes: [Vec<u32>; 3],
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Counts expanded nodes and checks the caller every 4096.
struct Ticker<'c> {
    ctl: &'c dyn Control,
    n: u32,
}

impl Ticker<'_> {
    #[inline]
    fn tick(&mut self) -> Result<(), GraphError> {
        self.n = self.n.wrapping_add(1);
        if self.n.is_multiple_of(4096) {
            self.ctl.check()?;
        }
        Ok(())
    }
}

/// A shortest path from `s` to `t` by hops (`out`: successors, `inc`: predecessors), as
/// `nx.bidirectional_shortest_path` finds it, each node mapped by `id`; `None` when `t`
/// is unreachable. The path is joined in the scratch, so the only allocation is the
/// result's.
pub(crate) fn bfs<T>(
    out: &Rows,
    inc: &Rows,
    s: u32,
    t: u32,
    ctl: &dyn Control,
    id: impl FnMut(u32) -> T,
) -> Result<Option<Vec<T>>, GraphError> {
    let n = out.off.len() - 1;
    if n <= SCRATCH_NODES {
        SCRATCH.with(|sc| {
            let mut sc = sc.borrow_mut();
            let Scratch { pred, fringes, .. } = &mut *sc;
            let [p, q] = pred;
            p.reset(n);
            q.reset(n);
            bfs_with(out, inc, s, t, p, q, fringes, ctl, id)
        })
    } else {
        let mut fringes = Default::default();
        let (mut p, mut q) = (HashMap::new(), HashMap::new());
        bfs_with(out, inc, s, t, &mut p, &mut q, &mut fringes, ctl, id)
    }
}

#[allow(clippy::too_many_arguments)]
fn bfs_with<M: Slots<u32>, T>(
    out: &Rows,
    inc: &Rows,
    s: u32,
    t: u32,
    pred: &mut M,
    succ: &mut M,
    fringes: &mut [Vec<u32>; 3],
    ctl: &dyn Control,
    mut id: impl FnMut(u32) -> T,
) -> Result<Option<Vec<T>>, GraphError> {
    if s == t {
        return Ok(Some(vec![id(s)]));
    }
    let mut ticker = Ticker { ctl, n: 0 };
    pred.set(s, NONE);
    succ.set(t, NONE);
    let [forward, reverse, next] = fringes;
    forward.clear();
    reverse.clear();
    forward.push(s);
    reverse.push(t);
    let meet = 'search: loop {
        if forward.is_empty() || reverse.is_empty() {
            return Ok(None);
        }
        next.clear();
        if forward.len() <= reverse.len() {
            for &v in forward.iter() {
                ticker.tick()?;
                for &w in out.nbrs(v as usize) {
                    if pred.get(w).is_none() {
                        next.push(w);
                        pred.set(w, v);
                    }
                    if succ.get(w).is_some() {
                        break 'search w;
                    }
                }
            }
            std::mem::swap(forward, next);
        } else {
            for &v in reverse.iter() {
                ticker.tick()?;
                for &w in inc.nbrs(v as usize) {
                    if succ.get(w).is_none() {
                        succ.set(w, v);
                        next.push(w);
                    }
                    if pred.get(w).is_some() {
                        break 'search w;
                    }
                }
            }
            std::mem::swap(reverse, next);
        }
    };
    // The fringe `next` is spare once the search is over.
    join(meet, |v| pred.get(v), |v| succ.get(v), next);
    Ok(Some(next.iter().map(|&v| id(v)).collect()))
}

/// Write the path through `meet` to `path`: back along `pred` to the source, forward
/// along `succ` to the target.
fn join(
    meet: u32,
    pred: impl Fn(u32) -> Option<u32>,
    succ: impl Fn(u32) -> Option<u32>,
    path: &mut Vec<u32>,
) {
    path.clear();
    let mut w = meet;
    while w != NONE {
        path.push(w);
        w = pred(w).expect("on the forward tree");
    }
    path.reverse();
    let mut w = succ(meet).expect("on the reverse tree");
    while w != NONE {
        path.push(w);
        w = succ(w).expect("on the reverse tree");
    }
}

/// A heap entry, a min-heap on `(dist, count)` as NetworkX's `heapq` with a counter.
#[derive(PartialEq)]
struct Entry {
    dist: f64,
    count: u64,
    node: u32,
}

impl Eq for Entry {}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .dist
            .total_cmp(&self.dist)
            .then_with(|| other.count.cmp(&self.count))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A shortest path from `s` to `t` with non-negative arc weights (`out_w`, `inc_w`
/// aligned with the rows), as `nx.bidirectional_dijkstra` finds it; `None` when `t` is
/// unreachable.
pub(crate) fn dijkstra(
    out: (&Rows, &[f64]),
    inc: (&Rows, &[f64]),
    s: u32,
    t: u32,
    ctl: &dyn Control,
) -> Result<Option<Vec<u32>>, GraphError> {
    let n = out.0.off.len() - 1;
    if n <= SCRATCH_NODES {
        SCRATCH.with(|sc| {
            let mut sc = sc.borrow_mut();
            let Scratch {
                pred, dist, seen, ..
            } = &mut *sc;
            for k in 0..2 {
                pred[k].reset(n);
                dist[k].reset(n);
                seen[k].reset(n);
            }
            let [p0, p1] = pred;
            let [d0, d1] = dist;
            let [s0, s1] = seen;
            dijkstra_with(out, inc, s, t, [p0, p1], [d0, d1], [s0, s1], ctl)
        })
    } else {
        let (mut p0, mut p1) = (HashMap::new(), HashMap::new());
        let (mut d0, mut d1) = (HashMap::new(), HashMap::new());
        let (mut s0, mut s1) = (HashMap::new(), HashMap::new());
        dijkstra_with(
            out,
            inc,
            s,
            t,
            [&mut p0, &mut p1],
            [&mut d0, &mut d1],
            [&mut s0, &mut s1],
            ctl,
        )
    }
}

#[allow(clippy::too_many_arguments)]
fn dijkstra_with<P: Slots<u32>, D: Slots<f64>>(
    out: (&Rows, &[f64]),
    inc: (&Rows, &[f64]),
    s: u32,
    t: u32,
    preds: [&mut P; 2],
    dists: [&mut D; 2],
    seen: [&mut D; 2],
    ctl: &dyn Control,
) -> Result<Option<Vec<u32>>, GraphError> {
    if s == t {
        return Ok(Some(vec![s]));
    }
    let mut ticker = Ticker { ctl, n: 0 };
    preds[0].set(s, NONE);
    preds[1].set(t, NONE);
    seen[0].set(s, 0.0);
    seen[1].set(t, 0.0);
    let mut count = 0u64;
    let mut fringe = [BinaryHeap::new(), BinaryHeap::new()];
    fringe[0].push(Entry {
        dist: 0.0,
        count,
        node: s,
    });
    count += 1;
    fringe[1].push(Entry {
        dist: 0.0,
        count,
        node: t,
    });
    count += 1;
    let mut best: Option<(f64, u32)> = None;
    let mut dir = 1;
    while !fringe[0].is_empty() && !fringe[1].is_empty() {
        dir = 1 - dir;
        let Entry { dist, node: v, .. } = fringe[dir].pop().expect("non-empty");
        if dists[dir].get(v).is_some() {
            continue;
        }
        ticker.tick()?;
        dists[dir].set(v, dist);
        if dists[1 - dir].get(v).is_some() {
            let meet = best.expect("a meeting node").1;
            let (fwd, bwd) = (&preds[0], &preds[1]);
            let mut path = Vec::new();
            join(meet, |x| fwd.get(x), |x| bwd.get(x), &mut path);
            return Ok(Some(path));
        }
        let (rows, w) = if dir == 0 { out } else { inc };
        let lo = rows.off[v as usize] as usize;
        let hi = rows.off[v as usize + 1] as usize;
        for (&x, &cost) in rows.adj[lo..hi].iter().zip(&w[lo..hi]) {
            let len = dist + cost;
            if dists[dir].get(x).is_some() {
                continue;
            }
            if seen[dir].get(x).is_none_or(|old| len < old) {
                seen[dir].set(x, len);
                fringe[dir].push(Entry {
                    dist: len,
                    count,
                    node: x,
                });
                count += 1;
                preds[dir].set(x, v);
                if let Some(other) = seen[1 - dir].get(x) {
                    let total = len + other;
                    if best.is_none_or(|(b, _)| b > total) {
                        best = Some((total, x));
                    }
                }
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::NoControl;
    use crate::{Graph, generators};

    fn path_of(g: &Graph, s: i64, t: i64) -> Option<Vec<u32>> {
        let adj = g.adjacency();
        let (s, t) = (
            adj.index(g, &s.into()).unwrap() as u32,
            adj.index(g, &t.into()).unwrap() as u32,
        );
        bfs(&adj.out, adj.inc(), s, t, &NoControl, |v| v).unwrap()
    }

    #[test]
    fn scratch_and_maps_agree_and_epochs_do_not_leak() {
        let g = generators::grid_2d("g", 30, 30, &Default::default()).unwrap();
        let adj = g.adjacency();
        for (s, t) in [(0u32, 899u32), (5, 5), (17, 400), (899, 0)] {
            let a = bfs(&adj.out, adj.inc(), s, t, &NoControl, |v| v)
                .unwrap()
                .unwrap();
            let b = bfs_with(
                &adj.out,
                adj.inc(),
                s,
                t,
                &mut HashMap::new(),
                &mut HashMap::new(),
                &mut Default::default(),
                &NoControl,
                |v| v,
            )
            .unwrap()
            .unwrap();
            assert_eq!(a, b);
            let manhattan = |i: u32| ((i / 30) as i64, (i % 30) as i64);
            let ((r0, c0), (r1, c1)) = (manhattan(s), manhattan(t));
            assert_eq!(a.len() as i64 - 1, (r0 - r1).abs() + (c0 - c1).abs());
        }
        let mut two = generators::path("p", 3).unwrap();
        two.add_node(7.into(), Default::default());
        assert_eq!(path_of(&two, 0, 7), None);
        assert_eq!(path_of(&two, 0, 2), Some(vec![0, 1, 2]));
    }
}
