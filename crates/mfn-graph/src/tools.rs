//! The tool registry of the graph engine: one list of named operations with typed,
//! JSON-Schema'd inputs and outputs, served identically by MCP, REST and the CLI.
//!
//! - [`tool_names`] / [`tools`]: the list, with descriptions;
//! - [`input_schema`] / [`output_schema`]: JSON Schemas (`schemars::schema_for!`);
//! - [`call`]: run a tool on a [`ToolContext`] (a [`GraphStore`] and a tenant) with JSON
//!   arguments, returning the JSON result. Arguments are checked strictly (unknown
//!   fields are errors) and every error names the field and limit at fault:
//!   `source: node 17 not in graph`, `k: must be in [1, num_nodes (34)]`.
//!
//! Algorithm tools take the stored graph's name in `graph`; graph tools mutate through
//! the store (copy, change, check limits, durable `put`), so a failed call stores
//! nothing. Per-node results are complete and paged ([`crate::paging`]).
//!
//! ```
//! use mfn_graph::{store::MemoryStore, tools::{call, ToolContext}, Limits};
//! use serde_json::json;
//! let store = MemoryStore::new(Limits::default());
//! let ctx = ToolContext::new(&store, "default");
//! call(&ctx, "generate_graph", json!({"name": "k", "kind": "karate_club"})).unwrap();
//! let r = call(&ctx, "degree_centrality", json!({"graph": "k", "top_k": 1})).unwrap();
//! assert_eq!(r["values"][0]["node"], 33);
//! assert_eq!(r["truncated"], true);
//! ```

use std::collections::HashMap;

use schemars::{JsonSchema, schema_for};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::algo::{centrality, community, paths, structure};
use crate::paging::{NodeValues, Page, page_values};
use crate::store::{GraphInfo, GraphStore};
use crate::{Attrs, Graph, GraphError, NodeId, generators, io, network};

/// Where a tool runs: the store, the calling tenant, and the caller's [`Control`].
pub struct ToolContext<'a> {
    /// The graph store.
    pub store: &'a dyn GraphStore,
    /// The tenant (API key name, or the default tenant).
    pub tenant: &'a str,
    /// Cancellation and progress of this call.
    pub control: &'a dyn Control,
}

impl<'a> ToolContext<'a> {
    /// A context that is never cancelled and reports no progress (CLI, tests).
    pub fn new(store: &'a dyn GraphStore, tenant: &'a str) -> Self {
        ToolContext {
            store,
            tenant,
            control: &NoControl,
        }
    }
}

/// How a running tool learns that its caller is gone and reports how far it got.
///
/// Long algorithms call [`Control::checkpoint`] between units of work (one source of
/// betweenness, one PageRank iteration, one Louvain pass): it returns
/// [`GraphError::Cancelled`] once [`Control::cancelled`] is true, so `?` stops the work.
pub trait Control: Sync {
    /// Whether the caller is gone (deadline passed, client disconnected, MCP cancel).
    fn cancelled(&self) -> bool {
        false
    }
    /// `done` of `total` units finished (for MCP progress notifications).
    fn progress(&self, _done: u64, _total: u64) {}
    /// Report progress, then `Err(Cancelled)` if the caller is gone.
    fn checkpoint(&self, done: u64, total: u64) -> Result<(), GraphError> {
        self.progress(done, total);
        if self.cancelled() {
            Err(GraphError::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// A [`Control`] that never cancels and drops progress.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoControl;

impl Control for NoControl {}

/// A tool of the registry.
#[derive(Clone, Copy)]
pub struct ToolSpec {
    /// Tool name.
    pub name: &'static str,
    /// One-line description for agents and `--help`.
    pub description: &'static str,
    input: fn() -> Value,
    output: fn() -> Value,
    handler: fn(&ToolContext<'_>, Value) -> Result<Value, GraphError>,
}

impl std::fmt::Debug for ToolSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolSpec")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ToolSpec {
    /// JSON Schema of the arguments.
    pub fn input_schema(&self) -> Value {
        (self.input)()
    }
    /// JSON Schema of the result.
    pub fn output_schema(&self) -> Value {
        (self.output)()
    }
}

// ---------------------------------------------------------------- shared argument types

/// A node to add: an id, or `{id, attrs}`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum NodeSpec {
    /// Just the id.
    Id(NodeId),
    /// Id with attributes.
    WithAttrs {
        /// Node id.
        id: NodeId,
        /// Attributes (merged into existing ones).
        #[serde(default)]
        attrs: Attrs,
    },
}

/// An edge to add: `[u, v]`, `[u, v, weight]` or `{source, target, weight?, attrs?}`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum EdgeSpec {
    /// `[u, v]`.
    Pair(NodeId, NodeId),
    /// `[u, v, weight]`.
    Weighted(NodeId, NodeId, f64),
    /// Object form.
    Object {
        /// Source.
        source: NodeId,
        /// Target.
        target: NodeId,
        /// Weight (stored as attribute `weight`).
        #[serde(default)]
        weight: Option<f64>,
        /// Further attributes.
        #[serde(default)]
        attrs: Attrs,
    },
}

impl EdgeSpec {
    fn into_parts(self) -> (NodeId, NodeId, Attrs) {
        match self {
            EdgeSpec::Pair(u, v) => (u, v, Attrs::new()),
            EdgeSpec::Weighted(u, v, w) => {
                let mut a = Attrs::new();
                a.insert("weight".into(), w.into());
                (u, v, a)
            }
            EdgeSpec::Object {
                source,
                target,
                weight,
                mut attrs,
            } => {
                if let Some(w) = weight {
                    attrs.insert("weight".into(), w.into());
                }
                (source, target, attrs)
            }
        }
    }
}

fn yes() -> bool {
    true
}
fn one() -> f64 {
    1.0
}
fn weight_key() -> Option<String> {
    Some("weight".into())
}
fn weight_string() -> String {
    "weight".into()
}

// ---------------------------------------------------------------- graph tools: types

/// `create_graph` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGraphArgs {
    /// Graph name, `^[A-Za-z0-9_.-]{1,100}$`.
    pub name: String,
    /// Directed edges.
    #[serde(default)]
    pub directed: bool,
    /// Initial nodes.
    #[serde(default)]
    pub nodes: Vec<NodeSpec>,
    /// Initial edges.
    #[serde(default)]
    pub edges: Vec<EdgeSpec>,
    /// Replace an existing graph of that name.
    #[serde(default)]
    pub overwrite: bool,
}

/// `list_graphs` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListGraphsArgs {
    /// Page size.
    pub top_k: Option<usize>,
    /// Cursor of the next page.
    pub cursor: Option<String>,
}

/// `list_graphs` result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct GraphList {
    /// The graphs, by name.
    pub graphs: Vec<GraphInfo>,
    /// More follow.
    pub truncated: bool,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// Arguments naming just a graph.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GraphArg {
    /// Stored graph name.
    pub graph: String,
}

