//! `GET /openapi.json`: an OpenAPI 3.1 document generated from the operation registry
//! and the resource routes. The schemas are the registry's (`schemars`), the same ones
//! MCP lists and the decoders enforce, so the REST description cannot drift from them.
//!
//! Every registry entry is a component pair `tool.{name}.input` / `tool.{name}.output`.
//! An alias route (the Python reference's unversioned paths) carries
//! `x-mfn-alias-of: <canonical path>`, so the `/docs` page groups it under its operation.

use std::sync::OnceLock;

use axum::http::Method;
use mfn_service::SERVER_VERSION;
use mfn_service::ops::{self, Entry, Route};
use mfn_service::response::ErrorResponse;
use serde_json::{Map, Value, json};

use super::graphs::{Answer, Args, RESOURCES};

/// The document (built once).
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(build)
}

/// `#/components/schemas/{name}`.
fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// A JSON body of `schema`.
fn body(required: bool, schema: Value) -> Value {
    json!({"required": required, "content": {"application/json": {"schema": schema}}})
}

/// The entry's arguments as a JSON body.
fn input(e: &Entry, required: bool) -> Value {
    body(required, reference(&format!("tool.{}.input", e.spec.name)))
}

/// `description`, answered as JSON of `schema`.
fn answer(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

/// A graph document in any of its formats.
fn documents() -> Value {
    json!({"application/json": {"schema": {"type": "object"}},
           "text/csv": {"schema": {"type": "string"}},
           "application/graphml+xml": {"schema": {"type": "string"}}})
}

fn build() -> Value {
    let mut schemas = Map::new();
    for e in ops::all() {
        for (kind, schema) in [("input", &e.input_schema), ("output", &e.output_schema)] {
            let name = format!("tool.{}.{kind}", e.spec.name);
            component(&mut schemas, &name, schema);
        }
    }
    let error = ops::schema::<ErrorResponse>();
    component(&mut schemas, "ErrorResponse", &error);
    let errors = error_responses();
    let mut paths = Map::new();
    let mut add = |path: &str, method: Method, op: Value| {
        let item = paths.entry(path.to_owned()).or_insert_with(|| json!({}));
        item[method.as_str().to_ascii_lowercase()] = op;
    };
    let object = || json!({"type": "object"});

    for e in ops::all() {
        let canonical = e.spec.rest.first().map(|r| r.path());
        for (i, route) in e.spec.rest.iter().enumerate() {
            let mut op = json!({
                "operationId": e.spec.name,
                "summary": e.spec.summary,
                "description": e.spec.description,
                "tags": ["mfn"],
                "responses": responses(&errors, "200", result(e, e.spec.renders)),
            });
            if i > 0 {
                let (name, summary) = (e.spec.name, e.spec.summary);
                op["operationId"] = json!(format!("{name}_alias_{i}"));
                op["x-mfn-alias-of"] = json!(canonical);
                let of = canonical.unwrap_or_default();
                op["summary"] = json!(format!("{summary} (alias of {of})"));
            }
            let method = match route {
                Route::Post(_) => {
                    op["requestBody"] = input(e, false);
                    Method::POST
                }
                Route::Get(_) => {
                    op["parameters"] = json!(query_parameters(&e.input_schema, &[]));
                    Method::GET
                }
            };
            add(route.path(), method, op);
        }
        let mut op = json!({
            "operationId": format!("tool_{}", e.spec.name),
            "summary": e.spec.description,
            "tags": ["tools"],
            "requestBody": input(e, false),
            "responses": responses(&errors, "200", result(e, e.spec.renders)),
        });
        if !e.spec.aliases.is_empty() {
            op["x-mfn-aliases"] = json!(e.spec.aliases);
        }
        add(&format!("/v1/tools/{}", e.spec.name), Method::POST, op);
    }
    let summary = "Every operation with its input and output JSON Schemas";
    let list = json!({"operationId": "list_tools", "summary": summary, "tags": ["tools"],
        "responses": {"200": answer("OK", object())}});
    add("/v1/tools", Method::GET, list);

    for (i, r) in RESOURCES.iter().enumerate() {
        let entry = r.tool.and_then(ops::find);
        let mut params: Vec<Value> = ["name", "node", "tool"]
            .into_iter()
            .filter(|p| r.path.contains(&format!("{{{p}}}")))
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = json!({
            "operationId": format!("{}_resource_{i}", r.tool.unwrap_or("tool")),
            "summary": r.summary,
            "tags": ["graphs"],
        });
        match (r.args, entry) {
            (Args::Query | Args::Document, Some(e)) => {
                params.extend(query_parameters(
                    &e.input_schema,
                    &[r.name_arg, "node", "data"],
                ));
            }
            (Args::Body, Some(e)) => op["requestBody"] = input(e, true),
            (Args::Body, None) => op["requestBody"] = body(false, object()),
            _ => {}
        }
        if r.args == Args::Document {
            op["requestBody"] = json!({"required": true, "content": documents()});
        }
        if !params.is_empty() {
            op["parameters"] = json!(params);
        }
        let (status, ok) = match (r.answer, entry) {
            (Answer::Document, _) => {
                let document = json!({"description": "The document", "content": documents()});
                ("200", document)
            }
            (Answer::Created, Some(e)) => ("201", result(e, false)),
            (Answer::Json, Some(e)) => ("200", result(e, false)),
            (_, None) => ("200", answer("The tool's result", object())),
        };
        op["responses"] = responses(&errors, status, ok);
        add(r.path, r.method.clone(), op);
    }

    let ready = "Accepting work (503 while draining or when the compute queue is full)";
    let probes = [
        ("/health", "Alive: the process answers"),
        ("/ready", ready),
        ("/startup", "Initialised"),
    ];
    let responses = json!({"200": answer("OK", object()), "503": answer("Not ready", object())});
    for (path, summary) in probes {
        let id = path.trim_start_matches('/');
        let op = json!({"operationId": id, "summary": summary, "tags": ["operations"],
            "security": [], "responses": responses});
        add(path, Method::GET, op);
    }
    let text =
        json!({"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}});
    let summary = "Prometheus metrics (text exposition format)";
    let metrics = json!({"operationId": "metrics", "summary": summary, "tags": ["operations"],
        "security": [], "responses": {"200": text}});
    add("/metrics", Method::GET, metrics);

    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "MFN — MyceliumFractalNet",
            "version": SERVER_VERSION,
            "description": "Mycelium field simulation, fractal features, pattern validation, Nernst potentials, robust federated aggregation and graph analytics. The same operations are served over gRPC (package mfn.v1), WebSocket (/ws/simulation_live, /ws/stream_features) and MCP (/mcp). Errors are {error_code, message, details[{field, message}], request_id} with the HTTP status of the shared error table; every response carries X-Request-ID. Authentication (when MFN_AUTH_MODE is key or signed): x-api-key or Authorization: Bearer, plus x-timestamp, x-request-id and x-signature = hex HMAC-SHA256(key, \"{timestamp}:{request_id}:{path}\") in signed mode.",
        },
        "tags": [
            {"name": "mfn", "description": "Simulation and analysis"},
            {"name": "graphs", "description": "Stored graphs of the caller's tenant, as resources"},
            {"name": "tools", "description": "Every operation of the registry (the same ones MCP serves); the body is its arguments"},
            {"name": "operations", "description": "Probes and metrics"},
        ],
        "security": [{"apiKey": []}, {"bearer": []}, {}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    })
}

/// A schema as a component: its own `$defs` stay inside it, so its internal
/// `#/$defs/X` references are rewritten to point there.
fn component(schemas: &mut Map<String, Value>, name: &str, schema: &Value) {
    let text = schema.to_string().replace(
        "\"#/$defs/",
        &format!("\"#/components/schemas/{name}/$defs/"),
    );
    let mut value: Value = serde_json::from_str(&text).unwrap_or_else(|_| schema.clone());
    if let Some(obj) = value.as_object_mut() {
        obj.remove("$schema");
    }
    schemas.insert(name.to_owned(), value);
}

/// The error statuses plus `status` answering `ok`.
fn responses(errors: &Map<String, Value>, status: &str, ok: Value) -> Value {
    let mut m = errors.clone();
    m.insert(status.into(), ok);
    Value::Object(m)
}

/// The entry's result (and its image when it renders one).
fn result(e: &Entry, renders: bool) -> Value {
    let mut ok = answer("OK", reference(&format!("tool.{}.output", e.spec.name)));
    if renders {
        let image = json!({"schema": {"type": "string", "contentMediaType": "image/png"}});
        ok["content"]["image/png"] = image;
        ok["content"]["image/svg+xml"] = json!({"schema": {"type": "string"}});
        ok["description"] =
            json!("The image, or the structured result with Accept: application/json");
    }
    ok
}

/// The error statuses every operation can answer, all with the one error body.
fn error_responses() -> Map<String, Value> {
    [
        (
            "400",
            "Invalid argument: `details` names the field and the limit",
        ),
        ("401", "Missing or invalid credentials"),
        ("403", "The key lacks the scope"),
        ("404", "Graph, node, edge or operation not found"),
        ("409", "A graph of that name exists already"),
        (
            "413",
            "Body larger than MFN_MAX_MESSAGE_SIZE, or a size limit",
        ),
        ("415", "Body is not application/json"),
        ("422", "The computation could not process the input"),
        (
            "429",
            "Rate, concurrency or compute-queue limit; see Retry-After",
        ),
        ("500", "Internal error (no detail)"),
        ("503", "Draining or not ready"),
        ("504", "The operation deadline passed (MFN_TOOL_TIMEOUT_S)"),
    ]
    .map(|(code, text)| (code.to_owned(), answer(text, reference("ErrorResponse"))))
    .into_iter()
    .collect()
}

/// Query parameters from the properties of an object schema, except `skip`.
fn query_parameters(schema: &Value, skip: &[&str]) -> Vec<Value> {
    let properties = schema["properties"].as_object().into_iter().flatten();
    let properties = properties.filter(|(name, _)| !skip.contains(&name.as_str()));
    let parameter = |(name, prop): (&String, &Value)| {
        // Query values are scalars; a schema with `$ref`s (at any depth) stays in the
        // body forms, where its `$defs` resolve.
        let refs = prop.to_string().contains("\"$ref\"");
        let prop = if refs { json!({}) } else { prop.clone() };
        let mut param = json!({"name": name, "in": "query", "required": false});
        if let Some(d) = prop.get("description") {
            param["description"] = d.clone();
        }
        param["schema"] = prop;
        param
    };
    properties.map(parameter).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_described_with_resolvable_schemas() {
        let doc = document();
        let paths = doc["paths"].as_object().unwrap();
        let expected = "/v1/simulate /simulate /v1/features /v1/validate /validate /v1/nernst \
            /nernst /v1/federated/aggregate /federated/aggregate /v1/simulate/field.png \
            /v1/fractal/upload /health /ready /metrics /v1/graphs /v1/graphs/{name}/nodes \
            /v1/tools/betweenness_centrality /v1/tools/simulate_field";
        for p in expected.split_whitespace() {
            assert!(paths.contains_key(p), "{p} missing");
        }
        // Every $ref points at a component that exists.
        let text = doc.to_string();
        assert!(!text.contains("\"#/$defs/"), "a relative $ref");
        for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let pointer = &part[..part.find('"').unwrap()];
            let target = doc.pointer(&format!("/components/schemas/{pointer}"));
            assert!(target.is_some(), "dangling $ref {pointer}");
        }
        let params = doc["paths"]["/v1/simulate/field.png"]["get"]["parameters"]
            .as_array()
            .unwrap();
        assert!(params.iter().any(|p| p["name"] == "grid_size"));
        // OpenAPI: a parameter's description is a string when present, never null.
        for (path, item) in paths {
            for (verb, op) in item.as_object().unwrap() {
                for p in op["parameters"].as_array().into_iter().flatten() {
                    let description = p.get("description");
                    assert!(
                        description.is_none_or(Value::is_string),
                        "{verb} {path} {p}"
                    );
                }
            }
        }
        let alias = &doc["paths"]["/nernst"]["post"];
        assert_eq!(alias["x-mfn-alias-of"], "/v1/nernst");
    }

    #[test]
    fn every_registry_entry_is_a_tool_route_with_its_schemas() {
        let doc = document();
        for e in ops::all() {
            let name = format!("tool.{}.input", e.spec.name);
            let component = &doc["components"]["schemas"][&name];
            for key in ["properties", "required", "type"] {
                let keys = |v: &Value| match v[key].as_object() {
                    Some(o) => o.keys().cloned().collect::<Vec<_>>(),
                    None => vec![v[key].to_string()],
                };
                assert_eq!(keys(component), keys(&e.input_schema), "{name} {key}");
            }
            let route = format!("/v1/tools/{}", e.spec.name);
            assert!(doc["paths"][&route]["post"].is_object(), "{route}");
        }
    }
}
