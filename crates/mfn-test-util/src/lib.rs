//! The one test harness of the workspace: the server's, the client's and the CLI's tests
//! start MFN through it.
//!
//! - [`TestServer`]: the real [`mfn_server::serve`] in process, gRPC and HTTP on
//!   `127.0.0.1:0`, graphs in memory, the auth mode, keys and configuration the test
//!   chooses; [`TestServer::stop`] drains it and checks it stopped cleanly, dropping it
//!   shuts it down. [`TestServerBuilder::start_blocking`] runs it on its own runtime for
//!   synchronous tests (the CLI's, which drive `mfn` processes against it).
//! - [`TestServerBuilder::app`]: the same configuration as an HTTP router without
//!   sockets, for `oneshot` requests (REST, MCP).
//! - [`captured_logs`]: every tracing event of the test binary as JSON lines.
//! - [`pki`]: a throwaway CA and certificates for the TLS tests.
//!
//! A dev-only crate rather than a feature of `mfn-server`: `mfn-server`'s own
//! integration tests use it without enabling a feature on themselves, and the harness's
//! dependencies (tempfile, the tonic clients) never reach the server's build.
//!
//! ```no_run
//! # async fn demo() {
//! use mfn_server::config::AuthMode;
//! use mfn_test_util::TestServer;
//!
//! let server = TestServer::builder()
//!     .auth(AuthMode::Key)
//!     .key("c0ffee-0123456789abcdef0123456789abcdef", "name=ci rps=5")
//!     .config(|c| c.service.workers = 1)
//!     .start()
//!     .await;
//! let mut myc = server.myc().await;
//! # let _ = &mut myc;
//! server.stop().await;
//! # }
//! ```

pub mod pki;

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use mfn_proto::v1::mfn_features_service_client::MfnFeaturesServiceClient;
use mfn_proto::v1::mfn_simulation_service_client::MfnSimulationServiceClient;
use mfn_proto::v1::mfn_validation_service_client::MfnValidationServiceClient;
use mfn_proto::v1::mycelium_service_client::MyceliumServiceClient;
use mfn_server::config::AuthMode;
use mfn_server::security::keys::hash_key;
use mfn_server::{Guards, Listeners, ServerConfig, ServerError, http_context, preflight, serve};
use mfn_service::MfnService;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// How long [`TestServer::stop`] waits for the drain.
const STOP_GUARD: Duration = Duration::from_secs(20);

/// What a test server runs with; see [`TestServer::builder`].
pub struct TestServerBuilder {
    config: ServerConfig,
    key_lines: Vec<String>,
    grpc: Option<TcpListener>,
}

/// A running in-process server. Dropping it signals the shutdown.
pub struct TestServer {
    /// The gRPC address.
    pub addr: SocketAddr,
    /// The HTTP address (REST, WebSocket, MCP, metrics).
    pub http: SocketAddr,
    /// The service layer the server runs on, for its counters.
    pub svc: MfnService,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), ServerError>>>,
    runtime: Option<tokio::runtime::Runtime>,
    _dir: Option<tempfile::TempDir>,
}

impl TestServer {
    /// A builder with the test defaults: 2 compute threads, a queue of 8, a 10 s drain,
    /// graphs in memory, auth off.
    pub fn builder() -> TestServerBuilder {
        let mut config = ServerConfig::default();
        config.network.host = Ipv4Addr::LOCALHOST.into();
        config.network.shutdown_timeout = Duration::from_secs(10);
        config.service.workers = 2;
        config.service.queue = 8;
        config.service.graphs.data_dir = None;
        TestServerBuilder {
            config,
            key_lines: Vec::new(),
            grpc: None,
        }
    }

    /// A server with the test defaults.
    pub async fn start() -> TestServer {
        TestServer::builder().start().await
    }

