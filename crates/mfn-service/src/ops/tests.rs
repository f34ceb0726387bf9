//! The registry's tests: every entry well formed, calls by name and typed, tenancy,
//! deadlines and cancellation, the network operations.

use std::time::Instant;

use serde_json::json;

use super::*;
use crate::ServiceConfig;
use crate::error::ErrorCode;

fn service() -> MfnService {
    MfnService::new(ServiceConfig {
        workers: 2,
        queue: 4,
        ..ServiceConfig::default()
    })
    .unwrap()
}

fn mcp(tenant: &str) -> Call {
    Call::new(Door::Mcp, RequestContext::new(None)).tenant(tenant)
}

async fn call(
    svc: &MfnService,
    tenant: &str,
    name: &str,
    args: Value,
) -> Result<Value, ServiceError> {
    svc.call_op(&mcp(tenant), name, args)
        .await
        .and_then(|r| r.to_value())
}

#[test]
fn every_entry_has_object_schemas_and_unique_names() {
    let mut names = std::collections::HashSet::new();
    let mut paths = std::collections::HashSet::new();
    for e in all() {
        for name in std::iter::once(&e.spec.name).chain(e.spec.aliases) {
            assert!(names.insert(*name), "duplicate name {name}");
        }
        for route in e.spec.rest {
            assert!(paths.insert(route.path()), "duplicate path {route:?}");
        }
        for s in [&e.input_schema, &e.output_schema] {
            assert_eq!(s["type"], "object", "{}: {s}", e.spec.name);
        }
        assert!(!e.spec.description.is_empty());
    }
    for name in [
        "simulate_field",
        "extract_features",
        "fractal_dimension",
        "nernst_potential",
        "validate_patterns",
        "aggregate_gradients",
        "network_metrics",
        "betweenness_centrality",
    ] {
        assert!(find(name).is_some(), "{name} missing");
    }
    for (alias, name) in [
        ("simulate", "simulate_field"),
        ("features", "extract_features"),
        ("fractal", "fractal_dimension"),
        ("nernst", "nernst_potential"),
        ("validate", "validate_patterns"),
        ("aggregate", "aggregate_gradients"),
        ("ifs", "generate_ifs"),
    ] {
        assert_eq!(find(alias).map(|e| e.spec.name), Some(name));
    }
    assert!(find("generate_graph").unwrap().spec.mutates);
    assert!(!find("pagerank").unwrap().spec.mutates);
}

#[test]
fn choice_and_range_arguments_are_in_the_schemas() {
    let sim = &find("simulate_field").unwrap().input_schema;
    assert!(sim["properties"]["grid_size"].is_object(), "{sim}");
    let upload = &find("fractal_dimension_upload").unwrap().input_schema;
    let text = upload.to_string();
    for format in ["npy", "csv", "png"] {
        assert!(text.contains(&format!("\"{format}\"")), "{text}");
    }
}

#[tokio::test]
async fn graph_tools_are_tenant_scoped_and_errors_keep_their_field() {
    let svc = service();
    call(
        &svc,
        "a",
        "generate_graph",
        json!({"name": "k", "kind": "karate_club"}),
    )
    .await
    .unwrap();
    let info = call(&svc, "a", "get_info", json!({"graph": "k"}))
        .await
        .unwrap();
    assert_eq!(info["num_nodes"], 34);
    let e = call(&svc, "b", "get_info", json!({"graph": "k"}))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
    assert_eq!(e.field.as_deref(), Some("graph"));
    let e = call(
        &svc,
        "a",
        "shortest_path",
        json!({"graph": "k", "source": 0, "target": 99}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
    assert_eq!(e.field.as_deref(), Some("target"));
    let e = call(&svc, "a", "create_graph", json!({"name": "k"}))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::AlreadyExists);
    let e = call(&svc, "a", "get_info", json!({"graph": "k", "bogus": 1}))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArgument);
    let e = call(&svc, "a", "no_such_tool", json!({}))
        .await
        .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("tool"));
}

#[tokio::test]
async fn mfn_tools_answer_as_rest_does() {
    let svc = service();
    let v = call(
        &svc,
        "a",
        "nernst_potential",
        json!({"z_valence": 1, "concentration_out_molar": 0.005, "concentration_in_molar": 0.14}),
    )
    .await
    .unwrap();
    let mv = v["potential_mV"].as_f64().unwrap();
    assert!((mv + 89.0).abs() < 0.1, "{v}");
    let e = call(&svc, "a", "simulate_field", json!({"grid_size": 100000}))
        .await
        .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("grid_size"));
    let e = call(&svc, "a", "simulate_field", json!({"grid": 8}))
        .await
        .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("grid"));
}

