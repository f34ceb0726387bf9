//! The WebSocket door: `/ws/simulation_live` and `/ws/stream_features`
//! (SERVICE.md "WebSocket"; the protocol in full is `docs/WEBSOCKET.md`).
//!
//! One connection carries several subscriptions, each a continuous run streamed by the
//! service layer ([`MfnService::stream_simulation`] / [`MfnService::stream_features`]).
//! The stages of a connection each have their own file:
//!
//! - this module: configuration, the axum upgrade handler (message size limits, the
//!   optional `x-api-key` on the upgrade for non-browser clients) and the metrics;
//! - [`session`]: the connection loop, generic over any `Sink`/`Stream` of
//!   [`Outgoing`]/[`Incoming`] so it is tested without sockets: `init`, in-protocol
//!   `auth` (browsers cannot set headers on an upgrade), `subscribe`/`unsubscribe`,
//!   heartbeats and the idle timeout, the drain;
//! - [`outbox`]: the bounded outgoing queue and its drop policy — state frames are
//!   droppable (oldest first, counted per stream and reported in the next frames'
//!   `dropped`), control messages and `simulation_complete` never are, and a client
//!   that lets control messages pile up is disconnected;
//! - [`protocol`]: message parsing and building, and the binary field layout.
//!
//! Authentication and rate limits are the same objects as the other doors use
//! ([`AuthLayer::verify`], [`RateLimitLayer::admit`]): one replay cache, one bucket
//! per key. The routes must therefore not sit behind the header-based `AuthLayer`.
//!
//! Metrics: `mfn_ws_connections` and `mfn_ws_subscriptions` (gauges),
//! `mfn_ws_messages_sent_total{endpoint,type}` and
//! `mfn_ws_messages_dropped_total{endpoint}`.

use std::net::SocketAddr;
use std::sync::Once;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use futures::{SinkExt, StreamExt};
use mfn_service::MfnService;

use crate::security::auth::Credentials;
use crate::security::{AuthLayer, RateLimitLayer, reject};

pub mod outbox;
pub mod protocol;
pub mod session;

pub use protocol::{Endpoint, Incoming, Outgoing};
pub use session::Session;

/// Sizing and timing of WebSocket sessions (settings `MFN_WS_*`).
pub use crate::config::WsConfig;

/// What every session shares: the service, the security objects and the configuration.
#[derive(Clone)]
pub struct WsState {
    /// The service layer.
    pub svc: MfnService,
    /// The authentication of every door.
    pub auth: AuthLayer,
    /// The rate limits of every door.
    pub limits: RateLimitLayer,
    /// Session sizing and timing.
    pub config: WsConfig,
}

/// The two WebSocket routes.
pub fn router(state: WsState) -> Router {
    describe_metrics();
    Router::new()
        .route(Endpoint::Simulation.path(), get(simulation_live))
        .route(Endpoint::Features.path(), get(stream_features))
        .with_state(state)
}

async fn simulation_live(
    ws: WebSocketUpgrade,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    State(state): State<WsState>,
) -> Response {
    upgrade(
        Endpoint::Simulation,
        ws,
        &headers,
        peer.map(|c| c.0.0),
        state,
    )
}

async fn stream_features(
    ws: WebSocketUpgrade,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    State(state): State<WsState>,
) -> Response {
    upgrade(Endpoint::Features, ws, &headers, peer.map(|c| c.0.0), state)
}

/// Accept the upgrade. Credentials in the upgrade's headers (non-browser clients) are
/// checked now, and a failure refuses the upgrade with the JSON error of the HTTP door.
fn upgrade(
    endpoint: Endpoint,
    ws: WebSocketUpgrade,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    state: WsState,
) -> Response {
    let credentials = Credentials::from_headers(headers);
    let ip = peer.map(|p| p.ip());
    if let Err(e) = state.auth.check_peer(ip) {
        return reject::<axum::body::Body>(headers, e);
    }
    let caller = if credentials.api_key.is_some() {
        match state.auth.verify(&credentials, endpoint.path()) {
            Ok(caller) => caller,
            Err(failure) => {
                state.auth.note_failure(ip);
                return reject::<axum::body::Body>(headers, failure.error());
            }
        }
    } else {
        None
    };
    let max = state.config.max_message_bytes;
    ws.max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| serve_socket(socket, endpoint, state, peer, caller))
        .into_response()
}

async fn serve_socket(
    socket: WebSocket,
    endpoint: Endpoint,
    state: WsState,
    peer: Option<SocketAddr>,
    caller: Option<crate::security::Caller>,
) {
    let (sink, stream) = socket.split();
    let sink = sink.with(|out: Outgoing| futures::future::ready(Ok::<_, axum::Error>(out.into())));
    let stream = stream.map(|m| match m {
        Ok(m) => Ok(Incoming::from(m)),
        // tungstenite's capacity error: the message or a frame is over the limit.
        Err(e) if e.to_string().contains("Message too long") => Ok(Incoming::TooLarge),
        Err(e) => Err(e),
    });
    Session::new(endpoint, state, peer.map(|p| p.ip()), caller)
        .run(Box::pin(sink), stream)
        .await;
}

impl From<Outgoing> for Message {
    fn from(out: Outgoing) -> Message {
        match out {
            Outgoing::Text(text) => Message::Text(text.into()),
            Outgoing::Binary(bytes) => Message::Binary(bytes),
            Outgoing::Close { code, reason } => {
                Message::Close(Some(axum::extract::ws::CloseFrame {
                    code,
                    reason: reason.into(),
                }))
            }
        }
    }
}

impl From<Message> for Incoming {
    fn from(m: Message) -> Incoming {
        match m {
            Message::Text(text) => Incoming::Text(text.to_string()),
            Message::Binary(b) => Incoming::Binary(b.len()),
            Message::Ping(_) | Message::Pong(_) => Incoming::Alive,
            Message::Close(_) => Incoming::Close,
        }
    }
}

fn describe_metrics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        use metrics::{describe_counter, describe_gauge};
        describe_gauge!("mfn_ws_connections", "Open WebSocket connections");
        describe_gauge!("mfn_ws_subscriptions", "Active WebSocket subscriptions");
        describe_counter!(
            "mfn_ws_messages_sent_total",
            "WebSocket messages written, by endpoint and message type"
        );
        describe_counter!(
            "mfn_ws_messages_dropped_total",
            "WebSocket state frames dropped for slow clients (latest frames win)"
        );
    });
}
