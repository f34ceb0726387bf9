//! The webhook sink: one signed `POST` per record.
//!
//! Headers: `Content-Type: application/json`, `X-Request-ID` and `Idempotency-Key`
//! (the request id, so a receiver can drop a redelivered result), `X-MFN-Kind`
//! (`results` or `dead-letters`), `X-MFN-Timestamp` (Unix seconds) and
//! `X-MFN-Signature: sha256=HEX`, the HMAC-SHA256 with the webhook secret over
//! `{timestamp}.{body}` — the receiver recomputes it, compares in constant time and
//! refuses old timestamps.
//!
//! A 2xx answer acknowledges the record. Network errors, timeouts, 408, 425, 429 and
//! 5xx are retried with backoff and jitter (honouring `Retry-After`) up to
//! `retry.max_attempts`; any other answer, or running out of attempts, appends the
//! record to the dead-letter file (JSON Lines, `fsync`ed), which acknowledges it.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;
use tracing::warn;

use super::{Delivery, Record, Role, SinkError};
use crate::config::{HttpSettings, PipelineConfig};
use crate::retry::Backoff;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-mfn-signature";
/// The timestamp header.
pub const TIMESTAMP_HEADER: &str = "x-mfn-timestamp";

/// Build the HTTP client of the poller and the webhook: rustls on ring, the system's
/// roots or `http.ca_file`.
pub(crate) fn http_client(settings: &HttpSettings) -> Result<reqwest::Client, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    use rustls_platform_verifier::BuilderVerifierExt as _;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls: {e}"))?;
    let tls = match &settings.ca_file {
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("http.ca_file {}: {e}", path.display()))?
            {
                let cert = cert.map_err(|e| format!("http.ca_file {}: {e}", path.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("http.ca_file {}: {e}", path.display()))?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        None => builder
            .with_platform_verifier()
            .map_err(|e| format!("tls roots: {e}"))?
            .with_no_client_auth(),
    };
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout)
        .user_agent(concat!("mfn-pipeline/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("http client: {e}"))
}

/// A failed HTTP exchange as an operator needs it: what kind of failure and its root
/// cause (reqwest's own text is only "error sending request for url (…)").
pub(crate) fn network_reason(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out (http.timeout_ms)"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "connection failed"
    };
    let mut root: &dyn std::error::Error = e;
    while let Some(inner) = root.source() {
        root = inner;
    }
    if std::ptr::addr_eq(root, e as &dyn std::error::Error) {
        format!("{kind}: {e}")
    } else {
        format!("{kind}: {e}: {root}")
    }
}

