//! REST on the HTTP router, driven with `oneshot` requests: every route, the error shape
//! and status of each kind of bad input, authentication and rate limits through the
//! shared layers, the OpenAPI document and the PNG.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use mfn_server::config::AuthMode;
use mfn_server::security::rate_limit::Limits;
use mfn_service::MfnService;
use mfn_test_util::TestServer;
use serde_json::{Value, json};
use tower::ServiceExt;

const KEY: &str = "test-key-0123456789abcdef0123456789abcdef";

fn app_with(mode: AuthMode, limits: Limits, max_body: usize) -> (Router, MfnService) {
    TestServer::builder()
        .auth(mode)
        .key(KEY, "name=test")
        .config(|c| {
            c.rate_limits = limits;
            c.network.max_message_bytes = max_body;
        })
        .app()
}

fn app() -> Router {
    let limits = Limits {
        rps: 1000,
        concurrent: 50,
        anon_rps: 100_000,
        anon_concurrent: 1000,
    };
    app_with(AuthMode::Off, limits, 1 << 20).0
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

async fn send(app: &Router, req: Request<Body>) -> Reply {
    let response = app.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

async fn post(app: &Router, path: &str, body: Value) -> Reply {
    let req = Request::post(path)
        .header("content-type", "application/json")
        .header("x-request-id", "req-1")
        .body(Body::from(body.to_string()))
        .unwrap();
    send(app, req).await
}

async fn get(app: &Router, path: &str) -> Reply {
    send(app, Request::get(path).body(Body::empty()).unwrap()).await
}

fn assert_error(r: &Reply, status: StatusCode, code: &str, field: Option<&str>) {
    assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
    let j = r.json();
    assert_eq!(j["error_code"], code, "{j}");
    assert!(!j["message"].as_str().unwrap().is_empty());
    assert!(r.headers.contains_key("x-request-id"));
    assert_eq!(j["request_id"], r.headers["x-request-id"].to_str().unwrap());
    match field {
        Some(f) => assert_eq!(j["details"][0]["field"], f, "{j}"),
        None => assert!(j["details"].as_array().unwrap().is_empty(), "{j}"),
    }
}

#[tokio::test]
async fn every_operation_answers_with_the_grpc_field_names() {
    let app = app();
    let sim = post(
        &app,
        "/v1/simulate",
        json!({"grid_size": 16, "steps": 8, "include_field": true}),
    )
    .await;
    assert_eq!(sim.status, StatusCode::OK);
    assert_eq!(sim.headers["x-request-id"], "req-1");
    let s = sim.json();
    assert_eq!(s["request_id"], "req-1");
    assert_eq!(
        (
            s["grid_size"].as_u64(),
            s["steps"].as_u64(),
            s["seed"].as_u64()
        ),
        (Some(16), Some(8), Some(42))
    );
    assert_eq!(s["field_mV"].as_array().unwrap().len(), 256);
    assert_eq!(s["field_sha256"].as_str().unwrap().len(), 64);
    for k in [
        "pot_min_mV",
        "pot_max_mV",
        "pot_mean_mV",
        "pot_std_mV",
        "fractal_dimension",
        "growth_events",
    ] {
        assert!(s[k].is_number(), "{k} in {s}");
    }
    let min = s["field_mV"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .fold(f64::INFINITY, f64::min);
    assert_eq!(min, s["pot_min_mV"].as_f64().unwrap());

    // The reference's alias gives the same numbers; without include_field no field.
    let alias = post(&app, "/simulate", json!({"grid_size": 16, "steps": 8}))
        .await
        .json();
    assert_eq!(alias["field_sha256"], s["field_sha256"]);
    assert_eq!(alias["pot_mean_mV"], s["pot_mean_mV"]);
    assert!(alias.get("field_mV").is_none());

    let f = post(&app, "/v1/features", json!({"grid_size": 16, "steps": 8})).await;
    assert_eq!(f.status, StatusCode::OK);
    let f = f.json();
    assert_eq!(f["features"].as_object().unwrap().len(), 18);
    assert!(f["features"]["D_box"].is_number());
    assert_eq!(f["pot_mean_mV"], s["pot_mean_mV"]);

    let n = post(
        &app,
        "/v1/nernst",
        json!({"z_valence": 1, "concentration_out_molar": 0.005, "concentration_in_molar": 0.14}),
    )
    .await;
    assert_eq!(n.status, StatusCode::OK);
    let n = n.json();
    use mfn_service::mfn_core::nernst::{FARADAY, GAS_CONSTANT};
    // E = (RT / zF) ln(c_out / c_in) at the default 310 K.
    let expected = 1000.0 * GAS_CONSTANT * 310.0 / FARADAY * (0.005f64 / 0.14).ln();
    assert!(
        (n["potential_mV"].as_f64().unwrap() - expected).abs() < 1e-9,
        "{n}"
    );
    assert_eq!(
        post(
            &app,
            "/nernst",
            json!({"z_valence": 1, "concentration_out_M": 0.005, "concentration_in_M": 0.14})
        )
        .await
        .json()["potential_mV"],
        n["potential_mV"]
    );

    let grads: Vec<Vec<f64>> = (0..6)
        .map(|i| vec![1.0 + f64::from(i) * 0.01, 2.0, 3.0])
        .collect();
    let a = post(
        &app,
        "/v1/federated/aggregate",
        json!({"gradients": grads, "num_clusters": 2}),
    )
    .await;
    assert_eq!(
        a.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&a.body)
    );
    let a = a.json();
    assert_eq!(a["num_input_gradients"], 6);
    assert_eq!(a["aggregated_gradient"].as_array().unwrap().len(), 3);
    assert_eq!(
        post(
            &app,
            "/federated/aggregate",
            json!({"gradients": grads, "num_clusters": 2})
        )
        .await
        .json()["aggregated_gradient"],
        a["aggregated_gradient"]
    );

    let v = post(
        &app,
        "/v1/validate",
        json!({"grid_size": 8, "steps": 8, "epochs": 1, "batch_size": 2}),
    )
    .await;
    assert_eq!(
        v.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&v.body)
    );
    let v = v.json();
    for k in [
        "loss_start",
        "loss_final",
        "loss_drop",
        "lyapunov_exponent",
        "nernst_numeric_mV",
    ] {
        assert!(v[k].is_number(), "{k} in {v}");
    }
    assert_eq!(
        post(
            &app,
            "/validate",
            json!({"grid_size": 8, "steps": 8, "epochs": 1, "batch_size": 2})
        )
        .await
        .json()["loss_final"],
        v["loss_final"]
    );
}

#[tokio::test]
async fn bad_input_gets_the_error_shape_and_status_of_the_shared_table() {
    let app = app();
    let r = post(&app, "/v1/simulate", json!({"grid_size": 100000})).await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "INVALID_ARGUMENT",
        Some("grid_size"),
    );
    assert!(r.json()["message"].as_str().unwrap().contains("512"));
    assert_eq!(r.json()["request_id"], "req-1");

    let r = post(&app, "/v1/simulate", json!({"grid": 16})).await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "INVALID_ARGUMENT",
        Some("grid"),
    );
    let r = post(&app, "/v1/features", json!({"steps": "many"})).await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "INVALID_ARGUMENT",
        Some("steps"),
    );
    let r = post(
        &app,
        "/v1/nernst",
        json!({"z_valence": 7, "concentration_out_M": 1.0, "concentration_in_M": 1.0}),
    )
    .await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "INVALID_ARGUMENT",
        Some("z_valence"),
    );
    let r = post(
        &app,
        "/v1/federated/aggregate",
        json!({"gradients": [[1.0, 2.0], [1.0]]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let raw = |body: &'static str| {
        Request::post("/v1/simulate")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    assert_error(
        &send(&app, raw("{not json")).await,
        StatusCode::BAD_REQUEST,
        "INVALID_ARGUMENT",
        Some("body"),
    );
    assert_error(
        &send(&app, raw("[1, 2]")).await,
        StatusCode::BAD_REQUEST,
        "INVALID_ARGUMENT",
        Some("body"),
    );

    assert_error(
        &get(&app, "/v2/simulate").await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        None,
    );
    let r = get(&app, "/v1/simulate").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.json()["error_code"], "INVALID_ARGUMENT");
}

#[tokio::test]
async fn fractal_and_ifs_answer_and_check_their_limits() {
    let app = app();
    // A full 8×8 mask: every box is occupied, so the dimension is exactly 2.
    let r = post(&app, "/v1/fractal", json!({"values": vec![1.0; 64], "size": 8, "threshold": 0.5, "num_scales": 3, "min_box": 1})).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let j = r.json();
    assert!(
        (j["fractal_dimension"].as_f64().unwrap() - 2.0).abs() < 1e-12,
        "{j}"
    );
    assert_eq!(j["counts"].as_array().unwrap().len(), 3);
    let bad = post(
        &app,
        "/v1/fractal",
        json!({"values": [1.0, 0.0], "size": 8}),
    )
    .await;
    assert_error(
        &bad,
        StatusCode::BAD_REQUEST,
        "INVALID_ARGUMENT",
        Some("values"),
    );

    let a = post(&app, "/v1/ifs", json!({"seed": 3, "points": 500}))
        .await
        .json();
    let b = post(&app, "/v1/ifs", json!({"seed": 3, "points": 500}))
        .await
        .json();
    assert_eq!(a["points_sha256"], b["points_sha256"]);
    assert_eq!(a["num_points"], 500);
    assert!(a["lyapunov"].as_f64().unwrap() < 0.0, "{a}");
    let bad = post(&app, "/v1/ifs", json!({"points": 2_000_000})).await;
    assert_error(
        &bad,
        StatusCode::BAD_REQUEST,
        "INVALID_ARGUMENT",
        Some("points"),
    );
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_with_413() {
    let limits = Limits {
        rps: 1000,
        concurrent: 50,
        anon_rps: 100_000,
        anon_concurrent: 1000,
    };
    let (app, _) = app_with(AuthMode::Off, limits, 1024);
    let big = json!({"gradients": vec![vec![0.5f64; 100]; 10]});
    let r = post(&app, "/v1/federated/aggregate", big.clone()).await;
    assert_error(&r, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", None);
    // Issue 17 item 7: the graph and tool routes answer the same JSON shape.
    for (method, path) in [
        ("POST", "/v1/graphs"),
        ("PUT", "/v1/graphs/g"),
        ("POST", "/v1/graphs/g/nodes"),
        ("POST", "/v1/graphs/g/tools/pagerank"),
        ("POST", "/v1/tools/create_graph"),
        ("POST", "/v1/tools/nernst"),
    ] {
        let r = send_json(&app, method, path, big.clone(), None).await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{method} {path}");
        assert_eq!(
            r.json()["error_code"],
            "PAYLOAD_TOO_LARGE",
            "{method} {path}"
        );
        assert!(
            r.json()["message"]
                .as_str()
                .unwrap()
                .contains("MFN_MAX_MESSAGE_SIZE")
        );
    }
}

#[tokio::test]
async fn field_png_renders_and_checks_its_query() {
    let app = app();
    let r = get(&app, "/v1/simulate/field.png?grid_size=16&steps=4&seed=3").await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.headers["content-type"], "image/png");
    assert_eq!(&r.body[..8], b"\x89PNG\r\n\x1a\n");
    let again = get(&app, "/v1/simulate/field.png?grid_size=16&steps=4&seed=3").await;
    assert_eq!(again.body, r.body);
    assert_eq!(again.headers["x-mfn-cache"], "hit");

    let bad = get(&app, "/v1/simulate/field.png?grid_size=abc").await;
    assert_error(
        &bad,
        StatusCode::BAD_REQUEST,
        "INVALID_ARGUMENT",
        Some("grid_size"),
    );
    let bad = get(&app, "/v1/simulate/field.png?gridsize=16").await;
    assert_error(
        &bad,
        StatusCode::BAD_REQUEST,
        "INVALID_ARGUMENT",
        Some("gridsize"),
    );
}

#[tokio::test]
async fn openapi_lists_every_route_and_docs_page_loads_it() {
    let app = app();
    let r = get(&app, "/openapi.json").await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/v1/simulate",
        "/simulate",
        "/v1/features",
        "/v1/validate",
        "/validate",
        "/v1/nernst",
        "/nernst",
        "/v1/federated/aggregate",
        "/federated/aggregate",
        "/v1/simulate/field.png",
    ] {
        assert!(paths.contains_key(p), "{p}");
        // And the route really exists: an empty body is an answer, never a 404.
        let probe = if p.ends_with(".png") {
            get(&app, &format!("{p}?grid_size=8&steps=1")).await
        } else {
            post(&app, p, json!({"request_id": "x"})).await
        };
        assert_ne!(probe.status, StatusCode::NOT_FOUND, "{p}");
    }
    let docs = get(&app, "/docs").await;
    assert_eq!(docs.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&docs.body).contains("/openapi.json"));
}

