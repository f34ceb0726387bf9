//! The compute gate: every CPU-bound job runs here, never on the async reactor.
//!
//! A dedicated rayon pool of `workers` threads runs jobs; a semaphore of
//! `workers + queue` permits bounds what is running plus waiting. A job that cannot get
//! a permit fails at once with `RESOURCE_EXHAUSTED` ([`Admission::FailFast`]) — the
//! queue never grows without bound. Streams already under way wait for a permit
//! instead ([`Admission::Wait`]); they are bounded by the stream limit.
//!
//! Cancellation is cooperative: dropping the future returned by [`ComputeGate::run`]
//! (the client went away, the deadline passed) sets the job's [`CancelToken`]; a job not
//! yet started is skipped, a running one sees the token at its next check (the
//! simulation checks every step) and stops. Each such stop is counted in
//! [`GateStats::cancelled`].

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tracing::Span;

use crate::error::{ErrorCode, ServiceError};

/// How a job gets a permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Fail with `RESOURCE_EXHAUSTED` when running + queued jobs are at the limit.
    FailFast,
    /// Wait for a permit (used by streams between frames).
    Wait,
}

/// Set when the job's caller is gone; jobs check it between units of work.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// Whether the caller is gone.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// `Err(CANCELLED)` once cancelled, for `?` in job loops.
    pub fn check(&self) -> Result<(), ServiceError> {
        if self.is_cancelled() {
            Err(ServiceError::cancelled())
        } else {
            Ok(())
        }
    }

    fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The one [`mfn_graph::tools::Control`] over a job's [`CancelToken`]: graph algorithms
/// and decoders see the cancellation through it and report progress to the caller.
pub struct JobControl<'a> {
    token: &'a CancelToken,
    progress: Option<&'a crate::ops::Progress>,
}

impl<'a> JobControl<'a> {
    /// The control of the job holding `token`, reporting to `progress`.
    pub fn new(token: &'a CancelToken, progress: Option<&'a crate::ops::Progress>) -> Self {
        JobControl { token, progress }
    }
}

impl mfn_graph::tools::Control for JobControl<'_> {
    fn cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    fn progress(&self, done: u64, total: u64) {
        if let Some(p) = self.progress {
            p(done, total);
        }
    }
}

/// Counters of the gate, read by metrics and tests.
#[derive(Debug)]
pub struct GateStats {
    running: AtomicUsize,
    queued: AtomicUsize,
    completed: AtomicU64,
    cancelled: AtomicU64,
    rejected: AtomicU64,
    panicked: AtomicU64,
    /// Per worker thread: 1 + the millisecond (since `epoch`) its job started; 0 idle.
    busy_since: Box<[AtomicU64]>,
    epoch: Instant,
}

impl GateStats {
    fn new(workers: usize) -> Self {
        GateStats {
            running: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
            completed: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            panicked: AtomicU64::new(0),
            busy_since: (0..workers).map(|_| AtomicU64::new(0)).collect(),
            epoch: Instant::now(),
        }
    }

    fn mark(&self, busy: bool) {
        // Only the pool's own threads run jobs; each owns its slot.
        if let Some(slot) = rayon::current_thread_index().and_then(|i| self.busy_since.get(i)) {
            let now = if busy {
                1 + self.epoch.elapsed().as_millis() as u64
            } else {
                0
            };
            slot.store(now, Ordering::Relaxed);
        }
    }

    /// Workers whose current job has run longer than `age`: work that outlived its
    /// deadline and has not yet seen its cancellation (`/ready` reports them).
    pub fn overdue(&self, age: Duration) -> usize {
        let now = self.epoch.elapsed().as_millis() as u64;
        let age = age.as_millis() as u64;
        self.busy_since
            .iter()
            .map(|s| s.load(Ordering::Relaxed))
            .filter(|&t| t != 0 && now.saturating_sub(t - 1) > age)
            .count()
    }

