//! The MCP door at `/mcp` on the HTTP router, driven with `oneshot` requests as a client
//! would send them: both protocol eras, tenancy, and every security rule of GRAPH.md
//! "MCP transport rules" (401 without a key, 403 for a foreign Origin or Host, 413 for
//! an oversized body, 429 over the key's rate, another tenant's graph not found, no key
//! in any log line).

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use mfn_server::config::AuthMode;
use mfn_server::security::keys::hash_key;
use mfn_server::security::rate_limit::Limits;
use mfn_test_util::{TestServer, captured_logs};
use serde_json::{Value, json};
use tower::ServiceExt;

const ALICE: &str = "alice-key-0123456789abcdef0123456789abcdef";
const BOB: &str = "bob-key-0123456789abcdef0123456789abcdef00";
const SLOW: &str = "slow-key-0123456789abcdef0123456789abcdef0";
const MAX_BODY: usize = 64 * 1024;

fn app(origins: &[&str], hosts: &[&str]) -> Router {
    app_with(origins, hosts, |_| {})
}

fn app_with(
    origins: &[&str],
    hosts: &[&str],
    change: impl FnOnce(&mut mfn_server::config::ServerConfig),
) -> Router {
    let list = |items: &[&str]| items.iter().map(|s| s.to_string()).collect();
    TestServer::builder()
        .auth(AuthMode::Key)
        .key(ALICE, "name=alice")
        .key(BOB, "name=bob")
        .key(SLOW, "name=slow rps=3")
        .config(|c| {
            c.service.queue = 16;
            c.rate_limits = Limits {
                rps: 1000,
                concurrent: 50,
                anon_rps: 1000,
                anon_concurrent: 50,
            };
            c.network.max_message_bytes = MAX_BODY;
            c.network.cors_allowed_origins = vec![];
            c.mcp.allowed_origins = list(origins);
            c.mcp.allowed_hosts = list(hosts);
        })
        .config(change)
        .app()
        .0
}

struct Reply {
    status: StatusCode,
    session: Option<String>,
    body: String,
}

impl Reply {
    /// The JSON-RPC message of a JSON or SSE body (the last `data:` line).
    fn message(&self) -> Value {
        let text = self
            .body
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .unwrap_or(self.body.as_str());
        serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON-RPC ({e}): {}", self.body))
    }
}

/// A POST to `/mcp` with `headers` (name, value) and a JSON body.
async fn post(app: &Router, headers: &[(&str, &str)], body: String) -> Reply {
    let mut req = Request::post("/mcp")
        .header("host", "localhost:8080")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let response = app
        .clone()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let session = response
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = tokio::time::timeout(
        Duration::from_secs(30),
        axum::body::to_bytes(response.into_body(), usize::MAX),
    )
    .await
    .expect("response body did not end")
    .unwrap();
    Reply {
        status,
        session,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn rpc(id: u64, method: &str, params: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()
}

/// A legacy-era session (initialize → Mcp-Session-Id → initialized) for `key`.
struct Session<'a> {
    app: &'a Router,
    key: &'static str,
    id: String,
    next: u64,
}

impl<'a> Session<'a> {
    async fn open(app: &'a Router, key: &'static str) -> Session<'a> {
        let init = post(
            app,
            &[("authorization", &format!("Bearer {key}"))],
            rpc(
                0,
                "initialize",
                json!({
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "mcp-test", "version": "0"}
                }),
            ),
        )
        .await;
        assert_eq!(init.status, StatusCode::OK, "{}", init.body);
        let m = init.message();
        assert_eq!(m["result"]["serverInfo"]["name"], "mfn", "{m}");
        assert_eq!(m["result"]["protocolVersion"], "2025-06-18", "{m}");
        assert!(
            m["result"]["instructions"]
                .as_str()
                .unwrap()
                .contains("extract_network")
        );
        let id = init.session.expect("Mcp-Session-Id");
        let done = post(
            app,
            &[("x-api-key", key), ("mcp-session-id", &id)],
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string(),
        )
        .await;
        assert_eq!(done.status, StatusCode::ACCEPTED, "{}", done.body);
        Session {
            app,
            key,
            id,
            next: 1,
        }
    }

    async fn request(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let r = post(
            self.app,
            &[
                ("x-api-key", self.key),
                ("mcp-session-id", &self.id),
                ("mcp-protocol-version", "2025-06-18"),
            ],
            rpc(self.next, method, params),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.message()
    }

    async fn call(&mut self, tool: &str, args: Value) -> Value {
        let m = self
            .request("tools/call", json!({"name": tool, "arguments": args}))
            .await;
        m["result"].clone()
    }
}

