//! `mfn bench` against a real `mfn serve` process: the JSON report has its keys, the
//! status counts add up, and an invalid request is counted as `INVALID_ARGUMENT`.
//! Short runs (about a second each); no timing is asserted.

use serde_json::Value;

mod common;
use common::{Server, mfn};

/// A server whose anonymous rate limit does not throttle the load generator.
fn start() -> (Server, String) {
    common::start_server(&[("MFN_ANON_RATE_LIMIT_RPS", "1000000")])
}

fn bench(url: &str, args: &[&str]) -> Value {
    let out = mfn()
        .args(["--remote", url, "--format", "json", "bench"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Not a terminal: no progress line on stderr.
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn status_sum(report: &Value) -> u64 {
    report["status"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum()
}

fn assert_percentiles(p: &Value) {
    for key in ["count", "min", "mean", "p50", "p90", "p99", "p99_9", "max"] {
        assert!(p[key].is_number(), "{key} missing in {p}");
    }
    assert!(p["p50"].as_f64() <= p["p99"].as_f64());
    assert!(p["p99"].as_f64() <= p["max"].as_f64());
}

#[test]
fn unary_closed_loop_counts_every_status() {
    let (_server, url) = start();
    let r = bench(
        &url,
        &[
            "unary",
            "--rpc",
            "extract-features",
            "--grid-size",
            "16",
            "--steps",
            "8",
            "--connections",
            "2",
            "--in-flight",
            "2",
            "--duration",
            "1",
            "--warmup",
            "0.2",
            "--invalid-every",
            "3",
        ],
    );
    assert_eq!(r["mode"], "unary");
    assert_eq!(r["rpc"], "extract-features");
    assert_eq!(r["load"]["model"], "closed");
    assert_eq!(r["load"]["connections"], 2);
    let completed = r["requests"]["completed"].as_u64().unwrap();
    let ok = r["requests"]["ok"].as_u64().unwrap();
    assert!(completed > 0);
    assert_eq!(status_sum(&r), completed);
    assert_eq!(r["status"]["OK"].as_u64().unwrap(), ok);
    assert!(ok > 0);
    assert!(r["status"]["INVALID_ARGUMENT"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["requests"]["not_ok"].as_u64().unwrap(), completed - ok);
    assert!(r["throughput_rps"].as_f64().unwrap() > 0.0);
    assert_eq!(r["latency_ms"]["count"].as_u64().unwrap(), ok);
    assert_percentiles(&r["latency_ms"]);
    assert!(r["server_rss"].is_null());
}

#[test]
fn unary_open_loop_varies_seeds_and_samples_server_memory() {
    let (server, url) = start();
    let pid = server.0.id().to_string();
    let r = bench(
        &url,
        &[
            "unary",
            "--rpc",
            "run-simulation",
            "--grid-size",
            "16",
            "--steps",
            "8",
            "--vary-seed",
            "--rate",
            "100",
            "--duration",
            "1",
            "--warmup",
            "0.2",
            "--server-pid",
            &pid,
        ],
    );
    assert_eq!(r["load"]["model"], "open");
    assert_eq!(r["load"]["seeds"], "vary");
    assert_eq!(r["load"]["rate_rps"], 100.0);
    assert!(r["requests"]["sent"].as_u64().unwrap() > 0);
    assert!(r["status"]["OK"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(status_sum(&r), r["requests"]["completed"].as_u64().unwrap());
    let rss = &r["server_rss"];
    assert!(rss["before_kb"].as_u64().unwrap() > 0);
    assert!(rss["peak_kb"].as_u64().unwrap() > 0);
}

#[test]
fn streams_report_frames_and_gaps() {
    let (server, url) = start();
    let pid = server.0.id().to_string();
    let r = bench(
        &url,
        &[
            "stream",
            "--streams",
            "4",
            "--fps",
            "50",
            "--grid-size",
            "16",
            "--connections",
            "2",
            "--duration",
            "1",
            "--warmup",
            "0.2",
            "--server-pid",
            &pid,
        ],
    );
    assert_eq!(r["mode"], "stream");
    assert_eq!(r["load"]["streams"], 4);
    let opened = r["streams"]["opened"].as_u64().unwrap();
    assert!(opened >= 4);
    assert_eq!(
        opened,
        status_sum(&r) + r["streams"]["open_at_end"].as_u64().unwrap(),
        "{r}"
    );
    assert!(r["frames"]["received"].as_u64().unwrap() > 0);
    assert!(r["frames"]["per_stream_per_second"].as_f64().unwrap() > 0.0);
    assert_percentiles(&r["frame_gap_ms"]);
    assert_percentiles(&r["first_frame_ms"]);
    assert!(r["rss_per_stream_kb"].is_number());
}

#[test]
fn a_refused_stream_is_counted_by_its_status() {
    let (_server, url) = start();
    let r = bench(
        &url,
        &[
            "stream",
            "--streams",
            "2",
            "--grid-size",
            "1",
            "--duration",
            "0.5",
            "--warmup",
            "0",
        ],
    );
    assert_eq!(r["streams"]["completed"], 0);
    assert!(
        r["status"]["INVALID_ARGUMENT"].as_u64().unwrap() >= 2,
        "{r}"
    );
}

#[test]
fn startup_reports_ready_time_and_idle_memory() {
    let out = mfn()
        .args(["--format", "json", "bench", "startup", "--runs", "1"])
        .args(["--settle", "0.1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["mode"], "startup");
    assert!(r["ready_ms"]["median"].as_f64().unwrap() > 0.0);
    assert!(r["rss_idle_kb"]["median"].as_f64().unwrap() > 0.0);
}

#[test]
fn body_is_a_grpc_frame() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("body.bin");
    let out = mfn()
        .args([
            "--format",
            "json",
            "bench",
            "body",
            "--rpc",
            "extract-features",
        ])
        .args(["--seed", "7", "--out", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["path"], "/mfn.v1.MFNFeaturesService/ExtractFeatures");
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len() as u64, r["bytes"].as_u64().unwrap());
    assert_eq!(bytes[0], 0, "uncompressed");
    let len = u32::from_be_bytes(bytes[1..5].try_into().unwrap()) as usize;
    assert_eq!(len, bytes.len() - 5);
    // field 2 (seed), varint 7.
    assert_eq!(&bytes[5..], &[0x10, 7]);
}

#[test]
fn bench_without_remote_is_a_usage_error() {
    let out = mfn().args(["bench", "unary"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--remote"));
}
