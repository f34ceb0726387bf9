//! Pipeline configuration: one table of settings ([`SETTINGS`]) drives parsing,
//! validation and the documentation (`docs/PIPELINE.md` embeds [`settings_table`]).
//!
//! Precedence is **flag > environment > file > default**. Every setting has an
//! environment variable, `MFN_PIPELINE_` followed by its key upper-cased with `.` as
//! `_` (`kafka.session_timeout_ms` → `MFN_PIPELINE_KAFKA_SESSION_TIMEOUT_MS`); the TOML
//! file (`--config`, or `MFN_PIPELINE_CONFIG`) holds the same keys, dotted keys as
//! tables (`[kafka]` `session_timeout_ms = 6000`). Secrets are read from the
//! environment only (or from a `*_file`), never from the TOML file. An unknown key in
//! the file, an unknown `MFN_PIPELINE_*` variable or a bad value is a [`ConfigError`]
//! naming the key as the user wrote it, and nothing connects.
//!
//! ```
//! use std::collections::HashMap;
//! use mfn_connect::config::PipelineConfig;
//!
//! let env = HashMap::from([("MFN_PIPELINE_CONCURRENCY".to_owned(), "4".to_owned())]);
//! let flags = HashMap::from([("sink", "jsonl:///tmp/results".to_owned())]);
//! let file = "source = \"kafka://127.0.0.1:9092/requests\"\nconcurrency = 2\n[kafka]\nsession_timeout_ms = 6000\n";
//! let c = PipelineConfig::from_sources(&flags, &env, Some(("pipeline.toml", file))).unwrap();
//! assert_eq!(c.concurrency, 4); // the environment beats the file
//! assert_eq!(c.kafka.session_timeout_ms, 6000);
//! assert_eq!(c.dead_letter.to_string(), "kafka://127.0.0.1:9092/requests.dlq");
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::endpoint::Endpoint;
use crate::retry::Backoff;

/// Prefix of every environment variable of the pipeline.
pub const ENV_PREFIX: &str = "MFN_PIPELINE_";
/// The variable naming the TOML file (the `--config` flag's twin).
pub const ENV_CONFIG: &str = "MFN_PIPELINE_CONFIG";

/// One setting: its key, type and range, default and meaning.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// Dotted key (`kafka.session_timeout_ms`).
    pub key: &'static str,
    /// Type and range.
    pub kind: Kind,
    /// Default as text; empty when unset by default.
    pub default: &'static str,
    /// What it does.
    pub doc: &'static str,
}

/// The type of a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An [`Endpoint`] URL.
    Url,
    /// Free text (non-empty).
    Text,
    /// A secret: environment only.
    Secret,
    /// An existing file.
    File,
    /// A path that need not exist yet.
    NewPath,
    /// An integer in `[min, max]`.
    Int {
        /// Smallest value.
        min: u64,
        /// Largest value.
        max: u64,
    },
    /// One of these words (case-insensitive).
    Choice(&'static [&'static str]),
    /// `IP:PORT`.
    Addr,
    /// librdkafka properties: a TOML table, or `k=v,k=v` in the environment.
    Properties,
}

const fn int(min: u64, max: u64) -> Kind {
    Kind::Int { min, max }
}

