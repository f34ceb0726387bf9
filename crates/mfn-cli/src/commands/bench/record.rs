//! What a load run measures: an HDR latency histogram, a count per gRPC status, live
//! counters for the progress line, and the server's resident memory.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mfn_client::{ClientError, Code};
use serde::Serialize;

/// Largest latency the histograms hold, microseconds (one hour); longer ones saturate.
const MAX_MICROS: u64 = 3_600_000_000;

/// Latency percentiles of one histogram, milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Percentiles {
    /// Samples recorded.
    pub count: u64,
    /// Smallest sample.
    pub min: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p99_9: f64,
    /// Largest sample.
    pub max: f64,
}

/// A latency histogram in microseconds with 3 significant digits.
#[derive(Debug, Clone)]
pub struct Latencies(Histogram<u64>);

/// Samples and outcomes shared by every task of a run.
#[derive(Debug)]
pub struct Recorder {
    window: Mutex<Window>,
    /// Calls finished, whatever their status and window (progress line).
    pub finished: AtomicU64,
    /// Calls finished with a status other than OK (progress line).
    pub failed: AtomicU64,
}

#[derive(Debug)]
struct Window {
    latency: Latencies,
    status: BTreeMap<&'static str, u64>,
}

/// `VmRSS` of one process sampled during a run, kB.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RssReport {
    /// The process sampled.
    pub pid: u32,
    /// Before the load started.
    pub before_kb: u64,
    /// Largest sample during the measured window.
    pub peak_kb: u64,
    /// When the load ended (before connections closed).
    pub end_kb: u64,
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies(Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid histogram bounds"))
    }
}

impl Latencies {
    /// Record one sample (saturating at an hour, rounded up to a microsecond).
    pub fn record(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
        self.0.saturating_record(us.min(MAX_MICROS));
    }

    /// Samples recorded.
    pub fn len(&self) -> u64 {
        self.0.len()
    }

    /// Whether no sample was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value at `quantile` (0..=1), milliseconds.
    pub fn quantile_ms(&self, quantile: f64) -> f64 {
        ms(self.0.value_at_quantile(quantile))
    }

