//! The one MFN service layer. gRPC, REST, WebSocket and MCP are thin adapters over
//! [`MfnService`]: they convert their transport's message into a request type of
//! [`request`], call the service, and convert the result back.
//!
//! What lives here, and only here:
//! - **Validation** ([`request`]): defaults applied, every limit checked before any
//!   allocation sized by the request, errors naming the field and the limit.
//! - **Errors** ([`error`]): one [`ErrorCode`] with its gRPC code and HTTP status.
//! - **The compute gate** ([`gate`]): a bounded, cancellable rayon pool; CPU work never
//!   runs on the async reactor, and overload fails fast with `RESOURCE_EXHAUSTED`.
//! - **The result cache** ([`cache`]): deterministic results replayed byte for byte.
//! - **Responses** ([`response`]): the JSON shapes of REST and MCP, named as in gRPC.
//! - **Rendering** ([`render`]): a field as a PNG heatmap.
//! - **Operations** ([`ops`]): the one registry of MFN operations and graph tools;
//!   every door, the CLI and the pipeline iterate it.
//! - **Streams** ([`stream`], [`steer`]): one continuous run, paced and backpressured,
//!   stopped when the reader leaves.

pub mod arrays;
pub mod cache;
pub mod decode;
pub mod error;
pub mod gate;
pub mod network;
pub mod ops;
pub mod render;
pub mod request;
pub mod response;
pub mod service;
pub mod steer;
pub mod stream;

/// The science crate, re-exported so adapters can name its result types.
pub use mfn_core;
/// The graph engine, re-exported for adapters.
pub use mfn_graph;

pub use cache::CacheStatus;
pub use error::{ErrorCode, ServiceError};
pub use service::{
    AggregateOutput, FeaturesOutput, FractalOutput, GraphStoreConfig, HealthInfo, IfsOutput, Meta,
    MfnService, NernstOutput, RequestContext, SERVER_VERSION, ServiceConfig, SimulationOutput,
};
pub use steer::{SteerAck, SteerCommand, SteerEvent};
pub use stream::{FeatureFrame, FrameStream, SimFrame};