/// Every setting of the pipeline.
pub const SETTINGS: &[Setting] = &[
    Setting {
        key: "source",
        kind: Kind::Url,
        default: "",
        doc: "where requests come from: `kafka://HOST:PORT/TOPIC`, `http(s)://…` (poller) or `dir:///PATH` (file watcher); required (`--source`)",
    },
    Setting {
        key: "sink",
        kind: Kind::Url,
        default: "",
        doc: "where results go: `kafka://HOST:PORT/TOPIC`, `http(s)://…` (webhook), `jsonl:///DIR` or `parquet:///DIR`; required (`--sink`)",
    },
    Setting {
        key: "dead_letter",
        kind: Kind::Url,
        default: "",
        doc: "where poison requests go with their error (any sink URL; `--dead-letter`); default `kafka://BROKERS/TOPIC.dlq` for a Kafka source, `jsonl:///DIR/failed` for a directory source, required for an HTTP source",
    },
    Setting {
        key: "group",
        kind: Kind::Text,
        default: "mfn-pipeline",
        doc: "Kafka consumer group; workers of one group share the partitions (`--group`)",
    },
    Setting {
        key: "concurrency",
        kind: int(1, 4096),
        default: "16",
        doc: "requests in flight per worker: parsed, computing or being handed to the sink (`--concurrency`)",
    },
    Setting {
        key: "max_pending",
        kind: int(1, 1_000_000),
        default: "10000",
        doc: "results handed to the sink but not yet acknowledged (file sinks acknowledge when a file is renamed into place)",
    },
    Setting {
        key: "tenant",
        kind: Kind::Text,
        default: "default",
        doc: "tenant of the graph store for graph tools (`extract_network` stores its graph there)",
    },
    Setting {
        key: "max_message_bytes",
        kind: int(1, 256 << 20),
        default: "16777216",
        doc: "largest request in bytes; a larger one is dead-lettered as `PAYLOAD_TOO_LARGE`",
    },
    Setting {
        key: "drain_timeout_s",
        kind: int(1, 3600),
        default: "60",
        doc: "on SIGTERM, how long to finish, publish and commit what was received before giving up (what is unfinished is redelivered)",
    },
    Setting {
        key: "metrics_addr",
        kind: Kind::Addr,
        default: "",
        doc: "serve Prometheus `/metrics`, `/healthz` and `/readyz` on this `IP:PORT`; unset: no HTTP endpoint",
    },
    Setting {
        key: "retry.initial_backoff_ms",
        kind: int(1, 600_000),
        default: "100",
        doc: "first retry delay ceiling; doubles per retry, upper half random (equal jitter)",
    },
    Setting {
        key: "retry.max_backoff_ms",
        kind: int(1, 3_600_000),
        default: "10000",
        doc: "largest retry delay",
    },
    Setting {
        key: "retry.max_attempts",
        kind: int(1, 1000),
        default: "8",
        doc: "attempts of one webhook POST or HTTP poll; an overloaded service and Kafka publishing are retried until the drain deadline instead",
    },
    Setting {
        key: "kafka.client_id",
        kind: Kind::Text,
        default: "mfn-pipeline",
        doc: "librdkafka `client.id`",
    },
    Setting {
        key: "kafka.security_protocol",
        kind: Kind::Choice(&["plaintext", "ssl", "sasl_plaintext", "sasl_ssl"]),
        default: "plaintext",
        doc: "`security.protocol`; `ssl` and `sasl_ssl` need a build with the `kafka-ssl` feature (OpenSSL)",
    },
    Setting {
        key: "kafka.sasl_mechanism",
        kind: Kind::Choice(&["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]),
        default: "PLAIN",
        doc: "`sasl.mechanism` for the `sasl_*` protocols; SCRAM needs the `kafka-ssl` feature",
    },
    Setting {
        key: "kafka.sasl_username",
        kind: Kind::Text,
        default: "",
        doc: "`sasl.username`; required with a `sasl_*` protocol",
    },
    Setting {
        key: "kafka.sasl_password",
        kind: Kind::Secret,
        default: "",
        doc: "`sasl.password` (environment only); required with a `sasl_*` protocol",
    },
    Setting {
        key: "kafka.ssl_ca_location",
        kind: Kind::File,
        default: "",
        doc: "PEM CA bundle that signed the brokers' certificates",
    },
    Setting {
        key: "kafka.ssl_certificate_location",
        kind: Kind::File,
        default: "",
        doc: "PEM client certificate (mutual TLS); needs `kafka.ssl_key_location`",
    },
    Setting {
        key: "kafka.ssl_key_location",
        kind: Kind::File,
        default: "",
        doc: "PEM client private key",
    },
    Setting {
        key: "kafka.ssl_key_password",
        kind: Kind::Secret,
        default: "",
        doc: "password of the client key (environment only)",
    },
    Setting {
        key: "kafka.session_timeout_ms",
        kind: int(1000, 3_600_000),
        default: "45000",
        doc: "`session.timeout.ms`: a worker silent this long (killed) loses its partitions",
    },
    Setting {
        key: "kafka.heartbeat_interval_ms",
        kind: int(100, 3_600_000),
        default: "3000",
        doc: "`heartbeat.interval.ms`; below the session timeout",
    },
    Setting {
        key: "kafka.commit_interval_ms",
        kind: int(10, 60_000),
        default: "1000",
        doc: "how often acknowledged offsets are committed (always also on rebalance and drain)",
    },
    Setting {
        key: "kafka.auto_offset_reset",
        kind: Kind::Choice(&["earliest", "latest"]),
        default: "earliest",
        doc: "where a group without a committed offset starts",
    },
    Setting {
        key: "kafka.properties",
        kind: Kind::Properties,
        default: "",
        doc: "further librdkafka properties for consumer and producers: a TOML table, or `k=v,k=v` in the environment; they cannot override the delivery settings (`enable.auto.commit`, `enable.idempotence`, `acks`, …); `debug=cgrp,…` turns on librdkafka's debug lines (shown at `MFN_LOG_LEVEL=info,mfn_connect=debug`)",
    },
    Setting {
        key: "http.interval_ms",
        kind: int(10, 86_400_000),
        default: "5000",
        doc: "HTTP poller: time between two GETs",
    },
    Setting {
        key: "http.timeout_ms",
        kind: int(100, 600_000),
        default: "10000",
        doc: "timeout of one HTTP request (poller GET, webhook POST)",
    },
    Setting {
        key: "http.max_body_bytes",
        kind: int(1, 1 << 34),
        default: "67108864",
        doc: "largest poller response body",
    },
    Setting {
        key: "http.ca_file",
        kind: Kind::File,
        default: "",
        doc: "PEM CA bundle for `https://` poller and webhook URLs, instead of the system's roots",
    },
    Setting {
        key: "http.authorization",
        kind: Kind::Secret,
        default: "",
        doc: "`Authorization` header of the poller's GETs (environment only)",
    },
    Setting {
        key: "dir.poll_interval_ms",
        kind: int(10, 3_600_000),
        default: "500",
        doc: "directory watcher: time between two scans",
    },
    Setting {
        key: "dir.max_file_bytes",
        kind: int(1, 1 << 34),
        default: "67108864",
        doc: "largest request file; a larger one is moved to `failed/`",
    },
    Setting {
        key: "webhook.secret",
        kind: Kind::Secret,
        default: "",
        doc: "HMAC-SHA256 key of the `X-MFN-Signature` header (environment only); this or `webhook.secret_file` is required for an `http(s)://` sink",
    },
    Setting {
        key: "webhook.secret_file",
        kind: Kind::File,
        default: "",
        doc: "file holding the webhook secret (trailing newline ignored)",
    },
    Setting {
        key: "webhook.dead_letter_file",
        kind: Kind::NewPath,
        default: "mfn-webhook-dead-letter.jsonl",
        doc: "JSON Lines file of results the webhook refused or never acknowledged after `retry.max_attempts`",
    },
    Setting {
        key: "file.rotate_bytes",
        kind: int(1024, 1 << 40),
        default: "67108864",
        doc: "JSONL/Parquet sinks: start a new file after this many bytes of results",
    },
    Setting {
        key: "file.rotate_secs",
        kind: int(1, 86_400),
        default: "10",
        doc: "JSONL/Parquet sinks: start a new file after this many seconds; results are acknowledged when their file is complete",
    },
    Setting {
        key: "file.row_group_rows",
        kind: int(1, 10_000_000),
        default: "10000",
        doc: "Parquet sink: rows per row group",
    },
];

/// The settings as a Markdown table (embedded in `docs/PIPELINE.md`).
pub fn settings_table() -> String {
    let mut out =
        String::from("| key | environment | default | values | meaning |\n|---|---|---|---|---|\n");
    for s in SETTINGS {
        let values = match s.kind {
            Kind::Url => "URL".to_owned(),
            Kind::Text => "text".to_owned(),
            Kind::Secret => "secret (environment only)".to_owned(),
            Kind::File => "existing file".to_owned(),
            Kind::NewPath => "path".to_owned(),
            Kind::Int { min, max } => format!("[{min}, {max}]"),
            Kind::Choice(c) => c
                .iter()
                .map(|w| format!("`{w}`"))
                .collect::<Vec<_>>()
                .join(", "),
            Kind::Addr => "`IP:PORT`".to_owned(),
            Kind::Properties => "table".to_owned(),
        };
        let default = if s.default.is_empty() {
            "—".to_owned()
        } else {
            format!("`{}`", s.default)
        };
        let _ = writeln!(
            out,
            "| `{}` | `{}` | {} | {} | {} |",
            s.key,
            s.env(),
            default,
            values,
            s.doc
        );
    }
    out
}

impl Setting {
    /// The environment variable of this setting.
    pub fn env(&self) -> String {
        format!("{ENV_PREFIX}{}", self.key.to_uppercase().replace('.', "_"))
    }
}

/// An invalid configuration: the key as the user wrote it and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    /// `--flag`, `MFN_PIPELINE_X` or `file.toml: key`.
    pub key: String,
    /// What is wrong, with the allowed range.
    pub message: String,
}

fn err(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        message: message.into(),
    }
}

