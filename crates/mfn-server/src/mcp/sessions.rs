//! Bounded, owned MCP sessions (legacy era: `initialize` → `Mcp-Session-Id`).
//!
//! Each session costs a worker task and its buffers (about 50 KB), so they are capped:
//! `MFN_MCP_MAX_SESSIONS` in total and `MFN_MCP_MAX_SESSIONS_PER_KEY` per API key (all
//! anonymous callers share one allowance), and closed after `MFN_MCP_SESSION_IDLE_S`
//! without a message. A session belongs to the key that created it: a request naming
//! another key's session gets the same 404 as an unknown one.
//!
//! [`SessionRegistry`] holds the owners and counts. The HTTP middleware
//! ([`super::http::admit`]) takes a [`Reservation`] before an `initialize` reaches rmcp
//! and checks ownership of every request naming a session; [`OwnedSessions`], the
//! session manager handed to rmcp, registers a session when its `initialize` arrives and
//! forgets it when rmcp closes it (DELETE, idle expiry, shutdown).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::Stream;
use mfn_service::{ErrorCode, ServiceError};
use rmcp::model::{ClientJsonRpcMessage, GetExtensions, ServerJsonRpcMessage};
use rmcp::transport::WorkerTransport;
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError, LocalSessionWorker,
};
use rmcp::transport::streamable_http_server::session::{
    ServerSseMessage, SessionId, SessionManager,
};

/// Who owns a session: the SHA-256 of the caller's key, `None` for anonymous callers.
/// Put in the request extensions by the middleware, read back by [`OwnedSessions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Owner(pub Option<[u8; 32]>);

/// The caps of [`SessionRegistry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// `MFN_MCP_MAX_SESSIONS`.
    pub max_total: usize,
    /// `MFN_MCP_MAX_SESSIONS_PER_KEY`.
    pub max_per_key: usize,
    /// `MFN_MCP_SESSION_IDLE_S`.
    pub idle: Duration,
}

/// Session owners and the counts the caps apply to.
#[derive(Debug)]
pub struct SessionRegistry {
    limits: SessionLimits,
    state: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    owners: HashMap<SessionId, Owner>,
    /// Live sessions plus reservations, per owner and in total.
    per_owner: HashMap<Owner, usize>,
    total: usize,
}

/// A slot held while an `initialize` is served; released on drop. The session itself,
/// once registered, is counted on its own.
#[derive(Debug)]
pub struct Reservation {
    registry: Arc<SessionRegistry>,
    owner: Owner,
}

impl Counts {
    fn add(&mut self, owner: Owner) {
        *self.per_owner.entry(owner).or_default() += 1;
        self.total += 1;
    }

    fn sub(&mut self, owner: Owner) {
        if let Some(n) = self.per_owner.get_mut(&owner) {
            *n -= 1;
            if *n == 0 {
                self.per_owner.remove(&owner);
            }
        }
        self.total = self.total.saturating_sub(1);
    }
}

