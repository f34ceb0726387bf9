//! Import/export: round trips (proptest) and malformed input naming line and field.

use mfn_graph::{Attrs, Graph, GraphError, Limits, NodeId, io};
use proptest::prelude::*;
use serde_json::Value;

fn node_id() -> impl Strategy<Value = NodeId> {
    prop_oneof![
        (-50i64..50).prop_map(NodeId::Int),
        "[a-z]{1,4}".prop_map(NodeId::Str),
        // Strings that read as integers must stay strings where the format can say so.
        (0i64..20).prop_map(|i| NodeId::Str(i.to_string())),
    ]
}

/// Attributes with one type per key, as GraphML declares them.
fn attrs() -> impl Strategy<Value = Attrs> {
    (
        proptest::option::of(-1000i64..1000),
        // Dyadic values: exact in decimal, so they read back exactly without serde_json's
        // `float_roundtrip` feature (see the io module docs).
        proptest::option::of((-1_000_000i64..1_000_000).prop_map(|i| i as f64 / 1024.0)),
        proptest::option::of(any::<bool>()),
        proptest::option::of("[a-zA-Z0-9 <>&\"'.,;:-]{0,12}"),
    )
        .prop_map(|(i, f, b, s)| {
            let mut a = Attrs::new();
            if let Some(i) = i {
                a.insert("i".into(), i.into());
            }
            if let Some(f) = f {
                a.insert("f".into(), f.into());
            }
            if let Some(b) = b {
                a.insert("b".into(), b.into());
            }
            if let Some(s) = s {
                a.insert("s".into(), Value::String(s));
            }
            a
        })
}

fn graph_strategy() -> impl Strategy<Value = Graph> {
    (
        any::<bool>(),
        proptest::collection::vec((node_id(), attrs()), 0..12),
        proptest::collection::vec((node_id(), node_id(), attrs()), 0..20),
        attrs(),
    )
        .prop_map(|(directed, nodes, edges, graph_attrs)| {
            let mut g = Graph::new("g", directed).unwrap();
            *g.attrs_mut() = graph_attrs;
            for (id, a) in nodes {
                g.add_node(id, a);
            }
            for (u, v, a) in edges {
                g.add_edge(u, v, a);
            }
            g
        })
}

proptest! {
    #[test]
    fn node_link_round_trip(g in graph_strategy()) {
        let text = io::export(&g, io::Format::Json);
        let back = io::read_node_link(&text, "g", &Limits::default()).unwrap();
        prop_assert_eq!(back, g);
    }

    #[test]
    fn graphml_round_trip(g in graph_strategy()) {
        let text = io::export(&g, io::Format::Graphml);
        let back = io::read_graphml(&text, "g", &Limits::default()).unwrap();
        prop_assert_eq!(back, g);
    }

    #[test]
    fn csv_round_trip(
        directed in any::<bool>(),
        edges in proptest::collection::vec(((0i64..30), "[a-z]{1,3}", (-100_000i64..100_000).prop_map(|i| i as f64 / 64.0)), 1..25),
    ) {
        let mut g = Graph::new("g", directed).unwrap();
        for (u, v, w) in edges {
            let mut a = Attrs::new();
            a.insert("weight".into(), w.into());
            g.add_edge(NodeId::Int(u), NodeId::Str(v), a);
        }
        let text = io::write_csv(&g, "weight");
        let back = io::read_csv(&text, "g", directed, &Limits::default()).unwrap();
        prop_assert_eq!(back, g);
    }
}

#[test]
fn csv_header_optional_and_errors_name_line_and_field() {
    let l = Limits::default();
    let g = io::read_csv("1,2\n2,3,0.5\n", "g", false, &l).unwrap();
    assert_eq!((g.num_nodes(), g.num_edges()), (3, 2));
    assert_eq!(g.edge_attrs(&3.into(), &2.into()).unwrap()["weight"], 0.5);
    let g = io::read_csv(
        "source,target,cost,color\n# comment\n\na,b,2,red\n",
        "g",
        true,
        &l,
    )
    .unwrap();
    let a = g.edge_attrs(&"a".into(), &"b".into()).unwrap();
    assert_eq!(
        (a["cost"].as_f64(), a["color"].as_str()),
        (Some(2.0), Some("red"))
    );
    let err = io::read_csv("source,target,weight\n1,2,3\n3,4,heavy\n", "g", false, &l).unwrap_err();
    assert_eq!(
        err.to_string(),
        "csv line 3: weight: \"heavy\" is not a number"
    );
    let err = io::read_csv("1,2\n3\n", "g", false, &l).unwrap_err();
    assert_eq!(
        err.to_string(),
        "csv line 2: expected source,target[,weight], found 1 field(s)"
    );
    let err = io::read_csv("1,2\n\"3,4\n", "g", false, &l).unwrap_err();
    assert_eq!(err.to_string(), "csv line 2: unterminated quoted field");
}