#[tokio::test]
async fn api_routes_need_a_key_when_auth_is_on_and_probes_do_not() {
    let limits = Limits {
        rps: 1000,
        concurrent: 50,
        anon_rps: 100_000,
        anon_concurrent: 1000,
    };
    let (app, _) = app_with(AuthMode::Key, limits, 1 << 20);
    let nernst = json!({"z_valence": 1, "concentration_out_M": 0.005, "concentration_in_M": 0.14});
    let r = post(&app, "/v1/nernst", nernst.clone()).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", None);
    let with = |key: &str, header: &str| {
        Request::post("/v1/nernst")
            .header("content-type", "application/json")
            .header(header, key)
            .body(Body::from(nernst.to_string()))
            .unwrap()
    };
    assert_eq!(
        send(&app, with(KEY, "x-api-key")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, with(&format!("Bearer {KEY}"), "authorization"))
            .await
            .status,
        StatusCode::OK
    );
    assert_error(
        &send(&app, with("wrong", "x-api-key")).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
        None,
    );
    for open in [
        "/health",
        "/ready",
        "/startup",
        "/metrics",
        "/openapi.json",
        "/docs",
    ] {
        assert_eq!(get(&app, open).await.status, StatusCode::OK, "{open}");
    }
}

#[tokio::test]
async fn a_burst_over_the_key_rate_gets_429_with_headers() {
    let limits = Limits {
        rps: 3,
        concurrent: 50,
        anon_rps: 100_000,
        anon_concurrent: 1000,
    };
    let (app, _) = app_with(AuthMode::Key, limits, 1 << 20);
    let nernst = json!({"z_valence": 1, "concentration_out_M": 0.005, "concentration_in_M": 0.14});
    let mut refused = None;
    for _ in 0..10 {
        let req = Request::post("/v1/nernst")
            .header("x-api-key", KEY)
            .body(Body::from(nernst.to_string()))
            .unwrap();
        let r = send(&app, req).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(r);
            break;
        }
        assert_eq!(r.status, StatusCode::OK);
    }
    let r = refused.expect("10 requests at once exceed 3 per second");
    assert_error(
        &r,
        StatusCode::TOO_MANY_REQUESTS,
        "RESOURCE_EXHAUSTED",
        None,
    );
    assert!(r.headers.contains_key("retry-after"));
    assert_eq!(r.headers["x-ratelimit-limit"], "3");
    assert_eq!(r.headers["x-ratelimit-remaining"], "0");
}

