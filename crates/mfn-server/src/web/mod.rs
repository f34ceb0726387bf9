//! The live page at `/`: one static HTML page with its scripts and stylesheet, compiled
//! into the binary (`include_str!`), no build step and no network access needed by the
//! browser. Two tabs:
//!
//! - **Simulation** (`app.js`) drives the WebSocket door ([`crate::ws`]): a form for the
//!   parameters, a heatmap of the field, charts of the potential statistics, the fractal
//!   dimension and the growth events, and downloads of the heatmap (PNG) and the run (JSON).
//! - **Graphs** (`graphs.js`) uses the REST graph routes ([`crate::rest`]): the tenant's
//!   stored graphs, each drawn by `visualize_graph` (an SVG shown as an image), a PNG
//!   download, `extract_network` with its metrics, `generate_graph` (karate club) and
//!   the top betweenness centralities.
//!
//! Both send the API key typed in the header (`x-api-key` on REST, the `auth` message on
//! WebSocket) when the server asks for one.

use std::net::SocketAddr;

use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{Html, IntoResponse};
use axum::routing::get;

const INDEX: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const GRAPHS_JS: &str = include_str!("assets/graphs.js");
const APP_CSS: &str = include_str!("assets/app.css");
const FAVICON: &str = include_str!("assets/favicon.svg");

/// The page's routes: `/`, `/assets/app.js`, `/assets/graphs.js`, `/assets/app.css`,
/// `/favicon.svg`.
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
            "/assets/graphs.js",
            get(|| asset("text/javascript; charset=utf-8", GRAPHS_JS)),
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

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;

    async fn get(path: &str) -> (String, String) {
        let response = router("127.0.0.1:50051".parse().unwrap())
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let ty = response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (ty, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn the_page_and_its_assets_are_served() {
        let (ty, page) = get("/").await;
        assert!(ty.starts_with("text/html"));
        assert!(!page.contains("{{") && page.contains("port <b>50051</b>"));
        for script in ["/assets/app.js", "/assets/graphs.js"] {
            assert!(
                page.contains(&format!("<script src=\"{script}\">")),
                "{script}"
            );
            let (ty, body) = get(script).await;
            assert!(ty.starts_with("text/javascript") && body.starts_with("// The MFN live page"));
        }
        assert!(get("/assets/app.css").await.0.starts_with("text/css"));
        assert_eq!(get("/favicon.svg").await.0, "image/svg+xml");
    }

    /// Every element the scripts look up by a literal id, `$("…")`, is in the page.
    #[test]
    fn the_scripts_find_their_elements() {
        for (name, script) in [("app.js", APP_JS), ("graphs.js", GRAPHS_JS)] {
            let mut ids = 0;
            for chunk in script.split("$(\"").skip(1) {
                let id = chunk.split('"').next().unwrap();
                assert!(INDEX.contains(&format!("id=\"{id}\"")), "{name} uses #{id}");
                ids += 1;
            }
            assert!(ids > 10, "{name}: {ids} ids");
        }
        for tab in ["sim", "graphs"] {
            assert!(INDEX.contains(&format!("id=\"tab-{tab}\"")));
            assert!(INDEX.contains(&format!("id=\"panel-{tab}\"")));
        }
    }
}
