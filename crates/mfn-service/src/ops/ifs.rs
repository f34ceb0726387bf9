//! `generate_ifs` (`POST /v1/ifs`): a seeded iterated-function-system orbit.

use crate::error::ServiceError;
use crate::ops::{Call, OpSpec, Operation, Route};
use crate::request::IfsRequest;
use crate::response::IfsResponse;
use crate::service::MfnService;

/// The operation.
#[derive(Debug)]
pub struct Ifs;

impl Operation for Ifs {
    type Request = IfsRequest;
    type Response = IfsResponse;
    const SPEC: OpSpec = OpSpec {
        aliases: &["ifs"],
        summary: "Generate an IFS orbit",
        rest: &[Route::Post("/v1/ifs")],
        ..OpSpec::new(
            "generate_ifs",
            "A seeded iterated-function-system orbit of random affine maps: its Lyapunov exponent and the SHA-256 of the points",
        )
    };

    async fn run(
        svc: &MfnService,
        call: &Call,
        req: IfsRequest,
    ) -> Result<IfsResponse, ServiceError> {
        let (out, meta) = svc.ifs(&call.ctx, &req).await?;
        Ok(IfsResponse::new(out, &meta))
    }
}
