//! REST: the operations of SERVICE.md as JSON over HTTP on `MFN_HTTP_PORT`, thin
//! handlers over [`MfnService`] (decode, call, encode). Field names, defaults and limits
//! are the gRPC ones because both doors decode into the same request types.
//!
//! | route | operation |
//! |---|---|
//! | `POST /v1/simulate` (`/simulate`) | run a simulation |
//! | `POST /v1/features` | the 18 features of a run |
//! | `POST /v1/validate` (`/validate`) | the validation cycle |
//! | `POST /v1/nernst` (`/nernst`) | a Nernst potential |
//! | `POST /v1/federated/aggregate` (`/federated/aggregate`) | hierarchical Krum |
//! | `GET /v1/simulate/field.png?…` | the final field as a PNG heatmap |
//! | `POST /v1/fractal` | box-counting dimension of a square array |
//! | `POST /v1/ifs` | an IFS orbit and its Lyapunov exponent |
//! | `/v1/tools/…`, `/v1/graphs/…` | the tool registry and graph resources ([`graphs`]) |
//! | `GET /openapi.json`, `GET /docs` | the API description and its page |
//!
//! The unversioned paths are the Python reference's, kept as aliases. Security,
//! metrics and request ids are layers mounted by [`crate::http`].

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mfn_service::MfnService;
use mfn_service::request::{
    AggregateRequest, FeaturesRequest, FractalRequest, IfsRequest, NernstRequest, SimInput,
    SimulationRequest, ValidateRequest,
};
use mfn_service::response::{
    AggregateResponse, FeaturesResponse, FractalResponse, IfsResponse, NernstResponse,
    SimulationResponse, ValidateResponse,
};

pub mod extract;
pub mod graphs;
pub mod openapi;

pub use extract::{ApiError, ApiJson, ApiQuery};

use extract::context;

/// The API routes (those behind authentication).
pub fn api_router(svc: MfnService) -> Router {
    Router::new()
        .route("/v1/simulate", post(simulate))
        .route("/simulate", post(simulate))
        .route("/v1/simulate/field.png", get(field_png))
        .route("/v1/features", post(features))
        .route("/v1/validate", post(validate))
        .route("/validate", post(validate))
        .route("/v1/nernst", post(nernst))
        .route("/nernst", post(nernst))
        .route("/v1/federated/aggregate", post(aggregate))
        .route("/federated/aggregate", post(aggregate))
        .route("/v1/fractal", post(fractal))
        .route("/v1/ifs", post(ifs))
        .with_state(svc.clone())
        .merge(graphs::router(svc))
}

/// The API description routes (open, like the probes).
pub fn docs_router() -> Router {
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .route("/docs", get(docs_page))
}

async fn simulate(
    State(svc): State<MfnService>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<SimulationRequest>,
) -> Result<Json<SimulationResponse>, ApiError> {
    let ctx = context(&headers);
    let (out, meta) = svc
        .run_simulation(&ctx, &req)
        .await
        .map_err(|e| ApiError::new(e, &headers))?;
    Ok(Json(SimulationResponse::new(&out, &meta)))
}

async fn field_png(
    State(svc): State<MfnService>,
    headers: HeaderMap,
    ApiQuery(sim): ApiQuery<SimInput>,
) -> Result<Response, ApiError> {
    let ctx = context(&headers);
    let (png, meta) = svc
        .simulate_png(&ctx, &sim)
        .await
        .map_err(|e| ApiError::new(e, &headers))?;
    let mut response = ([(header::CONTENT_TYPE, "image/png")], png).into_response();
    if let Ok(v) = HeaderValue::from_str(meta.cache.as_str()) {
        response.headers_mut().insert("x-mfn-cache", v);
    }
    Ok(response)
}

async fn features(
    State(svc): State<MfnService>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<FeaturesRequest>,
) -> Result<Json<FeaturesResponse>, ApiError> {
    let ctx = context(&headers);
    let (out, meta) = svc
        .extract_features(&ctx, &req)
        .await
        .map_err(|e| ApiError::new(e, &headers))?;
    Ok(Json(FeaturesResponse::new(&out, &meta)))
}

async fn validate(
    State(svc): State<MfnService>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ValidateRequest>,
) -> Result<Json<ValidateResponse>, ApiError> {
    let ctx = context(&headers);
    let (report, meta) = svc
        .validate_pattern(&ctx, &req)
        .await
        .map_err(|e| ApiError::new(e, &headers))?;
    Ok(Json(ValidateResponse::new(&report, &meta)))
}

async fn nernst(
    State(svc): State<MfnService>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<NernstRequest>,
) -> Result<Json<NernstResponse>, ApiError> {
    let ctx = context(&headers);
    let (out, meta) = svc
        .nernst(&ctx, &req)
        .map_err(|e| ApiError::new(e, &headers))?;
    Ok(Json(NernstResponse::new(&out, &meta)))
}

async fn aggregate(
    State(svc): State<MfnService>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<AggregateRequest>,
) -> Result<Json<AggregateResponse>, ApiError> {
    let ctx = context(&headers);
    let (out, meta) = svc
        .aggregate(&ctx, req)
        .await
        .map_err(|e| ApiError::new(e, &headers))?;
    Ok(Json(AggregateResponse::new(out, &meta)))
}

async fn fractal(
    State(svc): State<MfnService>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<FractalRequest>,
) -> Result<Json<FractalResponse>, ApiError> {
    let ctx = context(&headers);
    let (out, meta) = svc
        .fractal_dimension(&ctx, req)
        .await
        .map_err(|e| ApiError::new(e, &headers))?;
    Ok(Json(FractalResponse::new(out, &meta)))
}

async fn ifs(
    State(svc): State<MfnService>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<IfsRequest>,
) -> Result<Json<IfsResponse>, ApiError> {
    let ctx = context(&headers);
    let (out, meta) = svc
        .ifs(&ctx, &req)
        .await
        .map_err(|e| ApiError::new(e, &headers))?;
    Ok(Json(IfsResponse::new(out, &meta)))
}

async fn openapi_json() -> impl IntoResponse {
    Json(openapi::document().clone())
}

async fn docs_page() -> Html<&'static str> {
    Html(include_str!("docs.html"))
}
