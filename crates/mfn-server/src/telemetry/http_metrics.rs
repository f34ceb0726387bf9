//! `mfn_http_*`: every HTTP request on the HTTP port counted and timed by its route
//! template (`/v1/simulate`, not the raw path, so label cardinality stays bounded;
//! unrouted requests share `endpoint="unmatched"`).

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics::{Gauge, counter, gauge, histogram};

/// Decrements the in-progress gauge however the request ends (a client that leaves
/// drops the future).
struct InProgress(Gauge);

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// Middleware for `axum::middleware::from_fn`; mount with `Router::layer` so the
/// matched route is known.
pub async fn track(req: Request, next: Next) -> Response {
    let endpoint = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = req.method().as_str().to_string();
    let in_progress = gauge!("mfn_http_requests_in_progress", "endpoint" => endpoint.clone());
    in_progress.increment(1.0);
    let _guard = InProgress(in_progress);
    let start = Instant::now();
    let response = next.run(req).await;
    counter!(
        "mfn_http_requests_total",
        "endpoint" => endpoint.clone(),
        "method" => method.clone(),
        "status" => response.status().as_u16().to_string(),
    )
    .increment(1);
    histogram!(
        "mfn_http_request_duration_seconds",
        "endpoint" => endpoint,
        "method" => method,
    )
    .record(start.elapsed().as_secs_f64());
    response
}
