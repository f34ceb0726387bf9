//! The bounded outgoing queue of one connection, and its drop policy.
//!
//! - **State frames** (`simulation_state`, `feature_update`) are droppable: when the
//!   queue holds `queue_capacity` messages or `queue_bytes` bytes, the *oldest* queued
//!   state frame (of any stream) is dropped to make room — the newest view of a run is
//!   worth more than an old one. Each drop is counted per stream, reported to the client
//!   in the `dropped` field of that stream's later frames (and of its final message),
//!   and in `mfn_ws_messages_dropped_total{endpoint}`. If only control messages are
//!   queued, the new state frame itself is dropped.
//! - **Control messages** (`init`, `auth_*`, `subscribe_*`, `pong`, `heartbeat`,
//!   `error`, `close`, …) and **final messages** (`simulation_complete`, a stream's
//!   `error`) are never dropped. A client that lets `queue_capacity` control messages
//!   pile up is not reading at all: the connection is closed ([`Overflow`]).
//!
//! State and final messages are serialized when they are written, so `dropped` is the
//! count at that moment.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use axum::body::Bytes;
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::protocol::Outgoing;

/// The client let control messages pile up; the session closes the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

/// A message waiting to be written.
#[derive(Debug)]
pub struct Entry {
    /// The message's `type` (metrics label).
    pub msg_type: &'static str,
    /// What it is, which decides whether it may be dropped.
    pub kind: Kind,
    /// A binary message to write right after the text one.
    pub binary: Option<Bytes>,
    /// Approximate size in bytes, for the byte bound.
    pub size: usize,
}

/// The three classes of the drop policy.
#[derive(Debug)]
pub enum Kind {
    /// Never dropped; serialized already.
    Control(String),
    /// Droppable frame of `stream`; `payload` gets `dropped` when written.
    State {
        /// The stream.
        stream: String,
        /// The payload object.
        payload: Value,
    },
    /// The last message of `stream`; never dropped; gets `dropped` when written.
    Final {
        /// The stream.
        stream: String,
        /// The payload object.
        payload: Value,
    },
}

/// The queue. Producers push without waiting; the writer task pops.
#[derive(Debug)]
pub struct Outbox {
    state: Mutex<State>,
    notify: Notify,
    capacity: usize,
    max_bytes: usize,
    endpoint: &'static str,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Entry>,
    bytes: usize,
    controls: usize,
    dropped: HashMap<String, u64>,
    closed: bool,
    close_frame: Option<(u16, String)>,
}

impl Entry {
    /// A control message.
    pub fn control(msg_type: &'static str, text: String) -> Entry {
        Entry {
            msg_type,
            size: text.len(),
            kind: Kind::Control(text),
            binary: None,
        }
    }
}

