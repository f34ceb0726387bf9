//! `extract_features` (`POST /v1/features`): simulate, then the 18 features.

use crate::error::ServiceError;
use crate::ops::{Call, OpSpec, Operation, Route};
use crate::request::FeaturesRequest;
use crate::response::FeaturesResponse;
use crate::service::MfnService;

/// The operation.
#[derive(Debug)]
pub struct ExtractFeatures;

impl Operation for ExtractFeatures {
    type Request = FeaturesRequest;
    type Response = FeaturesResponse;
    const SPEC: OpSpec = OpSpec {
        aliases: &["features"],
        summary: "Extract the 18 fractal features of a run",
        rest: &[Route::Post("/v1/features")],
        streams: true,
        ..OpSpec::new(
            "extract_features",
            "Simulate, then compute the 18 canonical fractal and statistical features of the field (box-counting dimension, potential statistics, stability, clusters)",
        )
    };

    fn audit(req: &Self::Request) -> serde_json::Map<String, serde_json::Value> {
        super::audit_small(req)
    }

    async fn run(
        svc: &MfnService,
        call: &Call,
        req: FeaturesRequest,
    ) -> Result<FeaturesResponse, ServiceError> {
        let (out, meta) = svc.extract_features(&call.ctx, &req).await?;
        Ok(FeaturesResponse::new(&out, &meta))
    }
}
