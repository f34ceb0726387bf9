//! REST: the operation registry ([`mfn_service::ops`]) as JSON over HTTP on
//! `MFN_HTTP_PORT`. Nothing here names an operation: the router, the tool routes and
//! `/openapi.json` are generated from the registry, and one handler serves them all
//! (decode → [`MfnService::call_op`] → encode).
//!
//! | route | what |
//! |---|---|
//! | each operation's own routes | `POST /v1/simulate` (`/simulate`), `/v1/features`, `/v1/nernst` (`/nernst`), … and `GET /v1/simulate/field.png`, from [`OpSpec::rest`](mfn_service::ops::OpSpec) |
//! | `GET /v1/tools`, `GET /v1/tools/{name}` | the registry with schemas |
//! | `POST /v1/tools/{name}` | any operation by name or alias; the body is its arguments |
//! | `/v1/graphs/…` | stored graphs as resources ([`graphs`]) |
//! | `GET /openapi.json`, `GET /docs` | the API description and its page ([`openapi`]) |
//!
//! Bodies are JSON objects (`Content-Type: application/json`, or none): another media
//! type is 415, `null` or a non-object is 400, more than `MFN_MAX_MESSAGE_SIZE` is 413,
//! each with the JSON error body. A rendering operation answers its image unless the
//! client asks for `application/json` only. Security, metrics and request ids are
//! layers mounted by [`crate::http`].

use axum::extract::{FromRequestParts, Path, RawQuery, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use axum::{Json, Router};
use mfn_service::decode::query_object;
use mfn_service::ops::{self, AuditNotes, Call, DEFAULT_TENANT, Door, Entry, Reply, Route};
use mfn_service::{ErrorCode, MfnService, ServiceError};
use serde_json::{Map, Value, json};

pub mod extract;
pub mod graphs;
pub mod openapi;

pub use extract::ApiError;

use crate::security::Caller;

/// The API routes (those behind authentication).
pub fn api_router(svc: MfnService) -> Router {
    let mut router = Router::new()
        .route("/v1/tools", get(list_tools))
        .route("/v1/tools/{name}", get(describe_tool).post(call_by_name));
    for entry in ops::all() {
        for route in entry.spec.rest {
            router = router.route(route.path(), operation_route(entry, *route));
        }
    }
    router.with_state(svc.clone()).merge(graphs::router(svc))
}

/// The API description routes (open, like the probes).
pub fn docs_router() -> Router {
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .route("/docs", get(docs_page))
}

/// The caller's identity, when a key was accepted, and the audit line's notes.
pub(crate) struct MaybeCaller {
    caller: Option<Caller>,
    notes: Option<AuditNotes>,
}

impl<S: Send + Sync> FromRequestParts<S> for MaybeCaller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeCaller {
            caller: parts.extensions.get::<Caller>().cloned(),
            notes: parts.extensions.get::<AuditNotes>().cloned(),
        })
    }
}

/// The service call of a REST request: its request id, the caller's tenant and where
/// its parameters are noted for the audit line.
pub(crate) fn call(headers: &HeaderMap, maybe: &MaybeCaller) -> Call {
    let key = maybe.caller.as_ref().map(|c| &c.key);
    Call::new(Door::Rest, extract::context(headers))
        .tenant(key.map_or(DEFAULT_TENANT, |k| k.name.as_str()))
        .notes(maybe.notes.clone())
}

fn operation_route(entry: &'static Entry, route: Route) -> MethodRouter<MfnService> {
    let handler = move |State(svc): State<MfnService>,
                        caller: MaybeCaller,
                        RawQuery(q): RawQuery,
                        req: Request| async move {
        let headers = req.headers().clone();
        let args = match route {
            Route::Post(_) => json_object(req).await?,
            Route::Get(_) => query_object(q.as_deref().unwrap_or_default())
                .map_err(|e| ApiError::new(e, &headers))?,
        };
        run(&svc, &headers, &caller, entry.spec.name, args).await
    };
    match route {
        Route::Post(_) => post(handler),
        Route::Get(_) => get(handler),
    }
}

