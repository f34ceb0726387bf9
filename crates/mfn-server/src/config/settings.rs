//! The settings table: one row per setting, read by the parser, the unknown-key checks,
//! the flags of `mfn serve` and the documentation table (see the [module](super)).

use std::borrow::Cow;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{AuthMode, Environment, LogFormat, Named, ServerConfig};
use Type::{Bool, Choice, File, GraphStore, Hosts, Int, Ip, Keys, Origins, Path, Text, Url};
use Unit::{Count, Kb, Mb, Ms, S};

/// One setting: the names it is read under, its doc line, and (for the parser) its type,
/// default, file key and the field it fills.
pub struct Setting {
    /// The environment variable.
    pub var: &'static str,
    /// Other names in the environment (the seeds' `GRPC_*`); they must agree.
    pub aliases: &'static [&'static str],
    /// Long flag of `mfn serve` without the dashes, and its aliases.
    pub flag: Option<(&'static str, &'static [&'static str])>,
    /// One line for the documentation table.
    pub doc: &'static str,
    pub(crate) ty: Type,
    pub(crate) default: Fallback,
    /// The TOML key: `None` derives it from the variable (`MFN_GRPC_PORT` → `grpc_port`),
    /// `Some("")` means environment only (secrets, the seeds' switches, the file's name).
    file: Option<&'static str>,
    set: fn(&mut ServerConfig, Value),
}

/// What a setting accepts (the docs table and the parser describe each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Type {
    Int(u64, u64, Unit),
    Bool,
    /// The names, and `(spelling, name)` synonyms.
    Choice(
        &'static [&'static str],
        &'static [(&'static str, &'static str)],
    ),
    Ip,
    Text,
    /// `http(s)://host…`; empty means unset.
    Url,
    /// `embedded`, or `redis://…` with a host, or `redis+unix:///path`.
    GraphStore,
    Path,
    File,
    Origins,
    Hosts,
    /// Plaintext API keys, hashed at once.
    Keys,
}

/// The unit of an integer: sizes become bytes, times [`Duration`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Count,
    Mb,
    Kb,
    Ms,
    S,
}