    /// Jobs running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Relaxed)
    }
    /// Jobs admitted and waiting for a thread (`mfn_compute_queue_depth`).
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }
    /// Jobs that ran to the end (successfully or with an error).
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }
    /// Jobs stopped or skipped because their caller went away.
    pub fn cancelled(&self) -> u64 {
        self.cancelled.load(Ordering::Relaxed)
    }
    /// Jobs refused because the gate was full.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }
    /// Jobs that panicked (reported to the client as `INTERNAL`).
    pub fn panicked(&self) -> u64 {
        self.panicked.load(Ordering::Relaxed)
    }
}

/// The bounded, cancellable pool for CPU work.
#[derive(Clone)]
pub struct ComputeGate {
    pool: Arc<rayon::ThreadPool>,
    permits: Arc<Semaphore>,
    workers: usize,
    capacity: usize,
    stats: Arc<GateStats>,
}

impl std::fmt::Debug for ComputeGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComputeGate")
            .field("workers", &self.workers)
            .field("capacity", &self.capacity)
            .field("stats", &self.stats)
            .finish()
    }
}

impl ComputeGate {
    /// A gate with `workers` threads (at least 1) and room for `queue` waiting jobs.
    pub fn new(workers: usize, queue: usize) -> Result<Self, ServiceError> {
        let workers = workers.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .thread_name(|i| format!("mfn-compute-{i}"))
            .build()
            .map_err(ServiceError::internal)?;
        let capacity = workers + queue;
        Ok(ComputeGate {
            pool: Arc::new(pool),
            permits: Arc::new(Semaphore::new(capacity)),
            workers,
            capacity,
            stats: Arc::new(GateStats::new(workers)),
        })
    }

    /// The gate's counters.
    pub fn stats(&self) -> &Arc<GateStats> {
        &self.stats
    }

    /// Worker threads.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Whether a fail-fast job would be refused now (for `/ready`).
    pub fn is_saturated(&self) -> bool {
        self.permits.available_permits() == 0
    }

    /// Whether every worker is held by a job older than `deadline`: new work would wait
    /// behind jobs that should have stopped, so the server is not ready (`/ready`).
    pub fn is_stuck(&self, deadline: Duration) -> bool {
        self.stats.overdue(deadline) >= self.workers
    }

    /// Run `job` on the pool and await its result. Dropping the returned future
    /// cancels the job (see the module docs).
    pub async fn run<T, F>(&self, admission: Admission, job: F) -> Result<T, ServiceError>
    where
        T: Send + 'static,
        F: FnOnce(&CancelToken) -> Result<T, ServiceError> + Send + 'static,
    {
        let permit = self.admit(admission).await?;
        let token = CancelToken::default();
        let mut guard = CancelOnDrop(Some(token.clone()));
        let (tx, rx) = oneshot::channel();
        let stats = self.stats.clone();
        let span = Span::current();
        stats.queued.fetch_add(1, Ordering::Relaxed);
        self.pool.spawn(move || {
            let permit: OwnedSemaphorePermit = permit;
            let _entered = span.enter();
            stats.queued.fetch_sub(1, Ordering::Relaxed);
            if token.is_cancelled() {
                stats.cancelled.fetch_add(1, Ordering::Relaxed);
                return;
            }
            stats.running.fetch_add(1, Ordering::Relaxed);
            stats.mark(true);
            let started = std::time::Instant::now();
            // rayon aborts the process on a panic in `spawn`; a bug in one request
            // must only fail that request.
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| job(&token)));
            stats.mark(false);
            stats.running.fetch_sub(1, Ordering::Relaxed);
            metrics::histogram!("mfn_compute_seconds").record(started.elapsed().as_secs_f64());
            let result = match outcome {
                Ok(r) => r,
                Err(_) => {
                    stats.panicked.fetch_add(1, Ordering::Relaxed);
                    Err(ServiceError::internal("compute job panicked"))
                }
            };
            if matches!(&result, Err(e) if e.code == ErrorCode::Cancelled) {
                stats.cancelled.fetch_add(1, Ordering::Relaxed);
            } else {
                stats.completed.fetch_add(1, Ordering::Relaxed);
            }
            // Free the slot before the caller sees the result, so a caller that
            // submits again at once is not refused by its own finished job.
            drop(permit);
            let _ = tx.send(result);
        });
        let result = rx.await.unwrap_or_else(|_| Err(ServiceError::cancelled()));
        guard.0 = None;
        result
    }

    async fn admit(&self, admission: Admission) -> Result<OwnedSemaphorePermit, ServiceError> {
        match admission {
            Admission::FailFast => self.permits.clone().try_acquire_owned().map_err(|_| {
                self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                ServiceError::exhausted(
                    format!(
                        "compute queue is full ({} workers, {} queue slots); retry later",
                        self.workers,
                        self.capacity - self.workers
                    ),
                    Duration::from_millis(250),
                )
            }),
            Admission::Wait => self
                .permits
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| ServiceError::draining()),
        }
    }
}

