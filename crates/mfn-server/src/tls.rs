//! TLS for both listeners (gRPC, and the HTTP port unless `MFN_HTTP_TLS=false`): TLS 1.3
//! only, through rustls with the ring provider, optional mutual TLS, and certificate hot
//! reload. One [`TlsReloader`] serves both ports, so a reload is seen by both.
//!
//! [`TlsReloader::load`] reads the PEM files named by [`TlsSettings`] and builds a
//! `rustls::ServerConfig` that offers ALPN `h2` (gRPC, HTTP/2) and `http/1.1` (gRPC-Web,
//! REST, WebSocket upgrades). When a client CA is configured, every client must present a
//! certificate chained to it.
//!
//! Hot reload: [`watch`] calls [`TlsReloader::reload_if_changed`] every
//! `MFN_TLS_RELOAD_INTERVAL_S`. When the content of any of the files changed, a new
//! configuration is built and swapped in atomically; handshakes from then on use it, and
//! established connections keep the configuration they were accepted with. A file that does
//! not parse (for instance the certificate written before its key) leaves the previous
//! certificates in service; the same broken content is reported once, and the next change
//! is tried again. Reload attempts that found a change are counted in
//! `mfn_tls_reloads_total{result="success"|"failure"}`.
//!
//! `mfn_tls_certificate_expiry_timestamp_seconds` is the notAfter of the leaf certificate
//! in service (Unix seconds), set by [`TlsReloader::record_expiry`] at start and on every
//! successful reload.
//!
//! [`incoming`] turns a `TcpListener` into the stream of established TLS connections that
//! `tonic`'s `serve_with_incoming_shutdown` and [`crate::http::serve`] take. A connection
//! is admitted by the port's
//! [`Gate`] first (its caps), then handshakes in its own task within
//! `MFN_TLS_HANDSHAKE_TIMEOUT_S`, so a slow or hostile client never holds up the accept
//! loop; beyond `MFN_MAX_TLS_HANDSHAKES` in progress, new connections are closed at once.
//!
//! No process-wide crypto provider is installed; every configuration names ring explicitly.

use std::fmt;
use std::future::Future;
use std::hash::{DefaultHasher, Hasher};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use futures::Stream;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tracing::{debug, info, warn};

use crate::config::{ConnectionConfig, TlsSettings};
use crate::conn::{Conn, Gate, Refusal};

/// Protocols offered through ALPN: HTTP/2 (gRPC, and browsers and curl on the HTTP port),
/// HTTP/1.1 (gRPC-Web, REST, WebSocket upgrades).
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Established connections waiting for the server to pick them up.
const ESTABLISHED_BACKLOG: usize = 64;

/// Shortest polling period of [`watch`].
const MIN_WATCH_INTERVAL: Duration = Duration::from_millis(10);

/// The gauge of the served leaf certificate's notAfter.
pub const EXPIRY_GAUGE: &str = "mfn_tls_certificate_expiry_timestamp_seconds";

