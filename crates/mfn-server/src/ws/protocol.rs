//! Messages of the WebSocket protocol: `{"type": …, "payload": {…}}` text messages, and
//! the binary field message (layout in `docs/WEBSOCKET.md` and [`encode_field`]).

use axum::body::Bytes;
use mfn_service::{ErrorCode, ServiceError};
use serde_json::{Map, Value, json};

/// Magic of a binary field message.
pub const FIELD_MAGIC: &[u8; 4] = b"MFNF";
/// Longest `stream_id`, bytes.
pub const MAX_STREAM_ID_BYTES: usize = 64;

/// Which stream an endpoint serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/ws/simulation_live`: `simulation_state` frames, optionally with the field.
    Simulation,
    /// `/ws/stream_features`: `feature_update` frames.
    Features,
}

/// A message from the client, as the session sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A text message.
    Text(String),
    /// A binary message of this many bytes (not part of the protocol).
    Binary(usize),
    /// A WebSocket ping or pong: the client is alive.
    Alive,
    /// The client closed the connection.
    Close,
    /// A message over `MFN_WS_MAX_MESSAGE_KB`; the connection cannot go on.
    TooLarge,
}

/// A message to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// A JSON message.
    Text(String),
    /// A binary field message.
    Binary(Bytes),
    /// The WebSocket close frame.
    Close {
        /// RFC 6455 close code.
        code: u16,
        /// Short reason.
        reason: String,
    },
}

/// How a subscription wants the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldFormat {
    /// No field.
    None,
    /// `payload.field` = `{rows, cols, block, values_mV}`, block-averaged to at most
    /// the configured side, values rounded to 1 µV.
    Json {
        /// Largest side sent.
        max_side: usize,
    },
    /// A binary message right after each state message (f32 mV, full resolution).
    Binary,
}

/// A parsed client message.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMessage {
    /// The Python reference's opening `init {protocol_version, client_info?}`.
    Init,
    /// Credentials.
    Auth(Map<String, Value>),
    /// Start a stream: the payload with `stream_id` and the request fields.
    Subscribe(Map<String, Value>),
    /// Stop a stream.
    Unsubscribe(String),
    /// Client liveness probe; answered with `pong`.
    Heartbeat(Value),
    /// Answer to the server's heartbeat.
    Pong,
    /// End the session.
    Close,
}

impl Endpoint {
    /// The route.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Simulation => "/ws/simulation_live",
            Endpoint::Features => "/ws/stream_features",
        }
    }

    /// The metrics label.
    pub fn label(self) -> &'static str {
        match self {
            Endpoint::Simulation => "simulation_live",
            Endpoint::Features => "stream_features",
        }
    }

    /// The type of the endpoint's intermediate frames.
    pub fn frame_type(self) -> &'static str {
        match self {
            Endpoint::Simulation => "simulation_state",
            Endpoint::Features => "feature_update",
        }
    }
}

/// Parse a client text message; the error is what to answer in an `error` message.
pub fn parse(text: &str) -> Result<ClientMessage, ServiceError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| ServiceError::invalid("type", format!("message is not valid json: {e}")))?;
    let Value::Object(mut obj) = value else {
        return Err(ServiceError::invalid(
            "type",
            "message must be a json object {\"type\", \"payload\"}",
        ));
    };
    let kind = match obj.remove("type") {
        Some(Value::String(s)) => s,
        _ => return Err(ServiceError::invalid("type", "missing string field type")),
    };
    let payload = match obj.remove("payload") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(ServiceError::invalid(
                "payload",
                "payload must be an object",
            ));
        }
    };
    match kind.as_str() {
        "init" => {
            match payload.get("protocol_version") {
                None | Some(Value::Null) => {}
                Some(Value::String(v)) if v == "1" || v.starts_with("1.") => {}
                Some(v) => {
                    return Err(ServiceError::invalid(
                        "protocol_version",
                        format!(
                            "protocol_version {} is not supported: this server speaks \"1.0\"",
                            truncate(&v.to_string(), 40)
                        ),
                    ));
                }
            }
            Ok(ClientMessage::Init)
        }
        "auth" => Ok(ClientMessage::Auth(payload)),
        "subscribe" => Ok(ClientMessage::Subscribe(payload)),
        "unsubscribe" => Ok(ClientMessage::Unsubscribe(stream_id(&payload)?)),
        "heartbeat" => Ok(ClientMessage::Heartbeat(Value::Object(payload))),
        "pong" => Ok(ClientMessage::Pong),
        "close" => Ok(ClientMessage::Close),
        other => Err(ServiceError::invalid(
            "type",
            format!(
                "unknown message type {:?}: expected init, auth, subscribe, unsubscribe, heartbeat, pong or close",
                truncate(other, 40)
            ),
        )),
    }
}

