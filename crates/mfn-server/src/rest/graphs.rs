//! Stored graphs as REST resources: each route is a registry tool with the graph named in
//! the path, declared once in [`RESOURCES`] (the router and `/openapi.json` read it).
//!
//! Graphs belong to the caller's tenant: the API key's name, or `default` when
//! authentication is off. Another tenant's graph is "not found".

use std::collections::HashMap;

use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use axum::{Json, Router};
use mfn_service::decode::query_object;
use mfn_service::{ErrorCode, MfnService, ServiceError};
use serde_json::{Map, Value, json};

use super::extract::{ApiError, body_bytes};
use super::{MaybeCaller, call, json_object, respond};
use crate::security::Scope;

/// Where a route's arguments come from besides its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Args {
    /// None.
    None,
    /// The query string.
    Query,
    /// A JSON object body.
    Body,
    /// The body is a graph document (`import_graph`'s `data`), options in the query.
    Document,
}

/// How a route answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// 200 with the tool's result.
    Json,
    /// 201 with the result and `Location: /v1/graphs/{name}`.
    Created,
    /// 200 with the exported document itself, in its media type.
    Document,
}

/// A resource route over a tool.
#[derive(Debug, Clone)]
pub struct Resource {
    /// HTTP method.
    pub method: Method,
    /// Path template; `{name}` is the graph, `{node}` a node, `{tool}` any tool.
    pub path: &'static str,
    /// The tool it runs (`None`: the `{tool}` of the path).
    pub tool: Option<&'static str>,
    /// The tool argument `{name}` fills (`graph`, or `name` for creation).
    pub name_arg: &'static str,
    /// Where the other arguments come from.
    pub args: Args,
    /// How it answers.
    pub answer: Answer,
    /// One line for the reference.
    pub summary: &'static str,
}

const fn resource(
    method: Method,
    path: &'static str,
    tool: &'static str,
    args: Args,
    summary: &'static str,
) -> Resource {
    Resource {
        method,
        path,
        tool: Some(tool),
        name_arg: "graph",
        args,
        answer: Answer::Json,
        summary,
    }
}

/// Every resource route.
#[rustfmt::skip]
pub static RESOURCES: &[Resource] = &[
    resource(Method::GET, "/v1/graphs", "list_graphs", Args::Query,
        "The tenant's graphs (every tenant's with all_tenants=true and an admin key)"),
    Resource { method: Method::POST, path: "/v1/graphs", tool: Some("create_graph"), name_arg: "graph",
        args: Args::Body, answer: Answer::Created, summary: "Create a graph" },
    resource(Method::GET, "/v1/graphs/{name}", "get_info", Args::None, "A graph's summary"),
    resource(Method::DELETE, "/v1/graphs/{name}", "delete_graph", Args::None, "Delete a graph"),
    Resource { method: Method::PUT, path: "/v1/graphs/{name}", tool: Some("import_graph"), name_arg: "name",
        args: Args::Document, answer: Answer::Json, summary: "Create or replace a graph from a document \
        (edge-list CSV, node-link JSON or GraphML in the body; format from ?format= or the content type)" },
    resource(Method::GET, "/v1/graphs/{name}/nodes", "get_node_attributes", Args::Query, "Node attributes, paged"),
    resource(Method::POST, "/v1/graphs/{name}/nodes", "add_nodes", Args::Body, "Add nodes"),
    resource(Method::DELETE, "/v1/graphs/{name}/nodes", "remove_nodes", Args::Body, "Remove nodes"),
    resource(Method::GET, "/v1/graphs/{name}/nodes/{node}/neighbors", "get_neighbors", Args::Query,
        "Neighbours of a node (digits in the path are an integer id)"),
    resource(Method::GET, "/v1/graphs/{name}/edges", "get_edge_attributes", Args::Query, "Edge attributes, paged"),
    resource(Method::POST, "/v1/graphs/{name}/edges", "add_edges", Args::Body,
        "Add edges ([u,v], [u,v,w] or {source,target,weight,attrs})"),
    resource(Method::DELETE, "/v1/graphs/{name}/edges", "remove_edges", Args::Body, "Remove edges"),
    Resource { method: Method::GET, path: "/v1/graphs/{name}/export", tool: Some("export_graph"), name_arg: "graph",
        args: Args::Query, answer: Answer::Document,
        summary: "Export as node-link JSON (default), CSV or GraphML, answered as the document itself" },
    Resource { method: Method::POST, path: "/v1/graphs/{name}/tools/{tool}", tool: None, name_arg: "graph",
        args: Args::Body, answer: Answer::Json,
        summary: "Run any tool on this graph (the path fills its `graph` argument)" },
];