// ---------------------------------------------------------------- graphs and tools

async fn send_json(
    app: &Router,
    method: &str,
    path: &str,
    body: Value,
    key: Option<&str>,
) -> Reply {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json");
    if let Some(k) = key {
        req = req.header("x-api-key", k);
    }
    send(app, req.body(Body::from(body.to_string())).unwrap()).await
}

fn graph_app(graph_limits: mfn_service::mfn_graph::Limits) -> Router {
    let limits = Limits {
        rps: 1000,
        concurrent: 50,
        anon_rps: 100_000,
        anon_concurrent: 1000,
    };
    TestServer::builder()
        .config(|c| {
            c.service.graphs.limits = graph_limits;
            c.rate_limits = limits;
            c.network.max_message_bytes = 1 << 20;
        })
        .app()
        .0
}

#[tokio::test]
async fn graph_resources_round_trip() {
    let app = graph_app(Default::default());
    let r = send_json(
        &app,
        "POST",
        "/v1/graphs",
        json!({"name": "g", "edges": [[1, 2], [2, 3, 2.5], {"source": 3, "target": "x"}]}),
        None,
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.headers["location"], "/v1/graphs/g");
    let info = get(&app, "/v1/graphs/g").await.json();
    assert_eq!(
        (info["num_nodes"].as_u64(), info["num_edges"].as_u64()),
        (Some(4), Some(3))
    );

    let r = send_json(
        &app,
        "POST",
        "/v1/graphs/g/nodes",
        json!({"nodes": [7, {"id": 8, "attrs": {"kind": "tip"}}]}),
        None,
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.json()["num_nodes"], 6);
    let r = send_json(
        &app,
        "POST",
        "/v1/graphs/g/edges",
        json!({"edges": [[7, 8, 4.0]]}),
        None,
    )
    .await;
    assert_eq!(r.json()["num_edges"], 4);
    let nodes = get(&app, "/v1/graphs/g/nodes?top_k=2").await.json();
    assert_eq!(nodes["truncated"], true, "{nodes}");
    let nb = get(&app, "/v1/graphs/g/nodes/2/neighbors").await.json();
    let nb = nb.to_string();
    assert!(nb.contains('1') && nb.contains('3'), "{nb}");
    let r = send_json(
        &app,
        "DELETE",
        "/v1/graphs/g/edges",
        json!({"edges": [[7, 8]]}),
        None,
    )
    .await;
    assert_eq!(r.json()["num_edges"], 3);

    let csv = get(&app, "/v1/graphs/g/export?format=csv").await;
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    let text = String::from_utf8(csv.body).unwrap();
    assert!(text.contains("2,3,2.5"), "{text}");
    let graphml = get(&app, "/v1/graphs/g/export?format=graphml").await;
    let put = send(
        &app,
        Request::put("/v1/graphs/copy?format=graphml")
            .body(Body::from(graphml.body))
            .unwrap(),
    )
    .await;
    assert_eq!(
        put.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&put.body)
    );
    assert_eq!(get(&app, "/v1/graphs/copy").await.json()["num_edges"], 3);

    // A tool on the graph named in the path.
    let r = send_json(
        &app,
        "POST",
        "/v1/graphs/g/tools/shortest_path",
        json!({"source": 1, "target": "x"}),
        None,
    )
    .await;
    assert_eq!(r.json()["path"], json!([1, 2, 3, "x"]));

    let listed = get(&app, "/v1/graphs").await.json();
    let names: Vec<&str> = listed["graphs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["copy", "g"]);
    assert_eq!(
        send_json(&app, "DELETE", "/v1/graphs/g", json!(null), None)
            .await
            .status,
        StatusCode::OK
    );
    let gone = get(&app, "/v1/graphs/g").await;
    assert_error(&gone, StatusCode::NOT_FOUND, "NOT_FOUND", Some("graph"));
}

