//! Structure tools: components, clustering, summary statistics, spanning trees,
//! cycles, colouring, matching, maximum flow, topological order, efficiency and core
//! numbers.

use serde::{Deserialize, Serialize};

use super::{GraphArg, PagedGraphArgs, ToolSpec, get, per_node, weight_string};
use crate::algo::structure::{self, ColorStrategy, MstAlgorithm};
use crate::paging::NodeValues;
use crate::tool;
use crate::{GraphError, NodeId};

/// `connected_components` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentsArgs {
    /// Graph name.
    pub graph: String,
    /// Strongly connected components (directed graphs); weak otherwise.
    #[serde(default)]
    pub strong: bool,
}

/// `connected_components` result.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Components {
    /// Number of components.
    pub num_components: usize,
    /// Sizes, descending.
    pub sizes: Vec<usize>,
    /// Components (largest first), nodes in node order.
    pub components: Vec<Vec<NodeId>>,
}

/// `clustering_coefficients` result.
#[derive(Debug, Serialize, schemars::JsonSchema)]
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
#[derive(Debug, Serialize, schemars::JsonSchema)]
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
#[derive(Debug, Serialize, schemars::JsonSchema)]
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

/// `minimum_spanning_tree` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MstArgs {
    /// Graph name.
    pub graph: String,
    /// Weight attribute (default `weight`, missing = 1).
    #[serde(default = "weight_string")]
    pub weight: String,
    /// The algorithm (kruskal by default).
    #[serde(default)]
    pub algorithm: MstAlgorithm,
}

/// An edge with a weight.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct EdgeWeight {
    /// Source.
    pub source: NodeId,
    /// Target.
    pub target: NodeId,
    /// Weight.
    pub weight: f64,
}

/// `minimum_spanning_tree` result.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Mst {
    /// Tree (forest) edges.
    pub edges: Vec<EdgeWeight>,
    /// Sum of their weights.
    pub total_weight: f64,
}

/// `cycles_detection` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CyclesArgs {
    /// Graph name.
    pub graph: String,
    /// Most cycles to list (default and cap: the `max_cycles` limit).
    pub max_cycles: Option<usize>,
}

/// `cycles_detection` result.
#[derive(Debug, Serialize, schemars::JsonSchema)]
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

/// `graph_coloring` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ColoringArgs {
    /// Graph name.
    pub graph: String,
    /// The strategy (largest_first by default).
    #[serde(default)]
    pub strategy: ColorStrategy,
}

/// A node's colour.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct NodeColor {
    /// Node.
    pub node: NodeId,
    /// Colour index from 0.
    pub color: usize,
}

/// `graph_coloring` result.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Coloring {
    /// Colours used.
    pub num_colors: usize,
    /// Colour per node, in node order.
    pub coloring: Vec<NodeColor>,
    /// Strategy used.
    pub strategy: ColorStrategy,
}

/// `matching` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Serialize, schemars::JsonSchema)]
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
#[derive(Debug, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ArcFlow {
    /// Tail.
    pub source: NodeId,
    /// Head.
    pub target: NodeId,
    /// Flow.
    pub flow: f64,
}

/// `maximum_flow` result.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Flow {
    /// Maximum flow value.
    pub flow_value: f64,
    /// Positive flows per arc.
    pub flow: Vec<ArcFlow>,
}

/// `topological_sort` result.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TopoOrder {
    /// A topological order.
    pub order: Vec<NodeId>,
}

/// `efficiency` result.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Efficiency {
    /// Global efficiency.
    pub global_efficiency: f64,
    /// Local efficiency.
    pub local_efficiency: f64,
}

/// `efficiency` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EfficiencyArgs {
    /// Graph name.
    pub graph: String,
    /// Length attribute; hops when absent (NetworkX).
    pub weight: Option<String>,
}

