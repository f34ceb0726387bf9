//! One WebSocket connection: a reader loop (this task) and a writer task joined by the
//! [`Outbox`], and one forwarder task per subscription.
//!
//! ```text
//! client ──► reader loop ── init/auth/subscribe/unsubscribe/heartbeat/close
//!               │  spawns, aborts
//!               ▼
//!          forwarder per stream ◄── FrameStream (service layer, compute gate)
//!               │ push (drop policy)
//!               ▼
//!            Outbox ──► writer task ──► client
//! ```
//!
//! Ending a subscription (unsubscribe, close, disconnect, the session ending for any
//! reason) aborts its forwarder, which drops the `FrameStream`, which cancels the
//! computation. The session ends when the client closes or goes away, after
//! `idle_timeout` without a client message, when a write blocks for `idle_timeout` or
//! control messages pile up (a stalled client), after too many failed `auth`
//! messages, or when the server drains (each stream first ends with an `error` of
//! code `UNAVAILABLE`).

use std::collections::HashMap;
use std::fmt::Display;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::{Sink, SinkExt, Stream, StreamExt};
use mfn_service::request::{StreamFeaturesRequest, StreamSimulationRequest};
use mfn_service::response::{FeatureFrameResponse, SimFrameResponse};
use mfn_service::{ErrorCode, FeatureFrame, FrameStream, RequestContext, ServiceError, SimFrame};
use serde_json::{Map, Value, json};
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;
use tracing::debug;

use super::WsState;
use super::outbox::{Entry, Kind, Outbox, Overflow};
use super::protocol::{self, ClientMessage, Endpoint, FieldFormat, Incoming, Outgoing};
use crate::config::AuthMode;
use crate::security::Caller;
use crate::security::auth::Credentials;
use crate::security::rate_limit::CallPermit;

/// One connection's state; [`Session::run`] drives it.
pub struct Session {
    endpoint: Endpoint,
    state: WsState,
    peer: Option<IpAddr>,
    caller: Option<Caller>,
    auth_failures: u32,
    /// No client message yet: a reference client's opening `init` is answered by the
    /// greeting already sent.
    first_message: bool,
    outbox: Arc<Outbox>,
    streams: HashMap<String, AbortHandle>,
    tasks: JoinSet<()>,
    task_streams: HashMap<tokio::task::Id, String>,
    draining: bool,
}

/// Why a session ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The socket closed or failed.
    Gone,
    /// The client sent `close`.
    ClientClose,
    /// No client message for `idle_timeout`.
    Idle,
    /// A write blocked too long, or control messages piled up.
    Stalled,
    /// Too many failed `auth` messages.
    AuthAttempts,
    /// A message over `MFN_WS_MAX_MESSAGE_KB`.
    TooLarge,
    /// The server is shutting down.
    Draining,
}

enum Event {
    Message(Option<Incoming>),
    Heartbeat,
    Idle,
    Drain,
    StreamEnded(tokio::task::Id),
    WriterDone,
}

