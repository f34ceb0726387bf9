//! Server configuration: a pure function of an injected variable map and an optional TOML
//! file, validated before any port is bound.
//!
//! Precedence is **environment > file > default**. The binary passes `std::env::vars()`
//! collected into a map; tests pass their own map and never touch the process environment.
//! An invalid configuration is one [`ConfigError`] naming the key the user actually set, and
//! the process exits with [`EXIT_CONFIG`] (64).
//!
//! # Keys
//!
//! The file named by `MFN_CONFIG` is flat TOML. Its keys are the `MFN_*` names lower-cased
//! without the `MFN_` prefix (`grpc_port = 50051`, `env = "prod"`); an unknown key is an
//! error so that typos are never silently ignored. The `GRPC_*` names are the seeds' names,
//! accepted as aliases of the `MFN_*` ones; setting both to different values is an error.
//! Empty environment values count as unset.
//!
//! | variable (alias) | file key | default | range / values |
//! |---|---|---|---|
//! | `MFN_ENV` | `env` | `dev` | `dev`, `staging`, `prod` |
//! | `MFN_HOST` | `host` | `127.0.0.1` in dev, `0.0.0.0` otherwise | an IP address |
//! | `MFN_GRPC_PORT` (`GRPC_PORT`) | `grpc_port` | 50051 | [0, 65535]; 0 = any free port |
//! | `MFN_HTTP_PORT` | `http_port` | 8080 | [0, 65535]; differs from the gRPC port unless one is 0 |
//! | `MFN_MAX_MESSAGE_SIZE` (`GRPC_MAX_MESSAGE_SIZE`) | `max_message_size` | 10 (MB) | [1, 1024] |
//! | `MFN_MAX_CONCURRENT_STREAMS` (`GRPC_MAX_CONCURRENT_STREAMS`) | `max_concurrent_streams` | 1000 | [1, 100000] |
//! | `MFN_KEEPALIVE_TIME_MS` (`GRPC_KEEPALIVE_TIME_MS`) | `keepalive_time_ms` | 30000 | [1000, 86400000] |
//! | `MFN_KEEPALIVE_TIMEOUT_MS` (`GRPC_KEEPALIVE_TIMEOUT_MS`) | `keepalive_timeout_ms` | 10000 | [1000, 3600000] |
//! | `MFN_MAX_WORKERS` (`GRPC_MAX_WORKERS`) | `max_workers` | available cores | [1, 1024] compute threads |
//! | `MFN_COMPUTE_QUEUE` | `compute_queue` | 64 | [0, 100000] jobs waiting beyond the running ones |
//! | `MFN_CACHE_ENTRIES` | `cache_entries` | 1024 | [0, 10000000]; 0 disables the cache |
//! | `MFN_CACHE_MB` | `cache_mb` | 64 (MB) | [0, 65536] |
//! | `MFN_MAX_GRID_SIZE` | `max_grid_size` | 512 | [4, 1024] |
//! | `MFN_MAX_STEPS` | `max_steps` | 10000 | [1, 10000] |
//! | `MFN_SHUTDOWN_TIMEOUT_S` | `shutdown_timeout_s` | 30 | [0, 3600] |
//! | `MFN_TLS_ENABLED` (`GRPC_TLS_ENABLED`) | `tls_enabled` | on when both paths are set | boolean |
//! | `MFN_TLS_CERT_PATH` (`GRPC_TLS_CERT_PATH`) | `tls_cert_path` | unset | an existing PEM file |
//! | `MFN_TLS_KEY_PATH` (`GRPC_TLS_KEY_PATH`) | `tls_key_path` | unset | an existing PEM file |
//! | `MFN_TLS_CLIENT_CA_PATH` | `tls_client_ca_path` | unset (no mTLS) | an existing PEM file; needs cert and key |
//! | `MFN_TLS_RELOAD_INTERVAL_S` | `tls_reload_interval_s` | 5 | [1, 3600] |
//! | `MFN_CORS_ORIGINS` | `cors_origins` | `*` in dev, none otherwise | comma list (or TOML array) of `*` or `scheme://host[:port]` |
//! | `MFN_LOG_FORMAT` | `log_format` | `plain` in dev, `json` otherwise | `json`, `plain` |
//! | `MFN_LOG_LEVEL` | `log_level` | `info` | a non-empty tracing `EnvFilter` directive |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | `otlp_endpoint` | unset (no export) | `http://` or `https://` URL of an OTLP/gRPC collector |
//! | `OTEL_SERVICE_NAME` | `otel_service_name` | `mfn` | non-empty |
//! | `MFN_AUTH_MODE` | `auth_mode` | `off` in dev, `signed` otherwise | `off`, `key`, `signed` |
//! | `GRPC_AUTH_ENABLED` | — | unset | boolean; when `MFN_AUTH_MODE` is unset, true = `key`, false = `off` |
//! | `MFN_RATE_LIMIT_RPS` (`GRPC_RATE_LIMIT_RPS`) | `rate_limit_rps` | 1000 | [1, 10000000] per key |
//! | `MFN_RATE_LIMIT_CONCURRENT` (`GRPC_RATE_LIMIT_CONCURRENT`) | `rate_limit_concurrent` | 50 | [1, 1000000] per key |
//! | `MFN_ANON_RATE_LIMIT_RPS` | `anon_rate_limit_rps` | 100 | [1, 10000000] per client IP (IPv6: per /64) when auth is off |
//! | `MFN_ANON_RATE_LIMIT_CONCURRENT` | `anon_rate_limit_concurrent` | 50 | [1, 1000000] in-flight requests per client IP when auth is off |
//! | `MFN_API_KEY` | — | unset | one plaintext key; hashed at once, never stored |
//! | `MFN_API_KEYS` | — | unset | comma list of plaintext keys; hashed at once, never stored |
//! | `MFN_API_KEYS_FILE` | `api_keys_file` | unset | an existing key file (see `security::keys`) |
//! | `MFN_AUTH_WINDOW_S` | `auth_window_s` | 300 | [1, 3600] seconds a signed request's timestamp may be off |
//! | `MFN_DATA_DIR` | `data_dir` | `mfn-data` | directory of the graph store (`graphs.redb`); `:memory:` keeps graphs in memory only |
//! | `MFN_GRAPH_CACHE_MB` | `graph_cache_mb` | 256 (MB) | [0, 1048576] of loaded graphs kept in memory |
//! | `MFN_GRAPH_MAX_GRAPHS` | `graph_max_graphs` | 1000 | [1, 10000000] graphs per tenant |
//! | `MFN_GRAPH_MAX_NODES` | `graph_max_nodes` | 2000000 | [1, 100000000] nodes per graph |
//! | `MFN_GRAPH_MAX_EDGES` | `graph_max_edges` | 10000000 | [1, 1000000000] edges per graph |
//! | `MFN_GRAPH_MAX_NODES_ALL_PAIRS` | `graph_max_nodes_all_pairs` | 50000 | [1, 100000000] nodes for betweenness, closeness, all-pairs, efficiency, diameter |
//! | `MFN_TOOL_TIMEOUT_S` | `tool_timeout_s` | 300 | [1, 86400] deadline of one tool call; the computation is cancelled |
//! | `MFN_MCP_ALLOWED_ORIGINS` | `mcp_allowed_origins` | unset: loopback origins only | comma list (or TOML array) of `*` or `scheme://host[:port]`; a request to `/mcp` with another `Origin` gets 403 |
//! | `MFN_MCP_ALLOWED_HOSTS` | `mcp_allowed_hosts` | `localhost,127.0.0.1,[::1]` in dev, `*` otherwise | comma list (or TOML array) of `host` or `host:port`, or `*`; other `Host` headers on `/mcp` get 403 |
//! | `MFN_CONFIG` | — | unset | path of the TOML file |
//!
//! Plaintext keys have no file key on purpose: a config file is not a place for secrets.
//! Whether keys are required (any auth mode but `off`) is checked by
//! [`crate::preflight`], which also parses the key file.
//!
//! Booleans accept `true`/`false`/`1`/`0`/`yes`/`no`/`on`/`off` in any case from the
//! environment and TOML booleans in the file. Enumerated values are case-insensitive.
//! Relative paths are relative to the working directory of the server.
//!
//! TLS is on when `MFN_TLS_ENABLED` is true (then both paths are required) or when both
//! paths are set and `MFN_TLS_ENABLED` is not explicitly false. The files must exist; their
//! PEM content is checked by `tls::TlsReloader::load`.
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
//! assert_eq!(config.grpc_port, 6000); // the environment beats the file
//! assert_eq!(config.max_steps, 500); // the file beats the default
//! assert_eq!(config.grpc_addr().to_string(), "0.0.0.0:6000");
//! ```

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Process exit code for an invalid configuration (`EX_USAGE` of sysexits.h).
pub const EXIT_CONFIG: i32 = 64;

/// Deployment environment; it selects the defaults of several other keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// Local development: loopback host, permissive CORS, plain logs, no auth.
    Dev,
    /// Pre-production: production defaults.
    Staging,
    /// Production: all interfaces, no CORS, JSON logs, signed requests.
    Prod,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Plain,
}

/// Request authentication mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// No authentication.
    Off,
    /// An API key in `x-api-key`.
    Key,
    /// An API key plus an HMAC signature over timestamp, request id and path.
    Signed,
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

