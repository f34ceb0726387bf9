//! The balanced client against several real servers (`mfn_server::serve`): calls are
//! spread, a draining replica is ejected with no failed call, a killed one costs only
//! retried calls, a stream cut by a drain resumes on another replica with the same
//! frames, `dns:///` resolves, and calls made before any replica listens wait for one
//! instead of failing.

use std::time::{Duration, Instant};

use futures::StreamExt;
use mfn_client::{Client, ClientConfig, Code, EndpointHealth, RetryPolicy, pb};
use mfn_test_util::{TestServer, TestServerBuilder};
use tokio::net::TcpListener;

/// A replica: one compute thread, no result cache, the per-IP limits of auth-off mode
/// lifted (every test client is 127.0.0.1).
fn replica_builder(queue: usize) -> TestServerBuilder {
    TestServer::builder().compute(1, queue).config(|c| {
        c.service.cache_entries = 0;
        c.rate_limits.anon_rps = 10_000_000;
        c.rate_limits.anon_concurrent = 100_000;
    })
}

async fn replica() -> TestServer {
    replica_builder(64).start().await
}

/// A port nothing listens on (yet): bound, then released.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A replica on `port`, with a queue deep enough for a burst of 200 calls.
async fn replica_on(port: u16) -> TestServer {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    replica_builder(512).grpc_listener(listener).start().await
}

fn served(server: &TestServer) -> u64 {
    server.svc.gate().stats().completed()
}

fn balanced(endpoint: String) -> ClientConfig {
    ClientConfig::builder(endpoint)
        .retry(RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(200),
            budget: Duration::from_secs(10),
            ..RetryPolicy::default()
        })
        .resolve_interval(Duration::from_millis(200))
        .build()
        .unwrap()
}

fn small(seed: u64) -> pb::RunSimulationRequest {
    pb::RunSimulationRequest {
        seed: Some(seed),
        grid_size: Some(16),
        steps: Some(8),
        ..Default::default()
    }
}

