//! The MCP door (GRAPH.md "MCP transport rules"): the one tool registry of
//! [`mfn_service::ops`] served to AI agents with [rmcp], the official Rust SDK, over
//! stdio (`mfn mcp`, [`serve_stdio`]) and streamable HTTP at `/mcp` ([`http`]).
//!
//! This is an adapter, as REST is: extract → [`MfnService::call_op`] → convert. No
//! tool logic lives here; a tool added to the registry is listed and callable without a
//! change to this module.
//!
//! | MCP | MFN |
//! |---|---|
//! | `tools/list` | every registry tool: `inputSchema`, `outputSchema`, `readOnlyHint = !mutates` |
//! | `tools/call` | `structuredContent` plus the same JSON as text; an image as an image block |
//! | tool failure | a result with `isError: true` whose text names the code, field and limit |
//! | unknown tool, malformed request | a JSON-RPC error (`-32602`, `-32600`, …) |
//! | `resources/list`, `resources/read` | `graph://{name}` for the caller's tenant, node-link JSON |
//! | `prompts/list`, `prompts/get` | `analyze_graph`, `analyze_mycelium` ([`prompts`]) |
//! | `_meta.progressToken` | `notifications/progress`, at most one every 100 ms |
//! | `notifications/cancelled` | drops the call future: the compute gate cancels the job |
//!
//! Tenancy: over HTTP the tenant is the name of the API key the [`AuthLayer`] accepted
//! (rmcp hands each request's `http::request::Parts`, extensions included, to the
//! handler); without a key (auth off, or stdio) it is [`DEFAULT_TENANT`].
//!
//! Telemetry: the registry counts every call in `mfn_tool_calls_total{tool,status,door}`
//! (an unknown tool name is counted as `tool="unknown"`, never as its own label); this
//! door adds a `mcp.tool` span around each call and one `mfn::audit` line per call naming
//! the tool, the status and the caller's key hash prefix (never the key).
//!
//! [`AuthLayer`]: crate::security::AuthLayer

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use mfn_service::ops::{self, AuditNotes, Call, DEFAULT_TENANT, Door, Entry, Progress, Reply};
use mfn_service::{
    ErrorCode, MfnService, RequestContext as SvcContext, SERVER_VERSION, ServiceError,
};
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock,
    GetPromptRequestParams, GetPromptResponse, Implementation, JsonObject, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ProgressNotificationParam, ProgressToken, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, Resource, ResourceContents, ResourceTemplate, ServerCapabilities,
    ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Value, json};
use tracing::{Instrument, info, info_span};

use crate::security::{Caller, audit};

pub mod http;
pub mod prompts;
pub mod sessions;

/// The shortest interval between two progress notifications of one call.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// What the server tells an agent at `initialize` and `server/discover`.
pub const INSTRUCTIONS: &str = "\
MFN simulates mycelium networks (a seeded reaction-diffusion field with growth events \
and Turing patterning) and analyses graphs with a NetworkX-compatible engine. Every \
tool returns structured JSON matching its outputSchema.

Graphs are stored by name for your tenant and persist between calls. Create one with \
create_graph, generate_graph (karate_club, erdos_renyi, barabasi_albert, …) or \
import_graph; then call algorithms on it by name: degree_centrality, \
betweenness_centrality, pagerank, shortest_path, connected_components, \
community_detection, clustering_coefficients, graph_statistics and more. Per-node \
results are sorted by value and paged (top_k, cursor; truncated and next_cursor say \
when more follow). Stored graphs are also readable as resources graph://{name} \
(node-link JSON).

Mycelium workflow: simulate_field (seed, grid_size, steps) summarises a field in mV; \
extract_features adds its 18 fractal and statistical features; when extract_network \
is listed it turns a simulated field into a stored graph, which you then analyse with \
betweenness_centrality, pagerank or community_detection. The prompts analyze_graph, \
analyze_mycelium and create_social_network spell these chains out. health_check, \
resource_status and get_metrics (your own usage and limits) report on the server.

A failed call returns isError with a message naming the argument and the limit it \
broke; fix that argument and call again.";

/// The MCP server: one per stdio connection or HTTP session, a cheap clone of the
/// service handle.
#[derive(Clone)]
pub struct McpServer {
    svc: MfnService,
}

impl McpServer {
    /// A server over `svc`.
    pub fn new(svc: MfnService) -> Self {
        McpServer { svc }
    }
}

