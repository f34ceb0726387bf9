//! `mfn bench stream`: N concurrent `StreamSimulation` streams, opened evenly over the
//! warm-up, each asking for `fps` frames a second; a stream that ends is reopened.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use futures::StreamExt;
use mfn_client::pb;
use serde::Serialize;

use super::StreamArgs;
use super::connect;
use super::progress_enabled;
use super::record::{self, Latencies, Percentiles, Progress, Recorder, RssReport, RssSampler};
use super::unary::secs;
use crate::remote::Remote;

/// What `mfn bench stream` reports (keys documented in the module above).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamReport {
    /// Always `stream`.
    pub mode: &'static str,
    /// The server.
    pub target: String,
    /// Always `stream-simulation`.
    pub rpc: &'static str,
    /// How the load was offered.
    pub load: StreamLoad,
    /// Streams over the whole run (warm-up included).
    pub streams: StreamCounts,
    /// How streams ended, by status; `streams.opened` = sum + `streams.open_at_end`.
    pub status: BTreeMap<&'static str, u64>,
    /// Frames of the measured window.
    pub frames: Frames,
    /// Gap between consecutive frames of one stream, in the measured window.
    pub frame_gap_ms: Percentiles,
    /// From opening a stream to its first frame (all streams).
    pub first_frame_ms: Percentiles,
    /// The server's memory, with `--server-pid`.
    pub server_rss: Option<RssReport>,
    /// (peak − before) / streams, with `--server-pid`.
    pub rss_per_stream_kb: Option<f64>,
}

/// The load of a stream run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamLoad {
    /// HTTP/2 connections the streams share.
    pub connections: usize,
    /// Concurrent streams.
    pub streams: usize,
    /// Frames per second asked of each stream.
    pub fps: f64,
    /// Steps per frame.
    pub steps_per_frame: u32,
    /// Grid side (null: the server's default).
    pub grid_size: Option<u32>,
    /// Steps of each run.
    pub steps: u32,
    /// Measured seconds.
    pub duration_s: f64,
    /// Warm-up seconds (streams open evenly over it).
    pub warmup_s: f64,
}

/// Stream counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamCounts {
    /// Streams opened.
    pub opened: u64,
    /// Streams that ended with their final frame and OK.
    pub completed: u64,
    /// Streams that ended with another status.
    pub failed: u64,
    /// Streams still running when the run ended (closed by the client).
    pub open_at_end: u64,
}

/// Frame counts of the measured window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Frames {
    /// Frames received.
    pub received: u64,
    /// Frames per second, all streams.
    pub per_second: f64,
    /// Frames per second per stream.
    pub per_stream_per_second: f64,
}

#[derive(Default)]
struct Counters {
    opened: AtomicU64,
    completed: AtomicU64,
    failed: AtomicU64,
    open_at_end: AtomicU64,
    frames: AtomicU64,
}

/// Most steps the server accepts (`MFN_MAX_STEPS` default).
const MAX_STEPS: u32 = 10_000;