impl SessionRegistry {
    /// An empty registry with `limits`.
    pub fn new(limits: SessionLimits) -> Self {
        let state = Mutex::default();
        SessionRegistry { limits, state }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slot for a new session of `owner`, or the refusal naming the cap: 503 when the
    /// server is full, 429 when the key is.
    pub fn reserve(self: &Arc<Self>, owner: Owner) -> Result<Reservation, ServiceError> {
        let mut counts = self.lock();
        let (max_total, max_per_key) = (self.limits.max_total, self.limits.max_per_key);
        let idle = self.limits.idle;
        let close = format!(
            "idle ones close after {} s (MFN_MCP_SESSION_IDLE_S)",
            idle.as_secs()
        );
        if counts.total >= max_total {
            metrics::counter!("mcp_sessions_refused_total", "cap" => "total").increment(1);
            let message = format!(
                "too many MCP sessions: the server holds at most {max_total} (MFN_MCP_MAX_SESSIONS); {close}"
            );
            return Err(ServiceError {
                retry_after: Some(idle),
                field: Some("MFN_MCP_MAX_SESSIONS".into()),
                ..ServiceError::new(ErrorCode::Unavailable, message)
            });
        }
        if counts.per_owner.get(&owner).copied().unwrap_or(0) >= max_per_key {
            metrics::counter!("mcp_sessions_refused_total", "cap" => "per_key").increment(1);
            let message = format!(
                "too many MCP sessions for this api key: at most {max_per_key} (MFN_MCP_MAX_SESSIONS_PER_KEY); end one with DELETE /mcp, {close}"
            );
            return Err(ServiceError {
                field: Some("MFN_MCP_MAX_SESSIONS_PER_KEY".into()),
                ..ServiceError::exhausted(message, idle)
            });
        }
        counts.add(owner);
        let registry = self.clone();
        Ok(Reservation { registry, owner })
    }

    /// Whether session `id` exists and belongs to `owner`.
    pub fn owned_by(&self, id: &str, owner: Owner) -> bool {
        self.lock().owners.get(id) == Some(&owner)
    }

    /// Sessions held now (reservations excluded).
    pub fn live(&self) -> usize {
        self.lock().owners.len()
    }

    fn register(&self, id: &SessionId, owner: Owner) {
        let mut counts = self.lock();
        if counts.owners.insert(id.clone(), owner).is_none() {
            counts.add(owner);
        }
        metrics::gauge!("mcp_sessions").set(counts.owners.len() as f64);
    }

    fn forget(&self, id: &SessionId) {
        let mut counts = self.lock();
        if let Some(owner) = counts.owners.remove(id) {
            counts.sub(owner);
        }
        metrics::gauge!("mcp_sessions").set(counts.owners.len() as f64);
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.registry.lock().sub(self.owner);
    }
}

/// rmcp's [`LocalSessionManager`] with owners and counts kept in a [`SessionRegistry`].
#[derive(Debug)]
pub struct OwnedSessions {
    inner: LocalSessionManager,
    registry: Arc<SessionRegistry>,
}

impl OwnedSessions {
    /// In-memory sessions closed after `registry`'s idle time.
    pub fn new(registry: Arc<SessionRegistry>) -> Self {
        let mut inner = LocalSessionManager::default();
        inner.session_config.keep_alive = Some(registry.limits.idle);
        OwnedSessions { inner, registry }
    }
}

/// The owner the middleware put in the HTTP request parts rmcp attaches to `message`.
fn owner_of(message: &ClientJsonRpcMessage) -> Owner {
    let extensions = match message {
        ClientJsonRpcMessage::Request(r) => r.request.extensions(),
        ClientJsonRpcMessage::Notification(n) => n.notification.extensions(),
        _ => return Owner(None),
    };
    extensions
        .get::<::http::request::Parts>()
        .and_then(|p| p.extensions.get::<Owner>())
        .copied()
        .unwrap_or(Owner(None))
}

/// `restore_session` and `event_store` keep rmcp's defaults: no external store, so an
/// unknown session stays unknown (404).
impl SessionManager for OwnedSessions {
    type Error = LocalSessionManagerError;
    type Transport = WorkerTransport<LocalSessionWorker>;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        self.inner.create_session().await
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        // Registered before the client can learn the id, so its next request finds it.
        self.registry.register(id, owner_of(&message));
        let result = self.inner.initialize_session(id, message).await;
        if result.is_err() || !self.inner.has_session(id).await.unwrap_or(false) {
            self.registry.forget(id);
        }
        result
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        self.inner.has_session(id).await
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.registry.forget(id);
        self.inner.close_session(id).await
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner.create_stream(id, message).await
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        self.inner.accept_message(id, message).await
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner.create_standalone_stream(id).await
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner.resume(id, last_event_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(total: usize, per_key: usize) -> Arc<SessionRegistry> {
        Arc::new(SessionRegistry::new(SessionLimits {
            max_total: total,
            max_per_key: per_key,
            idle: Duration::from_secs(7),
        }))
    }

    #[test]
    fn caps_count_sessions_and_reservations_per_owner_and_in_total() {
        let r = registry(3, 2);
        let (a, b) = (Owner(Some([1; 32])), Owner(Some([2; 32])));
        let a1 = r.reserve(a).unwrap();
        let _a2 = r.reserve(a).unwrap();
        let e = r.reserve(a).unwrap_err();
        assert_eq!(e.code, ErrorCode::ResourceExhausted);
        assert!(e.message.contains("MFN_MCP_MAX_SESSIONS_PER_KEY"), "{e}");
        assert_eq!(e.retry_after, Some(Duration::from_secs(7)));
        let _b1 = r.reserve(b).unwrap();
        let e = r.reserve(b).unwrap_err();
        assert_eq!(e.code, ErrorCode::Unavailable);
        assert!(e.message.contains("MFN_MCP_MAX_SESSIONS"), "{e}");
        drop(a1);
        let id: SessionId = "s-1".into();
        r.register(&id, b);
        assert!(r.owned_by("s-1", b));
        assert!(!r.owned_by("s-1", a));
        assert!(r.reserve(b).is_err(), "the registered session counts");
        r.forget(&id);
        assert!(!r.owned_by("s-1", b));
        assert_eq!(r.live(), 0);
        assert!(r.reserve(b).is_ok());
    }
}
