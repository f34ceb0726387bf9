//! The WebSocket door end to end: a real server from `mfn_server::serve` on port 0 and
//! tokio-tungstenite as the client (a library we did not write).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::{SinkExt, StreamExt};
use mfn_server::config::AuthMode;
use mfn_server::security::auth::sign;
use mfn_server::security::keys::generate_key;
use mfn_server::ws::WsConfig;
use mfn_test_util::{TestServer, http_get};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const SIM: &str = "/ws/simulation_live";
const FEATURES: &str = "/ws/stream_features";
/// Guard for every wait: long enough for a loaded CI machine, short enough to fail.
const GUARD: Duration = Duration::from_secs(30);

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The harness's server in `mode` with `ws` sessions and one key, and a WebSocket
/// client for it.
struct WsServer {
    server: TestServer,
    key: String,
}

impl std::ops::Deref for WsServer {
    type Target = TestServer;
    fn deref(&self) -> &TestServer {
        &self.server
    }
}

impl WsServer {
    async fn start(mode: AuthMode, ws: WsConfig) -> Self {
        let key = generate_key().unwrap();
        let server = TestServer::builder()
            .auth(mode)
            .key(&key, "name=ws")
            .config(|c| c.ws = ws)
            .start()
            .await;
        WsServer { server, key }
    }

    async fn connect(&self, path: &str) -> Ws {
        let url = format!("ws://{}{path}", self.http);
        let (ws, _) = tokio::time::timeout(GUARD, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect timed out")
            .unwrap();
        ws
    }

    fn shutdown(&mut self) {
        self.server.shutdown();
    }

    async fn stop(self) {
        self.server.stop().await;
    }
}

async fn send(ws: &mut Ws, kind: &str, payload: Value) {
    let text = json!({ "type": kind, "payload": payload }).to_string();
    ws.send(Message::text(text)).await.unwrap();
}

/// The next protocol message: JSON text as `(type, payload)`, a binary frame as
/// `("binary", {"len": n})`. Panics on close or after [`GUARD`].
async fn next(ws: &mut Ws) -> (String, Value) {
    loop {
        let m = tokio::time::timeout(GUARD, ws.next())
            .await
            .expect("no message within the guard")
            .expect("connection ended")
            .unwrap();
        match m {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                return (
                    v["type"].as_str().unwrap().to_string(),
                    v["payload"].clone(),
                );
            }
            Message::Binary(b) => {
                return (
                    "binary".into(),
                    json!({ "len": b.len(), "bytes": hex::encode(&b[..32.min(b.len())]) }),
                );
            }
            Message::Close(_) => panic!("connection closed"),
            _ => {}
        }
    }
}

/// Read until a message of `kind` (skipping heartbeats and frames of other kinds).
async fn until(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let (t, p) = next(ws).await;
        if t == kind {
            return p;
        }
    }
}