/// The validated server configuration. See the [module documentation](self) for every key.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Deployment environment (`MFN_ENV`).
    pub env: Environment,
    /// Address both listeners bind to (`MFN_HOST`).
    pub host: IpAddr,
    /// gRPC port (`MFN_GRPC_PORT`, `GRPC_PORT`); 0 picks a free port.
    pub grpc_port: u16,
    /// HTTP port for REST, WebSocket, metrics and docs (`MFN_HTTP_PORT`); 0 picks a free port.
    pub http_port: u16,
    /// Largest gRPC message in bytes (`MFN_MAX_MESSAGE_SIZE`, given in MB).
    pub max_message_size_bytes: usize,
    /// HTTP/2 concurrent streams per connection (`MFN_MAX_CONCURRENT_STREAMS`).
    pub max_concurrent_streams: u32,
    /// HTTP/2 keepalive ping interval (`MFN_KEEPALIVE_TIME_MS`).
    pub keepalive_time: Duration,
    /// How long to wait for a keepalive ping's acknowledgement (`MFN_KEEPALIVE_TIMEOUT_MS`).
    pub keepalive_timeout: Duration,
    /// Compute threads (`MFN_MAX_WORKERS`).
    pub max_workers: usize,
    /// Jobs that may wait beyond the running ones before callers are turned away
    /// (`MFN_COMPUTE_QUEUE`).
    pub compute_queue: usize,
    /// Result cache capacity in entries; 0 disables the cache (`MFN_CACHE_ENTRIES`).
    pub cache_entries: usize,
    /// Result cache capacity in bytes (`MFN_CACHE_MB`, given in MB).
    pub cache_bytes: usize,
    /// Largest accepted grid side (`MFN_MAX_GRID_SIZE`).
    pub max_grid_size: usize,
    /// Largest accepted step count (`MFN_MAX_STEPS`).
    pub max_steps: usize,
    /// Drain deadline after SIGTERM/SIGINT (`MFN_SHUTDOWN_TIMEOUT_S`).
    pub shutdown_timeout: Duration,
    /// TLS certificate files, or `None` for plaintext.
    pub tls: Option<TlsSettings>,
    /// How often the certificate files are checked for changes (`MFN_TLS_RELOAD_INTERVAL_S`).
    pub tls_reload_interval: Duration,
    /// Allowed CORS origins; `"*"` allows any (`MFN_CORS_ORIGINS`).
    pub cors_allowed_origins: Vec<String>,
    /// Log line format (`MFN_LOG_FORMAT`).
    pub log_format: LogFormat,
    /// tracing `EnvFilter` directive (`MFN_LOG_LEVEL`).
    pub log_level: String,
    /// OTLP/gRPC collector for trace export (`OTEL_EXPORTER_OTLP_ENDPOINT`); `None`: off.
    pub otlp_endpoint: Option<String>,
    /// `service.name` of exported traces (`OTEL_SERVICE_NAME`).
    pub otel_service_name: String,
    /// Request authentication (`MFN_AUTH_MODE`, `GRPC_AUTH_ENABLED`).
    pub auth_mode: AuthMode,
    /// Token-bucket rate per API key, requests per second (`MFN_RATE_LIMIT_RPS`).
    pub rate_limit_rps: u32,
    /// In-flight requests per API key (`MFN_RATE_LIMIT_CONCURRENT`).
    pub rate_limit_concurrent: u32,
    /// Token-bucket rate per client IP for anonymous callers (`MFN_ANON_RATE_LIMIT_RPS`).
    pub anon_rate_limit_rps: u32,
    /// In-flight requests per client IP for anonymous callers
    /// (`MFN_ANON_RATE_LIMIT_CONCURRENT`).
    pub anon_rate_limit_concurrent: u32,
    /// SHA-256 of each plaintext key of `MFN_API_KEY` and `MFN_API_KEYS`.
    pub api_key_hashes: Vec<[u8; 32]>,
    /// The key file (`MFN_API_KEYS_FILE`); parsed by `security::KeySet::from_config`.
    pub api_keys_file: Option<PathBuf>,
    /// How far a signed request's timestamp may be from now (`MFN_AUTH_WINDOW_S`).
    pub auth_window: Duration,
    /// WebSocket session sizing and timing (defaults; not read from the environment).
    pub ws: crate::ws::WsConfig,
    /// Graph store directory (`MFN_DATA_DIR`); `None` keeps graphs in memory.
    /// [`ServerConfig::default`] is `None`; the environment-built configuration defaults
    /// to `mfn-data`.
    pub data_dir: Option<PathBuf>,
    /// Memory budget of loaded graphs in bytes (`MFN_GRAPH_CACHE_MB`).
    pub graph_cache_bytes: usize,
    /// Graph size limits (`MFN_GRAPH_MAX_*`).
    pub graph_limits: mfn_service::mfn_graph::Limits,
    /// Deadline of one tool call (`MFN_TOOL_TIMEOUT_S`).
    pub tool_timeout: Duration,
    /// Origins allowed on `/mcp` (`MFN_MCP_ALLOWED_ORIGINS`); empty: loopback only.
    pub mcp_allowed_origins: Vec<String>,
    /// `Host` values allowed on `/mcp` (`MFN_MCP_ALLOWED_HOSTS`); `"*"` allows any.
    pub mcp_allowed_hosts: Vec<String>,
}

/// An invalid configuration value: the key as the user wrote it and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {key}: {message}")]
pub struct ConfigError {
    /// The environment variable, or `file: key` for a key of the TOML file.
    pub key: String,
    /// What is wrong, e.g. `must be in [1, 1024], got 0`.
    pub message: String,
}

/// One setting: its variable, the seeds' alias and its key in the TOML file.
#[derive(Clone, Copy)]
struct Key {
    var: &'static str,
    alias: Option<&'static str>,
    file: Option<&'static str>,
}

/// A value as written by the user, with the name it was written under.
struct Raw<'a> {
    key: String,
    value: RawValue<'a>,
}

