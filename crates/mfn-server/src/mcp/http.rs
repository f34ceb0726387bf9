//! Streamable HTTP at `/mcp`: rmcp's [`StreamableHttpService`] as a tower service in
//! the axum router, behind the same layers as REST.
//!
//! Both protocol eras rmcp 3 serves are on: the legacy handshake (`initialize` →
//! `Mcp-Session-Id`, `GET` for the server's SSE stream, `DELETE` to end the session,
//! versions up to 2025-11-25) and the stateless 2026-07-28 revision (`server/discover`,
//! self-contained `_meta` on each request, no session), chosen per request.
//!
//! Layers, in request order (see [`crate::http::router`]):
//! 1. audit: one `mfn::audit` line per HTTP request, refusals included;
//! 2. [`guard`]: `Origin` (DNS rebinding, cross-site browsers) and `Host` checks, 403,
//!    before any credential is looked at;
//! 3. auth and 4. rate limit: the shared [`AuthLayer`](crate::security::AuthLayer)
//!    and [`RateLimitLayer`](crate::security::RateLimitLayer);
//! 5. [`strip_credentials`]: the key headers are removed once authentication is done,
//!    so the request parts rmcp hands to the handler (and might log) never carry a key.
//!
//! 6. [`admit`]: the body limit (`MFN_MAX_MESSAGE_SIZE`, 413, enforced while the body
//!    streams, whatever `Content-Length` says), JSON-RPC parse errors (−32700) and batches
//!    (−32600) as JSON-RPC error bodies, the session caps and ownership of
//!    [`super::sessions`].

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Uri, header};
use mfn_service::{ErrorCode, MfnService, ServiceError};
use rmcp::model::{ClientJsonRpcMessage, ClientRequest};
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use super::McpServer;
use super::sessions::{OwnedSessions, Owner, SessionLimits, SessionRegistry};
use crate::security::{Caller, jsonrpc_error};

/// JSON-RPC 2.0: the body is not JSON.
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC 2.0: the JSON is not a valid request object (a batch, here, too).
pub const INVALID_REQUEST: i64 = -32600;

/// The MCP route's configuration.
#[derive(Debug, Clone)]
pub struct McpHttpConfig {
    /// `MFN_MCP_ALLOWED_ORIGINS`: `*`, or `scheme://host[:port]` entries; empty allows
    /// loopback origins only. A request without `Origin` (not a browser) passes.
    pub allowed_origins: Vec<String>,
    /// `MFN_MCP_ALLOWED_HOSTS`: `*`, or `host` (any port) and `host:port` entries.
    pub allowed_hosts: Vec<String>,
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    /// Cancelled at shutdown: ends the sessions' SSE streams so the server can drain.
    pub shutdown: CancellationToken,
    /// Session caps and idle expiry (`MFN_MCP_MAX_SESSIONS*`, `MFN_MCP_SESSION_IDLE_S`).
    pub sessions: SessionLimits,
}

impl Default for McpHttpConfig {
    fn default() -> Self {
        McpHttpConfig {
            allowed_origins: Vec::new(),
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()],
            max_body_bytes: 10 << 20,
            shutdown: CancellationToken::new(),
            sessions: SessionLimits::default(),
        }
    }
}

/// The `Origin`/`Host` policy, shared by the requests of the route.
#[derive(Debug, Clone)]
pub struct Guard {
    origins: Arc<Vec<String>>,
    hosts: Arc<Vec<String>>,
}

impl Guard {
    /// The policy of `config`.
    pub fn new(config: &McpHttpConfig) -> Self {
        Guard {
            origins: Arc::new(config.allowed_origins.clone()),
            hosts: Arc::new(config.allowed_hosts.clone()),
        }
    }

    /// Whether a request with `Origin: origin` may pass.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        if self.origins.iter().any(|o| o == "*") {
            return true;
        }
        let Some(got) = Origin::parse(origin) else {
            return false;
        };
        if self.origins.is_empty() {
            return is_loopback(&got.host);
        }
        self.origins
            .iter()
            .filter_map(|o| Origin::parse(o))
            .any(|o| o == got)
    }

    /// Whether a request for `authority` (`host[:port]`) may pass.
    pub fn host_allowed(&self, authority: &str) -> bool {
        if self.hosts.iter().any(|h| h == "*") {
            return true;
        }
        let Some((host, port)) = split_authority(authority) else {
            return false;
        };
        self.hosts
            .iter()
            .any(|allowed| match split_authority(allowed) {
                Some((h, p)) => h == host && (p.is_none() || p == port),
                None => false,
            })
    }
}

