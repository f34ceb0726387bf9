//! Import and export: edge-list CSV, NetworkX node-link JSON and GraphML.
//!
//! - **CSV** ([`read_csv`]): `source,target[,weight]` per line. The first line is a
//!   header when its first two fields are `source` and `target` (any case); a header may
//!   name the third column (the weight attribute, default `weight`) and further
//!   attribute columns, at most [`Limits::max_csv_columns`] in all, and then every data
//!   row has exactly that many fields (empty ones allowed). Without a header a row has
//!   two or three fields. Blank lines and lines starting with `#` are skipped; fields may
//!   be double-quoted. Ids that read as integers become integer ids
//!   ([`NodeId::parse_text`]). Isolated nodes and node attributes have no place in an
//!   edge list.
//! - **Node-link JSON** ([`read_node_link`]): `nx.node_link_data` — `{"directed",
//!   "multigraph", "graph", "nodes": [{"id", ...attrs}], "edges": [{"source", "target",
//!   ...attrs}]}`; the legacy `links` key is accepted; `graph` holds the graph attributes
//!   ([`Graph::attrs`]) and the name (`graph.name`). Round-trips everything. Read as a
//!   stream into the graph (no intermediate JSON tree).
//! - **GraphML** ([`read_graphml`]): `<key>` declarations with `attr.type` (`boolean`,
//!   `int`, `long`, `float`, `double`, `string`) and `<default>`; `edgedefault` gives the
//!   direction. Ids are read as in CSV; a string id that reads as an integer is exported
//!   with the XML id `mfn.str:<id>` and `mfn.id_is_string = true` so it comes back a
//!   string. Arrays and objects are exported as JSON text (type `string`). Graph
//!   attributes are `<data>` children of `<graph>` (keys `for="graph"`), as NetworkX
//!   writes them.
//!
//! Floats are written with the shortest representation that reads back to the same
//! `f64` (the workspace enables serde_json's `float_roundtrip`).
//!
//! **Bounds.** Every reader is linear in its input. It checks [`Limits::max_input_bytes`]
//! before parsing, the node and edge limits before each insertion, meters the memory of
//! what it builds against [`Limits::max_call_bytes`] (error naming `data`), checks the
//! caller's [`Control`] every few hundred lines, elements or values (so a cancelled import
//! stops within milliseconds), and names the line and field of the first fault.

use std::cell::{Cell, RefCell};

use crate::limits::{ATTR_BYTES, EDGE_BYTES, NODE_BYTES};
use crate::tools::{Control, NoControl};
use crate::{Attrs, Graph, GraphError, Limits, NodeId};

mod csv;
mod graphml;
mod node_link;

pub use csv::{read_csv, read_csv_ctl, write_csv};
pub use graphml::{read_graphml, read_graphml_ctl, write_graphml};
pub use node_link::{NodeLink, node_link, node_link_to_graph, read_node_link, read_node_link_ctl};

/// A file format of import and export.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Edge-list CSV.
    Csv,
    /// NetworkX node-link JSON.
    Json,
    /// GraphML.
    Graphml,
}

impl Format {
    /// The format of a file name by extension (`.csv`, `.json`, `.graphml`/`.xml`), else
    /// by sniffing the first non-blank character of `text` (`{` JSON, `<` GraphML,
    /// otherwise CSV).
    pub fn detect(path: &str, text: &str) -> Format {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".csv") || lower.ends_with(".tsv") || lower.ends_with(".txt") {
            return Format::Csv;
        }
        if lower.ends_with(".json") {
            return Format::Json;
        }
        if lower.ends_with(".graphml") || lower.ends_with(".xml") {
            return Format::Graphml;
        }
        match text.trim_start().chars().next() {
            Some('{') => Format::Json,
            Some('<') => Format::Graphml,
            _ => Format::Csv,
        }
    }
}

/// Read any format into a graph named `name`.
pub fn import(
    format: Format,
    text: &str,
    name: &str,
    directed: bool,
    limits: &Limits,
) -> Result<Graph, GraphError> {
    import_ctl(format, text, name, directed, limits, &NoControl)
}

/// [`import`], checking `ctl` as it reads.
pub fn import_ctl(
    format: Format,
    text: &str,
    name: &str,
    directed: bool,
    limits: &Limits,
    ctl: &dyn Control,
) -> Result<Graph, GraphError> {
    match format {
        Format::Csv => read_csv_ctl(text, name, directed, limits, ctl),
        Format::Json => read_node_link_ctl(text, name, limits, ctl),
        Format::Graphml => read_graphml_ctl(text, name, limits, ctl),
    }
}

/// Write a graph in `format`.
pub fn export(g: &Graph, format: Format) -> String {
    match format {
        Format::Csv => write_csv(g, "weight"),
        Format::Json => serde_json::to_string(&NodeLink(g)).expect("JSON values serialise"),
        Format::Graphml => write_graphml(g),
    }
}

fn check_bytes(text: &str, limits: &Limits) -> Result<(), GraphError> {
    GraphError::check_limit(
        "bytes",
        text.len(),
        "max_input_bytes",
        limits.max_input_bytes,
    )
}

