//! Size limits, checked before any allocation and named in every error.

use serde::{Deserialize, Serialize};

/// Configurable limits of the graph engine (GRAPH.md "Limits"). Every error that one of
/// them causes names the field, e.g. `nodes = 2000001 exceeds max_nodes = 2000000`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Graphs one tenant may store.
    pub max_graphs_per_tenant: usize,
    /// Nodes per graph.
    pub max_nodes: usize,
    /// Edges per graph.
    pub max_edges: usize,
    /// Items (nodes, edges, attribute updates) in one call.
    pub max_items_per_call: usize,
    /// Nodes for the O(n·m) algorithms: betweenness, closeness, all-pairs, efficiency,
    /// diameter/radius.
    pub max_nodes_all_pairs: usize,
    /// Nodes for layouts and rendering.
    pub max_layout_nodes: usize,
    /// Bytes of an imported document or request.
    pub max_input_bytes: usize,
    /// Simple cycles listed by `cycles_detection` before it stops.
    pub max_cycles: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_graphs_per_tenant: 1_000,
            max_nodes: 2_000_000,
            max_edges: 10_000_000,
            max_items_per_call: 1_000_000,
            max_nodes_all_pairs: 50_000,
            max_layout_nodes: 10_000,
            max_input_bytes: 256 * 1024 * 1024,
            max_cycles: 10_000,
        }
    }
}
