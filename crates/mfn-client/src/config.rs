//! What a [`Client`](crate::Client) needs to know before it dials: where, how to
//! authenticate, how long to wait, how to retry, and TLS.

use std::fmt;
use std::time::Duration;

use crate::balance::Target;
use crate::error::ClientError;

/// How requests prove who sends them (SERVICE.md, Security).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AuthMode {
    /// Send no credentials.
    #[default]
    None,
    /// Send the API key in `x-api-key`.
    Key,
    /// Send `x-api-key`, `x-timestamp` and an HMAC-SHA256 `x-signature`.
    Signed,
}

/// Compression of request messages. Responses in gzip or zstd are always accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
}

/// When and how often a failed call is tried again.
///
/// Only `UNAVAILABLE`, `DEADLINE_EXCEEDED` and `RESOURCE_EXHAUSTED` are retried.
/// The wait before retry `n` (1-based) is drawn uniformly from
/// `[0, min(max_backoff, initial_backoff · multiplierⁿ⁻¹)]` ("full jitter"), and is
/// never shorter than a retry hint the server sent (`google.rpc.RetryInfo` or
/// `retry-after`). No retry starts once `budget` would be exceeded.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 disables retries. Default 4.
    pub max_attempts: u32,
    /// Upper bound of the first wait. Default 100 ms.
    pub initial_backoff: Duration,
    /// Growth of the upper bound per retry, at least 1. Default 2.
    pub multiplier: f64,
    /// Cap of the upper bound. Default 5 s.
    pub max_backoff: Duration,
    /// Wall time for all attempts and waits of one call together. Default 60 s.
    pub budget: Duration,
    /// Retry throttling shared by all calls of a balanced client (a list or a
    /// `dns:///` endpoint) and its clones; `None` retries whenever the policy allows.
    /// A one-URL client is not throttled. Default `Some(RetryThrottle::default())`.
    pub throttle: Option<RetryThrottle>,
}

/// gRPC's `retryThrottling`: a client-wide bucket of `max_tokens` tokens; every failed
/// attempt takes one, every success gives back `token_ratio`; retries are sent only
/// while more than half the bucket is left. A fleet that fails everything stops
/// retrying instead of multiplying its load, while isolated failures (a replica lost,
/// a drain) are retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryThrottle {
    /// Size of the bucket, in (0, 1000]. Default 10.
    pub max_tokens: f64,
    /// Tokens returned per success, in (0, 1]. Default 0.1.
    pub token_ratio: f64,
}

/// TLS settings for an `https://` endpoint.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM of the CA that signed the server's certificate. Required unless the
    /// platform roots are enabled in tonic (they are not by default).
    pub ca_pem: Option<Vec<u8>>,
    /// PEM certificate chain presented to the server (mTLS); needs `client_key_pem`.
    pub client_cert_pem: Option<Vec<u8>>,
    /// PEM private key of `client_cert_pem`.
    pub client_key_pem: Option<Vec<u8>>,
    /// Name checked against the server certificate instead of the URL's host.
    pub domain_name: Option<String>,
}

/// Everything [`Client::connect`](crate::Client::connect) needs. Build it with
/// [`ClientConfig::builder`] or fill the fields.
#[derive(Clone, PartialEq)]
pub struct ClientConfig {
    /// Where the server is: `http://host:port` or `https://host:port` (one connection);
    /// a comma-separated list of such URLs (a static set of replicas); or
    /// `dns:///host:port` (every A/AAAA record of `host` is a replica; TLS when `tls`
    /// is set, checked against `host`). Sets and names are balanced per call; see the
    /// crate docs. Until one of their replicas has answered once (its health watch, or
    /// a call), calls wait for one within their deadline instead of failing, as gRPC
    /// calls wait while their channel connects.
    pub endpoint: String,
    /// The API key; sent only when `auth` is not [`AuthMode::None`].
    pub api_key: Option<String>,
    /// How requests are authenticated.
    pub auth: AuthMode,
    /// Deadline of one attempt (sent as `grpc-timeout`). Default 30 s.
    pub deadline: Duration,
    /// Timeout of establishing a connection. Default 10 s.
    pub connect_timeout: Duration,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// TLS settings; `None` uses the defaults for an `https://` endpoint.
    pub tls: Option<TlsOptions>,
    /// Compression of requests; `None` sends them uncompressed.
    pub compression: Option<Compression>,
    /// How often a `dns:///` name is resolved again (also at once, at most once a
    /// second, after a replica fails). Default 30 s, at least 100 ms.
    pub resolve_interval: Duration,
    /// Whether each replica of a list or a name is watched with
    /// `grpc.health.v1.Health/Watch` and taken out of rotation while not `SERVING`.
    /// Without them nothing says a replica is up before a call succeeds, so calls made
    /// before then wait only for the first resolution and may fail (the retries of such
    /// failures take no retry-throttle token). Default true.
    pub health_checks: bool,
}

