//! `mfn serve`: the gRPC server (and the HTTP port) on embedded defaults.
//!
//! Configuration comes from the flags, the environment and an optional TOML file
//! (`--config` or `MFN_CONFIG`), in that order of precedence. The flags are the settings
//! of `mfn_server::config::SETTINGS` that name one (`--host`, `--grpc-port` or `--port`,
//! `--http-port`, `--env`, `--config`, `--data-dir`): a flag stands for its variable and
//! goes through the same validation, and an error names the flag. An invalid
//! configuration is reported in one line and exits with code 64 before any port is
//! bound. SIGTERM or Ctrl-C drains the server (see `mfn_server::server`).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Arg, ArgMatches, Args, FromArgMatches};
use mfn_server::config::{AuthMode, Flag, LogFormat, SETTINGS, Setting, docs, unknown_env_vars};
use mfn_server::telemetry::otel::Otel;
use mfn_server::{EXIT_CONFIG, Listeners, ServerConfig};
use tracing::{info, warn};

/// Flags of `mfn serve`: one per setting of the table that names a flag, each above its
/// environment variable.
#[derive(Debug, Clone, Default)]
pub struct ServeArgs {
    /// The flags given, for [`ServerConfig::from_flags`].
    pub flags: Vec<Flag>,
}

impl FromArgMatches for ServeArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let flags = flagged()
            .filter_map(|(s, long)| {
                matches.get_one::<String>(s.var).map(|value| Flag {
                    var: s.var,
                    name: format!("--{long}"),
                    value: value.clone(),
                })
            })
            .collect();
        Ok(ServeArgs { flags })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Args for ServeArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        flagged().fold(cmd, |cmd, (s, long)| {
            let aliases = s.flag.map_or(&[][..], |(_, aliases)| aliases);
            // Text only: the configuration validates, so a bad value exits 64 like a bad
            // variable, naming the flag.
            cmd.arg(
                Arg::new(s.var)
                    .long(long)
                    .visible_aliases(aliases)
                    .value_name(s.value_name())
                    .help(help(s)),
            )
        })
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

/// The settings with a flag, and the flag.
fn flagged() -> impl Iterator<Item = (&'static Setting, &'static str)> {
    SETTINGS
        .iter()
        .filter_map(|s| s.flag.map(|(long, _)| (s, long)))
}

/// `doc [values] [env: VAR, ALIAS] [default: …]`, from the table.
fn help(s: &Setting) -> String {
    let mut help = s.doc.replace('`', "");
    if let Some(names) = s.choices() {
        help.push_str(&format!(" [values: {}]", names.join(", ")));
    }
    let env: Vec<&str> = s.env_names().collect();
    help.push_str(&format!(" [env: {}]", env.join(", ")));
    let default = docs::describe_default(s).replace('`', "");
    if default != "unset" {
        help.push_str(&format!(" [default: {default}]"));
    }
    help
}

/// Run the server until SIGTERM/SIGINT; the process exit code.
pub fn main(args: ServeArgs) -> ExitCode {
    let vars: HashMap<String, String> = std::env::vars().collect();
    let config = match ServerConfig::from_flags(&args.flags, &vars) {
        Ok(c) => c,
        Err(e) => return config_error(&e),
    };
    let _logging = init_tracing(&config);
    for name in unknown_env_vars(&vars) {
        warn!(variable = %name, "unknown MFN_* environment variable ignored (typo?)");
    }
    if let Err(e) = mfn_server::preflight(&config) {
        return config_error(&e);
    }
    if config.auth.mode == AuthMode::Off {
        warn!(
            "MFN_ENV={}: authentication is OFF; any client that can reach {} may call the API",
            config.env, config.network.host
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

/// Log and audit lines waiting for the writer thread; beyond it lines are dropped and
/// counted (`mfn_log_lines_dropped_total`) rather than block a request.
const LOG_QUEUE_LINES: usize = 65_536;

/// What must live until exit: the writer thread's guard flushes queued lines, the OTLP
/// pipeline its spans, when dropped.
struct Logging {
    _otel: Option<Otel>,
    _writer: tracing_appender::non_blocking::WorkerGuard,
}

/// Logs to stderr (stdout stays clean for tools), JSON or plain per `MFN_LOG_FORMAT`,
/// through a writer thread with a bounded queue: request threads never wait on stderr
/// (the audit line of every request was 26 % of unary samples written inline). Spans
/// also go to an OTLP collector when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
fn init_tracing(config: &ServerConfig) -> Logging {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let telemetry = &config.telemetry;
    let filter = tracing_subscriber::EnvFilter::try_new(&telemetry.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .thread_name("mfn-log")
        .finish(std::io::stderr());
    let dropped = writer.error_counter();
    mfn_server::telemetry::report_dropped_log_lines(move || dropped.dropped_lines() as u64);
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(std::io::stderr().is_terminal());
    let fmt = match telemetry.log_format {
        LogFormat::Json => fmt.json().flatten_event(true).boxed(),
        LogFormat::Plain => fmt.boxed(),
    };
    let (otel, otel_error) = match &telemetry.otlp_endpoint {
        Some(endpoint) => match Otel::start(endpoint, &telemetry.otel_service_name) {
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
    match (&otel, otel_error, &telemetry.otlp_endpoint) {
        (Some(_), _, Some(endpoint)) => {
            info!(%endpoint, service = %telemetry.otel_service_name, "exporting traces over OTLP/gRPC")
        }
        (_, Some(e), _) => warn!(error = %e, "trace export disabled"),
        _ => {}
    }
    Logging {
        _otel: otel,
        _writer: guard,
    }
}