/// The `/mcp` route with its [`admit`] layer; [`crate::http::router`] adds the others.
pub fn router(svc: MfnService, config: &McpHttpConfig) -> Router {
    let rmcp_config = StreamableHttpServerConfig::default()
        // Host and Origin are checked by `guard`, before authentication.
        .disable_allowed_hosts()
        .disable_allowed_origins()
        .with_max_request_body_bytes(config.max_body_bytes)
        .with_cancellation_token(config.shutdown.clone());
    let registry = Arc::new(SessionRegistry::new(config.sessions));
    let service = StreamableHttpService::new(
        move || Ok(McpServer::new(svc.clone())),
        Arc::new(OwnedSessions::new(registry.clone())),
        rmcp_config,
    );
    let admission = Admission {
        registry,
        max_body_bytes: config.max_body_bytes,
    };
    Router::new()
        .route_service("/mcp", service)
        .layer(axum::middleware::from_fn_with_state(admission, admit))
}

/// What [`admit`] checks requests against.
#[derive(Debug, Clone)]
pub struct Admission {
    registry: Arc<SessionRegistry>,
    max_body_bytes: usize,
}

/// Below authentication, before rmcp: a request naming a session must own it (else 404,
/// as for an unknown session); a POST body is read within the limit and must be one
/// JSON-RPC message; an `initialize` that opens a session needs a free slot.
pub async fn admit(State(admission): State<Admission>, req: Request, next: Next) -> Response {
    let owner = Owner(req.extensions().get::<Caller>().map(|c| c.key.hash));
    let session = req
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    if let Some(id) = &session
        && !admission.registry.owned_by(id, owner)
    {
        metrics::counter!("mcp_refused_total", "reason" => "session").increment(1);
        let err = ServiceError {
            field: Some("mcp-session-id".into()),
            ..ServiceError::new(
                ErrorCode::NotFound,
                "session not found: it expired, was closed or never existed; send initialize without mcp-session-id for a new one",
            )
        };
        return jsonrpc_error(req.headers(), &err, crate::security::MCP_REFUSAL_CODE, None);
    }
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(owner);
    if parts.method != http::Method::POST || !is_json(&parts.headers) {
        // rmcp answers the other methods and media types.
        return next.run(Request::from_parts(parts, body)).await;
    }
    let bytes = match read_limited(body, admission.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(err) => {
            return jsonrpc_error(
                &parts.headers,
                &err,
                crate::security::MCP_REFUSAL_CODE,
                None,
            );
        }
    };
    let opens_session = match one_message(&bytes) {
        Ok(message) => {
            session.is_none()
                && matches!(&message, ClientJsonRpcMessage::Request(r)
                    if matches!(r.request, ClientRequest::InitializeRequest(_)))
        }
        Err((code, id, err)) => return jsonrpc_error(&parts.headers, &err, code, id),
    };
    // Held until rmcp has answered; by then the new session counts on its own.
    let _reservation = if opens_session {
        match admission.registry.reserve(owner) {
            Ok(r) => Some(r),
            Err(err) => {
                return jsonrpc_error(
                    &parts.headers,
                    &err,
                    crate::security::MCP_REFUSAL_CODE,
                    None,
                );
            }
        }
    } else {
        None
    };
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// The body, or 413 once it exceeds `limit` bytes (before reading when
/// `Content-Length` says so).
async fn read_limited(
    body: axum::body::Body,
    limit: usize,
) -> Result<axum::body::Bytes, ServiceError> {
    use futures::StreamExt;
    let too_large = || ServiceError {
        field: Some("body".into()),
        ..ServiceError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "request body is larger than the limit of {limit} bytes (MFN_MAX_MESSAGE_SIZE)"
            ),
        )
    };
    if http_body::Body::size_hint(&body).lower() > limit as u64 {
        return Err(too_large());
    }
    let mut stream = body.into_data_stream();
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ServiceError::invalid("body", format!("cannot read the request body: {e}"))
        })?;
        if out.len() + chunk.len() > limit {
            return Err(too_large());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.into())
}

/// The one JSON-RPC message of `body`, or the JSON-RPC error code, the request id when
/// one can be read, and the error.
#[allow(clippy::type_complexity)]
pub(crate) fn one_message(
    body: &[u8],
) -> Result<ClientJsonRpcMessage, (i64, Option<serde_json::Value>, ServiceError)> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        let err = ServiceError::invalid(
            "body",
            format!(
                "parse error: the body is not JSON: {}",
                mfn_service::error::truncate(&e.to_string())
            ),
        );
        (PARSE_ERROR, None, err)
    })?;
    if value.is_array() {
        let err = ServiceError::invalid(
            "body",
            "invalid request: JSON-RPC batches are not supported; send one message per POST",
        );
        return Err((INVALID_REQUEST, None, err));
    }
    let id = value
        .get("id")
        .filter(|id| id.is_string() || id.is_number())
        .cloned();
    serde_json::from_value(value).map_err(|e| {
        let err = ServiceError::invalid(
            "body",
            format!(
                "invalid request: not a JSON-RPC 2.0 request, notification or response: {}",
                mfn_service::error::truncate(&e.to_string())
            ),
        );
        (INVALID_REQUEST, id, err)
    })
}

