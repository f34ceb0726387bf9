//! The Kafka source: one consumer in a consumer group, on a thread of its own.
//!
//! Kafka's group protocol is the cluster membership: start more workers with the same
//! `group` and the partitions spread over them; kill one and its partitions move to
//! the others after `session.timeout.ms`. Offsets are committed by hand, and only up
//! to the first request whose result is not yet acknowledged (per partition, requests
//! finish out of order; the committed offset is the lowest unfinished one). So:
//!
//! - a crash re-delivers exactly what was not acknowledged (at least once);
//! - before giving up partitions in a rebalance, the worker waits (bounded) for the
//!   requests of those partitions to finish and commits them, so a rebalance does not
//!   duplicate work;
//! - backpressure pauses the partitions while the runner's channel is full, and keeps
//!   polling, so heartbeats and rebalances are served during a long computation;
//! - on drain it stops fetching, waits for the runner, commits and closes the
//!   consumer, which leaves the group at once (no session timeout for the others).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaResult;
use rdkafka::message::Message;
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use super::{Ack, Envelope, SourceError};
use crate::config::KafkaSettings;

/// librdkafka properties the pipeline sets itself; its guarantee depends on them.
pub const RESERVED: &[&str] = &[
    "bootstrap.servers",
    "group.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "enable.idempotence",
    "acks",
    "enable.partition.eof",
];

/// The longest a revocation waits for the revoked partitions' requests.
const REVOKE_WAIT: Duration = Duration::from_secs(30);
/// Poll timeout of the consumer thread.
const POLL: Duration = Duration::from_millis(50);

/// Client settings shared by the consumer and the producers.
pub(crate) fn client_config(settings: &KafkaSettings, brokers: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    for (k, v) in &settings.properties {
        c.set(k, v);
    }
    c.set("bootstrap.servers", brokers)
        .set("client.id", &settings.client_id)
        .set("security.protocol", &settings.security_protocol);
    if let Some((mechanism, user, password)) = &settings.sasl {
        c.set("sasl.mechanism", mechanism)
            .set("sasl.username", user)
            .set("sasl.password", password);
    }
    let paths = [
        ("ssl.ca.location", &settings.ssl_ca_location),
        (
            "ssl.certificate.location",
            &settings.ssl_certificate_location,
        ),
        ("ssl.key.location", &settings.ssl_key_location),
    ];
    for (k, v) in paths {
        if let Some(p) = v {
            c.set(k, p.display().to_string());
        }
    }
    if let Some(pw) = &settings.ssl_key_password {
        c.set("ssl.key.password", pw);
    }
    // Warnings and errors only, unless `debug` contexts were asked for: librdkafka
    // writes those at debug level, and a warning threshold would drop every line.
    c.set_log_level(if settings.properties.contains_key("debug") {
        RDKafkaLogLevel::Debug
    } else {
        RDKafkaLogLevel::Warning
    });
    c
}

/// Refuse, before connecting, a security setting this librdkafka was built without.
pub(crate) fn check_build_supports(settings: &KafkaSettings) -> Result<(), String> {
    let needs_ssl = settings.security_protocol.ends_with("ssl");
    let needs_scram = settings
        .sasl
        .as_ref()
        .is_some_and(|(m, _, _)| m.starts_with("SCRAM"));
    if !needs_ssl && !needs_scram {
        return Ok(());
    }
    let features = ClientConfig::new()
        .create_native_config()
        .and_then(|c| c.get("builtin.features"))
        .unwrap_or_default();
    let has = |f: &str| features.split(',').any(|x| x == f);
    if needs_ssl && !has("ssl") {
        return Err(format!(
            "{} needs TLS, and this build's librdkafka has none (built-in: {features}); build mfn with `--features mfn-connect/kafka-ssl` (needs libssl-dev)",
            settings.security_protocol
        ));
    }
    if needs_scram && !has("sasl_scram") {
        return Err(format!(
            "SCRAM needs OpenSSL, and this build's librdkafka has none (built-in: {features}); build mfn with `--features mfn-connect/kafka-ssl`"
        ));
    }
    Ok(())
}

