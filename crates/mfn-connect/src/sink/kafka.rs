//! The Kafka sink: an idempotent producer (`enable.idempotence`, so `acks=all` and no
//! duplicates from librdkafka's own retries), results keyed by request id. A delivery
//! resolves when the broker acknowledged the record. A producer that hit a fatal error
//! (the broker lost its producer state, e.g. after a restart) is replaced, and the
//! runner publishes the record again.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use tracing::{error, info, warn};

use super::{Delivery, Record, Role, SinkError};
use crate::config::KafkaSettings;
use crate::source::kafka::{client_config, log_librdkafka};

/// Routes librdkafka's logs into `tracing`.
pub struct ProducerCtx;

impl ClientContext for ProducerCtx {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        log_librdkafka(level, fac, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        warn!(error = %error, "kafka producer: {reason}");
    }
}

type Producer_ = FutureProducer<ProducerCtx>;

/// A producer to one topic.
pub struct KafkaSink {
    topic: String,
    role: Role,
    config: rdkafka::ClientConfig,
    producer: Mutex<Arc<Producer_>>,
}

impl KafkaSink {
    /// Create the producer (it connects lazily).
    pub fn new(
        brokers: &str,
        topic: &str,
        settings: &KafkaSettings,
        role: Role,
    ) -> Result<Self, SinkError> {
        let mut config = client_config(settings, brokers);
        config.set("enable.idempotence", "true").set("acks", "all");
        if config.get("linger.ms").is_none() {
            config.set("linger.ms", "2");
        }
        let producer = create(&config)?;
        info!(%topic, role = role.as_str(), brokers, "kafka producer ready");
        Ok(KafkaSink {
            topic: topic.to_owned(),
            role,
            config,
            producer: Mutex::new(Arc::new(producer)),
        })
    }

    fn current(&self) -> Arc<Producer_> {
        self.producer.lock().expect("producer").clone()
    }

    /// Replace the producer if it hit a fatal error.
    fn renew_if_fatal(&self, used: &Arc<Producer_>) {
        let Some((code, reason)) = used.client().fatal_error() else {
            return;
        };
        let mut slot = self.producer.lock().expect("producer");
        if !Arc::ptr_eq(&slot, used) {
            return; // someone renewed it already
        }
        error!(?code, %reason, topic = %self.topic, "kafka producer hit a fatal error; creating a new one");
        match create(&self.config) {
            Ok(p) => *slot = Arc::new(p),
            Err(e) => error!(error = %e, "cannot recreate the kafka producer"),
        }
    }

    /// Enqueue the record; the delivery resolves on the broker's acknowledgement.
    pub async fn publish(&self, record: Record) -> Result<Delivery, SinkError> {
        loop {
            let producer = self.current();
            let mut headers = OwnedHeaders::new()
                .insert(Header {
                    key: "content-type",
                    value: Some("application/json"),
                })
                .insert(Header {
                    key: "mfn-kind",
                    value: Some(self.role.as_str()),
                });
            if !record.operation.is_empty() {
                headers = headers.insert(Header {
                    key: "operation",
                    value: Some(record.operation.as_str()),
                });
            }
            if let Some(code) = record.error_code {
                headers = headers.insert(Header {
                    key: "error_code",
                    value: Some(code),
                });
            }
            let fr = FutureRecord::to(&self.topic)
                .key(record.key.as_bytes())
                .payload(&record.body)
                .headers(headers);
            match producer.send_result(fr) {
                Ok(fut) => {
                    let sink_producer = producer.clone();
                    return Ok(Delivery::new(async move {
                        match fut.await {
                            Ok(Ok(_)) => Ok(()),
                            Ok(Err((e, _))) => {
                                let fatal = sink_producer.client().fatal_error().is_some();
                                Err(SinkError::Kafka(if fatal {
                                    format!("{e} (fatal; the producer is replaced)")
                                } else {
                                    e.to_string()
                                }))
                            }
                            Err(_) => Err(SinkError::Kafka("the producer was dropped".into())),
                        }
                    }));
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((e, _)) => {
                    self.renew_if_fatal(&producer);
                    return Err(SinkError::Kafka(e.to_string()));
                }
            }
        }
    }

    /// Called by the runner after a failed delivery, before publishing again.
    pub fn after_failure(&self) {
        let used = self.current();
        self.renew_if_fatal(&used);
    }

    /// Wait until the producer's queue is delivered.
    pub async fn flush(&self) {
        let producer = self.current();
        let _ = tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(30))).await;
    }
}

fn create(config: &rdkafka::ClientConfig) -> Result<Producer_, SinkError> {
    config
        .create_with_context(ProducerCtx)
        .map_err(|e| SinkError::Kafka(format!("cannot create the producer: {e}")))
}
