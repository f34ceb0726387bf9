//! Server configuration: a pure function of an injected variable map, optional flags and
//! an optional TOML file, validated before any port is bound.
//!
//! Precedence is **flag > environment > file > default**. The binary passes
//! `std::env::vars()` (and `mfn serve`'s flags as [`Flag`]s); tests pass their own map.
//! An invalid configuration is one [`ConfigError`] naming the key the user set
//! (`GRPC_PORT`, `mfn.toml: grpc_port`, `--grpc-port`); the process exits with
//! [`EXIT_CONFIG`] (64).
//!
//! Every setting is one row of [`settings::SETTINGS`]: its variable, the seeds' aliases
//! (`GRPC_*`, which must agree with the `MFN_*` name), its TOML key (the variable
//! lower-cased without `MFN_`), its flag, its type with range and unit, its default (per
//! environment where it differs), its doc line and the field it fills. The table drives
//! [`parse`], the unknown-key checks, the flags of `mfn serve` and the table in
//! `docs/OPERATIONS.md` ([`docs`]). [`ServerConfig::default`] is the table's defaults.
//! The only code beside the table is the rules that tie settings together (the ports
//! differ, TLS needs both files, `GRPC_AUTH_ENABLED` against `MFN_AUTH_MODE`).
//!
//! To add a setting, add its field to the part of [`ServerConfig`] that consumes it, one
//! row to the table, and run `MFN_UPDATE_DOCS=1 cargo test -p mfn-server --lib
//! config::docs` to regenerate the documentation table.
//!
//! Empty values count as unset; booleans from the environment accept
//! `1`/`0`/`yes`/`no`/`on`/`off`; names are case-insensitive; an unknown file key is an
//! error. Plaintext keys have no file key: a config file is not a place for secrets.
//!
//! ```
//! use std::collections::HashMap;
//! use mfn_server::config::{Environment, ServerConfig};
//!
//! let vars = HashMap::from([
//!     ("MFN_ENV".to_owned(), "prod".to_owned()),
//!     ("GRPC_PORT".to_owned(), "6000".to_owned()),
//! ]);
//! let file = "max_steps = 500\ngrpc_port = 7000\n";
//! let config = ServerConfig::from_sources(&vars, Some(("mfn.toml", file))).unwrap();
//! assert_eq!(config.env, Environment::Prod);
//! assert_eq!(config.network.grpc_port, 6000); // the environment beats the file
//! assert_eq!(config.service.limits.max_steps, 500); // the file beats the default
//! assert_eq!(config.grpc_addr().to_string(), "0.0.0.0:6000");
//! ```

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

pub use mfn_service::ServiceConfig;

pub mod docs;
pub mod parse;
pub mod settings;
#[cfg(test)]
mod tests;

pub use parse::{Flag, unknown_env_vars};
pub use settings::{SETTINGS, Setting};

/// Process exit code for an invalid configuration (`EX_USAGE` of sysexits.h).
pub const EXIT_CONFIG: i32 = 64;

/// The starting point the table fills: every field a setting owns is overwritten, the
/// others keep their library defaults.
pub(crate) trait Blank {
    fn blank() -> Self;
}

