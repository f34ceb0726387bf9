//! The data pipeline: a Kafka / HTTP / file message through
//! `mfn_connect::message::parse` (request id, operation, `params` or top-level
//! arguments), then the operation's argument decoding and `resolve` as the registry
//! does before computing; a refused message becomes its dead letter.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfn_connect::message;

fuzz_target!(|data: &[u8]| {
    match message::parse(data, "topic-0-0") {
        Ok(req) => mfn_fuzz::operation(&req.operation, req.args),
        Err(refused) => {
            let _ = message::dead_letter(
                data,
                refused.request_id.as_deref(),
                refused.operation.as_deref(),
                &refused.error,
                "topic-0-0",
            );
        }
    }
});