/// Read messages until the server closes the connection; they and the close frame's code.
async fn until_closed(ws: &mut Ws) -> (Vec<(String, Value)>, Option<u16>) {
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout(GUARD, ws.next())
            .await
            .expect("server did not close")
        {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                seen.push((
                    v["type"].as_str().unwrap().to_string(),
                    v["payload"].clone(),
                ));
            }
            Some(Ok(Message::Close(frame))) => return (seen, frame.map(|f| u16::from(f.code))),
            Some(Ok(_)) => {}
            None | Some(Err(_)) => return (seen, None),
        }
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The sum of every sample of `name` whose labels contain all of `labels`.
fn metric(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter(|l| labels.iter().all(|a| l.contains(a)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Wait (polling, with the guard) until `cond` holds.
async fn eventually(what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + GUARD;
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_flow_in_key_mode() {
    let server = WsServer::start(AuthMode::Key, WsConfig::default()).await;
    let mut ws = server.connect(SIM).await;
    let (t, init) = next(&mut ws).await;
    assert_eq!(t, "init");
    assert_eq!(init["auth_required"], true);
    assert_eq!(init["auth_mode"], "key");
    assert_eq!(init["max_streams"], 8);

    // Not yet authenticated: subscriptions are refused.
    send(
        &mut ws,
        "subscribe",
        json!({ "stream_id": "a", "grid_size": 16, "steps": 10 }),
    )
    .await;
    let failed = until(&mut ws, "subscribe_failed").await;
    assert_eq!(failed["error_code"], "UNAUTHENTICATED");
    assert_eq!(failed["stream_id"], "a");

    send(&mut ws, "auth", json!({ "api_key": server.key })).await;
    let ok = until(&mut ws, "auth_success").await;
    assert_eq!(ok["authenticated"], true);
    assert!(ok["api_key_hash"].as_str().unwrap().starts_with("sha256:"));

    send(
        &mut ws,
        "subscribe",
        json!({ "stream_id": "a", "grid_size": 32, "steps": 25, "steps_per_frame": 10,
                "seed": 7, "field_format": "json" }),
    )
    .await;
    let ok = until(&mut ws, "subscribe_success").await;
    assert_eq!(ok["stream_id"], "a");
    assert_eq!(
        (ok["total_steps"].as_u64(), ok["steps_per_frame"].as_u64()),
        (Some(25), Some(10))
    );
    let mut steps = Vec::new();
    let complete = loop {
        let (t, p) = next(&mut ws).await;
        match t.as_str() {
            "simulation_state" => {
                assert_eq!(p["stream_id"], "a");
                assert_eq!(p["field"]["rows"], 32);
                assert_eq!(p["field"]["values_mV"].as_array().unwrap().len(), 32 * 32);
                assert_eq!(p["is_final"], false);
                steps.push(p["step"].as_u64().unwrap());
            }
            "simulation_complete" => break p,
            "heartbeat" => {}
            other => panic!("unexpected {other}: {p}"),
        }
    };
    assert_eq!(complete["step"], 25);
    assert_eq!(complete["is_final"], true);
    // One meta shape on every door: the request id beside it, as in REST and gRPC.
    assert!(complete["request_id"].is_string());
    assert!(complete["meta"]["server_version"].is_string());
    assert!(complete["meta"].get("request_id").is_none());
    assert!(complete["pot_mean_mV"].as_f64().unwrap() < -60.0);
    // Frames may be dropped only for a slow reader; this one reads everything.
    let dropped = complete["dropped"].as_u64().unwrap();
    assert_eq!(steps.len() as u64 + dropped, 2, "steps {steps:?}");

    // The same numbers as the unary call for the same request (the prefix property).
    let (unary, _) = server
        .svc
        .simulate(
            &mfn_service::ops::Call::new(
                mfn_service::ops::Door::Ws,
                mfn_service::RequestContext::new(None),
            ),
            &serde_json::from_value(json!({ "grid_size": 32, "steps": 25, "seed": 7 })).unwrap(),
        )
        .await
        .unwrap();
    // Within one ulp: serde_json parses floats without `float_roundtrip`.
    let mean = complete["pot_mean_mV"].as_f64().unwrap();
    assert!((mean - unary.result.pot_mean_mv).abs() <= mean.abs() * 1e-15);
    assert_eq!(
        complete["growth_events"].as_u64().unwrap(),
        unary.result.growth_events
    );

    // Heartbeat → pong; close → close message and a normal close frame.
    send(&mut ws, "heartbeat", json!({ "n": 1 })).await;
    let pong = until(&mut ws, "pong").await;
    assert_eq!(pong["echo"]["n"], 1);
    send(&mut ws, "close", json!({})).await;
    let (seen, code) = until_closed(&mut ws).await;
    assert!(seen.iter().any(|(t, _)| t == "close"), "{seen:?}");
    assert_eq!(code, Some(1000));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feature_stream_ends_with_the_unary_features() {
    let server = WsServer::start(AuthMode::Off, WsConfig::default()).await;
    let mut ws = server.connect(FEATURES).await;
    let init = until(&mut ws, "init").await;
    assert_eq!(init["auth_required"], false);
    assert_eq!(init["frame_type"], "feature_update");
    send(&mut ws, "auth", json!({})).await;
    assert_eq!(until(&mut ws, "auth_success").await["authenticated"], false);
    send(
        &mut ws,
        "subscribe",
        json!({ "stream_id": "f", "grid_size": 16, "steps": 30, "steps_per_frame": 10 }),
    )
    .await;
    until(&mut ws, "subscribe_success").await;
    let mut updates = 0;
    let complete = loop {
        let (t, p) = next(&mut ws).await;
        match t.as_str() {
            "feature_update" => {
                assert!(p["features"]["D_box"].is_number());
                updates += 1;
            }
            "simulation_complete" => break p,
            _ => {}
        }
    };
    assert!(updates + complete["dropped"].as_u64().unwrap() == 2);
    let (unary, _) = server
        .svc
        .extract_features(
            &mfn_service::RequestContext::new(None),
            &serde_json::from_value(json!({ "grid_size": 16, "steps": 30 })).unwrap(),
        )
        .await
        .unwrap();
    // serde_json parses floats to within one ulp (no `float_roundtrip`), so compare so.
    let expected = serde_json::to_value(unary.features).unwrap();
    let expected = expected.as_object().unwrap();
    assert_eq!(complete["features"].as_object().unwrap().len(), 18);
    for (name, want) in expected {
        let (got, want) = (
            complete["features"][name].as_f64().unwrap(),
            want.as_f64().unwrap(),
        );
        assert!(
            (got - want).abs() <= want.abs() * 1e-15,
            "{name}: {got} vs {want}"
        );
    }
    // The field is only on the simulation endpoint.
    send(
        &mut ws,
        "subscribe",
        json!({ "stream_id": "g", "field_format": "binary" }),
    )
    .await;
    assert_eq!(
        until(&mut ws, "subscribe_failed").await["field"],
        "field_format"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_failures_in_key_and_signed_modes() {
    // Key mode: no key, a wrong key.
    let server = WsServer::start(AuthMode::Key, WsConfig::default()).await;
    let mut ws = server.connect(SIM).await;
    until(&mut ws, "init").await;
    send(&mut ws, "auth", json!({})).await;
    let f = until(&mut ws, "auth_failed").await;
    assert_eq!(
        (f["error_code"].as_str(), f["reason"].as_str()),
        (Some("UNAUTHENTICATED"), Some("missing_key"))
    );
    send(&mut ws, "auth", json!({ "api_key": "not-a-key" })).await;
    assert_eq!(until(&mut ws, "auth_failed").await["reason"], "unknown_key");
    // A non-browser client may put the key on the upgrade; a wrong one is refused (401).
    let mut req = format!("ws://{}{SIM}", server.http)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("x-api-key", "nope".parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 401),
        other => panic!("upgrade with a wrong key: {:?}", other.map(|_| ())),
    }
    let mut req = format!("ws://{}{SIM}", server.http)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("x-api-key", server.key.parse().unwrap());
    let (mut keyed, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(until(&mut keyed, "init").await["authenticated"], true);
    // Too many failures close the connection.
    for _ in 0..3 {
        send(&mut ws, "auth", json!({ "api_key": "wrong" })).await;
    }
    let (seen, code) = until_closed(&mut ws).await;
    assert_eq!(code, Some(1008), "{seen:?}");
    server.stop().await;

    // Signed mode: the key alone, a bad signature, a signature for another path, a
    // replay; then a good one.
    let server = WsServer::start(AuthMode::Signed, WsConfig::default()).await;
    let mut ws = server.connect(SIM).await;
    until(&mut ws, "init").await;
    let key = server.key.clone();
    let ts = now().to_string();
    send(&mut ws, "auth", json!({ "api_key": key })).await;
    assert_eq!(
        until(&mut ws, "auth_failed").await["reason"],
        "bad_signature"
    );
    send(
        &mut ws,
        "auth",
        json!({ "api_key": key, "timestamp": ts, "request_id": "r1", "signature": "00".repeat(32) }),
    )
    .await;
    assert_eq!(
        until(&mut ws, "auth_failed").await["reason"],
        "bad_signature"
    );
    let other_path = sign(&key, &ts, "r2", FEATURES);
    send(
        &mut ws,
        "auth",
        json!({ "api_key": key, "timestamp": ts, "request_id": "r2", "signature": other_path }),
    )
    .await;
    assert_eq!(
        until(&mut ws, "auth_failed").await["reason"],
        "bad_signature"
    );
    let old = (now() - 3600).to_string();
    send(
        &mut ws,
        "auth",
        json!({ "api_key": key, "timestamp": old, "request_id": "r3", "signature": sign(&key, &old, "r3", SIM) }),
    )
    .await;
    assert_eq!(until(&mut ws, "auth_failed").await["reason"], "expired");
    // The timestamp may be a JSON number (signed as its decimal text).
    let n = now();
    let good = sign(&key, &n.to_string(), "r4", SIM);
    send(
        &mut ws,
        "auth",
        json!({ "api_key": key, "timestamp": n, "request_id": "r4", "signature": good }),
    )
    .await;
    let (t, p) = next(&mut ws).await;
    assert_eq!(t, "auth_success", "{p}");
    // The same id again on a new connection is a replay.
    let mut again = server.connect(SIM).await;
    until(&mut again, "init").await;
    let ts = now().to_string();
    let sig = sign(&key, &ts, "r6", SIM);
    let creds = json!({ "api_key": key, "timestamp": ts, "request_id": "r6", "signature": sig });
    send(&mut again, "auth", creds.clone()).await;
    until(&mut again, "auth_success").await;
    send(&mut again, "auth", creds).await;
    assert_eq!(until(&mut again, "auth_failed").await["reason"], "replay");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_subscriptions_on_one_connection_and_the_stream_cap() {
    let ws_config = WsConfig {
        max_streams: 2,
        ..WsConfig::default()
    };
    let server = WsServer::start(AuthMode::Off, ws_config).await;
    let mut ws = server.connect(SIM).await;
    until(&mut ws, "init").await;
    for (id, seed) in [("x", 1), ("y", 2)] {
        send(
            &mut ws,
            "subscribe",
            json!({ "stream_id": id, "seed": seed, "grid_size": 16, "steps": 40,
                    "steps_per_frame": 4, "frame_interval_ms": 20, "field_format": "binary" }),
        )
        .await;
        assert_eq!(until(&mut ws, "subscribe_success").await["stream_id"], id);
    }
    // A third is over the cap, and the error names it.
    send(&mut ws, "subscribe", json!({ "stream_id": "z" })).await;
    let f = until(&mut ws, "subscribe_failed").await;
    assert_eq!(f["error_code"], "RESOURCE_EXHAUSTED");
    assert!(
        f["message"].as_str().unwrap().contains("at most 2 streams"),
        "{f}"
    );
    // A duplicate id is refused.
    send(&mut ws, "subscribe", json!({ "stream_id": "x" })).await;
    assert_eq!(
        until(&mut ws, "subscribe_failed").await["field"],
        "stream_id"
    );

    let mut complete = std::collections::HashMap::new();
    let mut last_step = std::collections::HashMap::new();
    // Each state message is followed at once by its binary field.
    while complete.len() < 2 {
        let (t, p) = next(&mut ws).await;
        if t != "simulation_state" && t != "simulation_complete" {
            continue;
        }
        let id = p["stream_id"].as_str().unwrap().to_string();
        let step = p["step"].as_u64().unwrap();
        let prev = last_step.insert(id.clone(), step).unwrap_or(0);
        assert!(step > prev, "steps of {id} go forward");
        assert_eq!(p["field_binary"], true);
        let (b, bin) = next(&mut ws).await;
        assert_eq!(b, "binary", "after {t} {p}");
        assert!(
            bin["bytes"]
                .as_str()
                .unwrap()
                .starts_with(&hex::encode("MFNF"))
        );
        // 16×16 f32 after a 28-byte header ("x" padded to 4).
        assert_eq!(bin["len"], 28 + 16 * 16 * 4);
        if t == "simulation_complete" {
            assert_eq!(p["step"], 40);
            complete.insert(id, p);
        }
    }
    assert_ne!(complete["x"]["pot_mean_mV"], complete["y"]["pot_mean_mV"]);
    eventually("streams to end", async || {
        server.svc.stream_stats().active() == 0
    })
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_subscribe_payloads_name_the_field() {
    let server = WsServer::start(AuthMode::Off, WsConfig::default()).await;
    let mut ws = server.connect(SIM).await;
    until(&mut ws, "init").await;
    let cases = [
        (json!({ "stream_id": "a", "grid_size": 3 }), "grid_size"),
        (json!({ "stream_id": "a", "alpha": 0.3 }), "alpha"),
        (json!({ "stream_id": "a", "steps": "many" }), "steps"),
        (
            json!({ "stream_id": "a", "steps": 10, "steps_per_frame": 11 }),
            "steps_per_frame",
        ),
        (
            json!({ "stream_id": "a", "field_format": "png" }),
            "field_format",
        ),
        (json!({ "grid_size": 16 }), "stream_id"),
        (json!({ "stream_id": 5 }), "stream_id"),
    ];
    for (payload, field) in cases {
        send(&mut ws, "subscribe", payload.clone()).await;
        let f = until(&mut ws, "subscribe_failed").await;
        assert_eq!(f["error_code"], "INVALID_ARGUMENT", "{payload}");
        assert_eq!(f["field"], field, "{payload}: {f}");
        assert!(f["message"].as_str().unwrap().contains(field), "{f}");
    }
    // Garbage and unknown types are answered with `error`, and the session goes on.
    ws.send(Message::text("{not json")).await.unwrap();
    assert_eq!(
        until(&mut ws, "error").await["error_code"],
        "INVALID_ARGUMENT"
    );
    send(&mut ws, "dance", json!({})).await;
    assert!(
        until(&mut ws, "error").await["message"]
            .as_str()
            .unwrap()
            .contains("dance")
    );
    send(&mut ws, "unsubscribe", json!({ "stream_id": "nothing" })).await;
    assert_eq!(until(&mut ws, "error").await["error_code"], "NOT_FOUND");
    // A message over the size limit ends the connection, not the server.
    ws.send(Message::text("x".repeat(200 * 1024))).await.ok();
    let _ = until_closed(&mut ws).await;
    assert!(http_get(server.http, "/health").await.contains("200 OK"));
    assert_eq!(
        server.svc.stream_stats().started(),
        0,
        "nothing was computed"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_and_unsubscribe_stop_the_computation() {
    let server = WsServer::start(AuthMode::Off, WsConfig::default()).await;
    let long = json!({ "grid_size": 64, "steps": 10000, "steps_per_frame": 1 });
    let sub = |id: &str| {
        let mut p = long.clone();
        p["stream_id"] = json!(id);
        p
    };

    // Unsubscribe: acknowledged, and the run stops.
    let mut ws = server.connect(SIM).await;
    until(&mut ws, "init").await;
    send(&mut ws, "subscribe", sub("u")).await;
    until(&mut ws, "simulation_state").await;
    send(&mut ws, "unsubscribe", json!({ "stream_id": "u" })).await;
    let ack = until(&mut ws, "unsubscribe").await;
    assert_eq!(ack["status"], "stopped");
    eventually("the unsubscribed run to stop", async || {
        server.svc.stream_stats().active() == 0
    })
    .await;
    assert_eq!(server.svc.stream_stats().cancelled(), 1);

    // Disconnect with two running streams: both stop.
    send(&mut ws, "subscribe", sub("a")).await;
    send(&mut ws, "subscribe", sub("b")).await;
    until(&mut ws, "subscribe_success").await;
    until(&mut ws, "subscribe_success").await;
    assert_eq!(server.svc.stream_stats().active(), 2);
    drop(ws);
    // A chunk already running when its stream stopped finishes its step (the token is
    // checked between steps), possibly after the stream is gone: wait for the gate to
    // be idle, then nothing more may be computed.
    let gate = server.svc.gate().stats().clone();
    eventually("both runs to stop", async || {
        server.svc.stream_stats().active() == 0 && gate.running() + gate.queued() == 0
    })
    .await;
    assert_eq!(server.svc.stream_stats().cancelled(), 3);
    let done = gate.completed();
    let frames = server.svc.stream_stats().frames();
    assert!(
        frames < 10_000,
        "{frames} frames were computed for runs of 10 000 steps"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(gate.completed(), done, "work continued");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_loses_state_frames_but_never_control_messages() {
    let server = WsServer::start(
        AuthMode::Off,
        WsConfig {
            queue_capacity: 4,
            ..WsConfig::default()
        },
    )
    .await;
    let before = http_get(server.http, "/metrics").await;
    let dropped_before = metric(
        &before,
        "mfn_ws_messages_dropped_total",
        &["simulation_live"],
    );
    let mut ws = server.connect(SIM).await;
    until(&mut ws, "init").await;
    // 128×128 binary fields, one per step: 64 KiB a frame, far more than the socket
    // buffers hold while the client does not read.
    send(
        &mut ws,
        "subscribe",
        json!({ "stream_id": "s", "grid_size": 128, "steps": 3000, "steps_per_frame": 1,
                "field_format": "binary" }),
    )
    .await;
    // Stop reading; the server keeps computing and drops state frames.
    eventually("dropped frames", async || {
        let m = http_get(server.http, "/metrics").await;
        metric(&m, "mfn_ws_messages_dropped_total", &["simulation_live"]) > dropped_before + 10.0
    })
    .await;
    // A control request while frames are being dropped is still answered.
    send(&mut ws, "heartbeat", json!({ "n": 7 })).await;
    let mut max_dropped = 0;
    let mut pong = None;
    let complete = loop {
        let (t, p) = next(&mut ws).await;
        match t.as_str() {
            "simulation_state" => max_dropped = max_dropped.max(p["dropped"].as_u64().unwrap()),
            "pong" => pong = Some(p),
            "simulation_complete" => break p,
            _ => {}
        }
    };
    assert_eq!(pong.expect("pong arrived")["echo"]["n"], 7);
    assert_eq!(complete["step"], 3000);
    let total = complete["dropped"].as_u64().unwrap();
    assert!(
        total >= 10 && total >= max_dropped,
        "total {total}, seen {max_dropped}"
    );
    let after = http_get(server.http, "/metrics").await;
    assert!(
        metric(
            &after,
            "mfn_ws_messages_dropped_total",
            &["simulation_live"]
        ) >= dropped_before + total as f64
    );
    // Counted once the write has finished, which can be after this client read it.
    eventually("simulation_complete counted as sent", async || {
        let m = http_get(server.http, "/metrics").await;
        metric(
            &m,
            "mfn_ws_messages_sent_total",
            &["simulation_live", "type=\"simulation_complete\""],
        ) >= 1.0
    })
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_is_disconnected_and_heartbeats_keep_coming() {
    let server = WsServer::start(
        AuthMode::Off,
        WsConfig {
            heartbeat_interval: Duration::from_millis(100),
            idle_timeout: Duration::from_millis(700),
            ..WsConfig::default()
        },
    )
    .await;
    let mut ws = server.connect(SIM).await;
    let t0 = Instant::now();
    let (seen, code) = until_closed(&mut ws).await;
    let elapsed = t0.elapsed();
    assert_eq!(code, Some(1008));
    let heartbeats = seen.iter().filter(|(t, _)| t == "heartbeat").count();
    assert!(heartbeats >= 3, "{seen:?}");
    let (t, p) = seen.last().unwrap();
    assert_eq!(t, "close");
    assert!(p["reason"].as_str().unwrap().contains("idle"), "{p}");
    assert!(elapsed >= Duration::from_millis(650), "{elapsed:?}");

    // A client that answers heartbeats stays.
    let mut ws = server.connect(SIM).await;
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(1500) {
        let (t, _) = next(&mut ws).await;
        if t == "heartbeat" {
            send(&mut ws, "pong", json!({})).await;
        }
    }
    send(&mut ws, "heartbeat", json!({})).await;
    until(&mut ws, "pong").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_ends_streams_with_unavailable_then_closes() {
    let mut server = WsServer::start(AuthMode::Off, WsConfig::default()).await;
    let mut ws = server.connect(SIM).await;
    until(&mut ws, "init").await;
    send(
        &mut ws,
        "subscribe",
        json!({ "stream_id": "d", "grid_size": 32, "steps": 10000, "steps_per_frame": 1,
                "frame_interval_ms": 5 }),
    )
    .await;
    until(&mut ws, "simulation_state").await;
    server.shutdown();
    let (seen, code) = until_closed(&mut ws).await;
    let error = seen
        .iter()
        .find(|(t, _)| t == "error")
        .unwrap_or_else(|| panic!("no error frame in {seen:?}"));
    assert_eq!(error.1["error_code"], "UNAVAILABLE");
    assert_eq!(error.1["stream_id"], "d");
    assert_eq!(seen.last().unwrap().0, "close");
    assert_eq!(code, Some(1001));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_assets_are_served() {
    let server = WsServer::start(AuthMode::Off, WsConfig::default()).await;
    let page = http_get(server.http, "/").await;
    assert!(page.contains("200 OK") && page.contains("<canvas id=\"heatmap\""));
    assert!(!page.contains("{{"), "placeholders are filled");
    for (path, ty) in [
        ("/assets/app.js", "text/javascript"),
        ("/assets/app.css", "text/css"),
        ("/favicon.svg", "image/svg+xml"),
    ] {
        let r = http_get(server.http, path).await;
        assert!(r.contains("200 OK") && r.contains(ty), "{path}");
    }
    server.stop().await;
}

/// Issue 17 item 7: a message over `MFN_WS_MAX_MESSAGE_KB` gets an `error` naming the
/// setting, then close code 1009 (message too big), not 1000.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_is_an_error_then_close_1009() {
    let server = WsServer::start(
        AuthMode::Off,
        WsConfig {
            max_message_bytes: 1024,
            ..WsConfig::default()
        },
    )
    .await;
    let mut ws = server.connect(SIM).await;
    until(&mut ws, "init").await;
    let big = json!({"type": "heartbeat", "payload": {"echo": "x".repeat(4096)}});
    ws.send(Message::text(big.to_string())).await.unwrap();
    let (seen, code) = until_closed(&mut ws).await;
    assert_eq!(code, Some(1009), "{seen:?}");
    let (_, error) = seen
        .iter()
        .find(|(t, _)| t == "error")
        .unwrap_or_else(|| panic!("no error message: {seen:?}"));
    assert_eq!(error["error_code"], "PAYLOAD_TOO_LARGE", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("MFN_WS_MAX_MESSAGE_KB"),
        "{error}"
    );
    server.stop().await;
}
