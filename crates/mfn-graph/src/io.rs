//! Import and export: edge-list CSV, NetworkX node-link JSON and GraphML.
//!
//! - **CSV**: `source,target[,weight]` per line. The first line is a header when its
//!   first two fields are `source` and `target` (any case); a header may name the third
//!   column (the weight attribute, default `weight`) and further attribute columns.
//!   Blank lines and lines starting with `#` are skipped; fields may be double-quoted.
//!   Ids that read as integers become integer ids ([`NodeId::parse_text`]). Isolated nodes
//!   and node attributes have no place in an edge list.
//! - **Node-link JSON**: `nx.node_link_data` — `{"directed", "multigraph", "graph",
//!   "nodes": [{"id", ...attrs}], "edges": [{"source", "target", ...attrs}]}`; the legacy
//!   `links` key is accepted; `graph` holds the graph attributes ([`Graph::attrs`])
//!   and the name (`graph.name`). Round-trips everything.
//! - **GraphML**: `<key>` declarations with `attr.type` (`boolean`, `int`, `long`,
//!   `float`, `double`, `string`) and `<default>`; `edgedefault` gives the direction.
//!   Ids are read as in CSV; a string id that reads as an integer is exported with the
//!   XML id `mfn.str:<id>` and `mfn.id_is_string = true` so it comes back a string.
//!   Arrays and objects are exported as JSON text (type `string`). Graph attributes
//!   are `<data>` children of `<graph>` (keys `for="graph"`), as NetworkX writes them.
//!
//! Floats are written with the shortest representation that reads back to the same
//! `f64`; reading it back is exact only with serde_json's `float_roundtrip` feature,
//! which the workspace does not enable yet (serde_json's default parser can be 1 ulp
//! off on long mantissas).
//!
//! Every reader checks [`Limits::max_input_bytes`] before parsing, the node and edge
//! limits before each insertion, and names the line and field of the first fault.

use std::collections::HashMap;

use quick_xml::events::{BytesStart, Event};
use serde_json::Value;

use crate::{Attrs, Graph, GraphError, Limits, NodeId};

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

fn check_bytes(text: &str, limits: &Limits) -> Result<(), GraphError> {
    GraphError::check_limit(
        "bytes",
        text.len(),
        "max_input_bytes",
        limits.max_input_bytes,
    )
}

/// Add a node unless that would break `max_nodes`.
fn add_node_limited(
    g: &mut Graph,
    id: NodeId,
    attrs: Attrs,
    limits: &Limits,
) -> Result<(), GraphError> {
    if !g.has_node(&id) {
        GraphError::check_limit("nodes", g.num_nodes() + 1, "max_nodes", limits.max_nodes)?;
    }
    g.add_node(id, attrs);
    Ok(())
}

fn add_edge_limited(
    g: &mut Graph,
    u: NodeId,
    v: NodeId,
    attrs: Attrs,
    limits: &Limits,
) -> Result<(), GraphError> {
    if !g.has_edge(&u, &v) {
        GraphError::check_limit("edges", g.num_edges() + 1, "max_edges", limits.max_edges)?;
        let new = usize::from(!g.has_node(&u)) + usize::from(u != v && !g.has_node(&v));
        GraphError::check_limit("nodes", g.num_nodes() + new, "max_nodes", limits.max_nodes)?;
    }
    g.add_edge(u, v, attrs);
    Ok(())
}

/// Read any format into a graph named `name`.
pub fn import(
    format: Format,
    text: &str,
    name: &str,
    directed: bool,
    limits: &Limits,
) -> Result<Graph, GraphError> {
    match format {
        Format::Csv => read_csv(text, name, directed, limits),
        Format::Json => read_node_link(text, name, limits),
        Format::Graphml => read_graphml(text, name, limits),
    }
}

/// Write a graph in `format`.
pub fn export(g: &Graph, format: Format) -> String {
    match format {
        Format::Csv => write_csv(g, "weight"),
        Format::Json => serde_json::to_string(&node_link(g)).expect("JSON values serialise"),
        Format::Graphml => write_graphml(g),
    }
}

