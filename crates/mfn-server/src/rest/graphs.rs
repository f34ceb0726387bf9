//! REST over the tool registry: `POST /v1/tools/{name}` for every tool, and
//! resource-style graph routes that are the same tools with the graph named in the path.
//!
//! | route | tool |
//! |---|---|
//! | `GET /v1/tools`, `GET /v1/tools/{name}` | the registry with schemas |
//! | `POST /v1/tools/{name}` | any tool; the body is its arguments |
//! | `GET /v1/graphs` (`?all_tenants=true` for an admin key) | `list_graphs` |
//! | `POST /v1/graphs` | `create_graph` (201) |
//! | `GET`, `DELETE /v1/graphs/{name}` | `get_info`, `delete_graph` |
//! | `PUT /v1/graphs/{name}?format=csv\|json\|graphml` (document as body) | `import_graph` |
//! | `GET`, `POST`, `DELETE /v1/graphs/{name}/nodes` | `get_node_attributes`, `add_nodes`, `remove_nodes` |
//! | `GET /v1/graphs/{name}/nodes/{node}/neighbors` | `get_neighbors` |
//! | `GET`, `POST`, `DELETE /v1/graphs/{name}/edges` | `get_edge_attributes`, `add_edges`, `remove_edges` |
//! | `GET /v1/graphs/{name}/export?format=…` | `export_graph`, as the document itself |
//!
//! Graphs belong to the caller's tenant: the API key's name, or `default` when
//! authentication is off. Another tenant's graph is "not found".

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use mfn_service::decode::query_object;
use mfn_service::tools::{self, DEFAULT_TENANT, ToolOutput};
use mfn_service::{ErrorCode, MfnService, ServiceError};
use serde_json::{Map, Value, json};

use super::extract::{ApiError, context};
use crate::security::{Caller, Scope};

/// The tool and graph routes (behind the security layers).
pub fn router(svc: MfnService) -> Router {
    Router::new()
        .route("/v1/tools", get(list_tools))
        .route("/v1/tools/{name}", get(describe_tool).post(call_tool))
        .route("/v1/graphs", get(list_graphs).post(create_graph))
        .route(
            "/v1/graphs/{name}",
            get(graph_info).delete(delete_graph).put(import_graph),
        )
        .route(
            "/v1/graphs/{name}/nodes",
            get(get_nodes).post(add_nodes).delete(remove_nodes),
        )
        .route("/v1/graphs/{name}/nodes/{node}/neighbors", get(neighbors))
        .route(
            "/v1/graphs/{name}/edges",
            get(get_edges).post(add_edges).delete(remove_edges),
        )
        .route("/v1/graphs/{name}/export", get(export_graph))
        .route("/v1/graphs/{name}/tools/{tool}", post(call_on_graph))
        .with_state(svc)
}

type Caller_ = Option<Extension<Caller>>;

fn tenant(caller: &Caller_) -> String {
    caller
        .as_ref()
        .map_or_else(|| DEFAULT_TENANT.to_owned(), |c| c.key.name.clone())
}

/// Call `tool` with `args` for the caller and answer its structured result as JSON.
async fn run(
    svc: &MfnService,
    headers: &HeaderMap,
    caller: &Caller_,
    tool: &str,
    args: Value,
) -> Result<ToolOutput, ApiError> {
    let ctx = context(headers);
    svc.call_tool(&ctx, &tenant(caller), tool, args, None)
        .await
        .map_err(|e| ApiError::new(e, headers))
}

async fn run_json(
    svc: &MfnService,
    headers: &HeaderMap,
    caller: &Caller_,
    tool: &str,
    args: Value,
) -> Result<Response, ApiError> {
    let out = run(svc, headers, caller, tool, args).await?;
    Ok(respond(out, headers))
}

/// The structured result as JSON, or the image itself when the tool rendered one and
/// the client did not ask for JSON only.
fn respond(out: ToolOutput, headers: &HeaderMap) -> Response {
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json") && !a.contains("image/"));
    match out.image {
        Some(image) if !wants_json => {
            ([(header::CONTENT_TYPE, image.mime_type)], image.data).into_response()
        }
        _ => Json(out.structured).into_response(),
    }
}

