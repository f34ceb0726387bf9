//! Request decoding for REST: JSON bodies and query strings into the service's request
//! types through [`mfn_service::decode`] (errors name the field), and the JSON error
//! body of SERVICE.md.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
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

/// A JSON body decoded into `T`; the body size limit is axum's `DefaultBodyLimit`.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: ApiRequest,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let headers = req.headers().clone();
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            let error = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ServiceError::new(
                    ErrorCode::PayloadTooLarge,
                    "request body is larger than the limit (MFN_MAX_MESSAGE_SIZE)",
                )
            } else {
                ServiceError::invalid("body", format!("cannot read the request body: {e}"))
            };
            ApiError::new(error, &headers)
        })?;
        decode_json(&bytes)
            .map(ApiJson)
            .map_err(|e| ApiError::new(e, &headers))
    }
}

/// Query parameters decoded into `T` with the same rules as JSON bodies.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: ApiRequest,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        decode_query(query)
            .map(ApiQuery)
            .map_err(|e| ApiError::new(e, &parts.headers))
    }
}

pub use mfn_service::decode::{ApiRequest, decode_json, decode_query};
