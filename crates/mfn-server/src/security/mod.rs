//! Security layers shared by every door: authentication, rate limiting and audit.
//!
//! Each is a tower [`Layer`](tower::Layer) over `http::Request<B>` → `http::Response<B>`,
//! so the same code guards gRPC now and REST, WebSocket and MCP when they arrive. In
//! request order (outermost first):
//!
//! 1. [`AuditLayer`]: one `mfn::audit` line per request, rejected ones included, so it
//!    wraps the others;
//! 2. [`AuthLayer`]: API key (`x-api-key` or `Authorization: Bearer`), and in `signed`
//!    mode an HMAC-SHA256 over `{timestamp}:{request_id}:{path}` inside a time window
//!    with a replay cache (see [`auth`]);
//! 3. [`RateLimitLayer`]: per key token bucket and in-flight limit, per client IP for
//!    anonymous callers (see [`rate_limit`]).
//!
//! A refusal is answered in the caller's protocol: a request whose `content-type` is
//! `application/grpc*` gets a gRPC status (HTTP 200, `grpc-status`, `grpc-message`,
//! `grpc-status-details-bin`), anything else the JSON error body of SERVICE.md
//! (`{"error_code","message","details":[],"request_id"}`) with the HTTP status from
//! [`ErrorCode::http_status`](mfn_service::ErrorCode::http_status).

use std::net::SocketAddr;

use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, Request, Response, StatusCode};
use mfn_service::ServiceError;
use mfn_service::response::ErrorResponse;

pub mod audit;
pub mod auth;
pub mod keys;
pub mod rate_limit;
pub mod throttle;

pub use audit::{AuditLayer, AuditService};
pub use auth::{AuthLayer, AuthService};
pub use keys::{ApiKey, KeySet, Scope, Scopes};
pub use rate_limit::{RateLimitLayer, RateLimitService};

/// A response body the security layers can build their refusals from.
///
/// gRPC refusals use [`Default`] (an empty body: the status travels in headers); HTTP
/// refusals use [`from_json`](ErrorBody::from_json).
pub trait ErrorBody: Default {
    /// A body holding `json`.
    fn from_json(json: String) -> Self;
}

/// Who is calling, as established by [`AuthLayer`]; put in the request's extensions for
/// the layers and handlers below it.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Index of the key in the [`KeySet`].
    pub index: usize,
    /// The key's entry.
    pub key: std::sync::Arc<ApiKey>,
}

/// The caller's key hash prefix (`sha256:` + 12 hex), put in the response's extensions
/// by [`AuthLayer`] for the audit line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerId(pub String);

/// The door a request came through, for the `door` label of the security metrics:
/// `grpc` (gRPC and gRPC-Web by content type), `mcp`, `ws` or `rest` by path.
pub fn door_of<B>(req: &http::Request<B>) -> &'static str {
    let grpc = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/grpc"));
    let path = req.uri().path();
    if grpc {
        "grpc"
    } else if path == "/mcp" || path.starts_with("/mcp/") {
        "mcp"
    } else if path.starts_with("/ws/") {
        "ws"
    } else {
        "rest"
    }
}

/// Paths that need no key: health and reflection, so probes and tools work unauthenticated.
pub const OPEN_PREFIXES: [&str; 3] = [
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

impl ErrorBody for tonic::body::Body {
    fn from_json(json: String) -> Self {
        tonic::body::Body::new(json)
    }
}

impl ErrorBody for axum::body::Body {
    fn from_json(json: String) -> Self {
        axum::body::Body::from(json)
    }
}

/// Whether `path` is one of the [`OPEN_PREFIXES`].
pub fn is_open_path(path: &str) -> bool {
    OPEN_PREFIXES.iter().any(|p| path.starts_with(p))
}

/// Whether the request speaks gRPC (`content-type: application/grpc*`).
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/grpc"))
}

/// The client's address from the connection info tonic puts in the request extensions
/// (ours, or tonic's for plain TCP or TLS) or axum's; `None` when the transport does not record it.
pub fn peer_addr<B>(req: &Request<B>) -> Option<SocketAddr> {
    use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
    let ext = req.extensions();
    ext.get::<crate::conn::ConnInfo>()
        .map(crate::conn::ConnInfo::remote_addr)
        .or_else(|| {
            ext.get::<TcpConnectInfo>()
                .and_then(TcpConnectInfo::remote_addr)
        })
        .or_else(|| {
            ext.get::<TlsConnectInfo<TcpConnectInfo>>()
                .and_then(|t| t.get_ref().remote_addr())
        })
        .or_else(|| {
            ext.get::<axum::extract::ConnectInfo<SocketAddr>>()
                .map(|c| c.0)
        })
}

/// The refusal for `err` in the protocol of a request with `headers`: a gRPC status, or
/// the JSON error body of [`error_response`].
pub fn reject<B: ErrorBody>(headers: &HeaderMap, err: ServiceError) -> Response<B> {
    if is_grpc(headers) {
        return crate::grpc::convert::status(err).into_http::<B>();
    }
    let (status, extra, body) = error_response(&err, request_id(headers));
    http_response(status, extra, body)
}

/// [`reject`] for a request whose path is known: on `/mcp` the body is a JSON-RPC error
/// (`id: null`, our code and hints in `error.data`), which MCP clients hand to the
/// caller as is, where a bare HTTP status would reach an agent only as "server returned
/// an error response".
pub fn reject_request<B: ErrorBody, R>(req: &Request<R>, err: ServiceError) -> Response<B> {
    if door_of(req) != "mcp" || is_grpc(req.headers()) {
        return reject(req.headers(), err);
    }
    jsonrpc_error(req.headers(), &err, MCP_REFUSAL_CODE, None)
}

