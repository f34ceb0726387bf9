//! The security layers against a running server: every threat of seed 000's model
//! (key theft, replay, DDoS, resource exhaustion) as a request the server must refuse,
//! and the audit trail.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use mfn_proto::v1 as pb;
use mfn_proto::v1::mycelium_service_client::MyceliumServiceClient;
use mfn_server::config::AuthMode;
use mfn_server::security::auth::sign;
use mfn_server::security::keys::{generate_key, hash_key};
use mfn_test_util::{TestServer, captured_logs};
use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::{ServerReflectionRequest, server_reflection_response};
use tonic_types::StatusExt;

const RUN: &str = "/mfn.v1.MFNSimulationService/RunSimulation";
const NERNST: &str = "/mfn.v1.MyceliumService/ComputeNernst";

/// Keys of a test server, one per role.
struct Keys {
    compute: String,
    admin_only: String,
    slow_rps: String,
    two_at_once: String,
    one_at_once: String,
}

/// A server in `mode` with one key per role.
async fn start(mode: AuthMode) -> (TestServer, Keys) {
    let keys = Keys {
        compute: generate_key().unwrap(),
        admin_only: generate_key().unwrap(),
        slow_rps: generate_key().unwrap(),
        two_at_once: generate_key().unwrap(),
        one_at_once: generate_key().unwrap(),
    };
    let server = TestServer::builder()
        .auth(mode)
        .key(&keys.compute, "name=compute")
        .key(&keys.admin_only, "name=admin scopes=admin")
        .key(&keys.slow_rps, "name=slow rps=5")
        .key(&keys.two_at_once, "name=two concurrent=2")
        .key(&keys.one_at_once, "name=one concurrent=1")
        .start()
        .await;
    (server, keys)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn nernst() -> pb::NernstRequest {
    pb::NernstRequest {
        z_valence: 1,
        concentration_out_m: 0.005,
        concentration_in_m: 0.140,
        ..Default::default()
    }
}

fn sim_req(n: u32, steps: u32, seed: u64) -> pb::RunSimulationRequest {
    pb::RunSimulationRequest {
        grid_size: Some(n),
        steps: Some(steps),
        seed: Some(seed),
        ..Default::default()
    }
}

fn with_key<T>(msg: T, key: &str) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut().insert("x-api-key", key.parse().unwrap());
    r
}

/// A request signed for `path` at `now + offset_s` with request id `id`.
fn signed<T>(msg: T, key: &str, path: &str, offset_s: i64, id: &str) -> Request<T> {
    let ts = (now() + offset_s).to_string();
    let mut r = with_key(msg, key);
    let m = r.metadata_mut();
    m.insert("x-timestamp", ts.parse().unwrap());
    m.insert("x-request-id", id.parse().unwrap());
    m.insert("x-signature", sign(key, &ts, id, path).parse().unwrap());
    r
}

