//! WebSocket: a client text message through `ws::protocol::parse`, and for a
//! `subscribe` what the session does with its payload before it starts a stream:
//! the reference form, `stream_id`, the field format, the request and its `resolve`.
//! The first byte picks the endpoint (`/ws/simulation_live` or `/ws/stream_features`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfn_server::ws::protocol::{self, ClientMessage, Endpoint};
use mfn_service::request::{StreamFeaturesRequest, StreamSimulationRequest};
use serde_json::{Map, Value};

/// The default of `MFN_WS_JSON_FIELD_MAX_SIDE`.
const JSON_FIELD_MAX_SIDE: usize = 64;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let endpoint = if selector & 1 == 0 {
        Endpoint::Simulation
    } else {
        Endpoint::Features
    };
    let Some(text) = mfn_fuzz::text(rest) else {
        return;
    };
    match protocol::parse(text) {
        Ok(ClientMessage::Subscribe(mut payload)) => subscribe(&mut payload, endpoint),
        Ok(_) => {}
        Err(e) => {
            let _ = protocol::message("error", protocol::error_payload(None, &e));
        }
    }
});

fn subscribe(payload: &mut Map<String, Value>, endpoint: Endpoint) {
    let limits = mfn_fuzz::service_limits();
    if protocol::reference_form(payload, endpoint).is_err() {
        return;
    }
    if protocol::stream_id(payload).is_err() {
        return;
    }
    payload.remove("stream_id");
    payload.remove("request_id");
    if protocol::field_format(payload, endpoint, JSON_FIELD_MAX_SIDE).is_err() {
        return;
    }
    match endpoint {
        Endpoint::Simulation => {
            if let Ok(req) = protocol::request::<StreamSimulationRequest>(payload)
                && let Ok(spec) = req.sim.resolve(&limits)
            {
                let _ = req.frames.resolve(spec.params.steps);
            }
        }
        Endpoint::Features => {
            if let Ok(req) = protocol::request::<StreamFeaturesRequest>(payload)
                && let Ok(spec) = req.features.resolve(&limits)
            {
                let _ = req.frames.resolve(spec.sim.params.steps);
            }
        }
    }
}