/// Declares a part of the configuration, its [`Blank`] value and, for a part of
/// [`ServerConfig`] (`in` its field), its `Default`: its share of the table's defaults.
/// A field set by one setting is documented by the setting's variable.
macro_rules! part {
    ($(#[$meta:meta])* pub struct $name:ident $(in $part:ident)? {
        $($(#[$fmeta:meta])* $field:ident: $ty:ty $(= $var:literal)?,)*
    }) => {
        $(#[$meta])*
        pub struct $name {
            $($(#[$fmeta])* $(#[doc = concat!("`", $var, "`: see [`SETTINGS`].")])?
            pub $field: $ty,)*
        }

        impl Blank for $name {
            fn blank() -> Self {
                Self { $($field: Blank::blank(),)* }
            }
        }

        $(impl Default for $name {
            /// The documented defaults (`MFN_ENV=dev`), from the settings table.
            fn default() -> Self {
                ServerConfig::default().$part
            }
        })?
    };
}

macro_rules! blank_by_default {
    ($($ty:ty),*) => {
        $(impl Blank for $ty {
            fn blank() -> Self {
                Default::default()
            }
        })*
    };
}

blank_by_default!(bool, u16, u32, usize, String, Duration);
blank_by_default!(Environment, LogFormat, AuthMode, ServiceConfig);
blank_by_default!(Vec<String>, Vec<[u8; 32]>, Option<PathBuf>, Option<String>);

impl Blank for IpAddr {
    fn blank() -> Self {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    }
}

/// Names of an enumerated setting's values, for parsing, `Display` and the docs.
macro_rules! named {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// The accepted names, lower case.
            pub const NAMES: &'static [&'static str] = &[$($text),*];

            /// The lower-case name used in the configuration.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Named for $name {
            fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($text => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

/// An enumerated setting's type: the value of each name in its `NAMES`.
pub trait Named: Sized {
    /// The value named `name` exactly, or `None`.
    fn from_name(name: &str) -> Option<Self>;
}

named! {
    /// Deployment environment; it selects the defaults of several other keys.
    pub enum Environment {
        /// Local development: loopback host, permissive CORS, plain logs, no auth.
        #[default]
        Dev = "dev",
        /// Pre-production: production defaults.
        Staging = "staging",
        /// Production: all interfaces, no CORS, JSON logs, signed requests.
        Prod = "prod",
    }
}

named! {
    /// Log line format.
    pub enum LogFormat {
        /// One JSON object per line.
        Json = "json",
        /// Human-readable lines.
        #[default]
        Plain = "plain",
    }
}

named! {
    /// Request authentication mode.
    pub enum AuthMode {
        /// No authentication.
        #[default]
        Off = "off",
        /// An API key in `x-api-key`.
        Key = "key",
        /// An API key plus an HMAC signature over timestamp, request id and path.
        Signed = "signed",
    }
}

part! {
    /// The validated server configuration, one part per consumer. Each field's setting
    /// is named in its doc; `docs/OPERATIONS.md` has the table.
    #[derive(Debug, Clone, PartialEq)]
    pub struct ServerConfig {
        env: Environment = "MFN_ENV",
        /// `MFN_CONFIG`: the TOML file this configuration was read from.
        config_file: Option<PathBuf>,
        /// Listeners and connections.
        network: NetworkConfig,
        /// Connection caps and timeouts of both ports.
        connections: ConnectionConfig,
        /// The service layer (request limits, compute gate, caches, graph store, tool
        /// deadline), handed to `MfnService::new` as it is.
        service: ServiceConfig,
        /// Who may call.
        auth: AuthConfig,
        /// Per-key and per-IP limits of every door.
        rate_limits: RateLimits,
        /// Certificates of the gRPC listener and, unless `MFN_HTTP_TLS=false`, the HTTP one.
        tls: TlsConfig,
        /// Logs and traces.
        telemetry: TelemetryConfig,
        /// WebSocket sessions.
        ws: WsConfig,
        /// The MCP route at `/mcp`.
        mcp: McpConfig,
    }
}

part! {
    /// Listeners and connections: both ports, HTTP/2 tuning, CORS and the drain. Sizes
    /// are in bytes.
    #[derive(Debug, Clone, PartialEq)]
    pub struct NetworkConfig in network {
        host: IpAddr = "MFN_HOST",
        grpc_port: u16 = "MFN_GRPC_PORT",
        http_port: u16 = "MFN_HTTP_PORT",
        max_message_bytes: usize = "MFN_MAX_MESSAGE_SIZE",
        max_concurrent_streams: u32 = "MFN_MAX_CONCURRENT_STREAMS",
        keepalive_time: Duration = "MFN_KEEPALIVE_TIME_MS",
        keepalive_timeout: Duration = "MFN_KEEPALIVE_TIMEOUT_MS",
        cors_allowed_origins: Vec<String> = "MFN_CORS_ORIGINS",
        shutdown_timeout: Duration = "MFN_SHUTDOWN_TIMEOUT_S",
    }
}

part! {
    /// What one client, or many, may hold open on either port; see `crate::conn`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct ConnectionConfig in connections {
        max_connections: usize = "MFN_MAX_CONNECTIONS",
        max_connections_per_ip: usize = "MFN_MAX_CONNECTIONS_PER_IP",
        header_read_timeout: Duration = "MFN_HEADER_READ_TIMEOUT_S",
        body_read_timeout: Duration = "MFN_BODY_READ_TIMEOUT_S",
        idle_timeout: Duration = "MFN_IDLE_TIMEOUT_S",
        max_tls_handshakes: usize = "MFN_MAX_TLS_HANDSHAKES",
        tls_handshake_timeout: Duration = "MFN_TLS_HANDSHAKE_TIMEOUT_S",
    }
}

part! {
    /// Authentication: the mode and where the keys come from.
    #[derive(Debug, Clone, PartialEq)]
    pub struct AuthConfig in auth {
        /// `MFN_AUTH_MODE` (or `GRPC_AUTH_ENABLED`).
        mode: AuthMode,
        /// SHA-256 of each plaintext key of `MFN_API_KEY` and `MFN_API_KEYS`.
        api_key_hashes: Vec<[u8; 32]>,
        /// `MFN_API_KEYS_FILE`, parsed by `security::KeySet::from_config`.
        api_keys_file: Option<PathBuf>,
        window: Duration = "MFN_AUTH_WINDOW_S",
        failure_limit: u32 = "MFN_AUTH_FAILURE_LIMIT",
        failure_window: Duration = "MFN_AUTH_FAILURE_WINDOW_S",
        failure_block: Duration = "MFN_AUTH_FAILURE_BLOCK_S",
        keys_reload_interval: Duration = "MFN_API_KEYS_RELOAD_INTERVAL_S",
        metrics_auth: bool = "MFN_METRICS_AUTH",
    }
}

part! {
    /// Defaults for keys without their own limits, and the anonymous limits.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct RateLimits in rate_limits {
        rps: u32 = "MFN_RATE_LIMIT_RPS",
        concurrent: u32 = "MFN_RATE_LIMIT_CONCURRENT",
        anon_rps: u32 = "MFN_ANON_RATE_LIMIT_RPS",
        anon_concurrent: u32 = "MFN_ANON_RATE_LIMIT_CONCURRENT",
    }
}

part! {
    /// TLS of the gRPC listener and (see [`TlsConfig::on_http`]) the HTTP one; see
    /// [`TlsConfig::settings`].
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct TlsConfig in tls {
        /// `MFN_TLS_ENABLED`, or on when both paths are set.
        enabled: bool,
        cert_path: Option<PathBuf> = "MFN_TLS_CERT_PATH",
        key_path: Option<PathBuf> = "MFN_TLS_KEY_PATH",
        client_ca_path: Option<PathBuf> = "MFN_TLS_CLIENT_CA_PATH",
        reload_interval: Duration = "MFN_TLS_RELOAD_INTERVAL_S",
        http: bool = "MFN_HTTP_TLS",
    }
}

part! {
    /// Logs and trace export.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct TelemetryConfig in telemetry {
        log_format: LogFormat = "MFN_LOG_FORMAT",
        log_level: String = "MFN_LOG_LEVEL",
        otlp_endpoint: Option<String> = "OTEL_EXPORTER_OTLP_ENDPOINT",
        otel_service_name: String = "OTEL_SERVICE_NAME",
    }
}

part! {
    /// Sizing and timing of WebSocket sessions; sizes are in bytes.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct WsConfig in ws {
        max_streams: usize = "MFN_WS_MAX_STREAMS",
        queue_capacity: usize = "MFN_WS_QUEUE_CAPACITY",
        queue_bytes: usize = "MFN_WS_QUEUE_MB",
        heartbeat_interval: Duration = "MFN_WS_HEARTBEAT_INTERVAL_S",
        idle_timeout: Duration = "MFN_WS_IDLE_TIMEOUT_S",
        max_message_bytes: usize = "MFN_WS_MAX_MESSAGE_KB",
        json_field_max_side: usize = "MFN_WS_JSON_FIELD_MAX_SIDE",
        max_auth_attempts: u32 = "MFN_WS_MAX_AUTH_ATTEMPTS",
    }
}

part! {
    /// The MCP route's browser and DNS-rebinding policy, and its session limits.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct McpConfig in mcp {
        allowed_origins: Vec<String> = "MFN_MCP_ALLOWED_ORIGINS",
        allowed_hosts: Vec<String> = "MFN_MCP_ALLOWED_HOSTS",
        max_sessions: usize = "MFN_MCP_MAX_SESSIONS",
        max_sessions_per_key: usize = "MFN_MCP_MAX_SESSIONS_PER_KEY",
        session_idle: Duration = "MFN_MCP_SESSION_IDLE_S",
    }
}