/// Split a CSV line into fields; double quotes quote, `""` escapes a quote.
fn split_csv(line: &str, lineno: usize) -> Result<Vec<String>, GraphError> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if cur.trim().is_empty() => {
                cur.clear();
                quoted = true;
                was_quoted = true;
            }
            (',', false) => {
                fields.push(if was_quoted {
                    std::mem::take(&mut cur)
                } else {
                    cur.trim().to_owned()
                });
                cur.clear();
                was_quoted = false;
            }
            (c, _) => cur.push(c),
        }
    }
    if quoted {
        return Err(GraphError::Parse {
            format: "csv",
            line: lineno,
            message: "unterminated quoted field".into(),
        });
    }
    fields.push(if was_quoted {
        cur
    } else {
        cur.trim().to_owned()
    });
    Ok(fields)
}

/// A CSV field as a JSON value: a number when it reads as one, else a string.
fn csv_value(s: &str) -> Value {
    if let Ok(i) = s.parse::<i64>() {
        return i.into();
    }
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() => f.into(),
        _ => Value::String(s.to_owned()),
    }
}

/// Read an edge-list CSV.
///
/// ```
/// use mfn_graph::{io, Limits, NodeId};
/// let g = io::read_csv("source,target,weight\n1,2,0.5\n2,a,3\n", "g", false, &Limits::default()).unwrap();
/// assert_eq!((g.num_nodes(), g.num_edges()), (3, 2));
/// assert!(g.has_edge(&NodeId::Int(2), &NodeId::Str("a".into())));
/// ```
pub fn read_csv(
    text: &str,
    name: &str,
    directed: bool,
    limits: &Limits,
) -> Result<Graph, GraphError> {
    check_bytes(text, limits)?;
    let mut g = Graph::new(name, directed)?;
    let mut columns: Option<Vec<String>> = None;
    let mut first = true;
    for (i, raw) in text.lines().enumerate() {
        let lineno = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields = split_csv(line, lineno)?;
        if first {
            first = false;
            if fields.len() >= 2
                && fields[0].eq_ignore_ascii_case("source")
                && fields[1].eq_ignore_ascii_case("target")
            {
                let mut cols = fields.clone();
                if cols.len() >= 3 && cols[2].is_empty() {
                    cols[2] = "weight".into();
                }
                columns = Some(cols);
                continue;
            }
        }
        let perr = |message: String| GraphError::Parse {
            format: "csv",
            line: lineno,
            message,
        };
        if fields.len() < 2 {
            return Err(perr(format!(
                "expected source,target[,weight], found {} field(s)",
                fields.len()
            )));
        }
        let ncols = columns.as_ref().map_or(3, |c| c.len());
        if fields.len() > ncols {
            return Err(perr(format!(
                "{} fields, but the header names {ncols}",
                fields.len()
            )));
        }
        if fields[0].is_empty() || fields[1].is_empty() {
            return Err(perr("source and target must not be empty".into()));
        }
        let mut attrs = Attrs::new();
        for (k, f) in fields.iter().enumerate().skip(2) {
            let col = columns.as_ref().map_or("weight", |c| c[k].as_str());
            if f.is_empty() {
                continue;
            }
            let v = csv_value(f);
            if k == 2 && !v.is_number() {
                return Err(perr(format!("{col}: {f:?} is not a number")));
            }
            attrs.insert(col.to_owned(), v);
        }
        add_edge_limited(
            &mut g,
            NodeId::parse_text(&fields[0]),
            NodeId::parse_text(&fields[1]),
            attrs,
            limits,
        )?;
    }
    Ok(g)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.trim() != s || s.is_empty() {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn id_text(id: &NodeId) -> String {
    match id {
        NodeId::Int(i) => i.to_string(),
        NodeId::Str(s) => s.clone(),
    }
}

/// Write an edge list with a `source,target[,weight]` header (the weight column only
/// when some edge has `weight_key`).
pub fn write_csv(g: &Graph, weight_key: &str) -> String {
    let weighted = g.edges().any(|(_, _, a)| a.contains_key(weight_key));
    let mut out = String::from(if weighted {
        "source,target,"
    } else {
        "source,target"
    });
    if weighted {
        out.push_str(&csv_field(weight_key));
    }
    out.push('\n');
    for (u, v, a) in g.edges() {
        out.push_str(&csv_field(&id_text(u)));
        out.push(',');
        out.push_str(&csv_field(&id_text(v)));
        if weighted {
            out.push(',');
            if let Some(w) = a.get(weight_key) {
                out.push_str(&w.to_string());
            }
        }
        out.push('\n');
    }
    out
}

/// The node-link document of a graph (`nx.node_link_data`, key `edges`).
pub fn node_link(g: &Graph) -> Value {
    let nodes: Vec<Value> = g
        .nodes()
        .map(|(id, a)| {
            let mut o = a.clone();
            o.insert("id".into(), serde_json::to_value(id).expect("id"));
            Value::Object(o)
        })
        .collect();
    let edges: Vec<Value> = g
        .edges()
        .map(|(u, v, a)| {
            let mut o = a.clone();
            o.insert("source".into(), serde_json::to_value(u).expect("id"));
            o.insert("target".into(), serde_json::to_value(v).expect("id"));
            Value::Object(o)
        })
        .collect();
    let mut graph = g.attrs().clone();
    graph.insert("name".into(), g.name().into());
    serde_json::json!({
        "directed": g.is_directed(),
        "multigraph": false,
        "graph": graph,
        "nodes": nodes,
        "edges": edges,
    })
}

fn json_id(v: &Value, what: &str, line: usize) -> Result<NodeId, GraphError> {
    match v {
        Value::Number(n) if n.is_i64() => Ok(NodeId::Int(n.as_i64().expect("i64"))),
        Value::String(s) => Ok(NodeId::Str(s.clone())),
        other => Err(GraphError::Parse {
            format: "json",
            line,
            message: format!("{what}: {other} is not an integer or a string"),
        }),
    }
}

/// Read a node-link document (`nodes` + `edges` or legacy `links`). `name` is used
/// unless the document's `graph.name` is a valid name.
pub fn read_node_link(text: &str, name: &str, limits: &Limits) -> Result<Graph, GraphError> {
    check_bytes(text, limits)?;
    let doc: Value = serde_json::from_str(text).map_err(|e| GraphError::Parse {
        format: "json",
        line: e.line(),
        message: e.to_string(),
    })?;
    node_link_to_graph(&doc, name, limits)
}

/// Build a graph from a parsed node-link document.
pub fn node_link_to_graph(doc: &Value, name: &str, limits: &Limits) -> Result<Graph, GraphError> {
    let perr = |message: String| GraphError::Parse {
        format: "json",
        line: 0,
        message,
    };
    let obj = doc
        .as_object()
        .ok_or_else(|| perr("expected an object".into()))?;
    if obj.get("multigraph").and_then(Value::as_bool) == Some(true) {
        return Err(perr(
            "multigraph: multigraphs are not supported (graphs are simple)".into(),
        ));
    }
    let directed = match obj.get("directed") {
        None => false,
        Some(v) => v
            .as_bool()
            .ok_or_else(|| perr("directed: must be a boolean".into()))?,
    };
    let nodes = match obj.get("nodes") {
        None => &Vec::new(),
        Some(v) => v
            .as_array()
            .ok_or_else(|| perr("nodes: must be an array".into()))?,
    };
    let edges = match obj.get("edges").or_else(|| obj.get("links")) {
        None => &Vec::new(),
        Some(v) => v
            .as_array()
            .ok_or_else(|| perr("edges: must be an array".into()))?,
    };
    GraphError::check_limit("nodes", nodes.len(), "max_nodes", limits.max_nodes)?;
    GraphError::check_limit("edges", edges.len(), "max_edges", limits.max_edges)?;
    let mut graph_attrs = match obj.get("graph") {
        None | Some(Value::Null) => Attrs::new(),
        Some(Value::Object(o)) => o.clone(),
        // Old NetworkX versions wrote `G.graph` as a list of `[key, value]` pairs.
        Some(Value::Array(pairs)) => pairs
            .iter()
            .map(|p| match p.as_array().map(Vec::as_slice) {
                Some([Value::String(k), v]) => Ok((k.clone(), v.clone())),
                _ => Err(perr(
                    "graph: must be an object (or a list of [key, value] pairs)".into(),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(perr("graph: must be an object".into())),
    };
    // `graph.name` is the graph's name, not an attribute.
    let doc_name = graph_attrs
        .remove("name")
        .and_then(|v| v.as_str().map(str::to_owned))
        .filter(|n| crate::validate_name(n).is_ok());
    let mut g = Graph::new(doc_name.as_deref().unwrap_or(name), directed)?;
    *g.attrs_mut() = graph_attrs;
    for (i, n) in nodes.iter().enumerate() {
        let mut a = n
            .as_object()
            .ok_or_else(|| perr(format!("nodes[{i}]: must be an object")))?
            .clone();
        let id = a
            .remove("id")
            .ok_or_else(|| perr(format!("nodes[{i}]: missing id")))?;
        let id = json_id(&id, &format!("nodes[{i}].id"), 0)?;
        add_node_limited(&mut g, id, a, limits)?;
    }
    for (i, e) in edges.iter().enumerate() {
        let mut a = e
            .as_object()
            .ok_or_else(|| perr(format!("edges[{i}]: must be an object")))?
            .clone();
        let s = a
            .remove("source")
            .ok_or_else(|| perr(format!("edges[{i}]: missing source")))?;
        let t = a
            .remove("target")
            .ok_or_else(|| perr(format!("edges[{i}]: missing target")))?;
        a.remove("key");
        let s = json_id(&s, &format!("edges[{i}].source"), 0)?;
        let t = json_id(&t, &format!("edges[{i}].target"), 0)?;
        add_edge_limited(&mut g, s, t, a, limits)?;
    }
    Ok(g)
}

fn esc(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

/// The GraphML type of a set of JSON values.
fn graphml_type<'a>(values: impl Iterator<Item = &'a Value>) -> &'static str {
    let (mut int, mut num, mut bool_, mut other) = (true, true, true, false);
    for v in values {
        int &= v.is_i64();
        num &= v.is_number();
        bool_ &= v.is_boolean();
        other |= !(v.is_number() || v.is_boolean());
    }
    if other {
        "string"
    } else if int {
        "long"
    } else if num {
        "double"
    } else if bool_ {
        "boolean"
    } else {
        "string"
    }
}

fn graphml_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Write GraphML.
pub fn write_graphml(g: &Graph) -> String {
    let mut node_keys: indexmap::IndexMap<&str, Vec<&Value>> = indexmap::IndexMap::new();
    let mut edge_keys: indexmap::IndexMap<&str, Vec<&Value>> = indexmap::IndexMap::new();
    for (_, a) in g.nodes() {
        for (k, v) in a {
            node_keys.entry(k).or_default().push(v);
        }
    }
    for (_, _, a) in g.edges() {
        for (k, v) in a {
            edge_keys.entry(k).or_default().push(v);
        }
    }
    let ambiguous = |id: &NodeId| matches!(id, NodeId::Str(s) if matches!(NodeId::parse_text(s), NodeId::Int(_)));
    // GraphML ids are text: a string id that reads as an integer gets the XML id
    // `mfn.str:<id>` (unique even next to the integer) and `mfn.id_is_string`.
    let xml_id = |id: &NodeId| {
        if ambiguous(id) {
            format!("mfn.str:{}", id_text(id))
        } else {
            id_text(id)
        }
    };
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\">\n",
    );
    let mut nid = HashMap::new();
    for (i, (k, vals)) in node_keys.iter().enumerate() {
        let ty = graphml_type(vals.iter().copied());
        out.push_str(&format!(
            "  <key id=\"n{i}\" for=\"node\" attr.name=\"{}\" attr.type=\"{ty}\"/>\n",
            esc(k)
        ));
        nid.insert(*k, format!("n{i}"));
    }
    if g.nodes().any(|(id, _)| ambiguous(id)) {
        out.push_str("  <key id=\"mfn_sid\" for=\"node\" attr.name=\"mfn.id_is_string\" attr.type=\"boolean\"/>\n");
    }
    // Graph attributes (`G.graph`), as NetworkX's `write_graphml` writes them: keys
    // `for="graph"` and `<data>` children of `<graph>`.
    let mut gid = HashMap::new();
    for (i, (k, v)) in g.attrs().iter().enumerate() {
        let ty = graphml_type(std::iter::once(v));
        out.push_str(&format!(
            "  <key id=\"g{i}\" for=\"graph\" attr.name=\"{}\" attr.type=\"{ty}\"/>\n",
            esc(k)
        ));
        gid.insert(k.as_str(), format!("g{i}"));
    }
    let mut eid = HashMap::new();
    for (i, (k, vals)) in edge_keys.iter().enumerate() {
        let ty = graphml_type(vals.iter().copied());
        out.push_str(&format!(
            "  <key id=\"e{i}\" for=\"edge\" attr.name=\"{}\" attr.type=\"{ty}\"/>\n",
            esc(k)
        ));
        eid.insert(*k, format!("e{i}"));
    }
    out.push_str(&format!(
        "  <graph id=\"{}\" edgedefault=\"{}\">\n",
        esc(g.name()),
        if g.is_directed() {
            "directed"
        } else {
            "undirected"
        }
    ));
    for (k, v) in g.attrs() {
        out.push_str(&format!(
            "    <data key=\"{}\">{}</data>\n",
            gid[k.as_str()],
            esc(&graphml_text(v))
        ));
    }
    for (id, a) in g.nodes() {
        out.push_str(&format!("    <node id=\"{}\">", esc(&xml_id(id))));
        for (k, v) in a {
            out.push_str(&format!(
                "<data key=\"{}\">{}</data>",
                nid[k.as_str()],
                esc(&graphml_text(v))
            ));
        }
        if ambiguous(id) {
            out.push_str("<data key=\"mfn_sid\">true</data>");
        }
        out.push_str("</node>\n");
    }
    for (u, v, a) in g.edges() {
        out.push_str(&format!(
            "    <edge source=\"{}\" target=\"{}\">",
            esc(&xml_id(u)),
            esc(&xml_id(v))
        ));
        for (k, val) in a {
            out.push_str(&format!(
                "<data key=\"{}\">{}</data>",
                eid[k.as_str()],
                esc(&graphml_text(val))
            ));
        }
        out.push_str("</edge>\n");
    }
    out.push_str("  </graph>\n</graphml>\n");
    out
}

struct Key {
    name: String,
    ty: String,
    default: Option<String>,
    domain: String,
}

fn typed(ty: &str, text: &str) -> Result<Value, String> {
    let t = text.trim();
    match ty {
        "int" | "long" => t
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("{t:?} is not an integer")),
        "float" | "double" => t
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("{t:?} is not a finite number")),
        "boolean" => match t.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(Value::Bool(true)),
            "false" | "0" => Ok(Value::Bool(false)),
            _ => Err(format!("{t:?} is not a boolean")),
        },
        _ => Ok(Value::String(text.to_owned())),
    }
}

fn attr(e: &BytesStart<'_>, key: &[u8]) -> Result<Option<String>, String> {
    for a in e.attributes() {
        let a = a.map_err(|err| err.to_string())?;
        if a.key.local_name().as_ref() == key {
            return a
                .unescape_value()
                .map(|v| Some(v.into_owned()))
                .map_err(|err| err.to_string());
        }
    }
    Ok(None)
}

/// Read GraphML.
pub fn read_graphml(text: &str, name: &str, limits: &Limits) -> Result<Graph, GraphError> {
    check_bytes(text, limits)?;
    let mut reader = quick_xml::Reader::from_str(text);
    let line_of = |pos: u64| {
        text.as_bytes()[..(pos as usize).min(text.len())]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    };
    let mut keys: HashMap<String, Key> = HashMap::new();
    let mut graph: Option<Graph> = None;
    // Element being filled: (is_node, id or (source, target), attrs).
    let mut cur: Option<Element> = None;
    let mut xml_ids: HashMap<String, NodeId> = HashMap::new();
    let mut data_key: Option<String> = None;
    let mut key_default: Option<String> = None;
    let mut in_default = false;
    let mut text_buf = String::new();
    loop {
        let pos = reader.buffer_position();
        let ev = reader.read_event().map_err(|e| GraphError::Parse {
            format: "graphml",
            line: line_of(pos),
            message: e.to_string(),
        })?;
        let perr = |message: String| GraphError::Parse {
            format: "graphml",
            line: line_of(pos),
            message,
        };
        let (start, empty) = match &ev {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            _ => (None, false),
        };
        if let Some(e) = start {
            let get = |k: &[u8]| attr(&e, k).map_err(&perr);
            match e.local_name().as_ref() {
                b"key" => {
                    let id = get(b"id")?.ok_or_else(|| perr("key: missing id".into()))?;
                    let kname = get(b"attr.name")?.unwrap_or_else(|| id.clone());
                    let ty = get(b"attr.type")?.unwrap_or_else(|| "string".into());
                    if !["boolean", "int", "long", "float", "double", "string"]
                        .contains(&ty.as_str())
                    {
                        return Err(perr(format!(
                            "key {id:?}: attr.type {ty:?} is not supported"
                        )));
                    }
                    let domain = get(b"for")?.unwrap_or_else(|| "all".into());
                    keys.insert(
                        id.clone(),
                        Key {
                            name: kname,
                            ty,
                            default: None,
                            domain,
                        },
                    );
                    key_default = Some(id);
                }
                b"default" => {
                    in_default = true;
                    text_buf.clear();
                }
                b"graph" => {
                    if graph.is_some() {
                        return Err(perr(
                            "graph: nested or multiple graphs are not supported".into(),
                        ));
                    }
                    let directed = get(b"edgedefault")?.as_deref() == Some("directed");
                    graph = Some(Graph::new(name, directed)?);
                }
                b"node" => {
                    let id = get(b"id")?.ok_or_else(|| perr("node: missing id".into()))?;
                    cur = Some(Element {
                        id: Some(id),
                        ends: None,
                        attrs: Attrs::new(),
                    });
                    if empty {
                        finish(&mut graph, &mut cur, &keys, &mut xml_ids, limits)
                            .map_err(&perr)??;
                    }
                }
                b"edge" => {
                    let s = get(b"source")?.ok_or_else(|| perr("edge: missing source".into()))?;
                    let t = get(b"target")?.ok_or_else(|| perr("edge: missing target".into()))?;
                    cur = Some(Element {
                        id: None,
                        ends: Some((s, t)),
                        attrs: Attrs::new(),
                    });
                    if empty {
                        finish(&mut graph, &mut cur, &keys, &mut xml_ids, limits)
                            .map_err(&perr)??;
                    }
                }
                b"data" => {
                    data_key = Some(get(b"key")?.ok_or_else(|| perr("data: missing key".into()))?);
                    text_buf.clear();
                }
                b"hyperedge" | b"port" => {
                    return Err(perr("hyperedges and ports are not supported".into()));
                }
                _ => {}
            }
            continue;
        }
        match ev {
            Event::Text(t) => {
                let s = t.decode().map_err(|e| perr(e.to_string()))?;
                let s = quick_xml::escape::unescape(&s).map_err(|e| perr(e.to_string()))?;
                text_buf.push_str(&s);
            }
            Event::GeneralRef(r) => {
                let s = r.decode().map_err(|e| perr(e.to_string()))?;
                let entity = format!("&{s};");
                let s = quick_xml::escape::unescape(&entity).map_err(|e| perr(e.to_string()))?;
                text_buf.push_str(&s);
            }
            Event::CData(t) => text_buf.push_str(&String::from_utf8_lossy(&t)),
            Event::End(e) => match e.local_name().as_ref() {
                b"default" if in_default => {
                    in_default = false;
                    if let Some(k) = key_default.as_ref().and_then(|k| keys.get_mut(k)) {
                        k.default = Some(std::mem::take(&mut text_buf));
                    }
                }
                b"key" => key_default = None,
                b"data" => {
                    let kid = data_key.take().unwrap_or_default();
                    let key = keys
                        .get(&kid)
                        .ok_or_else(|| perr(format!("data: undeclared key {kid:?}")))?;
                    let v = typed(&key.ty, &text_buf)
                        .map_err(|m| perr(format!("{}: {m}", key.name)))?;
                    if let Some(c) = cur.as_mut() {
                        c.attrs.insert(key.name.clone(), v);
                    } else if let Some(g) = graph.as_mut()
                        && key.name != "name"
                    {
                        // `<data>` of `<graph>`: a graph attribute. `name` is the
                        // graph's name, which the caller gives.
                        g.attrs_mut().insert(key.name.clone(), v);
                    }
                    text_buf.clear();
                }
                b"node" | b"edge" => {
                    finish(&mut graph, &mut cur, &keys, &mut xml_ids, limits).map_err(&perr)??;
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    graph.ok_or_else(|| GraphError::Parse {
        format: "graphml",
        line: 0,
        message: "no <graph> element".into(),
    })
}

/// A `<node>` (XML id) or `<edge>` (XML ids of its ends) being read.
struct Element {
    id: Option<String>,
    ends: Option<(String, String)>,
    attrs: Attrs,
}

/// Insert the element being read, applying key defaults. Edge ends resolve through the
/// XML ids of the nodes read so far, else as new ids ([`NodeId::parse_text`]).
fn finish(
    graph: &mut Option<Graph>,
    cur: &mut Option<Element>,
    keys: &HashMap<String, Key>,
    xml_ids: &mut HashMap<String, NodeId>,
    limits: &Limits,
) -> Result<Result<(), GraphError>, String> {
    let Some(Element {
        id,
        ends,
        mut attrs,
    }) = cur.take()
    else {
        return Ok(Ok(()));
    };
    let g = graph.as_mut().ok_or("node or edge outside <graph>")?;
    let is_node = id.is_some();
    let domain = if is_node { "node" } else { "edge" };
    for k in keys.values() {
        if (k.domain == domain || k.domain == "all")
            && !attrs.contains_key(&k.name)
            && let Some(d) = &k.default
        {
            attrs.insert(
                k.name.clone(),
                typed(&k.ty, d).map_err(|m| format!("{}: default {m}", k.name))?,
            );
        }
    }
    if let Some(xml) = id {
        let node = if attrs.remove("mfn.id_is_string") == Some(Value::Bool(true)) {
            NodeId::Str(xml.strip_prefix("mfn.str:").unwrap_or(&xml).to_owned())
        } else {
            NodeId::parse_text(&xml)
        };
        xml_ids.insert(xml, node.clone());
        Ok(add_node_limited(g, node, attrs, limits))
    } else {
        let (s, t) = ends.expect("edge ends");
        let resolve = |x: String| {
            xml_ids
                .get(&x)
                .cloned()
                .unwrap_or_else(|| NodeId::parse_text(&x))
        };
        let (s, t) = (resolve(s), resolve(t));
        Ok(add_edge_limited(g, s, t, attrs, limits))
    }
}
