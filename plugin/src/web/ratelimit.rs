//! In-memory token buckets for the sign-in forms: per client address and per user name. They
//! slow guessing down in front of the pass's own lock-out, which counts in the database.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// The most keys remembered; past it, full buckets are forgotten first.
const MAX_KEYS: usize = 100_000;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// `per_minute` attempts per key, refilled continuously, bursting up to the same number.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute: per_minute.max(1),
            buckets: Mutex::default(),
        }
    }

    /// Takes a token for `key`; `false` if none is left.
    pub fn allow(&self, key: &str) -> bool {
        self.allow_at(key, Instant::now())
    }

    fn allow_at(&self, key: &str, now: Instant) -> bool {
        let capacity = f64::from(self.per_minute);
        let rate = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(key) {
            buckets
                .retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < capacity);
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = now.duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bursts_then_refills() {
        let limiter = RateLimiter::new(3);
        let t = Instant::now();
        assert!((0..3).all(|_| limiter.allow_at("a", t)));
        assert!(!limiter.allow_at("a", t));
        assert!(limiter.allow_at("b", t), "keys are independent");
        assert!(!limiter.allow_at("a", t + Duration::from_secs(10)));
        assert!(limiter.allow_at("a", t + Duration::from_secs(21)));
    }
}
