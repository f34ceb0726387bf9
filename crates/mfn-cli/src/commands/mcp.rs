//! `mfn mcp`: the MCP door over stdio, for an agent that starts `mfn` as a child
//! process (Claude Desktop, the MCP Inspector, an SDK's stdio client).
//!
//! The service is built from the same configuration as `mfn serve` (environment and
//! optional TOML file): graphs live in `MFN_DATA_DIR` (default `mfn-data`), the compute
//! limits and the tool deadline are the server's. Stdio is a local, trusted channel: no
//! authentication, every graph belongs to the tenant `default`. Stdout carries only
//! JSON-RPC; logs go to stderr.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use mfn_server::config::{LogFormat, unknown_env_vars};
use mfn_server::{EXIT_CONFIG, ServerConfig};
use tracing::{info, warn};

/// Flags of `mfn mcp`.
#[derive(Debug, Clone, Args)]
pub struct McpArgs {
    /// Graph store directory [env: MFN_DATA_DIR; default mfn-data; `:memory:` keeps none]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// TOML configuration file [env: MFN_CONFIG]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Serve MCP on stdin/stdout until the client closes stdin; the process exit code.
pub fn main(args: McpArgs) -> ExitCode {
    let mut vars: HashMap<String, String> = std::env::vars().collect();
    if let Some(dir) = &args.data_dir {
        vars.insert("MFN_DATA_DIR".into(), dir.display().to_string());
    }
    if let Some(file) = &args.config {
        vars.insert("MFN_CONFIG".into(), file.display().to_string());
    }
    let config = match ServerConfig::from_env(&vars) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_CONFIG as u8);
        }
    };
    init_tracing(&config);
    for name in unknown_env_vars(&vars) {
        warn!(variable = %name, "unknown MFN_* environment variable ignored (typo?)");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("mfn-mcp")
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(async move {
        let svc = match mfn_service::MfnService::new(config.service.clone()) {
            Ok(s) => s,
            Err(e) => return fail(&format!("service: {e}")),
        };
        info!(
            graphs = %config.graph_store(),
            "mfn {} serving MCP on stdio", mfn_service::SERVER_VERSION
        );
        match mfn_server::mcp::serve_stdio(svc).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&format!("mcp: {e}")),
        }
    })
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(1)
}

/// Logs to stderr only: stdout is the JSON-RPC channel.
fn init_tracing(config: &ServerConfig) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.telemetry.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let _ = match config.telemetry.log_format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Plain => builder.try_init(),
    };
}