/// Serve MCP over this process's stdin and stdout until the client closes them.
///
/// Stdout carries only JSON-RPC: logs must go to stderr (`mfn mcp` sets that up).
pub async fn serve_stdio(svc: MfnService) -> std::io::Result<()> {
    let running = McpServer::new(svc)
        .serve(rmcp::transport::io::stdio_pipes())
        .await
        .map_err(std::io::Error::other)?;
    running.waiting().await.map_err(std::io::Error::other)?;
    Ok(())
}

/// The registry as MCP tools, converted once: the registry is fixed for a process.
fn mcp_tools() -> &'static [Tool] {
    static TOOLS: OnceLock<Vec<Tool>> = OnceLock::new();
    TOOLS.get_or_init(|| ops::all().iter().map(to_mcp_tool).collect())
}

fn to_mcp_tool(e: &Entry) -> Tool {
    let input = Arc::new(object(&e.input_schema));
    let mut tool = Tool::new(e.spec.name, e.spec.description, input);
    tool.output_schema = Some(Arc::new(object(&e.output_schema)));
    let hints = ToolAnnotations::new().read_only(!e.spec.mutates);
    // Stored graphs are the whole world of a tool.
    tool.annotations = Some(hints.open_world(false));
    tool
}

fn object(schema: &Value) -> JsonObject {
    match schema {
        Value::Object(m) => m.clone(),
        _ => JsonObject::from_iter([("type".to_owned(), json!("object"))]),
    }
}

/// The HTTP request parts rmcp puts in the request extensions (none over stdio).
fn parts(ctx: &RequestContext<RoleServer>) -> Option<&::http::request::Parts> {
    ctx.extensions.get::<::http::request::Parts>()
}

/// Who is calling: the key [`AuthLayer`](crate::security::AuthLayer) accepted.
fn caller(ctx: &RequestContext<RoleServer>) -> Option<&Caller> {
    parts(ctx).and_then(|p| p.extensions.get::<Caller>())
}

/// The service call of an MCP request: the `x-request-id` header over HTTP, the
/// caller's tenant.
fn service_call(ctx: &RequestContext<RoleServer>) -> Call {
    let request_id = parts(ctx).and_then(|p| p.headers.get("x-request-id")?.to_str().ok());
    let notes = parts(ctx).and_then(|p| p.extensions.get::<AuditNotes>());
    let tenant = caller(ctx).map_or(DEFAULT_TENANT, |c| c.key.name.as_str());
    Call::new(Door::Mcp, SvcContext::new(request_id))
        .tenant(tenant)
        .notes(notes.cloned())
}

/// The text of an `isError` result: code, message (which names the field and the limit)
/// and the field when the message does not start with it.
fn error_text(e: &ServiceError) -> String {
    match &e.field {
        Some(f) if !e.message.starts_with(f.as_str()) => {
            format!("{}: {f}: {}", e.code.as_str(), e.message)
        }
        _ => format!("{}: {}", e.code.as_str(), e.message),
    }
}

fn tool_result(reply: Reply) -> Result<CallToolResult, ServiceError> {
    let structured = reply.to_value()?;
    let mut content = Vec::with_capacity(2);
    content.push(ContentBlock::text(structured.to_string()));
    if let Some(image) = reply.image {
        let data = base64::engine::general_purpose::STANDARD.encode(&image.data);
        content.push(ContentBlock::image(data, image.mime_type));
    }
    let mut result = CallToolResult::success(content);
    result.structured_content = Some(structured);
    Ok(result)
}

/// A [`Progress`] sink when the client sent a progress `token`, and the future that
/// forwards what it receives to `send` (the client's `notifications/progress`), at most
/// one every [`PROGRESS_INTERVAL`]: values that arrive in between are coalesced, the
/// latest wins. The future never ends: race it against the call.
fn progress_pump<F, Fut>(
    token: Option<ProgressToken>,
    send: F,
) -> (Option<Progress>, impl Future<Output = ()>)
where
    F: Fn(ProgressNotificationParam) -> Fut,
    Fut: Future<Output = bool>,
{
    let (tx, mut rx) = tokio::sync::watch::channel((0u64, 0u64));
    let sink = token.is_some().then(|| -> Progress {
        Arc::new(move |done, total| {
            let _ = tx.send((done, total));
        })
    });
    let pump = async move {
        while let Some(token) = &token
            && rx.changed().await.is_ok()
        {
            let (done, total) = *rx.borrow_and_update();
            let mut param = ProgressNotificationParam::new(token.clone(), done as f64);
            if total > 0 {
                param = param.with_total(total as f64);
            }
            if !send(param).await {
                break;
            }
            tokio::time::sleep(PROGRESS_INTERVAL).await;
        }
        std::future::pending::<()>().await;
    };
    (sink, pump)
}