#[test]
fn limits_are_checked_before_allocation() {
    let tight = Limits {
        max_edges: 2,
        max_nodes: 3,
        max_input_bytes: 64,
        ..Limits::default()
    };
    let err = io::read_csv("1,2\n2,3\n3,4\n4,5\n", "g", false, &tight).unwrap_err();
    assert_eq!(err.to_string(), "edges = 3 exceeds max_edges = 2");
    let err = io::read_csv("1,2\n3,4\n", "g", false, &tight).unwrap_err();
    assert_eq!(err.to_string(), "nodes = 4 exceeds max_nodes = 3");
    let garbage = "x".repeat(10 * 1024 * 1024);
    for f in [io::Format::Csv, io::Format::Json, io::Format::Graphml] {
        let err = io::import(f, &garbage, "g", false, &tight).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("bytes = {} exceeds max_input_bytes = 64", garbage.len())
        );
    }
    // Ten megabytes of garbage under the default limits: a clean parse error.
    for f in [io::Format::Json, io::Format::Graphml] {
        let err = io::import(f, &garbage, "g", false, &Limits::default()).unwrap_err();
        assert!(matches!(err, GraphError::Parse { .. }), "{f:?}: {err}");
    }
    let err = io::import(io::Format::Csv, &garbage, "g", false, &Limits::default()).unwrap_err();
    assert!(err.to_string().starts_with("csv line 1:"), "{err}");
}