/// Run operation `name` for the caller and answer its result.
pub(crate) async fn run(
    svc: &MfnService,
    headers: &HeaderMap,
    caller: &MaybeCaller,
    name: &str,
    args: Map<String, Value>,
) -> Result<Response, ApiError> {
    let reply = svc.call_op(&call(headers, caller), name, args.into()).await;
    let reply = reply.map_err(|e| ApiError::new(e, headers))?;
    respond(reply, StatusCode::OK, headers)
}

/// The structured result as JSON, or the image itself when the operation rendered one
/// and the client did not ask for JSON only.
pub(crate) fn respond(
    reply: Reply,
    status: StatusCode,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json") && !a.contains("image/"));
    let fail = |e| ApiError::new(e, headers);
    if let Some(image) = &reply.image
        && !wants_json
    {
        let mut response = (
            [(header::CONTENT_TYPE, image.mime_type)],
            image.data.clone(),
        )
            .into_response();
        // The cache status of a rendered field, which has no JSON body to carry it.
        if let Some(cache) = reply.to_value().map_err(fail)?["meta"]["cache"].as_str()
            && let Ok(v) = HeaderValue::from_str(cache)
        {
            response.headers_mut().insert("x-mfn-cache", v);
        }
        return Ok(response);
    }
    let body = reply.to_json().map_err(fail)?;
    Ok((status, [(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The body as a JSON object: an empty body is `{}`; another media type is 415; `null`,
/// a non-object or invalid JSON is 400; a body over the limit is 413.
pub(crate) async fn json_object(req: Request) -> Result<Map<String, Value>, ApiError> {
    let headers = req.headers().clone();
    let fail = |e| ApiError::new(e, &headers);
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or_default().trim();
        if essence != "application/json" && !essence.ends_with("+json") {
            let essence = mfn_service::error::truncate(essence);
            let message =
                format!("content-type {essence:?} is not supported: send application/json");
            return Err(fail(ServiceError::new(
                ErrorCode::UnsupportedMediaType,
                message,
            )));
        }
    }
    object(&extract::body_bytes(req, &()).await?).map_err(fail)
}

/// `body` as a JSON object (an empty body is `{}`).
pub(crate) fn object(body: &[u8]) -> Result<Map<String, Value>, ServiceError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ServiceError::invalid(
            "body",
            "body must be a JSON object of the operation's fields",
        )),
        Err(e) => Err(ServiceError::invalid(
            "body",
            format!("body is not valid JSON: {e}"),
        )),
    }
}

async fn list_tools() -> Json<Value> {
    let tools: Vec<Value> = ops::all().iter().map(describe).collect();
    Json(json!({ "tools": tools }))
}

fn describe(e: &Entry) -> Value {
    json!({
        "name": e.spec.name,
        "aliases": e.spec.aliases,
        "description": e.spec.description,
        "input_schema": *e.input_schema,
        "output_schema": *e.output_schema,
        "mutates": e.spec.mutates,
        "rest": e.spec.rest.iter().map(|r| r.path()).collect::<Vec<_>>(),
    })
}

fn not_found(name: &str, headers: &HeaderMap) -> ApiError {
    let name = mfn_service::error::truncate(name);
    let message = format!("no tool {name:?}; GET /v1/tools lists them");
    ApiError::new(ServiceError::new(ErrorCode::NotFound, message), headers)
}

async fn describe_tool(
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    ops::find(&name)
        .map(|e| Json(describe(e)))
        .ok_or_else(|| not_found(&name, &headers))
}

async fn call_by_name(
    State(svc): State<MfnService>,
    Path(name): Path<String>,
    caller: MaybeCaller,
    req: Request,
) -> Result<Response, ApiError> {
    let headers = req.headers().clone();
    if ops::find(&name).is_none() {
        return Err(not_found(&name, &headers));
    }
    let args = json_object(req).await?;
    run(&svc, &headers, &caller, &name, args).await
}

async fn openapi_json() -> impl IntoResponse {
    Json(openapi::document().clone())
}

async fn docs_page() -> Html<&'static str> {
    Html(include_str!("docs.html"))
}