/// Keeps a gauge right on every exit path.
struct Gauge(&'static str);

impl Gauge {
    fn new(name: &'static str) -> Gauge {
        metrics::gauge!(name).increment(1.0);
        Gauge(name)
    }
}

impl Drop for Gauge {
    fn drop(&mut self) {
        metrics::gauge!(self.0).decrement(1.0);
    }
}

impl Session {
    /// A session on `endpoint`; `caller` is set when the upgrade carried valid credentials.
    pub fn new(
        endpoint: Endpoint,
        state: WsState,
        peer: Option<IpAddr>,
        caller: Option<Caller>,
    ) -> Session {
        let outbox = Arc::new(Outbox::new(
            state.config.queue_capacity,
            state.config.queue_bytes,
            endpoint.label(),
        ));
        Session {
            endpoint,
            state,
            peer,
            caller,
            auth_failures: 0,
            first_message: true,
            outbox,
            streams: HashMap::new(),
            tasks: JoinSet::new(),
            task_streams: HashMap::new(),
            draining: false,
        }
    }

    /// Serve the connection until it ends; every stream is stopped on return.
    pub async fn run<Si, St, E>(mut self, sink: Si, mut incoming: St)
    where
        Si: Sink<Outgoing> + Unpin + Send + 'static,
        St: Stream<Item = Result<Incoming, E>> + Unpin,
        E: Display,
    {
        let _connection = Gauge::new("mfn_ws_connections");
        let cfg = self.state.config.clone();
        let mut writer = tokio::spawn(write_loop(
            sink,
            self.outbox.clone(),
            self.endpoint,
            cfg.idle_timeout,
        ));
        let svc = self.state.svc.clone();
        let drained = svc.drained();
        tokio::pin!(drained);
        let mut heartbeat = tokio::time::interval_at(
            Instant::now() + cfg.heartbeat_interval,
            cfg.heartbeat_interval,
        );
        let mut deadline = Instant::now() + cfg.idle_timeout;

        let end = 'session: {
            if self.control("init", self.init_payload()).is_err() {
                break 'session End::Stalled;
            }
            loop {
                let event = tokio::select! {
                    m = incoming.next() => Event::Message(match m {
                        Some(Ok(m)) => Some(m),
                        Some(Err(e)) => {
                            debug!(error = %e, "websocket read failed");
                            None
                        }
                        None => None,
                    }),
                    _ = heartbeat.tick() => Event::Heartbeat,
                    () = tokio::time::sleep_until(deadline) => Event::Idle,
                    () = &mut drained, if !self.draining => Event::Drain,
                    Some(done) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => {
                        Event::StreamEnded(match done {
                            Ok((id, ())) => id,
                            Err(e) => e.id(),
                        })
                    }
                    _ = &mut writer => Event::WriterDone,
                };
                let outcome = match event {
                    Event::Message(None) => Err(End::Gone),
                    Event::Message(Some(m)) => {
                        deadline = Instant::now() + cfg.idle_timeout;
                        self.on_message(m)
                    }
                    Event::Heartbeat => self
                        .control("heartbeat", json!({ "timestamp_ms": unix_ms() }))
                        .map_err(|Overflow| End::Stalled),
                    Event::Idle => Err(End::Idle),
                    Event::Drain => {
                        // Streams end by themselves with UNAVAILABLE after their frame.
                        self.draining = true;
                        Ok(())
                    }
                    Event::StreamEnded(id) => {
                        if let Some(stream) = self.task_streams.remove(&id) {
                            self.streams.remove(&stream);
                        }
                        Ok(())
                    }
                    Event::WriterDone => break 'session End::Stalled,
                };
                if let Err(end) = outcome {
                    break 'session end;
                }
                if self.draining && self.streams.is_empty() {
                    break 'session End::Draining;
                }
            }
        };

        // Stop every computation before anything else.
        self.tasks.shutdown().await;
        let (code, reason) = match end {
            End::Gone | End::ClientClose => (1000, "closed".to_string()),
            End::Idle => (
                1008,
                format!(
                    "idle timeout: no message for {} ms",
                    cfg.idle_timeout.as_millis()
                ),
            ),
            End::Stalled => (1008, "client is not reading: send queue full".into()),
            End::AuthAttempts => (1008, "too many failed auth attempts".into()),
            End::TooLarge => (1009, too_large(cfg.max_message_bytes).message),
            End::Draining => (1001, "server is shutting down".into()),
        };
        debug!(
            endpoint = self.endpoint.label(),
            ?end,
            "websocket session ends"
        );
        if !matches!(end, End::Gone | End::Stalled) {
            let _ = self.control("close", json!({ "code": code, "reason": reason }));
        }
        self.outbox.close_with(code, &reason);
        if !writer.is_finished() {
            let grace = cfg.idle_timeout.min(Duration::from_secs(5));
            if tokio::time::timeout(grace, &mut writer).await.is_err() {
                writer.abort();
            }
        }
    }

    fn init_payload(&self) -> Value {
        let cfg = &self.state.config;
        let mode = self.state.auth.mode();
        json!({
            "protocol_version": "1.0",
            "endpoint": self.endpoint.label(),
            "server_version": mfn_service::SERVER_VERSION,
            "auth_mode": auth_mode_str(mode),
            "auth_required": mode != AuthMode::Off,
            "authenticated": self.caller.is_some(),
            "max_streams": cfg.max_streams,
            "queue_capacity": cfg.queue_capacity,
            "heartbeat_interval_ms": cfg.heartbeat_interval.as_millis() as u64,
            "idle_timeout_ms": cfg.idle_timeout.as_millis() as u64,
            "max_message_bytes": cfg.max_message_bytes,
            "json_field_max_side": cfg.json_field_max_side,
            "frame_type": self.endpoint.frame_type(),
        })
    }

    fn control(&self, kind: &'static str, payload: Value) -> Result<(), Overflow> {
        self.outbox
            .push(Entry::control(kind, protocol::message(kind, payload)))
    }

    fn on_message(&mut self, m: Incoming) -> Result<(), End> {
        let stalled = |Overflow| End::Stalled;
        let msg = match m {
            Incoming::Alive => return Ok(()),
            Incoming::Close => return Err(End::Gone),
            Incoming::TooLarge => {
                let e = too_large(self.state.config.max_message_bytes);
                let _ = self.control("error", protocol::error_payload(None, &e));
                return Err(End::TooLarge);
            }
            Incoming::Binary(_) => Err(ServiceError::invalid(
                "type",
                "binary messages are not part of the protocol: send json text",
            )),
            Incoming::Text(text) => protocol::parse(&text),
        };
        let first = std::mem::replace(&mut self.first_message, false);
        match msg {
            // The greeting is the answer to an opening init; a later one gets its own.
            Ok(ClientMessage::Init) if first => Ok(()),
            Ok(ClientMessage::Init) => self.control("init", self.init_payload()).map_err(stalled),
            Err(e) => self
                .control("error", protocol::error_payload(None, &e))
                .map_err(stalled),
            Ok(ClientMessage::Auth(payload)) => self.on_auth(&payload),
            Ok(ClientMessage::Subscribe(payload)) => self.on_subscribe(payload).map_err(stalled),
            Ok(ClientMessage::Unsubscribe(id)) => self.on_unsubscribe(&id).map_err(stalled),
            Ok(ClientMessage::Heartbeat(echo)) => self
                .control("pong", json!({ "timestamp_ms": unix_ms(), "echo": echo }))
                .map_err(stalled),
            Ok(ClientMessage::Pong) => Ok(()),
            Ok(ClientMessage::Close) => Err(End::ClientClose),
        }
    }

    fn on_auth(&mut self, payload: &Map<String, Value>) -> Result<(), End> {
        let mode = self.state.auth.mode();
        if mode == AuthMode::Off {
            return self
                .control(
                    "auth_success",
                    json!({ "authenticated": false, "auth_mode": "off",
                            "message": "authentication is off on this server" }),
                )
                .map_err(|Overflow| End::Stalled);
        }
        if let Err(e) = self.state.auth.check_peer(self.peer) {
            let mut p = protocol::error_payload(None, &e);
            p["reason"] = json!("throttled");
            self.control("auth_failed", p)
                .map_err(|Overflow| End::Stalled)?;
            return Err(End::AuthAttempts);
        }
        // Numbers are accepted for the timestamp; everything is checked as text.
        let text = |k: &str| match payload.get(k) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        if payload.contains_key("timestamp") && !payload.contains_key("request_id") {
            // The Python reference's form: {api_key, timestamp (s or ms), signature?}.
            let key = text("api_key");
            let sig = text("signature");
            let verified = self.state.auth.verify_reference(
                key.as_deref(),
                payload.get("timestamp"),
                sig.as_deref(),
                self.endpoint.path(),
            );
            return self.auth_outcome(mode, verified);
        }
        let (key, ts, id, sig) = (
            text("api_key"),
            text("timestamp"),
            text("request_id"),
            text("signature"),
        );
        let credentials = Credentials {
            api_key: key.as_deref(),
            timestamp: ts.as_deref(),
            request_id: id.as_deref(),
            signature: sig.as_deref(),
        };
        let verified = self.state.auth.verify(&credentials, self.endpoint.path());
        self.auth_outcome(mode, verified)
    }

    fn auth_outcome(
        &mut self,
        mode: AuthMode,
        verified: Result<Option<Caller>, crate::security::auth::AuthFailure>,
    ) -> Result<(), End> {
        match verified {
            Ok(caller) => {
                let hash = caller.as_ref().map(|c| c.key.hash_prefix());
                self.caller = caller;
                self.control(
                    "auth_success",
                    json!({ "authenticated": true, "auth_mode": auth_mode_str(mode),
                            "api_key_hash": hash }),
                )
                .map_err(|Overflow| End::Stalled)
            }
            Err(failure) => {
                self.auth_failures += 1;
                self.state.auth.note_failure(self.peer);
                let mut p = protocol::error_payload(None, &failure.error());
                p["reason"] = json!(failure.reason());
                self.control("auth_failed", p)
                    .map_err(|Overflow| End::Stalled)?;
                if self.auth_failures >= self.state.config.max_auth_attempts {
                    return Err(End::AuthAttempts);
                }
                Ok(())
            }
        }
    }

    fn on_subscribe(&mut self, mut payload: Map<String, Value>) -> Result<(), Overflow> {
        let id = payload
            .get("stream_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        match self.subscribe(&mut payload) {
            Ok(()) => Ok(()),
            Err(e) => {
                let mut p = protocol::error_payload(None, &e);
                p["stream_id"] = json!(id);
                self.control("subscribe_failed", p)
            }
        }
    }

    /// Start a stream and queue `subscribe_success`, or say why not.
    fn subscribe(&mut self, payload: &mut Map<String, Value>) -> Result<(), ServiceError> {
        let cfg = &self.state.config;
        if self.draining || self.state.svc.is_draining() {
            return Err(ServiceError::draining());
        }
        if self.state.auth.mode() != AuthMode::Off && self.caller.is_none() {
            return Err(ServiceError::new(
                ErrorCode::Unauthenticated,
                "authenticate first: send an auth message with api_key (and in signed mode timestamp, request_id, signature)",
            ));
        }
        let reference = protocol::reference_form(payload, self.endpoint)?;
        let id = protocol::stream_id(payload)?;
        if self.streams.contains_key(&id) {
            return Err(ServiceError::invalid(
                "stream_id",
                format!("stream_id {id:?} is already active on this connection"),
            ));
        }
        if self.streams.len() >= cfg.max_streams {
            return Err(ServiceError::new(
                ErrorCode::ResourceExhausted,
                format!(
                    "at most {} streams per connection (max_streams): unsubscribe one first",
                    cfg.max_streams
                ),
            ));
        }
        payload.remove("stream_id");
        let request_id = payload
            .remove("request_id")
            .and_then(|v| v.as_str().map(str::to_owned));
        let format = protocol::field_format(payload, self.endpoint, cfg.json_field_max_side)?;
        let ctx = RequestContext::new(request_id.as_deref());
        let limits = self.state.svc.config().limits;
        let (total, every, spawn): (usize, usize, Forwarder) = match self.endpoint {
            Endpoint::Simulation => {
                let mut req: StreamSimulationRequest = protocol::request(payload)?;
                // A reference subscription's `active_nodes` is counted on the field.
                req.include_field = format != FieldFormat::None || reference.is_some();
                let spec = req.sim.resolve(&limits)?;
                let frames = req.frames.resolve(spec.params.steps)?;
                let permit = self.state.limits.admit(self.caller.as_ref(), self.peer)?;
                let stream = self.state.svc.stream_simulation(&ctx, &req)?;
                let fwd = Forwarder::Sim(stream, format, permit);
                (spec.params.steps, frames.steps_per_frame, fwd)
            }
            Endpoint::Features => {
                let req: StreamFeaturesRequest = protocol::request(payload)?;
                let spec = req.features.resolve(&limits)?;
                let frames = req.frames.resolve(spec.sim.params.steps)?;
                let permit = self.state.limits.admit(self.caller.as_ref(), self.peer)?;
                let stream = self.state.svc.stream_features(&ctx, &req)?;
                let fwd = Forwarder::Features(stream, reference, permit);
                (spec.sim.params.steps, frames.steps_per_frame, fwd)
            }
        };
        let ok = json!({
            "stream_id": id,
            "request_id": ctx.request_id,
            "total_steps": total,
            "steps_per_frame": every,
            "field_format": match format {
                FieldFormat::None => "none",
                FieldFormat::Json { .. } => "json",
                FieldFormat::Binary => "binary",
            },
        });
        // subscribe_success is queued before the forwarder can queue a frame.
        self.control("subscribe_success", ok).map_err(|Overflow| {
            ServiceError::exhausted("send queue full", Duration::from_secs(1))
        })?;
        let handle = self.tasks.spawn(spawn.run(
            id.clone(),
            ctx.request_id,
            self.outbox.clone(),
            self.endpoint,
        ));
        self.task_streams.insert(handle.id(), id.clone());
        self.streams.insert(id, handle);
        Ok(())
    }

    fn on_unsubscribe(&mut self, id: &str) -> Result<(), Overflow> {
        match self.streams.remove(id) {
            Some(handle) => {
                self.task_streams.remove(&handle.id());
                // Dropping the FrameStream with the task cancels the computation.
                handle.abort();
                let dropped = self.outbox.forget(id);
                self.control(
                    "unsubscribe",
                    json!({ "stream_id": id, "status": "stopped", "dropped": dropped }),
                )
            }
            None => {
                let e = ServiceError {
                    field: Some("stream_id".into()),
                    ..ServiceError::new(
                        ErrorCode::NotFound,
                        format!("no active stream {id:?} on this connection"),
                    )
                };
                self.control("error", protocol::error_payload(Some(id), &e))
            }
        }
    }
}