/// `delete_graph` result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Deleted {
    /// Name of the deleted graph.
    pub deleted: String,
}

/// Result of a mutation: the graph's new summary and how many items changed.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Mutation {
    /// Graph name.
    pub name: String,
    /// Directed?
    pub directed: bool,
    /// Nodes now.
    pub num_nodes: usize,
    /// Edges now.
    pub num_edges: usize,
    /// Items added, removed or updated.
    pub changed: usize,
}

/// `add_nodes` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddNodesArgs {
    /// Graph name.
    pub graph: String,
    /// Nodes to add (attributes merge into existing nodes).
    pub nodes: Vec<NodeSpec>,
}

/// `add_edges` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddEdgesArgs {
    /// Graph name.
    pub graph: String,
    /// Edges to add (an existing edge gets its attributes updated).
    pub edges: Vec<EdgeSpec>,
}

/// `remove_nodes` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveNodesArgs {
    /// Graph name.
    pub graph: String,
    /// Nodes to remove with their edges; all must exist.
    pub nodes: Vec<NodeId>,
}

/// `remove_edges` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveEdgesArgs {
    /// Graph name.
    pub graph: String,
    /// Edges `[u, v]` to remove; all must exist.
    pub edges: Vec<(NodeId, NodeId)>,
}

/// Direction of `get_neighbors`.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Successors (all neighbours when undirected).
    #[default]
    Out,
    /// Predecessors.
    In,
    /// Both.
    All,
}

/// `get_neighbors` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NeighborsArgs {
    /// Graph name.
    pub graph: String,
    /// The node.
    pub node: NodeId,
    /// `out` (default), `in` or `all`; undirected graphs ignore it.
    #[serde(default)]
    pub direction: Direction,
    /// Page size.
    pub top_k: Option<usize>,
    /// Cursor.
    pub cursor: Option<String>,
}

/// `get_neighbors` result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Neighbors {
    /// The node.
    pub node: NodeId,
    /// Neighbours in insertion order.
    pub neighbors: Vec<NodeId>,
    /// More follow.
    pub truncated: bool,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// Attributes of one node.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeAttrs {
    /// Node.
    pub node: NodeId,
    /// Attributes.
    pub attrs: Attrs,
}

/// Attributes of one edge.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EdgeAttrs {
    /// Source.
    pub source: NodeId,
    /// Target.
    pub target: NodeId,
    /// Attributes.
    pub attrs: Attrs,
}

/// `set_node_attributes` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetNodeAttrsArgs {
    /// Graph name.
    pub graph: String,
    /// Attributes to merge per node (a `null` value removes the attribute).
    pub values: Vec<NodeAttrs>,
}

/// `set_edge_attributes` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetEdgeAttrsArgs {
    /// Graph name.
    pub graph: String,
    /// Attributes to merge per edge (a `null` value removes the attribute).
    pub values: Vec<EdgeAttrs>,
}

/// `get_node_attributes` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetNodeAttrsArgs {
    /// Graph name.
    pub graph: String,
    /// Only these nodes (all when absent).
    pub nodes: Option<Vec<NodeId>>,
    /// Only this attribute.
    pub name: Option<String>,
    /// Page size.
    pub top_k: Option<usize>,
    /// Cursor.
    pub cursor: Option<String>,
}

/// `get_node_attributes` result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NodeAttrsList {
    /// Nodes with attributes, in node order.
    pub nodes: Vec<NodeAttrs>,
    /// More follow.
    pub truncated: bool,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// `get_edge_attributes` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetEdgeAttrsArgs {
    /// Graph name.
    pub graph: String,
    /// Only these edges (all when absent).
    pub edges: Option<Vec<(NodeId, NodeId)>>,
    /// Only this attribute.
    pub name: Option<String>,
    /// Page size.
    pub top_k: Option<usize>,
    /// Cursor.
    pub cursor: Option<String>,
}

/// `get_edge_attributes` result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EdgeAttrsList {
    /// Edges with attributes, in edge order.
    pub edges: Vec<EdgeAttrs>,
    /// More follow.
    pub truncated: bool,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// `subgraph` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubgraphArgs {
    /// Source graph.
    pub graph: String,
    /// Nodes to keep (all must exist).
    pub nodes: Vec<NodeId>,
    /// Name of the new graph.
    pub name: String,
    /// Replace an existing graph of that name.
    #[serde(default)]
    pub overwrite: bool,
}

/// `merge_graphs` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeArgs {
    /// Graphs to compose, in order (later attributes win, as `nx.compose`).
    pub graphs: Vec<String>,
    /// Name of the new graph.
    pub name: String,
    /// Replace an existing graph of that name.
    #[serde(default)]
    pub overwrite: bool,
}

/// `import_graph` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportArgs {
    /// Name of the new graph.
    pub name: String,
    /// `csv`, `json` (node-link) or `graphml`.
    pub format: io::Format,
    /// The document.
    pub data: String,
    /// Direction for CSV (JSON and GraphML carry their own).
    #[serde(default)]
    pub directed: bool,
    /// Replace an existing graph of that name.
    #[serde(default)]
    pub overwrite: bool,
}

/// `export_graph` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportArgs {
    /// Graph name.
    pub graph: String,
    /// `csv`, `json` (node-link) or `graphml`.
    pub format: io::Format,
}

/// `export_graph` result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Exported {
    /// The format.
    pub format: io::Format,
    /// The document.
    pub data: String,
}

/// `generate_graph` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateArgs {
    /// Name of the new graph.
    pub name: String,
    /// erdos_renyi, barabasi_albert, watts_strogatz, grid_2d, complete, path, cycle,
    /// star, karate_club.
    pub kind: String,
    /// Nodes (star: leaves).
    pub n: Option<usize>,
    /// Edges per new node (barabasi_albert).
    pub m: Option<usize>,
    /// Ring neighbours (watts_strogatz).
    pub k: Option<usize>,
    /// Probability (erdos_renyi, watts_strogatz).
    pub p: Option<f64>,
    /// Rows (grid_2d).
    pub rows: Option<usize>,
    /// Columns (grid_2d).
    pub cols: Option<usize>,
    /// Directed (erdos_renyi).
    #[serde(default)]
    pub directed: bool,
    /// Random seed.
    #[serde(default)]
    pub seed: u64,
    /// Replace an existing graph of that name.
    #[serde(default)]
    pub overwrite: bool,
}

// ---------------------------------------------------------------- algorithm tools: types

/// `shortest_path` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
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
#[derive(Debug, Serialize, JsonSchema)]
pub struct ShortestPath {
    /// Nodes from source to target.
    pub path: Vec<NodeId>,
    /// Hops or total weight.
    pub length: f64,
}

/// `all_pairs_shortest_path_length` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
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
#[derive(Debug, Serialize, JsonSchema)]
pub struct Distance {
    /// Target node.
    pub node: NodeId,
    /// Distance.
    pub length: f64,
}

