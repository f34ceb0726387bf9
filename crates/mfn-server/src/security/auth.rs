//! Authentication: API keys and signed requests (SERVICE.md "Security").
//!
//! | mode | the client sends |
//! |---|---|
//! | `off` | nothing; callers are anonymous and limited per IP |
//! | `key` | `x-api-key: <key>` or `Authorization: Bearer <key>` |
//! | `signed` | the key as above, plus `x-timestamp` (Unix seconds), `x-request-id` and `x-signature` |
//!
//! `x-signature` is the lowercase hex HMAC-SHA256 with the key's text as the HMAC key
//! over `{timestamp}:{request_id}:{path}`, `path` being the request URI path (for gRPC
//! the method, `/mfn.v1.MFNSimulationService/RunSimulation`). The server keeps only key
//! hashes, which is why the key itself travels too (over TLS): the server hashes it,
//! finds the entry in constant time, then checks the HMAC with the presented key. The
//! signature binds the request to one method, one moment and one id: it cannot be moved
//! to another method, reused after `MFN_AUTH_WINDOW_S`, or replayed inside it.
//!
//! # Replay cache
//!
//! A request id accepted with a key is remembered until its timestamp has left the window
//! and for at least one window after it was seen; the same id with the same key is then
//! refused as a replay. The cache is per key and
//! bounded: each key remembers at most `max(100 000 / keys, 1 000)` ids, evicting its
//! oldest first, so one key can never push out another key's ids. A key that signs more
//! requests than that within the window (e.g. > 333 requests per second with the
//! default 300 s window and one key) could in principle replay its own evicted ids; keep
//! the window short for such clients.
//!
//! Failures are `UNAUTHENTICATED` (or `PERMISSION_DENIED` for a key without the
//! `compute` scope) with a reason that helps an honest client and tells an attacker
//! nothing it did not already know, and are counted in
//! `grpc_auth_failures_total{door,reason}` (one counter for every door; the name is the
//! seeds') with reason one of `missing_key`, `unknown_key`, `bad_signature`, `expired`,
//! `replay`, `scope`.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use http::{HeaderMap, Request, Response};
use mfn_service::{ErrorCode, ServiceError};
use sha2::Sha256;
use tower::{Layer, Service};
use tracing::debug;

use arc_swap::ArcSwap;
use std::net::IpAddr;

use super::keys::{ApiKey, KeySet, Scope};
use super::throttle::{AuthThrottle, ThrottleConfig};
use super::{Caller, CallerId, ErrorBody, is_open_path, reject_request};
use crate::config::AuthMode;

/// Ids remembered across all keys before each key's share is evicted oldest first.
pub const REPLAY_CAPACITY: usize = 100_000;
/// The least a single key remembers however many keys there are.
pub const REPLAY_MIN_PER_KEY: usize = 1_000;

/// Checks credentials before the request reaches the services below.
#[derive(Clone)]
pub struct AuthLayer {
    state: Arc<AuthState>,
}

/// The [`AuthLayer`]'s service.
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    state: Arc<AuthState>,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `x-api-key` nor `Authorization: Bearer`.
    MissingKey,
    /// The key matches no configured hash.
    UnknownKey,
    /// A signing header is absent or malformed (`x-timestamp`, `x-request-id`, `x-signature`).
    MissingSigning(&'static str),
    /// The timestamp is outside the window.
    Expired {
        /// The window in seconds.
        window_s: u64,
    },
    /// The request id was already used with this key inside the window.
    Replay,
    /// The HMAC does not match `{timestamp}:{request_id}:{path}`.
    BadSignature,
    /// The key lacks the scope the method needs.
    Scope(Scope),
}

/// Credentials as a client presents them: from request headers
/// ([`Credentials::from_headers`]) or from a WebSocket `auth` message, where browsers
/// cannot set headers. Both are checked by the same code ([`AuthLayer::verify`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Credentials<'a> {
    /// The API key (`x-api-key` or `Authorization: Bearer`).
    pub api_key: Option<&'a str>,
    /// Unix seconds (`x-timestamp`), signed mode.
    pub timestamp: Option<&'a str>,
    /// The request id (`x-request-id`), signed mode.
    pub request_id: Option<&'a str>,
    /// Lowercase hex HMAC-SHA256 (`x-signature`), signed mode.
    pub signature: Option<&'a str>,
}

