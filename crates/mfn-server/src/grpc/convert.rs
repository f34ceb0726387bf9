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

/// The simulation parameters shared by four request messages.
macro_rules! sim_input {
    ($m:expr) => {
        SimInput {
            seed: $m.seed,
            grid_size: $m.grid_size,
            steps: $m.steps,
            alpha: $m.alpha,
            spike_probability: $m.spike_probability,
            turing_enabled: $m.turing_enabled,
            turing_threshold: $m.turing_threshold,
            quantum_jitter: Some($m.quantum_jitter),
            jitter_var: $m.jitter_var,
        }
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
    Some(pb::ResponseMeta {
        meta: m.into_iter().collect(),
    })
}

pub fn simulation_request(m: pb::RunSimulationRequest) -> SimulationRequest {
    SimulationRequest {
        sim: sim_input!(m),
        include_field: m.include_field,
    }
}

pub fn stream_simulation_request(m: pb::StreamSimulationRequest) -> StreamSimulationRequest {
    StreamSimulationRequest {
        sim: sim_input!(m),
        include_field: m.include_field,
        frames: FrameInput {
            steps_per_frame: m.steps_per_frame,
            frame_interval_ms: Some(m.frame_interval_ms),
        },
    }
}

pub fn features_request(m: pb::ExtractFeaturesRequest) -> FeaturesRequest {
    FeaturesRequest {
        sim: sim_input!(m),
        threshold_mv: m.threshold_mv,
        adaptive_threshold: m.adaptive_threshold,
        with_history: m.with_history,
    }
}

pub fn stream_features_request(m: pb::StreamFeaturesRequest) -> StreamFeaturesRequest {
    StreamFeaturesRequest {
        features: FeaturesRequest {
            sim: sim_input!(m),
            threshold_mv: m.threshold_mv,
            adaptive_threshold: m.adaptive_threshold,
            with_history: m.with_history,
        },
        frames: FrameInput {
            steps_per_frame: m.steps_per_frame,
            frame_interval_ms: Some(m.frame_interval_ms),
        },
    }
}

pub fn validate_request(m: pb::ValidatePatternRequest) -> ValidateRequest {
    ValidateRequest {
        seed: m.seed,
        epochs: m.epochs,
        batch_size: m.batch_size,
        grid_size: m.grid_size,
        steps: m.steps,
        turing_enabled: m.turing_enabled,
        quantum_jitter: Some(m.quantum_jitter),
    }
}

pub fn nernst_request(m: pb::NernstRequest) -> NernstRequest {
    NernstRequest {
        z_valence: m.z_valence,
        concentration_out_m: m.concentration_out_m,
        concentration_in_m: m.concentration_in_m,
        temperature_k: m.temperature_k,
    }
}

pub fn aggregate_request(m: pb::FederatedAggregateRequest) -> AggregateRequest {
    AggregateRequest {
        gradients: m.gradients.into_iter().map(|g| g.values).collect(),
        num_clusters: m.num_clusters,
        byzantine_fraction: m.byzantine_fraction,
        sample_fraction: m.sample_fraction,
        seed: m.seed,
    }
}

/// A steering command; an empty `oneof` is an invalid argument.
pub fn steer_command(m: pb::SteerCommand) -> Result<SteerCommand, ServiceError> {
    use pb::steer_command::Command;
    match m.command {
        Some(Command::Start(s)) => Ok(SteerCommand::Start {
            run: stream_simulation_request(s.run.unwrap_or_default()),
            paused: s.paused,
        }),
        Some(Command::SetParameters(p)) => Ok(SteerCommand::SetParameters {
            alpha: p.alpha,
            spike_probability: p.spike_probability,
            apply_at_step: p.apply_at_step,
        }),
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
    pb::RunSimulationResponse {
        request_id: r.request_id,
        meta: meta(r.meta),
        growth_events: s.growth_events,
        turing_activations: s.turing_activations,
        clamping_events: s.clamping_events,
        pot_min_m_v: s.pot_min_mV,
        pot_max_m_v: s.pot_max_mV,
        pot_mean_m_v: s.pot_mean_mV,
        pot_std_m_v: s.pot_std_mV,
        fractal_dimension: s.fractal_dimension,
        activator_mean: s.activator_mean,
        inhibitor_mean: s.inhibitor_mean,
        grid_size: s.grid_size,
        steps: r.steps,
        seed: r.seed,
        field_m_v: r.field_mV,
        field_sha256: r.field_sha256,
    }
}

pub fn sim_frame(request_id: &str, f: &SimFrame) -> pb::SimulationFrame {
    let r = SimFrameResponse::new(request_id, f);
    let s = r.summary;
    pb::SimulationFrame {
        request_id: r.request_id,
        step: r.step,
        total_steps: r.total_steps,
        growth_events: s.growth_events,
        turing_activations: s.turing_activations,
        clamping_events: s.clamping_events,
        pot_min_m_v: s.pot_min_mV,
        pot_max_m_v: s.pot_max_mV,
        pot_mean_m_v: s.pot_mean_mV,
        pot_std_m_v: s.pot_std_mV,
        fractal_dimension: s.fractal_dimension,
        is_final: r.is_final,
        field_m_v: to_mv(&f.summary.field),
        alpha: r.alpha,
        spike_probability: r.spike_probability,
        meta: r.meta.and_then(meta),
    }
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
    pb::SteerAck {
        command_index: a.command_index,
        command: a.command.to_string(),
        applied_at_step: a.applied_at_step,
        alpha: a.alpha,
        spike_probability: a.spike_probability,
        paused: a.paused,
    }
}

pub fn feature_vector(f: &Features) -> pb::FeatureVector {
    pb::FeatureVector {
        d_box: f.d_box,
        d_r2: f.d_r2,
        v_min: f.v_min,
        v_max: f.v_max,
        v_mean: f.v_mean,
        v_std: f.v_std,
        v_skew: f.v_skew,
        v_kurt: f.v_kurt,
        d_v_mean: f.dv_mean,
        d_v_max: f.dv_max,
        t_stable: f.t_stable,
        e_trend: f.e_trend,
        f_active: f.f_active,
        n_clusters_low: f.n_clusters_low,
        n_clusters_med: f.n_clusters_med,
        n_clusters_high: f.n_clusters_high,
        max_cluster_size: f.max_cluster_size,
        cluster_size_std: f.cluster_size_std,
    }
}

pub fn features_response(r: FeaturesResponse) -> pb::ExtractFeaturesResponse {
    pb::ExtractFeaturesResponse {
        request_id: r.request_id,
        meta: meta(r.meta),
        features: Some(feature_vector(&r.features)),
        growth_events: r.growth_events,
        pot_min_m_v: r.pot_min_mV,
        pot_max_m_v: r.pot_max_mV,
        pot_mean_m_v: r.pot_mean_mV,
        pot_std_m_v: r.pot_std_mV,
        fractal_dimension: r.fractal_dimension,
    }
}

pub fn feature_frame(request_id: &str, f: &FeatureFrame) -> pb::FeatureFrame {
    let r = FeatureFrameResponse::new(request_id, f);
    pb::FeatureFrame {
        request_id: r.request_id,
        step: r.step,
        total_steps: r.total_steps,
        features: Some(feature_vector(&r.features)),
        growth_events: r.summary.growth_events,
        pot_mean_m_v: r.summary.pot_mean_mV,
        pot_std_m_v: r.summary.pot_std_mV,
        is_final: r.is_final,
        meta: r.meta.and_then(meta),
    }
}

pub fn validate_response(r: ValidateResponse) -> pb::ValidatePatternResponse {
    let v = r.report;
    pb::ValidatePatternResponse {
        request_id: r.request_id,
        meta: meta(r.meta),
        loss_start: v.loss_start,
        loss_final: v.loss_final,
        loss_drop: v.loss_drop,
        pot_min_m_v: v.pot_min_mV,
        pot_max_m_v: v.pot_max_mV,
        example_fractal_dim: v.example_fractal_dim,
        growth_events: v.growth_events,
        lyapunov_exponent: v.lyapunov_exponent,
        lyapunov_mean: v.lyapunov_mean,
        nernst_numeric_m_v: v.nernst_numeric_mV,
        nernst_symbolic_m_v: v.nernst_symbolic_mV,
        nernst_rtfz_m_v: v.nernst_rtfz_mV,
    }
}

pub fn nernst_response(r: NernstResponse) -> pb::NernstResponse {
    pb::NernstResponse {
        request_id: r.request_id,
        meta: meta(r.meta),
        potential_m_v: r.potential_mV,
        rt_over_f_m_v: r.rt_over_f_mV,
        temperature_k: r.temperature_K,
    }
}

pub fn aggregate_response(r: AggregateResponse) -> pb::FederatedAggregateResponse {
    pb::FederatedAggregateResponse {
        request_id: r.request_id,
        meta: meta(r.meta),
        aggregated_gradient: r.aggregated_gradient,
        num_input_gradients: r.num_input_gradients,
    }
}

pub fn fractal_request(m: pb::FractalRequest) -> FractalRequest {
    FractalRequest {
        values: m.values,
        size: m.size,
        threshold: m.threshold,
        num_scales: m.num_scales,
        min_box: m.min_box,
    }
}

pub fn fractal_response(r: FractalResponse) -> pb::FractalResponse {
    pb::FractalResponse {
        request_id: r.request_id,
        meta: meta(r.meta),
        fractal_dimension: r.fractal_dimension,
        r_squared: r.r_squared,
        box_sizes: r.box_sizes.iter().map(|&b| b as u32).collect(),
        counts: r.counts,
    }
}

pub fn ifs_request(m: pb::IfsRequest) -> IfsRequest {
    IfsRequest {
        seed: m.seed,
        points: m.points,
        transforms: m.transforms,
    }
}

pub fn ifs_response(r: IfsResponse) -> pb::IfsResponse {
    pb::IfsResponse {
        request_id: r.request_id,
        meta: meta(r.meta),
        lyapunov: r.lyapunov,
        points_sha256: r.points_sha256,
        num_points: r.num_points as u32,
    }
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
        let s = status(ServiceError::out_of_range(
            "grid_size",
            2,
            "must be in [4, 512]",
        ));
        assert_eq!(s.code(), Code::InvalidArgument);
        let d = s.get_error_details();
        let v = &d.bad_request().unwrap().field_violations[0];
        assert_eq!(v.field, "grid_size");
        assert!(s.message().contains("[4, 512]"));
    }

    #[test]
    fn exhausted_carries_retry_info() {
        let s = status(ServiceError::exhausted(
            "full",
            std::time::Duration::from_millis(250),
        ));
        assert_eq!(s.code(), Code::ResourceExhausted);
        assert!(s.get_error_details().retry_info().is_some());
        assert_eq!(s.metadata().get("retry-after").unwrap(), "1");
    }
}
