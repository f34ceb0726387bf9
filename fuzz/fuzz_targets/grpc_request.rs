//! gRPC: a request message as tonic-prost decodes it, then the adapter's conversion
//! (`mfn_server::grpc::convert`) and the service's `resolve`, as each method does
//! before it computes. The first byte picks the message type; the rest is the
//! protobuf encoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfn_proto::v1 as pb;
use mfn_server::fuzzing::grpc as door;
use mfn_service::SteerCommand;
use mfn_service::mfn_core::field::SimulationParams;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, bytes)) = data.split_first() else {
        return;
    };
    let limits = mfn_fuzz::service_limits();
    match kind % 11 {
        0 => {
            if let Ok(m) = pb::RunSimulationRequest::decode(bytes) {
                let _ = door::simulation_request(m).sim.resolve(&limits);
            }
        }
        1 => {
            if let Ok(m) = pb::StreamSimulationRequest::decode(bytes) {
                let r = door::stream_simulation_request(m);
                if let Ok(spec) = r.sim.resolve(&limits) {
                    let _ = r.frames.resolve(spec.params.steps);
                }
            }
        }
        2 => {
            if let Ok(m) = pb::ExtractFeaturesRequest::decode(bytes) {
                let _ = door::features_request(m).resolve(&limits);
            }
        }
        3 => {
            if let Ok(m) = pb::StreamFeaturesRequest::decode(bytes) {
                let r = door::stream_features_request(m);
                if let Ok(spec) = r.features.resolve(&limits) {
                    let _ = r.frames.resolve(spec.sim.params.steps);
                }
            }
        }
        4 => {
            if let Ok(m) = pb::ValidatePatternRequest::decode(bytes) {
                let _ = door::validate_request(m).resolve(&limits);
            }
        }
        5 => {
            if let Ok(m) = pb::NernstRequest::decode(bytes) {
                let _ = door::nernst_request(m).resolve();
            }
        }
        6 => {
            if let Ok(m) = pb::FederatedAggregateRequest::decode(bytes) {
                let _ = door::aggregate_request(m).resolve(&limits);
            }
        }
        7 => {
            if let Ok(m) = pb::FractalRequest::decode(bytes) {
                let _ = door::fractal_request(m).resolve(&limits);
            }
        }
        8 => {
            if let Ok(m) = pb::IfsRequest::decode(bytes) {
                let _ = door::ifs_request(m).resolve();
            }
        }
        9 => {
            // One command of `SteerSimulation`'s input stream.
            if let Ok(m) = pb::SteerCommand::decode(bytes) {
                match door::steer_command(m) {
                    Ok(SteerCommand::Start { run, .. }) => {
                        if let Ok(spec) = run.sim.resolve(&limits) {
                            let _ = run.frames.resolve(spec.params.steps);
                        }
                    }
                    Ok(SteerCommand::SetParameters {
                        alpha,
                        spike_probability,
                        ..
                    }) => {
                        // The check a change gets against the running parameters.
                        let d = SimulationParams::default();
                        let _ = SimulationParams {
                            alpha: alpha.unwrap_or(d.alpha),
                            spike_probability: spike_probability.unwrap_or(d.spike_probability),
                            ..d
                        }
                        .validate();
                    }
                    _ => {}
                }
            }
        }
        _ => {
            let _ = pb::HealthCheckRequest::decode(bytes);
        }
    }
});
