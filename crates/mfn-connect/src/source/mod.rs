//! Sources hand requests to the runner as [`Envelope`]s over a bounded channel (a full
//! channel is the backpressure) and learn through each envelope's [`Ack`] when its
//! result — or its dead letter — was acknowledged by the sink. Only then does a source
//! forget a request: Kafka commits the offset, the directory watcher moves the file.
//! An `Ack` dropped unanswered means "not done": the request will be delivered again.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::PipelineConfig;
use crate::endpoint::Endpoint;

pub mod dir;
pub mod http;
pub mod kafka;

/// One request as received.
pub struct Envelope {
    /// The raw message.
    pub payload: Vec<u8>,
    /// A stable id for a request without `request_id`.
    pub fallback_id: String,
    /// Where it came from, for logs and dead letters (`topic/partition@offset`, `file:line`).
    pub origin: String,
    /// Tells the source the request is finished.
    pub ack: Ack,
}

/// How a request finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// Its result was acknowledged by the sink.
    Result,
    /// Its error was acknowledged by the dead-letter sink.
    DeadLetter,
}

type AckFn = Box<dyn FnOnce(Done) + Send>;

/// Called once when the request is finished; dropping it unanswered leaves the request
/// to be delivered again.
pub struct Ack(Option<AckFn>);

impl Ack {
    /// An acknowledgement that runs `f`.
    pub fn new(f: impl FnOnce(Done) + Send + 'static) -> Self {
        Ack(Some(Box::new(f)))
    }

    /// An acknowledgement nobody waits for.
    pub fn none() -> Self {
        Ack(None)
    }

    /// The request is finished.
    pub fn done(mut self, how: Done) {
        if let Some(f) = self.0.take() {
            f(how);
        }
    }
}

/// A source failed to start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Kafka client error.
    #[error("kafka source: {0}")]
    Kafka(String),
    /// HTTP poller error.
    #[error("http source: {0}")]
    Http(String),
    /// Directory watcher error.
    #[error("directory source: {0}")]
    Dir(String),
}

/// A running source.
pub enum Source {
    /// The Kafka consumer thread.
    Kafka(kafka::KafkaSource),
    /// The poller or the watcher task.
    Task(tokio::task::JoinHandle<Result<(), SourceError>>),
}

impl Source {
    /// Start reading into `tx` until `stop` is cancelled; the channel closes when the
    /// source has handed over its last request.
    pub fn start(
        config: &PipelineConfig,
        tx: mpsc::Sender<Envelope>,
        stop: CancellationToken,
    ) -> Result<Source, SourceError> {
        match &config.source {
            Endpoint::Kafka { brokers, topic } => Ok(Source::Kafka(kafka::KafkaSource::start(
                brokers,
                topic,
                &config.kafka,
                tx,
                stop,
            )?)),
            Endpoint::Http { url } => {
                let poller = http::Poller::new(url, &config.http, config.retry)?;
                Ok(Source::Task(tokio::spawn(poller.run(tx, stop))))
            }
            Endpoint::Dir { path } => {
                let watcher = dir::Watcher::new(path.clone(), config.dir.clone());
                Ok(Source::Task(tokio::spawn(Arc::new(watcher).run(tx, stop))))
            }
            other => Err(SourceError::Dir(format!("{other} is not a source"))),
        }
    }

    /// After every handed-over request was acknowledged (or the drain deadline
    /// passed): commit what is finished and leave (Kafka), or wait for the task.
    pub async fn finish(self) -> Result<(), SourceError> {
        match self {
            Source::Kafka(k) => k.finish().await,
            Source::Task(t) => t
                .await
                .map_err(|e| SourceError::Dir(format!("source task failed: {e}")))?,
        }
    }
}