/// A certificate, key or CA file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A file is not valid PEM.
    #[error("invalid pem in {}: {source}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: pem::Error,
    },
    /// The certificate or CA file holds no certificate.
    #[error("no certificate found in {}", .0.display())]
    NoCertificates(PathBuf),
    /// The key file holds no private key.
    #[error("no private key found in {}", .0.display())]
    NoPrivateKey(PathBuf),
    /// rustls rejected the certificates, for instance a key that does not match the
    /// certificate.
    #[error("tls configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client CA file could not be turned into a client certificate verifier.
    #[error("client certificate verifier: {0}")]
    Verifier(String),
    /// The leaf certificate is not X.509 that we can read the validity of.
    #[error("cannot read the validity of the first certificate in {}: {message}", path.display())]
    Validity {
        /// The certificate file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// The current TLS server configuration, rebuilt when the certificate files change.
pub struct TlsReloader {
    settings: TlsSettings,
    current: ArcSwap<ServerConfig>,
    /// The notAfter of the leaf certificate in `current`, Unix seconds.
    not_after: AtomicI64,
    /// Fingerprint of the file contents last tried, whether or not they loaded.
    seen: Mutex<Fingerprint>,
}

/// Content hashes of the certificate, key and client CA files.
type Fingerprint = [u64; 3];

/// The raw content of the configured files, read once so that the fingerprint and the
/// configuration describe the same bytes.
struct PemFiles {
    cert: Vec<u8>,
    key: Vec<u8>,
    client_ca: Option<Vec<u8>>,
}

impl fmt::Debug for TlsReloader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsReloader")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl TlsReloader {
    /// Reads the PEM files and builds the TLS 1.3 server configuration (ALPN `h2` and
    /// `http/1.1`, ring provider); with a client CA, a verifier that requires a client
    /// certificate chained to it.
    ///
    /// The expiry gauge is not set here: this runs before the metrics recorder exists
    /// (see [`record_expiry`](Self::record_expiry)).
    pub fn load(settings: &TlsSettings) -> Result<Self, TlsError> {
        let files = PemFiles::read(settings)?;
        let (config, not_after) = build(settings, &files)?;
        Ok(Self {
            settings: settings.clone(),
            current: ArcSwap::from_pointee(config),
            not_after: AtomicI64::new(not_after),
            seen: Mutex::new(files.fingerprint()),
        })
    }

    /// The notAfter of the leaf certificate in service, Unix seconds.
    pub fn not_after(&self) -> i64 {
        self.not_after.load(Ordering::Acquire)
    }

    /// Sets `mfn_tls_certificate_expiry_timestamp_seconds` to [`not_after`](Self::not_after).
    pub fn record_expiry(&self) {
        metrics::gauge!(EXPIRY_GAUGE).set(self.not_after() as f64);
    }

    /// An acceptor for the current certificates.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.current.load_full())
    }

    /// Re-reads the files and, if their content changed, swaps in a new configuration:
    /// `Ok(true)` when swapped, `Ok(false)` when nothing changed. On an error the previous
    /// configuration stays in service; the same broken content then yields `Ok(false)`
    /// until the files change again. Established connections are never affected.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        // Held throughout, so that concurrent calls cannot swap in an older read.
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let files = PemFiles::read(&self.settings)?;
        let fingerprint = files.fingerprint();
        if fingerprint == *seen {
            return Ok(false);
        }
        *seen = fingerprint;
        let (config, not_after) = build(&self.settings, &files)?;
        self.current.store(Arc::new(config));
        self.not_after.store(not_after, Ordering::Release);
        self.record_expiry();
        Ok(true)
    }
}

impl PemFiles {
    fn read(settings: &TlsSettings) -> Result<Self, TlsError> {
        Ok(Self {
            cert: read(&settings.cert_path)?,
            key: read(&settings.key_path)?,
            client_ca: settings.client_ca_path.as_deref().map(read).transpose()?,
        })
    }

    fn fingerprint(&self) -> Fingerprint {
        let hash = |bytes: &[u8]| {
            let mut hasher = DefaultHasher::new();
            hasher.write(bytes);
            hasher.finish()
        };
        [
            hash(&self.cert),
            hash(&self.key),
            self.client_ca.as_deref().map_or(0, hash),
        ]
    }
}

/// Polls [`TlsReloader::reload_if_changed`] every `interval` until `shutdown` resolves;
/// logs a reload at info and a failed reload at warn.
pub async fn watch(
    reloader: Arc<TlsReloader>,
    interval: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let period = interval.max(MIN_WATCH_INTERVAL);
    let mut ticks = tokio::time::interval_at(Instant::now() + period, period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = ticks.tick() => {}
        }
        // File reads block; keep them off the async workers.
        let task = Arc::clone(&reloader);
        let result = match tokio::task::spawn_blocking(move || task.reload_if_changed()).await {
            Ok(Ok(true)) => {
                info!(
                    cert = %reloader.settings.cert_path.display(),
                    not_after = reloader.not_after(),
                    "tls certificates reloaded"
                );
                "success"
            }
            Ok(Ok(false)) => continue,
            Ok(Err(error)) => {
                warn!(
                    %error,
                    "tls certificate reload failed, still serving the previous certificates"
                );
                "failure"
            }
            Err(error) => {
                warn!(%error, "tls certificate reload task failed");
                "failure"
            }
        };
        metrics::counter!("mfn_tls_reloads_total", "result" => result).increment(1);
    }
}

