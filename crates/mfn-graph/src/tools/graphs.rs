//! Graph tools: create, list, describe and delete graphs; add and remove nodes and
//! edges; read and merge attributes; store subgraphs and compositions; import and
//! export documents.

use serde::{Deserialize, Serialize};

use super::{EdgeSpec, GraphArg, NodeSpec, ToolContext, ToolSpec, get, items};
use crate::limits::{ATTR_BYTES, EDGE_BYTES, NODE_BYTES};
use crate::paging::Page;
use crate::store::GraphInfo;
use crate::tool;
use crate::{Attrs, Graph, GraphError, Limits, NodeId, io};

/// `create_graph` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListGraphsArgs {
    /// Page size.
    pub top_k: Option<usize>,
    /// Cursor of the next page.
    pub cursor: Option<String>,
}

/// `list_graphs` result.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct GraphList {
    /// The graphs, by name.
    pub graphs: Vec<GraphInfo>,
    /// More follow.
    pub truncated: bool,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// `delete_graph` result.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Deleted {
    /// Name of the deleted graph.
    pub deleted: String,
}

/// Result of a mutation: the graph's new summary and how many items changed.
#[derive(Debug, Serialize, schemars::JsonSchema)]
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
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddNodesArgs {
    /// Graph name.
    pub graph: String,
    /// Nodes to add (attributes merge into existing nodes).
    pub nodes: Vec<NodeSpec>,
}

/// `add_edges` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddEdgesArgs {
    /// Graph name.
    pub graph: String,
    /// Edges to add (an existing edge gets its attributes updated).
    pub edges: Vec<EdgeSpec>,
}

/// `remove_nodes` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveNodesArgs {
    /// Graph name.
    pub graph: String,
    /// Nodes to remove with their edges; all must exist.
    pub nodes: Vec<NodeId>,
}

/// `remove_edges` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveEdgesArgs {
    /// Graph name.
    pub graph: String,
    /// Edges `[u, v]` to remove; all must exist.
    pub edges: Vec<(NodeId, NodeId)>,
}

/// Direction of `get_neighbors`.
#[derive(Debug, Clone, Copy, Default, Deserialize, schemars::JsonSchema, PartialEq)]
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
#[derive(Debug, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Serialize, schemars::JsonSchema)]
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
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeAttrs {
    /// Node.
    pub node: NodeId,
    /// Attributes.
    pub attrs: Attrs,
}

/// Attributes of one edge.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetNodeAttrsArgs {
    /// Graph name.
    pub graph: String,
    /// Attributes to merge per node (a `null` value removes the attribute).
    pub values: Vec<NodeAttrs>,
}

/// `set_edge_attributes` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetEdgeAttrsArgs {
    /// Graph name.
    pub graph: String,
    /// Attributes to merge per edge (a `null` value removes the attribute).
    pub values: Vec<EdgeAttrs>,
}

/// `get_node_attributes` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct NodeAttrsList {
    /// Nodes with attributes, in node order.
    pub nodes: Vec<NodeAttrs>,
    /// More follow.
    pub truncated: bool,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// `get_edge_attributes` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct EdgeAttrsList {
    /// Edges with attributes, in edge order.
    pub edges: Vec<EdgeAttrs>,
    /// More follow.
    pub truncated: bool,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// `subgraph` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportArgs {
    /// Graph name.
    pub graph: String,
    /// `csv`, `json` (node-link) or `graphml`.
    pub format: io::Format,
}

/// `export_graph` result.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Exported {
    /// The format.
    pub format: io::Format,
    /// The document.
    pub data: String,
}

// ---------------------------------------------------------------- registry

