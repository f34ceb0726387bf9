//! Strict decoding of JSON arguments into the service's request types, shared by REST
//! bodies and query strings, MCP and REST tool arguments: errors name the field.
//!
//! Unknown fields are refused rather than ignored: a typo (`grid` for `grid_size`)
//! would otherwise run the default silently. Type errors are traced to their field by
//! re-decoding each field alone, which also works through `#[serde(flatten)]`, where
//! serde itself loses the path.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{ServiceError, truncate};

/// Names every request type may carry besides its own fields.
const COMMON_FIELDS: [&str; 1] = ["request_id"];

/// A request type the doors decode: the properties of its JSON Schema are its field
/// names, and the schema's `x-aliases` (the `#[serde(alias)]` spellings, listed with
/// `#[schemars(extend("x-aliases" = [...]))]`) are accepted too. Every
/// `DeserializeOwned + JsonSchema` type is one: a new operation's request needs no
/// registration here.
pub trait ApiRequest: DeserializeOwned + JsonSchema + 'static {}

impl<T: DeserializeOwned + JsonSchema + 'static> ApiRequest for T {}

/// Decode a JSON object into `T`, refusing unknown fields and naming the bad one.
pub fn decode_json<T: ApiRequest>(bytes: &[u8]) -> Result<T, ServiceError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ServiceError::invalid("body", format!("body is not valid JSON: {e}")))?;
    decode_value(value)
}

/// Decode a JSON value (an object, or `null` for all defaults) into `T`.
pub fn decode_value<T: ApiRequest>(value: Value) -> Result<T, ServiceError> {
    let value = if value.is_null() {
        Value::Object(Map::new())
    } else {
        value
    };
    let Value::Object(object) = value else {
        return Err(ServiceError::invalid(
            "body",
            "body must be a JSON object of the operation's fields",
        ));
    };
    decode_object(object)
}

/// Decode `key=value` pairs into `T`: each value is read as JSON when it parses as JSON
/// (numbers, booleans) and as a string otherwise.
pub fn decode_query<T: ApiRequest>(query: &str) -> Result<T, ServiceError> {
    decode_object(query_object(query)?)
}

/// A query string as a JSON object: each value is read as JSON when it parses as JSON
/// (numbers, booleans) and as a string otherwise; a key given twice is refused.
pub fn query_object(query: &str) -> Result<Map<String, Value>, ServiceError> {
    let mut object = Map::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let parsed = serde_json::from_str(&value).unwrap_or(Value::String(value.into_owned()));
        if object.insert(key.clone().into_owned(), parsed).is_some() {
            return Err(ServiceError::invalid(
                key.as_ref(),
                format!("{key}: given more than once"),
            ));
        }
    }
    Ok(object)
}

fn decode_object<T: ApiRequest>(object: Map<String, Value>) -> Result<T, ServiceError> {
    let known = known_fields::<T>();
    if let Some(unknown) = object
        .keys()
        .find(|k| !known.iter().any(|f| f == *k) && !COMMON_FIELDS.contains(&k.as_str()))
    {
        let shown = truncate(unknown);
        return Err(ServiceError::invalid(
            &shown,
            format!(
                "unknown field {shown:?}; expected one of: {}",
                known.join(", ")
            ),
        ));
    }
    let mut object = object;
    for common in COMMON_FIELDS {
        object.remove(common);
    }
    // Decoded from a borrow: a 10 MB body is not copied on the success path.
    let object = Value::Object(object);
    match T::deserialize(&object) {
        Ok(v) => Ok(v),
        Err(whole) => {
            // Find the field that fails on its own.
            let Value::Object(object) = object else {
                unreachable!("built as an object above")
            };
            for (key, value) in object {
                let alone = Value::Object(Map::from_iter([(key.clone(), value)]));
                if let Err(e) = serde_json::from_value::<T>(alone) {
                    return Err(ServiceError::invalid(key.as_str(), format!("{key}: {e}")));
                }
            }
            Err(ServiceError::invalid("body", whole.to_string()))
        }
    }
}

