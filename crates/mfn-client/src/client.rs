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
use tonic::{Request, Response, Status};
use tonic_health::pb::HealthCheckRequest as GrpcHealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::auth::Credentials;
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

/// An MFN client. Cheap to clone; clones share the connection and the counters.
#[derive(Clone)]
pub struct Client {
    channel: Channel,
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
}

/// Whether an attempt's deadline goes to the server as `grpc-timeout`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The deadline bounds the whole call.
    Unary,
    /// The deadline bounds only the opening of the stream (up to the first frame).
    Stream,
}

/// Request messages with a `request_id` field the client fills when empty.
trait RequestId: Clone {
    fn request_id_mut(&mut self) -> Option<&mut String>;
}

impl Client {
    /// Validate `config`, then connect to the server. Fails if the server cannot be
    /// reached now; see [`Client::connect_lazy`] for a client that dials on first use.
    pub async fn connect(config: ClientConfig) -> Result<Client, ClientError> {
        let endpoint = endpoint(&config)?;
        let channel = endpoint.connect().await?;
        Ok(Client::with_channel(channel, &config))
    }

    /// Validate `config` and build a client without any I/O. The connection is made on
    /// the first call and remade after it breaks; until then calls fail with
    /// `UNAVAILABLE` (and are retried as the policy says).
    pub fn connect_lazy(config: ClientConfig) -> Result<Client, ClientError> {
        let endpoint = endpoint(&config)?;
        Ok(Client::with_channel(endpoint.connect_lazy(), &config))
    }

    /// A client over an existing channel (for custom transports). `config.endpoint`
    /// and `config.tls` are ignored.
    pub fn with_channel(channel: Channel, config: &ClientConfig) -> Client {
        Client {
            channel,
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
            stats: Arc::default(),
        }
    }

    /// Attempts and retries made so far by this client and its clones.
    pub fn stats(&self) -> ClientStats {
        ClientStats {
            attempts: self.stats.attempts.load(Ordering::Relaxed),
            retries: self.stats.retries.load(Ordering::Relaxed),
        }
    }

    // --- MFNSimulationService ---------------------------------------------------

