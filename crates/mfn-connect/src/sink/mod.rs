//! Sinks take a [`Record`] and hand back a [`Delivery`]: a future that resolves when
//! the record is durable where it went (the Kafka broker acknowledged it, the webhook
//! answered 2xx or the record reached the dead-letter file, the file holding it was
//! renamed into place). The runner acknowledges the source only then.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::config::PipelineConfig;
use crate::endpoint::Endpoint;

pub mod file;
pub mod kafka;
pub mod webhook;

/// One result or dead letter, serialized.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The request id: the Kafka key, the webhook's `Idempotency-Key`.
    pub key: String,
    /// The JSON document.
    pub body: Vec<u8>,
    /// The operation as requested (empty when unknown).
    pub operation: String,
    /// The error code of a dead letter; `None` for a result.
    pub error_code: Option<&'static str>,
    /// Pipeline time of a result.
    pub elapsed_ms: Option<f64>,
}

/// What a sink is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Results.
    Results,
    /// Dead letters.
    DeadLetters,
}

impl Role {
    /// File name prefix and header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Results => "results",
            Role::DeadLetters => "dead-letters",
        }
    }
}

/// A sink could not take or keep a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// Kafka refused or lost the record.
    #[error("kafka sink: {0}")]
    Kafka(String),
    /// The webhook's dead-letter file could not be written.
    #[error("webhook sink: {0}")]
    Webhook(String),
    /// A file could not be written.
    #[error("file sink: {0}")]
    File(String),
    /// The sink is closed.
    #[error("sink closed")]
    Closed,
}

/// Resolves when the record is durable.
pub struct Delivery(Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send>>);

impl Delivery {
    /// Wrap a future.
    pub fn new(f: impl Future<Output = Result<(), SinkError>> + Send + 'static) -> Self {
        Delivery(Box::pin(f))
    }
}

impl Future for Delivery {
    type Output = Result<(), SinkError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

/// An open sink.
pub enum Sink {
    /// A Kafka topic.
    Kafka(kafka::KafkaSink),
    /// A webhook.
    Webhook(webhook::WebhookSink),
    /// JSON Lines or Parquet files.
    File(file::FileSink),
}

impl Sink {
    /// Open `endpoint` for `role`.
    pub fn open(
        endpoint: &Endpoint,
        config: &PipelineConfig,
        role: Role,
    ) -> Result<Sink, SinkError> {
        match endpoint {
            Endpoint::Kafka { brokers, topic } => Ok(Sink::Kafka(kafka::KafkaSink::new(
                brokers,
                topic,
                &config.kafka,
                role,
            )?)),
            Endpoint::Http { url } => {
                Ok(Sink::Webhook(webhook::WebhookSink::new(url, config, role)?))
            }
            Endpoint::Jsonl { path } => Ok(Sink::File(file::FileSink::open(
                path.clone(),
                file::Format::Jsonl,
                config.file,
                role,
            )?)),
            Endpoint::Parquet { path } => Ok(Sink::File(file::FileSink::open(
                path.clone(),
                file::Format::Parquet,
                config.file,
                role,
            )?)),
            Endpoint::Dir { .. } => Err(SinkError::File("dir:/// is not a sink".into())),
        }
    }

    /// Hand `record` over; the returned delivery resolves when it is durable.
    pub async fn publish(&self, record: &Record) -> Result<Delivery, SinkError> {
        // Borrowed: the runner keeps the record to publish again after a failure; only
        // the sinks that queue it copy it.
        match self {
            Sink::Kafka(k) => k.publish(record).await,
            Sink::Webhook(w) => Ok(w.publish(record.clone())),
            Sink::File(f) => f.publish(record.clone()),
        }
    }

    /// A delivery failed: repair what can be repaired (a fatally failed Kafka
    /// producer is replaced) before the record is published again.
    pub fn after_failure(&self) {
        if let Sink::Kafka(k) = self {
            k.after_failure();
        }
    }

    /// Flush: complete the open file, wait for the producer's queue.
    pub async fn close(&self) {
        match self {
            Sink::Kafka(k) => k.flush().await,
            Sink::Webhook(_) => {}
            Sink::File(f) => f.close().await,
        }
    }

    /// The scheme, as a metric label.
    pub fn label(&self) -> &'static str {
        match self {
            Sink::Kafka(_) => "kafka",
            Sink::Webhook(_) => "http",
            Sink::File(f) => f.format().as_str(),
        }
    }
}
