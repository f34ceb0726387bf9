//! TLS on the HTTP port (REST, WebSocket, MCP, page, metrics) with the gRPC port's
//! certificates: one reloader for both ports, the same handshake cap and deadline, mTLS,
//! `MFN_HTTP_TLS=false`, and the certificate-expiry gauge. A real server from
//! `mfn_server::serve` on port 0; reqwest, tokio-rustls, tokio-tungstenite and tonic as
//! clients.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use mfn_server::config::{ServerConfig, TlsConfig};
use mfn_test_util::pki::Leaf;
use mfn_test_util::{TestServer, http_get};
use rcgen::ExtendedKeyUsagePurpose;
use rustls::ClientConfig;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::Message;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// Guard for every wait: long enough for a loaded CI machine, short enough to fail.
const GUARD: Duration = Duration::from_secs(20);

/// Every TLS server sets the process-wide expiry gauge and TLS counters: one test at a
/// time, so that the metrics a test reads are its own server's.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const H2: &[u8] = b"h2";
const H1: &[u8] = b"http/1.1";

/// The harness's throwaway CA, with this file's server and client set-ups.
struct Pki(mfn_test_util::pki::Pki);

impl std::ops::Deref for Pki {
    type Target = mfn_test_util::pki::Pki;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Pki {
    fn new() -> Pki {
        Pki(mfn_test_util::pki::Pki::new())
    }

    /// A certificate for "localhost" valid until `(year, month, day)`.
    fn leaf(&self, purpose: ExtendedKeyUsagePurpose, until: (i32, u8, u8)) -> Leaf {
        self.0.leaf_with(purpose, |p| {
            p.not_after = rcgen::date_time_ymd(until.0, until.1, until.2);
        })
    }

    /// A server certificate valid until `until`, written where the server reads it; the
    /// certificate and its notAfter in Unix seconds.
    fn serve_until(&self, until: (i32, u8, u8)) -> (CertificateDer<'static>, i64) {
        let leaf = self.leaf(ExtendedKeyUsagePurpose::ServerAuth, until);
        // Chain order: leaf, then the CA; the gauge must describe the leaf.
        self.write("cert.pem", &format!("{}{}", leaf.cert_pem, self.ca_pem));
        self.write("key.pem", &leaf.key_pem);
        let not_after = rcgen::date_time_ymd(until.0, until.1, until.2).unix_timestamp();
        (leaf.cert, not_after)
    }

    /// TLS with this PKI's files, reloaded every 50 ms; mTLS when `mutual`.
    fn tls(&self, mutual: bool) -> TlsConfig {
        TlsConfig {
            enabled: true,
            cert_path: Some(self.path("cert.pem")),
            key_path: Some(self.path("key.pem")),
            client_ca_path: mutual.then(|| self.path("ca.pem")),
            reload_interval: Duration::from_millis(50),
            http: true,
        }
    }

    /// A TLS 1.3 client trusting the test CA, offering `alpn`, with `identity` for mTLS.
    fn client(&self, alpn: &[&[u8]], identity: Option<&Leaf>) -> ClientConfig {
        self.client_config(&[&rustls::version::TLS13], alpn, identity)
    }

    /// reqwest (HTTP/1.1 over rustls) trusting the test CA; "localhost" is `addr`.
    fn https(&self, addr: SocketAddr, identity: Option<&Leaf>) -> reqwest::Client {
        reqwest::Client::builder()
            .tls_backend_preconfigured(self.client(&[H1], identity))
            .resolve("localhost", addr)
            .timeout(GUARD)
            .build()
            .unwrap()
    }

    /// tonic over TLS (ALPN h2) trusting the test CA.
    async fn channel(&self, addr: SocketAddr) -> Channel {
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca_pem))
            .domain_name("localhost");
        Channel::from_shared(format!("https://127.0.0.1:{}", addr.port()))
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect()
            .await
            .unwrap()
    }
}

/// The harness's server with `pki`'s TLS, then `change`.
async fn tls_server(pki: &Pki, change: impl FnOnce(&mut ServerConfig)) -> TestServer {
    TestServer::builder()
        .config(|c| {
            c.tls = pki.tls(false);
            change(c);
        })
        .start()
        .await
}

/// A TLS connection to `addr` for "localhost".
async fn connect(addr: SocketAddr, config: ClientConfig) -> io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    tokio::time::timeout(
        GUARD,
        TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await
    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "handshake timed out"))?
}

