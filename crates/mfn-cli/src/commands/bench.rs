//! `mfn bench`: load generation against an MFN server (or the bare echo baseline's
//! counterpart, h2load, run by `scripts/bench.sh`).
//!
//! | mode | does |
//! |---|---|
//! | `mfn --remote URL bench unary --rpc R` | one unary RPC, closed loop (`--connections` × `--in-flight`) or open loop (`--rate`) |
//! | `mfn --remote URL bench stream` | `--streams` concurrent `StreamSimulation` streams at `--fps` frames/s each |
//! | `mfn bench startup` | spawns `mfn serve` on free ports, times it to `/ready`, reads its idle RSS |
//! | `mfn bench body --rpc R --out F` | writes a request as a gRPC-framed body (5-byte prefix + protobuf) for `h2load -d` |
//!
//! Latencies come from an HDR histogram (`hdrhistogram`, 3 significant digits, µs).
//! In the **open loop** a request's latency runs from its *intended* send time
//! (start + i / rate), not from when it was actually sent, so a stalled server is
//! charged for the requests it kept waiting (no coordinated omission). Every call ends
//! in one status, counted by its gRPC name (`OK`, `INVALID_ARGUMENT`,
//! `RESOURCE_EXHAUSTED`, …; `CLIENT_ERROR` for failures that are not a status); the
//! SDK's retries are off, so each attempt is one sample. Only calls started after
//! `--warmup` and finished before its end count; latency percentiles are over `OK`
//! calls. With `--server-pid` the server's `VmRSS` is sampled every 100 ms.
//! API keys and signing come from the global `--api-key` / `--signed` flags.
//!
//! # JSON report (`--format json`; stable keys)
//! - unary: `mode`, `target`, `rpc`, `load` {`model` (`closed`|`open`), `connections`,
//!   `in_flight_per_connection`, `rate_rps`, `duration_s`, `warmup_s`, `seeds`
//!   (`fixed`|`vary`), `invalid_every`}, `requests` {`sent`, `completed`, `ok`,
//!   `not_ok`}, `status` {name: count; sums to `requests.completed`}, `throughput_rps`,
//!   `ok_rps`, `latency_ms` {`count`, `min`, `mean`, `p50`, `p90`, `p99`, `p99_9`,
//!   `max`}, `server_rss` (null or {`pid`, `before_kb`, `peak_kb`, `end_kb`}).
//! - stream: `mode`, `target`, `rpc`, `load` {`connections`, `streams`, `fps`,
//!   `steps_per_frame`, `grid_size`, `steps`, `duration_s`, `warmup_s`}, `streams`
//!   {`opened`, `completed`, `failed`, `open_at_end`}, `status` {name: count of stream
//!   ends; `opened` = sum + `open_at_end`}, `frames` {`received`, `per_second`,
//!   `per_stream_per_second`}, `frame_gap_ms` (percentiles), `first_frame_ms`
//!   (percentiles), `server_rss`, `rss_per_stream_kb`.
//! - startup: `mode`, `runs`, `ready_ms` {`min`, `median`, `max`, `all`},
//!   `rss_idle_kb` {`min`, `median`, `max`}.
//! - body: `mode`, `rpc`, `path`, `bytes`, `out`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use mfn_client::{Client, ClientConfig, RetryPolicy, pb};
use prost::Message;
use serde::Serialize;

use crate::remote::Remote;

pub mod record;
mod startup;
mod stream;
mod unary;

pub use startup::StartupReport;
pub use stream::StreamReport;
pub use unary::UnaryReport;

/// Flags of `mfn bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// What to measure
    #[command(subcommand)]
    pub mode: BenchMode,
}

/// Modes of `mfn bench`.
#[derive(Debug, Clone, Subcommand)]
pub enum BenchMode {
    /// Unary calls of one RPC (needs --remote): closed loop, or open loop with --rate
    #[command(allow_negative_numbers = true)]
    Unary(UnaryArgs),
    /// Concurrent StreamSimulation streams (needs --remote): inter-frame gaps, frames/s
    Stream(StreamArgs),
    /// Spawn `mfn serve` on free ports: time to /ready and idle RSS
    Startup(StartupArgs),
    /// Write one request as a gRPC-framed body file (for h2load -d)
    Body(BodyArgs),
}

