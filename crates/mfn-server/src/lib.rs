//! The MFN server: transports over the one service layer (`mfn-service`).
//!
//! - [`grpc`]: the four `mfn.v1` services, plus `grpc.health.v1` and reflection
//!   (v1 and v1alpha), gzip/zstd, gRPC-Web;
//! - [`http`]: the HTTP port: [`rest`] (JSON operations, OpenAPI, docs page), probes,
//!   `/metrics`, and the routes below;
//! - [`ws`]: the WebSocket streams `/ws/simulation_live` and `/ws/stream_features`;
//! - [`mcp`]: the tool registry for AI agents (rmcp), over stdio and at `/mcp`;
//! - [`web`]: the live page at `/`;
//! - [`tls`]: TLS 1.3 on both ports with optional client certificates, hot reload and
//!   the certificate-expiry gauge;
//! - [`conn`]: connection caps per port and per client, idle and shutdown closes;
//! - [`config`]: env > TOML file > defaults, validated before any port is bound;
//! - [`security`]: API keys, signed requests, rate limits and the audit trail, as tower
//!   layers shared by every door;
//! - [`telemetry`]: request ids, gRPC metrics, Prometheus `/metrics`;
//! - [`server`]: [`run`] and the graceful shutdown sequence.
//!
//! The binary (`mfn serve`) parses flags, builds a [`ServerConfig`], binds
//! [`Listeners`] and calls [`run`]; tests call the same `run` on port 0.

pub mod config;
pub mod conn;
pub mod grpc;
pub mod http;
pub mod mcp;
pub mod rest;
pub mod security;
pub mod server;
pub mod telemetry;
pub mod tls;
pub mod web;
pub mod ws;

pub use config::{EXIT_CONFIG, ServerConfig};
pub use server::{Checked, Guards, Listeners, ServerError, http_context, preflight, run, serve};

/// The decoders of the doors as the fuzz targets (`fuzz/`) call them: thin wrappers of
/// crate-private functions, so that a target runs exactly the code a request runs. Not a
/// stable API.
#[doc(hidden)]
pub mod fuzzing {
    use mfn_service::ServiceError;
    use serde_json::{Map, Value};

    /// gRPC: a request message → the service's request type, as each method converts it
    /// (`grpc::convert`).
    pub mod grpc {
        use mfn_proto::v1 as pb;
        use mfn_service::request as r;
        use mfn_service::{ServiceError, SteerCommand};

        macro_rules! convert {
            ($($name:ident: $m:ty => $out:ty;)*) => {$(
                pub fn $name(m: $m) -> $out {
                    crate::grpc::convert::$name(m)
                }
            )*};
        }

        convert! {
            simulation_request: pb::RunSimulationRequest => r::SimulationRequest;
            stream_simulation_request: pb::StreamSimulationRequest => r::StreamSimulationRequest;
            features_request: pb::ExtractFeaturesRequest => r::FeaturesRequest;
            stream_features_request: pb::StreamFeaturesRequest => r::StreamFeaturesRequest;
            validate_request: pb::ValidatePatternRequest => r::ValidateRequest;
            nernst_request: pb::NernstRequest => r::NernstRequest;
            aggregate_request: pb::FederatedAggregateRequest => r::AggregateRequest;
            fractal_request: pb::FractalRequest => r::FractalRequest;
            ifs_request: pb::IfsRequest => r::IfsRequest;
            steer_command: pb::SteerCommand => Result<SteerCommand, ServiceError>;
        }
    }

    /// REST: a request body as the JSON object of the operation's arguments.
    pub fn rest_body(body: &[u8]) -> Result<Map<String, Value>, ServiceError> {
        crate::rest::object(body)
    }

    /// MCP over HTTP: the one JSON-RPC message of a POST body, or the JSON-RPC error
    /// code, the request id when readable, and the error.
    pub fn mcp_message(
        body: &[u8],
    ) -> Result<rmcp::model::ClientJsonRpcMessage, crate::mcp::http::Refusal> {
        crate::mcp::http::one_message(body)
    }
}