/// A subscription's stream, with what its forwarder needs.
enum Forwarder {
    Sim(FrameStream<SimFrame>, FieldFormat, CallPermit),
    Features(
        FrameStream<FeatureFrame>,
        Option<protocol::ReferenceForm>,
        CallPermit,
    ),
}

impl Forwarder {
    /// Move frames from the stream into the outbox until the stream ends.
    async fn run(self, id: String, request_id: String, outbox: Arc<Outbox>, endpoint: Endpoint) {
        let _subscription = Gauge::new("mfn_ws_subscriptions");
        match self {
            Forwarder::Sim(mut stream, format, _permit) => {
                while let Some(item) = stream.next().await {
                    let entry = item.map(|f| sim_entry(&id, &request_id, &f, format));
                    if !push(&outbox, &id, endpoint, entry) {
                        break;
                    }
                }
            }
            Forwarder::Features(mut stream, reference, _permit) => {
                let mut sequence = 0u64;
                while let Some(item) = stream.next().await {
                    let entry = item
                        .map(|f| feature_entry(&id, &request_id, &f, sequence, reference.as_ref()));
                    sequence += 1;
                    if !push(&outbox, &id, endpoint, entry) {
                        break;
                    }
                }
            }
        }
    }
}

/// Queue a frame or the stream's error; false once the stream is over.
fn push(outbox: &Outbox, id: &str, endpoint: Endpoint, entry: Result<Entry, ServiceError>) -> bool {
    let (entry, more) = match entry {
        Ok(e) => {
            let more = !matches!(e.kind, Kind::Final { .. });
            (e, more)
        }
        Err(e) => {
            let e = protocol::stream_error(e);
            debug!(endpoint = endpoint.label(), stream = id, code = %e.code, "stream ended with an error");
            let payload = protocol::error_payload(Some(id), &e);
            let size = payload.to_string().len();
            let entry = Entry {
                msg_type: "error",
                kind: Kind::Final {
                    stream: id.to_owned(),
                    payload,
                },
                binary: None,
                size,
            };
            (entry, false)
        }
    };
    // Only control messages can overflow; frames and finals never do.
    let _ = outbox.push(entry);
    more
}