fn fresh_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[track_caller]
fn assert_refused<T: std::fmt::Debug>(r: Result<T, Status>, code: Code, message: &str) {
    let s = r.expect_err("the server accepted a request it must refuse");
    assert_eq!(s.code(), code, "{s:?}");
    assert!(s.message().contains(message), "{:?}", s.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_mode_refuses_missing_and_wrong_keys_and_accepts_bearer() {
    let (server, keys) = start(AuthMode::Key).await;
    let mut myc = server.myc().await;
    assert_refused(
        myc.compute_nernst(nernst()).await,
        Code::Unauthenticated,
        "missing x-api-key",
    );
    let wrong = generate_key().unwrap();
    assert_refused(
        myc.compute_nernst(with_key(nernst(), &wrong)).await,
        Code::Unauthenticated,
        "unknown api key",
    );
    // The hash of a valid key is not a key.
    let hash = hex::encode(hash_key(&keys.compute));
    assert_refused(
        myc.compute_nernst(with_key(nernst(), &hash)).await,
        Code::Unauthenticated,
        "unknown api key",
    );
    let ok = myc
        .compute_nernst(with_key(nernst(), &keys.compute))
        .await
        .unwrap();
    assert_eq!(ok.into_inner().potential_m_v, -89.01066911987907);
    let mut bearer = Request::new(nernst());
    bearer.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", keys.compute).parse().unwrap(),
    );
    myc.compute_nernst(bearer).await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_mode_refuses_every_forgery() {
    let (server, keys) = start(AuthMode::Signed).await;
    let mut myc = server.myc().await;
    let k = keys.compute.as_str();

    // A correctly signed request passes.
    myc.compute_nernst(signed(nernst(), k, NERNST, 0, &fresh_id()))
        .await
        .unwrap();
    // A stolen key alone is not enough.
    assert_refused(
        myc.compute_nernst(with_key(nernst(), k)).await,
        Code::Unauthenticated,
        "x-timestamp",
    );
    // Signed with another key.
    let other = generate_key().unwrap();
    let mut forged = signed(nernst(), &other, NERNST, 0, &fresh_id());
    forged
        .metadata_mut()
        .insert("x-api-key", k.parse().unwrap());
    assert_refused(
        myc.compute_nernst(forged).await,
        Code::Unauthenticated,
        "bad signature",
    );
    // A signature made for another method.
    assert_refused(
        myc.compute_nernst(signed(nernst(), k, RUN, 0, &fresh_id()))
            .await,
        Code::Unauthenticated,
        "bad signature",
    );
    // Timestamps 301 s old and 301 s ahead. Start at the top of a second so that the
    // server reads the same second as the client and 301 cannot become 300.
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_millis();
    tokio::time::sleep(Duration::from_millis(u64::from(1001 - ms))).await;
    for offset in [-301, 301] {
        assert_refused(
            myc.compute_nernst(signed(nernst(), k, NERNST, offset, &fresh_id()))
                .await,
            Code::Unauthenticated,
            "outside the 300 s window",
        );
    }
    // Replaying a request id.
    let id = fresh_id();
    myc.compute_nernst(signed(nernst(), k, NERNST, 0, &id))
        .await
        .unwrap();
    assert_refused(
        myc.compute_nernst(signed(nernst(), k, NERNST, 0, &id))
            .await,
        Code::Unauthenticated,
        "replayed request id",
    );
    // The same id under another key is that key's first use.
    myc.compute_nernst(signed(nernst(), &keys.slow_rps, NERNST, 0, &id))
        .await
        .unwrap();
    // A key without the compute scope.
    assert_refused(
        myc.compute_nernst(signed(nernst(), &keys.admin_only, NERNST, 0, &fresh_id()))
            .await,
        Code::PermissionDenied,
        "compute scope",
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_reflection_stay_open() {
    let (server, _keys) = start(AuthMode::Signed).await;
    let ch = server.channel().await;
    let health = HealthClient::new(ch.clone())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(health.into_inner().status, 1);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = ServerReflectionClient::new(ch)
        .server_reflection_info(futures::stream::iter([req]))
        .await
        .unwrap()
        .into_inner();
    let first = answers.next().await.unwrap().unwrap();
    match first.message_response.unwrap() {
        server_reflection_response::MessageResponse::ListServicesResponse(list) => {
            assert!(
                list.service
                    .iter()
                    .any(|s| s.name == "mfn.v1.MFNSimulationService")
            );
        }
        other => panic!("{other:?}"),
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_over_the_rate_gets_resource_exhausted_with_retry_info() {
    let (server, keys) = start(AuthMode::Key).await;
    let mut myc = server.myc().await;
    let mut refused = None;
    for _ in 0..20 {
        if let Err(s) = myc.compute_nernst(with_key(nernst(), &keys.slow_rps)).await {
            refused = Some(s);
            break;
        }
    }
    let s = refused.expect("20 calls at once never hit rps=5");
    assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}");
    assert!(s.message().contains("5 requests per second"), "{s:?}");
    let retry = s.get_error_details().retry_info().unwrap().retry_delay;
    assert!(
        retry.is_some_and(|d| d <= Duration::from_secs(1)),
        "{retry:?}"
    );
    assert_eq!(s.metadata().get("retry-after").unwrap(), "1");
    // Other keys have their own buckets.
    myc.compute_nernst(with_key(nernst(), &keys.compute))
        .await
        .unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_limited_and_permits_come_back_after_cancel_and_stream_end() {
    let (server, keys) = start(AuthMode::Key).await;
    let gate = server.svc.gate().stats().clone();

    // Two slow calls fill the key's two slots; the third is refused.
    let mut slow = Vec::new();
    for seed in [1, 2] {
        let mut sim = server.sim().await;
        let key = keys.two_at_once.clone();
        slow.push(tokio::spawn(async move {
            sim.run_simulation(with_key(sim_req(256, 2000, seed), &key))
                .await
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while gate.running() + gate.queued() < 2 {
        assert!(Instant::now() < deadline, "slow calls never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut myc = server.myc().await;
    assert_refused(
        myc.compute_nernst(with_key(nernst(), &keys.two_at_once))
            .await,
        Code::ResourceExhausted,
        "at most 2 in flight",
    );
    // Cancelling one call frees its slot.
    slow.pop().unwrap().abort();
    eventually_ok(&mut myc, &keys.two_at_once).await;
    slow.pop().unwrap().abort();

    // A stream holds its slot until it ends, then gives it back. Paced, so that it is
    // still running when the refusal is checked (unpaced, its three frames can all be
    // sent, and the call end, before the next request arrives).
    let mut sim = server.sim().await;
    let mut frames = sim
        .stream_simulation(with_key(
            pb::StreamSimulationRequest {
                grid_size: Some(16),
                steps: Some(30),
                steps_per_frame: Some(10),
                frame_interval_ms: 500,
                ..Default::default()
            },
            &keys.one_at_once,
        ))
        .await
        .unwrap()
        .into_inner();
    let first = frames.next().await.unwrap().unwrap();
    assert_eq!(first.step, 10);
    assert_refused(
        myc.compute_nernst(with_key(nernst(), &keys.one_at_once))
            .await,
        Code::ResourceExhausted,
        "at most 1 in flight",
    );
    while let Some(frame) = frames.next().await {
        frame.unwrap();
    }
    eventually_ok(&mut myc, &keys.one_at_once).await;
    server.stop().await;
}

/// A call with `key` succeeds within a few seconds (the slot release travels as an
/// HTTP/2 reset or end of stream, so it is not instantaneous).
async fn eventually_ok(myc: &mut MyceliumServiceClient<Channel>, key: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match myc.compute_nernst(with_key(nernst(), key)).await {
            Ok(_) => return,
            Err(s) if s.code() == Code::ResourceExhausted => {
                assert!(Instant::now() < deadline, "the slot never came back: {s:?}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(s) => panic!("{s:?}"),
        }
    }
}

/// Everything the tests' tracing writes, as JSON lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_line_has_the_hash_prefix_and_never_the_key() {
    let logs = captured_logs();
    let (server, keys) = start(AuthMode::Signed).await;
    let mut myc = server.myc().await;
    let ok_id = fresh_id();
    myc.compute_nernst(signed(nernst(), &keys.compute, NERNST, 0, &ok_id))
        .await
        .unwrap();
    let bad_id = fresh_id();
    let _ = myc
        .compute_nernst(signed(nernst(), &keys.compute, RUN, 0, &bad_id))
        .await
        .unwrap_err();
    let anon_id = fresh_id();
    let mut anon = Request::new(nernst());
    anon.metadata_mut()
        .insert("x-request-id", anon_id.parse().unwrap());
    let _ = myc.compute_nernst(anon).await.unwrap_err();
    server.stop().await;

    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let prefix = format!("sha256:{}", &hex::encode(hash_key(&keys.compute))[..12]);
    let audit = |id: &str| -> serde_json::Value {
        let lines: Vec<serde_json::Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["target"] == "mfn::audit" && v["request_id"] == id)
            .collect();
        assert_eq!(lines.len(), 1, "one audit line for {id}: {text}");
        lines[0].clone()
    };
    let ok = audit(&ok_id);
    // Seed 000's shape: the unqualified service and the RPC's method; the path beside.
    assert_eq!(ok["service"], "MyceliumService");
    assert_eq!(ok["method"], "ComputeNernst");
    assert_eq!(ok["path"], NERNST);
    assert_eq!(ok["metadata"], "{}", "{ok}");
    assert_eq!(ok["status"], "OK");
    assert_eq!(ok["api_key_hash"], prefix.as_str());
    assert!(
        ok["peer"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{ok}"
    );
    assert!(ok["request_size"].as_u64().unwrap() > 0, "{ok}");
    assert!(ok["duration_ms"].as_f64().unwrap() >= 0.0, "{ok}");
    assert!(ok["timestamp"].is_string(), "{ok}");
    let bad = audit(&bad_id);
    assert_eq!(bad["status"], "UNAUTHENTICATED");
    assert_eq!(bad["api_key_hash"], prefix.as_str());
    let anon = audit(&anon_id);
    assert_eq!(anon["status"], "UNAUTHENTICATED");
    assert_eq!(anon["api_key_hash"], "-");
    // No line of the whole run carries a key, in full or in part.
    for key in [&keys.compute, &keys.admin_only, &keys.slow_rps] {
        assert!(!text.contains(&key[..16]), "a key reached the logs");
    }
}
