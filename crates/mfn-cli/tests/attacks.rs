//! Issue #17's attacks replayed against a real `mfn serve` process: callers that leave
//! or overrun their deadline free their compute workers, memory attacks are refused
//! before they allocate or stay within the call budget, and SIGTERM does not wait for
//! half-open connections. The bounds and their settings are in docs/RELIABILITY.md.
//!
//! The tests run one at a time (they share two cores with the servers they start), and
//! their time bounds are loose multiples of what a debug build measures, so that they
//! fail on the regressions (23 s before the fix) and not on a busy machine.
#![cfg(target_os = "linux")]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{Server, free_port, http, mfn, start_server_http};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// The value of an unlabelled gauge or the sum of a labelled series matching `labels`.
fn metric(port: u16, name: &str, labels: &[&str]) -> f64 {
    let (status, body) = http(port, "GET", "/metrics", "");
    assert_eq!(status, 200, "{body}");
    body.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with([' ', '{']))
                && labels.iter().all(|label| l.contains(label))
        })
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// Polls `what` every 2 ms until it holds; the time it took, or `None` after `within`.
fn until(within: Duration, mut what: impl FnMut() -> bool) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < within {
        if what() {
            return Some(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    None
}

/// Sends a JSON POST and returns the socket without reading: the caller decides whether
/// to wait for the answer or to leave.
fn post_and_hold(port: u16, path: &str, body: &str) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    s
}

/// `VmHWM` (peak resident set) of `pid` in MiB.
fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb / 1024.0
}

/// Median of the latencies of `n` calls of `call`, and the worst one.
fn latencies(n: usize, mut call: impl FnMut()) -> (Duration, Duration) {
    let mut all: Vec<Duration> = (0..n)
        .map(|_| {
            let t0 = Instant::now();
            call();
            t0.elapsed()
        })
        .collect();
    all.sort();
    (all[n / 2], all[n - 1])
}

