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
//!
//! [`serve`] is our own connection loop over hyper, fed by the port's [`Gate`] (plain
//! TCP, [`Gate::incoming`]) or by [`crate::tls::incoming`] (TLS with the gRPC port's
//! certificates, handshake caps and deadline): the gate caps connections, a request head
//! must arrive within `MFN_HEADER_READ_TIMEOUT_S` and its body within
//! `MFN_BODY_READ_TIMEOUT_S` (else 408 and the connection closes), and connections
//! without a request in flight close after `MFN_IDLE_TIMEOUT_S` or at shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use futures::{Stream, StreamExt};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use mfn_service::{ErrorCode, MfnService, ServiceError};
use pin_project_lite::pin_project;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, Sleep};
use tower::{ServiceBuilder, ServiceExt};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::debug;

use crate::config::ConnectionConfig;
use crate::conn::{Activity, Conn, Gate, Guarded};
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
    /// Connection caps and timeouts.
    pub connections: ConnectionConfig,
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

/// Serve the router on the connections `gate` admitted (plain: [`Gate::incoming`]; TLS:
/// [`crate::tls::incoming`] with the same gate) until `shutdown` resolves or the stream
/// ends, then drop the stream (which closes the listener), close the connections without a
/// request in flight at once and let the others finish.
pub async fn serve<IO>(
    connections: impl Stream<Item = io::Result<Conn<IO>>> + Send,
    gate: Gate,
    ctx: HttpContext,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mcp_shutdown = ctx.mcp.shutdown.clone();
    let limits = ctx.connections;
    let app = router(ctx);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // hyper enforces the header timeout only with a timer; it also bounds the wait for
    // the next request on a kept-alive HTTP/1.1 connection.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    // The CONNECT protocol carries WebSockets over HTTP/2.
    builder
        .http2()
        .timer(TokioTimer::new())
        .enable_connect_protocol();
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    // Boxed so that it can be dropped before the drain.
    let mut connections = Box::pin(connections);
    loop {
        let io = tokio::select! {
            () = &mut shutdown => break,
            next = connections.next() => match next {
                Some(Ok(io)) => io,
                Some(Err(error)) => {
                    debug!(%error, "http accept failed");
                    continue;
                }
                None => break,
            },
        };
        let peer = io.peer();
        let service = ConnService {
            app: app.clone(),
            peer,
            activity: io.activity().clone(),
            body_timeout: limits.body_read_timeout,
        };
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(io), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                debug!(%peer, %error, "http connection ended with an error");
            }
        });
    }
    // Closes the listener (the TLS accept loop ends with it).
    drop(connections);
    // MCP sessions hold SSE streams open: end them when the drain starts.
    mcp_shutdown.cancel();
    gate.close_idle();
    graceful.shutdown().await;
    Ok(())
}

/// One connection's view of the router: the peer address the per-IP limits and the audit
/// read, the request accounting of [`crate::conn`], and the body deadline.
#[derive(Clone)]
struct ConnService {
    app: Router,
    peer: SocketAddr,
    activity: Activity,
    body_timeout: Duration,
}

type BoxedResponse = Pin<
    Box<
        dyn Future<Output = Result<axum::response::Response<Guarded<axum::body::Body>>, Infallible>>
            + Send,
    >,
>;

impl hyper::service::Service<axum::http::Request<Incoming>> for ConnService {
    type Response = axum::response::Response<Guarded<axum::body::Body>>;
    type Error = Infallible;
    type Future = BoxedResponse;

    fn call(&self, req: axum::http::Request<Incoming>) -> Self::Future {
        let guard = self.activity.begin();
        let connect = req.method() == Method::CONNECT;
        let (mut parts, body) = req.into_parts();
        parts.extensions.insert(ConnectInfo(self.peer));
        let expired = Arc::new(AtomicBool::new(false));
        let body = DeadlineBody {
            body,
            deadline: Instant::now() + self.body_timeout,
            sleep: None,
            expired: expired.clone(),
            limit: self.body_timeout,
        };
        let req = axum::http::Request::from_parts(parts, axum::body::Body::new(body));
        let (app, activity, limit) = (self.app.clone(), self.activity.clone(), self.body_timeout);
        Box::pin(async move {
            let Ok(mut response) = app.oneshot(req).await;
            if expired.load(Ordering::Acquire) {
                response = body_timeout_response(&response, limit);
            }
            let status = response.status();
            if status == StatusCode::SWITCHING_PROTOCOLS || (connect && status.is_success()) {
                activity.exempt();
            }
            Ok(response.map(|body| Guarded::new(body, Some(guard))))
        })
    }
}

/// The request body did not arrive whole within `MFN_BODY_READ_TIMEOUT_S`.
#[derive(Debug, thiserror::Error)]
#[error("request body not received within {} s (MFN_BODY_READ_TIMEOUT_S)", .0.as_secs())]
struct BodyTimeout(Duration);

pin_project! {
    /// A request body that fails once its deadline passes, however slowly it trickles in.
    struct DeadlineBody<B> {
        #[pin]
        body: B,
        deadline: Instant,
        #[pin]
        sleep: Option<Sleep>,
        expired: Arc<AtomicBool>,
        limit: Duration,
    }
}

impl<B> http_body::Body for DeadlineBody<B>
where
    B: http_body::Body,
    B::Error: Into<axum::BoxError>,
{
    type Data = B::Data;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<B::Data>, axum::BoxError>>> {
        let mut this = self.project();
        if this.body.is_end_stream() {
            return Poll::Ready(None);
        }
        if this.sleep.is_none() {
            this.sleep
                .set(Some(tokio::time::sleep_until(*this.deadline)));
        }
        if let Some(sleep) = this.sleep.as_pin_mut()
            && sleep.poll(cx).is_ready()
        {
            this.expired.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(BodyTimeout(*this.limit).into())));
        }
        this.body.poll_frame(cx).map_err(Into::into)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// 408 with our error body in place of whatever the handler made of the failed read; the
/// rest of the body is never read, so the connection closes.
fn body_timeout_response(
    original: &axum::response::Response,
    limit: Duration,
) -> axum::response::Response {
    use axum::http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
    let err = ServiceError::new(ErrorCode::DeadlineExceeded, BodyTimeout(limit).to_string());
    let id = original.headers().get("x-request-id");
    let id = id.and_then(|v| v.to_str().ok()).unwrap_or("");
    let (_, _, body) = crate::security::error_response(&err, id);
    let mut response = (StatusCode::REQUEST_TIMEOUT, Json(body)).into_response();
    // The request id and CORS headers stay; the body's own headers do not.
    let headers = response.headers_mut();
    for (name, value) in original.headers() {
        if name != CONTENT_TYPE && name != CONTENT_LENGTH {
            headers.append(name, value.clone());
        }
    }
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
    response
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