/// Kafka client settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaSettings {
    /// The consumer group.
    pub group: String,
    /// `client.id`.
    pub client_id: String,
    /// `security.protocol`.
    pub security_protocol: String,
    /// `sasl.mechanism`, `sasl.username`, `sasl.password` with a `sasl_*` protocol.
    pub sasl: Option<(String, String, String)>,
    /// `ssl.ca.location`.
    pub ssl_ca_location: Option<PathBuf>,
    /// `ssl.certificate.location`.
    pub ssl_certificate_location: Option<PathBuf>,
    /// `ssl.key.location`.
    pub ssl_key_location: Option<PathBuf>,
    /// `ssl.key.password`.
    pub ssl_key_password: Option<String>,
    /// `session.timeout.ms`.
    pub session_timeout_ms: u64,
    /// `heartbeat.interval.ms`.
    pub heartbeat_interval_ms: u64,
    /// Commit period.
    pub commit_interval: Duration,
    /// `auto.offset.reset`.
    pub auto_offset_reset: String,
    /// Extra librdkafka properties.
    pub properties: BTreeMap<String, String>,
}

/// HTTP poller and webhook settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// Poll period.
    pub interval: Duration,
    /// Timeout of one request.
    pub timeout: Duration,
    /// Largest poll response.
    pub max_body_bytes: u64,
    /// Custom CA bundle.
    pub ca_file: Option<PathBuf>,
    /// `Authorization` header of polls.
    pub authorization: Option<String>,
}

