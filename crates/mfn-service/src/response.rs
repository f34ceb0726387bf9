//! Responses as REST, WebSocket and MCP send them: JSON with the gRPC field names
//! (`pot_min_mV`, `D_box`, …), so one vocabulary serves every door. Built from the
//! service's outputs; gRPC builds its protobuf messages from the same outputs.

use std::collections::BTreeMap;

use mfn_core::features::Features;
use mfn_core::field::SimulationResult;
use mfn_core::validation::ValidationReport;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ServiceError;
use crate::service::{
    AggregateOutput, FeaturesOutput, FractalOutput, IfsOutput, Meta, NernstOutput, SimulationOutput,
};
use crate::stream::{FeatureFrame, SimFrame};

/// `server_version`, `elapsed_ms` (service time) and `cache` (`hit`, `miss` or `bypass`).
pub type MetaMap = BTreeMap<String, String>;

/// The metadata of `m` as the `meta` map every door sends.
pub fn meta_map(m: &Meta) -> MetaMap {
    m.entries()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

/// The counters and statistics of a field (a run's summary), in mV, with the gRPC
/// names: the one mapping of [`SimulationResult`] for every door.
#[allow(non_snake_case)]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FieldSummary {
    /// Grid side N.
    pub grid_size: u32,
    /// Spikes fired.
    pub growth_events: u64,
    /// Cell-steps where the activator crossed the Turing threshold.
    pub turing_activations: u64,
    /// Cell-steps clamped to [−95, 40] mV.
    pub clamping_events: u64,
    /// Minimum of the field, mV.
    pub pot_min_mV: f64,
    /// Maximum of the field, mV.
    pub pot_max_mV: f64,
    /// Mean of the field, mV.
    pub pot_mean_mV: f64,
    /// Population standard deviation of the field, mV.
    pub pot_std_mV: f64,
    /// Box-counting dimension of the field above −60 mV.
    pub fractal_dimension: f64,
    /// Mean activator level (0 without Turing).
    pub activator_mean: f64,
    /// Mean inhibitor level (0 without Turing).
    pub inhibitor_mean: f64,
}

impl From<&SimulationResult> for FieldSummary {
    fn from(r: &SimulationResult) -> Self {
        FieldSummary {
            grid_size: r.grid_size as u32,
            growth_events: r.growth_events,
            turing_activations: r.turing_activations,
            clamping_events: r.clamping_events,
            pot_min_mV: r.pot_min_mv,
            pot_max_mV: r.pot_max_mv,
            pot_mean_mV: r.pot_mean_mv,
            pot_std_mV: r.pot_std_mv,
            fractal_dimension: r.fractal_dimension,
            activator_mean: r.activator_mean,
            inhibitor_mean: r.inhibitor_mean,
        }
    }
}

/// A field in volts as mV, the unit every door sends.
pub fn to_mv(field_v: &[f64]) -> Vec<f64> {
    field_v.iter().map(|v| v * 1000.0).collect()
}

/// The result of `POST /v1/simulate`.
#[allow(non_snake_case)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SimulationResponse {
    /// Echoed `X-Request-ID`, or a generated UUID.
    pub request_id: String,
    /// Service metadata.
    pub meta: MetaMap,
    /// Counters and statistics of the final field.
    #[serde(flatten)]
    pub summary: FieldSummary,
    /// Steps run.
    pub steps: u32,
    /// Seed used.
    pub seed: u64,
    /// The final field in mV, row-major N×N; only with `include_field`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub field_mV: Vec<f64>,
    /// SHA-256 hex of the final field's little-endian f64 bytes (volts, row-major).
    pub field_sha256: String,
}

/// One frame of a simulation stream (gRPC `SimulationFrame`, WebSocket
/// `simulation_state` and `simulation_complete`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SimFrameResponse {
    /// The stream's request id.
    pub request_id: String,
    /// Steps done.
    pub step: u32,
    /// Steps of the whole run.
    pub total_steps: u32,
    /// Last frame of the run.
    pub is_final: bool,
    /// Alpha in force for this frame's steps.
    pub alpha: f64,
    /// Spike probability in force for this frame's steps.
    pub spike_probability: f64,
    /// Counters and statistics so far.
    #[serde(flatten)]
    pub summary: FieldSummary,
    /// Service metadata, on the final frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<MetaMap>,
}

