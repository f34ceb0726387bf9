//! Issue 17 item 8 against a running server: the per-IP throttle of failed
//! authentications on every door, `/metrics` behind a key (`MFN_METRICS_AUTH`), and keys
//! revoked and added without a restart (the key file's change, and SIGHUP).
//!
//! Waits are polls with a generous deadline, never fixed sleeps that must be long enough.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use mfn_proto::v1 as pb;
use mfn_server::config::AuthMode;
use mfn_server::security::keys::{generate_key, hash_key};
use mfn_test_util::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;

const DEADLINE: Duration = Duration::from_secs(60);

/// A raw HTTP/1.1 exchange; the status and the whole response text.
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = if method == "POST" { "{}" } else { "" };
    if method == "POST" {
        head.push_str("Content-Type: application/json\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut out = String::new();
    tcp.read_to_string(&mut out).await.unwrap();
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, out)
}

/// `GET /v1/graphs` with `key`: 200 when the key is accepted.
async fn with_key(server: &TestServer, key: &str) -> u16 {
    http(server.http, "GET", "/v1/graphs", &[("x-api-key", key)])
        .await
        .0
}

fn key_line(key: &str, name: &str) -> String {
    format!("{} name={name}\n", hex::encode(hash_key(key)))
}

/// After `MFN_AUTH_FAILURE_LIMIT` failures from one address, every door refuses that
/// address with RESOURCE_EXHAUSTED and a retry hint, even with a good key; probes stay
/// open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_auth_failures_block_the_address_on_every_door() {
    let good = generate_key().unwrap();
    let server = TestServer::builder()
        .auth(AuthMode::Key)
        .key(&good, "name=good")
        .config(|c| {
            c.auth.failure_limit = 3;
            c.auth.failure_window = Duration::from_secs(3600);
            c.auth.failure_block = Duration::from_secs(3600);
        })
        .start()
        .await;
    assert_eq!(with_key(&server, &good).await, 200);
    for _ in 0..3 {
        assert_eq!(with_key(&server, "wrong-key").await, 401);
    }
    // REST: 429 with Retry-After, whatever key.
    let (status, text) = http(server.http, "GET", "/v1/graphs", &[("x-api-key", &good)]).await;
    assert_eq!(status, 429, "{text}");
    let lower = text.to_ascii_lowercase();
    assert!(lower.contains("retry-after:"), "{text}");
    assert!(text.contains("MFN_AUTH_FAILURE_LIMIT"), "{text}");
    // MCP: the same refusal as a JSON-RPC error.
    let (status, text) = http(
        server.http,
        "POST",
        "/mcp",
        &[
            ("x-api-key", &good),
            ("accept", "application/json, text/event-stream"),
        ],
    )
    .await;
    assert_eq!(status, 429, "{text}");
    assert!(text.contains("\"jsonrpc\""), "{text}");
    // WebSocket upgrade.
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut ws = format!("ws://{}/ws/simulation_live", server.http)
        .into_client_request()
        .unwrap();
    ws.headers_mut().insert("x-api-key", good.parse().unwrap());
    match tokio_tungstenite::connect_async(ws).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            assert_eq!(r.status().as_u16(), 429)
        }
        other => panic!("upgrade not refused: {:?}", other.map(|_| ())),
    }
    // gRPC.
    let mut req = tonic::Request::new(pb::RunSimulationRequest {
        grid_size: Some(8),
        steps: Some(2),
        ..Default::default()
    });
    req.metadata_mut()
        .insert("x-api-key", good.parse().unwrap());
    let e = server.sim().await.run_simulation(req).await.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    // Probes need no key and are not throttled.
    assert_eq!(http(server.http, "GET", "/health", &[]).await.0, 200);
    server.stop().await;
}

/// `MFN_METRICS_AUTH=true`: `/metrics` needs a key, alone (no signature in signed mode).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_scrape_key_when_configured() {
    let scrape = generate_key().unwrap();
    let server = TestServer::builder()
        .auth(AuthMode::Signed)
        .key(&scrape, "name=prometheus")
        .config(|c| c.auth.metrics_auth = true)
        .start()
        .await;
    let (status, text) = http(server.http, "GET", "/metrics", &[]).await;
    assert_eq!(status, 401, "{text}");
    assert_eq!(
        http(server.http, "GET", "/metrics", &[("x-api-key", "nope")])
            .await
            .0,
        401
    );
    let bearer = format!("Bearer {scrape}");
    let (status, text) = http(
        server.http,
        "GET",
        "/metrics",
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("# TYPE"), "{text}");
    server.stop().await;

    // Off (the dev default): open.
    let open = TestServer::builder()
        .auth(AuthMode::Key)
        .key(&scrape, "name=p")
        .start()
        .await;
    assert_eq!(http(open.http, "GET", "/metrics", &[]).await.0, 200);
    open.stop().await;
}

/// Poll until `old` is refused and `new` accepted, or the deadline passes.
async fn until_rotated(server: &TestServer, old: &str, new: &str, mut nudge: impl FnMut()) {
    let start = Instant::now();
    loop {
        nudge();
        if with_key(server, old).await == 401 && with_key(server, new).await == 200 {
            return;
        }
        assert!(start.elapsed() < DEADLINE, "the keys were not reloaded");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn server_with_key_file(path: &Path, reload: Duration) -> mfn_test_util::TestServerBuilder {
    let path = path.to_owned();
    TestServer::builder().auth(AuthMode::Key).config(move |c| {
        c.auth.api_keys_file = Some(path);
        c.auth.keys_reload_interval = reload;
        // Polling with the revoked key must not block the test's own address.
        c.auth.failure_limit = 1_000_000;
    })
}

/// Editing the key file revokes and adds keys without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_key_file_is_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys");
    let (a, b) = (generate_key().unwrap(), generate_key().unwrap());
    std::fs::write(&path, key_line(&a, "a")).unwrap();
    let server = server_with_key_file(&path, Duration::from_secs(1))
        .start()
        .await;
    assert_eq!(with_key(&server, &a).await, 200);
    assert_eq!(with_key(&server, &b).await, 401);
    // A longer file: the size changes even where mtime is coarse.
    std::fs::write(&path, format!("# rotated\n{}", key_line(&b, "b"))).unwrap();
    until_rotated(&server, &a, &b, || {}).await;
    // A broken file is not loaded: the keys in force stay.
    std::fs::write(&path, "not a key line at all\n").unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(with_key(&server, &b).await, 200);
    server.stop().await;
}

/// SIGHUP reloads the key file at once (here the file is never polled).
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_key_file() {
    // Our own handler first: a SIGHUP must never find the process without one.
    let _hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys");
    let (a, b) = (generate_key().unwrap(), generate_key().unwrap());
    std::fs::write(&path, key_line(&a, "a")).unwrap();
    let server = server_with_key_file(&path, Duration::from_secs(3600))
        .start()
        .await;
    assert_eq!(with_key(&server, &a).await, 200);
    std::fs::write(&path, key_line(&b, "b")).unwrap();
    let pid = std::process::id().to_string();
    until_rotated(&server, &a, &b, || {
        let ok = std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -HUP failed");
    })
    .await;
    server.stop().await;
}
