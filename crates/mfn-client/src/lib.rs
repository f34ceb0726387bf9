//! The Rust SDK of the MFN gRPC API (`mfn.v1`).
//!
//! One [`Client`] covers the four services — `MFNSimulationService`,
//! `MFNFeaturesService`, `MFNValidationService` and `MyceliumService` — plus
//! `grpc.health.v1`, with one async method per RPC taking and returning the
//! generated messages, re-exported as [`pb`] so this crate is the only dependency a
//! caller needs.
//!
//! Every call:
//! - carries a fresh UUID v4 in `x-request-id`, also written into the message's
//!   `request_id` when that was left empty;
//! - authenticates as [`AuthMode`] says: nothing, `x-api-key`, or `x-api-key` plus
//!   `x-timestamp` and `x-signature` = [`sign`]`(key, timestamp, request_id, path)`,
//!   the HMAC-SHA256 scheme of SERVICE.md;
//! - has a deadline per attempt: on unary calls it bounds the whole call and is sent
//!   as `grpc-timeout`; on streams it bounds the wait for the first frame, after
//!   which the stream lasts as long as the server sends;
//! - is retried per [`RetryPolicy`] on `UNAVAILABLE`, `DEADLINE_EXCEEDED` and
//!   `RESOURCE_EXHAUSTED` only, with exponential backoff, full jitter, the server's
//!   retry hint as the minimum wait, and an overall budget. Each attempt gets a new
//!   request id, timestamp and signature, so a retry is never taken for a replay.
//!   Server streams retry only until their first frame; a steered stream is never
//!   retried.
//!
//! An endpoint may name several replicas — a comma-separated list of URLs, or
//! `dns:///host:port` for every address of a name (a Kubernetes headless Service) —
//! and then each call goes to one healthy replica: members are watched with
//! `grpc.health.v1`, re-resolved, ejected after failures, and a retry after
//! `UNAVAILABLE` or a broken connection goes to another replica at once, within gRPC's
//! retry throttling ([`RetryThrottle`]). Calls made before any replica has answered
//! (replicas started with their clients) wait for one within their deadline. A server stream cut mid-way (a draining
//! replica ends it with `UNAVAILABLE`) is reopened and resumes after the last frame
//! delivered: runs are deterministic. See [`ClientConfig::endpoint`].
//!
//! Failures are one [`ClientError`], which keeps the gRPC code, the message and the
//! request field at fault (from a `google.rpc.BadRequest` detail).
//!
//! # Example
//!
//! ```no_run
//! use futures::StreamExt;
//! use mfn_client::{Client, ClientConfig, pb};
//!
//! # async fn demo() -> Result<(), mfn_client::ClientError> {
//! let config = ClientConfig::builder("https://mfn.example.com:50051")
//!     .signed("my-api-key")
//!     .ca_pem(std::fs::read("ca.pem").expect("ca.pem"))
//!     .build()?;
//! let client = Client::connect(config).await?;
//!
//! let run = client
//!     .run_simulation(pb::RunSimulationRequest {
//!         grid_size: Some(64),
//!         steps: Some(64),
//!         ..Default::default()
//!     })
//!     .await?;
//! println!("{} growth events, mean {:.2} mV", run.growth_events, run.pot_mean_m_v);
//!
//! let mut frames = client
//!     .stream_simulation(pb::StreamSimulationRequest {
//!         steps_per_frame: Some(16),
//!         ..Default::default()
//!     })
//!     .await?;
//! while let Some(frame) = frames.next().await {
//!     let frame = frame?;
//!     println!("step {}/{}: {:.2} mV", frame.step, frame.total_steps, frame.pot_mean_m_v);
//!     if frame.is_final {
//!         break;
//!     }
//! }
//! # Ok(())
//! # }
//! ```

mod auth;
mod balance;
mod client;
mod config;
mod error;
pub mod paths;

pub use auth::{API_KEY_HEADER, REQUEST_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
pub use balance::{EndpointHealth, EndpointInfo};
pub use client::{Client, ClientStats, FrameStream};
pub use config::{
    AuthMode, ClientConfig, ClientConfigBuilder, Compression, RetryPolicy, RetryThrottle,
    TlsOptions,
};
pub use error::{ClientError, is_retryable};
/// The generated `mfn.v1` messages and clients.
pub use mfn_proto::v1 as pb;
/// gRPC status codes, as [`ClientError::code`] returns them.
pub use tonic::Code;
/// Serving status of a `grpc.health.v1` check, as [`Client::health`] returns it.
pub use tonic_health::pb::health_check_response::ServingStatus;