impl SimFrameResponse {
    /// From a stream frame of request `request_id` (the field is the door's to encode).
    pub fn new(request_id: &str, f: &SimFrame) -> Self {
        SimFrameResponse {
            request_id: request_id.to_owned(),
            step: f.step as u32,
            total_steps: f.total_steps as u32,
            is_final: f.is_final,
            alpha: f.alpha,
            spike_probability: f.spike_probability,
            summary: FieldSummary::from(&f.summary),
            meta: f.meta.as_ref().map(meta_map),
        }
    }
}

/// One frame of a feature stream (gRPC `FeatureFrame`, WebSocket `feature_update` and
/// `simulation_complete`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FeatureFrameResponse {
    /// The stream's request id.
    pub request_id: String,
    /// Steps done.
    pub step: u32,
    /// Steps of the whole run.
    pub total_steps: u32,
    /// Last frame of the run.
    pub is_final: bool,
    /// Features of the history so far (or of the current field).
    pub features: Features,
    /// Counters and statistics so far.
    #[serde(flatten)]
    pub summary: FieldSummary,
    /// Service metadata, on the final frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<MetaMap>,
}

impl FeatureFrameResponse {
    /// From a stream frame of request `request_id`.
    pub fn new(request_id: &str, f: &FeatureFrame) -> Self {
        FeatureFrameResponse {
            request_id: request_id.to_owned(),
            step: f.step as u32,
            total_steps: f.total_steps as u32,
            is_final: f.is_final,
            features: f.features,
            summary: FieldSummary::from(&f.summary),
            meta: f.meta.as_ref().map(meta_map),
        }
    }
}

/// The result of `POST /v1/features`.
#[allow(non_snake_case)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FeaturesResponse {
    /// Echoed `X-Request-ID`, or a generated UUID.
    pub request_id: String,
    /// Service metadata.
    pub meta: MetaMap,
    /// The 18 canonical features.
    pub features: Features,
    /// Spikes fired in the run.
    pub growth_events: u64,
    /// Minimum of the final field, mV.
    pub pot_min_mV: f64,
    /// Maximum of the final field, mV.
    pub pot_max_mV: f64,
    /// Mean of the final field, mV.
    pub pot_mean_mV: f64,
    /// Population standard deviation of the final field, mV.
    pub pot_std_mV: f64,
    /// Box-counting dimension of the final field above −60 mV.
    pub fractal_dimension: f64,
}

/// The result of `POST /v1/validate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ValidateResponse {
    /// Echoed `X-Request-ID`, or a generated UUID.
    pub request_id: String,
    /// Service metadata.
    pub meta: MetaMap,
    /// Losses, field statistics, Lyapunov exponents and Nernst checks.
    #[serde(flatten)]
    pub report: ValidationReport,
}

/// The result of `POST /v1/nernst`.
#[allow(non_snake_case)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NernstResponse {
    /// Echoed `X-Request-ID`, or a generated UUID.
    pub request_id: String,
    /// Service metadata.
    pub meta: MetaMap,
    /// Equilibrium potential E = (RT / zF) · ln(c_out / c_in), mV.
    pub potential_mV: f64,
    /// RT/F at the temperature used, mV.
    pub rt_over_f_mV: f64,
    /// Temperature used, K.
    pub temperature_K: f64,
}

/// The result of `POST /v1/federated/aggregate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AggregateResponse {
    /// Echoed `X-Request-ID`, or a generated UUID.
    pub request_id: String,
    /// Service metadata.
    pub meta: MetaMap,
    /// The hierarchical-Krum aggregate.
    pub aggregated_gradient: Vec<f64>,
    /// How many gradients came in.
    pub num_input_gradients: u32,
}

/// The result of `POST /v1/fractal`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FractalResponse {
    /// Echoed `X-Request-ID`, or a generated UUID.
    pub request_id: String,
    /// Service metadata.
    pub meta: MetaMap,
    /// Least-squares slope of ln(count) against ln(1/box size).
    pub fractal_dimension: f64,
    /// Coefficient of determination of that fit.
    pub r_squared: f64,
    /// Box sides tried, ascending (parallel to `counts`).
    pub box_sizes: Vec<usize>,
    /// Occupied boxes per size.
    pub counts: Vec<u64>,
}

/// The result of `POST /v1/ifs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IfsResponse {
    /// Echoed `X-Request-ID`, or a generated UUID.
    pub request_id: String,
    /// Service metadata.
    pub meta: MetaMap,
    /// Mean log-contraction of the maps applied (negative: contracting).
    pub lyapunov: f64,
    /// SHA-256 hex of the points as little-endian f64 (x, y) pairs.
    pub points_sha256: String,
    /// Points generated.
    pub num_points: usize,
}

