//! `validate_patterns` (`POST /v1/validate`, `/validate`): the validation cycle.

use crate::error::ServiceError;
use crate::ops::{Call, OpSpec, Operation, Route};
use crate::request::ValidateRequest;
use crate::response::ValidateResponse;
use crate::service::MfnService;

/// The operation.
#[derive(Debug)]
pub struct Validate;

impl Operation for Validate {
    type Request = ValidateRequest;
    type Response = ValidateResponse;
    const SPEC: OpSpec = OpSpec {
        aliases: &["validate"],
        summary: "Run the validation cycle",
        rest: &[Route::Post("/v1/validate"), Route::Post("/validate")],
        ..OpSpec::new(
            "validate_patterns",
            "Build a dataset of simulated features, train the small validation model on it and report the loss drop, field statistics, Lyapunov exponents and Nernst checks",
        )
    };

    fn audit(req: &Self::Request) -> serde_json::Map<String, serde_json::Value> {
        super::audit_small(req)
    }

    async fn run(
        svc: &MfnService,
        call: &Call,
        req: ValidateRequest,
    ) -> Result<ValidateResponse, ServiceError> {
        let (report, meta) = svc.validate_pattern(&call.ctx, &req).await?;
        Ok(ValidateResponse::new(&report, &meta))
    }
}
