//! The [`Client`]: one method per RPC, each call going through the same attempt
//! loop (fresh headers → deadline → call → retry decision).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::stream::{self, BoxStream, StreamExt};
use rand::Rng;
use tonic::codec::{CompressionEncoding, Streaming};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Request, Response, Status};
use tonic_health::pb::HealthCheckRequest as GrpcHealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::auth::Credentials;
use crate::balance::{EndpointInfo, InFlight, Pool, PoolHandle, Target};
use crate::config::{ClientConfig, Compression, RetryPolicy};
use crate::error::{ClientError, is_retryable, retry_hint};
use crate::paths;
use mfn_proto::v1 as pb;
use pb::mfn_features_service_client::MfnFeaturesServiceClient;
use pb::mfn_simulation_service_client::MfnSimulationServiceClient;
use pb::mfn_validation_service_client::MfnValidationServiceClient;
use pb::mycelium_service_client::MyceliumServiceClient;

/// A stream of frames from a server-streaming or bidirectional RPC.
pub type FrameStream<T> = BoxStream<'static, Result<T, ClientError>>;

/// Largest response message accepted, bytes (a 512² field of doubles is 2 MiB).
const MAX_DECODING_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// An MFN client. Cheap to clone; clones share the connections, the counters and, for
/// a balanced endpoint, the pool of replicas and its background tasks (which stop when
/// the last clone is dropped).
#[derive(Clone)]
pub struct Client {
    conn: Conn,
    settings: Arc<Settings>,
    stats: Arc<Counters>,
}

/// What a client has done so far (all clones together).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Attempts sent, first attempts and retries together.
    pub attempts: u64,
    /// Attempts that were retries of a failed one.
    pub retries: u64,
    /// Retries refused by the retry throttle (too many recent failures).
    pub throttled: u64,
    /// Server streams resumed on another attempt after breaking mid-way.
    pub stream_resumes: u64,
    /// Replicas ejected after a failed call (balanced endpoints only).
    pub ejections: u64,
    /// Successful DNS resolutions (`dns:///` endpoints only).
    pub resolutions: u64,
}

/// One connection, or a balanced pool of replicas.
#[derive(Clone)]
enum Conn {
    One(Channel),
    Pool(Arc<PoolHandle>),
}

/// The parts of the configuration used on every call.
struct Settings {
    credentials: Credentials,
    deadline: Duration,
    retry: RetryPolicy,
    compression: Option<CompressionEncoding>,
}

#[derive(Default)]
struct Counters {
    attempts: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    stream_resumes: AtomicU64,
    /// Retry throttle tokens, in thousandths (gRPC's retryThrottling).
    tokens_milli: AtomicU64,
}

/// Whether an attempt's deadline goes to the server as `grpc-timeout`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The deadline bounds the whole call.
    Unary,
    /// The deadline bounds only the opening of the stream (up to the first frame).
    Stream,
}

/// A server stream being read, and what it takes to reopen it.
struct Resume<Req, Frame, F> {
    client: Client,
    path: &'static str,
    message: Req,
    open: F,
    last: u32,
    rest: Streaming<Frame>,
    guard: Option<InFlight>,
    resumes: u32,
}

/// Request messages with a `request_id` field the client fills when empty.
trait RequestId: Clone {
    fn request_id_mut(&mut self) -> Option<&mut String>;
}

/// Frames of a server stream: a resumed stream skips the steps it has delivered.
trait Step {
    fn step(&self) -> u32;
}

impl Client {
    /// Validate `config`, then connect. For one URL, fails if the server cannot be
    /// reached now. For a `dns:///` name, fails if the name does not resolve now; for a
    /// list or a name, replicas are dialled in the background (by their health watches,
    /// else on first use), and calls made before any replica answered wait for one
    /// within their deadline (see [`ClientConfig::endpoint`]). See
    /// [`Client::connect_lazy`] for a client that does no I/O before its first call.
    pub async fn connect(config: ClientConfig) -> Result<Client, ClientError> {
        config.validate()?;
        match Target::parse(&config.endpoint)? {
            Target::Single(url) => {
                let channel = endpoint(&config, &url, None)?.connect().await?;
                Ok(Client::with_channel(channel, &config))
            }
            Target::Static(urls) => Client::static_pool(&config, &urls),
            Target::Dns { host, port } => {
                let (pool, scheme) = Client::pool(&config, Some(&host))?;
                let handle =
                    PoolHandle::resolving(pool, scheme, host, port, config.resolve_interval, true)
                        .await?;
                Ok(Client::with_conn(Conn::Pool(Arc::new(handle)), &config))
            }
        }
    }