async fn wait_serving(client: &Client, n: usize) {
    for _ in 0..200 {
        let e = client.endpoints();
        if e.iter()
            .filter(|e| e.health == EndpointHealth::Serving)
            .count()
            == n
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("endpoints never all serving: {:?}", client.endpoints());
}

/// Run `calls` calls from `workers` tasks; the number that failed.
async fn load(client: &Client, workers: u64, calls: u64) -> u64 {
    let mut tasks = Vec::new();
    for w in 0..workers {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut failed = 0;
            for i in 0..calls {
                if let Err(e) = c.run_simulation(small(w * 1_000_000 + i)).await {
                    eprintln!("call failed: {e} ({:?})", e.code());
                    failed += 1;
                }
            }
            failed
        }));
    }
    let mut failed = 0;
    for t in tasks {
        failed += t.await.unwrap();
    }
    failed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_list_spreads_calls_over_every_replica() {
    let (a, b, c) = (replica().await, replica().await, replica().await);
    let list = format!("{},{}, {}", a.url(), b.url(), c.url());
    let client = Client::connect(balanced(list)).await.unwrap();
    wait_serving(&client, 3).await;
    assert_eq!(load(&client, 6, 30).await, 0);
    let served = [served(&a), served(&b), served(&c)];
    assert_eq!(served.iter().sum::<u64>(), 180);
    // Power of two choices weighs by observed latency, so on a loaded machine the shares
    // differ; every replica still gets a real part of the calls.
    assert!(served.iter().all(|&s| s >= 9), "uneven: {served:?}");
    for r in [a, b, c] {
        r.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_replica_is_ejected_without_a_failed_call() {
    let (a, b) = (replica().await, replica().await);
    let client = Client::connect(balanced(format!("{},{}", a.url(), b.url())))
        .await
        .unwrap();
    wait_serving(&client, 2).await;
    let loaded = {
        let c = client.clone();
        tokio::spawn(async move { load(&c, 4, 60).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let b_url = b.url();
    b.stop().await;
    let failed = loaded.await.unwrap();
    assert_eq!(failed, 0, "calls failed during the drain");
    let after = served(&a);
    assert_eq!(load(&client, 2, 10).await, 0);
    assert_eq!(
        served(&a),
        after + 20,
        "calls after the drain all go to the live replica"
    );
    let drained = client
        .endpoints()
        .into_iter()
        .find(|e| e.url == b_url)
        .unwrap();
    assert_ne!(drained.health, EndpointHealth::Serving);
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replica_costs_only_retried_calls() {
    let (a, b) = (replica().await, replica().await);
    let client = Client::connect(balanced(format!("{},{}", a.url(), b.url())))
        .await
        .unwrap();
    wait_serving(&client, 2).await;
    let loaded = {
        let c = client.clone();
        tokio::spawn(async move { load(&c, 4, 60).await })
    };
    // Kill mid-load: after some calls were served, not after a fixed sleep (the load can
    // be over in 100 ms on an idle machine, or not started on a busy one).
    while served(&a) + served(&b) < 40 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    b.kill();
    assert_eq!(loaded.await.unwrap(), 0, "calls failed after the kill");
    let noticed = || {
        client.stats().ejections >= 1
            || client
                .endpoints()
                .iter()
                .any(|e| e.health == EndpointHealth::Down)
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !noticed() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        noticed(),
        "the killed replica was neither ejected nor marked down"
    );
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_cut_by_a_drain_resumes_elsewhere_with_the_same_frames() {
    let request = pb::StreamSimulationRequest {
        seed: Some(5),
        grid_size: Some(48),
        steps: Some(400),
        steps_per_frame: Some(10),
        frame_interval_ms: 20,
        ..Default::default()
    };
    // The reference: one uninterrupted run.
    let solo = replica().await;
    let reference: Vec<pb::SimulationFrame> = Client::connect(ClientConfig::new(solo.url()))
        .await
        .unwrap()
        .stream_simulation(request.clone())
        .await
        .unwrap()
        .map(|f| f.unwrap())
        .collect()
        .await;
    solo.stop().await;
    assert_eq!(reference.len(), 40);

    let (a, b) = (replica().await, replica().await);
    let client = Client::connect(balanced(format!("{},{}", a.url(), b.url())))
        .await
        .unwrap();
    wait_serving(&client, 2).await;
    let mut frames = client.stream_simulation(request).await.unwrap();
    let mut got = vec![frames.next().await.unwrap().unwrap()];
    // Drain the replica that serves the stream, mid-way.
    let (serving, other) = if a.svc.stream_stats().active() > 0 {
        (a, b)
    } else {
        (b, a)
    };
    let draining = tokio::spawn(serving.stop());
    while let Some(f) = frames.next().await {
        got.push(f.unwrap());
    }
    draining.await.unwrap();
    assert_eq!(client.stats().stream_resumes, 1);
    let steps: Vec<u32> = got.iter().map(|f| f.step).collect();
    let want: Vec<u32> = reference.iter().map(|f| f.step).collect();
    assert_eq!(steps, want, "every frame once, in order");
    // Same run, same frames; only the request id and the timing differ.
    let strip = |f: &pb::SimulationFrame| pb::SimulationFrame {
        request_id: String::new(),
        meta: None,
        ..f.clone()
    };
    assert_eq!(
        got.iter().map(strip).collect::<Vec<_>>(),
        reference.iter().map(strip).collect::<Vec<_>>(),
        "the resumed run sends the reference's frames"
    );
    other.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dns_target_resolves_and_serves() {
    let a = replica().await;
    let client = Client::connect(balanced(format!("dns:///localhost:{}", a.addr.port())))
        .await
        .unwrap();
    assert!(client.stats().resolutions >= 1);
    assert!(
        client
            .endpoints()
            .iter()
            .any(|e| e.url == format!("http://127.0.0.1:{}", a.addr.port())),
        "{:?}",
        client.endpoints()
    );
    client.run_simulation(small(1)).await.unwrap();
    let missing = Client::connect(balanced("dns:///no-such-host.invalid:1".into())).await;
    assert!(missing.is_err());
    a.stop().await;
}

/// `calls` calls at once; the errors of those that failed.
async fn burst(client: &Client, calls: u64) -> Vec<String> {
    let tasks: Vec<_> = (0..calls)
        .map(|i| {
            let c = client.clone();
            tokio::spawn(async move { c.run_simulation(small(i)).await })
        })
        .collect();
    let mut errors = Vec::new();
    for t in tasks {
        if let Err(e) = t.await.unwrap() {
            errors.push(format!("{e} ({:?})", e.code()));
        }
    }
    errors
}

/// Every call of a [`burst`] succeeded and none was refused a retry by the throttle.
fn assert_all_succeeded(errors: &[String], client: &Client) {
    let stats = client.stats();
    assert!(
        errors.is_empty(),
        "{} of the calls failed, first: {:?}; {stats:?}",
        errors.len(),
        errors.first(),
    );
    assert_eq!(stats.throttled, 0, "{stats:?}");
}

/// The scale-out start: replicas launched with the load generator, the SDK's first
/// calls made before any replica listens. They wait for one (gRPC's CONNECTING) instead
/// of failing, so none fails and none spends the retry throttle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_made_before_any_replica_listens_wait_and_all_succeed() {
    let (pa, pb_) = (free_port(), free_port());
    let client = Client::connect(balanced(format!(
        "http://127.0.0.1:{pa},http://127.0.0.1:{pb_}"
    )))
    .await
    .unwrap();
    let calls = {
        let c = client.clone();
        tokio::spawn(async move { burst(&c, 200).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (a, b) = (replica_on(pa).await, replica_on(pb_).await);
    assert_all_succeeded(&calls.await.unwrap(), &client);
    assert_eq!(served(&a) + served(&b), 200);

    // Once a replica has answered, an outage fails fast again instead of waiting out
    // the 10 s the calls may take.
    a.stop().await;
    b.stop().await;
    let before = Instant::now();
    let err = client.run_simulation(small(1_000)).await.unwrap_err();
    assert_eq!(err.code(), Some(Code::Unavailable), "{err}");
    assert!(
        before.elapsed() < Duration::from_secs(5),
        "took {:?}",
        before.elapsed()
    );
}

/// The same through `dns:///` on a lazy client: the first calls come before the first
/// resolution, then before the resolved replica listens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lazy_dns_client_loses_no_call_made_before_its_replica_listens() {
    let port = free_port();
    let client = Client::connect_lazy(balanced(format!("dns:///localhost:{port}"))).unwrap();
    let calls = {
        let c = client.clone();
        tokio::spawn(async move { burst(&c, 200).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let a = replica_on(port).await;
    assert_all_succeeded(&calls.await.unwrap(), &client);
    assert!(client.stats().resolutions >= 1);
    assert_eq!(served(&a), 200);
    a.stop().await;
}

/// Waiting for a first replica is bounded by the call's deadline: replicas that never
/// listen, or a name that never resolves, end the call at about its deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_to_replicas_that_never_come_up_ends_at_its_deadline() {
    let deadline = Duration::from_millis(300);
    let never = [
        format!(
            "http://127.0.0.1:{},http://127.0.0.1:{}",
            free_port(),
            free_port()
        ),
        "dns:///no-such-host.invalid:1".to_owned(),
    ];
    for endpoint in never {
        let mut config = balanced(endpoint.clone());
        config.deadline = deadline;
        let client = Client::connect_lazy(config).unwrap();
        let started = Instant::now();
        let err = client.run_simulation(small(1)).await.unwrap_err();
        let took = started.elapsed();
        assert!(
            matches!(err.code(), Some(Code::DeadlineExceeded | Code::Unavailable)),
            "{endpoint}: {err}"
        );
        assert!(took < Duration::from_secs(2), "{endpoint}: took {took:?}");
    }
}

/// Without health checks nothing tells a replica is up before a call succeeds, so the
/// first calls may fail; those failures are retried per policy but take no token of
/// the retry throttle, which guards against overload, not against a fleet that is
/// not up yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_before_any_replica_answered_do_not_drain_the_retry_throttle() {
    let port = free_port();
    let config = ClientConfig::builder(format!(
        "http://127.0.0.1:{port},http://127.0.0.1:{}",
        free_port()
    ))
    .retry(RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        budget: Duration::from_secs(10),
        ..RetryPolicy::default()
    })
    .health_checks(false)
    .build()
    .unwrap();
    let client = Client::connect(config).await.unwrap();
    let errors = burst(&client, 50).await;
    assert_eq!(errors.len(), 50);
    let stats = client.stats();
    assert_eq!(stats.throttled, 0, "{stats:?}");
    assert_eq!(stats.retries, 100, "{stats:?}");
}
