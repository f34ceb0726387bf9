//! Shortest paths.
//!
//! - Unweighted (`weight = None`): breadth-first search; the length counts edges.
//! - Weighted, all weights ≥ 0: Dijkstra (rustworkx-core).
//! - Weighted with a negative weight: Bellman–Ford (rustworkx-core); a negative cycle
//!   reachable from the source is reported as an error (an undirected edge of negative
//!   weight is such a cycle, as in NetworkX).
//!
//! `all_pairs_shortest_path_length` is a search per source (BFS or Dijkstra), as
//! `nx.all_pairs_shortest_path_length` / `nx.all_pairs_dijkstra_path_length`.

use petgraph::graph::{EdgeReference, NodeIndex};
use petgraph::{Directed, EdgeType, Undirected};
use rustworkx_core::dictmap::DictMap;
use rustworkx_core::shortest_path as rx;

use super::csr::Csr;
use super::sssp;
use crate::tools::{Control, NoControl};
use crate::{Graph, GraphError, NodeId, View};

/// A shortest path and its length.
#[derive(Debug, Clone, PartialEq)]
pub struct PathResult {
    /// Nodes from source to target, inclusive.
    pub path: Vec<NodeId>,
    /// Number of edges (unweighted) or sum of weights.
    pub length: f64,
}

/// Shortest path from `source` to `target`.
///
/// ```
/// use mfn_graph::{algo::paths::shortest_path, generators, NodeId};
/// let g = generators::path("p", 4).unwrap();
/// let r = shortest_path(&g, &NodeId::Int(0), &NodeId::Int(3), None).unwrap();
/// assert_eq!(r.length, 3.0);
/// assert_eq!(r.path.len(), 4);
/// ```
pub fn shortest_path(
    g: &Graph,
    source: &NodeId,
    target: &NodeId,
    weight: Option<&str>,
) -> Result<PathResult, GraphError> {
    let s = g.require_node("source", source)?;
    let t = g.require_node("target", target)?;
    let no_path =
        || GraphError::FailedPrecondition(format!("target: no path from {source} to {target}"));
    if weight.is_none() {
        return bfs_path(&Csr::build(g, None)?, s, t).ok_or_else(no_path);
    }
    let view = g.view(weight)?;
    let negative = view.edges.iter().any(|e| e.2 < 0.0);
    let (path, length) = if view.directed {
        weighted_path::<Directed>(&view, s, t, negative, source)?
    } else {
        weighted_path::<Undirected>(&view, s, t, negative, source)?
    }
    .ok_or_else(no_path)?;
    Ok(PathResult {
        path: path.into_iter().map(|i| view.ids[i].clone()).collect(),
        length,
    })
}

fn bfs_path(csr: &Csr<'_>, s: usize, t: usize) -> Option<PathResult> {
    let n = csr.n();
    let mut parent = vec![u32::MAX; n];
    parent[s] = s as u32;
    let mut queue: Vec<u32> = Vec::with_capacity(n);
    queue.push(s as u32);
    let mut head = 0;
    'search: while head < queue.len() && s != t {
        let v = queue[head];
        head += 1;
        for &w in csr.out.nbrs(v as usize) {
            if parent[w as usize] == u32::MAX {
                parent[w as usize] = v;
                if w as usize == t {
                    break 'search;
                }
                queue.push(w);
            }
        }
    }
    if parent[t] == u32::MAX {
        return None;
    }
    let mut path = vec![t];
    let mut v = t;
    while v != s {
        v = parent[v] as usize;
        path.push(v);
    }
    path.reverse();
    Some(PathResult {
        length: (path.len() - 1) as f64,
        path: path.into_iter().map(|i| csr.ids[i].clone()).collect(),
    })
}

type Found = Option<(Vec<usize>, f64)>;

fn weighted_path<Ty: EdgeType>(
    view: &View<'_>,
    s: usize,
    t: usize,
    negative: bool,
    source: &NodeId,
) -> Result<Found, GraphError> {
    let pg = view.petgraph::<Ty>();
    let cost = |e: EdgeReference<'_, f64>| Ok::<f64, GraphError>(*e.weight());
    let mut paths: DictMap<NodeIndex, Vec<NodeIndex>> = DictMap::default();
    let dist: DictMap<NodeIndex, f64> = if negative {
        rx::bellman_ford(&pg, NodeIndex::new(s), cost, Some(&mut paths))?.ok_or_else(|| {
            GraphError::FailedPrecondition(format!(
                "weight: negative cycle reachable from source {source}"
            ))
        })?
    } else {
        rx::dijkstra(
            &pg,
            NodeIndex::new(s),
            Some(NodeIndex::new(t)),
            cost,
            Some(&mut paths),
        )?
    };
    let tn = NodeIndex::new(t);
    Ok(match (dist.get(&tn), paths.get(&tn)) {
        (Some(&d), Some(p)) => Some((p.iter().map(|i| i.index()).collect(), d)),
        _ => None,
    })
}

/// Lengths from one source: `(target index, length)` for every reachable node, in
/// settling order (the source first, at 0).
pub(crate) fn lengths_from(view: &View<'_>, s: usize, weighted: bool) -> Vec<(usize, f64)> {
    let sp = sssp::distances(&view.out, s, weighted);
    sp.order.iter().map(|&v| (v, sp.dist[v])).collect()
}

/// All-pairs shortest path lengths, one row per source in node order (reachable
/// targets only). Weighted runs need non-negative weights.
pub fn all_pairs_shortest_path_length(
    g: &Graph,
    weight: Option<&str>,
    sources: std::ops::Range<usize>,
) -> Result<Vec<Vec<(usize, f64)>>, GraphError> {
    all_pairs_shortest_path_length_ctl(g, weight, sources, &NoControl)
}

/// [`all_pairs_shortest_path_length`] with one progress unit per source.
pub fn all_pairs_shortest_path_length_ctl(
    g: &Graph,
    weight: Option<&str>,
    sources: std::ops::Range<usize>,
    ctl: &dyn Control,
) -> Result<Vec<Vec<(usize, f64)>>, GraphError> {
    let view = g.view(weight)?;
    if weight.is_some() {
        super::centrality::check_non_negative(&view)?;
    }
    let total = sources.len() as u64;
    let mut rows = Vec::with_capacity(sources.len());
    for (k, s) in sources.enumerate() {
        ctl.checkpoint(k as u64, total)?;
        rows.push(lengths_from(&view, s, weight.is_some()));
    }
    ctl.progress(total, total);
    Ok(rows)
}
