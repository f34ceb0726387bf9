//! Steady load through one [`Client`]: what the scale-out test and the benchmarks of
//! `docs/BENCHMARKS.md` drive. Every call is a `RunSimulation` with its own seed (so the
//! result cache never answers) on a small grid: CPU-bound work on the replicas.
//!
//! ```text
//! balance_load TARGET [--concurrency N] [--seconds S] [--grid N] [--steps T]
//!              [--attempts A] [--resolve-ms MS] [--stop-file PATH]
//! ```
//!
//! `TARGET` is anything [`ClientConfig::endpoint`] accepts (`dns:///mfn-headless:50051`,
//! a URL list, one URL). It runs for `--seconds` or until `--stop-file` exists, then
//! prints one JSON object: calls, ok, failed (by gRPC code), the client's retries,
//! ejections and resolutions, calls/s, and a timeline of 100 ms buckets
//! `[unix_ms, ok, failed, retried]` where `retried` counts calls that succeeded only
//! after a retry.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mfn_client::{Client, ClientConfig, RetryPolicy, pb};

struct Args {
    target: String,
    concurrency: usize,
    seconds: f64,
    grid: u32,
    steps: u32,
    attempts: u32,
    resolve_ms: u64,
    stop_file: Option<PathBuf>,
}

#[derive(Default)]
struct Tally {
    ok: u64,
    failed: BTreeMap<String, u64>,
    /// 100 ms bucket (unix ms / 100) -> [ok, failed, retried]
    timeline: BTreeMap<u64, [u64; 3]>,
}

fn parse() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        target: it.next().ok_or("usage: balance_load TARGET [flags]")?,
        concurrency: 4,
        seconds: 10.0,
        grid: 32,
        steps: 32,
        attempts: 4,
        resolve_ms: 1000,
        stop_file: None,
    };
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--concurrency" => a.concurrency = value.parse().map_err(|e| bad(&e))?,
            "--seconds" => a.seconds = value.parse().map_err(|e| bad(&e))?,
            "--grid" => a.grid = value.parse().map_err(|e| bad(&e))?,
            "--steps" => a.steps = value.parse().map_err(|e| bad(&e))?,
            "--attempts" => a.attempts = value.parse().map_err(|e| bad(&e))?,
            "--resolve-ms" => a.resolve_ms = value.parse().map_err(|e| bad(&e))?,
            "--stop-file" => a.stop_file = Some(value.into()),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(a)
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse()?;
    let config = ClientConfig::builder(args.target.clone())
        .deadline(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(1))
        .resolve_interval(Duration::from_millis(args.resolve_ms))
        .retry(RetryPolicy {
            max_attempts: args.attempts,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(500),
            budget: Duration::from_secs(15),
            ..RetryPolicy::default()
        })
        .build()?;
    let client = Client::connect_lazy(config)?;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(args.seconds);
    let args = Arc::new(args);
    let mut workers = Vec::new();
    for w in 0..args.concurrency {
        let (client, tally, args) = (client.clone(), tally.clone(), args.clone());
        workers.push(tokio::spawn(async move {
            let mut seed = (w as u64) << 40;
            while Instant::now() < until && !args.stop_file.as_ref().is_some_and(|p| p.exists()) {
                seed += 1;
                let before = client.stats().retries;
                let result = client
                    .run_simulation(pb::RunSimulationRequest {
                        seed: Some(seed),
                        grid_size: Some(args.grid),
                        steps: Some(args.steps),
                        ..Default::default()
                    })
                    .await;
                // Retries of other workers may land in between: `retried` is an upper
                // bound per bucket, exact in total only through the client's counter.
                let retried = client.stats().retries > before;
                let bucket = unix_ms() / 100;
                let mut t = tally.lock().unwrap_or_else(|e| e.into_inner());
                let slot = t.timeline.entry(bucket).or_default();
                match result {
                    Ok(_) => {
                        slot[0] += 1;
                        slot[2] += u64::from(retried);
                        t.ok += 1;
                    }
                    Err(e) => {
                        slot[1] += 1;
                        let code = e
                            .code()
                            .map_or("transport".to_owned(), |c| format!("{c:?}"));
                        *t.failed.entry(code).or_default() += 1;
                    }
                }
            }
        }));
    }
    for w in workers {
        w.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let t = tally.lock().unwrap_or_else(|e| e.into_inner());
    let stats = client.stats();
    let failed: u64 = t.failed.values().sum();
    let failed_by_code = t
        .failed
        .iter()
        .map(|(k, v)| format!("\"{k}\":{v}"))
        .collect::<Vec<_>>()
        .join(",");
    let timeline = t
        .timeline
        .iter()
        .map(|(b, [o, f, r])| format!("[{},{o},{f},{r}]", b * 100))
        .collect::<Vec<_>>()
        .join(",");
    let endpoints = client
        .endpoints()
        .iter()
        .map(|e| format!("\"{}\"", e.url))
        .collect::<Vec<_>>()
        .join(",");
    println!(
        "{{\"target\":\"{}\",\"seconds\":{elapsed:.3},\"calls\":{},\"ok\":{},\"failed\":{failed},\"failed_by_code\":{{{failed_by_code}}},\"calls_per_s\":{:.1},\"attempts\":{},\"retries\":{},\"throttled\":{},\"ejections\":{},\"resolutions\":{},\"endpoints\":[{endpoints}],\"timeline\":[{timeline}]}}",
        args.target,
        t.ok + failed,
        t.ok,
        (t.ok + failed) as f64 / elapsed,
        stats.attempts,
        stats.retries,
        stats.throttled,
        stats.ejections,
        stats.resolutions,
    );
    Ok(())
}