/// `GET` `path` on the router with `key`, as JSON.
async fn get_json(app: &Router, path: &str, key: &str) -> Value {
    let req = Request::get(path)
        .header("x-api-key", key)
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    serde_json::from_slice(&body).unwrap()
}

/// The one registry: MCP `tools/list`, `GET /v1/tools` and `/openapi.json` list the same
/// operations in the same order with the same input schemas, and every choice argument
/// shows its allowed values.
#[tokio::test]
async fn every_door_lists_the_one_registry() {
    let app = app(&[], &["localhost"]);
    let mut s = Session::open(&app, ALICE).await;
    let mcp = s.request("tools/list", json!({})).await["result"]["tools"].clone();
    let rest = get_json(&app, "/v1/tools", ALICE).await["tools"].clone();
    let openapi = get_json(&app, "/openapi.json", ALICE).await;
    let (mcp, rest) = (mcp.as_array().unwrap(), rest.as_array().unwrap());
    assert_eq!(mcp.len(), rest.len());
    for (m, r) in mcp.iter().zip(rest) {
        let name = m["name"].as_str().unwrap();
        assert_eq!(name, r["name"]);
        assert_eq!(m["inputSchema"], r["input_schema"], "{name}");
        assert_eq!(m["description"], r["description"], "{name}");
        let op = &openapi["paths"][format!("/v1/tools/{name}")]["post"];
        let reference = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: {op}"));
        let component = reference.rsplit('/').next().unwrap();
        let documented = &openapi["components"]["schemas"][component];
        assert_eq!(
            documented["properties"]
                .as_object()
                .map(|p| p.keys().collect::<Vec<_>>()),
            m["inputSchema"]["properties"]
                .as_object()
                .map(|p| p.keys().collect::<Vec<_>>()),
            "{name}"
        );
    }
    // Choice arguments are enums in the schema, so an agent sees the allowed values.
    let schema_of = |name: &str| {
        mcp.iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed"))["inputSchema"]
            .to_string()
    };
    let openapi_text = openapi["components"]["schemas"].to_string();
    for (tool, value) in [
        ("fractal_dimension_upload", "\"npy\""),
        ("export_graph", "\"graphml\""),
        ("minimum_spanning_tree", "\"prim\""),
        ("community_detection", "\"label_propagation\""),
        ("generate_graph", "\"barabasi_albert\""),
        ("graph_coloring", "\"dsatur\""),
    ] {
        assert!(
            schema_of(tool).contains(value),
            "{tool}: {}",
            schema_of(tool)
        );
        assert!(
            openapi_text.contains(value),
            "{tool}: {value} not in /openapi.json"
        );
    }
}

