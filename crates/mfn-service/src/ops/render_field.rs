//! `render_field` (`GET /v1/simulate/field.png`): a simulation's final field as a PNG
//! heatmap with a colour bar in mV.

use schemars::JsonSchema;
use serde::Serialize;

use crate::error::ServiceError;
use crate::ops::{Call, Image, OpSpec, Operation, Route};
use crate::request::SimInput;
use crate::response::{MetaMap, meta_map};
use crate::service::MfnService;

/// The operation.
#[derive(Debug)]
pub struct RenderField;

/// `render_field` result: what was drawn; the PNG is the image content.
#[allow(non_snake_case)]
#[derive(Debug, Serialize, JsonSchema)]
pub struct RenderFieldResponse {
    /// Echoed `X-Request-ID`, or a generated UUID.
    pub request_id: String,
    /// Service metadata.
    pub meta: MetaMap,
    /// Grid side N of the field drawn.
    pub grid_size: u32,
    /// Minimum of the field (bottom of the colour bar), mV.
    pub pot_min_mV: f64,
    /// Maximum of the field (top of the colour bar), mV.
    pub pot_max_mV: f64,
    /// SHA-256 hex of the field's little-endian f64 bytes (volts, row-major).
    pub field_sha256: String,
    /// Size of the PNG, bytes.
    pub png_bytes: usize,
    #[serde(skip)]
    #[schemars(skip)]
    png: Vec<u8>,
}

impl Operation for RenderField {
    type Request = SimInput;
    type Response = RenderFieldResponse;
    const SPEC: OpSpec = OpSpec {
        summary: "Render a simulation's final field as PNG",
        rest: &[Route::Get("/v1/simulate/field.png")],
        renders: true,
        ..OpSpec::new(
            "render_field",
            "Simulate (the parameters of simulate_field) and draw the final field as a PNG heatmap with a colour bar in mV (image content)",
        )
    };

    async fn run(
        svc: &MfnService,
        call: &Call,
        sim: SimInput,
    ) -> Result<RenderFieldResponse, ServiceError> {
        let (png, out, meta) = svc.simulate_png(call, &sim).await?;
        Ok(RenderFieldResponse {
            request_id: meta.request_id.clone(),
            meta: meta_map(&meta),
            grid_size: out.spec.params.grid_size as u32,
            pot_min_mV: out.result.pot_min_mv,
            pot_max_mV: out.result.pot_max_mv,
            field_sha256: out.field_sha256.to_string(),
            png_bytes: png.len(),
            png,
        })
    }

    fn image(response: &mut RenderFieldResponse) -> Option<Image> {
        Some(Image {
            mime_type: "image/png",
            data: std::mem::take(&mut response.png),
        })
    }
}
