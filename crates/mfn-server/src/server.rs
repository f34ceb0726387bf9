//! [`run`]: the whole server on listeners the caller bound, until `shutdown` resolves.
//!
//! Shutdown sequence (SERVICE.md "Graceful shutdown"):
//! 1. health turns `NOT_SERVING` for every service, `/ready` turns false, and the
//!    service layer refuses new work with `UNAVAILABLE`;
//! 2. the listeners stop accepting and HTTP/2 `GOAWAY` is sent on open connections;
//!    connections without a request in flight (idle, half-open, mid-handshake) are closed
//!    at once ([`crate::conn`]);
//! 3. in-flight unary calls finish; streams end after their current frame with
//!    `UNAVAILABLE`;
//! 4. `run` returns once every connection is closed, or after
//!    `MFN_SHUTDOWN_TIMEOUT_S`, whichever comes first (the latter is logged with the
//!    number of calls cut off).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mfn_proto::v1::mfn_features_service_server::MfnFeaturesServiceServer;
use mfn_proto::v1::mfn_simulation_service_server::MfnSimulationServiceServer;
use mfn_proto::v1::mfn_validation_service_server::MfnValidationServiceServer;
use mfn_proto::v1::mycelium_service_server::MyceliumServiceServer;
use mfn_proto::{FILE_DESCRIPTOR_SET, SERVICE_NAMES};
use mfn_service::{MfnService, ServiceError};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::codec::CompressionEncoding;
use tonic::transport::Server;
use tonic_health::ServingStatus;
use tower_http::cors::CorsLayer;
use tracing::{info, warn};

use crate::config::{AuthMode, ConfigError, Environment, ServerConfig};
use crate::conn::{self, Gate, Port};
use crate::grpc::GrpcApi;
use crate::http::{self, HttpContext};
use crate::security::{AuditLayer, AuthLayer, KeySet, RateLimitLayer};
use crate::tls::{self, TlsError, TlsReloader};

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration is invalid (exit code 64).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The TLS files could not be loaded (exit code 64).
    #[error("invalid configuration: tls: {0}")]
    Tls(#[from] TlsError),
    /// The service layer could not be built.
    #[error("service: {0}")]
    Service(#[from] ServiceError),
    /// A socket operation failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The gRPC transport failed.
    #[error("grpc transport: {0}")]
    Transport(#[from] tonic::transport::Error),
}

impl ServerError {
    /// Whether this is a configuration problem (the CLI exits with code 64).
    pub fn is_config(&self) -> bool {
        matches!(self, ServerError::Config(_) | ServerError::Tls(_))
    }
}

/// The sockets the server serves on; bound by the caller so tests can use port 0.
#[derive(Debug)]
pub struct Listeners {
    /// gRPC (and gRPC-Web).
    pub grpc: TcpListener,
    /// HTTP: probes and the landing page; `None` serves gRPC only.
    pub http: Option<TcpListener>,
}

impl Listeners {
    /// Bind the configured addresses.
    pub async fn bind(config: &ServerConfig) -> std::io::Result<Self> {
        let grpc = TcpListener::bind(config.grpc_addr()).await?;
        let http = TcpListener::bind(config.http_addr()).await?;
        Ok(Listeners {
            grpc,
            http: Some(http),
        })
    }

    /// The bound gRPC address.
    pub fn grpc_addr(&self) -> std::io::Result<SocketAddr> {
        self.grpc.local_addr()
    }

    /// The bound HTTP address.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().and_then(|l| l.local_addr().ok())
    }
}

/// What [`preflight`] loaded: the TLS certificates and the API keys.
#[derive(Debug)]
pub struct Checked {
    /// The certificate reloader, or `None` for plaintext.
    pub tls: Option<Arc<TlsReloader>>,
    /// The accepted API keys (hashes only).
    pub keys: Arc<KeySet>,
}

/// Everything `run` checks before a port is bound: the key set (a readable, well-formed
/// key file; at least one key when auth is on and always outside dev) and loadable TLS
/// files. The CLI calls it first and exits with code 64 on error.
pub fn preflight(config: &ServerConfig) -> Result<Checked, ServerError> {
    let keys = KeySet::from_config(config)?;
    let mode = config.auth.mode;
    if keys.is_empty() && (mode != AuthMode::Off || config.env != Environment::Dev) {
        let (key, what) = if mode == AuthMode::Off {
            ("MFN_ENV", format!("MFN_ENV={}", config.env))
        } else {
            ("MFN_AUTH_MODE", format!("{mode} authentication"))
        };
        return Err(ConfigError {
            key: key.into(),
            message: format!(
                "{what} needs at least one api key: set MFN_API_KEYS_FILE, MFN_API_KEYS or MFN_API_KEY (create one with `mfn keys generate`)"
            ),
        }
        .into());
    }
    let tls = match config.tls.settings() {
        Some(t) => Some(Arc::new(TlsReloader::load(&t)?)),
        None => None,
    };
    Ok(Checked {
        tls,
        keys: Arc::new(keys),
    })
}

/// The layers every door shares, one instance per server: a key's limits and its replay
/// cache are the same whichever protocol it calls through.
#[derive(Clone)]
pub struct Guards {
    /// Who is calling: API key, and in signed mode signature, window and replay.
    pub auth: AuthLayer,
    /// Per key (or per client IP when anonymous) rate and in-flight limits.
    pub rate_limits: RateLimitLayer,
}

impl Guards {
    /// The guards of `config` over `keys` (from [`preflight`]).
    pub fn new(config: &ServerConfig, keys: &Arc<KeySet>) -> Guards {
        Guards {
            auth: AuthLayer::new(config.auth.mode, keys.clone(), config.auth.window).with_throttle(
                crate::security::throttle::ThrottleConfig {
                    limit: config.auth.failure_limit,
                    window: config.auth.failure_window,
                    block: config.auth.failure_block,
                },
            ),
            // Dev only: local agents and tests share a bounded workstation allowance.
            rate_limits: RateLimitLayer::with_loopback(
                keys,
                config.rate_limits,
                (config.env == crate::config::Environment::Dev)
                    .then_some(crate::security::rate_limit::DEV_LOOPBACK),
            ),
        }
    }
}

/// What a key reload changed: counts only, never keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyChange {
    /// Keys in force before.
    pub before: usize,
    /// Keys in force now.
    pub after: usize,
    /// Keys that are new.
    pub added: usize,
    /// Keys that are gone (revoked).
    pub removed: usize,
    /// Keys whose name, scopes or limits changed.
    pub changed: usize,
}

