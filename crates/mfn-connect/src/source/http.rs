//! The HTTP poller (`http(s)://…` as a source): `GET` the URL every `http.interval_ms`.
//!
//! The body is a JSON array of requests, one request object, or JSON Lines
//! (`application/x-ndjson`, or anything that is not one JSON document). The poller
//! sends `If-None-Match` with the last `ETag`; a `304 Not Modified` costs nothing, and a
//! body identical to the last one processed (same SHA-256) is skipped as well, for
//! servers without ETags. Network errors, timeouts, 408, 429 and 5xx are retried with
//! backoff and jitter up to `retry.max_attempts`, then the poll waits for the next
//! interval. HTTP has no commit: the requests of a body are handed over once per body.

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{Ack, Envelope, SourceError};
use crate::config::HttpSettings;
use crate::retry::Backoff;
use crate::sink::webhook::network_reason;

/// Polls one URL.
pub struct Poller {
    client: reqwest::Client,
    url: String,
    settings: HttpSettings,
    retry: Backoff,
}

enum Fetched {
    NotModified,
    Body {
        bytes: Vec<u8>,
        etag: Option<String>,
        jsonl: bool,
    },
}

enum FetchError {
    Retry(String),
    Fail(String),
}

impl Poller {
    /// A poller of `url`.
    pub fn new(url: &str, settings: &HttpSettings, retry: Backoff) -> Result<Self, SourceError> {
        let client = crate::sink::webhook::http_client(settings).map_err(SourceError::Http)?;
        Ok(Poller {
            client,
            url: url.to_owned(),
            settings: settings.clone(),
            retry,
        })
    }

    /// Poll until `stop`; a body being handed over is handed over whole.
    pub async fn run(
        self,
        tx: mpsc::Sender<Envelope>,
        stop: CancellationToken,
    ) -> Result<(), SourceError> {
        let mut etag: Option<String> = None;
        let mut last_digest: Option<Vec<u8>> = None;
        info!(url = %crate::Endpoint::Http { url: self.url.clone() }, "polling for requests");
        while !stop.is_cancelled() {
            match self.fetch_with_retries(etag.as_deref(), &stop).await {
                Some(Fetched::NotModified) | None => {}
                Some(Fetched::Body {
                    bytes,
                    etag: new_etag,
                    jsonl,
                }) => {
                    let digest = Sha256::digest(&bytes).to_vec();
                    if last_digest.as_ref() != Some(&digest) {
                        let tag = hex::encode(&digest[..6]);
                        let requests = split_body(&bytes, jsonl);
                        info!(
                            requests = requests.len(),
                            etag = new_etag.as_deref().unwrap_or(""),
                            "poll returned requests"
                        );
                        for (index, payload) in requests {
                            let env = Envelope {
                                payload,
                                fallback_id: format!("{tag}:{index}"),
                                origin: format!("poll {tag} #{index}"),
                                ack: Ack::none(),
                            };
                            if tx.send(env).await.is_err() {
                                return Ok(());
                            }
                        }
                        last_digest = Some(digest);
                    }
                    etag = new_etag;
                }
            }
            tokio::select! {
                () = tokio::time::sleep(self.settings.interval) => {}
                () = stop.cancelled() => {}
            }
        }
        Ok(())
    }

    async fn fetch_with_retries(
        &self,
        etag: Option<&str>,
        stop: &CancellationToken,
    ) -> Option<Fetched> {
        let mut attempt = 1;
        loop {
            match self.fetch(etag).await {
                Ok(f) => return Some(f),
                Err(FetchError::Fail(reason)) => {
                    warn!(%reason, "poll refused; waiting for the next interval");
                    return None;
                }
                Err(FetchError::Retry(reason)) => {
                    metrics::counter!("mfn_pipeline_failed_total", "stage" => "poll").increment(1);
                    if attempt >= self.retry.max_attempts {
                        warn!(%reason, attempts = attempt, "poll failed; waiting for the next interval");
                        return None;
                    }
                    let delay = self.retry.delay(attempt);
                    warn!(%reason, attempt, delay_ms = delay.as_millis() as u64, "poll failed; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = stop.cancelled() => return None,
                    }
                    attempt += 1;
                }
            }
        }
    }

    async fn fetch(&self, etag: Option<&str>) -> Result<Fetched, FetchError> {
        let mut req = self
            .client
            .get(&self.url)
            .header("accept", "application/json, application/x-ndjson");
        if let Some(tag) = etag {
            req = req.header("if-none-match", tag);
        }
        if let Some(auth) = &self.settings.authorization {
            req = req.header("authorization", auth);
        }
        let mut resp = req
            .send()
            .await
            .map_err(|e| FetchError::Retry(network_reason(&e)))?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            let reason = format!("HTTP {status}");
            return Err(
                if status.is_server_error() || matches!(status.as_u16(), 408 | 429) {
                    FetchError::Retry(reason)
                } else {
                    FetchError::Fail(reason)
                },
            );
        }
        let limit = self.settings.max_body_bytes;
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(FetchError::Fail(format!(
                "body exceeds http.max_body_bytes = {limit}"
            )));
        }
        let new_etag = resp
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let jsonl = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.contains("ndjson") || ct.contains("jsonl"));
        let mut bytes = Vec::new();
        loop {
            let chunk = tokio::time::timeout(self.settings.timeout, resp.chunk())
                .await
                .map_err(|_| FetchError::Retry("body timed out".into()))?
                .map_err(|e| FetchError::Retry(network_reason(&e)))?;
            let Some(chunk) = chunk else { break };
            if bytes.len() as u64 + chunk.len() as u64 > limit {
                return Err(FetchError::Fail(format!(
                    "body exceeds http.max_body_bytes = {limit}"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Fetched::Body {
            bytes,
            etag: new_etag,
            jsonl,
        })
    }
}

/// A JSON document (array or object), or else JSON Lines.
fn split_body(bytes: &[u8], jsonl: bool) -> Vec<(usize, Vec<u8>)> {
    if !jsonl && serde_json::from_slice::<serde_json::Value>(bytes).is_ok() {
        return super::dir::split(bytes, false);
    }
    super::dir::split(bytes, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_json_or_lines() {
        assert_eq!(split_body(b"[{\"a\":1},{\"a\":2}]", false).len(), 2);
        assert_eq!(split_body(b"{\"a\":1}\n{\"a\":2}\n", false).len(), 2);
        assert_eq!(split_body(b"{\"a\":1}", true).len(), 1);
    }
}