    /// All the percentiles the reports show.
    pub fn percentiles(&self) -> Percentiles {
        let h = &self.0;
        if h.is_empty() {
            return Percentiles {
                count: 0,
                min: 0.0,
                mean: 0.0,
                p50: 0.0,
                p90: 0.0,
                p99: 0.0,
                p99_9: 0.0,
                max: 0.0,
            };
        }
        Percentiles {
            count: h.len(),
            min: ms(h.min()),
            mean: round3(h.mean() / 1000.0),
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p99_9: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        }
    }
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Recorder {
            window: Mutex::new(Window {
                latency: Latencies::default(),
                status: BTreeMap::new(),
            }),
            finished: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    /// Record one finished call; only calls inside the measured window (`measured`)
    /// enter the histogram and the status counts.
    pub fn record(&self, latency: Duration, status: &'static str, measured: bool) {
        self.finished.fetch_add(1, Ordering::Relaxed);
        if status != "OK" {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        if measured {
            let mut w = self.window.lock().expect("recorder lock");
            if status == "OK" {
                w.latency.record(latency);
            }
            *w.status.entry(status).or_default() += 1;
        }
    }

    /// Record one latency that has no status of its own (a gap between frames).
    pub fn sample(&self, latency: Duration, measured: bool) {
        self.finished.fetch_add(1, Ordering::Relaxed);
        if measured {
            self.window
                .lock()
                .expect("recorder lock")
                .latency
                .record(latency);
        }
    }

    /// Count one outcome without a latency (a stream's end).
    pub fn count(&self, status: &'static str) {
        if status != "OK" {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        let mut w = self.window.lock().expect("recorder lock");
        *w.status.entry(status).or_default() += 1;
    }

    /// p99 of the OK calls so far, milliseconds (progress line).
    pub fn p99_ms(&self) -> f64 {
        let w = self.window.lock().expect("recorder lock");
        if w.latency.is_empty() {
            0.0
        } else {
            w.latency.quantile_ms(0.99)
        }
    }

    /// The histogram of OK latencies and the status counts of the measured window.
    pub fn finish(&self) -> (Latencies, BTreeMap<&'static str, u64>) {
        let w = self.window.lock().expect("recorder lock");
        (w.latency.clone(), w.status.clone())
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

/// The status name of a call's outcome: `OK`, a gRPC code as the spec spells it
/// (`INVALID_ARGUMENT`), or `CLIENT_ERROR` for a failure that is not a gRPC status.
pub fn outcome_name<T>(result: &Result<T, ClientError>) -> &'static str {
    match result {
        Ok(_) => "OK",
        Err(e) => e.code().map_or("CLIENT_ERROR", code_name),
    }
}

/// The canonical upper-case name of a gRPC status code.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// `VmRSS` of `pid` in kB from `/proc/PID/status`, if readable.
pub fn vm_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Samples a process's RSS every 100 ms until dropped or finished.
#[derive(Debug)]
pub struct RssSampler {
    pid: u32,
    before_kb: u64,
    peak_kb: std::sync::Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    /// Read the idle RSS now; sample the peak from `measure_from` on.
    pub fn start(pid: u32, measure_from: Instant) -> anyhow::Result<RssSampler> {
        let before_kb = vm_rss_kb(pid)
            .ok_or_else(|| anyhow::anyhow!("--server-pid {pid}: cannot read /proc/{pid}/status"))?;
        let peak_kb = std::sync::Arc::new(AtomicU64::new(0));
        let peak = peak_kb.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tick.tick().await;
                if Instant::now() >= measure_from
                    && let Some(kb) = vm_rss_kb(pid)
                {
                    peak.fetch_max(kb, Ordering::Relaxed);
                }
            }
        });
        Ok(RssSampler {
            pid,
            before_kb,
            peak_kb,
            task,
        })
    }

    /// Stop sampling; the report.
    pub fn finish(self) -> RssReport {
        self.task.abort();
        let end_kb = vm_rss_kb(self.pid).unwrap_or(0);
        RssReport {
            pid: self.pid,
            before_kb: self.before_kb,
            peak_kb: self.peak_kb.load(Ordering::Relaxed).max(end_kb),
            end_kb,
        }
    }
}

/// Prints one progress line a second on stderr (overwriting itself) until dropped.
#[derive(Debug)]
pub struct Progress(Option<tokio::task::JoinHandle<()>>);

impl Progress {
    /// Start the line if `enabled` (a terminal and no `--quiet`).
    pub fn start(
        enabled: bool,
        recorder: std::sync::Arc<Recorder>,
        started: Instant,
        total: Duration,
        unit: &'static str,
    ) -> Progress {
        if !enabled {
            return Progress(None);
        }
        Progress(Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            let mut last = 0u64;
            loop {
                tick.tick().await;
                let done = recorder.finished.load(Ordering::Relaxed);
                let failed = recorder.failed.load(Ordering::Relaxed);
                let mut err = std::io::stderr().lock();
                let _ = write!(
                    err,
                    "\r\x1b[2K[{:>4.0}s/{:.0}s] {:>8} {unit}/s  total {done}  not OK {failed}  p99 {:.2} ms",
                    started.elapsed().as_secs_f64(),
                    total.as_secs_f64(),
                    done - last,
                    recorder.p99_ms(),
                );
                let _ = err.flush();
                last = done;
            }
        })))
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
            eprintln!();
        }
    }
}

fn ms(us: u64) -> f64 {
    round3(us as f64 / 1000.0)
}

/// Round to 3 decimals (microsecond resolution in milliseconds).
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_known_samples() {
        let mut l = Latencies::default();
        for ms in 1..=100u64 {
            l.record(Duration::from_millis(ms));
        }
        let p = l.percentiles();
        assert_eq!(p.count, 100);
        assert!((p.p50 - 50.0).abs() < 0.1, "{p:?}");
        assert!((p.p99 - 99.0).abs() < 0.1, "{p:?}");
        assert!((p.max - 100.0).abs() < 0.1, "{p:?}");
    }

    #[test]
    fn statuses_are_counted_only_in_the_window() {
        let r = Recorder::new();
        r.record(Duration::from_millis(1), "OK", true);
        r.record(Duration::from_millis(1), "INVALID_ARGUMENT", true);
        r.record(Duration::from_millis(1), "OK", false);
        let (lat, status) = r.finish();
        assert_eq!(lat.len(), 1);
        assert_eq!(status["OK"], 1);
        assert_eq!(status["INVALID_ARGUMENT"], 1);
        assert_eq!(r.finished.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn rss_of_this_process_is_readable() {
        assert!(vm_rss_kb(std::process::id()).unwrap() > 0);
    }
}
