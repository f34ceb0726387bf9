//! `aggregate_gradients` (`POST /v1/federated/aggregate`, `/federated/aggregate`):
//! hierarchical Krum over client gradients.

use crate::error::ServiceError;
use crate::ops::{Call, OpSpec, Operation, Route};
use crate::request::AggregateRequest;
use crate::response::AggregateResponse;
use crate::service::MfnService;

/// The operation.
#[derive(Debug)]
pub struct Aggregate;

impl Operation for Aggregate {
    type Request = AggregateRequest;
    type Response = AggregateResponse;
    const SPEC: OpSpec = OpSpec {
        aliases: &["aggregate"],
        summary: "Aggregate federated gradients robustly",
        rest: &[
            Route::Post("/v1/federated/aggregate"),
            Route::Post("/federated/aggregate"),
        ],
        ..OpSpec::new(
            "aggregate_gradients",
            "Robust federated aggregation of client gradients (hierarchical Krum; gradients: an array of equal-length number arrays)",
        )
    };

    async fn run(
        svc: &MfnService,
        call: &Call,
        req: AggregateRequest,
    ) -> Result<AggregateResponse, ServiceError> {
        let (out, meta) = svc.aggregate(&call.ctx, req).await?;
        Ok(AggregateResponse::new(out, &meta))
    }
}
