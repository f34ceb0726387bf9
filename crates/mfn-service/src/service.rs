//! [`MfnService`]: the operations every door calls.
//!
//! Each operation validates its request (limits before allocation), consults the result
//! cache, runs the computation through the [`ComputeGate`] and returns a domain result
//! plus [`Meta`]. Nothing here knows a transport.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mfn_core::features::{self, Features};
use mfn_core::federated;
use mfn_core::field::{self, SimulationResult};
use mfn_core::nernst;
use mfn_core::validation::{self, ValidationReport};
use tokio::sync::watch;

use crate::cache::{CacheStatus, ResultCache, Weigh};
use crate::error::ServiceError;
use crate::gate::{Admission, ComputeGate};
use crate::ops::Call;
use crate::request::{
    AggregateRequest, FeaturesRequest, FeaturesSpec, FractalRequest, IfsRequest, Limits,
    NernstRequest, SimInput, SimSpec, SimulationRequest, ValidateRequest,
};

/// The server's version, reported in every `ResponseMeta`.
pub const SERVER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// How the service layer is sized.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceConfig {
    /// Request limits.
    pub limits: Limits,
    /// Compute threads.
    pub workers: usize,
    /// Jobs that may wait for a compute thread.
    pub queue: usize,
    /// Cache entries (0 disables the cache).
    pub cache_entries: usize,
    /// Cache bytes (0 disables the cache).
    pub cache_bytes: usize,
    /// Where graphs are stored.
    pub graphs: GraphStoreConfig,
    /// Deadline of one tool call; the computation is cancelled when it passes.
    pub tool_timeout: Duration,
}

/// The graph store: shared in Redis when `shared` names a server, else durable under
/// `data_dir`, or in memory when both are `None` (tests, CLI).
#[derive(Debug, Clone, PartialEq)]
pub struct GraphStoreConfig {
    /// `MFN_DATA_DIR`; `graphs.redb` lives there.
    pub data_dir: Option<std::path::PathBuf>,
    /// `MFN_GRAPH_STORE=redis://…`: the shared store of replicas; `data_dir` is then
    /// unused.
    pub shared: Option<String>,
    /// `MFN_GRAPH_STORE_PASSWORD_FILE`: the shared store's password, read at start.
    pub shared_password_file: Option<std::path::PathBuf>,
    /// Bytes of loaded graphs kept in memory (`MFN_GRAPH_CACHE_MB`).
    pub cache_bytes: usize,
    /// Graph sizes and per-call limits.
    pub limits: mfn_graph::Limits,
}

impl Default for GraphStoreConfig {
    fn default() -> Self {
        GraphStoreConfig {
            data_dir: None,
            shared: None,
            shared_password_file: None,
            cache_bytes: 256 << 20,
            limits: mfn_graph::Limits::default(),
        }
    }
}

impl Default for ServiceConfig {
    fn default() -> Self {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        ServiceConfig {
            limits: Limits::default(),
            workers,
            queue: 64,
            cache_entries: 1024,
            cache_bytes: 64 << 20,
            graphs: GraphStoreConfig::default(),
            tool_timeout: Duration::from_secs(300),
        }
    }
}

/// Per-request context from the transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// The client's request id, or a generated UUID.
    pub request_id: String,
}

impl RequestContext {
    /// Use the client's id when it sent a non-empty one, else generate one.
    pub fn new(request_id: Option<&str>) -> Self {
        let request_id = match request_id.map(str::trim) {
            Some(id) if !id.is_empty() => id.chars().take(128).collect(),
            _ => uuid::Uuid::new_v4().to_string(),
        };
        RequestContext { request_id }
    }
}

/// What every response reports besides its result.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    /// Echoed or generated request id.
    pub request_id: String,
    /// Wall time spent in the service.
    pub elapsed: Duration,
    /// Whether the result came from the cache.
    pub cache: CacheStatus,
}

impl Meta {
    pub(crate) fn since(ctx: &RequestContext, start: Instant, cache: CacheStatus) -> Self {
        Meta {
            request_id: ctx.request_id.clone(),
            elapsed: start.elapsed(),
            cache,
        }
    }

