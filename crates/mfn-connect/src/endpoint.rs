//! Where requests come from and results go, as one URL each.
//!
//! | URL | as a source | as a sink |
//! |---|---|---|
//! | `kafka://HOST:PORT[,HOST:PORT…]/TOPIC` | consumer group on `TOPIC` | producer to `TOPIC`, keyed by request id |
//! | `http://…`, `https://…` | poller: `GET` on an interval | webhook: signed `POST` per result |
//! | `dir:///PATH` | watcher of `*.json` / `*.jsonl` files in `PATH` | — |
//! | `jsonl:///PATH` | — | JSON Lines files in directory `PATH` |
//! | `parquet:///PATH` | — | Parquet files in directory `PATH` |
//!
//! File paths are absolute (`dir:///srv/requests`: three slashes).

use std::fmt;
use std::path::PathBuf;

/// One source or sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A Kafka topic.
    Kafka {
        /// `host:port,host:port` (librdkafka's `bootstrap.servers`).
        brokers: String,
        /// The topic.
        topic: String,
    },
    /// An HTTP(S) URL.
    Http {
        /// The whole URL.
        url: String,
    },
    /// A directory of request files.
    Dir {
        /// Absolute path.
        path: PathBuf,
    },
    /// A directory of JSON Lines result files.
    Jsonl {
        /// Absolute path.
        path: PathBuf,
    },
    /// A directory of Parquet result files.
    Parquet {
        /// Absolute path.
        path: PathBuf,
    },
}

/// Longest Kafka topic name (Kafka's own limit).
const MAX_TOPIC_LEN: usize = 249;

impl Endpoint {
    /// Parse a URL of the table above.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let Some((scheme, rest)) = s.split_once("://") else {
            return Err(format!(
                "{s:?} is not a URL; expected kafka://HOST:PORT/TOPIC, http(s)://…, dir:///PATH, jsonl:///PATH or parquet:///PATH"
            ));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "kafka" => parse_kafka(rest),
            "http" | "https" => {
                let url = reqwest::Url::parse(s).map_err(|e| format!("{s:?}: {e}"))?;
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(format!("{s:?}: the URL has no host"));
                }
                Ok(Endpoint::Http { url: s.to_owned() })
            }
            "dir" => Ok(Endpoint::Dir {
                path: parse_path("dir", rest)?,
            }),
            "jsonl" => Ok(Endpoint::Jsonl {
                path: parse_path("jsonl", rest)?,
            }),
            "parquet" => Ok(Endpoint::Parquet {
                path: parse_path("parquet", rest)?,
            }),
            other => Err(format!(
                "unknown scheme {other:?}; expected kafka, http, https, dir, jsonl or parquet"
            )),
        }
    }

    /// The scheme, for logs and metric labels.
    pub fn scheme(&self) -> &'static str {
        match self {
            Endpoint::Kafka { .. } => "kafka",
            Endpoint::Http { .. } => "http",
            Endpoint::Dir { .. } => "dir",
            Endpoint::Jsonl { .. } => "jsonl",
            Endpoint::Parquet { .. } => "parquet",
        }
    }

    /// Whether requests can be read from it.
    pub fn is_source(&self) -> bool {
        matches!(
            self,
            Endpoint::Kafka { .. } | Endpoint::Http { .. } | Endpoint::Dir { .. }
        )
    }

    /// Whether results can be written to it.
    pub fn is_sink(&self) -> bool {
        !matches!(self, Endpoint::Dir { .. })
    }
}

impl fmt::Display for Endpoint {
    /// The URL without credentials or query (safe for logs).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Kafka { brokers, topic } => write!(f, "kafka://{brokers}/{topic}"),
            Endpoint::Http { url } => match reqwest::Url::parse(url) {
                Ok(u) => write!(
                    f,
                    "{}://{}{}{}",
                    u.scheme(),
                    u.host_str().unwrap_or(""),
                    u.port().map(|p| format!(":{p}")).unwrap_or_default(),
                    u.path()
                ),
                Err(_) => f.write_str("http://?"),
            },
            Endpoint::Dir { path } => write!(f, "dir://{}", path.display()),
            Endpoint::Jsonl { path } => write!(f, "jsonl://{}", path.display()),
            Endpoint::Parquet { path } => write!(f, "parquet://{}", path.display()),
        }
    }
}

fn parse_kafka(rest: &str) -> Result<Endpoint, String> {
    let Some((brokers, topic)) = rest.split_once('/') else {
        return Err(format!(
            "kafka://{rest}: missing topic; expected kafka://HOST:PORT/TOPIC"
        ));
    };
    if brokers.is_empty() {
        return Err("kafka URL: no broker; expected kafka://HOST:PORT/TOPIC".into());
    }
    for b in brokers.split(',') {
        let Some((host, port)) = b.rsplit_once(':') else {
            return Err(format!("kafka URL: broker {b:?} has no port (HOST:PORT)"));
        };
        if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(format!(
                "kafka URL: broker {b:?} is not HOST:PORT with a port in [1, 65535]"
            ));
        }
    }
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if topic.is_empty()
        || topic.len() > MAX_TOPIC_LEN
        || !topic.chars().all(valid)
        || topic == "."
        || topic == ".."
    {
        return Err(format!(
            "kafka URL: topic {topic:?} must be 1 to {MAX_TOPIC_LEN} characters of [A-Za-z0-9._-]"
        ));
    }
    Ok(Endpoint::Kafka {
        brokers: brokers.to_owned(),
        topic: topic.to_owned(),
    })
}

fn parse_path(scheme: &str, rest: &str) -> Result<PathBuf, String> {
    if !rest.starts_with('/') || rest.len() < 2 {
        return Err(format!(
            "{scheme}://{rest}: the path must be absolute, as in {scheme}:///srv/mfn (three slashes)"
        ));
    }
    Ok(PathBuf::from(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(
            Endpoint::parse("kafka://127.0.0.1:9092,b:19092/mfn.requests").unwrap(),
            Endpoint::Kafka {
                brokers: "127.0.0.1:9092,b:19092".into(),
                topic: "mfn.requests".into()
            }
        );
        assert_eq!(
            Endpoint::parse("dir:///srv/in").unwrap(),
            Endpoint::Dir {
                path: "/srv/in".into()
            }
        );
        assert_eq!(
            Endpoint::parse("parquet:///tmp/out").unwrap().scheme(),
            "parquet"
        );
        let h = Endpoint::parse("https://user:pw@example.org:8443/hook?token=x").unwrap();
        assert_eq!(h.to_string(), "https://example.org:8443/hook", "no secrets");
        assert!(h.is_source() && h.is_sink());
        assert!(!Endpoint::parse("dir:///a").unwrap().is_sink());
        assert!(!Endpoint::parse("jsonl:///a").unwrap().is_source());
    }

    #[test]
    fn refuses_with_the_reason() {
        for (url, needle) in [
            ("kafka://h:1", "missing topic"),
            ("kafka:///t", "no broker"),
            ("kafka://h/t", "no port"),
            ("kafka://h:0/t", "[1, 65535]"),
            ("kafka://h:1/bad topic", "[A-Za-z0-9._-]"),
            ("dir://relative", "absolute"),
            ("ftp://x/y", "unknown scheme"),
            ("nothing", "not a URL"),
            ("http://", "http://"),
        ] {
            let e = Endpoint::parse(url).unwrap_err();
            assert!(e.contains(needle), "{url}: {e}");
        }
    }
}
