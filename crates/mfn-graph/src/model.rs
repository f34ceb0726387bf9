//! The graph model (GRAPH.md "Graph model"): a named, directed or undirected, simple
//! graph whose nodes and edges carry JSON attributes.
//!
//! - **Node ids** are JSON integers or strings ([`NodeId`]) and come back exactly as
//!   given: `1` and `"1"` are two different nodes, as in NetworkX.
//! - **Simple**: at most one edge per ordered pair (directed) or unordered pair
//!   (undirected). Adding an existing edge merges the new attributes into it, as
//!   `networkx.Graph.add_edge` does. Self-loops are allowed.
//! - **Weights** are attributes: an algorithm told to use attribute `w` reads the
//!   number at `w` and treats a missing attribute as 1 (NetworkX's default); a
//!   non-numeric value is an error naming the edge.
//! - **Graph attributes** ([`Graph::attrs`], NetworkX's `G.graph`): a JSON object of
//!   the graph itself (units, source image, pixel size...), stored, exported as the
//!   node-link `graph` object and as GraphML `<data>` of `<graph>`. The graph's name is
//!   not among them: it is [`Graph::name`], and exports write it as `graph.name`.
//! - **Order**: nodes and edges iterate in insertion order (NetworkX's dict order), so
//!   order-sensitive algorithms (label propagation, greedy colouring) see the same order.
//!
//! Algorithms do not walk this structure directly: [`Graph::view`] builds a compact
//! adjacency ([`View`], indices `0..n` in node order) and, for the petgraph /
//! rustworkx-core algorithms, a `petgraph::Graph` with the same indices.

use std::fmt;
use std::sync::OnceLock;

use indexmap::IndexMap;
use petgraph::EdgeType;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{GraphError, Limits};

/// JSON attributes of a node or an edge.
pub type Attrs = serde_json::Map<String, serde_json::Value>;

/// A node id: a JSON integer or a JSON string, kept exactly as given.
///
/// Ordering (used for ties in sorted results): integers before strings, integers by
/// value, strings lexicographically.
///
/// ```
/// use mfn_graph::NodeId;
/// let ids: Vec<NodeId> = serde_json::from_str(r#"[3, "3", "a"]"#).unwrap();
/// assert_eq!(ids[0], NodeId::Int(3));
/// assert_eq!(ids[1], NodeId::Str("3".into()));
/// assert_eq!(serde_json::to_string(&ids).unwrap(), r#"[3,"3","a"]"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum NodeId {
    /// A JSON integer.
    Int(i64),
    /// A JSON string.
    Str(String),
}

/// A graph: name, direction, nodes and edges with attributes.
///
/// What is derived from the graph and costly to rebuild (its estimated size, the
/// compact adjacency of the algorithms) is kept beside it, built on first use and
/// dropped by every mutation; a graph held by the store (`Arc<Graph>`, immutable) builds
/// it once.
#[derive(Debug)]
pub struct Graph {
    name: String,
    directed: bool,
    attrs: Attrs,
    nodes: IndexMap<NodeId, Attrs>,
    edges: IndexMap<(NodeId, NodeId), Attrs>,
    derived: Derived,
}

/// What [`Graph`] derives lazily from its contents.
#[derive(Debug, Default)]
struct Derived {
    bytes: OnceLock<usize>,
    adjacency: OnceLock<crate::algo::adjacency::Adjacency>,
}

impl Clone for Graph {
    /// A copy of the contents; what is derived is rebuilt when the copy needs it (a copy
    /// is usually made to be changed).
    fn clone(&self) -> Self {
        Graph {
            name: self.name.clone(),
            directed: self.directed,
            attrs: self.attrs.clone(),
            nodes: self.nodes.clone(),
            edges: self.edges.clone(),
            derived: Derived::default(),
        }
    }
}

impl PartialEq for Graph {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.directed == other.directed
            && self.attrs == other.attrs
            && self.nodes == other.nodes
            && self.edges == other.edges
    }
}

/// Compact adjacency of a graph for the algorithms: node `i` is the `i`-th node in
/// insertion order; `out[i]` lists `(j, weight)` for edges `i → j` (both directions for
/// undirected graphs, a self-loop once), `inc[i]` the edges `j → i` (equal to `out` when
/// undirected).
#[derive(Debug, Clone)]
pub struct View<'g> {
    /// Node ids by index.
    pub ids: Vec<&'g NodeId>,
    /// Whether the graph is directed.
    pub directed: bool,
    /// Out-neighbours with weights.
    pub out: Vec<Vec<(usize, f64)>>,
    /// In-neighbours with weights.
    pub inc: Vec<Vec<(usize, f64)>>,
    /// Edges `(u, v, weight)` in insertion order, as stored.
    pub edges: Vec<(usize, usize, f64)>,
}