/// Directory watcher settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirSettings {
    /// Scan period.
    pub poll_interval: Duration,
    /// Largest request file.
    pub max_file_bytes: u64,
}

/// Webhook publisher settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// HMAC key (set when the sink or dead-letter sink is a webhook).
    pub secret: Option<String>,
    /// Where refused results go.
    pub dead_letter_file: PathBuf,
}

/// File sink settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSettings {
    /// Rotate after this many bytes.
    pub rotate_bytes: u64,
    /// Rotate after this long.
    pub rotate_after: Duration,
    /// Parquet rows per row group.
    pub row_group_rows: usize,
}

/// A validated pipeline configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineConfig {
    /// Where requests come from.
    pub source: Endpoint,
    /// Where results go.
    pub sink: Endpoint,
    /// Where poison requests go.
    pub dead_letter: Endpoint,
    /// Requests in flight.
    pub concurrency: usize,
    /// Results awaiting acknowledgement.
    pub max_pending: usize,
    /// Tenant of graph tools.
    pub tenant: String,
    /// Largest request.
    pub max_message_bytes: usize,
    /// Drain deadline.
    pub drain_timeout: Duration,
    /// Metrics endpoint.
    pub metrics_addr: Option<SocketAddr>,
    /// Retry policy.
    pub retry: Backoff,
    /// Kafka settings.
    pub kafka: KafkaSettings,
    /// HTTP settings.
    pub http: HttpSettings,
    /// Directory watcher settings.
    pub dir: DirSettings,
    /// Webhook settings.
    pub webhook: WebhookSettings,
    /// File sink settings.
    pub file: FileSettings,
}

#[derive(Debug, Clone)]
enum RawValue {
    Text(String),
    Table(BTreeMap<String, String>),
}

#[derive(Debug, Clone)]
struct Raw {
    value: RawValue,
    /// How the user named it, for errors.
    origin: String,
}

/// The resolved raw values, one per setting that was set anywhere.
struct Values(HashMap<&'static str, Raw>);

impl PipelineConfig {
    /// Build and validate from the flags (`key → value`, keys of [`SETTINGS`]), the
    /// process environment and the TOML file `(name, text)`.
    pub fn from_sources(
        flags: &HashMap<&str, String>,
        env: &HashMap<String, String>,
        file: Option<(&str, &str)>,
    ) -> Result<Self, ConfigError> {
        let values = Values::collect(flags, env, file)?;
        values.build()
    }
}

fn setting(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key == key)
}

