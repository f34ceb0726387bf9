//! The tool registry: dispatch, strict arguments, paging, mutations that store nothing
//! on failure, and schemas for every tool.

use mfn_graph::store::MemoryStore;
use mfn_graph::tools::{ToolContext, call, input_schema, output_schema, tool_names};
use mfn_graph::{GraphError, Limits};
use serde_json::{Value, json};

fn ctx(store: &MemoryStore) -> ToolContext<'_> {
    ToolContext::new(store, "t")
}

#[test]
fn every_tool_has_schemas_and_the_spec_list_is_covered() {
    let names = tool_names();
    for spec in [
        "create_graph",
        "list_graphs",
        "get_info",
        "delete_graph",
        "add_nodes",
        "add_edges",
        "remove_nodes",
        "remove_edges",
        "get_neighbors",
        "set_node_attributes",
        "get_node_attributes",
        "set_edge_attributes",
        "get_edge_attributes",
        "subgraph",
        "merge_graphs",
        "import_graph",
        "export_graph",
        "generate_graph",
        "shortest_path",
        "all_pairs_shortest_path_length",
        "all_pairs_shortest_path",
        "node_degree",
        "degree_centrality",
        "betweenness_centrality",
        "closeness_centrality",
        "eigenvector_centrality",
        "pagerank",
        "centrality_measures",
        "connected_components",
        "community_detection",
        "clustering_coefficients",
        "graph_statistics",
        "minimum_spanning_tree",
        "cycles_detection",
        "graph_coloring",
        "matching",
        "maximum_flow",
        "topological_sort",
        "efficiency",
        "core_number",
        "network_metrics",
    ] {
        assert!(names.contains(&spec), "{spec} missing");
    }
    for name in names {
        let i = input_schema(name).unwrap();
        assert_eq!(i["type"], "object", "{name}");
        assert!(output_schema(name).unwrap().is_object(), "{name}");
    }
    let pr = input_schema("pagerank").unwrap();
    assert!(pr["properties"]["alpha"].is_object());
    let out = output_schema("shortest_path").unwrap();
    assert!(out["properties"]["path"].is_object() && out["properties"]["length"].is_object());
}

