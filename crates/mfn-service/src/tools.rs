//! The one tool registry (GRAPH.md "One tool registry"): every graph tool of
//! `mfn-graph` and every MFN operation as a named tool with a JSON Schema for its
//! arguments and for its result. MCP (`tools/list`, `tools/call`), REST
//! (`POST /v1/tools/{name}`, the `/v1/graphs` routes) and the CLI (`mfn graph`) call
//! [`MfnService::call_tool`]; a tool's structured result is the same JSON on every door.
//!
//! Every call is admitted like any other request (refused while draining), runs on the
//! compute gate (fail-fast when the queue is full), and is bounded by the tool deadline
//! (`ServiceConfig::tool_timeout`). When the deadline passes or the caller goes away the
//! gate's cancel token is set; graph algorithms see it at their next checkpoint through
//! [`mfn_graph::tools::Control`] and stop. Errors of the graph engine keep their field
//! and limit and map onto [`ErrorCode`](crate::ErrorCode) through one `From`.
//!
//! Adding a tool: a graph tool is one entry in `mfn_graph::tools`; an MFN tool is one
//! entry in `MFN_TOOLS` and one arm in `MfnService::call_mfn_tool`; the network tools
//! (`extract_network`, `visualize_graph`) live in [`crate::network`].

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use mfn_graph::tools::{Control, ToolContext};
use schemars::{JsonSchema, schema_for};
use serde::Serialize;
use serde_json::Value;

use crate::decode::decode_value;
use crate::error::ServiceError;
use crate::gate::{Admission, CancelToken};
use crate::request::{
    AggregateRequest, FeaturesRequest, FractalRequest, IfsRequest, NernstRequest,
    SimulationRequest, ValidateRequest,
};
use crate::response::{
    AggregateResponse, FeaturesResponse, FractalResponse, IfsResponse, NernstResponse,
    SimulationResponse, ValidateResponse,
};
use crate::service::{MfnService, RequestContext};

/// The tenant of every graph when authentication is off.
pub const DEFAULT_TENANT: &str = "default";

/// A tool as the doors list it.
#[derive(Debug, Clone)]
pub struct ToolInfo {
    /// Tool name (`betweenness_centrality`, `simulate_field`, …).
    pub name: &'static str,
    /// What it does, for agents and `--help`.
    pub description: &'static str,
    /// JSON Schema of the arguments (an object).
    pub input_schema: Arc<Value>,
    /// JSON Schema of the structured result (an object).
    pub output_schema: Arc<Value>,
    /// Whether the tool changes stored graphs.
    pub mutates: bool,
    kind: Kind,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Graph,
    Mfn,
    ExtractNetwork,
    Visualize,
}

/// An image a tool produced (MCP image content; the body of a REST image response).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolImage {
    /// `image/png` or `image/svg+xml`.
    pub mime_type: &'static str,
    /// The encoded image.
    pub data: Vec<u8>,
}

/// A tool's result: the structured JSON (matching its output schema) and, for
/// rendering tools, an image.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    /// The result object.
    pub structured: Value,
    /// An image, when the tool renders one.
    pub image: Option<ToolImage>,
}

/// Receives `(done, total)` progress of a long tool (MCP progress notifications).
pub type Progress = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// MFN operations served as tools: name, description, argument and result types. The
/// arguments are the REST request types, so names, defaults and limits are the same.
/// `(name, description, input schema, output schema)`.
type MfnTool = (&'static str, &'static str, fn() -> Value, fn() -> Value);

const MFN_TOOLS: &[MfnTool] = &[
    (
        "simulate_field",
        "Run a seeded mycelium field simulation (reaction-diffusion with growth events and Turing patterning) and summarise the final field in mV",
        schema::<SimulationRequest>,
        schema::<SimulationResponse>,
    ),
    (
        "extract_features",
        "Simulate, then compute the 18 fractal and statistical features of the field",
        schema::<FeaturesRequest>,
        schema::<FeaturesResponse>,
    ),
    (
        "fractal_dimension",
        "Box-counting dimension of a square array thresholded at threshold (V)",
        schema::<FractalRequest>,
        schema::<FractalResponse>,
    ),
    (
        "nernst_potential",
        "Nernst membrane potential in mV for an ion's valence, concentrations (mol/L) and temperature (K)",
        schema::<NernstRequest>,
        schema::<NernstResponse>,
    ),
    (
        "validate_patterns",
        "Train the small validation model on simulated fields and report loss, accuracy and pattern statistics",
        schema::<ValidateRequest>,
        schema::<ValidateResponse>,
    ),
    (
        "aggregate_gradients",
        "Robust federated aggregation of client gradients (hierarchical Krum)",
        schema::<AggregateRequest>,
        schema::<AggregateResponse>,
    ),
    (
        "generate_ifs",
        "A seeded iterated-function-system orbit and its Lyapunov exponent",
        schema::<IfsRequest>,
        schema::<IfsResponse>,
    ),
];