/// Request ids seen per key (by the key's hash), bounded; see the [module
/// documentation](self).
#[derive(Debug)]
pub struct ReplayCache<K = [u8; 32]> {
    per_key_capacity: usize,
    keys: Mutex<HashMap<K, KeyIds>>,
}

#[derive(Debug, Default)]
struct KeyIds {
    /// Request id → Unix second after which it can no longer be replayed.
    expiry: HashMap<String, u64>,
    /// Insertion order, for eviction.
    order: VecDeque<(String, u64)>,
}

/// The keys in force and their shared entries; replaced whole when the keys are
/// reloaded, so a request sees one consistent set.
struct KeyTable {
    keys: KeySet,
    callers: Vec<Arc<ApiKey>>,
}

impl KeyTable {
    fn new(keys: &KeySet) -> KeyTable {
        KeyTable {
            keys: keys.clone(),
            callers: keys.keys().iter().cloned().map(Arc::new).collect(),
        }
    }
}

struct AuthState {
    mode: AuthMode,
    table: ArcSwap<KeyTable>,
    window_s: u64,
    replay: ReplayCache,
    throttle: Option<AuthThrottle>,
}

/// The key a request presented, when it matched one: its index in the key set of the
/// moment and its entry.
type Matched = Option<(usize, Arc<ApiKey>)>;

impl AuthLayer {
    /// A layer for `mode` over `keys`, accepting timestamps within `window` of now.
    pub fn new(mode: AuthMode, keys: Arc<KeySet>, window: Duration) -> AuthLayer {
        let per_key = (REPLAY_CAPACITY / keys.len().max(1)).max(REPLAY_MIN_PER_KEY);
        AuthLayer {
            state: Arc::new(AuthState {
                mode,
                replay: ReplayCache::new(per_key),
                table: ArcSwap::from_pointee(KeyTable::new(&keys)),
                window_s: window.as_secs().max(1),
                throttle: None,
            }),
        }
    }

    /// This layer with repeated failures per client address throttled (see
    /// [`super::throttle`]). Call before the layer is cloned.
    pub fn with_throttle(mut self, config: ThrottleConfig) -> AuthLayer {
        if let Some(state) = Arc::get_mut(&mut self.state) {
            state.throttle = Some(AuthThrottle::new(config));
        }
        self
    }

    /// Accept `keys` from now on (a reload); requests already admitted keep their
    /// caller. Replay ids stay remembered per key hash.
    pub fn replace_keys(&self, keys: &KeySet) {
        self.state.table.store(Arc::new(KeyTable::new(keys)));
    }

    /// The keys in force.
    pub fn keys(&self) -> KeySet {
        self.state.table.load().keys.clone()
    }

    /// The throttle's refusal when `peer` is blocked after repeated failures.
    pub fn check_peer(&self, peer: Option<IpAddr>) -> Result<(), ServiceError> {
        match (&self.state.throttle, peer) {
            (Some(t), Some(ip)) if self.state.mode != AuthMode::Off => t.check(ip),
            _ => Ok(()),
        }
    }

    /// Count a failed authentication of `peer` towards its throttle.
    pub fn note_failure(&self, peer: Option<IpAddr>) {
        if let (Some(t), Some(ip)) = (&self.state.throttle, peer) {
            t.failed(ip);
        }
    }