/// The field names of `T`: the properties of its JSON Schema (flattened fields
/// included) and its `x-aliases`, computed once per type.
fn known_fields<T: ApiRequest>() -> Arc<[String]> {
    static KNOWN: OnceLock<RwLock<HashMap<TypeId, Arc<[String]>>>> = OnceLock::new();
    let cache = KNOWN.get_or_init(Default::default);
    let id = TypeId::of::<T>();
    if let Some(known) = cache.read().ok().and_then(|m| m.get(&id).cloned()) {
        return known;
    }
    let schema = schemars::schema_for!(T);
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|p| p.keys().cloned());
    let aliases = schema
        .get("x-aliases")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(str::to_owned));
    let known: Arc<[String]> = properties.chain(aliases).collect();
    if let Ok(mut m) = cache.write() {
        m.insert(id, known.clone());
    }
    known
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::request::{NernstRequest, SimInput, SimulationRequest};

    #[test]
    fn flattened_fields_decode_and_typos_are_named() {
        let r: SimulationRequest =
            decode_json(br#"{"grid_size": 32, "include_field": true, "request_id": "x"}"#).unwrap();
        assert_eq!(r.sim.grid_size, Some(32));
        assert!(r.include_field);

        let e = decode_json::<SimulationRequest>(br#"{"grid": 32}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("grid"));
        assert!(e.message.contains("grid_size"), "{}", e.message);

        let e =
            decode_json::<SimulationRequest>(br#"{"steps": 10, "grid_size": "big"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("grid_size"));
        assert_eq!(e.code, ErrorCode::InvalidArgument);

        let e = decode_json::<SimulationRequest>(b"[1,2]").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("body"));
        let e = decode_json::<SimulationRequest>(b"{").unwrap_err();
        assert!(e.message.contains("not valid JSON"));
    }

    #[test]
    fn aliases_are_accepted() {
        let r: NernstRequest = decode_json(
            br#"{"z_valence": 1, "concentration_out_molar": 0.005, "concentration_in_M": 0.14}"#,
        )
        .unwrap();
        assert_eq!(r.concentration_out_m, 0.005);
        assert_eq!(r.concentration_in_m, 0.14);
    }

    #[test]
    fn query_values_are_typed() {
        let q: SimInput = decode_query("seed=7&grid_size=16&turing_enabled=false").unwrap();
        assert_eq!(q.seed, Some(7));
        assert_eq!(q.grid_size, Some(16));
        assert_eq!(q.turing_enabled, Some(false));
        let e = decode_query::<SimInput>("grid_size=abc").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("grid_size"));
        let e = decode_query::<SimInput>("seed=1&seed=2").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("seed"));
    }

    mod fuzz {
        use super::*;
        use crate::request::{AggregateRequest, FeaturesRequest, ValidateRequest};
        use proptest::prelude::*;

        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(
                    |f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
                ),
                "[a-z_]{0,12}".prop_map(Value::String),
            ];
            leaf.prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::btree_map("[a-z_]{1,8}", inner, 0..3)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        fn field_name() -> impl Strategy<Value = String> {
            prop_oneof![
                prop::sample::select(vec![
                    "seed",
                    "grid_size",
                    "steps",
                    "alpha",
                    "spike_probability",
                    "turing_enabled",
                    "turing_threshold",
                    "quantum_jitter",
                    "jitter_var",
                    "include_field",
                    "threshold_mv",
                    "adaptive_threshold",
                    "with_history",
                    "epochs",
                    "batch_size",
                    "gradients",
                    "num_clusters",
                    "request_id",
                ])
                .prop_map(str::to_string),
                "[a-z_]{1,10}",
            ]
        }

        /// Decoding never panics; a refusal names a field the client sent or `body`.
        fn check<T: ApiRequest>(object: &Map<String, Value>) {
            let bytes = serde_json::to_vec(object).unwrap();
            if let Err(e) = decode_json::<T>(&bytes) {
                assert_eq!(e.code, ErrorCode::InvalidArgument);
                let field = e.field.expect("a refusal names its field");
                assert!(field == "body" || object.contains_key(&field), "{field}");
            }
        }

        proptest! {
            #[test]
            fn json_objects_decode_or_name_the_bad_field(
                object in prop::collection::btree_map(field_name(), json_value(), 0..6)
            ) {
                let object: Map<String, Value> = object.into_iter().collect();
                check::<SimulationRequest>(&object);
                check::<FeaturesRequest>(&object);
                check::<ValidateRequest>(&object);
                check::<AggregateRequest>(&object);
                check::<NernstRequest>(&object);
            }

            #[test]
            fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
                let _ = decode_json::<SimulationRequest>(&bytes);
                let _ = decode_query::<SimInput>(&String::from_utf8_lossy(&bytes));
            }
        }
    }
}