/// The RPCs `mfn bench unary` can call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rpc {
    /// MFNFeaturesService/ExtractFeatures
    ExtractFeatures,
    /// MFNSimulationService/RunSimulation
    RunSimulation,
    /// MFNValidationService/ValidatePattern
    ValidatePattern,
    /// MyceliumService/ComputeNernst
    ComputeNernst,
    /// MyceliumService/HealthCheck (the full stack, no computation)
    HealthCheck,
}

/// What each request carries.
#[derive(Debug, Clone, Args)]
pub struct RequestFlags {
    /// RPC to call
    #[arg(long, value_enum, default_value = "extract-features")]
    pub rpc: Rpc,
    /// Seed of the requests (the first one with --vary-seed)
    #[arg(long, default_value_t = mfn_service::request::DEFAULT_SEED)]
    pub seed: u64,
    /// A new seed for every request (seed, seed+1, …) so the result cache never hits
    #[arg(long)]
    pub vary_seed: bool,
    /// Grid side N [default: the server's default]
    #[arg(long, value_name = "N")]
    pub grid_size: Option<u32>,
    /// Simulation steps [default: the server's default]
    #[arg(long, value_name = "T")]
    pub steps: Option<u32>,
    /// ValidatePattern training epochs [default: the server's default]
    #[arg(long, value_name = "E")]
    pub epochs: Option<u32>,
    /// Make every K-th request invalid (grid size 1, or valence 0 for ComputeNernst) to
    /// exercise the error path; 0 = never
    #[arg(long, default_value_t = 0, value_name = "K")]
    pub invalid_every: u64,
}

/// Flags shared by the load modes.
#[derive(Debug, Clone, Args)]
pub struct LoadFlags {
    /// HTTP/2 connections (one SDK client each)
    #[arg(long, default_value_t = 1, value_name = "C")]
    pub connections: usize,
    /// Measured seconds (after the warm-up)
    #[arg(long, default_value_t = 10.0, value_name = "S")]
    pub duration: f64,
    /// Seconds of load before measuring (streams are opened evenly over it)
    #[arg(long, default_value_t = 1.0, value_name = "S")]
    pub warmup: f64,
    /// Deadline of one call in seconds (streams: of opening it)
    #[arg(long, default_value_t = 30.0, value_name = "S")]
    pub timeout: f64,
    /// Sample VmRSS of this process (the server) during the run
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,
    /// Threads of the load generator's runtime [default: available cores]
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress line on stderr (it is also off when stderr is not a terminal)
    #[arg(long, short)]
    pub quiet: bool,
}

/// Flags of `mfn bench unary`.
#[derive(Debug, Clone, Args)]
pub struct UnaryArgs {
    /// The request
    #[command(flatten)]
    pub request: RequestFlags,
    /// The load
    #[command(flatten)]
    pub load: LoadFlags,
    /// Calls in flight per connection (closed loop: each sends the next when its
    /// answer arrives)
    #[arg(long, default_value_t = 8, value_name = "K")]
    pub in_flight: usize,
    /// Open loop: send this many requests per second in all, on schedule, whatever
    /// the answers (latency counts from the scheduled time)
    #[arg(long, value_name = "RPS")]
    pub rate: Option<f64>,
    /// Open loop: most calls outstanding at once; beyond it sending waits (and the
    /// wait counts as latency)
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub max_outstanding: usize,
}

/// Flags of `mfn bench stream`.
#[derive(Debug, Clone, Args)]
pub struct StreamArgs {
    /// Concurrent streams
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub streams: usize,
    /// Frames per second each stream asks for (frame_interval_ms = 1000 / fps)
    #[arg(long, default_value_t = 25.0)]
    pub fps: f64,
    /// Simulation steps per frame
    #[arg(long, default_value_t = 1, value_name = "K")]
    pub steps_per_frame: u32,
    /// Grid side N [default: the server's default]
    #[arg(long, value_name = "N")]
    pub grid_size: Option<u32>,
    /// Steps of each run [default: enough frames for warm-up + duration, at most 10000]
    #[arg(long, value_name = "T")]
    pub steps: Option<u32>,
    /// Seed of stream i is seed + i
    #[arg(long, default_value_t = mfn_service::request::DEFAULT_SEED)]
    pub seed: u64,
    /// The load
    #[command(flatten)]
    pub load: LoadFlags,
}

/// Flags of `mfn bench startup`.
#[derive(Debug, Clone, Args)]
pub struct StartupArgs {
    /// Start-ups to time
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Seconds to wait after ready before reading the idle RSS
    #[arg(long, default_value_t = 1.0, value_name = "S")]
    pub settle: f64,
    /// The `mfn` binary to start [default: this one]
    #[arg(long, value_name = "PATH")]
    pub serve_bin: Option<PathBuf>,
}