/// Distances from one source.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SourceLengths {
    /// Source node.
    pub source: NodeId,
    /// Reachable targets (the source itself at 0), nearest first.
    pub lengths: Vec<Distance>,
}

/// `all_pairs_shortest_path_length` result (paged by source, in node order).
#[derive(Debug, Serialize, JsonSchema)]
pub struct AllPairs {
    /// One entry per source.
    pub sources: Vec<SourceLengths>,
    /// More sources follow.
    pub truncated: bool,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// Arguments of a per-node measure without options.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PagedGraphArgs {
    /// Graph name.
    pub graph: String,
    /// Page size.
    pub top_k: Option<usize>,
    /// Cursor.
    pub cursor: Option<String>,
}

/// `betweenness_centrality` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BetweennessArgs {
    /// Graph name.
    pub graph: String,
    /// Normalise (default true).
    #[serde(default = "yes")]
    pub normalized: bool,
    /// Count path endpoints.
    #[serde(default)]
    pub endpoints: bool,
    /// Weight attribute (Dijkstra); hops when absent.
    pub weight: Option<String>,
    /// Sample this many source nodes.
    pub k: Option<usize>,
    /// Seed of the sample.
    #[serde(default)]
    pub seed: u64,
    /// Page size.
    pub top_k: Option<usize>,
    /// Cursor.
    pub cursor: Option<String>,
}

/// `closeness_centrality` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosenessArgs {
    /// Graph name.
    pub graph: String,
    /// Distance attribute; hops when absent.
    pub weight: Option<String>,
    /// Wasserman–Faust scaling (default true).
    #[serde(default = "yes")]
    pub wf_improved: bool,
    /// Page size.
    pub top_k: Option<usize>,
    /// Cursor.
    pub cursor: Option<String>,
}

fn hundred() -> usize {
    100
}
fn tol6() -> f64 {
    1e-6
}
fn alpha85() -> f64 {
    0.85
}

/// `eigenvector_centrality` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EigenvectorArgs {
    /// Graph name.
    pub graph: String,
    /// Weight attribute; 1 per edge when absent.
    pub weight: Option<String>,
    /// Iteration cap (100).
    #[serde(default = "hundred")]
    pub max_iter: usize,
    /// Tolerance (1e-6).
    #[serde(default = "tol6")]
    pub tol: f64,
    /// Page size.
    pub top_k: Option<usize>,
    /// Cursor.
    pub cursor: Option<String>,
}

/// `pagerank` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PageRankArgs {
    /// Graph name.
    pub graph: String,
    /// Damping factor (0.85).
    #[serde(default = "alpha85")]
    pub alpha: f64,
    /// Personalization: `[{node, value}]` (missing nodes get 0).
    pub personalization: Option<Vec<PersonalizationEntry>>,
    /// Weight attribute (default `weight`; `null` for 1 per edge).
    #[serde(default = "weight_key")]
    pub weight: Option<String>,
    /// Iteration cap (100).
    #[serde(default = "hundred")]
    pub max_iter: usize,
    /// Tolerance (1e-6).
    #[serde(default = "tol6")]
    pub tol: f64,
    /// Page size.
    pub top_k: Option<usize>,
    /// Cursor.
    pub cursor: Option<String>,
}

/// One personalization weight.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonalizationEntry {
    /// Node.
    pub node: NodeId,
    /// Weight (≥ 0).
    pub value: f64,
}

/// `centrality_measures` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasuresArgs {
    /// Graph name.
    pub graph: String,
    /// Any of degree, betweenness, closeness, eigenvector, pagerank (all by default).
    pub measures: Option<Vec<String>>,
    /// Page size of each measure.
    pub top_k: Option<usize>,
}

/// `centrality_measures` result: one paged result per measure.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Measures {
    /// Measure name → values.
    pub measures: std::collections::BTreeMap<String, NodeValues>,
}

/// `connected_components` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentsArgs {
    /// Graph name.
    pub graph: String,
    /// Strongly connected components (directed graphs); weak otherwise.
    #[serde(default)]
    pub strong: bool,
}

/// `connected_components` result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Components {
    /// Number of components.
    pub num_components: usize,
    /// Sizes, descending.
    pub sizes: Vec<usize>,
    /// Components (largest first), nodes in node order.
    pub components: Vec<Vec<NodeId>>,
}

fn louvain_name() -> String {
    "louvain".into()
}

/// `community_detection` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommunityArgs {
    /// Graph name.
    pub graph: String,
    /// louvain (default), label_propagation, greedy_modularity.
    #[serde(default = "louvain_name")]
    pub method: String,
    /// Weight attribute (default `weight`, missing = 1; `null` for 1 per edge).
    #[serde(default = "weight_key")]
    pub weight: Option<String>,
    /// Modularity resolution γ (1).
    #[serde(default = "one")]
    pub resolution: f64,
    /// Random seed.
    #[serde(default)]
    pub seed: u64,
}

/// `community_detection` result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Communities {
    /// Communities, largest first.
    pub communities: Vec<Vec<NodeId>>,
    /// Modularity of the partition.
    pub modularity: f64,
    /// Method used.
    pub method: String,
}

/// `clustering_coefficients` result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Clustering {
    /// Per-node coefficients, sorted.
    pub values: Vec<crate::paging::NodeValue>,
    /// More follow.
    pub truncated: bool,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
    /// Mean over all nodes.
    pub average_clustering: f64,
    /// Transitivity (null for directed graphs).
    pub transitivity: Option<f64>,
}

/// Degree summary.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DegreeStats {
    /// Mean degree.
    pub mean: f64,
    /// Population standard deviation.
    pub std: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

/// `graph_statistics` result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct GraphStatistics {
    /// Nodes.
    pub num_nodes: usize,
    /// Edges.
    pub num_edges: usize,
    /// Density.
    pub density: f64,
    /// Directed?
    pub is_directed: bool,
    /// Connected (strongly, for directed graphs).
    pub is_connected: bool,
    /// Degree summary (in + out for directed graphs).
    pub degree: DegreeStats,
    /// Diameter in hops (null when not connected).
    pub diameter: Option<f64>,
    /// Radius in hops (null when not connected).
    pub radius: Option<f64>,
    /// Mean distance (null when not connected).
    pub average_shortest_path_length: Option<f64>,
}

fn kruskal() -> String {
    "kruskal".into()
}

/// `minimum_spanning_tree` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MstArgs {
    /// Graph name.
    pub graph: String,
    /// Weight attribute (default `weight`, missing = 1).
    #[serde(default = "weight_string")]
    pub weight: String,
    /// kruskal (default) or prim.
    #[serde(default = "kruskal")]
    pub algorithm: String,
}

/// An edge with a weight.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EdgeWeight {
    /// Source.
    pub source: NodeId,
    /// Target.
    pub target: NodeId,
    /// Weight.
    pub weight: f64,
}