    /// The key alone (no signature, any scope), for a scraper of `/metrics`: the caller,
    /// or why not, counted like any failure on door `door`.
    pub fn check_key(
        &self,
        headers: &HeaderMap,
        door: &'static str,
        path: &str,
    ) -> Result<Caller, AuthFailure> {
        let table = self.state.table.load();
        let Some(presented) = presented_key(headers) else {
            record_failure(&AuthFailure::MissingKey, door, path, None);
            return Err(AuthFailure::MissingKey);
        };
        match table.keys.lookup(presented) {
            Some(i) => Ok(Caller {
                index: i,
                key: table.callers[i].clone(),
            }),
            None => {
                record_failure(&AuthFailure::UnknownKey, door, path, None);
                Err(AuthFailure::UnknownKey)
            }
        }
    }
}

impl AuthLayer {
    /// The mode in force.
    pub fn mode(&self) -> AuthMode {
        self.state.mode
    }

    /// Check `credentials` for `path` exactly as the layer checks a request's headers
    /// (key lookup, signature, window, replay cache, scope), counting a failure in
    /// `grpc_auth_failures_total{door="ws",reason}`. For doors that authenticate inside
    /// their own protocol (WebSocket). In mode `off` nothing is checked and the answer is `None`.
    pub fn verify(
        &self,
        credentials: &Credentials<'_>,
        path: &str,
    ) -> Result<Option<Caller>, AuthFailure> {
        if self.state.mode == AuthMode::Off {
            return Ok(None);
        }
        let (matched, outcome) = self.state.authenticate_with(credentials, path, unix_now());
        finish(matched, outcome, path)
    }
}

impl AuthLayer {
    /// The Python reference's WebSocket `auth {api_key, timestamp, signature?}`: the key,
    /// a timestamp in seconds or milliseconds (above 10¹¹ it is milliseconds) within the
    /// window of now (±5 min by default), and the signature when present — or always in
    /// `signed` mode, where it is also remembered for the window so it cannot be
    /// replayed — as the reference defines it: hex HMAC-SHA256 keyed with the API key
    /// over `str(int(timestamp))`. Failures are counted like [`verify`](Self::verify)'s.
    pub fn verify_reference(
        &self,
        api_key: Option<&str>,
        timestamp: Option<&serde_json::Value>,
        signature: Option<&str>,
        path: &str,
    ) -> Result<Option<Caller>, AuthFailure> {
        if self.state.mode == AuthMode::Off {
            return Ok(None);
        }
        let now = unix_now();
        let (matched, outcome) = self.state.reference(api_key, timestamp, signature, now);
        finish(matched, outcome, path)
    }
}

/// The caller of a WebSocket authentication, or its failure, counted.
fn finish(
    matched: Matched,
    outcome: Result<(), AuthFailure>,
    path: &str,
) -> Result<Option<Caller>, AuthFailure> {
    match (outcome, matched) {
        (Ok(()), Some((index, key))) => Ok(Some(Caller { index, key })),
        (Ok(()), None) => Err(AuthFailure::UnknownKey),
        (Err(failure), matched) => {
            let caller_id = matched.map(|(_, k)| k.hash_prefix());
            record_failure(&failure, "ws", path, caller_id.as_deref());
            Err(failure)
        }
    }
}