#[test]
fn node_link_accepts_links_and_rejects_bad_ids() {
    let l = Limits::default();
    let g = io::read_node_link(
        r#"{"directed": true, "nodes": [{"id": "a", "x": 1}, {"id": 2}], "links": [{"source": "a", "target": 2, "weight": 3}]}"#,
        "g",
        &l,
    )
    .unwrap();
    assert!(
        g.is_directed()
            && g.has_edge(&"a".into(), &2.into())
            && !g.has_edge(&2.into(), &"a".into())
    );
    let err = io::read_node_link(r#"{"nodes": [{"id": 1.5}]}"#, "g", &l).unwrap_err();
    assert_eq!(
        err.to_string(),
        "json line 1: nodes[0].id: 1.5 is not an integer or a string"
    );
    let err = io::read_node_link(r#"{"edges": [{"source": 1}]}"#, "g", &l).unwrap_err();
    assert_eq!(err.to_string(), "json line 1: edges[0]: missing target");
    // The line of the fault, not of the document.
    let err =
        io::read_node_link("{\"nodes\": [\n{\"id\": 1},\n{\"id\": [2]}]}", "g", &l).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("json line 3: nodes[1].id: an array"),
        "{err}"
    );
    let err = io::read_node_link("{\"nodes\": [\n{\"id\": 1},\n", "g", &l).unwrap_err();
    assert!(err.to_string().starts_with("json line 3:"), "{err}");
}

#[test]
fn graph_attributes_in_node_link_and_graphml() {
    let l = Limits::default();
    // As `nx.node_link_data` writes `G.graph`: the name is the graph's name, the rest
    // are attributes.
    let g = io::read_node_link(
        r#"{"graph": {"name": "net", "pixel_um": 1.5, "meta": {"src": "a.png"}}, "nodes": [{"id": 1}], "edges": []}"#,
        "fallback",
        &l,
    )
    .unwrap();
    assert_eq!(g.name(), "net");
    assert_eq!(g.attrs().len(), 2);
    assert_eq!(g.attrs()["pixel_um"], 1.5);
    assert_eq!(g.attrs()["meta"]["src"], "a.png");
    let doc: Value = serde_json::from_str(&io::export(&g, io::Format::Json)).unwrap();
    assert_eq!(
        doc["graph"],
        serde_json::json!({"name": "net", "pixel_um": 1.5, "meta": {"src": "a.png"}})
    );
    // Old NetworkX: a list of pairs.
    let old = io::read_node_link(r#"{"graph": [["units", "um"]], "nodes": []}"#, "g", &l).unwrap();
    assert_eq!(old.attrs()["units"], "um");
    let err = io::read_node_link(r#"{"graph": 3}"#, "g", &l).unwrap_err();
    assert!(
        err.to_string().contains("graph: must be an object"),
        "{err}"
    );
    // GraphML: keys for="graph", <data> under <graph>.
    let xml = io::export(&g, io::Format::Graphml);
    assert!(
        xml.contains(r#"for="graph" attr.name="pixel_um" attr.type="double""#),
        "{xml}"
    );
    let back = io::read_graphml(&xml, "net", &l).unwrap();
    assert_eq!(back.attrs()["pixel_um"], 1.5);
    // Objects travel as JSON text in GraphML, as node attributes do.
    assert_eq!(back.attrs()["meta"], r#"{"src":"a.png"}"#);
    let doc = r#"<graphml><key id="k" for="graph" attr.name="day" attr.type="int"/>
<graph edgedefault="undirected"><data key="k">3</data><node id="a"/></graph></graphml>"#;
    assert_eq!(io::read_graphml(doc, "g", &l).unwrap().attrs()["day"], 3);
}

#[test]
fn graphml_reads_types_defaults_and_reports_lines() {
    let l = Limits::default();
    let doc = r#"<?xml version="1.0"?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key id="d0" for="node" attr.name="color" attr.type="string"><default>blue</default></key>
  <key id="d1" for="edge" attr.name="weight" attr.type="double"/>
  <graph edgedefault="directed">
    <node id="n0"><data key="d0">red &amp; green</data></node>
    <node id="7"/>
    <edge source="n0" target="7"><data key="d1">2.5</data></edge>
  </graph>
</graphml>"#;
    let g = io::read_graphml(doc, "g", &l).unwrap();
    assert!(g.is_directed());
    assert_eq!(g.node_attrs(&"n0".into()).unwrap()["color"], "red & green");
    assert_eq!(g.node_attrs(&7.into()).unwrap()["color"], "blue");
    assert_eq!(
        g.edge_attrs(&"n0".into(), &7.into()).unwrap()["weight"],
        2.5
    );
    let bad = doc.replace(">2.5<", ">heavy<");
    let err = io::read_graphml(&bad, "g", &l).unwrap_err();
    assert_eq!(
        err.to_string(),
        "graphml line 8: weight: \"heavy\" is not a finite number"
    );
    let err = io::read_graphml("<graphml><graph><node id='1'></graph>", "g", &l).unwrap_err();
    assert!(
        matches!(
            err,
            GraphError::Parse {
                format: "graphml",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn decoders_meter_what_they_build_against_the_call_budget() {
    let tight = Limits {
        max_call_bytes: 1 << 20,
        ..Limits::default()
    };
    let budget_error = |e: GraphError| {
        let text = e.to_string();
        assert!(
            text.starts_with("data: estimated bytes = ")
                && text.ends_with("exceeds max_call_bytes = 1048576"),
            "{text}"
        );
    };
    // GraphML key defaults cost memory the document does not show: 200 keys with a
    // default, applied to 5 000 empty nodes (a 100 KB document).
    let mut doc = String::from("<graphml>");
    for k in 0..200 {
        doc.push_str(&format!(
            "<key id=\"k{k}\" for=\"node\" attr.name=\"a{k}\" attr.type=\"string\"><default>x</default></key>"
        ));
    }
    doc.push_str("<graph>");
    for n in 0..5000 {
        doc.push_str(&format!("<node id=\"{n}\"/>"));
    }
    doc.push_str("</graph></graphml>");
    assert!(doc.len() < 200_000);
    budget_error(io::read_graphml(&doc, "g", &tight).unwrap_err());
    assert_eq!(
        io::read_graphml(&doc, "g", &Limits::default())
            .unwrap()
            .num_nodes(),
        5000
    );
    // Node-link: a long attribute array; CSV: many edges.
    let big = format!(
        "{{\"nodes\": [{{\"id\": 1, \"xs\": [{}0]}}]}}",
        "0,".repeat(100_000)
    );
    budget_error(io::read_node_link(&big, "g", &tight).unwrap_err());
    let csv: String = (0..20_000).map(|i| format!("{i},{}\n", i + 1)).collect();
    budget_error(io::read_csv(&csv, "g", false, &tight).unwrap_err());
}
