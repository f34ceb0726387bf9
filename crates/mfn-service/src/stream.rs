//! Streams of frames: one continuous run, computed chunk by chunk through the gate.
//!
//! A producer task advances the run by one frame's steps in the gate, sends the frame
//! on a channel of capacity 1 and only then computes the next — so a slow reader
//! slows the computation (backpressure) instead of buffering frames, and a reader that
//! goes away stops it: the chunk in progress is cancelled and nothing more is computed
//! ([`StreamStats::cancelled`](crate::service::StreamStats::cancelled) counts these).
//! Frames are at steps k, 2k, … and the last step; the final frame equals the unary
//! result for the same request (prefix property: frame t of a longer run equals frame
//! t of a shorter one). When the server drains, a stream ends with `UNAVAILABLE` after
//! its current frame.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use futures::Stream;
use mfn_core::features::Features;
use mfn_core::field::{Simulation, SimulationResult};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::cache::CacheStatus;
use crate::error::ServiceError;
use crate::gate::{Admission, CancelToken};
use crate::request::{FrameSpec, StreamFeaturesRequest, StreamSimulationRequest};
use crate::service::{Inner, Meta, MfnService, RequestContext};

/// A stream of frames or one final error.
pub type FrameStream<T> = ReceiverStream<Result<T, ServiceError>>;

/// One frame of a simulation stream.
#[derive(Debug, Clone, PartialEq)]
pub struct SimFrame {
    /// Steps done.
    pub step: usize,
    /// Steps of the whole run.
    pub total_steps: usize,
    /// Counters and statistics so far; `summary.field` (volts) only when requested.
    pub summary: SimulationResult,
    /// Last frame of the run.
    pub is_final: bool,
    /// Alpha in force for this frame's steps.
    pub alpha: f64,
    /// Spike probability in force for this frame's steps.
    pub spike_probability: f64,
    /// On the final frame.
    pub meta: Option<Meta>,
}

/// One frame of a feature stream.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureFrame {
    /// Steps done.
    pub step: usize,
    /// Steps of the whole run.
    pub total_steps: usize,
    /// Features of the history so far (or of the current field).
    pub features: Features,
    /// Run summary so far, without the field.
    pub summary: SimulationResult,
    /// Last frame.
    pub is_final: bool,
    /// On the final frame.
    pub meta: Option<Meta>,
}

/// Keeps the active-stream gauge right on every exit path of a producer.
pub(crate) struct ActiveStream(Arc<Inner>);

impl ActiveStream {
    pub(crate) fn new(inner: &Arc<Inner>) -> Self {
        inner.streams.active.fetch_add(1, Ordering::Relaxed);
        inner.streams.started.fetch_add(1, Ordering::Relaxed);
        ActiveStream(inner.clone())
    }
}