enum RawValue<'a> {
    Env(&'a str),
    File(&'a toml::Value),
}

/// A parsed value and the name the user set it under.
struct Sourced<T> {
    value: T,
    key: String,
}

/// The environment map and the parsed file.
struct Sources<'a> {
    vars: &'a HashMap<String, String>,
    file: Option<(&'a str, toml::Table)>,
}

const MIB: usize = 1024 * 1024;

const ENV: Key = Key::new("MFN_ENV", None, "env");
const HOST: Key = Key::new("MFN_HOST", None, "host");
const GRPC_PORT: Key = Key::new("MFN_GRPC_PORT", Some("GRPC_PORT"), "grpc_port");
const HTTP_PORT: Key = Key::new("MFN_HTTP_PORT", None, "http_port");
const MAX_MESSAGE_SIZE: Key = Key::new(
    "MFN_MAX_MESSAGE_SIZE",
    Some("GRPC_MAX_MESSAGE_SIZE"),
    "max_message_size",
);
const MAX_CONCURRENT_STREAMS: Key = Key::new(
    "MFN_MAX_CONCURRENT_STREAMS",
    Some("GRPC_MAX_CONCURRENT_STREAMS"),
    "max_concurrent_streams",
);
const KEEPALIVE_TIME: Key = Key::new(
    "MFN_KEEPALIVE_TIME_MS",
    Some("GRPC_KEEPALIVE_TIME_MS"),
    "keepalive_time_ms",
);
const KEEPALIVE_TIMEOUT: Key = Key::new(
    "MFN_KEEPALIVE_TIMEOUT_MS",
    Some("GRPC_KEEPALIVE_TIMEOUT_MS"),
    "keepalive_timeout_ms",
);
const MAX_WORKERS: Key = Key::new("MFN_MAX_WORKERS", Some("GRPC_MAX_WORKERS"), "max_workers");
const COMPUTE_QUEUE: Key = Key::new("MFN_COMPUTE_QUEUE", None, "compute_queue");
const CACHE_ENTRIES: Key = Key::new("MFN_CACHE_ENTRIES", None, "cache_entries");
const CACHE_MB: Key = Key::new("MFN_CACHE_MB", None, "cache_mb");
const MAX_GRID_SIZE: Key = Key::new("MFN_MAX_GRID_SIZE", None, "max_grid_size");
const MAX_STEPS: Key = Key::new("MFN_MAX_STEPS", None, "max_steps");
const SHUTDOWN_TIMEOUT: Key = Key::new("MFN_SHUTDOWN_TIMEOUT_S", None, "shutdown_timeout_s");
const TLS_ENABLED: Key = Key::new("MFN_TLS_ENABLED", Some("GRPC_TLS_ENABLED"), "tls_enabled");
const TLS_CERT: Key = Key::new(
    "MFN_TLS_CERT_PATH",
    Some("GRPC_TLS_CERT_PATH"),
    "tls_cert_path",
);
const TLS_KEY: Key = Key::new(
    "MFN_TLS_KEY_PATH",
    Some("GRPC_TLS_KEY_PATH"),
    "tls_key_path",
);
const TLS_CLIENT_CA: Key = Key::new("MFN_TLS_CLIENT_CA_PATH", None, "tls_client_ca_path");
const TLS_RELOAD: Key = Key::new("MFN_TLS_RELOAD_INTERVAL_S", None, "tls_reload_interval_s");
const CORS_ORIGINS: Key = Key::new("MFN_CORS_ORIGINS", None, "cors_origins");
const LOG_FORMAT: Key = Key::new("MFN_LOG_FORMAT", None, "log_format");
const LOG_LEVEL: Key = Key::new("MFN_LOG_LEVEL", None, "log_level");
const OTLP_ENDPOINT: Key = Key::new("OTEL_EXPORTER_OTLP_ENDPOINT", None, "otlp_endpoint");
const OTEL_SERVICE_NAME: Key = Key::new("OTEL_SERVICE_NAME", None, "otel_service_name");
const AUTH_MODE: Key = Key::new("MFN_AUTH_MODE", None, "auth_mode");
// The seeds' on/off switch; it has no MFN_ twin and no file key (the file says auth_mode).
const AUTH_ENABLED: Key = Key {
    var: "GRPC_AUTH_ENABLED",
    alias: None,
    file: None,
};
const RATE_LIMIT_RPS: Key = Key::new(
    "MFN_RATE_LIMIT_RPS",
    Some("GRPC_RATE_LIMIT_RPS"),
    "rate_limit_rps",
);
const RATE_LIMIT_CONCURRENT: Key = Key::new(
    "MFN_RATE_LIMIT_CONCURRENT",
    Some("GRPC_RATE_LIMIT_CONCURRENT"),
    "rate_limit_concurrent",
);
const ANON_RATE_LIMIT_RPS: Key = Key::new("MFN_ANON_RATE_LIMIT_RPS", None, "anon_rate_limit_rps");
const ANON_RATE_LIMIT_CONCURRENT: Key = Key::new(
    "MFN_ANON_RATE_LIMIT_CONCURRENT",
    None,
    "anon_rate_limit_concurrent",
);
// Plaintext keys: environment only (no file key), see the module docs.
const API_KEY: Key = Key {
    var: "MFN_API_KEY",
    alias: None,
    file: None,
};
const API_KEYS: Key = Key {
    var: "MFN_API_KEYS",
    alias: None,
    file: None,
};
const API_KEYS_FILE: Key = Key::new("MFN_API_KEYS_FILE", None, "api_keys_file");
const AUTH_WINDOW: Key = Key::new("MFN_AUTH_WINDOW_S", None, "auth_window_s");
const DATA_DIR: Key = Key::new("MFN_DATA_DIR", None, "data_dir");
const GRAPH_CACHE_MB: Key = Key::new("MFN_GRAPH_CACHE_MB", None, "graph_cache_mb");
const GRAPH_MAX_GRAPHS: Key = Key::new("MFN_GRAPH_MAX_GRAPHS", None, "graph_max_graphs");
const GRAPH_MAX_NODES: Key = Key::new("MFN_GRAPH_MAX_NODES", None, "graph_max_nodes");
const GRAPH_MAX_EDGES: Key = Key::new("MFN_GRAPH_MAX_EDGES", None, "graph_max_edges");
const GRAPH_MAX_NODES_ALL_PAIRS: Key = Key::new(
    "MFN_GRAPH_MAX_NODES_ALL_PAIRS",
    None,
    "graph_max_nodes_all_pairs",
);
const TOOL_TIMEOUT: Key = Key::new("MFN_TOOL_TIMEOUT_S", None, "tool_timeout_s");
const MCP_ALLOWED_ORIGINS: Key = Key::new("MFN_MCP_ALLOWED_ORIGINS", None, "mcp_allowed_origins");
const MCP_ALLOWED_HOSTS: Key = Key::new("MFN_MCP_ALLOWED_HOSTS", None, "mcp_allowed_hosts");

/// Every key this module reads, for the file's unknown-key check and [`unknown_env_vars`].
const KEYS: &[Key] = &[
    ENV,
    HOST,
    GRPC_PORT,
    HTTP_PORT,
    MAX_MESSAGE_SIZE,
    MAX_CONCURRENT_STREAMS,
    KEEPALIVE_TIME,
    KEEPALIVE_TIMEOUT,
    MAX_WORKERS,
    COMPUTE_QUEUE,
    CACHE_ENTRIES,
    CACHE_MB,
    MAX_GRID_SIZE,
    MAX_STEPS,
    SHUTDOWN_TIMEOUT,
    TLS_ENABLED,
    TLS_CERT,
    TLS_KEY,
    TLS_CLIENT_CA,
    TLS_RELOAD,
    CORS_ORIGINS,
    LOG_FORMAT,
    LOG_LEVEL,
    OTLP_ENDPOINT,
    OTEL_SERVICE_NAME,
    AUTH_MODE,
    AUTH_ENABLED,
    RATE_LIMIT_RPS,
    RATE_LIMIT_CONCURRENT,
    ANON_RATE_LIMIT_RPS,
    ANON_RATE_LIMIT_CONCURRENT,
    API_KEY,
    API_KEYS,
    API_KEYS_FILE,
    AUTH_WINDOW,
    DATA_DIR,
    GRAPH_CACHE_MB,
    GRAPH_MAX_GRAPHS,
    GRAPH_MAX_NODES,
    GRAPH_MAX_EDGES,
    GRAPH_MAX_NODES_ALL_PAIRS,
    TOOL_TIMEOUT,
    MCP_ALLOWED_ORIGINS,
    MCP_ALLOWED_HOSTS,
];

/// `MFN_*` variables read elsewhere (or by later features); not typos.
const OTHER_KNOWN_VARS: &[&str] = &["MFN_CONFIG", "MFN_CACHE_DIR"];

/// The variable naming the TOML file.
const CONFIG_VAR: &str = "MFN_CONFIG";

impl Environment {
    /// The lower-case name used in `MFN_ENV`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dev => "dev",
            Self::Staging => "staging",
            Self::Prod => "prod",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl LogFormat {
    /// The lower-case name used in `MFN_LOG_FORMAT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Plain => "plain",
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AuthMode {
    /// The lower-case name used in `MFN_AUTH_MODE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Key => "key",
            Self::Signed => "signed",
        }
    }
}

impl fmt::Display for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Default for ServerConfig {
    /// The documented defaults of `MFN_ENV=dev`.
    fn default() -> Self {
        Self::defaults(Environment::Dev)
    }
}

impl ServerConfig {
    /// Builds the configuration from `vars` (normally the process environment) and the TOML
    /// file named by `MFN_CONFIG` in `vars`, if any: environment > file > default.
    pub fn from_env(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let Some(path) = non_empty(vars, CONFIG_VAR) else {
            return Self::from_sources(vars, None);
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(CONFIG_VAR, format!("cannot read {path}: {e}")))?;
        Self::from_sources(vars, Some((path, &text)))
    }

    /// Same as [`from_env`](Self::from_env) with the file given as `(file_name, toml_text)`;
    /// `file_name` only appears in error messages. `MFN_CONFIG` in `vars` is ignored.
    pub fn from_sources(
        vars: &HashMap<String, String>,
        file: Option<(&str, &str)>,
    ) -> Result<Self, ConfigError> {
        let file = match file {
            Some((name, text)) => Some((name, parse_toml(name, text)?)),
            None => None,
        };
        let src = Sources { vars, file };
        src.reject_unknown_file_keys()?;

        let env = src
            .get(ENV, |raw| {
                raw.choice(&[
                    ("dev", Environment::Dev),
                    ("development", Environment::Dev),
                    ("staging", Environment::Staging),
                    ("prod", Environment::Prod),
                    ("production", Environment::Prod),
                ])
            })?
            .map_or(Environment::Dev, |s| s.value);
        let d = Self::defaults(env);

        let grpc_port = src
            .number(GRPC_PORT, 0, 65_535)?
            .unwrap_or_else(|| Sourced::default(GRPC_PORT, d.grpc_port));
        let http_port = src
            .number(HTTP_PORT, 0, 65_535)?
            .unwrap_or_else(|| Sourced::default(HTTP_PORT, d.http_port));
        if grpc_port.value == http_port.value && grpc_port.value != 0 {
            return Err(ConfigError::new(
                http_port.key,
                format!(
                    "must differ from {} (both {})",
                    grpc_port.key, grpc_port.value
                ),
            ));
        }

        Ok(Self {
            env,
            host: or(src.get(HOST, |raw| raw.ip())?, d.host),
            grpc_port: grpc_port.value,
            http_port: http_port.value,
            max_message_size_bytes: src
                .number::<usize>(MAX_MESSAGE_SIZE, 1, 1024)?
                .map_or(d.max_message_size_bytes, |s| s.value * MIB),
            max_concurrent_streams: or(
                src.number(MAX_CONCURRENT_STREAMS, 1, 100_000)?,
                d.max_concurrent_streams,
            ),
            keepalive_time: src
                .number(KEEPALIVE_TIME, 1_000, 86_400_000)?
                .map_or(d.keepalive_time, |s| Duration::from_millis(s.value)),
            keepalive_timeout: src
                .number(KEEPALIVE_TIMEOUT, 1_000, 3_600_000)?
                .map_or(d.keepalive_timeout, |s| Duration::from_millis(s.value)),
            max_workers: or(src.number(MAX_WORKERS, 1, 1024)?, d.max_workers),
            compute_queue: or(src.number(COMPUTE_QUEUE, 0, 100_000)?, d.compute_queue),
            cache_entries: or(src.number(CACHE_ENTRIES, 0, 10_000_000)?, d.cache_entries),
            cache_bytes: src
                .number::<usize>(CACHE_MB, 0, 65_536)?
                .map_or(d.cache_bytes, |s| s.value.saturating_mul(MIB)),
            max_grid_size: or(src.number(MAX_GRID_SIZE, 4, 1024)?, d.max_grid_size),
            max_steps: or(src.number(MAX_STEPS, 1, 10_000)?, d.max_steps),
            shutdown_timeout: src
                .number(SHUTDOWN_TIMEOUT, 0, 3600)?
                .map_or(d.shutdown_timeout, |s| Duration::from_secs(s.value)),
            tls: src.tls()?,
            tls_reload_interval: src
                .number(TLS_RELOAD, 1, 3600)?
                .map_or(d.tls_reload_interval, |s| Duration::from_secs(s.value)),
            cors_allowed_origins: or(
                src.get(CORS_ORIGINS, |raw| raw.origins())?,
                d.cors_allowed_origins,
            ),
            log_format: or(
                src.get(LOG_FORMAT, |raw| {
                    raw.choice(&[("json", LogFormat::Json), ("plain", LogFormat::Plain)])
                })?,
                d.log_format,
            ),
            log_level: or(src.get(LOG_LEVEL, |raw| raw.non_empty_text())?, d.log_level),
            otlp_endpoint: src
                .get(OTLP_ENDPOINT, |raw| raw.url())?
                .and_then(|s| s.value),
            otel_service_name: or(
                src.get(OTEL_SERVICE_NAME, |raw| raw.non_empty_text())?,
                d.otel_service_name,
            ),
            auth_mode: src.auth_mode()?.unwrap_or(d.auth_mode),
            rate_limit_rps: or(src.number(RATE_LIMIT_RPS, 1, 10_000_000)?, d.rate_limit_rps),
            rate_limit_concurrent: or(
                src.number(RATE_LIMIT_CONCURRENT, 1, 1_000_000)?,
                d.rate_limit_concurrent,
            ),
            anon_rate_limit_rps: or(
                src.number(ANON_RATE_LIMIT_RPS, 1, 10_000_000)?,
                d.anon_rate_limit_rps,
            ),
            anon_rate_limit_concurrent: or(
                src.number(ANON_RATE_LIMIT_CONCURRENT, 1, 1_000_000)?,
                d.anon_rate_limit_concurrent,
            ),
            api_key_hashes: src.api_key_hashes()?,
            api_keys_file: match src.get(API_KEYS_FILE, |raw| raw.path())? {
                Some(path) => {
                    check_file(&path)?;
                    Some(path.value)
                }
                None => None,
            },
            auth_window: src
                .number(AUTH_WINDOW, 1, 3600)?
                .map_or(d.auth_window, |s| Duration::from_secs(s.value)),
            ws: d.ws,
            data_dir: match src.get(DATA_DIR, |raw| raw.path())? {
                Some(s) if s.value.as_os_str() == ":memory:" => None,
                Some(s) => Some(s.value),
                None => Some(PathBuf::from("mfn-data")),
            },
            graph_cache_bytes: src
                .number::<usize>(GRAPH_CACHE_MB, 0, 1_048_576)?
                .map_or(d.graph_cache_bytes, |s| s.value.saturating_mul(MIB)),
            graph_limits: mfn_service::mfn_graph::Limits {
                max_graphs_per_tenant: or(
                    src.number(GRAPH_MAX_GRAPHS, 1, 10_000_000)?,
                    d.graph_limits.max_graphs_per_tenant,
                ),
                max_nodes: or(
                    src.number(GRAPH_MAX_NODES, 1, 100_000_000)?,
                    d.graph_limits.max_nodes,
                ),
                max_edges: or(
                    src.number(GRAPH_MAX_EDGES, 1, 1_000_000_000)?,
                    d.graph_limits.max_edges,
                ),
                max_nodes_all_pairs: or(
                    src.number(GRAPH_MAX_NODES_ALL_PAIRS, 1, 100_000_000)?,
                    d.graph_limits.max_nodes_all_pairs,
                ),
                ..d.graph_limits.clone()
            },
            tool_timeout: src
                .number(TOOL_TIMEOUT, 1, 86_400)?
                .map_or(d.tool_timeout, |s| Duration::from_secs(s.value)),
            mcp_allowed_origins: or(
                src.get(MCP_ALLOWED_ORIGINS, |raw| raw.origins())?,
                d.mcp_allowed_origins,
            ),
            mcp_allowed_hosts: or(
                src.get(MCP_ALLOWED_HOSTS, |raw| raw.hosts())?,
                d.mcp_allowed_hosts,
            ),
        })
    }

    /// The gRPC listener's address.
    pub fn grpc_addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.grpc_port)
    }

    /// The HTTP listener's address.
    pub fn http_addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.http_port)
    }

    /// The documented defaults of `env`.
    fn defaults(env: Environment) -> Self {
        let dev = env == Environment::Dev;
        Self {
            env,
            host: IpAddr::V4(if dev {
                Ipv4Addr::LOCALHOST
            } else {
                Ipv4Addr::UNSPECIFIED
            }),
            grpc_port: 50051,
            http_port: 8080,
            max_message_size_bytes: 10 * MIB,
            max_concurrent_streams: 1000,
            keepalive_time: Duration::from_millis(30_000),
            keepalive_timeout: Duration::from_millis(10_000),
            max_workers: std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(1024),
            compute_queue: 64,
            cache_entries: 1024,
            cache_bytes: 64 * MIB,
            max_grid_size: 512,
            max_steps: 10_000,
            shutdown_timeout: Duration::from_secs(30),
            tls: None,
            tls_reload_interval: Duration::from_secs(5),
            cors_allowed_origins: if dev {
                vec!["*".to_owned()]
            } else {
                Vec::new()
            },
            log_format: if dev {
                LogFormat::Plain
            } else {
                LogFormat::Json
            },
            log_level: "info".to_owned(),
            otlp_endpoint: None,
            otel_service_name: "mfn".to_owned(),
            auth_mode: if dev { AuthMode::Off } else { AuthMode::Signed },
            rate_limit_rps: 1000,
            rate_limit_concurrent: 50,
            anon_rate_limit_rps: 100,
            anon_rate_limit_concurrent: 50,
            api_key_hashes: Vec::new(),
            api_keys_file: None,
            auth_window: Duration::from_secs(300),
            ws: crate::ws::WsConfig::default(),
            data_dir: None,
            graph_cache_bytes: 256 * MIB,
            graph_limits: mfn_service::mfn_graph::Limits::default(),
            tool_timeout: Duration::from_secs(300),
            mcp_allowed_origins: Vec::new(),
            mcp_allowed_hosts: if dev {
                vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()]
            } else {
                vec!["*".into()]
            },
        }
    }
}