#[tokio::test]
async fn every_tool_is_served_and_described() {
    let app = graph_app(Default::default());
    let listed = get(&app, "/v1/tools").await.json();
    let tools = listed["tools"].as_array().unwrap();
    assert!(tools.len() >= 45, "{}", tools.len());
    for t in tools {
        assert_eq!(t["input_schema"]["type"], "object", "{}", t["name"]);
    }
    let r = post(
        &app,
        "/v1/tools/generate_graph",
        json!({"name": "k", "kind": "karate_club"}),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let b = post(
        &app,
        "/v1/tools/betweenness_centrality",
        json!({"graph": "k", "top_k": 3}),
    )
    .await
    .json();
    assert_eq!(b["values"].as_array().unwrap().len(), 3);
    assert_eq!(b["values"][0]["node"], 0);
    assert_eq!(b["truncated"], true);
    assert!(b["next_cursor"].is_string());
    let page2 = post(
        &app,
        "/v1/tools/betweenness_centrality",
        json!({"graph": "k", "top_k": 3, "cursor": b["next_cursor"]}),
    )
    .await
    .json();
    assert_ne!(page2["values"][0]["node"], b["values"][0]["node"]);
    // An MFN operation as a tool answers what its REST route answers.
    let via_tool = post(
        &app,
        "/v1/tools/nernst_potential",
        json!({"z_valence": 1, "concentration_out_molar": 0.005, "concentration_in_molar": 0.14}),
    )
    .await
    .json();
    let via_route = post(
        &app,
        "/v1/nernst",
        json!({"z_valence": 1, "concentration_out_molar": 0.005, "concentration_in_molar": 0.14}),
    )
    .await
    .json();
    assert_eq!(via_tool["potential_mV"], via_route["potential_mV"]);
    let r = post(&app, "/v1/tools/no_such_tool", json!({})).await;
    assert_error(&r, StatusCode::NOT_FOUND, "NOT_FOUND", None);
}

#[tokio::test]
async fn bad_graph_input_is_named_and_nothing_partial_is_stored() {
    let limits = mfn_service::mfn_graph::Limits {
        max_nodes: 100,
        ..Default::default()
    };
    let app = graph_app(limits);
    post(
        &app,
        "/v1/tools/generate_graph",
        json!({"name": "k", "kind": "karate_club"}),
    )
    .await;
    let r = post(
        &app,
        "/v1/tools/shortest_path",
        json!({"graph": "k", "source": 0, "target": 999}),
    )
    .await;
    assert_error(&r, StatusCode::NOT_FOUND, "NOT_FOUND", Some("target"));
    let r = post(&app, "/v1/tools/get_info", json!({"graph": "nope"})).await;
    assert_error(&r, StatusCode::NOT_FOUND, "NOT_FOUND", Some("graph"));
    let r = post(
        &app,
        "/v1/tools/maximum_flow",
        json!({"graph": "k", "source": 0, "sink": 0}),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert!(
        r.json()["message"].as_str().unwrap().contains("sink"),
        "{}",
        r.json()
    );
    post(
        &app,
        "/v1/graphs",
        json!({"name": "neg", "directed": true, "edges": [[1, 2, 1.0], [2, 3, -4.0], [3, 1, 1.0]]}),
    )
    .await;
    let r = post(
        &app,
        "/v1/tools/shortest_path",
        json!({"graph": "neg", "source": 1, "target": 3, "weight": "weight"}),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("negative cycle"),
        "{}",
        r.json()
    );

    let nodes: Vec<u32> = (0..101).collect();
    let r = post(&app, "/v1/graphs", json!({"name": "big", "nodes": nodes})).await;
    assert_eq!(
        r.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("max_nodes = 100"),
        "{}",
        r.json()
    );
    let r = post(
        &app,
        "/v1/tools/add_nodes",
        json!({"graph": "k", "nodes": nodes}),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        get(&app, "/v1/graphs/k").await.json()["num_nodes"],
        34,
        "a refused update changed nothing"
    );

    for (format, doc, needle) in [
        ("csv", "source,target\n1,2\n3\n", "line 3"),
        (
            "graphml",
            "<graphml><graph><node id='a'/><edge source='a'",
            "graphml",
        ),
        (
            "json",
            "{\"nodes\": [{\"id\": 1}], \"links\": [{\"source\": 1}]}",
            "json",
        ),
    ] {
        let r = send(
            &app,
            Request::put(format!("/v1/graphs/bad_{format}?format={format}"))
                .body(Body::from(doc))
                .unwrap(),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{format}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let msg = r.json()["message"].as_str().unwrap().to_owned();
        assert!(msg.contains(needle), "{format}: {msg}");
    }
    let garbage = vec![b'\xff'; 10 << 20];
    let r = send(
        &app,
        Request::put("/v1/graphs/garbage?format=csv")
            .body(Body::from(garbage))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    let garbage: String = "x,".repeat(400_000);
    let r = send(
        &app,
        Request::put("/v1/graphs/garbage?format=graphml")
            .body(Body::from(garbage))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let listed = get(&app, "/v1/graphs").await.json();
    let names: Vec<&str> = listed["graphs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["k", "neg"],
        "only the graphs that were accepted are stored"
    );
}

#[tokio::test]
async fn graphs_belong_to_the_key_and_admin_sees_all_tenants() {
    let limits = Limits {
        rps: 1000,
        concurrent: 50,
        anon_rps: 100,
        anon_concurrent: 10,
    };
    let (app, _) = TestServer::builder()
        .auth(AuthMode::Key)
        .key("alice-key-0123456789abcdef0123456789", "name=alice")
        .key("bob-key-0123456789abcdef0123456789ab", "name=bob")
        .key(
            "root-key-0123456789abcdef0123456789a",
            "name=ops scopes=compute,admin",
        )
        .config(|c| {
            c.rate_limits = limits;
            c.network.max_message_bytes = 1 << 20;
            c.network.cors_allowed_origins = vec![];
        })
        .app();
    let alice = Some("alice-key-0123456789abcdef0123456789");
    let bob = Some("bob-key-0123456789abcdef0123456789ab");
    let root = Some("root-key-0123456789abcdef0123456789a");
    let r = send_json(
        &app,
        "POST",
        "/v1/graphs",
        json!({"name": "mine", "edges": [[1, 2]]}),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = send_json(
        &app,
        "POST",
        "/v1/graphs",
        json!({"name": "mine", "edges": [[1, 2]]}),
        alice,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    for (method, path) in [("GET", "/v1/graphs/mine"), ("DELETE", "/v1/graphs/mine")] {
        let r = send_json(&app, method, path, json!(null), bob).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path}");
    }
    let r = send_json(
        &app,
        "POST",
        "/v1/tools/add_nodes",
        json!({"graph": "mine", "nodes": [9]}),
        bob,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Bob may use the same name for his own graph.
    let r = send_json(&app, "POST", "/v1/graphs", json!({"name": "mine"}), bob).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(
        send_json(&app, "GET", "/v1/graphs/mine", json!(null), alice)
            .await
            .json()["num_nodes"],
        2
    );
    let r = send_json(
        &app,
        "GET",
        "/v1/graphs?all_tenants=true",
        json!(null),
        alice,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let all = send_json(
        &app,
        "GET",
        "/v1/graphs?all_tenants=true",
        json!(null),
        root,
    )
    .await
    .json();
    let pairs: Vec<(String, String)> = all["graphs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["tenant"].as_str().unwrap().to_owned(),
                g["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            ("alice".to_owned(), "mine".to_owned()),
            ("bob".to_owned(), "mine".to_owned())
        ]
    );
}