fn schema<T: JsonSchema>() -> Value {
    serde_json::to_value(schema_for!(T)).unwrap_or(Value::Null)
}

/// Graph tools that change the store.
const MUTATING: &[&str] = &[
    "create_graph",
    "delete_graph",
    "add_nodes",
    "add_edges",
    "remove_nodes",
    "remove_edges",
    "set_node_attributes",
    "set_edge_attributes",
    "subgraph",
    "merge_graphs",
    "import_graph",
    "generate_graph",
];

fn registry() -> &'static [ToolInfo] {
    static REGISTRY: OnceLock<Vec<ToolInfo>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let graph = mfn_graph::tools::tools().iter().map(|t| ToolInfo {
            name: t.name,
            description: t.description,
            input_schema: Arc::new(t.input_schema()),
            output_schema: Arc::new(t.output_schema()),
            mutates: MUTATING.contains(&t.name),
            kind: Kind::Graph,
        });
        let mfn = MFN_TOOLS
            .iter()
            .map(|(name, description, input, output)| ToolInfo {
                name,
                description,
                input_schema: Arc::new(input()),
                output_schema: Arc::new(output()),
                mutates: false,
                kind: Kind::Mfn,
            });
        let network = [
            ToolInfo {
                name: "extract_network",
                description: "Extract the mycelial network of a simulated field (default), an inline field or an uploaded PNG/.npy/CSV: mask, Zhang-Suen skeleton, graph stored under `name` (nodes x, y, kind; edges length), and its network metrics",
                input_schema: Arc::new(schema::<crate::network::ExtractNetworkArgs>()),
                output_schema: Arc::new(schema::<crate::network::ExtractNetworkResult>()),
                mutates: true,
                kind: Kind::ExtractNetwork,
            },
            ToolInfo {
                name: "visualize_graph",
                description: "Draw a stored graph as PNG (image content) or SVG (spring, circular, kamada_kawai or coordinates layout; colour by an attribute, degree or community); an extracted network is drawn at its pixel coordinates over its field",
                input_schema: Arc::new(schema::<mfn_graph::VisualizeArgs>()),
                output_schema: Arc::new(schema::<mfn_graph::Visualization>()),
                mutates: false,
                kind: Kind::Visualize,
            },
        ];
        graph.chain(mfn).chain(network).collect()
    })
}

/// Every tool, graph tools first, in a stable order.
pub fn tools() -> &'static [ToolInfo] {
    registry()
}

/// Short operation names (REST paths, the pipeline's `operation` field) of MFN tools.
const OPERATION_ALIASES: &[(&str, &str)] = &[
    ("simulate", "simulate_field"),
    ("features", "extract_features"),
    ("fractal", "fractal_dimension"),
    ("nernst", "nernst_potential"),
    ("validate", "validate_patterns"),
    ("aggregate", "aggregate_gradients"),
    ("ifs", "generate_ifs"),
];

/// The tool called `name`, or whose operation alias is `name` (`simulate`, `nernst`, …).
pub fn tool(name: &str) -> Option<&'static ToolInfo> {
    let name = OPERATION_ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, canonical)| canonical);
    registry().iter().find(|t| t.name == name)
}

/// The gate's cancel token and the caller's progress sink, seen by graph algorithms.
struct GateControl<'a> {
    token: &'a CancelToken,
    progress: Option<&'a Progress>,
}

impl Control for GateControl<'_> {
    fn cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    fn progress(&self, done: u64, total: u64) {
        if let Some(p) = self.progress {
            p(done, total);
        }
    }
}

fn to_json<T: Serialize>(value: T) -> Result<Value, ServiceError> {
    serde_json::to_value(value).map_err(ServiceError::internal)
}

