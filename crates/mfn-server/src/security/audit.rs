//! The audit trail: one line per request on the tracing target `mfn::audit` at info.
//!
//! Fields (SERVICE.md "Security", and seed 000's log shape): `request_id` (the
//! `x-request-id` header, `-` when absent), `service` (the unqualified gRPC service,
//! `MFNSimulationService`; else the door: `rest`, `mcp`, `ws`), `method` (the RPC's
//! method, `RunSimulation`; else the request path), `path` (the request path),
//! `metadata` (a JSON object of the request's main parameters as the operation registry
//! noted them — `seed`, `grid_size`, `steps`, the graph's `graph` or `name`; `{}` when
//! none), `status` (the gRPC status name from the
//! response headers or trailers, `CANCELLED` when the client went away first; the HTTP
//! status code for other protocols), `duration_ms` (until the response body ended, so a
//! stream is audited when it ends), `api_key_hash` (`sha256:` + 12 hex of the key's hash,
//! `-` when anonymous or unidentified), `peer` and `request_size` (`content-length`, else
//! the bytes counted through the request body). The line's `timestamp` is the one the
//! subscriber stamps on every event; with `MFN_LOG_FORMAT=json` each audit line is one
//! JSON object. Never the key, never a body.
//!
//! The layer sits outside authentication and rate limiting so that refused requests are
//! audited too.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use http::{HeaderMap, Request, Response};
use http_body::{Body, Frame, SizeHint};
use prost::bytes::Buf;
use tower::{Layer, Service};

use mfn_service::ops::AuditNotes;

use super::{CallerId, door_of, is_grpc, peer_addr};

/// The tracing target of audit lines.
pub const TARGET: &str = "mfn::audit";

/// Emits one audit line per request.
pub struct AuditLayer<B> {
    rebox: fn(CountingBody<B>) -> B,
}

/// The [`AuditLayer`]'s service.
pub struct AuditService<S, B> {
    inner: S,
    rebox: fn(CountingBody<B>) -> B,
}

/// A request body that counts the bytes read through it.
#[derive(Debug)]
pub struct CountingBody<B> {
    inner: B,
    count: Arc<AtomicU64>,
}

/// A response body that writes the audit line when it ends or is dropped.
#[derive(Debug)]
pub struct AuditBody<B> {
    inner: B,
    record: Record,
}

/// What the line will say; written once, at the latest when dropped.
#[derive(Debug)]
struct Record {
    start: Instant,
    request_id: String,
    service: String,
    method: String,
    path: String,
    notes: AuditNotes,
    peer: String,
    declared_size: Option<u64>,
    counted: Arc<AtomicU64>,
    api_key_hash: String,
    grpc: bool,
    status: Option<String>,
    written: bool,
}

impl<B> AuditLayer<B> {
    /// A layer that wraps request bodies in a [`CountingBody`] and turns them back into
    /// `B` with `rebox` (for tonic: `|b| tonic::body::Body::new(b)`).
    pub fn new(rebox: fn(CountingBody<B>) -> B) -> Self {
        AuditLayer { rebox }
    }
}

impl<B> Clone for AuditLayer<B> {
    fn clone(&self) -> Self {
        AuditLayer { rebox: self.rebox }
    }
}

impl<S, B> Layer<S> for AuditLayer<B> {
    type Service = AuditService<S, B>;

    fn layer(&self, inner: S) -> AuditService<S, B> {
        AuditService {
            inner,
            rebox: self.rebox,
        }
    }
}

impl<S: Clone, B> Clone for AuditService<S, B> {
    fn clone(&self) -> Self {
        AuditService {
            inner: self.inner.clone(),
            rebox: self.rebox,
        }
    }
}