/// How many TLS handshakes may run at once, and for how long each.
#[derive(Debug, Clone, Copy)]
pub struct Handshakes {
    /// `MFN_MAX_TLS_HANDSHAKES`.
    pub max: usize,
    /// `MFN_TLS_HANDSHAKE_TIMEOUT_S`.
    pub timeout: Duration,
}

impl Handshakes {
    /// The handshake limits of `config`.
    pub fn new(config: &ConnectionConfig) -> Handshakes {
        Handshakes {
            max: config.max_tls_handshakes,
            timeout: config.tls_handshake_timeout,
        }
    }
}

/// Accepts the connections `gate` admits on `listener`, runs each TLS handshake in its own
/// task (at most `limits.max` at once, each within `limits.timeout`) and yields the
/// established streams under the gate's clocks. Failed handshakes are logged at debug and
/// dropped; the stream never yields an error. It ends when `shutdown` resolves (pending
/// handshakes are abandoned) or when it is dropped.
///
/// # Panics
///
/// When called outside a tokio runtime: the accept loop is a spawned task.
pub fn incoming(
    listener: TcpListener,
    reloader: Arc<TlsReloader>,
    gate: Gate,
    limits: Handshakes,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Stream<Item = Result<Conn<TlsStream<TcpStream>>, io::Error>> + Send + 'static {
    let (established, stream) = mpsc::channel(ESTABLISHED_BACKLOG);
    tokio::spawn(accept_loop(
        listener,
        reloader,
        gate,
        limits,
        shutdown,
        established,
    ));
    ReceiverStream::new(stream)
}

type Established = mpsc::Sender<io::Result<Conn<TlsStream<TcpStream>>>>;

async fn accept_loop(
    listener: TcpListener,
    reloader: Arc<TlsReloader>,
    gate: Gate,
    limits: Handshakes,
    shutdown: impl Future<Output = ()>,
    established: Established,
) {
    let slots = Arc::new(Semaphore::new(limits.max));
    let mut handshakes = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            () = established.closed() => break,
            // Reap finished handshake tasks so the set does not grow.
            Some(_) = handshakes.join_next(), if !handshakes.is_empty() => {}
            (tcp, peer, permit) = gate.accept(&listener) => {
                // Handshakes cost CPU: beyond the cap a new client is closed, not queued.
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    gate.refuse(Refusal::MaxTlsHandshakes, peer);
                    continue;
                };
                let acceptor = reloader.acceptor();
                let (gate, established) = (gate.clone(), established.clone());
                handshakes.spawn(async move {
                    let accepted = tokio::time::timeout(limits.timeout, acceptor.accept(tcp)).await;
                    drop(slot);
                    let stream = match accepted {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(error)) => return debug!(%peer, %error, "tls handshake failed"),
                        Err(_) => return debug!(%peer, "tls handshake timed out"),
                    };
                    let conn = gate.wrap(stream, peer, permit);
                    if established.send(Ok(conn)).await.is_err() {
                        debug!(%peer, "server stopped listening, connection closed");
                    }
                });
            }
        }
    }
    handshakes.shutdown().await;
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Io {
        path: path.to_owned(),
        source,
    })
}

fn certificates(path: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Pem {
            path: path.to_owned(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificates(path.to_owned()));
    }
    Ok(certs)
}

fn private_key(path: &Path, pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|source| match source {
        pem::Error::NoItemsFound => TlsError::NoPrivateKey(path.to_owned()),
        source => TlsError::Pem {
            path: path.to_owned(),
            source,
        },
    })
}

