//! Shortest paths.
//!
//! - Unweighted (`weight = None`, or every weight 1): NetworkX's bidirectional
//!   breadth-first search; the length counts edges.
//! - Weighted, all weights ≥ 0: NetworkX's bidirectional Dijkstra.
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
    shortest_path_ctl(g, source, target, weight, &NoControl)
}

/// [`shortest_path`], checking `ctl` as the search expands. Unweighted and non-negative
/// weighted searches are NetworkX's bidirectional ones (`algo::pair`) over the graph's
/// cached adjacency; the length of a weighted path is its weights summed from the
/// source, as Dijkstra sums them.
pub fn shortest_path_ctl(
    g: &Graph,
    source: &NodeId,
    target: &NodeId,
    weight: Option<&str>,
    ctl: &dyn Control,
) -> Result<PathResult, GraphError> {
    let adj = g.adjacency();
    let s = adj
        .index(g, source)
        .ok_or_else(|| GraphError::no_node("source", source))?;
    let t = adj
        .index(g, target)
        .ok_or_else(|| GraphError::no_node("target", target))?;
    let no_path =
        || GraphError::FailedPrecondition(format!("target: no path from {source} to {target}"));
    let id = |i: u32| g.node_at(i as usize).expect("index").clone();
    let weights = match weight {
        Some(key) => Some(adj.weights(g, key)?),
        None => None,
    };
    match &weights {
        Some(w) if !w.all_one => {
            if w.negative {
                let view = g.view(weight)?;
                let (path, length) = if view.directed {
                    weighted_path::<Directed>(&view, s, t, true, source)?
                } else {
                    weighted_path::<Undirected>(&view, s, t, true, source)?
                }
                .ok_or_else(no_path)?;
                return Ok(PathResult {
                    path: path.into_iter().map(|i| view.ids[i].clone()).collect(),
                    length,
                });
            }
            let inc_w = w.inc.as_deref().unwrap_or(&w.out);
            let path = super::pair::dijkstra(
                (&adj.out, &w.out),
                (adj.inc(), inc_w),
                s as u32,
                t as u32,
                ctl,
            )?
            .ok_or_else(no_path)?;
            // Dijkstra's length of this path: the weights summed from the source. The
            // weight of an arc is that of its edge, found in u's row.
            let mut length = 0.0;
            for pair in path.windows(2) {
                let (u, v) = (pair[0] as usize, pair[1]);
                let row = adj.out.nbrs(u);
                let k = row
                    .iter()
                    .position(|&x| x == v)
                    .expect("an arc of the path");
                length += w.w[adj.out.edges(u)[k] as usize];
            }
            Ok(PathResult {
                path: path.into_iter().map(id).collect(),
                length,
            })
        }
        // Unweighted, or every weight 1: hops.
        _ => {
            let path = super::pair::bfs(&adj.out, adj.inc(), s as u32, t as u32, ctl, id)?
                .ok_or_else(no_path)?;
            Ok(PathResult {
                length: (path.len() - 1) as f64,
                path,
            })
        }
    }
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
