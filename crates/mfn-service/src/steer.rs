//! Steered simulations: a bidirectional stream of commands and frames.
//!
//! The client starts a run, then may change `alpha` and `spike_probability`, pause,
//! resume or stop it while frames stream back.
//!
//! **Determinism.** The run is a pure function of the start request and of the steps at
//! which each parameter change took effect. Commands are applied only between chunks of
//! computation, never inside a step, and every command is acknowledged with
//! `applied_at_step`. A change that names `apply_at_step` takes effect exactly there
//! (the chunk is split at that step); one without it takes effect at the next frame
//! boundary the server reaches after reading it. Replaying the start request plus
//! every change with `apply_at_step = applied_at_step` reproduces the run bit for bit,
//! however the messages and pauses were timed. Pausing never changes the result: it
//! only delays the next chunk.

use std::collections::BTreeMap;
use std::time::Instant;

use futures::{Stream, StreamExt};
use mfn_core::field::{Simulation, SimulationParams};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::cache::CacheStatus;
use crate::error::ServiceError;
use crate::request::StreamSimulationRequest;
use crate::service::{Meta, MfnService, RequestContext};
use crate::stream::{ActiveStream, FrameStream, Producer, SimFrame, Stop, sim_frame, spawn};

/// A command from the client.
#[derive(Debug, Clone, PartialEq)]
pub enum SteerCommand {
    /// Start the run (must come first, once), optionally paused.
    Start {
        /// The run.
        run: StreamSimulationRequest,
        /// Begin paused (commands sent before `Resume` apply before the first step).
        paused: bool,
    },
    /// Change parameters; `None` keeps the current value.
    SetParameters {
        /// New alpha, (0, 0.25].
        alpha: Option<f64>,
        /// New spike probability, [0, 1].
        spike_probability: Option<f64>,
        /// Step at which the change takes effect; default: the next frame boundary.
        apply_at_step: Option<u32>,
    },
    /// Stop computing until `Resume`.
    Pause,
    /// Continue.
    Resume,
    /// End the run with a final frame at the current step.
    Stop,
}

impl SteerCommand {
    fn name(&self) -> &'static str {
        match self {
            SteerCommand::Start { .. } => "start",
            SteerCommand::SetParameters { .. } => "set_parameters",
            SteerCommand::Pause => "pause",
            SteerCommand::Resume => "resume",
            SteerCommand::Stop => "stop",
        }
    }
}

/// Acknowledgement of a command.
#[derive(Debug, Clone, PartialEq)]
pub struct SteerAck {
    /// Zero-based index of the command on the stream.
    pub command_index: u32,
    /// Which command.
    pub command: &'static str,
    /// Steps done when it took effect.
    pub applied_at_step: u32,
    /// Alpha in force afterwards.
    pub alpha: f64,
    /// Spike probability in force afterwards.
    pub spike_probability: f64,
    /// Paused afterwards.
    pub paused: bool,
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq)]
pub enum SteerEvent {
    /// A frame of the run.
    Frame(SimFrame),
    /// A command took effect.
    Ack(SteerAck),
}

struct Change {
    index: u32,
    alpha: Option<f64>,
    spike_probability: Option<f64>,
}

struct Steering {
    sim: Simulation,
    total: usize,
    include_field: bool,
    paused: bool,
    stopped: bool,
    /// Changes waiting for their step (several may share one).
    scheduled: BTreeMap<usize, Vec<Change>>,
}

impl Steering {
    fn ack(&self, index: u32, command: &'static str) -> SteerEvent {
        let p = self.sim.params();
        SteerEvent::Ack(SteerAck {
            command_index: index,
            command,
            applied_at_step: self.sim.steps_done() as u32,
            alpha: p.alpha,
            spike_probability: p.spike_probability,
            paused: self.paused,
        })
    }

    fn apply(&mut self, c: &Change) -> Result<(), ServiceError> {
        if let Some(a) = c.alpha {
            self.sim.set_alpha(a)?;
        }
        if let Some(p) = c.spike_probability {
            self.sim.set_spike_probability(p)?;
        }
        Ok(())
    }
}

/// Check new values against the same limits as a start request, before scheduling.
fn check_change(current: &SimulationParams, c: &Change) -> Result<(), ServiceError> {
    let p = SimulationParams {
        alpha: c.alpha.unwrap_or(current.alpha),
        spike_probability: c.spike_probability.unwrap_or(current.spike_probability),
        ..current.clone()
    };
    Ok(p.validate()?)
}

