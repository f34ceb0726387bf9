//! A request message that does not decode is the client's error: tonic-prost answers
//! `INTERNAL` (and the metrics count a server error); [`DecodeErrorLayer`] turns it into
//! `INVALID_ARGUMENT` with a `BadRequest` violation of the field `request`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use mfn_service::ServiceError;
use tonic::{Code, Status};
use tower::{Layer, Service};

/// Rewrites tonic's decode failures of a request message; see the [module](self).
#[derive(Debug, Clone, Copy, Default)]
pub struct DecodeErrorLayer;

/// The [`DecodeErrorLayer`]'s service.
#[derive(Debug, Clone)]
pub struct DecodeErrors<S> {
    inner: S,
}

impl<S> Layer<S> for DecodeErrorLayer {
    type Service = DecodeErrors<S>;

    fn layer(&self, inner: S) -> DecodeErrors<S> {
        DecodeErrors { inner }
    }
}

/// What prost could not decode, when `status` is tonic's decode failure.
pub fn decode_failure(status: &Status) -> Option<&str> {
    if status.code() != Code::Internal {
        return None;
    }
    status
        .message()
        .strip_prefix("failed to decode Protobuf message")
        .map(|rest| rest.trim_start_matches(':').trim())
}

/// The error a client gets for a message of `method` that did not decode.
pub fn invalid_message(method: &str, detail: &str) -> ServiceError {
    ServiceError::invalid(
        "request",
        format!(
            "the request is not a valid {} protobuf message: {}",
            mfn_service::error::truncate(method),
            mfn_service::error::truncate(detail)
        ),
    )
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for DecodeErrors<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResBody>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let method = req
            .uri()
            .path()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let response = fut.await?;
            // Decode failures are trailers-only: the status is in the headers.
            if response.headers().get("grpc-status").map(|v| v.as_bytes()) != Some(b"13") {
                return Ok(response);
            }
            let Some(status) = Status::from_header_map(response.headers()) else {
                return Ok(response);
            };
            let Some(detail) = decode_failure(&status) else {
                return Ok(response);
            };
            let (old, _) = response.into_parts();
            let mut fixed =
                super::convert::status(invalid_message(&method, detail)).into_http::<ResBody>();
            for (name, value) in &old.headers {
                if !name.as_str().starts_with("grpc-") && !fixed.headers().contains_key(name) {
                    fixed.headers_mut().insert(name, value.clone());
                }
            }
            Ok(fixed)
        })
    }
}