/// Builder of a [`ClientConfig`].
#[derive(Debug, Clone)]
pub struct ClientConfigBuilder {
    config: ClientConfig,
}

impl AuthMode {
    /// The mode's name as `MFN_AUTH_MODE` spells it: `off`, `key` or `signed`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::None => "off",
            AuthMode::Key => "key",
            AuthMode::Signed => "signed",
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(100),
            multiplier: 2.0,
            max_backoff: Duration::from_secs(5),
            budget: Duration::from_secs(60),
            throttle: Some(RetryThrottle::default()),
        }
    }
}

impl Default for RetryThrottle {
    fn default() -> Self {
        RetryThrottle {
            max_tokens: 10.0,
            token_ratio: 0.1,
        }
    }
}

impl RetryPolicy {
    /// No retries: one attempt per call.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The upper bound of the wait before retry `retry` (1-based), before jitter.
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        let exp = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
        let secs = self.initial_backoff.as_secs_f64() * self.multiplier.powi(exp);
        if !secs.is_finite() || secs >= self.max_backoff.as_secs_f64() {
            self.max_backoff
        } else {
            Duration::from_secs_f64(secs)
        }
    }
}

impl fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The private key never reaches a log line.
        f.debug_struct("TlsOptions")
            .field("ca_pem", &self.ca_pem.as_ref().map(|p| p.len()))
            .field(
                "client_cert_pem",
                &self.client_cert_pem.as_ref().map(|p| p.len()),
            )
            .field(
                "client_key_pem",
                &self.client_key_pem.as_ref().map(|_| "<redacted>"),
            )
            .field("domain_name", &self.domain_name)
            .finish()
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The API key never reaches a log line.
        f.debug_struct("ClientConfig")
            .field("endpoint", &self.endpoint)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("auth", &self.auth)
            .field("deadline", &self.deadline)
            .field("connect_timeout", &self.connect_timeout)
            .field("retry", &self.retry)
            .field("tls", &self.tls)
            .field("compression", &self.compression)
            .field("resolve_interval", &self.resolve_interval)
            .field("health_checks", &self.health_checks)
            .finish()
    }
}

impl ClientConfig {
    /// A configuration for `endpoint` with every default: no auth, 30 s deadline,
    /// 4 attempts, no request compression.
    pub fn new(endpoint: impl Into<String>) -> Self {
        ClientConfig {
            endpoint: endpoint.into(),
            api_key: None,
            auth: AuthMode::None,
            deadline: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            tls: None,
            compression: None,
            resolve_interval: Duration::from_secs(30),
            health_checks: true,
        }
    }

    /// A builder starting from [`ClientConfig::new`].
    pub fn builder(endpoint: impl Into<String>) -> ClientConfigBuilder {
        ClientConfigBuilder {
            config: ClientConfig::new(endpoint),
        }
    }

    /// Whether the endpoint uses TLS: `https://` URLs, or a `dns:///` name with `tls`
    /// set.
    pub fn is_https(&self) -> bool {
        let e = self.endpoint.trim_start();
        e.starts_with("https://") || (e.starts_with("dns:") && self.tls.is_some())
    }

    /// Check the configuration without dialing.
    pub fn validate(&self) -> Result<(), ClientError> {
        let invalid = |m: String| Err(ClientError::InvalidConfig(m));
        Target::parse(&self.endpoint)?;
        match (&self.auth, &self.api_key) {
            (AuthMode::Key | AuthMode::Signed, None) => {
                return invalid(format!("auth mode {} needs an api key", self.auth.as_str()));
            }
            (_, Some(k)) if k.is_empty() || !k.bytes().all(|b| b.is_ascii_graphic()) => {
                return invalid("api key must be non-empty printable ascii".into());
            }
            _ => {}
        }
        if self.deadline.is_zero() {
            return invalid("deadline must be positive".into());
        }
        if self.connect_timeout.is_zero() {
            return invalid("connect timeout must be positive".into());
        }
        let r = &self.retry;
        if r.max_attempts == 0 {
            return invalid("retry max_attempts must be at least 1".into());
        }
        if !(r.multiplier.is_finite() && r.multiplier >= 1.0) {
            return invalid(format!(
                "retry multiplier must be finite and at least 1, got {}",
                r.multiplier
            ));
        }
        if r.budget.is_zero() {
            return invalid("retry budget must be positive".into());
        }
        if let Some(t) = &r.throttle
            && !(t.max_tokens > 0.0
                && t.max_tokens <= 1000.0
                && t.token_ratio > 0.0
                && t.token_ratio <= 1.0)
        {
            return invalid(format!(
                "retry throttle: max_tokens must be in (0, 1000] and token_ratio in (0, 1], got {} and {}",
                t.max_tokens, t.token_ratio
            ));
        }
        if self.resolve_interval < Duration::from_millis(100) {
            return invalid(format!(
                "resolve interval must be at least 100 ms, got {} ms",
                self.resolve_interval.as_millis()
            ));
        }
        if let Some(t) = &self.tls {
            if !self.is_https() {
                return invalid("tls options need an https:// or dns:/// endpoint".into());
            }
            if t.client_cert_pem.is_some() != t.client_key_pem.is_some() {
                return invalid("a client certificate needs its key and vice versa".into());
            }
        }
        Ok(())
    }
}

