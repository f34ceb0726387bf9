//! Protobuf messages ⇄ the service's request and response types, and `ServiceError` →
//! `tonic::Status`. Field-for-field renames only: every check, default and unit
//! conversion lives in `mfn-service` (the responses are already in mV).

use mfn_proto::v1 as pb;
use mfn_service::HealthInfo;
use mfn_service::mfn_core::features::Features;
use mfn_service::request::{
    AggregateRequest, FeaturesRequest, FractalRequest, FrameInput, IfsRequest, NernstRequest,
    SimInput, SimulationRequest, StreamFeaturesRequest, StreamSimulationRequest, ValidateRequest,
};
use mfn_service::response::{
    AggregateResponse, FeatureFrameResponse, FeaturesResponse, FractalResponse, IfsResponse,
    MetaMap, NernstResponse, SimFrameResponse, SimulationResponse, ValidateResponse, to_mv,
};
use mfn_service::{FeatureFrame, ServiceError, SimFrame, SteerAck, SteerCommand, SteerEvent};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// `$ty { field: $from.field, … }` for the fields listed before `;`, then the others as in
/// any struct literal: most messages are the service's types field for field.
macro_rules! fill {
    ($from:expr => $($ty:ident)::+ { $($same:ident),* $(; $($field:ident: $value:expr),* $(,)?)? }) => {
        $($ty)::+ { $($same: $from.$same,)* $($($field: $value,)*)? }
    };
}

/// The simulation parameters shared by four request messages.
macro_rules! sim_input {
    ($m:expr) => {
        fill!($m => SimInput { seed, grid_size, steps, alpha, spike_probability, turing_enabled,
            turing_threshold, jitter_var; quantum_jitter: Some($m.quantum_jitter) })
    };
}

/// The frame pacing shared by two streaming request messages.
macro_rules! frames {
    ($m:expr) => {
        fill!($m => FrameInput { steps_per_frame; frame_interval_ms: Some($m.frame_interval_ms) })
    };
}

/// A service error as a gRPC status: the code from the shared table, the message,
/// a `BadRequest` field violation for invalid arguments and `RetryInfo` when the
/// client should retry later.
pub fn status(e: ServiceError) -> Status {
    let code = Code::from_i32(e.code.grpc_code());
    let mut details = ErrorDetails::new();
    if let Some(field) = &e.field {
        details.add_bad_request_violation(field.clone(), e.message.clone());
    }
    if let Some(after) = e.retry_after {
        details.set_retry_info(Some(after));
    }
    let mut s = if e.field.is_none() && e.retry_after.is_none() {
        Status::new(code, e.message)
    } else {
        Status::with_error_details(code, e.message, details)
    };
    if let Some(after) = e.retry_after {
        // Plain-text hint for clients that do not decode status details.
        let secs = after.as_secs().max(1).to_string();
        if let Ok(v) = secs.parse() {
            s.metadata_mut().insert("retry-after", v);
        }
    }
    s
}

/// The `ResponseMeta` message.
fn meta(m: MetaMap) -> Option<pb::ResponseMeta> {
    let meta = m.into_iter().collect();
    Some(pb::ResponseMeta { meta })
}

pub fn simulation_request(m: pb::RunSimulationRequest) -> SimulationRequest {
    fill!(m => SimulationRequest { include_field; sim: sim_input!(m) })
}

pub fn stream_simulation_request(m: pb::StreamSimulationRequest) -> StreamSimulationRequest {
    fill!(m => StreamSimulationRequest { include_field; sim: sim_input!(m), frames: frames!(m) })
}

pub fn features_request(m: pb::ExtractFeaturesRequest) -> FeaturesRequest {
    fill!(m => FeaturesRequest { threshold_mv, adaptive_threshold, with_history;
        sim: sim_input!(m) })
}

pub fn stream_features_request(m: pb::StreamFeaturesRequest) -> StreamFeaturesRequest {
    let features = fill!(m => FeaturesRequest { threshold_mv, adaptive_threshold, with_history;
        sim: sim_input!(m) });
    StreamFeaturesRequest {
        features,
        frames: frames!(m),
    }
}