/// `MFN_*` variables in `vars` that no part of the server reads, sorted, so that the server
/// can warn about typos such as `MFN_GRPC_PROT`.
pub fn unknown_env_vars(vars: &HashMap<String, String>) -> Vec<String> {
    let mut unknown: Vec<String> = vars
        .keys()
        .filter(|name| name.starts_with("MFN_"))
        .filter(|name| {
            !KEYS
                .iter()
                .any(|k| k.var == name.as_str() || k.alias == Some(name.as_str()))
                && !OTHER_KNOWN_VARS.contains(&name.as_str())
        })
        .cloned()
        .collect();
    unknown.sort();
    unknown
}

impl ConfigError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl Key {
    const fn new(var: &'static str, alias: Option<&'static str>, file: &'static str) -> Self {
        Self {
            var,
            alias,
            file: Some(file),
        }
    }
}

impl Raw<'_> {
    fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::new(self.key.clone(), message)
    }

    fn type_error(&self, expected: &str, found: &toml::Value) -> ConfigError {
        let found = found.type_str();
        let article = if found.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        self.error(format!("expected {expected}, got {article} {found}"))
    }

    /// A string value, trimmed.
    fn text(&self) -> Result<&str, ConfigError> {
        match self.value {
            RawValue::Env(text) => Ok(text),
            RawValue::File(toml::Value::String(text)) => Ok(text.trim()),
            RawValue::File(other) => Err(self.type_error("a string", other)),
        }
    }

    fn non_empty_text(&self) -> Result<String, ConfigError> {
        let text = self.text()?;
        if text.is_empty() {
            return Err(self.error("must not be empty"));
        }
        Ok(text.to_owned())
    }

    /// An integer in `[min, max]`.
    fn integer(&self, min: u64, max: u64) -> Result<u64, ConfigError> {
        let n: i128 = match self.value {
            RawValue::Env(text) => text
                .parse()
                .map_err(|_| self.error(format!("expected an integer, got {text:?}")))?,
            RawValue::File(toml::Value::Integer(n)) => i128::from(*n),
            RawValue::File(other) => return Err(self.type_error("an integer", other)),
        };
        u64::try_from(n)
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| self.error(format!("must be in [{min}, {max}], got {n}")))
    }

    fn boolean(&self) -> Result<bool, ConfigError> {
        match self.value {
            RawValue::Env(text) => match text.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(self.error(format!(
                    "expected a boolean (true/false/1/0/yes/no/on/off), got {text:?}"
                ))),
            },
            RawValue::File(toml::Value::Boolean(b)) => Ok(*b),
            RawValue::File(other) => Err(self.type_error("a boolean", other)),
        }
    }

    /// One of `options`, case-insensitively.
    fn choice<T: Copy>(&self, options: &[(&str, T)]) -> Result<T, ConfigError> {
        let text = self.text()?;
        options
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text))
            .map(|&(_, value)| value)
            .ok_or_else(|| {
                let names: Vec<&str> = options.iter().map(|(name, _)| *name).collect();
                self.error(format!(
                    "expected one of {}, got {text:?}",
                    names.join(", ")
                ))
            })
    }

    /// An `http://` or `https://` URL with a host; empty means unset.
    fn url(&self) -> Result<Option<String>, ConfigError> {
        let text = self.text()?;
        if text.is_empty() {
            return Ok(None);
        }
        let rest = text
            .strip_prefix("http://")
            .or_else(|| text.strip_prefix("https://"));
        match rest {
            Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(Some(text.to_owned())),
            _ => Err(self.error(format!(
                "expected an http:// or https:// URL with a host, got {text:?}"
            ))),
        }
    }

    fn ip(&self) -> Result<IpAddr, ConfigError> {
        let text = self.text()?;
        text.parse()
            .map_err(|_| self.error(format!("expected an IP address, got {text:?}")))
    }

    fn path(&self) -> Result<PathBuf, ConfigError> {
        let text = self.text()?;
        if text.is_empty() {
            return Err(self.error("must not be empty"));
        }
        Ok(PathBuf::from(text))
    }

    /// A comma list, or a TOML array of strings; trimmed, empty items dropped.
    fn string_list(&self) -> Result<Vec<String>, ConfigError> {
        let items: Vec<String> = match self.value {
            RawValue::File(toml::Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    toml::Value::String(s) => Ok(s.trim().to_owned()),
                    other => Err(self.type_error("an array of strings", other)),
                })
                .collect::<Result<_, _>>()?,
            _ => self
                .text()
                .map_err(|_| {
                    self.error("expected a comma-separated string or an array of strings")
                })?
                .split(',')
                .map(|s| s.trim().to_owned())
                .collect(),
        };
        Ok(items.into_iter().filter(|s| !s.is_empty()).collect())
    }

    /// CORS origins: a comma list, or a TOML array of strings.
    fn origins(&self) -> Result<Vec<String>, ConfigError> {
        let origins = self.string_list()?;
        if let Some(bad) = origins.iter().find(|o| !valid_origin(o)) {
            return Err(self.error(format!(
                "invalid origin {bad:?}: expected \"*\" or scheme://host[:port]"
            )));
        }
        Ok(origins)
    }

    /// Host names (`host` or `host:port`, or `*`): a comma list or a TOML array.
    fn hosts(&self) -> Result<Vec<String>, ConfigError> {
        let hosts = self.string_list()?;
        if let Some(bad) = hosts
            .iter()
            .find(|h| h.contains('/') || h.contains(char::is_whitespace))
        {
            return Err(self.error(format!(
                "invalid host {bad:?}: expected \"*\", host or host:port"
            )));
        }
        Ok(hosts)
    }
}