    /// Validate `config` and build a client without any I/O. For one URL, the
    /// connection is made on the first call and remade after it breaks; until then calls
    /// fail with `UNAVAILABLE` (and are retried as the policy says). For a list or a
    /// `dns:///` name, calls made before the first resolution or before any replica
    /// answered wait for one, within their deadline. A list or a name starts its
    /// background tasks on the current Tokio runtime, so it must be called inside one.
    pub fn connect_lazy(config: ClientConfig) -> Result<Client, ClientError> {
        config.validate()?;
        match Target::parse(&config.endpoint)? {
            Target::Single(url) => Ok(Client::with_channel(
                endpoint(&config, &url, None)?.connect_lazy(),
                &config,
            )),
            Target::Static(urls) => Client::static_pool(&config, &urls),
            Target::Dns { host, port } => {
                let (pool, scheme) = Client::pool(&config, Some(&host))?;
                let handle =
                    PoolHandle::start(pool, scheme, host, port, config.resolve_interval, false);
                Ok(Client::with_conn(Conn::Pool(Arc::new(handle)), &config))
            }
        }
    }

    /// A client over an existing channel (for custom transports). `config.endpoint`
    /// and `config.tls` are ignored.
    pub fn with_channel(channel: Channel, config: &ClientConfig) -> Client {
        Client::with_conn(Conn::One(channel), config)
    }

    fn with_conn(conn: Conn, config: &ClientConfig) -> Client {
        let stats = Counters::default();
        if let Some(t) = &config.retry.throttle {
            stats
                .tokens_milli
                .store(milli(t.max_tokens), Ordering::Relaxed);
        }
        Client {
            conn,
            settings: Arc::new(Settings {
                credentials: Credentials {
                    mode: config.auth,
                    key: config.api_key.clone(),
                },
                deadline: config.deadline,
                retry: config.retry.clone(),
                compression: config.compression.map(|c| match c {
                    Compression::Gzip => CompressionEncoding::Gzip,
                    Compression::Zstd => CompressionEncoding::Zstd,
                }),
            }),
            stats: Arc::new(stats),
        }
    }