/// `minimum_spanning_tree` result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Mst {
    /// Tree (forest) edges.
    pub edges: Vec<EdgeWeight>,
    /// Sum of their weights.
    pub total_weight: f64,
}

/// `cycles_detection` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CyclesArgs {
    /// Graph name.
    pub graph: String,
    /// Most cycles to list (default and cap: the `max_cycles` limit).
    pub max_cycles: Option<usize>,
}

/// `cycles_detection` result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Cycles {
    /// Any cycle?
    pub has_cycle: bool,
    /// Directed acyclic (null for undirected graphs).
    pub is_dag: Option<bool>,
    /// Simple cycles (directed) or a cycle basis (undirected).
    pub cycles: Vec<Vec<NodeId>>,
    /// More cycles exist than listed.
    pub truncated: bool,
}

fn largest_first() -> String {
    "largest_first".into()
}

/// `graph_coloring` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ColoringArgs {
    /// Graph name.
    pub graph: String,
    /// largest_first (default), dsatur, independent_set.
    #[serde(default = "largest_first")]
    pub strategy: String,
}

/// A node's colour.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NodeColor {
    /// Node.
    pub node: NodeId,
    /// Colour index from 0.
    pub color: usize,
}

/// `graph_coloring` result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Coloring {
    /// Colours used.
    pub num_colors: usize,
    /// Colour per node, in node order.
    pub coloring: Vec<NodeColor>,
    /// Strategy used.
    pub strategy: String,
}

/// `matching` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchingArgs {
    /// Graph name.
    pub graph: String,
    /// Weight attribute (max weight); 1 per edge when absent.
    pub weight: Option<String>,
    /// Among maximum-cardinality matchings.
    #[serde(default)]
    pub max_cardinality: bool,
}

/// `matching` result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MatchingResult {
    /// Matched pairs.
    pub matching: Vec<(NodeId, NodeId)>,
    /// Number of pairs.
    pub size: usize,
    /// Sum of matched weights.
    pub total_weight: f64,
}

fn capacity() -> String {
    "capacity".into()
}

/// `maximum_flow` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowArgs {
    /// Graph name.
    pub graph: String,
    /// Source node.
    pub source: NodeId,
    /// Sink node.
    pub sink: NodeId,
    /// Capacity attribute (default `capacity`; missing = unbounded).
    #[serde(default = "capacity")]
    pub capacity: String,
}

/// Flow on an arc.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ArcFlow {
    /// Tail.
    pub source: NodeId,
    /// Head.
    pub target: NodeId,
    /// Flow.
    pub flow: f64,
}

/// `maximum_flow` result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Flow {
    /// Maximum flow value.
    pub flow_value: f64,
    /// Positive flows per arc.
    pub flow: Vec<ArcFlow>,
}

/// `topological_sort` result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TopoOrder {
    /// A topological order.
    pub order: Vec<NodeId>,
}

/// `efficiency` result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Efficiency {
    /// Global efficiency.
    pub global_efficiency: f64,
    /// Local efficiency.
    pub local_efficiency: f64,
}

/// `efficiency` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EfficiencyArgs {
    /// Graph name.
    pub graph: String,
    /// Length attribute; hops when absent (NetworkX).
    pub weight: Option<String>,
}

/// `network_metrics` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkMetricsArgs {
    /// Graph name (nodes with `x`, `y`; edges with `length`).
    pub graph: String,
    /// Box-counting dimension of the skeleton; default: the graph's
    /// `fractal_dimension` attribute (set by `extract_network`), else null.
    pub fractal_dimension: Option<f64>,
    /// Seed of the random edge removal.
    #[serde(default)]
    pub seed: u64,
}

// ---------------------------------------------------------------- registry

