//! The HTTP port: probes (`/health`, `/ready`, `/startup`), Prometheus `/metrics` and a
//! landing page that says where the API is. REST, WebSocket, metrics and the live page join this router.

use std::future::Future;
use std::net::SocketAddr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use mfn_service::MfnService;
use serde_json::json;
use tokio::net::TcpListener;

#[derive(Clone)]
struct AppState {
    svc: MfnService,
    grpc_addr: SocketAddr,
}

/// The HTTP router.
pub fn router(svc: MfnService, grpc_addr: SocketAddr) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/startup", get(startup))
        .route("/metrics", get(metrics))
        .with_state(AppState { svc, grpc_addr })
}

/// Serve the router on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    svc: MfnService,
    grpc_addr: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(svc, grpc_addr))
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

async fn index(State(s): State<AppState>) -> Html<String> {
    let port = s.grpc_addr.port();
    Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MFN</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem;color:#1d2a21}}
code,pre{{background:#eef3ee;border-radius:4px;padding:.1rem .3rem}}pre{{padding:.8rem;overflow:auto}}h1{{color:#2f5d3a}}</style></head>
<body><h1>MFN — MyceliumFractalNet</h1>
<p>Server version {version}. The gRPC API (package <code>mfn.v1</code>, with reflection) listens on port <b>{port}</b>.</p>
<pre>grpcurl -plaintext 127.0.0.1:{port} list
grpcurl -plaintext -d '{{"grid_size": 64, "steps": 64}}' 127.0.0.1:{port} mfn.v1.MFNSimulationService/RunSimulation</pre>
<p>Probes: <a href="/health">/health</a> · <a href="/ready">/ready</a> · <a href="/startup">/startup</a> · <a href="/metrics">/metrics</a></p>
</body></html>"#,
        version = mfn_service::SERVER_VERSION,
    ))
}