    /// An empty pool whose members are built from `config`, and the URL scheme of its
    /// members. Needs a Tokio runtime (members run health watches).
    fn pool(
        config: &ClientConfig,
        dns_host: Option<&str>,
    ) -> Result<(Arc<Pool>, &'static str), ClientError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(ClientError::InvalidConfig(
                "a balanced endpoint (a list or dns:///) needs a Tokio runtime".into(),
            ));
        }
        let config_for_members = config.clone();
        let domain = dns_host.map(str::to_owned);
        let make = move |url: &str| endpoint(&config_for_members, url, domain.as_deref());
        let scheme = if config.is_https() { "https" } else { "http" };
        Ok((Pool::new(Box::new(make), config.health_checks), scheme))
    }

    fn static_pool(config: &ClientConfig, urls: &[String]) -> Result<Client, ClientError> {
        let (pool, _) = Client::pool(config, None)?;
        let handle = PoolHandle::fixed(pool, urls)?;
        Ok(Client::with_conn(Conn::Pool(Arc::new(handle)), config))
    }

    /// Attempts and retries made so far by this client and its clones.
    pub fn stats(&self) -> ClientStats {
        let (ejections, resolutions) = match &self.conn {
            Conn::One(_) => (0, 0),
            Conn::Pool(h) => (h.pool.ejections(), h.pool.resolutions()),
        };
        ClientStats {
            attempts: self.stats.attempts.load(Ordering::Relaxed),
            retries: self.stats.retries.load(Ordering::Relaxed),
            throttled: self.stats.throttled.load(Ordering::Relaxed),
            stream_resumes: self.stats.stream_resumes.load(Ordering::Relaxed),
            ejections,
            resolutions,
        }
    }

    /// The replicas of a balanced endpoint and their state; empty for one URL.
    pub fn endpoints(&self) -> Vec<EndpointInfo> {
        match &self.conn {
            Conn::One(_) => Vec::new(),
            Conn::Pool(h) => h.pool.snapshot(),
        }
    }

    /// Wait, at most `within`, until a balanced pool may be picked from (a replica
    /// answered once, see `balance.rs`); how long that took. At `within`, the call's
    /// `DEADLINE_EXCEEDED`: waiting again on a retry would only spend the budget.
    async fn wait_usable(&self, within: Duration) -> Result<Duration, Status> {
        let Conn::Pool(h) = &self.conn else {
            return Ok(Duration::ZERO);
        };
        if h.pool.usable() {
            return Ok(Duration::ZERO);
        }
        let started = Instant::now();
        match tokio::time::timeout(within, h.pool.wait_usable()).await {
            Ok(()) => Ok(started.elapsed()),
            Err(_) => Err(Status::deadline_exceeded(format!(
                "no replica of the balanced endpoint has answered yet (waited {} ms): \
                 are the servers up, and are the name and port right?",
                within.as_millis()
            ))),
        }
    }

    /// The channel of the next attempt, avoiding the members in `avoid`.
    fn pick(&self, avoid: &[u64]) -> Result<(Channel, Option<InFlight>), Status> {
        match &self.conn {
            Conn::One(c) => Ok((c.clone(), None)),
            Conn::Pool(h) => match h.pool.pick(avoid) {
                Some(g) => Ok((g.member.channel.clone(), Some(g))),
                None => Err(Status::unavailable(
                    "no endpoint: the name resolved to no address yet",
                )),
            },
        }
    }

    fn report(&self, guard: Option<&InFlight>, code: Option<Code>) {
        if let (Conn::Pool(h), Some(g)) = (&self.conn, guard) {
            h.pool.report(&g.member, code);
        }
    }

    /// Whether the throttle lets a retry go, after counting this failure.
    fn throttle_allows_retry(&self) -> bool {
        // One server: retries are bounded by the policy alone, as they always were.
        let (Some(t), Conn::Pool(h)) = (&self.settings.retry.throttle, &self.conn) else {
            return true;
        };
        // Before any replica answered, a failure says "not up yet", not "overloaded":
        // the throttle, which keeps retries from multiplying the load of a failing
        // fleet, has nothing to protect yet.
        if !h.pool.answered() {
            return true;
        }
        let after = self
            .stats
            .tokens_milli
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(1000))
            })
            .unwrap_or(0)
            .saturating_sub(1000);
        after > milli(t.max_tokens) / 2
    }

    fn throttle_success(&self) {
        if let Some(t) = &self.settings.retry.throttle {
            let (add, max) = (milli(t.token_ratio), milli(t.max_tokens));
            let _ =
                self.stats
                    .tokens_milli
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                        (v < max).then(|| (v + add).min(max))
                    });
        }
    }

    // --- MFNSimulationService ---------------------------------------------------

    /// `MFNSimulationService/RunSimulation`: run a simulation, return its summary.
    pub async fn run_simulation(
        &self,
        request: pb::RunSimulationRequest,
    ) -> Result<pb::RunSimulationResponse, ClientError> {
        self.unary(paths::RUN_SIMULATION, request, |ch, r| {
            let mut c = self.simulation(ch);
            async move { c.run_simulation(r).await }
        })
        .await
    }

    /// `MFNSimulationService/StreamSimulation`: frames of one run, the last with
    /// `is_final`.
    pub async fn stream_simulation(
        &self,
        request: pb::StreamSimulationRequest,
    ) -> Result<FrameStream<pb::SimulationFrame>, ClientError> {
        self.server_stream(paths::STREAM_SIMULATION, request, |c: &Client, ch, r| {
            let mut c = c.simulation(ch);
            async move { c.stream_simulation(r).await }
        })
        .await
    }

    /// `MFNSimulationService/SteerSimulation`: send `commands` (the first must be
    /// `start`) while receiving frames and acks.
    ///
    /// Not retried: the command stream is consumed by the first attempt. The
    /// deadline bounds only the opening of the call.
    pub async fn steer_simulation(
        &self,
        commands: impl futures::Stream<Item = pb::SteerCommand> + Send + 'static,
    ) -> Result<FrameStream<pb::SteerEvent>, ClientError> {
        let attempt = self.settings.credentials.attempt(paths::STEER_SIMULATION);
        let id = attempt.request_id.clone();
        let commands = commands.map(move |mut c| {
            // The run's request id, like every other call's, when the caller left it empty.
            if let Some(pb::steer_command::Command::Start(pb::SteerStart {
                run: Some(run), ..
            })) = &mut c.command
                && run.request_id.is_empty()
            {
                run.request_id.clone_from(&id);
            }
            c
        });
        let mut req = Request::new(commands);
        attempt.apply(req.metadata_mut())?;
        let deadline = self.settings.deadline;
        let waited = self.wait_usable(deadline).await?;
        self.stats.attempts.fetch_add(1, Ordering::Relaxed);
        let (channel, _guard) = self.pick(&[])?;
        let mut c = self.simulation(channel);
        let opening = c.steer_simulation(req);
        let left = deadline
            .saturating_sub(waited)
            .max(Duration::from_millis(1));
        let events = match tokio::time::timeout(left, opening).await {
            Ok(r) => r?.into_inner(),
            Err(_) => return Err(deadline_exceeded(deadline).into()),
        };
        Ok(events.map(|r| r.map_err(ClientError::from)).boxed())
    }

    // --- MFNFeaturesService -----------------------------------------------------

    /// `MFNFeaturesService/ExtractFeatures`: simulate, return the 18 features.
    pub async fn extract_features(
        &self,
        request: pb::ExtractFeaturesRequest,
    ) -> Result<pb::ExtractFeaturesResponse, ClientError> {
        self.unary(paths::EXTRACT_FEATURES, request, |ch, r| {
            let mut c = self.features(ch);
            async move { c.extract_features(r).await }
        })
        .await
    }

    /// `MFNFeaturesService/StreamFeatures`: features as the run progresses.
    pub async fn stream_features(
        &self,
        request: pb::StreamFeaturesRequest,
    ) -> Result<FrameStream<pb::FeatureFrame>, ClientError> {
        self.server_stream(paths::STREAM_FEATURES, request, |c: &Client, ch, r| {
            let mut c = c.features(ch);
            async move { c.stream_features(r).await }
        })
        .await
    }

    // --- MFNValidationService ---------------------------------------------------

    /// `MFNValidationService/ValidatePattern`: the validation report.
    pub async fn validate_pattern(
        &self,
        request: pb::ValidatePatternRequest,
    ) -> Result<pb::ValidatePatternResponse, ClientError> {
        self.unary(paths::VALIDATE_PATTERN, request, |ch, r| {
            let mut c = self.validation(ch);
            async move { c.validate_pattern(r).await }
        })
        .await
    }

    // --- MyceliumService --------------------------------------------------------

    /// `MyceliumService/Validate`: same as [`Client::validate_pattern`].
    pub async fn validate(
        &self,
        request: pb::ValidatePatternRequest,
    ) -> Result<pb::ValidatePatternResponse, ClientError> {
        self.unary(paths::MYCELIUM_VALIDATE, request, |ch, r| {
            let mut c = self.mycelium(ch);
            async move { c.validate(r).await }
        })
        .await
    }

    /// `MyceliumService/Simulate`: same as [`Client::run_simulation`].
    pub async fn simulate(
        &self,
        request: pb::RunSimulationRequest,
    ) -> Result<pb::RunSimulationResponse, ClientError> {
        self.unary(paths::MYCELIUM_SIMULATE, request, |ch, r| {
            let mut c = self.mycelium(ch);
            async move { c.simulate(r).await }
        })
        .await
    }

    /// `MyceliumService/SimulateStream`: same as [`Client::stream_simulation`].
    pub async fn simulate_stream(
        &self,
        request: pb::StreamSimulationRequest,
    ) -> Result<FrameStream<pb::SimulationFrame>, ClientError> {
        self.server_stream(
            paths::MYCELIUM_SIMULATE_STREAM,
            request,
            |c: &Client, ch, r| {
                let mut c = c.mycelium(ch);
                async move { c.simulate_stream(r).await }
            },
        )
        .await
    }

    /// `MyceliumService/ComputeNernst`: a Nernst equilibrium potential.
    pub async fn compute_nernst(
        &self,
        request: pb::NernstRequest,
    ) -> Result<pb::NernstResponse, ClientError> {
        self.unary(paths::COMPUTE_NERNST, request, |ch, r| {
            let mut c = self.mycelium(ch);
            async move { c.compute_nernst(r).await }
        })
        .await
    }

    /// `MyceliumService/AggregateFederated`: hierarchical Krum aggregation.
    pub async fn aggregate_federated(
        &self,
        request: pb::FederatedAggregateRequest,
    ) -> Result<pb::FederatedAggregateResponse, ClientError> {
        self.unary(paths::AGGREGATE_FEDERATED, request, |ch, r| {
            let mut c = self.mycelium(ch);
            async move { c.aggregate_federated(r).await }
        })
        .await
    }

    /// `MyceliumService/ComputeFractalDimension`: box counting over a square array.
    pub async fn compute_fractal_dimension(
        &self,
        request: pb::FractalRequest,
    ) -> Result<pb::FractalResponse, ClientError> {
        self.unary(paths::COMPUTE_FRACTAL_DIMENSION, request, |ch, r| {
            let mut c = self.mycelium(ch);
            async move { c.compute_fractal_dimension(r).await }
        })
        .await
    }

    /// `MyceliumService/GenerateIFS`: an IFS orbit and its Lyapunov exponent.
    pub async fn generate_ifs(
        &self,
        request: pb::IfsRequest,
    ) -> Result<pb::IfsResponse, ClientError> {
        self.unary(paths::GENERATE_IFS, request, |ch, r| {
            let mut c = self.mycelium(ch);
            async move { c.generate_ifs(r).await }
        })
        .await
    }

    /// `MyceliumService/HealthCheck`: status, version and uptime.
    pub async fn health_check(&self) -> Result<pb::HealthCheckResponse, ClientError> {
        self.unary(paths::HEALTH_CHECK, pb::HealthCheckRequest {}, |ch, r| {
            let mut c = self.mycelium(ch);
            async move { c.health_check(r).await }
        })
        .await
    }

    // --- grpc.health.v1 ---------------------------------------------------------

    /// `grpc.health.v1.Health/Check` for `service` (`""` for the whole server,
    /// or e.g. `"mfn.v1.MFNSimulationService"`).
    pub async fn health(&self, service: &str) -> Result<ServingStatus, ClientError> {
        let request = GrpcHealthCheckRequest {
            service: service.to_owned(),
        };
        let response = self
            .unary(paths::GRPC_HEALTH_CHECK, request, |ch, r| {
                let mut c = HealthClient::new(ch);
                async move { c.check(r).await }
            })
            .await?;
        Ok(ServingStatus::try_from(response.status).unwrap_or(ServingStatus::Unknown))
    }

    // --- the attempt loop -------------------------------------------------------

    async fn unary<Req, Resp, F, Fut>(
        &self,
        path: &'static str,
        message: Req,
        call: F,
    ) -> Result<Resp, ClientError>
    where
        Req: RequestId,
        F: FnMut(Channel, Request<Req>) -> Fut,
        Fut: Future<Output = Result<Response<Resp>, Status>>,
    {
        let (response, _guard) = self.with_retries(path, message, Kind::Unary, call).await?;
        Ok(response.into_inner())
    }

    /// Open a server stream, retrying until the first frame (or the end) arrives. A
    /// stream that breaks later with `UNAVAILABLE` (a draining or lost replica) or
    /// `UNKNOWN` (a connection cut mid-stream) is reopened, on another replica when
    /// there is one, and the frames already delivered are skipped: runs are
    /// deterministic, so the frames that follow are the ones the first run would have
    /// sent. Resumptions count against the attempts of the retry policy.
    async fn server_stream<Req, Frame, F, Fut>(
        &self,
        path: &'static str,
        message: Req,
        open: F,
    ) -> Result<FrameStream<Frame>, ClientError>
    where
        Req: RequestId + Send + Sync + 'static,
        Frame: Step + Send + 'static,
        F: Fn(&Client, Channel, Request<Req>) -> Fut + Copy + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<Streaming<Frame>>, Status>> + Send,
    {
        let (first, rest, guard) = self.open_stream(path, &message, open, None).await?;
        let Some(first) = first else {
            return Ok(stream::empty().boxed());
        };
        let state = Resume {
            client: self.clone(),
            path,
            message,
            open,
            last: first.step(),
            rest,
            guard,
            resumes: 0,
        };
        let tail = stream::unfold(Some(state), |state| async move {
            let mut st = state?;
            loop {
                match st.rest.message().await {
                    Ok(Some(frame)) if frame.step() <= st.last => continue,
                    Ok(Some(frame)) => {
                        st.last = frame.step();
                        return Some((Ok(frame), Some(st)));
                    }
                    Ok(None) => return None,
                    Err(status) => {
                        st.client.report(st.guard.as_ref(), Some(status.code()));
                        let attempts = st.client.settings.retry.max_attempts;
                        let resumable = matches!(status.code(), Code::Unavailable | Code::Unknown);
                        if !resumable || st.resumes + 1 >= attempts {
                            return Some((Err(status.into()), None));
                        }
                        st.resumes += 1;
                        st.client
                            .stats
                            .stream_resumes
                            .fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(path = st.path, step = st.last, code = ?status.code(), "resuming stream");
                        let avoid = st.guard.take().map(|g| g.member.id);
                        match st
                            .client
                            .open_stream(st.path, &st.message, st.open, Some((st.last, avoid)))
                            .await
                        {
                            Ok((Some(frame), rest, guard)) => {
                                st.last = frame.step();
                                st.rest = rest;
                                st.guard = guard;
                                return Some((Ok(frame), Some(st)));
                            }
                            Ok((None, _, _)) => return None,
                            Err(e) => return Some((Err(e), None)),
                        }
                    }
                }
            }
        });
        Ok(stream::once(async { Ok(first) }).chain(tail).boxed())
    }

    /// One opening of a server stream (with retries): its first frame after
    /// `skip.0` (the last step already delivered), and the rest.
    async fn open_stream<Req, Frame, F, Fut>(
        &self,
        path: &'static str,
        message: &Req,
        open: F,
        skip: Option<(u32, Option<u64>)>,
    ) -> Result<(Option<Frame>, Streaming<Frame>, Option<InFlight>), ClientError>
    where
        Req: RequestId,
        Frame: Step + Send + 'static,
        F: Fn(&Client, Channel, Request<Req>) -> Fut + Copy,
        Fut: Future<Output = Result<Response<Streaming<Frame>>, Status>>,
    {
        let (last, avoid) = skip.unwrap_or((0, None));
        let ((first, rest), guard) = self
            .with_retries_avoiding(path, message.clone(), Kind::Stream, avoid, |ch, r| {
                let opening = open(self, ch, r);
                async move {
                    let mut frames = opening.await?.into_inner();
                    loop {
                        match frames.message().await? {
                            Some(f) if skip.is_some() && f.step() <= last => continue,
                            first => return Ok((first, frames)),
                        }
                    }
                }
            })
            .await?;
        Ok((first, rest, guard))
    }

    /// Call `call` with fresh headers per attempt until it succeeds, fails with a
    /// code that is not retried, or the attempts, the budget or the retry throttle run
    /// out. Returns the value and the replica it came from (balanced endpoints).
    async fn with_retries<Req, T, F, Fut>(
        &self,
        path: &'static str,
        message: Req,
        kind: Kind,
        call: F,
    ) -> Result<(T, Option<InFlight>), ClientError>
    where
        Req: RequestId,
        F: FnMut(Channel, Request<Req>) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        self.with_retries_avoiding(path, message, kind, None, call)
            .await
    }

    async fn with_retries_avoiding<Req, T, F, Fut>(
        &self,
        path: &'static str,
        message: Req,
        kind: Kind,
        avoid_first: Option<u64>,
        mut call: F,
    ) -> Result<(T, Option<InFlight>), ClientError>
    where
        Req: RequestId,
        F: FnMut(Channel, Request<Req>) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let policy = &self.settings.retry;
        let started = Instant::now();
        let mut message = message;
        let fill_id = message.request_id_mut().is_some_and(|id| id.is_empty());
        let mut avoid: Vec<u64> = avoid_first.into_iter().collect();
        let mut attempt_no = 0u32;
        loop {
            attempt_no += 1;
            let deadline = self
                .settings
                .deadline
                .min(policy.budget.saturating_sub(started.elapsed()))
                .max(Duration::from_millis(1));
            // Before any replica answered, wait for one within the deadline (gRPC's
            // CONNECTING), then send with what is left of it.
            let waited = self.wait_usable(deadline).await?;
            let deadline = deadline
                .saturating_sub(waited)
                .max(Duration::from_millis(1));
            let attempt = self.settings.credentials.attempt(path);
            if fill_id && let Some(id) = message.request_id_mut() {
                id.clone_from(&attempt.request_id);
            }
            let mut request = Request::new(message.clone());
            if kind == Kind::Unary {
                request.set_timeout(deadline);
            }
            attempt.apply(request.metadata_mut())?;
            self.stats.attempts.fetch_add(1, Ordering::Relaxed);
            let (status, guard) = match self.pick(&avoid) {
                Err(status) => (status, None),
                Ok((channel, guard)) => {
                    match tokio::time::timeout(deadline, call(channel, request)).await {
                        Ok(Ok(value)) => {
                            self.report(guard.as_ref(), None);
                            self.throttle_success();
                            return Ok((value, guard));
                        }
                        Ok(Err(status)) => (status, guard),
                        Err(_) => (deadline_exceeded(deadline), guard),
                    }
                }
            };
            // A connection that broke under the call (kill -9, reset) surfaces as
            // UNKNOWN, INTERNAL or CANCELLED with the transport error as its source,
            // never as a status the server sent. Every mfn.v1 RPC is a pure function of
            // its request, so such a call is retried like UNAVAILABLE.
            let code = match status.code() {
                Code::Unknown | Code::Internal | Code::Cancelled
                    if std::error::Error::source(&status).is_some() =>
                {
                    Code::Unavailable
                }
                c => c,
            };
            self.report(guard.as_ref(), Some(code));
            if let Some(g) = &guard
                && is_retryable(code)
            {
                avoid.push(g.member.id);
            }
            drop(guard);
            if !is_retryable(code) || attempt_no >= policy.max_attempts {
                return Err(status.into());
            }
            if !self.throttle_allows_retry() {
                self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(path, attempt = attempt_no, code = ?status.code(), "retry throttled");
                return Err(status.into());
            }
            // A replica that is gone or draining: go to another one at once.
            let failover = code == Code::Unavailable
                && matches!(&self.conn, Conn::Pool(h) if h.pool.has_other_ready(&avoid));
            let wait = if failover {
                Duration::ZERO
            } else {
                let ceiling = policy.backoff_ceiling(attempt_no);
                let jitter = ceiling.mul_f64(rand::rng().random::<f64>());
                jitter.max(retry_hint(&status).unwrap_or_default())
            };
            if started.elapsed() + wait >= policy.budget {
                tracing::debug!(path, attempt = attempt_no, code = ?status.code(), "retry budget spent");
                return Err(status.into());
            }
            tracing::debug!(
                path,
                attempt = attempt_no,
                request_id = %attempt.request_id,
                code = ?status.code(),
                wait_ms = wait.as_millis() as u64,
                failover,
                "retrying"
            );
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
        }
    }

    // --- generated clients with this client's compression -------------------------

    fn simulation(&self, channel: Channel) -> MfnSimulationServiceClient<Channel> {
        let mut c = MfnSimulationServiceClient::new(channel)
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .max_decoding_message_size(MAX_DECODING_MESSAGE_BYTES);
        if let Some(enc) = self.settings.compression {
            c = c.send_compressed(enc);
        }
        c
    }

    fn features(&self, channel: Channel) -> MfnFeaturesServiceClient<Channel> {
        let mut c = MfnFeaturesServiceClient::new(channel)
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .max_decoding_message_size(MAX_DECODING_MESSAGE_BYTES);
        if let Some(enc) = self.settings.compression {
            c = c.send_compressed(enc);
        }
        c
    }

    fn validation(&self, channel: Channel) -> MfnValidationServiceClient<Channel> {
        let mut c = MfnValidationServiceClient::new(channel)
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .max_decoding_message_size(MAX_DECODING_MESSAGE_BYTES);
        if let Some(enc) = self.settings.compression {
            c = c.send_compressed(enc);
        }
        c
    }

    fn mycelium(&self, channel: Channel) -> MyceliumServiceClient<Channel> {
        let mut c = MyceliumServiceClient::new(channel)
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .max_decoding_message_size(MAX_DECODING_MESSAGE_BYTES);
        if let Some(enc) = self.settings.compression {
            c = c.send_compressed(enc);
        }
        c
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("auth", &self.settings.credentials.mode)
            .field("deadline", &self.settings.deadline)
            .field("retry", &self.settings.retry)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// The tonic endpoint of `url` with the settings of `config`, TLS included; `domain`
/// is the name checked against the server certificate when the URL holds an address
/// (members of a `dns:///` endpoint).
fn endpoint(
    config: &ClientConfig,
    url: &str,
    domain: Option<&str>,
) -> Result<Endpoint, ClientError> {
    let invalid =
        |e: tonic::transport::Error| ClientError::InvalidConfig(format!("endpoint {url:?}: {e}"));
    let mut endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(invalid)?
        .user_agent(concat!("mfn-client/", env!("CARGO_PKG_VERSION")))
        .map_err(invalid)?
        .connect_timeout(config.connect_timeout)
        .tcp_nodelay(true);
    if url.starts_with("https://") {
        let opts = config.tls.clone().unwrap_or_default();
        let mut tls = ClientTlsConfig::new().with_enabled_roots();
        if let Some(ca) = opts.ca_pem {
            tls = tls.ca_certificate(Certificate::from_pem(ca));
        }
        if let (Some(cert), Some(key)) = (opts.client_cert_pem, opts.client_key_pem) {
            tls = tls.identity(Identity::from_pem(cert, key));
        }
        if let Some(name) = opts.domain_name.as_deref().or(domain) {
            tls = tls.domain_name(name);
        }
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| ClientError::InvalidConfig(format!("tls: {e}")))?;
    }
    Ok(endpoint)
}

