//! NetworkX node-link JSON, read as a stream and written without a JSON tree.
//!
//! The reader is a set of serde seeds: the document's nodes and edges go straight into
//! vectors of `(id, attributes)` (the graph's direction may come last in the document,
//! so they are inserted once it is read), every value is metered ([`Meter`]) and a
//! cancellation check runs every few hundred values. Errors name the element:
//! `json line 3: nodes[2].id: 1.5 is not an integer or a string`.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::{Meter, add_edge_limited, add_node_limited, check_bytes};
use crate::limits::VALUE_BYTES;
use crate::tools::{Control, NoControl};
use crate::{Attrs, Graph, GraphError, Limits, NodeId};

/// A graph as node-link JSON (`nx.node_link_data`, key `edges`), serialised straight from
/// the graph: `serde_json::to_string(&NodeLink(&g))`.
#[derive(Debug, Clone, Copy)]
pub struct NodeLink<'g>(pub &'g Graph);

/// The node-link document of a graph as a JSON value.
pub fn node_link(g: &Graph) -> Value {
    serde_json::to_value(NodeLink(g)).expect("JSON values serialise")
}

impl Serialize for NodeLink<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let g = self.0;
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("directed", &g.is_directed())?;
        m.serialize_entry("multigraph", &false)?;
        m.serialize_entry("graph", &GraphObject(g))?;
        m.serialize_entry("nodes", &Nodes(g))?;
        m.serialize_entry("edges", &Edges(g))?;
        m.end()
    }
}

/// `graph`: the attributes and the name.
struct GraphObject<'g>(&'g Graph);

impl Serialize for GraphObject<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let g = self.0;
        let mut m = s.serialize_map(None)?;
        for (k, v) in g.attrs().iter().filter(|(k, _)| *k != "name") {
            m.serialize_entry(k, v)?;
        }
        m.serialize_entry("name", g.name())?;
        m.end()
    }
}

struct Nodes<'g>(&'g Graph);

impl Serialize for Nodes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.num_nodes()))?;
        for (id, a) in self.0.nodes() {
            seq.serialize_element(&Object(a, &[("id", id)]))?;
        }
        seq.end()
    }
}

struct Edges<'g>(&'g Graph);

impl Serialize for Edges<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.num_edges()))?;
        for (u, v, a) in self.0.edges() {
            seq.serialize_element(&Object(a, &[("source", u), ("target", v)]))?;
        }
        seq.end()
    }
}

/// Attributes followed by the element's own keys (which win over attributes of the same
/// name, as in `nx.node_link_data`).
struct Object<'a>(&'a Attrs, &'a [(&'static str, &'a NodeId)]);

impl Serialize for Object<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        for (k, v) in self.0 {
            if !self.1.iter().any(|(own, _)| own == k) {
                m.serialize_entry(k, v)?;
            }
        }
        for (k, id) in self.1 {
            m.serialize_entry(k, id)?;
        }
        m.end()
    }
}

/// Read a node-link document (`nodes` + `edges` or legacy `links`). `name` is used
/// unless the document's `graph.name` is a valid name.
pub fn read_node_link(text: &str, name: &str, limits: &Limits) -> Result<Graph, GraphError> {
    read_node_link_ctl(text, name, limits, &NoControl)
}

/// [`read_node_link`], checking `ctl` every few hundred values.
pub fn read_node_link_ctl(
    text: &str,
    name: &str,
    limits: &Limits,
    ctl: &dyn Control,
) -> Result<Graph, GraphError> {
    check_bytes(text, limits)?;
    let meter = Meter::new(ctl, limits);
    let mut de = serde_json::Deserializer::from_str(text);
    let doc = DocSeed {
        meter: &meter,
        limits,
    }
    .deserialize(&mut de)
    .and_then(|doc| de.end().map(|()| doc));
    let doc = doc.map_err(|e| meter.take().unwrap_or_else(|| json_error(&e)))?;
    build(doc, name, limits, &meter)
}

/// Build a graph from a parsed node-link document.
pub fn node_link_to_graph(doc: &Value, name: &str, limits: &Limits) -> Result<Graph, GraphError> {
    let meter = Meter::new(&NoControl, limits);
    let doc = DocSeed {
        meter: &meter,
        limits,
    }
    .deserialize(doc)
    .map_err(|e| meter.take().unwrap_or_else(|| json_error(&e)))?;
    build(doc, name, limits, &meter)
}

/// A serde_json error as a parse error: its line, and its message without serde_json's
/// position suffix.
fn json_error(e: &serde_json::Error) -> GraphError {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    GraphError::Parse {
        format: "json",
        line: e.line(),
        message: text.strip_suffix(&suffix).unwrap_or(&text).to_owned(),
    }
}