/// Flags of `mfn bench body`.
#[derive(Debug, Clone, Args)]
pub struct BodyArgs {
    /// The request
    #[command(flatten)]
    pub request: RequestFlags,
    /// File to write
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// What `mfn bench body` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BodyReport {
    /// Always `body`.
    pub mode: &'static str,
    /// The RPC.
    pub rpc: Rpc,
    /// Its gRPC method path (the h2load URL path).
    pub path: &'static str,
    /// Bytes written (5-byte prefix included).
    pub bytes: usize,
    /// The file written.
    pub out: PathBuf,
}

/// Any report of `mfn bench`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum BenchReport {
    /// `mfn bench unary`.
    Unary(Box<UnaryReport>),
    /// `mfn bench stream`.
    Stream(Box<StreamReport>),
    /// `mfn bench startup`.
    Startup(StartupReport),
    /// `mfn bench body`.
    Body(BodyReport),
}

/// Run `mfn bench`; `remote` is the global `--remote` (with its key and signing).
pub fn run(args: &BenchArgs, remote: Option<&Remote>) -> Result<BenchReport> {
    match &args.mode {
        BenchMode::Unary(a) => {
            let remote = need_remote(remote, "unary")?;
            check_load(&a.load)?;
            anyhow::ensure!(a.in_flight >= 1, "--in-flight must be at least 1");
            if let Some(rate) = a.rate {
                anyhow::ensure!(
                    rate.is_finite() && rate > 0.0,
                    "--rate must be > 0, got {rate}"
                );
            }
            anyhow::ensure!(
                a.max_outstanding >= 1,
                "--max-outstanding must be at least 1"
            );
            let rt = runtime(a.load.threads)?;
            let report = rt.block_on(unary::run(a, remote))?;
            Ok(BenchReport::Unary(Box::new(report)))
        }
        BenchMode::Stream(a) => {
            let remote = need_remote(remote, "stream")?;
            check_load(&a.load)?;
            anyhow::ensure!(a.streams >= 1, "--streams must be at least 1");
            anyhow::ensure!(
                a.fps.is_finite() && a.fps > 0.0 && a.fps <= 1000.0,
                "--fps must be in (0, 1000], got {}",
                a.fps
            );
            let rt = runtime(a.load.threads)?;
            let report = rt.block_on(stream::run(a, remote))?;
            Ok(BenchReport::Stream(Box::new(report)))
        }
        BenchMode::Startup(a) => Ok(BenchReport::Startup(startup::run(a)?)),
        BenchMode::Body(a) => body(a).map(BenchReport::Body),
    }
}

impl Rpc {
    /// The gRPC method path.
    pub fn path(self) -> &'static str {
        use mfn_client::paths;
        match self {
            Rpc::ExtractFeatures => paths::EXTRACT_FEATURES,
            Rpc::RunSimulation => paths::RUN_SIMULATION,
            Rpc::ValidatePattern => paths::VALIDATE_PATTERN,
            Rpc::ComputeNernst => paths::COMPUTE_NERNST,
            Rpc::HealthCheck => paths::HEALTH_CHECK,
        }
    }
}

/// One request message of any benchmarked RPC.
#[derive(Debug, Clone)]
pub(crate) enum Call {
    Features(pb::ExtractFeaturesRequest),
    Simulation(pb::RunSimulationRequest),
    Validate(pb::ValidatePatternRequest),
    Nernst(pb::NernstRequest),
    Health,
}

impl RequestFlags {
    /// The `seq`-th request (0-based) of a run.
    pub(crate) fn call(&self, seq: u64) -> Call {
        let seed = Some(if self.vary_seed {
            self.seed.wrapping_add(seq)
        } else {
            self.seed
        });
        let invalid = self.invalid_every > 0 && seq % self.invalid_every == self.invalid_every - 1;
        let grid_size = if invalid { Some(1) } else { self.grid_size };
        match self.rpc {
            Rpc::ExtractFeatures => Call::Features(pb::ExtractFeaturesRequest {
                seed,
                grid_size,
                steps: self.steps,
                ..Default::default()
            }),
            Rpc::RunSimulation => Call::Simulation(pb::RunSimulationRequest {
                seed,
                grid_size,
                steps: self.steps,
                ..Default::default()
            }),
            Rpc::ValidatePattern => Call::Validate(pb::ValidatePatternRequest {
                seed,
                grid_size,
                steps: self.steps,
                epochs: self.epochs,
                ..Default::default()
            }),
            Rpc::ComputeNernst => Call::Nernst(pb::NernstRequest {
                z_valence: if invalid { 0 } else { 1 },
                concentration_out_m: 5e-3,
                concentration_in_m: 140e-3,
                ..Default::default()
            }),
            Rpc::HealthCheck => Call::Health,
        }
    }
}