fn sim_entry(id: &str, request_id: &str, f: &SimFrame, format: FieldFormat) -> Entry {
    let mut payload = protocol::frame_payload(id, &SimFrameResponse::new(request_id, f));
    let n = f.summary.grid_size;
    protocol::reference_sim_keys(&mut payload, &f.summary, f.is_final);
    let mut binary = None;
    let mut size = 1024;
    if !f.summary.field.is_empty() {
        match format {
            FieldFormat::None => {}
            FieldFormat::Json { max_side } => {
                let field = protocol::field_json(&f.summary.field, n, max_side);
                size += max_side.min(n).pow(2) * 12;
                payload.insert("field".into(), field);
            }
            FieldFormat::Binary => {
                let b = protocol::encode_field(id, f.step, f.total_steps, &f.summary.field, n);
                size += b.len();
                payload.insert("field_binary".into(), json!(true));
                binary = Some(b);
            }
        }
    }
    let (msg_type, kind) = if f.is_final {
        let payload = Value::Object(payload);
        (
            "simulation_complete",
            Kind::Final {
                stream: id.to_owned(),
                payload,
            },
        )
    } else {
        let payload = Value::Object(payload);
        (
            "simulation_state",
            Kind::State {
                stream: id.to_owned(),
                payload,
            },
        )
    };
    Entry {
        msg_type,
        kind,
        binary,
        size,
    }
}

