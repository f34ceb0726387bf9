//! Graphs deeper than a thread's stack. Every tool that reads a graph runs on a long
//! path and a long cycle, directed and undirected, on a thread whose stack is an eighth
//! of the server's compute workers' (2 MiB), and answers: a result, or an error naming a
//! limit or a precondition. A search that recurses once per node overflows the stack,
//! which aborts the process (not a panic a server could catch): petgraph's `tarjan_scc`
//! and `is_cyclic_directed` did, on a directed path of 30,000 nodes.

use mfn_graph::store::{GraphStore, MemoryStore};
use mfn_graph::tools::{ToolContext, call, tools};
use mfn_graph::{GraphError, Limits};
use serde_json::{Map, Value, json};

/// Nodes of each graph: deep enough that one stack frame per node overflows [`STACK`].
const N: u64 = 20_000;
/// Stack of the thread the tools run on.
const STACK: usize = 256 << 10;

/// The default limits, but the quadratic and cubic tools refuse these graphs at once
/// (their searches are the ones the other tests cover; here they would take minutes).
fn limits() -> Limits {
    Limits {
        max_nodes_all_pairs: 1_000,
        max_nodes_matching: 1_000,
        ..Limits::default()
    }
}

fn graph(store: &MemoryStore, name: &str, directed: bool, cycle: bool) {
    let mut edges: Vec<Value> = (0..N - 1).map(|i| json!([i, i + 1])).collect();
    if cycle {
        edges.push(json!([N - 1, 0]));
    }
    let args = json!({"name": name, "directed": directed, "edges": edges});
    call(&ToolContext::new(store, "t"), "create_graph", args).unwrap();
}

/// A value for a required argument other than `graph`, by name.
fn argument(tool: &str, arg: &str) -> Value {
    match arg {
        "source" | "node" => json!(0),
        "target" | "sink" => json!(N - 1),
        "nodes" => json!([0, 1, 2]),
        "name" | "new_name" => json!("deep-copy"),
        "format" => json!("graphml"),
        _ => panic!("{tool}: give its required argument `{arg}` a value here"),
    }
}

#[test]
fn every_tool_answers_on_long_paths_and_cycles_without_deep_recursion() {
    let store = MemoryStore::new(limits());
    let graphs = [
        ("path", false, false),
        ("dpath", true, false),
        ("cycle", false, true),
        ("dcycle", true, true),
    ];
    for (name, directed, cycle) in graphs {
        graph(&store, name, directed, cycle);
    }
    let ran = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            let ctx = ToolContext::new(&store, "t");
            let mut ran = 0;
            for spec in tools().iter().filter(|s| !s.mutates) {
                let schema = spec.input_schema();
                let props = schema["properties"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                if !props.contains_key("graph") {
                    continue;
                }
                for (name, ..) in graphs {
                    let mut args = Map::new();
                    args.insert("graph".into(), json!(name));
                    for req in schema["required"].as_array().into_iter().flatten() {
                        let req = req.as_str().unwrap();
                        if req != "graph" {
                            args.insert(req.into(), argument(spec.name, req));
                        }
                    }
                    match spec.call(&ctx, Value::Object(args)) {
                        Ok(_) => {}
                        Err(
                            GraphError::LimitExceeded { .. }
                            | GraphError::FailedPrecondition(_)
                            | GraphError::NodeNotFound { .. },
                        ) => {}
                        // An argument error means the call never reached the algorithm.
                        Err(e) => panic!("{} on {name}: {e}", spec.name),
                    }
                    ran += 1;
                }
            }
            ran
        })
        .unwrap()
        .join()
        .unwrap();
    assert!(ran >= 4 * 25, "only {ran} calls ran");
}

#[test]
fn strong_components_of_long_paths_and_cycles() {
    let store = MemoryStore::new(limits());
    graph(&store, "dpath", true, false);
    graph(&store, "dcycle", true, true);
    let out = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            let ctx = ToolContext::new(&store, "t");
            let strong = |g: &str| {
                call(
                    &ctx,
                    "connected_components",
                    json!({"graph": g, "strong": true}),
                )
                .unwrap()
            };
            let cycles = |g: &str| {
                call(
                    &ctx,
                    "cycles_detection",
                    json!({"graph": g, "max_cycles": 2}),
                )
                .unwrap()
            };
            [
                strong("dpath"),
                strong("dcycle"),
                cycles("dpath"),
                cycles("dcycle"),
            ]
        })
        .unwrap()
        .join()
        .unwrap();
    // A path: every node its own component; a cycle: one component of all.
    assert_eq!(out[0]["num_components"], json!(N));
    assert_eq!(out[1]["sizes"], json!([N]));
    assert_eq!(out[2]["has_cycle"], json!(false));
    assert_eq!(out[2]["is_dag"], json!(true));
    assert_eq!(out[3]["has_cycle"], json!(true));
    assert_eq!(out[3]["cycles"].as_array().unwrap().len(), 1);
    assert_eq!(out[3]["cycles"][0].as_array().unwrap().len() as u64, N);
}

#[test]
fn matching_refuses_graphs_beyond_its_node_limit() {
    let limits = Limits {
        max_nodes_matching: 100,
        ..Limits::default()
    };
    let store = MemoryStore::new(limits);
    let ctx = ToolContext::new(&store, "t");
    for (name, n) in [("small", 100), ("large", 101)] {
        let args = json!({"name": name, "kind": "path", "n": n});
        call(&ctx, "generate_graph", args).unwrap();
    }
    let small = call(&ctx, "matching", json!({"graph": "small"})).unwrap();
    assert_eq!(small["size"], json!(50));
    let e = call(&ctx, "matching", json!({"graph": "large"})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "nodes = 101 exceeds max_nodes_matching = 100",
        "{e:?}"
    );
    assert_eq!(store.limits().max_nodes_matching, 100);
}
