//! Connection caps and timeouts against a running server (issue 17, item 5): idle
//! connections beyond the caps are closed at accept while others are served, slowloris
//! heads and lying bodies are cut off after their timeouts, idle connections close, and
//! a shutdown does not wait for half-open connections.
//!
//! Every wait is bounded far above the configured timeout (they are 1 s here): the tests
//! assert that something happens, never how fast on a loaded machine.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use mfn_server::ServerConfig;
use mfn_test_util::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// Bound of every wait for the server to act on a 1 s timeout.
const BOUND: Duration = Duration::from_secs(15);

/// A loopback address other than the one the capped connections come from.
const OTHER_CLIENT: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// A TCP connection to `addr` from `from` (any port).
async fn connect_from(from: Ipv4Addr, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Everything the server sends until it closes the connection (an error counts as
/// closed); panics when it is still open after [`BOUND`].
async fn until_closed(tcp: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(BOUND, async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the server did not close the connection");
    String::from_utf8_lossy(&out).into_owned()
}

/// `GET path` with `Connection: close` on `tcp`; the whole response.
async fn get_on(tcp: &mut TcpStream, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    until_closed(tcp).await
}

/// The sum of `name{labels…}` over the series whose labels contain every `label`.
async fn metric(server: &TestServer, name: &str, labels: &[&str]) -> f64 {
    let mut tcp = connect_from(OTHER_CLIENT, server.http).await;
    let text = get_on(&mut tcp, "/metrics").await;
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A server with 1 s header, body and idle timeouts unless `change` says otherwise.
async fn start(change: impl FnOnce(&mut ServerConfig)) -> TestServer {
    TestServer::builder()
        .config(|c| {
            c.connections.header_read_timeout = Duration::from_secs(1);
            c.connections.body_read_timeout = Duration::from_secs(1);
            c.connections.idle_timeout = Duration::from_secs(1);
            change(c);
        })
        .start()
        .await
}

#[tokio::test]
async fn idle_connections_beyond_the_per_ip_cap_are_refused_while_others_are_served() {
    const CAP: usize = 4;
    let server = start(|c| {
        c.connections.max_connections_per_ip = CAP;
        // Long enough that the held connections outlive the test.
        c.connections.header_read_timeout = Duration::from_secs(60);
        c.connections.idle_timeout = Duration::from_secs(60);
    })
    .await;
    let refused_before = metric(
        &server,
        "mfn_connections_refused_total",
        &[r#"port="http""#, r#"reason="max_connections_per_ip""#],
    )
    .await;

    // Accepted in order: the first CAP are held, the rest closed at accept.
    let mut held = Vec::new();
    for _ in 0..CAP {
        held.push(connect_from(Ipv4Addr::LOCALHOST, server.http).await);
    }
    for _ in 0..3 {
        let mut extra = connect_from(Ipv4Addr::LOCALHOST, server.http).await;
        let sent = until_closed(&mut extra).await;
        assert!(sent.is_empty(), "a refused connection got {sent:?}");
    }

    // Another client is served meanwhile, and so is a held connection.
    let mut other = connect_from(OTHER_CLIENT, server.http).await;
    let response = get_on(&mut other, "/health").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let response = get_on(&mut held[0], "/health").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    let refused = metric(
        &server,
        "mfn_connections_refused_total",
        &[r#"port="http""#, r#"reason="max_connections_per_ip""#],
    )
    .await;
    assert!(
        refused >= refused_before + 3.0,
        "{refused_before} → {refused}"
    );

    // A freed place is taken again.
    drop(held);
    tokio::time::timeout(BOUND, async {
        loop {
            let mut tcp = connect_from(Ipv4Addr::LOCALHOST, server.http).await;
            if get_on(&mut tcp, "/health")
                .await
                .starts_with("HTTP/1.1 200")
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the places of closed connections were not released");
    server.stop().await;
}

#[tokio::test]
async fn the_grpc_port_caps_connections_per_ip_too() {
    const CAP: usize = 3;
    let server = start(|c| {
        c.connections.max_connections_per_ip = CAP;
        c.connections.idle_timeout = Duration::from_secs(60);
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..CAP {
        held.push(connect_from(Ipv4Addr::LOCALHOST, server.addr).await);
    }
    let mut extra = connect_from(Ipv4Addr::LOCALHOST, server.addr).await;
    assert!(until_closed(&mut extra).await.is_empty());

    drop(held);
    let served = tokio::time::timeout(BOUND, async {
        loop {
            let channel = tonic::transport::Endpoint::from_shared(server.url())
                .unwrap()
                .connect()
                .await;
            if let Ok(channel) = channel
                && HealthClient::new(channel)
                    .check(HealthCheckRequest::default())
                    .await
                    .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(served.is_ok(), "gRPC was not served once places were free");
    server.stop().await;
}

#[tokio::test]
async fn slowloris_is_closed_after_the_header_timeout() {
    let server = start(|c| c.connections.idle_timeout = Duration::from_secs(60)).await;

    // Half a head, then one more header line every 200 ms: the head never completes.
    let mut tcp = connect_from(Ipv4Addr::LOCALHOST, server.http).await;
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let (mut read, mut write) = tcp.into_split();
    let trickle = tokio::spawn(async move {
        for i in 0..100 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if write
                .write_all(format!("X-Slow-{i}: y\r\n").as_bytes())
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut out = Vec::new();
    let closed = tokio::time::timeout(BOUND, read.read_to_end(&mut out)).await;
    assert!(closed.is_ok(), "a slowloris head was held past {BOUND:?}");
    let sent = String::from_utf8_lossy(&out);
    assert!(
        sent.is_empty() || sent.starts_with("HTTP/1.1 408"),
        "unexpected answer to a head that never completed: {sent}"
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
    eprintln!("slowloris closed after {:?}", started.elapsed());
    trickle.abort();

    // A client that connects and says nothing is closed too.
    let mut silent = connect_from(Ipv4Addr::LOCALHOST, server.http).await;
    let started = Instant::now();
    until_closed(&mut silent).await;
    eprintln!("silent connection closed after {:?}", started.elapsed());

    // Others are served meanwhile.
    let mut tcp = connect_from(Ipv4Addr::LOCALHOST, server.http).await;
    assert!(
        get_on(&mut tcp, "/health")
            .await
            .starts_with("HTTP/1.1 200")
    );
    server.stop().await;
}

#[tokio::test]
async fn a_lying_content_length_gets_408_after_the_body_timeout() {
    let server = start(|c| c.connections.idle_timeout = Duration::from_secs(60)).await;
    let mut tcp = connect_from(Ipv4Addr::LOCALHOST, server.http).await;
    let head = "POST /v1/tools/nernst_potential HTTP/1.1\r\nHost: x\r\n\
                Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"z\": ";
    tcp.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let response = until_closed(&mut tcp).await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("MFN_BODY_READ_TIMEOUT_S"), "{response}");
    assert!(started.elapsed() >= Duration::from_millis(900));
    eprintln!(
        "lying body answered and closed after {:?}",
        started.elapsed()
    );
    server.stop().await;
}

#[tokio::test]
async fn idle_connections_are_closed_and_clients_reconnect() {
    async fn closed(server: &TestServer) -> f64 {
        let labels = [r#"port="grpc""#, r#"reason="idle_timeout""#];
        metric(server, "mfn_connections_closed_total", &labels).await
    }
    let server = start(|_| {}).await;
    let before = closed(&server).await;
    let mut health = HealthClient::new(server.channel().await);
    health.check(HealthCheckRequest::default()).await.unwrap();
    tokio::time::timeout(BOUND, async {
        while closed(&server).await <= before {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the idle gRPC connection was not closed");
    // The channel reconnects for the next call.
    tokio::time::timeout(BOUND, async {
        while health.check(HealthCheckRequest::default()).await.is_err() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the channel did not reconnect");

    // An HTTP/1.1 connection kept alive after a request closes as well.
    let mut tcp = connect_from(Ipv4Addr::LOCALHOST, server.http).await;
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let response = until_closed(&mut tcp).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    server.stop().await;
}

#[tokio::test]
async fn shutdown_does_not_wait_for_half_open_connections() {
    let server = start(|c| {
        c.network.shutdown_timeout = Duration::from_secs(60);
        c.connections.header_read_timeout = Duration::from_secs(60);
        c.connections.body_read_timeout = Duration::from_secs(60);
        c.connections.idle_timeout = Duration::from_secs(60);
    })
    .await;
    // Half a head on each port, an idle HTTP/2 channel, a kept-alive HTTP/1.1 connection.
    let mut http_half = connect_from(Ipv4Addr::LOCALHOST, server.http).await;
    http_half
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut grpc_half = connect_from(Ipv4Addr::LOCALHOST, server.addr).await;
    grpc_half
        .write_all(b"POST /grpc.health.v1.Health/Check HTTP/1.1\r\nHost")
        .await
        .unwrap();
    let mut health = HealthClient::new(server.channel().await);
    health.check(HealthCheckRequest::default()).await.unwrap();
    let mut kept = connect_from(Ipv4Addr::LOCALHOST, server.http).await;
    kept.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = kept.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    // A request in flight (its body not sent yet) still finishes. `100 Continue` comes
    // once the handler reads the body, so the request is in flight before the shutdown.
    let mut in_flight = connect_from(Ipv4Addr::LOCALHOST, server.http).await;
    in_flight
        .write_all(
            b"POST /v1/tools/nernst_potential HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
              Content-Type: application/json\r\nContent-Length: 2\r\n\
              Expect: 100-continue\r\n\r\n",
        )
        .await
        .unwrap();
    let n = tokio::time::timeout(BOUND, in_flight.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 100"), "{:?}", &buf[..n]);

    let started = Instant::now();
    let mut server = server;
    server.shutdown();
    in_flight.write_all(b"{}").await.unwrap();
    let answer = until_closed(&mut in_flight).await;
    assert!(
        answer.starts_with("HTTP/1.1 "),
        "in-flight request cut: {answer:?}"
    );
    let stopped = tokio::time::timeout(Duration::from_secs(5), server.join()).await;
    let elapsed = started.elapsed();
    assert!(
        matches!(stopped, Ok(Ok(()))),
        "shutdown waited for half-open connections: {elapsed:?}"
    );
    eprintln!("shutdown with half-open connections took {elapsed:?}");
    for tcp in [&mut http_half, &mut grpc_half, &mut kept] {
        until_closed(tcp).await;
    }
}
