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

use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{HeaderMap, Request, Response, StatusCode};
use mfn_service::ServiceError;

pub mod audit;
pub mod auth;
pub mod keys;
pub mod rate_limit;

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
/// (plain TCP or TLS); `None` when the transport does not record it.
pub fn peer_addr<B>(req: &Request<B>) -> Option<SocketAddr> {
    use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
    let ext = req.extensions();
    ext.get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
        .or_else(|| {
            ext.get::<TlsConnectInfo<TcpConnectInfo>>()
                .and_then(|t| t.get_ref().remote_addr())
        })
        .or_else(|| {
            ext.get::<axum::extract::ConnectInfo<SocketAddr>>()
                .map(|c| c.0)
        })
}

/// The refusal for `err` in the protocol of a request with `headers`.
pub fn reject<B: ErrorBody>(headers: &HeaderMap, err: ServiceError) -> Response<B> {
    if is_grpc(headers) {
        return crate::grpc::convert::status(err).into_http::<B>();
    }
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let body = serde_json::json!({
        "error_code": err.code.as_str(),
        "message": err.message,
        "details": [],
        "request_id": request_id,
    });
    let mut response = Response::new(B::from_json(body.to_string()));
    *response.status_mut() =
        StatusCode::from_u16(err.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(after) = err.retry_after {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(after.as_secs().max(1)));
    }
    response
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
        assert_eq!(r.headers()[RETRY_AFTER], "1");
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
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
