//! The pipeline's message formats.
//!
//! **Request**: the REST request JSON of the operation plus `request_id` and
//! `operation` (a registry name: `simulate`, `nernst`, …, or a tool such as
//! `extract_network`). The operation's fields sit either at the top level, as the
//! reference's clients send them, or under `params`:
//!
//! ```json
//! {"request_id": "r-1", "operation": "nernst", "z_valence": 1, "concentration_out_molar": 0.005, "concentration_in_molar": 0.14}
//! {"request_id": "r-2", "operation": "simulate", "params": {"seed": 7, "grid_size": 32, "steps": 40}}
//! ```
//!
//! A request without `request_id` gets a stable one from where it came from
//! (`topic-partition-offset`, `file:line`), so a redelivery keeps its id.
//!
//! **Result**: the REST response JSON plus `request_id`, `operation` (as requested)
//! and `elapsed_ms` (wall time in the pipeline, retries included).
//!
//! **Dead letter**: `original_message` (the bytes as received, as text; base64 in
//! `original_message_base64` when they are not UTF-8), `error_code`, `message`, and
//! when known `field`, `request_id`, `operation`, and `origin` (where it came from).

use std::time::Duration;

use base64::Engine as _;
use mfn_service::{ErrorCode, ServiceError};
use serde_json::{Map, Value};

use crate::dispatch::Outcome;

/// Longest `request_id` (the service keeps at most this many characters).
pub const MAX_REQUEST_ID_CHARS: usize = 128;

/// A parsed request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The client's id, or the source's stable fallback.
    pub request_id: String,
    /// The registry name as the client wrote it.
    pub operation: String,
    /// The operation's arguments (a JSON object).
    pub args: Value,
}

/// A request refused before the service saw it, with what could be read of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    /// Why.
    pub error: ServiceError,
    /// The id, when it could be read.
    pub request_id: Option<String>,
    /// The operation, when it could be read.
    pub operation: Option<String>,
}

/// Parse one request. `fallback_id` is used when the message has no `request_id`.
pub fn parse(payload: &[u8], fallback_id: &str) -> Result<Request, Refused> {
    let refuse = |error: ServiceError, id: Option<&str>, op: Option<&str>| Refused {
        error,
        request_id: id.map(str::to_owned),
        operation: op.map(str::to_owned),
    };
    let value: Value = serde_json::from_slice(payload).map_err(|e| {
        refuse(
            ServiceError::invalid("message", format!("not valid JSON: {e}")),
            None,
            None,
        )
    })?;
    let Value::Object(mut obj) = value else {
        return Err(refuse(
            ServiceError::invalid("message", "a request must be a JSON object"),
            None,
            None,
        ));
    };
    let request_id = match obj.remove("request_id") {
        None | Some(Value::Null) => fallback_id.to_owned(),
        Some(Value::String(s))
            if !s.trim().is_empty() && s.chars().count() <= MAX_REQUEST_ID_CHARS =>
        {
            s
        }
        Some(_) => {
            return Err(refuse(
                ServiceError::invalid(
                    "request_id",
                    format!(
                        "must be a non-empty string of at most {MAX_REQUEST_ID_CHARS} characters"
                    ),
                ),
                None,
                None,
            ));
        }
    };
    let id = Some(request_id.as_str());
    let operation = match obj.remove("operation") {
        Some(Value::String(s)) if !s.is_empty() => s,
        _ => {
            return Err(refuse(
                ServiceError::invalid(
                    "operation",
                    "required: a registry name such as simulate, features, validate, nernst, aggregate, fractal, ifs or a tool name",
                ),
                id,
                None,
            ));
        }
    };
    let op = Some(operation.as_str());
    let args = match obj.remove("params") {
        None => Value::Object(obj),
        Some(Value::Object(params)) => {
            if let Some(extra) = obj.keys().next() {
                return Err(refuse(
                    ServiceError::invalid(
                        extra,
                        "with `params`, the operation's fields go inside it, not at the top level",
                    ),
                    id,
                    op,
                ));
            }
            Value::Object(params)
        }
        Some(_) => {
            return Err(refuse(
                ServiceError::invalid("params", "must be a JSON object"),
                id,
                op,
            ));
        }
    };
    if !crate::dispatch::exists(&operation) {
        return Err(refuse(
            ServiceError::invalid(
                "operation",
                format!(
                    "unknown operation {operation:?}; use a registry name such as simulate, nernst or extract_network"
                ),
            ),
            id,
            op,
        ));
    }
    Ok(Request {
        request_id,
        operation,
        args,
    })
}

/// The result JSON: the operation's response plus `request_id`, `operation`,
/// `elapsed_ms` (and `image` for rendering tools).
pub fn result(req: &Request, outcome: Outcome, elapsed: Duration) -> Value {
    let mut obj = match outcome.structured {
        Value::Object(m) => m,
        other => {
            let mut m = Map::new();
            m.insert("result".into(), other);
            m
        }
    };
    obj.insert("request_id".into(), Value::String(req.request_id.clone()));
    obj.insert("operation".into(), Value::String(req.operation.clone()));
    obj.insert("elapsed_ms".into(), elapsed_ms(elapsed).into());
    if let Some((mime_type, data)) = outcome.image {
        obj.insert(
            "image".into(),
            serde_json::json!({
                "mime_type": mime_type,
                "data_base64": base64::engine::general_purpose::STANDARD.encode(data),
            }),
        );
    }
    Value::Object(obj)
}

