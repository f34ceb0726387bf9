//! The pipeline loop.
//!
//! ```text
//! source ──channel(concurrency)──► take a permit ─► parse ─► dispatch ─► publish ─► await delivery ─► ack
//!                                    (bounded)       │poison     │error          (result or dead letter)
//!                                                    └───────────┴──► dead-letter sink
//! ```
//!
//! - **In flight** is bounded twice: `concurrency` requests between receipt and the
//!   hand-off to the sink, `max_pending` between receipt and the sink's
//!   acknowledgement. When both are taken the runner stops reading the channel, the
//!   channel fills and the source pauses (Kafka: the partitions are paused).
//! - **Errors**: a request that is wrong (bad JSON, unknown operation, invalid
//!   parameters, or any error but the two below) is dead-lettered with its error and
//!   acknowledged, so a partition never blocks on it. `RESOURCE_EXHAUSTED` and
//!   `UNAVAILABLE` mean the service is busy: the request is retried with backoff and
//!   jitter (holding its permit, which is the backpressure). A failed publication is
//!   retried the same way; the source hears nothing until it succeeds.
//! - **Drain** (the `shutdown` future resolves, e.g. SIGTERM): the source stops
//!   reading and closes the channel; everything received is finished and published;
//!   the file sinks complete their files; the source commits and leaves the consumer
//!   group. Past `drain_timeout` what is unfinished is abandoned unacknowledged, and
//!   is delivered again to whoever reads the source next.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mfn_service::MfnService;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::config::PipelineConfig;
use crate::dispatch;
use crate::message;
use crate::sink::{Record, Role, Sink, SinkError};
use crate::source::{Done, Envelope, Source, SourceError};
use crate::telemetry::{self, Render};

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Requests received.
    pub consumed: u64,
    /// Results acknowledged by the sink.
    pub results: u64,
    /// Dead letters acknowledged by the dead-letter sink.
    pub dead_letters: u64,
    /// Requests left unacknowledged at the drain deadline (delivered again later).
    pub abandoned: u64,
}

/// The pipeline could not start or its source failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The source failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A sink could not be opened.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// The metrics endpoint could not be bound.
    #[error("metrics endpoint: {0}")]
    Metrics(std::io::Error),
}

struct Shared {
    config: PipelineConfig,
    service: MfnService,
    sink: Sink,
    dead: Sink,
    /// Set at the drain deadline: retries stop, unfinished work is abandoned.
    abort: CancellationToken,
    consumed: AtomicU64,
    results: AtomicU64,
    dead_letters: AtomicU64,
    // Handles of the per-message series whose labels are fixed for the run: looked up
    // once, not per message.
    in_flight: metrics::Gauge,
    consumed_total: metrics::Counter,
    published_total: metrics::Counter,
}