impl AuthState {
    fn reference(
        &self,
        api_key: Option<&str>,
        timestamp: Option<&serde_json::Value>,
        signature: Option<&str>,
        now: u64,
    ) -> (Matched, Result<(), AuthFailure>) {
        let Some(presented) = api_key.map(str::trim).filter(|k| !k.is_empty()) else {
            return (None, Err(AuthFailure::MissingKey));
        };
        let table = self.table.load();
        let Some(index) = table.keys.lookup(presented) else {
            return (None, Err(AuthFailure::UnknownKey));
        };
        let key = table.callers[index].clone();
        let checked = (|| {
            // The reference signs str(int(timestamp)): the integer part as sent.
            let ts = timestamp
                .and_then(|v| match v {
                    serde_json::Value::Number(n) => n.as_f64(),
                    serde_json::Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                })
                .filter(|t: &f64| t.is_finite() && *t >= 0.0 && *t < 1e17)
                .ok_or(AuthFailure::MissingSigning("timestamp"))?
                .trunc();
            let secs = if ts > 1e11 { ts / 1000.0 } else { ts };
            if (secs - now as f64).abs() > self.window_s as f64 {
                return Err(AuthFailure::Expired {
                    window_s: self.window_s,
                });
            }
            let signature = signature.map(str::trim).filter(|s| !s.is_empty());
            match signature {
                Some(sig) => {
                    if !verify_reference_signature(presented, ts as u64, sig) {
                        return Err(AuthFailure::BadSignature);
                    }
                    if self.mode == AuthMode::Signed {
                        let expires = (secs as u64).max(now) + self.window_s + 1;
                        let nonce = format!("ws-reference:{}", sig.to_ascii_lowercase());
                        if !self.replay.insert(key.hash, &nonce, expires, now) {
                            return Err(AuthFailure::Replay);
                        }
                    }
                }
                None if self.mode == AuthMode::Signed => {
                    return Err(AuthFailure::MissingSigning("signature"));
                }
                None => {}
            }
            if !key.scopes.contains(Scope::Compute) {
                return Err(AuthFailure::Scope(Scope::Compute));
            }
            Ok(())
        })();
        (Some((index, key)), checked)
    }
}

/// The reference's WebSocket signature: hex HMAC-SHA256 keyed with the API key over the
/// decimal timestamp.
pub fn reference_signature(key: &str, timestamp: u64) -> String {
    hex::encode(reference_mac(key, timestamp).finalize().into_bytes())
}

/// Whether `signature_hex` (either case) is [`reference_signature`], in constant time.
pub fn verify_reference_signature(key: &str, timestamp: u64, signature_hex: &str) -> bool {
    let mut expected = [0u8; 32];
    if signature_hex.len() != 64 || hex::decode_to_slice(signature_hex, &mut expected).is_err() {
        return false;
    }
    reference_mac(key, timestamp)
        .verify_slice(&expected)
        .is_ok()
}

fn reference_mac(key: &str, timestamp: u64) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| unreachable!("hmac takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac
}

impl<'a> Credentials<'a> {
    /// The credentials in `headers`: `x-api-key` (else `Authorization: Bearer`),
    /// `x-timestamp`, `x-request-id`, `x-signature`.
    pub fn from_headers(headers: &'a HeaderMap) -> Self {
        let header = |name: &'static str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        Credentials {
            api_key: presented_key(headers),
            timestamp: header("x-timestamp"),
            request_id: header("x-request-id"),
            signature: header("x-signature"),
        }
    }
}

fn record_failure(
    failure: &AuthFailure,
    door: &'static str,
    path: &str,
    api_key_hash: Option<&str>,
) {
    metrics::counter!("grpc_auth_failures_total", "door" => door, "reason" => failure.reason())
        .increment(1);
    debug!(
        reason = failure.reason(),
        method = path,
        api_key_hash = api_key_hash.unwrap_or("-"),
        "request refused"
    );
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService {
            inner,
            state: self.state.clone(),
        }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AuthService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: ErrorBody + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResBody>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        // The clone that was polled ready serves this call; the fresh clone waits for
        // the next poll_ready.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        if self.state.mode == AuthMode::Off || is_open_path(req.uri().path()) {
            return Box::pin(inner.call(req));
        }
        let peer = super::peer_addr(&req).map(|a| a.ip());
        if let (Some(throttle), Some(ip)) = (&self.state.throttle, peer)
            && let Err(refusal) = throttle.check(ip)
        {
            let response = reject_request::<ResBody, _>(&req, refusal);
            return Box::pin(std::future::ready(Ok(response)));
        }
        let now = unix_now();
        let (matched, outcome) = self
            .state
            .authenticate(req.headers(), req.uri().path(), now);
        let caller_id = matched.as_ref().map(|(_, k)| CallerId(k.hash_prefix()));
        match (outcome, matched) {
            (Ok(()), Some((index, key))) => {
                req.extensions_mut().insert(Caller { index, key });
                Box::pin(async move {
                    let mut response = inner.call(req).await?;
                    if let Some(id) = caller_id {
                        response.extensions_mut().insert(id);
                    }
                    Ok(response)
                })
            }
            (outcome, _) => {
                let failure = outcome.err().unwrap_or(AuthFailure::UnknownKey);
                record_failure(
                    &failure,
                    super::door_of(&req),
                    req.uri().path(),
                    caller_id.as_ref().map(|c| c.0.as_str()),
                );
                if let (Some(throttle), Some(ip)) = (&self.state.throttle, peer) {
                    throttle.failed(ip);
                }
                let mut response = reject_request::<ResBody, _>(&req, failure.error());
                if let Some(id) = caller_id {
                    response.extensions_mut().insert(id);
                }
                Box::pin(std::future::ready(Ok(response)))
            }
        }
    }
}