/// Milliseconds with microsecond resolution.
pub fn elapsed_ms(d: Duration) -> f64 {
    (d.as_micros() as f64) / 1000.0
}

/// The dead-letter JSON of a request that failed with `error`.
pub fn dead_letter(
    payload: &[u8],
    request_id: Option<&str>,
    operation: Option<&str>,
    error: &ServiceError,
    origin: &str,
) -> Value {
    let mut obj = Map::new();
    match std::str::from_utf8(payload) {
        Ok(text) => {
            obj.insert("original_message".into(), Value::String(text.to_owned()));
        }
        Err(_) => {
            obj.insert(
                "original_message_base64".into(),
                Value::String(base64::engine::general_purpose::STANDARD.encode(payload)),
            );
        }
    }
    obj.insert(
        "error_code".into(),
        Value::String(error.code.as_str().to_owned()),
    );
    obj.insert("message".into(), Value::String(error.message.clone()));
    if let Some(f) = &error.field {
        obj.insert("field".into(), Value::String(f.clone()));
    }
    if let Some(id) = request_id {
        obj.insert("request_id".into(), Value::String(id.to_owned()));
    }
    if let Some(op) = operation {
        obj.insert("operation".into(), Value::String(op.to_owned()));
    }
    obj.insert("origin".into(), Value::String(origin.to_owned()));
    Value::Object(obj)
}

/// A payload over the size limit, refused before parsing.
pub fn too_large(len: usize, limit: usize) -> ServiceError {
    ServiceError::new(
        ErrorCode::PayloadTooLarge,
        format!("message of {len} bytes exceeds max_message_bytes = {limit}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn top_level_and_params_forms_parse_alike() {
        let a = parse(
            br#"{"request_id":"r1","operation":"nernst","z_valence":1,"concentration_out_molar":0.005,"concentration_in_molar":0.14}"#,
            "fallback",
        )
        .unwrap();
        let b = parse(
            br#"{"request_id":"r1","operation":"nernst","params":{"z_valence":1,"concentration_out_molar":0.005,"concentration_in_molar":0.14}}"#,
            "fallback",
        )
        .unwrap();
        assert_eq!(a, b);
        let c = parse(br#"{"operation":"extract_network","name":"n"}"#, "t-0-7").unwrap();
        assert_eq!(c.request_id, "t-0-7");
        assert_eq!(c.args, json!({"name": "n"}));
    }

    #[test]
    fn refusals_keep_what_was_readable() {
        for (payload, field, id, op) in [
            (&b"{not json"[..], "message", None, None),
            (b"[1,2]", "message", None, None),
            (
                br#"{"request_id":5,"operation":"nernst"}"#,
                "request_id",
                None,
                None,
            ),
            (br#"{"request_id":"x"}"#, "operation", Some("x"), None),
            (
                br#"{"request_id":"x","operation":"nope"}"#,
                "operation",
                Some("x"),
                Some("nope"),
            ),
            (
                br#"{"request_id":"x","operation":"simulate","params":{},"seed":1}"#,
                "seed",
                Some("x"),
                Some("simulate"),
            ),
            (
                br#"{"request_id":"x","operation":"simulate","params":3}"#,
                "params",
                Some("x"),
                Some("simulate"),
            ),
        ] {
            let r = parse(payload, "fb").unwrap_err();
            assert_eq!(r.error.code, ErrorCode::InvalidArgument);
            assert_eq!(r.error.field.as_deref(), Some(field), "{r:?}");
            assert_eq!(r.request_id.as_deref(), id);
            assert_eq!(r.operation.as_deref(), op);
        }
        let long = format!(
            r#"{{"request_id":"{}","operation":"nernst"}}"#,
            "a".repeat(129)
        );
        assert!(parse(long.as_bytes(), "fb").is_err());
    }

    #[test]
    fn result_and_dead_letter_shapes() {
        let req = parse(br#"{"request_id":"r","operation":"nernst"}"#, "fb").unwrap();
        let v = result(
            &req,
            Outcome {
                structured: json!({"potential_mV": -89.0, "request_id": "r"}),
                image: None,
            },
            Duration::from_micros(1500),
        );
        assert_eq!(
            v,
            json!({"potential_mV": -89.0, "request_id": "r", "operation": "nernst", "elapsed_ms": 1.5})
        );
        let e = ServiceError::invalid("grid_size", "grid_size = 9999 is out of range");
        let d = dead_letter(b"\xff\x00", Some("r"), None, &e, "t/0@5");
        assert_eq!(d["error_code"], "INVALID_ARGUMENT");
        assert_eq!(d["field"], "grid_size");
        assert_eq!(d["original_message_base64"], "/wA=");
        assert_eq!(d["origin"], "t/0@5");
        assert!(d.get("operation").is_none());
    }
}
