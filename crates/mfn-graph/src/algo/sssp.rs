//! Single-source shortest paths over a [`View`] adjacency: breadth-first search for
//! unit weights and Dijkstra for non-negative weights, both recording what Brandes'
//! betweenness needs (settling order, path counts σ, predecessors). Transcriptions of
//! NetworkX's `_single_source_shortest_path_basic` and
//! `_single_source_dijkstra_path_basic`, so distances are bit-identical: each is the
//! fixed point of `d[v] = min_u d[u] + w(u, v)` summed from the source outwards.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

/// Result of one single-source search.
pub(crate) struct Sssp {
    /// Nodes in the order they were settled (non-decreasing distance).
    pub order: Vec<usize>,
    /// Distance from the source; `f64::INFINITY` when unreachable.
    pub dist: Vec<f64>,
    /// Number of shortest paths from the source.
    pub sigma: Vec<f64>,
    /// Predecessors on shortest paths (only filled when asked).
    pub pred: Vec<Vec<usize>>,
}

/// Breadth-first search from `s` along `adj`; distances count edges.
pub(crate) fn bfs(adj: &[Vec<(usize, f64)>], s: usize, with_paths: bool) -> Sssp {
    let n = adj.len();
    let mut dist = vec![f64::INFINITY; n];
    let mut sigma = vec![0.0; if with_paths { n } else { 0 }];
    let mut pred = vec![Vec::new(); if with_paths { n } else { 0 }];
    let mut order = Vec::new();
    let mut queue = VecDeque::new();
    dist[s] = 0.0;
    if with_paths {
        sigma[s] = 1.0;
    }
    queue.push_back(s);
    while let Some(v) = queue.pop_front() {
        order.push(v);
        let dv = dist[v];
        for &(w, _) in &adj[v] {
            if dist[w].is_infinite() {
                dist[w] = dv + 1.0;
                queue.push_back(w);
            }
            if with_paths && dist[w] == dv + 1.0 {
                sigma[w] += sigma[v];
                pred[w].push(v);
            }
        }
    }
    Sssp {
        order,
        dist,
        sigma,
        pred,
    }
}

#[derive(PartialEq)]
struct Entry {
    dist: f64,
    count: usize,
    pred: usize,
    node: usize,
}

impl Eq for Entry {}

impl Ord for Entry {
    // Min-heap on (dist, insertion count), as NetworkX's heapq with a counter.
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

/// Dijkstra from `s` along `adj` (weights must be non-negative).
pub(crate) fn dijkstra(adj: &[Vec<(usize, f64)>], s: usize, with_paths: bool) -> Sssp {
    let n = adj.len();
    let mut dist = vec![f64::INFINITY; n];
    let mut seen = vec![f64::INFINITY; n];
    let mut done = vec![false; n];
    let mut sigma = vec![0.0; if with_paths { n } else { 0 }];
    let mut pred = vec![Vec::new(); if with_paths { n } else { 0 }];
    let mut order = Vec::new();
    let mut heap = BinaryHeap::new();
    let mut count = 0usize;
    seen[s] = 0.0;
    heap.push(Entry {
        dist: 0.0,
        count,
        pred: s,
        node: s,
    });
    while let Some(Entry {
        dist: d,
        pred: p,
        node: v,
        ..
    }) = heap.pop()
    {
        if done[v] {
            continue;
        }
        done[v] = true;
        if with_paths {
            sigma[v] += if v == s { 1.0 } else { sigma[p] };
        }
        order.push(v);
        dist[v] = d;
        for &(w, wt) in &adj[v] {
            let vw = d + wt;
            if !done[w] && vw < seen[w] {
                seen[w] = vw;
                count += 1;
                heap.push(Entry {
                    dist: vw,
                    count,
                    pred: v,
                    node: w,
                });
                if with_paths {
                    sigma[w] = 0.0;
                    pred[w].clear();
                    pred[w].push(v);
                }
            } else if with_paths && vw == seen[w] && w != s && !(done[w] && dist[w] < vw) {
                sigma[w] += sigma[v];
                pred[w].push(v);
            }
        }
    }
    Sssp {
        order,
        dist,
        sigma,
        pred,
    }
}

/// Distances only: BFS when `weighted` is false, Dijkstra otherwise.
pub(crate) fn distances(adj: &[Vec<(usize, f64)>], s: usize, weighted: bool) -> Sssp {
    if weighted {
        dijkstra(adj, s, false)
    } else {
        bfs(adj, s, false)
    }
}