fn feature_entry(
    id: &str,
    request_id: &str,
    f: &FeatureFrame,
    sequence: u64,
    reference: Option<&protocol::ReferenceForm>,
) -> Entry {
    let mut payload = protocol::frame_payload(id, &FeatureFrameResponse::new(request_id, f));
    protocol::reference_feature_keys(&mut payload, f, sequence, reference);
    let payload = Value::Object(payload);
    let stream = id.to_owned();
    let (msg_type, kind) = if f.is_final {
        ("simulation_complete", Kind::Final { stream, payload })
    } else {
        ("feature_update", Kind::State { stream, payload })
    };
    Entry {
        msg_type,
        kind,
        binary: None,
        size: 2048,
    }
}

/// Write queued messages until the outbox closes (then the close frame) or a write
/// fails or blocks for `timeout`.
async fn write_loop<Si>(mut sink: Si, outbox: Arc<Outbox>, endpoint: Endpoint, timeout: Duration)
where
    Si: Sink<Outgoing> + Unpin,
{
    while let Some((msg_type, messages)) = outbox.next().await {
        for m in messages {
            match tokio::time::timeout(timeout, sink.send(m)).await {
                Ok(Ok(())) => {}
                _ => return,
            }
        }
        metrics::counter!("mfn_ws_messages_sent_total",
            "endpoint" => endpoint.label(), "type" => msg_type)
        .increment(1);
    }
    if let Some((code, reason)) = outbox.close_frame() {
        let _ = tokio::time::timeout(timeout, sink.send(Outgoing::Close { code, reason })).await;
    }
    let _ = tokio::time::timeout(timeout, sink.close()).await;
}

