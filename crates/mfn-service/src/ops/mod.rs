//! The one operation registry: every MFN operation and every graph tool declared once,
//! and iterated by every door.
//!
//! An operation is a type implementing [`Operation`]: its [`OpSpec`] (name, short
//! aliases, summary and description, REST routes, whether it mutates or streams, how it
//! is admitted), a typed request (serde + schemars: names, units and ranges are in the
//! JSON Schema) and a typed response, and its handler. The graph tools of `mfn-graph`
//! join the same list through [`graph`]. Every door reads this list and nothing else:
//!
//! | door | uses |
//! |---|---|
//! | REST | a route per [`Route`] of each entry, `POST /v1/tools/{name}` for all, and `/openapi.json` |
//! | MCP | `tools/list` and `tools/call` over [`all`] and [`MfnService::call_op`] |
//! | gRPC | [`MfnService::run_op`] with the typed request and response (`From` renames to protobuf) |
//! | CLI | [`MfnService::run_op`] in process: the server's defaults, limits and errors |
//! | pipeline | [`MfnService::call_op`] by the message's `operation` name or alias |
//!
//! Every call, typed or by name, is admitted like any request (refused while draining),
//! bounded by the operation deadline (`ServiceConfig::tool_timeout`; the computation is
//! cancelled when it passes), and counted once in `mfn_tool_calls_total{tool,status,door}`
//! and `mfn_tool_duration_seconds{tool}` — including calls whose caller went away
//! (`status="CANCELLED"`).
//!
//! Adding an operation: one file in this folder with its [`Operation`] impl, and one line
//! in `registry`.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use schemars::{JsonSchema, schema_for};
use serde::Serialize;
use serde_json::Value;

use crate::decode::{ApiRequest, decode_value};
use crate::error::{ErrorCode, ServiceError};
use crate::service::{MfnService, RequestContext};

pub mod aggregate;
pub mod extract_network;
pub mod features;
pub mod fractal;
pub mod fractal_upload;
pub mod graph;
pub mod ifs;
pub mod nernst;
pub mod render_field;
pub mod simulate;
pub mod status;
pub mod validate;
pub mod visualize_graph;

/// The tenant of every graph when authentication is off.
pub const DEFAULT_TENANT: &str = "default";

/// Receives `(done, total)` progress of a long operation (MCP progress notifications,
/// the CLI's progress bar).
pub type Progress = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// A REST route of an operation. The first route of an operation is its canonical path;
/// the others are the Python reference's aliases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST path` with the request as a JSON body.
    Post(&'static str),
    /// `GET path` with the request as query parameters (rendering operations answer the
    /// image itself).
    Get(&'static str),
}

impl Route {
    /// The path.
    pub fn path(self) -> &'static str {
        match self {
            Route::Post(p) | Route::Get(p) => p,
        }
    }
}

/// How an operation reaches a CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runs {
    /// On the compute gate (fail-fast when it is full).
    Gate,
    /// On the calling task: a few microseconds of arithmetic, not worth a thread hop.
    Inline,
}

/// Everything a door needs to know about an operation besides its types.
#[derive(Debug, Clone, Copy)]
pub struct OpSpec {
    /// Registry name: the MCP tool name, `POST /v1/tools/{name}`, the pipeline's
    /// `operation` (`simulate_field`, `betweenness_centrality`, …).
    pub name: &'static str,
    /// Short names accepted wherever a name is (`simulate`, `nernst`, …).
    pub aliases: &'static [&'static str],
    /// One line for the REST reference.
    pub summary: &'static str,
    /// What it does, for agents and `--help`.
    pub description: &'static str,
    /// REST routes besides `/v1/tools/{name}`.
    pub rest: &'static [Route],
    /// Whether it changes stored graphs.
    pub mutates: bool,
    /// Whether gRPC and WebSocket also serve it as a stream of frames.
    pub streams: bool,
    /// Whether it answers an image (PNG or SVG) besides its structured result.
    pub renders: bool,
    /// How it is admitted.
    pub runs: Runs,
}

impl OpSpec {
    /// A spec with the given name and description and every other field at its
    /// most common value (no REST route of its own, read-only, not streamed, gated).
    pub const fn new(name: &'static str, description: &'static str) -> Self {
        OpSpec {
            name,
            aliases: &[],
            summary: description,
            description,
            rest: &[],
            mutates: false,
            streams: false,
            renders: false,
            runs: Runs::Gate,
        }
    }
}

/// Who is calling and how: the request id, the tenant (the API key's name), the door
/// (a metrics label) and where progress goes.
#[derive(Clone)]
pub struct Call {
    /// Request id and other per-request context.
    pub ctx: RequestContext,
    /// Graphs belong to this tenant.
    pub tenant: String,
    /// The door the call came through.
    pub door: Door,
    /// Progress sink, when the caller wants progress.
    pub progress: Option<Progress>,
    /// Where the call's main parameters go for the door's audit line.
    pub notes: Option<AuditNotes>,
}