impl<S, B, ResBody> Service<Request<B>> for AuditService<S, B>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<AuditBody<ResBody>>;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn Future<Output = Result<Response<AuditBody<ResBody>>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let counted = Arc::new(AtomicU64::new(0));
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let path: String = req.uri().path().chars().take(256).collect();
        let (service, method) = if is_grpc(req.headers()) {
            let mut parts = path.trim_start_matches('/').splitn(2, '/');
            let service = parts.next().unwrap_or_default();
            let service = service.rsplit('.').next().unwrap_or_default().to_owned();
            (service, parts.next().unwrap_or_default().to_owned())
        } else {
            (door_of(&req).to_owned(), path.clone())
        };
        // The doors hand this to the operation registry, which notes the parameters.
        let notes = AuditNotes::new();
        let mut record = Record {
            start: Instant::now(),
            // Bounded so that a huge header cannot bloat the log.
            request_id: header("x-request-id")
                .map(|id| id.chars().take(128).collect())
                .unwrap_or_else(|| "-".into()),
            service,
            method,
            path,
            notes: notes.clone(),
            peer: peer_addr(&req).map_or_else(|| "-".into(), |a| a.to_string()),
            declared_size: header("content-length").and_then(|v| v.parse().ok()),
            counted: counted.clone(),
            api_key_hash: "-".into(),
            grpc: is_grpc(req.headers()),
            status: None,
            written: false,
        };
        let mut req = req;
        req.extensions_mut().insert(notes);
        let rebox = self.rebox;
        let req = req.map(|inner| {
            rebox(CountingBody {
                inner,
                count: counted,
            })
        });
        Box::pin(async move {
            // If this future is dropped (the client went away before the response), the
            // record is written as CANCELLED by its Drop.
            let response = match inner.call(req).await {
                Ok(r) => r,
                Err(e) => {
                    record.finish("ERROR".into());
                    return Err(e);
                }
            };
            if let Some(CallerId(id)) = response.extensions().get::<CallerId>() {
                record.api_key_hash = id.clone();
            }
            record.status = if record.grpc {
                grpc_status(response.headers())
            } else {
                Some(response.status().as_u16().to_string())
            };
            Ok(response.map(|inner| AuditBody { inner, record }))
        })
    }
}

impl Record {
    fn finish(&mut self, status: String) {
        if self.written {
            return;
        }
        self.written = true;
        let size = self
            .declared_size
            .unwrap_or_else(|| self.counted.load(Ordering::Relaxed));
        let metadata = serde_json::Value::Object(self.notes.get());
        tracing::info!(
            target: TARGET,
            request_id = %self.request_id,
            service = %self.service,
            method = %self.method,
            path = %self.path,
            metadata = %metadata,
            status = %status,
            duration_ms = self.start.elapsed().as_secs_f64() * 1000.0,
            api_key_hash = %self.api_key_hash,
            peer = %self.peer,
            request_size = size,
            "audit"
        );
    }

    /// The body ended: the status seen so far, else UNKNOWN for gRPC without trailers.
    fn end(&mut self) {
        let status = self.status.take().unwrap_or_else(|| "UNKNOWN".into());
        self.finish(status);
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        if !self.written {
            // Dropped before the body ended: the client cancelled or disconnected,
            // unless the status was already final in the headers.
            let status = self.status.take().unwrap_or_else(|| "CANCELLED".into());
            self.finish(status);
        }
    }
}

impl<B: Body + Unpin> Body for CountingBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            this.count
                .fetch_add(data.remaining() as u64, Ordering::Relaxed);
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

impl<B: Body + Unpin> Body for AuditBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    if let Some(status) = grpc_status(trailers) {
                        this.record.status = Some(status);
                    }
                    this.record.end();
                }
            }
            Poll::Ready(Some(Err(_))) => this.record.finish("ERROR".into()),
            Poll::Ready(None) => this.record.end(),
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

/// The name of the `grpc-status` in `headers`, if present.
fn grpc_status(headers: &HeaderMap) -> Option<String> {
    let code: i32 = headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(code_name(code).to_owned())
}

/// The canonical name of a gRPC status code.
pub fn code_name(code: i32) -> &'static str {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    usize::try_from(code)
        .ok()
        .and_then(|i| NAMES.get(i))
        .copied()
        .unwrap_or("UNKNOWN")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_names_follow_the_grpc_table() {
        assert_eq!(code_name(0), "OK");
        assert_eq!(code_name(8), "RESOURCE_EXHAUSTED");
        assert_eq!(code_name(16), "UNAUTHENTICATED");
        assert_eq!(code_name(17), "UNKNOWN");
        assert_eq!(code_name(-1), "UNKNOWN");
    }
}