impl<'de> Deserialize<'de> for NodeId {
    /// An integer (within `i64`) or a string; read directly (an untagged enum would
    /// buffer the value first).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<NodeId, D::Error> {
        struct Id;
        impl serde::de::Visitor<'_> for Id {
            type Value = NodeId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a node id (an integer or a string)")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<NodeId, E> {
                Ok(NodeId::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<NodeId, E> {
                i64::try_from(v)
                    .map(NodeId::Int)
                    .map_err(|_| E::custom(format!("node id {v} is larger than 2^63 - 1")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<NodeId, E> {
                Ok(NodeId::Str(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<NodeId, E> {
                Ok(NodeId::Str(v))
            }
        }
        d.deserialize_any(Id)
    }
}

impl fmt::Display for NodeId {
    /// The id as JSON: `17` or `"a"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeId::Int(i) => write!(f, "{i}"),
            NodeId::Str(s) => write!(f, "{}", serde_json::Value::String(s.clone())),
        }
    }
}

impl From<i64> for NodeId {
    fn from(v: i64) -> Self {
        NodeId::Int(v)
    }
}

impl From<&str> for NodeId {
    fn from(v: &str) -> Self {
        NodeId::Str(v.to_owned())
    }
}

impl NodeId {
    /// Parse text from a file: an integer (no sign but `-`, no leading `+`, no spaces)
    /// becomes [`NodeId::Int`], anything else a string.
    pub fn parse_text(text: &str) -> NodeId {
        match text.parse::<i64>() {
            Ok(i) if !text.starts_with('+') && i.to_string() == text => NodeId::Int(i),
            _ => NodeId::Str(text.to_owned()),
        }
    }
}

/// Check a graph name against `^[A-Za-z0-9_.-]{1,100}$`.
///
/// ```
/// assert!(mfn_graph::validate_name("karate_1.v2").is_ok());
/// assert!(mfn_graph::validate_name("no spaces").is_err());
/// ```
pub fn validate_name(name: &str) -> Result<(), GraphError> {
    let ok = (1..=100).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(GraphError::invalid(
            "name",
            format!("{name:?} must match ^[A-Za-z0-9_.-]{{1,100}}$"),
        ))
    }
}

impl Graph {
    /// An empty graph. The name is validated.
    ///
    /// ```
    /// use mfn_graph::{Graph, NodeId};
    /// let mut g = Graph::new("g", false).unwrap();
    /// g.add_edge(1.into(), 2.into(), Default::default());
    /// g.add_edge(2.into(), 1.into(), Default::default()); // same undirected edge
    /// assert_eq!((g.num_nodes(), g.num_edges()), (2, 1));
    /// ```
    pub fn new(name: &str, directed: bool) -> Result<Graph, GraphError> {
        validate_name(name)?;
        Ok(Graph {
            name: name.to_owned(),
            directed,
            attrs: Attrs::new(),
            nodes: IndexMap::new(),
            edges: IndexMap::new(),
            derived: Derived::default(),
        })
    }

    /// Drop what was derived from the contents (every mutation calls this).
    #[inline]
    fn changed(&mut self) {
        if self.derived.bytes.get().is_some() || self.derived.adjacency.get().is_some() {
            self.derived = Derived::default();
        }
    }

    /// The compact adjacency of the algorithms, built on first use.
    pub(crate) fn adjacency(&self) -> &crate::algo::adjacency::Adjacency {
        self.derived
            .adjacency
            .get_or_init(|| crate::algo::adjacency::Adjacency::build(self))
    }

    /// The graph's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Rename (validated).
    pub fn set_name(&mut self, name: &str) -> Result<(), GraphError> {
        validate_name(name)?;
        self.changed();
        self.name = name.to_owned();
        Ok(())
    }

    /// Whether edges are directed.
    pub fn is_directed(&self) -> bool {
        self.directed
    }

    /// Graph-level attributes (NetworkX `G.graph`).
    ///
    /// ```
    /// let mut g = mfn_graph::Graph::new("g", false).unwrap();
    /// g.attrs_mut().insert("pixel_um".into(), 1.5.into());
    /// assert_eq!(g.attrs()["pixel_um"], 1.5);
    /// ```
    pub fn attrs(&self) -> &Attrs {
        &self.attrs
    }

    /// Mutable graph-level attributes. A key `name` is not the graph's name (see
    /// [`Graph::set_name`]); node-link export writes the graph's name over it.
    pub fn attrs_mut(&mut self) -> &mut Attrs {
        self.changed();
        &mut self.attrs
    }

    /// Number of nodes.
    pub fn num_nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Number of edges.
    pub fn num_edges(&self) -> usize {
        self.edges.len()
    }

    /// Whether `id` is a node.
    pub fn has_node(&self, id: &NodeId) -> bool {
        self.nodes.contains_key(id)
    }

    /// Nodes with their attributes, in insertion order.
    pub fn nodes(&self) -> impl Iterator<Item = (&NodeId, &Attrs)> {
        self.nodes.iter()
    }

    /// Edges `(u, v, attrs)` in insertion order (for undirected graphs, in the
    /// orientation first given).
    pub fn edges(&self) -> impl Iterator<Item = (&NodeId, &NodeId, &Attrs)> {
        self.edges.iter().map(|((u, v), a)| (u, v, a))
    }

    /// Position of a node in insertion order (its index in [`View`]).
    pub fn node_index(&self, id: &NodeId) -> Option<usize> {
        self.nodes.get_index_of(id)
    }

    /// Node at position `i`.
    pub fn node_at(&self, i: usize) -> Option<&NodeId> {
        self.nodes.get_index(i).map(|(k, _)| k)
    }

    /// The index of `id`, or [`GraphError::NodeNotFound`] naming `field`.
    pub fn require_node(&self, field: &str, id: &NodeId) -> Result<usize, GraphError> {
        self.node_index(id)
            .ok_or_else(|| GraphError::no_node(field, id))
    }

    /// Add a node, or merge `attrs` into an existing node's attributes.
    pub fn add_node(&mut self, id: NodeId, attrs: Attrs) {
        self.changed();
        self.nodes.entry(id).or_default().extend(attrs);
    }

    /// Attributes of a node.
    pub fn node_attrs(&self, id: &NodeId) -> Option<&Attrs> {
        self.nodes.get(id)
    }

    /// Mutable attributes of a node.
    pub fn node_attrs_mut(&mut self, id: &NodeId) -> Option<&mut Attrs> {
        self.changed();
        self.nodes.get_mut(id)
    }

    fn edge_key(&self, u: &NodeId, v: &NodeId) -> Option<(NodeId, NodeId)> {
        let k = (u.clone(), v.clone());
        if self.edges.contains_key(&k) {
            return Some(k);
        }
        if !self.directed {
            let r = (v.clone(), u.clone());
            if self.edges.contains_key(&r) {
                return Some(r);
            }
        }
        None
    }

    /// Add an edge (and its end nodes), or merge `attrs` into the existing edge.
    pub fn add_edge(&mut self, u: NodeId, v: NodeId, attrs: Attrs) {
        self.changed();
        self.nodes.entry(u.clone()).or_default();
        self.nodes.entry(v.clone()).or_default();
        let key = self.edge_key(&u, &v).unwrap_or((u, v));
        self.edges.entry(key).or_default().extend(attrs);
    }

    /// Whether the edge exists (either orientation when undirected).
    pub fn has_edge(&self, u: &NodeId, v: &NodeId) -> bool {
        self.edge_key(u, v).is_some()
    }

    /// Attributes of an edge.
    pub fn edge_attrs(&self, u: &NodeId, v: &NodeId) -> Option<&Attrs> {
        self.edge_key(u, v).and_then(|k| self.edges.get(&k))
    }

    /// Mutable attributes of an edge.
    pub fn edge_attrs_mut(&mut self, u: &NodeId, v: &NodeId) -> Option<&mut Attrs> {
        self.changed();
        let k = self.edge_key(u, v)?;
        self.edges.get_mut(&k)
    }

    /// Remove an edge; `false` when absent.
    pub fn remove_edge(&mut self, u: &NodeId, v: &NodeId) -> bool {
        self.changed();
        match self.edge_key(u, v) {
            Some(k) => self.edges.shift_remove(&k).is_some(),
            None => false,
        }
    }

    /// Remove nodes and their edges; returns how many nodes were removed.
    pub fn remove_nodes(&mut self, ids: &[NodeId]) -> usize {
        self.changed();
        let gone: std::collections::HashSet<&NodeId> =
            ids.iter().filter(|i| self.nodes.contains_key(*i)).collect();
        if gone.is_empty() {
            return 0;
        }
        self.edges
            .retain(|(u, v), _| !gone.contains(u) && !gone.contains(v));
        let n = gone.len();
        let gone: std::collections::HashSet<NodeId> = gone.into_iter().cloned().collect();
        self.nodes.retain(|k, _| !gone.contains(k));
        n
    }

    /// Check the graph against the node and edge limits.
    pub fn check_limits(&self, limits: &Limits) -> Result<(), GraphError> {
        GraphError::check_limit("nodes", self.num_nodes(), "max_nodes", limits.max_nodes)?;
        GraphError::check_limit("edges", self.num_edges(), "max_edges", limits.max_edges)
    }

    /// Estimated memory footprint in bytes (the cache budget, the memory budget of a
    /// call), with the compact adjacency: [`crate::limits`]' sizes per node, edge and
    /// attribute plus the lengths of strings. Computed once per version of the graph.
    pub fn approx_bytes(&self) -> usize {
        *self.derived.bytes.get_or_init(|| {
            let attrs =
                |a: &Attrs| -> u64 { a.iter().map(|(k, v)| crate::io::attr_bytes(k, v)).sum() };
            let id = |i: &NodeId| match i {
                NodeId::Int(_) => 0,
                NodeId::Str(s) => s.len() as u64,
            };
            let nodes: u64 = self.nodes.iter().map(|(k, a)| id(k) + attrs(a)).sum();
            let edges: u64 = self
                .edges
                .iter()
                .map(|((u, v), a)| id(u) + id(v) + attrs(a))
                .sum();
            let base = Limits::graph_bytes(self.nodes.len() as u64, self.edges.len() as u64);
            (64 + self.name.len() as u64 + attrs(&self.attrs) + nodes + edges + base) as usize
        })
    }

    /// The weight of an edge's attributes: the number at `key`, 1 when absent.
    pub fn weight_of(attrs: &Attrs, key: &str) -> Option<f64> {
        match attrs.get(key) {
            None => Some(1.0),
            Some(v) => v.as_f64(),
        }
    }

    /// Build the compact adjacency. `weight`: the attribute to read (`None` = every edge
    /// weighs 1). Fails on a non-numeric or NaN weight, naming the edge.
    pub fn view(&self, weight: Option<&str>) -> Result<View<'_>, GraphError> {
        let n = self.nodes.len();
        let mut out = vec![Vec::new(); n];
        let mut inc = if self.directed {
            vec![Vec::new(); n]
        } else {
            Vec::new()
        };
        let mut edges = Vec::with_capacity(self.edges.len());
        for ((u, v), attrs) in &self.edges {
            let w = match weight {
                None => 1.0,
                Some(key) => match Self::weight_of(attrs, key) {
                    Some(w) if !w.is_nan() => w,
                    _ => {
                        return Err(GraphError::invalid(
                            "weight",
                            format!("edge ({u}, {v}): attribute {key:?} is not a number"),
                        ));
                    }
                },
            };
            let i = self.nodes.get_index_of(u).expect("edge end is a node");
            let j = self.nodes.get_index_of(v).expect("edge end is a node");
            edges.push((i, j, w));
            out[i].push((j, w));
            if self.directed {
                inc[j].push((i, w));
            } else if i != j {
                out[j].push((i, w));
            }
        }
        let inc = if self.directed { inc } else { out.clone() };
        Ok(View {
            ids: self.nodes.keys().collect(),
            directed: self.directed,
            out,
            inc,
            edges,
        })
    }
}

impl View<'_> {
    /// Number of nodes.
    pub fn n(&self) -> usize {
        self.ids.len()
    }

    /// The same graph as a `petgraph::Graph` with node `i` at `NodeIndex(i)` and the
    /// weights as edge data; `Ty` must match [`View::directed`].
    pub fn petgraph<Ty: EdgeType>(&self) -> petgraph::Graph<(), f64, Ty> {
        debug_assert_eq!(Ty::is_directed(), self.directed);
        let mut g = petgraph::Graph::<(), f64, Ty>::with_capacity(self.n(), self.edges.len());
        for _ in 0..self.n() {
            g.add_node(());
        }
        for &(u, v, w) in &self.edges {
            g.add_edge(
                petgraph::graph::NodeIndex::new(u),
                petgraph::graph::NodeIndex::new(v),
                w,
            );
        }
        g
    }

    /// Neighbours regardless of direction (out ∪ in), deduplicated, without self.
    pub fn undirected_neighbors(&self, i: usize) -> Vec<usize> {
        let mut s: Vec<usize> = self.out[i]
            .iter()
            .chain(self.inc[i].iter())
            .map(|&(j, _)| j)
            .filter(|&j| j != i)
            .collect();
        s.sort_unstable();
        s.dedup();
        s
    }
}
