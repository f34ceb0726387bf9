//! Repeated authentication failures from one client IP (IPv6: its /64) are throttled on
//! every door: after `MFN_AUTH_FAILURE_LIMIT` failures within `MFN_AUTH_FAILURE_WINDOW_S`
//! the address is refused with `RESOURCE_EXHAUSTED` (HTTP 429, `Retry-After`) for
//! `MFN_AUTH_FAILURE_BLOCK_S`, whatever it presents. Memory is bounded: at most
//! [`MAX_TRACKED`] addresses are remembered; expired entries are pruned first, then the
//! least-failed unblocked ones.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mfn_service::ServiceError;

use super::rate_limit::client_key;

/// Addresses remembered at most.
pub const MAX_TRACKED: usize = 65_536;

/// The throttle's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// `MFN_AUTH_FAILURE_LIMIT`: failures within the window that block the address.
    pub limit: u32,
    /// `MFN_AUTH_FAILURE_WINDOW_S`.
    pub window: Duration,
    /// `MFN_AUTH_FAILURE_BLOCK_S`.
    pub block: Duration,
}

/// Failures per client address; see the [module](self).
#[derive(Debug)]
pub struct AuthThrottle {
    config: ThrottleConfig,
    capacity: usize,
    clients: Mutex<HashMap<IpAddr, Failures>>,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    since: Instant,
    count: u32,
    blocked_until: Option<Instant>,
}

impl Failures {
    fn expired(&self, now: Instant, window: Duration) -> bool {
        match self.blocked_until {
            Some(until) => until <= now,
            None => now.duration_since(self.since) >= window,
        }
    }
}

impl AuthThrottle {
    /// A throttle remembering at most [`MAX_TRACKED`] addresses.
    pub fn new(config: ThrottleConfig) -> Self {
        Self::with_capacity(config, MAX_TRACKED)
    }

    /// A throttle remembering at most `capacity` addresses.
    pub fn with_capacity(config: ThrottleConfig, capacity: usize) -> Self {
        AuthThrottle {
            config,
            capacity: capacity.max(1),
            clients: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Failures>> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The refusal for `ip` while it is blocked.
    pub fn check(&self, ip: IpAddr) -> Result<(), ServiceError> {
        self.check_at(ip, Instant::now())
    }

    fn check_at(&self, ip: IpAddr, now: Instant) -> Result<(), ServiceError> {
        let clients = self.lock();
        let Some(until) = clients
            .get(&client_key(ip))
            .and_then(|f| f.blocked_until)
            .filter(|until| *until > now)
        else {
            return Ok(());
        };
        let retry = until.duration_since(now);
        metrics::counter!("mfn_auth_throttled_total").increment(1);
        Err(ServiceError::exhausted(
            format!(
                "too many failed authentications from this address: more than {} in {} s (MFN_AUTH_FAILURE_LIMIT); retry after {} s",
                self.config.limit,
                self.config.window.as_secs(),
                retry.as_secs().max(1)
            ),
            retry,
        ))
    }

    /// Count one failure of `ip`; `true` when it starts a block.
    pub fn failed(&self, ip: IpAddr) -> bool {
        self.failed_at(ip, Instant::now())
    }

    fn failed_at(&self, ip: IpAddr, now: Instant) -> bool {
        let key = client_key(ip);
        let mut clients = self.lock();
        if !clients.contains_key(&key) && clients.len() >= self.capacity {
            self.make_room(&mut clients, now);
        }
        let window = self.config.window;
        let entry = clients.entry(key).or_insert(Failures {
            since: now,
            count: 0,
            blocked_until: None,
        });
        if entry.expired(now, window) {
            *entry = Failures {
                since: now,
                count: 0,
                blocked_until: None,
            };
        }
        if entry.blocked_until.is_some() {
            return false;
        }
        entry.count += 1;
        if entry.count >= self.config.limit {
            entry.blocked_until = Some(now + self.config.block);
            metrics::counter!("mfn_auth_blocked_total").increment(1);
            tracing::warn!(
                failures = entry.count,
                window_s = window.as_secs(),
                block_s = self.config.block.as_secs(),
                "client address blocked after repeated authentication failures"
            );
            return true;
        }
        false
    }

    /// Addresses remembered now.
    pub fn tracked(&self) -> usize {
        self.lock().len()
    }

    fn make_room(&self, clients: &mut HashMap<IpAddr, Failures>, now: Instant) {
        let window = self.config.window;
        clients.retain(|_, f| !f.expired(now, window));
        if clients.len() < self.capacity {
            return;
        }
        // Still full of live entries: forget the least-failed unblocked one, else any.
        let victim = clients
            .iter()
            .filter(|(_, f)| f.blocked_until.is_none())
            .min_by_key(|(_, f)| f.count)
            .or_else(|| clients.iter().next())
            .map(|(ip, _)| *ip);
        if let Some(ip) = victim {
            clients.remove(&ip);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(capacity: usize) -> AuthThrottle {
        AuthThrottle::with_capacity(
            ThrottleConfig {
                limit: 3,
                window: Duration::from_secs(60),
                block: Duration::from_secs(300),
            },
            capacity,
        )
    }

    #[test]
    fn blocks_after_the_limit_within_the_window_until_the_block_ends() {
        let t = throttle(10);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        assert!(!t.failed_at(ip, t0));
        assert!(!t.failed_at(ip, t0));
        assert!(t.check_at(ip, t0).is_ok());
        assert!(t.failed_at(ip, t0), "the third failure blocks");
        let e = t.check_at(ip, t0 + Duration::from_secs(1)).unwrap_err();
        assert_eq!(e.code, mfn_service::ErrorCode::ResourceExhausted);
        assert_eq!(e.retry_after, Some(Duration::from_secs(299)));
        assert!(e.message.contains("MFN_AUTH_FAILURE_LIMIT"), "{e}");
        assert!(t.check_at(other, t0).is_ok());
        assert!(t.check_at(ip, t0 + Duration::from_secs(300)).is_ok());
        // Failures spread wider than the window never block.
        let slow: IpAddr = "192.0.2.3".parse().unwrap();
        for i in 0..10 {
            assert!(!t.failed_at(slow, t0 + Duration::from_secs(61 * i)));
        }
    }

    #[test]
    fn ipv6_counts_per_64_and_memory_is_bounded() {
        let t = throttle(4);
        let t0 = Instant::now();
        t.failed_at("2001:db8::1".parse().unwrap(), t0);
        t.failed_at("2001:db8::2".parse().unwrap(), t0);
        assert!(t.failed_at("2001:db8::3".parse().unwrap(), t0));
        for i in 0..100u32 {
            t.failed_at(IpAddr::from(i.to_be_bytes()), t0);
        }
        assert!(t.tracked() <= 4);
        // The blocked /64 was kept over the single failures.
        assert!(t.check_at("2001:db8::9".parse().unwrap(), t0).is_err());
    }
}