/// Certificate files for TLS; their existence is checked, their content is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM certificate chain, leaf first.
    pub cert_path: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_path: PathBuf,
    /// PEM CA certificates; when set, clients must present a certificate chained to them.
    pub client_ca_path: Option<PathBuf>,
}

/// An invalid configuration value: the key as the user wrote it and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {key}: {message}")]
pub struct ConfigError {
    /// The environment variable, `file: key` for a key of the TOML file, or the flag.
    pub key: String,
    /// What is wrong, e.g. `must be in [1, 1024], got 0`.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        let (key, message) = (key.into(), message.into());
        Self { key, message }
    }
}

impl Default for ServerConfig {
    /// The documented defaults of `MFN_ENV=dev`: exactly what an empty environment
    /// builds, graphs in `mfn-data` included. Tests that want graphs in memory set
    /// `service.graphs.data_dir = None`.
    fn default() -> Self {
        Self::from_sources(&HashMap::new(), None).expect("the documented defaults are valid")
    }
}

impl ServerConfig {
    /// Builds the configuration from `vars` (normally the process environment) and the TOML
    /// file named by `MFN_CONFIG` in `vars`, if any: environment > file > default.
    pub fn from_env(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::from_flags(&[], vars)
    }

    /// [`from_env`](Self::from_env) with `flags` above the environment: a flag replaces
    /// its variable and the variable's aliases, and errors name the flag.
    pub fn from_flags(flags: &[Flag], vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let file = None;
        let mut sources = parse::Sources { flags, vars, file };
        let config = sources.find(Setting::named("MFN_CONFIG"), Environment::Dev)?;
        if let Some(parse::Found(path, key, _)) = config {
            let path = path.path().display().to_string();
            let text = std::fs::read_to_string(&path)
                .map_err(|e| ConfigError::new(key, format!("cannot read {path}: {e}")))?;
            sources.file = Some(parse::parse_toml(&path, &text)?);
        }
        sources.build()
    }