impl McpServer {
    /// Run a registry tool for the caller of `ctx`; `None` only when the computation was
    /// cancelled by the client.
    async fn run_tool(
        &self,
        entry: &'static Entry,
        args: Value,
        ctx: &RequestContext<RoleServer>,
    ) -> Option<Result<Reply, ServiceError>> {
        let caller = caller(ctx);
        let peer = ctx.peer.clone();
        let (progress, pump) = progress_pump(ctx.meta.get_progress_token(), move |param| {
            let peer = peer.clone();
            async move { peer.notify_progress(param).await.is_ok() }
        });
        let call = service_call(ctx).progress(progress);
        let work = self.svc.call_op(&call, entry.spec.name, args);
        let started = Instant::now();
        // Dropping `work` (client cancellation) sets the gate's cancel token.
        let outcome = tokio::select! {
            r = work => Some(r),
            () = pump => None,
            () = ctx.ct.cancelled() => None,
        };
        let status = match &outcome {
            Some(Ok(_)) => "ok",
            Some(Err(e)) => e.code.as_str(),
            None => ErrorCode::Cancelled.as_str(),
        };
        info!(
            target: audit::TARGET,
            door = "mcp",
            request_id = %call.ctx.request_id,
            tool = entry.spec.name,
            status,
            duration_ms = started.elapsed().as_secs_f64() * 1e3,
            api_key_hash = %caller.map_or_else(|| "-".to_owned(), |c| c.key.hash_prefix()),
            "tools/call"
        );
        outcome
    }

