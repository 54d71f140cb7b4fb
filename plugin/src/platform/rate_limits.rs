//! Attempt counters shared by every node of one database. Each node also keeps its own
//! in-memory buckets (the web layer's); these add the count across nodes, so two nodes behind
//! a load balancer do not double an attacker's allowance. With the embedded engine there is
//! one node, and its own buckets are the whole count: nothing is written per attempt.

use super::Platform;
use crate::Result;
use crate::store::{Engine, rate_limits};

/// One counting window.
const WINDOW_MS: i64 = 60_000;

/// What a shared counter limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitScope {
    /// Pass sign-ins per client address.
    PassSignInByAddress,
    /// Pass sign-ins per user name (lower-cased).
    PassSignInByUser,
}

impl LimitScope {
    fn as_str(self) -> &'static str {
        match self {
            LimitScope::PassSignInByAddress => "pass_sign_in_address",
            LimitScope::PassSignInByUser => "pass_sign_in_user",
        }
    }
}

impl Platform {
    /// Whether attempts are counted across nodes (the store is shared: PostgreSQL).
    pub fn shares_rate_limits(&self) -> bool {
        self.store.engine() == Engine::Postgres
    }

    /// Counts one attempt of `key` in the current one-minute window of every node together;
    /// false once more than `per_minute` were counted. The key is stored as a keyed hash: the
    /// table holds neither addresses nor user names, and an attacker's input has a fixed size.
    pub async fn count_shared_attempt(
        &self,
        scope: LimitScope,
        key: &str,
        per_minute: u32,
    ) -> Result<bool> {
        let now_ms = crate::store::ms(self.now());
        let window_start = now_ms - now_ms.rem_euclid(WINDOW_MS);
        let hashed = self
            .rate_limit_hasher
            .hash(scope.as_str().as_bytes(), key.as_bytes());
        let mut tx = self.store.write().await?;
        let count =
            rate_limits::count_attempt(&mut tx, scope.as_str(), &hashed, window_start).await?;
        tx.commit().await?;
        Ok(count <= i64::from(per_minute))
    }

    /// Deletes the counters of past windows; run every minute by the leading node.
    pub async fn purge_rate_limits(&self) -> Result<u64> {
        let now_ms = crate::store::ms(self.now());
        let window_start = now_ms - now_ms.rem_euclid(WINDOW_MS);
        let mut tx = self.store.write_background().await?;
        let purged = rate_limits::purge_before(&mut tx, window_start).await?;
        tx.commit().await?;
        Ok(purged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::testing::fixture;

    #[tokio::test]
    async fn shared_counters_refuse_past_the_limit_and_start_over_each_window() {
        let f = fixture().await;
        let (platform, clock) = (&f.platform, &f.clock);
        for _ in 0..3 {
            assert!(
                platform
                    .count_shared_attempt(LimitScope::PassSignInByUser, "nia@example.com", 3)
                    .await
                    .unwrap()
            );
        }
        assert!(
            !platform
                .count_shared_attempt(LimitScope::PassSignInByUser, "nia@example.com", 3)
                .await
                .unwrap()
        );
        // Another scope and another key count apart.
        assert!(
            platform
                .count_shared_attempt(LimitScope::PassSignInByAddress, "nia@example.com", 3)
                .await
                .unwrap()
        );
        assert!(
            platform
                .count_shared_attempt(LimitScope::PassSignInByUser, "leo@example.com", 3)
                .await
                .unwrap()
        );
        clock.advance(time::Duration::seconds(60));
        assert_eq!(platform.purge_rate_limits().await.unwrap(), 3);
        assert!(
            platform
                .count_shared_attempt(LimitScope::PassSignInByUser, "nia@example.com", 3)
                .await
                .unwrap()
        );
    }
}
