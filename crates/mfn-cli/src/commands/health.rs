//! `mfn health`: is the server on this machine (or at `--grpc` / `--http`) ready?
//!
//! The probe of the container image (HEALTHCHECK) and of exec probes: the image has no
//! shell and no curl, and seeds 000 and 002 ship `grpc_health_probe` and a
//! `health-check` binary for the same job. Two checks, both by default:
//! - `grpc.health.v1.Health/Check` of the whole server (`""`), which must be `SERVING`;
//! - `GET /ready` on the HTTP port, which must answer 200 (503 while draining or when
//!   the compute queue is full).
//!
//! It prints **one line** — `ok: …` on stdout, or `unhealthy: …` on stderr naming the
//! check that failed and why — and exits 0 or 1. Without flags it finds the ports the
//! way `mfn serve` does (environment, then `MFN_CONFIG`, then the defaults), so an exec
//! probe in the server's own container needs no arguments.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use mfn_client::{Client, ClientConfig, RetryPolicy, ServingStatus};
use mfn_server::ServerConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Flags of `mfn health`.
#[derive(Debug, Clone, Args)]
pub struct HealthArgs {
    /// gRPC address to check (`host:port` or `http://host:port`), or `none` to skip
    /// [default: 127.0.0.1 and the port `mfn serve` would use]
    #[arg(long, value_name = "ADDR")]
    pub grpc: Option<String>,
    /// Readiness URL to check (`http://host:port/ready`), or `none` to skip
    /// [default: /ready on 127.0.0.1 and the HTTP port `mfn serve` would use]
    #[arg(long, value_name = "URL")]
    pub http: Option<String>,
    /// Seconds for both checks together
    #[arg(long, default_value_t = 2.0, value_name = "S")]
    pub timeout: f64,
}

/// Largest probe response read, bytes: the status line is all we need.
const MAX_HTTP_RESPONSE: u64 = 16 * 1024;

/// Run the checks; print one line; exit 0 if everything checked is ready, else 1.
pub fn main(args: HealthArgs) -> ExitCode {
    match check(&args) {
        Ok(line) => {
            println!("ok: {line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let line = format!("{e:#}").replace(['\n', '\r'], " ");
            eprintln!("unhealthy: {line}");
            ExitCode::from(1)
        }
    }
}

/// The checks as a result: the `ok` line, or why not.
pub fn check(args: &HealthArgs) -> Result<String> {
    if !(args.timeout.is_finite() && args.timeout > 0.0 && args.timeout <= 3600.0) {
        bail!("--timeout = {} must be in (0, 3600] seconds", args.timeout);
    }
    let timeout = Duration::from_secs_f64(args.timeout);
    let (grpc, http) = targets(args)?;
    if grpc.is_none() && http.is_none() {
        bail!("nothing to check: both --grpc and --http are none");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let started = Instant::now();
        let mut parts = Vec::new();
        if let Some(url) = grpc {
            let status = tokio::time::timeout(timeout, grpc_status(&url, timeout))
                .await
                .map_err(|_| anyhow!("grpc {url}: no answer within {:?}", timeout))??;
            if status != ServingStatus::Serving {
                bail!("grpc {url}: {}", status.as_str_name());
            }
            parts.push(format!("grpc {url} SERVING"));
        }
        if let Some(url) = http {
            let left = timeout.saturating_sub(started.elapsed());
            let code = tokio::time::timeout(left, http_status(&url))
                .await
                .map_err(|_| anyhow!("http {url}: no answer within {:?}", timeout))??;
            if code != 200 {
                bail!("http {url}: status {code}");
            }
            parts.push(format!("http {url} 200"));
        }
        Ok(parts.join(", "))
    })
}

/// The gRPC and HTTP targets: the flags, or the ports `mfn serve` would bind.
fn targets(args: &HealthArgs) -> Result<(Option<String>, Option<String>)> {
    let skip = |v: &str| v.eq_ignore_ascii_case("none");
    let ports = || -> Result<(u16, u16)> {
        let vars: HashMap<String, String> = std::env::vars().collect();
        let config = ServerConfig::from_env(&vars).context("server configuration")?;
        Ok((config.network.grpc_port, config.network.http_port))
    };
    let grpc = match args.grpc.as_deref() {
        Some(v) if skip(v) => None,
        Some(v) if v.contains("://") => Some(v.to_owned()),
        Some(v) => Some(format!("http://{v}")),
        None => Some(format!("http://127.0.0.1:{}", ports()?.0)),
    };
    let http = match args.http.as_deref() {
        Some(v) if skip(v) => None,
        Some(v) => Some(v.to_owned()),
        None => Some(format!("http://127.0.0.1:{}/ready", ports()?.1)),
    };
    Ok((grpc, http))
}

async fn grpc_status(url: &str, timeout: Duration) -> Result<ServingStatus> {
    let config = ClientConfig::builder(url)
        .deadline(timeout)
        .connect_timeout(timeout)
        .retry(RetryPolicy::none())
        .build()
        .with_context(|| format!("--grpc {url}"))?;
    let client = Client::connect(config)
        .await
        .map_err(|e| anyhow!("grpc {url}: {e}"))?;
    client
        .health("")
        .await
        .map_err(|e| anyhow!("grpc {url}: {e}"))
}

/// `GET` over plain HTTP/1.1; the status code of the response.
async fn http_status(url: &str) -> Result<u16> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("--http {url}: only http:// URLs are supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/ready"),
    };
    if authority.is_empty() || !authority.contains(':') {
        bail!("--http {url}: needs host:port");
    }
    let mut stream = TcpStream::connect(authority)
        .await
        .map_err(|e| anyhow!("http {url}: {e}"))?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: mfn-health\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream
        .take(MAX_HTTP_RESPONSE)
        .read_to_end(&mut response)
        .await
        .map_err(|e| anyhow!("http {url}: {e}"))?;
    status_code(&response).ok_or_else(|| anyhow!("http {url}: not an HTTP/1.x response"))
}

/// The status code of an HTTP/1.x response's status line.
fn status_code(response: &[u8]) -> Option<u16> {
    let line = response.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split_ascii_whitespace();
    if !words.next()?.starts_with("HTTP/1.") {
        return None;
    }
    words.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line_is_parsed() {
        assert_eq!(status_code(b"HTTP/1.1 200 OK\r\n\r\n"), Some(200));
        assert_eq!(
            status_code(b"HTTP/1.1 503 Service Unavailable\r\nx: y\r\n"),
            Some(503)
        );
        assert_eq!(status_code(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(status_code(b""), None);
    }

    #[test]
    fn none_skips_and_a_bare_address_gets_a_scheme() {
        let args = HealthArgs {
            grpc: Some("10.0.0.1:50051".into()),
            http: Some("none".into()),
            timeout: 1.0,
        };
        let (g, h) = targets(&args).unwrap();
        assert_eq!(g.as_deref(), Some("http://10.0.0.1:50051"));
        assert_eq!(h, None);
        let both_off = HealthArgs {
            grpc: Some("NONE".into()),
            http: Some("none".into()),
            timeout: 1.0,
        };
        assert!(
            check(&both_off)
                .unwrap_err()
                .to_string()
                .contains("nothing to check")
        );
    }

    #[test]
    fn bad_timeout_is_refused() {
        let args = HealthArgs {
            grpc: None,
            http: None,
            timeout: 0.0,
        };
        assert!(check(&args).unwrap_err().to_string().contains("--timeout"));
    }
}