/// The `stream_id` of a payload: a string of 1 to [`MAX_STREAM_ID_BYTES`] bytes.
pub fn stream_id(payload: &Map<String, Value>) -> Result<String, ServiceError> {
    match payload.get("stream_id") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_STREAM_ID_BYTES => Ok(s.clone()),
        _ => Err(ServiceError::invalid(
            "stream_id",
            format!("stream_id must be a string of 1 to {MAX_STREAM_ID_BYTES} bytes"),
        )),
    }
}

/// What a subscription in the Python reference's form asked for besides the request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferenceForm {
    /// `params.features`: the feature names to send (all when `None`).
    pub features: Option<Vec<String>>,
}

/// Bring a subscribe payload in the reference's form — `{stream_type, stream_id,
/// params: {seed, grid_size, steps, alpha, spike_probability, turing_enabled,
/// update_interval_steps, include_full_state}}` or for features `params:
/// {update_interval_ms, features, compression}` — to ours, in place: `stream_type` must
/// name this endpoint, `params` moves up, `update_interval_steps` is `steps_per_frame`,
/// `update_interval_ms` is `frame_interval_ms`; `include_full_state` and `compression`
/// are accepted and ignored. `None` for a payload in our form.
pub fn reference_form(
    payload: &mut Map<String, Value>,
    endpoint: Endpoint,
) -> Result<Option<ReferenceForm>, ServiceError> {
    if !payload.contains_key("stream_type") && !payload.contains_key("params") {
        return Ok(None);
    }
    match payload.remove("stream_type") {
        None | Some(Value::Null) => {}
        Some(Value::String(t)) if t == endpoint.label() => {}
        Some(t) => {
            return Err(ServiceError::invalid(
                "stream_type",
                format!(
                    "stream_type {} is not served here: {} serves {:?}",
                    truncate(&t.to_string(), 40),
                    endpoint.path(),
                    endpoint.label()
                ),
            ));
        }
    }
    let params = match payload.remove("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(ServiceError::invalid("params", "params must be an object")),
    };
    let mut form = ReferenceForm::default();
    for (key, value) in params {
        let key = match key.as_str() {
            "update_interval_steps" => "steps_per_frame".to_owned(),
            "update_interval_ms" => "frame_interval_ms".to_owned(),
            "include_full_state" | "compression" => continue,
            "features" => {
                let names = value.as_array().and_then(|a| {
                    a.iter()
                        .map(|v| v.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                });
                match names {
                    Some(n) if n.len() <= 64 => form.features = Some(n),
                    _ if value.is_null() => {}
                    _ => {
                        return Err(ServiceError::invalid(
                            "features",
                            "features must be a list of at most 64 feature names",
                        ));
                    }
                }
                continue;
            }
            _ => key,
        };
        payload.entry(key).or_insert(value);
    }
    Ok(Some(form))
}

/// The field format a subscribe payload asks for (removing the keys it reads).
pub fn field_format(
    payload: &mut Map<String, Value>,
    endpoint: Endpoint,
    default_max_side: usize,
) -> Result<FieldFormat, ServiceError> {
    let include = payload.get("include_field") == Some(&Value::Bool(true));
    let format = match payload.remove("field_format") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            return Err(ServiceError::invalid(
                "field_format",
                "field_format must be one of \"none\", \"json\", \"binary\"",
            ));
        }
    };
    let max_side = match payload.remove("field_max_side") {
        None | Some(Value::Null) => default_max_side,
        Some(v) => match v.as_u64() {
            Some(n) if (4..=default_max_side as u64).contains(&n) => n as usize,
            _ => {
                return Err(ServiceError::out_of_range(
                    "field_max_side",
                    v,
                    &format!("must be in [4, {default_max_side}]"),
                ));
            }
        },
    };
    let chosen = match format.as_deref() {
        None if include => FieldFormat::Json { max_side },
        None | Some("none") => FieldFormat::None,
        Some("json") => FieldFormat::Json { max_side },
        Some("binary") => FieldFormat::Binary,
        Some(_) => {
            return Err(ServiceError::invalid(
                "field_format",
                "field_format must be one of \"none\", \"json\", \"binary\"",
            ));
        }
    };
    if endpoint == Endpoint::Features && chosen != FieldFormat::None {
        return Err(ServiceError::invalid(
            "field_format",
            "the field is streamed by /ws/simulation_live only",
        ));
    }
    Ok(chosen)
}

