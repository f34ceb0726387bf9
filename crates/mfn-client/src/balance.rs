//! Client-side balancing over the replicas of one service.
//!
//! A [`ClientConfig::endpoint`](crate::ClientConfig::endpoint) names either one server
//! (`http://host:port`: one connection, as always), a static set (`http://a:1,http://b:2`)
//! or a DNS name whose every A/AAAA record is a replica (`dns:///mfn-headless:50051`, the
//! gRPC naming scheme; a Kubernetes headless Service answers with one record per ready
//! pod). For a set or a name this module keeps a [`Pool`]:
//!
//! - **membership**: the name is resolved through the system resolver (so `/etc/hosts`,
//!   search domains and `ndots` apply as for any program) at start, every
//!   `resolve_interval`, and at once (at most once a second) when a replica fails; the
//!   new set of addresses is diffed into the pool: new addresses get a connection, gone
//!   ones are dropped once their in-flight calls end. A failed or empty answer keeps
//!   the previous set, so a DNS outage does not empty the pool.
//! - **health**: each member keeps a `grpc.health.v1.Health/Watch` open; `NOT_SERVING`
//!   (a draining server) or a broken watch takes the member out of rotation, `SERVING`
//!   puts it back. A server without the health service counts as serving.
//! - **outlier ejection**: a call that fails with `UNAVAILABLE` on a member ejects it for
//!   250 ms, doubling with each consecutive failure up to 8 s, without waiting for its
//!   watch to notice.
//! - **choice**: among the best tier (serving and not ejected, then new members whose
//!   health is not known yet, then ejected ones, then the rest), two members at random
//!   and the one with fewer calls in flight ("power of two choices"). A retry avoids
//!   the members the call has already failed on while any other is left.
//! - **startup**: until a replica has *answered* once — a health watch got a reply
//!   (`SERVING`, `NOT_SERVING`, no health service, any status a server sends) or a call
//!   succeeded — a call waits for that, bounded by its deadline, instead of being sent;
//!   at the deadline it fails with `DEADLINE_EXCEEDED`, not retried. Without health
//!   checks it waits only for the first resolution to give members. Failures before a
//!   replica answered take no retry-throttle token.
//!
//! Why: replicas and their clients are often started together (a scale-out, a
//! rollout, a pod whose server listens a moment after the load starts). Sent at once,
//! the first calls would all fail with `UNAVAILABLE` (no address yet, or connection
//! refused), eject every member and empty the retry throttle, so every call then fails
//! without retry until successes refill it. gRPC clients queue such calls while the
//! channel is still connecting, and so does this pool. The wait ends for good at the
//! first answer: after that the fleet is known to exist, and a call that finds every
//! member down fails fast with `UNAVAILABLE` and is retried per policy, so an outage
//! never turns into calls hanging until their deadline. A replica that refuses
//! connections before any replica answered counts as "starting", not "down": that is
//! exactly the scale-out case.
//!
//! No membership protocol of our own: the platform (DNS, Kubernetes endpoints) says who
//! exists and each server says whether it serves.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tonic::Code;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::error::ClientError;

/// Shortest pause between two resolutions triggered by failures.
const MIN_RERESOLVE: Duration = Duration::from_secs(1);
/// First ejection of a failing member; doubles per consecutive failure.
const BASE_EJECTION: Duration = Duration::from_millis(250);
/// Longest ejection.
const MAX_EJECTION: Duration = Duration::from_secs(8);
/// Wait before a broken health watch is reopened; doubles up to `MAX_WATCH_BACKOFF`.
const WATCH_BACKOFF: Duration = Duration::from_millis(100);
const MAX_WATCH_BACKOFF: Duration = Duration::from_secs(2);
/// Longest wait before reopening a watch while no replica has answered yet: calls are
/// waiting for the first answer.
const MAX_STARTUP_WATCH_BACKOFF: Duration = Duration::from_millis(250);