/// `generate_graph` of a complete graph on `n` nodes.
fn complete_graph(port: u16, n: usize) -> (u16, String) {
    let args = format!(r#"{{"name":"k","kind":"complete","n":{n}}}"#);
    http(port, "POST", "/v1/tools/generate_graph", &args)
}

const BETWEENNESS: &str = r#"{"graph":"big"}"#;
const SMALL_SIMULATION: &str = r#"{"grid_size":16,"steps":10,"seed":7}"#;

/// A server with two workers and a graph on which betweenness takes minutes.
fn server_with_a_slow_graph(timeout_s: &str) -> (Server, u16) {
    let (server, _, port) =
        start_server_http(&[("MFN_MAX_WORKERS", "2"), ("MFN_TOOL_TIMEOUT_S", timeout_s)]);
    let (status, body) = http(
        port,
        "POST",
        "/v1/tools/generate_graph",
        r#"{"name":"big","kind":"barabasi_albert","n":20000,"m":3,"seed":1}"#,
    );
    assert_eq!(status, 200, "{body}");
    (server, port)
}

#[test]
fn callers_that_leave_free_their_workers_and_the_server_stays_responsive() {
    let _serial = serial();
    let (_server, port) = server_with_a_slow_graph("600");
    // One computation of minutes takes one worker, not both: its searches fan out on the
    // graph engine's own threads, and an unrelated call gets the other worker at once.
    let mut attackers = vec![post_and_hold(
        port,
        "/v1/tools/betweenness_centrality",
        BETWEENNESS,
    )];
    until(Duration::from_secs(10), || {
        metric(port, "mfn_compute_running", &[]) == 1.0
    })
    .expect("the attack never started");
    let t0 = Instant::now();
    let (status, body) = http(port, "POST", "/v1/simulate", SMALL_SIMULATION);
    let beside = t0.elapsed();
    eprintln!("a 16×16 simulation beside one long algorithm took {beside:?}");
    assert_eq!(status, 200, "{body}");
    // Issue #17's bound; measured 0.7-9 ms on the 2-core CI machine.
    assert!(beside < Duration::from_millis(100), "{beside:?}");

    // A second such client: both workers are taken.
    attackers.push(post_and_hold(
        port,
        "/v1/tools/betweenness_centrality",
        BETWEENNESS,
    ));
    if until(Duration::from_secs(10), || {
        metric(port, "mfn_compute_running", &[]) == 2.0
    })
    .is_none()
    {
        let (_, metrics) = http(port, "GET", "/metrics", "");
        let lines: Vec<&str> = metrics.lines().filter(|l| l.starts_with("mfn_")).collect();
        panic!(
            "the two attacks never held both workers:\n{}",
            lines.join("\n")
        );
    }

    // Calls that need no worker answer at once while they run, and the server is ready.
    let (median, worst) = latencies(9, || {
        let (status, body) = http(port, "GET", "/health", "");
        assert_eq!(status, 200, "{body}");
    });
    eprintln!("/health while both workers compute: median {median:?}, worst {worst:?}");
    assert!(median < Duration::from_millis(100), "median {median:?}");
    assert_eq!(http(port, "GET", "/ready", "").0, 200);

    // The clients leave: the workers are free soon after (23 s and more before #17).
    drop(attackers);
    let freed = until(Duration::from_secs(5), || {
        metric(port, "mfn_compute_running", &[]) == 0.0
    })
    .expect("the workers kept computing for callers that left");
    eprintln!("workers free {freed:?} after the callers left (2 ms polling)");
    // Issue #17's bound: every search checks for cancellation after each source.
    // Measured 3-9 ms (59-116 ms when the check came every 16 sources).
    assert!(freed < Duration::from_millis(100), "{freed:?}");

    let t0 = Instant::now();
    let (status, body) = http(port, "POST", "/v1/simulate", SMALL_SIMULATION);
    let unrelated = t0.elapsed();
    eprintln!("an unrelated 16×16 simulation then took {unrelated:?}");
    assert_eq!(status, 200, "{body}");
    assert!(unrelated < Duration::from_millis(100), "{unrelated:?}");
    let cancelled = metric(
        port,
        "mfn_tool_calls_total",
        &["betweenness_centrality", "CANCELLED"],
    );
    assert_eq!(cancelled, 2.0, "abandoned calls are counted as cancelled");
    // Successes carry the same kind of status value as failures.
    let ok = metric(
        port,
        "mfn_tool_calls_total",
        &["tool=\"simulate_field\"", "status=\"OK\"", "door=\"rest\""],
    );
    assert!(ok >= 1.0, "the 16×16 simulation is counted with status OK");
}

#[test]
fn a_call_past_its_deadline_gets_504_and_frees_its_worker() {
    let _serial = serial();
    let (_server, port) = server_with_a_slow_graph("2");
    let t0 = Instant::now();
    let mut caller = post_and_hold(port, "/v1/tools/betweenness_centrality", BETWEENNESS);
    caller
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut reply = String::new();
    caller.read_to_string(&mut reply).unwrap();
    let answered = t0.elapsed();
    assert!(reply.starts_with("HTTP/1.1 504"), "{reply}");
    assert!(reply.contains("MFN_TOOL_TIMEOUT_S"), "{reply}");
    assert!(answered < Duration::from_secs(5), "{answered:?}");
    let freed = until(Duration::from_secs(5), || {
        metric(port, "mfn_compute_running", &[]) == 0.0
    })
    .expect("the worker kept computing after the deadline");
    eprintln!("504 after {answered:?}; worker free {freed:?} later");
    assert!(freed < Duration::from_millis(100), "{freed:?}");
    assert_eq!(http(port, "POST", "/v1/simulate", SMALL_SIMULATION).0, 200);
}

#[test]
fn memory_attacks_are_refused_before_they_allocate_or_stay_within_the_call_budget() {
    let _serial = serial();
    let (server, _, port) = start_server_http(&[("MFN_GRAPH_CALL_MB", "64")]);
    let pid = server.0.id();
    let before = peak_rss_mb(pid);

    // 60 bytes asking for 9.7 M edges (15 GB before #17): refused from the arguments.
    let t0 = Instant::now();
    let (status, body) = complete_graph(port, 4400);
    assert_eq!(status, 413, "{body}");
    assert!(
        body.contains("\"n: estimated bytes"),
        "names the argument: {body}"
    );
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    // Just over the 64 MB budget: refused too; just under: built, and the process grows
    // by no more than the budget.
    let (status, body) = complete_graph(port, 1000);
    assert_eq!(status, 413, "{body}");
    let (status, body) = complete_graph(port, 700);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"num_edges\":244650"), "{body}");

    // 200 k attributes on one GraphML element (28 s of CPU before #17).
    let mut doc = String::from("<graphml><graph edgedefault=\"undirected\"><node id=\"a\"");
    for i in 0..200_000 {
        doc.push_str(&format!(" a{i}=\"1\""));
    }
    doc.push_str("/><node id=\"b\"/></graph></graphml>");
    let t0 = Instant::now();
    let (status, body) = http(
        port,
        "POST",
        "/v1/tools/import_graph",
        &format!(
            r#"{{"name":"g","format":"graphml","data":"{}"}}"#,
            doc.replace('"', "\\\"")
        ),
    );
    assert_eq!(status, 200, "{body}");
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());

    // A CSV header of 1 M columns (530 MB for 4.5 M before #17): refused, naming the cap.
    let header: Vec<String> = (0..1_000_000).map(|i| format!("c{i}")).collect();
    let (status, body) = http(
        port,
        "POST",
        "/v1/tools/import_graph",
        &format!(
            r#"{{"name":"c","format":"csv","data":"{}\n"}}"#,
            header.join(",")
        ),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("columns"), "{body}");

    // 2 000 MCP `initialize` (1 GB for 20 000 before #17): capped.
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"flood","version":"1"}}}"#;
    let mut refused = 0;
    for _ in 0..2_000 {
        let mut s = post_and_hold(port, "/mcp", init);
        let mut head = [0u8; 12];
        s.read_exact(&mut head).unwrap();
        if &head[9..12] != b"200" {
            refused += 1;
        }
    }
    assert!(refused >= 1_000, "only {refused} of 2000 sessions refused");

    let after = peak_rss_mb(pid);
    eprintln!("peak RSS {before:.0} MiB at start, {after:.0} MiB after the attacks");
    assert!(
        after - before < 64.0 + 48.0,
        "the process grew by {:.0} MiB (call budget 64 MiB + 48 MiB for request bodies and sessions)",
        after - before
    );
}