macro_rules! tool {
    ($name:literal, $desc:literal, $in:ty, $out:ty, $f:expr) => {
        ToolSpec {
            name: $name,
            description: $desc,
            input: || serde_json::to_value(schema_for!($in)).expect("schema"),
            output: || serde_json::to_value(schema_for!($out)).expect("schema"),
            handler: |ctx, args| {
                let input: $in = parse(args)?;
                let f: fn(&ToolContext<'_>, $in) -> Result<$out, GraphError> = $f;
                let out = f(ctx, input)?;
                serde_json::to_value(out).map_err(|e| GraphError::Store(e.to_string()))
            },
        }
    };
}

const TOOLS: &[ToolSpec] = &[
    tool!(
        "create_graph",
        "Create a named graph, optionally with nodes and edges",
        CreateGraphArgs,
        GraphInfo,
        create_graph
    ),
    tool!(
        "list_graphs",
        "List the tenant's graphs (paged)",
        ListGraphsArgs,
        GraphList,
        list_graphs
    ),
    tool!(
        "get_info",
        "Name, direction, node and edge counts of a graph",
        GraphArg,
        GraphInfo,
        |c, a| Ok(GraphInfo::of(&*get(c, &a.graph)?))
    ),
    tool!(
        "delete_graph",
        "Delete a graph",
        GraphArg,
        Deleted,
        |c, a| {
            c.store.delete(c.tenant, &a.graph)?;
            Ok(Deleted { deleted: a.graph })
        }
    ),
    tool!(
        "add_nodes",
        "Add nodes (attributes merge)",
        AddNodesArgs,
        Mutation,
        add_nodes
    ),
    tool!(
        "add_edges",
        "Add edges [u,v], [u,v,w] or {source,target,weight?,attrs?}",
        AddEdgesArgs,
        Mutation,
        add_edges
    ),
    tool!(
        "remove_nodes",
        "Remove nodes and their edges",
        RemoveNodesArgs,
        Mutation,
        remove_nodes
    ),
    tool!(
        "remove_edges",
        "Remove edges",
        RemoveEdgesArgs,
        Mutation,
        remove_edges
    ),
    tool!(
        "get_neighbors",
        "Neighbours of a node (paged)",
        NeighborsArgs,
        Neighbors,
        get_neighbors
    ),
    tool!(
        "set_node_attributes",
        "Merge attributes into nodes",
        SetNodeAttrsArgs,
        Mutation,
        set_node_attributes
    ),
    tool!(
        "get_node_attributes",
        "Node attributes (paged)",
        GetNodeAttrsArgs,
        NodeAttrsList,
        get_node_attributes
    ),
    tool!(
        "set_edge_attributes",
        "Merge attributes into edges",
        SetEdgeAttrsArgs,
        Mutation,
        set_edge_attributes
    ),
    tool!(
        "get_edge_attributes",
        "Edge attributes (paged)",
        GetEdgeAttrsArgs,
        EdgeAttrsList,
        get_edge_attributes
    ),
    tool!(
        "subgraph",
        "Store the subgraph induced by some nodes under a new name",
        SubgraphArgs,
        GraphInfo,
        subgraph
    ),
    tool!(
        "merge_graphs",
        "Compose graphs into a new one (later attributes win)",
        MergeArgs,
        GraphInfo,
        merge_graphs
    ),
    tool!(
        "import_graph",
        "Import edge-list CSV, node-link JSON or GraphML",
        ImportArgs,
        GraphInfo,
        import_graph
    ),
    tool!(
        "export_graph",
        "Export as edge-list CSV, node-link JSON or GraphML",
        ExportArgs,
        Exported,
        |c, a| {
            let g = get(c, &a.graph)?;
            Ok(Exported {
                format: a.format,
                data: io::export(&g, a.format),
            })
        }
    ),
    tool!(
        "generate_graph",
        "Generate a graph (seeded)",
        GenerateArgs,
        GraphInfo,
        generate_graph
    ),
    tool!(
        "shortest_path",
        "Shortest path (BFS, Dijkstra or Bellman-Ford) and its length",
        ShortestPathArgs,
        ShortestPath,
        |c, a| {
            let g = get(c, &a.graph)?;
            let r = paths::shortest_path(&g, &a.source, &a.target, a.weight.as_deref())?;
            Ok(ShortestPath {
                path: r.path,
                length: r.length,
            })
        }
    ),
    tool!(
        "all_pairs_shortest_path_length",
        "Distances between all pairs (paged by source)",
        AllPairsArgs,
        AllPairs,
        all_pairs
    ),
    tool!(
        "degree_centrality",
        "Degree centrality deg/(n-1)",
        PagedGraphArgs,
        NodeValues,
        |c, a| {
            let g = get(c, &a.graph)?;
            per_node(&g, centrality::degree_centrality(&g), a.top_k, a.cursor)
        }
    ),
    tool!(
        "betweenness_centrality",
        "Betweenness centrality (Brandes; weighted, sampled)",
        BetweennessArgs,
        NodeValues,
        |c, a| {
            let g = get(c, &a.graph)?;
            let opts = centrality::BetweennessOptions {
                normalized: a.normalized,
                endpoints: a.endpoints,
                weight: a.weight,
                k: a.k,
                seed: a.seed,
            };
            let v = centrality::betweenness_centrality_ctl(&g, &opts, c.store.limits(), c.control)?;
            per_node(&g, v, a.top_k, a.cursor)
        }
    ),
    tool!(
        "closeness_centrality",
        "Closeness centrality (Wasserman-Faust improved)",
        ClosenessArgs,
        NodeValues,
        |c, a| {
            let g = get(c, &a.graph)?;
            let v = centrality::closeness_centrality_ctl(
                &g,
                a.weight.as_deref(),
                a.wf_improved,
                c.store.limits(),
                c.control,
            )?;
            per_node(&g, v, a.top_k, a.cursor)
        }
    ),
    tool!(
        "eigenvector_centrality",
        "Eigenvector centrality (power iteration)",
        EigenvectorArgs,
        NodeValues,
        |c, a| {
            let g = get(c, &a.graph)?;
            let v = centrality::eigenvector_centrality_ctl(
                &g,
                a.weight.as_deref(),
                a.max_iter,
                a.tol,
                c.control,
            )?;
            per_node(&g, v, a.top_k, a.cursor)
        }
    ),
    tool!(
        "pagerank",
        "PageRank with damping and personalization",
        PageRankArgs,
        NodeValues,
        pagerank
    ),
    tool!(
        "centrality_measures",
        "Several centralities at once",
        MeasuresArgs,
        Measures,
        measures
    ),
    tool!(
        "connected_components",
        "Connected (weak or strong) components",
        ComponentsArgs,
        Components,
        |c, a| {
            let g = get(c, &a.graph)?;
            let comps = structure::connected_components(&g, a.strong)?;
            Ok(Components {
                num_components: comps.len(),
                sizes: comps.iter().map(Vec::len).collect(),
                components: comps,
            })
        }
    ),
    tool!(
        "community_detection",
        "Communities (louvain, label_propagation, greedy_modularity) and modularity",
        CommunityArgs,
        Communities,
        |c, a| {
            let g = get(c, &a.graph)?;
            let (communities, modularity) = community::detect_ctl(
                &g,
                &a.method,
                a.weight.as_deref(),
                a.resolution,
                a.seed,
                c.control,
            )?;
            Ok(Communities {
                communities,
                modularity,
                method: a.method,
            })
        }
    ),
    tool!(
        "clustering_coefficients",
        "Clustering per node, average clustering and transitivity",
        PagedGraphArgs,
        Clustering,
        |c, a| {
            let g = get(c, &a.graph)?;
            let (v, t) = structure::clustering_and_transitivity(&g)?;
            let avg = if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            };
            let p = per_node(&g, v, a.top_k, a.cursor)?;
            Ok(Clustering {
                values: p.values,
                truncated: p.truncated,
                next_cursor: p.next_cursor,
                average_clustering: avg,
                transitivity: t,
            })
        }
    ),
    tool!(
        "graph_statistics",
        "Size, density, degrees, connectedness, diameter, radius, mean distance",
        GraphArg,
        GraphStatistics,
        |c, a| {
            let g = get(c, &a.graph)?;
            let s = structure::statistics_ctl(&g, c.store.limits(), c.control)?;
            Ok(GraphStatistics {
                num_nodes: s.num_nodes,
                num_edges: s.num_edges,
                density: s.density,
                is_directed: s.is_directed,
                is_connected: s.is_connected,
                degree: DegreeStats {
                    mean: s.degree[0],
                    std: s.degree[1],
                    min: s.degree[2],
                    max: s.degree[3],
                },
                diameter: s.diameter,
                radius: s.radius,
                average_shortest_path_length: s.average_shortest_path_length,
            })
        }
    ),
    tool!(
        "minimum_spanning_tree",
        "Minimum spanning tree or forest (kruskal, prim)",
        MstArgs,
        Mst,
        |c, a| {
            let g = get(c, &a.graph)?;
            let prim = match a.algorithm.as_str() {
                "kruskal" => false,
                "prim" => true,
                o => {
                    return Err(GraphError::invalid(
                        "algorithm",
                        format!("{o:?} is not one of kruskal, prim"),
                    ));
                }
            };
            let (edges, total_weight) = structure::minimum_spanning_tree(&g, &a.weight, prim)?;
            Ok(Mst {
                edges: edges
                    .into_iter()
                    .map(|e| EdgeWeight {
                        source: e.source,
                        target: e.target,
                        weight: e.weight,
                    })
                    .collect(),
                total_weight,
            })
        }
    ),
    tool!(
        "cycles_detection",
        "Cycles: simple cycles (directed, capped) or a cycle basis",
        CyclesArgs,
        Cycles,
        |c, a| {
            let g = get(c, &a.graph)?;
            let cap = c.store.limits().max_cycles;
            let max = a.max_cycles.unwrap_or(cap);
            GraphError::check_limit("max_cycles", max, "max_cycles", cap)?;
            let (has_cycle, is_dag, cycles, truncated) = structure::cycles_ctl(&g, max, c.control)?;
            Ok(Cycles {
                has_cycle,
                is_dag,
                cycles,
                truncated,
            })
        }
    ),
    tool!(
        "graph_coloring",
        "Greedy colouring (largest_first, dsatur, independent_set)",
        ColoringArgs,
        Coloring,
        |c, a| {
            let g = get(c, &a.graph)?;
            let colors = structure::coloring(&g, &a.strategy)?;
            Ok(Coloring {
                num_colors: colors.iter().max().map_or(0, |m| m + 1),
                coloring: g
                    .nodes()
                    .zip(colors)
                    .map(|((id, _), color)| NodeColor {
                        node: id.clone(),
                        color,
                    })
                    .collect(),
                strategy: a.strategy,
            })
        }
    ),
    tool!(
        "matching",
        "Maximum weight or maximum cardinality matching",
        MatchingArgs,
        MatchingResult,
        |c, a| {
            let g = get(c, &a.graph)?;
            let (matching, total_weight) =
                structure::matching(&g, a.weight.as_deref(), a.max_cardinality)?;
            Ok(MatchingResult {
                size: matching.len(),
                matching,
                total_weight,
            })
        }
    ),
    tool!(
        "maximum_flow",
        "Maximum flow value and flow per arc (Dinic)",
        FlowArgs,
        Flow,
        |c, a| {
            let g = get(c, &a.graph)?;
            let (flow_value, arcs) = structure::maximum_flow(&g, &a.source, &a.sink, &a.capacity)?;
            Ok(Flow {
                flow_value,
                flow: arcs
                    .into_iter()
                    .map(|e| ArcFlow {
                        source: e.source,
                        target: e.target,
                        flow: e.weight,
                    })
                    .collect(),
            })
        }
    ),
    tool!(
        "topological_sort",
        "A topological order of a DAG",
        GraphArg,
        TopoOrder,
        |c, a| {
            Ok(TopoOrder {
                order: structure::topological_sort(&*get(c, &a.graph)?)?,
            })
        }
    ),
    tool!(
        "efficiency",
        "Global and local efficiency (Latora-Marchiori)",
        EfficiencyArgs,
        Efficiency,
        |c, a| {
            let g = get(c, &a.graph)?;
            let (global_efficiency, local_efficiency) =
                structure::efficiency_ctl(&g, a.weight.as_deref(), c.store.limits(), c.control)?;
            Ok(Efficiency {
                global_efficiency,
                local_efficiency,
            })
        }
    ),
    tool!(
        "core_number",
        "Core number of every node",
        PagedGraphArgs,
        NodeValues,
        |c, a| {
            let g = get(c, &a.graph)?;
            let v = structure::core_number(&g)?
                .into_iter()
                .map(|k| k as f64)
                .collect();
            per_node(&g, v, a.top_k, a.cursor)
        }
    ),
    tool!(
        "network_metrics",
        "Metrics of a spatial network (nodes x, y; edges length)",
        NetworkMetricsArgs,
        network::NetworkMetrics,
        |c, a| {
            let g = get(c, &a.graph)?;
            // An extracted network carries its skeleton's dimension.
            let stored = g.attrs().get("fractal_dimension").and_then(Value::as_f64);
            network::network_metrics_ctl(
                &g,
                a.fractal_dimension.or(stored),
                a.seed,
                c.store.limits(),
                c.control,
            )
        }
    ),
];

