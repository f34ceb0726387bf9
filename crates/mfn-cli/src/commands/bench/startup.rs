//! `mfn bench startup`: spawn `mfn serve` on free ports, time it from spawn to
//! `GET /ready` answering 200, wait `--settle`, read its `VmRSS`, stop it; repeat.
//!
//! The server inherits this process's environment and CPU affinity, so
//! `taskset -c 0 mfn bench startup` measures a server pinned to core 0.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::StartupArgs;
use super::record::{round3, vm_rss_kb};

/// What `mfn bench startup` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StartupReport {
    /// Always `startup`.
    pub mode: &'static str,
    /// Start-ups timed.
    pub runs: usize,
    /// Spawn → `/ready` 200, milliseconds.
    pub ready_ms: Spread,
    /// `VmRSS` after `--settle` seconds idle, kB.
    pub rss_idle_kb: Spread,
}

/// Smallest, median and largest of the runs, and every run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spread {
    /// Smallest.
    pub min: f64,
    /// Median (the lower middle for an even count).
    pub median: f64,
    /// Largest.
    pub max: f64,
    /// Every run, in order.
    pub all: Vec<f64>,
}

/// Kills the server however the run ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// How long one start-up may take before the run fails.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) fn run(args: &StartupArgs) -> Result<StartupReport> {
    anyhow::ensure!((1..=100).contains(&args.runs), "--runs must be in [1, 100]");
    anyhow::ensure!(
        args.settle.is_finite() && (0.0..=60.0).contains(&args.settle),
        "--settle must be in [0, 60] seconds"
    );
    let bin = match &args.serve_bin {
        Some(p) => p.clone(),
        None => std::env::current_exe().context("cannot find the mfn binary")?,
    };
    let mut ready = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..args.runs {
        let (grpc, http) = (free_port()?, free_port()?);
        let spawned = Instant::now();
        let child = Command::new(&bin)
            .args(["serve", "--grpc-port", &grpc.to_string()])
            .args(["--http-port", &http.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let mut server = Server(child);
        loop {
            if ready_status(http) == Some(200) {
                break;
            }
            if let Some(status) = server.0.try_wait()? {
                bail!("mfn serve exited with {status} before it was ready");
            }
            if spawned.elapsed() > READY_TIMEOUT {
                bail!("mfn serve was not ready after {READY_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        ready.push(round3(spawned.elapsed().as_secs_f64() * 1000.0));
        std::thread::sleep(Duration::from_secs_f64(args.settle));
        rss.push(vm_rss_kb(server.0.id()).context("cannot read the server's VmRSS")? as f64);
    }
    Ok(StartupReport {
        mode: "startup",
        runs: args.runs,
        ready_ms: spread(ready),
        rss_idle_kb: spread(rss),
    })
}

/// The HTTP status of `GET /ready` on `127.0.0.1:port`, or `None` if nothing answers.
fn ready_status(port: u16) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    // "HTTP/1.1 200"
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn spread(mut all: Vec<f64>) -> Spread {
    let runs = all.clone();
    all.sort_by(f64::total_cmp);
    Spread {
        min: all[0],
        median: all[(all.len() - 1) / 2],
        max: all[all.len() - 1],
        all: runs,
    }
}
