//! The runner end to end without a broker: a directory of request files to JSON Lines
//! files and to a webhook that fails its first calls.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use mfn_connect::PipelineConfig;
use mfn_connect::sink::webhook::signature;
use mfn_service::{MfnService, ServiceConfig};
use serde_json::{Value, json};

const SECRET: &str = "a-webhook-secret-for-tests";

fn service() -> MfnService {
    MfnService::new(ServiceConfig {
        workers: 1,
        queue: 4,
        ..ServiceConfig::default()
    })
    .unwrap()
}

fn config(flags: &[(&'static str, String)], env: &[(&str, &str)]) -> PipelineConfig {
    let flags = flags.iter().cloned().collect();
    let mut vars: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    vars.insert("MFN_PIPELINE_DIR_POLL_INTERVAL_MS".into(), "20".into());
    vars.insert("MFN_PIPELINE_FILE_ROTATE_SECS".into(), "1".into());
    vars.insert("MFN_PIPELINE_RETRY_INITIAL_BACKOFF_MS".into(), "10".into());
    vars.insert("MFN_PIPELINE_CONCURRENCY".into(), "4".into());
    PipelineConfig::from_sources(&flags, &vars, None).unwrap()
}

fn nernst(id: &str, z: i32) -> String {
    json!({"request_id": id, "operation": "nernst", "z_valence": z,
           "concentration_out_molar": 0.005, "concentration_in_molar": 0.14})
    .to_string()
}

/// Drop a file the way writers should: hidden name, then rename.
fn drop_file(dir: &Path, name: &str, text: &str) {
    let tmp = dir.join(format!(".{name}"));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(tmp, dir.join(name)).unwrap();
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn jsonl_records(dir: &Path, prefix: &str) -> Vec<Value> {
    names(dir)
        .iter()
        .filter(|n| n.starts_with(prefix) && n.ends_with(".jsonl"))
        .flat_map(|n| {
            std::fs::read_to_string(dir.join(n))
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<Value>>()
        })
        .collect()
}

async fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_to_jsonl_moves_files_after_their_results_are_written() {
    let inbox = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..10).map(|i| nernst(&format!("a-{i}"), 1)).collect();
    drop_file(inbox.path(), "a.jsonl", &lines.join("\n"));
    drop_file(
        inbox.path(),
        "b.json",
        &format!(
            "[{}, {{\"request_id\":\"b-bad\",\"operation\":\"simulate\",\"grid_size\":100000}}]",
            nernst("b-0", 2)
        ),
    );
    let cfg = config(
        &[
            ("source", format!("dir://{}", inbox.path().display())),
            ("sink", format!("jsonl://{}", out.path().display())),
        ],
        &[],
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(mfn_connect::run(cfg, service(), None, async {
        let _ = stopped.await;
    }));
    let (done, failed) = (inbox.path().join("done"), inbox.path().join("failed"));
    wait_until("both files moved", || {
        names(&done).contains(&"a.jsonl".to_owned())
            && names(&failed).contains(&"b.json".to_owned())
    })
    .await;
    // Moved only once the results were in place: they are all there now.
    let results = jsonl_records(out.path(), "results-");
    let ids: HashSet<&str> = results
        .iter()
        .map(|r| r["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(results.len(), 11, "each result once");
    assert!(ids.contains("a-9") && ids.contains("b-0"));
    let r = results.iter().find(|r| r["request_id"] == "b-0").unwrap();
    assert_eq!(r["operation"], "nernst");
    assert!(r["potential_mV"].as_f64().is_some() && r["elapsed_ms"].as_f64().is_some());
    let dead = jsonl_records(&failed, "dead-letters-");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["request_id"], "b-bad");
    assert_eq!(dead[0]["field"], "grid_size");
    assert_eq!(dead[0]["error_code"], "INVALID_ARGUMENT");
    assert!(dead[0]["origin"].as_str().unwrap().ends_with("b.json:2"));
    stop.send(()).unwrap();
    let summary = run.await.unwrap().unwrap();
    assert_eq!(
        (
            summary.consumed,
            summary.results,
            summary.dead_letters,
            summary.abandoned
        ),
        (12, 11, 1, 0)
    );
}

#[derive(Default)]
struct Hook {
    calls: usize,
    accepted: HashMap<String, usize>,
    bad_signatures: usize,
}

async fn receive(
    State(hook): State<Arc<Mutex<Hook>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut h = hook.lock().unwrap();
    h.calls += 1;
    let ts: u64 = headers["x-mfn-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    if headers["x-mfn-signature"].to_str().unwrap() != signature(SECRET.as_bytes(), ts, &body) {
        h.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    }
    if h.calls <= 3 {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let id = headers["idempotency-key"].to_str().unwrap().to_owned();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["request_id"], id.as_str());
    if id == "w-refused" {
        return StatusCode::UNPROCESSABLE_ENTITY;
    }
    *h.accepted.entry(id).or_default() += 1;
    StatusCode::NO_CONTENT
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_webhook_gets_every_result_once_and_refusals_go_to_its_dead_letter_file() {
    let hook = Arc::new(Mutex::new(Hook::default()));
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(hook.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let inbox = tempfile::tempdir().unwrap();
    let mut lines: Vec<String> = (0..20).map(|i| nernst(&format!("w-{i}"), 1)).collect();
    lines.push(nernst("w-refused", 1));
    drop_file(inbox.path(), "w.jsonl", &lines.join("\n"));
    let dead_file = inbox.path().join("webhook-dead.jsonl");
    let cfg = config(
        &[
            ("source", format!("dir://{}", inbox.path().display())),
            ("sink", format!("http://{addr}/hook")),
        ],
        &[
            ("MFN_PIPELINE_WEBHOOK_SECRET", SECRET),
            (
                "MFN_PIPELINE_WEBHOOK_DEAD_LETTER_FILE",
                dead_file.to_str().unwrap(),
            ),
        ],
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(mfn_connect::run(cfg, service(), None, async {
        let _ = stopped.await;
    }));
    let done = inbox.path().join("done");
    wait_until("the file is done", || {
        names(&done).contains(&"w.jsonl".to_owned())
    })
    .await;
    {
        let h = hook.lock().unwrap();
        assert_eq!(h.bad_signatures, 0);
        assert_eq!(h.accepted.len(), 20, "{:?}", h.accepted);
        assert!(h.accepted.values().all(|n| *n == 1), "each result once");
        assert!(h.calls >= 21 + 3, "the refused calls were retried");
    }
    let dead: Vec<Value> = std::fs::read_to_string(&dead_file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["request_id"], "w-refused");
    assert_eq!(dead[0]["http_status"], 422);
    assert_eq!(dead[0]["record"]["operation"], "nernst");
    stop.send(()).unwrap();
    let summary = run.await.unwrap().unwrap();
    assert_eq!((summary.results, summary.abandoned), (21, 0));
}
