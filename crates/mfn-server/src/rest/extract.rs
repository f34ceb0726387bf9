//! The REST request context and body, and the JSON error body of SERVICE.md.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mfn_service::response::ErrorResponse;
use mfn_service::{ErrorCode, RequestContext, ServiceError};

use crate::telemetry::request_id::REQUEST_ID;

/// A [`ServiceError`] answered as `{"error_code","message","details","request_id"}` with
/// the HTTP status of its [`ErrorCode`] (and `Retry-After` when it has a retry hint).
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
        ApiError {
            error,
            request_id: request_id(headers),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.error.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorResponse::new(&self.error, &self.request_id);
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(after) = self.error.retry_after {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(after.as_secs().max(1)),
            );
        }
        response
    }
}

/// The id the request-id layer put on the request.
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The service's request context for a request with `headers`.
pub fn context(headers: &HeaderMap) -> RequestContext {
    RequestContext::new(headers.get(REQUEST_ID).and_then(|v| v.to_str().ok()))
}

/// The body's bytes; over `DefaultBodyLimit` (`MFN_MAX_MESSAGE_SIZE`) it is 413 with the
/// JSON error body, like every other refusal.
pub async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    let headers = req.headers().clone();
    Bytes::from_request(req, state).await.map_err(|e| {
        let error = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ServiceError::new(
                ErrorCode::PayloadTooLarge,
                "request body is larger than the limit (MFN_MAX_MESSAGE_SIZE)",
            )
        } else {
            ServiceError::invalid("body", format!("cannot read the request body: {e}"))
        };
        ApiError::new(error, &headers)
    })
}
