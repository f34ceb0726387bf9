//! `mfn serve`: the gRPC server (and the HTTP probes) on embedded defaults.
//!
//! Configuration comes from the environment and an optional TOML file
//! (`MFN_CONFIG`, or `--config`); the flags here override both. An invalid
//! configuration is reported in one line and exits with code 64 before any port is
//! bound. SIGTERM or Ctrl-C drains the server (see `mfn_server::server`).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use mfn_server::config::{AuthMode, LogFormat, unknown_env_vars};
use mfn_server::telemetry::otel::Otel;
use mfn_server::{EXIT_CONFIG, Listeners, ServerConfig};
use tracing::{info, warn};

/// Flags of `mfn serve` (each overrides its environment variable).
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to bind [env: MFN_HOST; default 127.0.0.1 in dev, 0.0.0.0 otherwise]
    #[arg(long, value_name = "IP")]
    pub host: Option<String>,
    /// gRPC port [env: MFN_GRPC_PORT or GRPC_PORT; default 50051]
    #[arg(long, value_name = "PORT")]
    pub grpc_port: Option<u16>,
    /// HTTP port for probes and the landing page [env: MFN_HTTP_PORT; default 8080]
    #[arg(long, value_name = "PORT")]
    pub http_port: Option<u16>,
    /// TOML configuration file [env: MFN_CONFIG]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Run the server until SIGTERM/SIGINT; the process exit code.
pub fn main(args: ServeArgs) -> ExitCode {
    let mut vars: HashMap<String, String> = std::env::vars().collect();
    let overrides = [
        ("MFN_HOST", args.host.clone()),
        ("MFN_GRPC_PORT", args.grpc_port.map(|p| p.to_string())),
        ("MFN_HTTP_PORT", args.http_port.map(|p| p.to_string())),
        (
            "MFN_CONFIG",
            args.config.as_ref().map(|p| p.display().to_string()),
        ),
    ];
    for (key, value) in overrides {
        if let Some(v) = value {
            // A flag replaces the variable and its GRPC_* alias.
            if key == "MFN_GRPC_PORT" {
                vars.remove("GRPC_PORT");
            }
            vars.insert(key.to_string(), v);
        }
    }
    let config = match ServerConfig::from_env(&vars) {
        Ok(c) => c,
        Err(e) => return config_error(&e),
    };
    let _otel = init_tracing(&config);
    for name in unknown_env_vars(&vars) {
        warn!(variable = %name, "unknown MFN_* environment variable ignored (typo?)");
    }
    if let Err(e) = mfn_server::preflight(&config) {
        return config_error(&e);
    }
    if config.auth_mode == AuthMode::Off {
        warn!(
            "MFN_ENV={}: authentication is OFF; any client that can reach {} may call the API",
            config.env, config.host
        );
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("mfn-io")
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(async move {
        // Handlers first: a SIGTERM that arrives once the ports accept connections
        // must drain, not kill the process with the default action.
        let shutdown = shutdown_signal();
        let listeners = match Listeners::bind(&config).await {
            Ok(l) => l,
            Err(e) => {
                return fail(&format!(
                    "cannot bind {} / {}: {e}",
                    config.grpc_addr(),
                    config.http_addr()
                ));
            }
        };
        info!(
            grpc = %config.grpc_addr(),
            http = %format!("http://{}/", config.http_addr()),
            env = config.env.as_str(),
            "starting mfn {}", env!("CARGO_PKG_VERSION")
        );
        match mfn_server::run(listeners, config, shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.is_config() => config_error(&e),
            Err(e) => fail(&e.to_string()),
        }
    })
}

fn config_error(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(EXIT_CONFIG as u8)
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(1)
}

/// Resolves on SIGTERM (Kubernetes) or SIGINT (Ctrl-C). The handlers are installed
/// when this is called, not when the future is first polled.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let handlers = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let (mut term, mut int) = handlers;
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(term.take()) => {}
                () = wait(int.take()) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Logs to stderr (stdout stays clean for tools), JSON or plain per `MFN_LOG_FORMAT`;
/// spans also go to an OTLP collector when `OTEL_EXPORTER_OTLP_ENDPOINT` is set. The
/// returned pipeline flushes when dropped, at exit.
fn init_tracing(config: &ServerConfig) -> Option<Otel> {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let fmt = match config.log_format {
        LogFormat::Json => fmt.json().flatten_event(true).boxed(),
        LogFormat::Plain => fmt.boxed(),
    };
    let (otel, otel_error) = match &config.otlp_endpoint {
        Some(endpoint) => match Otel::start(endpoint, &config.otel_service_name) {
            Ok(o) => (Some(o), None),
            Err(e) => (None, Some(e)),
        },
        None => (None, None),
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel.as_ref().map(Otel::layer))
        .try_init();
    match (&otel, otel_error, &config.otlp_endpoint) {
        (Some(_), _, Some(endpoint)) => {
            info!(%endpoint, service = %config.otel_service_name, "exporting traces over OTLP/gRPC")
        }
        (_, Some(e), _) => warn!(error = %e, "trace export disabled"),
        _ => {}
    }
    otel
}