fn served_certificate(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream.get_ref().1.peer_certificates().unwrap()[0]
        .clone()
        .into_owned()
}

fn alpn(stream: &TlsStream<TcpStream>) -> Option<Vec<u8>> {
    stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec)
}

/// Everything the peer sends until it closes (EOF or an error), within the guard.
async fn read_all(stream: &mut (impl AsyncRead + Unpin)) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(GUARD, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the peer did not close");
    out
}

/// `GET path` over HTTP/1.1 on `stream` (kept alive); the status line and headers.
async fn get_keep_alive(stream: &mut (impl AsyncRead + AsyncWrite + Unpin), path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    tokio::time::timeout(GUARD, async {
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(stream.read(&mut byte).await.unwrap(), 1, "closed mid-head");
            head.push(byte[0]);
        }
    })
    .await
    .expect("no response head");
    let head = String::from_utf8(head).unwrap();
    // Drain the body so the connection can carry the next request.
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        })
        .and_then(|n| n.trim().parse::<usize>().ok())
        .expect("a content-length");
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.unwrap();
    head
}

/// The sum of every sample of `name` whose labels contain all of `labels`.
fn metric(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.split([' ', '{']).next() == Some(name))
        .filter(|l| labels.iter().all(|a| l.contains(a)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn metrics(client: &reqwest::Client, addr: SocketAddr) -> String {
    let url = format!("https://localhost:{}/metrics", addr.port());
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// Wait (polling, within the guard) until `cond` holds.
async fn eventually(what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + GUARD;
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn grpc_serving(pki: &Pki, addr: SocketAddr) -> ServingStatus {
    let mut health = HealthClient::new(pki.channel(addr).await);
    let request = HealthCheckRequest {
        service: String::new(),
    };
    health.check(request).await.unwrap().into_inner().status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_page_and_metrics_over_tls_with_the_grpc_certificate_h1_and_h2() {
    let _serial = SERIAL.lock().await;
    let pki = Pki::new();
    let (leaf, _) = pki.serve_until((2035, 1, 1));
    let server = tls_server(&pki, |_| {}).await;

    // A stock HTTPS client trusting the CA.
    let https = pki.https(server.http, None);
    let base = format!("https://localhost:{}", server.http.port());
    let health = https.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.version(), reqwest::Version::HTTP_11);
    let body: Value = serde_json::from_str(&health.text().await.unwrap()).unwrap();
    assert_eq!(body["status"], "ok");
    let nernst = https
        .post(format!("{base}/v1/nernst"))
        .header("content-type", "application/json")
        .body(
            r#"{"z_valence": 1, "concentration_out_molar": 0.005, "concentration_in_molar": 0.14}"#,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(nernst.status(), 200);
    let nernst: Value = serde_json::from_str(&nernst.text().await.unwrap()).unwrap();
    assert!(nernst["potential_mV"].as_f64().unwrap() < 0.0, "{nernst}");
    let page = https.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<html"));
    assert!(
        metrics(&https, server.http)
            .await
            .contains("mfn_http_requests_total")
    );

    // ALPN: h2 when offered (browsers, curl), else HTTP/1.1; the gRPC port's certificate.
    let both = connect(server.http, pki.client(&[H2, H1], None))
        .await
        .unwrap();
    assert_eq!(alpn(&both).as_deref(), Some(H2));
    assert_eq!(served_certificate(&both), leaf);
    let h1 = connect(server.http, pki.client(&[H1], None)).await.unwrap();
    assert_eq!(alpn(&h1).as_deref(), Some(H1));
    let grpc = connect(server.addr, pki.client(&[H2], None)).await.unwrap();
    assert_eq!(served_certificate(&grpc), leaf);

    // A whole HTTP/2 exchange over TLS: tonic's channel is an HTTP/2 client.
    let h2 = pki.channel(server.http).await;
    let request = http::Request::get("/ready")
        .body(tonic::body::Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(h2.clone(), request)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), http::Version::HTTP_2);
    let body = axum::body::to_bytes(axum::body::Body::new(response.into_body()), 1 << 20)
        .await
        .unwrap();
    let ready: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(ready["ready"], true);
    assert_eq!(
        grpc_serving(&pki, server.addr).await,
        ServingStatus::Serving
    );

    // Idle TLS connections (pooled HTTP/1.1, HTTP/2, raw) do not hold up the drain.
    let t0 = Instant::now();
    server.stop().await;
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "drain took {:?}",
        t0.elapsed()
    );
    drop((both, h1, grpc, h2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_the_tls_http_port_gets_no_http_answer() {
    let _serial = SERIAL.lock().await;
    let pki = Pki::new();
    pki.serve_until((2035, 1, 1));
    let server = tls_server(&pki, |_| {}).await;
    let mut tcp = TcpStream::connect(server.http).await.unwrap();
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_all(&mut tcp).await;
    assert!(
        !answer.starts_with(b"HTTP/"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    // The port still serves TLS clients.
    let https = pki.https(server.http, None);
    let url = format!("https://localhost:{}/health", server.http.port());
    assert_eq!(https.get(url).send().await.unwrap().status(), 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_tls_false_keeps_the_http_port_plain_and_grpc_tls() {
    let _serial = SERIAL.lock().await;
    let pki = Pki::new();
    pki.serve_until((2035, 1, 1));
    let server = tls_server(&pki, |c| c.tls.http = false).await;
    let plain = http_get(server.http, "/health").await;
    assert!(plain.starts_with("HTTP/1.1 200"), "{plain}");
    assert!(connect(server.http, pki.client(&[H1], None)).await.is_err());
    assert!(connect(server.addr, pki.client(&[H2], None)).await.is_ok());
    assert_eq!(
        grpc_serving(&pki, server.addr).await,
        ServingStatus::Serving
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_reaches_both_ports_and_the_expiry_gauge() {
    let _serial = SERIAL.lock().await;
    let pki = Pki::new();
    let (old, old_not_after) = pki.serve_until((2031, 5, 17));
    let server = tls_server(&pki, |_| {}).await;
    let https = pki.https(server.http, None);
    let text = metrics(&https, server.http).await;
    let gauge = "mfn_tls_certificate_expiry_timestamp_seconds";
    assert_eq!(metric(&text, gauge, &[]), old_not_after as f64, "{text}");
    let reloads = metric(&text, "mfn_tls_reloads_total", &["result=\"success\""]);

    // A connection opened before the reload keeps working after it.
    let mut before = connect(server.http, pki.client(&[H1], None)).await.unwrap();
    assert_eq!(served_certificate(&before), old);
    assert!(
        get_keep_alive(&mut before, "/health")
            .await
            .starts_with("HTTP/1.1 200")
    );

    let (new, new_not_after) = pki.serve_until((2030, 3, 4));
    eventually("the new certificate on the http port", async || {
        let stream = connect(server.http, pki.client(&[H1], None)).await.unwrap();
        served_certificate(&stream) == new
    })
    .await;
    let grpc = connect(server.addr, pki.client(&[H2], None)).await.unwrap();
    assert_eq!(served_certificate(&grpc), new, "the grpc port reloaded too");
    assert_eq!(
        grpc_serving(&pki, server.addr).await,
        ServingStatus::Serving
    );
    assert!(
        get_keep_alive(&mut before, "/health")
            .await
            .starts_with("HTTP/1.1 200")
    );
    assert_eq!(served_certificate(&before), old);

    let text = metrics(&https, server.http).await;
    assert_eq!(metric(&text, gauge, &[]), new_not_after as f64, "{text}");
    assert!(metric(&text, "mfn_tls_reloads_total", &["result=\"success\""]) > reloads);
    server.stop().await;
}

/// The next JSON message that is not a heartbeat.
async fn next_message(ws: &mut WebSocketStream<TlsStream<TcpStream>>) -> Value {
    loop {
        let message = tokio::time::timeout(GUARD, ws.next())
            .await
            .expect("no message within the guard")
            .expect("connection ended")
            .unwrap();
        if let Message::Text(text) = message {
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["type"] != "heartbeat" {
                return v;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrade_over_tls() {
    let _serial = SERIAL.lock().await;
    let pki = Pki::new();
    pki.serve_until((2035, 1, 1));
    let server = tls_server(&pki, |_| {}).await;
    let tls = connect(server.http, pki.client(&[H1], None)).await.unwrap();
    let url = format!("wss://localhost:{}/ws/simulation_live", server.http.port());
    let (mut ws, response) = tokio::time::timeout(
        GUARD,
        tokio_tungstenite::client_async(url.into_client_request().unwrap(), tls),
    )
    .await
    .expect("upgrade timed out")
    .unwrap();
    assert_eq!(response.status(), 101);
    let init = next_message(&mut ws).await;
    assert_eq!(init["type"], "init", "{init}");
    let subscribe = json!({ "type": "subscribe",
        "payload": { "stream_id": "a", "grid_size": 16, "steps": 10 } });
    ws.send(Message::text(subscribe.to_string())).await.unwrap();
    let ok = next_message(&mut ws).await;
    assert_eq!(ok["type"], "subscribe_success", "{ok}");
    ws.close(None).await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_applies_to_the_http_port() {
    let _serial = SERIAL.lock().await;
    let pki = Pki::new();
    pki.serve_until((2035, 1, 1));
    let server = TestServer::builder()
        .config(|c| c.tls = pki.tls(true))
        .start()
        .await;
    let url = format!("https://localhost:{}/health", server.http.port());
    let anonymous = pki.https(server.http, None).get(&url).send().await;
    assert!(anonymous.is_err(), "{anonymous:?}");
    let stranger = Pki::new().leaf(ExtendedKeyUsagePurpose::ClientAuth, (2035, 1, 1));
    let impostor = pki
        .https(server.http, Some(&stranger))
        .get(&url)
        .send()
        .await;
    assert!(impostor.is_err(), "{impostor:?}");
    let client = pki.leaf(ExtendedKeyUsagePurpose::ClientAuth, (2035, 1, 1));
    let ok = pki.https(server.http, Some(&client)).get(&url).send().await;
    assert_eq!(ok.unwrap().status(), 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshakes_on_the_http_port_are_capped_and_have_a_deadline() {
    let _serial = SERIAL.lock().await;
    let pki = Pki::new();
    pki.serve_until((2035, 1, 1));
    let deadline = Duration::from_millis(400);
    let server = tls_server(&pki, |c| {
        c.connections.max_tls_handshakes = 1;
        c.connections.tls_handshake_timeout = deadline;
    })
    .await;
    let https = pki.https(server.http, None);
    let refused = |text: &str| {
        let labels = ["port=\"http\"", "reason=\"max_tls_handshakes\""];
        metric(text, "mfn_connections_refused_total", &labels)
    };
    let before = refused(&metrics(&https, server.http).await);

    // A client that never sends its ClientHello holds the only slot...
    let t0 = Instant::now();
    let mut silent = TcpStream::connect(server.http).await.unwrap();
    // ...so the next connection is closed at accept...
    let mut second = TcpStream::connect(server.http).await.unwrap();
    assert!(read_all(&mut second).await.is_empty());
    // ...and the silent one is dropped at the deadline, freeing the slot.
    assert!(read_all(&mut silent).await.is_empty());
    let closed = t0.elapsed();
    assert!(closed >= deadline, "closed early: {closed:?}");
    assert!(
        closed < deadline + Duration::from_secs(5),
        "closed late: {closed:?}"
    );
    let after = refused(&metrics(&https, server.http).await);
    assert!(after > before, "refusals {before} -> {after}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_and_body_timeouts_hold_over_tls() {
    let _serial = SERIAL.lock().await;
    let pki = Pki::new();
    pki.serve_until((2035, 1, 1));
    let limit = Duration::from_millis(400);
    let server = tls_server(&pki, |c| {
        c.connections.header_read_timeout = limit;
        c.connections.body_read_timeout = limit;
    })
    .await;

    // Handshake done, no request: closed at the header timeout.
    let t0 = Instant::now();
    let mut idle = connect(server.http, pki.client(&[H1], None)).await.unwrap();
    let answer = read_all(&mut idle).await;
    assert!(t0.elapsed() >= limit, "closed early: {:?}", t0.elapsed());
    assert!(!answer.starts_with(b"HTTP/1.1 2"), "{answer:?}");

    // A body that never arrives whole: 408 at the body timeout.
    let mut slow = connect(server.http, pki.client(&[H1], None)).await.unwrap();
    let head = "POST /v1/nernst HTTP/1.1\r\nHost: localhost\r\n\
                content-type: application/json\r\ncontent-length: 100\r\n\r\n{";
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.flush().await.unwrap();
    let answer = String::from_utf8_lossy(&read_all(&mut slow).await).into_owned();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    server.stop().await;
}