impl Call {
    /// Send it; the outcome's status name.
    pub(crate) async fn send(self, client: &Client) -> &'static str {
        match self {
            Call::Features(r) => record::outcome_name(&client.extract_features(r).await),
            Call::Simulation(r) => record::outcome_name(&client.run_simulation(r).await),
            Call::Validate(r) => record::outcome_name(&client.validate_pattern(r).await),
            Call::Nernst(r) => record::outcome_name(&client.compute_nernst(r).await),
            Call::Health => record::outcome_name(&client.health_check().await),
        }
    }

    /// The protobuf encoding of the message.
    fn encode(&self) -> Vec<u8> {
        match self {
            Call::Features(r) => r.encode_to_vec(),
            Call::Simulation(r) => r.encode_to_vec(),
            Call::Validate(r) => r.encode_to_vec(),
            Call::Nernst(r) => r.encode_to_vec(),
            Call::Health => pb::HealthCheckRequest {}.encode_to_vec(),
        }
    }
}

/// `connections` SDK clients, each on its own HTTP/2 connection, without retries.
pub(crate) async fn connect(
    remote: &Remote,
    connections: usize,
    timeout: Duration,
) -> Result<Vec<Client>> {
    let mut b = ClientConfig::builder(remote.url.clone())
        .retry(RetryPolicy::none())
        .deadline(timeout);
    if let Some(key) = &remote.api_key {
        b = if remote.signed {
            b.signed(key.clone())
        } else {
            b.api_key(key.clone())
        };
    } else if remote.signed {
        bail!("--signed needs an api key (--api-key or MFN_API_KEY)");
    }
    let config = b.build().map_err(|e| anyhow!("--remote: {e}"))?;
    let mut clients = Vec::with_capacity(connections);
    for _ in 0..connections {
        let client = Client::connect(config.clone())
            .await
            .with_context(|| format!("cannot connect to {}", remote.url))?;
        clients.push(client);
    }
    Ok(clients)
}

/// Whether the live progress line is shown.
pub(crate) fn progress_enabled(load: &LoadFlags) -> bool {
    !load.quiet && std::io::stderr().is_terminal()
}

fn need_remote<'a>(remote: Option<&'a Remote>, mode: &str) -> Result<&'a Remote> {
    remote.ok_or_else(|| anyhow!("mfn bench {mode} needs --remote URL (the server to load)"))
}

fn check_load(load: &LoadFlags) -> Result<()> {
    anyhow::ensure!(load.connections >= 1, "--connections must be at least 1");
    for (flag, v) in [
        ("--duration", load.duration),
        ("--warmup", load.warmup),
        ("--timeout", load.timeout),
    ] {
        anyhow::ensure!(
            v.is_finite() && (0.0..=86_400.0).contains(&v),
            "{flag} must be in [0, 86400] seconds, got {v}"
        );
    }
    anyhow::ensure!(load.duration > 0.0, "--duration must be > 0");
    anyhow::ensure!(load.timeout > 0.0, "--timeout must be > 0");
    Ok(())
}

fn runtime(threads: Option<usize>) -> Result<tokio::runtime::Runtime> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        anyhow::ensure!(n >= 1, "--threads must be at least 1");
        b.worker_threads(n);
    }
    b.enable_all()
        .thread_name("mfn-bench")
        .build()
        .context("cannot start the async runtime")
}

fn body(args: &BodyArgs) -> Result<BodyReport> {
    let message = args.request.call(0).encode();
    let len = u32::try_from(message.len()).context("request too large")?;
    // gRPC length-prefixed message: compressed flag (0), big-endian length, bytes.
    let mut framed = Vec::with_capacity(5 + message.len());
    framed.push(0);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(&message);
    std::fs::write(&args.out, &framed)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    Ok(BodyReport {
        mode: "body",
        rpc: args.request.rpc,
        path: args.request.rpc.path(),
        bytes: framed.len(),
        out: args.out.clone(),
    })
}
