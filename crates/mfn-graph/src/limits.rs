//! Size limits, checked before any allocation and named in every error, and the memory
//! budget of one call.
//!
//! Every tool call estimates the memory it will need from its arguments (and from the
//! size of the stored graphs it reads) before it allocates, and refuses with
//! [`GraphError::LimitExceeded`] naming the argument when the estimate exceeds
//! [`Limits::max_call_bytes`]: `n: estimated bytes = 2372600000 exceeds max_call_bytes =
//! 1073741824`. Decoders meter what they build as they go (a GraphML key default applied
//! to every node costs memory the document's size does not show).
//!
//! The estimates use the sizes below, measured on x86-64 for the in-memory model (an
//! insertion-ordered map of nodes and one of edges, see [`crate::Graph`]) and rounded up.

use serde::{Deserialize, Serialize};

use crate::GraphError;

/// Configurable limits of the graph engine (GRAPH.md "Limits"). Every error that one of
/// them causes names the field, e.g. `nodes = 2000001 exceeds max_nodes = 2000000`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Limits {
    /// Graphs one tenant may store.
    pub max_graphs_per_tenant: usize,
    /// Bytes one tenant may store (the stored encoding of all its graphs).
    pub max_tenant_bytes: usize,
    /// Nodes per graph.
    pub max_nodes: usize,
    /// Edges per graph.
    pub max_edges: usize,
    /// Items (nodes, edges, attribute updates) in one call.
    pub max_items_per_call: usize,
    /// Nodes for the O(n·m) algorithms: betweenness, closeness, all-pairs, efficiency,
    /// diameter/radius.
    pub max_nodes_all_pairs: usize,
    /// Nodes for `matching`: the blossom algorithm (rustworkx-core) is O(n³) and cannot
    /// be cancelled once started, so its size is what bounds the worker time it takes.
    pub max_nodes_matching: usize,
    /// Nodes for layouts and rendering.
    pub max_layout_nodes: usize,
    /// Bytes of an imported document or request.
    pub max_input_bytes: usize,
    /// Columns of an edge-list CSV (source, target and attribute columns).
    pub max_csv_columns: usize,
    /// Simple cycles listed by `cycles_detection` before it stops.
    pub max_cycles: usize,
    /// Estimated memory of one tool call, in bytes (see the module documentation).
    pub max_call_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_graphs_per_tenant: 1_000,
            max_tenant_bytes: 4 << 30,
            max_nodes: 2_000_000,
            max_edges: 10_000_000,
            max_items_per_call: 1_000_000,
            max_nodes_all_pairs: 50_000,
            max_nodes_matching: 5_000,
            max_layout_nodes: 10_000,
            max_input_bytes: 256 * 1024 * 1024,
            max_csv_columns: 1_024,
            max_cycles: 10_000,
            max_call_bytes: 1 << 30,
        }
    }
}

/// Estimated bytes of one node without attributes (id, map slot, index, attribute map).
pub const NODE_BYTES: u64 = 96;
/// Estimated bytes of one edge without attributes (two ids, map slot, index, map).
pub const EDGE_BYTES: u64 = 128;
/// Estimated bytes of one attribute: a map entry plus its key and a JSON value, before
/// the lengths of strings it holds.
pub const ATTR_BYTES: u64 = 80;
/// Estimated bytes of one JSON value inside an attribute (array element, object entry).
pub const VALUE_BYTES: u64 = 48;
/// Estimated bytes per edge of the cached compact adjacency (arcs both ways with their
/// edge index, the edge's ends, one cached weight).
pub const ADJACENCY_EDGE_BYTES: u64 = 48;

impl Limits {
    /// Estimated bytes of a graph with `nodes` and `edges` and no attributes, including
    /// its cached adjacency.
    pub fn graph_bytes(nodes: u64, edges: u64) -> u64 {
        nodes
            .saturating_mul(NODE_BYTES + 4)
            .saturating_add(edges.saturating_mul(EDGE_BYTES + ADJACENCY_EDGE_BYTES))
    }

    /// `Err(LimitExceeded)` naming `field` when `bytes` exceeds [`Limits::max_call_bytes`].
    ///
    /// ```
    /// let l = mfn_graph::Limits { max_call_bytes: 1000, ..Default::default() };
    /// assert!(l.budget("n", 1000).is_ok());
    /// let e = l.budget("n", 1001).unwrap_err();
    /// assert_eq!(e.to_string(), "n: estimated bytes = 1001 exceeds max_call_bytes = 1000");
    /// ```
    pub fn budget(&self, field: &str, bytes: u64) -> Result<(), GraphError> {
        if bytes > self.max_call_bytes as u64 {
            Err(GraphError::LimitExceeded {
                what: format!("{field}: estimated bytes"),
                value: bytes,
                limit: "max_call_bytes",
                max: self.max_call_bytes as u64,
            })
        } else {
            Ok(())
        }
    }
}
