//! Every request carries an `x-request-id`: the client's (if it is a sane header value
//! of at most 128 bytes) or a new UUID. It is set on the request, so every layer and
//! handler below sees the same id, and echoed on the response. The request runs inside
//! a `request` tracing span holding the id and the path; the compute gate and stream
//! producers carry that span along, so every log line of the request names its id.

use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::{HeaderValue, Request, Response};
use tower::{Layer, Service};
use tracing::Instrument;

/// Header name of the request id.
pub const REQUEST_ID: &str = "x-request-id";

/// Adds [`RequestId`] to requests and responses.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestId<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestId { inner }
    }
}

/// The request-id middleware.
#[derive(Debug, Clone)]
pub struct RequestId<S> {
    inner: S,
}

impl<S, B, RB> Service<Request<B>> for RequestId<S>
where
    S: Service<Request<B>, Response = Response<RB>> + Send,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let id = req
            .headers()
            .get(REQUEST_ID)
            .filter(|v| !v.is_empty() && v.len() <= 128 && v.to_str().is_ok())
            .cloned()
            .unwrap_or_else(|| {
                HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                    .expect("a UUID is a valid header value")
            });
        req.headers_mut().insert(REQUEST_ID, id.clone());
        let span = tracing::info_span!(
            "request",
            request_id = id.to_str().unwrap_or_default(),
            method = req.uri().path(),
        );
        crate::telemetry::otel::set_parent_from(&span, req.headers());
        let fut = span.in_scope(|| self.inner.call(req));
        Box::pin(
            async move {
                let mut resp = fut.await?;
                resp.headers_mut().entry(REQUEST_ID).or_insert(id);
                Ok(resp)
            }
            .instrument(span),
        )
    }
}
