//! The `rate_limits` table: attempt counters shared by every node of one database, one row per
//! limited key and one-minute window.

use super::{Connection, query};
use crate::Result;

/// Counts one attempt of `key` in the window starting at `window_start` (ms) and returns the
/// window's count so far, this attempt included. A row left from an earlier window starts over.
pub async fn count_attempt(
    conn: &mut Connection,
    scope: &str,
    key: &[u8],
    window_start: i64,
) -> Result<i64> {
    Ok(query(
        "INSERT INTO rate_limits (scope, key, window_start, count) VALUES (?, ?, ?, 1)
         ON CONFLICT (scope, key) DO UPDATE SET
             count = CASE WHEN rate_limits.window_start = excluded.window_start
                          THEN rate_limits.count + 1 ELSE 1 END,
             window_start = excluded.window_start
         RETURNING count",
    )
    .bind(scope)
    .bind(key.to_vec())
    .bind(window_start)
    .scalar(conn)
    .await?)
}

/// Deletes the counters of windows that started before `window_start` (ms).
pub async fn purge_before(conn: &mut Connection, window_start: i64) -> Result<u64> {
    Ok(query("DELETE FROM rate_limits WHERE window_start < ?")
        .bind(window_start)
        .execute(conn)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;

    #[tokio::test]
    async fn counts_per_key_and_window_and_purges_old_windows() {
        let (store, _db) = testing::store().await;
        let mut tx = store.write().await.unwrap();
        assert_eq!(
            count_attempt(&mut tx, "user", b"a", 60_000).await.unwrap(),
            1
        );
        assert_eq!(
            count_attempt(&mut tx, "user", b"a", 60_000).await.unwrap(),
            2
        );
        assert_eq!(
            count_attempt(&mut tx, "user", b"b", 60_000).await.unwrap(),
            1
        );
        assert_eq!(
            count_attempt(&mut tx, "address", b"a", 60_000)
                .await
                .unwrap(),
            1
        );
        // The next window starts over.
        assert_eq!(
            count_attempt(&mut tx, "user", b"a", 120_000).await.unwrap(),
            1
        );
        assert_eq!(purge_before(&mut tx, 120_000).await.unwrap(), 2);
        assert_eq!(
            count_attempt(&mut tx, "user", b"a", 120_000).await.unwrap(),
            2
        );
        tx.commit().await.unwrap();
    }
}