    /// The `ResponseMeta` map: `server_version`, `elapsed_ms`, `cache`.
    pub fn entries(&self) -> [(&'static str, String); 3] {
        [
            ("server_version", SERVER_VERSION.to_string()),
            (
                "elapsed_ms",
                format!("{:.3}", self.elapsed.as_secs_f64() * 1e3),
            ),
            ("cache", self.cache.as_str().to_string()),
        ]
    }
}

/// A simulation's result. `result.field` is empty unless the request asked for it.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulationOutput {
    /// The validated request (seed and parameters after defaults).
    pub spec: SimSpec,
    /// Summary (and field, in volts, when requested).
    pub result: Arc<SimulationResult>,
    /// SHA-256 hex of the final field's little-endian f64 bytes (volts, row-major).
    pub field_sha256: Arc<str>,
    /// With Turing, for the CLI's report only: SHA-256 hex of the final activator and
    /// inhibitor, hashed the same way (what the NumPy interop check compares). No
    /// network door returns them, so servers skip hashing 2·N² more values a run.
    pub turing_sha256: Option<Arc<(String, String)>>,
}

/// SHA-256 hex of `values` as little-endian f64 bytes, in order.
pub fn sha256_f64_le<S: mfn_core::stats::Seq + ?Sized>(values: &S) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let mut bytes = [0u8; 8 * 128];
    values.pieces(0, values.len(), |piece| {
        for block in piece.chunks(128) {
            for (out, v) in bytes.chunks_exact_mut(8).zip(block) {
                out.copy_from_slice(&v.to_le_bytes());
            }
            hasher.update(&bytes[..8 * block.len()]);
        }
    });
    hex_digest(hasher)
}

/// `rayon::join` of `a` and `b` when the work is worth handing half of it to another
/// thread, else one after the other on this one.
fn join_if<A: Send, B: Send>(
    parallel: bool,
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    if parallel {
        rayon::join(a, b)
    } else {
        (a(), b())
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex_digest(Sha256::new_with_prefix(bytes))
}

fn hex_digest(hasher: sha2::Sha256) -> String {
    use sha2::Digest;
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Features and the summary of the run they came from (without the field).
#[derive(Debug, Clone, PartialEq)]
pub struct FeaturesOutput {
    /// The 18 features.
    pub features: Features,
    /// The run's summary; `field` is empty.
    pub summary: SimulationResult,
}

/// A Nernst potential.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NernstOutput {
    /// Potential, mV.
    pub potential_mv: f64,
    /// RT/F at the temperature used, mV.
    pub rt_over_f_mv: f64,
    /// Temperature used, K.
    pub temperature_k: f64,
}

/// An aggregated gradient.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateOutput {
    /// The robust aggregate.
    pub aggregated_gradient: Vec<f64>,
    /// How many gradients came in.
    pub num_input_gradients: usize,
}

/// A box-counting fit.
#[derive(Debug, Clone, PartialEq)]
pub struct FractalOutput {
    /// Least-squares slope of ln(count) against ln(1/size).
    pub dimension: f64,
    /// Coefficient of determination of that fit.
    pub r_squared: f64,
    /// Box sides tried, ascending.
    pub box_sizes: Vec<usize>,
    /// Occupied boxes per size.
    pub counts: Vec<u64>,
}

/// An IFS orbit, summarised.
#[derive(Debug, Clone, PartialEq)]
pub struct IfsOutput {
    /// Mean log-contraction of the maps applied (negative: contracting).
    pub lyapunov: f64,
    /// SHA-256 hex of the points as little-endian f64 (x, y) pairs.
    pub points_sha256: String,
    /// Points generated.
    pub num_points: usize,
}

/// Liveness and readiness as the `HealthCheck` RPC and the probes report them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthInfo {
    /// False while draining.
    pub serving: bool,
    /// Server version.
    pub version: &'static str,
    /// Seconds since start.
    pub uptime_seconds: f64,
}

#[derive(Debug, Clone)]
enum Cached {
    Sim(
        Arc<SimulationResult>,
        Arc<str>,
        Option<Arc<(String, String)>>,
    ),
    Features(Arc<FeaturesOutput>),
    Validation(Arc<ValidationReport>),
}