/// The main parameters of a call — `seed`, `grid_size`, `steps`, the graph's `graph` or
/// `name` — noted by the registry when the call starts, for the door's audit line
/// (seed 000's `metadata`). Scalars only, never a body, never a credential.
#[derive(Debug, Clone, Default)]
pub struct AuditNotes(Arc<std::sync::Mutex<serde_json::Map<String, Value>>>);

impl AuditNotes {
    /// An empty slot.
    pub fn new() -> Self {
        Self::default()
    }

    /// What was noted (empty when nothing was).
    pub fn get(&self) -> serde_json::Map<String, Value> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn note(&self, params: serde_json::Map<String, Value>) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = params;
    }
}

/// [`audit_params`] of a request through its JSON form: for requests of scalars only,
/// whose JSON form is cheap (never one that carries an array or a body).
pub(crate) fn audit_small(req: &impl Serialize) -> serde_json::Map<String, Value> {
    serde_json::to_value(req).map_or_else(|_| serde_json::Map::new(), |v| audit_params(&v))
}

/// The audit parameters of JSON arguments: top-level `seed`, `grid_size`, `steps` (numbers)
/// and `graph`, `name` (strings, at most 64 characters), else those of a nested
/// `simulation` object. Reads a few keys; copies nothing else.
pub fn audit_params(args: &Value) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    let Value::Object(obj) = args else {
        return out;
    };
    for key in ["seed", "grid_size", "steps"] {
        let v = obj
            .get(key)
            .or_else(|| obj.get("simulation").and_then(|s| s.get(key)));
        if let Some(v @ Value::Number(_)) = v {
            out.insert(key.to_owned(), v.clone());
        }
    }
    for key in ["graph", "name"] {
        if let Some(Value::String(s)) = obj.get(key) {
            out.insert(key.to_owned(), Value::String(s.chars().take(64).collect()));
        }
    }
    out
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("ctx", &self.ctx)
            .field("tenant", &self.tenant)
            .field("door", &self.door)
            .finish_non_exhaustive()
    }
}

impl Call {
    /// A call through `door` for the default tenant, without progress.
    pub fn new(door: Door, ctx: RequestContext) -> Self {
        Call {
            ctx,
            tenant: DEFAULT_TENANT.to_owned(),
            door,
            progress: None,
            notes: None,
        }
    }

    /// The same call noting its parameters in `notes`.
    pub fn notes(mut self, notes: Option<AuditNotes>) -> Self {
        self.notes = notes;
        self
    }

    /// The same call for `tenant`.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = tenant.into();
        self
    }

    /// The same call reporting progress to `progress`.
    pub fn progress(mut self, progress: Option<Progress>) -> Self {
        self.progress = progress;
        self
    }

    /// Report `done` of `total` to the progress sink, if any.
    pub fn report(&self, done: u64, total: u64) {
        if let Some(p) = &self.progress {
            p(done, total);
        }
    }
}

/// The door a call came through (the `door` label of metrics and audit lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Door {
    /// gRPC (tonic).
    Grpc,
    /// REST (axum).
    Rest,
    /// WebSocket.
    Ws,
    /// MCP (stdio or streamable HTTP).
    Mcp,
    /// The `mfn` CLI, in process.
    Cli,
    /// The data pipeline (`mfn pipeline`).
    Pipeline,
    /// The Python package, in process.
    Python,
}

impl Door {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Door::Grpc => "grpc",
            Door::Rest => "rest",
            Door::Ws => "ws",
            Door::Mcp => "mcp",
            Door::Cli => "cli",
            Door::Pipeline => "pipeline",
            Door::Python => "python",
        }
    }
}

/// An image an operation produced (MCP image content; the body of a REST image response).
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// `image/png` or `image/svg+xml`.
    pub mime_type: &'static str,
    /// The encoded image.
    pub data: Vec<u8>,
}

/// An operation: its spec, typed request and response, and handler.
pub trait Operation: Send + Sync + 'static {
    /// The arguments (strictly decoded: unknown fields are errors naming the field).
    type Request: ApiRequest + JsonSchema + Send + 'static;
    /// The structured result.
    type Response: Serialize + JsonSchema + Send + 'static;
    /// The declaration.
    const SPEC: OpSpec;
    /// Run it. Admission, the deadline and metrics are the registry's; the handler does
    /// the work (on the compute gate unless [`Runs::Inline`]).
    fn run(
        svc: &MfnService,
        call: &Call,
        req: Self::Request,
    ) -> impl Future<Output = Result<Self::Response, ServiceError>> + Send;
    /// The request's main parameters for the audit line ([`audit_params`]); none unless
    /// the operation says.
    fn audit(_req: &Self::Request) -> serde_json::Map<String, Value> {
        serde_json::Map::new()
    }
    /// The image of a rendering operation, taken out of its response.
    fn image(_response: &mut Self::Response) -> Option<Image> {
        None
    }
}