impl AuthState {
    /// The key index (when the key is known) and whether the request may proceed.
    fn authenticate(
        &self,
        headers: &HeaderMap,
        path: &str,
        now: u64,
    ) -> (Matched, Result<(), AuthFailure>) {
        self.authenticate_with(&Credentials::from_headers(headers), path, now)
    }

    /// [`authenticate`](Self::authenticate) for credentials from any source.
    fn authenticate_with(
        &self,
        credentials: &Credentials<'_>,
        path: &str,
        now: u64,
    ) -> (Matched, Result<(), AuthFailure>) {
        let Some(presented) = credentials.api_key.map(str::trim).filter(|k| !k.is_empty()) else {
            return (None, Err(AuthFailure::MissingKey));
        };
        let table = self.table.load();
        let Some(index) = table.keys.lookup(presented) else {
            return (None, Err(AuthFailure::UnknownKey));
        };
        let key = table.callers[index].clone();
        let checked = self.check(&key, presented, credentials, path, now);
        (Some((index, key)), checked)
    }

    fn check(
        &self,
        key: &ApiKey,
        presented: &str,
        credentials: &Credentials<'_>,
        path: &str,
        now: u64,
    ) -> Result<(), AuthFailure> {
        if self.mode == AuthMode::Signed {
            fn field<'v>(
                value: Option<&'v str>,
                name: &'static str,
            ) -> Result<&'v str, AuthFailure> {
                value
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .ok_or(AuthFailure::MissingSigning(name))
            }
            let timestamp = field(credentials.timestamp, "x-timestamp")?;
            let request_id = field(credentials.request_id, "x-request-id")?;
            let signature = field(credentials.signature, "x-signature")?;
            let ts: i64 = timestamp
                .parse()
                .map_err(|_| AuthFailure::MissingSigning("x-timestamp"))?;
            if (i128::from(ts) - i128::from(now)).unsigned_abs() > u128::from(self.window_s) {
                return Err(AuthFailure::Expired {
                    window_s: self.window_s,
                });
            }
            if !verify_signature(presented, timestamp, request_id, path, signature) {
                return Err(AuthFailure::BadSignature);
            }
            // Recorded only once the signature holds, so nobody without the key can
            // fill the cache.
            // The id is kept past the last second its own timestamp is accepted, and at
            // least a window from now.
            let expires = u64::try_from(ts).unwrap_or(0).max(now) + self.window_s + 1;
            if !self.replay.insert(key.hash, request_id, expires, now) {
                return Err(AuthFailure::Replay);
            }
        }
        if !key.scopes.contains(Scope::Compute) {
            return Err(AuthFailure::Scope(Scope::Compute));
        }
        Ok(())
    }
}