impl Weigh for Cached {
    fn weight(&self) -> usize {
        const BASE: usize = 256;
        match self {
            Cached::Sim(r, _, _) => BASE + r.field.len() * 8,
            Cached::Features(_) | Cached::Validation(_) => BASE,
        }
    }
}

/// Counters of streams, read by metrics and tests.
#[derive(Debug, Default)]
pub struct StreamStats {
    pub(crate) active: AtomicI64,
    pub(crate) started: AtomicU64,
    pub(crate) cancelled: AtomicU64,
    pub(crate) frames: AtomicU64,
}

impl StreamStats {
    /// Streams running now (`grpc_active_streams`).
    pub fn active(&self) -> i64 {
        self.active.load(Ordering::Relaxed)
    }
    /// Streams started since start.
    pub fn started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }
    /// Streams stopped because the client went away.
    pub fn cancelled(&self) -> u64 {
        self.cancelled.load(Ordering::Relaxed)
    }
    /// Frames sent.
    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }
}

/// The MFN service layer. Cheap to clone; all clones share the gate, cache and state.
#[derive(Debug, Clone)]
pub struct MfnService {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: ServiceConfig,
    pub(crate) gate: ComputeGate,
    cache: ResultCache<Cached>,
    pub(crate) draining: watch::Sender<bool>,
    started: Instant,
    pub(crate) streams: StreamStats,
    pub(crate) graphs: Arc<dyn mfn_graph::store::GraphStore>,
}

