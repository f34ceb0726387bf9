//! The SDK against a real server from `mfn_server::serve`: every RPC, request ids,
//! streams, and the retry policy under overload and while the server is down.

use std::time::Duration;

use futures::StreamExt;
use mfn_client::{
    Client, ClientConfig, ClientError, Code, Compression, RetryPolicy, ServingStatus, pb,
};
use mfn_test_util::TestServer;
use tokio::net::TcpListener;

async fn client(server: &TestServer) -> Client {
    Client::connect(ClientConfig::new(server.url()))
        .await
        .unwrap()
}

fn fast_retries(max_attempts: u32, budget: Duration) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        budget,
        ..RetryPolicy::default()
    }
}

fn small_stream() -> pb::StreamSimulationRequest {
    pb::StreamSimulationRequest {
        grid_size: Some(16),
        steps: Some(30),
        steps_per_frame: Some(10),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_unary_rpc_answers_through_the_client() {
    let server = TestServer::start().await;
    let client = client(&server).await;

    // The SCIENCE.md §2 golden run, all defaults.
    let r = client
        .run_simulation(pb::RunSimulationRequest::default())
        .await
        .unwrap();
    assert_eq!(r.growth_events, 14);
    assert_eq!(r.pot_mean_m_v, -70.03076248064738);
    let s = client
        .simulate(pb::RunSimulationRequest::default())
        .await
        .unwrap();
    assert_eq!(s.growth_events, 14);
    assert_eq!(s.pot_mean_m_v, r.pot_mean_m_v);

    // Request ids: filled in when empty, fresh per call.
    assert!(!r.request_id.is_empty() && !s.request_id.is_empty());
    assert_ne!(r.request_id, s.request_id);
    assert!(
        uuid::Uuid::parse_str(&r.request_id).is_ok(),
        "{}",
        r.request_id
    );
    // ...and kept when the caller chose one.
    let mine = client
        .run_simulation(pb::RunSimulationRequest {
            request_id: "my-id-1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(mine.request_id, "my-id-1");

    let n = client
        .compute_nernst(pb::NernstRequest {
            z_valence: 1,
            concentration_out_m: 0.005,
            concentration_in_m: 0.140,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(n.potential_m_v, -89.01066911987907);
    assert!(!n.request_id.is_empty());

    let f = client
        .extract_features(pb::ExtractFeaturesRequest {
            grid_size: Some(16),
            steps: Some(16),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(f.features.is_some());
    assert!(!f.request_id.is_empty());

    let small = pb::ValidatePatternRequest {
        grid_size: Some(8),
        steps: Some(4),
        ..Default::default()
    };
    let v = client.validate_pattern(small.clone()).await.unwrap();
    assert_eq!(v.nernst_numeric_m_v, -89.01066911987907);
    let v2 = client.validate(small).await.unwrap();
    assert_eq!(v2.example_fractal_dim, v.example_fractal_dim);

    let a = client
        .aggregate_federated(pb::FederatedAggregateRequest {
            gradients: [
                [1.0, 2.0, 3.0],
                [1.1, 2.1, 3.1],
                [0.9, 1.9, 2.9],
                [100.0, 100.0, 100.0],
            ]
            .iter()
            .map(|g| pb::Gradient { values: g.to_vec() })
            .collect(),
            num_clusters: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(a.num_input_gradients, 4);
    for (x, want) in a.aggregated_gradient.iter().zip([1.0, 2.0, 3.0]) {
        assert!((x - want).abs() < 1e-12);
    }

    let h = client.health_check().await.unwrap();
    assert_eq!(h.status, "SERVING");
    assert_eq!(client.health("").await.unwrap(), ServingStatus::Serving);
    assert_eq!(
        client.health("mfn.v1.MFNSimulationService").await.unwrap(),
        ServingStatus::Serving
    );

    // One attempt per call, nothing retried.
    let stats = client.stats();
    assert_eq!(stats.retries, 0);
    assert_eq!(stats.attempts, 11);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_and_signed_requests_are_answered() {
    let server = TestServer::start().await;
    for compression in [Compression::Gzip, Compression::Zstd] {
        // The server does not check auth here; the headers must simply not get in the way.
        let client = Client::connect(
            ClientConfig::builder(server.url())
                .signed("test-key")
                .compression(compression)
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
        let r = client
            .run_simulation(pb::RunSimulationRequest::default())
            .await
            .unwrap();
        assert_eq!(r.growth_events, 14);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_yield_frames_and_end_with_the_final_one() {
    let server = TestServer::start().await;
    let client = client(&server).await;

    for frames in [
        client.stream_simulation(small_stream()).await.unwrap(),
        client.simulate_stream(small_stream()).await.unwrap(),
    ] {
        let frames: Vec<_> = frames.map(|f| f.unwrap()).collect().await;
        let steps: Vec<u32> = frames.iter().map(|f| f.step).collect();
        assert_eq!(steps, [10, 20, 30]);
        assert!(frames.last().unwrap().is_final);
        assert!(frames[..2].iter().all(|f| !f.is_final));
        assert!(!frames[0].request_id.is_empty());
    }

    let features: Vec<_> = client
        .stream_features(pb::StreamFeaturesRequest {
            grid_size: Some(16),
            steps: Some(20),
            steps_per_frame: Some(10),
            ..Default::default()
        })
        .await
        .unwrap()
        .map(|f| f.unwrap())
        .collect()
        .await;
    assert_eq!(features.len(), 2);
    assert!(features[1].is_final && features[1].features.is_some());

    // Steering: start, then stop at once; the run ends with a final frame.
    let commands = futures::stream::iter([
        pb::SteerCommand {
            command: Some(pb::steer_command::Command::Start(pb::SteerStart {
                run: Some(small_stream()),
                paused: true,
            })),
        },
        pb::SteerCommand {
            command: Some(pb::steer_command::Command::Resume(pb::SteerResume {})),
        },
    ]);
    let mut events = client.steer_simulation(commands).await.unwrap();
    let (mut acks, mut last) = (0, None);
    while let Some(e) = events.next().await {
        match e.unwrap().event.unwrap() {
            pb::steer_event::Event::Ack(_) => acks += 1,
            pb::steer_event::Event::Frame(f) => last = Some(f),
        }
    }
    assert_eq!(acks, 2);
    let last = last.unwrap();
    assert!(
        uuid::Uuid::parse_str(&last.request_id).is_ok(),
        "{}",
        last.request_id
    );
    assert!(last.is_final && last.step == 30);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_argument_is_not_retried() {
    let server = TestServer::start().await;
    let client = client(&server).await;
    let err = client
        .run_simulation(pb::RunSimulationRequest {
            grid_size: Some(3),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(Code::InvalidArgument), "{err}");
    assert_eq!(err.field(), Some("grid_size"));
    assert!(err.to_string().starts_with("invalid_argument: "), "{err}");
    assert_eq!(client.stats().attempts, 1);

    // A stream refused at the opening call is not retried either.
    let err = match client
        .stream_simulation(pb::StreamSimulationRequest {
            steps: Some(0),
            ..Default::default()
        })
        .await
    {
        Err(e) => e,
        Ok(_) => panic!("steps 0 was accepted"),
    };
    assert_eq!(err.code(), Some(Code::InvalidArgument), "{err}");
    assert_eq!(client.stats().attempts, 2);
    assert_eq!(client.stats().retries, 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_exhausted_is_retried_until_the_budget_is_spent() {
    let server = TestServer::builder().compute(1, 0).start().await;
    // One long run holds the only compute slot.
    let long_client = client(&server).await;
    let long = tokio::spawn(async move {
        long_client
            .run_simulation(pb::RunSimulationRequest {
                grid_size: Some(512),
                steps: Some(10_000),
                ..Default::default()
            })
            .await
    });
    let gate = server.svc.gate().stats().clone();
    tokio::time::timeout(Duration::from_secs(10), async {
        while gate.running() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the long run never started");

    let client = Client::connect(
        ClientConfig::builder(server.url())
            .retry(fast_retries(10, Duration::from_millis(1500)))
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    let err = client
        .run_simulation(pb::RunSimulationRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(Code::ResourceExhausted), "{err}");
    let stats = client.stats();
    assert!(stats.attempts >= 2, "{stats:?}");
    assert_eq!(stats.retries, stats.attempts - 1);
    // The server's 250 ms RetryInfo is the minimum wait: 1.5 s leaves room for ≤ 7.
    assert!(stats.attempts <= 7, "{stats:?}");

    long.abort();
    let _ = long.await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_is_retried_until_the_server_comes_up() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");

    // Nothing listens: an eager connect fails at once.
    let err = Client::connect(ClientConfig::new(url.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Transport(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.starts_with("transport error: "), "{text}");

    let client = Client::connect_lazy(
        ClientConfig::builder(url)
            .retry(fast_retries(50, Duration::from_secs(20)))
            .build()
            .unwrap(),
    )
    .unwrap();
    let c = client.clone();
    let call = tokio::spawn(async move {
        c.compute_nernst(pb::NernstRequest {
            z_valence: 1,
            concentration_out_m: 0.005,
            concentration_in_m: 0.140,
            ..Default::default()
        })
        .await
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!call.is_finished());
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let server = TestServer::builder().grpc_listener(listener).start().await;

    let n = tokio::time::timeout(Duration::from_secs(20), call)
        .await
        .expect("call did not finish")
        .unwrap()
        .unwrap();
    assert_eq!(n.potential_m_v, -89.01066911987907);
    let stats = client.stats();
    assert!(stats.attempts >= 2, "{stats:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_gives_up_after_max_attempts() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = Client::connect_lazy(
        ClientConfig::builder(format!("http://127.0.0.1:{port}"))
            .retry(fast_retries(3, Duration::from_secs(20)))
            .build()
            .unwrap(),
    )
    .unwrap();
    let err = client.health_check().await.unwrap_err();
    assert_eq!(err.code(), Some(Code::Unavailable), "{err}");
    assert_eq!(client.stats().attempts, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_and_key_modes_pass_the_servers_auth_and_failures_are_not_retried() {
    use mfn_client::AuthMode;
    use mfn_server::config::AuthMode as ServerAuth;
    use mfn_server::security::keys::hash_key;

    let key = "c0ffee".repeat(10);
    let server = TestServer::builder()
        .auth(ServerAuth::Signed)
        .config(|c| c.auth.api_key_hashes = vec![hash_key(&key)])
        .start()
        .await;
    // Signed: a fresh timestamp, id and signature per call, so calls never look replayed.
    let signed = Client::connect(
        ClientConfig::builder(server.url())
            .signed(&key)
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    for _ in 0..3 {
        let r = signed
            .compute_nernst(pb::NernstRequest {
                z_valence: 1,
                concentration_out_m: 0.005,
                concentration_in_m: 0.140,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(r.potential_m_v, -89.01066911987907);
    }
    let frames: Vec<_> = signed
        .stream_simulation(small_stream())
        .await
        .unwrap()
        .collect()
        .await;
    assert!(frames.last().unwrap().as_ref().unwrap().is_final);

    // A wrong key, or a bare key where signatures are required: UNAUTHENTICATED, once.
    for config in [
        ClientConfig::builder(server.url())
            .signed("not-the-key")
            .retry(fast_retries(4, Duration::from_secs(5)))
            .build()
            .unwrap(),
        ClientConfig::builder(server.url())
            .api_key(&key)
            .auth_mode(AuthMode::Key)
            .retry(fast_retries(4, Duration::from_secs(5)))
            .build()
            .unwrap(),
    ] {
        let client = Client::connect(config).await.unwrap();
        let e = client
            .run_simulation(pb::RunSimulationRequest::default())
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(Code::Unauthenticated), "{e}");
        assert_eq!(
            client.stats().attempts,
            1,
            "auth failures must not be retried"
        );
    }
    server.stop().await;
}