/// Cancels the job when the awaiting future is dropped before the result arrived.
struct CancelOnDrop(Option<CancelToken>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(token) = &self.0 {
            token.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[tokio::test]
    async fn runs_jobs_and_counts_them() {
        let gate = ComputeGate::new(2, 2).unwrap();
        let v = gate.run(Admission::FailFast, |_| Ok(21 * 2)).await.unwrap();
        assert_eq!(v, 42);
        assert_eq!(gate.stats().completed(), 1);
    }

    #[tokio::test]
    async fn a_job_that_ignores_its_deadline_makes_the_gate_stuck() {
        let gate = ComputeGate::new(1, 4).unwrap();
        assert!(!gate.is_stuck(Duration::ZERO));
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let g = gate.clone();
        let job = tokio::spawn(async move {
            g.run(Admission::FailFast, move |_| {
                let _ = started_tx.send(());
                release_rx.recv().ok();
                Ok(())
            })
            .await
        });
        started_rx.await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        // The one worker has run longer than a 10 ms deadline, not than an hour.
        assert!(gate.is_stuck(Duration::from_millis(10)));
        assert!(!gate.is_stuck(Duration::from_secs(3600)));
        assert!(!gate.is_saturated(), "the queue still has room");
        release_tx.send(()).unwrap();
        job.await.unwrap().unwrap();
        assert!(
            !gate.is_stuck(Duration::ZERO),
            "a finished job frees its slot"
        );
    }

    #[tokio::test]
    async fn full_gate_fails_fast_without_blocking() {
        let gate = ComputeGate::new(1, 1).unwrap();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Arc::new(std::sync::Mutex::new(release_rx));
        let mut held = Vec::new();
        for _ in 0..2 {
            let rx = release_rx.clone();
            let g = gate.clone();
            held.push(tokio::spawn(async move {
                g.run(Admission::FailFast, move |_| {
                    rx.lock().unwrap().recv().ok();
                    Ok(())
                })
                .await
            }));
        }
        // Both permits are taken once the two tasks have been admitted.
        while gate.permits.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let err = gate.run(Admission::FailFast, |_| Ok(())).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::ResourceExhausted);
        assert!(err.retry_after.is_some());
        assert_eq!(gate.stats().rejected(), 1);
        for _ in 0..2 {
            release_tx.send(()).unwrap();
        }
        for h in held {
            h.await.unwrap().unwrap();
        }
    }

    #[tokio::test]
    async fn dropping_the_caller_cancels_a_running_job() {
        let gate = ComputeGate::new(1, 0).unwrap();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let g = gate.clone();
        let task = tokio::spawn(async move {
            g.run(Admission::FailFast, move |tok| {
                let _ = started_tx.send(());
                while !tok.is_cancelled() {
                    std::thread::sleep(Duration::from_millis(1));
                }
                tok.check()
            })
            .await
        });
        started_rx.await.unwrap();
        task.abort();
        let _ = task.await;
        // The worker notices within a few milliseconds and frees its permit.
        let permit = gate.permits.clone().acquire_owned().await.unwrap();
        drop(permit);
        assert_eq!(gate.stats().cancelled(), 1);
        assert_eq!(gate.stats().completed(), 0);
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_internal_error_not_a_crash() {
        let gate = ComputeGate::new(1, 0).unwrap();
        let err = gate
            .run(Admission::FailFast, |_| -> Result<(), ServiceError> {
                panic!("bug")
            })
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::Internal);
        assert_eq!(gate.stats().panicked(), 1);
        // The gate still works.
        assert_eq!(gate.run(Admission::FailFast, |_| Ok(1)).await.unwrap(), 1);
    }
}
