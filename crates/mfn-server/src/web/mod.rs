//! The live page at `/`: one static HTML page with its script and stylesheet, compiled
//! into the binary (`include_str!`), no build step and no network access needed by the
//! browser. The page drives the WebSocket door ([`crate::ws`]): a form for the
//! parameters, a heatmap of the field, charts of the potential statistics, the fractal
//! dimension and the growth events, and downloads of the heatmap (PNG) and the run (JSON).

use std::net::SocketAddr;

use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{Html, IntoResponse};
use axum::routing::get;

const INDEX: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");
const FAVICON: &str = include_str!("assets/favicon.svg");

/// The page's routes: `/`, `/assets/app.js`, `/assets/app.css`, `/favicon.svg`.
pub fn router(grpc_addr: SocketAddr) -> Router {
    let index = INDEX
        .replace("{{GRPC_PORT}}", &grpc_addr.port().to_string())
        .replace("{{VERSION}}", mfn_service::SERVER_VERSION);
    Router::new()
        .route("/", get(move || async move { Html(index) }))
        .route(
            "/assets/app.js",
            get(|| asset("text/javascript; charset=utf-8", APP_JS)),
        )
        .route(
            "/assets/app.css",
            get(|| asset("text/css; charset=utf-8", APP_CSS)),
        )
        .route("/favicon.svg", get(|| asset("image/svg+xml", FAVICON)))
}

async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache")],
        body,
    )
}