/// Deserialize the request fields of a subscribe payload; a type error names the
/// offending field (each key is tried alone to find it).
pub fn request<T: serde::de::DeserializeOwned>(
    payload: &Map<String, Value>,
) -> Result<T, ServiceError> {
    match serde_json::from_value(Value::Object(payload.clone())) {
        Ok(req) => Ok(req),
        Err(e) => {
            let field = payload
                .iter()
                .find(|(k, v)| {
                    let alone = Map::from_iter([((*k).clone(), (*v).clone())]);
                    serde_json::from_value::<T>(Value::Object(alone)).is_err()
                })
                .map_or_else(|| "payload".to_string(), |(k, _)| k.clone());
            Err(ServiceError::invalid(
                &field,
                format!("{field}: {}", strip_position(&e.to_string())),
            ))
        }
    }
}

/// A `{"type", "payload"}` message.
pub fn message(kind: &str, payload: Value) -> String {
    json!({ "type": kind, "payload": payload }).to_string()
}

/// The JSON form of an error: `error_code`, `message`, `field`, `retry_after_ms`.
pub fn error_payload(stream_id: Option<&str>, e: &ServiceError) -> Value {
    let mut p = json!({
        "error_code": e.code.as_str(),
        "message": e.message,
        "field": e.field,
    });
    if let Some(id) = stream_id {
        p["stream_id"] = json!(id);
    }
    if let Some(after) = e.retry_after {
        p["retry_after_ms"] = json!(after.as_millis() as u64);
    }
    p
}

/// The payload of a stream frame: the service's typed frame (the same fields as the
/// gRPC frame, `meta` on the final one) plus the `stream_id`.
pub fn frame_payload(stream_id: &str, frame: &impl serde::Serialize) -> Map<String, Value> {
    let mut p = match serde_json::to_value(frame) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    p.insert("stream_id".into(), json!(stream_id));
    p
}

/// The Python reference's keys beside ours in a simulation frame: `state{pot_mean_mV,
/// pot_std_mV, pot_min_mV, pot_max_mV, active_nodes}` and `metrics{growth_events}`, on the
/// final frame `final_metrics{growth_events, pot_min_mV, pot_max_mV, pot_mean_mV,
/// pot_std_mV, fractal_dimension}`, and `timestamp` (Unix ms). `active_nodes` counts the
/// cells above the feature threshold θ = −60 mV (as `f_active` does), so it is present
/// when the frame carries the field (always for a reference-form subscription).
pub fn reference_sim_keys(
    payload: &mut Map<String, Value>,
    s: &mfn_service::mfn_core::field::SimulationResult,
    is_final: bool,
) {
    let mut state = json!({
        "pot_mean_mV": s.pot_mean_mv,
        "pot_std_mV": s.pot_std_mv,
        "pot_min_mV": s.pot_min_mv,
        "pot_max_mV": s.pot_max_mv,
    });
    if !s.field.is_empty() {
        let active = s.field.iter().filter(|v| **v > ACTIVE_THRESHOLD_V).count();
        state["active_nodes"] = json!(active);
    }
    payload.insert("state".into(), state);
    payload.insert(
        "metrics".into(),
        json!({ "growth_events": s.growth_events as f64 }),
    );
    if is_final {
        payload.insert(
            "final_metrics".into(),
            json!({
                "growth_events": s.growth_events as f64,
                "pot_min_mV": s.pot_min_mv,
                "pot_max_mV": s.pot_max_mv,
                "pot_mean_mV": s.pot_mean_mv,
                "pot_std_mV": s.pot_std_mv,
                "fractal_dimension": s.fractal_dimension,
            }),
        );
    }
    payload.insert("timestamp".into(), json!(unix_ms_f64()));
}