impl MfnService {
    /// Build the service: the compute pool and the cache.
    pub fn new(config: ServiceConfig) -> Result<Self, ServiceError> {
        let gate = ComputeGate::new(config.workers, config.queue)?;
        let cache = ResultCache::new(config.cache_entries, config.cache_bytes);
        let g = &config.graphs;
        let graphs: Arc<dyn mfn_graph::store::GraphStore> = match (&g.shared, &g.data_dir) {
            (Some(url), _) => {
                let password = match &g.shared_password_file {
                    Some(path) => Some(
                        std::fs::read_to_string(path)
                            .map_err(|e| {
                                ServiceError::invalid(
                                    "MFN_GRAPH_STORE_PASSWORD_FILE",
                                    format!("cannot read {}: {e}", path.display()),
                                )
                            })?
                            .trim()
                            .to_owned(),
                    ),
                    None => None,
                };
                let store = mfn_graph::store::RedisStore::open_with_password(
                    url,
                    password.as_deref(),
                    g.cache_bytes,
                    g.limits.clone(),
                )
                .map_err(ServiceError::from)?;
                // A server that is down makes graph calls UNAVAILABLE until it is back;
                // the rest of the service works without it.
                match store.ping() {
                    Ok(()) => tracing::info!(server = store.server(), "graph store: redis"),
                    Err(error) => tracing::warn!(
                        server = store.server(),
                        %error,
                        "graph store: redis is not reachable yet; graph calls are unavailable until it is"
                    ),
                }
                Arc::new(store)
            }
            (None, Some(dir)) => Arc::new(
                mfn_graph::store::RedbStore::open(dir, g.cache_bytes, g.limits.clone()).map_err(
                    |e| {
                        ServiceError::new(
                            crate::ErrorCode::Unavailable,
                            format!("cannot open the graph store in {}: {e}", dir.display()),
                        )
                    },
                )?,
            ),
            (None, None) => Arc::new(mfn_graph::store::MemoryStore::new(g.limits.clone())),
        };
        Ok(MfnService {
            inner: Arc::new(Inner {
                config,
                gate,
                cache,
                draining: watch::channel(false).0,
                started: Instant::now(),
                streams: StreamStats::default(),
                graphs,
            }),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &ServiceConfig {
        &self.inner.config
    }

    /// The compute gate (its stats feed metrics).
    pub fn gate(&self) -> &ComputeGate {
        &self.inner.gate
    }

    /// Stream counters.
    pub fn stream_stats(&self) -> &StreamStats {
        &self.inner.streams
    }

    /// Cache (hits, misses, entries, bytes).
    pub fn cache_stats(&self) -> (u64, u64, usize, usize) {
        let c = &self.inner.cache;
        let (n, b) = c.usage();
        (c.hits(), c.misses(), n, b)
    }

    /// Stop taking new work: new requests get `UNAVAILABLE`, running streams end with
    /// `UNAVAILABLE` after their current frame, in-flight unary calls finish.
    pub fn begin_drain(&self) {
        self.inner.draining.send_replace(true);
    }

    /// Whether [`MfnService::begin_drain`] was called.
    pub fn is_draining(&self) -> bool {
        *self.inner.draining.borrow()
    }

    /// Resolves once the drain has begun (at once if it already has).
    pub async fn drained(&self) {
        let mut rx = self.inner.draining.subscribe();
        let _ = rx.wait_for(|d| *d).await;
    }

    /// Liveness/readiness summary.
    pub fn health(&self) -> HealthInfo {
        HealthInfo {
            serving: !self.is_draining(),
            version: SERVER_VERSION,
            uptime_seconds: self.inner.started.elapsed().as_secs_f64(),
        }
    }

    pub(crate) fn admit(&self) -> Result<(), ServiceError> {
        if self.is_draining() {
            Err(ServiceError::draining())
        } else {
            Ok(())
        }
    }

    fn limits(&self) -> &Limits {
        &self.inner.config.limits
    }

    /// `RunSimulation`: the summary, and the field when `include_field`. Progress goes
    /// to the call's sink about every 1 % of the steps.
    pub async fn simulate(
        &self,
        call: &Call,
        req: &SimulationRequest,
    ) -> Result<(SimulationOutput, Meta), ServiceError> {
        let start = Instant::now();
        let ctx = &call.ctx;
        self.admit()?;
        let spec = req.sim.resolve(self.limits())?;
        let turing_digests = call.door == crate::ops::Door::Cli && spec.params.turing_enabled;
        let key = format!(
            "sim;{};field={};td={turing_digests}",
            spec.key(),
            req.include_field
        );
        if let Some(Cached::Sim(result, field_sha256, turing_sha256)) = self.inner.cache.get(&key) {
            let meta = Meta::since(ctx, start, CacheStatus::Hit);
            let out = SimulationOutput {
                spec,
                result,
                field_sha256,
                turing_sha256,
            };
            return Ok((out, meta));
        }
        let include_field = req.include_field;
        let job_spec = spec.clone();
        let progress = call.progress.clone();
        let (result, field_sha256, turing_sha256) = self
            .inner
            .gate
            .run(Admission::FailFast, move |tok| {
                let steps = job_spec.params.steps;
                let every = (steps / 100).max(1);
                let mut sim = field::Simulation::new(&job_spec.params, job_spec.seed)?;
                // A pass of the kernel at a time: large grids take two steps per pass.
                let pass = sim.steps_per_pass();
                let mut done = 0;
                while done < steps {
                    tok.check()?;
                    let k = pass.min(steps - done);
                    sim.run(k)?;
                    done += k;
                    if let Some(p) = &progress
                        && done / every > (done - k) / every
                    {
                        p(done as u64, steps as u64);
                    }
                }
                // The summary and the digests read the state independently: for a grid
                // that steps row-parallel, side by side on the gate's idle workers (at
                // 512² each digest is about a millisecond).
                let [v, a, i] = sim.grids();
                let large = job_spec.params.grid_size >= field::PARALLEL_MIN_GRID;
                let ((r, digest), turing) = join_if(
                    large,
                    || {
                        join_if(
                            large,
                            || {
                                if include_field {
                                    sim.summary()
                                } else {
                                    sim.summary_without_field()
                                }
                            },
                            || Arc::<str>::from(sha256_f64_le(&v)),
                        )
                    },
                    || {
                        turing_digests.then(|| {
                            Arc::new(join_if(large, || sha256_f64_le(&a), || sha256_f64_le(&i)))
                        })
                    },
                );
                Ok((Arc::new(r), digest, turing))
            })
            .await?;
        let status = self.store(
            key,
            Cached::Sim(result.clone(), field_sha256.clone(), turing_sha256.clone()),
        );
        let out = SimulationOutput {
            spec,
            result,
            field_sha256,
            turing_sha256,
        };
        Ok((out, Meta::since(ctx, start, status)))
    }

    /// The final field of a simulation as a PNG heatmap (`render_field`): the (cached)
    /// simulation, then the rendering, both on the compute gate.
    pub async fn simulate_png(
        &self,
        call: &Call,
        sim: &SimInput,
    ) -> Result<(Vec<u8>, SimulationOutput, Meta), ServiceError> {
        let req = SimulationRequest {
            sim: sim.clone(),
            include_field: true,
        };
        let (out, meta) = self.simulate(call, &req).await?;
        let n = out.spec.params.grid_size;
        let result = out.result.clone();
        let png = self
            .inner
            .gate
            .run(Admission::FailFast, move |_| {
                crate::render::field_png(&result.field, n)
            })
            .await?;
        Ok((png, out, meta))
    }

    /// `ExtractFeatures`: simulate, then the 18 features.
    pub async fn extract_features(
        &self,
        ctx: &RequestContext,
        req: &FeaturesRequest,
    ) -> Result<(Arc<FeaturesOutput>, Meta), ServiceError> {
        let start = Instant::now();
        self.admit()?;
        let spec = req.resolve(self.limits())?;
        let key = format!("features;{}", spec.key());
        if let Some(Cached::Features(out)) = self.inner.cache.get(&key) {
            return Ok((out, Meta::since(ctx, start, CacheStatus::Hit)));
        }
        let out = self
            .inner
            .gate
            .run(Admission::FailFast, move |tok| {
                compute_features(&spec, tok).map(Arc::new)
            })
            .await?;
        let status = self.store(key, Cached::Features(out.clone()));
        Ok((out, Meta::since(ctx, start, status)))
    }

    /// `ValidatePattern`: train the model on simulated fields.
    pub async fn validate_pattern(
        &self,
        ctx: &RequestContext,
        req: &ValidateRequest,
    ) -> Result<(Arc<ValidationReport>, Meta), ServiceError> {
        let start = Instant::now();
        self.admit()?;
        let cfg = req.resolve(self.limits())?;
        let key = format!("validate;{cfg:?}");
        if let Some(Cached::Validation(r)) = self.inner.cache.get(&key) {
            return Ok((r, Meta::since(ctx, start, CacheStatus::Hit)));
        }
        let report = self
            .inner
            .gate
            .run(Admission::FailFast, move |tok| {
                tok.check()?;
                Ok(Arc::new(validation::validate_pattern(&cfg)?))
            })
            .await?;
        let status = self.store(key, Cached::Validation(report.clone()));
        Ok((report, Meta::since(ctx, start, status)))
    }

    /// `ComputeNernst`. A handful of flops: computed inline, not through the gate.
    pub fn nernst(
        &self,
        ctx: &RequestContext,
        req: &NernstRequest,
    ) -> Result<(NernstOutput, Meta), ServiceError> {
        let start = Instant::now();
        self.admit()?;
        let p = req.resolve()?;
        let out = NernstOutput {
            potential_mv: nernst::nernst_potential_mv(&p),
            rt_over_f_mv: nernst::rt_over_f_mv(p.temperature_k),
            temperature_k: p.temperature_k,
        };
        Ok((out, Meta::since(ctx, start, CacheStatus::Bypass)))
    }

    /// `AggregateFederated`: hierarchical Krum.
    pub async fn aggregate(
        &self,
        ctx: &RequestContext,
        req: AggregateRequest,
    ) -> Result<(AggregateOutput, Meta), ServiceError> {
        let start = Instant::now();
        self.admit()?;
        let params = req.resolve(self.limits())?;
        let n = req.gradients.len();
        let aggregated = self
            .inner
            .gate
            .run(Admission::FailFast, move |tok| {
                tok.check()?;
                Ok(federated::aggregate(&req.gradients, &params)?)
            })
            .await?;
        Ok((
            AggregateOutput {
                aggregated_gradient: aggregated,
                num_input_gradients: n,
            },
            Meta::since(ctx, start, CacheStatus::Bypass),
        ))
    }

    /// `ComputeFractalDimension`: box counting over a client's array.
    pub async fn fractal_dimension(
        &self,
        ctx: &RequestContext,
        req: FractalRequest,
    ) -> Result<(FractalOutput, Meta), ServiceError> {
        let start = Instant::now();
        self.admit()?;
        let (mask, n, params) = req.resolve(self.limits())?;
        drop(req);
        let r = self
            .inner
            .gate
            .run(Admission::FailFast, move |tok| {
                tok.check()?;
                Ok(mfn_core::fractal::box_count(&mask, n, &params)?)
            })
            .await?;
        let out = FractalOutput {
            dimension: r.dimension,
            r_squared: r.r_squared,
            box_sizes: r.box_sizes,
            counts: r.counts,
        };
        Ok((out, Meta::since(ctx, start, CacheStatus::Bypass)))
    }

    /// `GenerateIFS`: a seeded orbit and its Lyapunov exponent.
    pub async fn ifs(
        &self,
        ctx: &RequestContext,
        req: &IfsRequest,
    ) -> Result<(IfsOutput, Meta), ServiceError> {
        let start = Instant::now();
        self.admit()?;
        let (seed, points, transforms) = req.resolve()?;
        let out = self
            .inner
            .gate
            .run(Admission::FailFast, move |tok| {
                tok.check()?;
                let mut rng = mfn_core::rng::Rng::new(seed);
                let r = mfn_core::ifs::generate_fractal_ifs(&mut rng, points, transforms)?;
                let bytes = mfn_core::ifs::points_sha256_bytes(&r.points);
                Ok(IfsOutput {
                    lyapunov: r.lyapunov,
                    points_sha256: sha256_hex(&bytes),
                    num_points: r.points.len(),
                })
            })
            .await?;
        Ok((out, Meta::since(ctx, start, CacheStatus::Bypass)))
    }

    /// The graph store (for resources such as MCP's `graph://{name}`).
    pub fn graph_store(&self) -> &Arc<dyn mfn_graph::store::GraphStore> {
        &self.inner.graphs
    }

    /// Every tenant's graphs, for an `admin` caller: `(tenant, info)` by tenant, name.
    pub async fn list_all_graphs(
        &self,
    ) -> Result<Vec<(String, mfn_graph::store::GraphInfo)>, ServiceError> {
        self.admit()?;
        let store = self.inner.graphs.clone();
        self.inner
            .gate
            .run(Admission::FailFast, move |_| Ok(store.list_all()?))
            .await
    }

    fn store(&self, key: String, value: Cached) -> CacheStatus {
        if self.inner.cache.enabled() {
            self.inner.cache.insert(key, value);
            CacheStatus::Miss
        } else {
            CacheStatus::Bypass
        }
    }
}

/// The features of a validated request, computed on the calling thread (inside the gate).
pub(crate) fn compute_features(
    spec: &FeaturesSpec,
    tok: &crate::gate::CancelToken,
) -> Result<FeaturesOutput, ServiceError> {
    let p = &spec.sim.params;
    let mut sim = field::Simulation::new(p, spec.sim.seed)?;
    let mut history = Vec::with_capacity(if spec.with_history { p.steps } else { 1 });
    for _ in 0..p.steps {
        tok.check()?;
        sim.step()?;
        if spec.with_history {
            history.push(sim.field().to_vec());
        }
    }
    let mut summary = sim.summary();
    if !spec.with_history {
        history.push(std::mem::take(&mut summary.field));
    }
    let features = features::extract_features(&history, p.grid_size, &spec.options)?;
    summary.field = Vec::new();
    Ok(FeaturesOutput { features, summary })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::request::SimInput;

    fn svc() -> MfnService {
        MfnService::new(ServiceConfig {
            workers: 2,
            queue: 4,
            ..ServiceConfig::default()
        })
        .unwrap()
    }

    fn ctx() -> RequestContext {
        RequestContext::new(Some("t-1"))
    }

    fn call() -> crate::ops::Call {
        crate::ops::Call::new(crate::ops::Door::Cli, ctx())
    }

    #[tokio::test]
    async fn defaults_give_the_golden_run_and_the_cache_replays_it() {
        let s = svc();
        let req = SimulationRequest::default();
        let (a, m1) = s.simulate(&call(), &req).await.unwrap();
        assert_eq!(m1.cache, CacheStatus::Miss);
        assert_eq!(a.result.growth_events, 14);
        assert_eq!(a.result.pot_mean_mv, -70.03076248064738);
        assert!(a.result.field.is_empty());
        // Same request spelled with explicit defaults: same entry.
        let explicit = SimulationRequest {
            sim: SimInput {
                grid_size: Some(64),
                seed: Some(42),
                ..Default::default()
            },
            include_field: false,
        };
        let (b, m2) = s.simulate(&call(), &explicit).await.unwrap();
        assert_eq!(m2.cache, CacheStatus::Hit);
        assert_eq!(a.result, b.result);
        assert_eq!(m2.request_id, "t-1");
        // With the field: a different entry, and the field is the core's.
        let with_field = SimulationRequest {
            include_field: true,
            ..Default::default()
        };
        let (c, m3) = s.simulate(&call(), &with_field).await.unwrap();
        assert_eq!(m3.cache, CacheStatus::Miss);
        let core = field::simulate(&Default::default(), 42).unwrap();
        assert_eq!(c.result.field, core.field);
        // The digest is of the field, whether or not the field is returned or cached.
        assert_eq!(&*a.field_sha256, sha256_f64_le(&core.field));
        assert_eq!(b.field_sha256, a.field_sha256);
        assert_eq!(c.field_sha256, a.field_sha256);
    }

    #[tokio::test]
    async fn features_match_the_core_and_hit_the_cache() {
        let s = svc();
        let req = FeaturesRequest {
            sim: SimInput {
                grid_size: Some(32),
                steps: Some(32),
                ..Default::default()
            },
            with_history: true,
            ..Default::default()
        };
        let (out, m) = s.extract_features(&ctx(), &req).await.unwrap();
        assert_eq!(m.cache, CacheStatus::Miss);
        assert_eq!(out.features.v_min, -71.09454351242177);
        assert_eq!(out.features.t_stable, 32.0);
        let (again, m) = s.extract_features(&ctx(), &req).await.unwrap();
        assert_eq!(m.cache, CacheStatus::Hit);
        assert_eq!(again, out);
    }

    #[tokio::test]
    async fn draining_refuses_new_work() {
        let s = svc();
        s.begin_drain();
        let e = s
            .simulate(&call(), &SimulationRequest::default())
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::Unavailable);
        assert!(!s.health().serving);
    }

    #[tokio::test]
    async fn nernst_and_aggregate_goldens() {
        let s = svc();
        let (n, _) = s
            .nernst(
                &ctx(),
                &NernstRequest {
                    z_valence: 1,
                    concentration_out_m: 0.005,
                    concentration_in_m: 0.140,
                    temperature_k: None,
                },
            )
            .unwrap();
        assert_eq!(n.potential_mv, -89.01066911987907);
        let (a, _) = s
            .aggregate(
                &ctx(),
                AggregateRequest {
                    gradients: vec![
                        vec![1.0, 2.0, 3.0],
                        vec![1.1, 2.1, 3.1],
                        vec![0.9, 1.9, 2.9],
                        vec![100.0, 100.0, 100.0],
                    ],
                    num_clusters: Some(2),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        for (x, want) in a.aggregated_gradient.iter().zip([1.0, 2.0, 3.0]) {
            assert!((x - want).abs() < 1e-12, "{x}");
        }
        let empty = s
            .aggregate(&ctx(), AggregateRequest::default())
            .await
            .unwrap_err();
        assert_eq!(empty.field.as_deref(), Some("gradients"));
    }

    #[test]
    fn request_ids_are_echoed_or_generated() {
        assert_eq!(RequestContext::new(Some("abc")).request_id, "abc");
        let g = RequestContext::new(Some("  ")).request_id;
        assert_eq!(g.len(), 36);
        assert_ne!(g, RequestContext::new(None).request_id);
    }
}