#[test]
fn graph_lifecycle_and_errors_name_fields() {
    let store = MemoryStore::new(Limits::default());
    let c = ctx(&store);
    let info = call(&c, "create_graph", json!({"name": "g", "edges": [[1, 2], [2, 3, 2.5], {"source": 3, "target": "x", "attrs": {"k": 1}}]})).unwrap();
    assert_eq!(
        info,
        json!({"name": "g", "directed": false, "num_nodes": 4, "num_edges": 3})
    );
    let err = call(&c, "create_graph", json!({"name": "g"})).unwrap_err();
    assert_eq!(err.to_string(), "name: graph \"g\" already exists");
    let err = call(
        &c,
        "shortest_path",
        json!({"graph": "g", "source": 17, "target": 1}),
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "source: node 17 not in graph");
    let err = call(
        &c,
        "shortest_path",
        json!({"graph": "g", "source": 1, "target": 3, "wieght": "w"}),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("wieght: unknown field `wieght`, expected one of"),
        "{err}"
    );
    let err = call(
        &c,
        "betweenness_centrality",
        json!({"graph": "g", "k": "many"}),
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("k: invalid type"), "{err}");
    let err = call(&c, "betweenness_centrality", json!({"graph": "g", "k": 9})).unwrap_err();
    assert_eq!(err.to_string(), "k: must be in [1, num_nodes (4)]");
    let err = call(&c, "get_info", json!({"graph": "nope"})).unwrap_err();
    assert!(matches!(err, GraphError::GraphNotFound { .. }));
    let err = call(&c, "no_such_tool", json!({})).unwrap_err();
    assert_eq!(err.to_string(), "tool: unknown tool \"no_such_tool\"");
    // Weighted shortest path uses the weight.
    let r = call(
        &c,
        "shortest_path",
        json!({"graph": "g", "source": 1, "target": 3, "weight": "weight"}),
    )
    .unwrap();
    assert_eq!(r, json!({"path": [1, 2, 3], "length": 3.5}));
    // A failed mutation stores nothing.
    let err = call(&c, "remove_nodes", json!({"graph": "g", "nodes": [1, 99]})).unwrap_err();
    assert_eq!(err.to_string(), "nodes[1]: node 99 not in graph");
    assert_eq!(
        call(&c, "get_info", json!({"graph": "g"})).unwrap()["num_nodes"],
        4
    );
    call(&c, "remove_nodes", json!({"graph": "g", "nodes": [1]})).unwrap();
    assert_eq!(
        call(&c, "get_info", json!({"graph": "g"})).unwrap()["num_edges"],
        2
    );
    call(
        &c,
        "set_node_attributes",
        json!({"graph": "g", "values": [{"node": "x", "attrs": {"color": "red"}}]}),
    )
    .unwrap();
    let a = call(
        &c,
        "get_node_attributes",
        json!({"graph": "g", "nodes": ["x"]}),
    )
    .unwrap();
    assert_eq!(a["nodes"][0]["attrs"]["color"], "red");
    let e = call(
        &c,
        "get_edge_attributes",
        json!({"graph": "g", "edges": [["x", 3]]}),
    )
    .unwrap();
    assert_eq!(e["edges"][0]["attrs"]["k"], 1);
    let n = call(&c, "get_neighbors", json!({"graph": "g", "node": 3})).unwrap();
    assert_eq!(n["neighbors"], json!([2, "x"]));
    // Export then import under a new name: the same graph.
    for format in ["csv", "json", "graphml"] {
        let data =
            call(&c, "export_graph", json!({"graph": "g", "format": format})).unwrap()["data"]
                .clone();
        let name = format!("copy_{format}");
        let info = call(
            &c,
            "import_graph",
            json!({"name": name, "format": format, "data": data}),
        )
        .unwrap();
        assert_eq!(
            (info["num_nodes"].clone(), info["num_edges"].clone()),
            (json!(3), json!(2)),
            "{format}"
        );
    }
    assert_eq!(
        call(&c, "list_graphs", json!({})).unwrap()["graphs"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    call(&c, "delete_graph", json!({"graph": "g"})).unwrap();
    assert!(call(&c, "get_info", json!({"graph": "g"})).is_err());
}

#[test]
fn paging_returns_every_node_once_in_order() {
    let store = MemoryStore::new(Limits::default());
    let c = ctx(&store);
    call(
        &c,
        "generate_graph",
        json!({"name": "k", "kind": "karate_club"}),
    )
    .unwrap();
    let full = call(&c, "pagerank", json!({"graph": "k"})).unwrap();
    assert_eq!(full["values"].as_array().unwrap().len(), 34);
    assert_eq!(full["truncated"], false);
    assert_eq!(full["next_cursor"], Value::Null);
    let mut paged = Vec::new();
    let mut cursor = Value::Null;
    loop {
        let r = call(
            &c,
            "pagerank",
            json!({"graph": "k", "top_k": 5, "cursor": cursor}),
        )
        .unwrap();
        paged.extend(r["values"].as_array().unwrap().iter().cloned());
        if r["truncated"] == false {
            break;
        }
        cursor = r["next_cursor"].clone();
    }
    assert_eq!(Value::Array(paged), full["values"]);
    let v: Vec<f64> = full["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["value"].as_f64().unwrap())
        .collect();
    assert!(v.windows(2).all(|w| w[0] >= w[1]));
    let sum: f64 = v.iter().sum();
    assert!((sum - 1.0).abs() < 1e-9);
    let err = call(&c, "pagerank", json!({"graph": "k", "cursor": "zz"})).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cursor: \"zz\" is not a cursor of this result"
    );
    let m = call(&c, "centrality_measures", json!({"graph": "k", "top_k": 3})).unwrap();
    assert_eq!(m["measures"]["degree"]["values"][0]["node"], 33);
    assert_eq!(m["measures"].as_object().unwrap().len(), 5);
    let cl = call(
        &c,
        "clustering_coefficients",
        json!({"graph": "k", "top_k": 2}),
    )
    .unwrap();
    assert!((cl["average_clustering"].as_f64().unwrap() - 0.5706384782076823).abs() < 1e-12);
    let comm = call(&c, "community_detection", json!({"graph": "k", "seed": 3})).unwrap();
    assert_eq!(comm["method"], "louvain");
    assert!(comm["modularity"].as_f64().unwrap() > 0.4);
}

#[test]
fn network_metrics_of_a_plus_shape() {
    let store = MemoryStore::new(Limits::default());
    let c = ctx(&store);
    // A plus: centre junction and four tips at distance 2.
    let nodes = json!([
        {"id": 0, "attrs": {"x": 0, "y": 0}}, {"id": 1, "attrs": {"x": 2, "y": 0}},
        {"id": 2, "attrs": {"x": -2, "y": 0}}, {"id": 3, "attrs": {"x": 0, "y": 2}},
        {"id": 4, "attrs": {"x": 0, "y": -2}}
    ]);
    let edges = json!([[0, 1], [0, 2], [0, 3], [0, 4]]);
    call(
        &c,
        "create_graph",
        json!({"name": "plus", "nodes": nodes, "edges": edges}),
    )
    .unwrap();
    let m = call(
        &c,
        "network_metrics",
        json!({"graph": "plus", "fractal_dimension": 1.1}),
    )
    .unwrap();
    assert_eq!(
        (m["num_nodes"].clone(), m["num_edges"].clone()),
        (json!(5), json!(4))
    );
    assert_eq!(
        (m["tips"].clone(), m["junctions"].clone()),
        (json!(4), json!(1))
    );
    assert_eq!(m["total_length"], 8.0);
    assert_eq!(m["hyphal_growth_unit"], 2.0);
    assert_eq!(
        m["cost"], 1.0,
        "a star of straight spokes is its own Euclidean MST"
    );
    assert_eq!(m["meshedness"], 0.0);
    assert_eq!(
        m["branch_length"],
        json!({"mean": 2.0, "median": 2.0, "max": 2.0})
    );
    assert_eq!(m["fractal_dimension"], 1.1);
    // Lengths 2 (4 ordered pairs ×2) and 4 (12 ordered pairs): (8·½ + 12·¼) / 20.
    assert!((m["global_efficiency"].as_f64().unwrap() - 7.0 / 20.0).abs() < 1e-15);
    assert_eq!(m["robustness"]["fractions"], json!([0.1, 0.25, 0.5]));
    for key in [
        "num_nodes",
        "num_edges",
        "tips",
        "junctions",
        "degree_histogram",
        "total_length",
        "branch_length",
        "hyphal_growth_unit",
        "meshedness",
        "cost",
        "global_efficiency",
        "robustness",
        "fractal_dimension",
    ] {
        assert!(m.get(key).is_some(), "{key}");
    }
}

/// Every string a schema allows by `enum` or `const`, anywhere in it.
fn allowed(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(o) => {
            for (k, v) in o {
                match (k.as_str(), v) {
                    ("enum", Value::Array(a)) => {
                        out.extend(a.iter().filter_map(|s| s.as_str().map(String::from)))
                    }
                    ("const", Value::String(s)) => out.push(s.clone()),
                    _ => allowed(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| allowed(v, out)),
        _ => {}
    }
}

#[test]
fn choice_arguments_list_their_values_in_the_schema_and_accept_the_same_strings() {
    let cases: &[(&str, &[&str])] = &[
        ("minimum_spanning_tree", &["kruskal", "prim"]),
        (
            "community_detection",
            &["louvain", "label_propagation", "greedy_modularity"],
        ),
        (
            "generate_graph",
            &[
                "erdos_renyi",
                "barabasi_albert",
                "watts_strogatz",
                "grid_2d",
                "complete",
                "path",
                "cycle",
                "star",
                "karate_club",
            ],
        ),
        (
            "graph_coloring",
            &["largest_first", "dsatur", "independent_set"],
        ),
        (
            "centrality_measures",
            &[
                "degree",
                "betweenness",
                "closeness",
                "eigenvector",
                "pagerank",
            ],
        ),
        ("import_graph", &["csv", "json", "graphml"]),
        ("get_neighbors", &["out", "in", "all"]),
    ];
    for (tool, values) in cases {
        let mut got = Vec::new();
        allowed(&input_schema(tool).unwrap(), &mut got);
        for v in *values {
            assert!(got.iter().any(|g| g == v), "{tool}: {v} not in {got:?}");
        }
    }
    // The strings the NetworkX oracle and the MCP interop tests send still work.
    let store = MemoryStore::new(Limits::default());
    let c = ctx(&store);
    call(
        &c,
        "generate_graph",
        json!({"name": "k", "kind": "karate_club"}),
    )
    .unwrap();
    let kruskal = call(&c, "minimum_spanning_tree", json!({"graph": "k"})).unwrap();
    for (tool, args, key, want) in [
        (
            "minimum_spanning_tree",
            json!({"graph": "k", "algorithm": "prim"}),
            "total_weight",
            kruskal["total_weight"].clone(),
        ),
        (
            "graph_coloring",
            json!({"graph": "k", "strategy": "saturation_largest_first"}),
            "strategy",
            json!("dsatur"),
        ),
        (
            "community_detection",
            json!({"graph": "k", "method": "greedy_modularity", "weight": null}),
            "method",
            json!("greedy_modularity"),
        ),
    ] {
        let r = call(&c, tool, args).unwrap();
        assert_eq!(r[key], want, "{tool}: {r}");
    }
    let r = call(
        &c,
        "centrality_measures",
        json!({"graph": "k", "measures": ["degree", "pagerank"], "top_k": 1}),
    )
    .unwrap();
    let keys: Vec<&String> = r["measures"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["degree", "pagerank"]);
    // A wrong choice names the field and the allowed values.
    let err = call(
        &c,
        "minimum_spanning_tree",
        json!({"graph": "k", "algorithm": "boruvka"}),
    )
    .unwrap_err();
    assert!(
        matches!(&err, GraphError::InvalidArgument { field, message } if field == "algorithm" && message.contains("kruskal")),
        "{err:?}"
    );
    let err = call(
        &c,
        "generate_graph",
        json!({"name": "x", "kind": "lattice"}),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("kind: unknown variant `lattice`"),
        "{err}"
    );
}

#[test]
fn the_cached_adjacency_follows_every_mutation() {
    let store = MemoryStore::new(Limits::default());
    let c = ctx(&store);
    call(
        &c,
        "generate_graph",
        json!({"name": "p", "kind": "path", "n": 6}),
    )
    .unwrap();
    let hops = |c: &ToolContext<'_>| {
        call(
            c,
            "shortest_path",
            json!({"graph": "p", "source": 0, "target": 5}),
        )
        .unwrap()["length"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(hops(&c), 5.0);
    // Each call below changes the stored graph; the next query sees the change.
    call(&c, "add_edges", json!({"graph": "p", "edges": [[0, 4]]})).unwrap();
    assert_eq!(hops(&c), 2.0);
    call(
        &c,
        "add_edges",
        json!({"graph": "p", "edges": [[0, 5, 7.5]]}),
    )
    .unwrap();
    assert_eq!(hops(&c), 1.0);
    let w = call(
        &c,
        "shortest_path",
        json!({"graph": "p", "source": 0, "target": 5, "weight": "weight"}),
    )
    .unwrap();
    assert_eq!(
        (w["path"].clone(), w["length"].as_f64()),
        (json!([0, 4, 5]), Some(2.0))
    );
    call(
        &c,
        "set_edge_attributes",
        json!({"graph": "p", "values": [{"source": 0, "target": 5, "attrs": {"weight": 1.5}}]}),
    )
    .unwrap();
    let w = call(
        &c,
        "shortest_path",
        json!({"graph": "p", "source": 0, "target": 5, "weight": "weight"}),
    )
    .unwrap();
    assert_eq!(
        (w["path"].clone(), w["length"].as_f64()),
        (json!([0, 5]), Some(1.5))
    );
    call(
        &c,
        "remove_edges",
        json!({"graph": "p", "edges": [[0, 5], [0, 4]]}),
    )
    .unwrap();
    assert_eq!(hops(&c), 5.0);
    call(&c, "remove_nodes", json!({"graph": "p", "nodes": [3]})).unwrap();
    let err = call(
        &c,
        "shortest_path",
        json!({"graph": "p", "source": 0, "target": 5}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("no path"), "{err}");
    let n = call(&c, "get_neighbors", json!({"graph": "p", "node": 4})).unwrap();
    assert_eq!(n["neighbors"], json!([5]));
    let comps = call(&c, "connected_components", json!({"graph": "p"})).unwrap();
    assert_eq!(comps["sizes"], json!([3, 2]));
}

#[test]
fn seed_003_names_answer() {
    let store = MemoryStore::new(Limits::default());
    let c = ctx(&store);
    call(
        &c,
        "create_graph",
        json!({"name": "p", "edges": [[0, 1], [1, 2], [2, 3], [3, 3]]}),
    )
    .unwrap();
    let info = call(&c, "graph_info", json!({"graph": "p"})).unwrap();
    assert_eq!(info["num_nodes"], 4);
    // A self-loop counts twice, as in NetworkX.
    let d = call(&c, "node_degree", json!({"graph": "p", "node": 3})).unwrap();
    assert_eq!(d["degree"], 3);
    let d = call(&c, "node_degree", json!({"graph": "p", "node": 1})).unwrap();
    assert_eq!(
        (d["degree"].clone(), d["in_degree"].clone()),
        (json!(2), Value::Null)
    );
    let e = call(&c, "node_degree", json!({"graph": "p", "node": 9})).unwrap_err();
    assert!(e.to_string().starts_with("node:"), "{e}");
    let ap = call(
        &c,
        "all_pairs_shortest_path",
        json!({"graph": "p", "top_k": 1}),
    )
    .unwrap();
    assert_eq!(ap["paths"]["0"]["3"], json!([0, 1, 2, 3]));
    assert_eq!(ap["paths"]["0"]["0"], json!([0]));
    assert_eq!(
        (ap["truncated"].clone(), ap["next_cursor"].clone()),
        (json!(true), json!("1"))
    );
    let limits = Limits {
        max_nodes_all_pairs: 3,
        ..Limits::default()
    };
    let small = MemoryStore::new(limits);
    let c = ctx(&small);
    call(
        &c,
        "create_graph",
        json!({"name": "p", "edges": [[0, 1], [1, 2], [2, 3]]}),
    )
    .unwrap();
    let e = call(&c, "all_pairs_shortest_path", json!({"graph": "p"})).unwrap_err();
    assert!(e.to_string().contains("max_nodes_all_pairs = 3"), "{e}");
}