impl Sources<'_> {
    fn env(&self, var: &'static str) -> Option<Raw<'_>> {
        non_empty(self.vars, var).map(|text| Raw {
            key: var.to_owned(),
            value: RawValue::Env(text),
        })
    }

    fn file_value(&self, key: Key) -> Option<Raw<'_>> {
        let (file_name, table) = self.file.as_ref()?;
        let file_key = key.file?;
        table.get(file_key).map(|value| Raw {
            key: format!("{file_name}: {file_key}"),
            value: RawValue::File(value),
        })
    }

    /// The value of `key` from the environment only. When the variable and its alias are
    /// both set they must mean the same thing.
    fn get_env<T: PartialEq>(
        &self,
        key: Key,
        parse: impl Fn(&Raw<'_>) -> Result<T, ConfigError>,
    ) -> Result<Option<Sourced<T>>, ConfigError> {
        let primary = self.env(key.var);
        let alias = key.alias.and_then(|alias| self.env(alias));
        let parsed = |raw: Option<&Raw<'_>>| -> Result<Option<T>, ConfigError> {
            raw.map(&parse).transpose()
        };
        let (p, a) = (parsed(primary.as_ref())?, parsed(alias.as_ref())?);
        match (primary, p, alias, a) {
            (Some(pr), Some(pv), Some(ar), Some(av)) if pv != av => Err(ConfigError::new(
                format!("{}, {}", pr.key, ar.key),
                format!(
                    "conflicting values {:?} and {:?}; set only one",
                    pr.value.display(),
                    ar.value.display()
                ),
            )),
            (Some(raw), Some(value), _, _) | (None, None, Some(raw), Some(value)) => {
                Ok(Some(Sourced {
                    value,
                    key: raw.key,
                }))
            }
            _ => Ok(None),
        }
    }

    fn get_file<T>(
        &self,
        key: Key,
        parse: impl Fn(&Raw<'_>) -> Result<T, ConfigError>,
    ) -> Result<Option<Sourced<T>>, ConfigError> {
        self.file_value(key)
            .map(|raw| {
                parse(&raw).map(|value| Sourced {
                    value,
                    key: raw.key,
                })
            })
            .transpose()
    }

    /// The value of `key`: environment, else file, else `None` (the default applies).
    fn get<T: PartialEq>(
        &self,
        key: Key,
        parse: impl Fn(&Raw<'_>) -> Result<T, ConfigError>,
    ) -> Result<Option<Sourced<T>>, ConfigError> {
        match self.get_env(key, &parse)? {
            Some(found) => Ok(Some(found)),
            None => self.get_file(key, &parse),
        }
    }

    /// An integer setting in `[min, max]`, converted to the field's type.
    fn number<T: TryFrom<u64> + PartialEq>(
        &self,
        key: Key,
        min: u64,
        max: u64,
    ) -> Result<Option<Sourced<T>>, ConfigError> {
        self.get(key, |raw| {
            let n = raw.integer(min, max)?;
            T::try_from(n).map_err(|_| raw.error(format!("{n} is too large for this platform")))
        })
    }

    fn reject_unknown_file_keys(&self) -> Result<(), ConfigError> {
        let Some((file_name, table)) = &self.file else {
            return Ok(());
        };
        let known: Vec<&str> = KEYS.iter().filter_map(|k| k.file).collect();
        match table.keys().find(|k| !known.contains(&k.as_str())) {
            None => Ok(()),
            Some(unknown) => {
                let hint = known
                    .iter()
                    .map(|k| (edit_distance(unknown, k), *k))
                    .min()
                    .filter(|(d, _)| *d <= 2)
                    .map(|(_, k)| format!(" (did you mean {k}?)"))
                    .unwrap_or_default();
                Err(ConfigError::new(
                    format!("{file_name}: {unknown}"),
                    format!("unknown key{hint}"),
                ))
            }
        }
    }

    /// `MFN_AUTH_MODE` beats `GRPC_AUTH_ENABLED`, which beats the file's `auth_mode`.
    fn auth_mode(&self) -> Result<Option<AuthMode>, ConfigError> {
        let parse_mode = |raw: &Raw<'_>| {
            raw.choice(&[
                ("off", AuthMode::Off),
                ("key", AuthMode::Key),
                ("signed", AuthMode::Signed),
            ])
        };
        let mode = self.get_env(AUTH_MODE, parse_mode)?;
        let enabled = self.get_env(AUTH_ENABLED, |raw| raw.boolean())?;
        match (mode, enabled) {
            (Some(mode), Some(enabled)) => {
                if enabled.value == (mode.value == AuthMode::Off) {
                    return Err(ConfigError::new(
                        format!("{}, {}", mode.key, enabled.key),
                        format!(
                            "conflicting values {:?} and {:?}; set only one",
                            mode.value.as_str(),
                            enabled.value
                        ),
                    ));
                }
                Ok(Some(mode.value))
            }
            (Some(mode), None) => Ok(Some(mode.value)),
            (None, Some(enabled)) => Ok(Some(if enabled.value {
                AuthMode::Key
            } else {
                AuthMode::Off
            })),
            (None, None) => Ok(self.get_file(AUTH_MODE, parse_mode)?.map(|s| s.value)),
        }
    }

    /// The hashes of `MFN_API_KEY` and the comma list `MFN_API_KEYS`; empty items are
    /// skipped so that a trailing comma is harmless.
    fn api_key_hashes(&self) -> Result<Vec<[u8; 32]>, ConfigError> {
        let mut hashes = Vec::new();
        for key in [API_KEY, API_KEYS] {
            let Some(raw) = self.env(key.var) else {
                continue;
            };
            let text = raw.text()?;
            for item in text.split(',').map(str::trim).filter(|k| !k.is_empty()) {
                if item.chars().any(char::is_whitespace) {
                    return Err(raw.error("a key must not contain whitespace"));
                }
                let hash = crate::security::keys::hash_key(item);
                if !hashes.contains(&hash) {
                    hashes.push(hash);
                }
            }
        }
        Ok(hashes)
    }

    fn tls(&self) -> Result<Option<TlsSettings>, ConfigError> {
        let enabled = self.get(TLS_ENABLED, |raw| raw.boolean())?;
        let cert = self.get(TLS_CERT, |raw| raw.path())?;
        let key = self.get(TLS_KEY, |raw| raw.path())?;
        let client_ca = self.get(TLS_CLIENT_CA, |raw| raw.path())?;
        if enabled.as_ref().is_some_and(|e| !e.value) {
            return Ok(None);
        }
        let (cert, key) = match (cert, key) {
            (Some(cert), Some(key)) => (cert, key),
            (Some(cert), None) => {
                return Err(ConfigError::new(
                    TLS_KEY.var,
                    format!("must be set together with {}", cert.key),
                ));
            }
            (None, Some(key)) => {
                return Err(ConfigError::new(
                    TLS_CERT.var,
                    format!("must be set together with {}", key.key),
                ));
            }
            (None, None) => {
                if let Some(enabled) = enabled {
                    return Err(ConfigError::new(
                        enabled.key,
                        format!(
                            "tls is enabled but {} and {} are not set",
                            TLS_CERT.var, TLS_KEY.var
                        ),
                    ));
                }
                if let Some(ca) = client_ca {
                    return Err(ConfigError::new(
                        ca.key,
                        format!("requires {} and {}", TLS_CERT.var, TLS_KEY.var),
                    ));
                }
                return Ok(None);
            }
        };
        for file in [Some(&cert), Some(&key), client_ca.as_ref()]
            .into_iter()
            .flatten()
        {
            check_file(file)?;
        }
        Ok(Some(TlsSettings {
            cert_path: cert.value,
            key_path: key.value,
            client_ca_path: client_ca.map(|s| s.value),
        }))
    }
}

impl<T> Sourced<T> {
    /// A default value, reported under the key's variable name.
    fn default(key: Key, value: T) -> Self {
        Self {
            value,
            key: key.var.to_owned(),
        }
    }
}

impl RawValue<'_> {
    /// The value as the user wrote it, for conflict messages.
    fn display(&self) -> String {
        match self {
            RawValue::Env(text) => (*text).to_owned(),
            RawValue::File(value) => value.to_string(),
        }
    }
}