/// A structured result whose serialisation is chosen by the door: a JSON value (MCP
/// `structuredContent`, the pipeline) or JSON text (REST, written straight from the typed
/// response without a value tree).
pub struct Reply {
    body: Box<dyn ReplyBody>,
    /// The image, for rendering operations.
    pub image: Option<Image>,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("image", &self.image.as_ref().map(|i| i.mime_type))
            .finish_non_exhaustive()
    }
}

trait ReplyBody: Send {
    fn to_value(&self) -> serde_json::Result<Value>;
    fn to_json(&self) -> serde_json::Result<Vec<u8>>;
}

impl<T: Serialize + Send> ReplyBody for T {
    fn to_value(&self) -> serde_json::Result<Value> {
        serde_json::to_value(self)
    }
    fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        serde_json::to_vec(self)
    }
}

/// A result that is JSON text already (serde_json's, so valid JSON): written out as it
/// is, parsed only for a door that wants a value.
struct JsonText(String);

impl ReplyBody for JsonText {
    fn to_value(&self) -> serde_json::Result<Value> {
        serde_json::from_str(&self.0)
    }
    fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        Ok(self.0.as_bytes().to_vec())
    }
}

impl Reply {
    /// A reply with `body` and no image.
    pub fn new(body: impl Serialize + Send + 'static) -> Self {
        Reply {
            body: Box::new(body),
            image: None,
        }
    }

    /// A reply whose body is `text`, JSON text that serde_json wrote (it is not
    /// checked again), and no image.
    pub fn json_text(text: String) -> Self {
        Reply {
            body: Box::new(JsonText(text)),
            image: None,
        }
    }

    /// The structured result as a JSON value.
    pub fn to_value(&self) -> Result<Value, ServiceError> {
        self.body.to_value().map_err(ServiceError::internal)
    }

    /// The structured result as JSON text.
    pub fn to_json(&self) -> Result<Vec<u8>, ServiceError> {
        self.body.to_json().map_err(ServiceError::internal)
    }
}

/// A registry entry as the doors list it.
pub struct Entry {
    /// The declaration.
    pub spec: OpSpec,
    /// JSON Schema of the arguments (an object).
    pub input_schema: Arc<Value>,
    /// JSON Schema of the structured result (an object).
    pub output_schema: Arc<Value>,
    handler: Box<dyn Handler>,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("name", &self.spec.name)
            .finish_non_exhaustive()
    }
}

impl Entry {
    /// The registry name.
    pub fn name(&self) -> &'static str {
        self.spec.name
    }

    /// The entry of a typed operation.
    pub fn of<O: Operation>() -> Self {
        Entry {
            spec: O::SPEC,
            input_schema: Arc::new(schema::<O::Request>()),
            output_schema: Arc::new(schema::<O::Response>()),
            handler: Box::new(Typed::<O>(PhantomData)),
        }
    }

    pub(crate) fn with_handler(
        spec: OpSpec,
        input_schema: Value,
        output_schema: Value,
        handler: impl Handler + 'static,
    ) -> Self {
        Entry {
            spec,
            input_schema: Arc::new(input_schema),
            output_schema: Arc::new(output_schema),
            handler: Box::new(handler),
        }
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs an entry on JSON arguments.
pub(crate) trait Handler: Send + Sync {
    fn call<'a>(
        &'a self,
        svc: &'a MfnService,
        call: &'a Call,
        args: Value,
    ) -> BoxFuture<'a, Result<Reply, ServiceError>>;
}

struct Typed<O>(PhantomData<fn() -> O>);

impl<O: Operation> Handler for Typed<O> {
    fn call<'a>(
        &'a self,
        svc: &'a MfnService,
        call: &'a Call,
        args: Value,
    ) -> BoxFuture<'a, Result<Reply, ServiceError>> {
        Box::pin(async move {
            let req: O::Request = decode_value(args)?;
            let mut response = O::run(svc, call, req).await?;
            let image = O::image(&mut response);
            Ok(Reply {
                body: Box::new(response),
                image,
            })
        })
    }
}

/// The JSON Schema of `T` as a value.
pub fn schema<T: JsonSchema>() -> Value {
    serde_json::to_value(schema_for!(T)).unwrap_or(Value::Null)
}