impl Guards {
    /// Re-read the keys of `config` (the key file and the environment's keys) and put
    /// them in force for every door; on error, or an empty set where keys are needed,
    /// the keys in force stay.
    pub fn reload_keys(&self, config: &ServerConfig) -> Result<KeyChange, ServerError> {
        let new = KeySet::from_config(config)?;
        let old = self.auth.keys();
        if new.is_empty() && !old.is_empty() {
            return Err(ConfigError {
                key: "MFN_API_KEYS_FILE".into(),
                message: format!(
                    "the reloaded key set is empty; keeping the {} keys in force",
                    old.len()
                ),
            }
            .into());
        }
        let find =
            |set: &KeySet, hash: &[u8; 32]| set.keys().iter().find(|k| k.hash == *hash).cloned();
        let change = KeyChange {
            before: old.len(),
            after: new.len(),
            added: new
                .keys()
                .iter()
                .filter(|k| find(&old, &k.hash).is_none())
                .count(),
            removed: old
                .keys()
                .iter()
                .filter(|k| find(&new, &k.hash).is_none())
                .count(),
            changed: new
                .keys()
                .iter()
                .filter(|k| find(&old, &k.hash).is_some_and(|o| o != **k))
                .count(),
        };
        self.auth.replace_keys(&new);
        self.rate_limits.replace_keys(&new);
        Ok(change)
    }
}