#[cfg(unix)]
#[test]
fn sigterm_with_half_open_connections_exits_within_a_second() {
    let _serial = serial();
    let (grpc, http_port) = (free_port(), free_port());
    let mut server = Server(
        mfn()
            .args(["serve", "--grpc-port", &grpc.to_string()])
            .args(["--http-port", &http_port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    until(Duration::from_secs(30), || {
        TcpStream::connect(("127.0.0.1", http_port)).is_ok()
    })
    .expect("mfn serve never listened");
    // Partial request heads on the HTTP port and silent connections on the gRPC port.
    let mut half_open = Vec::new();
    for _ in 0..50 {
        let mut s = TcpStream::connect(("127.0.0.1", http_port)).unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").unwrap();
        half_open.push(s);
        half_open.push(TcpStream::connect(("127.0.0.1", grpc)).unwrap());
    }
    assert_eq!(http(http_port, "GET", "/health", "").0, 200);
    // Log lines go through a bounded queue; none were dropped here.
    let (_, metrics) = http(http_port, "GET", "/metrics", "");
    assert!(
        metrics.contains("\nmfn_log_lines_dropped_total 0\n"),
        "{metrics}"
    );
    let t0 = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let exited = until(Duration::from_secs(30), || {
        server.0.try_wait().unwrap().is_some()
    })
    .expect("mfn serve did not exit");
    eprintln!("exited {exited:?} after SIGTERM with 100 half-open connections");
    assert!(exited < Duration::from_secs(1), "{:?}", t0.elapsed());
    assert_eq!(server.0.wait().unwrap().code(), Some(0));
}