/// What a decoder spends: the estimated bytes of what it built, against
/// [`Limits::max_call_bytes`], and units of work, with a cancellation check every
/// [`Meter::CHECK_EVERY`] units. Inside a serde visitor, where only serde's error type
/// can be returned, [`Meter::stop`] keeps the real error for the caller.
pub(crate) struct Meter<'a> {
    ctl: &'a dyn Control,
    max_bytes: u64,
    bytes: Cell<u64>,
    ticks: Cell<u32>,
    stopped: RefCell<Option<GraphError>>,
}

impl<'a> Meter<'a> {
    /// Units of work (lines, elements, values) between two cancellation checks.
    const CHECK_EVERY: u32 = 256;

    pub(crate) fn new(ctl: &'a dyn Control, limits: &Limits) -> Self {
        Meter {
            ctl,
            max_bytes: limits.max_call_bytes as u64,
            bytes: Cell::new(0),
            ticks: Cell::new(0),
            stopped: RefCell::new(None),
        }
    }

    /// One unit of work done; `Err(Cancelled)` when the caller is gone.
    #[inline]
    pub(crate) fn tick(&self) -> Result<(), GraphError> {
        let t = self.ticks.get().wrapping_add(1);
        self.ticks.set(t);
        if t.is_multiple_of(Self::CHECK_EVERY) {
            self.ctl.check()?;
        }
        Ok(())
    }

    /// `bytes` more were built; `Err(LimitExceeded)` naming `data` past the budget.
    #[inline]
    pub(crate) fn charge(&self, bytes: u64) -> Result<(), GraphError> {
        let b = self.bytes.get().saturating_add(bytes);
        self.bytes.set(b);
        if b > self.max_bytes {
            return Err(GraphError::LimitExceeded {
                what: "data: estimated bytes".into(),
                value: b,
                limit: "max_call_bytes",
                max: self.max_bytes,
            });
        }
        Ok(())
    }

    /// Keep `e` for [`Meter::take`] and turn it into a serde error (which aborts the
    /// parse).
    pub(crate) fn stop<E: serde::de::Error>(&self, e: GraphError) -> E {
        let msg = e.to_string();
        self.stopped.borrow_mut().get_or_insert(e);
        E::custom(msg)
    }

    /// The error kept by [`Meter::stop`], if any.
    pub(crate) fn take(&self) -> Option<GraphError> {
        self.stopped.borrow_mut().take()
    }
}

/// Estimated bytes of an attribute `key: value`.
pub(crate) fn attr_bytes(key: &str, value: &serde_json::Value) -> u64 {
    use serde_json::Value;
    let v = match value {
        Value::String(s) => s.len() as u64,
        Value::Array(a) => a.len() as u64 * crate::limits::VALUE_BYTES,
        Value::Object(o) => o.len() as u64 * (crate::limits::VALUE_BYTES + 16),
        _ => 0,
    };
    ATTR_BYTES + key.len() as u64 + v
}

fn id_bytes(id: &NodeId) -> u64 {
    match id {
        NodeId::Int(_) => 0,
        NodeId::Str(s) => s.len() as u64,
    }
}

/// Add a node unless that would break `max_nodes`.
fn add_node_limited(
    g: &mut Graph,
    id: NodeId,
    attrs: Attrs,
    limits: &Limits,
    meter: &Meter<'_>,
) -> Result<(), GraphError> {
    meter.tick()?;
    let mut cost: u64 = attrs.iter().map(|(k, v)| attr_bytes(k, v)).sum();
    if !g.has_node(&id) {
        GraphError::check_limit("nodes", g.num_nodes() + 1, "max_nodes", limits.max_nodes)?;
        cost += NODE_BYTES + id_bytes(&id);
    }
    meter.charge(cost)?;
    g.add_node(id, attrs);
    Ok(())
}

fn add_edge_limited(
    g: &mut Graph,
    u: NodeId,
    v: NodeId,
    attrs: Attrs,
    limits: &Limits,
    meter: &Meter<'_>,
) -> Result<(), GraphError> {
    meter.tick()?;
    let mut cost: u64 = attrs.iter().map(|(k, v)| attr_bytes(k, v)).sum();
    if !g.has_edge(&u, &v) {
        GraphError::check_limit("edges", g.num_edges() + 1, "max_edges", limits.max_edges)?;
        let new_u = !g.has_node(&u);
        let new_v = u != v && !g.has_node(&v);
        let new = usize::from(new_u) + usize::from(new_v);
        GraphError::check_limit("nodes", g.num_nodes() + new, "max_nodes", limits.max_nodes)?;
        cost += EDGE_BYTES + 2 * (id_bytes(&u) + id_bytes(&v)) + new as u64 * NODE_BYTES;
    }
    meter.charge(cost)?;
    g.add_edge(u, v, attrs);
    Ok(())
}

fn id_text(id: &NodeId) -> String {
    match id {
        NodeId::Int(i) => i.to_string(),
        NodeId::Str(s) => s.clone(),
    }
}