impl FractalResponse {
    /// From a box-counting output.
    pub fn new(o: FractalOutput, m: &Meta) -> Self {
        FractalResponse {
            request_id: m.request_id.clone(),
            meta: meta_map(m),
            fractal_dimension: o.dimension,
            r_squared: o.r_squared,
            box_sizes: o.box_sizes,
            counts: o.counts,
        }
    }
}

impl IfsResponse {
    /// From an IFS output.
    pub fn new(o: IfsOutput, m: &Meta) -> Self {
        IfsResponse {
            request_id: m.request_id.clone(),
            meta: meta_map(m),
            lyapunov: o.lyapunov,
            points_sha256: o.points_sha256,
            num_points: o.num_points,
        }
    }
}

/// One invalid field of a refused request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorDetail {
    /// The request field, as the client named it.
    pub field: String,
    /// What is wrong with it, with the limit.
    pub message: String,
}

/// Every REST error: the HTTP status comes from the shared `ErrorCode` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorResponse {
    /// `INVALID_ARGUMENT`, `UNAUTHENTICATED`, `RESOURCE_EXHAUSTED`, … (the gRPC code name).
    pub error_code: String,
    /// What went wrong, for people.
    pub message: String,
    /// The offending fields, when the request was invalid.
    pub details: Vec<ErrorDetail>,
    /// The request's id (also in the `X-Request-ID` header).
    pub request_id: String,
    /// The message again, under FastAPI's name, for clients of the Python reference.
    pub detail: String,
    /// Seconds to wait before retrying (also the `Retry-After` header), when throttled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl SimulationResponse {
    /// From a simulation output.
    pub fn new(out: &SimulationOutput, m: &Meta) -> Self {
        let r = &out.result;
        SimulationResponse {
            request_id: m.request_id.clone(),
            meta: meta_map(m),
            summary: FieldSummary::from(&**r),
            steps: out.spec.params.steps as u32,
            seed: out.spec.seed,
            field_mV: to_mv(&r.field),
            field_sha256: out.field_sha256.to_string(),
        }
    }
}

impl FeaturesResponse {
    /// From a features output.
    pub fn new(out: &FeaturesOutput, m: &Meta) -> Self {
        let s = &out.summary;
        FeaturesResponse {
            request_id: m.request_id.clone(),
            meta: meta_map(m),
            features: out.features,
            growth_events: s.growth_events,
            pot_min_mV: s.pot_min_mv,
            pot_max_mV: s.pot_max_mv,
            pot_mean_mV: s.pot_mean_mv,
            pot_std_mV: s.pot_std_mv,
            fractal_dimension: s.fractal_dimension,
        }
    }
}

impl ValidateResponse {
    /// From a validation report.
    pub fn new(report: &ValidationReport, m: &Meta) -> Self {
        ValidateResponse {
            request_id: m.request_id.clone(),
            meta: meta_map(m),
            report: report.clone(),
        }
    }
}

impl NernstResponse {
    /// From a Nernst output.
    pub fn new(o: &NernstOutput, m: &Meta) -> Self {
        NernstResponse {
            request_id: m.request_id.clone(),
            meta: meta_map(m),
            potential_mV: o.potential_mv,
            rt_over_f_mV: o.rt_over_f_mv,
            temperature_K: o.temperature_k,
        }
    }
}

impl AggregateResponse {
    /// From an aggregate output.
    pub fn new(o: AggregateOutput, m: &Meta) -> Self {
        AggregateResponse {
            request_id: m.request_id.clone(),
            meta: meta_map(m),
            num_input_gradients: o.num_input_gradients as u32,
            aggregated_gradient: o.aggregated_gradient,
        }
    }
}

impl ErrorResponse {
    /// The body for `err` on the request `request_id`.
    pub fn new(err: &ServiceError, request_id: &str) -> Self {
        ErrorResponse {
            error_code: err.code.as_str().to_string(),
            message: err.message.clone(),
            details: err
                .field
                .iter()
                .map(|f| ErrorDetail {
                    field: f.clone(),
                    message: err.message.clone(),
                })
                .collect(),
            request_id: request_id.to_string(),
            detail: err.message.clone(),
            retry_after: err.retry_after.map(retry_after_secs),
        }
    }
}

/// Whole seconds of a retry hint, at least 1 (the `Retry-After` header's value).
pub fn retry_after_secs(after: std::time::Duration) -> u64 {
    after.as_secs_f64().ceil().max(1.0) as u64
}