/// Route librdkafka's log lines and errors into `tracing`.
pub(crate) fn log_librdkafka(level: RDKafkaLogLevel, fac: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => error!(facility = fac, "librdkafka: {message}"),
        RDKafkaLogLevel::Warning => warn!(facility = fac, "librdkafka: {message}"),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            info!(facility = fac, "librdkafka: {message}")
        }
        RDKafkaLogLevel::Debug => debug!(facility = fac, "librdkafka: {message}"),
    }
}

/// Per-partition progress: which received offsets are not finished yet.
#[derive(Debug, Default)]
struct Tracker {
    parts: HashMap<(String, i32), Part>,
    epochs: u64,
}

#[derive(Debug)]
struct Part {
    /// Bumped on every assignment, so a late acknowledgement of a previous owner
    /// period cannot move the offset of the new one.
    epoch: u64,
    pending: BTreeSet<i64>,
    /// One past the highest offset received.
    next: Option<i64>,
    committed: Option<i64>,
}

impl Tracker {
    fn assign(&mut self, topic: &str, partition: i32) {
        self.epochs += 1;
        self.parts.insert(
            (topic.to_owned(), partition),
            Part {
                epoch: self.epochs,
                pending: BTreeSet::new(),
                next: None,
                committed: None,
            },
        );
    }

    fn revoke(&mut self, topic: &str, partition: i32) {
        self.parts.remove(&(topic.to_owned(), partition));
    }

    /// Register a received offset; `None` when the partition is not ours.
    fn received(&mut self, topic: &str, partition: i32, offset: i64) -> Option<u64> {
        let part = self.parts.get_mut(&(topic.to_owned(), partition))?;
        part.pending.insert(offset);
        part.next = Some(part.next.map_or(offset + 1, |n| n.max(offset + 1)));
        Some(part.epoch)
    }

    fn done(&mut self, topic: &str, partition: i32, epoch: u64, offset: i64) {
        if let Some(part) = self.parts.get_mut(&(topic.to_owned(), partition))
            && part.epoch == epoch
        {
            part.pending.remove(&offset);
        }
    }

    fn pending(&self, which: &[(String, i32)]) -> usize {
        which
            .iter()
            .filter_map(|k| self.parts.get(k))
            .map(|p| p.pending.len())
            .sum()
    }

    /// Offsets to commit (the next offset to read) that moved since the last commit.
    fn committable(&self, only: Option<&[(String, i32)]>) -> Vec<(String, i32, i64)> {
        self.parts
            .iter()
            .filter(|(k, _)| only.is_none_or(|o| o.contains(k)))
            .filter_map(|((topic, partition), p)| {
                let upto = p.pending.first().copied().or(p.next)?;
                (p.committed != Some(upto)).then(|| (topic.clone(), *partition, upto))
            })
            .collect()
    }

    fn committed(&mut self, offsets: &[(String, i32, i64)]) {
        for (topic, partition, offset) in offsets {
            if let Some(p) = self.parts.get_mut(&(topic.clone(), *partition)) {
                p.committed = Some(*offset);
            }
        }
    }
}

struct Ctx {
    tracker: Arc<Mutex<Tracker>>,
    assignment_changed: AtomicBool,
    /// Set while the consumer closes: revocation then waits for nothing.
    closing: AtomicBool,
}

impl ClientContext for Ctx {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        log_librdkafka(level, fac, message);
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        warn!(error = %error, "kafka consumer: {reason}");
    }

    fn stats(&self, stats: Statistics) {
        for (topic, t) in &stats.topics {
            for (partition, p) in &t.partitions {
                if *partition >= 0 && p.consumer_lag >= 0 {
                    metrics::gauge!("mfn_pipeline_lag", "topic" => topic.clone(), "partition" => partition.to_string())
                        .set(p.consumer_lag as f64);
                }
            }
        }
    }
}

fn elements(tpl: &TopicPartitionList) -> Vec<(String, i32)> {
    tpl.elements()
        .iter()
        .map(|e| (e.topic().to_owned(), e.partition()))
        .collect()
}

