//! An in-process `MfnService`: the one tool registry (graph tools, `extract_network`,
//! the MFN operations as tools) without a server.
//!
//! `mfn.tool(name, **args)` and `mfn.extract_network(…)` call
//! [`MfnService::call_op`] here exactly as `POST /v1/tools/{name}` and MCP do on a
//! server, so a result computed locally is the same JSON a server returns. The service
//! is built on first use: compute threads as many as the machine has cores, no result
//! cache (a script's memory stays its own), graphs in memory, the science's limits.
//! Calls block the calling thread with the GIL released; a small tokio runtime drives
//! the service's futures (deadlines, the compute gate's hand-off).

use std::sync::OnceLock;

use mfn_service::ops::{Call, DEFAULT_TENANT, Door};
use mfn_service::{
    ErrorCode, GraphStoreConfig, MfnService, RequestContext, ServiceConfig, ServiceError,
};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::{invalid, service_err};

struct Engine {
    runtime: tokio::runtime::Runtime,
    service: MfnService,
}

fn engine() -> Result<&'static Engine, ServiceError> {
    static ENGINE: OnceLock<Result<Engine, ServiceError>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("mfn-py-engine")
                .enable_time()
                .build()
                .map_err(ServiceError::internal)?;
            let service = MfnService::new(ServiceConfig {
                limits: crate::api::limits(),
                cache_entries: 0,
                cache_bytes: 0,
                graphs: GraphStoreConfig::default(),
                ..ServiceConfig::default()
            })?;
            Ok(Engine { runtime, service })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// A rendering tool's image: `(mime_type, bytes)`.
type Image<'py> = (String, Bound<'py, PyBytes>);

/// Call tool `name` with JSON `args`: `(result_json, image)` where `image` is
/// `(mime_type, bytes)` for rendering tools and `None` otherwise.
#[pyfunction]
pub fn call_tool<'py>(
    py: Python<'py>,
    name: &str,
    args: &str,
) -> PyResult<(String, Option<Image<'py>>)> {
    let args: serde_json::Value = serde_json::from_str(args)
        .map_err(|e| invalid(py, "args", format!("args: not JSON: {e}")))?;
    let engine = engine().map_err(|e| service_err(py, &e))?;
    let name = name.to_owned();
    let out = py.detach(move || {
        let call = Call::new(Door::Python, RequestContext::new(None)).tenant(DEFAULT_TENANT);
        let reply = engine
            .runtime
            .block_on(engine.service.call_op(&call, &name, args))?;
        let json = reply.to_json()?;
        Ok::<_, ServiceError>((reply, json))
    });
    let (out, json) = out.map_err(|e| service_err(py, &e))?;
    let json = String::from_utf8(json)
        .map_err(|e| service_err(py, &ServiceError::new(ErrorCode::Internal, e.to_string())))?;
    let image = out
        .image
        .map(|i| (i.mime_type.to_string(), PyBytes::new(py, &i.data)));
    Ok((json, image))
}
