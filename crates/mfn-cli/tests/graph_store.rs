//! The graph store of `mfn serve` survives `kill -9`: a write acknowledged over REST is
//! on disk (fsync on commit) and a restarted server serves it, also when the memory
//! cache holds nothing.

mod common;

use common::{http, start_server_http};

#[test]
fn an_acknowledged_graph_survives_kill_9_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let (mut server, _, port) = start_server_http(&[("MFN_DATA_DIR", data)]);
    let (status, body) = http(
        port,
        "POST",
        "/v1/graphs",
        r#"{"name": "durable", "edges": [[1, 2], [2, 3, 0.5]]}"#,
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = http(
        port,
        "POST",
        "/v1/graphs/durable/nodes",
        r#"{"nodes": [4]}"#,
    );
    assert_eq!(status, 200, "{body}");
    // SIGKILL right after the acknowledgement: no drain, no shutdown hook.
    server.0.kill().unwrap();
    server.0.wait().unwrap();

    // A cache budget of 0 makes every read come from disk.
    let (_server, _, port) =
        start_server_http(&[("MFN_DATA_DIR", data), ("MFN_GRAPH_CACHE_MB", "0")]);
    let (status, body) = http(port, "GET", "/v1/graphs/durable", "");
    assert_eq!(status, 200, "{body}");
    let info: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (info["num_nodes"].as_u64(), info["num_edges"].as_u64()),
        (Some(4), Some(2))
    );
    let (_, body) = http(port, "GET", "/v1/graphs/durable/export?format=csv", "");
    assert!(body.contains("2,3,0.5"), "weights come back: {body}");
    let (status, _) = http(port, "GET", "/v1/graphs/other", "");
    assert_eq!(status, 404);
}