fn commit(
    consumer: &BaseConsumer<Ctx>,
    tracker: &Mutex<Tracker>,
    only: Option<&[(String, i32)]>,
    mode: CommitMode,
) {
    let offsets = tracker.lock().expect("tracker").committable(only);
    if offsets.is_empty() {
        return;
    }
    let mut tpl = TopicPartitionList::new();
    for (topic, partition, offset) in &offsets {
        if let Err(e) = tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset)) {
            warn!(error = %e, topic, partition, "cannot build the commit");
            return;
        }
    }
    match consumer.commit(&tpl, mode) {
        Ok(()) => {
            tracker.lock().expect("tracker").committed(&offsets);
            debug!(?offsets, "offsets committed");
        }
        // The next period or the revocation commits again.
        Err(e) => warn!(error = %e, "offset commit failed; retried at the next commit"),
    }
}

impl ConsumerContext for Ctx {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(tpl) => {
                let parts = elements(tpl);
                let started = Instant::now();
                if !self.closing.load(Ordering::Relaxed) {
                    while self.tracker.lock().expect("tracker").pending(&parts) > 0
                        && started.elapsed() < REVOKE_WAIT
                    {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
                let unfinished = self.tracker.lock().expect("tracker").pending(&parts);
                commit(consumer, &self.tracker, Some(&parts), CommitMode::Sync);
                let mut t = self.tracker.lock().expect("tracker");
                for (topic, partition) in &parts {
                    t.revoke(topic, *partition);
                }
                info!(
                    partitions = ?parts,
                    waited_ms = started.elapsed().as_millis() as u64,
                    unfinished,
                    "partitions revoked; finished requests committed"
                );
            }
            Rebalance::Assign(_) => {}
            Rebalance::Error(e) => warn!(error = %e, "rebalance error"),
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            let parts = elements(tpl);
            let mut t = self.tracker.lock().expect("tracker");
            for (topic, partition) in &parts {
                t.assign(topic, *partition);
            }
            self.assignment_changed.store(true, Ordering::Relaxed);
            info!(partitions = ?parts, "partitions assigned");
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        if let Err(e) = result {
            warn!(error = %e, "offset commit failed");
        }
    }
}

/// The running consumer thread.
pub struct KafkaSource {
    thread: JoinHandle<()>,
    finish: std::sync::mpsc::Sender<()>,
}

impl KafkaSource {
    /// Create the consumer, subscribe to `topic` and start the thread.
    pub fn start(
        brokers: &str,
        topic: &str,
        settings: &KafkaSettings,
        tx: mpsc::Sender<Envelope>,
        stop: CancellationToken,
    ) -> Result<Self, SourceError> {
        let mut config = client_config(settings, brokers);
        config
            .set("group.id", &settings.group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            .set("auto.offset.reset", &settings.auto_offset_reset)
            .set(
                "session.timeout.ms",
                settings.session_timeout_ms.to_string(),
            )
            .set(
                "heartbeat.interval.ms",
                settings.heartbeat_interval_ms.to_string(),
            );
        if config.get("statistics.interval.ms").is_none() {
            config.set("statistics.interval.ms", "5000");
        }
        let tracker = Arc::new(Mutex::new(Tracker::default()));
        let ctx = Ctx {
            tracker: tracker.clone(),
            assignment_changed: AtomicBool::new(false),
            closing: AtomicBool::new(false),
        };
        let consumer: BaseConsumer<Ctx> = config
            .create_with_context(ctx)
            .map_err(|e| SourceError::Kafka(format!("cannot create the consumer: {e}")))?;
        consumer
            .subscribe(&[topic])
            .map_err(|e| SourceError::Kafka(format!("cannot subscribe to {topic}: {e}")))?;
        info!(%topic, group = %settings.group, brokers, "kafka consumer subscribed");
        let (finish, finish_rx) = std::sync::mpsc::channel();
        let commit_interval = settings.commit_interval;
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| SourceError::Kafka("the Kafka source needs a tokio runtime".into()))?;
        let thread = std::thread::Builder::new()
            .name("mfn-kafka-consumer".into())
            .spawn(move || {
                consumer_loop(
                    consumer,
                    tracker,
                    tx,
                    stop,
                    finish_rx,
                    commit_interval,
                    runtime,
                )
            })
            .map_err(|e| SourceError::Kafka(format!("cannot start the consumer thread: {e}")))?;
        Ok(KafkaSource { thread, finish })
    }