/// A JSON object body (an empty body is `{}`).
fn body_object(body: &Bytes, headers: &HeaderMap) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::new(
            ServiceError::invalid("body", "body must be a JSON object of the tool's arguments"),
            headers,
        )),
        Err(e) => Err(ApiError::new(
            ServiceError::invalid("body", format!("body is not valid JSON: {e}")),
            headers,
        )),
    }
}

fn query(q: Option<String>, headers: &HeaderMap) -> Result<Map<String, Value>, ApiError> {
    query_object(q.as_deref().unwrap_or_default()).map_err(|e| ApiError::new(e, headers))
}

/// Put the path's value under `key`; a body that names another one is refused.
fn with_path(
    mut args: Map<String, Value>,
    key: &str,
    value: Value,
    headers: &HeaderMap,
) -> Result<Value, ApiError> {
    if let Some(given) = args.get(key)
        && *given != value
    {
        return Err(ApiError::new(
            ServiceError::invalid(
                key,
                format!("{key}: the body says {given} but the path says {value}"),
            ),
            headers,
        ));
    }
    args.insert(key.to_owned(), value);
    Ok(Value::Object(args))
}

async fn list_tools() -> Json<Value> {
    let tools: Vec<Value> = tools::tools().iter().map(describe).collect();
    Json(json!({ "tools": tools }))
}

fn describe(t: &tools::ToolInfo) -> Value {
    json!({
        "name": t.name,
        "description": t.description,
        "input_schema": *t.input_schema,
        "output_schema": *t.output_schema,
        "mutates": t.mutates,
    })
}

async fn describe_tool(
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    tools::tool(&name)
        .map(|t| Json(describe(t)))
        .ok_or_else(|| {
            ApiError::new(
                ServiceError::new(
                    ErrorCode::NotFound,
                    format!("no tool {name:?}; GET /v1/tools lists them"),
                ),
                &headers,
            )
        })
}

async fn call_tool(
    State(svc): State<MfnService>,
    Path(name): Path<String>,
    headers: HeaderMap,
    caller: Caller_,
    body: Bytes,
) -> Result<Response, ApiError> {
    if tools::tool(&name).is_none() {
        return Err(ApiError::new(
            ServiceError::new(
                ErrorCode::NotFound,
                format!("no tool {name:?}; GET /v1/tools lists them"),
            ),
            &headers,
        ));
    }
    let args = body_object(&body, &headers)?;
    run_json(&svc, &headers, &caller, &name, Value::Object(args)).await
}

async fn call_on_graph(
    State(svc): State<MfnService>,
    Path((graph, name)): Path<(String, String)>,
    headers: HeaderMap,
    caller: Caller_,
    body: Bytes,
) -> Result<Response, ApiError> {
    let args = with_path(
        body_object(&body, &headers)?,
        "graph",
        json!(graph),
        &headers,
    )?;
    run_json(&svc, &headers, &caller, &name, args).await
}

async fn list_graphs(
    State(svc): State<MfnService>,
    headers: HeaderMap,
    caller: Caller_,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let mut args = query(q, &headers)?;
    let all = args.remove("all_tenants");
    if all == Some(Value::Bool(true)) {
        let admin = caller
            .as_ref()
            .is_some_and(|c| c.key.scopes.contains(Scope::Admin));
        if !admin {
            return Err(ApiError::new(
                ServiceError::new(
                    ErrorCode::PermissionDenied,
                    "all_tenants: needs a key with the admin scope",
                ),
                &headers,
            ));
        }
        let graphs = svc
            .list_all_graphs()
            .await
            .map_err(|e| ApiError::new(e, &headers))?;
        let graphs: Vec<Value> = graphs
            .into_iter()
            .map(|(tenant, info)| {
                let mut v = serde_json::to_value(info).unwrap_or_default();
                v["tenant"] = json!(tenant);
                v
            })
            .collect();
        return Ok(
            Json(json!({ "graphs": graphs, "truncated": false, "next_cursor": null }))
                .into_response(),
        );
    }
    run_json(&svc, &headers, &caller, "list_graphs", Value::Object(args)).await
}

