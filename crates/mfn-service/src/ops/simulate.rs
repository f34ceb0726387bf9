//! `simulate_field` (`POST /v1/simulate`, `/simulate`): a seeded field simulation and its
//! summary in mV.

use crate::error::ServiceError;
use crate::ops::{Call, OpSpec, Operation, Route};
use crate::request::SimulationRequest;
use crate::response::SimulationResponse;
use crate::service::MfnService;

/// The operation.
#[derive(Debug)]
pub struct Simulate;

impl Operation for Simulate {
    type Request = SimulationRequest;
    type Response = SimulationResponse;
    const SPEC: OpSpec = OpSpec {
        aliases: &["simulate"],
        summary: "Run a field simulation",
        rest: &[Route::Post("/v1/simulate"), Route::Post("/simulate")],
        streams: true,
        ..OpSpec::new(
            "simulate_field",
            "Run a seeded mycelium field simulation (reaction-diffusion with growth events and Turing patterning) and summarise the final field in mV; include_field adds the field itself. Deterministic: the same request gives the same bytes (field_sha256)",
        )
    };

    fn audit(req: &Self::Request) -> serde_json::Map<String, serde_json::Value> {
        super::audit_small(req)
    }

    async fn run(
        svc: &MfnService,
        call: &Call,
        req: SimulationRequest,
    ) -> Result<SimulationResponse, ServiceError> {
        let (out, meta) = svc.simulate(call, &req).await?;
        Ok(SimulationResponse::new(&out, &meta))
    }
}