fn build(doc: Doc, name: &str, limits: &Limits, meter: &Meter<'_>) -> Result<Graph, GraphError> {
    let perr = |message: String| GraphError::Parse {
        format: "json",
        line: 0,
        message,
    };
    if doc.multigraph {
        return Err(perr(
            "multigraph: multigraphs are not supported (graphs are simple)".into(),
        ));
    }
    let mut graph_attrs = doc.graph;
    // `graph.name` is the graph's name, not an attribute.
    let doc_name = graph_attrs
        .remove("name")
        .and_then(|v| v.as_str().map(str::to_owned))
        .filter(|n| crate::validate_name(n).is_ok());
    let mut g = Graph::new(doc_name.as_deref().unwrap_or(name), doc.directed)?;
    *g.attrs_mut() = graph_attrs;
    for (id, a) in doc.nodes {
        add_node_limited(&mut g, id, a, limits, meter)?;
    }
    let edges = if doc.edges.is_empty() {
        doc.links
    } else {
        doc.edges
    };
    for (s, t, a) in edges {
        add_edge_limited(&mut g, s, t, a, limits, meter)?;
    }
    Ok(g)
}

/// A parsed document, before the graph is built.
#[derive(Default)]
struct Doc {
    directed: bool,
    multigraph: bool,
    graph: Attrs,
    nodes: Vec<(NodeId, Attrs)>,
    edges: Vec<(NodeId, NodeId, Attrs)>,
    links: Vec<(NodeId, NodeId, Attrs)>,
}

struct DocSeed<'m, 'c> {
    meter: &'m Meter<'c>,
    limits: &'m Limits,
}

impl<'de> DeserializeSeed<'de> for DocSeed<'_, '_> {
    type Value = Doc;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Doc, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DocSeed<'_, '_> {
    type Value = Doc;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a node-link object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Doc, A::Error> {
        let meter = self.meter;
        let mut doc = Doc::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "directed" => {
                    let v = map.next_value_seed(ValueSeed(meter))?;
                    doc.directed = v
                        .as_bool()
                        .ok_or_else(|| de::Error::custom("directed: must be a boolean"))?;
                }
                "multigraph" => {
                    doc.multigraph = map.next_value_seed(ValueSeed(meter))?.as_bool() == Some(true);
                }
                "graph" => doc.graph = map.next_value_seed(GraphSeed(meter))?,
                "nodes" => {
                    doc.nodes = map.next_value_seed(ListSeed::new(meter, self.limits, "nodes"))?
                }
                "edges" | "links" => {
                    let field = if key == "edges" { "edges" } else { "links" };
                    let edges: Vec<(NodeId, NodeId, Attrs)> =
                        map.next_value_seed(ListSeed::new(meter, self.limits, field))?;
                    if field == "edges" {
                        doc.edges = edges;
                    } else {
                        doc.links = edges;
                    }
                }
                _ => {
                    map.next_value_seed(ValueSeed(meter))?;
                }
            }
        }
        Ok(doc)
    }
}

/// Any JSON value, metered and checked for cancellation.
struct ValueSeed<'m, 'c>(&'m Meter<'c>);