    /// `MFNSimulationService/RunSimulation`: run a simulation, return its summary.
    pub async fn run_simulation(
        &self,
        request: pb::RunSimulationRequest,
    ) -> Result<pb::RunSimulationResponse, ClientError> {
        self.unary(paths::RUN_SIMULATION, request, |r| {
            let mut c = self.simulation();
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
        self.server_stream(paths::STREAM_SIMULATION, request, |r| {
            let mut c = self.simulation();
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
        self.stats.attempts.fetch_add(1, Ordering::Relaxed);
        let mut c = self.simulation();
        let deadline = self.settings.deadline;
        let events = match tokio::time::timeout(deadline, c.steer_simulation(req)).await {
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
        self.unary(paths::EXTRACT_FEATURES, request, |r| {
            let mut c = self.features();
            async move { c.extract_features(r).await }
        })
        .await
    }

    /// `MFNFeaturesService/StreamFeatures`: features as the run progresses.
    pub async fn stream_features(
        &self,
        request: pb::StreamFeaturesRequest,
    ) -> Result<FrameStream<pb::FeatureFrame>, ClientError> {
        self.server_stream(paths::STREAM_FEATURES, request, |r| {
            let mut c = self.features();
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
        self.unary(paths::VALIDATE_PATTERN, request, |r| {
            let mut c = self.validation();
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
        self.unary(paths::MYCELIUM_VALIDATE, request, |r| {
            let mut c = self.mycelium();
            async move { c.validate(r).await }
        })
        .await
    }

    /// `MyceliumService/Simulate`: same as [`Client::run_simulation`].
    pub async fn simulate(
        &self,
        request: pb::RunSimulationRequest,
    ) -> Result<pb::RunSimulationResponse, ClientError> {
        self.unary(paths::MYCELIUM_SIMULATE, request, |r| {
            let mut c = self.mycelium();
            async move { c.simulate(r).await }
        })
        .await
    }

    /// `MyceliumService/SimulateStream`: same as [`Client::stream_simulation`].
    pub async fn simulate_stream(
        &self,
        request: pb::StreamSimulationRequest,
    ) -> Result<FrameStream<pb::SimulationFrame>, ClientError> {
        self.server_stream(paths::MYCELIUM_SIMULATE_STREAM, request, |r| {
            let mut c = self.mycelium();
            async move { c.simulate_stream(r).await }
        })
        .await
    }

    /// `MyceliumService/ComputeNernst`: a Nernst equilibrium potential.
    pub async fn compute_nernst(
        &self,
        request: pb::NernstRequest,
    ) -> Result<pb::NernstResponse, ClientError> {
        self.unary(paths::COMPUTE_NERNST, request, |r| {
            let mut c = self.mycelium();
            async move { c.compute_nernst(r).await }
        })
        .await
    }

    /// `MyceliumService/AggregateFederated`: hierarchical Krum aggregation.
    pub async fn aggregate_federated(
        &self,
        request: pb::FederatedAggregateRequest,
    ) -> Result<pb::FederatedAggregateResponse, ClientError> {
        self.unary(paths::AGGREGATE_FEDERATED, request, |r| {
            let mut c = self.mycelium();
            async move { c.aggregate_federated(r).await }
        })
        .await
    }

    /// `MyceliumService/ComputeFractalDimension`: box counting over a square array.
    pub async fn compute_fractal_dimension(
        &self,
        request: pb::FractalRequest,
    ) -> Result<pb::FractalResponse, ClientError> {
        self.unary(paths::COMPUTE_FRACTAL_DIMENSION, request, |r| {
            let mut c = self.mycelium();
            async move { c.compute_fractal_dimension(r).await }
        })
        .await
    }

    /// `MyceliumService/GenerateIFS`: an IFS orbit and its Lyapunov exponent.
    pub async fn generate_ifs(
        &self,
        request: pb::IfsRequest,
    ) -> Result<pb::IfsResponse, ClientError> {
        self.unary(paths::GENERATE_IFS, request, |r| {
            let mut c = self.mycelium();
            async move { c.generate_ifs(r).await }
        })
        .await
    }

    /// `MyceliumService/HealthCheck`: status, version and uptime.
    pub async fn health_check(&self) -> Result<pb::HealthCheckResponse, ClientError> {
        self.unary(paths::HEALTH_CHECK, pb::HealthCheckRequest {}, |r| {
            let mut c = self.mycelium();
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
            .unary(paths::GRPC_HEALTH_CHECK, request, |r| {
                let mut c = HealthClient::new(self.channel.clone());
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
        F: FnMut(Request<Req>) -> Fut,
        Fut: Future<Output = Result<Response<Resp>, Status>>,
    {
        let response = self.with_retries(path, message, Kind::Unary, call).await?;
        Ok(response.into_inner())
    }

    /// Open a server stream, retrying until the first frame (or the end) arrives.
    async fn server_stream<Req, Frame, F, Fut>(
        &self,
        path: &'static str,
        message: Req,
        mut open: F,
    ) -> Result<FrameStream<Frame>, ClientError>
    where
        Req: RequestId,
        Frame: Send + 'static,
        F: FnMut(Request<Req>) -> Fut,
        Fut: Future<Output = Result<Response<Streaming<Frame>>, Status>>,
    {
        let (first, rest) = self
            .with_retries(path, message, Kind::Stream, |r| {
                let opening = open(r);
                async move {
                    let mut frames = opening.await?.into_inner();
                    let first = frames.message().await?;
                    Ok((first, frames))
                }
            })
            .await?;
        Ok(match first {
            None => stream::empty().boxed(),
            Some(first) => stream::once(async { Ok(first) })
                .chain(rest.map(|r| r.map_err(ClientError::from)))
                .boxed(),
        })
    }

    /// Call `call` with fresh headers per attempt until it succeeds, fails with a
    /// code that is not retried, or the attempts or the budget run out.
    async fn with_retries<Req, T, F, Fut>(
        &self,
        path: &'static str,
        message: Req,
        kind: Kind,
        mut call: F,
    ) -> Result<T, ClientError>
    where
        Req: RequestId,
        F: FnMut(Request<Req>) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let policy = &self.settings.retry;
        let started = Instant::now();
        let mut message = message;
        let fill_id = message.request_id_mut().is_some_and(|id| id.is_empty());
        let mut attempt_no = 0u32;
        loop {
            attempt_no += 1;
            let deadline = self
                .settings
                .deadline
                .min(policy.budget.saturating_sub(started.elapsed()))
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
            let status = match tokio::time::timeout(deadline, call(request)).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(status)) => status,
                Err(_) => deadline_exceeded(deadline),
            };
            if !is_retryable(status.code()) || attempt_no >= policy.max_attempts {
                return Err(status.into());
            }
            let ceiling = policy.backoff_ceiling(attempt_no);
            let jitter = ceiling.mul_f64(rand::rng().random::<f64>());
            let wait = jitter.max(retry_hint(&status).unwrap_or_default());
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
                "retrying"
            );
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
        }
    }

    // --- generated clients with this client's compression -------------------------

    fn simulation(&self) -> MfnSimulationServiceClient<Channel> {
        let mut c = MfnSimulationServiceClient::new(self.channel.clone())
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .max_decoding_message_size(MAX_DECODING_MESSAGE_BYTES);
        if let Some(enc) = self.settings.compression {
            c = c.send_compressed(enc);
        }
        c
    }

    fn features(&self) -> MfnFeaturesServiceClient<Channel> {
        let mut c = MfnFeaturesServiceClient::new(self.channel.clone())
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .max_decoding_message_size(MAX_DECODING_MESSAGE_BYTES);
        if let Some(enc) = self.settings.compression {
            c = c.send_compressed(enc);
        }
        c
    }

    fn validation(&self) -> MfnValidationServiceClient<Channel> {
        let mut c = MfnValidationServiceClient::new(self.channel.clone())
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .max_decoding_message_size(MAX_DECODING_MESSAGE_BYTES);
        if let Some(enc) = self.settings.compression {
            c = c.send_compressed(enc);
        }
        c
    }

    fn mycelium(&self) -> MyceliumServiceClient<Channel> {
        let mut c = MyceliumServiceClient::new(self.channel.clone())
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

/// The tonic endpoint for `config`, TLS included.
fn endpoint(config: &ClientConfig) -> Result<Endpoint, ClientError> {
    config.validate()?;
    let invalid = |e: tonic::transport::Error| {
        ClientError::InvalidConfig(format!("endpoint {:?}: {e}", config.endpoint))
    };
    let mut endpoint = Endpoint::from_shared(config.endpoint.clone())
        .map_err(invalid)?
        .user_agent(concat!("mfn-client/", env!("CARGO_PKG_VERSION")))
        .map_err(invalid)?
        .connect_timeout(config.connect_timeout)
        .tcp_nodelay(true);
    if config.is_https() {
        let opts = config.tls.clone().unwrap_or_default();
        let mut tls = ClientTlsConfig::new().with_enabled_roots();
        if let Some(ca) = opts.ca_pem {
            tls = tls.ca_certificate(Certificate::from_pem(ca));
        }
        if let (Some(cert), Some(key)) = (opts.client_cert_pem, opts.client_key_pem) {
            tls = tls.identity(Identity::from_pem(cert, key));
        }
        if let Some(name) = opts.domain_name {
            tls = tls.domain_name(name);
        }
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| ClientError::InvalidConfig(format!("tls: {e}")))?;
    }
    Ok(endpoint)
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
