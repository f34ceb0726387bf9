//! OTLP trace export against a collector built from the OpenTelemetry protocol crate's
//! own generated `TraceService`: a gRPC call carrying a W3C `traceparent` arrives as a
//! `request` span in the caller's trace, with its request id, under the configured
//! service name. (Own test binary: it installs the process-global subscriber.)

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mfn_proto::v1 as pb;
use mfn_proto::v1::mycelium_service_client::MyceliumServiceClient;
use mfn_server::telemetry::otel::Otel;
use mfn_test_util::TestServer;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use tokio::net::TcpListener;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Clone, Default)]
struct Collector {
    received: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.received.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_spans_reach_the_collector_in_the_callers_trace() {
    let collector = Collector::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector_addr = listener.local_addr().unwrap();
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(incoming),
    );

    // Built off the async runtime, as `mfn serve` does.
    let endpoint = format!("http://{collector_addr}");
    let otel = tokio::task::spawn_blocking(move || Otel::start(&endpoint, "mfn-test"))
        .await
        .unwrap()
        .unwrap();
    tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("info"))
        .with(otel.layer())
        .init();

    let server = TestServer::builder()
        .config(|c| c.service.workers = 1)
        .start()
        .await;
    let addr = server.addr;

    let mut client = MyceliumServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let mut req = tonic::Request::new(pb::NernstRequest {
        z_valence: 1,
        concentration_out_m: 0.005,
        concentration_in_m: 0.14,
        ..Default::default()
    });
    req.metadata_mut()
        .insert("x-request-id", "otel-req-1".parse().unwrap());
    req.metadata_mut().insert(
        "traceparent",
        format!("00-{TRACE_ID}-00f067aa0ba902b7-01")
            .parse()
            .unwrap(),
    );
    client.compute_nernst(req).await.unwrap();
    server.stop().await;

    // The batch processor exports on its own schedule; flush, then wait for delivery.
    let mut found = None;
    for _ in 0..50 {
        let otel_ref = &otel;
        tokio::task::block_in_place(|| otel_ref.flush()).unwrap();
        found = collector
            .received
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| r.resource_spans.iter())
            .flat_map(|rs| {
                let service = rs
                    .resource
                    .as_ref()
                    .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
                    .and_then(|a| a.value.as_ref())
                    .and_then(|v| v.value.clone());
                rs.scope_spans
                    .iter()
                    .flat_map(|ss| ss.spans.iter())
                    .map(move |s| (service.clone(), s.clone()))
            })
            .find(|(_, s)| {
                s.name == "request"
                    && s.attributes.iter().any(|a| {
                        a.key == "request_id"
                            && a.value.as_ref().and_then(|v| v.value.clone())
                                == Some(Value::StringValue("otel-req-1".into()))
                    })
            });
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (service, span) = found.expect("the request span reached the collector");
    assert_eq!(service, Some(Value::StringValue("mfn-test".into())));
    assert_eq!(hex::encode(&span.trace_id), TRACE_ID);
    assert_eq!(hex::encode(&span.parent_span_id), "00f067aa0ba902b7");
    let method = span
        .attributes
        .iter()
        .find(|a| a.key == "method")
        .and_then(|a| a.value.as_ref())
        .and_then(|v| v.value.clone());
    assert_eq!(
        method,
        Some(Value::StringValue(
            "/mfn.v1.MyceliumService/ComputeNernst".into()
        ))
    );
}
