//! `mfn mcp` as a client starts it: JSON-RPC lines on stdin, nothing but JSON-RPC on
//! stdout (logs go to stderr), graphs persisted in `MFN_DATA_DIR` between two runs.

mod common;
use common::mfn;

use std::io::Write;
use std::process::Stdio;

use serde_json::{Value, json};

/// Run `mfn mcp` on `dir` with `requests` (one per line); (stdout messages, stderr).
fn session(dir: &std::path::Path, requests: &[Value]) -> (Vec<Value>, String) {
    let mut child = mfn()
        .arg("mcp")
        .env("MFN_DATA_DIR", dir)
        .env("MFN_LOG_LEVEL", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "cli-test", "version": "0"}}});
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    for r in [&init, &initialized].into_iter().chain(requests) {
        writeln!(stdin, "{r}").unwrap();
    }
    // Let the answers out before closing stdin (closing ends the session).
    std::thread::sleep(std::time::Duration::from_millis(1500));
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let messages = stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l)
                .unwrap_or_else(|e| panic!("not JSON-RPC on stdout ({e}): {l}"))
        })
        .collect();
    (messages, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn result(messages: &[Value], id: u64) -> Value {
    messages
        .iter()
        .find(|m| m["id"] == id)
        .unwrap_or_else(|| panic!("no answer to {id}: {messages:?}"))["result"]
        .clone()
}

fn call(id: u64, tool: &str, args: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": tool, "arguments": args}})
}

#[test]
fn stdout_is_json_rpc_only_and_graphs_persist_between_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (messages, stderr) = session(
        dir.path(),
        &[call(
            1,
            "generate_graph",
            json!({"name": "k", "kind": "karate_club"}),
        )],
    );
    assert_eq!(result(&messages, 0)["serverInfo"]["name"], "mfn");
    assert_eq!(result(&messages, 1)["structuredContent"]["num_nodes"], 34);
    assert!(messages.iter().all(|m| m["jsonrpc"] == "2.0"));
    assert!(
        stderr.contains("serving MCP on stdio"),
        "logs belong on stderr: {stderr}"
    );
    assert!(
        stderr.contains("mfn::audit"),
        "one audit line per call: {stderr}"
    );

    let (messages, _) = session(
        dir.path(),
        &[
            call(2, "get_info", json!({"graph": "k"})),
            json!({"jsonrpc": "2.0", "id": 3, "method": "resources/list"}),
        ],
    );
    assert_eq!(result(&messages, 2)["structuredContent"]["num_edges"], 78);
    assert_eq!(result(&messages, 3)["resources"][0]["uri"], "graph://k");
}