fn or<T>(found: Option<Sourced<T>>, default: T) -> T {
    found.map_or(default, |s| s.value)
}

/// `vars[name]`, trimmed; empty counts as unset.
fn non_empty<'a>(vars: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn parse_toml(file_name: &str, text: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>().map_err(|e| {
        let at = e
            .span()
            .map(|span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!(" at line {line}, column {column}")
            })
            .unwrap_or_default();
        ConfigError::new(
            file_name,
            format!("invalid toml{at}: {}", e.message().trim_end()),
        )
    })
}

fn check_file(path: &Sourced<PathBuf>) -> Result<(), ConfigError> {
    match std::fs::metadata(&path.value) {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(_) => Err(ConfigError::new(
            path.key.clone(),
            format!("{} is not a file", path.value.display()),
        )),
        Err(e) => Err(ConfigError::new(
            path.key.clone(),
            format!("cannot access {}: {e}", path.value.display()),
        )),
    }
}

/// `*`, or `http(s)://host[:port]` without path or whitespace.
fn valid_origin(origin: &str) -> bool {
    if origin == "*" {
        return true;
    }
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https")
        && !rest.is_empty()
        && !rest.contains(['/', '?', '#'])
        && !rest.chars().any(char::is_whitespace)
}

/// Levenshtein distance, for "did you mean" hints on a handful of short keys.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn load(pairs: &[(&str, &str)]) -> Result<ServerConfig, ConfigError> {
        ServerConfig::from_sources(&vars(pairs), None)
    }

    fn load_file(pairs: &[(&str, &str)], toml: &str) -> Result<ServerConfig, ConfigError> {
        ServerConfig::from_sources(&vars(pairs), Some(("mfn.toml", toml)))
    }

    fn error(result: Result<ServerConfig, ConfigError>) -> ConfigError {
        match result {
            Ok(config) => panic!("expected an error, got {config:?}"),
            Err(e) => e,
        }
    }

    /// What the environment-built configuration defaults to: `ServerConfig::default()`
    /// keeps graphs in memory (library use, tests), the server stores them in `mfn-data`.
    fn env_defaults() -> ServerConfig {
        ServerConfig {
            data_dir: Some(PathBuf::from("mfn-data")),
            ..ServerConfig::default()
        }
    }

    #[test]
    fn defaults_are_the_documented_dev_defaults() {
        let config = load(&[]).unwrap();
        assert_eq!(config, env_defaults());
        let memory = load(&[("MFN_DATA_DIR", ":memory:")]).unwrap();
        assert_eq!(memory, ServerConfig::default());
        assert_eq!(config.env, Environment::Dev);
        assert_eq!(config.host, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(config.grpc_port, 50051);
        assert_eq!(config.http_port, 8080);
        assert_eq!(config.max_message_size_bytes, 10 * 1024 * 1024);
        assert_eq!(config.max_concurrent_streams, 1000);
        assert_eq!(config.keepalive_time, Duration::from_secs(30));
        assert_eq!(config.keepalive_timeout, Duration::from_secs(10));
        let cores = std::thread::available_parallelism().unwrap().get();
        assert_eq!(config.max_workers, cores.min(1024));
        assert_eq!(config.compute_queue, 64);
        assert_eq!(config.cache_entries, 1024);
        assert_eq!(config.cache_bytes, 64 * 1024 * 1024);
        assert_eq!(config.max_grid_size, 512);
        assert_eq!(config.max_steps, 10_000);
        assert_eq!(config.shutdown_timeout, Duration::from_secs(30));
        assert_eq!(config.tls, None);
        assert_eq!(config.tls_reload_interval, Duration::from_secs(5));
        assert_eq!(config.cors_allowed_origins, vec!["*".to_owned()]);
        assert_eq!(config.log_format, LogFormat::Plain);
        assert_eq!(config.log_level, "info");
        assert_eq!(config.auth_mode, AuthMode::Off);
        assert_eq!(config.rate_limit_rps, 1000);
        assert_eq!(config.rate_limit_concurrent, 50);
        assert_eq!(config.grpc_addr(), "127.0.0.1:50051".parse().unwrap());
        assert_eq!(config.http_addr(), "127.0.0.1:8080".parse().unwrap());
    }

    #[test]
    fn staging_and_prod_change_the_environment_dependent_defaults() {
        for (name, env) in [
            ("staging", Environment::Staging),
            ("prod", Environment::Prod),
            ("PROD", Environment::Prod),
            ("production", Environment::Prod),
        ] {
            let config = load(&[("MFN_ENV", name)]).unwrap();
            assert_eq!(config.env, env, "{name}");
            assert_eq!(config.host, IpAddr::V4(Ipv4Addr::UNSPECIFIED), "{name}");
            assert!(config.cors_allowed_origins.is_empty(), "{name}");
            assert_eq!(config.log_format, LogFormat::Json, "{name}");
            assert_eq!(config.auth_mode, AuthMode::Signed, "{name}");
            assert_eq!(config.grpc_port, 50051, "{name}");
        }
        // The environment may come from the file and still select the defaults.
        let config = load_file(&[], "env = \"prod\"").unwrap();
        assert_eq!(config.auth_mode, AuthMode::Signed);
        let e = error(load(&[("MFN_ENV", "production-eu")]));
        assert_eq!(e.key, "MFN_ENV");
        assert!(e.message.contains("expected one of dev"), "{e}");
    }

    #[test]
    fn explicit_values_override_environment_dependent_defaults() {
        let config = load(&[
            ("MFN_ENV", "prod"),
            ("MFN_HOST", "::1"),
            (
                "MFN_CORS_ORIGINS",
                "https://a.example, http://b.example:8080,",
            ),
            ("MFN_LOG_FORMAT", "Plain"),
            ("MFN_AUTH_MODE", "key"),
            ("MFN_LOG_LEVEL", "mfn=debug,tower=warn"),
        ])
        .unwrap();
        assert_eq!(config.host, "::1".parse::<IpAddr>().unwrap());
        assert_eq!(config.grpc_addr().to_string(), "[::1]:50051");
        assert_eq!(
            config.cors_allowed_origins,
            vec!["https://a.example", "http://b.example:8080"]
        );
        assert_eq!(config.log_format, LogFormat::Plain);
        assert_eq!(config.auth_mode, AuthMode::Key);
        assert_eq!(config.log_level, "mfn=debug,tower=warn");
        let e = error(load(&[("MFN_HOST", "localhost")]));
        assert_eq!(e.key, "MFN_HOST");
    }

    #[test]
    fn every_alias_sets_its_field() {
        type Check = fn(&ServerConfig) -> bool;
        let cases: &[(&str, &str, Check)] = &[
            ("GRPC_PORT", "7001", |c| c.grpc_port == 7001),
            ("GRPC_MAX_MESSAGE_SIZE", "3", |c| {
                c.max_message_size_bytes == 3 * MIB
            }),
            ("GRPC_MAX_CONCURRENT_STREAMS", "7", |c| {
                c.max_concurrent_streams == 7
            }),
            ("GRPC_KEEPALIVE_TIME_MS", "2000", |c| {
                c.keepalive_time == Duration::from_secs(2)
            }),
            ("GRPC_KEEPALIVE_TIMEOUT_MS", "3000", |c| {
                c.keepalive_timeout == Duration::from_secs(3)
            }),
            ("GRPC_MAX_WORKERS", "3", |c| c.max_workers == 3),
            ("GRPC_RATE_LIMIT_RPS", "11", |c| c.rate_limit_rps == 11),
            ("GRPC_RATE_LIMIT_CONCURRENT", "12", |c| {
                c.rate_limit_concurrent == 12
            }),
            ("GRPC_AUTH_ENABLED", "true", |c| {
                c.auth_mode == AuthMode::Key
            }),
            ("GRPC_TLS_ENABLED", "false", |c| c.tls.is_none()),
        ];
        for &(alias, value, check) in cases {
            let config = load(&[(alias, value)]).unwrap();
            assert!(check(&config), "{alias}={value}");
            // The primary name sets the same field.
            if let Some(key) = KEYS.iter().find(|k| k.alias == Some(alias)) {
                let config = load(&[(key.var, value)]).unwrap();
                assert!(check(&config), "{}={value}", key.var);
            }
        }
    }

    #[test]
    fn alias_and_primary_with_different_values_conflict() {
        let e = error(load(&[("MFN_GRPC_PORT", "7001"), ("GRPC_PORT", "7002")]));
        assert_eq!(e.key, "MFN_GRPC_PORT, GRPC_PORT");
        assert!(e.message.contains("conflicting values"), "{e}");
        assert!(e.to_string().contains("7001") && e.to_string().contains("7002"));

        // The same meaning under both names is fine, even spelled differently.
        let config = load(&[("MFN_GRPC_PORT", "7001"), ("GRPC_PORT", "7001")]).unwrap();
        assert_eq!(config.grpc_port, 7001);
        let config = load(&[("MFN_TLS_ENABLED", "off"), ("GRPC_TLS_ENABLED", "FALSE")]).unwrap();
        assert_eq!(config.tls, None);
        let e = error(load(&[
            ("MFN_TLS_ENABLED", "false"),
            ("GRPC_TLS_ENABLED", "true"),
        ]));
        assert_eq!(e.key, "MFN_TLS_ENABLED, GRPC_TLS_ENABLED");
    }

    #[test]
    fn empty_values_count_as_unset() {
        let config = load(&[("MFN_GRPC_PORT", ""), ("GRPC_PORT", "  "), ("MFN_ENV", "")]).unwrap();
        assert_eq!(config, env_defaults());
        let config = load(&[("MFN_GRPC_PORT", ""), ("GRPC_PORT", "7001")]).unwrap();
        assert_eq!(config.grpc_port, 7001);
    }

    #[test]
    fn environment_beats_file_and_file_beats_default() {
        let file = r#"
            grpc_port = 6000
            max_steps = 500
            cors_origins = ["https://a.example", "https://b.example"]
            log_level = "debug"
            keepalive_time_ms = 5000
        "#;
        let config = load_file(&[("GRPC_PORT", "7000"), ("MFN_MAX_STEPS", "")], file).unwrap();
        assert_eq!(config.grpc_port, 7000);
        assert_eq!(config.max_steps, 500);
        assert_eq!(
            config.cors_allowed_origins,
            vec!["https://a.example", "https://b.example"]
        );
        assert_eq!(config.log_level, "debug");
        assert_eq!(config.keepalive_time, Duration::from_secs(5));
        assert_eq!(config.http_port, 8080);

        let config = load_file(&[], "cors_origins = \"https://a.example,*\"").unwrap();
        assert_eq!(config.cors_allowed_origins, vec!["https://a.example", "*"]);
        let config = load_file(&[], "cors_origins = []").unwrap();
        assert!(config.cors_allowed_origins.is_empty());
    }

    #[test]
    fn every_range_is_checked_at_both_edges() {
        // (variable, file key, min, max)
        let ranges: &[(&str, &str, i64, i64)] = &[
            ("MFN_GRPC_PORT", "grpc_port", 0, 65_535),
            ("MFN_HTTP_PORT", "http_port", 0, 65_535),
            ("MFN_MAX_MESSAGE_SIZE", "max_message_size", 1, 1024),
            (
                "MFN_MAX_CONCURRENT_STREAMS",
                "max_concurrent_streams",
                1,
                100_000,
            ),
            (
                "MFN_KEEPALIVE_TIME_MS",
                "keepalive_time_ms",
                1000,
                86_400_000,
            ),
            (
                "MFN_KEEPALIVE_TIMEOUT_MS",
                "keepalive_timeout_ms",
                1000,
                3_600_000,
            ),
            ("MFN_MAX_WORKERS", "max_workers", 1, 1024),
            ("MFN_COMPUTE_QUEUE", "compute_queue", 0, 100_000),
            ("MFN_CACHE_ENTRIES", "cache_entries", 0, 10_000_000),
            ("MFN_CACHE_MB", "cache_mb", 0, 65_536),
            ("MFN_MAX_GRID_SIZE", "max_grid_size", 4, 1024),
            ("MFN_MAX_STEPS", "max_steps", 1, 10_000),
            ("MFN_SHUTDOWN_TIMEOUT_S", "shutdown_timeout_s", 0, 3600),
            (
                "MFN_TLS_RELOAD_INTERVAL_S",
                "tls_reload_interval_s",
                1,
                3600,
            ),
            ("MFN_RATE_LIMIT_RPS", "rate_limit_rps", 1, 10_000_000),
            (
                "MFN_ANON_RATE_LIMIT_RPS",
                "anon_rate_limit_rps",
                1,
                10_000_000,
            ),
            ("MFN_AUTH_WINDOW_S", "auth_window_s", 1, 3600),
            (
                "MFN_RATE_LIMIT_CONCURRENT",
                "rate_limit_concurrent",
                1,
                1_000_000,
            ),
        ];
        for &(var, file_key, min, max) in ranges {
            let names = std::iter::once(var)
                .chain(KEYS.iter().find(|k| k.var == var).and_then(|k| k.alias));
            for name in names {
                for ok in [min, max] {
                    load(&[(name, ok.to_string().as_str())])
                        .unwrap_or_else(|e| panic!("{name}={ok} rejected: {e}"));
                }
                for bad in [min - 1, max + 1] {
                    let e = error(load(&[(name, bad.to_string().as_str())]));
                    assert_eq!(e.key, name);
                    assert_eq!(e.message, format!("must be in [{min}, {max}], got {bad}"));
                }
            }
            for ok in [min, max] {
                load_file(&[], &format!("{file_key} = {ok}"))
                    .unwrap_or_else(|e| panic!("{file_key} = {ok} rejected: {e}"));
            }
            for bad in [min - 1, max + 1] {
                let e = error(load_file(&[], &format!("{file_key} = {bad}")));
                assert_eq!(e.key, format!("mfn.toml: {file_key}"));
                assert_eq!(e.message, format!("must be in [{min}, {max}], got {bad}"));
            }
        }
        let e = error(load(&[("MFN_MAX_STEPS", "ten")]));
        assert_eq!(e.message, "expected an integer, got \"ten\"");
    }

    #[test]
    fn units_are_converted() {
        let config = load(&[
            ("MFN_MAX_MESSAGE_SIZE", "4"),
            ("MFN_CACHE_MB", "0"),
            ("MFN_SHUTDOWN_TIMEOUT_S", "0"),
            ("MFN_TLS_RELOAD_INTERVAL_S", "60"),
            ("MFN_KEEPALIVE_TIMEOUT_MS", "1500"),
        ])
        .unwrap();
        assert_eq!(config.max_message_size_bytes, 4 * 1024 * 1024);
        assert_eq!(config.cache_bytes, 0);
        assert_eq!(config.shutdown_timeout, Duration::ZERO);
        assert_eq!(config.tls_reload_interval, Duration::from_secs(60));
        assert_eq!(config.keepalive_timeout, Duration::from_millis(1500));
    }

    #[test]
    fn ports_must_differ_unless_zero() {
        let e = error(load(&[("GRPC_PORT", "9000"), ("MFN_HTTP_PORT", "9000")]));
        assert_eq!(e.key, "MFN_HTTP_PORT");
        assert_eq!(e.message, "must differ from GRPC_PORT (both 9000)");
        let e = error(load_file(&[("MFN_GRPC_PORT", "8080")], ""));
        assert_eq!(e.key, "MFN_HTTP_PORT");
        let config = load(&[("MFN_GRPC_PORT", "0"), ("MFN_HTTP_PORT", "0")]).unwrap();
        assert_eq!(config.grpc_addr().port(), 0);
    }

    #[test]
    fn booleans_accept_the_usual_spellings() {
        for (text, mode) in [
            ("true", AuthMode::Key),
            ("TRUE", AuthMode::Key),
            ("1", AuthMode::Key),
            ("yes", AuthMode::Key),
            ("On", AuthMode::Key),
            ("false", AuthMode::Off),
            ("0", AuthMode::Off),
            ("No", AuthMode::Off),
            ("off", AuthMode::Off),
        ] {
            let config = load(&[("MFN_ENV", "prod"), ("GRPC_AUTH_ENABLED", text)]).unwrap();
            assert_eq!(config.auth_mode, mode, "{text}");
        }
        let e = error(load(&[("GRPC_AUTH_ENABLED", "maybe")]));
        assert_eq!(e.key, "GRPC_AUTH_ENABLED");
        assert!(e.message.starts_with("expected a boolean"), "{e}");
        let e = error(load_file(&[], "tls_enabled = \"yes\""));
        assert_eq!(e.key, "mfn.toml: tls_enabled");
        assert_eq!(e.message, "expected a boolean, got a string");
    }

    #[test]
    fn auth_mode_precedence_and_conflicts() {
        // MFN_AUTH_MODE wins over GRPC_AUTH_ENABLED when they agree.
        let config = load(&[("MFN_AUTH_MODE", "signed"), ("GRPC_AUTH_ENABLED", "true")]).unwrap();
        assert_eq!(config.auth_mode, AuthMode::Signed);
        for (mode, enabled) in [("off", "true"), ("key", "false"), ("signed", "no")] {
            let e = error(load(&[
                ("MFN_AUTH_MODE", mode),
                ("GRPC_AUTH_ENABLED", enabled),
            ]));
            assert_eq!(
                e.key, "MFN_AUTH_MODE, GRPC_AUTH_ENABLED",
                "{mode}/{enabled}"
            );
        }
        // The environment switch beats the file's mode.
        let config = load_file(&[("GRPC_AUTH_ENABLED", "off")], "auth_mode = \"signed\"").unwrap();
        assert_eq!(config.auth_mode, AuthMode::Off);
        let config = load_file(&[], "auth_mode = \"KEY\"").unwrap();
        assert_eq!(config.auth_mode, AuthMode::Key);
        let e = error(load(&[("MFN_AUTH_MODE", "hmac")]));
        assert_eq!(e.message, "expected one of off, key, signed, got \"hmac\"");
    }

    #[test]
    fn file_errors_name_the_key() {
        let e = error(load_file(&[], "grpc_prot = 1"));
        assert_eq!(e.key, "mfn.toml: grpc_prot");
        assert_eq!(e.message, "unknown key (did you mean grpc_port?)");
        let e = error(load_file(&[], "completely_unrelated = 1"));
        assert_eq!(e.message, "unknown key");
        // The environment does not excuse a typo in the file.
        let e = error(load_file(&[("MFN_GRPC_PORT", "1")], "api_keys = \"x\""));
        assert_eq!(e.key, "mfn.toml: api_keys");

        let e = error(load_file(&[], "grpc_port = \"50051\""));
        assert_eq!(e.key, "mfn.toml: grpc_port");
        assert_eq!(e.message, "expected an integer, got a string");
        let e = error(load_file(&[], "env = 3"));
        assert_eq!(e.message, "expected a string, got an integer");
        let e = error(load_file(&[], "cors_origins = [1]"));
        assert_eq!(e.key, "mfn.toml: cors_origins");
        let e = error(load_file(&[], "log_level = \"\""));
        assert_eq!(e.message, "must not be empty");

        let e = error(load_file(&[], "grpc_port = 1\nmax_steps = = 2\n"));
        assert_eq!(e.key, "mfn.toml");
        assert!(e.message.starts_with("invalid toml at line 2"), "{e}");
    }

    #[test]
    fn invalid_cors_origins_are_rejected() {
        for bad in [
            "example.com",
            "https://a.example/",
            "ftp://a.example",
            "https://",
        ] {
            let e = error(load(&[("MFN_CORS_ORIGINS", bad)]));
            assert_eq!(e.key, "MFN_CORS_ORIGINS", "{bad}");
            assert!(e.message.starts_with("invalid origin"), "{e}");
        }
    }

    #[test]
    fn from_env_reads_the_file_named_by_mfn_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mfn.toml");
        std::fs::write(&path, "max_grid_size = 64\nmax_steps = 0\n").unwrap();
        let path = path.to_str().unwrap();
        let e = error(ServerConfig::from_env(&vars(&[("MFN_CONFIG", path)])));
        assert_eq!(e.key, format!("{path}: max_steps"));
        let config =
            ServerConfig::from_env(&vars(&[("MFN_CONFIG", path), ("MFN_MAX_STEPS", "10")]))
                .unwrap();
        assert_eq!((config.max_grid_size, config.max_steps), (64, 10));

        let missing = dir.path().join("nope.toml");
        let e = error(ServerConfig::from_env(&vars(&[(
            "MFN_CONFIG",
            missing.to_str().unwrap(),
        )])));
        assert_eq!(e.key, "MFN_CONFIG");
        assert!(e.message.contains("nope.toml"), "{e}");
        assert!(
            e.to_string()
                .starts_with("invalid configuration: MFN_CONFIG: cannot read")
        );
    }

    #[test]
    fn tls_rules() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, "pem").unwrap();
            path.to_str().unwrap().to_owned()
        };
        let (cert, key, ca) = (file("cert.pem"), file("key.pem"), file("ca.pem"));
        let (cert, key, ca) = (cert.as_str(), key.as_str(), ca.as_str());
        let missing = dir.path().join("missing.pem");
        let missing = missing.to_str().unwrap();
        let directory = dir.path().to_str().unwrap();

        // Both paths enable TLS; nothing set disables it.
        let expected = TlsSettings {
            cert_path: cert.into(),
            key_path: key.into(),
            client_ca_path: None,
        };
        let config = load(&[("MFN_TLS_CERT_PATH", cert), ("MFN_TLS_KEY_PATH", key)]).unwrap();
        assert_eq!(config.tls.as_ref(), Some(&expected));
        let config = load(&[("GRPC_TLS_CERT_PATH", cert), ("GRPC_TLS_KEY_PATH", key)]).unwrap();
        assert_eq!(config.tls.as_ref(), Some(&expected));
        let toml = format!("tls_cert_path = {cert:?}\ntls_key_path = {key:?}\n");
        assert_eq!(load_file(&[], &toml).unwrap().tls.as_ref(), Some(&expected));
        assert_eq!(load(&[]).unwrap().tls, None);

        // With the client CA: mutual TLS.
        let config = load(&[
            ("MFN_TLS_CERT_PATH", cert),
            ("MFN_TLS_KEY_PATH", key),
            ("MFN_TLS_CLIENT_CA_PATH", ca),
            ("MFN_TLS_ENABLED", "yes"),
        ])
        .unwrap();
        assert_eq!(config.tls.unwrap().client_ca_path, Some(ca.into()));

        // Explicitly disabled wins over paths.
        let config = load(&[
            ("MFN_TLS_CERT_PATH", cert),
            ("MFN_TLS_KEY_PATH", key),
            ("GRPC_TLS_ENABLED", "false"),
        ])
        .unwrap();
        assert_eq!(config.tls, None);

        // Enabled without paths, one path alone, a CA alone.
        let e = error(load(&[("GRPC_TLS_ENABLED", "true")]));
        assert_eq!(e.key, "GRPC_TLS_ENABLED");
        assert!(e.message.contains("MFN_TLS_CERT_PATH"), "{e}");
        let e = error(load(&[
            ("MFN_TLS_ENABLED", "1"),
            ("MFN_TLS_CERT_PATH", cert),
        ]));
        assert_eq!(e.key, "MFN_TLS_KEY_PATH");
        let e = error(load(&[("GRPC_TLS_KEY_PATH", key)]));
        assert_eq!(e.key, "MFN_TLS_CERT_PATH");
        assert_eq!(e.message, "must be set together with GRPC_TLS_KEY_PATH");
        let e = error(load(&[("MFN_TLS_CLIENT_CA_PATH", ca)]));
        assert_eq!(e.key, "MFN_TLS_CLIENT_CA_PATH");

        // Files must exist and be files.
        let e = error(load(&[
            ("MFN_TLS_CERT_PATH", missing),
            ("MFN_TLS_KEY_PATH", key),
        ]));
        assert_eq!(e.key, "MFN_TLS_CERT_PATH");
        assert!(e.message.contains("missing.pem"), "{e}");
        let e = error(load(&[
            ("MFN_TLS_CERT_PATH", cert),
            ("MFN_TLS_KEY_PATH", key),
            ("MFN_TLS_CLIENT_CA_PATH", directory),
        ]));
        assert_eq!(e.key, "MFN_TLS_CLIENT_CA_PATH");
        assert!(e.message.ends_with("is not a file"), "{e}");
        let toml = format!("tls_cert_path = {cert:?}\ntls_key_path = {missing:?}\n");
        let e = error(load_file(&[], &toml));
        assert_eq!(e.key, "mfn.toml: tls_key_path");
    }

    #[test]
    fn unknown_env_vars_reports_only_unread_mfn_names() {
        let vars = vars(&[
            ("MFN_GRPC_PROT", "1"),
            ("MFN_GRPC_PORT", "1"),
            ("GRPC_PORT", "1"),
            ("GRPC_SOMETHING", "1"),
            ("MFN_API_KEYS", "k"),
            ("MFN_CONFIG", "x"),
            ("MFN_DATA_DIR", "d"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"),
            ("MFN_LOGLEVEL", "debug"),
            ("PATH", "/bin"),
        ]);
        assert_eq!(
            unknown_env_vars(&vars),
            vec!["MFN_GRPC_PROT", "MFN_LOGLEVEL"]
        );
        // Every MFN_ variable read here is known.
        let known: HashMap<String, String> = KEYS
            .iter()
            .map(|k| (k.var.to_owned(), String::new()))
            .collect();
        assert!(unknown_env_vars(&known).is_empty());
    }

    #[test]
    fn otlp_export_is_configured_by_the_standard_otel_variables() {
        let d = load(&[]).unwrap();
        assert_eq!(
            (d.otlp_endpoint, d.otel_service_name.as_str()),
            (None, "mfn")
        );
        let c = load(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
            ("OTEL_SERVICE_NAME", "mfn-eu"),
        ])
        .unwrap();
        assert_eq!(c.otlp_endpoint.as_deref(), Some("http://collector:4317"));
        assert_eq!(c.otel_service_name, "mfn-eu");
        assert_eq!(
            load(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "")])
                .unwrap()
                .otlp_endpoint,
            None
        );
        let e = error(load(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317")]));
        assert_eq!(e.key, "OTEL_EXPORTER_OTLP_ENDPOINT");
        assert!(e.message.contains("http://"), "{}", e.message);
    }

    #[test]
    fn api_keys_are_hashed_and_the_file_must_exist() {
        let config = load(&[
            ("MFN_API_KEY", "alpha"),
            ("MFN_API_KEYS", "beta, gamma,,alpha,"),
            ("MFN_AUTH_WINDOW_S", "60"),
            ("MFN_ANON_RATE_LIMIT_RPS", "7"),
            ("MFN_ANON_RATE_LIMIT_CONCURRENT", "3"),
        ])
        .unwrap();
        let hash = crate::security::keys::hash_key;
        assert_eq!(
            config.api_key_hashes,
            vec![hash("alpha"), hash("beta"), hash("gamma")]
        );
        assert_eq!(config.auth_window, Duration::from_secs(60));
        assert_eq!(config.anon_rate_limit_rps, 7);
        assert_eq!(config.anon_rate_limit_concurrent, 3);
        // The plaintext never appears in the config's Debug output.
        assert!(!format!("{config:?}").contains("alpha"));
        let defaults = load(&[]).unwrap();
        assert!(defaults.api_key_hashes.is_empty() && defaults.api_keys_file.is_none());
        assert_eq!(defaults.auth_window, Duration::from_secs(300));
        assert_eq!(defaults.anon_rate_limit_rps, 100);

        let e = error(load(&[("MFN_API_KEYS", "a b")]));
        assert_eq!(e.key, "MFN_API_KEYS");
        let e = error(load(&[("MFN_API_KEYS_FILE", "/nonexistent/keys")]));
        assert_eq!(e.key, "MFN_API_KEYS_FILE");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, "").unwrap();
        let file = format!("api_keys_file = {:?}", path.to_str().unwrap());
        let config = load_file(&[], &file).unwrap();
        assert_eq!(config.api_keys_file.as_deref(), Some(path.as_path()));
        // Plaintext keys have no file key.
        let e = error(load_file(&[], "api_key = \"k\""));
        assert!(e.message.starts_with("unknown key"), "{e}");
    }

    #[test]
    fn error_display_is_one_lowercase_line() {
        let e = error(load(&[("MFN_MAX_WORKERS", "0")]));
        assert_eq!(
            e.to_string(),
            "invalid configuration: MFN_MAX_WORKERS: must be in [1, 1024], got 0"
        );
    }
}
