//! Exponential backoff with jitter, shared by every retry of the pipeline (transient
//! service errors, publishing, polling).

use std::time::Duration;

use rand::Rng;

/// How a failed step is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay ceiling of the first retry.
    pub initial: Duration,
    /// Largest delay between two attempts.
    pub max: Duration,
    /// Attempts before a bounded retry gives up (the first try included).
    pub max_attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(10),
            max_attempts: 8,
        }
    }
}

impl Backoff {
    /// The delay before retry number `retry` (1 for the first retry): the ceiling
    /// `min(max, initial · 2^(retry−1))`, of which the upper half is random ("equal
    /// jitter"), so retries of many workers spread out but never hammer.
    pub fn delay(&self, retry: u32) -> Duration {
        let ceiling = self
            .initial
            .saturating_mul(1u32 << retry.saturating_sub(1).min(20))
            .min(self.max);
        let half = ceiling / 2;
        let jitter = rand::rng().random_range(0..=half.as_micros() as u64);
        half + Duration::from_micros(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_ceiling_and_stay_jittered() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            max_attempts: 5,
        };
        for _ in 0..200 {
            let d1 = b.delay(1);
            assert!((Duration::from_millis(50)..=Duration::from_millis(100)).contains(&d1));
            let d3 = b.delay(3);
            assert!((Duration::from_millis(200)..=Duration::from_millis(400)).contains(&d3));
            let d30 = b.delay(30);
            assert!((Duration::from_millis(500)..=Duration::from_secs(1)).contains(&d30));
        }
        let spread: std::collections::HashSet<_> = (0..50).map(|_| b.delay(4)).collect();
        assert!(spread.len() > 10, "jitter must spread retries");
    }
}