/// The resource routes (behind the security layers).
pub fn router(svc: MfnService) -> Router {
    let mut router = Router::new();
    for r in RESOURCES {
        let filter = MethodFilter::try_from(r.method.clone()).unwrap_or(MethodFilter::GET);
        let handler =
            move |State(svc): State<MfnService>,
                  Path(params): Path<HashMap<String, String>>,
                  caller: MaybeCaller,
                  RawQuery(q): RawQuery,
                  req: Request| async move { serve(&svc, r, params, caller, q, req).await };
        router = router.route(r.path, on(filter, handler));
    }
    router.with_state(svc)
}

async fn serve(
    svc: &MfnService,
    r: &'static Resource,
    params: HashMap<String, String>,
    caller: MaybeCaller,
    query: Option<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let headers = req.headers().clone();
    let fail = |e: ServiceError| ApiError::new(e, &headers);
    let query = || query_object(query.as_deref().unwrap_or_default()).map_err(fail);
    let mut args = match r.args {
        Args::None => Map::new(),
        Args::Query => query()?,
        Args::Body => json_object(req).await?,
        Args::Document => document_args(query()?, req, &headers).await?,
    };
    if let Some(name) = params.get("name") {
        put_path_arg(&mut args, r.name_arg, json!(name)).map_err(fail)?;
    }
    if let Some(node) = params.get("node") {
        // A path segment has no JSON type: digits are an integer id, as in CSV files.
        let node = serde_json::to_value(mfn_service::mfn_graph::NodeId::parse_text(node))
            .unwrap_or_default();
        put_path_arg(&mut args, "node", node).map_err(fail)?;
    }
    if r.tool == Some("list_graphs") && args.remove("all_tenants") == Some(Value::Bool(true)) {
        return all_tenants(svc, &caller, &headers).await;
    }
    let tool = r.tool.or(params.get("tool").map(String::as_str));
    let call = call(&headers, &caller);
    let reply = svc.call_op(&call, tool.unwrap_or_default(), args.into());
    let reply = reply.await.map_err(fail)?;
    match r.answer {
        Answer::Json => respond(reply, StatusCode::OK, &headers),
        Answer::Created => {
            let location = reply.to_value().map_err(fail)?["name"]
                .as_str()
                .and_then(|n| HeaderValue::from_str(&format!("/v1/graphs/{n}")).ok());
            let mut response = respond(reply, StatusCode::CREATED, &headers)?;
            if let Some(location) = location {
                response.headers_mut().insert(header::LOCATION, location);
            }
            Ok(response)
        }
        Answer::Document => {
            let out = reply.to_value().map_err(fail)?;
            let content_type = match out["format"].as_str() {
                Some("csv") => "text/csv; charset=utf-8",
                Some("graphml") => "application/graphml+xml",
                _ => "application/json",
            };
            let data = out["data"].as_str().unwrap_or_default().to_owned();
            Ok(([(header::CONTENT_TYPE, content_type)], data).into_response())
        }
    }
}

/// `import_graph`'s arguments: the query's options, the body as `data`, the format
/// from the content type when the query does not say, and `overwrite` by default (a
/// PUT replaces).
async fn document_args(
    mut args: Map<String, Value>,
    req: Request,
    headers: &HeaderMap,
) -> Result<Map<String, Value>, ApiError> {
    let body = body_bytes(req, &()).await?;
    let not_text = ServiceError::invalid("body", "the graph document must be UTF-8 text");
    let text = String::from_utf8(body.to_vec()).map_err(|_| ApiError::new(not_text, headers))?;
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
    Ok(args)
}

/// Put the path's value under `key`; arguments that name another one are refused.
fn put_path_arg(
    args: &mut Map<String, Value>,
    key: &str,
    value: Value,
) -> Result<(), ServiceError> {
    if let Some(given) = args.get(key)
        && *given != value
    {
        return Err(ServiceError::invalid(
            key,
            format!("{key}: the body says {given} but the path says {value}"),
        ));
    }
    args.insert(key.to_owned(), value);
    Ok(())
}

/// Every tenant's graphs, for an admin key.
async fn all_tenants(
    svc: &MfnService,
    caller: &MaybeCaller,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let fail = |e| ApiError::new(e, headers);
    let key = caller.caller.as_ref().map(|c| &c.key);
    if !key.is_some_and(|k| k.scopes.contains(Scope::Admin)) {
        let message = "all_tenants: needs a key with the admin scope";
        return Err(fail(ServiceError::new(
            ErrorCode::PermissionDenied,
            message,
        )));
    }
    let graphs = svc.list_all_graphs().await.map_err(fail)?;
    let graphs: Vec<Value> = graphs
        .into_iter()
        .map(|(tenant, info)| {
            let mut v = serde_json::to_value(info).unwrap_or_default();
            v["tenant"] = json!(tenant);
            v
        })
        .collect();
    Ok(Json(json!({ "graphs": graphs, "truncated": false, "next_cursor": null })).into_response())
}