pub(super) async fn run(args: &StreamArgs, remote: &Remote) -> Result<StreamReport> {
    let load = &args.load;
    let clients = connect(remote, load.connections, secs(load.timeout)).await?;
    let interval_ms = (1000.0 / args.fps).round() as u32;
    let steps = args.steps.unwrap_or_else(|| {
        let frames = args.fps * (load.warmup + load.duration + 5.0);
        ((frames * f64::from(args.steps_per_frame)).ceil() as u32).clamp(1, MAX_STEPS)
    });
    let gaps = Arc::new(Recorder::new());
    let first_frames = Arc::new(std::sync::Mutex::new(Latencies::default()));
    let counters = Arc::new(Counters::default());
    let start = Instant::now();
    let warm = start + secs(load.warmup);
    let end = warm + secs(load.duration);
    let rss = match load.server_pid {
        Some(pid) => Some(RssSampler::start(pid, warm)?),
        None => None,
    };
    let progress = Progress::start(
        progress_enabled(load),
        gaps.clone(),
        start,
        secs(load.warmup + load.duration),
        "frames",
    );
    let mut tasks = Vec::with_capacity(args.streams);
    for i in 0..args.streams {
        let client = clients[i % clients.len()].clone();
        let (gaps, first_frames, counters) = (gaps.clone(), first_frames.clone(), counters.clone());
        let request = pb::StreamSimulationRequest {
            seed: Some(args.seed.wrapping_add(i as u64)),
            grid_size: args.grid_size,
            steps: Some(steps),
            steps_per_frame: Some(args.steps_per_frame),
            frame_interval_ms: interval_ms,
            ..Default::default()
        };
        // Open evenly over the warm-up so the server is not asked for all at once.
        let opens_at = start + secs(load.warmup * i as f64 / args.streams as f64);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(opens_at.into()).await;
            while Instant::now() < end {
                counters.opened.fetch_add(1, Ordering::Relaxed);
                let opened = Instant::now();
                let ended = tokio::time::timeout_at(end.into(), async {
                    let mut frames = match client.stream_simulation(request.clone()).await {
                        Ok(f) => f,
                        Err(e) => return Err(e),
                    };
                    let mut last: Option<Instant> = None;
                    while let Some(frame) = frames.next().await {
                        let frame = frame?;
                        let now = Instant::now();
                        match last {
                            None => first_frames
                                .lock()
                                .expect("first-frame lock")
                                .record(now - opened),
                            Some(prev) => {
                                let measured = prev >= warm && now <= end;
                                gaps.sample(now - prev, measured);
                                if measured {
                                    counters.frames.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        }
                        last = Some(now);
                        if frame.is_final {
                            break;
                        }
                    }
                    Ok(())
                })
                .await;
                match ended {
                    Err(_) => {
                        counters.open_at_end.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    Ok(Ok(())) => {
                        counters.completed.fetch_add(1, Ordering::Relaxed);
                        gaps.count("OK");
                    }
                    Ok(result @ Err(_)) => {
                        counters.failed.fetch_add(1, Ordering::Relaxed);
                        gaps.count(record::outcome_name(&result));
                        // Do not hammer a server that refuses: wait a frame before reopening.
                        tokio::time::sleep(Duration::from_millis(interval_ms.max(10).into())).await;
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    drop(progress);
    let server_rss = rss.map(RssSampler::finish);
    let rss_per_stream_kb = server_rss.as_ref().map(|r| {
        record::round3(r.peak_kb.saturating_sub(r.before_kb) as f64 / args.streams as f64)
    });
    let (gap, status) = gaps.finish();
    let completed = counters.completed.load(Ordering::Relaxed);
    let received = counters.frames.load(Ordering::Relaxed);
    let first = first_frames.lock().expect("first-frame lock").percentiles();
    Ok(StreamReport {
        mode: "stream",
        target: remote.url.clone(),
        rpc: "stream-simulation",
        load: StreamLoad {
            connections: load.connections,
            streams: args.streams,
            fps: args.fps,
            steps_per_frame: args.steps_per_frame,
            grid_size: args.grid_size,
            steps,
            duration_s: load.duration,
            warmup_s: load.warmup,
        },
        streams: StreamCounts {
            opened: counters.opened.load(Ordering::Relaxed),
            completed,
            failed: counters.failed.load(Ordering::Relaxed),
            open_at_end: counters.open_at_end.load(Ordering::Relaxed),
        },
        status,
        frames: Frames {
            received,
            per_second: record::round3(received as f64 / load.duration),
            per_stream_per_second: record::round3(
                received as f64 / load.duration / args.streams as f64,
            ),
        },
        frame_gap_ms: gap.percentiles(),
        first_frame_ms: first,
        server_rss,
        rss_per_stream_kb,
    })
}