async fn create_graph(
    State(svc): State<MfnService>,
    headers: HeaderMap,
    caller: Caller_,
    body: Bytes,
) -> Result<Response, ApiError> {
    let args = body_object(&body, &headers)?;
    let out = run(&svc, &headers, &caller, "create_graph", Value::Object(args)).await?;
    let mut response = (StatusCode::CREATED, Json(&out.structured)).into_response();
    if let Some(name) = out.structured["name"].as_str()
        && let Ok(v) = HeaderValue::from_str(&format!("/v1/graphs/{name}"))
    {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

async fn graph_info(
    State(svc): State<MfnService>,
    Path(name): Path<String>,
    headers: HeaderMap,
    caller: Caller_,
) -> Result<Response, ApiError> {
    run_json(
        &svc,
        &headers,
        &caller,
        "get_info",
        json!({ "graph": name }),
    )
    .await
}

async fn delete_graph(
    State(svc): State<MfnService>,
    Path(name): Path<String>,
    headers: HeaderMap,
    caller: Caller_,
) -> Result<Response, ApiError> {
    run_json(
        &svc,
        &headers,
        &caller,
        "delete_graph",
        json!({ "graph": name }),
    )
    .await
}

async fn import_graph(
    State(svc): State<MfnService>,
    Path(name): Path<String>,
    headers: HeaderMap,
    caller: Caller_,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut args = query(q, &headers)?;
    let text = String::from_utf8(body.to_vec()).map_err(|_| {
        ApiError::new(
            ServiceError::invalid("body", "the graph document must be UTF-8 text"),
            &headers,
        )
    })?;
    if !args.contains_key("format") {
        let format = match headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
        {
            Some(t) if t.contains("json") => "json",
            Some(t) if t.contains("xml") || t.contains("graphml") => "graphml",
            _ => "csv",
        };
        args.insert("format".into(), json!(format));
    }
    args.insert("data".into(), Value::String(text));
    args.entry("overwrite").or_insert(json!(true));
    let args = with_path(args, "name", json!(name), &headers)?;
    run_json(&svc, &headers, &caller, "import_graph", args).await
}

async fn get_nodes(
    State(svc): State<MfnService>,
    Path(name): Path<String>,
    headers: HeaderMap,
    caller: Caller_,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let args = with_path(query(q, &headers)?, "graph", json!(name), &headers)?;
    run_json(&svc, &headers, &caller, "get_node_attributes", args).await
}

async fn get_edges(
    State(svc): State<MfnService>,
    Path(name): Path<String>,
    headers: HeaderMap,
    caller: Caller_,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let args = with_path(query(q, &headers)?, "graph", json!(name), &headers)?;
    run_json(&svc, &headers, &caller, "get_edge_attributes", args).await
}

macro_rules! body_route {
    ($fn:ident, $tool:literal) => {
        async fn $fn(
            State(svc): State<MfnService>,
            Path(name): Path<String>,
            headers: HeaderMap,
            caller: Caller_,
            body: Bytes,
        ) -> Result<Response, ApiError> {
            let args = with_path(
                body_object(&body, &headers)?,
                "graph",
                json!(name),
                &headers,
            )?;
            run_json(&svc, &headers, &caller, $tool, args).await
        }
    };
}

body_route!(add_nodes, "add_nodes");
body_route!(remove_nodes, "remove_nodes");
body_route!(add_edges, "add_edges");
body_route!(remove_edges, "remove_edges");

async fn neighbors(
    State(svc): State<MfnService>,
    Path((name, node)): Path<(String, String)>,
    headers: HeaderMap,
    caller: Caller_,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    // A path segment has no JSON type: digits are an integer id, as in CSV files.
    let node =
        serde_json::to_value(mfn_service::mfn_graph::NodeId::parse_text(&node)).unwrap_or_default();
    let args = with_path(query(q, &headers)?, "graph", json!(name), &headers)?;
    let Value::Object(args) = args else {
        unreachable!("with_path returns an object")
    };
    let args = with_path(args, "node", node, &headers)?;
    run_json(&svc, &headers, &caller, "get_neighbors", args).await
}

async fn export_graph(
    State(svc): State<MfnService>,
    Path(name): Path<String>,
    headers: HeaderMap,
    caller: Caller_,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let mut args = query(q, &headers)?;
    args.entry("format").or_insert(json!("json"));
    let args = with_path(args, "graph", json!(name), &headers)?;
    let out = run(&svc, &headers, &caller, "export_graph", args).await?;
    let content_type = match out.structured["format"].as_str() {
        Some("csv") => "text/csv; charset=utf-8",
        Some("graphml") => "application/graphml+xml",
        _ => "application/json",
    };
    let data = out.structured["data"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Ok(([(header::CONTENT_TYPE, content_type)], data).into_response())
}