fn auth_mode_str(mode: AuthMode) -> &'static str {
    match mode {
        AuthMode::Off => "off",
        AuthMode::Key => "key",
        AuthMode::Signed => "signed",
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The error of a client message over `max` bytes.
fn too_large(max: usize) -> ServiceError {
    ServiceError {
        field: Some("message".into()),
        ..ServiceError::new(
            ErrorCode::PayloadTooLarge,
            format!("message too large: at most {max} bytes (MFN_WS_MAX_MESSAGE_KB)"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::KeySet;
    use crate::security::rate_limit::Limits;
    use crate::ws::WsConfig;
    use futures::channel::mpsc;

    fn state() -> WsState {
        let keys = Arc::new(KeySet::new(Vec::new()));
        WsState {
            svc: mfn_service::MfnService::new(mfn_service::ServiceConfig {
                workers: 1,
                queue: 1,
                ..Default::default()
            })
            .unwrap(),
            auth: crate::security::AuthLayer::new(
                AuthMode::Off,
                keys.clone(),
                Duration::from_secs(300),
            ),
            limits: crate::security::RateLimitLayer::new(
                &keys,
                Limits {
                    rps: 10,
                    concurrent: 10,
                    anon_rps: 10,
                    anon_concurrent: 10,
                },
            ),
            config: WsConfig::default(),
        }
    }

    fn kind(m: &Outgoing) -> String {
        match m {
            Outgoing::Text(t) => serde_json::from_str::<Value>(t).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string(),
            Outgoing::Binary(_) => "binary".into(),
            Outgoing::Close { code, .. } => format!("close frame {code}"),
        }
    }

    /// The documented timing with the documented defaults, in paused time: a heartbeat
    /// at 30 s, and a silent client is closed at 60 s.
    #[tokio::test(start_paused = true)]
    async fn a_silent_client_gets_heartbeats_then_is_closed_at_60_s() {
        let (tx, rx) = mpsc::unbounded::<Outgoing>();
        let silent = futures::stream::pending::<Result<Incoming, std::convert::Infallible>>();
        let t0 = Instant::now();
        Session::new(Endpoint::Simulation, state(), None, None)
            .run(tx, silent)
            .await;
        let elapsed = t0.elapsed();
        let got: Vec<String> = rx.map(|m| kind(&m)).collect().await;
        // The heartbeat due at 60 s may go out just before the close.
        let heartbeats = got.iter().filter(|k| *k == "heartbeat").count();
        assert!((1..=2).contains(&heartbeats), "{got:?}");
        assert_eq!(got.first().map(String::as_str), Some("init"));
        assert_eq!(&got[got.len() - 2..], ["close", "close frame 1008"]);
        assert!(
            elapsed >= Duration::from_secs(60) && elapsed < Duration::from_secs(61),
            "{elapsed:?}"
        );
    }

    /// A client that answers keeps the session; `close` ends it with 1000.
    #[tokio::test(start_paused = true)]
    async fn an_answering_client_stays_until_it_closes() {
        let (tx, rx) = mpsc::unbounded::<Outgoing>();
        let (client, incoming) = mpsc::unbounded::<Result<Incoming, std::convert::Infallible>>();
        let session =
            tokio::spawn(Session::new(Endpoint::Features, state(), None, None).run(tx, incoming));
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_secs(40)).await;
            client
                .unbounded_send(Ok(Incoming::Text(r#"{"type":"pong"}"#.into())))
                .unwrap();
        }
        client
            .unbounded_send(Ok(Incoming::Text(r#"{"type":"close"}"#.into())))
            .unwrap();
        session.await.unwrap();
        let got: Vec<String> = rx.map(|m| kind(&m)).collect().await;
        assert_eq!(got.first().map(String::as_str), Some("init"));
        assert_eq!(got.iter().filter(|k| *k == "heartbeat").count(), 5);
        assert_eq!(&got[got.len() - 2..], ["close", "close frame 1000"]);
    }
}