pub(super) const TOOLS: &[ToolSpec] = &[
    tool! {
        name: "create_graph",
        description: "Create a named graph, optionally with nodes and edges",
        mutates: true,
        args: CreateGraphArgs,
        output: GraphInfo,
        handler: create_graph,
    },
    tool! {
        name: "list_graphs",
        description: "List the tenant's graphs (paged)",
        mutates: false,
        args: ListGraphsArgs,
        output: GraphList,
        handler: list_graphs,
    },
    tool! {
        name: "get_info",
        aliases: ["graph_info"],
        description: "Name, direction, node and edge counts of a graph",
        mutates: false,
        args: GraphArg,
        output: GraphInfo,
        handler: |c, a| Ok(GraphInfo::of(&*get(c, &a.graph)?)),
    },
    tool! {
        name: "delete_graph",
        description: "Delete a graph",
        mutates: true,
        args: GraphArg,
        output: Deleted,
        handler: |c, a| {
            c.store.delete(c.tenant, &a.graph)?;
            Ok(Deleted { deleted: a.graph })
        },
    },
    tool! {
        name: "add_nodes",
        description: "Add nodes (attributes merge)",
        mutates: true,
        args: AddNodesArgs,
        output: Mutation,
        handler: add_nodes,
    },
    tool! {
        name: "add_edges",
        description: "Add edges [u,v], [u,v,w] or {source,target,weight?,attrs?}",
        mutates: true,
        args: AddEdgesArgs,
        output: Mutation,
        handler: add_edges,
    },
    tool! {
        name: "remove_nodes",
        description: "Remove nodes and their edges",
        mutates: true,
        args: RemoveNodesArgs,
        output: Mutation,
        handler: remove_nodes,
    },
    tool! {
        name: "remove_edges",
        description: "Remove edges",
        mutates: true,
        args: RemoveEdgesArgs,
        output: Mutation,
        handler: remove_edges,
    },
    tool! {
        name: "get_neighbors",
        description: "Neighbours of a node (paged)",
        mutates: false,
        args: NeighborsArgs,
        output: Neighbors,
        handler: get_neighbors,
    },
    tool! {
        name: "set_node_attributes",
        description: "Merge attributes into nodes",
        mutates: true,
        args: SetNodeAttrsArgs,
        output: Mutation,
        handler: set_node_attributes,
    },
    tool! {
        name: "get_node_attributes",
        description: "Node attributes (paged)",
        mutates: false,
        args: GetNodeAttrsArgs,
        output: NodeAttrsList,
        handler: get_node_attributes,
    },
    tool! {
        name: "set_edge_attributes",
        description: "Merge attributes into edges",
        mutates: true,
        args: SetEdgeAttrsArgs,
        output: Mutation,
        handler: set_edge_attributes,
    },
    tool! {
        name: "get_edge_attributes",
        description: "Edge attributes (paged)",
        mutates: false,
        args: GetEdgeAttrsArgs,
        output: EdgeAttrsList,
        handler: get_edge_attributes,
    },
    tool! {
        name: "subgraph",
        description: "Store the subgraph induced by some nodes under a new name",
        mutates: true,
        args: SubgraphArgs,
        output: GraphInfo,
        handler: subgraph,
    },
    tool! {
        name: "merge_graphs",
        description: "Compose graphs into a new one (later attributes win)",
        mutates: true,
        args: MergeArgs,
        output: GraphInfo,
        handler: merge_graphs,
    },
    tool! {
        name: "import_graph",
        description: "Import edge-list CSV, node-link JSON or GraphML",
        mutates: true,
        args: ImportArgs,
        output: GraphInfo,
        handler: import_graph,
    },
    tool! {
        name: "export_graph",
        description: "Export as edge-list CSV, node-link JSON or GraphML",
        mutates: false,
        args: ExportArgs,
        output: Exported,
        handler: |c, a| {
            let g = get(c, &a.graph)?;
            // The document is at most about the graph's size in memory.
            c.store.limits().budget("graph", g.approx_bytes() as u64)?;
            Ok(Exported {
                format: a.format,
                data: io::export(&g, a.format),
            })
        },
    },
];

// ---------------------------------------------------------------- handlers

fn mutation(g: &Graph, changed: usize) -> Mutation {
    Mutation {
        name: g.name().to_owned(),
        directed: g.is_directed(),
        num_nodes: g.num_nodes(),
        num_edges: g.num_edges(),
        changed,
    }
}

/// Copy, change, check limits, store durably. A shared store runs `f` again on the newer
/// graph when another replica changed it first.
///
/// Memory: the stored graph, its changed copy, and `extra` bytes of new items (field
/// `field`), checked against the call's budget before the copy is made.
fn mutate(
    ctx: &ToolContext<'_>,
    name: &str,
    (field, extra): (&str, u64),
    mut f: impl FnMut(&mut Graph) -> Result<usize, GraphError>,
) -> Result<Mutation, GraphError> {
    let mut out = None;
    ctx.store.update(ctx.tenant, name, &mut |stored| {
        ctx.control.check()?;
        let copy = 2 * stored.approx_bytes() as u64;
        ctx.store
            .limits()
            .budget(field, copy.saturating_add(extra))?;
        let mut g = stored.clone();
        let changed = f(&mut g)?;
        g.check_limits(ctx.store.limits())?;
        out = Some(mutation(&g, changed));
        Ok(g)
    })?;
    out.ok_or_else(|| GraphError::Store("update did not run".into()))
}

/// Estimated bytes of new nodes and edges given in a call.
fn items_bytes(nodes: &[NodeSpec], edges: &[EdgeSpec]) -> u64 {
    let attrs = |a: &Attrs| -> u64 { a.iter().map(|(k, v)| crate::io::attr_bytes(k, v)).sum() };
    let n: u64 = nodes
        .iter()
        .map(|n| match n {
            NodeSpec::Id(_) => NODE_BYTES,
            NodeSpec::WithAttrs { attrs: a, .. } => NODE_BYTES + attrs(a),
        })
        .sum();
    let e: u64 = edges
        .iter()
        .map(|e| match e {
            EdgeSpec::Object { attrs: a, .. } => {
                EDGE_BYTES + 2 * NODE_BYTES + ATTR_BYTES + attrs(a)
            }
            _ => EDGE_BYTES + 2 * NODE_BYTES + ATTR_BYTES,
        })
        .sum();
    n + e
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
    let field = if a.edges.is_empty() { "nodes" } else { "edges" };
    ctx.store
        .limits()
        .budget(field, items_bytes(&a.nodes, &a.edges))?;
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
    let extra = items_bytes(&a.nodes, &[]);
    mutate(ctx, &a.graph, ("nodes", extra), |g| {
        fill(g, a.nodes.clone(), Vec::new(), &limits).map(|()| n)
    })
}

