//! Path tools: one shortest path, distances and paths between all pairs (paged by
//! source), and one node's degree.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ToolContext, ToolSpec, get};
use crate::algo::paths;
use crate::paging::Page;
use crate::tool;
use crate::{GraphError, NodeId};

/// `shortest_path` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShortestPathArgs {
    /// Graph name.
    pub graph: String,
    /// Start node.
    pub source: NodeId,
    /// End node.
    pub target: NodeId,
    /// Weight attribute (Dijkstra, or Bellman–Ford with negative weights); hops when
    /// absent.
    pub weight: Option<String>,
}

/// `shortest_path` result.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ShortestPath {
    /// Nodes from source to target.
    pub path: Vec<NodeId>,
    /// Hops or total weight.
    pub length: f64,
}

/// `all_pairs_shortest_path_length` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AllPairsArgs {
    /// Graph name.
    pub graph: String,
    /// Weight attribute (Dijkstra); hops when absent.
    pub weight: Option<String>,
    /// Sources per page.
    pub top_k: Option<usize>,
    /// Cursor.
    pub cursor: Option<String>,
}

/// A target and its distance.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Distance {
    /// Target node.
    pub node: NodeId,
    /// Distance.
    pub length: f64,
}

/// Distances from one source.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SourceLengths {
    /// Source node.
    pub source: NodeId,
    /// Reachable targets (the source itself at 0), nearest first.
    pub lengths: Vec<Distance>,
}

/// `all_pairs_shortest_path_length` result (paged by source, in node order).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AllPairs {
    /// One entry per source.
    pub sources: Vec<SourceLengths>,
    /// More sources follow.
    pub truncated: bool,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// `all_pairs_shortest_path` result (paged by source, in node order): NetworkX's
/// `dict(all_pairs_shortest_path(G))`, keyed by node id text.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AllPairsPaths {
    /// `paths[source][target]`: the nodes of one shortest path (fewest hops).
    pub paths: BTreeMap<String, BTreeMap<String, Vec<NodeId>>>,
    /// More sources follow.
    pub truncated: bool,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// `node_degree` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeDegreeArgs {
    /// Graph name.
    pub graph: String,
    /// The node.
    pub node: NodeId,
}

/// `node_degree` result (a self-loop counts twice, as in NetworkX).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct NodeDegree {
    /// The node.
    pub node: NodeId,
    /// Edges at the node (in + out when directed).
    pub degree: usize,
    /// Edges into the node (directed graphs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_degree: Option<usize>,
    /// Edges out of the node (directed graphs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_degree: Option<usize>,
}

/// `all_pairs_shortest_path` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AllPairsPathsArgs {
    /// Graph name.
    pub graph: String,
    /// Sources per page.
    pub top_k: Option<usize>,
    /// Cursor.
    pub cursor: Option<String>,
}

pub(super) const TOOLS: &[ToolSpec] = &[
    tool! {
        name: "shortest_path",
        description: "Shortest path (BFS, Dijkstra or Bellman-Ford) and its length",
        mutates: false,
        args: ShortestPathArgs,
        output: ShortestPath,
        handler: |c, a| {
            let g = get(c, &a.graph)?;
            let r = paths::shortest_path_ctl(
                &g,
                &a.source,
                &a.target,
                a.weight.as_deref(),
                c.control,
            )?;
            Ok(ShortestPath {
                path: r.path,
                length: r.length,
            })
        },
    },
    tool! {
        name: "all_pairs_shortest_path_length",
        description: "Distances between all pairs (paged by source)",
        mutates: false,
        args: AllPairsArgs,
        output: AllPairs,
        handler: all_pairs,
    },
    tool! {
        name: "all_pairs_shortest_path",
        description: "Shortest paths (fewest hops) between all pairs, as {source: {target: [nodes]}} (paged by source; graphs up to the all-pairs node limit)",
        mutates: false,
        args: AllPairsPathsArgs,
        output: AllPairsPaths,
        handler: all_pairs_paths,
    },
    tool! {
        name: "node_degree",
        description: "Degree of one node (and in/out degree when directed)",
        mutates: false,
        args: NodeDegreeArgs,
        output: NodeDegree,
        handler: node_degree,
    },
];

