//! The gRPC door end to end: a real server from `mfn_server::serve` on port 0 and
//! tonic clients generated from the same `.proto`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::StreamExt;
use mfn_proto::v1 as pb;
use mfn_proto::v1::mfn_features_service_client::MfnFeaturesServiceClient;
use mfn_proto::v1::mfn_simulation_service_client::MfnSimulationServiceClient;
use mfn_proto::v1::mfn_validation_service_client::MfnValidationServiceClient;
use mfn_test_util::{TestServer, http_get};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::codec::CompressionEncoding;
use tonic::{Code, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;

fn sim_req(n: u32, steps: u32) -> pb::RunSimulationRequest {
    pb::RunSimulationRequest {
        grid_size: Some(n),
        steps: Some(steps),
        ..Default::default()
    }
}

fn meta(m: &Option<pb::ResponseMeta>, key: &str) -> String {
    m.as_ref()
        .unwrap()
        .meta
        .get(key)
        .cloned()
        .unwrap_or_default()
}

/// `INVALID_ARGUMENT` whose message and `BadRequest` detail name `field`.
fn assert_invalid(r: Result<impl std::fmt::Debug, Status>, field: &str) {
    let s = r.expect_err("expected INVALID_ARGUMENT");
    assert_eq!(s.code(), Code::InvalidArgument, "{field}: {s:?}");
    assert!(s.message().contains(field), "{field}: {}", s.message());
    let details = s.get_error_details();
    let v = &details
        .bad_request()
        .expect("BadRequest detail")
        .field_violations;
    assert_eq!(v[0].field, field);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_unary_rpc_answers_with_defaults() {
    let server = TestServer::start().await;
    let ch = server.channel().await;

    // RunSimulation: all defaults = the SCIENCE.md §2 golden run.
    let r = MfnSimulationServiceClient::new(ch.clone())
        .run_simulation(pb::RunSimulationRequest {
            request_id: "golden-1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        r.metadata().get("x-request-id").unwrap().to_str().unwrap(),
        "golden-1"
    );
    let r = r.into_inner();
    assert_eq!(r.request_id, "golden-1");
    assert_eq!((r.grid_size, r.steps, r.seed), (64, 64, 42));
    assert_eq!(r.growth_events, 14);
    assert_eq!(r.pot_min_m_v, -70.70938698488536);
    assert_eq!(r.pot_max_m_v, -67.30757873491174);
    assert_eq!(r.pot_mean_m_v, -70.03076248064738);
    assert_eq!(r.pot_std_m_v, 0.3302476077214526);
    assert!(r.field_m_v.is_empty());
    // The digest `mfn simulate --seed 42` prints (README), without sending the field.
    assert_eq!(
        r.field_sha256,
        "881fcee89a280d452ee1bdccb97e2a4b5eba9e0fcbfb7e6b02cf098b899d4e7b"
    );
    assert_eq!(meta(&r.meta, "cache"), "miss");
    assert_eq!(meta(&r.meta, "server_version"), env!("CARGO_PKG_VERSION"));
    assert!(meta(&r.meta, "elapsed_ms").parse::<f64>().unwrap() >= 0.0);

    // MyceliumService/Simulate is the same operation (and now a cache hit).
    let s = server
        .myc()
        .await
        .simulate(pb::RunSimulationRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(meta(&s.meta, "cache"), "hit");
    assert_eq!(
        (s.growth_events, s.pot_mean_m_v),
        (r.growth_events, r.pot_mean_m_v)
    );
    assert_eq!(s.request_id.len(), 36, "a generated UUID");

    // ExtractFeatures with history: the §5 golden.
    let f = MfnFeaturesServiceClient::new(ch.clone())
        .extract_features(pb::ExtractFeaturesRequest {
            grid_size: Some(32),
            steps: Some(32),
            with_history: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let fv = f.features.unwrap();
    assert_eq!(fv.v_min, -71.09454351242177);
    assert_eq!(fv.v_max, -67.27469469838402);
    assert_eq!(fv.t_stable, 32.0);
    assert!((fv.e_trend - -1015.6993654009838).abs() < 1e-9);

    // ValidatePattern and MyceliumService/Validate.
    let v = MfnValidationServiceClient::new(ch.clone())
        .validate_pattern(pb::ValidatePatternRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(v.nernst_numeric_m_v, -89.01066911987907);
    assert!(v.loss_start.is_finite() && v.loss_final.is_finite());
    let v2 = server
        .myc()
        .await
        .validate(pb::ValidatePatternRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(v2.example_fractal_dim, v.example_fractal_dim);
    assert_eq!(meta(&v2.meta, "cache"), "hit");

    // ComputeNernst: absent temperature means 310 K, never 0.
    let n = server
        .myc()
        .await
        .compute_nernst(pb::NernstRequest {
            z_valence: 1,
            concentration_out_m: 0.005,
            concentration_in_m: 0.140,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(n.potential_m_v, -89.01066911987907);
    assert_eq!(n.temperature_k, 310.0);

    // AggregateFederated: the §8 golden.
    let grads = [
        [1.0, 2.0, 3.0],
        [1.1, 2.1, 3.1],
        [0.9, 1.9, 2.9],
        [100.0, 100.0, 100.0],
    ];
    let a = server
        .myc()
        .await
        .aggregate_federated(pb::FederatedAggregateRequest {
            gradients: grads
                .iter()
                .map(|g| pb::Gradient { values: g.to_vec() })
                .collect(),
            num_clusters: Some(2),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.num_input_gradients, 4);
    for (x, want) in a.aggregated_gradient.iter().zip([1.0, 2.0, 3.0]) {
        assert!((x - want).abs() < 1e-12);
    }

    let h = server
        .myc()
        .await
        .health_check(pb::HealthCheckRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(h.status, "SERVING");
    assert_eq!(h.version, env!("CARGO_PKG_VERSION"));
    assert!(h.uptime_seconds >= 0.0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_limit_is_invalid_argument_naming_the_field() {
    let server = TestServer::start().await;
    let mut sim = server.sim().await;
    let cases: Vec<(pb::RunSimulationRequest, &str)> = vec![
        (
            pb::RunSimulationRequest {
                grid_size: Some(3),
                ..Default::default()
            },
            "grid_size",
        ),
        (
            pb::RunSimulationRequest {
                grid_size: Some(513),
                ..Default::default()
            },
            "grid_size",
        ),
        (
            pb::RunSimulationRequest {
                steps: Some(0),
                ..Default::default()
            },
            "steps",
        ),
        (
            pb::RunSimulationRequest {
                steps: Some(10_001),
                ..Default::default()
            },
            "steps",
        ),
        (
            pb::RunSimulationRequest {
                alpha: Some(0.0),
                ..Default::default()
            },
            "alpha",
        ),
        (
            pb::RunSimulationRequest {
                alpha: Some(0.26),
                ..Default::default()
            },
            "alpha",
        ),
        (
            pb::RunSimulationRequest {
                spike_probability: Some(-0.1),
                ..Default::default()
            },
            "spike_probability",
        ),
        (
            pb::RunSimulationRequest {
                spike_probability: Some(1.5),
                ..Default::default()
            },
            "spike_probability",
        ),
        (
            pb::RunSimulationRequest {
                turing_threshold: Some(-0.5),
                ..Default::default()
            },
            "turing_threshold",
        ),
        (
            pb::RunSimulationRequest {
                turing_threshold: Some(2.0),
                ..Default::default()
            },
            "turing_threshold",
        ),
        (
            pb::RunSimulationRequest {
                jitter_var: Some(-1.0),
                ..Default::default()
            },
            "jitter_var",
        ),
        (
            pb::RunSimulationRequest {
                jitter_var: Some(0.02),
                ..Default::default()
            },
            "jitter_var",
        ),
    ];
    for (req, field) in cases {
        assert_invalid(sim.run_simulation(req).await, field);
    }
    // The alpha message cites the CFL limit.
    let s = sim
        .run_simulation(pb::RunSimulationRequest {
            alpha: Some(0.3),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(s.message().contains("0.25"), "{}", s.message());

    let stream = |steps_per_frame, frame_interval_ms| pb::StreamSimulationRequest {
        steps: Some(10),
        steps_per_frame,
        frame_interval_ms,
        ..Default::default()
    };
    assert_invalid(
        sim.stream_simulation(stream(Some(0), 0)).await.map(|_| ()),
        "steps_per_frame",
    );
    assert_invalid(
        sim.stream_simulation(stream(Some(11), 0)).await.map(|_| ()),
        "steps_per_frame",
    );
    assert_invalid(
        sim.stream_simulation(stream(None, 60_001))
            .await
            .map(|_| ()),
        "frame_interval_ms",
    );

    let mut feat = MfnFeaturesServiceClient::new(server.channel().await);
    assert_invalid(
        feat.extract_features(pb::ExtractFeaturesRequest {
            threshold_mv: Some(f64::NAN),
            ..Default::default()
        })
        .await,
        "threshold_mv",
    );
    assert_invalid(
        feat.extract_features(pb::ExtractFeaturesRequest {
            grid_size: Some(512),
            steps: Some(1000),
            with_history: true,
            ..Default::default()
        })
        .await,
        "steps",
    );

    let mut val = MfnValidationServiceClient::new(server.channel().await);
    for (req, field) in [
        (
            pb::ValidatePatternRequest {
                epochs: Some(0),
                ..Default::default()
            },
            "epochs",
        ),
        (
            pb::ValidatePatternRequest {
                epochs: Some(101),
                ..Default::default()
            },
            "epochs",
        ),
        (
            pb::ValidatePatternRequest {
                batch_size: Some(0),
                ..Default::default()
            },
            "batch_size",
        ),
        (
            pb::ValidatePatternRequest {
                batch_size: Some(65),
                ..Default::default()
            },
            "batch_size",
        ),
        (
            pb::ValidatePatternRequest {
                grid_size: Some(2),
                ..Default::default()
            },
            "grid_size",
        ),
        (
            pb::ValidatePatternRequest {
                grid_size: Some(257),
                ..Default::default()
            },
            "grid_size",
        ),
        (
            pb::ValidatePatternRequest {
                steps: Some(0),
                ..Default::default()
            },
            "steps",
        ),
        (
            pb::ValidatePatternRequest {
                steps: Some(1001),
                ..Default::default()
            },
            "steps",
        ),
    ] {
        assert_invalid(val.validate_pattern(req).await, field);
    }

    let mut myc = server.myc().await;
    let k = pb::NernstRequest {
        z_valence: 1,
        concentration_out_m: 0.005,
        concentration_in_m: 0.14,
        ..Default::default()
    };
    for (req, field) in [
        (
            pb::NernstRequest {
                z_valence: 0,
                ..k.clone()
            },
            "z_valence",
        ),
        (
            pb::NernstRequest {
                z_valence: 5,
                ..k.clone()
            },
            "z_valence",
        ),
        (
            pb::NernstRequest {
                concentration_out_m: -1.0,
                ..k.clone()
            },
            "concentration_out_M",
        ),
        (
            pb::NernstRequest {
                concentration_in_m: f64::INFINITY,
                ..k.clone()
            },
            "concentration_in_M",
        ),
        (
            pb::NernstRequest {
                temperature_k: Some(0.0),
                ..k.clone()
            },
            "temperature_K",
        ),
        (
            pb::NernstRequest {
                temperature_k: Some(400.0),
                ..k.clone()
            },
            "temperature_K",
        ),
    ] {
        assert_invalid(myc.compute_nernst(req).await, field);
    }
    let g = |v: &[f64]| pb::Gradient { values: v.to_vec() };
    let four = vec![g(&[1.0, 2.0]); 4];
    for (req, field) in [
        (pb::FederatedAggregateRequest::default(), "gradients"),
        (
            pb::FederatedAggregateRequest {
                gradients: vec![g(&[1.0]), g(&[1.0, 2.0])],
                ..Default::default()
            },
            "gradients",
        ),
        (
            pb::FederatedAggregateRequest {
                gradients: vec![g(&[f64::NAN])],
                ..Default::default()
            },
            "gradients",
        ),
        (
            pb::FederatedAggregateRequest {
                gradients: four.clone(),
                num_clusters: Some(0),
                ..Default::default()
            },
            "num_clusters",
        ),
        (
            pb::FederatedAggregateRequest {
                gradients: four.clone(),
                byzantine_fraction: Some(0.5),
                ..Default::default()
            },
            "byzantine_fraction",
        ),
        (
            pb::FederatedAggregateRequest {
                gradients: four,
                sample_fraction: Some(1.5),
                ..Default::default()
            },
            "sample_fraction",
        ),
    ] {
        assert_invalid(myc.aggregate_federated(req).await, field);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_end_with_the_unary_result_and_keep_the_prefix() {
    let server = TestServer::start().await;
    let mut sim = server.sim().await;
    let stream_req = |steps| pb::StreamSimulationRequest {
        grid_size: Some(32),
        steps: Some(steps),
        steps_per_frame: Some(10),
        include_field: true,
        ..Default::default()
    };
    let frames: Vec<pb::SimulationFrame> = sim
        .stream_simulation(stream_req(25))
        .await
        .unwrap()
        .into_inner()
        .map(|f| f.unwrap())
        .collect()
        .await;
    assert_eq!(
        frames.iter().map(|f| f.step).collect::<Vec<_>>(),
        [10, 20, 25]
    );
    assert!(
        frames
            .iter()
            .all(|f| f.total_steps == 25 && f.field_m_v.len() == 32 * 32)
    );
    let last = frames.last().unwrap();
    assert!(last.is_final && !frames[0].is_final);
    let unary = sim
        .run_simulation(pb::RunSimulationRequest {
            include_field: true,
            ..sim_req(32, 25)
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(last.field_m_v, unary.field_m_v);
    assert_eq!(
        (
            last.growth_events,
            last.pot_min_m_v,
            last.pot_max_m_v,
            last.pot_mean_m_v,
            last.pot_std_m_v,
            last.fractal_dimension
        ),
        (
            unary.growth_events,
            unary.pot_min_m_v,
            unary.pot_max_m_v,
            unary.pot_mean_m_v,
            unary.pot_std_m_v,
            unary.fractal_dimension
        )
    );
    // Prefix property: a 20-step run is the first 20 steps of the 25-step one.
    let short: Vec<_> = sim
        .stream_simulation(stream_req(20))
        .await
        .unwrap()
        .into_inner()
        .map(|f| f.unwrap())
        .collect()
        .await;
    assert_eq!(short[1].field_m_v, frames[1].field_m_v);

    // The seed's SimulateStream and the feature stream end the same way.
    let myc_frames: Vec<_> = server
        .myc()
        .await
        .simulate_stream(stream_req(25))
        .await
        .unwrap()
        .into_inner()
        .map(|f| f.unwrap())
        .collect()
        .await;
    assert_eq!(myc_frames.last().unwrap().field_m_v, last.field_m_v);
    let mut feat = MfnFeaturesServiceClient::new(server.channel().await);
    let ff: Vec<_> = feat
        .stream_features(pb::StreamFeaturesRequest {
            grid_size: Some(16),
            steps: Some(30),
            with_history: true,
            steps_per_frame: Some(7),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .map(|f| f.unwrap())
        .collect()
        .await;
    assert_eq!(
        ff.iter().map(|f| f.step).collect::<Vec<_>>(),
        [7, 14, 21, 28, 30]
    );
    let unary_f = feat
        .extract_features(pb::ExtractFeaturesRequest {
            grid_size: Some(16),
            steps: Some(30),
            with_history: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ff.last().unwrap().features, unary_f.features);
    assert!(ff.last().unwrap().is_final);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_stream_stops_its_computation() {
    let server = TestServer::start().await;
    let mut sim = server.sim().await;
    let mut frames = sim
        .stream_simulation(pb::StreamSimulationRequest {
            grid_size: Some(128),
            steps: Some(10_000),
            steps_per_frame: Some(1),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(frames.next().await.unwrap().unwrap().step, 1);
    drop(frames);
    drop(sim);
    let stats = server.svc.stream_stats();
    let gate = server.svc.gate().stats().clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    // A chunk already running finishes its step after the stream is gone: wait for the
    // gate to be idle too, then nothing more may be computed.
    while stats.cancelled() == 0 || stats.active() != 0 || gate.running() + gate.queued() != 0 {
        assert!(
            Instant::now() < deadline,
            "the stream's computation never stopped"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let done = gate.completed();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(gate.completed(), done);
    assert!(done < 1000, "{done} chunks computed for one frame read");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_fails_fast_with_resource_exhausted() {
    let server = TestServer::builder().compute(1, 0).start().await;
    // Occupy the only compute slot with a long run (~seconds).
    let mut busy = server.sim().await;
    let long = tokio::spawn(async move { busy.run_simulation(sim_req(512, 10_000)).await });
    let gate = server.svc.gate().stats().clone();
    while gate.running() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let t0 = Instant::now();
    let s = server
        .sim()
        .await
        .run_simulation(sim_req(16, 8))
        .await
        .unwrap_err();
    let waited = t0.elapsed();
    assert_eq!(s.code(), Code::ResourceExhausted);
    assert!(s.get_error_details().retry_info().is_some());
    assert!(waited < Duration::from_secs(2), "refusal took {waited:?}");
    assert_eq!(gate.rejected(), 1);
    // A client deadline cancels the long job and frees the slot.
    long.abort();
    let deadline = Instant::now() + Duration::from_secs(10);
    while gate.running() != 0 {
        assert!(Instant::now() < deadline, "cancelled job kept running");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gate.cancelled() >= 1);
    server
        .sim()
        .await
        .run_simulation(sim_req(16, 8))
        .await
        .unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_hits_are_identical_to_misses() {
    let server = TestServer::start().await;
    let mut sim = server.sim().await;
    let req = pb::RunSimulationRequest {
        include_field: true,
        quantum_jitter: true,
        ..sim_req(48, 30)
    };
    let miss = sim.run_simulation(req.clone()).await.unwrap().into_inner();
    let hit = sim.run_simulation(req).await.unwrap().into_inner();
    assert_eq!(meta(&miss.meta, "cache"), "miss");
    assert_eq!(meta(&hit.meta, "cache"), "hit");
    let strip = |mut r: pb::RunSimulationResponse| {
        r.meta = None;
        r.request_id.clear();
        r
    };
    assert_eq!(strip(miss), strip(hit));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_per_service_and_turns_not_serving_on_drain() {
    let mut server = TestServer::start().await;
    let mut health = HealthClient::new(server.channel().await);
    for name in std::iter::once("").chain(mfn_proto::SERVICE_NAMES) {
        let r = health
            .check(HealthCheckRequest {
                service: name.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.status(), ServingStatus::Serving, "{name}");
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "mfn.v1.Nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    // Watch sees the transition when the drain starts.
    let mut watch = health
        .watch(HealthCheckRequest {
            service: "mfn.v1.MFNSimulationService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        watch.next().await.unwrap().unwrap().status(),
        ServingStatus::Serving
    );
    let t0 = Instant::now();
    server.shutdown();
    let next = tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .expect("no health update during drain");
    assert_eq!(next.unwrap().unwrap().status(), ServingStatus::NotServing);
    // Then the watch ends, so it does not hold the drain open until the timeout.
    let end = tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .expect("watch stayed open during drain");
    assert!(end.is_none(), "{end:?}");
    server.stop().await;
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "drain waited for the watcher: {:?}",
        t0.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_unary_calls_and_ends_streams_cleanly() {
    let mut server = TestServer::start().await;
    // A unary call of a second or so, and a long paced stream.
    let mut unary_client = server.sim().await;
    let unary = tokio::spawn(async move { unary_client.run_simulation(sim_req(256, 2000)).await });
    let mut stream = server
        .sim()
        .await
        .stream_simulation(pb::StreamSimulationRequest {
            grid_size: Some(32),
            steps: Some(10_000),
            steps_per_frame: Some(10),
            frame_interval_ms: 20,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    stream.next().await.unwrap().unwrap();
    while server.svc.gate().stats().running() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.shutdown();
    // The unary call completes with its full result.
    let r = unary
        .await
        .unwrap()
        .expect("in-flight unary call must finish");
    assert_eq!(r.into_inner().steps, 2000);
    // The stream ends with a final frame or UNAVAILABLE; never silently.
    let mut ended = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(f) if f.is_final => ended = Some(Ok(())),
            Ok(_) => {}
            Err(s) => {
                ended = Some(Err(s));
                break;
            }
        }
    }
    match ended {
        Some(Ok(())) => {}
        Some(Err(s)) => assert_eq!(s.code(), Code::Unavailable, "{s:?}"),
        None => panic!("stream ended without a final frame or a status"),
    }
    server.stop().await;
}

fn steer_start(paused: bool) -> pb::SteerCommand {
    pb::SteerCommand {
        command: Some(pb::steer_command::Command::Start(pb::SteerStart {
            run: Some(pb::StreamSimulationRequest {
                grid_size: Some(32),
                steps: Some(40),
                steps_per_frame: Some(10),
                include_field: true,
                ..Default::default()
            }),
            paused,
        })),
    }
}

fn steer_set(alpha: Option<f64>, spike: Option<f64>, at: Option<u32>) -> pb::SteerCommand {
    pb::SteerCommand {
        command: Some(pb::steer_command::Command::SetParameters(
            pb::SteerParameters {
                alpha,
                spike_probability: spike,
                apply_at_step: at,
            },
        )),
    }
}

fn steer_resume() -> pb::SteerCommand {
    pb::SteerCommand {
        command: Some(pb::steer_command::Command::Resume(pb::SteerResume {})),
    }
}

/// Send `commands`, then collect every event until the server ends the stream.
async fn steer(
    server: &TestServer,
    commands: Vec<pb::SteerCommand>,
) -> Result<Vec<pb::SteerEvent>, Status> {
    let (tx, rx) = mpsc::channel(16);
    for c in commands {
        tx.send(c).await.unwrap();
    }
    let mut events = server
        .sim()
        .await
        .steer_simulation(ReceiverStream::new(rx))
        .await?
        .into_inner();
    let mut out = Vec::new();
    while let Some(e) = events.next().await {
        let mut e = e?;
        // Request ids and timings differ between runs; everything else must not.
        if let Some(pb::steer_event::Event::Frame(f)) = &mut e.event {
            f.request_id.clear();
            f.meta = None;
        }
        out.push(e);
    }
    drop(tx);
    Ok(out)
}

fn frames_of(events: &[pb::SteerEvent]) -> Vec<&pb::SimulationFrame> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Some(pb::steer_event::Event::Frame(f)) => Some(f),
            _ => None,
        })
        .collect()
}

fn acks_of(events: &[pb::SteerEvent]) -> Vec<&pb::SteerAck> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Some(pb::steer_event::Event::Ack(a)) => Some(a),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steering_is_deterministic_given_the_acknowledged_commands() {
    let server = TestServer::start().await;
    // Unsteered steering run = StreamSimulation.
    let plain = steer(&server, vec![steer_start(false)]).await.unwrap();
    let stream: Vec<_> = server
        .sim()
        .await
        .stream_simulation(match steer_start(false).command {
            Some(pb::steer_command::Command::Start(s)) => s.run.unwrap(),
            _ => unreachable!(),
        })
        .await
        .unwrap()
        .into_inner()
        .map(|f| f.unwrap())
        .collect()
        .await;
    let pf = frames_of(&plain);
    assert_eq!(pf.len(), stream.len());
    assert_eq!(
        pf.last().unwrap().field_m_v,
        stream.last().unwrap().field_m_v
    );

    // Changes scheduled at steps 15 and 25, sent while paused, then resume.
    let script = vec![
        steer_start(true),
        steer_set(Some(0.1), None, Some(15)),
        steer_set(None, Some(0.9), Some(25)),
        steer_resume(),
    ];
    let a = steer(&server, script.clone()).await.unwrap();
    let b = steer(&server, script).await.unwrap();
    assert_eq!(a, b, "same commands, same bytes");
    let acks = acks_of(&a);
    let set: Vec<_> = acks
        .iter()
        .filter(|a| a.command == "set_parameters")
        .collect();
    assert_eq!(
        set.iter().map(|a| a.applied_at_step).collect::<Vec<_>>(),
        [15, 25]
    );
    assert_eq!(set[0].alpha, 0.1);
    assert_eq!(set[1].spike_probability, 0.9);
    let frames = frames_of(&a);
    assert_eq!(
        frames.iter().map(|f| f.step).collect::<Vec<_>>(),
        [10, 20, 30, 40]
    );
    // Before the first change the run is the unsteered one; after it, it differs.
    assert_eq!(frames[0].field_m_v, pf[0].field_m_v);
    assert_ne!(frames[1].field_m_v, pf[1].field_m_v);
    assert_eq!((frames[1].alpha, frames[2].spike_probability), (0.1, 0.9));
    assert!(frames.last().unwrap().is_final);

    // A change without a step, sent while paused at step 0, applies at step 0.
    let now = steer(
        &server,
        vec![
            steer_start(true),
            steer_set(Some(0.2), None, None),
            steer_resume(),
        ],
    )
    .await
    .unwrap();
    let ack = acks_of(&now)
        .into_iter()
        .find(|a| a.command == "set_parameters")
        .unwrap();
    assert_eq!(ack.applied_at_step, 0);
    // Replaying it with the acknowledged step gives the same run.
    let replay = steer(
        &server,
        vec![
            steer_start(true),
            steer_set(Some(0.2), None, Some(0)),
            steer_resume(),
        ],
    )
    .await
    .unwrap();
    assert_eq!(frames_of(&now), frames_of(&replay));

    // Invalid commands end the stream with INVALID_ARGUMENT naming the field.
    let bad = steer(
        &server,
        vec![steer_start(true), steer_set(Some(0.5), None, None)],
    )
    .await;
    assert_invalid(bad, "alpha");
    let first_not_start = steer(&server, vec![steer_resume()]).await;
    assert_invalid(first_not_start, "command");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compression_and_grpc_web() {
    let server = TestServer::start().await;
    for enc in [CompressionEncoding::Gzip, CompressionEncoding::Zstd] {
        let mut c = server
            .sim()
            .await
            .send_compressed(enc)
            .accept_compressed(enc);
        let r = c.run_simulation(sim_req(16, 4)).await.unwrap();
        let got = r
            .metadata()
            .get("grpc-encoding")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(
            got.as_deref(),
            Some(if enc == CompressionEncoding::Gzip {
                "gzip"
            } else {
                "zstd"
            })
        );
    }

    // Accepting gzip without compressing the request: identity back (compressing
    // small responses costs more than it saves).
    let mut plain = server
        .sim()
        .await
        .accept_compressed(CompressionEncoding::Gzip);
    let r = plain.run_simulation(sim_req(16, 4)).await.unwrap();
    assert!(r.metadata().get("grpc-encoding").is_none());

    // gRPC-Web over HTTP/1.1, as a browser sends it.
    use prost::Message;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = sim_req(8, 3).encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /mfn.v1.MFNSimulationService/RunSimulation HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\nOrigin: http://example.test\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        frame.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&frame).await.unwrap();
    let mut resp = Vec::new();
    tcp.read_to_end(&mut resp).await.unwrap();
    let text = String::from_utf8_lossy(&resp);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("access-control-allow-origin"),
        "{text}"
    );
    assert!(text.contains("grpc-status:0"), "{text}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_probes_follow_the_drain() {
    let mut server = TestServer::start().await;
    let get = |path: &'static str, addr: SocketAddr| async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tcp = tokio::net::TcpStream::connect(addr).await?;
        tcp.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
        let mut out = String::new();
        tcp.read_to_string(&mut out).await?;
        Ok::<_, std::io::Error>(out)
    };
    assert!(
        get("/ready", server.http)
            .await
            .unwrap()
            .starts_with("HTTP/1.1 200")
    );
    assert!(
        get("/health", server.http)
            .await
            .unwrap()
            .contains("\"status\":\"ok\"")
    );
    assert!(get("/", server.http).await.unwrap().contains("grpcurl"));
    server.svc.begin_drain();
    assert!(
        get("/ready", server.http)
            .await
            .unwrap()
            .starts_with("HTTP/1.1 503")
    );
    server.shutdown();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_over_the_configured_size_are_refused() {
    let server = TestServer::builder()
        .config(|c| c.network.max_message_bytes = 64 * 1024)
        .start()
        .await;
    // 4 gradients × 4096 doubles = 128 KiB on the wire: over the 64 KiB limit.
    let big = pb::FederatedAggregateRequest {
        gradients: vec![
            pb::Gradient {
                values: vec![1.0; 4096]
            };
            4
        ],
        ..Default::default()
    };
    let s = server
        .myc()
        .await
        .aggregate_federated(big)
        .await
        .unwrap_err();
    // tonic reports an oversized message as OUT_OF_RANGE (grpc-go says RESOURCE_EXHAUSTED).
    assert!(
        matches!(s.code(), Code::OutOfRange | Code::ResourceExhausted),
        "{s:?}"
    );
    // A request under the limit on the same server still works.
    let small = pb::FederatedAggregateRequest {
        gradients: vec![
            pb::Gradient {
                values: vec![1.0; 16]
            };
            4
        ],
        ..Default::default()
    };
    server.myc().await.aggregate_federated(small).await.unwrap();
    server.stop().await;
}

/// The value of the first sample line starting with `prefix` whose labels contain `all`.
fn sample(text: &str, name: &str, all: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(name) && all.iter().all(|a| l.contains(a)))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_every_rpc_by_status_and_request_ids_are_echoed() {
    let server = TestServer::start().await;
    let mut sim = server.sim().await;
    let before = http_get(server.http, "/metrics").await;
    let ok_label = [
        "grpc_service=\"mfn.v1.MFNSimulationService\"",
        "grpc_method=\"RunSimulation\"",
        "grpc_code=\"OK\"",
    ];
    let ok_before = sample(&before, "grpc_server_handled_total", &ok_label).unwrap_or(0.0);

    // A request id sent as metadata comes back as metadata and in the message.
    let mut req = tonic::Request::new(sim_req(16, 4));
    req.metadata_mut()
        .insert("x-request-id", "trace-me-1".parse().unwrap());
    let r = sim.run_simulation(req).await.unwrap();
    assert_eq!(r.metadata().get("x-request-id").unwrap(), "trace-me-1");
    assert_eq!(r.into_inner().request_id, "trace-me-1");
    // Without one, the generated id is the same in both places.
    let r = sim.run_simulation(sim_req(16, 5)).await.unwrap();
    let header = r
        .metadata()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(r.into_inner().request_id, header);
    // An error and a stream.
    let _ = sim.run_simulation(sim_req(2, 4)).await.unwrap_err();
    let frames: Vec<_> = sim
        .stream_simulation(pb::StreamSimulationRequest {
            grid_size: Some(8),
            steps: Some(4),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    assert!(frames.last().unwrap().as_ref().unwrap().is_final);

    let text = http_get(server.http, "/metrics").await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let ok_after = sample(&text, "grpc_server_handled_total", &ok_label).unwrap();
    assert!(ok_after >= ok_before + 2.0, "{ok_before} -> {ok_after}");
    assert!(
        sample(
            &text,
            "grpc_server_handled_total",
            &["grpc_code=\"InvalidArgument\""]
        )
        .unwrap()
            >= 1.0
    );
    assert!(
        sample(
            &text,
            "grpc_server_handled_total",
            &["grpc_method=\"StreamSimulation\"", "grpc_code=\"OK\""]
        )
        .unwrap()
            >= 1.0
    );
    assert!(sample(&text, "grpc_server_started_total", &["RunSimulation"]).unwrap() >= 3.0);
    assert!(
        sample(
            &text,
            "grpc_server_handling_seconds_count",
            &["RunSimulation"]
        )
        .unwrap()
            >= 3.0
    );
    for name in [
        "grpc_active_streams",
        "mfn_compute_queue_depth",
        "mfn_compute_seconds_bucket",
        "mfn_cache_misses_total",
        "process_resident_memory_bytes",
        "process_start_time_seconds",
    ] {
        assert!(
            sample(&text, name, &[]).is_some(),
            "{name} missing:\n{text}"
        );
    }
    server.stop().await;
}

/// Bytes as they are, both ways: a client that sends what no generated stub would.
#[derive(Debug, Clone, Copy, Default)]
struct Raw;

impl tonic::codec::Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl tonic::codec::Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), Status> {
        use prost::bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        use prost::bytes::Buf;
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

/// Issue 17 item 7: a request message that does not decode is the client's error,
/// `INVALID_ARGUMENT` naming the field `request`, not tonic's `INTERNAL`; and the
/// metrics count it so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_request_is_invalid_argument() {
    let server = TestServer::start().await;
    let mut grpc = tonic::client::Grpc::new(server.channel().await);
    for method in [
        "/mfn.v1.MFNSimulationService/RunSimulation",
        "/mfn.v1.MFNFeaturesService/ExtractFeatures",
    ] {
        grpc.ready().await.unwrap();
        let path = http::uri::PathAndQuery::from_static(method);
        // A truncated varint: no protobuf decoder accepts it.
        let r = grpc
            .unary(tonic::Request::new(vec![0x08, 0xff, 0xff]), path, Raw)
            .await;
        assert_invalid(r, "request");
    }
    let text = http_get(server.http, "/metrics").await;
    assert!(
        text.lines()
            .any(|l| l.starts_with("grpc_server_handled_total")
                && l.contains("RunSimulation")
                && l.contains("grpc_code=\"InvalidArgument\"")),
        "{text}"
    );
    server.stop().await;
}
