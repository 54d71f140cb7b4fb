//! In-memory token buckets for the sign-in forms: per client address and per user name. They
//! slow guessing down in front of the pass's own lock-out, which counts in the database.
//! Refusals are counted in `/metrics`; [`RefusalLog`] keeps them from flooding the log.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// How often one client's refusals may be logged.
pub const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Refusals {
    logged_at: Instant,
    since: u64,
}

/// Rate-limit refusals per client, for the log: one line per client per interval at most,
/// telling how many were refused since its last line. A flood costs a counter, not a line.
#[derive(Debug)]
pub struct RefusalLog {
    interval: Duration,
    clients: Mutex<HashMap<String, Refusals>>,
}

impl RefusalLog {
    pub fn new(interval: Duration) -> Self {
        RefusalLog {
            interval,
            clients: Mutex::default(),
        }
    }

    /// Counts a refusal for `client`. `Some(n)` when it is time to log: `n` refusals since the
    /// last line, this one included.
    pub fn refused(&self, client: &str) -> Option<u64> {
        self.refused_at(client, Instant::now())
    }

    fn refused_at(&self, client: &str, now: Instant) -> Option<u64> {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if clients.len() >= MAX_KEYS && !clients.contains_key(client) {
            clients.retain(|_, r| now.duration_since(r.logged_at) < self.interval);
            if clients.len() >= MAX_KEYS {
                // Memory stays bounded; at worst a client is logged again early.
                clients.clear();
            }
        }
        match clients.get_mut(client) {
            None => {
                clients.insert(
                    client.to_owned(),
                    Refusals {
                        logged_at: now,
                        since: 0,
                    },
                );
                Some(1)
            }
            Some(r) => {
                r.since += 1;
                if now.duration_since(r.logged_at) < self.interval {
                    return None;
                }
                let n = r.since;
                r.logged_at = now;
                r.since = 0;
                Some(n)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_logged_once_per_client_per_interval_with_their_count() {
        let log = RefusalLog::new(Duration::from_secs(60));
        let t = Instant::now();
        assert_eq!(log.refused_at("a", t), Some(1), "the first is told at once");
        for i in 1..1000 {
            assert_eq!(log.refused_at("a", t + Duration::from_millis(i)), None);
        }
        assert_eq!(log.refused_at("b", t), Some(1), "clients are independent");
        assert_eq!(
            log.refused_at("a", t + Duration::from_secs(60)),
            Some(1000),
            "then once an interval, with the count since the last line"
        );
        assert_eq!(log.refused_at("a", t + Duration::from_secs(61)), None);
    }

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