    /// `http://` and the gRPC address.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A connected gRPC channel.
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.url())
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    /// A client of `MFNSimulationService`.
    pub async fn sim(&self) -> MfnSimulationServiceClient<Channel> {
        MfnSimulationServiceClient::new(self.channel().await)
    }

    /// A client of `MFNFeaturesService`.
    pub async fn features(&self) -> MfnFeaturesServiceClient<Channel> {
        MfnFeaturesServiceClient::new(self.channel().await)
    }

    /// A client of `MFNValidationService`.
    pub async fn validation(&self) -> MfnValidationServiceClient<Channel> {
        MfnValidationServiceClient::new(self.channel().await)
    }

    /// A client of `MyceliumService`.
    pub async fn myc(&self) -> MyceliumServiceClient<Channel> {
        MyceliumServiceClient::new(self.channel().await)
    }

    /// Signals the shutdown (the drain starts) without waiting.
    pub fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }

    /// Shuts down and waits for `serve` to return (at most 20 s); its result.
    ///
    /// # Panics
    /// When the server does not stop in time or its task panicked.
    pub async fn join(mut self) -> Result<(), ServerError> {
        self.shutdown();
        let handle = self.handle.take().expect("the server task is joined once");
        tokio::time::timeout(STOP_GUARD, handle)
            .await
            .expect("server did not stop")
            .expect("server task panicked")
    }

    /// Shuts down and checks the server stopped cleanly.
    pub async fn stop(self) {
        self.join().await.unwrap();
    }

    /// `kill -9`'s path: the task is aborted, connections reset, nothing drains.
    pub fn kill(mut self) {
        if let Some(handle) = self.handle.take() {
            handle.abort();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown();
        if let Some(runtime) = self.runtime.take() {
            if let Some(handle) = self.handle.take() {
                // The timer is created inside the runtime: `timeout` needs its clock.
                let _ = runtime.block_on(async { tokio::time::timeout(STOP_GUARD, handle).await });
            }
            runtime.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

impl TestServerBuilder {
    /// The authentication mode.
    pub fn auth(mut self, mode: AuthMode) -> Self {
        self.config.auth.mode = mode;
        self
    }

    /// Accept `plaintext` with the key-file attributes `attributes` (`name=… scopes=…
    /// rps=… concurrent=…`, see `mfn_server::security::keys`).
    pub fn key(mut self, plaintext: &str, attributes: &str) -> Self {
        let hash = hex::encode(hash_key(plaintext));
        self.key_lines.push(format!("{hash} {attributes}"));
        self
    }

    /// Changes the configuration (any field; the ports are the harness's).
    pub fn config(mut self, change: impl FnOnce(&mut ServerConfig)) -> Self {
        change(&mut self.config);
        self
    }

    /// `workers` compute threads and `queue` waiting slots (e.g. 1 and 0 to overload).
    pub fn compute(self, workers: usize, queue: usize) -> Self {
        self.config(|c| {
            c.service.workers = workers;
            c.service.queue = queue;
        })
    }

    /// Serve gRPC on this listener instead of a fresh one on port 0.
    pub fn grpc_listener(mut self, listener: TcpListener) -> Self {
        self.grpc = Some(listener);
        self
    }

    /// The configuration with the key file written; the directory holds the file.
    fn finish(mut self) -> (ServerConfig, Option<tempfile::TempDir>, Option<TcpListener>) {
        if self.key_lines.is_empty() {
            return (self.config, None, self.grpc);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(
            &path,
            format!("# test keys\n{}\n", self.key_lines.join("\n")),
        )
        .unwrap();
        self.config.auth.api_keys_file = Some(path);
        (self.config, Some(dir), self.grpc)
    }

    /// Binds and serves on the current tokio runtime.
    pub async fn start(self) -> TestServer {
        let (config, dir, grpc) = self.finish();
        let grpc = match grpc {
            Some(listener) => listener,
            None => TcpListener::bind("127.0.0.1:0").await.unwrap(),
        };
        let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (addr, http_addr) = (grpc.local_addr().unwrap(), http.local_addr().unwrap());
        let svc = MfnService::new(config.service.clone()).unwrap();
        let (tx, rx) = oneshot::channel();
        let listeners = Listeners {
            grpc,
            http: Some(http),
        };
        let handle = tokio::spawn(serve(listeners, config, svc.clone(), async {
            let _ = rx.await;
        }));
        TestServer {
            addr,
            http: http_addr,
            svc,
            stop: Some(tx),
            handle: Some(handle),
            runtime: None,
            _dir: dir,
        }
    }

    /// [`start`](Self::start) on a runtime of its own, for tests without one; dropping
    /// the server drains it and stops the runtime.
    pub fn start_blocking(self) -> TestServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut server = runtime.block_on(self.start());
        server.runtime = Some(runtime);
        server
    }

    /// The HTTP router of this configuration without sockets, and its service layer.
    pub fn app(self) -> (axum::Router, MfnService) {
        let (config, _dir, _) = self.finish();
        let svc = MfnService::new(config.service.clone()).unwrap();
        let checked = preflight(&config).unwrap();
        let guards = Guards::new(&config, &checked.keys);
        let grpc_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 50051));
        let ctx = http_context(&config, svc.clone(), &guards, grpc_addr);
        (mfn_server::http::router(ctx), svc)
    }
}

/// `GET path` over HTTP/1.1 on `addr`; the whole response (status line, headers, body)
/// as text.
pub async fn http_get(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    tcp.read_to_string(&mut out).await.unwrap();
    out
}

/// Everything the test binary's tracing writes, as JSON lines, at debug level (rmcp logs
/// requests there). Installs the process-wide subscriber on first use.
pub fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        logs
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