/// The reference's keys in a feature frame: `sequence` (0, 1, …), `final_metrics` on the
/// final frame, and `timestamp`; for a reference-form subscription, inside `features`
/// its names beside ours — `fractal_dimension`, `active_nodes` (`f_active` × N²),
/// `activity_ratio` (`f_active`), `pot_mean_mV`, `pot_std_mV`, `pot_min_mV`,
/// `pot_max_mV`, `growth_events` — kept to `params.features` when it listed names.
pub fn reference_feature_keys(
    payload: &mut Map<String, Value>,
    f: &mfn_service::FeatureFrame,
    sequence: u64,
    reference: Option<&ReferenceForm>,
) {
    let s = &f.summary;
    let cells = (s.grid_size * s.grid_size) as f64;
    if let (Some(form), Some(Value::Object(features))) = (reference, payload.get_mut("features")) {
        let only = form.features.as_deref();
        let extra = [
            ("fractal_dimension", f.features.d_box),
            ("active_nodes", (f.features.f_active * cells).round()),
            ("activity_ratio", f.features.f_active),
            ("pot_mean_mV", s.pot_mean_mv),
            ("pot_std_mV", s.pot_std_mv),
            ("pot_min_mV", s.pot_min_mv),
            ("pot_max_mV", s.pot_max_mv),
            ("growth_events", s.growth_events as f64),
        ];
        for (k, v) in extra {
            features.entry(k).or_insert(json!(v));
        }
        if let Some(only) = only {
            features.retain(|k, _| only.iter().any(|o| o == k));
        }
    }
    payload.insert("sequence".into(), json!(sequence));
    if f.is_final {
        payload.insert(
            "final_metrics".into(),
            json!({
                "growth_events": s.growth_events as f64,
                "pot_min_mV": s.pot_min_mv,
                "pot_max_mV": s.pot_max_mv,
                "pot_mean_mV": s.pot_mean_mv,
                "pot_std_mV": s.pot_std_mv,
                "fractal_dimension": f.features.d_box,
            }),
        );
    }
    payload.insert("timestamp".into(), json!(unix_ms_f64()));
}

/// The service's activity threshold θ (−60 mV) in volts: the cells above it are active.
const ACTIVE_THRESHOLD_V: f64 = mfn_service::request::DEFAULT_FRACTAL_THRESHOLD;

fn unix_ms_f64() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

/// The field (volts, row-major `n × n`) as JSON: block-averaged so that no side
/// exceeds `max_side`, in mV rounded to 1 µV.
pub fn field_json(volts: &[f64], n: usize, max_side: usize) -> Value {
    let block = n.div_ceil(max_side.max(1)).max(1);
    let side = n.div_ceil(block);
    let mut values = Vec::with_capacity(side * side);
    for bi in 0..side {
        for bj in 0..side {
            let (mut sum, mut count) = (0.0, 0usize);
            for i in bi * block..((bi + 1) * block).min(n) {
                for j in bj * block..((bj + 1) * block).min(n) {
                    sum += volts[i * n + j];
                    count += 1;
                }
            }
            let mv = sum / count.max(1) as f64 * 1e3;
            values.push((mv * 1e3).round() / 1e3);
        }
    }
    json!({ "rows": side, "cols": side, "block": block, "values_mV": values })
}

