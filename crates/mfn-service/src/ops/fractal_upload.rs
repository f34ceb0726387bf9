//! `fractal_dimension_upload` (`POST /v1/fractal/upload`): box counting over an uploaded
//! file — a `.npy` array, CSV numbers or a PNG image — binarised by the rules below.
//! `mfn fractal --input FILE` is this operation in process.
//!
//! | data | default threshold (strict `value > threshold`) |
//! |---|---|
//! | `|b1` arrays | none: used as they are, `threshold` is ignored |
//! | numbers that are all exactly 0 or 1 | 0.5 (a 0/1 mask) |
//! | PNG, `|u1` arrays | 127 (grey levels) |
//! | other numbers | −0.060 (a field in volts: the active-cell threshold, −60 mV) |

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::arrays::{self, Array2, ArrayFormat, ArrayKind};
use crate::error::ServiceError;
use crate::gate::Admission;
use crate::network::UploadInput;
use crate::ops::{Call, OpSpec, Operation, Route};
use crate::request::{DEFAULT_FRACTAL_THRESHOLD, FractalRequest};
use crate::response::FractalResponse;
use crate::service::MfnService;

/// Default grey-level threshold of PNG and `|u1` data.
pub const GREY_THRESHOLD: f64 = 127.0;

/// The operation.
#[derive(Debug)]
pub struct FractalDimensionUpload;

/// `fractal_dimension_upload` arguments.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FractalUploadRequest {
    /// The file: `{format: npy|csv|png, data}`, base64 for npy and png, the text for csv.
    /// A square array of at most max_grid_size² cells.
    pub upload: Option<UploadInput>,
    /// Cells strictly above this are active; the default depends on the data (see the
    /// operation's description).
    pub threshold: Option<f64>,
    /// Box sizes between the smallest and the largest. Default 5; [2, 64].
    pub num_scales: Option<u32>,
    /// Smallest box side in cells. Default 2; [1, size].
    pub min_box: Option<u32>,
}

impl Operation for FractalDimensionUpload {
    type Request = FractalUploadRequest;
    type Response = FractalResponse;
    const SPEC: OpSpec = OpSpec {
        summary: "Box-counting fractal dimension of an uploaded array or image",
        rest: &[Route::Post("/v1/fractal/upload")],
        ..OpSpec::new(
            "fractal_dimension_upload",
            "Box-counting dimension of an uploaded square .npy array, CSV of numbers or PNG image; default threshold: boolean arrays as they are, 0/1 data 0.5, PNG and uint8 127 grey levels, other numbers -0.060 (a field in volts)",
        )
    };

    async fn run(
        svc: &MfnService,
        call: &Call,
        req: FractalUploadRequest,
    ) -> Result<FractalResponse, ServiceError> {
        let upload = req
            .upload
            .ok_or_else(|| ServiceError::invalid("upload", "upload is required: {format, data}"))?;
        if let Some(t) = req.threshold
            && !t.is_finite()
        {
            return Err(ServiceError::invalid(
                "threshold",
                "threshold must be a finite number",
            ));
        }
        let max = svc.config().limits.max_grid_size;
        // Decoding is linear in the upload but not free: it runs on the gate too.
        let array = svc
            .gate()
            .run(Admission::FailFast, move |_| decode_square(upload, max))
            .await?;
        let n = array.width;
        let values = binarise(array, req.threshold);
        let inner = FractalRequest {
            values,
            size: n as u32,
            threshold: Some(0.5),
            num_scales: req.num_scales,
            min_box: req.min_box,
        };
        let (out, meta) = svc.fractal_dimension(&call.ctx, inner).await?;
        Ok(FractalResponse::new(out, &meta))
    }
}

/// The array as a 0/1 mask by the rules of the module docs: cells strictly above
/// `threshold` (or the data's default) are 1.
pub fn binarise(array: Array2, threshold: Option<f64>) -> Vec<f64> {
    match default_threshold(&array) {
        None => array.values,
        Some(default) => {
            let t = threshold.unwrap_or(default);
            array
                .values
                .into_iter()
                .map(|v| if v > t { 1.0 } else { 0.0 })
                .collect()
        }
    }
}

/// Decode an upload into a square array of at most `max_side`² cells.
pub fn decode_square(upload: UploadInput, max_side: usize) -> Result<Array2, ServiceError> {
    let bytes = match upload.format {
        ArrayFormat::Csv => upload.data.into_bytes(),
        _ => arrays::decode_base64(&upload.data, "upload.data")?,
    };
    let array = arrays::decode(upload.format, &bytes, max_side * max_side)?;
    if array.width != array.height || array.width == 0 {
        return Err(ServiceError::invalid(
            "upload.data",
            format!(
                "upload.data: array is {}x{}, box counting needs a square array",
                array.height, array.width
            ),
        ));
    }
    if array.width < 2 || array.width > max_side {
        return Err(ServiceError::out_of_range(
            "upload.data",
            format!("a {0}x{0} array", array.width),
            &format!("side must be in [2, {max_side}] (MFN_MAX_GRID_SIZE)"),
        ));
    }
    Ok(array)
}

/// The threshold used when none is given; `None` for boolean arrays, used as they are.
fn default_threshold(array: &Array2) -> Option<f64> {
    match array.kind {
        ArrayKind::Bool => None,
        _ if array.is_binary() => Some(0.5),
        ArrayKind::Grey8 => Some(GREY_THRESHOLD),
        ArrayKind::Numbers => Some(DEFAULT_FRACTAL_THRESHOLD),
    }
}