#[tokio::test]
async fn concurrent_updates_of_one_graph_are_not_lost() {
    let svc = service();
    call(&svc, "t", "create_graph", json!({"name": "g"}))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let svc = svc.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                match call(&svc, "t", "add_nodes", json!({"graph": "g", "nodes": [i]})).await {
                    Ok(_) => break,
                    // The gate is small on purpose; a refused call is retried.
                    Err(e) if e.code == ErrorCode::ResourceExhausted => {
                        tokio::time::sleep(std::time::Duration::from_millis(2)).await
                    }
                    Err(e) => panic!("{e}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let info = call(&svc, "t", "get_info", json!({"graph": "g"}))
        .await
        .unwrap();
    assert_eq!(info["num_nodes"], 40);
}

#[tokio::test]
async fn the_deadline_cancels_a_long_algorithm() {
    let svc = MfnService::new(ServiceConfig {
        workers: 1,
        queue: 1,
        tool_timeout: std::time::Duration::from_millis(1000),
        ..ServiceConfig::default()
    })
    .unwrap();
    call(
        &svc,
        "t",
        "generate_graph",
        json!({"name": "big", "kind": "barabasi_albert", "n": 20000, "m": 3, "seed": 1}),
    )
    .await
    .unwrap();
    let e = call(&svc, "t", "betweenness_centrality", json!({"graph": "big"}))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::DeadlineExceeded);
    // The pool is free again once the algorithm saw the cancellation.
    let start = Instant::now();
    loop {
        match call(&svc, "t", "get_info", json!({"graph": "big"})).await {
            Ok(_) => break,
            Err(e) if e.code == ErrorCode::ResourceExhausted => {
                assert!(
                    start.elapsed().as_secs() < 30,
                    "the cancelled job kept the worker"
                );
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[tokio::test]
async fn extract_network_stores_a_graph_every_tool_can_use() {
    let svc = service();
    let r = call(
        &svc,
        "t",
        "extract_network",
        json!({"name": "net", "simulation": {"seed": 7, "grid_size": 32, "steps": 40}}),
    )
    .await
    .unwrap();
    let m = &r["metrics"];
    assert_eq!(r["graph"]["num_nodes"], m["num_nodes"], "{r}");
    assert!(m["num_nodes"].as_u64().unwrap() > 0, "{r}");
    assert!(r["skeleton_pixels"].as_u64() <= r["mask_pixels"].as_u64());
    assert!(m["fractal_dimension"].as_f64().is_some(), "{r}");
    let info = call(&svc, "t", "get_info", json!({"graph": "net"}))
        .await
        .unwrap();
    assert_eq!(info["num_edges"], r["graph"]["num_edges"]);
    let again = call(&svc, "t", "network_metrics", json!({"graph": "net"}))
        .await
        .unwrap();
    assert_eq!(
        &again, m,
        "network_metrics on the stored graph gives the same metrics"
    );
    let b = call(
        &svc,
        "t",
        "betweenness_centrality",
        json!({"graph": "net", "top_k": 1}),
    )
    .await
    .unwrap();
    assert_eq!(b["values"].as_array().unwrap().len(), 1);
    // Stored once: a second extraction under the same name needs overwrite.
    let e = call(&svc, "t", "extract_network", json!({"name": "net"}))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::AlreadyExists);

    let svg = svc
        .call_op(
            &mcp("t"),
            "visualize_graph",
            json!({"graph": "net", "format": "svg"}),
        )
        .await
        .unwrap();
    let structured = svg.to_value().unwrap();
    assert_eq!(structured["layout"], "coordinates");
    assert_eq!(structured["background"], true, "drawn over its field");
    let image = svg.image.unwrap();
    assert_eq!(image.mime_type, "image/svg+xml");
    assert!(String::from_utf8(image.data).unwrap().contains("<svg"));
    let png = svc
        .call_op(
            &mcp("t"),
            "visualize_graph",
            json!({"graph": "net", "width": 200, "height": 200}),
        )
        .await
        .unwrap()
        .image
        .unwrap();
    assert_eq!(png.mime_type, "image/png");
    assert!(png.data.starts_with(b"\x89PNG"));
}

#[tokio::test]
async fn extract_network_from_an_inline_field_finds_a_plus() {
    let svc = service();
    let n = 21;
    let values: Vec<f64> = (0..n * n)
        .map(|i| {
            let (x, y) = (i % n, i / n);
            if x == 10 && (3..=17).contains(&y) || y == 10 && (3..=17).contains(&x) {
                -0.02
            } else {
                -0.09
            }
        })
        .collect();
    let r = call(
        &svc,
        "t",
        "extract_network",
        json!({"name": "plus", "field": {"size": n, "values": values}, "options": {"threshold_mv": -60.0}}),
    )
    .await
    .unwrap();
    let m = &r["metrics"];
    assert_eq!(
        (
            m["junctions"].as_u64(),
            m["tips"].as_u64(),
            m["num_edges"].as_u64()
        ),
        (Some(1), Some(4), Some(4)),
        "{r}"
    );
    assert_eq!(r["source"], "field");
    let e = call(
        &svc,
        "t",
        "extract_network",
        json!({"name": "x", "field": {"size": 3, "values": [0.0]}}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("field.values"));
    let e = call(
        &svc,
        "t",
        "extract_network",
        json!({"name": "x", "options": {"threshold": "bogus"}}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("options"));
    let e = call(&svc, "t", "extract_network", json!({"name": "bad name!"}))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArgument);
}

#[tokio::test]
async fn typed_and_by_name_calls_agree_and_aliases_resolve() {
    let svc = service();
    let req = crate::request::SimulationRequest {
        sim: crate::request::SimInput {
            grid_size: Some(16),
            steps: Some(8),
            ..Default::default()
        },
        include_field: false,
    };
    let typed = svc
        .run_op::<simulate::Simulate>(&mcp("t"), req)
        .await
        .unwrap();
    let by_alias = call(&svc, "t", "simulate", json!({"grid_size": 16, "steps": 8}))
        .await
        .unwrap();
    assert_eq!(by_alias["field_sha256"], typed.field_sha256);
    assert_eq!(by_alias["growth_events"], typed.summary.growth_events);
    assert_eq!(by_alias["grid_size"], 16);
    assert_eq!(
        by_alias["meta"]["cache"], "hit",
        "the second call is cached"
    );
}

#[tokio::test]
async fn unknown_names_are_refused_with_a_bounded_echo() {
    let svc = service();
    let long = "x".repeat(10_000);
    let e = call(&svc, "t", &long, json!({})).await.unwrap_err();
    assert_eq!(e.field.as_deref(), Some("tool"));
    assert!(e.message.len() < 400, "{}", e.message.len());
    let e = call(&svc, "t", "simulate_field", json!({ long.clone(): 1 }))
        .await
        .unwrap_err();
    assert!(e.field.unwrap().len() <= 3 + crate::error::MAX_ECHO_BYTES);
    assert!(e.message.len() <= crate::error::MAX_MESSAGE_BYTES + 3);
}

#[tokio::test]
async fn render_field_answers_a_png_and_its_description() {
    let svc = service();
    let reply = svc
        .call_op(
            &mcp("t"),
            "render_field",
            json!({"grid_size": 8, "steps": 2}),
        )
        .await
        .unwrap();
    let image = reply.image.as_ref().unwrap();
    assert!(image.data.starts_with(b"\x89PNG"));
    let v = reply.to_value().unwrap();
    assert_eq!(v["png_bytes"], image.data.len());
    assert_eq!(v["grid_size"], 8);
}

#[tokio::test]
async fn fractal_of_an_upload_binarises_by_the_data() {
    let svc = service();
    // A 4×4 CSV field in volts: the left half above −60 mV.
    let csv = "-0.05,-0.05,-0.07,-0.07\n".repeat(4);
    let v = call(
        &svc,
        "t",
        "fractal_dimension_upload",
        json!({"upload": {"format": "csv", "data": csv}, "min_box": 1, "num_scales": 2}),
    )
    .await
    .unwrap();
    assert_eq!(v["box_sizes"], json!([1, 2]));
    assert_eq!(v["counts"], json!([8, 2]), "{v}");
    let e = call(
        &svc,
        "t",
        "fractal_dimension_upload",
        json!({"upload": {"format": "csv", "data": "1,2,3\n4,5,6\n"}}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("upload.data"));
    assert!(e.message.contains("square"), "{}", e.message);
    let e = call(&svc, "t", "fractal_dimension_upload", json!({}))
        .await
        .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("upload"));
}