/// The binary field message, all integers little-endian:
///
/// | offset | size | content |
/// |---|---|---|
/// | 0 | 4 | magic `MFNF` |
/// | 4 | 4 | u32 `header_len`: offset of the first value (a multiple of 4) |
/// | 8 | 4 | u32 `step` |
/// | 12 | 4 | u32 `total_steps` |
/// | 16 | 4 | u32 `rows` |
/// | 20 | 4 | u32 `cols` |
/// | 24 | 2 | u16 `stream_id` length L |
/// | 26 | L | `stream_id`, UTF-8, then zero padding up to `header_len` |
/// | header_len | 4·rows·cols | f32 potential in mV, row-major |
pub fn encode_field(stream_id: &str, step: usize, total: usize, volts: &[f64], n: usize) -> Bytes {
    let id = stream_id.as_bytes();
    let header_len = (26 + id.len()).div_ceil(4) * 4;
    let mut out = Vec::with_capacity(header_len + volts.len() * 4);
    out.extend_from_slice(FIELD_MAGIC);
    for v in [header_len, step, total, n, n] {
        out.extend_from_slice(&(v as u32).to_le_bytes());
    }
    out.extend_from_slice(&(id.len() as u16).to_le_bytes());
    out.extend_from_slice(id);
    out.resize(header_len, 0);
    for v in volts {
        out.extend_from_slice(&((v * 1e3) as f32).to_le_bytes());
    }
    Bytes::from(out)
}

