//! The MFN server: transports over the one service layer (`mfn-service`).
//!
//! - [`grpc`]: the four `mfn.v1` services, plus `grpc.health.v1` and reflection
//!   (v1 and v1alpha), gzip/zstd, gRPC-Web;
//! - [`http`]: the HTTP port: [`rest`] (JSON operations, OpenAPI, docs page), probes,
//!   `/metrics`, and the routes below;
//! - [`ws`]: the WebSocket streams `/ws/simulation_live` and `/ws/stream_features`;
//! - [`mcp`]: the tool registry for AI agents (rmcp), over stdio and at `/mcp`;
//! - [`web`]: the live page at `/`;
//! - [`tls`]: TLS 1.3 with optional client certificates and hot reload;
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