/// Every tool of the registry.
pub fn tools() -> &'static [ToolSpec] {
    TOOLS
}

/// Names of every tool, in registry order.
pub fn tool_names() -> Vec<&'static str> {
    TOOLS.iter().map(|t| t.name).collect()
}

/// The tool called `name`.
pub fn tool(name: &str) -> Option<&'static ToolSpec> {
    TOOLS.iter().find(|t| t.name == name)
}

/// JSON Schema of a tool's arguments.
pub fn input_schema(name: &str) -> Option<Value> {
    tool(name).map(ToolSpec::input_schema)
}

/// JSON Schema of a tool's result.
pub fn output_schema(name: &str) -> Option<Value> {
    tool(name).map(ToolSpec::output_schema)
}

/// Run tool `name` with JSON `args`.
pub fn call(ctx: &ToolContext<'_>, name: &str, args: Value) -> Result<Value, GraphError> {
    let spec = tool(name).ok_or_else(|| GraphError::UnknownTool(name.to_owned()))?;
    (spec.handler)(ctx, args)
}

// ---------------------------------------------------------------- handlers

/// Deserialize arguments, naming the field at fault.
fn parse<T: DeserializeOwned>(args: Value) -> Result<T, GraphError> {
    let args = if args.is_null() {
        Value::Object(Default::default())
    } else {
        args
    };
    serde_path_to_error::deserialize(args).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "args".to_owned() } else { path };
        GraphError::invalid(field, e.into_inner().to_string())
    })
}

fn get(ctx: &ToolContext<'_>, name: &str) -> Result<std::sync::Arc<Graph>, GraphError> {
    ctx.store.get(ctx.tenant, name)
}

fn items(what: &str, n: usize, ctx: &ToolContext<'_>) -> Result<(), GraphError> {
    GraphError::check_limit(
        what,
        n,
        "max_items_per_call",
        ctx.store.limits().max_items_per_call,
    )
}

fn per_node(
    g: &Graph,
    values: Vec<f64>,
    top_k: Option<usize>,
    cursor: Option<String>,
) -> Result<NodeValues, GraphError> {
    let pairs = g.nodes().map(|(id, _)| id.clone()).zip(values).collect();
    page_values(pairs, &Page { top_k, cursor })
}

fn mutation(g: &Graph, changed: usize) -> Mutation {
    Mutation {
        name: g.name().to_owned(),
        directed: g.is_directed(),
        num_nodes: g.num_nodes(),
        num_edges: g.num_edges(),
        changed,
    }
}

/// Copy, change, check limits, store durably.
fn mutate(
    ctx: &ToolContext<'_>,
    name: &str,
    f: impl FnOnce(&mut Graph) -> Result<usize, GraphError>,
) -> Result<Mutation, GraphError> {
    let mut f = Some(f);
    let mut out = None;
    ctx.store.update(ctx.tenant, name, &mut |stored| {
        let mut g = stored.clone();
        let f = f
            .take()
            .ok_or_else(|| GraphError::Store("update retried".into()))?;
        let changed = f(&mut g)?;
        g.check_limits(ctx.store.limits())?;
        out = Some(mutation(&g, changed));
        Ok(g)
    })?;
    out.ok_or_else(|| GraphError::Store("update did not run".into()))
}

fn fill(
    g: &mut Graph,
    nodes: Vec<NodeSpec>,
    edges: Vec<EdgeSpec>,
    limits: &crate::Limits,
) -> Result<(), GraphError> {
    GraphError::check_limit("nodes", nodes.len(), "max_nodes", limits.max_nodes)?;
    GraphError::check_limit("edges", edges.len(), "max_edges", limits.max_edges)?;
    for n in nodes {
        match n {
            NodeSpec::Id(id) => g.add_node(id, Attrs::new()),
            NodeSpec::WithAttrs { id, attrs } => g.add_node(id, attrs),
        }
    }
    for e in edges {
        let (u, v, a) = e.into_parts();
        g.add_edge(u, v, a);
    }
    g.check_limits(limits)
}

