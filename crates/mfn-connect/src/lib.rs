//! # mfn-connect — the MFN data pipeline
//!
//! Requests come from a **source**, run through the one operation registry of
//! `mfn-service` (same validation, limits, compute gate and cache as the server), and
//! their results go to a **sink**; requests that can never succeed go to a
//! **dead-letter** sink with the error. `mfn pipeline` is the binary's door to
//! [`run`].
//!
//! ```text
//!  source ──► runner (bounded in flight) ──► dispatch (mfn-service) ──► sink
//!    ▲            │  poison                                              │
//!    │            └───────────────► dead-letter sink                     │
//!    └──────────── ack (commit / move file) once the sink acknowledged ◄─┘
//! ```
//!
//! | module | does |
//! |---|---|
//! | [`config`] | the settings table: TOML file, `MFN_PIPELINE_*` environment and flags, validated before anything connects |
//! | [`endpoint`] | the URL forms `kafka://`, `http(s)://`, `dir:///`, `jsonl:///`, `parquet:///` |
//! | [`message`] | request parsing, result and dead-letter JSON |
//! | [`dispatch`] | the only place that names the operation registry |
//! | [`runner`] | the loop: in-flight bound, retries, backpressure, graceful drain |
//! | [`source`] | Kafka consumer group, HTTP poller, directory watcher |
//! | [`sink`] | Kafka producer, webhook, JSON Lines and Parquet files |
//! | [`telemetry`] | `mfn_pipeline_*` metrics and the `/metrics` endpoint |
//!
//! # Delivery guarantee
//!
//! At least once, never lost: a source forgets a request (commits its Kafka offset,
//! moves its file to `done/`) only after the sink acknowledged its result or the
//! dead-letter sink its error. A crash therefore re-delivers what was in flight, and
//! results are keyed by `request_id` so a reader can drop the duplicates. A graceful
//! stop (SIGTERM) finishes what it received, publishes, commits and leaves the consumer
//! group, so it neither loses nor duplicates anything.

pub mod config;
pub mod dispatch;
pub mod endpoint;
pub mod message;
pub mod retry;
pub mod runner;
pub mod sink;
pub mod source;
pub mod telemetry;

pub use config::{ConfigError, PipelineConfig};
pub use endpoint::Endpoint;
pub use runner::{PipelineError, Summary, run};
