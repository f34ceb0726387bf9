//! `mfn bench unary`: closed-loop workers or an open-loop schedule over N connections.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;
use tokio::sync::Semaphore;

use super::record::{Percentiles, Progress, Recorder, RssReport, RssSampler, round3};
use super::{Rpc, UnaryArgs, connect, progress_enabled};
use crate::remote::Remote;

/// What `mfn bench unary` reports (keys documented in the module above).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnaryReport {
    /// Always `unary`.
    pub mode: &'static str,
    /// The server.
    pub target: String,
    /// The RPC called.
    pub rpc: Rpc,
    /// How the load was offered.
    pub load: UnaryLoad,
    /// Calls in the measured window.
    pub requests: Requests,
    /// Calls of the measured window by final status; sums to `requests.completed`.
    pub status: BTreeMap<&'static str, u64>,
    /// Completed calls per second of the measured window.
    pub throughput_rps: f64,
    /// OK calls per second of the measured window.
    pub ok_rps: f64,
    /// Latency of the OK calls (open loop: from the scheduled send time).
    pub latency_ms: Percentiles,
    /// The server's memory, with `--server-pid`.
    pub server_rss: Option<RssReport>,
}

/// The load of a unary run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnaryLoad {
    /// `closed` (workers wait for answers) or `open` (fixed rate).
    pub model: &'static str,
    /// HTTP/2 connections.
    pub connections: usize,
    /// Closed loop: calls in flight per connection.
    pub in_flight_per_connection: Option<usize>,
    /// Open loop: offered requests per second.
    pub rate_rps: Option<f64>,
    /// Measured seconds.
    pub duration_s: f64,
    /// Warm-up seconds.
    pub warmup_s: f64,
    /// `fixed` (cacheable) or `vary` (a new seed per call).
    pub seeds: &'static str,
    /// Every K-th call was invalid (0 = none).
    pub invalid_every: u64,
}

/// Call counts of the measured window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Requests {
    /// Calls started (closed) or scheduled (open) in the window.
    pub sent: u64,
    /// Calls that started and finished in the window.
    pub completed: u64,
    /// Of those, OK.
    pub ok: u64,
    /// Of those, any other status.
    pub not_ok: u64,
}

/// The measured window of a run: `[warm, end)` on the monotonic clock.
#[derive(Debug, Clone, Copy)]
struct Window {
    warm: Instant,
    end: Instant,
}

impl Window {
    fn counts(&self, started: Instant, finished: Instant) -> bool {
        started >= self.warm && finished <= self.end
    }
}

pub(super) async fn run(args: &UnaryArgs, remote: &Remote) -> Result<UnaryReport> {
    let load = &args.load;
    let clients = connect(remote, load.connections, secs(load.timeout)).await?;
    let recorder = Arc::new(Recorder::new());
    let seq = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let window = Window {
        warm: start + secs(load.warmup),
        end: start + secs(load.warmup + load.duration),
    };
    let rss = match load.server_pid {
        Some(pid) => Some(RssSampler::start(pid, window.warm)?),
        None => None,
    };
    let progress = Progress::start(
        progress_enabled(load),
        recorder.clone(),
        start,
        secs(load.warmup + load.duration),
        "calls",
    );

    match args.rate {
        None => {
            let mut workers = Vec::new();
            for client in &clients {
                for _ in 0..args.in_flight {
                    let (client, recorder, seq, sent) =
                        (client.clone(), recorder.clone(), seq.clone(), sent.clone());
                    let request = args.request.clone();
                    workers.push(tokio::spawn(async move {
                        loop {
                            let t0 = Instant::now();
                            if t0 >= window.end {
                                break;
                            }
                            if t0 >= window.warm {
                                sent.fetch_add(1, Ordering::Relaxed);
                            }
                            let call = request.call(seq.fetch_add(1, Ordering::Relaxed));
                            let status = call.send(&client).await;
                            let t1 = Instant::now();
                            recorder.record(t1 - t0, status, window.counts(t0, t1));
                        }
                    }));
                }
            }
            for w in workers {
                w.await?;
            }
        }
        Some(rate) => {
            let slots = Arc::new(Semaphore::new(args.max_outstanding));
            let period = 1.0 / rate;
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0u64.. {
                let intended = start + Duration::from_secs_f64(i as f64 * period);
                if intended >= window.end {
                    break;
                }
                if intended > Instant::now() {
                    tokio::time::sleep_until(intended.into()).await;
                }
                if intended >= window.warm {
                    sent.fetch_add(1, Ordering::Relaxed);
                }
                // Waiting for a slot delays the send, never the clock the latency runs on.
                let permit = slots.clone().acquire_owned().await?;
                let client = clients[(i as usize) % clients.len()].clone();
                let call = args.request.call(i);
                let recorder = recorder.clone();
                tasks.spawn(async move {
                    let status = call.send(&client).await;
                    let t1 = Instant::now();
                    recorder.record(t1 - intended, status, window.counts(intended, t1));
                    drop(permit);
                });
                // Reap finished tasks so the set stays small.
                while tasks.try_join_next().is_some() {}
            }
            while tasks.join_next().await.is_some() {}
        }
    }
    drop(progress);
    let server_rss = rss.map(RssSampler::finish);
    let (latency, status) = recorder.finish();
    let completed: u64 = status.values().sum();
    let ok = status.get("OK").copied().unwrap_or(0);
    Ok(UnaryReport {
        mode: "unary",
        target: remote.url.clone(),
        rpc: args.request.rpc,
        load: UnaryLoad {
            model: if args.rate.is_some() {
                "open"
            } else {
                "closed"
            },
            connections: load.connections,
            in_flight_per_connection: args.rate.is_none().then_some(args.in_flight),
            rate_rps: args.rate,
            duration_s: load.duration,
            warmup_s: load.warmup,
            seeds: if args.request.vary_seed {
                "vary"
            } else {
                "fixed"
            },
            invalid_every: args.request.invalid_every,
        },
        requests: Requests {
            sent: sent.load(Ordering::Relaxed),
            completed,
            ok,
            not_ok: completed - ok,
        },
        status,
        throughput_rps: round3(completed as f64 / load.duration),
        ok_rps: round3(ok as f64 / load.duration),
        latency_ms: latency.percentiles(),
        server_rss,
    })
}

pub(super) fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}