impl MfnService {
    /// Run tool `name` for `tenant` with JSON `args`, within the tool deadline.
    ///
    /// Errors: unknown tool → `INVALID_ARGUMENT` on field `tool`; bad arguments name
    /// their field; a full gate → `RESOURCE_EXHAUSTED`; the deadline →
    /// `DEADLINE_EXCEEDED` (the computation is cancelled).
    pub async fn call_tool(
        &self,
        ctx: &RequestContext,
        tenant: &str,
        name: &str,
        args: Value,
        progress: Option<Progress>,
    ) -> Result<ToolOutput, ServiceError> {
        let started = Instant::now();
        let result = self
            .call_tool_inner(ctx, tenant, name, args, progress)
            .await;
        let status = match &result {
            Ok(_) => "ok",
            Err(e) => e.code.as_str(),
        };
        // Unknown names are not labels: a client could mint unbounded series.
        let label = tool(name).map_or("unknown", |t| t.name);
        metrics::counter!("mfn_tool_calls_total", "tool" => label, "status" => status).increment(1);
        metrics::histogram!("mfn_tool_duration_seconds", "tool" => label)
            .record(started.elapsed().as_secs_f64());
        result
    }

    async fn call_tool_inner(
        &self,
        ctx: &RequestContext,
        tenant: &str,
        name: &str,
        args: Value,
        progress: Option<Progress>,
    ) -> Result<ToolOutput, ServiceError> {
        let info = tool(name).ok_or_else(|| {
            ServiceError::invalid(
                "tool",
                format!("unknown tool {name:?}; list the tools with tools/list or GET /v1/tools"),
            )
        })?;
        self.admit()?;
        let deadline = self.inner.config.tool_timeout;
        let work = async {
            let structured = match info.kind {
                Kind::Graph => {
                    self.call_graph_tool(info.name, tenant, args, progress)
                        .await
                }
                Kind::Mfn => self.call_mfn_tool(ctx, info.name, args).await,
                Kind::ExtractNetwork => return self.extract_network_tool(ctx, tenant, args).await,
                Kind::Visualize => return self.visualize_tool(ctx, tenant, args, progress).await,
            };
            structured.map(|structured| ToolOutput {
                structured,
                image: None,
            })
        };
        match tokio::time::timeout(deadline, work).await {
            Ok(r) => r,
            Err(_) => Err(ServiceError::new(
                crate::ErrorCode::DeadlineExceeded,
                format!(
                    "tool {name} did not finish within the tool deadline of {} s (MFN_TOOL_TIMEOUT_S); it was cancelled",
                    deadline.as_secs_f64()
                ),
            )),
        }
    }

    async fn call_graph_tool(
        &self,
        name: &'static str,
        tenant: &str,
        args: Value,
        progress: Option<Progress>,
    ) -> Result<Value, ServiceError> {
        let store = self.inner.graphs.clone();
        let tenant = tenant.to_owned();
        self.inner
            .gate
            .run(Admission::FailFast, move |token| {
                let control = GateControl {
                    token,
                    progress: progress.as_ref(),
                };
                let ctx = ToolContext {
                    store: &*store,
                    tenant: &tenant,
                    control: &control,
                };
                Ok(mfn_graph::tools::call(&ctx, name, args)?)
            })
            .await
    }