#[tokio::test]
async fn tools_resources_and_prompts_in_a_legacy_session() {
    let app = app(&[], &["localhost"]);
    let mut s = Session::open(&app, ALICE).await;
    let tools = s.request("tools/list", json!({})).await;
    let tools = tools["result"]["tools"].as_array().unwrap().clone();
    assert_eq!(tools.len(), mfn_service::ops::all().len());
    let get_info = tools.iter().find(|t| t["name"] == "get_info").unwrap();
    assert_eq!(get_info["annotations"]["readOnlyHint"], true);
    assert_eq!(get_info["outputSchema"]["type"], "object");
    let create = tools.iter().find(|t| t["name"] == "create_graph").unwrap();
    assert_eq!(create["annotations"]["readOnlyHint"], false);

    let r = s
        .call(
            "generate_graph",
            json!({"name": "k", "kind": "karate_club"}),
        )
        .await;
    assert_eq!(r["isError"], false, "{r}");
    let r = s.call("get_info", json!({"graph": "k"})).await;
    assert_eq!(r["structuredContent"]["num_nodes"], 34, "{r}");
    let text: Value = serde_json::from_str(r["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(text, r["structuredContent"], "the text is the same JSON");

    // Bad arguments: a tool result with isError that names the field.
    let r = s.call("get_info", json!({"graph": "k", "bogus": 1})).await;
    assert_eq!(r["isError"], true, "{r}");
    assert!(
        r["content"][0]["text"].as_str().unwrap().contains("bogus"),
        "{r}"
    );
    let r = s.call("simulate_field", json!({"grid_size": 100000})).await;
    assert_eq!(r["isError"], true, "{r}");
    assert!(
        r["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("grid_size"),
        "{r}"
    );
    // An unknown tool is a protocol error.
    let m = s
        .request(
            "tools/call",
            json!({"name": "no_such_tool", "arguments": {}}),
        )
        .await;
    assert_eq!(m["error"]["code"], -32602, "{m}");

    let list = s.request("resources/list", json!({})).await;
    assert_eq!(list["result"]["resources"][0]["uri"], "graph://k", "{list}");
    let templates = s.request("resources/templates/list", json!({})).await;
    assert_eq!(
        templates["result"]["resourceTemplates"][0]["uriTemplate"],
        "graph://{name}"
    );
    let read = s
        .request("resources/read", json!({"uri": "graph://k"}))
        .await;
    let doc: Value =
        serde_json::from_str(read["result"]["contents"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(doc["nodes"].as_array().unwrap().len(), 34);

    let prompts = s.request("prompts/list", json!({})).await;
    let names: Vec<&str> = prompts["result"]["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["analyze_graph", "analyze_mycelium", "create_social_network"]
    );
    let p = s
        .request(
            "prompts/get",
            json!({"name": "analyze_graph", "arguments": {"graph": "k"}}),
        )
        .await;
    let text = p["result"]["messages"][0]["content"]["text"]
        .as_str()
        .unwrap();
    assert!(text.contains("betweenness_centrality"), "{p}");
}

#[tokio::test]
async fn the_stateless_era_discovers_and_calls_without_a_session() {
    let app = app(&[], &["localhost"]);
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "mcp-test", "version": "0"},
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let headers = [("x-api-key", ALICE), ("mcp-protocol-version", "2026-07-28")];
    // 2026-07-28 requests name their method (and tool) in headers too (SEP-2243).
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut h = headers.to_vec();
        h.extend_from_slice(extra);
        h
    };
    let d = post(
        &app,
        &with(&[("mcp-method", "server/discover")]),
        rpc(1, "server/discover", json!({"_meta": meta})),
    )
    .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.body);
    assert!(d.session.is_none());
    let m = d.message();
    assert!(
        m["result"]["supportedVersions"]
            .as_array()
            .unwrap()
            .contains(&json!("2026-07-28")),
        "{m}"
    );
    assert_eq!(
        m["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "mfn"
    );
    let r = post(
        &app,
        &with(&[
            ("mcp-method", "tools/call"),
            ("mcp-name", "nernst_potential"),
        ]),
        rpc(
            2,
            "tools/call",
            json!({"name": "nernst_potential", "arguments": {"z_valence": 1,
                "concentration_out_molar": 0.005, "concentration_in_molar": 0.14}, "_meta": meta}),
        ),
    )
    .await;
    let m = r.message();
    assert_eq!(m["result"]["resultType"], "complete", "{m}");
    let mv = m["result"]["structuredContent"]["potential_mV"]
        .as_f64()
        .unwrap();
    assert!((mv + 89.0).abs() < 0.1, "{m}");
}

#[tokio::test]
async fn graphs_belong_to_the_keys_tenant() {
    let app = app(&[], &["localhost"]);
    let mut alice = Session::open(&app, ALICE).await;
    let r = alice.call("create_graph", json!({"name": "secret"})).await;
    assert_eq!(r["isError"], false, "{r}");
    let mut bob = Session::open(&app, BOB).await;
    let r = bob.call("get_info", json!({"graph": "secret"})).await;
    assert_eq!(r["isError"], true, "{r}");
    assert!(
        r["content"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("NOT_FOUND"),
        "{r}"
    );
    let list = bob.request("resources/list", json!({})).await;
    assert_eq!(list["result"]["resources"], json!([]), "{list}");
    let read = bob
        .request("resources/read", json!({"uri": "graph://secret"}))
        .await;
    assert_eq!(read["error"]["code"], -32002, "{read}");
    // A session is no capability: Bob presenting Alice's session id is not found.
    let r = post(
        &app,
        &[
            ("x-api-key", BOB),
            ("mcp-session-id", &alice.id),
            ("mcp-protocol-version", "2025-06-18"),
        ],
        rpc(
            9,
            "tools/call",
            json!({"name": "get_info", "arguments": {"graph": "secret"}}),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
}

fn initialize() -> String {
    rpc(
        0,
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"}}),
    )
}

/// `method` on `/mcp` with `key` and the session `id`; status and body.
async fn with_session(app: &Router, method: &str, key: &str, id: &str) -> (StatusCode, String) {
    let req = Request::builder()
        .method(method)
        .uri("/mcp")
        .header("host", "localhost:8080")
        .header("accept", "text/event-stream")
        .header("x-api-key", key)
        .header("mcp-session-id", id)
        .header("mcp-protocol-version", "2025-06-18")
        .body(Body::empty())
        .unwrap();
    let r = app.clone().oneshot(req).await.unwrap();
    let status = r.status();
    if status == StatusCode::OK {
        // An SSE stream: do not wait for it to end.
        return (status, String::new());
    }
    let body = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Issue 17 item 4: a session belongs to the key that opened it; for any other key it
/// does not exist (POST, GET and DELETE alike), exactly as an unknown id.
#[tokio::test]
async fn another_keys_session_is_not_found() {
    let app = app(&[], &["localhost"]);
    let mut alice = Session::open(&app, ALICE).await;
    let unknown = post(
        &app,
        &[("x-api-key", BOB), ("mcp-session-id", "no-such-session")],
        rpc(1, "tools/list", json!({})),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    let foreign = post(
        &app,
        &[("x-api-key", BOB), ("mcp-session-id", &alice.id)],
        rpc(1, "tools/list", json!({})),
    )
    .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{}", foreign.body);
    let (m, n) = (foreign.message(), unknown.message());
    assert_eq!(m["error"]["code"], n["error"]["code"]);
    assert_eq!(m["error"]["message"], n["error"]["message"]);
    assert_eq!(m["error"]["data"]["error_code"], "NOT_FOUND", "{m}");
    for method in ["GET", "DELETE"] {
        let (status, body) = with_session(&app, method, BOB, &alice.id).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method}: {body}");
    }
    // Bob's DELETE did nothing: Alice's session still answers.
    let tools = alice.request("tools/list", json!({})).await;
    assert!(tools["result"]["tools"].is_array(), "{tools}");
    let (status, _) = with_session(&app, "DELETE", ALICE, &alice.id).await;
    assert!(status.is_success(), "{status}");
    let gone = post(
        &app,
        &[("x-api-key", ALICE), ("mcp-session-id", &alice.id)],
        rpc(1, "tools/list", json!({})),
    )
    .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);
}

/// Issue 17 item 4: sessions are capped per key (429) and in total (503), each refusal
/// a JSON-RPC error naming its setting; closing a session frees its slot.
#[tokio::test]
async fn sessions_are_capped_per_key_and_in_total() {
    let app = app_with(&[], &["localhost"], |c| {
        c.mcp.max_sessions = 3;
        c.mcp.max_sessions_per_key = 2;
    });
    let a1 = Session::open(&app, ALICE).await;
    let _a2 = Session::open(&app, ALICE).await;
    let r = post(&app, &[("x-api-key", ALICE)], initialize()).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(r.session.is_none());
    let m = r.message();
    assert_eq!(m["jsonrpc"], "2.0");
    let text = m["error"]["message"].as_str().unwrap();
    assert!(text.contains("MFN_MCP_MAX_SESSIONS_PER_KEY"), "{m}");
    assert_eq!(
        m["error"]["data"]["error_code"], "RESOURCE_EXHAUSTED",
        "{m}"
    );

    let mut b1 = Session::open(&app, BOB).await;
    let r = post(&app, &[("x-api-key", BOB)], initialize()).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    let m = r.message();
    let text = m["error"]["message"].as_str().unwrap();
    assert!(text.contains("MFN_MCP_MAX_SESSIONS"), "{m}");
    assert!(!text.contains("PER_KEY"), "{m}");

    // Requests inside existing sessions are not refused.
    let tools = b1.request("tools/list", json!({})).await;
    assert!(tools["result"]["tools"].is_array(), "{tools}");

    let (status, _) = with_session(&app, "DELETE", ALICE, &a1.id).await;
    assert!(status.is_success(), "{status}");
    let r = post(&app, &[("x-api-key", BOB)], initialize()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// Issue 17 item 4: an idle session is closed after `MFN_MCP_SESSION_IDLE_S` and its
/// slot is free again.
#[tokio::test]
async fn idle_sessions_expire_and_free_their_slot() {
    let app = app_with(&[], &["localhost"], |c| {
        c.mcp.max_sessions_per_key = 1;
        c.mcp.session_idle = Duration::from_secs(1);
    });
    let s = Session::open(&app, ALICE).await;
    // Polled with a generous deadline: the expiry is a lower bound, not a schedule.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let r = post(&app, &[("x-api-key", ALICE)], initialize()).await;
        if r.status == StatusCode::OK {
            break;
        }
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
        assert!(
            std::time::Instant::now() < deadline,
            "the idle session never expired"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let gone = post(
        &app,
        &[("x-api-key", ALICE), ("mcp-session-id", &s.id)],
        rpc(1, "tools/list", json!({})),
    )
    .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);
}

/// Issue 17 item 7: a body that is not JSON is a JSON-RPC parse error (−32700), a batch
/// or a non-message an invalid request (−32600), as JSON bodies with HTTP 400.
#[tokio::test]
async fn parse_errors_and_batches_are_json_rpc_errors() {
    let app = app(&[], &["localhost"]);
    for (body, code) in [
        ("{not json", -32700),
        ("", -32700),
        (
            r#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]"#,
            -32600,
        ),
        (r#"{"hello":"world"}"#, -32600),
        ("42", -32600),
    ] {
        let r = post(&app, &[("x-api-key", ALICE)], body.to_owned()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
        let m: Value =
            serde_json::from_str(&r.body).unwrap_or_else(|_| panic!("{body}: {}", r.body));
        assert_eq!(m["jsonrpc"], "2.0", "{m}");
        assert_eq!(m["error"]["code"], code, "{body}: {m}");
        assert_eq!(m["error"]["data"]["error_code"], "INVALID_ARGUMENT", "{m}");
    }
}

#[tokio::test]
async fn no_key_is_401_and_a_wrong_key_too() {
    let app = app(&[], &["localhost"]);
    let body = rpc(0, "tools/list", json!({}));
    assert_eq!(
        post(&app, &[], body.clone()).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = post(&app, &[("authorization", "Bearer nope")], body).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn foreign_origins_and_hosts_are_403() {
    let app = app(&[], &["localhost"]);
    let body = rpc(0, "tools/list", json!({}));
    for origin in ["https://evil.example", "null"] {
        let r = post(
            &app,
            &[("x-api-key", ALICE), ("origin", origin)],
            body.clone(),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{origin}: {}", r.body);
    }
    // Refused before authentication: the page learns nothing about keys.
    let r = post(&app, &[("origin", "https://evil.example")], body.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A loopback origin (a local inspector) passes the guard.
    let r = post(
        &app,
        &[("x-api-key", ALICE), ("origin", "http://localhost:6274")],
        rpc(
            0,
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"}}),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let req = Request::post("/mcp")
        .header("host", "attacker.example")
        .header("x-api-key", ALICE)
        .header("content-type", "application/json")
        .body(Body::from(body.clone()))
        .unwrap();
    let r = app.clone().oneshot(req).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let listed = self::app(&["https://agent.example.com"], &["mfn.svc:8080"]);
    let req = Request::post("/mcp")
        .header("host", "mfn.svc:8080")
        .header("origin", "https://agent.example.com")
        .header("x-api-key", ALICE)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(Body::from(rpc(
            0,
            "initialize",
            json!({"protocolVersion": "2025-06-18",
            "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}),
        )))
        .unwrap();
    assert_eq!(
        listed.clone().oneshot(req).await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_oversized_body_is_413() {
    let app = app(&[], &["localhost"]);
    let big = "x".repeat(MAX_BODY + 1);
    let body = rpc(
        1,
        "tools/call",
        json!({"name": "get_info", "arguments": {"graph": big}}),
    );
    let r = post(&app, &[("x-api-key", ALICE)], body).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    // A JSON-RPC error naming the setting, not rmcp's plain text.
    let m = r.message();
    assert_eq!(m["error"]["data"]["error_code"], "PAYLOAD_TOO_LARGE", "{m}");
    assert!(
        m["error"]["message"]
            .as_str()
            .unwrap()
            .contains("MFN_MAX_MESSAGE_SIZE")
    );
}

#[tokio::test]
async fn a_burst_over_the_keys_rate_is_429() {
    let app = app(&[], &["localhost"]);
    let body = rpc(0, "tools/list", json!({}));
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(
            post(&app, &[("x-api-key", SLOW)], body.clone())
                .await
                .status,
        );
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // Another key is not slowed down by it.
    assert_ne!(
        post(&app, &[("x-api-key", ALICE)], body).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn each_call_is_audited_with_the_hash_prefix_and_never_the_key() {
    let logs = captured_logs();
    let app = app(&[], &["localhost"]);
    let mut s = Session::open(&app, ALICE).await;
    let r = s
        .call(
            "generate_graph",
            json!({"name": "audited", "kind": "path", "n": 5}),
        )
        .await;
    assert_eq!(r["isError"], false, "{r}");
    let _ = s.call("get_info", json!({"graph": "missing"})).await;
    let _ = post(
        &app,
        &[("x-api-key", "wrong-key")],
        rpc(0, "tools/list", json!({})),
    )
    .await;
    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let prefix = format!("sha256:{}", &hex::encode(hash_key(ALICE))[..12]);
    let calls: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "mfn::audit" && v["door"] == "mcp")
        .collect();
    let line = |tool: &str| {
        calls
            .iter()
            .find(|v| v["tool"] == tool)
            .unwrap_or_else(|| panic!("no audit line for {tool}: {text}"))
            .clone()
    };
    let ok = line("generate_graph");
    assert_eq!(ok["status"], "ok");
    assert_eq!(ok["api_key_hash"], prefix.as_str());
    assert_eq!(line("get_info")["status"], "NOT_FOUND");
    for key in [ALICE, "wrong-key"] {
        assert!(!text.contains(key), "a key reached the logs");
    }
}