impl Drop for ActiveStream {
    fn drop(&mut self) {
        self.0.streams.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Why a producer stopped before its end.
pub(crate) enum Stop {
    /// The reader went away.
    Gone,
    /// An error to send (draining, bad parameters, divergence).
    Error(ServiceError),
}

/// The sending side of a producer: computes chunks in the gate, paces and sends.
pub(crate) struct Producer<T> {
    pub(crate) svc: MfnService,
    pub(crate) tx: mpsc::Sender<Result<T, ServiceError>>,
    pub(crate) interval: std::time::Duration,
    /// When the next frame may go out: frames are paced on a fixed grid (`due +=
    /// interval`), so compute time and timer rounding do not add up to a lower rate.
    next_due: Option<Instant>,
    first: bool,
}

impl<T: Send + 'static> Producer<T> {
    pub(crate) fn new(
        svc: MfnService,
        tx: mpsc::Sender<Result<T, ServiceError>>,
        frames: &FrameSpec,
    ) -> Self {
        Producer {
            svc,
            tx,
            interval: frames.interval,
            next_due: None,
            first: true,
        }
    }

    /// Run `job` in the gate unless the reader leaves or the server drains first.
    pub(crate) async fn compute<S, F>(&mut self, job: F) -> Result<S, Stop>
    where
        S: Send + 'static,
        F: FnOnce(&CancelToken) -> Result<S, ServiceError> + Send + 'static,
    {
        if self.svc.is_draining() {
            return Err(Stop::Error(ServiceError::draining()));
        }
        // The first chunk is admitted like a unary call (fail fast when full); later
        // chunks of an accepted stream wait their turn.
        let admission = if std::mem::take(&mut self.first) {
            Admission::FailFast
        } else {
            Admission::Wait
        };
        let gate = self.svc.inner.gate.clone();
        tokio::select! {
            r = gate.run(admission, job) => r.map_err(Stop::Error),
            () = self.tx.closed() => Err(Stop::Gone),
        }
    }

    /// Wait until the frame is due, then send (waiting while the reader is behind).
    pub(crate) async fn send(&mut self, item: T) -> Result<(), Stop> {
        if let Some(due) = self.next_due {
            tokio::select! {
                () = tokio::time::sleep_until(due.into()) => {}
                () = self.tx.closed() => return Err(Stop::Gone),
                () = self.svc.drained() => return Err(Stop::Error(ServiceError::draining())),
            }
        }
        self.tx.send(Ok(item)).await.map_err(|_| Stop::Gone)?;
        // A frame more than one interval late restarts the grid from now: the frames
        // after a stall are not sent in a burst to catch up.
        if !self.interval.is_zero() {
            let now = Instant::now();
            self.next_due = Some(match self.next_due {
                Some(due) if now < due + self.interval => due + self.interval,
                _ => now + self.interval,
            });
        }
        self.svc
            .inner
            .streams
            .frames
            .fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Record how the producer ended; send the error if there is one.
    pub(crate) async fn finish(self, outcome: Result<(), Stop>) {
        match outcome {
            Ok(()) => {}
            Err(Stop::Gone) => {
                self.svc
                    .inner
                    .streams
                    .cancelled
                    .fetch_add(1, Ordering::Relaxed);
                tracing::debug!("stream reader went away; computation stopped");
            }
            Err(Stop::Error(e)) => {
                let _ = self.tx.send(Err(e)).await;
            }
        }
    }
}

/// Frame boundaries of a run: k, 2k, …, and `steps`.
pub(crate) fn frame_steps(steps: usize, every: usize) -> impl Iterator<Item = usize> {
    (1..=steps.div_ceil(every)).map(move |i| (i * every).min(steps))
}

/// Spawn a producer inside the caller's tracing span (it carries the request id).
pub(crate) fn spawn<F>(fut: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    use tracing::Instrument;
    tokio::spawn(fut.instrument(tracing::Span::current()));
}

/// A frame that can close a run.
pub(crate) trait Frame: Send + 'static {
    fn is_final(&self) -> bool;
    fn set_meta(&mut self, meta: Meta);
}

impl Frame for SimFrame {
    fn is_final(&self) -> bool {
        self.is_final
    }
    fn set_meta(&mut self, meta: Meta) {
        self.meta = Some(meta);
    }
}

impl Frame for FeatureFrame {
    fn is_final(&self) -> bool {
        self.is_final
    }
    fn set_meta(&mut self, meta: Meta) {
        self.meta = Some(meta);
    }
}

impl MfnService {
    /// Spawn the producer of a run: `init` builds the state in the gate, then `advance`
    /// moves it to each frame boundary (in the gate) and describes it as a frame.
    fn spawn_run<St, Fr, I, A>(
        &self,
        ctx: &RequestContext,
        start: Instant,
        frames: FrameSpec,
        total: usize,
        init: I,
        advance: A,
    ) -> FrameStream<Fr>
    where
        St: Send + 'static,
        Fr: Frame,
        I: FnOnce() -> Result<St, ServiceError> + Send + 'static,
        A: Fn(St, usize, &CancelToken) -> Result<(St, Fr), ServiceError> + Send + Sync + 'static,
    {
        let (tx, rx) = mpsc::channel(1);
        let mut producer = Producer::new(self.clone(), tx, &frames);
        let active = ActiveStream::new(&self.inner);
        let ctx = ctx.clone();
        let advance = Arc::new(advance);
        spawn(async move {
            let _active = active;
            let outcome = async {
                let mut state = producer.compute(move |_| init()).await?;
                for target in frame_steps(total, frames.steps_per_frame) {
                    let advance = advance.clone();
                    let (next, mut frame) = producer
                        .compute(move |tok| advance(state, target, tok))
                        .await?;
                    state = next;
                    if frame.is_final() {
                        frame.set_meta(Meta::since(&ctx, start, CacheStatus::Bypass));
                    }
                    producer.send(frame).await?;
                }
                Ok(())
            }
            .await;
            producer.finish(outcome).await;
        });
        ReceiverStream::new(rx)
    }

