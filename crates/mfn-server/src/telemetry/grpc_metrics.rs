//! `grpc_server_started_total`, `grpc_server_handled_total{grpc_code}` and
//! `grpc_server_handling_seconds` for every RPC, labelled `grpc_service` and
//! `grpc_method` from the request path; and under seed 000's names, for the reference's
//! dashboards and alerts, `grpc_requests_total{service,method,status}` and
//! `grpc_request_duration_seconds{service,method}`, where `service` is the unqualified
//! service name (`MFNSimulationService`) and `status` the canonical code name (`OK`,
//! `INVALID_ARGUMENT`, … as Python's `grpc.StatusCode.X.name`).
//!
//! A gRPC status arrives either in the response headers (trailers-only responses, i.e.
//! most errors) or in the trailers at the end of the body (every success, and streams).
//! The response body is wrapped so the status is read when the last frame passes; a body
//! dropped before its end (the client went away) counts as `Cancelled`. Each RPC is
//! counted exactly once.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::future::BoxFuture;
use http::{HeaderMap, Request, Response};
use http_body::{Body, Frame, SizeHint};
use tower::{Layer, Service};

/// Adds [`GrpcMetrics`] around a gRPC service.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcMetricsLayer;

impl<S> Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics { inner }
    }
}

/// The gRPC metrics middleware.
#[derive(Debug, Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
}

/// Labels and start time of one RPC; records `handled` once, on completion or drop.
#[derive(Debug)]
struct Rpc {
    service: String,
    method: String,
    /// The service name without its package, seed 000's `service` label.
    short_service: String,
    start: Instant,
    done: bool,
}

impl Rpc {
    fn start(path: &str) -> Self {
        let mut parts = path.trim_start_matches('/').splitn(2, '/');
        let service = parts.next().unwrap_or_default().to_string();
        let method = parts.next().unwrap_or_default().to_string();
        metrics::counter!(
            "grpc_server_started_total",
            "grpc_service" => service.clone(),
            "grpc_method" => method.clone()
        )
        .increment(1);
        let short_service = service.rsplit('.').next().unwrap_or_default().to_string();
        Rpc {
            service,
            method,
            short_service,
            start: Instant::now(),
            done: false,
        }
    }

    fn finish(&mut self, code: &'static str) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        metrics::counter!(
            "grpc_server_handled_total",
            "grpc_service" => self.service.clone(),
            "grpc_method" => self.method.clone(),
            "grpc_code" => code
        )
        .increment(1);
        let elapsed = self.start.elapsed().as_secs_f64();
        metrics::histogram!(
            "grpc_server_handling_seconds",
            "grpc_service" => self.service.clone(),
            "grpc_method" => self.method.clone()
        )
        .record(elapsed);
        metrics::counter!(
            "grpc_requests_total",
            "service" => self.short_service.clone(),
            "method" => self.method.clone(),
            "status" => canonical(code)
        )
        .increment(1);
        metrics::histogram!(
            "grpc_request_duration_seconds",
            "service" => self.short_service.clone(),
            "method" => self.method.clone()
        )
        .record(elapsed);
    }
}

impl Drop for Rpc {
    fn drop(&mut self) {
        self.finish("Cancelled");
    }
}

/// The canonical (upper snake case) name of a status name of [`code_of`].
fn canonical(code: &'static str) -> &'static str {
    match code {
        "OK" => "OK",
        "Cancelled" => "CANCELLED",
        "InvalidArgument" => "INVALID_ARGUMENT",
        "DeadlineExceeded" => "DEADLINE_EXCEEDED",
        "NotFound" => "NOT_FOUND",
        "AlreadyExists" => "ALREADY_EXISTS",
        "PermissionDenied" => "PERMISSION_DENIED",
        "ResourceExhausted" => "RESOURCE_EXHAUSTED",
        "FailedPrecondition" => "FAILED_PRECONDITION",
        "Aborted" => "ABORTED",
        "OutOfRange" => "OUT_OF_RANGE",
        "Unimplemented" => "UNIMPLEMENTED",
        "Internal" => "INTERNAL",
        "Unavailable" => "UNAVAILABLE",
        "DataLoss" => "DATA_LOSS",
        "Unauthenticated" => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    }
}

/// The gRPC status name of a `grpc-status` header, if present.
fn code_of(headers: &HeaderMap) -> Option<&'static str> {
    let n: i32 = headers.get("grpc-status")?.to_str().ok()?.parse().ok()?;
    Some(match tonic::Code::from_i32(n) {
        tonic::Code::Ok => "OK",
        tonic::Code::Cancelled => "Cancelled",
        tonic::Code::Unknown => "Unknown",
        tonic::Code::InvalidArgument => "InvalidArgument",
        tonic::Code::DeadlineExceeded => "DeadlineExceeded",
        tonic::Code::NotFound => "NotFound",
        tonic::Code::AlreadyExists => "AlreadyExists",
        tonic::Code::PermissionDenied => "PermissionDenied",
        tonic::Code::ResourceExhausted => "ResourceExhausted",
        tonic::Code::FailedPrecondition => "FailedPrecondition",
        tonic::Code::Aborted => "Aborted",
        tonic::Code::OutOfRange => "OutOfRange",
        tonic::Code::Unimplemented => "Unimplemented",
        tonic::Code::Internal => "Internal",
        tonic::Code::Unavailable => "Unavailable",
        tonic::Code::DataLoss => "DataLoss",
        tonic::Code::Unauthenticated => "Unauthenticated",
    })
}

impl<S, B, RB> Service<Request<B>> for GrpcMetrics<S>
where
    S: Service<Request<B>, Response = Response<RB>> + Send,
    S::Future: Send + 'static,
    RB: Body,
{
    type Response = Response<MetricsBody<RB>>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let mut rpc = Rpc::start(req.uri().path());
        let fut = self.inner.call(req);
        Box::pin(async move {
            let resp = match fut.await {
                Ok(r) => r,
                Err(e) => {
                    rpc.finish("Internal");
                    return Err(e);
                }
            };
            if let Some(code) = code_of(resp.headers()) {
                rpc.finish(code);
            }
            Ok(resp.map(|inner| MetricsBody { inner, rpc }))
        })
    }
}

pin_project_lite::pin_project! {
    /// A response body that records the RPC's status when its trailers pass.
    #[derive(Debug)]
    pub struct MetricsBody<B> {
        #[pin]
        inner: B,
        rpc: Rpc,
    }
}

impl<B: Body> Body for MetricsBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(code) = frame.trailers_ref().and_then(code_of) {
                    this.rpc.finish(code);
                }
            }
            Poll::Ready(Some(Err(_))) => this.rpc.finish("Internal"),
            Poll::Ready(None) => this.rpc.finish("OK"),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