fn milli(x: f64) -> u64 {
    (x * 1000.0).round().clamp(0.0, u64::MAX as f64) as u64
}

fn deadline_exceeded(deadline: Duration) -> Status {
    Status::deadline_exceeded(format!("no answer within {} ms", deadline.as_millis()))
}

macro_rules! request_id {
    ($($t:ty),* $(,)?) => {$(
        impl RequestId for $t {
            fn request_id_mut(&mut self) -> Option<&mut String> {
                Some(&mut self.request_id)
            }
        }
    )*};
}

request_id!(
    pb::RunSimulationRequest,
    pb::StreamSimulationRequest,
    pb::ExtractFeaturesRequest,
    pb::StreamFeaturesRequest,
    pb::ValidatePatternRequest,
    pb::NernstRequest,
    pb::FractalRequest,
    pb::IfsRequest,
    pb::FederatedAggregateRequest,
);

impl Step for pb::SimulationFrame {
    fn step(&self) -> u32 {
        self.step
    }
}

impl Step for pb::FeatureFrame {
    fn step(&self) -> u32 {
        self.step
    }
}

impl RequestId for pb::HealthCheckRequest {
    fn request_id_mut(&mut self) -> Option<&mut String> {
        None
    }
}

impl RequestId for GrpcHealthCheckRequest {
    fn request_id_mut(&mut self) -> Option<&mut String> {
        None
    }
}
