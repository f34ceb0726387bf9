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
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderMap, Uri, header};
use mfn_service::{ErrorCode, MfnService, ServiceError};
use rmcp::model::{ClientJsonRpcMessage, ClientRequest};
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use super::McpServer;
use super::sessions::{OwnedSessions, Owner, Reservation, SessionLimits, SessionRegistry};
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

/// The `Origin`/`Host` policy, shared by the requests of the route.
#[derive(Debug, Clone)]
pub struct Guard {
    origins: Arc<Vec<String>>,
    hosts: Arc<Vec<String>>,
}

impl Guard {
    /// The policy of `config`.
    pub fn new(config: &McpHttpConfig) -> Self {
        let origins = Arc::new(config.allowed_origins.clone());
        let hosts = Arc::new(config.allowed_hosts.clone());
        Guard { origins, hosts }
    }

    /// Whether a request with `Origin: origin` may pass.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        match parse_origin(origin) {
            _ if self.origins.iter().any(|o| o == "*") => true,
            Some((_, host, _)) if self.origins.is_empty() => is_loopback(&host),
            Some(got) => self
                .origins
                .iter()
                .any(|o| parse_origin(o).as_ref() == Some(&got)),
            None => false,
        }
    }

    /// Whether a request for `authority` (`host[:port]`) may pass.
    pub fn host_allowed(&self, authority: &str) -> bool {
        let mut allowed = self.hosts.iter().filter_map(|h| split_authority(h));
        match split_authority(authority) {
            _ if self.hosts.iter().any(|h| h == "*") => true,
            Some((host, port)) => allowed.any(|(h, p)| h == host && (p.is_none() || p == port)),
            None => false,
        }
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

/// A request refused as JSON-RPC: the error code, the request id when one can be read,
/// and the error.
pub type Refusal = (i64, Option<serde_json::Value>, ServiceError);

/// A refusal of the request, not of its message: no id, our code.
fn refusal(err: ServiceError) -> Refusal {
    (crate::security::MCP_REFUSAL_CODE, None, err)
}

/// Below authentication, before rmcp: a request naming a session must own it (else 404,
/// as for an unknown session); a POST body is read within the limit and must be one
/// JSON-RPC message; an `initialize` that opens a session needs a free slot.
pub async fn admit(State(admission): State<Admission>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    match admission.check(&mut parts, body).await {
        // The reservation is held until rmcp has answered; by then the new session
        // counts on its own.
        Ok((body, _reservation)) => next.run(Request::from_parts(parts, body)).await,
        Err((code, id, err)) => jsonrpc_error(&parts.headers, &err, code, id),
    }
}

impl Admission {
    /// The body to pass on and the slot of the session the request opens, if any.
    async fn check(
        &self,
        parts: &mut Parts,
        body: Body,
    ) -> Result<(Body, Option<Reservation>), Refusal> {
        let owner = Owner(parts.extensions.get::<Caller>().map(|c| c.key.hash));
        parts.extensions.insert(owner);
        let session = parts.headers.get("mcp-session-id");
        let session = session.map(|v| v.to_str().unwrap_or_default());
        if let Some(id) = session
            && !self.registry.owned_by(id, owner)
        {
            metrics::counter!("mcp_refused_total", "reason" => "session").increment(1);
            return Err(refusal(ServiceError {
                field: Some("mcp-session-id".into()),
                ..ServiceError::new(
                    ErrorCode::NotFound,
                    "session not found: it expired, was closed or never existed; send initialize without mcp-session-id for a new one",
                )
            }));
        }
        if parts.method != http::Method::POST || !is_json(&parts.headers) {
            // rmcp answers the other methods and media types.
            return Ok((body, None));
        }
        let limit = self.max_body_bytes;
        let bytes = read_limited(body, limit).await.map_err(refusal)?;
        let initialize = matches!(one_message(&bytes)?, ClientJsonRpcMessage::Request(r)
            if matches!(r.request, ClientRequest::InitializeRequest(_)));
        let opens = (initialize && session.is_none()).then(|| self.registry.reserve(owner));
        Ok((Body::from(bytes), opens.transpose().map_err(refusal)?))
    }
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
async fn read_limited(body: Body, limit: usize) -> Result<axum::body::Bytes, ServiceError> {
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
pub(crate) fn one_message(body: &[u8]) -> Result<ClientJsonRpcMessage, Refusal> {
    let invalid = |code, id, what: &str, e: serde_json::Error| -> Refusal {
        let e = mfn_service::error::truncate(&e.to_string());
        let err = ServiceError::invalid("body", format!("{what}: {e}"));
        (code, id, err)
    };
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| invalid(PARSE_ERROR, None, "parse error: the body is not JSON", e))?;
    if value.is_array() {
        let err = ServiceError::invalid(
            "body",
            "invalid request: JSON-RPC batches are not supported; send one message per POST",
        );
        return Err((INVALID_REQUEST, None, err));
    }
    let id = value.get("id").filter(|i| i.is_string() || i.is_number());
    let id = id.cloned();
    let what = "invalid request: not a JSON-RPC 2.0 request, notification or response";
    serde_json::from_value(value).map_err(|e| invalid(INVALID_REQUEST, id, what, e))
}

/// 403 unless `Origin` is absent or allowed and `Host` is allowed.
pub async fn guard(State(guard): State<Guard>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let origin = headers.get(header::ORIGIN);
    let (field, name, variable) =
        if !origin.is_none_or(|o| o.to_str().is_ok_and(|o| guard.origin_allowed(o))) {
            ("origin", "Origin", "MFN_MCP_ALLOWED_ORIGINS")
        } else if !host(req.uri(), headers).is_some_and(|h| guard.host_allowed(h)) {
            ("host", "Host", "MFN_MCP_ALLOWED_HOSTS")
        } else {
            return next.run(req).await;
        };
    metrics::counter!("mcp_refused_total", "reason" => field).increment(1);
    let message = format!("{name} is not allowed on /mcp; add it to {variable}");
    let err = ServiceError {
        field: Some(field.to_owned()),
        ..ServiceError::new(ErrorCode::PermissionDenied, message)
    };
    crate::security::reject::<axum::body::Body>(headers, err).into_response()
}

/// Remove the credential headers: authentication is done, and nothing below needs them.
pub async fn strip_credentials(mut req: Request) -> Request {
    let h = req.headers_mut();
    h.remove("x-api-key");
    h.remove(header::AUTHORIZATION);
    h.remove("x-signature");
    req
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

/// A browser origin `scheme://host[:port]` as scheme, host and port, with the scheme's
/// default port filled in.
fn parse_origin(text: &str) -> Option<(String, String, Option<u16>)> {
    let (scheme, rest) = text.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let (host, port) = split_authority(rest.trim_end_matches('/'))?;
    let default = match scheme.as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    };
    Some((scheme, host, port.or(default)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(origins: &[&str], hosts: &[&str]) -> Guard {
        let list = |items: &[&str]| Arc::new(items.iter().map(|s| s.to_string()).collect());
        Guard {
            origins: list(origins),
            hosts: list(hosts),
        }
    }

    #[test]
    fn an_empty_origin_list_allows_loopback_only() {
        let g = guard(&[], &["*"]);
        for (origins, allowed) in [
            (
                "http://localhost:6274 http://127.0.0.1 https://[::1]:8443",
                true,
            ),
            (
                "https://evil.example null http://127.0.0.1.evil.example",
                false,
            ),
        ] {
            for origin in origins.split(' ') {
                assert_eq!(g.origin_allowed(origin), allowed, "{origin}");
            }
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