/// `err` as a JSON-RPC error response to the request with `headers`: JSON-RPC `code`,
/// the request's `id` (or `null`), our code and hints in `error.data`, and the HTTP
/// status and headers of [`error_response`].
pub fn jsonrpc_error<B: ErrorBody>(
    headers: &HeaderMap,
    err: &ServiceError,
    code: i64,
    id: Option<serde_json::Value>,
) -> Response<B> {
    let (status, extra, body) = error_response(err, request_id(headers));
    let rpc = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {
            "code": code,
            "message": err.message,
            "data": body,
        },
    });
    http_response(status, extra, rpc)
}

/// The JSON-RPC error code of an MCP request refused before it reached the MCP server
/// (JSON-RPC's range for server errors).
pub const MCP_REFUSAL_CODE: i64 = -32000;

/// The one mapping of a [`ServiceError`] to an HTTP error, for every refusal and every
/// REST error: the status of its [`ErrorCode`](mfn_service::ErrorCode), the JSON body
/// [`ErrorResponse`] (`error_code`, `message`, `details`, `request_id`, FastAPI's
/// `detail`, and `retry_after` in seconds when throttled) and the headers: `Retry-After`
/// with a retry hint, `WWW-Authenticate` on 401.
pub fn error_response(
    err: &ServiceError,
    request_id: &str,
) -> (StatusCode, HeaderMap, serde_json::Value) {
    let status =
        StatusCode::from_u16(err.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = ErrorResponse::new(err, request_id);
    let mut headers = HeaderMap::new();
    if let Some(after) = body.retry_after {
        headers.insert(RETRY_AFTER, HeaderValue::from(after));
    }
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"API-Key header="X-API-Key""#),
        );
    }
    let body = serde_json::to_value(&body).unwrap_or_default();
    (status, headers, body)
}

fn http_response<B: ErrorBody>(
    status: StatusCode,
    headers: HeaderMap,
    body: serde_json::Value,
) -> Response<B> {
    let mut response = Response::new(B::from_json(body.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.headers_mut().extend(headers);
    response
}

fn request_id(headers: &HeaderMap) -> &str {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mfn_service::ErrorCode;
    use std::time::Duration;

    #[test]
    fn refusals_speak_the_callers_protocol() {
        let mut grpc = HeaderMap::new();
        grpc.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/grpc+proto"),
        );
        let r: Response<tonic::body::Body> = reject(
            &grpc,
            ServiceError::new(ErrorCode::Unauthenticated, "missing x-api-key"),
        );
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["grpc-status"], "16");
        assert_eq!(r.headers()["grpc-message"], "missing%20x-api-key");

        let mut json = HeaderMap::new();
        json.insert("x-request-id", HeaderValue::from_static("r-1"));
        let r: Response<axum::body::Body> = reject(
            &json,
            ServiceError::exhausted("slow down", Duration::from_millis(1500)),
        );
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        // Rounded up: a client that waits the header's seconds is not refused again.
        assert_eq!(r.headers()[RETRY_AFTER], "2");
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
    }

    /// Issue 20: FastAPI-style clients read `detail`, throttled ones `retry_after`, and a
    /// 401 says which header carries the key.
    #[test]
    fn error_bodies_carry_detail_retry_after_and_401_www_authenticate() {
        let (status, headers, body) = error_response(
            &ServiceError::exhausted(
                "rate limited: x; retry after 200 ms",
                Duration::from_millis(200),
            ),
            "r-9",
        );
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(headers[RETRY_AFTER], "1");
        assert_eq!(body["retry_after"], 1);
        assert_eq!(body["detail"], body["message"]);
        assert_eq!(body["request_id"], "r-9");
        assert!(headers.get(WWW_AUTHENTICATE).is_none());
        let (status, headers, body) = error_response(
            &ServiceError::new(ErrorCode::Unauthenticated, "missing x-api-key"),
            "",
        );
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(headers[WWW_AUTHENTICATE], r#"API-Key header="X-API-Key""#);
        assert_eq!(body["detail"], "missing x-api-key");
        assert!(body.get("retry_after").is_none());
    }

    #[test]
    fn mcp_refusals_are_json_rpc_errors() {
        let req = Request::builder().uri("/mcp").body(()).unwrap();
        let r: Response<axum::body::Body> = reject_request(
            &req,
            ServiceError::exhausted(
                "rate limited: y; retry after 5 ms",
                Duration::from_millis(5),
            ),
        );
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        let req = Request::builder().uri("/v1/nernst").body(()).unwrap();
        let r: Response<axum::body::Body> =
            reject_request(&req, ServiceError::new(ErrorCode::Unauthenticated, "no"));
        assert_eq!(
            r.headers()[WWW_AUTHENTICATE],
            r#"API-Key header="X-API-Key""#
        );
    }

    #[test]
    fn only_health_and_reflection_are_open() {
        assert!(is_open_path("/grpc.health.v1.Health/Check"));
        assert!(is_open_path(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
        ));
        assert!(!is_open_path("/mfn.v1.MFNSimulationService/RunSimulation"));
        assert!(!is_open_path("/grpc.health.v1.HealthX/Check"));
    }
}
