//! `mfn pipeline`: run the data pipeline (`mfn-connect`) until SIGTERM.
//!
//! ```text
//! mfn pipeline --source kafka://127.0.0.1:9092/mfn.requests \
//!              --sink kafka://127.0.0.1:9092/mfn.results --group mfn-workers
//! ```
//!
//! The pipeline's settings come from the flags, `MFN_PIPELINE_*` variables and the
//! TOML file (`--config` or `MFN_PIPELINE_CONFIG`), validated before anything
//! connects; an invalid configuration exits with code 64. The service layer is sized
//! exactly as `mfn serve` sizes it (the same `MFN_*` variables: workers, queue, cache,
//! limits, tool deadline, graph store), so a pipeline result is the server's. Logs are
//! JSON on stderr unless `MFN_LOG_FORMAT=plain`. SIGTERM or Ctrl-C drains: what was
//! received is finished, published and committed, then the worker leaves its group.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use mfn_connect::PipelineConfig;
use mfn_connect::config::ENV_CONFIG;
use mfn_server::{EXIT_CONFIG, ServerConfig};
use mfn_service::{MfnService, ServiceConfig};
use tracing::info;

/// Flags of `mfn pipeline` (each overrides its `MFN_PIPELINE_*` variable).
#[derive(Debug, Clone, Args)]
pub struct PipelineArgs {
    /// Where requests come from: kafka://HOST:PORT/TOPIC, http(s)://URL (poller) or
    /// dir:///PATH (file watcher) [env: MFN_PIPELINE_SOURCE]
    #[arg(long, value_name = "URL")]
    pub source: Option<String>,
    /// Where results go: kafka://HOST:PORT/TOPIC, http(s)://URL (webhook),
    /// jsonl:///DIR or parquet:///DIR [env: MFN_PIPELINE_SINK]
    #[arg(long, value_name = "URL")]
    pub sink: Option<String>,
    /// Kafka consumer group; workers of one group share the partitions
    /// [env: MFN_PIPELINE_GROUP; default mfn-pipeline]
    #[arg(long, value_name = "NAME")]
    pub group: Option<String>,
    /// Where poison requests go with their error (any sink URL)
    /// [env: MFN_PIPELINE_DEAD_LETTER; default TOPIC.dlq for Kafka, DIR/failed for dir]
    #[arg(long, value_name = "URL")]
    pub dead_letter: Option<String>,
    /// Requests in flight per worker [env: MFN_PIPELINE_CONCURRENCY; default 16]
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// TOML file with the same settings plus TLS/SASL, retries and limits
    /// [env: MFN_PIPELINE_CONFIG]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Run until drained; the process exit code.
pub fn main(args: PipelineArgs) -> ExitCode {
    let vars: HashMap<String, String> = std::env::vars().collect();
    let (config, service_config) = match configure(&args, &vars) {
        Ok(c) => c,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_CONFIG as u8);
        }
    };
    init_logs(&vars);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("mfn-pipeline")
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(async move {
        let shutdown = shutdown_signal();
        let service = match MfnService::new(service_config) {
            Ok(s) => s,
            Err(e) => return fail(&format!("cannot start the service: {e}")),
        };
        // Install the Prometheus recorder before the first metric is recorded.
        let _ = mfn_server::telemetry::prometheus();
        let render: mfn_connect::telemetry::Render = Arc::new(|| {
            mfn_server::telemetry::prometheus()
                .map_or_else(|| "metrics recorder unavailable\n".into(), |h| h.render())
        });
        info!(version = env!("CARGO_PKG_VERSION"), "starting mfn pipeline");
        match mfn_connect::run(config, service, Some(render), shutdown).await {
            Ok(summary) if summary.abandoned == 0 => ExitCode::SUCCESS,
            Ok(summary) => fail(&format!(
                "{} requests were left unacknowledged at the drain deadline (they are delivered again)",
                summary.abandoned
            )),
            Err(e) => fail(&e.to_string()),
        }
    })
}

/// The pipeline's configuration and the service's, both validated. The service is
/// configured exactly as `mfn serve` configures it.
fn configure(
    args: &PipelineArgs,
    vars: &HashMap<String, String>,
) -> Result<(PipelineConfig, ServiceConfig), String> {
    let mut flags: HashMap<&str, String> = HashMap::new();
    let pairs = [
        ("source", args.source.clone()),
        ("sink", args.sink.clone()),
        ("group", args.group.clone()),
        ("dead_letter", args.dead_letter.clone()),
        ("concurrency", args.concurrency.map(|n| n.to_string())),
    ];
    for (k, v) in pairs {
        if let Some(v) = v {
            flags.insert(k, v);
        }
    }
    let path = args.config.clone().or_else(|| {
        vars.get(ENV_CONFIG)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    let text = path
        .as_ref()
        .map(|p| std::fs::read_to_string(p).map_err(|e| format!("--config {}: {e}", p.display())))
        .transpose()?;
    let name = path.as_ref().map(|p| p.display().to_string());
    let file = name.as_deref().zip(text.as_deref());
    let config = PipelineConfig::from_sources(&flags, vars, file).map_err(|e| e.to_string())?;
    let server = ServerConfig::from_env(vars).map_err(|e| e.to_string())?;
    Ok((config, server.service))
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(1)
}

/// JSON lines on stderr (`MFN_LOG_FORMAT=plain` for people), `MFN_LOG_LEVEL` filter.
fn init_logs(vars: &HashMap<String, String>) {
    let level = vars.get("MFN_LOG_LEVEL").map_or("info", String::as_str);
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let plain = vars
        .get("MFN_LOG_FORMAT")
        .is_some_and(|f| f.eq_ignore_ascii_case("plain"));
    let _ = if plain {
        builder.try_init()
    } else {
        builder.json().flatten_event(true).try_init()
    };
}

/// Resolves on SIGTERM or SIGINT; the handlers are installed when this is called.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate()).ok();
    let int = signal(SignalKind::interrupt()).ok();
    async move {
        let wait = |s: Option<tokio::signal::unix::Signal>| async move {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = wait(term) => {}
            () = wait(int) => {}
        }
    }
}