/// Run the pipeline of `config` on `service` until `shutdown` resolves and the drain
/// completes (or the source ends). `render` serves `/metrics` when
/// `config.metrics_addr` is set.
pub async fn run(
    config: PipelineConfig,
    service: MfnService,
    render: Option<Render>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Summary, PipelineError> {
    telemetry::describe();
    let sink = Sink::open(&config.sink, &config, Role::Results)?;
    let dead = Sink::open(&config.dead_letter, &config, Role::DeadLetters)?;
    let stop = CancellationToken::new();
    let probe_stop = CancellationToken::new();
    let ready = Arc::new(AtomicBool::new(true));
    if let Some(addr) = config.metrics_addr {
        let render = render.unwrap_or_else(|| Arc::new(String::new));
        let bound = telemetry::serve(addr, render, ready.clone(), probe_stop.clone())
            .await
            .map_err(PipelineError::Metrics)?;
        info!(addr = %bound, "serving /metrics, /healthz and /readyz");
    }
    let shared = Arc::new(Shared {
        service,
        dead,
        abort: CancellationToken::new(),
        consumed: AtomicU64::new(0),
        results: AtomicU64::new(0),
        dead_letters: AtomicU64::new(0),
        in_flight: metrics::gauge!("mfn_pipeline_in_flight"),
        consumed_total: metrics::counter!("mfn_pipeline_consumed_total", "source" => config.source.scheme()),
        published_total: metrics::counter!("mfn_pipeline_published_total", "sink" => sink.label()),
        sink,
        config,
    });
    let config = &shared.config;
    info!(
        source = %config.source,
        sink = %config.sink,
        dead_letter = %config.dead_letter,
        concurrency = config.concurrency,
        "pipeline starting"
    );

    {
        // The drain: stop the intake at once, abandon what is left at the deadline.
        let (stop, abort, ready) = (stop.clone(), shared.abort.clone(), ready.clone());
        let drain_timeout = config.drain_timeout;
        tokio::spawn(async move {
            shutdown.await;
            info!(
                timeout_s = drain_timeout.as_secs(),
                "shutdown requested: finishing, publishing and committing what was received"
            );
            ready.store(false, Ordering::Relaxed);
            stop.cancel();
            tokio::time::sleep(drain_timeout).await;
            abort.cancel();
        });
    }

    let (tx, mut rx) = mpsc::channel::<Envelope>(config.concurrency);
    let source = Source::start(config, tx, stop.clone())?;
    let processing = Arc::new(Semaphore::new(config.concurrency));
    let pending = Arc::new(Semaphore::new(config.max_pending));
    let mut tasks = JoinSet::new();
    loop {
        // Permits first: while they are all taken the channel fills and the source
        // pauses.
        let permits = tokio::select! {
            p = take_permits(&processing, &pending) => p,
            () = shared.abort.cancelled() => break,
        };
        let envelope = tokio::select! {
            e = rx.recv() => e,
            () = shared.abort.cancelled() => break,
        };
        let Some(envelope) = envelope else { break };
        tasks.spawn(process(shared.clone(), envelope, permits));
        while let Some(r) = tasks.try_join_next() {
            if let Err(e) = r {
                error!(error = %e, "request task failed");
            }
        }
    }
    rx.close();
    drop(rx);

    let drained = async {
        // Every permit back: every received request was handed to a sink.
        let _all = processing.acquire_many(config.concurrency as u32).await;
        shared.sink.close().await;
        shared.dead.close().await;
        while let Some(r) = tasks.join_next().await {
            if let Err(e) = r {
                error!(error = %e, "request task failed");
            }
        }
    };
    tokio::select! {
        () = drained => {}
        () = shared.abort.cancelled() => {
            warn!(unfinished = tasks.len(), "drain deadline passed; unfinished requests stay unacknowledged and are delivered again");
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
            shared.sink.close().await;
            shared.dead.close().await;
        }
    }
    let finished = source.finish().await;
    probe_stop.cancel();
    let summary = Summary {
        consumed: shared.consumed.load(Ordering::Relaxed),
        results: shared.results.load(Ordering::Relaxed),
        dead_letters: shared.dead_letters.load(Ordering::Relaxed),
        abandoned: shared.consumed.load(Ordering::Relaxed)
            - shared.results.load(Ordering::Relaxed)
            - shared.dead_letters.load(Ordering::Relaxed),
    };
    info!(
        consumed = summary.consumed,
        results = summary.results,
        dead_letters = summary.dead_letters,
        abandoned = summary.abandoned,
        "pipeline stopped"
    );
    finished?;
    Ok(summary)
}

async fn take_permits(
    processing: &Arc<Semaphore>,
    pending: &Arc<Semaphore>,
) -> (OwnedSemaphorePermit, OwnedSemaphorePermit) {
    let pending = pending.clone().acquire_owned().await.expect("never closed");
    let processing = processing
        .clone()
        .acquire_owned()
        .await
        .expect("never closed");
    (processing, pending)
}

/// Decrements the in-flight gauge however the task ends.
struct InFlight(metrics::Gauge);

impl InFlight {
    fn enter(gauge: &metrics::Gauge) -> Self {
        gauge.increment(1.0);
        InFlight(gauge.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

async fn process(
    sh: Arc<Shared>,
    envelope: Envelope,
    (processing, _pending): (OwnedSemaphorePermit, OwnedSemaphorePermit),
) {
    let _in_flight = InFlight::enter(&sh.in_flight);
    let started = Instant::now();
    sh.consumed.fetch_add(1, Ordering::Relaxed);
    sh.consumed_total.increment(1);
    let Envelope {
        payload,
        fallback_id,
        origin,
        ack,
    } = envelope;

    let limit = sh.config.max_message_bytes;
    let parsed = if payload.len() > limit {
        Err(message::Refused {
            error: message::too_large(payload.len(), limit),
            request_id: None,
            operation: None,
        })
    } else {
        message::parse(&payload, &fallback_id)
    };
    let (record, how, label) = match parsed {
        Err(refused) => {
            let body = message::dead_letter(
                &payload,
                refused.request_id.as_deref(),
                refused.operation.as_deref(),
                &refused.error,
                &origin,
            );
            warn!(%origin, request_id = refused.request_id.as_deref().unwrap_or(""), error_code = refused.error.code.as_str(), error = %refused.error.message, "request refused; dead-lettering it");
            (
                dead_record(
                    refused.request_id.unwrap_or(fallback_id),
                    refused.operation.unwrap_or_default(),
                    refused.error.code.as_str(),
                    &body,
                ),
                Done::DeadLetter,
                "unknown",
            )
        }
        Ok(mut req) => {
            let label = dispatch::canonical(&req.operation);
            let args = std::mem::take(&mut req.args);
            let Some(result) = call_with_retry(&sh, &req, args, &payload, &fallback_id).await
            else {
                return; // drain deadline: abandoned, delivered again later
            };
            metrics::counter!("mfn_pipeline_processed_total", "operation" => label, "status" => result.as_ref().map_or_else(|e| e.code.as_str(), |_| "ok")).increment(1);
            match result {
                Ok(outcome) => {
                    let elapsed = started.elapsed();
                    let body = message::result(&req, outcome, elapsed);
                    (
                        Record {
                            key: req.request_id,
                            body: serde_json::to_vec(&body).unwrap_or_default(),
                            operation: req.operation,
                            error_code: None,
                            elapsed_ms: Some(message::elapsed_ms(elapsed)),
                        },
                        Done::Result,
                        label,
                    )
                }
                Err(e) => {
                    warn!(%origin, request_id = %req.request_id, operation = %req.operation, error_code = e.code.as_str(), error = %e.message, "request failed; dead-lettering it");
                    let body = message::dead_letter(
                        &payload,
                        Some(&req.request_id),
                        Some(&req.operation),
                        &e,
                        &origin,
                    );
                    (
                        dead_record(req.request_id, req.operation, e.code.as_str(), &body),
                        Done::DeadLetter,
                        label,
                    )
                }
            }
        }
    };
    let sink = match how {
        Done::Result => &sh.sink,
        Done::DeadLetter => &sh.dead,
    };
    let key = record.key.clone();
    let error_code = record.error_code;
    if !publish(&sh, sink, record, processing).await {
        return; // drain deadline
    }
    ack.done(how);
    match how {
        Done::Result => {
            sh.results.fetch_add(1, Ordering::Relaxed);
            sh.published_total.increment(1);
        }
        Done::DeadLetter => {
            sh.dead_letters.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("mfn_pipeline_dead_lettered_total", "error_code" => error_code.unwrap_or("UNKNOWN")).increment(1);
        }
    }
    metrics::histogram!("mfn_pipeline_request_seconds", "operation" => label)
        .record(started.elapsed().as_secs_f64());
    debug!(request_id = %key, %origin, elapsed_ms = started.elapsed().as_millis() as u64, "request acknowledged");
}

fn dead_record(
    key: String,
    operation: String,
    code: &'static str,
    body: &serde_json::Value,
) -> Record {
    Record {
        key,
        body: serde_json::to_vec(body).unwrap_or_default(),
        operation,
        error_code: Some(code),
        elapsed_ms: None,
    }
}

/// Run the request; a busy service is retried until the drain deadline (`None`).
/// `args` are used by the first attempt; a retry reads them again from `payload` (it
/// parsed once, so it parses again), which keeps a copy off the common path.
async fn call_with_retry(
    sh: &Shared,
    req: &message::Request,
    args: serde_json::Value,
    payload: &[u8],
    fallback_id: &str,
) -> Option<Result<dispatch::Outcome, mfn_service::ServiceError>> {
    let mut attempt = 0;
    let mut args = Some(args);
    loop {
        let args = match args.take() {
            Some(a) => a,
            None => match message::parse(payload, fallback_id) {
                Ok(again) => again.args,
                Err(refused) => return Some(Err(refused.error)),
            },
        };
        let r = dispatch::call(
            &sh.service,
            &sh.config.tenant,
            &req.request_id,
            &req.operation,
            args,
        )
        .await;
        match r {
            Err(e) if dispatch::is_transient(&e) => {
                attempt += 1;
                metrics::counter!("mfn_pipeline_failed_total", "stage" => "service").increment(1);
                let delay = e
                    .retry_after
                    .unwrap_or_else(|| sh.config.retry.delay(attempt))
                    .min(sh.config.retry.max);
                debug!(request_id = %req.request_id, error_code = e.code.as_str(), attempt, "service busy; retrying");
                if !sleep_unless_aborted(sh, delay).await {
                    return None;
                }
            }
            r => return Some(r),
        }
    }
}

/// Publish until the sink acknowledges; false at the drain deadline. The processing
/// permit is released once the sink has the record.
async fn publish(
    sh: &Shared,
    sink: &Sink,
    record: Record,
    processing: OwnedSemaphorePermit,
) -> bool {
    let mut processing = Some(processing);
    let mut attempt = 0;
    loop {
        let failure = match sink.publish(&record).await {
            Ok(delivery) => {
                drop(processing.take());
                let delivered = tokio::select! {
                    d = delivery => d,
                    () = sh.abort.cancelled() => return false,
                };
                match delivered {
                    Ok(()) => return true,
                    Err(e) => e,
                }
            }
            Err(e) => e,
        };
        attempt += 1;
        metrics::counter!("mfn_pipeline_failed_total", "stage" => "publish").increment(1);
        warn!(request_id = %record.key, sink = sink.label(), attempt, error = %failure, "publish failed; retrying");
        sink.after_failure();
        if !sleep_unless_aborted(sh, sh.config.retry.delay(attempt)).await {
            return false;
        }
    }
}

async fn sleep_unless_aborted(sh: &Shared, delay: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(delay) => true,
        () = sh.abort.cancelled() => false,
    }
}