/// A setting's value when no source sets it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Fallback {
    /// The same text in every environment, parsed like an environment value.
    Value(&'static str),
    /// Text per environment: dev, staging, prod.
    ByEnv(&'static str, &'static str, &'static str),
    /// Computed on this machine; the text says how.
    Computed(&'static str, fn() -> String),
    /// None: the field keeps its blank (`None`, empty, off); the text says what it means.
    Unset(&'static str),
}

/// A parsed value on its way to a field; sizes are in bytes already.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Int(u64),
    Dur(Duration),
    Bool(bool),
    Name(&'static str),
    Text(String),
    Ip(IpAddr),
    Path(PathBuf),
    List(Vec<String>),
    Hashes(Vec<[u8; 32]>),
}

fn cores() -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.min(1024).to_string()
}

const ENVIRONMENTS: Type = Choice(
    Environment::NAMES,
    &[("development", "dev"), ("production", "prod")],
);

/// Every setting, in the order of the documentation table.
#[rustfmt::skip]
pub static SETTINGS: &[Setting] = &[
    // Deployment
    Setting::new("MFN_ENV", ENVIRONMENTS, "selects the defaults of host, CORS, log format, auth and MCP hosts",
        |c, v| c.env = v.choice()).default("dev").flag("env", &[]),
    Setting::new("MFN_CONFIG", Path, "the TOML file; read before the other settings",
        |c, v| c.config_file = Some(v.path())).env_only().flag("config", &[]),
    // Network
    Setting::new("MFN_HOST", Ip, "address both listeners bind to",
        |c, v| c.network.host = v.ip()).by_env("127.0.0.1", "0.0.0.0", "0.0.0.0").flag("host", &[]),
    Setting::new("MFN_GRPC_PORT", Int(0, 65_535, Count), "gRPC port; 0 = any free port",
        |c, v| c.network.grpc_port = v.int()).aliases(&["GRPC_PORT"]).default("50051").flag("grpc-port", &["port"]),
    Setting::new("MFN_HTTP_PORT", Int(0, 65_535, Count), "HTTP port (REST, WebSocket, MCP, metrics, docs); differs from the gRPC port unless one is 0",
        |c, v| c.network.http_port = v.int()).default("8080").flag("http-port", &[]),
    Setting::new("MFN_MAX_MESSAGE_SIZE", Int(1, 1024, Mb), "largest gRPC message and HTTP request body",
        |c, v| c.network.max_message_bytes = v.int()).aliases(&["GRPC_MAX_MESSAGE_SIZE"]).default("10"),
    Setting::new("MFN_MAX_CONCURRENT_STREAMS", Int(1, 100_000, Count), "HTTP/2 streams per connection",
        |c, v| c.network.max_concurrent_streams = v.int()).aliases(&["GRPC_MAX_CONCURRENT_STREAMS"]).default("1000"),
    Setting::new("MFN_KEEPALIVE_TIME_MS", Int(1_000, 86_400_000, Ms), "HTTP/2 keepalive ping interval",
        |c, v| c.network.keepalive_time = v.duration()).aliases(&["GRPC_KEEPALIVE_TIME_MS"]).default("30000"),
    Setting::new("MFN_KEEPALIVE_TIMEOUT_MS", Int(1_000, 3_600_000, Ms), "wait for a keepalive ping's acknowledgement",
        |c, v| c.network.keepalive_timeout = v.duration()).aliases(&["GRPC_KEEPALIVE_TIMEOUT_MS"]).default("10000"),
    Setting::new("MFN_CORS_ORIGINS", Origins, "origins allowed by CORS on REST and gRPC-Web",
        |c, v| c.network.cors_allowed_origins = v.list()).by_env("*", "", ""),
    Setting::new("MFN_SHUTDOWN_TIMEOUT_S", Int(0, 3600, S), "drain deadline after SIGTERM/SIGINT",
        |c, v| c.network.shutdown_timeout = v.duration()).default("30"),
    // Connections
    Setting::new("MFN_MAX_CONNECTIONS", Int(1, 1_000_000, Count), "open connections per port; beyond it new ones are closed at accept",
        |c, v| c.connections.max_connections = v.int()).default("4096"),
    Setting::new("MFN_MAX_CONNECTIONS_PER_IP", Int(1, 1_000_000, Count), "open connections per client IP (IPv6: per /64) and port; raise it behind a proxy or NAT",
        |c, v| c.connections.max_connections_per_ip = v.int()).default("256"),
    Setting::new("MFN_HEADER_READ_TIMEOUT_S", Int(1, 300, S), "HTTP port: a request head (the first one, or the next one on a kept-alive connection) must arrive within it",
        |c, v| c.connections.header_read_timeout = v.duration()).default("10"),
    Setting::new("MFN_BODY_READ_TIMEOUT_S", Int(1, 3600, S), "HTTP port: a request body must arrive whole within it of its head; else 408 and the connection closes",
        |c, v| c.connections.body_read_timeout = v.duration()).default("60"),
    Setting::new("MFN_IDLE_TIMEOUT_S", Int(1, 86_400, S), "a connection with no request in flight this long is closed (HTTP/2 pings do not count)",
        |c, v| c.connections.idle_timeout = v.duration()).default("300"),
    Setting::new("MFN_MAX_TLS_HANDSHAKES", Int(1, 100_000, Count), "TLS handshakes in progress on each TLS port; beyond it new connections are closed at accept",
        |c, v| c.connections.max_tls_handshakes = v.int()).default("256"),
    Setting::new("MFN_TLS_HANDSHAKE_TIMEOUT_S", Int(1, 300, S), "a TLS handshake not finished within it is dropped",
        |c, v| c.connections.tls_handshake_timeout = v.duration()).default("10"),
    // Service: compute gate, result cache, request limits
    Setting::new("MFN_MAX_WORKERS", Int(1, 1024, Count), "compute threads",
        |c, v| c.service.workers = v.int()).aliases(&["GRPC_MAX_WORKERS"]).computed("available cores", cores),
    Setting::new("MFN_COMPUTE_QUEUE", Int(0, 100_000, Count), "jobs waiting beyond the running ones; beyond it, `RESOURCE_EXHAUSTED`",
        |c, v| c.service.queue = v.int()).default("64"),
    Setting::new("MFN_CACHE_ENTRIES", Int(0, 10_000_000, Count), "result cache entries; 0 disables the cache",
        |c, v| c.service.cache_entries = v.int()).default("1024"),
    Setting::new("MFN_CACHE_MB", Int(0, 65_536, Mb), "result cache size",
        |c, v| c.service.cache_bytes = v.int()).default("64"),
    Setting::new("MFN_MAX_GRID_SIZE", Int(4, 1024, Count), "largest grid side of a simulation",
        |c, v| c.service.limits.max_grid_size = v.int()).default("512"),
    Setting::new("MFN_MAX_STEPS", Int(1, 10_000, Count), "most steps of a simulation",
        |c, v| c.service.limits.max_steps = v.int()).default("10000"),
    Setting::new("MFN_TOOL_TIMEOUT_S", Int(1, 86_400, S), "deadline of one tool call; the computation is cancelled",
        |c, v| c.service.tool_timeout = v.duration()).default("300"),
    // Graph store
    Setting::new("MFN_DATA_DIR", Path, "directory of the graph store (`graphs.redb`); `:memory:` keeps graphs in memory only",
        |c, v| c.service.graphs.data_dir = Some(v.path()).filter(|d| d.as_os_str() != ":memory:")).default("mfn-data").flag("data-dir", &[]),
    Setting::new("MFN_GRAPH_STORE", GraphStore, "where graphs live: `embedded` (redb under MFN_DATA_DIR, one process) or `redis://[user:password@]host[:port][/db]`, shared by replicas (deploy/README.md)",
        |c, v| c.service.graphs.shared = Some(v.text()).filter(|s| s != "embedded")).default("embedded"),
    Setting::new("MFN_GRAPH_STORE_PASSWORD_FILE", File, "file holding the Redis password of MFN_GRAPH_STORE (a mounted secret; replaces one in the URL; read at start)",
        |c, v| c.service.graphs.shared_password_file = Some(v.path())).unset("unset (the URL's, if any)"),
    Setting::new("MFN_GRAPH_CACHE_MB", Int(0, 1_048_576, Mb), "loaded graphs kept in memory",
        |c, v| c.service.graphs.cache_bytes = v.int()).default("256"),
    Setting::new("MFN_GRAPH_MAX_GRAPHS", Int(1, 10_000_000, Count), "graphs per tenant",
        |c, v| c.service.graphs.limits.max_graphs_per_tenant = v.int()).default("1000"),
    Setting::new("MFN_GRAPH_TENANT_MB", Int(1, 16_777_216, Mb), "bytes one tenant may store over all its graphs (the stored encoding); a write beyond it is refused",
        |c, v| c.service.graphs.limits.max_tenant_bytes = v.int()).default("4096"),
    Setting::new("MFN_GRAPH_CALL_MB", Int(1, 1_048_576, Mb), "memory one graph tool call may use, estimated from its arguments before it allocates",
        |c, v| c.service.graphs.limits.max_call_bytes = v.int()).default("1024"),
    Setting::new("MFN_GRAPH_MAX_NODES", Int(1, 100_000_000, Count), "nodes per graph",
        |c, v| c.service.graphs.limits.max_nodes = v.int()).default("2000000"),
    Setting::new("MFN_GRAPH_MAX_EDGES", Int(1, 1_000_000_000, Count), "edges per graph",
        |c, v| c.service.graphs.limits.max_edges = v.int()).default("10000000"),
    Setting::new("MFN_GRAPH_MAX_NODES_ALL_PAIRS", Int(1, 100_000_000, Count), "nodes for betweenness, closeness, all-pairs, efficiency, diameter",
        |c, v| c.service.graphs.limits.max_nodes_all_pairs = v.int()).default("50000"),
    Setting::new("MFN_GRAPH_MAX_NODES_MATCHING", Int(1, 100_000_000, Count), "nodes for matching (O(n³), not cancellable once started: this bounds the worker time it takes)",
        |c, v| c.service.graphs.limits.max_nodes_matching = v.int()).default("5000"),
    // Authentication
    Setting::new("MFN_AUTH_MODE", Choice(AuthMode::NAMES, &[]), "request authentication",
        |c, v| c.auth.mode = v.choice()).by_env("off", "signed", "signed"),
    Setting::new("GRPC_AUTH_ENABLED", Bool, "the seeds' switch: when `MFN_AUTH_MODE` is unset, true = `key`, false = `off`",
        |c, v| c.auth.mode = if v.boolean() { AuthMode::Key } else { AuthMode::Off }).env_only(),
    Setting::new("MFN_API_KEY", Keys, "one plaintext key",
        |c, v| c.auth.add_keys(v.hashes())).env_only(),
    Setting::new("MFN_API_KEYS", Keys, "plaintext keys",
        |c, v| c.auth.add_keys(v.hashes())).env_only(),
    Setting::new("MFN_API_KEYS_FILE", File, "key file with names, scopes and limits (see `security::keys`)",
        |c, v| c.auth.api_keys_file = Some(v.path())),
    Setting::new("MFN_AUTH_WINDOW_S", Int(1, 3600, S), "how far a signed request's timestamp may be off",
        |c, v| c.auth.window = v.duration()).default("300"),
    Setting::new("MFN_AUTH_FAILURE_LIMIT", Int(1, 1_000_000, Count), "failed authentications from one client IP (IPv6: /64) within the window before it is blocked",
        |c, v| c.auth.failure_limit = v.int()).default("20"),
    Setting::new("MFN_AUTH_FAILURE_WINDOW_S", Int(1, 86_400, S), "the window of `MFN_AUTH_FAILURE_LIMIT`",
        |c, v| c.auth.failure_window = v.duration()).default("60"),
    Setting::new("MFN_AUTH_FAILURE_BLOCK_S", Int(1, 86_400, S), "how long a blocked client IP gets 429 (`RESOURCE_EXHAUSTED`) on every door",
        |c, v| c.auth.failure_block = v.duration()).default("300"),
    Setting::new("MFN_API_KEYS_RELOAD_INTERVAL_S", Int(1, 3600, S), "how often the key file is checked for changes; SIGHUP reloads it at once",
        |c, v| c.auth.keys_reload_interval = v.duration()).default("5"),
    Setting::new("MFN_METRICS_AUTH", Bool, "`/metrics` needs an API key (the key alone, even in signed mode)",
        |c, v| c.auth.metrics_auth = v.boolean()).by_env("false", "true", "true"),
    // Rate limits
    Setting::new("MFN_RATE_LIMIT_RPS", Int(1, 10_000_000, Count), "requests per second per key",
        |c, v| c.rate_limits.rps = v.int()).aliases(&["GRPC_RATE_LIMIT_RPS"]).default("1000"),
    Setting::new("MFN_RATE_LIMIT_CONCURRENT", Int(1, 1_000_000, Count), "in-flight requests per key",
        |c, v| c.rate_limits.concurrent = v.int()).aliases(&["GRPC_RATE_LIMIT_CONCURRENT"]).default("50"),
    Setting::new("MFN_ANON_RATE_LIMIT_RPS", Int(1, 10_000_000, Count), "requests per second per client IP (IPv6: per /64) of anonymous callers",
        |c, v| c.rate_limits.anon_rps = v.int()).default("100"),
    Setting::new("MFN_ANON_RATE_LIMIT_CONCURRENT", Int(1, 1_000_000, Count), "in-flight requests per client IP of anonymous callers",
        |c, v| c.rate_limits.anon_concurrent = v.int()).default("50"),
    // TLS
    Setting::new("MFN_TLS_ENABLED", Bool, "TLS on the gRPC port, and on the HTTP port unless MFN_HTTP_TLS=false; true needs both paths",
        |c, v| c.tls.enabled = v.boolean()).aliases(&["GRPC_TLS_ENABLED"]).unset("on when both paths are set"),
    Setting::new("MFN_TLS_CERT_PATH", Path, "PEM certificate chain, leaf first; must exist",
        |c, v| c.tls.cert_path = Some(v.path())).aliases(&["GRPC_TLS_CERT_PATH"]),
    Setting::new("MFN_TLS_KEY_PATH", Path, "PEM private key; must exist",
        |c, v| c.tls.key_path = Some(v.path())).aliases(&["GRPC_TLS_KEY_PATH"]),
    Setting::new("MFN_TLS_CLIENT_CA_PATH", Path, "PEM CA of client certificates (mTLS); needs cert and key",
        |c, v| c.tls.client_ca_path = Some(v.path())).unset("unset (no mTLS)"),
    Setting::new("MFN_TLS_RELOAD_INTERVAL_S", Int(1, 3600, S), "how often the certificate files are checked for changes",
        |c, v| c.tls.reload_interval = v.duration()).default("5"),
    Setting::new("MFN_HTTP_TLS", Bool, "with TLS on, the HTTP port serves TLS too (same certificates, reload and mTLS); false keeps it plain (e.g. behind a TLS-terminating proxy or mesh); no effect when TLS is off",
        |c, v| c.tls.http = v.boolean()).default("true"),
    // Telemetry
    Setting::new("MFN_LOG_FORMAT", Choice(LogFormat::NAMES, &[]), "log lines on stderr",
        |c, v| c.telemetry.log_format = v.choice()).by_env("plain", "json", "json"),
    Setting::new("MFN_LOG_LEVEL", Text, "a tracing `EnvFilter` directive",
        |c, v| c.telemetry.log_level = v.text()).default("info"),
    Setting::new("OTEL_EXPORTER_OTLP_ENDPOINT", Url, "OTLP/gRPC collector of traces",
        |c, v| c.telemetry.otlp_endpoint = v.optional_text()).file_key("otlp_endpoint").unset("unset (no export)"),
    Setting::new("OTEL_SERVICE_NAME", Text, "`service.name` of exported traces",
        |c, v| c.telemetry.otel_service_name = v.text()).file_key("otel_service_name").default("mfn"),
    // MCP
    Setting::new("MFN_MCP_ALLOWED_ORIGINS", Origins, "`Origin`s allowed on `/mcp`; others get 403",
        |c, v| c.mcp.allowed_origins = v.list()).unset("unset: loopback origins only"),
    Setting::new("MFN_MCP_ALLOWED_HOSTS", Hosts, "`Host` headers allowed on `/mcp`; others get 403",
        |c, v| c.mcp.allowed_hosts = v.list()).by_env("localhost,127.0.0.1,[::1]", "*", "*"),
    Setting::new("MFN_MCP_MAX_SESSIONS", Int(1, 1_000_000, Count), "MCP sessions (`Mcp-Session-Id`) held at once, all keys together; beyond it `initialize` gets 503",
        |c, v| c.mcp.max_sessions = v.int()).default("1000"),
    Setting::new("MFN_MCP_MAX_SESSIONS_PER_KEY", Int(1, 1_000_000, Count), "MCP sessions one API key holds at once (anonymous callers share one allowance, larger in dev for a workstation's local agents); beyond it 429",
        |c, v| c.mcp.max_sessions_per_key = v.int()).by_env("256", "32", "32"),
    Setting::new("MFN_MCP_SESSION_IDLE_S", Int(1, 86_400, S), "an MCP session without a message this long is closed",
        |c, v| c.mcp.session_idle = v.duration()).default("120"),
    // WebSocket
    Setting::new("MFN_WS_MAX_STREAMS", Int(1, 1024, Count), "subscriptions one connection may hold",
        |c, v| c.ws.max_streams = v.int()).default("8"),
    Setting::new("MFN_WS_QUEUE_CAPACITY", Int(1, 65_536, Count), "outgoing messages queued per connection; state frames beyond it are dropped",
        |c, v| c.ws.queue_capacity = v.int()).default("64"),
    Setting::new("MFN_WS_QUEUE_MB", Int(1, 1024, Mb), "outgoing bytes queued per connection",
        |c, v| c.ws.queue_bytes = v.int()).default("16"),
    Setting::new("MFN_WS_HEARTBEAT_INTERVAL_S", Int(1, 3600, S), "how often the server sends `heartbeat`",
        |c, v| c.ws.heartbeat_interval = v.duration()).default("30"),
    Setting::new("MFN_WS_IDLE_TIMEOUT_S", Int(1, 86_400, S), "a client silent this long, or a write blocked this long, ends the session",
        |c, v| c.ws.idle_timeout = v.duration()).default("60"),
    Setting::new("MFN_WS_MAX_MESSAGE_KB", Int(1, 16_384, Kb), "largest message a client may send",
        |c, v| c.ws.max_message_bytes = v.int()).default("64"),
    Setting::new("MFN_WS_JSON_FIELD_MAX_SIDE", Int(4, 1024, Count), "largest side of a JSON field; bigger fields are block-averaged",
        |c, v| c.ws.json_field_max_side = v.int()).default("128"),
    Setting::new("MFN_WS_MAX_AUTH_ATTEMPTS", Int(1, 100, Count), "failed `auth` messages before the connection is closed",
        |c, v| c.ws.max_auth_attempts = v.int()).default("5"),
];

/// Builder steps of the table's rows.
macro_rules! with {
    ($($name:ident($($arg:ident: $ty:ty),*) => $field:ident = $value:expr;)*) => {
        $(const fn $name(mut self, $($arg: $ty),*) -> Setting {
            self.$field = $value;
            self
        })*
    };
}

impl Setting {
    /// A setting read from `var` as `ty` and put into its field by `set`; unset by
    /// default, its file key derived from `var`.
    const fn new(
        var: &'static str,
        ty: Type,
        doc: &'static str,
        set: fn(&mut ServerConfig, Value),
    ) -> Setting {
        let (aliases, file, flag, default) = (&[], None, None, Fallback::Unset("unset"));
        Setting {
            var,
            aliases,
            file,
            flag,
            ty,
            default,
            doc,
            set,
        }
    }

    with! {
        aliases(names: &'static [&'static str]) => aliases = names;
        default(text: &'static str) => default = Fallback::Value(text);
        by_env(dev: &'static str, staging: &'static str, prod: &'static str) =>
            default = Fallback::ByEnv(dev, staging, prod);
        computed(doc: &'static str, value: fn() -> String) =>
            default = Fallback::Computed(doc, value);
        unset(doc: &'static str) => default = Fallback::Unset(doc);
        env_only() => file = Some("");
        file_key(key: &'static str) => file = Some(key);
        flag(long: &'static str, aliases: &'static [&'static str]) => flag = Some((long, aliases));
    }

    /// The key in the TOML file, if any.
    pub fn file_key_name(&self) -> Option<Cow<'static, str>> {
        let derived = || self.var.strip_prefix("MFN_").unwrap_or(self.var);
        match self.file {
            None => Some(derived().to_ascii_lowercase().into()),
            Some("") => None,
            Some(key) => Some(key.into()),
        }
    }

    /// The default's text in `env`, or `None` when unset.
    pub fn default_text(&self, env: Environment) -> Option<Cow<'static, str>> {
        match (self.default, env) {
            (Fallback::Value(text), _)
            | (Fallback::ByEnv(text, ..), Environment::Dev)
            | (Fallback::ByEnv(_, text, _), Environment::Staging)
            | (Fallback::ByEnv(.., text), Environment::Prod) => Some(text.into()),
            (Fallback::Computed(_, value), _) => Some(value().into()),
            (Fallback::Unset(_), _) => None,
        }
    }

    /// What the value looks like in `--help`: `N`, `IP`, `PATH`, `FILE`, `NAME`, `URL`,
    /// `LIST` or `VALUE`.
    pub fn value_name(&self) -> &'static str {
        match self.ty {
            Int(..) => "N",
            Ip => "IP",
            Path => "PATH",
            File => "FILE",
            Choice(..) => "NAME",
            Url | GraphStore => "URL",
            Text | Bool => "VALUE",
            Origins | Hosts | Keys => "LIST",
        }
    }

    /// The names a choice setting accepts (`None` for other settings).
    pub fn choices(&self) -> Option<&'static [&'static str]> {
        match self.ty {
            Choice(names, _) => Some(names),
            _ => None,
        }
    }

    /// Every name of the setting in the environment: the variable, then its aliases.
    pub fn env_names(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.var).chain(self.aliases.iter().copied())
    }

    /// The setting named `var`; panics when the table lacks it (a rule names a setting).
    pub fn named(var: &str) -> &'static Setting {
        &SETTINGS[Self::index(var)]
    }

    pub(crate) fn index(var: &str) -> usize {
        let found = SETTINGS.iter().position(|s| s.var == var);
        found.unwrap_or_else(|| panic!("no setting {var} in the table"))
    }

    pub(crate) fn apply(&self, config: &mut ServerConfig, value: Value) {
        (self.set)(config, value);
    }
}

/// Accessors a setter calls; each must fit its setting's [`Type`] (a test applies every
/// setting), so a mismatch is a bug of the table and panics.
macro_rules! accessors {
    ($($name:ident -> $ty:ty { $pattern:pat => $out:expr })*) => {
        impl Value {
            $(pub(crate) fn $name(self) -> $ty {
                match self {
                    $pattern => $out,
                    other => panic!("{} read from {other:?}", stringify!($name)),
                }
            })*
        }
    };
}

accessors! {
    duration -> Duration { Value::Dur(d) => d }
    boolean -> bool { Value::Bool(b) => b }
    text -> String { Value::Text(text) => text }
    optional_text -> Option<String> { Value::Text(text) => Some(text).filter(|t| !t.is_empty()) }
    ip -> IpAddr { Value::Ip(ip) => ip }
    path -> PathBuf { Value::Path(path) => path }
    list -> Vec<String> { Value::List(items) => items }
    hashes -> Vec<[u8; 32]> { Value::Hashes(hashes) => hashes }
    name -> &'static str { Value::Name(name) => name }
}

impl Value {
    /// A count or a size in bytes, in the field's integer type.
    pub(crate) fn int<T: TryFrom<u64>>(self) -> T {
        match self {
            Value::Int(n) => T::try_from(n).unwrap_or_else(|_| panic!("{n} does not fit")),
            other => panic!("int read from {other:?}"),
        }
    }

    /// The enumerated value named.
    pub(crate) fn choice<T: Named>(self) -> T {
        let name = self.name();
        T::from_name(name).unwrap_or_else(|| panic!("no value {name}"))
    }
}
