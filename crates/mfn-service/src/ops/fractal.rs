//! `fractal_dimension` (`POST /v1/fractal`): box counting over a client's square array.

use crate::error::ServiceError;
use crate::ops::{Call, OpSpec, Operation, Route};
use crate::request::FractalRequest;
use crate::response::FractalResponse;
use crate::service::MfnService;

/// The operation.
#[derive(Debug)]
pub struct FractalDimension;

impl Operation for FractalDimension {
    type Request = FractalRequest;
    type Response = FractalResponse;
    const SPEC: OpSpec = OpSpec {
        aliases: &["fractal"],
        summary: "Box-counting fractal dimension of an array",
        rest: &[Route::Post("/v1/fractal")],
        ..OpSpec::new(
            "fractal_dimension",
            "Box-counting dimension of a row-major size×size array: cells strictly above threshold (V) are active; the dimension is the least-squares slope of ln(count) against ln(1/box size)",
        )
    };

    async fn run(
        svc: &MfnService,
        call: &Call,
        req: FractalRequest,
    ) -> Result<FractalResponse, ServiceError> {
        let (out, meta) = svc.fractal_dimension(&call.ctx, req).await?;
        Ok(FractalResponse::new(out, &meta))
    }
}