/// The leaf certificate's notAfter, Unix seconds.
fn not_after(path: &Path, leaf: &CertificateDer<'_>) -> Result<i64, TlsError> {
    let (_, cert) = x509_parser::parse_x509_certificate(leaf).map_err(|e| TlsError::Validity {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    Ok(cert.validity().not_after.timestamp())
}

/// The server configuration of `files`, and the notAfter of its leaf certificate.
fn build(settings: &TlsSettings, files: &PemFiles) -> Result<(ServerConfig, i64), TlsError> {
    let certs = certificates(&settings.cert_path, &files.cert)?;
    let leaf = certs[0].clone();
    let key = private_key(&settings.key_path, &files.key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13])?;
    let builder = match (&settings.client_ca_path, &files.client_ca) {
        (Some(path), Some(pem)) => {
            let mut roots = RootCertStore::empty();
            for ca in certificates(path, pem)? {
                roots.add(ca).map_err(|e| {
                    TlsError::Verifier(format!("invalid ca certificate in {}: {e}", path.display()))
                })?;
            }
            // The builder's default: a client without a certificate is refused.
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::Verifier(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        _ => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(certs, key)?;
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok((config, not_after(&settings.cert_path, &leaf)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::net::SocketAddr;

    use futures::StreamExt;
    use mfn_test_util::pki::Leaf;
    use rcgen::ExtendedKeyUsagePurpose;
    use rustls::ProtocolVersion;
    use rustls::pki_types::ServerName;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::oneshot;
    use tokio_rustls::TlsConnector;
    use tokio_rustls::client::TlsStream as ClientTlsStream;

    /// Bounds every network step of a test so that a bug fails instead of hanging.
    const STEP: Duration = Duration::from_secs(5);

    /// The harness's throwaway CA, with the reloader's settings and a client.
    struct Pki(mfn_test_util::pki::Pki);

    impl std::ops::Deref for Pki {
        type Target = mfn_test_util::pki::Pki;
        fn deref(&self) -> &Self::Target {
            &self.0
        }
    }

    impl Pki {
        fn new() -> Self {
            Pki(mfn_test_util::pki::Pki::new())
        }

        fn settings(&self, mutual: bool) -> TlsSettings {
            TlsSettings {
                cert_path: self.path("cert.pem"),
                key_path: self.path("key.pem"),
                client_ca_path: mutual.then(|| self.path("ca.pem")),
            }
        }

        fn client(&self, identity: Option<&Leaf>) -> TlsConnector {
            self.client_with_versions(identity, &[&rustls::version::TLS13])
        }

        fn client_with_versions(
            &self,
            identity: Option<&Leaf>,
            versions: &[&'static rustls::SupportedProtocolVersion],
        ) -> TlsConnector {
            TlsConnector::from(Arc::new(self.client_config(versions, &[b"h2"], identity)))
        }
    }

    /// [`incoming`] with the default caps, or `handshakes` at most at once.
    fn incoming_with(
        listener: TcpListener,
        reloader: Arc<TlsReloader>,
        handshakes: usize,
        stopped: oneshot::Receiver<()>,
    ) -> impl Stream<Item = io::Result<Conn<TlsStream<TcpStream>>>> {
        let config = ConnectionConfig {
            max_tls_handshakes: handshakes,
            ..ConnectionConfig::default()
        };
        incoming_config(listener, reloader, config, stopped)
    }

    /// [`incoming`] under `config`'s caps and clocks.
    fn incoming_config(
        listener: TcpListener,
        reloader: Arc<TlsReloader>,
        config: ConnectionConfig,
        stopped: oneshot::Receiver<()>,
    ) -> impl Stream<Item = io::Result<Conn<TlsStream<TcpStream>>>> {
        let gate = Gate::new(crate::conn::Port::Grpc, &config);
        incoming(listener, reloader, gate, Handshakes::new(&config), async {
            let _ = stopped.await;
        })
    }

    /// A TLS echo server over [`incoming`]; drop the sender to shut it down.
    async fn echo_server(reloader: Arc<TlsReloader>) -> (SocketAddr, oneshot::Sender<()>) {
        echo_server_with(reloader, ConnectionConfig::default().max_tls_handshakes).await
    }

    async fn echo_server_with(
        reloader: Arc<TlsReloader>,
        handshakes: usize,
    ) -> (SocketAddr, oneshot::Sender<()>) {
        let config = ConnectionConfig {
            max_tls_handshakes: handshakes,
            ..ConnectionConfig::default()
        };
        echo_server_config(reloader, config).await
    }

    async fn echo_server_config(
        reloader: Arc<TlsReloader>,
        config: ConnectionConfig,
    ) -> (SocketAddr, oneshot::Sender<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let mut connections = Box::pin(incoming_config(listener, reloader, config, stopped));
        tokio::spawn(async move {
            while let Some(connection) = connections.next().await {
                let mut tls = connection.unwrap();
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    loop {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if tls.write_all(&buf[..n]).await.is_err()
                                    || tls.flush().await.is_err()
                                {
                                    break;
                                }
                            }
                        }
                    }
                });
            }
        });
        (addr, stop)
    }

    async fn connect(
        connector: &TlsConnector,
        addr: SocketAddr,
    ) -> io::Result<ClientTlsStream<TcpStream>> {
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from("localhost").unwrap();
        tokio::time::timeout(STEP, connector.connect(name, tcp))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "handshake timed out"))?
    }

    /// Sends `message` and reads the echo back.
    async fn echo(stream: &mut ClientTlsStream<TcpStream>, message: &[u8]) -> io::Result<()> {
        tokio::time::timeout(STEP, async {
            stream.write_all(message).await?;
            stream.flush().await?;
            let mut back = vec![0u8; message.len()];
            stream.read_exact(&mut back).await?;
            assert_eq!(back, message);
            Ok(())
        })
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "echo timed out"))?
    }

    fn peer_certificate(stream: &ClientTlsStream<TcpStream>) -> CertificateDer<'static> {
        stream.get_ref().1.peer_certificates().unwrap()[0]
            .clone()
            .into_owned()
    }

    #[tokio::test]
    async fn handshake_negotiates_tls13_and_h2() {
        let pki = Pki::new();
        let leaf = pki.server_leaf();
        let reloader = Arc::new(TlsReloader::load(&pki.settings(false)).unwrap());
        let (addr, _stop) = echo_server(reloader).await;

        let mut stream = connect(&pki.client(None), addr).await.unwrap();
        let (_, session) = stream.get_ref();
        assert_eq!(session.protocol_version(), Some(ProtocolVersion::TLSv1_3));
        assert_eq!(session.alpn_protocol(), Some(&b"h2"[..]));
        assert_eq!(peer_certificate(&stream), leaf.cert);
        echo(&mut stream, b"ping").await.unwrap();
    }

    #[tokio::test]
    async fn tls12_clients_are_refused() {
        let pki = Pki::new();
        pki.server_leaf();
        let reloader = Arc::new(TlsReloader::load(&pki.settings(false)).unwrap());
        let (addr, _stop) = echo_server(reloader).await;
        let tls12 = pki.client_with_versions(None, &[&rustls::version::TLS12]);
        assert!(connect(&tls12, addr).await.is_err());
    }

    #[tokio::test]
    async fn mutual_tls_requires_a_client_certificate_from_the_ca() {
        let pki = Pki::new();
        pki.server_leaf();
        let reloader = Arc::new(TlsReloader::load(&pki.settings(true)).unwrap());
        let (addr, _stop) = echo_server(reloader).await;

        // In TLS 1.3 the client may finish its side before the server refuses it, so the
        // refusal can surface on the first read.
        let anonymous = async {
            let mut stream = connect(&pki.client(None), addr).await?;
            echo(&mut stream, b"ping").await
        };
        assert!(anonymous.await.is_err());

        // A certificate from another CA is refused as well.
        let stranger = Pki::new().leaf(ExtendedKeyUsagePurpose::ClientAuth);
        let impostor = async {
            let mut stream = connect(&pki.client(Some(&stranger)), addr).await?;
            echo(&mut stream, b"ping").await
        };
        assert!(impostor.await.is_err());

        let client = pki.leaf(ExtendedKeyUsagePurpose::ClientAuth);
        let mut stream = connect(&pki.client(Some(&client)), addr).await.unwrap();
        echo(&mut stream, b"ping").await.unwrap();
    }

    #[tokio::test]
    async fn reload_swaps_certificates_for_new_connections_only() {
        let pki = Pki::new();
        let old = pki.server_leaf();
        let reloader = Arc::new(TlsReloader::load(&pki.settings(false)).unwrap());
        let (addr, _stop) = echo_server(Arc::clone(&reloader)).await;
        let connector = pki.client(None);

        let mut first = connect(&connector, addr).await.unwrap();
        echo(&mut first, b"before").await.unwrap();
        assert_eq!(peer_certificate(&first), old.cert);
        assert!(!reloader.reload_if_changed().unwrap());

        let new = pki.server_leaf();
        assert_ne!(new.cert, old.cert);
        assert!(reloader.reload_if_changed().unwrap());
        assert!(!reloader.reload_if_changed().unwrap());

        let mut second = connect(&connector, addr).await.unwrap();
        assert_eq!(peer_certificate(&second), new.cert);
        echo(&mut second, b"new").await.unwrap();
        // The connection accepted before the reload still works.
        echo(&mut first, b"after").await.unwrap();
        assert_eq!(peer_certificate(&first), old.cert);
    }

    #[tokio::test]
    async fn a_broken_reload_keeps_the_old_certificates() {
        let pki = Pki::new();
        let old = pki.server_leaf();
        let reloader = Arc::new(TlsReloader::load(&pki.settings(false)).unwrap());
        let (addr, _stop) = echo_server(Arc::clone(&reloader)).await;
        let connector = pki.client(None);

        pki.write("cert.pem", "this is not a certificate\n");
        let error = reloader.reload_if_changed().unwrap_err();
        assert!(matches!(error, TlsError::NoCertificates(_)), "{error}");
        assert!(error.to_string().contains("cert.pem"), "{error}");
        // Reported once; the same broken content is not retried.
        assert!(!reloader.reload_if_changed().unwrap());
        let mut stream = connect(&connector, addr).await.unwrap();
        assert_eq!(peer_certificate(&stream), old.cert);
        echo(&mut stream, b"ping").await.unwrap();

        // A certificate that does not match the key on disk is refused too.
        let other = pki.leaf(ExtendedKeyUsagePurpose::ServerAuth);
        pki.write("cert.pem", &other.cert_pem);
        let error = reloader.reload_if_changed().unwrap_err();
        assert!(matches!(error, TlsError::Rustls(_)), "{error}");
        let stream = connect(&connector, addr).await.unwrap();
        assert_eq!(peer_certificate(&stream), old.cert);

        // Once the key follows, the pair loads.
        pki.write("key.pem", &other.key_pem);
        assert!(reloader.reload_if_changed().unwrap());
        let stream = connect(&connector, addr).await.unwrap();
        assert_eq!(peer_certificate(&stream), other.cert);
    }

    #[tokio::test]
    async fn watch_picks_up_changes_and_stops_on_shutdown() {
        let pki = Pki::new();
        pki.server_leaf();
        let reloader = Arc::new(TlsReloader::load(&pki.settings(false)).unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let watcher = tokio::spawn(watch(
            Arc::clone(&reloader),
            Duration::from_millis(20),
            async {
                let _ = stopped.await;
            },
        ));
        let (addr, _stop) = echo_server(Arc::clone(&reloader)).await;
        let new = pki.server_leaf();
        tokio::time::timeout(STEP, async {
            loop {
                let stream = connect(&pki.client(None), addr).await.unwrap();
                if peer_certificate(&stream) == new.cert {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("the watcher did not reload the certificate");
        drop(stop);
        tokio::time::timeout(STEP, watcher).await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_silent_client_does_not_block_others() {
        let pki = Pki::new();
        pki.server_leaf();
        let reloader = Arc::new(TlsReloader::load(&pki.settings(false)).unwrap());
        let (addr, _stop) = echo_server(reloader).await;
        let _silent = TcpStream::connect(addr).await.unwrap();
        let mut stream = connect(&pki.client(None), addr).await.unwrap();
        echo(&mut stream, b"ping").await.unwrap();
    }

    #[tokio::test]
    async fn handshakes_beyond_the_cap_are_closed_at_accept() {
        let pki = Pki::new();
        pki.server_leaf();
        let reloader = Arc::new(TlsReloader::load(&pki.settings(false)).unwrap());
        let (addr, _stop) = echo_server_with(reloader, 1).await;
        // The silent client holds the only handshake slot for the handshake timeout.
        let _silent = TcpStream::connect(addr).await.unwrap();
        let mut refused = TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 1];
        let read = tokio::time::timeout(STEP, refused.read(&mut buf)).await;
        assert!(
            matches!(read, Ok(Ok(0) | Err(_))),
            "the second handshake was not refused: {read:?}"
        );
        drop(_silent);
        // Once the slot is free, clients get through again.
        tokio::time::timeout(STEP, async {
            loop {
                if let Ok(mut stream) = connect(&pki.client(None), addr).await
                    && echo(&mut stream, b"ping").await.is_ok()
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("the handshake slot was not released");
    }

    #[tokio::test]
    async fn a_silent_handshake_is_closed_at_its_deadline_and_frees_its_slot() {
        let pki = Pki::new();
        pki.server_leaf();
        let reloader = Arc::new(TlsReloader::load(&pki.settings(false)).unwrap());
        let config = ConnectionConfig {
            max_tls_handshakes: 1,
            tls_handshake_timeout: Duration::from_millis(300),
            ..ConnectionConfig::default()
        };
        let (addr, _stop) = echo_server_config(reloader, config).await;
        let t0 = std::time::Instant::now();
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 1];
        let read = tokio::time::timeout(STEP, silent.read(&mut buf)).await;
        let closed = t0.elapsed();
        assert!(matches!(read, Ok(Ok(0) | Err(_))), "still open: {read:?}");
        assert!(
            closed >= Duration::from_millis(300),
            "closed early: {closed:?}"
        );
        // The only slot is free again: a real client gets through at once.
        let mut stream = connect(&pki.client(None), addr).await.unwrap();
        echo(&mut stream, b"ping").await.unwrap();
    }

    #[tokio::test]
    async fn incoming_ends_on_shutdown() {
        let pki = Pki::new();
        pki.server_leaf();
        let reloader = Arc::new(TlsReloader::load(&pki.settings(false)).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let default = ConnectionConfig::default().max_tls_handshakes;
        let mut connections = Box::pin(incoming_with(listener, reloader, default, stopped));
        // A handshake still pending at shutdown is abandoned, not yielded.
        let _silent = TcpStream::connect(addr).await.unwrap();
        drop(stop);
        let end = tokio::time::timeout(STEP, connections.next())
            .await
            .unwrap();
        assert!(end.is_none());
        // The listener is closed.
        tokio::time::timeout(STEP, async {
            while TcpStream::connect(addr).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap();
    }

    #[test]
    fn the_leaf_not_after_is_read_at_load_and_on_each_reload() {
        let pki = Pki::new();
        // The chain's leaf, not the CA after it, is the one whose expiry counts.
        let serve_until = |(y, m, d): (i32, u8, u8)| {
            let not_after = rcgen::date_time_ymd(y, m, d);
            let leaf = pki.leaf_with(ExtendedKeyUsagePurpose::ServerAuth, |p| {
                p.not_after = not_after;
            });
            let ca = std::fs::read_to_string(pki.path("ca.pem")).unwrap();
            pki.write("cert.pem", &format!("{}{ca}", leaf.cert_pem));
            pki.write("key.pem", &leaf.key_pem);
            not_after.unix_timestamp()
        };
        let first = serve_until((2031, 5, 17));
        let reloader = TlsReloader::load(&pki.settings(false)).unwrap();
        assert_eq!(reloader.not_after(), first);
        let second = serve_until((2029, 1, 2));
        assert!(reloader.reload_if_changed().unwrap());
        assert_eq!(reloader.not_after(), second);
        // A reload that fails keeps the expiry of the certificate still in service.
        pki.write(
            "key.pem",
            &pki.leaf(ExtendedKeyUsagePurpose::ServerAuth).key_pem,
        );
        assert!(reloader.reload_if_changed().is_err());
        assert_eq!(reloader.not_after(), second);
    }

    #[test]
    fn load_names_the_file_that_is_missing_or_empty() {
        let pki = Pki::new();
        pki.server_leaf();
        let mut settings = pki.settings(true);
        settings.client_ca_path = Some(pki.path("missing-ca.pem"));
        let error = TlsReloader::load(&settings).unwrap_err();
        assert!(matches!(error, TlsError::Io { .. }), "{error}");
        assert!(error.to_string().contains("missing-ca.pem"), "{error}");

        pki.write("empty.pem", "");
        let mut settings = pki.settings(false);
        settings.key_path = pki.path("empty.pem");
        let error = TlsReloader::load(&settings).unwrap_err();
        assert!(matches!(error, TlsError::NoPrivateKey(_)), "{error}");
        assert!(error.to_string().contains("empty.pem"), "{error}");

        pki.write(
            "bad.pem",
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        );
        let mut settings = pki.settings(false);
        settings.cert_path = pki.path("bad.pem");
        let error = TlsReloader::load(&settings).unwrap_err();
        assert!(matches!(error, TlsError::Pem { .. }), "{error}");
    }
}
