//! Rate limiting after authentication (SERVICE.md "Security").
//!
//! - An authenticated caller gets its key's token bucket (`rps=` in the key file, else
//!   `MFN_RATE_LIMIT_RPS`; the burst equals one second's worth) and in-flight limit
//!   (`concurrent=`, else `MFN_RATE_LIMIT_CONCURRENT`).
//! - An anonymous caller (auth `off`) gets a token bucket and an in-flight limit per
//!   client IP (`MFN_ANON_RATE_LIMIT_RPS`, `MFN_ANON_RATE_LIMIT_CONCURRENT`); IPv6 addresses are grouped by /64, since one host
//!   usually owns a whole /64. When the transport does not record the peer, all such
//!   callers share one bucket. The per-IP map is pruned of idle entries (a full bucket,
//!   i.e. idle for a second or more) whenever it holds more than
//!   [`ANON_TRACKED_IPS`] addresses, at most once per second; it therefore holds the
//!   addresses active in the last second plus at most that many. The in-flight map
//!   drops addresses with no request in flight once it reaches that size.
//! - In `MFN_ENV=dev` only, anonymous callers from a loopback address (127.0.0.0/8,
//!   `::1`) share one workstation allowance instead: at least [`DEV_LOOPBACK`]
//!   (2000 requests per second, 512 in flight; more if the anonymous limits are set
//!   higher), so a few dozen local agents or tests are not throttled into failure. It is
//!   bounded, and staging and prod never get it.
//! - Health and reflection are never limited: probes must not be throttled.
//!
//! The in-flight permit lives as long as the call: it moves from the request future into
//! the response body and is released when the body ends (trailers, end of stream or an
//! error) or is dropped — a finished or cancelled stream, a client that disconnects, a
//! handler that panics all drop it.
//!
//! A refusal is `RESOURCE_EXHAUSTED` whose message starts with `rate limited:` and ends
//! with the delay (`retry after N ms`), with `RetryInfo`, `retry-after`,
//! `x-ratelimit-limit` and `x-ratelimit-remaining: 0`, counted in
//! `grpc_rate_limit_exceeded_total{door, kind="rps"|"concurrency", api_key}` — one counter
//! for every door, under the seeds' name; `api_key` is the key's hash prefix, or
//! `anonymous`.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use http::header::HeaderValue;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use mfn_service::ServiceError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::{Layer, Service};

use super::keys::KeySet;
use super::{Caller, ErrorBody, is_open_path, peer_addr, reject_request};

/// Above this many tracked client IPs the map is pruned of idle entries.
pub const ANON_TRACKED_IPS: usize = 10_000;

/// The anonymous loopback allowance of `MFN_ENV=dev` (see the module docs).
pub const DEV_LOOPBACK: LoopbackLimits = LoopbackLimits {
    rps: 2000,
    concurrent: 512,
};

/// Limits shared by all anonymous loopback callers (dev only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopbackLimits {
    /// Requests per second.
    pub rps: u32,
    /// Requests in flight.
    pub concurrent: u32,
}

/// Applies the per-key and per-IP limits.
#[derive(Clone)]
pub struct RateLimitLayer {
    state: Arc<RateState>,
}

/// The [`RateLimitLayer`]'s service.
#[derive(Clone)]
pub struct RateLimitService<S> {
    inner: S,
    state: Arc<RateState>,
}

/// A response body that holds the caller's in-flight permit until it ends or is dropped.
#[derive(Debug, Default)]
pub struct PermitBody<B> {
    inner: B,
    permit: Option<OwnedSemaphorePermit>,
}

/// A long-lived call's hold on its caller's limits, from [`RateLimitLayer::admit`]: the
/// key's in-flight permit (none for anonymous callers), released when this is dropped.
#[derive(Debug)]
pub struct CallPermit {
    _permit: Option<OwnedSemaphorePermit>,
}

/// Defaults for keys without their own limits (settings `MFN_*RATE_LIMIT_*`).
pub use crate::config::RateLimits as Limits;

struct KeyLimit {
    rps: u32,
    bucket: DefaultDirectRateLimiter,
    concurrent: u32,
    in_flight: Arc<Semaphore>,
}

