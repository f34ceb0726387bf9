//! GraphML, read with quick-xml in one pass (linear in the document: each element's
//! attributes are scanned once, key defaults are applied from per-domain lists) and
//! written by hand.

use std::collections::HashMap;

use quick_xml::events::{BytesStart, Event};
use serde_json::Value;

use super::{Meter, add_edge_limited, add_node_limited, attr_bytes, check_bytes, id_text};
use crate::tools::{Control, NoControl};
use crate::{Attrs, Graph, GraphError, Limits, NodeId};

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

/// The values of the XML attributes `names` of an element, in one scan of its
/// attributes (quick-xml's duplicate check, quadratic in the number of attributes, is
/// off: a repeated attribute keeps its first value).
fn attrs<const N: usize>(
    e: &BytesStart<'_>,
    names: [&[u8]; N],
) -> Result<[Option<String>; N], String> {
    let mut out: [Option<String>; N] = std::array::from_fn(|_| None);
    for a in e.attributes().with_checks(false) {
        let a = a.map_err(|err| err.to_string())?;
        if let Some(i) = names.iter().position(|n| *n == a.key.local_name().as_ref())
            && out[i].is_none()
        {
            out[i] = Some(
                a.unescape_value()
                    .map_err(|err| err.to_string())?
                    .into_owned(),
            );
        }
    }
    Ok(out)
}

/// Key defaults by domain, rebuilt when a key is declared after they were used.
#[derive(Default)]
struct Defaults {
    node: Vec<(String, Value)>,
    edge: Vec<(String, Value)>,
    fresh: bool,
}

impl Defaults {
    fn refresh(&mut self, keys: &HashMap<String, Key>) -> Result<(), String> {
        if self.fresh {
            return Ok(());
        }
        self.node.clear();
        self.edge.clear();
        let mut ids: Vec<&String> = keys.keys().collect();
        ids.sort_unstable();
        for id in ids {
            let k = &keys[id];
            let Some(d) = &k.default else { continue };
            let v = typed(&k.ty, d).map_err(|m| format!("{}: default {m}", k.name))?;
            if k.domain == "node" || k.domain == "all" {
                self.node.push((k.name.clone(), v.clone()));
            }
            if k.domain == "edge" || k.domain == "all" {
                self.edge.push((k.name.clone(), v));
            }
        }
        self.fresh = true;
        Ok(())
    }
}

/// Read GraphML.
pub fn read_graphml(text: &str, name: &str, limits: &Limits) -> Result<Graph, GraphError> {
    read_graphml_ctl(text, name, limits, &NoControl)
}

