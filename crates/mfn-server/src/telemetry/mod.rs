//! Telemetry shared by every door: Prometheus metrics (rendered on the HTTP port's
//! `/metrics`), the request-id layer and the gRPC metrics layer.
//!
//! Metrics go through the `metrics` facade; one Prometheus recorder is installed per
//! process (tests start many servers in one process and share it). Gauges that mirror
//! the service layer's own counters (queue depth, active streams, cache) are refreshed
//! when `/metrics` is scraped, so the hot path never pays for them.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use mfn_service::MfnService;

pub mod grpc_metrics;
pub mod http_metrics;
pub mod otel;
pub mod request_id;

pub use grpc_metrics::GrpcMetricsLayer;
pub use request_id::RequestIdLayer;

/// Latency buckets, seconds: 100 µs to 60 s.
const SECONDS_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
    15.0, 60.0,
];

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

type DroppedLines = Box<dyn Fn() -> u64 + Send + Sync>;
static DROPPED_LOG_LINES: OnceLock<DroppedLines> = OnceLock::new();

/// Where `mfn_log_lines_dropped_total` comes from: the binary's log writer, which drops
/// lines instead of blocking a request when its bounded queue is full.
pub fn report_dropped_log_lines(source: impl Fn() -> u64 + Send + Sync + 'static) {
    let _ = DROPPED_LOG_LINES.set(Box::new(source));
}

/// The process's Prometheus recorder, installed on first use. `None` when another
/// recorder was installed first (then `/metrics` says so instead of lying).
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    PROMETHEUS
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS_BUCKETS)
                .ok()?;
            match builder.install_recorder() {
                Ok(handle) => {
                    describe();
                    process_metrics();
                    upkeep(handle.clone());
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed; /metrics is empty");
                    None
                }
            }
        })
        .as_ref()
}

/// How often histogram samples are folded into their buckets between scrapes.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The recorder keeps every histogram sample until it is folded into the buckets, which
/// a scrape does; a server nobody scrapes grew by ~40 bytes per request (the soak run of
/// docs/RELIABILITY.md). A thread of its own folds them every [`UPKEEP_EVERY`]: the
/// recorder is installed before, and independently of, any runtime.
fn upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("mfn-metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                handle.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "metrics upkeep thread not started; histograms grow until scraped");
    }
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "grpc_requests_total",
        "RPCs finished, by service, method and status (seed 000's name)"
    );
    describe_histogram!(
        "grpc_request_duration_seconds",
        Unit::Seconds,
        "RPC latency by service and method (seed 000's name)"
    );
    describe_counter!("grpc_server_started_total", "RPCs started");
    describe_counter!(
        "grpc_server_handled_total",
        "RPCs completed, by gRPC status code"
    );
    describe_histogram!(
        "grpc_server_handling_seconds",
        Unit::Seconds,
        "RPC latency to the last byte (streams: their whole life)"
    );
    describe_gauge!("grpc_active_streams", "Server streams producing frames now");
    describe_gauge!(
        "mfn_compute_queue_depth",
        "Compute jobs admitted and waiting for a thread"
    );
    describe_gauge!("mfn_compute_running", "Compute jobs running now");
    describe_counter!(
        "mfn_compute_rejected_total",
        "Compute jobs refused because the queue was full"
    );
    describe_counter!(
        "mfn_compute_cancelled_total",
        "Compute jobs stopped because the caller went away"
    );
    describe_histogram!(
        "mfn_compute_seconds",
        Unit::Seconds,
        "Time a compute job ran on a worker"
    );
    describe_counter!("mfn_cache_hits_total", "Result cache hits");
    describe_counter!("mfn_cache_misses_total", "Result cache misses");
    describe_gauge!("mfn_cache_entries", "Entries in the result cache");
    describe_gauge!("mfn_cache_bytes", "Approximate bytes in the result cache");
    describe_counter!(
        "mfn_http_requests_total",
        "HTTP requests on the HTTP port by route template, method and status"
    );
    describe_histogram!(
        "mfn_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency to the response head"
    );
    describe_gauge!(
        "mfn_http_requests_in_progress",
        "HTTP requests being handled now"
    );
    describe_counter!(
        "mfn_stream_cancelled_total",
        "Streams stopped because the client went away"
    );
    describe_gauge!(
        "mfn_connections_open",
        "Connections admitted and open, by port (http, grpc)"
    );
    describe_counter!(
        "mfn_connections_refused_total",
        "Connections closed at accept, by port and reason (max_connections, \
         max_connections_per_ip, max_tls_handshakes)"
    );
    describe_counter!(
        "mfn_connections_closed_total",
        "Connections the server closed, by port and reason (first_request_timeout, \
         idle_timeout, shutdown)"
    );
    describe_gauge!(
        crate::tls::EXPIRY_GAUGE,
        Unit::Seconds,
        "Unix time of the notAfter of the TLS leaf certificate in service (TLS on only)"
    );
    describe_counter!(
        "mfn_tls_reloads_total",
        "TLS certificate reloads after the files changed, by result (success, failure)"
    );
    describe_counter!(
        "mfn_log_lines_dropped_total",
        "log and audit lines dropped because the writer's bounded queue was full"
    );
    describe_gauge!(
        "process_start_time_seconds",
        Unit::Seconds,
        "Unix start time"
    );
}

/// Prometheus text for `/metrics`, with the service layer's gauges refreshed.
pub fn render(svc: &MfnService) -> Option<String> {
    let handle = prometheus()?;
    let gate = svc.gate().stats();
    metrics::gauge!("mfn_compute_queue_depth").set(gate.queued() as f64);
    metrics::gauge!("mfn_compute_running").set(gate.running() as f64);
    metrics::counter!("mfn_compute_rejected_total").absolute(gate.rejected());
    metrics::counter!("mfn_compute_cancelled_total").absolute(gate.cancelled());
    let streams = svc.stream_stats();
    metrics::gauge!("grpc_active_streams").set(streams.active() as f64);
    metrics::counter!("mfn_stream_cancelled_total").absolute(streams.cancelled());
    let (hits, misses, entries, bytes) = svc.cache_stats();
    metrics::counter!("mfn_cache_hits_total").absolute(hits);
    metrics::counter!("mfn_cache_misses_total").absolute(misses);
    metrics::gauge!("mfn_cache_entries").set(entries as f64);
    metrics::gauge!("mfn_cache_bytes").set(bytes as f64);
    if let Some(dropped) = DROPPED_LOG_LINES.get() {
        metrics::counter!("mfn_log_lines_dropped_total").absolute(dropped());
    }
    process_metrics();
    Some(handle.render())
}

/// `process_start_time_seconds`, `process_resident_memory_bytes`,
/// `process_virtual_memory_bytes` and `process_open_fds`, as the Prometheus client
/// libraries name them (Linux `/proc`; absent elsewhere).
fn process_metrics() {
    static START: OnceLock<f64> = OnceLock::new();
    let start = *START.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    });
    metrics::gauge!("process_start_time_seconds").set(start);
    // statm: size resident shared text lib data dt, in pages.
    if let Ok(statm) = std::fs::read_to_string("/proc/self/statm") {
        let mut pages = statm
            .split_whitespace()
            .map(|v| v.parse::<f64>().unwrap_or(0.0));
        let page = 4096.0;
        if let (Some(size), Some(resident)) = (pages.next(), pages.next()) {
            metrics::gauge!("process_virtual_memory_bytes").set(size * page);
            metrics::gauge!("process_resident_memory_bytes").set(resident * page);
        }
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        metrics::gauge!("process_open_fds").set(fds.count() as f64);
    }
}
