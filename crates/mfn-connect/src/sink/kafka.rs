//! The Kafka sink: an idempotent producer (`enable.idempotence`, so `acks=all` and no
//! duplicates from librdkafka's own retries), results keyed by request id. A delivery
//! resolves when the broker acknowledged the record, or fails after `message.timeout.ms`
//! (30 s unless set). After a failed delivery the producer is replaced and the runner
//! publishes the record again: a broker that lost its producer state (a restart without
//! its logs) answers the old producer id with `UNKNOWN_PRODUCER_ID` for ever, which
//! librdkafka retries without raising a fatal error, so only a new producer gets through.

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

/// How long a record may wait for the broker's acknowledgement before its delivery fails
/// and it is published again by a new producer (librdkafka's default is 5 minutes).
const DELIVERY_TIMEOUT_MS: &str = "30000";

/// A producer to one topic.
pub struct KafkaSink {
    role: Role,
    shared: Arc<Shared>,
}

/// What a pending delivery needs to replace the producer it went through.
struct Shared {
    topic: String,
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
        if config.get("message.timeout.ms").is_none() && config.get("delivery.timeout.ms").is_none()
        {
            config.set("message.timeout.ms", DELIVERY_TIMEOUT_MS);
        }
        let producer = create(&config)?;
        info!(%topic, role = role.as_str(), brokers, "kafka producer ready");
        Ok(KafkaSink {
            role,
            shared: Arc::new(Shared {
                topic: topic.to_owned(),
                config,
                producer: Mutex::new(Arc::new(producer)),
            }),
        })
    }

    fn current(&self) -> Arc<Producer_> {
        self.shared.producer.lock().expect("producer").clone()
    }

    /// Replace the producer if it hit a fatal error.
    fn renew_if_fatal(&self, used: &Arc<Producer_>) {
        if let Some((code, reason)) = used.client().fatal_error() {
            self.shared
                .renew(used, &format!("a fatal error {code:?}: {reason}"));
        }
    }

    /// Enqueue the record; the delivery resolves on the broker's acknowledgement.
    pub async fn publish(&self, record: &Record) -> Result<Delivery, SinkError> {
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
            let fr = FutureRecord::to(&self.shared.topic)
                .key(record.key.as_bytes())
                .payload(&record.body)
                .headers(headers);
            match producer.send_result(fr) {
                Ok(fut) => {
                    let shared = self.shared.clone();
                    return Ok(Delivery::new(async move {
                        let outcome = match fut.await {
                            Ok(Ok(_)) => Ok(()),
                            Ok(Err((e, _))) => {
                                shared.renew(&producer, &format!("a failed delivery ({e})"));
                                Err(SinkError::Kafka(format!("{e} (the producer is replaced)")))
                            }
                            Err(_) => Err(SinkError::Kafka("the producer was dropped".into())),
                        };
                        // The last delivery through a replaced producer destroys it, which
                        // blocks on librdkafka's threads: not on the reactor.
                        if let Ok(last) = Arc::try_unwrap(producer) {
                            tokio::task::spawn_blocking(move || drop(last));
                        }
                        outcome
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

    /// Called by the runner after a failed publish, before publishing again.
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

impl Shared {
    /// Replace `used` by a new producer, unless someone did already: a burst of failed
    /// deliveries through one producer replaces it once.
    fn renew(&self, used: &Arc<Producer_>, why: &str) {
        let mut slot = self.producer.lock().expect("producer");
        if !Arc::ptr_eq(&slot, used) {
            return;
        }
        error!(topic = %self.topic, "kafka producer replaced after {why}");
        match create(&self.config) {
            Ok(p) => *slot = Arc::new(p),
            Err(e) => error!(error = %e, "cannot recreate the kafka producer"),
        }
    }
}

fn create(config: &rdkafka::ClientConfig) -> Result<Producer_, SinkError> {
    config
        .create_with_context(ProducerCtx)
        .map_err(|e| SinkError::Kafka(format!("cannot create the producer: {e}")))
}