/// Where the replicas are, as parsed from the endpoint string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// One URL: one channel, no pool.
    Single(String),
    /// A fixed list of URLs.
    Static(Vec<String>),
    /// Every address `host` resolves to, on `port`.
    Dns {
        /// The name to resolve.
        host: String,
        /// The port of every replica.
        port: u16,
    },
}

/// Health of a member as its watch last reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum EndpointHealth {
    /// No report yet (a new member).
    Unknown = 0,
    /// `SERVING`.
    Serving = 1,
    /// `NOT_SERVING` (draining) or another non-serving status.
    NotServing = 2,
    /// The watch could not be opened or broke: the replica is unreachable.
    Down = 3,
}

/// One member of a balanced client, as [`Client::endpoints`](crate::Client::endpoints)
/// reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointInfo {
    /// The member's URL (`http://10.1.2.3:50051`).
    pub url: String,
    /// Its health as its watch reports it.
    pub health: EndpointHealth,
    /// Whether it is ejected after failed calls.
    pub ejected: bool,
    /// Calls in flight on it.
    pub in_flight: usize,
}

/// Builds the tonic endpoint of a member from its URL.
pub(crate) type MakeEndpoint = Box<dyn Fn(&str) -> Result<Endpoint, ClientError> + Send + Sync>;

/// The members of a balanced client and the tasks that keep them current.
pub(crate) struct Pool {
    members: RwLock<Vec<Arc<Member>>>,
    make: MakeEndpoint,
    health_checks: bool,
    resolve_now: Notify,
    /// Whether a replica has answered once (see the module docs); never cleared.
    answered: AtomicBool,
    /// Woken when `answered` is set or the member set changes.
    changed: Notify,
    resolutions: AtomicU64,
    ejections: AtomicU64,
    next_id: AtomicU64,
    epoch: Instant,
}

/// Owns the resolver task; aborts it when the last client clone goes away.
pub(crate) struct PoolHandle {
    pub(crate) pool: Arc<Pool>,
    resolver: Mutex<Option<JoinHandle<()>>>,
}

/// One replica: its connection, health and load.
pub(crate) struct Member {
    pub(crate) id: u64,
    pub(crate) url: String,
    pub(crate) channel: Channel,
    state: Arc<MemberState>,
    watch: Option<JoinHandle<()>>,
}

struct MemberState {
    health: AtomicU8,
    in_flight: AtomicUsize,
    consecutive_failures: AtomicU32,
    /// Milliseconds since the pool's epoch until which the member is ejected.
    ejected_until_ms: AtomicU64,
}

/// A call in flight on a member; decrements its load when dropped.
pub(crate) struct InFlight {
    pub(crate) member: Arc<Member>,
}

impl Target {
    /// Parse an endpoint string (see the module docs).
    pub(crate) fn parse(endpoint: &str) -> Result<Target, ClientError> {
        let invalid = |m: String| Err(ClientError::InvalidConfig(m));
        let endpoint = endpoint.trim();
        if let Some(rest) = endpoint.strip_prefix("dns:") {
            // dns:///host:port or dns:host:port; an authority (a DNS server) is not
            // supported: the system resolver is used.
            let name = match rest.strip_prefix("//") {
                Some(r) => match r.split_once('/') {
                    Some(("", name)) => name,
                    Some((auth, _)) => {
                        return invalid(format!(
                            "endpoint {endpoint:?}: a dns authority ({auth}) is not supported; use dns:///host:port (the system resolver)"
                        ));
                    }
                    None => {
                        return invalid(format!(
                            "endpoint {endpoint:?}: expected dns:///host:port"
                        ));
                    }
                },
                None => rest,
            };
            let Some((host, port)) = name.rsplit_once(':') else {
                return invalid(format!(
                    "endpoint {endpoint:?}: dns target needs a port (dns:///host:port)"
                ));
            };
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let port: u16 = match port.parse() {
                Ok(p) if p > 0 => p,
                _ => {
                    return invalid(format!(
                        "endpoint {endpoint:?}: port {port:?} must be in [1, 65535]"
                    ));
                }
            };
            if host.is_empty() {
                return invalid(format!("endpoint {endpoint:?}: dns target needs a host"));
            }
            return Ok(Target::Dns {
                host: host.to_owned(),
                port,
            });
        }
        let urls: Vec<String> = endpoint
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        for url in &urls {
            if !url.starts_with("http://") && !url.starts_with("https://") {
                return invalid(format!(
                    "endpoint {url:?} must start with http://, https:// or be dns:///host:port"
                ));
            }
        }
        if urls.len() > 1
            && urls
                .iter()
                .any(|u| u.starts_with("https://") != urls[0].starts_with("https://"))
        {
            return invalid("endpoint list mixes http:// and https://".into());
        }
        match urls.len() {
            0 => invalid(format!("endpoint {endpoint:?} is empty")),
            1 => Ok(Target::Single(urls.into_iter().next().unwrap_or_default())),
            _ => Ok(Target::Static(urls)),
        }
    }
}