/// [`read_graphml`], checking `ctl` every few hundred XML events.
pub fn read_graphml_ctl(
    text: &str,
    name: &str,
    limits: &Limits,
    ctl: &dyn Control,
) -> Result<Graph, GraphError> {
    check_bytes(text, limits)?;
    let meter = Meter::new(ctl, limits);
    let mut reader = quick_xml::Reader::from_str(text);
    let line_of = |pos: u64| {
        text.as_bytes()[..(pos as usize).min(text.len())]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    };
    let mut keys: HashMap<String, Key> = HashMap::new();
    let mut defaults = Defaults::default();
    let mut graph: Option<Graph> = None;
    let mut cur: Option<Element> = None;
    let mut xml_ids: HashMap<String, NodeId> = HashMap::new();
    let mut data_key: Option<String> = None;
    let mut key_default: Option<String> = None;
    let mut in_default = false;
    let mut text_buf = String::new();
    loop {
        meter.tick()?;
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
            Event::Start(e) => (Some(e), false),
            Event::Empty(e) => (Some(e), true),
            _ => (None, false),
        };
        if let Some(e) = start {
            match e.local_name().as_ref() {
                b"key" => {
                    let [id, kname, ty, domain] =
                        attrs(e, [b"id", b"attr.name", b"attr.type", b"for"]).map_err(&perr)?;
                    let id = id.ok_or_else(|| perr("key: missing id".into()))?;
                    let kname = kname.unwrap_or_else(|| id.clone());
                    let ty = ty.unwrap_or_else(|| "string".into());
                    if !["boolean", "int", "long", "float", "double", "string"]
                        .contains(&ty.as_str())
                    {
                        return Err(perr(format!(
                            "key {id:?}: attr.type {ty:?} is not supported"
                        )));
                    }
                    meter.charge(2 * (id.len() + kname.len()) as u64 + 96)?;
                    keys.insert(
                        id.clone(),
                        Key {
                            name: kname,
                            ty,
                            default: None,
                            domain: domain.unwrap_or_else(|| "all".into()),
                        },
                    );
                    defaults.fresh = false;
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
                    let [edgedefault] = attrs(e, [b"edgedefault"]).map_err(&perr)?;
                    graph = Some(Graph::new(
                        name,
                        edgedefault.as_deref() == Some("directed"),
                    )?);
                }
                b"node" => {
                    let [id] = attrs(e, [b"id"]).map_err(&perr)?;
                    let id = id.ok_or_else(|| perr("node: missing id".into()))?;
                    cur = Some(Element {
                        id: Some(id),
                        ends: None,
                        attrs: Attrs::new(),
                    });
                    if empty {
                        let ctx = Finish {
                            keys: &keys,
                            limits,
                            meter: &meter,
                        };
                        ctx.finish(&mut graph, &mut cur, &mut defaults, &mut xml_ids)
                            .map_err(&perr)??;
                    }
                }
                b"edge" => {
                    let [s, t] = attrs(e, [b"source", b"target"]).map_err(&perr)?;
                    let s = s.ok_or_else(|| perr("edge: missing source".into()))?;
                    let t = t.ok_or_else(|| perr("edge: missing target".into()))?;
                    cur = Some(Element {
                        id: None,
                        ends: Some((s, t)),
                        attrs: Attrs::new(),
                    });
                    if empty {
                        let ctx = Finish {
                            keys: &keys,
                            limits,
                            meter: &meter,
                        };
                        ctx.finish(&mut graph, &mut cur, &mut defaults, &mut xml_ids)
                            .map_err(&perr)??;
                    }
                }
                b"data" => {
                    let [key] = attrs(e, [b"key"]).map_err(&perr)?;
                    data_key = Some(key.ok_or_else(|| perr("data: missing key".into()))?);
                    text_buf.clear();
                }
                b"hyperedge" | b"port" => {
                    return Err(perr("hyperedges and ports are not supported".into()));
                }
                _ => {}
            }
            continue;
        }
        // Text matters only inside <data> and <default>.
        let in_text = data_key.is_some() || in_default;
        match ev {
            Event::Text(t) if in_text => {
                let s = t.decode().map_err(|e| perr(e.to_string()))?;
                let s = quick_xml::escape::unescape(&s).map_err(|e| perr(e.to_string()))?;
                text_buf.push_str(&s);
            }
            Event::GeneralRef(r) if in_text => {
                let s = r.decode().map_err(|e| perr(e.to_string()))?;
                let entity = format!("&{s};");
                let s = quick_xml::escape::unescape(&entity).map_err(|e| perr(e.to_string()))?;
                text_buf.push_str(&s);
            }
            Event::CData(t) if in_text => text_buf.push_str(&String::from_utf8_lossy(&t)),
            Event::End(e) => match e.local_name().as_ref() {
                b"default" if in_default => {
                    in_default = false;
                    if let Some(k) = key_default.as_ref().and_then(|k| keys.get_mut(k)) {
                        k.default = Some(std::mem::take(&mut text_buf));
                        defaults.fresh = false;
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
                    meter.charge(attr_bytes(&key.name, &v))?;
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
                    let ctx = Finish {
                        keys: &keys,
                        limits,
                        meter: &meter,
                    };
                    ctx.finish(&mut graph, &mut cur, &mut defaults, &mut xml_ids)
                        .map_err(&perr)??;
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

/// What inserting an element needs besides the element.
struct Finish<'a, 'c> {
    keys: &'a HashMap<String, Key>,
    limits: &'a Limits,
    meter: &'a Meter<'c>,
}

impl Finish<'_, '_> {
    /// Insert the element being read, applying key defaults. Edge ends resolve through
    /// the XML ids of the nodes read so far, else as new ids ([`NodeId::parse_text`]).
    /// The outer error is a message for the current line, the inner a graph error.
    fn finish(
        &self,
        graph: &mut Option<Graph>,
        cur: &mut Option<Element>,
        defaults: &mut Defaults,
        xml_ids: &mut HashMap<String, NodeId>,
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
        defaults.refresh(self.keys)?;
        let list = if id.is_some() {
            &defaults.node
        } else {
            &defaults.edge
        };
        for (k, v) in list {
            if !attrs.contains_key(k) {
                // Defaults cost memory the document does not show: metered.
                if let Err(e) = self.meter.charge(attr_bytes(k, v)) {
                    return Ok(Err(e));
                }
                attrs.insert(k.clone(), v.clone());
            }
        }
        if let Some(xml) = id {
            let node = if attrs.remove("mfn.id_is_string") == Some(Value::Bool(true)) {
                NodeId::Str(xml.strip_prefix("mfn.str:").unwrap_or(&xml).to_owned())
            } else {
                NodeId::parse_text(&xml)
            };
            if let Err(e) = self.meter.charge(2 * xml.len() as u64 + 64) {
                return Ok(Err(e));
            }
            xml_ids.insert(xml, node.clone());
            Ok(add_node_limited(g, node, attrs, self.limits, self.meter))
        } else {
            let (s, t) = ends.expect("edge ends");
            let resolve = |x: String| {
                xml_ids
                    .get(&x)
                    .cloned()
                    .unwrap_or_else(|| NodeId::parse_text(&x))
            };
            let (s, t) = (resolve(s), resolve(t));
            Ok(add_edge_limited(g, s, t, attrs, self.limits, self.meter))
        }
    }
}