    /// Commit what is finished and close the consumer (leaving the group).
    pub async fn finish(self) -> Result<(), SourceError> {
        let _ = self.finish.send(());
        let thread = self.thread;
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .map_err(|e| SourceError::Kafka(e.to_string()))?
            .map_err(|_| SourceError::Kafka("the consumer thread panicked".into()))
    }
}

fn set_paused(consumer: &BaseConsumer<Ctx>, paused: bool) {
    let Ok(assignment) = consumer.assignment() else {
        return;
    };
    if assignment.count() == 0 {
        return;
    }
    let r = if paused {
        consumer.pause(&assignment)
    } else {
        consumer.resume(&assignment)
    };
    if let Err(e) = r {
        warn!(error = %e, paused, "cannot pause/resume the partitions");
    }
}

fn envelope(
    m: &rdkafka::message::BorrowedMessage<'_>,
    tracker: &Arc<Mutex<Tracker>>,
    epoch: u64,
) -> Envelope {
    let (topic, partition, offset) = (m.topic().to_owned(), m.partition(), m.offset());
    let tracker = tracker.clone();
    let origin = format!("{topic}/{partition}@{offset}");
    let fallback_id = format!("{topic}-{partition}-{offset}");
    Envelope {
        payload: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
        fallback_id,
        origin,
        ack: Ack::new(move |_| {
            tracker
                .lock()
                .expect("tracker")
                .done(&topic, partition, epoch, offset)
        }),
    }
}

fn consumer_loop(
    consumer: BaseConsumer<Ctx>,
    tracker: Arc<Mutex<Tracker>>,
    tx: mpsc::Sender<Envelope>,
    stop: CancellationToken,
    finish: std::sync::mpsc::Receiver<()>,
    commit_interval: Duration,
    runtime: tokio::runtime::Handle,
) {
    let mut tx = Some(tx);
    let mut held: VecDeque<Envelope> = VecDeque::new();
    let mut paused = false;
    let mut last_commit = Instant::now();
    while let Err(std::sync::mpsc::TryRecvError::Empty) = finish.try_recv() {
        if stop.is_cancelled()
            && let Some(sender) = tx.take()
        {
            // Stop fetching; hand over what was received (the runner is draining, so
            // the channel empties), then close the channel.
            set_paused(&consumer, true);
            paused = true;
            for env in held.drain(..) {
                let _ = sender.blocking_send(env);
            }
            info!("kafka source stopped fetching; draining");
        }
        if consumer
            .context()
            .assignment_changed
            .swap(false, Ordering::Relaxed)
            && paused
        {
            set_paused(&consumer, true);
        }
        if let Some(sender) = &tx {
            if !held.is_empty() {
                // Wait (briefly: callbacks must be served) for room in the channel.
                let room =
                    runtime.block_on(async { tokio::time::timeout(POLL, sender.reserve()).await });
                if let Ok(Ok(permit)) = room {
                    permit.send(held.pop_front().expect("held is not empty"));
                }
                while let Some(env) = held.pop_front() {
                    match sender.try_send(env) {
                        Ok(()) => {}
                        Err(mpsc::error::TrySendError::Full(env)) => {
                            held.push_front(env);
                            break;
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => break,
                    }
                }
            }
            // Backpressure with hysteresis: pause once a channel's worth is waiting,
            // resume when all of it was handed over.
            if !paused && held.len() >= sender.max_capacity() {
                set_paused(&consumer, true);
                paused = true;
            } else if paused && held.is_empty() {
                set_paused(&consumer, false);
                paused = false;
            }
        }
        let wait = if held.is_empty() {
            POLL
        } else {
            Duration::ZERO
        };
        match consumer.poll(wait) {
            None => {}
            Some(Err(e)) => warn!(error = %e, "kafka consumer error; librdkafka retries"),
            // Not registered while draining (or when the partition is not ours any
            // more): it stays uncommitted and is delivered again.
            Some(Ok(m)) if tx.is_some() => {
                let epoch =
                    tracker
                        .lock()
                        .expect("tracker")
                        .received(m.topic(), m.partition(), m.offset());
                if let Some(epoch) = epoch {
                    held.push_back(envelope(&m, &tracker, epoch));
                }
            }
            Some(Ok(_)) => {}
        }
        if last_commit.elapsed() >= commit_interval {
            commit(&consumer, &tracker, None, CommitMode::Async);
            last_commit = Instant::now();
        }
    }
    drop(tx);
    commit(&consumer, &tracker, None, CommitMode::Sync);
    consumer.context().closing.store(true, Ordering::Relaxed);
    let assigned = consumer.assignment().map(|a| a.count()).unwrap_or(0);
    drop(consumer); // closes: revokes (committing again) and leaves the group
    info!(
        partitions = assigned,
        "kafka consumer closed and left the group"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_stop_at_the_first_unfinished_offset() {
        let mut t = Tracker::default();
        t.assign("t", 0);
        let e = t.received("t", 0, 10).unwrap();
        for o in 11..15 {
            assert_eq!(t.received("t", 0, o), Some(e));
        }
        assert_eq!(t.committable(None), vec![("t".into(), 0, 10)]);
        t.committed(&[("t".into(), 0, 10)]);
        assert!(t.committable(None).is_empty(), "nothing moved");
        t.done("t", 0, e, 12);
        t.done("t", 0, e, 11);
        assert!(t.committable(None).is_empty(), "10 is still unfinished");
        t.done("t", 0, e, 10);
        assert_eq!(t.committable(None), vec![("t".into(), 0, 13)]);
        t.done("t", 0, e, 14);
        t.done("t", 0, e, 13);
        assert_eq!(t.committable(None), vec![("t".into(), 0, 15)]);
        assert_eq!(t.pending(&[("t".into(), 0)]), 0);
    }

    #[test]
    fn a_stale_acknowledgement_does_not_move_a_new_assignment() {
        let mut t = Tracker::default();
        t.assign("t", 1);
        let old = t.received("t", 1, 5).unwrap();
        t.revoke("t", 1);
        assert_eq!(t.received("t", 1, 6), None, "not ours");
        t.assign("t", 1);
        let new = t.received("t", 1, 5).unwrap();
        assert_ne!(old, new);
        t.done("t", 1, old, 5);
        assert_eq!(t.pending(&[("t".into(), 1)]), 1);
        assert_eq!(t.committable(None), vec![("t".into(), 1, 5)]);
    }

    #[test]
    fn reserved_properties_and_plain_builds() {
        let s = KafkaSettings {
            group: "g".into(),
            client_id: "c".into(),
            security_protocol: "sasl_plaintext".into(),
            sasl: Some(("PLAIN".into(), "u".into(), "p".into())),
            ssl_ca_location: None,
            ssl_certificate_location: None,
            ssl_key_location: None,
            ssl_key_password: None,
            session_timeout_ms: 6000,
            heartbeat_interval_ms: 1000,
            commit_interval: Duration::from_secs(1),
            auto_offset_reset: "earliest".into(),
            properties: [("linger.ms".to_owned(), "1".to_owned())].into(),
        };
        assert!(check_build_supports(&s).is_ok());
        let c = client_config(&s, "h:1");
        assert_eq!(c.get("sasl.mechanism"), Some("PLAIN"));
        assert_eq!(c.get("linger.ms"), Some("1"));
        assert!(matches!(c.log_level, RDKafkaLogLevel::Warning));
        let mut debugging = s.clone();
        debugging.properties.insert("debug".into(), "cgrp".into());
        assert!(
            matches!(
                client_config(&debugging, "h:1").log_level,
                RDKafkaLogLevel::Debug
            ),
            "asked-for debug lines are not filtered out"
        );
        // librdkafka itself accepts the SASL/PLAIN settings (no connection is made).
        assert!(c.create_native_config().is_ok());
        let tls = KafkaSettings {
            security_protocol: "ssl".into(),
            sasl: None,
            ..s
        };
        if !cfg!(feature = "kafka-ssl") {
            let e = check_build_supports(&tls).unwrap_err();
            assert!(e.contains("kafka-ssl"), "{e}");
        }
    }
}