impl Outbox {
    /// A queue of at most `capacity` messages and about `max_bytes` bytes of state frames.
    pub fn new(capacity: usize, max_bytes: usize, endpoint: &'static str) -> Outbox {
        Outbox {
            state: Mutex::new(State::default()),
            notify: Notify::new(),
            capacity: capacity.max(1),
            max_bytes,
            endpoint,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queue `entry` by the drop policy of the [module documentation](self).
    pub fn push(&self, entry: Entry) -> Result<(), Overflow> {
        let mut st = self.lock();
        if st.closed {
            return Ok(());
        }
        match &entry.kind {
            Kind::Control(_) => {
                if st.controls >= self.capacity {
                    return Err(Overflow);
                }
                st.controls += 1;
            }
            Kind::Final { .. } => {}
            Kind::State { stream, .. } => {
                while st.queue.len() >= self.capacity || st.bytes + entry.size > self.max_bytes {
                    if !st.drop_oldest_state(self.endpoint) {
                        // Only control and final messages are queued: this frame goes.
                        *st.dropped.entry(stream.clone()).or_default() += 1;
                        metrics::counter!("mfn_ws_messages_dropped_total", "endpoint" => self.endpoint)
                            .increment(1);
                        return Ok(());
                    }
                }
            }
        }
        st.bytes += entry.size;
        st.queue.push_back(entry);
        drop(st);
        self.notify.notify_one();
        Ok(())
    }

    /// Forget `stream`: its queued frames and its drop count (after `unsubscribe`).
    /// Returns the frames it had dropped.
    pub fn forget(&self, stream: &str) -> u64 {
        let mut st = self.lock();
        let before = st.queue.len();
        let mut freed = 0;
        st.queue.retain(|e| match &e.kind {
            Kind::State { stream: s, .. } if s == stream => {
                freed += e.size;
                false
            }
            _ => true,
        });
        st.bytes -= freed;
        let removed = (before - st.queue.len()) as u64;
        st.dropped.remove(stream).unwrap_or(0) + removed
    }

    /// Frames of `stream` dropped so far.
    pub fn dropped(&self, stream: &str) -> u64 {
        self.lock().dropped.get(stream).copied().unwrap_or(0)
    }

    /// Messages queued now.
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// No more pushes; the writer writes what is queued, then stops.
    pub fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_one();
    }

    /// [`close`](Self::close), and have the writer end with this close frame.
    pub fn close_with(&self, code: u16, reason: &str) {
        self.lock().close_frame = Some((code, reason.to_owned()));
        self.close();
    }

    /// The close frame set by [`close_with`](Self::close_with), once.
    pub fn close_frame(&self) -> Option<(u16, String)> {
        self.lock().close_frame.take()
    }

    /// The next message (its type and the WebSocket messages to write), waiting for
    /// one; `None` once closed and empty.
    pub async fn next(&self) -> Option<(&'static str, Vec<Outgoing>)> {
        loop {
            if let Some(out) = self.try_next() {
                return Some(out);
            }
            if self.lock().closed {
                return None;
            }
            self.notify.notified().await;
        }
    }

    fn try_next(&self) -> Option<(&'static str, Vec<Outgoing>)> {
        let mut st = self.lock();
        let entry = st.queue.pop_front()?;
        st.bytes -= entry.size;
        let text = match entry.kind {
            Kind::Control(text) => {
                st.controls -= 1;
                text
            }
            Kind::State {
                stream,
                mut payload,
            } => {
                payload["dropped"] = json!(st.dropped.get(&stream).copied().unwrap_or(0));
                json!({ "type": entry.msg_type, "payload": payload }).to_string()
            }
            Kind::Final {
                stream,
                mut payload,
            } => {
                payload["dropped"] = json!(st.dropped.remove(&stream).unwrap_or(0));
                json!({ "type": entry.msg_type, "payload": payload }).to_string()
            }
        };
        drop(st);
        let mut out = vec![Outgoing::Text(text)];
        out.extend(entry.binary.map(Outgoing::Binary));
        Some((entry.msg_type, out))
    }
}

impl State {
    /// Drop the oldest queued state frame; false when there is none.
    fn drop_oldest_state(&mut self, endpoint: &'static str) -> bool {
        let Some(i) = self
            .queue
            .iter()
            .position(|e| matches!(e.kind, Kind::State { .. }))
        else {
            return false;
        };
        let Some(old) = self.queue.remove(i) else {
            return false;
        };
        self.bytes -= old.size;
        if let Kind::State { stream, .. } = old.kind {
            *self.dropped.entry(stream).or_default() += 1;
        }
        metrics::counter!("mfn_ws_messages_dropped_total", "endpoint" => endpoint).increment(1);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(stream: &str, step: u64) -> Entry {
        Entry {
            msg_type: "simulation_state",
            kind: Kind::State {
                stream: stream.into(),
                payload: json!({ "stream_id": stream, "step": step }),
            },
            binary: None,
            size: 10,
        }
    }

    fn text(out: &(&'static str, Vec<Outgoing>)) -> Value {
        match &out.1[0] {
            Outgoing::Text(t) => serde_json::from_str(t).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn oldest_states_are_dropped_and_counted_controls_are_kept() {
        let q = Outbox::new(3, 1 << 20, "test");
        q.push(Entry::control("pong", "{\"type\":\"pong\"}".into()))
            .unwrap();
        for step in 1..=5 {
            q.push(state("a", step)).unwrap();
        }
        // pong + the two newest frames; steps 1..=3 were dropped.
        assert_eq!(q.len(), 3);
        assert_eq!(q.dropped("a"), 3);
        assert_eq!(q.next().await.unwrap().0, "pong");
        let first = text(&q.next().await.unwrap());
        assert_eq!(first["payload"]["step"], 4);
        assert_eq!(first["payload"]["dropped"], 3);
        q.push(Entry {
            msg_type: "simulation_complete",
            kind: Kind::Final {
                stream: "a".into(),
                payload: json!({ "stream_id": "a" }),
            },
            binary: None,
            size: 10,
        })
        .unwrap();
        assert_eq!(text(&q.next().await.unwrap())["payload"]["step"], 5);
        let last = text(&q.next().await.unwrap());
        assert_eq!(last["type"], "simulation_complete");
        assert_eq!(last["payload"]["dropped"], 3);
        assert_eq!(q.dropped("a"), 0, "forgotten after the final message");
    }

    #[test]
    fn control_messages_that_pile_up_overflow() {
        let q = Outbox::new(2, 1 << 20, "test");
        q.push(Entry::control("pong", "{}".into())).unwrap();
        q.push(Entry::control("pong", "{}".into())).unwrap();
        assert_eq!(q.push(Entry::control("pong", "{}".into())), Err(Overflow));
        // With only controls queued, a state frame is dropped, not queued.
        q.push(state("b", 1)).unwrap();
        assert_eq!((q.len(), q.dropped("b")), (2, 1));
    }

    #[test]
    fn the_byte_bound_drops_states_too() {
        let q = Outbox::new(100, 25, "test");
        for step in 0..4 {
            q.push(state("a", step)).unwrap();
        }
        assert_eq!((q.len(), q.dropped("a")), (2, 2));
        assert_eq!(q.forget("a"), 4);
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn close_lets_the_writer_finish_the_queue() {
        let q = Outbox::new(4, 1 << 20, "test");
        q.push(Entry::control("close", "{}".into())).unwrap();
        q.close();
        assert_eq!(q.next().await.unwrap().0, "close");
        assert!(q.next().await.is_none());
    }
}