pub(super) const TOOLS: &[ToolSpec] = &[
    tool! {
        name: "connected_components",
        description: "Connected (weak or strong) components",
        mutates: false,
        args: ComponentsArgs,
        output: Components,
        handler: |c, a| {
            let g = get(c, &a.graph)?;
            let comps = structure::connected_components_ctl(&g, a.strong, c.control)?;
            Ok(Components {
                num_components: comps.len(),
                sizes: comps.iter().map(Vec::len).collect(),
                components: comps,
            })
        },
    },
    tool! {
        name: "clustering_coefficients",
        description: "Clustering per node, average clustering and transitivity",
        mutates: false,
        args: PagedGraphArgs,
        output: Clustering,
        handler: |c, a| {
            let g = get(c, &a.graph)?;
            let (v, t) = structure::clustering_and_transitivity_ctl(&g, c.control)?;
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
        },
    },
    tool! {
        name: "graph_statistics",
        description: "Size, density, degrees, connectedness, diameter, radius, mean distance",
        mutates: false,
        args: GraphArg,
        output: GraphStatistics,
        handler: |c, a| {
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
        },
    },
    tool! {
        name: "minimum_spanning_tree",
        description: "Minimum spanning tree or forest (kruskal, prim)",
        mutates: false,
        args: MstArgs,
        output: Mst,
        handler: |c, a| {
            let g = get(c, &a.graph)?;
            let (edges, total_weight) = structure::minimum_spanning_tree(&g, &a.weight, a.algorithm)?;
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
        },
    },
    tool! {
        name: "cycles_detection",
        description: "Cycles: simple cycles (directed, capped) or a cycle basis",
        mutates: false,
        args: CyclesArgs,
        output: Cycles,
        handler: |c, a| {
            let g = get(c, &a.graph)?;
            let cap = c.store.limits().max_cycles;
            let max = a.max_cycles.unwrap_or(cap);
            GraphError::check_limit("max_cycles", max, "max_cycles", cap)?;
            let (has_cycle, is_dag, cycles, truncated) = structure::cycles_ctl(&g, max, c.store.limits(), c.control)?;
            Ok(Cycles {
                has_cycle,
                is_dag,
                cycles,
                truncated,
            })
        },
    },
    tool! {
        name: "graph_coloring",
        description: "Greedy colouring (largest_first, dsatur, independent_set)",
        mutates: false,
        args: ColoringArgs,
        output: Coloring,
        handler: |c, a| {
            let g = get(c, &a.graph)?;
            let colors = structure::coloring(&g, a.strategy)?;
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
        },
    },
    tool! {
        name: "matching",
        description: "Maximum weight or maximum cardinality matching",
        mutates: false,
        args: MatchingArgs,
        output: MatchingResult,
        handler: |c, a| {
            let g = get(c, &a.graph)?;
            let (matching, total_weight) =
                structure::matching(&g, a.weight.as_deref(), a.max_cardinality, c.store.limits())?;
            Ok(MatchingResult {
                size: matching.len(),
                matching,
                total_weight,
            })
        },
    },
    tool! {
        name: "maximum_flow",
        description: "Maximum flow value and flow per arc (Dinic)",
        mutates: false,
        args: FlowArgs,
        output: Flow,
        handler: |c, a| {
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
        },
    },
    tool! {
        name: "topological_sort",
        description: "A topological order of a DAG",
        mutates: false,
        args: GraphArg,
        output: TopoOrder,
        handler: |c, a| {
            Ok(TopoOrder {
                order: structure::topological_sort(&*get(c, &a.graph)?)?,
            })
        },
    },
    tool! {
        name: "efficiency",
        description: "Global and local efficiency (Latora-Marchiori)",
        mutates: false,
        args: EfficiencyArgs,
        output: Efficiency,
        handler: |c, a| {
            let g = get(c, &a.graph)?;
            let (global_efficiency, local_efficiency) =
                structure::efficiency_ctl(&g, a.weight.as_deref(), c.store.limits(), c.control)?;
            Ok(Efficiency {
                global_efficiency,
                local_efficiency,
            })
        },
    },
    tool! {
        name: "core_number",
        description: "Core number of every node",
        mutates: false,
        args: PagedGraphArgs,
        output: NodeValues,
        handler: |c, a| {
            let g = get(c, &a.graph)?;
            let v = structure::core_number(&g)?
                .into_iter()
                .map(|k| k as f64)
                .collect();
            per_node(&g, v, a.top_k, a.cursor)
        },
    },
];
