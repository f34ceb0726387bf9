//! REST: a body (or a query string) of an operation's route, decoded as the REST
//! adapter does (`rest::object` / `query_object`: empty is `{}`, `null` and non-objects
//! refused), then the operation's strict argument decoding and `resolve` (graph tools:
//! the tool call on an empty store). The first byte picks the operation from the
//! registry and whether the rest is a JSON body or a query string (`GET` routes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfn_service::decode::query_object;
use mfn_service::ops;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let all = ops::all();
    let entry = &all[(selector >> 1) as usize % all.len()];
    let args = if selector & 1 == 0 {
        match mfn_server::fuzzing::rest_body(rest) {
            Ok(object) => object,
            Err(_) => return,
        }
    } else {
        let Some(query) = mfn_fuzz::text(rest) else {
            return;
        };
        match query_object(query) {
            Ok(object) => object,
            Err(_) => return,
        }
    };
    mfn_fuzz::operation(entry.spec.name, Value::Object(args));
});