fn add_edges(ctx: &ToolContext<'_>, a: AddEdgesArgs) -> Result<Mutation, GraphError> {
    items("edges", a.edges.len(), ctx)?;
    let n = a.edges.len();
    let limits = ctx.store.limits().clone();
    let extra = items_bytes(&[], &a.edges);
    mutate(ctx, &a.graph, ("edges", extra), |g| {
        fill(g, Vec::new(), a.edges.clone(), &limits).map(|()| n)
    })
}

fn remove_nodes(ctx: &ToolContext<'_>, a: RemoveNodesArgs) -> Result<Mutation, GraphError> {
    items("nodes", a.nodes.len(), ctx)?;
    mutate(ctx, &a.graph, ("graph", 0), |g| {
        for (i, n) in a.nodes.iter().enumerate() {
            g.require_node(&format!("nodes[{i}]"), n)?;
        }
        Ok(g.remove_nodes(&a.nodes))
    })
}

fn remove_edges(ctx: &ToolContext<'_>, a: RemoveEdgesArgs) -> Result<Mutation, GraphError> {
    items("edges", a.edges.len(), ctx)?;
    mutate(ctx, &a.graph, ("graph", 0), |g| {
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
    let adj = g.adjacency();
    let i = adj
        .index(&g, &a.node)
        .ok_or_else(|| GraphError::no_node("node", &a.node))?;
    let nb: Vec<u32> = match (adj.directed, a.direction) {
        (false, _) | (true, Direction::Out) => adj.out.nbrs(i).to_vec(),
        (true, Direction::In) => adj.inc().nbrs(i).to_vec(),
        (true, Direction::All) => {
            let mut nb = adj.out.nbrs(i).to_vec();
            nb.extend_from_slice(adj.inc().nbrs(i));
            // A reciprocal pair is one neighbour, listed where first seen.
            let mut seen = std::collections::HashSet::new();
            nb.retain(|j| seen.insert(*j));
            nb
        }
    };
    let page = Page {
        top_k: a.top_k,
        cursor: a.cursor,
    };
    let (s, e) = page.window(nb.len())?;
    let (truncated, next_cursor) = Page::next(e, nb.len());
    Ok(Neighbors {
        node: a.node,
        neighbors: nb[s..e]
            .iter()
            .map(|&j| g.node_at(j as usize).expect("index").clone())
            .collect(),
        truncated,
        next_cursor,
    })
}

/// Estimated bytes of attributes given in a call.
fn values_bytes(attrs: &Attrs) -> u64 {
    attrs.iter().map(|(k, v)| crate::io::attr_bytes(k, v)).sum()
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
    let extra = a.values.iter().map(|v| values_bytes(&v.attrs)).sum();
    mutate(ctx, &a.graph, ("values", extra), |g| {
        let n = a.values.len();
        for (i, v) in a.values.iter().enumerate() {
            let attrs = g
                .node_attrs_mut(&v.node)
                .ok_or_else(|| GraphError::no_node(format!("values[{i}].node"), &v.node))?;
            merge_attrs(attrs, v.attrs.clone());
        }
        Ok(n)
    })
}

fn set_edge_attributes(ctx: &ToolContext<'_>, a: SetEdgeAttrsArgs) -> Result<Mutation, GraphError> {
    items("values", a.values.len(), ctx)?;
    let extra = a.values.iter().map(|v| values_bytes(&v.attrs)).sum();
    mutate(ctx, &a.graph, ("values", extra), |g| {
        let n = a.values.len();
        for (i, v) in a.values.iter().enumerate() {
            let attrs =
                g.edge_attrs_mut(&v.source, &v.target)
                    .ok_or_else(|| GraphError::EdgeNotFound {
                        field: format!("values[{i}]"),
                        from: v.source.to_string(),
                        to: v.target.to_string(),
                    })?;
            merge_attrs(attrs, v.attrs.clone());
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
    // Memory: the kept nodes and edges, counted before anything is copied.
    let kept_edges = g
        .edges()
        .filter(|(u, v, _)| keep.contains(u) && keep.contains(v))
        .count();
    let share = (keep.len() as f64 / g.num_nodes().max(1) as f64).min(1.0);
    let estimate = Limits::graph_bytes(keep.len() as u64, kept_edges as u64)
        + (share * g.approx_bytes() as f64) as u64;
    ctx.store.limits().budget("nodes", estimate)?;
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
    let total: u64 = gs.iter().map(|g| g.approx_bytes() as u64).sum();
    ctx.store.limits().budget("graphs", total)?;
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
    let mut g = io::import_ctl(
        a.format,
        &a.data,
        &a.name,
        a.directed,
        ctx.store.limits(),
        ctx.control,
    )?;
    g.set_name(&a.name)?;
    let info = GraphInfo::of(&g);
    ctx.store.put(ctx.tenant, g, a.overwrite)?;
    Ok(info)
}
