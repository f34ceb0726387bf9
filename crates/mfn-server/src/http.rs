//! The HTTP port (`MFN_HTTP_PORT`, 8080): REST (`/v1/...` and the reference's aliases),
//! the API description (`/openapi.json`, `/docs`), probes (`/health`, `/ready`,
//! `/startup`), Prometheus `/metrics`, the WebSocket streams ([`crate::ws`]), the MCP
//! door at `/mcp` ([`crate::mcp::http`]) and the live page at `/` ([`crate::web`]).
//!
//! Layers, outermost first: CORS, request id, `mfn_http_*` metrics, body limit; the API
//! routes add the same security stack as gRPC (audit → auth → rate limit), sharing its
//! key set, replay cache and per-key limits. Probes, metrics, docs and the page stay
//! open; the WebSocket routes authenticate in-protocol (browsers cannot set headers on
//! an upgrade) with the same `AuthLayer` and limits.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use mfn_service::{ErrorCode, MfnService, ServiceError};
use serde_json::json;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::rest::{self, ApiError};
use crate::security::{AuditLayer, AuthLayer, RateLimitLayer};
use crate::telemetry::{RequestIdLayer, http_metrics};

/// What the HTTP port needs from the server.
#[derive(Clone)]
pub struct HttpContext {
    /// The service layer.
    pub svc: MfnService,
    /// Where gRPC listens (shown on the landing page).
    pub grpc_addr: SocketAddr,
    /// Largest request body (`MFN_MAX_MESSAGE_SIZE`).
    pub max_body_bytes: usize,
    /// Allowed CORS origins (`MFN_CORS_ORIGINS`).
    pub cors_allowed_origins: Vec<String>,
    /// The authentication layer shared with gRPC.
    pub auth: AuthLayer,
    /// The rate limits shared with gRPC.
    pub rate_limits: RateLimitLayer,
    /// `MFN_METRICS_AUTH`: `/metrics` needs a key.
    pub metrics_auth: bool,
    /// WebSocket session sizing and timing.
    pub ws: crate::ws::WsConfig,
    /// `/mcp`: allowed origins and hosts, and the shutdown signal of its sessions.
    pub mcp: crate::mcp::http::McpHttpConfig,
}

#[derive(Clone)]
struct AppState {
    svc: MfnService,
}

/// The HTTP router.
pub fn router(ctx: HttpContext) -> Router {
    let api = rest::api_router(ctx.svc.clone()).layer(
        ServiceBuilder::new()
            .layer(AuditLayer::new(axum::body::Body::new))
            .layer(ctx.auth.clone())
            .layer(ctx.rate_limits.clone()),
    );
    let mcp_config = crate::mcp::http::McpHttpConfig {
        max_body_bytes: ctx.max_body_bytes,
        ..ctx.mcp.clone()
    };
    let guard = crate::mcp::http::Guard::new(&mcp_config);
    let mcp = crate::mcp::http::router(ctx.svc.clone(), &mcp_config).layer(
        ServiceBuilder::new()
            // One line per request, refusals included.
            .layer(AuditLayer::new(axum::body::Body::new))
            // Origin and Host first: a rebinding page learns nothing about keys.
            .layer(axum::middleware::from_fn_with_state(
                guard,
                crate::mcp::http::guard,
            ))
            // The same keys, replay cache and per-key limits as every door.
            .layer(ctx.auth.clone())
            .layer(ctx.rate_limits.clone())
            // Below here no header carries a key (rmcp hands the parts to the handler).
            .layer(axum::middleware::map_request(
                crate::mcp::http::strip_credentials,
            )),
    );
    let ws = crate::ws::router(crate::ws::WsState {
        svc: ctx.svc.clone(),
        auth: ctx.auth.clone(),
        limits: ctx.rate_limits.clone(),
        config: ctx.ws.clone(),
    });
    let mut metrics_route = get(metrics);
    if ctx.metrics_auth {
        metrics_route = metrics_route.route_layer(axum::middleware::from_fn_with_state(
            ctx.auth.clone(),
            metrics_guard,
        ));
    }
    let open = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/startup", get(startup))
        .route("/metrics", metrics_route)
        .with_state(AppState {
            svc: ctx.svc.clone(),
        });
    Router::new()
        .merge(api)
        .merge(rest::docs_router())
        .merge(open)
        .merge(crate::web::router(ctx.grpc_addr))
        .merge(ws)
        .merge(mcp)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(ctx.max_body_bytes))
        .layer(axum::middleware::from_fn(http_metrics::track))
        .layer(RequestIdLayer)
        .layer(cors(&ctx.cors_allowed_origins))
}