    /// Same as [`from_env`](Self::from_env) with the file given as `(file_name, toml_text)`;
    /// `file_name` only appears in error messages. `MFN_CONFIG` in `vars` is not read.
    pub fn from_sources(
        vars: &HashMap<String, String>,
        file: Option<(&str, &str)>,
    ) -> Result<Self, ConfigError> {
        let file = file.map(|(name, text)| parse::parse_toml(name, text));
        let (flags, file) = (&[][..], file.transpose()?);
        parse::Sources { flags, vars, file }.build()
    }

    /// The gRPC listener's address.
    pub fn grpc_addr(&self) -> SocketAddr {
        SocketAddr::new(self.network.host, self.network.grpc_port)
    }

    /// The HTTP listener's address.
    pub fn http_addr(&self) -> SocketAddr {
        SocketAddr::new(self.network.host, self.network.http_port)
    }

    /// Where graphs are kept, for log lines.
    pub fn graph_store(&self) -> String {
        let graphs = &self.service.graphs;
        match (&graphs.shared, &graphs.data_dir) {
            (Some(url), _) => mfn_service::mfn_graph::store::redis::redact(url),
            (None, Some(dir)) => dir.display().to_string(),
            (None, None) => "in memory (not persisted)".to_owned(),
        }
    }
}

impl AuthConfig {
    /// Adds key hashes not already present, in order.
    fn add_keys(&mut self, hashes: Vec<[u8; 32]>) {
        for hash in hashes {
            if !self.api_key_hashes.contains(&hash) {
                self.api_key_hashes.push(hash);
            }
        }
    }
}

impl TlsConfig {
    /// The certificate files when TLS is on.
    pub fn settings(&self) -> Option<TlsSettings> {
        match (self.enabled, &self.cert_path, &self.key_path) {
            (true, Some(cert), Some(key)) => Some(TlsSettings {
                cert_path: cert.clone(),
                key_path: key.clone(),
                client_ca_path: self.client_ca_path.clone(),
            }),
            _ => None,
        }
    }

    /// Whether the HTTP port serves TLS: TLS is on and `MFN_HTTP_TLS` is not false.
    pub fn on_http(&self) -> bool {
        self.http && self.settings().is_some()
    }
}