/// `sha256=HEX` of HMAC-SHA256(secret, "{timestamp}.{body}").
pub fn signature(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

struct Inner {
    client: reqwest::Client,
    url: String,
    secret: Vec<u8>,
    retry: Backoff,
    role: Role,
    dead_letter: Mutex<PathBuf>,
}

/// A webhook endpoint.
#[derive(Clone)]
pub struct WebhookSink(Arc<Inner>);

enum Attempt {
    Delivered,
    Retry(String, Option<Duration>),
    Refused(String, Option<u16>),
}

impl WebhookSink {
    /// Build the client (nothing connects yet).
    pub fn new(url: &str, config: &PipelineConfig, role: Role) -> Result<Self, SinkError> {
        let client = http_client(&config.http).map_err(SinkError::Webhook)?;
        let secret = config
            .webhook
            .secret
            .clone()
            .ok_or_else(|| SinkError::Webhook("no webhook secret".into()))?;
        Ok(WebhookSink(Arc::new(Inner {
            client,
            url: url.to_owned(),
            secret: secret.into_bytes(),
            retry: config.retry,
            role,
            dead_letter: Mutex::new(config.webhook.dead_letter_file.clone()),
        })))
    }

    /// POST the record (retrying); the delivery resolves on 2xx or once the record is
    /// in the dead-letter file.
    pub fn publish(&self, record: Record) -> Delivery {
        let inner = self.0.clone();
        Delivery::new(async move { inner.deliver(record).await })
    }
}

impl Inner {
    async fn deliver(&self, record: Record) -> Result<(), SinkError> {
        let mut attempt = 1;
        loop {
            let (reason, status) = match self.attempt(&record).await {
                Attempt::Delivered => return Ok(()),
                Attempt::Refused(reason, status) => (reason, status),
                Attempt::Retry(reason, retry_after) => {
                    metrics::counter!("mfn_pipeline_failed_total", "stage" => "publish")
                        .increment(1);
                    if attempt < self.retry.max_attempts {
                        let delay = retry_after
                            .map_or_else(|| self.retry.delay(attempt), |d| d.min(self.retry.max));
                        warn!(request_id = %record.key, attempt, %reason, delay_ms = delay.as_millis() as u64, "webhook failed; retrying");
                        tokio::time::sleep(delay).await;
                        attempt += 1;
                        continue;
                    }
                    (reason, None)
                }
            };
            warn!(request_id = %record.key, attempts = attempt, %reason, "webhook gave up; writing the dead-letter file");
            return self.dead_letter(&record, &reason, status, attempt).await;
        }
    }

    async fn attempt(&self, record: &Record) -> Attempt {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let response = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("x-request-id", &record.key)
            .header("idempotency-key", &record.key)
            .header("x-mfn-kind", self.role.as_str())
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(
                SIGNATURE_HEADER,
                signature(&self.secret, timestamp, &record.body),
            )
            .body(record.body.clone())
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            // Unconfirmed, not refused: the receiver may have taken it, hence the
            // idempotency key on the retry.
            Err(e) => return Attempt::Retry(network_reason(&e), None),
        };
        let status = response.status();
        if status.is_success() {
            return Attempt::Delivered;
        }
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let retriable = status.is_server_error()
            || matches!(
                status,
                StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_EARLY | StatusCode::TOO_MANY_REQUESTS
            );
        if retriable {
            Attempt::Retry(format!("HTTP {status}"), retry_after)
        } else {
            Attempt::Refused(format!("HTTP {status}"), Some(status.as_u16()))
        }
    }

    async fn dead_letter(
        &self,
        record: &Record,
        reason: &str,
        status: Option<u16>,
        attempts: u32,
    ) -> Result<(), SinkError> {
        let body: Value = serde_json::from_slice(&record.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&record.body).into()));
        let mut line = serde_json::to_vec(&json!({
            "request_id": record.key,
            "kind": self.role.as_str(),
            "error": reason,
            "http_status": status,
            "attempts": attempts,
            "record": body,
        }))
        .map_err(|e| SinkError::Webhook(e.to_string()))?;
        line.push(b'\n');
        let path = self.dead_letter.lock().expect("path").clone();
        let written = tokio::task::spawn_blocking(move || {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
            let mut f = OpenOptions::new().create(true).append(true).open(&path)?;
            f.write_all(&line)?;
            f.sync_data()
        })
        .await
        .map_err(|e| SinkError::Webhook(e.to_string()))?;
        written.map_err(|e| SinkError::Webhook(format!("dead-letter file: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_over_timestamp_dot_body() {
        // Python: hmac.new(b"Jefe", b"1.what do ya want for nothing?", "sha256").hexdigest()
        let s = signature(b"Jefe", 1, b"what do ya want for nothing?");
        assert_eq!(
            s,
            "sha256=a9049465ce89cfb8e9aac62333abda66f80e3403f51f57f6bae3c3a4485eca38"
        );
        assert_ne!(s, signature(b"Jefe", 2, b"what do ya want for nothing?"));
    }

    #[tokio::test]
    async fn network_failures_name_their_kind_and_cause() {
        let settings = HttpSettings {
            interval: Duration::from_secs(1),
            timeout: Duration::from_millis(300),
            max_body_bytes: 1024,
            ca_file: None,
            authorization: None,
        };
        let client = http_client(&settings).unwrap();
        let reason = async |addr: std::net::SocketAddr| {
            let e = client
                .post(format!("http://{addr}/hook"))
                .send()
                .await
                .unwrap_err();
            network_reason(&e)
        };
        // Accepts, reads, never answers.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = silent.local_addr().unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((conn, _)) = silent.accept().await {
                held.push(conn);
            }
        });
        let timed_out = reason(addr).await;
        assert!(
            timed_out.starts_with("timed out (http.timeout_ms): "),
            "{timed_out}"
        );
        // Nothing listens on a port just released.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let reason = reason(addr).await;
        assert!(reason.starts_with("cannot connect: "), "{reason}");
        assert!(reason.to_lowercase().contains("refused"), "{reason}");
    }
}