/// Serve the router on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    ctx: HttpContext,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // MCP sessions hold SSE streams open: end them when the drain starts.
    let mcp_shutdown = ctx.mcp.shutdown.clone();
    let shutdown = async move {
        shutdown.await;
        mcp_shutdown.cancel();
    };
    // Streamed responses (MCP's SSE, WebSocket frames) are several small writes; with
    // Nagle on, the second one waits for the client's delayed ACK (~40 ms a call).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp: &mut tokio::net::TcpStream| {
        let _ = tcp.set_nodelay(true);
    });
    // The peer address feeds the per-IP limits and the audit line.
    axum::serve(
        listener,
        router(ctx).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// The origins `MFN_CORS_ORIGINS` allows (`*` for any), for the gRPC-Web and HTTP ports.
pub fn allowed_origins(origins: &[String]) -> AllowOrigin {
    if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| o.parse().ok()))
    }
}

fn cors(origins: &[String]) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(allowed_origins(origins))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers(tower_http::cors::Any)
        .expose_headers([
            axum::http::HeaderName::from_static("x-request-id"),
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderName::from_static("x-ratelimit-limit"),
            axum::http::HeaderName::from_static("x-ratelimit-remaining"),
        ])
        .max_age(Duration::from_secs(600))
}

async fn not_found(method: Method, uri: axum::http::Uri, headers: HeaderMap) -> ApiError {
    ApiError::new(
        ServiceError::new(
            ErrorCode::NotFound,
            format!(
                "no route for {method} {}; the API is described at /openapi.json",
                uri.path()
            ),
        ),
        &headers,
    )
}

async fn method_not_allowed(
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> axum::response::Response {
    let mut response = ApiError::new(
        ServiceError::invalid(
            "method",
            format!(
                "{method} is not allowed on {}; see /openapi.json",
                uri.path()
            ),
        ),
        &headers,
    )
    .into_response();
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
}

/// Alive: the process answers.
async fn health(State(s): State<AppState>) -> impl IntoResponse {
    let h = s.svc.health();
    Json(json!({
        "status": "ok",
        "version": h.version,
        "uptime_seconds": h.uptime_seconds,
    }))
}

/// Accepting work: false while draining, when the compute queue is full, or when every
/// compute worker is held by a job older than the operation deadline.
async fn ready(State(s): State<AppState>) -> impl IntoResponse {
    let draining = s.svc.is_draining();
    let saturated = s.svc.gate().is_saturated();
    let stuck = s.svc.gate().is_stuck(s.svc.config().tool_timeout);
    let ok = !draining && !saturated && !stuck;
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "ready": ok,
            "draining": draining,
            "compute_saturated": saturated,
            "compute_overdue": stuck,
        })),
    )
}

/// `MFN_METRICS_AUTH`: a scraper presents a key (`Authorization: Bearer` or
/// `x-api-key`), without a signature even in signed mode; failures count towards the
/// client's throttle like any other.
async fn metrics_guard(
    State(auth): State<AuthLayer>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let peer = crate::security::peer_addr(&req).map(|a| a.ip());
    let refused = match auth.check_peer(peer) {
        Err(e) => Some(e),
        Ok(()) => auth
            .check_key(req.headers(), "metrics", "/metrics")
            .err()
            .map(|f| {
                auth.note_failure(peer);
                f.error()
            }),
    };
    match refused {
        Some(e) => crate::security::reject::<axum::body::Body>(req.headers(), e),
        None => next.run(req).await,
    }
}

/// Prometheus text exposition of every metric.
async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    match crate::telemetry::render(&s.svc) {
        Some(text) => (
            StatusCode::OK,
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        ),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8",
            )],
            "metrics recorder unavailable\n".to_string(),
        ),
    }
}

/// Started: the server is initialised (it is, once this router answers).
async fn startup() -> impl IntoResponse {
    Json(json!({ "started": true }))
}