fn node_degree(ctx: &ToolContext<'_>, a: NodeDegreeArgs) -> Result<NodeDegree, GraphError> {
    let g = get(ctx, &a.graph)?;
    let i = g.require_node("node", &a.node)?;
    let view = g.view(None)?;
    let loops = |list: &[(usize, f64)]| list.iter().filter(|(j, _)| *j == i).count();
    let (degree, in_degree, out_degree) = if view.directed {
        let (out, inc) = (view.out[i].len(), view.inc[i].len());
        (out + inc, Some(inc), Some(out))
    } else {
        (view.out[i].len() + loops(&view.out[i]), None, None)
    };
    Ok(NodeDegree {
        node: a.node,
        degree,
        in_degree,
        out_degree,
    })
}

fn all_pairs_paths(
    ctx: &ToolContext<'_>,
    a: AllPairsPathsArgs,
) -> Result<AllPairsPaths, GraphError> {
    let g = get(ctx, &a.graph)?;
    let n = g.num_nodes();
    GraphError::check_limit(
        "nodes",
        n,
        "max_nodes_all_pairs",
        ctx.store.limits().max_nodes_all_pairs,
    )?;
    let page = Page {
        top_k: a.top_k,
        cursor: a.cursor,
    };
    let (s, e) = page.window(n)?;
    let (truncated, next_cursor) = Page::next(e, n);
    let field = if a.top_k.is_some() { "top_k" } else { "graph" };
    let limits = ctx.store.limits();
    // At least one id per reachable pair; the real size is counted as paths are built.
    limits.budget(
        field,
        ((e - s) as u64).saturating_mul(n as u64).saturating_mul(16),
    )?;
    let view = g.view(None)?;
    let key = |id: &NodeId| match id {
        NodeId::Int(i) => i.to_string(),
        NodeId::Str(s) => s.clone(),
    };
    let mut out = BTreeMap::new();
    let mut ids_sent = 0u64;
    let mut parent = vec![usize::MAX; n];
    let mut queue = std::collections::VecDeque::with_capacity(n);
    for (k, src) in (s..e).enumerate() {
        ctx.control.checkpoint(k as u64, (e - s) as u64)?;
        parent.fill(usize::MAX);
        parent[src] = src;
        queue.clear();
        queue.push_back(src);
        let mut order = Vec::with_capacity(n);
        while let Some(v) = queue.pop_front() {
            order.push(v);
            for &(w, _) in &view.out[v] {
                if parent[w] == usize::MAX {
                    parent[w] = v;
                    queue.push_back(w);
                }
            }
        }
        let mut row = BTreeMap::new();
        for &t in &order {
            let mut path = vec![t];
            let mut v = t;
            while v != src {
                v = parent[v];
                path.push(v);
            }
            path.reverse();
            ids_sent += path.len() as u64;
            row.insert(
                key(view.ids[t]),
                path.into_iter().map(|i| view.ids[i].clone()).collect(),
            );
        }
        limits.budget(field, ids_sent.saturating_mul(16))?;
        out.insert(key(view.ids[src]), row);
    }
    ctx.control.progress((e - s) as u64, (e - s) as u64);
    Ok(AllPairsPaths {
        paths: out,
        truncated,
        next_cursor,
    })
}

fn all_pairs(ctx: &ToolContext<'_>, a: AllPairsArgs) -> Result<AllPairs, GraphError> {
    let g = get(ctx, &a.graph)?;
    let n = g.num_nodes();
    GraphError::check_limit(
        "nodes",
        n,
        "max_nodes_all_pairs",
        ctx.store.limits().max_nodes_all_pairs,
    )?;
    let page = Page {
        top_k: a.top_k,
        cursor: a.cursor,
    };
    let (s, e) = page.window(n)?;
    let (truncated, next_cursor) = Page::next(e, n);
    // Up to n distances per source row, each a {node, length} object.
    let field = if a.top_k.is_some() { "top_k" } else { "graph" };
    ctx.store.limits().budget(
        field,
        ((e - s) as u64).saturating_mul(n as u64).saturating_mul(64),
    )?;
    let rows =
        paths::all_pairs_shortest_path_length_ctl(&g, a.weight.as_deref(), s..e, ctx.control)?;
    let id = |i: usize| g.node_at(i).expect("index").clone();
    Ok(AllPairs {
        sources: rows
            .into_iter()
            .enumerate()
            .map(|(k, row)| SourceLengths {
                source: id(s + k),
                lengths: row
                    .into_iter()
                    .map(|(t, d)| Distance {
                        node: id(t),
                        length: d,
                    })
                    .collect(),
            })
            .collect(),
        truncated,
        next_cursor,
    })
}