pub fn validate_request(m: pb::ValidatePatternRequest) -> ValidateRequest {
    fill!(m => ValidateRequest { seed, epochs, batch_size, grid_size, steps, turing_enabled;
        quantum_jitter: Some(m.quantum_jitter) })
}

pub fn nernst_request(m: pb::NernstRequest) -> NernstRequest {
    fill!(m => NernstRequest { z_valence, concentration_out_m, concentration_in_m, temperature_k })
}

pub fn aggregate_request(m: pb::FederatedAggregateRequest) -> AggregateRequest {
    fill!(m => AggregateRequest { num_clusters, byzantine_fraction, sample_fraction, seed;
        gradients: m.gradients.into_iter().map(|g| g.values).collect() })
}

/// A steering command; an empty `oneof` is an invalid argument.
pub fn steer_command(m: pb::SteerCommand) -> Result<SteerCommand, ServiceError> {
    use pb::steer_command::Command;
    match m.command {
        Some(Command::Start(s)) => Ok(SteerCommand::Start {
            run: stream_simulation_request(s.run.unwrap_or_default()),
            paused: s.paused,
        }),
        Some(Command::SetParameters(p)) => Ok(fill!(p => SteerCommand::SetParameters {
            alpha, spike_probability, apply_at_step })),
        Some(Command::Pause(_)) => Ok(SteerCommand::Pause),
        Some(Command::Resume(_)) => Ok(SteerCommand::Resume),
        Some(Command::Stop(_)) => Ok(SteerCommand::Stop),
        None => Err(ServiceError::invalid(
            "command",
            "command is required: one of start, set_parameters, pause, resume, stop",
        )),
    }
}

pub fn simulation_response(r: SimulationResponse) -> pb::RunSimulationResponse {
    let s = r.summary;
    fill!(s => pb::RunSimulationResponse { growth_events, turing_activations, clamping_events,
        fractal_dimension, activator_mean, inhibitor_mean, grid_size;
        pot_min_m_v: s.pot_min_mV, pot_max_m_v: s.pot_max_mV, pot_mean_m_v: s.pot_mean_mV,
        pot_std_m_v: s.pot_std_mV, request_id: r.request_id, meta: meta(r.meta), steps: r.steps,
        seed: r.seed, field_m_v: r.field_mV, field_sha256: r.field_sha256 })
}

pub fn sim_frame(request_id: &str, f: &SimFrame) -> pb::SimulationFrame {
    let r = SimFrameResponse::new(request_id, f);
    let s = r.summary;
    fill!(r => pb::SimulationFrame { request_id, step, total_steps, is_final, alpha,
        spike_probability; growth_events: s.growth_events, turing_activations: s.turing_activations,
        clamping_events: s.clamping_events, pot_min_m_v: s.pot_min_mV, pot_max_m_v: s.pot_max_mV,
        pot_mean_m_v: s.pot_mean_mV, pot_std_m_v: s.pot_std_mV,
        fractal_dimension: s.fractal_dimension, field_m_v: to_mv(&f.summary.field),
        meta: r.meta.and_then(meta) })
}

pub fn steer_event(request_id: &str, e: SteerEvent) -> pb::SteerEvent {
    use pb::steer_event::Event;
    let event = match e {
        SteerEvent::Frame(f) => Event::Frame(sim_frame(request_id, &f)),
        SteerEvent::Ack(a) => Event::Ack(steer_ack(a)),
    };
    pb::SteerEvent { event: Some(event) }
}

fn steer_ack(a: SteerAck) -> pb::SteerAck {
    fill!(a => pb::SteerAck { command_index, applied_at_step, alpha, spike_probability, paused;
        command: a.command.to_string() })
}

pub fn feature_vector(f: &Features) -> pb::FeatureVector {
    fill!(f => pb::FeatureVector { d_box, d_r2, v_min, v_max, v_mean, v_std, v_skew, v_kurt,
        t_stable, e_trend, f_active, n_clusters_low, n_clusters_med, n_clusters_high,
        max_cluster_size, cluster_size_std; d_v_mean: f.dv_mean, d_v_max: f.dv_max })
}