impl AuthFailure {
    /// The `reason` label of `grpc_auth_failures_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthFailure::MissingKey => "missing_key",
            AuthFailure::UnknownKey => "unknown_key",
            AuthFailure::MissingSigning(_) | AuthFailure::BadSignature => "bad_signature",
            AuthFailure::Expired { .. } => "expired",
            AuthFailure::Replay => "replay",
            AuthFailure::Scope(_) => "scope",
        }
    }

    /// The error the client sees.
    pub fn error(&self) -> ServiceError {
        let unauthenticated = |m: String| ServiceError::new(ErrorCode::Unauthenticated, m);
        match self {
            AuthFailure::MissingKey => {
                unauthenticated("missing x-api-key (or authorization: bearer)".into())
            }
            AuthFailure::UnknownKey => unauthenticated("unknown api key".into()),
            AuthFailure::MissingSigning(h) => {
                unauthenticated(format!("missing or malformed {h} (signed mode)"))
            }
            AuthFailure::Expired { window_s } => unauthenticated(format!(
                "x-timestamp outside the {window_s} s window (check the client clock)"
            )),
            AuthFailure::Replay => unauthenticated("replayed request id".into()),
            AuthFailure::BadSignature => unauthenticated(
                "bad signature: expected hex hmac-sha256 over \"{timestamp}:{request_id}:{path}\" for this method's path".into(),
            ),
            AuthFailure::Scope(scope) => ServiceError::new(
                ErrorCode::PermissionDenied,
                format!("api key lacks the {} scope", scope.as_str()),
            ),
        }
    }
}

impl<K: std::hash::Hash + Eq> ReplayCache<K> {
    /// A cache remembering at most `per_key_capacity` ids per key.
    pub fn new(per_key_capacity: usize) -> ReplayCache<K> {
        ReplayCache {
            per_key_capacity: per_key_capacity.max(1),
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// Record `id` for `key` until `expires` (Unix seconds); `false` when it was already
    /// recorded and has not expired at `now`.
    pub fn insert(&self, key: K, id: &str, expires: u64, now: u64) -> bool {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let ids = keys.entry(key).or_default();
        ids.prune(now);
        if ids.expiry.get(id).is_some_and(|&e| e > now) {
            return false;
        }
        while ids.order.len() >= self.per_key_capacity {
            ids.evict_oldest();
        }
        ids.expiry.insert(id.to_owned(), expires);
        ids.order.push_back((id.to_owned(), expires));
        true
    }

    /// Ids remembered for `key`.
    pub fn len(&self, key: K) -> usize {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.get(&key).map_or(0, |ids| ids.order.len())
    }
}

impl KeyIds {
    /// Drop expired ids from the front (ids arrive in roughly timestamp order; a late
    /// one is dropped once it reaches the front, and the capacity bounds the rest).
    fn prune(&mut self, now: u64) {
        while self.order.front().is_some_and(|(_, e)| *e <= now) {
            self.evict_oldest();
        }
    }

    fn evict_oldest(&mut self) {
        if let Some((id, expires)) = self.order.pop_front()
            && self.expiry.get(&id) == Some(&expires)
        {
            self.expiry.remove(&id);
        }
    }
}

/// The key from `x-api-key`, else from `Authorization: Bearer`.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let from_header = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let from_bearer = || {
        headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
    };
    from_header
        .filter(|k| !k.is_empty())
        .or_else(|| from_bearer().filter(|k| !k.is_empty()))
}

/// Lowercase hex HMAC-SHA256(key, `{timestamp}:{request_id}:{path}`).
pub fn sign(key: &str, timestamp: &str, request_id: &str, path: &str) -> String {
    hex::encode(
        mac(key, timestamp, request_id, path)
            .finalize()
            .into_bytes(),
    )
}

/// Whether `signature_hex` is the signature of the request, compared in constant time.
pub fn verify_signature(
    key: &str,
    timestamp: &str,
    request_id: &str,
    path: &str,
    signature_hex: &str,
) -> bool {
    let mut expected = [0u8; 32];
    if signature_hex.len() != 64 || hex::decode_to_slice(signature_hex, &mut expected).is_err() {
        return false;
    }
    mac(key, timestamp, request_id, path)
        .verify_slice(&expected)
        .is_ok()
}