/// A draining or internal error keeps its code; anything else that ends a stream too.
pub fn stream_error(e: ServiceError) -> ServiceError {
    if e.code == ErrorCode::Internal {
        ServiceError::new(ErrorCode::Internal, "internal error")
    } else {
        e
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// serde's "at line 1 column 12" is noise for a client that sent one JSON value.
fn strip_position(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mfn_service::request::StreamSimulationRequest;

    #[test]
    fn messages_parse_and_bad_ones_name_the_problem() {
        assert_eq!(
            parse(r#"{"type":"unsubscribe","payload":{"stream_id":"a"}}"#).unwrap(),
            ClientMessage::Unsubscribe("a".into())
        );
        assert_eq!(parse(r#"{"type":"pong"}"#).unwrap(), ClientMessage::Pong);
        assert_eq!(parse("nope").unwrap_err().field.as_deref(), Some("type"));
        assert_eq!(parse("[1]").unwrap_err().field.as_deref(), Some("type"));
        assert!(
            parse(r#"{"type":"dance"}"#)
                .unwrap_err()
                .message
                .contains("dance")
        );
        assert_eq!(
            parse(r#"{"type":"auth","payload":3}"#)
                .unwrap_err()
                .field
                .as_deref(),
            Some("payload")
        );
        let long = "x".repeat(65);
        let e = parse(&format!(
            r#"{{"type":"unsubscribe","payload":{{"stream_id":"{long}"}}}}"#
        ))
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("stream_id"));
    }

    /// Issue 20: the reference's opening `init` and its subscribe form.
    #[test]
    fn the_reference_init_and_subscribe_forms() {
        assert_eq!(
            parse(r#"{"type":"init","payload":{"protocol_version":"1.0","client_info":"py"}}"#)
                .unwrap(),
            ClientMessage::Init
        );
        let e = parse(r#"{"type":"init","payload":{"protocol_version":"2.0"}}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("protocol_version"));
        let mut p: Map<String, Value> = serde_json::from_str(
            r#"{"stream_type":"simulation_live","stream_id":"s","params":{"seed":42,"grid_size":32,"steps":20,"update_interval_steps":5,"include_full_state":false}}"#,
        )
        .unwrap();
        let form = reference_form(&mut p, Endpoint::Simulation).unwrap();
        assert_eq!(form, Some(ReferenceForm::default()));
        let req = request::<StreamSimulationRequest>(&p).unwrap();
        assert_eq!(req.sim.grid_size, Some(32));
        assert_eq!(req.sim.steps, Some(20));
        assert_eq!(req.frames.steps_per_frame, Some(5));
        let mut p: Map<String, Value> = serde_json::from_str(
            r#"{"stream_type":"stream_features","stream_id":"f","params":{"update_interval_ms":200,"features":["fractal_dimension"]}}"#,
        )
        .unwrap();
        let e = reference_form(&mut p.clone(), Endpoint::Simulation).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("stream_type"));
        let form = reference_form(&mut p, Endpoint::Features).unwrap().unwrap();
        assert_eq!(form.features, Some(vec!["fractal_dimension".to_owned()]));
        assert_eq!(p["frame_interval_ms"], 200);
        let mut ours: Map<String, Value> =
            serde_json::from_str(r#"{"stream_id":"a","grid_size":16}"#).unwrap();
        assert_eq!(
            reference_form(&mut ours, Endpoint::Simulation).unwrap(),
            None
        );
    }

    #[test]
    fn a_type_error_names_its_field() {
        let p: Map<String, Value> =
            serde_json::from_str(r#"{"grid_size": 32, "steps": "many"}"#).unwrap();
        let e = request::<StreamSimulationRequest>(&p).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("steps"));
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        let p: Map<String, Value> =
            serde_json::from_str(r#"{"grid_size": 32, "steps_per_frame": 5}"#).unwrap();
        let r = request::<StreamSimulationRequest>(&p).unwrap();
        assert_eq!(r.frames.steps_per_frame, Some(5));
    }

    #[test]
    fn field_formats() {
        let mut p: Map<String, Value> = serde_json::from_str(r#"{"include_field": true}"#).unwrap();
        assert_eq!(
            field_format(&mut p, Endpoint::Simulation, 128).unwrap(),
            FieldFormat::Json { max_side: 128 }
        );
        let mut p: Map<String, Value> =
            serde_json::from_str(r#"{"field_format": "binary"}"#).unwrap();
        assert_eq!(
            field_format(&mut p, Endpoint::Simulation, 128).unwrap(),
            FieldFormat::Binary
        );
        assert!(p.is_empty());
        let mut p: Map<String, Value> =
            serde_json::from_str(r#"{"field_format": "binary"}"#).unwrap();
        assert!(field_format(&mut p, Endpoint::Features, 128).is_err());
        let mut p: Map<String, Value> =
            serde_json::from_str(r#"{"field_format": "json", "field_max_side": 2}"#).unwrap();
        let e = field_format(&mut p, Endpoint::Simulation, 128).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("field_max_side"));
    }

    #[test]
    fn json_field_is_block_averaged() {
        // 4×4 field, blocks of 2: each block's mean.
        let volts: Vec<f64> = (0..16).map(|i| f64::from(i) * 1e-3).collect();
        let f = field_json(&volts, 4, 2);
        assert_eq!(f["rows"], 2);
        assert_eq!(f["block"], 2);
        assert_eq!(f["values_mV"], json!([2.5, 4.5, 10.5, 12.5]));
        let full = field_json(&volts, 4, 128);
        assert_eq!(full["values_mV"].as_array().unwrap().len(), 16);
        // 5×5 into at most 2: blocks of 3, the edge blocks partial.
        let f = field_json(&[-0.07; 25], 5, 2);
        assert_eq!(f["values_mV"], json!([-70.0, -70.0, -70.0, -70.0]));
    }

    #[test]
    fn binary_field_layout() {
        let volts = [-0.07, -0.065, 0.0, 0.001];
        let b = encode_field("abc", 7, 9, &volts, 2);
        assert_eq!(&b[..4], FIELD_MAGIC);
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        let header = u32_at(4) as usize;
        assert_eq!(header, 32); // 26 + 3 rounded up to a multiple of 4
        assert_eq!(
            (u32_at(8), u32_at(12), u32_at(16), u32_at(20)),
            (7, 9, 2, 2)
        );
        assert_eq!(u16::from_le_bytes([b[24], b[25]]), 3);
        assert_eq!(&b[26..29], b"abc");
        assert_eq!(b.len(), header + 16);
        let v0 = f32::from_le_bytes(b[header..header + 4].try_into().unwrap());
        assert_eq!(v0, -70.0);
    }
}
