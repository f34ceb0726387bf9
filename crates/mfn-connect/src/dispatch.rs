//! The only place the pipeline names the operation registry of `mfn-service`: an
//! `operation` field is resolved and run exactly as the server's doors do (same
//! validation, limits, compute gate and cache), so a pipeline result is the REST
//! response of the same request. Nothing here lists operations.

use mfn_service::ops::{self, Call, Door};
use mfn_service::{ErrorCode, MfnService, RequestContext, ServiceError};
use serde_json::Value;

/// What an operation returned.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The REST response JSON (a tool's structured result).
    pub structured: Value,
    /// `(mime type, bytes)` of a rendering tool's image.
    pub image: Option<(String, Vec<u8>)>,
}

/// Whether `operation` names a registry entry (an operation alias or a tool).
pub fn exists(operation: &str) -> bool {
    ops::find(operation).is_some()
}

/// The registry's own name of `operation` (bounded: safe as a metric label).
pub fn canonical(operation: &str) -> &'static str {
    ops::find(operation).map_or("unknown", |e| e.name())
}

/// Run `operation` with `args` for `tenant`, under `request_id`.
pub async fn call(
    service: &MfnService,
    tenant: &str,
    request_id: &str,
    operation: &str,
    args: Value,
) -> Result<Outcome, ServiceError> {
    let call = Call::new(Door::Pipeline, RequestContext::new(Some(request_id))).tenant(tenant);
    let reply = service.call_op(&call, operation, args).await?;
    Ok(Outcome {
        structured: reply.to_value()?,
        image: reply.image.map(|i| (i.mime_type.to_owned(), i.data)),
    })
}

/// Whether an error is the service being busy (retry later, the request is fine)
/// rather than the request being wrong (dead-letter it).
pub fn is_transient(error: &ServiceError) -> bool {
    matches!(
        error.code,
        ErrorCode::ResourceExhausted | ErrorCode::Unavailable
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use mfn_service::ServiceConfig;
    use serde_json::json;

    #[tokio::test]
    async fn aliases_and_tools_run_through_the_registry() {
        assert!(exists("nernst") && exists("simulate") && exists("extract_network"));
        assert!(!exists("launch_missiles"));
        assert_eq!(canonical("nernst"), "nernst_potential");
        assert_eq!(canonical("launch_missiles"), "unknown");
        let svc = MfnService::new(ServiceConfig {
            workers: 1,
            queue: 4,
            ..ServiceConfig::default()
        })
        .unwrap();
        let out = call(
            &svc,
            "t",
            "rid-1",
            "nernst",
            json!({"z_valence": 1, "concentration_out_molar": 0.005, "concentration_in_molar": 0.14}),
        )
        .await
        .unwrap();
        assert_eq!(out.structured["request_id"], "rid-1");
        assert!((out.structured["potential_mV"].as_f64().unwrap() + 89.0).abs() < 0.1);
        let e = call(&svc, "t", "rid-2", "simulate", json!({"grid_size": 100000}))
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert!(!is_transient(&e));
        assert!(is_transient(&ServiceError::new(
            ErrorCode::ResourceExhausted,
            "full"
        )));
    }
}