    /// Call a registry tool on behalf of the door itself (resources); tool errors become
    /// JSON-RPC errors.
    async fn internal_call(
        &self,
        name: &'static str,
        args: Value,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<Value, ErrorData> {
        let reply = self.svc.call_op(&service_call(ctx), name, args).await;
        reply.and_then(|r| r.to_value()).map_err(|e| match e.code {
            ErrorCode::NotFound => ErrorData::resource_not_found(e.message, None),
            ErrorCode::InvalidArgument => ErrorData::invalid_params(e.message, None),
            _ => ErrorData::internal_error(error_text(&e), None),
        })
    }
}

/// `graph://{name}` → `name`.
fn graph_name(uri: &str) -> Option<&str> {
    uri.strip_prefix("graph://").filter(|n| !n.is_empty())
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_prompts()
                .build(),
        )
        .with_server_info(
            Implementation::new("mfn", SERVER_VERSION)
                .with_title("MFN: mycelium simulation and graph engine"),
        )
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(mcp_tools().to_vec()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(entry) = ops::find(&request.name) else {
            metrics::counter!("mfn_tool_calls_total", "tool" => "unknown", "status" => "INVALID_ARGUMENT", "door" => "mcp")
                .increment(1);
            let name = mfn_service::error::truncate(&request.name);
            let message = format!("unknown tool {name:?}; tools/list names them");
            return Err(ErrorData::invalid_params(message, None));
        };
        let args = Value::Object(request.arguments.unwrap_or_default());
        let span = info_span!("mcp.tool", tool = entry.spec.name);
        let Some(outcome) = self.run_tool(entry, args, &ctx).instrument(span).await else {
            let code = rmcp::model::ErrorCode::INVALID_REQUEST;
            return Err(ErrorData::new(code, "request cancelled", None));
        };
        let error = |e| CallToolResult::error(vec![ContentBlock::text(error_text(&e))]);
        Ok(outcome.and_then(tool_result).unwrap_or_else(error).into())
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let mut args = json!({});
        if let Some(cursor) = request.and_then(|r| r.cursor) {
            args["cursor"] = json!(cursor);
        }
        let page = self.internal_call("list_graphs", args, &ctx).await?;
        let resource = |g: &Value| {
            let name = g["name"].as_str()?;
            let un = if g["directed"] == true { "" } else { "un" };
            let (nodes, edges) = (&g["num_nodes"], &g["num_edges"]);
            let counts = format!("{nodes} nodes, {edges} edges");
            let about = format!("{un}directed graph, {counts} (node-link JSON)");
            let r = Resource::new(format!("graph://{name}"), name);
            Some(r.with_description(about).with_mime_type("application/json"))
        };
        let graphs = page["graphs"].as_array().into_iter().flatten();
        let resources = graphs.filter_map(resource).collect();
        let mut result = ListResourcesResult::with_all_items(resources)
            // Per tenant and changing: nobody else may cache it, and not for long.
            .with_cache_scope(CacheScope::Private)
            .with_ttl_ms(0);
        result.next_cursor = page["next_cursor"].as_str().map(str::to_owned);
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new("graph://{name}", "graph")
                .with_description(
                    "A stored graph of your tenant as node-link JSON (NetworkX node_link_data)",
                )
                .with_mime_type("application/json"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let Some(name) = graph_name(&request.uri) else {
            let message = format!("uri: {:?} is not graph://{{name}}", request.uri);
            return Err(ErrorData::invalid_params(message, None));
        };
        let args = json!({ "graph": name, "format": "json" });
        let doc = self.internal_call("export_graph", args, &ctx).await?;
        let text = doc["data"].as_str().unwrap_or_default().to_owned();
        let contents =
            ResourceContents::text(text, request.uri.clone()).with_mime_type("application/json");
        Ok(ReadResourceResult::new(vec![contents])
            .with_cache_scope(CacheScope::Private)
            .with_ttl_ms(0)
            .into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(prompts::list()))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        prompts::get(&request.name, request.arguments.as_ref()).map(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registry_tool_is_listed_with_both_schemas() {
        let listed = mcp_tools();
        assert_eq!(listed.len(), ops::all().len());
        for (t, entry) in listed.iter().zip(ops::all()) {
            assert_eq!(t.name, entry.spec.name);
            assert_eq!(t.input_schema.get("type"), Some(&json!("object")));
            let out = t.output_schema.as_ref().expect("output schema");
            assert_eq!(out.get("type"), Some(&json!("object")));
            let hints = t.annotations.as_ref().expect("annotations");
            let read_only = Some(!entry.spec.mutates);
            assert_eq!(hints.read_only_hint, read_only, "{}", t.name);
        }
    }

    #[test]
    fn errors_name_code_and_field() {
        // The field is named once, whether the message starts with it or not.
        let expected = "INVALID_ARGUMENT: grid_size: must be at most 512";
        for message in ["must be at most 512", "grid_size: must be at most 512"] {
            let e = ServiceError::invalid("grid_size", message);
            assert_eq!(error_text(&e), expected, "{message}");
        }
    }

    #[test]
    fn images_are_image_blocks_not_text() {
        let mut reply = Reply::new(json!({"width": 1}));
        reply.image = Some(ops::Image {
            mime_type: "image/png",
            data: vec![0x89, b'P', b'N', b'G'],
        });
        let r = tool_result(reply).unwrap();
        assert_eq!(r.structured_content, Some(json!({"width": 1})));
        assert_eq!(r.content.len(), 2);
        let text = r.content[0].as_text().map(|t| t.text.as_str());
        assert_eq!(text, Some(r#"{"width":1}"#));
        let img = r.content[1].as_image().expect("image block");
        assert_eq!(img.mime_type, "image/png");
        assert_eq!(img.data, "iVBORw==");
    }

    #[tokio::test(start_paused = true)]
    async fn progress_is_throttled_and_coalesced() {
        let sent = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = sent.clone();
        let token = ProgressToken(rmcp::model::NumberOrString::Number(7));
        let (sink, pump) = progress_pump(Some(token), move |p: ProgressNotificationParam| {
            log.lock().unwrap().push((p.progress, p.total));
            std::future::ready(true)
        });
        let sink = sink.expect("a sink for a token");
        let work = async {
            for done in 1..=50u64 {
                sink(done, 50);
                // 50 units, 10 ms apart: 500 ms of work.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::select! {
            () = work => {}
            () = pump => unreachable!("the pump never ends"),
        }
        let sent = sent.lock().unwrap().clone();
        // The first unit at once, then one per 100 ms: 5 or 6, never 50.
        assert!((4..=7).contains(&sent.len()), "{sent:?}");
        assert_eq!(sent[0], (1.0, Some(50.0)));
        let done: Vec<f64> = sent.iter().map(|s| s.0).collect();
        assert!(done.windows(2).all(|w| w[0] < w[1]), "{done:?}");
    }

    #[test]
    fn graph_uris() {
        assert_eq!(graph_name("graph://k"), Some("k"));
        assert_eq!(graph_name("graph://"), None);
        assert_eq!(graph_name("file:///etc/passwd"), None);
    }
}