impl ValueSeed<'_, '_> {
    fn spend<E: de::Error>(&self, bytes: u64) -> Result<(), E> {
        self.0
            .tick()
            .and_then(|()| self.0.charge(bytes))
            .map_err(|e| self.0.stop(e))
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.spend(v.len() as u64)?;
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.spend(v.len() as u64)?;
        Ok(Value::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(ValueSeed(self.0))? {
            self.spend(VALUE_BYTES)?;
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            self.spend(VALUE_BYTES + 16 + k.len() as u64)?;
            let v = map.next_value_seed(ValueSeed(self.0))?;
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

/// `graph`: an object, or (old NetworkX) a list of `[key, value]` pairs, or null.
struct GraphSeed<'m, 'c>(&'m Meter<'c>);

impl<'de> DeserializeSeed<'de> for GraphSeed<'_, '_> {
    type Value = Attrs;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Attrs, D::Error> {
        let shape =
            || de::Error::custom("graph: must be an object (or a list of [key, value] pairs)");
        match ValueSeed(self.0).deserialize(d)? {
            Value::Null => Ok(Attrs::new()),
            Value::Object(o) => Ok(o),
            Value::Array(pairs) => pairs
                .into_iter()
                .map(|p| match p {
                    Value::Array(kv) if kv.len() == 2 && kv[0].is_string() => {
                        let mut kv = kv.into_iter();
                        let k = kv.next().and_then(|k| k.as_str().map(str::to_owned));
                        Ok((k.unwrap_or_default(), kv.next().unwrap_or_default()))
                    }
                    _ => Err(shape()),
                })
                .collect(),
            _ => Err(shape()),
        }
    }
}

/// A node id: a JSON integer or string.
struct IdSeed<'p> {
    list: &'p str,
    index: usize,
    key: &'static str,
}

impl IdSeed<'_> {
    fn bad<E: de::Error>(&self, what: impl fmt::Display) -> E {
        E::custom(format!(
            "{}[{}].{}: {what} is not an integer or a string",
            self.list, self.index, self.key
        ))
    }
}

impl<'de> DeserializeSeed<'de> for IdSeed<'_> {
    type Value = NodeId;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<NodeId, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for IdSeed<'_> {
    type Value = NodeId;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer or a string")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<NodeId, E> {
        Ok(NodeId::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<NodeId, E> {
        i64::try_from(v).map(NodeId::Int).map_err(|_| self.bad(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<NodeId, E> {
        Err(self.bad(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<NodeId, E> {
        Err(self.bad(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<NodeId, E> {
        Err(self.bad("null"))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<NodeId, E> {
        Ok(NodeId::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<NodeId, E> {
        Ok(NodeId::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<NodeId, A::Error> {
        Err(self.bad("an array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<NodeId, A::Error> {
        Err(self.bad("an object"))
    }
}

/// One element of `nodes` (`(id, attrs)`) or of `edges` (`(source, target, attrs)`).
trait Element: Sized {
    /// Build from the element's ids (by key) and attributes; the error names what is
    /// missing.
    fn make(ids: [Option<NodeId>; 2], attrs: Attrs) -> Result<Self, &'static str>;
    /// The keys read as ids.
    const IDS: &'static [&'static str];
    /// Keys dropped (NetworkX's multigraph `key`).
    const DROP: &'static [&'static str];
    /// Estimated bytes of one element before its attributes.
    const BYTES: u64;
}

impl Element for (NodeId, Attrs) {
    fn make(ids: [Option<NodeId>; 2], attrs: Attrs) -> Result<Self, &'static str> {
        let [id, _] = ids;
        Ok((id.ok_or("missing id")?, attrs))
    }
    const IDS: &'static [&'static str] = &["id"];
    const DROP: &'static [&'static str] = &[];
    const BYTES: u64 = crate::limits::NODE_BYTES;
}

impl Element for (NodeId, NodeId, Attrs) {
    fn make(ids: [Option<NodeId>; 2], attrs: Attrs) -> Result<Self, &'static str> {
        let [s, t] = ids;
        Ok((
            s.ok_or("missing source")?,
            t.ok_or("missing target")?,
            attrs,
        ))
    }
    const IDS: &'static [&'static str] = &["source", "target"];
    const DROP: &'static [&'static str] = &["key"];
    const BYTES: u64 = crate::limits::EDGE_BYTES;
}

/// `nodes` or `edges`: an array of elements, counted against the node or edge limit.
struct ListSeed<'m, 'c, T> {
    meter: &'m Meter<'c>,
    limits: &'m Limits,
    field: &'static str,
    _t: std::marker::PhantomData<T>,
}

impl<'m, 'c, T> ListSeed<'m, 'c, T> {
    fn new(meter: &'m Meter<'c>, limits: &'m Limits, field: &'static str) -> Self {
        ListSeed {
            meter,
            limits,
            field,
            _t: std::marker::PhantomData,
        }
    }
}

impl<'de, T: Element> DeserializeSeed<'de> for ListSeed<'_, '_, T> {
    type Value = Vec<T>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Vec<T>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T: Element> Visitor<'de> for ListSeed<'_, '_, T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` as an array of objects", self.field)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let ListSeed {
            meter,
            limits,
            field,
            ..
        } = self;
        let (limit, max, what) = if T::IDS.len() == 1 {
            ("max_nodes", limits.max_nodes, "nodes")
        } else {
            ("max_edges", limits.max_edges, "edges")
        };
        let mut out = Vec::new();
        loop {
            let index = out.len();
            let seed = ElementSeed::<T> {
                meter,
                list: field,
                index,
                _t: std::marker::PhantomData,
            };
            let Some(e) = seq.next_element_seed(seed)? else {
                break;
            };
            GraphError::check_limit(what, index + 1, limit, max).map_err(|e| meter.stop(e))?;
            meter
                .tick()
                .and_then(|()| meter.charge(T::BYTES))
                .map_err(|e| meter.stop(e))?;
            out.push(e);
        }
        Ok(out)
    }
}

struct ElementSeed<'m, 'c, T> {
    meter: &'m Meter<'c>,
    list: &'static str,
    index: usize,
    _t: std::marker::PhantomData<T>,
}

impl<'de, T: Element> DeserializeSeed<'de> for ElementSeed<'_, '_, T> {
    type Value = T;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: Element> Visitor<'de> for ElementSeed<'_, '_, T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}] as an object", self.list, self.index)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut ids: [Option<NodeId>; 2] = [None, None];
        let mut attrs = Attrs::new();
        while let Some(k) = map.next_key::<String>()? {
            if let Some(slot) = T::IDS.iter().position(|&id| id == k) {
                ids[slot] = Some(map.next_value_seed(IdSeed {
                    list: self.list,
                    index: self.index,
                    key: T::IDS[slot],
                })?);
            } else {
                let v = map.next_value_seed(ValueSeed(self.meter))?;
                if !T::DROP.contains(&k.as_str()) {
                    attrs.insert(k, v);
                }
            }
        }
        T::make(ids, attrs)
            .map_err(|m| de::Error::custom(format!("{}[{}]: {m}", self.list, self.index)))
    }
}