    async fn call_mfn_tool(
        &self,
        ctx: &RequestContext,
        name: &str,
        args: Value,
    ) -> Result<Value, ServiceError> {
        match name {
            "simulate_field" => {
                let req: SimulationRequest = decode_value(args)?;
                let (out, meta) = self.run_simulation(ctx, &req).await?;
                to_json(SimulationResponse::new(&out, &meta))
            }
            "extract_features" => {
                let req: FeaturesRequest = decode_value(args)?;
                let (out, meta) = self.extract_features(ctx, &req).await?;
                to_json(FeaturesResponse::new(&out, &meta))
            }
            "fractal_dimension" => {
                let req: FractalRequest = decode_value(args)?;
                let (out, meta) = self.fractal_dimension(ctx, req).await?;
                to_json(FractalResponse::new(out, &meta))
            }
            "nernst_potential" => {
                let req: NernstRequest = decode_value(args)?;
                let (out, meta) = self.nernst(ctx, &req)?;
                to_json(NernstResponse::new(&out, &meta))
            }
            "validate_patterns" => {
                let req: ValidateRequest = decode_value(args)?;
                let (report, meta) = self.validate_pattern(ctx, &req).await?;
                to_json(ValidateResponse::new(&report, &meta))
            }
            "aggregate_gradients" => {
                let req: AggregateRequest = decode_value(args)?;
                let (out, meta) = self.aggregate(ctx, req).await?;
                to_json(AggregateResponse::new(out, &meta))
            }
            "generate_ifs" => {
                let req: IfsRequest = decode_value(args)?;
                let (out, meta) = self.ifs(ctx, &req).await?;
                to_json(IfsResponse::new(out, &meta))
            }
            other => Err(ServiceError::internal(format!(
                "tool {other} is registered without a handler"
            ))),
        }
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServiceConfig;
    use crate::error::ErrorCode;
    use serde_json::json;

    fn service() -> MfnService {
        MfnService::new(ServiceConfig {
            workers: 2,
            queue: 4,
            ..ServiceConfig::default()
        })
        .unwrap()
    }

    async fn call(
        svc: &MfnService,
        tenant: &str,
        name: &str,
        args: Value,
    ) -> Result<Value, ServiceError> {
        let ctx = RequestContext::new(None);
        svc.call_tool(&ctx, tenant, name, args, None)
            .await
            .map(|o| o.structured)
    }

    #[test]
    fn every_tool_has_object_schemas_and_a_unique_name() {
        let mut names = std::collections::HashSet::new();
        for t in tools() {
            assert!(names.insert(t.name), "duplicate {}", t.name);
            for s in [&t.input_schema, &t.output_schema] {
                assert_eq!(s["type"], "object", "{}: {s}", t.name);
            }
            assert!(!t.description.is_empty());
        }
        for name in [
            "simulate_field",
            "extract_features",
            "fractal_dimension",
            "nernst_potential",
            "validate_patterns",
            "aggregate_gradients",
            "network_metrics",
            "betweenness_centrality",
        ] {
            assert!(tool(name).is_some(), "{name} missing");
        }
        for m in MUTATING {
            assert!(tool(m).is_some(), "{m} is not a tool");
        }
        for (alias, canonical) in OPERATION_ALIASES {
            assert_eq!(tool(alias).map(|t| t.name), Some(*canonical));
        }
    }

    #[tokio::test]
    async fn graph_tools_are_tenant_scoped_and_errors_keep_their_field() {
        let svc = service();
        call(
            &svc,
            "a",
            "generate_graph",
            json!({"name": "k", "kind": "karate_club"}),
        )
        .await
        .unwrap();
        let info = call(&svc, "a", "get_info", json!({"graph": "k"}))
            .await
            .unwrap();
        assert_eq!(info["num_nodes"], 34);
        let e = call(&svc, "b", "get_info", json!({"graph": "k"}))
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::NotFound);
        assert_eq!(e.field.as_deref(), Some("graph"));
        let e = call(
            &svc,
            "a",
            "shortest_path",
            json!({"graph": "k", "source": 0, "target": 99}),
        )
        .await
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::NotFound);
        assert_eq!(e.field.as_deref(), Some("target"));
        let e = call(&svc, "a", "create_graph", json!({"name": "k"}))
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::AlreadyExists);
        let e = call(&svc, "a", "get_info", json!({"graph": "k", "bogus": 1}))
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        let e = call(&svc, "a", "no_such_tool", json!({}))
            .await
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("tool"));
    }

    #[tokio::test]
    async fn mfn_tools_answer_as_rest_does() {
        let svc = service();
        let v = call(
            &svc,
            "a",
            "nernst_potential",
            json!({"z_valence": 1, "concentration_out_molar": 0.005, "concentration_in_molar": 0.14}),
        )
        .await
        .unwrap();
        let mv = v["potential_mV"].as_f64().unwrap();
        assert!((mv + 89.0).abs() < 0.1, "{v}");
        let e = call(&svc, "a", "simulate_field", json!({"grid_size": 100000}))
            .await
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("grid_size"));
        let e = call(&svc, "a", "simulate_field", json!({"grid": 8}))
            .await
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("grid"));
    }

    #[tokio::test]
    async fn concurrent_updates_of_one_graph_are_not_lost() {
        let svc = service();
        call(&svc, "t", "create_graph", json!({"name": "g"}))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..40 {
            let svc = svc.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    match call(&svc, "t", "add_nodes", json!({"graph": "g", "nodes": [i]})).await {
                        Ok(_) => break,
                        // The gate is small on purpose; a refused call is retried.
                        Err(e) if e.code == ErrorCode::ResourceExhausted => {
                            tokio::time::sleep(std::time::Duration::from_millis(2)).await
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let info = call(&svc, "t", "get_info", json!({"graph": "g"}))
            .await
            .unwrap();
        assert_eq!(info["num_nodes"], 40);
    }

    #[tokio::test]
    async fn the_deadline_cancels_a_long_algorithm() {
        let svc = MfnService::new(ServiceConfig {
            workers: 1,
            queue: 1,
            tool_timeout: std::time::Duration::from_millis(1000),
            ..ServiceConfig::default()
        })
        .unwrap();
        call(
            &svc,
            "t",
            "generate_graph",
            json!({"name": "big", "kind": "barabasi_albert", "n": 20000, "m": 3, "seed": 1}),
        )
        .await
        .unwrap();
        let e = call(&svc, "t", "betweenness_centrality", json!({"graph": "big"}))
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::DeadlineExceeded);
        // The pool is free again once the algorithm saw the cancellation.
        let start = Instant::now();
        loop {
            match call(&svc, "t", "get_info", json!({"graph": "big"})).await {
                Ok(_) => break,
                Err(e) if e.code == ErrorCode::ResourceExhausted => {
                    assert!(
                        start.elapsed().as_secs() < 30,
                        "the cancelled job kept the worker"
                    );
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[tokio::test]
    async fn extract_network_stores_a_graph_every_tool_can_use() {
        let svc = service();
        let r = call(
            &svc,
            "t",
            "extract_network",
            json!({"name": "net", "simulation": {"seed": 7, "grid_size": 32, "steps": 40}}),
        )
        .await
        .unwrap();
        let m = &r["metrics"];
        assert_eq!(r["graph"]["num_nodes"], m["num_nodes"], "{r}");
        assert!(m["num_nodes"].as_u64().unwrap() > 0, "{r}");
        assert!(r["skeleton_pixels"].as_u64() <= r["mask_pixels"].as_u64());
        assert!(m["fractal_dimension"].as_f64().is_some(), "{r}");
        let info = call(&svc, "t", "get_info", json!({"graph": "net"}))
            .await
            .unwrap();
        assert_eq!(info["num_edges"], r["graph"]["num_edges"]);
        let again = call(&svc, "t", "network_metrics", json!({"graph": "net"}))
            .await
            .unwrap();
        assert_eq!(
            &again, m,
            "network_metrics on the stored graph gives the same metrics"
        );
        let b = call(
            &svc,
            "t",
            "betweenness_centrality",
            json!({"graph": "net", "top_k": 1}),
        )
        .await
        .unwrap();
        assert_eq!(b["values"].as_array().unwrap().len(), 1);
        // Stored once: a second extraction under the same name needs overwrite.
        let e = call(&svc, "t", "extract_network", json!({"name": "net"}))
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::AlreadyExists);

        let ctx = RequestContext::new(None);
        let svg = svc
            .call_tool(
                &ctx,
                "t",
                "visualize_graph",
                json!({"graph": "net", "format": "svg"}),
                None,
            )
            .await
            .unwrap();
        assert_eq!(svg.structured["layout"], "coordinates");
        assert_eq!(svg.structured["background"], true, "drawn over its field");
        let image = svg.image.unwrap();
        assert_eq!(image.mime_type, "image/svg+xml");
        assert!(String::from_utf8(image.data).unwrap().contains("<svg"));
        let png = svc
            .call_tool(
                &ctx,
                "t",
                "visualize_graph",
                json!({"graph": "net", "width": 200, "height": 200}),
                None,
            )
            .await
            .unwrap()
            .image
            .unwrap();
        assert_eq!(png.mime_type, "image/png");
        assert!(png.data.starts_with(b"\x89PNG"));
    }

    #[tokio::test]
    async fn extract_network_from_an_inline_field_finds_a_plus() {
        let svc = service();
        let n = 21;
        let values: Vec<f64> = (0..n * n)
            .map(|i| {
                let (x, y) = (i % n, i / n);
                if x == 10 && (3..=17).contains(&y) || y == 10 && (3..=17).contains(&x) {
                    -0.02
                } else {
                    -0.09
                }
            })
            .collect();
        let r = call(
            &svc,
            "t",
            "extract_network",
            json!({"name": "plus", "field": {"size": n, "values": values}, "options": {"threshold_mv": -60.0}}),
        )
        .await
        .unwrap();
        let m = &r["metrics"];
        assert_eq!(
            (
                m["junctions"].as_u64(),
                m["tips"].as_u64(),
                m["num_edges"].as_u64()
            ),
            (Some(1), Some(4), Some(4)),
            "{r}"
        );
        assert_eq!(r["source"], "field");
        let e = call(
            &svc,
            "t",
            "extract_network",
            json!({"name": "x", "field": {"size": 3, "values": [0.0]}}),
        )
        .await
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("field.values"));
        let e = call(
            &svc,
            "t",
            "extract_network",
            json!({"name": "x", "options": {"threshold": "bogus"}}),
        )
        .await
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("options"));
        let e = call(&svc, "t", "extract_network", json!({"name": "bad name!"}))
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
    }
}