    /// `StreamSimulation`: validate now (errors become the call's status), then stream.
    pub fn stream_simulation(
        &self,
        ctx: &RequestContext,
        req: &StreamSimulationRequest,
    ) -> Result<FrameStream<SimFrame>, ServiceError> {
        let start = Instant::now();
        self.admit()?;
        let spec = req.sim.resolve(&self.inner.config.limits)?;
        let frames = req.frames.resolve(spec.params.steps)?;
        let include_field = req.include_field;
        let total = spec.params.steps;
        let init = move || Ok(Simulation::new(&spec.params, spec.seed)?);
        let advance = move |mut sim: Simulation, target: usize, tok: &CancelToken| {
            sim.run_to(target, || tok.check())?;
            let frame = sim_frame(&sim, total, include_field);
            Ok((sim, frame))
        };
        Ok(self.spawn_run(ctx, start, frames, total, init, advance))
    }

    /// `StreamFeatures`: the features of the run so far, every `steps_per_frame` steps.
    pub fn stream_features(
        &self,
        ctx: &RequestContext,
        req: &StreamFeaturesRequest,
    ) -> Result<FrameStream<FeatureFrame>, ServiceError> {
        let start = Instant::now();
        self.admit()?;
        let spec = req.features.resolve(&self.inner.config.limits)?;
        let frames = req.frames.resolve(spec.sim.params.steps)?;
        let total = spec.sim.params.steps;
        let n = spec.sim.params.grid_size;
        let (params, seed) = (spec.sim.params.clone(), spec.sim.seed);
        let init = move || Ok((Simulation::new(&params, seed)?, Vec::<Vec<f64>>::new()));
        let advance = move |(mut sim, mut history): (Simulation, Vec<Vec<f64>>),
                            target: usize,
                            tok: &CancelToken| {
            if spec.with_history {
                while sim.steps_done() < target {
                    tok.check()?;
                    sim.step()?;
                    history.push(sim.field().to_vec());
                }
            } else {
                sim.run_to(target, || tok.check())?;
            }
            let mut summary = sim.summary();
            let current = std::mem::take(&mut summary.field);
            let frames_so_far = if spec.with_history {
                &history[..]
            } else {
                std::slice::from_ref(&current)
            };
            let features = mfn_core::features::extract_features(frames_so_far, n, &spec.options)?;
            let frame = FeatureFrame {
                step: target,
                total_steps: total,
                features,
                summary,
                is_final: target == total,
                meta: None,
            };
            Ok(((sim, history), frame))
        };
        Ok(self.spawn_run(ctx, start, frames, total, init, advance))
    }
}

/// The frame describing `sim` now.
pub(crate) fn sim_frame(sim: &Simulation, total: usize, include_field: bool) -> SimFrame {
    let summary = if include_field {
        sim.summary()
    } else {
        sim.summary_without_field()
    };
    let p = sim.params();
    SimFrame {
        step: sim.steps_done(),
        total_steps: total,
        is_final: sim.steps_done() == total,
        alpha: p.alpha,
        spike_probability: p.spike_probability,
        summary,
        meta: None,
    }
}

/// Collect a frame stream (tests and the CLI).
pub async fn collect<T>(
    s: impl Stream<Item = Result<T, ServiceError>>,
) -> Result<Vec<T>, ServiceError> {
    use futures::StreamExt;
    let mut out = Vec::new();
    futures::pin_mut!(s);
    while let Some(item) = s.next().await {
        out.push(item?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::request::{FeaturesRequest, FrameInput, SimInput, SimulationRequest};
    use crate::service::ServiceConfig;
    use futures::StreamExt;

    fn svc(workers: usize, queue: usize) -> MfnService {
        MfnService::new(ServiceConfig {
            workers,
            queue,
            ..ServiceConfig::default()
        })
        .unwrap()
    }

    fn ctx() -> RequestContext {
        RequestContext::new(Some("s"))
    }

    fn call() -> crate::ops::Call {
        crate::ops::Call::new(crate::ops::Door::Cli, ctx())
    }

    fn stream_req(n: u32, steps: u32, every: u32) -> StreamSimulationRequest {
        StreamSimulationRequest {
            sim: SimInput {
                grid_size: Some(n),
                steps: Some(steps),
                ..Default::default()
            },
            include_field: true,
            frames: FrameInput {
                steps_per_frame: Some(every),
                frame_interval_ms: None,
            },
        }
    }

    #[test]
    fn frame_boundaries() {
        assert_eq!(frame_steps(25, 10).collect::<Vec<_>>(), [10, 20, 25]);
        assert_eq!(frame_steps(20, 10).collect::<Vec<_>>(), [10, 20]);
        assert_eq!(frame_steps(3, 5).collect::<Vec<_>>(), [3]);
    }

    #[tokio::test]
    async fn final_frame_equals_unary_and_frames_are_a_prefix() {
        let s = svc(2, 8);
        let frames = collect(
            s.stream_simulation(&ctx(), &stream_req(32, 25, 10))
                .unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(
            frames.iter().map(|f| f.step).collect::<Vec<_>>(),
            [10, 20, 25]
        );
        assert!(frames[2].is_final && !frames[1].is_final);
        assert!(frames[2].meta.is_some());
        let unary = s
            .simulate(
                &call(),
                &SimulationRequest {
                    sim: stream_req(32, 25, 10).sim,
                    include_field: true,
                },
            )
            .await
            .unwrap()
            .0;
        assert_eq!(frames[2].summary, *unary.result);
        // Prefix: a 20-step run ends where the 25-step stream was at step 20.
        let short = collect(
            s.stream_simulation(&ctx(), &stream_req(32, 20, 10))
                .unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(short[1].summary, frames[1].summary);
        assert_eq!(s.stream_stats().active(), 0);
    }

    #[tokio::test]
    async fn feature_stream_ends_with_the_unary_features() {
        let s = svc(2, 8);
        let features = FeaturesRequest {
            sim: SimInput {
                grid_size: Some(16),
                steps: Some(30),
                ..Default::default()
            },
            with_history: true,
            ..Default::default()
        };
        let req = StreamFeaturesRequest {
            features: features.clone(),
            frames: FrameInput {
                steps_per_frame: Some(7),
                frame_interval_ms: None,
            },
        };
        let frames = collect(s.stream_features(&ctx(), &req).unwrap())
            .await
            .unwrap();
        assert_eq!(
            frames.iter().map(|f| f.step).collect::<Vec<_>>(),
            [7, 14, 21, 28, 30]
        );
        let (unary, _) = s.extract_features(&ctx(), &features).await.unwrap();
        let last = frames.last().unwrap();
        assert!(last.is_final);
        assert_eq!(last.features, unary.features);
        assert_eq!(last.summary, unary.summary);
    }

    #[tokio::test]
    async fn invalid_stream_requests_fail_before_streaming() {
        let s = svc(1, 1);
        let e = s
            .stream_simulation(&ctx(), &stream_req(32, 10, 11))
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("steps_per_frame"));
        assert_eq!(s.stream_stats().started(), 0);
    }

    #[tokio::test]
    async fn dropping_the_reader_stops_the_computation() {
        let s = svc(1, 4);
        let mut st = s
            .stream_simulation(&ctx(), &stream_req(128, 10_000, 1))
            .unwrap();
        let first = st.next().await.unwrap().unwrap();
        assert_eq!(first.step, 1);
        drop(st);
        // The producer notices at its next send or during its next chunk.
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        while s.stream_stats().cancelled() == 0 {
            assert!(Instant::now() < deadline, "producer never stopped");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        while s.stream_stats().active() != 0 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let done = s.gate().stats().completed();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert_eq!(
            s.gate().stats().completed(),
            done,
            "work continued after cancel"
        );
        assert!(
            done < 100,
            "{done} chunks ran for a reader that read one frame"
        );
    }

    #[tokio::test]
    async fn draining_ends_a_stream_with_unavailable() {
        let s = svc(1, 4);
        let mut st = s
            .stream_simulation(&ctx(), &stream_req(32, 10_000, 1))
            .unwrap();
        st.next().await.unwrap().unwrap();
        s.begin_drain();
        let mut last = None;
        while let Some(item) = st.next().await {
            last = Some(item);
        }
        let err = last.unwrap().unwrap_err();
        assert_eq!(err.code, ErrorCode::Unavailable);
    }

    #[tokio::test]
    async fn pacing_spaces_frames() {
        let s = svc(1, 4);
        let mut req = stream_req(8, 4, 1);
        req.frames.frame_interval_ms = Some(30);
        let t0 = Instant::now();
        let frames = collect(s.stream_simulation(&ctx(), &req).unwrap())
            .await
            .unwrap();
        assert_eq!(frames.len(), 4);
        // Three gaps of at least 30 ms each.
        assert!(t0.elapsed() >= std::time::Duration::from_millis(90));
    }
}