pub fn features_response(r: FeaturesResponse) -> pb::ExtractFeaturesResponse {
    fill!(r => pb::ExtractFeaturesResponse { request_id, growth_events, fractal_dimension;
        meta: meta(r.meta), features: Some(feature_vector(&r.features)),
        pot_min_m_v: r.pot_min_mV, pot_max_m_v: r.pot_max_mV, pot_mean_m_v: r.pot_mean_mV,
        pot_std_m_v: r.pot_std_mV })
}

pub fn feature_frame(request_id: &str, f: &FeatureFrame) -> pb::FeatureFrame {
    let r = FeatureFrameResponse::new(request_id, f);
    fill!(r => pb::FeatureFrame { request_id, step, total_steps, is_final;
        features: Some(feature_vector(&r.features)), growth_events: r.summary.growth_events,
        pot_mean_m_v: r.summary.pot_mean_mV, pot_std_m_v: r.summary.pot_std_mV,
        meta: r.meta.and_then(meta) })
}

pub fn validate_response(r: ValidateResponse) -> pb::ValidatePatternResponse {
    let v = r.report;
    fill!(v => pb::ValidatePatternResponse { loss_start, loss_final, loss_drop,
        example_fractal_dim, growth_events, lyapunov_exponent, lyapunov_mean;
        request_id: r.request_id, meta: meta(r.meta), pot_min_m_v: v.pot_min_mV,
        pot_max_m_v: v.pot_max_mV, nernst_numeric_m_v: v.nernst_numeric_mV,
        nernst_symbolic_m_v: v.nernst_symbolic_mV, nernst_rtfz_m_v: v.nernst_rtfz_mV })
}

pub fn nernst_response(r: NernstResponse) -> pb::NernstResponse {
    fill!(r => pb::NernstResponse { request_id; meta: meta(r.meta), potential_m_v: r.potential_mV,
        rt_over_f_m_v: r.rt_over_f_mV, temperature_k: r.temperature_K })
}

pub fn aggregate_response(r: AggregateResponse) -> pb::FederatedAggregateResponse {
    fill!(r => pb::FederatedAggregateResponse { request_id, aggregated_gradient,
        num_input_gradients; meta: meta(r.meta) })
}

pub fn fractal_request(m: pb::FractalRequest) -> FractalRequest {
    fill!(m => FractalRequest { values, size, threshold, num_scales, min_box })
}

pub fn fractal_response(r: FractalResponse) -> pb::FractalResponse {
    fill!(r => pb::FractalResponse { request_id, fractal_dimension, r_squared, counts;
        meta: meta(r.meta), box_sizes: r.box_sizes.iter().map(|&b| b as u32).collect() })
}

pub fn ifs_request(m: pb::IfsRequest) -> IfsRequest {
    fill!(m => IfsRequest { seed, points, transforms })
}

pub fn ifs_response(r: IfsResponse) -> pb::IfsResponse {
    fill!(r => pb::IfsResponse { request_id, lyapunov, points_sha256; meta: meta(r.meta),
        num_points: r.num_points as u32 })
}

pub fn health_response(h: HealthInfo) -> pb::HealthCheckResponse {
    pb::HealthCheckResponse {
        status: if h.serving { "SERVING" } else { "NOT_SERVING" }.to_string(),
        version: h.version.to_string(),
        uptime_seconds: h.uptime_seconds,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use mfn_service::ErrorCode;

    #[test]
    fn statuses_follow_the_shared_table() {
        for code in ErrorCode::ALL {
            let s = status(ServiceError::new(code, "x"));
            assert_eq!(s.code() as i32, code.grpc_code());
        }
    }

    #[test]
    fn invalid_argument_carries_the_field() {
        let e = ServiceError::out_of_range("grid_size", 2, "must be in [4, 512]");
        let s = status(e);
        assert_eq!(s.code(), Code::InvalidArgument);
        let d = s.get_error_details();
        let v = &d.bad_request().unwrap().field_violations[0];
        assert_eq!(v.field, "grid_size");
        assert!(s.message().contains("[4, 512]"));
    }

    #[test]
    fn exhausted_carries_retry_info() {
        let s = status(ServiceError::exhausted("full", Duration::from_millis(250)));
        assert_eq!(s.code(), Code::ResourceExhausted);
        assert!(s.get_error_details().retry_info().is_some());
        assert_eq!(s.metadata().get("retry-after").unwrap(), "1");
    }
}