impl EndpointHealth {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => EndpointHealth::Serving,
            2 => EndpointHealth::NotServing,
            3 => EndpointHealth::Down,
            _ => EndpointHealth::Unknown,
        }
    }
}

impl Pool {
    pub(crate) fn new(make: MakeEndpoint, health_checks: bool) -> Arc<Pool> {
        Arc::new(Pool {
            members: RwLock::new(Vec::new()),
            make,
            health_checks,
            resolve_now: Notify::new(),
            answered: AtomicBool::new(false),
            changed: Notify::new(),
            resolutions: AtomicU64::new(0),
            ejections: AtomicU64::new(0),
            next_id: AtomicU64::new(1),
            epoch: Instant::now(),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Make the member set exactly `urls`: keep the members already there, add the
    /// new ones (with their health watch), drop the rest.
    pub(crate) fn update(self: &Arc<Self>, urls: &[String]) -> Result<(), ClientError> {
        let current: Vec<Arc<Member>> = self.members.read().map(|m| m.clone()).unwrap_or_default();
        let mut next = Vec::with_capacity(urls.len());
        let (mut added, mut kept) = (0usize, 0usize);
        for url in urls {
            if let Some(m) = current.iter().find(|m| &m.url == url) {
                next.push(m.clone());
                kept += 1;
                continue;
            }
            let endpoint = (self.make)(url)?;
            let channel = endpoint.connect_lazy();
            let state = Arc::new(MemberState {
                health: AtomicU8::new(if self.health_checks {
                    EndpointHealth::Unknown as u8
                } else {
                    EndpointHealth::Serving as u8
                }),
                in_flight: AtomicUsize::new(0),
                consecutive_failures: AtomicU32::new(0),
                ejected_until_ms: AtomicU64::new(0),
            });
            let watch = self.health_checks.then(|| {
                tokio::spawn(watch_health(
                    channel.clone(),
                    state.clone(),
                    Arc::downgrade(self),
                    url.clone(),
                ))
            });
            next.push(Arc::new(Member {
                id: self.next_id.fetch_add(1, Ordering::Relaxed),
                url: url.clone(),
                channel,
                state,
                watch,
            }));
            added += 1;
        }
        let removed = current.len() - kept;
        if added + removed > 0 {
            tracing::info!(
                added,
                removed,
                members = next.len(),
                "mfn-client: endpoint set changed"
            );
        }
        if let Ok(mut m) = self.members.write() {
            *m = next;
        }
        if added + removed > 0 {
            self.changed.notify_waiters();
        }
        Ok(())
    }

    /// Record that a replica answered: from now on calls no longer wait.
    fn set_answered(&self) {
        if !self.answered.swap(true, Ordering::AcqRel) {
            tracing::debug!("mfn-client: first replica answered");
            self.changed.notify_waiters();
        }
    }

    /// Whether a replica has answered once.
    pub(crate) fn answered(&self) -> bool {
        self.answered.load(Ordering::Acquire)
    }

    /// Whether a call may pick a member now rather than wait (see the module docs):
    /// once a replica answered; without health checks, as soon as there are members.
    pub(crate) fn usable(&self) -> bool {
        self.answered() || (!self.health_checks && self.members.read().is_ok_and(|m| !m.is_empty()))
    }

    /// Until [`usable`](Self::usable). The caller bounds it with its deadline.
    pub(crate) async fn wait_usable(&self) {
        loop {
            let changed = self.changed.notified();
            let mut changed = std::pin::pin!(changed);
            // Registered before the check, so a change in between is not missed.
            changed.as_mut().enable();
            if self.usable() {
                return;
            }
            if self.members.read().is_ok_and(|m| m.is_empty()) {
                // A failed first resolution is otherwise retried only after
                // `resolve_interval`; a waiting call asks for one now (at most once a
                // second).
                self.resolve_now.notify_one();
            }
            changed.await;
        }
    }

    /// The member for the next attempt, avoiding `avoid` (ids already failed in this
    /// call) while any other is left. `None` only when the pool is empty.
    pub(crate) fn pick(&self, avoid: &[u64]) -> Option<InFlight> {
        let members = self.members.read().ok()?;
        let now = self.now_ms();
        let rank = |m: &Member| -> u8 {
            let s = &m.state;
            let ejected = s.ejected_until_ms.load(Ordering::Relaxed) > now;
            let base = match (
                EndpointHealth::from_u8(s.health.load(Ordering::Relaxed)),
                ejected,
            ) {
                (EndpointHealth::Serving, false) => 0,
                (EndpointHealth::Unknown, false) => 1,
                (EndpointHealth::Serving | EndpointHealth::Unknown, true) => 2,
                _ => 3,
            };
            base + if avoid.contains(&m.id) { 4 } else { 0 }
        };
        let best = members.iter().map(|m| rank(m)).min()?;
        let tier: Vec<&Arc<Member>> = members.iter().filter(|m| rank(m) == best).collect();
        let chosen = match tier.len() {
            0 => return None,
            1 => tier[0],
            n => {
                let mut rng = rand::rng();
                let a = rng.random_range(0..n);
                let b = (a + rng.random_range(1..n)) % n;
                let load = |m: &Member| m.state.in_flight.load(Ordering::Relaxed);
                if load(tier[b]) < load(tier[a]) {
                    tier[b]
                } else {
                    tier[a]
                }
            }
        };
        chosen.state.in_flight.fetch_add(1, Ordering::Relaxed);
        Some(InFlight {
            member: chosen.clone(),
        })
    }

    /// Whether a member other than those in `avoid` is serving and not ejected.
    pub(crate) fn has_other_ready(&self, avoid: &[u64]) -> bool {
        let now = self.now_ms();
        self.members.read().is_ok_and(|ms| {
            ms.iter().any(|m| {
                !avoid.contains(&m.id)
                    && m.state.health.load(Ordering::Relaxed) == EndpointHealth::Serving as u8
                    && m.state.ejected_until_ms.load(Ordering::Relaxed) <= now
            })
        })
    }

    /// Record the outcome of an attempt on `member`: a transport failure or a
    /// draining server (`UNAVAILABLE`) ejects it and asks for a new resolution.
    pub(crate) fn report(&self, member: &Member, code: Option<Code>) {
        let s = &member.state;
        match code {
            None => {
                s.consecutive_failures.store(0, Ordering::Relaxed);
                self.set_answered();
            }
            Some(Code::Unavailable) => {
                let n = s.consecutive_failures.fetch_add(1, Ordering::Relaxed);
                let ejection = BASE_EJECTION
                    .saturating_mul(1u32 << n.min(16))
                    .min(MAX_EJECTION);
                let until = self.now_ms() + u64::try_from(ejection.as_millis()).unwrap_or(u64::MAX);
                s.ejected_until_ms.fetch_max(until, Ordering::Relaxed);
                self.ejections.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(endpoint = %member.url, ejection_ms = ejection.as_millis() as u64, "mfn-client: endpoint ejected");
                self.resolve_now.notify_one();
            }
            Some(_) => {}
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<EndpointInfo> {
        let now = self.now_ms();
        self.members
            .read()
            .map(|ms| {
                ms.iter()
                    .map(|m| EndpointInfo {
                        url: m.url.clone(),
                        health: EndpointHealth::from_u8(m.state.health.load(Ordering::Relaxed)),
                        ejected: m.state.ejected_until_ms.load(Ordering::Relaxed) > now,
                        in_flight: m.state.in_flight.load(Ordering::Relaxed),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn resolutions(&self) -> u64 {
        self.resolutions.load(Ordering::Relaxed)
    }

    pub(crate) fn ejections(&self) -> u64 {
        self.ejections.load(Ordering::Relaxed)
    }
}

impl PoolHandle {
    /// A pool over a fixed list of URLs.
    pub(crate) fn fixed(pool: Arc<Pool>, urls: &[String]) -> Result<PoolHandle, ClientError> {
        pool.update(urls)?;
        Ok(PoolHandle {
            pool,
            resolver: Mutex::new(None),
        })
    }

    /// A pool over the addresses of `host`, resolved now, then every `interval` and
    /// after failures. Fails if the name does not resolve now.
    pub(crate) async fn resolving(
        pool: Arc<Pool>,
        scheme: &'static str,
        host: String,
        port: u16,
        interval: Duration,
        eager: bool,
    ) -> Result<PoolHandle, ClientError> {
        if eager {
            let urls = resolve(scheme, &host, port)
                .await
                .map_err(|e| ClientError::InvalidConfig(format!("dns:///{host}:{port}: {e}")))?;
            pool.update(&urls)?;
            pool.resolutions.fetch_add(1, Ordering::Relaxed);
        }
        Ok(PoolHandle::start(pool, scheme, host, port, interval, eager))
    }

    /// Start the resolver task; `resolved` says whether the first resolution is done.
    pub(crate) fn start(
        pool: Arc<Pool>,
        scheme: &'static str,
        host: String,
        port: u16,
        interval: Duration,
        resolved: bool,
    ) -> PoolHandle {
        let task = tokio::spawn(resolve_loop(
            pool.clone(),
            scheme,
            host,
            port,
            interval,
            resolved,
        ));
        PoolHandle {
            pool,
            resolver: Mutex::new(Some(task)),
        }
    }
}

impl Drop for PoolHandle {
    fn drop(&mut self) {
        if let Ok(mut r) = self.resolver.lock()
            && let Some(task) = r.take()
        {
            task.abort();
        }
        // Members' watches stop when the members are dropped with the pool.
        if let Ok(mut m) = self.pool.members.write() {
            m.clear();
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        if let Some(w) = self.watch.take() {
            w.abort();
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.member.state.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The URLs of every address `host` resolves to (sorted, no duplicates).
async fn resolve(scheme: &str, host: &str, port: u16) -> std::io::Result<Vec<String>> {
    let mut addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
    addrs.sort();
    addrs.dedup();
    if addrs.is_empty() {
        return Err(std::io::Error::other("no addresses"));
    }
    Ok(addrs
        .into_iter()
        .map(|a| format!("{scheme}://{a}"))
        .collect())
}

async fn resolve_loop(
    pool: Arc<Pool>,
    scheme: &'static str,
    host: String,
    port: u16,
    interval: Duration,
    resolved: bool,
) {
    let mut last = Instant::now();
    if resolved {
        wait_for_trigger(&pool, interval, last).await;
    }
    loop {
        last = Instant::now();
        match resolve(scheme, &host, port).await {
            Ok(urls) => {
                pool.resolutions.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = pool.update(&urls) {
                    tracing::warn!(%host, error = %e, "mfn-client: cannot use the resolved addresses");
                }
            }
            Err(e) => {
                tracing::warn!(%host, port, error = %e, "mfn-client: resolution failed; keeping the previous endpoints")
            }
        }
        wait_for_trigger(&pool, interval, last).await;
    }
}

/// Until `interval` has passed since `last`, or a failure asked for a resolution
/// and `MIN_RERESOLVE` has passed.
async fn wait_for_trigger(pool: &Pool, interval: Duration, last: Instant) {
    tokio::select! {
        () = tokio::time::sleep_until((last + interval).into()) => {}
        () = pool.resolve_now.notified() => {
            tokio::time::sleep_until((last + MIN_RERESOLVE).into()).await;
        }
    }
}

/// Keep a `Health/Watch` open on one member and mirror its status.
async fn watch_health(
    channel: Channel,
    state: Arc<MemberState>,
    pool: std::sync::Weak<Pool>,
    url: String,
) {
    let set = |h: EndpointHealth| state.health.store(h as u8, Ordering::Relaxed);
    let mut backoff = WATCH_BACKOFF;
    loop {
        let mut client = HealthClient::new(channel.clone());
        let request = HealthCheckRequest {
            service: String::new(),
        };
        match client.watch(request).await {
            Ok(response) => {
                if let Some(p) = pool.upgrade() {
                    p.set_answered();
                }
                let mut updates = response.into_inner();
                loop {
                    match updates.message().await {
                        Ok(Some(update)) => {
                            let serving = update.status() == ServingStatus::Serving;
                            set(if serving {
                                EndpointHealth::Serving
                            } else {
                                EndpointHealth::NotServing
                            });
                            if serving {
                                backoff = WATCH_BACKOFF;
                            } else {
                                tracing::info!(endpoint = %url, status = update.status().as_str_name(), "mfn-client: endpoint not serving");
                            }
                        }
                        // A draining server ends the watch after NOT_SERVING: keep
                        // that status until a new watch says otherwise.
                        Ok(None) => break,
                        Err(_) => {
                            set(EndpointHealth::Down);
                            break;
                        }
                    }
                }
            }
            Err(status) if status.code() == Code::Unimplemented => {
                // No health service: assume serving, as gRPC clients do.
                set(EndpointHealth::Serving);
                if let Some(p) = pool.upgrade() {
                    p.set_answered();
                }
                return;
            }
            Err(status) => {
                set(EndpointHealth::Down);
                if let Some(p) = pool.upgrade() {
                    // A refused, timed-out or broken connection surfaces as one of
                    // these codes; any other code was sent by a server.
                    if !matches!(
                        status.code(),
                        Code::Unavailable
                            | Code::Cancelled
                            | Code::Unknown
                            | Code::DeadlineExceeded
                    ) {
                        p.set_answered();
                    }
                    p.resolve_now.notify_one();
                }
            }
        }
        tokio::time::sleep(backoff).await;
        let answered = pool.upgrade().is_some_and(|p| p.answered());
        let cap = if answered {
            MAX_WATCH_BACKOFF
        } else {
            MAX_STARTUP_WATCH_BACKOFF
        };
        backoff = (backoff * 2).min(cap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(
            Target::parse("http://a:1").unwrap(),
            Target::Single("http://a:1".into())
        );
        assert_eq!(
            Target::parse("http://a:1, http://b:2").unwrap(),
            Target::Static(vec!["http://a:1".into(), "http://b:2".into()])
        );
        assert_eq!(
            Target::parse("dns:///mfn-headless:50051").unwrap(),
            Target::Dns {
                host: "mfn-headless".into(),
                port: 50051
            }
        );
        assert_eq!(
            Target::parse("dns:[::1]:7").unwrap(),
            Target::Dns {
                host: "::1".into(),
                port: 7
            }
        );
        for bad in [
            "dns://8.8.8.8/mfn:1",
            "dns:///mfn",
            "dns:///mfn:0",
            "dns:///:5",
            "http://a:1,https://b:2",
            "a:1",
            " , ",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad} accepted");
        }
    }

    fn empty_pool(health_checks: bool) -> Arc<Pool> {
        Pool::new(
            Box::new(|u: &str| {
                Endpoint::from_shared(u.to_owned())
                    .map_err(|e| ClientError::InvalidConfig(e.to_string()))
            }),
            health_checks,
        )
    }

    fn pool_of(n: usize) -> Arc<Pool> {
        let pool = empty_pool(false);
        let urls: Vec<String> = (0..n)
            .map(|i| format!("http://127.0.0.1:{}", 1000 + i))
            .collect();
        pool.update(&urls).unwrap();
        pool
    }

    #[tokio::test]
    async fn calls_wait_for_a_first_answer_and_never_again() {
        // Health checks on, nothing listening: the watches fail, nobody answered.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let pool = empty_pool(true);
        pool.update(&[format!("http://127.0.0.1:{port}")]).unwrap();
        assert!(!pool.usable());
        let short = Duration::from_millis(200);
        assert!(
            tokio::time::timeout(short, pool.wait_usable())
                .await
                .is_err()
        );
        assert!(!pool.usable(), "a refused connection is not an answer");
        let waiting = {
            let p = pool.clone();
            tokio::spawn(async move { p.wait_usable().await })
        };
        // A success (here reported by hand) is an answer: the waiting call goes on.
        let member = pool.pick(&[]).unwrap();
        pool.report(&member.member, None);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the waiting call was not woken")
            .unwrap();
        // Failures afterwards do not bring the wait back.
        pool.report(&member.member, Some(Code::Unavailable));
        assert!(pool.usable());
    }

    #[tokio::test]
    async fn without_health_checks_calls_wait_only_for_members() {
        let pool = empty_pool(false);
        assert!(!pool.usable());
        let waiting = {
            let p = pool.clone();
            tokio::spawn(async move { p.wait_usable().await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        pool.update(&["http://127.0.0.1:1000".to_owned()]).unwrap();
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the waiting call was not woken")
            .unwrap();
        assert!(pool.usable() && !pool.answered());
    }

    #[tokio::test]
    async fn picks_avoid_failed_and_ejected_members() {
        let pool = pool_of(3);
        let first = pool.pick(&[]).unwrap();
        let id = first.member.id;
        // Retries avoid the member already tried while others are left.
        for _ in 0..50 {
            assert_ne!(pool.pick(&[id]).unwrap().member.id, id);
        }
        // An ejected member gets no traffic while others serve.
        pool.report(&first.member, Some(Code::Unavailable));
        assert!(pool.snapshot().iter().any(|e| e.ejected));
        for _ in 0..50 {
            assert_ne!(pool.pick(&[]).unwrap().member.id, id);
        }
        assert_eq!(pool.ejections(), 1);
        // With every member avoided, one is still returned.
        let all: Vec<u64> = pool.members.read().unwrap().iter().map(|m| m.id).collect();
        assert!(pool.pick(&all).is_some());
    }

    #[tokio::test]
    async fn update_keeps_existing_members_and_load_is_balanced() {
        let pool = pool_of(2);
        let before: Vec<u64> = pool.members.read().unwrap().iter().map(|m| m.id).collect();
        let urls = vec![
            "http://127.0.0.1:1001".to_owned(),
            "http://127.0.0.1:2000".to_owned(),
        ];
        pool.update(&urls).unwrap();
        let after: Vec<(u64, String)> = pool
            .members
            .read()
            .unwrap()
            .iter()
            .map(|m| (m.id, m.url.clone()))
            .collect();
        assert_eq!(after[0], (before[1], "http://127.0.0.1:1001".to_owned()));
        assert!(!before.contains(&after[1].0));
        // Held calls steer the next picks to the idle member (power of two choices
        // over two members always compares both).
        let held = pool.pick(&[]).unwrap();
        for _ in 0..20 {
            let next = pool.pick(&[]).unwrap();
            assert_ne!(next.member.id, held.member.id);
        }
    }
}
