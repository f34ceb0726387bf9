//! Result cache for deterministic requests.
//!
//! Every MFN computation is a pure function of its validated request (all randomness
//! comes from the seed), so a result can be replayed byte for byte. The cache is an LRU
//! bounded twice: by entries and by the approximate bytes of the values. Keys are the
//! operation name plus the canonical (defaults applied) request, so `{}` and
//! `{"grid_size": 64}` share an entry.

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use lru::LruCache;

/// Whether a response came from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// Served from the cache.
    Hit,
    /// Computed and (if it fit) stored.
    Miss,
    /// Not cacheable (streams, disabled cache, too large).
    Bypass,
}

impl CacheStatus {
    /// `hit`, `miss` or `bypass`, as `ResponseMeta` reports it.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Hit => "hit",
            CacheStatus::Miss => "miss",
            CacheStatus::Bypass => "bypass",
        }
    }
}

/// Something with a known approximate heap size.
pub trait Weigh {
    /// Approximate bytes held by the value.
    fn weight(&self) -> usize;
}

/// An LRU cache bounded by entries and by total weight.
#[derive(Debug)]
pub struct ResultCache<V> {
    inner: Option<Mutex<Inner<V>>>,
    max_bytes: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

#[derive(Debug)]
struct Inner<V> {
    lru: LruCache<String, V>,
    bytes: usize,
}

impl<V: Clone + Weigh> ResultCache<V> {
    /// A cache of at most `max_entries` values and `max_bytes` bytes; either 0 disables it.
    pub fn new(max_entries: usize, max_bytes: usize) -> Self {
        let inner = NonZeroUsize::new(max_entries)
            .filter(|_| max_bytes > 0)
            .map(|n| {
                Mutex::new(Inner {
                    lru: LruCache::new(n),
                    bytes: 0,
                })
            });
        ResultCache {
            inner,
            max_bytes,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Whether the cache stores anything at all.
    pub fn enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Look `key` up, counting a hit or a miss.
    pub fn get(&self, key: &str) -> Option<V> {
        let inner = self.inner.as_ref()?;
        let found = inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .lru
            .get(key)
            .cloned();
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Store `value` under `key`, evicting least-recently-used entries until both
    /// bounds hold. A value larger than the byte budget is not stored.
    pub fn insert(&self, key: String, value: V) {
        let Some(inner) = self.inner.as_ref() else {
            return;
        };
        let w = value.weight() + key.len();
        if w > self.max_bytes {
            return;
        }
        let mut g = inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = g.lru.pop(&key) {
            g.bytes -= old.weight() + key.len();
        }
        while g.bytes + w > self.max_bytes {
            match g.lru.pop_lru() {
                Some((k, v)) => g.bytes -= v.weight() + k.len(),
                None => break,
            }
        }
        if let Some((k, v)) = g.lru.push(key, value) {
            // Evicted by the entry bound (or replaced); it is no longer held.
            g.bytes -= v.weight() + k.len();
        }
        g.bytes += w;
    }

    /// (entries, bytes) held now.
    pub fn usage(&self) -> (usize, usize) {
        self.inner.as_ref().map_or((0, 0), |m| {
            let g = m.lock().unwrap_or_else(|p| p.into_inner());
            (g.lru.len(), g.bytes)
        })
    }

    /// Lookups that hit (`mfn_cache_hits_total`).
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Lookups that missed (`mfn_cache_misses_total`).
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Blob(usize);
    impl Weigh for Blob {
        fn weight(&self) -> usize {
            self.0
        }
    }

    #[test]
    fn hit_after_insert_and_counts() {
        let c = ResultCache::new(4, 1000);
        assert_eq!(c.get("a"), None);
        c.insert("a".into(), Blob(10));
        assert_eq!(c.get("a"), Some(Blob(10)));
        assert_eq!((c.hits(), c.misses()), (1, 1));
    }

    #[test]
    fn zero_disables() {
        let c = ResultCache::new(0, 1000);
        c.insert("a".into(), Blob(1));
        assert_eq!(c.get("a"), None);
        assert!(!c.enabled());
    }

    #[test]
    fn too_large_values_are_not_stored() {
        let c = ResultCache::new(4, 100);
        c.insert("a".into(), Blob(200));
        assert_eq!(c.usage(), (0, 0));
    }

    proptest! {
        #[test]
        fn bounds_always_hold(ops in proptest::collection::vec((0u8..20, 0usize..300), 1..200)) {
            let c = ResultCache::new(5, 500);
            for (k, w) in ops {
                c.insert(format!("k{k}"), Blob(w));
                let (n, bytes) = c.usage();
                prop_assert!(n <= 5);
                prop_assert!(bytes <= 500);
                // The byte count is exact.
                let g = c.inner.as_ref().unwrap().lock().unwrap();
                let sum: usize = g.lru.iter().map(|(k, v)| k.len() + v.0).sum();
                prop_assert_eq!(sum, bytes);
            }
        }
    }
}