fn create_graph(ctx: &ToolContext<'_>, a: CreateGraphArgs) -> Result<GraphInfo, GraphError> {
    items("items", a.nodes.len() + a.edges.len(), ctx)?;
    let mut g = Graph::new(&a.name, a.directed)?;
    fill(&mut g, a.nodes, a.edges, ctx.store.limits())?;
    let info = GraphInfo::of(&g);
    ctx.store.put(ctx.tenant, g, a.overwrite)?;
    Ok(info)
}

fn list_graphs(ctx: &ToolContext<'_>, a: ListGraphsArgs) -> Result<GraphList, GraphError> {
    let mut all = ctx.store.list(ctx.tenant)?;
    let page = Page {
        top_k: a.top_k,
        cursor: a.cursor,
    };
    let (s, e) = page.window(all.len())?;
    let (truncated, next_cursor) = Page::next(e, all.len());
    Ok(GraphList {
        graphs: all.drain(s..e).collect(),
        truncated,
        next_cursor,
    })
}

fn add_nodes(ctx: &ToolContext<'_>, a: AddNodesArgs) -> Result<Mutation, GraphError> {
    items("nodes", a.nodes.len(), ctx)?;
    let n = a.nodes.len();
    let limits = ctx.store.limits().clone();
    mutate(ctx, &a.graph, |g| {
        fill(g, a.nodes, Vec::new(), &limits).map(|()| n)
    })
}

fn add_edges(ctx: &ToolContext<'_>, a: AddEdgesArgs) -> Result<Mutation, GraphError> {
    items("edges", a.edges.len(), ctx)?;
    let n = a.edges.len();
    let limits = ctx.store.limits().clone();
    mutate(ctx, &a.graph, |g| {
        fill(g, Vec::new(), a.edges, &limits).map(|()| n)
    })
}

fn remove_nodes(ctx: &ToolContext<'_>, a: RemoveNodesArgs) -> Result<Mutation, GraphError> {
    items("nodes", a.nodes.len(), ctx)?;
    mutate(ctx, &a.graph, |g| {
        for (i, n) in a.nodes.iter().enumerate() {
            g.require_node(&format!("nodes[{i}]"), n)?;
        }
        Ok(g.remove_nodes(&a.nodes))
    })
}

fn remove_edges(ctx: &ToolContext<'_>, a: RemoveEdgesArgs) -> Result<Mutation, GraphError> {
    items("edges", a.edges.len(), ctx)?;
    mutate(ctx, &a.graph, |g| {
        for (i, (u, v)) in a.edges.iter().enumerate() {
            if !g.remove_edge(u, v) {
                return Err(GraphError::EdgeNotFound {
                    field: format!("edges[{i}]"),
                    from: u.to_string(),
                    to: v.to_string(),
                });
            }
        }
        Ok(a.edges.len())
    })
}

fn get_neighbors(ctx: &ToolContext<'_>, a: NeighborsArgs) -> Result<Neighbors, GraphError> {
    let g = get(ctx, &a.graph)?;
    let i = g.require_node("node", &a.node)?;
    let view = g.view(None)?;
    let mut nb: Vec<usize> = match (view.directed, a.direction) {
        (false, _) | (true, Direction::Out) => view.out[i].iter().map(|e| e.0).collect(),
        (true, Direction::In) => view.inc[i].iter().map(|e| e.0).collect(),
        (true, Direction::All) => view.out[i]
            .iter()
            .chain(&view.inc[i])
            .map(|e| e.0)
            .collect(),
    };
    let mut seen = std::collections::HashSet::new();
    nb.retain(|j| seen.insert(*j));
    let page = Page {
        top_k: a.top_k,
        cursor: a.cursor,
    };
    let (s, e) = page.window(nb.len())?;
    let (truncated, next_cursor) = Page::next(e, nb.len());
    Ok(Neighbors {
        node: a.node,
        neighbors: nb[s..e].iter().map(|&j| view.ids[j].clone()).collect(),
        truncated,
        next_cursor,
    })
}

fn merge_attrs(target: &mut Attrs, new: Attrs) {
    for (k, v) in new {
        if v.is_null() {
            target.remove(&k);
        } else {
            target.insert(k, v);
        }
    }
}

fn set_node_attributes(ctx: &ToolContext<'_>, a: SetNodeAttrsArgs) -> Result<Mutation, GraphError> {
    items("values", a.values.len(), ctx)?;
    mutate(ctx, &a.graph, |g| {
        let n = a.values.len();
        for (i, v) in a.values.into_iter().enumerate() {
            let attrs = g
                .node_attrs_mut(&v.node)
                .ok_or_else(|| GraphError::no_node(format!("values[{i}].node"), &v.node))?;
            merge_attrs(attrs, v.attrs);
        }
        Ok(n)
    })
}

fn set_edge_attributes(ctx: &ToolContext<'_>, a: SetEdgeAttrsArgs) -> Result<Mutation, GraphError> {
    items("values", a.values.len(), ctx)?;
    mutate(ctx, &a.graph, |g| {
        let n = a.values.len();
        for (i, v) in a.values.into_iter().enumerate() {
            let attrs =
                g.edge_attrs_mut(&v.source, &v.target)
                    .ok_or_else(|| GraphError::EdgeNotFound {
                        field: format!("values[{i}]"),
                        from: v.source.to_string(),
                        to: v.target.to_string(),
                    })?;
            merge_attrs(attrs, v.attrs);
        }
        Ok(n)
    })
}

fn only(attrs: &Attrs, name: &Option<String>) -> Attrs {
    match name {
        None => attrs.clone(),
        Some(k) => attrs
            .get(k)
            .map(|v| Attrs::from_iter([(k.clone(), v.clone())]))
            .unwrap_or_default(),
    }
}

fn get_node_attributes(
    ctx: &ToolContext<'_>,
    a: GetNodeAttrsArgs,
) -> Result<NodeAttrsList, GraphError> {
    let g = get(ctx, &a.graph)?;
    let ids: Vec<NodeId> = match a.nodes {
        Some(list) => {
            for (i, n) in list.iter().enumerate() {
                g.require_node(&format!("nodes[{i}]"), n)?;
            }
            list
        }
        None => g.nodes().map(|(k, _)| k.clone()).collect(),
    };
    let page = Page {
        top_k: a.top_k,
        cursor: a.cursor,
    };
    let (s, e) = page.window(ids.len())?;
    let (truncated, next_cursor) = Page::next(e, ids.len());
    let nodes = ids[s..e]
        .iter()
        .map(|id| NodeAttrs {
            node: id.clone(),
            attrs: only(g.node_attrs(id).expect("checked"), &a.name),
        })
        .collect();
    Ok(NodeAttrsList {
        nodes,
        truncated,
        next_cursor,
    })
}

