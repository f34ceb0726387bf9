//! `GET /openapi.json`: an OpenAPI 3.1 document generated from the request and response
//! types. The schemas come from `schemars`, the same derive the MCP door uses for tool
//! schemas, so the REST description, MCP tool schemas and the decoders cannot drift.

use std::sync::OnceLock;

use mfn_service::SERVER_VERSION;
use mfn_service::request::{
    AggregateRequest, FeaturesRequest, FractalRequest, IfsRequest, NernstRequest, SimInput,
    SimulationRequest, ValidateRequest,
};
use mfn_service::response::{
    AggregateResponse, ErrorResponse, FeaturesResponse, FractalResponse, IfsResponse,
    NernstResponse, SimulationResponse, ValidateResponse,
};
use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

/// One JSON operation: `POST path` with a request and a response type.
struct Operation {
    paths: &'static [&'static str],
    id: &'static str,
    summary: &'static str,
    description: &'static str,
    request: Value,
    response: Value,
}

/// The document (built once).
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(build)
}

/// Every path the document describes, for tests.
pub fn paths() -> Vec<String> {
    document()["paths"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

fn build() -> Value {
    let mut generator: SchemaGenerator = SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "#/components/schemas/".into())
        .into_generator();
    let mut schema = |f: fn(&mut SchemaGenerator) -> schemars::Schema| f(&mut generator);
    fn named<T: JsonSchema>(g: &mut SchemaGenerator) -> schemars::Schema {
        g.subschema_for::<T>()
    }
    let error = schema(named::<ErrorResponse>).to_value();
    let sim_input = schema(named::<SimInput>).to_value();
    let ops = [
        Operation {
            paths: &["/v1/simulate", "/simulate"],
            id: "simulate",
            summary: "Run a field simulation",
            description: "Simulates the mycelium potential field (reaction–diffusion with growth events and Turing patterning) and reports its statistics; `include_field` adds the final field in mV. Deterministic: the same request gives the same bytes (`field_sha256`).",
            request: schema(named::<SimulationRequest>).to_value(),
            response: schema(named::<SimulationResponse>).to_value(),
        },
        Operation {
            paths: &["/v1/features"],
            id: "extract_features",
            summary: "Extract the 18 fractal features of a run",
            description: "Simulates, then computes the canonical features (box-counting dimension, potential statistics, stability, clusters).",
            request: schema(named::<FeaturesRequest>).to_value(),
            response: schema(named::<FeaturesResponse>).to_value(),
        },
        Operation {
            paths: &["/v1/validate", "/validate"],
            id: "validate_pattern",
            summary: "Run the validation cycle",
            description: "Builds a dataset of simulated features, trains the small model on it and reports the loss drop, Lyapunov exponents and Nernst checks.",
            request: schema(named::<ValidateRequest>).to_value(),
            response: schema(named::<ValidateResponse>).to_value(),
        },
        Operation {
            paths: &["/v1/nernst", "/nernst"],
            id: "nernst_potential",
            summary: "Compute a Nernst potential",
            description: "E = (RT / zF) · ln(c_out / c_in). Concentrations in mol/L; `concentration_out_molar` / `concentration_in_molar` (the reference's names) and `concentration_out_M` / `concentration_in_M` are accepted.",
            request: schema(named::<NernstRequest>).to_value(),
            response: schema(named::<NernstResponse>).to_value(),
        },
        Operation {
            paths: &["/v1/federated/aggregate", "/federated/aggregate"],
            id: "aggregate_gradients",
            summary: "Aggregate federated gradients robustly",
            description: "Hierarchical Krum over client gradients (`gradients`: an array of equal-length number arrays).",
            request: schema(named::<AggregateRequest>).to_value(),
            response: schema(named::<AggregateResponse>).to_value(),
        },
        Operation {
            paths: &["/v1/fractal"],
            id: "fractal_dimension",
            summary: "Box-counting fractal dimension of an array",
            description: "Cells of the row-major `size`×`size` array strictly above `threshold` are active; the dimension is the least-squares slope of ln(count) against ln(1/box size).",
            request: schema(named::<FractalRequest>).to_value(),
            response: schema(named::<FractalResponse>).to_value(),
        },
        Operation {
            paths: &["/v1/ifs"],
            id: "generate_ifs",
            summary: "Generate an IFS orbit",
            description: "A seeded iterated-function-system orbit of random affine maps; reports its Lyapunov exponent and the SHA-256 of the points.",
            request: schema(named::<IfsRequest>).to_value(),
            response: schema(named::<IfsResponse>).to_value(),
        },
    ];

    let errors = error_responses(&error);
    let mut paths = Map::new();
    for op in &ops {
        for (i, path) in op.paths.iter().enumerate() {
            let (id, summary) = if i == 0 {
                (op.id.to_string(), op.summary.to_string())
            } else {
                (
                    format!("{}_alias", op.id),
                    format!("{} (alias of {})", op.summary, op.paths[0]),
                )
            };
            let mut responses = errors.clone();
            responses.insert(
                "200".into(),
                json!({"description": "OK", "content": {"application/json": {"schema": op.response}}}),
            );
            paths.insert(
                (*path).to_string(),
                json!({"post": {
                    "operationId": id,
                    "summary": summary,
                    "description": op.description,
                    "tags": ["mfn"],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": op.request}}},
                    "responses": responses,
                }}),
            );
        }
    }

    let mut png_responses = errors.clone();
    png_responses.insert(
        "200".into(),
        json!({"description": "The final field as a heatmap with a colour bar in mV", "content": {"image/png": {"schema": {"type": "string", "contentMediaType": "image/png"}}}}),
    );
    paths.insert(
        "/v1/simulate/field.png".into(),
        json!({"get": {
            "operationId": "simulate_field_png",
            "summary": "Render a simulation's final field as PNG",
            "description": "Query parameters are the simulation fields of POST /v1/simulate.",
            "tags": ["mfn"],
            "parameters": query_parameters(&generator, &sim_input),
            "responses": png_responses,
        }}),
    );
    for (path, summary) in [
        ("/health", "Alive: the process answers"),
        (
            "/ready",
            "Accepting work (503 while draining or when the compute queue is full)",
        ),
        ("/startup", "Initialised"),
    ] {
        paths.insert(
            path.into(),
            json!({"get": {"summary": summary, "tags": ["operations"], "security": [],
                "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
                              "503": {"description": "Not ready", "content": {"application/json": {"schema": {"type": "object"}}}}}}}),
        );
    }
    paths.insert(
        "/metrics".into(),
        json!({"get": {"summary": "Prometheus metrics (text exposition format)", "tags": ["operations"], "security": [],
            "responses": {"200": {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}}}}),
    );

    let mut schemas = generator.take_definitions(true);
    tool_paths(&mut paths, &mut schemas, &errors);
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "MFN — MyceliumFractalNet",
            "version": SERVER_VERSION,
            "description": "Mycelium field simulation, fractal features, pattern validation, Nernst potentials and robust federated aggregation. The same operations are served over gRPC (package mfn.v1), WebSocket (/ws/simulation_live, /ws/stream_features) and MCP. Errors are {error_code, message, details[{field, message}], request_id} with the HTTP status of the shared error table; every response carries X-Request-ID. Authentication (when MFN_AUTH_MODE is key or signed): x-api-key or Authorization: Bearer, plus x-timestamp, x-request-id and x-signature = hex HMAC-SHA256(key, \"{timestamp}:{request_id}:{path}\") in signed mode.",
        },
        "tags": [
            {"name": "mfn", "description": "Simulation and analysis"},
            {"name": "graphs", "description": "Stored graphs of the caller's tenant, as resources"},
            {"name": "tools", "description": "Every tool of the registry (the same tools MCP serves); the body is the tool's arguments"},
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

/// A tool's schema as a component: its own `$defs` stay inside it, so its internal
/// `#/$defs/X` references are rewritten to point there.
fn tool_component(schemas: &mut Map<String, Value>, component: &str, schema: &Value) -> Value {
    let text = schema.to_string().replace(
        "\"#/$defs/",
        &format!("\"#/components/schemas/{component}/$defs/"),
    );
    let mut value: Value = serde_json::from_str(&text).unwrap_or_else(|_| schema.clone());
    if let Some(obj) = value.as_object_mut() {
        obj.remove("$schema");
    }
    schemas.insert(component.to_owned(), value);
    json!({ "$ref": format!("#/components/schemas/{component}") })
}

/// `POST /v1/tools/{name}` for every tool, `GET /v1/tools`, and the `/v1/graphs` routes.
fn tool_paths(
    paths: &mut Map<String, Value>,
    schemas: &mut Map<String, Value>,
    errors: &Map<String, Value>,
) {
    let mut refs = std::collections::HashMap::new();
    for t in mfn_service::tools::tools() {
        let input = tool_component(schemas, &format!("tool.{}.input", t.name), &t.input_schema);
        let output = tool_component(
            schemas,
            &format!("tool.{}.output", t.name),
            &t.output_schema,
        );
        let mut responses = errors.clone();
        responses.insert(
            "200".into(),
            json!({"description": "The tool's structured result (rendering tools answer the image itself unless Accept is application/json)",
                   "content": {"application/json": {"schema": output}}}),
        );
        responses.insert("404".into(), json!({"description": "Graph, node or edge not found", "content": {"application/json": {"schema": errors["400"]["content"]["application/json"]["schema"]}}}));
        paths.insert(
            format!("/v1/tools/{}", t.name),
            json!({"post": {
                "operationId": format!("tool_{}", t.name),
                "summary": t.description,
                "tags": ["tools"],
                "requestBody": {"required": false, "content": {"application/json": {"schema": input}}},
                "responses": responses,
            }}),
        );
        refs.insert(t.name, (input, output));
    }
    let ok = |tool: &str, status: &str| -> Map<String, Value> {
        let mut r = errors.clone();
        let schema = refs
            .get(tool)
            .map(|x| x.1.clone())
            .unwrap_or(json!({"type": "object"}));
        r.insert(
            status.into(),
            json!({"description": "OK", "content": {"application/json": {"schema": schema}}}),
        );
        r
    };
    let body = |tool: &str| -> Value {
        let schema = refs
            .get(tool)
            .map(|x| x.0.clone())
            .unwrap_or(json!({"type": "object"}));
        json!({"required": true, "content": {"application/json": {"schema": schema}}})
    };
    let name = json!({"name": "name", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,100}$"}});
    let paging = [
        json!({"name": "top_k", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1}}),
        json!({"name": "cursor", "in": "query", "required": false, "schema": {"type": "string"}}),
    ];
    let mut listing = ok("list_graphs", "200");
    listing.insert("403".into(), errors["403"].clone());
    paths.insert("/v1/tools".into(), json!({"get": {
        "operationId": "list_tools", "summary": "Every tool with its input and output JSON Schemas", "tags": ["tools"],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}}}}));
    paths.insert("/v1/graphs".into(), json!({
        "get": {"operationId": "list_graphs_resource", "summary": "The tenant's graphs (all tenants with all_tenants=true and an admin key)", "tags": ["graphs"],
                "parameters": [paging[0], paging[1], {"name": "all_tenants", "in": "query", "required": false, "schema": {"type": "boolean"}}],
                "responses": listing},
        "post": {"operationId": "create_graph_resource", "summary": "Create a graph (create_graph)", "tags": ["graphs"],
                 "requestBody": body("create_graph"), "responses": ok("create_graph", "201")},
    }));
    paths.insert("/v1/graphs/{name}".into(), json!({
        "get": {"operationId": "get_graph", "summary": "A graph's summary (get_info)", "tags": ["graphs"], "parameters": [name], "responses": ok("get_info", "200")},
        "delete": {"operationId": "delete_graph_resource", "summary": "Delete a graph", "tags": ["graphs"], "parameters": [name], "responses": ok("delete_graph", "200")},
        "put": {"operationId": "import_graph_resource", "summary": "Create or replace a graph from a document (edge-list CSV, node-link JSON or GraphML in the body)", "tags": ["graphs"],
                "parameters": [name, {"name": "format", "in": "query", "required": false, "schema": {"type": "string", "enum": ["csv", "json", "graphml"]}},
                               {"name": "directed", "in": "query", "required": false, "schema": {"type": "boolean"}}],
                "requestBody": {"required": true, "content": {"text/csv": {"schema": {"type": "string"}}, "application/json": {"schema": {"type": "object"}}, "application/graphml+xml": {"schema": {"type": "string"}}}},
                "responses": ok("import_graph", "200")},
    }));
    paths.insert("/v1/graphs/{name}/nodes".into(), json!({
        "get": {"operationId": "get_nodes", "summary": "Node attributes, paged", "tags": ["graphs"], "parameters": [name, paging[0], paging[1]], "responses": ok("get_node_attributes", "200")},
        "post": {"operationId": "add_nodes_resource", "summary": "Add nodes", "tags": ["graphs"], "parameters": [name], "requestBody": body("add_nodes"), "responses": ok("add_nodes", "200")},
        "delete": {"operationId": "remove_nodes_resource", "summary": "Remove nodes", "tags": ["graphs"], "parameters": [name], "requestBody": body("remove_nodes"), "responses": ok("remove_nodes", "200")},
    }));
    paths.insert("/v1/graphs/{name}/nodes/{node}/neighbors".into(), json!({
        "get": {"operationId": "get_neighbors_resource", "summary": "Neighbours of a node (digits in the path are an integer id)", "tags": ["graphs"],
                "parameters": [name, {"name": "node", "in": "path", "required": true, "schema": {"type": "string"}}, paging[0], paging[1],
                               {"name": "direction", "in": "query", "required": false, "schema": {"type": "string", "enum": ["out", "in", "all"]}}],
                "responses": ok("get_neighbors", "200")},
    }));
    paths.insert("/v1/graphs/{name}/edges".into(), json!({
        "get": {"operationId": "get_edges", "summary": "Edge attributes, paged", "tags": ["graphs"], "parameters": [name, paging[0], paging[1]], "responses": ok("get_edge_attributes", "200")},
        "post": {"operationId": "add_edges_resource", "summary": "Add edges ([u,v], [u,v,w] or {source,target,weight,attrs})", "tags": ["graphs"], "parameters": [name], "requestBody": body("add_edges"), "responses": ok("add_edges", "200")},
        "delete": {"operationId": "remove_edges_resource", "summary": "Remove edges", "tags": ["graphs"], "parameters": [name], "requestBody": body("remove_edges"), "responses": ok("remove_edges", "200")},
    }));
    let mut export = errors.clone();
    export.insert("200".into(), json!({"description": "The document", "content": {
        "application/json": {"schema": {"type": "object"}}, "text/csv": {"schema": {"type": "string"}}, "application/graphml+xml": {"schema": {"type": "string"}}}}));
    paths.insert("/v1/graphs/{name}/export".into(), json!({
        "get": {"operationId": "export_graph_resource", "summary": "Export as node-link JSON (default), CSV or GraphML", "tags": ["graphs"],
                "parameters": [name, {"name": "format", "in": "query", "required": false, "schema": {"type": "string", "enum": ["csv", "json", "graphml"]}}],
                "responses": export},
    }));
    paths.insert("/v1/graphs/{name}/tools/{tool}".into(), json!({
        "post": {"operationId": "call_tool_on_graph", "summary": "Run a tool on this graph (the path fills its `graph` argument)", "tags": ["graphs"],
                 "parameters": [name, {"name": "tool", "in": "path", "required": true, "schema": {"type": "string"}}],
                 "requestBody": {"required": false, "content": {"application/json": {"schema": {"type": "object"}}}},
                 "responses": {"200": {"description": "The tool's result", "content": {"application/json": {"schema": {"type": "object"}}}}}},
    }));
}

