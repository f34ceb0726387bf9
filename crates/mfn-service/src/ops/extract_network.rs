//! `extract_network`: a field (simulated, inline or uploaded) → mask → skeleton → a
//! stored graph and its network metrics ([`crate::network`]).

use crate::error::ServiceError;
use crate::network::{ExtractNetworkArgs, ExtractNetworkResult};
use crate::ops::{Call, OpSpec, Operation};
use crate::service::MfnService;

/// The operation.
#[derive(Debug)]
pub struct ExtractNetwork;

impl Operation for ExtractNetwork {
    type Request = ExtractNetworkArgs;
    type Response = ExtractNetworkResult;
    const SPEC: OpSpec = OpSpec {
        mutates: true,
        ..OpSpec::new(
            "extract_network",
            "Extract the mycelial network of a simulated field (default), an inline field or an uploaded PNG/.npy/CSV: mask, Zhang-Suen skeleton, graph stored under `name` (nodes x, y, kind; edges length), and its network metrics",
        )
    };

    fn audit(req: &Self::Request) -> serde_json::Map<String, serde_json::Value> {
        // Not the whole request: an inline field or an upload can be megabytes.
        let scalars =
            serde_json::json!({"name": req.name, "seed": req.seed, "simulation": req.simulation});
        super::audit_params(&scalars)
    }

    async fn run(
        svc: &MfnService,
        call: &Call,
        args: ExtractNetworkArgs,
    ) -> Result<ExtractNetworkResult, ServiceError> {
        svc.extract_network(call, args).await
    }
}