/// The list. MFN operations first, then the network tools, then the graph engine's tools.
fn registry() -> &'static [Entry] {
    static REGISTRY: OnceLock<Vec<Entry>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut list = vec![
            Entry::of::<simulate::Simulate>(),
            Entry::of::<features::ExtractFeatures>(),
            Entry::of::<fractal::FractalDimension>(),
            Entry::of::<fractal_upload::FractalDimensionUpload>(),
            Entry::of::<nernst::Nernst>(),
            Entry::of::<validate::Validate>(),
            Entry::of::<aggregate::Aggregate>(),
            Entry::of::<ifs::Ifs>(),
            Entry::of::<render_field::RenderField>(),
            Entry::of::<extract_network::ExtractNetwork>(),
            Entry::of::<visualize_graph::VisualizeGraph>(),
        ];
        list.extend(graph::entries());
        list.extend([
            Entry::of::<status::HealthCheck>(),
            Entry::of::<status::ResourceStatus>(),
            Entry::of::<status::GetMetrics>(),
        ]);
        list
    })
}

/// Every operation, in a stable order.
pub fn all() -> &'static [Entry] {
    registry()
}

/// The operation called `name`, or whose alias is `name`.
pub fn find(name: &str) -> Option<&'static Entry> {
    registry()
        .iter()
        .find(|e| e.spec.name == name)
        .or_else(|| registry().iter().find(|e| e.spec.aliases.contains(&name)))
}

/// Records one call in the metrics when it ends — or when it is dropped unfinished, as
/// `CANCELLED` (the caller went away).
struct CallRecord {
    name: &'static str,
    door: Door,
    started: Instant,
    status: Option<&'static str>,
}

impl CallRecord {
    fn new(name: &'static str, door: Door) -> Self {
        CallRecord {
            name,
            door,
            started: Instant::now(),
            status: None,
        }
    }

    fn finish<T>(mut self, result: &Result<T, ServiceError>) {
        self.status = Some(match result {
            // Upper case like every error status, as gRPC's `grpc_code="OK"`.
            Ok(_) => "OK",
            Err(e) => e.code.as_str(),
        });
    }
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        let status = self.status.unwrap_or(ErrorCode::Cancelled.as_str());
        metrics::counter!(
            "mfn_tool_calls_total",
            "tool" => self.name,
            "status" => status,
            "door" => self.door.as_str()
        )
        .increment(1);
        metrics::histogram!("mfn_tool_duration_seconds", "tool" => self.name)
            .record(self.started.elapsed().as_secs_f64());
    }
}

impl MfnService {
    /// Run the operation called `name` (or whose alias is `name`) with JSON `args`.
    ///
    /// Errors: an unknown name → `INVALID_ARGUMENT` on field `tool`; bad arguments name
    /// their field; a full gate → `RESOURCE_EXHAUSTED`; the deadline →
    /// `DEADLINE_EXCEEDED` (the computation is cancelled).
    pub async fn call_op(
        &self,
        call: &Call,
        name: &str,
        args: Value,
    ) -> Result<Reply, ServiceError> {
        let Some(entry) = find(name) else {
            metrics::counter!(
                "mfn_tool_calls_total",
                "tool" => "unknown",
                "status" => ErrorCode::InvalidArgument.as_str(),
                "door" => call.door.as_str()
            )
            .increment(1);
            return Err(ServiceError::invalid(
                "tool",
                format!(
                    "unknown operation {:?}; list them with GET /v1/tools or tools/list",
                    crate::error::truncate(name)
                ),
            ));
        };
        if let Some(notes) = &call.notes {
            notes.note(audit_params(&args));
        }
        self.guarded(entry.spec.name, call, entry.handler.call(self, call, args))
            .await
    }

    /// Run operation `O` with a typed request (gRPC, the CLI).
    pub async fn run_op<O: Operation>(
        &self,
        call: &Call,
        req: O::Request,
    ) -> Result<O::Response, ServiceError> {
        if let Some(notes) = &call.notes {
            notes.note(O::audit(&req));
        }
        self.guarded(O::SPEC.name, call, O::run(self, call, req))
            .await
    }

    /// Admission, the deadline and metrics around one call.
    async fn guarded<T>(
        &self,
        name: &'static str,
        call: &Call,
        work: impl Future<Output = Result<T, ServiceError>>,
    ) -> Result<T, ServiceError> {
        let record = CallRecord::new(name, call.door);
        let result = async {
            self.admit()?;
            let deadline = self.inner.config.tool_timeout;
            match tokio::time::timeout(deadline, work).await {
                Ok(r) => r,
                Err(_) => Err(ServiceError::new(
                    ErrorCode::DeadlineExceeded,
                    format!(
                        "{name} did not finish within the operation deadline of {} s (MFN_TOOL_TIMEOUT_S); it was cancelled",
                        deadline.as_secs_f64()
                    ),
                )),
            }
        }
        .await;
        record.finish(&result);
        result
    }
}

#[cfg(test)]
mod tests;
