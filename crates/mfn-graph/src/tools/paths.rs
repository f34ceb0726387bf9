//! Path tools: one shortest path, and distances between all pairs (paged by source).

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
];

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