impl MfnService {
    /// `SteerSimulation`. `commands` is the client's half of the stream; the returned
    /// stream carries acks and frames, then ends (or ends with one error).
    pub fn steer_simulation<S>(&self, ctx: &RequestContext, commands: S) -> FrameStream<SteerEvent>
    where
        S: Stream<Item = Result<SteerCommand, ServiceError>> + Send + Unpin + 'static,
    {
        let (tx, rx) = mpsc::channel(1);
        let svc = self.clone();
        let ctx = ctx.clone();
        spawn(async move {
            let start = Instant::now();
            let mut commands = commands.enumerate();
            // The first message must be the start request.
            let first = match commands.next().await {
                Some((_, Ok(SteerCommand::Start { run, paused }))) => Ok((run, paused)),
                Some((_, Ok(other))) => Err(ServiceError::invalid(
                    "command",
                    format!("the first command must be start, got {}", other.name()),
                )),
                Some((_, Err(e))) => Err(e),
                None => return,
            };
            let prepared = first.and_then(|(req, paused)| {
                svc.admit()?;
                let spec = req.sim.resolve(&svc.inner.config.limits)?;
                let frames = req.frames.resolve(spec.params.steps)?;
                Ok((req, paused, spec, frames))
            });
            let (req, start_paused, spec, frames) = match prepared {
                Ok(v) => v,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            let _active = ActiveStream::new(&svc.inner);
            let mut producer = Producer::new(svc.clone(), tx, &frames);
            // Commands are read by their own task so the producer can look at them
            // between chunks without waiting.
            let (cmd_tx, mut cmd_rx) =
                mpsc::channel::<(u32, Result<SteerCommand, ServiceError>)>(16);
            let reader = tokio::spawn(async move {
                while let Some((i, c)) = commands.next().await {
                    if cmd_tx.send((i as u32, c)).await.is_err() {
                        break;
                    }
                }
            });
            let outcome = async {
                let p = spec.params.clone();
                let seed = spec.seed;
                let sim = producer
                    .compute(move |_| Ok(Simulation::new(&p, seed)?))
                    .await?;
                let mut st = Steering {
                    sim,
                    total: spec.params.steps,
                    include_field: req.include_field,
                    paused: start_paused,
                    stopped: false,
                    scheduled: BTreeMap::new(),
                };
                producer.send(st.ack(0, "start")).await?;
                let every = frames.steps_per_frame;
                let mut input_open = true;
                loop {
                    // Apply what the client sent since the last chunk; while paused,
                    // wait for the next command.
                    loop {
                        let next = if st.paused && input_open {
                            tokio::select! {
                                c = cmd_rx.recv() => c,
                                () = producer.tx.closed() => return Err(Stop::Gone),
                                () = svc.drained() => {
                                    return Err(Stop::Error(ServiceError::draining()));
                                }
                            }
                        } else {
                            match cmd_rx.try_recv() {
                                Ok(c) => Some(c),
                                Err(mpsc::error::TryRecvError::Empty) => break,
                                Err(mpsc::error::TryRecvError::Disconnected) => None,
                            }
                        };
                        let Some((index, cmd)) = next else {
                            input_open = false;
                            if st.paused {
                                // Nobody can resume a paused run whose input closed.
                                st.stopped = true;
                            }
                            break;
                        };
                        let cmd = cmd.map_err(Stop::Error)?;
                        handle(&mut st, &mut producer, index, cmd).await?;
                        if st.stopped {
                            break;
                        }
                    }
                    let done = st.sim.steps_done();
                    if st.stopped || done >= st.total {
                        let mut frame = sim_frame(&st.sim, st.total, st.include_field);
                        frame.is_final = true;
                        frame.meta = Some(Meta::since(&ctx, start, CacheStatus::Bypass));
                        producer.send(SteerEvent::Frame(frame)).await?;
                        return Ok(());
                    }
                    if st.paused {
                        continue;
                    }
                    let boundary = ((done / every) + 1) * every;
                    let mut target = boundary.min(st.total);
                    if let Some((&at, _)) = st.scheduled.first_key_value() {
                        target = target.min(at);
                    }
                    let total = st.total;
                    let include_field = st.include_field;
                    let sim = std::mem::replace(&mut st.sim, placeholder_sim());
                    let (sim, frame) = producer
                        .compute(move |tok| {
                            let mut sim = sim;
                            sim.run_to(target, || tok.check())?;
                            let frame = (target.is_multiple_of(every) || target == total)
                                .then(|| sim_frame(&sim, total, include_field));
                            Ok((sim, frame))
                        })
                        .await?;
                    st.sim = sim;
                    if let Some(changes) = st.scheduled.remove(&target) {
                        for c in changes {
                            st.apply(&c).map_err(Stop::Error)?;
                            producer.send(st.ack(c.index, "set_parameters")).await?;
                        }
                    }
                    if let Some(mut frame) = frame {
                        if frame.is_final {
                            frame.meta = Some(Meta::since(&ctx, start, CacheStatus::Bypass));
                        }
                        producer.send(SteerEvent::Frame(frame)).await?;
                        if target == total {
                            return Ok(());
                        }
                    }
                }
            }
            .await;
            reader.abort();
            producer.finish(outcome).await;
        });
        ReceiverStream::new(rx)
    }
}

async fn handle(
    st: &mut Steering,
    producer: &mut Producer<SteerEvent>,
    index: u32,
    cmd: SteerCommand,
) -> Result<(), Stop> {
    let name = cmd.name();
    match cmd {
        SteerCommand::Start { .. } => {
            return Err(Stop::Error(ServiceError::invalid(
                "command",
                "start may only be the first command",
            )));
        }
        SteerCommand::SetParameters {
            alpha,
            spike_probability,
            apply_at_step,
        } => {
            let change = Change {
                index,
                alpha,
                spike_probability,
            };
            check_change(st.sim.params(), &change).map_err(Stop::Error)?;
            let done = st.sim.steps_done();
            match apply_at_step.map(|s| s as usize) {
                Some(at) if at < done => {
                    return Err(Stop::Error(ServiceError::out_of_range(
                        "apply_at_step",
                        at,
                        &format!("must not be behind the run, which is at step {done}"),
                    )));
                }
                Some(at) if at > st.total => {
                    return Err(Stop::Error(ServiceError::out_of_range(
                        "apply_at_step",
                        at,
                        &format!("must be at most the run's steps ({})", st.total),
                    )));
                }
                Some(at) if at > done => {
                    st.scheduled.entry(at).or_default().push(change);
                    return Ok(());
                }
                _ => {
                    st.apply(&change).map_err(Stop::Error)?;
                }
            }
        }
        SteerCommand::Pause => st.paused = true,
        SteerCommand::Resume => st.paused = false,
        SteerCommand::Stop => st.stopped = true,
    }
    let ack = st.ack(index, name);
    producer.send(ack).await
}

/// A 4×4 one-step simulation that stands in while the real one is in the gate.
fn placeholder_sim() -> Simulation {
    let p = SimulationParams {
        grid_size: 4,
        steps: 1,
        turing_enabled: false,
        ..SimulationParams::default()
    };
    Simulation::new(&p, 0).expect("static parameters are valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::request::{FrameInput, SimInput};
    use crate::service::ServiceConfig;

    fn start(paused: bool) -> SteerCommand {
        SteerCommand::Start {
            run: StreamSimulationRequest {
                sim: SimInput {
                    grid_size: Some(16),
                    steps: Some(20),
                    ..Default::default()
                },
                include_field: false,
                frames: FrameInput {
                    steps_per_frame: Some(5),
                    frame_interval_ms: None,
                },
            },
            paused,
        }
    }

    #[tokio::test]
    async fn a_paused_run_ends_with_unavailable_when_the_server_drains() {
        let svc = MfnService::new(ServiceConfig {
            workers: 1,
            queue: 2,
            ..ServiceConfig::default()
        })
        .unwrap();
        let (tx, rx) = mpsc::channel(4);
        tx.send(Ok(start(true))).await.unwrap();
        let mut events =
            svc.steer_simulation(&RequestContext::new(Some("p")), ReceiverStream::new(rx));
        let ack = events.next().await.unwrap().unwrap();
        assert!(matches!(
            ack,
            SteerEvent::Ack(SteerAck { paused: true, .. })
        ));
        svc.begin_drain();
        let end = tokio::time::timeout(std::time::Duration::from_secs(5), events.next())
            .await
            .expect("paused run held the drain")
            .unwrap();
        assert_eq!(end.unwrap_err().code, ErrorCode::Unavailable);
        drop(tx);
    }

    #[tokio::test]
    async fn closing_the_input_of_a_paused_run_stops_it_with_a_final_frame() {
        let svc = MfnService::new(ServiceConfig::default()).unwrap();
        let (tx, rx) = mpsc::channel(4);
        tx.send(Ok(start(true))).await.unwrap();
        drop(tx);
        let events = crate::stream::collect(
            svc.steer_simulation(&RequestContext::new(None), ReceiverStream::new(rx)),
        )
        .await
        .unwrap();
        match events.last().unwrap() {
            SteerEvent::Frame(f) => assert!(f.is_final && f.step == 0),
            other => panic!("{other:?}"),
        }
    }
}