fn get_edge_attributes(
    ctx: &ToolContext<'_>,
    a: GetEdgeAttrsArgs,
) -> Result<EdgeAttrsList, GraphError> {
    let g = get(ctx, &a.graph)?;
    let pairs: Vec<(NodeId, NodeId)> = match a.edges {
        Some(list) => {
            for (i, (u, v)) in list.iter().enumerate() {
                if !g.has_edge(u, v) {
                    return Err(GraphError::EdgeNotFound {
                        field: format!("edges[{i}]"),
                        from: u.to_string(),
                        to: v.to_string(),
                    });
                }
            }
            list
        }
        None => g.edges().map(|(u, v, _)| (u.clone(), v.clone())).collect(),
    };
    let page = Page {
        top_k: a.top_k,
        cursor: a.cursor,
    };
    let (s, e) = page.window(pairs.len())?;
    let (truncated, next_cursor) = Page::next(e, pairs.len());
    let edges = pairs[s..e]
        .iter()
        .map(|(u, v)| EdgeAttrs {
            source: u.clone(),
            target: v.clone(),
            attrs: only(g.edge_attrs(u, v).expect("checked"), &a.name),
        })
        .collect();
    Ok(EdgeAttrsList {
        edges,
        truncated,
        next_cursor,
    })
}

fn subgraph(ctx: &ToolContext<'_>, a: SubgraphArgs) -> Result<GraphInfo, GraphError> {
    items("nodes", a.nodes.len(), ctx)?;
    let g = get(ctx, &a.graph)?;
    let mut keep = std::collections::HashSet::new();
    for (i, n) in a.nodes.iter().enumerate() {
        g.require_node(&format!("nodes[{i}]"), n)?;
        keep.insert(n);
    }
    let mut s = Graph::new(&a.name, g.is_directed())?;
    s.attrs_mut().clone_from(g.attrs());
    for (id, attrs) in g.nodes().filter(|(id, _)| keep.contains(id)) {
        s.add_node(id.clone(), attrs.clone());
    }
    for (u, v, attrs) in g
        .edges()
        .filter(|(u, v, _)| keep.contains(u) && keep.contains(v))
    {
        s.add_edge(u.clone(), v.clone(), attrs.clone());
    }
    let info = GraphInfo::of(&s);
    ctx.store.put(ctx.tenant, s, a.overwrite)?;
    Ok(info)
}

fn merge_graphs(ctx: &ToolContext<'_>, a: MergeArgs) -> Result<GraphInfo, GraphError> {
    if a.graphs.is_empty() {
        return Err(GraphError::invalid(
            "graphs",
            "must name at least one graph",
        ));
    }
    let gs: Vec<_> = a
        .graphs
        .iter()
        .map(|n| get(ctx, n))
        .collect::<Result<_, _>>()?;
    let directed = gs[0].is_directed();
    if let Some(i) = gs.iter().position(|g| g.is_directed() != directed) {
        return Err(GraphError::invalid(
            format!("graphs[{i}]"),
            "all graphs must be directed, or all undirected",
        ));
    }
    let mut m = Graph::new(&a.name, directed)?;
    for g in &gs {
        m.attrs_mut().extend(g.attrs().clone());
        for (id, attrs) in g.nodes() {
            m.add_node(id.clone(), attrs.clone());
        }
        for (u, v, attrs) in g.edges() {
            m.add_edge(u.clone(), v.clone(), attrs.clone());
        }
        m.check_limits(ctx.store.limits())?;
    }
    let info = GraphInfo::of(&m);
    ctx.store.put(ctx.tenant, m, a.overwrite)?;
    Ok(info)
}

fn import_graph(ctx: &ToolContext<'_>, a: ImportArgs) -> Result<GraphInfo, GraphError> {
    let mut g = io::import(a.format, &a.data, &a.name, a.directed, ctx.store.limits())?;
    g.set_name(&a.name)?;
    let info = GraphInfo::of(&g);
    ctx.store.put(ctx.tenant, g, a.overwrite)?;
    Ok(info)
}

fn generate_graph(ctx: &ToolContext<'_>, a: GenerateArgs) -> Result<GraphInfo, GraphError> {
    let g = generators::generate(
        &a.name,
        &a.kind,
        a.n,
        a.m,
        a.k,
        a.p,
        (a.rows, a.cols),
        a.directed,
        a.seed,
        ctx.store.limits(),
    )?;
    let info = GraphInfo::of(&g);
    ctx.store.put(ctx.tenant, g, a.overwrite)?;
    Ok(info)
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

fn pagerank(ctx: &ToolContext<'_>, a: PageRankArgs) -> Result<NodeValues, GraphError> {
    let g = get(ctx, &a.graph)?;
    let personalization = a.personalization.map(|p| {
        p.into_iter()
            .map(|e| (e.node, e.value))
            .collect::<HashMap<_, _>>()
    });
    let opts = centrality::PageRankOptions {
        alpha: a.alpha,
        personalization,
        weight: a.weight,
        max_iter: a.max_iter,
        tol: a.tol,
    };
    let v = centrality::pagerank_ctl(&g, &opts, ctx.control)?;
    per_node(&g, v, a.top_k, a.cursor)
}

fn measures(ctx: &ToolContext<'_>, a: MeasuresArgs) -> Result<Measures, GraphError> {
    let g = get(ctx, &a.graph)?;
    let names = a.measures.unwrap_or_else(|| {
        [
            "degree",
            "betweenness",
            "closeness",
            "eigenvector",
            "pagerank",
        ]
        .map(String::from)
        .to_vec()
    });
    let limits = ctx.store.limits();
    let mut out = std::collections::BTreeMap::new();
    for (i, m) in names.iter().enumerate() {
        let v = match m.as_str() {
            "degree" => centrality::degree_centrality(&g),
            "betweenness" => centrality::betweenness_centrality_ctl(
                &g,
                &centrality::BetweennessOptions {
                    normalized: true,
                    ..Default::default()
                },
                limits,
                ctx.control,
            )?,
            "closeness" => {
                centrality::closeness_centrality_ctl(&g, None, true, limits, ctx.control)?
            }
            "eigenvector" => {
                centrality::eigenvector_centrality_ctl(&g, None, 100, 1e-6, ctx.control)?
            }
            "pagerank" => {
                centrality::pagerank_ctl(&g, &centrality::PageRankOptions::default(), ctx.control)?
            }
            other => {
                return Err(GraphError::invalid(
                    format!("measures[{i}]"),
                    format!(
                        "{other:?} is not one of degree, betweenness, closeness, eigenvector, pagerank"
                    ),
                ));
            }
        };
        out.insert(m.clone(), per_node(&g, v, a.top_k, None)?);
    }
    Ok(Measures { measures: out })
}
