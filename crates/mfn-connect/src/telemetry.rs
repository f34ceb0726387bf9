//! `mfn_pipeline_*` metrics (through the `metrics` facade, so they land in whatever
//! recorder the binary installed) and the small HTTP endpoint that serves them.
//!
//! | metric | type | labels | meaning |
//! |---|---|---|---|
//! | `mfn_pipeline_consumed_total` | counter | `source` | requests received from the source |
//! | `mfn_pipeline_processed_total` | counter | `operation`, `status` | requests run by the service (`ok` or the error code) |
//! | `mfn_pipeline_published_total` | counter | `sink` | results acknowledged by the sink |
//! | `mfn_pipeline_failed_total` | counter | `stage` | failed attempts that are retried (`service`, `publish`, `poll`) |
//! | `mfn_pipeline_dead_lettered_total` | counter | `error_code` | requests acknowledged by the dead-letter sink |
//! | `mfn_pipeline_in_flight` | gauge | | requests received and not yet acknowledged |
//! | `mfn_pipeline_lag` | gauge | `topic`, `partition` | consumer lag reported by librdkafka (where known) |
//! | `mfn_pipeline_request_seconds` | histogram | `operation` | receipt to acknowledgement |

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

/// Renders the process's metrics in the Prometheus text format.
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// Describe every metric once (help text in `/metrics`).
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "mfn_pipeline_consumed_total",
        "Requests received from the source"
    );
    describe_counter!(
        "mfn_pipeline_processed_total",
        "Requests run by the service, by operation and status"
    );
    describe_counter!(
        "mfn_pipeline_published_total",
        "Results acknowledged by the sink"
    );
    describe_counter!(
        "mfn_pipeline_failed_total",
        "Failed attempts that were retried, by stage"
    );
    describe_counter!(
        "mfn_pipeline_dead_lettered_total",
        "Requests acknowledged by the dead-letter sink, by error code"
    );
    describe_gauge!(
        "mfn_pipeline_in_flight",
        "Requests received and not yet acknowledged"
    );
    describe_gauge!(
        "mfn_pipeline_lag",
        "Consumer lag per partition as librdkafka reports it"
    );
    describe_histogram!(
        "mfn_pipeline_request_seconds",
        Unit::Seconds,
        "Receipt to acknowledgement"
    );
}

#[derive(Clone)]
struct ProbeState {
    render: Render,
    ready: Arc<AtomicBool>,
}

/// Serve `/metrics`, `/healthz` and `/readyz` (503 once draining) on `addr` until
/// `stop` is cancelled. Returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    render: Render,
    ready: Arc<AtomicBool>,
    stop: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route(
            "/metrics",
            get(|State(s): State<ProbeState>| async move { (s.render)() }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(|State(s): State<ProbeState>| async move {
                if s.ready.load(Ordering::Relaxed) {
                    (StatusCode::OK, "ready\n")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "draining\n")
                }
            }),
        )
        .with_state(ProbeState { render, ready });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
    });
    Ok(bound)
}