struct RateState {
    keys: Vec<KeyLimit>,
    /// Dev: the one allowance of anonymous loopback callers.
    loopback: Option<KeyLimit>,
    anon_rps: u32,
    anon: DefaultKeyedRateLimiter<IpAddr>,
    anon_unknown_peer: DefaultDirectRateLimiter,
    anon_concurrent: u32,
    /// In-flight permits per client key; an entry nobody holds a permit of is idle.
    anon_in_flight: Mutex<HashMap<IpAddr, Arc<Semaphore>>>,
    anon_unknown_in_flight: Arc<Semaphore>,
    started: Instant,
    last_prune_ms: AtomicU64,
    clock: DefaultClock,
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exceeded {
    Rps { limit: u32, retry: Duration },
    Concurrency { limit: u32 },
}

impl RateLimitLayer {
    /// Limits for every key of `keys`, with `defaults` where a key names none.
    pub fn new(keys: &KeySet, defaults: Limits) -> RateLimitLayer {
        Self::with_loopback(keys, defaults, None)
    }

    /// As [`new`](Self::new), with anonymous loopback callers sharing `loopback` (raised
    /// to the anonymous limits if those are higher) instead of the per-IP limits: what
    /// `MFN_ENV=dev` passes ([`DEV_LOOPBACK`]).
    pub fn with_loopback(
        keys: &KeySet,
        defaults: Limits,
        loopback: Option<LoopbackLimits>,
    ) -> RateLimitLayer {
        let loopback = loopback.map(|l| {
            let rps = l.rps.max(defaults.anon_rps).max(1);
            let concurrent = l.concurrent.max(defaults.anon_concurrent).max(1);
            KeyLimit {
                rps,
                bucket: RateLimiter::direct(quota(rps)),
                concurrent,
                in_flight: Arc::new(Semaphore::new(concurrent as usize)),
            }
        });
        let keys = keys
            .keys()
            .iter()
            .map(|k| {
                let rps = k.rps.unwrap_or(defaults.rps).max(1);
                let concurrent = k.concurrent.unwrap_or(defaults.concurrent).max(1);
                KeyLimit {
                    rps,
                    bucket: RateLimiter::direct(quota(rps)),
                    concurrent,
                    in_flight: Arc::new(Semaphore::new(concurrent as usize)),
                }
            })
            .collect();
        RateLimitLayer {
            state: Arc::new(RateState {
                keys,
                loopback,
                anon_rps: defaults.anon_rps.max(1),
                anon: RateLimiter::keyed(quota(defaults.anon_rps)),
                anon_unknown_peer: RateLimiter::direct(quota(defaults.anon_rps)),
                anon_concurrent: defaults.anon_concurrent.max(1),
                anon_in_flight: Mutex::new(HashMap::new()),
                anon_unknown_in_flight: Arc::new(Semaphore::new(
                    defaults.anon_concurrent.max(1) as usize
                )),
                started: Instant::now(),
                last_prune_ms: AtomicU64::new(0),
                clock: DefaultClock::default(),
            }),
        }
    }
}

impl RateLimitLayer {
    /// Admit one call outside the tower stack (a WebSocket subscription) against the
    /// same buckets and in-flight limits as the layer: a token of the caller's key, or of
    /// the client IP when anonymous, and for a key one in-flight permit, held until the
    /// returned [`CallPermit`] is dropped. A refusal is the layer's `RESOURCE_EXHAUSTED`
    /// error, counted in `grpc_rate_limit_exceeded_total{door="ws",kind,api_key}`.
    pub fn admit(
        &self,
        caller: Option<&Caller>,
        peer: Option<IpAddr>,
    ) -> Result<CallPermit, ServiceError> {
        let admitted = match caller {
            Some(caller) => self.state.admit_key(caller.index),
            None => self.state.admit_anonymous(peer),
        };
        admitted
            .map(|permit| CallPermit { _permit: permit })
            .map_err(|exceeded| exceeded.refusal("ws", caller).2)
    }
}

impl Exceeded {
    /// The metric kind, the limit and the error of this refusal; counts it.
    fn refusal(
        self,
        door: &'static str,
        caller: Option<&Caller>,
    ) -> (&'static str, u32, ServiceError) {
        let (kind, limit, error) = match self {
            Exceeded::Rps { limit, retry } => {
                // The bucket's exact wait, rounded up to whole milliseconds.
                let retry = Duration::from_millis(retry.as_micros().div_ceil(1000).max(1) as u64);
                (
                    "rps",
                    limit,
                    ServiceError::exhausted(
                        format!(
                            "rate limited: at most {limit} requests per second; retry after {} ms",
                            retry.as_millis()
                        ),
                        retry,
                    ),
                )
            }
            Exceeded::Concurrency { limit } => (
                "concurrency",
                limit,
                ServiceError::exhausted(
                    format!("rate limited: at most {limit} in flight; retry after 1000 ms"),
                    Duration::from_secs(1),
                ),
            ),
        };
        let api_key = caller.map_or_else(|| "anonymous".to_owned(), |c| c.key.hash_prefix());
        metrics::counter!(
            "grpc_rate_limit_exceeded_total",
            "door" => door,
            "kind" => kind,
            "api_key" => api_key
        )
        .increment(1);
        (kind, limit, error)
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimitService<S>;

    fn layer(&self, inner: S) -> RateLimitService<S> {
        RateLimitService {
            inner,
            state: self.state.clone(),
        }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RateLimitService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: ErrorBody + Send + 'static,
{
    type Response = Response<PermitBody<ResBody>>;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn Future<Output = Result<Response<PermitBody<ResBody>>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let admitted = if is_open_path(req.uri().path()) {
            Ok(None)
        } else if let Some(caller) = req.extensions().get::<Caller>() {
            self.state.admit_key(caller.index)
        } else {
            self.state.admit_anonymous(peer_addr(&req).map(|a| a.ip()))
        };
        match admitted {
            Ok(permit) => Box::pin(async move {
                // From here the permit is owned by this future, then by the body: a
                // cancelled or panicking call drops it with them.
                let response = inner.call(req).await?;
                Ok(response.map(|inner| PermitBody { inner, permit }))
            }),
            Err(exceeded) => {
                let (_, limit, error) =
                    exceeded.refusal(super::door_of(&req), req.extensions().get::<Caller>());
                let mut response = reject_request::<ResBody, _>(&req, error);
                let headers = response.headers_mut();
                headers.insert("x-ratelimit-limit", HeaderValue::from(limit));
                headers.insert("x-ratelimit-remaining", HeaderValue::from(0u32));
                Box::pin(std::future::ready(Ok(response.map(|inner| PermitBody {
                    inner,
                    permit: None,
                }))))
            }
        }
    }
}

impl RateState {
    fn admit_key(&self, index: usize) -> Result<Option<OwnedSemaphorePermit>, Exceeded> {
        match self.keys.get(index) {
            Some(limit) => self.admit_limit(limit),
            None => Ok(None),
        }
    }

    fn admit_limit(&self, limit: &KeyLimit) -> Result<Option<OwnedSemaphorePermit>, Exceeded> {
        let permit =
            limit
                .in_flight
                .clone()
                .try_acquire_owned()
                .map_err(|_| Exceeded::Concurrency {
                    limit: limit.concurrent,
                })?;
        limit.bucket.check().map_err(|not_until| Exceeded::Rps {
            limit: limit.rps,
            retry: not_until.wait_time_from(self.clock.now()),
        })?;
        Ok(Some(permit))
    }

    fn admit_anonymous(
        &self,
        ip: Option<IpAddr>,
    ) -> Result<Option<OwnedSemaphorePermit>, Exceeded> {
        if let (Some(limit), Some(true)) = (
            &self.loopback,
            ip.map(|ip| ip.is_loopback() || client_key(ip).is_loopback()),
        ) {
            return self.admit_limit(limit);
        }
        let too_many = |_| Exceeded::Concurrency {
            limit: self.anon_concurrent,
        };
        let (permit, checked) = match ip {
            Some(ip) => {
                self.prune();
                let key = client_key(ip);
                let permit = self
                    .anon_semaphore(key)
                    .try_acquire_owned()
                    .map_err(too_many)?;
                (permit, self.anon.check_key(&key))
            }
            None => {
                let permit = self
                    .anon_unknown_in_flight
                    .clone()
                    .try_acquire_owned()
                    .map_err(too_many)?;
                (permit, self.anon_unknown_peer.check())
            }
        };
        checked.map_err(|not_until| Exceeded::Rps {
            limit: self.anon_rps,
            retry: not_until.wait_time_from(self.clock.now()),
        })?;
        Ok(Some(permit))
    }

    /// The in-flight semaphore of a client key, created on first use. Past
    /// [`ANON_TRACKED_IPS`] entries, idle ones (no permit out) are dropped first.
    fn anon_semaphore(&self, key: IpAddr) -> Arc<Semaphore> {
        let mut map = self
            .anon_in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(s) = map.get(&key) {
            return s.clone();
        }
        if map.len() >= ANON_TRACKED_IPS {
            map.retain(|_, s| Arc::strong_count(s) > 1);
        }
        let s = Arc::new(Semaphore::new(self.anon_concurrent as usize));
        map.insert(key, s.clone());
        s
    }

    fn prune(&self) {
        if self.anon.len() <= ANON_TRACKED_IPS {
            return;
        }
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_prune_ms.load(Ordering::Relaxed);
        if now_ms.saturating_sub(last) < 1_000
            || self
                .last_prune_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        self.anon.retain_recent();
        self.anon.shrink_to_fit();
    }
}

impl<B: Body + Unpin> Body for PermitBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        let finished = match &polled {
            Poll::Ready(None | Some(Err(_))) => true,
            Poll::Ready(Some(Ok(frame))) => frame.is_trailers(),
            Poll::Pending => false,
        };
        if finished {
            this.permit = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: ErrorBody> ErrorBody for PermitBody<B> {
    fn from_json(json: String) -> Self {
        PermitBody {
            inner: B::from_json(json),
            permit: None,
        }
    }
}

impl<B> PermitBody<B> {
    /// Whether the body still holds an in-flight permit.
    pub fn holds_permit(&self) -> bool {
        self.permit.is_some()
    }
}

fn quota(rps: u32) -> Quota {
    Quota::per_second(NonZeroU32::new(rps).unwrap_or(NonZeroU32::MIN))
}

/// The bucket key of a client: its IPv4 address, or its IPv6 /64.
pub(crate) fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                IpAddr::V6(octets.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::keys::{ApiKey, hash_key};

    fn layer(rps: u32, concurrent: u32) -> RateLimitLayer {
        let keys = KeySet::new(vec![ApiKey::from_hash(hash_key("k"))]);
        RateLimitLayer::new(
            &keys,
            Limits {
                rps,
                concurrent,
                anon_rps: 2,
                anon_concurrent: 2,
            },
        )
    }

    #[test]
    fn a_burst_over_the_rate_is_refused_with_a_retry_hint() {
        let l = layer(5, 100);
        let mut permits = Vec::new();
        for _ in 0..5 {
            permits.push(l.state.admit_key(0).unwrap());
        }
        match l.state.admit_key(0) {
            Err(Exceeded::Rps { limit: 5, retry }) => {
                assert!(
                    retry > Duration::ZERO && retry <= Duration::from_millis(200),
                    "{retry:?}"
                )
            }
            other => panic!("{:?}", other.map(|p| p.is_some())),
        }
    }

    #[test]
    fn permits_come_back_when_dropped() {
        let l = layer(1000, 2);
        let a = l.state.admit_key(0).unwrap();
        let _b = l.state.admit_key(0).unwrap();
        assert!(matches!(
            l.state.admit_key(0),
            Err(Exceeded::Concurrency { limit: 2 })
        ));
        drop(a);
        assert!(l.state.admit_key(0).unwrap().is_some());
    }

    #[test]
    fn the_permit_is_released_when_the_body_ends() {
        let l = layer(1000, 1);
        let permit = l.state.admit_key(0).unwrap();
        let mut body = PermitBody {
            inner: String::from("frame"),
            permit,
        };
        assert!(body.holds_permit());
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(matches!(
            Pin::new(&mut body).poll_frame(&mut cx),
            Poll::Ready(Some(Ok(_)))
        ));
        assert!(matches!(
            Pin::new(&mut body).poll_frame(&mut cx),
            Poll::Ready(None)
        ));
        assert!(!body.holds_permit());
        assert!(l.state.admit_key(0).is_ok());
    }

    #[test]
    fn anonymous_callers_are_limited_per_ip_and_per_ipv6_64() {
        let l = layer(1000, 10);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..2 {
            l.state.admit_anonymous(Some(a)).unwrap();
        }
        assert!(l.state.admit_anonymous(Some(a)).is_err());
        assert!(l.state.admit_anonymous(Some(b)).is_ok());
        let v6a: IpAddr = "2001:db8::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8::ffff:2".parse().unwrap();
        assert_eq!(client_key(v6a), client_key(v6b));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(client_key(mapped), a);
        for _ in 0..2 {
            l.state.admit_anonymous(None).unwrap();
        }
        assert!(l.state.admit_anonymous(None).is_err());
    }

    #[test]
    fn dev_loopback_callers_share_the_workstation_allowance() {
        let keys = KeySet::new(Vec::new());
        let defaults = Limits {
            rps: 1,
            concurrent: 1,
            anon_rps: 2,
            anon_concurrent: 2,
        };
        let l = RateLimitLayer::with_loopback(
            &keys,
            defaults,
            Some(LoopbackLimits {
                rps: 50,
                concurrent: 40,
            }),
        );
        let v4: IpAddr = "127.0.0.1".parse().unwrap();
        let v6: IpAddr = "::1".parse().unwrap();
        let held: Vec<_> = (0..40)
            .map(|i| {
                let ip = if i % 2 == 0 { v4 } else { v6 };
                l.state.admit_anonymous(Some(ip)).unwrap()
            })
            .collect();
        // Bounded: one shared in-flight limit for every loopback address.
        assert!(matches!(
            l.state.admit_anonymous(Some(v4)),
            Err(Exceeded::Concurrency { limit: 40 })
        ));
        drop(held);
        for _ in 0..10 {
            l.state.admit_anonymous(Some(v6)).unwrap();
        }
        assert!(matches!(
            l.state.admit_anonymous(Some(v4)),
            Err(Exceeded::Rps { limit: 50, .. })
        ));
        // Other addresses keep the per-IP limits; without the allowance, loopback too.
        let lan: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..2 {
            l.state.admit_anonymous(Some(lan)).unwrap();
        }
        assert!(l.state.admit_anonymous(Some(lan)).is_err());
        let plain = RateLimitLayer::new(&keys, defaults);
        for _ in 0..2 {
            plain.state.admit_anonymous(Some(v4)).unwrap();
        }
        assert!(plain.state.admit_anonymous(Some(v4)).is_err());
    }

    #[test]
    fn a_refusal_says_rate_limited_and_when_to_retry() {
        let e = Exceeded::Rps {
            limit: 5,
            retry: Duration::from_micros(199_001),
        }
        .refusal("rest", None)
        .2;
        assert_eq!(
            e.message,
            "rate limited: at most 5 requests per second; retry after 200 ms"
        );
        assert_eq!(e.retry_after, Some(Duration::from_millis(200)));
        let e = Exceeded::Concurrency { limit: 3 }.refusal("mcp", None).2;
        assert!(e.message.starts_with("rate limited:"), "{}", e.message);
        assert!(e.message.ends_with("retry after 1000 ms"), "{}", e.message);
    }

    #[test]
    fn anonymous_in_flight_is_limited_per_ip_and_comes_back() {
        let keys = KeySet::new(Vec::new());
        let l = RateLimitLayer::new(
            &keys,
            Limits {
                rps: 1,
                concurrent: 1,
                anon_rps: 1000,
                anon_concurrent: 2,
            },
        );
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = l.state.admit_anonymous(Some(a)).unwrap();
        let _second = l.state.admit_anonymous(Some(a)).unwrap();
        assert!(matches!(
            l.state.admit_anonymous(Some(a)),
            Err(Exceeded::Concurrency { limit: 2 })
        ));
        assert!(l.state.admit_anonymous(Some(b)).unwrap().is_some());
        drop(first);
        assert!(l.state.admit_anonymous(Some(a)).is_ok());
    }
}