/// The error statuses every operation can answer, all with the one error body.
fn error_responses(error: &Value) -> Map<String, Value> {
    [
        (
            "400",
            "Invalid argument: `details` names the field and the limit",
        ),
        ("401", "Missing or invalid credentials"),
        ("403", "The key lacks the scope"),
        ("409", "A graph of that name exists already"),
        ("413", "Body larger than MFN_MAX_MESSAGE_SIZE"),
        ("422", "The computation could not process the input"),
        (
            "429",
            "Rate, concurrency or compute-queue limit; see Retry-After",
        ),
        ("500", "Internal error (no detail)"),
        ("503", "Draining or not ready"),
    ]
    .into_iter()
    .map(|(code, description)| {
        (
            code.to_string(),
            json!({"description": description, "content": {"application/json": {"schema": error}}}),
        )
    })
    .collect()
}

/// Query parameters from the properties of an object schema (`$ref` resolved).
fn query_parameters(generator: &SchemaGenerator, schema: &Value) -> Vec<Value> {
    let resolved = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
        .and_then(|name| generator.definitions().get(name).cloned())
        .unwrap_or_else(|| schema.clone());
    resolved["properties"]
        .as_object()
        .map(|props| {
            props
                .iter()
                .map(|(name, prop)| {
                    json!({
                        "name": name,
                        "in": "query",
                        "required": false,
                        "description": prop.get("description").cloned().unwrap_or(Value::Null),
                        "schema": prop,
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_described_with_resolvable_schemas() {
        let doc = document();
        let paths = paths();
        for p in [
            "/v1/simulate",
            "/simulate",
            "/v1/features",
            "/v1/validate",
            "/validate",
            "/v1/nernst",
            "/nernst",
            "/v1/federated/aggregate",
            "/federated/aggregate",
            "/v1/simulate/field.png",
            "/health",
            "/ready",
            "/metrics",
            "/v1/graphs",
            "/v1/graphs/{name}/nodes",
            "/v1/tools/betweenness_centrality",
            "/v1/tools/simulate_field",
        ] {
            assert!(paths.iter().any(|x| x == p), "{p} missing");
        }
        // Every $ref points at a component that exists.
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let pointer = &part[..part.find('"').unwrap()];
            let target = doc.pointer(&format!("/components/schemas/{pointer}"));
            assert!(target.is_some(), "dangling $ref {pointer}");
        }
        assert!(schemas.contains_key("SimulationResponse"));
        let params = doc["paths"]["/v1/simulate/field.png"]["get"]["parameters"]
            .as_array()
            .unwrap();
        assert!(params.iter().any(|p| p["name"] == "grid_size"));
    }
}
