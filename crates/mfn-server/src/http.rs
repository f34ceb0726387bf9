//! The HTTP port: probes (`/health`, `/ready`, `/startup`), Prometheus `/metrics`, the
//! WebSocket streams ([`crate::ws`]) and the live page at `/` ([`crate::web`]).

use std::future::Future;
use std::net::SocketAddr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use mfn_service::MfnService;
use serde_json::json;
use tokio::net::TcpListener;

#[derive(Clone)]
struct AppState {
    svc: MfnService,
}

/// The HTTP router.
pub fn router(svc: MfnService, grpc_addr: SocketAddr, ws: crate::ws::WsState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/startup", get(startup))
        .route("/metrics", get(metrics))
        .with_state(AppState { svc })
        .merge(crate::web::router(grpc_addr))
        .merge(crate::ws::router(ws))
}

/// Serve the router on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    svc: MfnService,
    grpc_addr: SocketAddr,
    ws: crate::ws::WsState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Peer addresses feed the per-IP limits of anonymous WebSocket subscriptions.
    let app = router(svc, grpc_addr, ws).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
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

/// Accepting work: false while draining or when the compute queue is full.
async fn ready(State(s): State<AppState>) -> impl IntoResponse {
    let draining = s.svc.is_draining();
    let saturated = s.svc.gate().is_saturated();
    let ok = !draining && !saturated;
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({ "ready": ok, "draining": draining, "compute_saturated": saturated })),
    )
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
