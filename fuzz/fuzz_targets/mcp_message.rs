//! MCP over HTTP: a POST body through the admission's JSON-RPC parse (one message;
//! parse errors −32700, batches −32600), then what the handler decodes: `tools/call`
//! arguments through the registry (strict decoding and `resolve`; graph tools on an
//! empty store), `prompts/get` arguments, and `resources/read` URIs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rmcp::model::{ClientJsonRpcMessage, ClientRequest};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(message) = mfn_server::fuzzing::mcp_message(data) else {
        return;
    };
    let ClientJsonRpcMessage::Request(request) = message else {
        return;
    };
    match request.request {
        ClientRequest::CallToolRequest(call) => {
            let args = Value::Object(call.params.arguments.unwrap_or_default());
            mfn_fuzz::operation(&call.params.name, args);
        }
        ClientRequest::GetPromptRequest(get) => {
            let _ = mfn_server::mcp::prompts::get(&get.params.name, get.params.arguments.as_ref());
        }
        ClientRequest::ReadResourceRequest(read) => {
            // `graph://{name}` → the export of that graph: a name check on an empty store.
            if let Some(name) = read.params.uri.strip_prefix("graph://") {
                mfn_fuzz::operation(
                    "export_graph",
                    serde_json::json!({ "graph": name, "format": "json" }),
                );
            }
        }
        _ => {}
    }
});