fn mac(key: &str, timestamp: &str, request_id: &str, path: &str) -> Hmac<Sha256> {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| unreachable!("hmac takes keys of any length"));
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(request_id.as_bytes());
    mac.update(b":");
    mac.update(path.as_bytes());
    mac
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    /// Issue 20: the reference's WebSocket signature, timestamps in s or ms, ±window.
    #[test]
    fn the_reference_websocket_auth() {
        use crate::security::keys::{ApiKey, hash_key};
        // Python: hmac.new(b"k", b"1700000000000", hashlib.sha256).hexdigest()
        let sig = reference_signature("k", 1_700_000_000_000);
        assert_eq!(sig.len(), 64);
        assert!(verify_reference_signature(
            "k",
            1_700_000_000_000,
            &sig.to_uppercase()
        ));
        assert!(!verify_reference_signature("k", 1_700_000_000_001, &sig));
        let keys = Arc::new(KeySet::new(vec![ApiKey::from_hash(hash_key("k"))]));
        let now = unix_now();
        for mode in [AuthMode::Key, AuthMode::Signed] {
            let layer = AuthLayer::new(mode, keys.clone(), Duration::from_secs(300));
            let ms = now * 1000;
            let sig = reference_signature("k", ms);
            let ok =
                layer.verify_reference(Some("k"), Some(&serde_json::json!(ms)), Some(&sig), "/ws");
            assert!(ok.unwrap().is_some());
            // Seconds work too; in signed mode the same signature cannot be replayed.
            let s = reference_signature("k", now);
            assert!(
                layer
                    .verify_reference(
                        Some("k"),
                        Some(&serde_json::json!(now as f64 + 0.5)),
                        Some(&s),
                        "/ws"
                    )
                    .is_ok()
            );
            let again =
                layer.verify_reference(Some("k"), Some(&serde_json::json!(now)), Some(&s), "/ws");
            assert_eq!(again.is_err(), mode == AuthMode::Signed);
            let stale = layer.verify_reference(
                Some("k"),
                Some(&serde_json::json!((now - 301) * 1000)),
                None,
                "/ws",
            );
            assert!(matches!(stale, Err(AuthFailure::Expired { .. })));
            let bad = layer.verify_reference(
                Some("k"),
                Some(&serde_json::json!(ms)),
                Some(&"0".repeat(64)),
                "/ws",
            );
            assert!(matches!(bad, Err(AuthFailure::BadSignature)));
            let unsigned =
                layer.verify_reference(Some("k"), Some(&serde_json::json!(ms)), None, "/ws");
            assert_eq!(unsigned.is_ok(), mode == AuthMode::Key);
            assert!(matches!(
                layer.verify_reference(Some("x"), Some(&serde_json::json!(ms)), None, "/ws"),
                Err(AuthFailure::UnknownKey)
            ));
        }
    }

    use super::*;
    use crate::security::keys::{ApiKey, Scopes, hash_key};

    const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const PATH: &str = "/mfn.v1.MFNSimulationService/RunSimulation";

    #[test]
    fn hmac_matches_an_independent_vector() {
        // python3 -c 'import hmac,hashlib; print(hmac.new(b"0123456789abcdef"*4,
        //   b"1700000000:req-1:/mfn.v1.MFNSimulationService/RunSimulation",
        //   hashlib.sha256).hexdigest())'
        let expected = "7833802f8cf740da4c899a75e3b3383044e03fbb88454e66ddd77362d65f12c1";
        assert_eq!(sign(KEY, "1700000000", "req-1", PATH), expected);
        assert!(verify_signature(KEY, "1700000000", "req-1", PATH, expected));
        assert!(!verify_signature(
            KEY,
            "1700000001",
            "req-1",
            PATH,
            expected
        ));
        assert!(!verify_signature(
            KEY,
            "1700000000",
            "req-1",
            "/x/Y",
            expected
        ));
        assert!(!verify_signature(
            KEY,
            "1700000000",
            "req-1",
            PATH,
            &expected[..63]
        ));
        assert!(!verify_signature(KEY, "1700000000", "req-1", PATH, "zz"));
    }

    fn state(mode: AuthMode, scopes: Scopes) -> AuthState {
        let key = ApiKey {
            scopes,
            ..ApiKey::from_hash(hash_key(KEY))
        };
        let layer = AuthLayer::new(
            mode,
            Arc::new(KeySet::new(vec![key])),
            Duration::from_secs(300),
        );
        Arc::try_unwrap(layer.state).unwrap_or_else(|_| unreachable!())
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    fn signed(ts: u64, id: &str, path: &str) -> HeaderMap {
        let t = ts.to_string();
        headers(&[
            ("x-api-key", KEY),
            ("x-timestamp", &t),
            ("x-request-id", id),
            ("x-signature", &sign(KEY, &t, id, path)),
        ])
    }

    #[test]
    fn every_failure_has_its_reason() {
        let now = 1_700_000_000;
        let s = state(AuthMode::Signed, Scopes::COMPUTE);
        let fail = |h: &HeaderMap| s.authenticate(h, PATH, now).1.unwrap_err().reason();
        assert_eq!(fail(&headers(&[])), "missing_key");
        assert_eq!(fail(&headers(&[("x-api-key", "nope")])), "unknown_key");
        assert_eq!(fail(&headers(&[("x-api-key", KEY)])), "bad_signature");
        assert_eq!(fail(&signed(now - 301, "a", PATH)), "expired");
        assert_eq!(fail(&signed(now + 301, "b", PATH)), "expired");
        assert_eq!(
            fail(&signed(now, "c", "/mfn.v1.MyceliumService/Simulate")),
            "bad_signature"
        );
        assert!(
            s.authenticate(&signed(now - 300, "d", PATH), PATH, now)
                .1
                .is_ok()
        );
        assert!(
            s.authenticate(&signed(now + 300, "e", PATH), PATH, now)
                .1
                .is_ok()
        );
        assert_eq!(fail(&signed(now, "d", PATH)), "replay");

        let k = state(AuthMode::Key, Scopes::COMPUTE);
        let bearer = format!("Bearer {KEY}");
        let h = headers(&[("authorization", &bearer)]);
        let (m, r) = k.authenticate(&h, PATH, now);
        assert_eq!((m.map(|(i, _)| i), r), (Some(0), Ok(())));
        let admin = state(AuthMode::Key, Scopes::none().with(Scope::Admin));
        let (i, r) = admin.authenticate(&headers(&[("x-api-key", KEY)]), PATH, now);
        assert_eq!(
            (i.map(|(i, _)| i), r.unwrap_err().reason()),
            (Some(0), "scope")
        );
        assert_eq!(
            AuthFailure::Scope(Scope::Compute).error().code,
            ErrorCode::PermissionDenied
        );
    }

    #[test]
    fn replay_cache_is_bounded_per_key_and_forgets_expired_ids() {
        let cache = ReplayCache::new(3);
        for id in ["a", "b", "c"] {
            assert!(cache.insert(0, id, 100, 10));
        }
        assert!(!cache.insert(0, "a", 100, 10));
        // Another key has its own ids.
        assert!(cache.insert(1, "a", 100, 10));
        // A fourth id evicts the oldest of this key only.
        assert!(cache.insert(0, "d", 100, 10));
        assert_eq!((cache.len(0), cache.len(1)), (3, 1));
        assert!(cache.insert(0, "a", 100, 10), "evicted, so no longer known");
        assert!(!cache.insert(0, "c", 100, 10));
        assert!(!cache.insert(1, "a", 100, 10));
        // Past their expiry the ids are dropped.
        assert!(cache.insert(0, "c", 200, 100));
        assert_eq!(cache.len(0), 1);
    }

    #[test]
    fn the_default_bound_holds_across_keys() {
        assert_eq!((REPLAY_CAPACITY / 10).max(REPLAY_MIN_PER_KEY), 10_000);
        let cache = ReplayCache::new(REPLAY_MIN_PER_KEY);
        for i in 0..(REPLAY_MIN_PER_KEY * 2) {
            assert!(cache.insert(7, &i.to_string(), u64::MAX, 0));
        }
        assert_eq!(cache.len(7), REPLAY_MIN_PER_KEY);
    }
}