fn toml_scalar(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Values {
    fn collect(
        flags: &HashMap<&str, String>,
        env: &HashMap<String, String>,
        file: Option<(&str, &str)>,
    ) -> Result<Self, ConfigError> {
        let mut map: HashMap<&'static str, Raw> = HashMap::new();
        if let Some((name, text)) = file {
            let table: toml::Table = text
                .parse()
                .map_err(|e: toml::de::Error| err(name, e.message().to_owned()))?;
            let mut flat = Vec::new();
            flatten(name, "", &table, &mut flat)?;
            for (key, value) in flat {
                let origin = format!("{name}: {key}");
                let s = setting(&key).ok_or_else(|| {
                    err(
                        &origin,
                        "unknown key (see the settings table in docs/PIPELINE.md)",
                    )
                })?;
                if s.kind == Kind::Secret {
                    return Err(err(
                        &origin,
                        format!("a secret is not read from a file; set {} instead", s.env()),
                    ));
                }
                map.insert(s.key, Raw { value, origin });
            }
        }
        let mut unknown: Vec<&String> = env
            .keys()
            .filter(|k| k.starts_with(ENV_PREFIX) && k.as_str() != ENV_CONFIG)
            .filter(|k| !SETTINGS.iter().any(|s| &s.env() == *k))
            .collect();
        unknown.sort();
        if let Some(k) = unknown.first() {
            return Err(err(
                k.as_str(),
                "unknown variable (see the settings table in docs/PIPELINE.md)",
            ));
        }
        for s in SETTINGS {
            let name = s.env();
            if let Some(v) = env.get(&name).filter(|v| !v.trim().is_empty()) {
                let value = if s.kind == Kind::Properties {
                    RawValue::Table(parse_properties(&name, v)?)
                } else {
                    RawValue::Text(v.clone())
                };
                map.insert(
                    s.key,
                    Raw {
                        value,
                        origin: name,
                    },
                );
            }
        }
        for (key, v) in flags {
            let s = setting(key).ok_or_else(|| err(*key, "unknown flag"))?;
            map.insert(
                s.key,
                Raw {
                    value: RawValue::Text(v.clone()),
                    origin: format!("--{}", s.key.replace('_', "-")),
                },
            );
        }
        Ok(Values(map))
    }

    fn origin(&self, key: &str) -> String {
        self.0
            .get(key)
            .map_or_else(|| key.to_owned(), |r| r.origin.clone())
    }

    fn text(&self, key: &str) -> Result<Option<String>, ConfigError> {
        let s = setting(key).expect("declared setting");
        match self.0.get(key) {
            Some(Raw {
                value: RawValue::Text(t),
                origin,
            }) => {
                let t = t.trim();
                if t.is_empty() {
                    return Err(err(origin, "must not be empty"));
                }
                Ok(Some(t.to_owned()))
            }
            Some(Raw { origin, .. }) => Err(err(origin, "expected a value, not a table")),
            None if s.default.is_empty() => Ok(None),
            None => Ok(Some(s.default.to_owned())),
        }
    }

    fn required(&self, key: &str) -> Result<String, ConfigError> {
        self.text(key)?.ok_or_else(|| {
            let s = setting(key).expect("declared setting");
            err(
                key,
                format!(
                    "required (--{}, {} or `{key}` in the config file)",
                    key.replace('_', "-"),
                    s.env()
                ),
            )
        })
    }

    fn int(&self, key: &str) -> Result<u64, ConfigError> {
        let Kind::Int { min, max } = setting(key).expect("declared setting").kind else {
            unreachable!("{key} is not an integer setting")
        };
        let text = self.required(key)?;
        let v: u64 = text.parse().map_err(|_| {
            err(
                self.origin(key),
                format!("{text:?} is not an integer in [{min}, {max}]"),
            )
        })?;
        if !(min..=max).contains(&v) {
            return Err(err(
                self.origin(key),
                format!("{v} is out of range: must be in [{min}, {max}]"),
            ));
        }
        Ok(v)
    }

    fn choice(&self, key: &str) -> Result<String, ConfigError> {
        let Kind::Choice(words) = setting(key).expect("declared setting").kind else {
            unreachable!("{key} is not a choice")
        };
        let text = self.required(key)?;
        words
            .iter()
            .find(|w| w.eq_ignore_ascii_case(&text))
            .map(|w| (*w).to_owned())
            .ok_or_else(|| {
                err(
                    self.origin(key),
                    format!("{text:?} is not one of {}", words.join(", ")),
                )
            })
    }

    fn url(&self, key: &str) -> Result<Option<Endpoint>, ConfigError> {
        self.text(key)?
            .map(|t| Endpoint::parse(&t).map_err(|m| err(self.origin(key), m)))
            .transpose()
    }

    fn file(&self, key: &str) -> Result<Option<PathBuf>, ConfigError> {
        let Some(t) = self.text(key)? else {
            return Ok(None);
        };
        let p = PathBuf::from(t);
        if !p.is_file() {
            return Err(err(
                self.origin(key),
                format!("{} is not an existing file", p.display()),
            ));
        }
        Ok(Some(p))
    }

    fn secret(&self, key: &str) -> Option<String> {
        match self.0.get(key) {
            Some(Raw {
                value: RawValue::Text(t),
                ..
            }) => Some(t.clone()),
            _ => None,
        }
    }

    fn ms(&self, key: &str) -> Result<Duration, ConfigError> {
        Ok(Duration::from_millis(self.int(key)?))
    }

    fn build(&self) -> Result<PipelineConfig, ConfigError> {
        let source = self.url("source")?.ok_or_else(|| {
            err(
                "source",
                "required (--source, MFN_PIPELINE_SOURCE or `source` in the config file)",
            )
        })?;
        if !source.is_source() {
            return Err(err(
                self.origin("source"),
                format!(
                    "{} cannot be a source; use kafka://, http(s):// or dir:///",
                    source.scheme()
                ),
            ));
        }
        let sink = self.url("sink")?.ok_or_else(|| {
            err(
                "sink",
                "required (--sink, MFN_PIPELINE_SINK or `sink` in the config file)",
            )
        })?;
        if !sink.is_sink() {
            return Err(err(
                self.origin("sink"),
                "dir:/// is a source; write results with jsonl:/// or parquet:///",
            ));
        }
        let dead_letter = match self.url("dead_letter")? {
            Some(d) if !d.is_sink() => {
                return Err(err(
                    self.origin("dead_letter"),
                    "dir:/// is a source; use kafka://, jsonl:///, parquet:/// or http(s)://",
                ));
            }
            Some(d) => d,
            None => match &source {
                Endpoint::Kafka { brokers, topic } => Endpoint::Kafka {
                    brokers: brokers.clone(),
                    topic: format!("{topic}.dlq"),
                },
                Endpoint::Dir { path } => Endpoint::Jsonl {
                    path: path.join("failed"),
                },
                _ => {
                    return Err(err(
                        "dead_letter",
                        "required for an http(s) source (--dead-letter or MFN_PIPELINE_DEAD_LETTER)",
                    ));
                }
            },
        };
        if dead_letter == sink {
            return Err(err(
                self.origin("dead_letter"),
                "must differ from the sink: results and dead letters would mix",
            ));
        }
        if let (Endpoint::Dir { path }, _) = (&source, &sink)
            && !path.is_dir()
        {
            return Err(err(
                self.origin("source"),
                format!("{} is not an existing directory", path.display()),
            ));
        }

        let retry = Backoff {
            initial: self.ms("retry.initial_backoff_ms")?,
            max: self.ms("retry.max_backoff_ms")?,
            max_attempts: self.int("retry.max_attempts")? as u32,
        };
        if retry.max < retry.initial {
            return Err(err(
                self.origin("retry.max_backoff_ms"),
                "must be at least retry.initial_backoff_ms",
            ));
        }

        let kafka = self.kafka()?;
        let uses_webhook =
            matches!(sink, Endpoint::Http { .. }) || matches!(dead_letter, Endpoint::Http { .. });
        let secret = match (
            self.secret("webhook.secret"),
            self.file("webhook.secret_file")?,
        ) {
            (Some(_), Some(_)) => {
                return Err(err(
                    "MFN_PIPELINE_WEBHOOK_SECRET",
                    "set the secret or webhook.secret_file, not both",
                ));
            }
            (Some(s), None) => Some(s),
            (None, Some(p)) => Some(
                std::fs::read_to_string(&p)
                    .map_err(|e| err(self.origin("webhook.secret_file"), e.to_string()))?
                    .trim_end_matches(['\n', '\r'])
                    .to_owned(),
            ),
            (None, None) => None,
        };
        if let Some(s) = &secret
            && s.len() < 16
        {
            return Err(err(
                "webhook.secret",
                "must be at least 16 bytes (an HMAC key that short is guessable)",
            ));
        }
        if uses_webhook && secret.is_none() {
            return Err(err(
                "webhook.secret",
                "required for an http(s) sink: set MFN_PIPELINE_WEBHOOK_SECRET or webhook.secret_file",
            ));
        }

        let metrics_addr = self
            .text("metrics_addr")?
            .map(|t| {
                t.parse::<SocketAddr>()
                    .map_err(|_| err(self.origin("metrics_addr"), format!("{t:?} is not IP:PORT")))
            })
            .transpose()?;

        Ok(PipelineConfig {
            source,
            sink,
            dead_letter,
            concurrency: self.int("concurrency")? as usize,
            max_pending: self.int("max_pending")? as usize,
            tenant: self.required("tenant")?,
            max_message_bytes: self.int("max_message_bytes")? as usize,
            drain_timeout: Duration::from_secs(self.int("drain_timeout_s")?),
            metrics_addr,
            retry,
            kafka,
            http: HttpSettings {
                interval: self.ms("http.interval_ms")?,
                timeout: self.ms("http.timeout_ms")?,
                max_body_bytes: self.int("http.max_body_bytes")?,
                ca_file: self.file("http.ca_file")?,
                authorization: self.secret("http.authorization"),
            },
            dir: DirSettings {
                poll_interval: self.ms("dir.poll_interval_ms")?,
                max_file_bytes: self.int("dir.max_file_bytes")?,
            },
            webhook: WebhookSettings {
                secret,
                dead_letter_file: PathBuf::from(self.required("webhook.dead_letter_file")?),
            },
            file: FileSettings {
                rotate_bytes: self.int("file.rotate_bytes")?,
                rotate_after: Duration::from_secs(self.int("file.rotate_secs")?),
                row_group_rows: self.int("file.row_group_rows")? as usize,
            },
        })
    }

    fn kafka(&self) -> Result<KafkaSettings, ConfigError> {
        let security_protocol = self.choice("kafka.security_protocol")?;
        let sasl = if security_protocol.starts_with("sasl_") {
            let mechanism = self.choice("kafka.sasl_mechanism")?;
            let user = self.text("kafka.sasl_username")?.ok_or_else(|| {
                err(
                    "kafka.sasl_username",
                    format!("required with security protocol {security_protocol}"),
                )
            })?;
            let password = self.secret("kafka.sasl_password").ok_or_else(|| {
                err(
                    "MFN_PIPELINE_KAFKA_SASL_PASSWORD",
                    format!("required with security protocol {security_protocol}"),
                )
            })?;
            Some((mechanism, user, password))
        } else {
            None
        };
        let session_timeout_ms = self.int("kafka.session_timeout_ms")?;
        let heartbeat_interval_ms = self.int("kafka.heartbeat_interval_ms")?;
        if heartbeat_interval_ms >= session_timeout_ms {
            return Err(err(
                self.origin("kafka.heartbeat_interval_ms"),
                format!(
                    "{heartbeat_interval_ms} must be below kafka.session_timeout_ms ({session_timeout_ms})"
                ),
            ));
        }
        let ssl_certificate_location = self.file("kafka.ssl_certificate_location")?;
        let ssl_key_location = self.file("kafka.ssl_key_location")?;
        if ssl_certificate_location.is_some() != ssl_key_location.is_some() {
            return Err(err(
                self.origin("kafka.ssl_certificate_location"),
                "a client certificate needs kafka.ssl_key_location, and a key needs the certificate",
            ));
        }
        let properties = match self.0.get("kafka.properties") {
            Some(Raw {
                value: RawValue::Table(t),
                origin,
            }) => {
                for k in t.keys() {
                    if crate::source::kafka::RESERVED.contains(&k.as_str()) {
                        return Err(err(
                            origin,
                            format!(
                                "{k} is set by the pipeline (its delivery guarantee depends on it)"
                            ),
                        ));
                    }
                }
                t.clone()
            }
            Some(Raw { origin, .. }) => return Err(err(origin, "expected a table")),
            None => BTreeMap::new(),
        };
        let settings = KafkaSettings {
            group: self.required("group")?,
            client_id: self.required("kafka.client_id")?,
            security_protocol,
            sasl,
            ssl_ca_location: self.file("kafka.ssl_ca_location")?,
            ssl_certificate_location,
            ssl_key_location,
            ssl_key_password: self.secret("kafka.ssl_key_password"),
            session_timeout_ms,
            heartbeat_interval_ms,
            commit_interval: self.ms("kafka.commit_interval_ms")?,
            auto_offset_reset: self.choice("kafka.auto_offset_reset")?,
            properties,
        };
        crate::source::kafka::check_build_supports(&settings)
            .map_err(|m| err(self.origin("kafka.security_protocol"), m))?;
        Ok(settings)
    }
}

fn flatten(
    file: &str,
    prefix: &str,
    table: &toml::Table,
    out: &mut Vec<(String, RawValue)>,
) -> Result<(), ConfigError> {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) if setting(&key).is_some_and(|s| s.kind == Kind::Properties) => {
                let mut props = BTreeMap::new();
                for (pk, pv) in t {
                    let text = toml_scalar(pv).ok_or_else(|| {
                        err(
                            format!("{file}: {key}.{pk}"),
                            "expected a string, number or boolean",
                        )
                    })?;
                    props.insert(pk.clone(), text);
                }
                out.push((key, RawValue::Table(props)));
            }
            toml::Value::Table(t) if prefix.is_empty() => flatten(file, &key, t, out)?,
            v => {
                let text = toml_scalar(v).ok_or_else(|| {
                    err(
                        format!("{file}: {key}"),
                        "expected a string, number or boolean",
                    )
                })?;
                out.push((key, RawValue::Text(text)));
            }
        }
    }
    Ok(())
}