impl ClientConfigBuilder {
    /// Send `key` in `x-api-key`; switches the auth mode to [`AuthMode::Key`]
    /// unless it is already [`AuthMode::Signed`].
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.config.api_key = Some(key.into());
        if self.config.auth == AuthMode::None {
            self.config.auth = AuthMode::Key;
        }
        self
    }

    /// Sign every request with `key` ([`AuthMode::Signed`]).
    pub fn signed(mut self, key: impl Into<String>) -> Self {
        self.config.api_key = Some(key.into());
        self.config.auth = AuthMode::Signed;
        self
    }

    /// Set the auth mode explicitly.
    pub fn auth_mode(mut self, mode: AuthMode) -> Self {
        self.config.auth = mode;
        self
    }

    /// Deadline of one attempt.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.config.deadline = deadline;
        self
    }

    /// Timeout of establishing a connection.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// Replace the retry policy.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.config.retry = policy;
        self
    }

    /// Attempts in all per call (1 disables retries).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.config.retry.max_attempts = attempts;
        self
    }

    /// Wall time for all attempts of one call together.
    pub fn retry_budget(mut self, budget: Duration) -> Self {
        self.config.retry.budget = budget;
        self
    }

    /// PEM of the CA that signed the server certificate.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls().ca_pem = Some(pem.into());
        self
    }

    /// Client certificate chain and private key, both PEM, for mTLS.
    pub fn client_identity(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        let tls = self.tls();
        tls.client_cert_pem = Some(cert_pem.into());
        tls.client_key_pem = Some(key_pem.into());
        self
    }

    /// Name checked against the server certificate instead of the URL's host.
    pub fn domain_name(mut self, name: impl Into<String>) -> Self {
        self.tls().domain_name = Some(name.into());
        self
    }

    /// Compress requests with `compression`.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.config.compression = Some(compression);
        self
    }

    /// How often a `dns:///` name is resolved again.
    pub fn resolve_interval(mut self, interval: Duration) -> Self {
        self.config.resolve_interval = interval;
        self
    }

    /// Whether replicas of a list or a name are health-watched (default true).
    pub fn health_checks(mut self, on: bool) -> Self {
        self.config.health_checks = on;
        self
    }

    /// The configuration, validated.
    pub fn build(self) -> Result<ClientConfig, ClientError> {
        self.config.validate()?;
        Ok(self.config)
    }

    fn tls(&mut self) -> &mut TlsOptions {
        self.config.tls.get_or_insert_with(TlsOptions::default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff_ceiling(1), Duration::from_millis(100));
        assert_eq!(p.backoff_ceiling(2), Duration::from_millis(200));
        assert_eq!(p.backoff_ceiling(4), Duration::from_millis(800));
        assert_eq!(p.backoff_ceiling(7), Duration::from_secs(5));
        assert_eq!(p.backoff_ceiling(u32::MAX), Duration::from_secs(5));
    }

    #[test]
    fn invalid_configs_are_refused() {
        let bad = [
            ClientConfig::new("localhost:50051"),
            ClientConfig::builder("http://h:1")
                .auth_mode(AuthMode::Signed)
                .config,
            ClientConfig::builder("http://h:1")
                .api_key("bad key")
                .config,
            ClientConfig::builder("http://h:1").ca_pem("x").config,
            ClientConfig::builder("http://h:1").max_attempts(0).config,
            ClientConfig::builder("http://h:1")
                .deadline(Duration::ZERO)
                .config,
        ];
        for c in bad {
            let e = c.validate().unwrap_err();
            assert!(matches!(e, ClientError::InvalidConfig(_)), "{e}");
            let text = e.to_string();
            assert_eq!(text, text.to_lowercase(), "lowercase: {text}");
        }
        let mut c = ClientConfig::builder("https://h:1").ca_pem("x").config;
        c.tls.as_mut().unwrap().client_key_pem = Some(b"k".to_vec());
        assert!(c.validate().is_err());
    }

    #[test]
    fn builder_sets_auth_and_debug_hides_secrets() {
        let c = ClientConfig::builder("https://h:1")
            .api_key("secret-key")
            .client_identity("cert", "private")
            .build()
            .unwrap();
        assert_eq!(c.auth, AuthMode::Key);
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("secret-key") && !shown.contains("private"),
            "{shown}"
        );
        let s = ClientConfig::builder("http://h:1")
            .signed("k")
            .build()
            .unwrap();
        assert_eq!(s.auth, AuthMode::Signed);
    }
}
