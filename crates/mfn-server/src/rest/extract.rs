//! The REST request context and body, and the JSON error body of SERVICE.md.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use mfn_service::{ErrorCode, RequestContext, ServiceError};

use crate::telemetry::request_id::REQUEST_ID;

/// A [`ServiceError`] answered by [`crate::security::error_response`], the mapping every
/// HTTP error shares.
#[derive(Debug)]
pub struct ApiError {
    /// What went wrong.
    pub error: ServiceError,
    /// The request's id.
    pub request_id: String,
}

impl ApiError {
    /// `error` on the request whose headers are `headers`.
    pub fn new(error: ServiceError, headers: &HeaderMap) -> Self {
        let request_id = request_id(headers);
        ApiError { error, request_id }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, headers, body) =
            crate::security::error_response(&self.error, &self.request_id);
        (status, headers, axum::Json(body)).into_response()
    }
}

/// The id the request-id layer put on the request.
pub fn request_id(headers: &HeaderMap) -> String {
    id(headers).unwrap_or_default().to_owned()
}

/// The service's request context for a request with `headers`.
pub fn context(headers: &HeaderMap) -> RequestContext {
    RequestContext::new(id(headers))
}

fn id(headers: &HeaderMap) -> Option<&str> {
    headers.get(REQUEST_ID).and_then(|v| v.to_str().ok())
}

/// The body's bytes; over `DefaultBodyLimit` (`MFN_MAX_MESSAGE_SIZE`) it is 413 with the
/// JSON error body, like every other refusal.
pub async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    let headers = req.headers().clone();
    Bytes::from_request(req, state).await.map_err(|e| {
        let too_large = "request body is larger than the limit (MFN_MAX_MESSAGE_SIZE)";
        let error = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ServiceError::new(ErrorCode::PayloadTooLarge, too_large)
        } else {
            ServiceError::invalid("body", format!("cannot read the request body: {e}"))
        };
        ApiError::new(error, &headers)
    })
}