/// Reload the keys when the key file changes (its modification time or size, checked
/// every `MFN_API_KEYS_RELOAD_INTERVAL_S`) or on SIGHUP, until `stopped` resolves.
/// Logs what changed as counts; a failed reload keeps the keys in force.
pub async fn watch_keys(guards: Guards, config: ServerConfig, stopped: impl Future<Output = ()>) {
    let path = config.auth.api_keys_file.clone();
    let stamp = || {
        let meta = std::fs::metadata(path.as_ref()?).ok()?;
        Some((meta.modified().ok(), meta.len()))
    };
    let mut last = stamp();
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut tick = tokio::time::interval(config.auth.keys_reload_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stopped);
    loop {
        #[cfg(unix)]
        let hangup = async {
            match hup.as_mut() {
                Some(h) => h.recv().await,
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let hangup = std::future::pending::<Option<()>>();
        let trigger = tokio::select! {
            () = &mut stopped => return,
            _ = tick.tick() => {
                let now = stamp();
                if now == last || path.is_none() {
                    continue;
                }
                last = now;
                "file changed"
            }
            Some(()) = hangup => {
                last = stamp();
                "SIGHUP"
            }
        };
        match guards.reload_keys(&config) {
            Ok(c) => info!(
                trigger,
                keys = c.after,
                before = c.before,
                added = c.added,
                removed = c.removed,
                changed = c.changed,
                "api keys reloaded"
            ),
            Err(e) => warn!(trigger, error = %e, "api keys not reloaded; the keys in force stay"),
        }
    }
}

/// What the HTTP port serves, from `config`; `grpc_addr` is shown on the landing page.
pub fn http_context(
    config: &ServerConfig,
    svc: MfnService,
    guards: &Guards,
    grpc_addr: SocketAddr,
) -> HttpContext {
    HttpContext {
        svc,
        grpc_addr,
        max_body_bytes: config.network.max_message_bytes,
        cors_allowed_origins: config.network.cors_allowed_origins.clone(),
        auth: guards.auth.clone(),
        rate_limits: guards.rate_limits.clone(),
        metrics_auth: config.auth.metrics_auth,
        ws: config.ws.clone(),
        connections: config.connections,
        mcp: crate::mcp::http::McpHttpConfig {
            allowed_origins: config.mcp.allowed_origins.clone(),
            allowed_hosts: config.mcp.allowed_hosts.clone(),
            max_body_bytes: config.network.max_message_bytes,
            shutdown: Default::default(),
            sessions: crate::mcp::sessions::SessionLimits {
                max_total: config.mcp.max_sessions,
                max_per_key: config.mcp.max_sessions_per_key,
                idle: config.mcp.session_idle,
            },
        },
    }
}

/// Serve gRPC (and the HTTP probes) on `listeners` until `shutdown` resolves, then
/// drain as the module docs describe.
pub async fn run(
    listeners: Listeners,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let svc = MfnService::new(config.service.clone())?;
    serve(listeners, config, svc, shutdown).await
}

/// [`run`] with a service layer built by the caller (tests keep a clone to read its
/// counters). `svc` should be built from `config.service`.
pub async fn serve(
    listeners: Listeners,
    config: ServerConfig,
    svc: MfnService,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let Checked { tls, keys } = preflight(&config)?;
    // Before the first request: metrics recorded without a recorder are lost.
    crate::telemetry::prometheus();
    if let Some(reloader) = &tls {
        reloader.record_expiry();
    }
    if config.auth.mode == AuthMode::Off && !keys.is_empty() {
        warn!(
            keys = keys.len(),
            "api keys are configured but MFN_AUTH_MODE=off: they are not checked"
        );
    }
    let guards = Guards::new(&config, &keys);
    let ports = if listeners.http.is_some() { 2 } else { 1 };
    let fd_limit = conn::raise_fd_limit(&config.connections, ports);

    let (health, _) = tonic_health::server::health_reporter();
    let health_service = crate::grpc::health::DrainAwareHealth::server(health.clone(), svc.clone());
    for name in std::iter::once("").chain(SERVICE_NAMES) {
        health
            .set_service_status(name, ServingStatus::Serving)
            .await;
    }
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| ServerError::Service(ServiceError::internal(e)))?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(|e| ServerError::Service(ServiceError::internal(e)))?;

    let api = GrpcApi::new(svc.clone());
    let max_msg = config.network.max_message_bytes;
    macro_rules! tuned {
        ($server:expr) => {
            $server
                .max_decoding_message_size(max_msg)
                .max_encoding_message_size(max_msg)
                .accept_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Zstd)
                .send_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Zstd)
        };
    }

    let grpc_addr = listeners.grpc.local_addr()?;
    let router = Server::builder()
        .max_concurrent_streams(config.network.max_concurrent_streams)
        .http2_keepalive_interval(Some(config.network.keepalive_time))
        .http2_keepalive_timeout(Some(config.network.keepalive_timeout))
        // gRPC-Web arrives over HTTP/1.1 from browsers.
        .accept_http1(true)
        // Outermost: a connection with a request in flight is not idle.
        .layer(conn::TrackLayer)
        // Browsers need CORS before they may read a gRPC-Web response.
        .layer(cors(&config.network.cors_allowed_origins))
        // Translates gRPC-Web to gRPC for the services below.
        .layer(tonic_web::GrpcWebLayer::new())
        // Compress responses only for clients that compress their requests.
        .layer(tower::util::MapRequestLayer::new(symmetric_compression))
        // One id per request, seen by every layer below and echoed to the client.
        .layer(crate::telemetry::RequestIdLayer)
        // Counts and times every RPC by its final gRPC status, streams included.
        .layer(crate::telemetry::GrpcMetricsLayer)
        // One audit line per request; outside auth so that refusals are audited too.
        .layer(AuditLayer::new(tonic::body::Body::new))
        // Who is calling: API key, and in signed mode signature, window and replay.
        .layer(guards.auth.clone())
        // Per key (or per client IP when anonymous) rate and in-flight limits.
        .layer(guards.rate_limits.clone())
        // An undecodable request message is INVALID_ARGUMENT, before metrics count it.
        .layer(crate::grpc::DecodeErrorLayer)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(tuned!(MfnSimulationServiceServer::new(api.clone())))
        .add_service(tuned!(MfnFeaturesServiceServer::new(api.clone())))
        .add_service(tuned!(MfnValidationServiceServer::new(api.clone())))
        .add_service(tuned!(MyceliumServiceServer::new(api)));

    // One signal fans out to the drain sequence, the listeners and the TLS watcher.
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };

    // One reloader and one watcher for both ports: a new certificate reaches both.
    if let Some(reloader) = &tls {
        tokio::spawn(tls::watch(
            reloader.clone(),
            config.tls.reload_interval,
            stopped(),
        ));
    }
    let grpc_tls = tls.is_some();
    let handshakes = tls::Handshakes::new(&config.connections);
    let grpc_gate = Gate::new(Port::Grpc, &config.connections);
    let grpc_task = match &tls {
        Some(reloader) => {
            let incoming = tls::incoming(
                listeners.grpc,
                reloader.clone(),
                grpc_gate.clone(),
                handshakes,
                stopped(),
            );
            tokio::spawn(router.serve_with_incoming_shutdown(incoming, stopped()))
        }
        None => {
            let incoming = grpc_gate.incoming(listeners.grpc);
            tokio::spawn(router.serve_with_incoming_shutdown(incoming, stopped()))
        }
    };
    tokio::spawn(watch_keys(guards.clone(), config.clone(), stopped()));
    let http_addr = listeners.http.as_ref().and_then(|l| l.local_addr().ok());
    let http_ctx = http_context(&config, svc.clone(), &guards, grpc_addr);
    let http_tls = tls.filter(|_| config.tls.on_http());
    let http_tls_on = http_addr.is_some() && http_tls.is_some();
    let http_task = listeners.http.map(|listener| {
        let gate = Gate::new(Port::Http, &config.connections);
        match http_tls {
            Some(reloader) => {
                let incoming =
                    tls::incoming(listener, reloader, gate.clone(), handshakes, stopped());
                tokio::spawn(http::serve(incoming, gate, http_ctx, stopped()))
            }
            None => {
                let incoming = gate.incoming(listener);
                tokio::spawn(http::serve(incoming, gate, http_ctx, stopped()))
            }
        }
    });
    info!(
        grpc = %grpc_addr,
        http = ?http_addr,
        grpc_tls,
        http_tls = http_tls_on,
        mtls = grpc_tls && config.tls.client_ca_path.is_some(),
        workers = svc.gate().workers(),
        max_connections = config.connections.max_connections,
        fd_limit,
        graphs = %config.graph_store(),
        "mfn server ready"
    );

    shutdown.await;
    info!("shutdown requested: draining");
    // Drain first: a health watcher that sees NOT_SERVING must also see the drain.
    svc.begin_drain();
    for name in std::iter::once("").chain(SERVICE_NAMES) {
        health
            .set_service_status(name, ServingStatus::NotServing)
            .await;
    }
    let _ = stop_tx.send(true);
    grpc_gate.close_idle();

    let drained = async {
        let grpc = grpc_task.await;
        if let Some(h) = http_task {
            let _ = h.await;
        }
        grpc
    };
    match tokio::time::timeout(config.network.shutdown_timeout, drained).await {
        Ok(Ok(Ok(()))) => {
            info!("drained; all connections closed");
            Ok(())
        }
        Ok(Ok(Err(e))) => Err(e.into()),
        Ok(Err(join)) => Err(ServerError::Service(ServiceError::internal(join))),
        Err(_) => {
            warn!(
                timeout_s = config.network.shutdown_timeout.as_secs(),
                active_streams = svc.stream_stats().active(),
                running_jobs = svc.gate().stats().running(),
                "shutdown timeout reached; closing remaining connections"
            );
            Ok(())
        }
    }
}

/// grpcio and most SDKs advertise `grpc-accept-encoding: gzip` on every call, and tonic
/// then compresses every response, which for small messages costs far more than it saves
/// (a fresh compressor per message: about 60 % of unary throughput in
/// docs/BENCHMARKS.md). A client that compresses its request opted in and gets compressed
/// responses; the others get identity.
fn symmetric_compression<B>(mut req: ::http::Request<B>) -> ::http::Request<B> {
    let compressed = req
        .headers()
        .get("grpc-encoding")
        .is_some_and(|v| v.as_bytes() != b"identity");
    if !compressed {
        req.headers_mut().remove("grpc-accept-encoding");
    }
    req
}

fn cors(origins: &[String]) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(http::allowed_origins(origins))
        .allow_methods([::http::Method::POST, ::http::Method::OPTIONS])
        .allow_headers(tower_http::cors::Any)
        .expose_headers([
            ::http::HeaderName::from_static("grpc-status"),
            ::http::HeaderName::from_static("grpc-message"),
            ::http::HeaderName::from_static("grpc-status-details-bin"),
            ::http::HeaderName::from_static("x-request-id"),
        ])
        .max_age(Duration::from_secs(600))
}