/// 403 unless `Origin` is absent or allowed and `Host` is allowed.
pub async fn guard(State(guard): State<Guard>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    if let Some(origin) = headers.get(header::ORIGIN) {
        let ok = origin.to_str().is_ok_and(|o| guard.origin_allowed(o));
        if !ok {
            metrics::counter!("mcp_refused_total", "reason" => "origin").increment(1);
            return refuse(
                headers,
                "origin",
                "Origin is not allowed on /mcp; add it to MFN_MCP_ALLOWED_ORIGINS",
            );
        }
    }
    let authority = host(req.uri(), headers);
    if !authority.is_some_and(|h| guard.host_allowed(h)) {
        metrics::counter!("mcp_refused_total", "reason" => "host").increment(1);
        return refuse(
            headers,
            "host",
            "Host is not allowed on /mcp; add it to MFN_MCP_ALLOWED_HOSTS",
        );
    }
    next.run(req).await
}

/// Remove the credential headers: authentication is done, and nothing below needs them.
pub async fn strip_credentials(mut req: Request) -> Request {
    let h = req.headers_mut();
    h.remove("x-api-key");
    h.remove(header::AUTHORIZATION);
    h.remove("x-signature");
    req
}

fn refuse(headers: &HeaderMap, field: &str, message: &str) -> Response {
    let err = ServiceError {
        field: Some(field.to_owned()),
        ..ServiceError::new(ErrorCode::PermissionDenied, message)
    };
    crate::security::reject::<axum::body::Body>(headers, err).into_response()
}

fn host<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> Option<&'a str> {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
}

/// `host[:port]` → lowercase host without IPv6 brackets, and the port.
fn split_authority(authority: &str) -> Option<(String, Option<u16>)> {
    let authority = authority.trim();
    if authority.is_empty() {
        return None;
    }
    let a: http::uri::Authority = authority.parse().ok()?;
    let host = a.host().trim_start_matches('[').trim_end_matches(']');
    Some((host.to_ascii_lowercase(), a.port_u16()))
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A browser origin, `scheme://host[:port]`, with the scheme's default port filled in.
#[derive(Debug, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    fn parse(text: &str) -> Option<Origin> {
        let (scheme, rest) = text.trim().split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let (host, port) = split_authority(rest.trim_end_matches('/'))?;
        let default = match scheme.as_str() {
            "http" => Some(80),
            "https" => Some(443),
            _ => None,
        };
        Some(Origin {
            scheme,
            host,
            port: port.or(default),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(origins: &[&str], hosts: &[&str]) -> Guard {
        Guard::new(&McpHttpConfig {
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            allowed_hosts: hosts.iter().map(|s| s.to_string()).collect(),
            ..McpHttpConfig::default()
        })
    }

    #[test]
    fn an_empty_origin_list_allows_loopback_only() {
        let g = guard(&[], &["*"]);
        for ok in [
            "http://localhost:6274",
            "http://127.0.0.1",
            "https://[::1]:8443",
        ] {
            assert!(g.origin_allowed(ok), "{ok}");
        }
        for bad in [
            "https://evil.example",
            "null",
            "http://127.0.0.1.evil.example",
        ] {
            assert!(!g.origin_allowed(bad), "{bad}");
        }
    }

    #[test]
    fn listed_origins_match_scheme_host_and_port() {
        let g = guard(
            &["https://app.example.com", "http://tool.local:3000"],
            &["*"],
        );
        assert!(g.origin_allowed("https://app.example.com"));
        assert!(g.origin_allowed("https://APP.example.com:443"));
        assert!(!g.origin_allowed("http://app.example.com"));
        assert!(g.origin_allowed("http://tool.local:3000"));
        assert!(!g.origin_allowed("http://tool.local:3001"));
        assert!(!g.origin_allowed("http://localhost"));
        assert!(guard(&["*"], &["*"]).origin_allowed("https://anything.example"));
    }

    #[test]
    fn hosts_match_with_or_without_port() {
        let g = guard(&[], &["localhost", "127.0.0.1", "[::1]", "mfn.svc:8080"]);
        assert!(g.host_allowed("localhost:8080"));
        assert!(g.host_allowed("127.0.0.1"));
        assert!(g.host_allowed("[::1]:9"));
        assert!(g.host_allowed("mfn.svc:8080"));
        assert!(!g.host_allowed("mfn.svc:8081"));
        assert!(!g.host_allowed("evil.example"));
        assert!(guard(&[], &["*"]).host_allowed("anything:1"));
    }
}