fn parse_properties(name: &str, text: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut out = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| err(name, format!("{pair:?} is not key=value")))?;
        out.insert(k.trim().to_owned(), v.trim().to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(
        flags: &[(&'static str, &str)],
        env: &[(&str, &str)],
        file: Option<&str>,
    ) -> Result<PipelineConfig, ConfigError> {
        let flags = flags.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        let env = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        PipelineConfig::from_sources(&flags, &env, file.map(|f| ("p.toml", f)))
    }

    const KAFKA: [(&str, &str); 2] = [
        ("source", "kafka://127.0.0.1:9092/req"),
        ("sink", "kafka://127.0.0.1:9092/res"),
    ];

    #[test]
    fn defaults_precedence_and_dead_letter_defaults() {
        let c = build(&KAFKA, &[], None).unwrap();
        assert_eq!(c.concurrency, 16);
        assert_eq!(c.kafka.group, "mfn-pipeline");
        assert_eq!(c.kafka.session_timeout_ms, 45000);
        assert_eq!(c.dead_letter.to_string(), "kafka://127.0.0.1:9092/req.dlq");
        let c = build(
            &[("concurrency", "3")],
            &[
                ("MFN_PIPELINE_CONCURRENCY", "5"),
                ("MFN_PIPELINE_SOURCE", "kafka://h:1/a"),
                ("MFN_PIPELINE_KAFKA_PROPERTIES", "fetch.wait.max.ms=50, socket.nagle.disable=true"),
            ],
            Some("sink = \"jsonl:///tmp/x\"\nconcurrency = 9\ngroup = \"g\"\n[file]\nrotate_secs = 3\n[kafka.properties]\n\"queued.min.messages\" = 10\n"),
        )
        .unwrap();
        assert_eq!(c.concurrency, 3, "flag > env > file");
        assert_eq!(c.kafka.group, "g");
        assert_eq!(c.file.rotate_after, Duration::from_secs(3));
        assert_eq!(
            c.kafka
                .properties
                .get("fetch.wait.max.ms")
                .map(String::as_str),
            Some("50"),
            "the environment's properties replace the file's"
        );
        assert!(!c.kafka.properties.contains_key("queued.min.messages"));
        let dir = tempfile::tempdir().unwrap();
        let url = format!("dir://{}", dir.path().display());
        let c = build(&[("source", &url), ("sink", "jsonl:///tmp/r")], &[], None).unwrap();
        assert_eq!(
            c.dead_letter,
            Endpoint::Jsonl {
                path: dir.path().join("failed")
            }
        );
    }

    #[test]
    fn errors_name_the_key_as_written() {
        let cases: Vec<(Result<PipelineConfig, ConfigError>, &str, &str)> = vec![
            (build(&[], &[], None), "source", "required"),
            (
                build(&[("source", "kafka://h:1/a")], &[], None),
                "sink",
                "required",
            ),
            (
                build(&KAFKA, &[("MFN_PIPELINE_CONCURRENCY", "0")], None),
                "MFN_PIPELINE_CONCURRENCY",
                "[1, 4096]",
            ),
            (
                build(&KAFKA, &[], Some("concurency = 2")),
                "p.toml: concurency",
                "unknown key",
            ),
            (
                build(&KAFKA, &[("MFN_PIPELINE_BOGUS", "1")], None),
                "MFN_PIPELINE_BOGUS",
                "unknown variable",
            ),
            (
                build(
                    &KAFKA,
                    &[],
                    Some("[webhook]\nsecret = \"0123456789abcdef\""),
                ),
                "p.toml: webhook.secret",
                "not read from a file",
            ),
            (
                build(
                    &[("source", "jsonl:///x"), ("sink", "jsonl:///y")],
                    &[],
                    None,
                ),
                "--source",
                "cannot be a source",
            ),
            (
                build(
                    &[("source", "http://127.0.0.1:1/q"), ("sink", "jsonl:///y")],
                    &[],
                    None,
                ),
                "dead_letter",
                "required for an http(s) source",
            ),
            (
                build(
                    &[
                        ("source", "kafka://h:1/a"),
                        ("sink", "http://127.0.0.1:1/hook"),
                    ],
                    &[],
                    None,
                ),
                "webhook.secret",
                "required",
            ),
            (
                build(
                    &KAFKA,
                    &[("MFN_PIPELINE_KAFKA_HEARTBEAT_INTERVAL_MS", "6000")],
                    Some("[kafka]\nsession_timeout_ms = 6000"),
                ),
                "MFN_PIPELINE_KAFKA_HEARTBEAT_INTERVAL_MS",
                "below",
            ),
            (
                build(
                    &KAFKA,
                    &[("MFN_PIPELINE_KAFKA_SECURITY_PROTOCOL", "sasl_plaintext")],
                    None,
                ),
                "kafka.sasl_username",
                "required",
            ),
            (
                build(
                    &KAFKA,
                    &[("MFN_PIPELINE_KAFKA_PROPERTIES", "enable.auto.commit=true")],
                    None,
                ),
                "MFN_PIPELINE_KAFKA_PROPERTIES",
                "set by the pipeline",
            ),
            (
                build(
                    &[
                        ("source", "dir:///no/such/dir/for/mfn"),
                        ("sink", "jsonl:///y"),
                    ],
                    &[],
                    None,
                ),
                "--source",
                "not an existing directory",
            ),
            (
                build(&KAFKA, &[], Some("source = [1]")),
                "p.toml: source",
                "expected a string",
            ),
        ];
        for (result, key, needle) in cases {
            let e = result.unwrap_err();
            assert_eq!(e.key, key, "{e}");
            assert!(e.message.contains(needle), "{e}");
        }
    }

    #[test]
    fn sasl_plain_is_accepted_without_openssl() {
        let c = build(
            &KAFKA,
            &[
                ("MFN_PIPELINE_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"),
                ("MFN_PIPELINE_KAFKA_SASL_USERNAME", "mfn"),
                ("MFN_PIPELINE_KAFKA_SASL_PASSWORD", "pw"),
            ],
            None,
        )
        .unwrap();
        assert_eq!(c.kafka.security_protocol, "sasl_plaintext");
        assert_eq!(
            c.kafka.sasl,
            Some(("PLAIN".into(), "mfn".into(), "pw".into()))
        );
    }

    #[test]
    fn every_setting_has_a_valid_default_and_a_doc() {
        for s in SETTINGS {
            assert!(!s.doc.is_empty(), "{}", s.key);
            if let Kind::Int { min, max } = s.kind {
                let d: u64 = s.default.parse().unwrap();
                assert!((min..=max).contains(&d), "{}", s.key);
            }
            if let Kind::Choice(words) = s.kind {
                assert!(words.contains(&s.default), "{}", s.key);
            }
        }
        assert!(settings_table().contains("`MFN_PIPELINE_KAFKA_SESSION_TIMEOUT_MS`"));
    }

    #[test]
    fn the_docs_carry_the_settings_table() {
        let doc = include_str!("../../../docs/PIPELINE.md");
        assert!(
            doc.contains(&settings_table()),
            "docs/PIPELINE.md is out of date: paste `settings_table()` (cargo test -p mfn-connect prints it with --nocapture)\n{}",
            settings_table()
        );
    }
}
