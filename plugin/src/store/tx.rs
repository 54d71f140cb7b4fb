//! Write transactions, managed by the store itself rather than by the driver.
//!
//! The driver's transaction guard keeps its own count of open transactions per connection.
//! When SQLite rolled a transaction back on its own (it does on a full disk), that count
//! stayed at one, the connection went back to the pool looking healthy, and every later
//! `BEGIN` on it failed with `InvalidSavePointStatement` until a restart. Here the store
//! issues `BEGIN`, `COMMIT` and `ROLLBACK` itself, and a connection whose transaction state
//! is in doubt — a failed `COMMIT` or `ROLLBACK` — is closed instead of pooled.

use tokio::sync::OwnedMutexGuard;

use super::db::{Connection, Engine};
use crate::Result;

/// A write transaction holding the process-wide writer lock (and, on SQLite, the database's
/// write lock; on PostgreSQL, the writers' advisory lock). Dropping it without `commit`
/// rolls back, then frees the lock.
pub struct WriteTx {
    conn: Option<Connection>,
    writer: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub(super) async fn begin(
        conn: Connection,
        writer: OwnedMutexGuard<()>,
        lock_key: i64,
    ) -> Result<WriteTx> {
        // The transaction owns the connection before BEGIN is sent: a caller that goes away
        // meanwhile (a client that hung up) drops it, and the drop rolls back. A connection
        // dropped bare here went back to the pool while its BEGIN IMMEDIATE still ran, and
        // then sat there holding the write lock for every other writer to time out on.
        let mut tx = WriteTx {
            conn: Some(conn),
            writer: Some(writer),
        };
        let conn = tx.conn.as_mut().expect("just set");
        let begun = match conn.engine() {
            // IMMEDIATE takes SQLite's write lock up front, so read-then-write sequences
            // (a redemption) are serialised instead of failing with a lock upgrade error.
            Engine::Sqlite => conn.batch("BEGIN IMMEDIATE").await,
            Engine::Postgres => match conn.batch("BEGIN").await {
                Ok(()) => super::db::query("SELECT pg_advisory_xact_lock(?)")
                    .bind(lock_key)
                    .execute(&mut *conn)
                    .await
                    .map(|_| ()),
                Err(e) => Err(e),
            },
        };
        if let Err(e) = begun {
            // BEGIN failed (SQLITE_BUSY after the timeout, a lost server): the connection may
            // or may not be inside a transaction. Do not pool it.
            if let Some(conn) = tx.conn.as_mut() {
                conn.discard();
            }
            return Err(e.into());
        }
        Ok(tx)
    }

    pub async fn commit(mut self) -> Result<()> {
        // The connection stays in the transaction until COMMIT has answered: dropped while it
        // runs, the transaction's drop rolls back what did not commit (or finds nothing left
        // to roll back) before the writer lock is freed.
        let conn = self
            .conn
            .as_mut()
            .expect("a live transaction has its connection");
        match conn.batch("COMMIT").await {
            Ok(()) => {
                conn.health().recovered();
                drop(self.conn.take());
                Ok(())
            }
            Err(e) => {
                // A failed COMMIT may have left the transaction open (SQLITE_BUSY) or rolled
                // it back (SQLITE_FULL). Try to end it; either way the connection is closed.
                conn.discard();
                let _ = conn.batch("ROLLBACK").await;
                drop(self.conn.take());
                Err(e.into())
            }
        }
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        let writer = self.writer.take();
        match tokio::runtime::Handle::try_current() {
            // Roll back before the writer lock is freed, so the next writer never meets this
            // transaction's lock.
            Ok(rt) => {
                rt.spawn(async move {
                    if conn.batch("ROLLBACK").await.is_err() {
                        conn.discard();
                    }
                    drop(conn);
                    drop(writer);
                });
            }
            // No runtime to roll back on: closing the connection rolls back.
            Err(_) => {
                conn.discard();
                drop(conn);
                drop(writer);
            }
        }
    }
}

impl std::ops::Deref for WriteTx {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
            .as_ref()
            .expect("a live transaction has its connection")
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn
            .as_mut()
            .expect("a live transaction has its connection")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::{Cause, Connection, Engine, Store, query, testing};

    /// A row of the probe table, `size` bytes of filler.
    async fn put(conn: &mut Connection, id: i64, size: usize) -> Result<u64, sqlx::Error> {
        query("INSERT INTO store_probe (id, filler) VALUES (?, ?)")
            .bind(id)
            .bind(vec![7u8; size])
            .execute(conn)
            .await
    }

    /// A database that ran out of room writes again once room is back, on the same pool and
    /// without a restart; while it cannot, its health says why. (Before the store managed its
    /// own transactions, the driver's transaction count on a connection that SQLite had
    /// rolled back stayed at one, and every later write on it failed.)
    #[tokio::test]
    async fn a_full_database_writes_again_once_room_is_back() {
        if testing::engine() != Engine::Sqlite {
            return; // the size cap is SQLite's; PostgreSQL faults are tested black-box
        }
        let (mut settings, _db) = testing::settings();
        settings.max_connections = 2;
        settings.max_size_mib = 1;
        let store = Store::open(&settings).await.unwrap();
        let mut full = None;
        for i in 0..1000i64 {
            let mut tx = store.write().await.unwrap();
            let inserted = put(&mut tx, i + 10, 8192).await;
            match inserted {
                Ok(_) => tx.commit().await.unwrap(),
                Err(e) => {
                    full = Some(e);
                    break;
                }
            }
        }
        let e = full.expect("a 1 MiB database fills up");
        assert_eq!(
            super::super::fault::classify(&e),
            Some(Cause::DiskFull),
            "{e}"
        );
        assert_eq!(store.health().fault().unwrap().cause, Cause::DiskFull);
        assert!(
            store.writable(Duration::ZERO).await.is_err(),
            "probe fails while full"
        );
        // Every connection of the pool keeps failing cleanly (no poisoned transaction state).
        for _ in 0..4 {
            let mut tx = store.write().await.unwrap();
            let err = put(&mut tx, 5000i64, 8192).await.unwrap_err();
            assert_eq!(super::super::fault::classify(&err), Some(Cause::DiskFull));
        }
        // Room comes back: deletes free pages for new rows.
        let mut tx = store.write().await.unwrap();
        query("DELETE FROM store_probe WHERE id >= 10 AND id < 60")
            .execute(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        for i in 0..4i64 {
            let mut tx = store.write().await.unwrap();
            put(&mut tx, 9000 + i, 8192)
                .await
                .expect("writes succeed again");
            tx.commit().await.unwrap();
        }
        assert!(store.health().fault().is_none());
        assert!(store.writable(Duration::ZERO).await.is_ok());
    }

    /// A database that turned read-only under the daemon: writes fail with that cause and the
    /// health says so; once it is writable again, the same pooled connection writes.
    #[tokio::test]
    async fn a_read_only_database_writes_again_once_writable() {
        if testing::engine() != Engine::Sqlite {
            return; // `query_only` is SQLite's; PostgreSQL faults are tested black-box
        }
        let (mut settings, _db) = testing::settings();
        settings.max_connections = 1;
        let store = Store::open(&settings).await.unwrap();
        let mut c = store.read().await.unwrap();
        c.batch("PRAGMA query_only = ON").await.unwrap();
        drop(c);
        // SQLite refuses even the write lock (BEGIN IMMEDIATE) on a read-only database.
        let err = match store.write().await {
            Err(e) => e,
            Ok(mut tx) => put(&mut tx, 1i64, 1).await.unwrap_err().into(),
        };
        assert_eq!(err.store_fault(), Some(Cause::ReadOnly), "{err}");
        assert_eq!(store.health().fault().unwrap().cause, Cause::ReadOnly);
        let mut c = store.read().await.unwrap();
        c.batch("PRAGMA query_only = OFF").await.unwrap();
        drop(c);
        let mut tx = store.write().await.unwrap();
        put(&mut tx, 1i64, 1).await.unwrap();
        tx.commit().await.unwrap();
        assert!(store.health().fault().is_none());
    }

    /// A transaction dropped without commit leaves nothing behind, and the connection serves
    /// the next writer.
    #[tokio::test]
    async fn a_dropped_transaction_rolls_back() {
        let (store, _db) = testing::store().await;
        {
            let mut tx = store.write().await.unwrap();
            put(&mut tx, 1i64, 1).await.unwrap();
        }
        let mut tx = store.write().await.unwrap();
        let n: i64 = query("SELECT count(*) FROM store_probe")
            .scalar(&mut tx)
            .await
            .unwrap();
        assert_eq!(n, 0);
        {
            let mut sp = tx.savepoint().await.unwrap();
            put(&mut sp, 2i64, 1).await.unwrap();
        }
        let mut kept = tx.savepoint().await.unwrap();
        put(&mut kept, 3i64, 1).await.unwrap();
        kept.release().await.unwrap();
        tx.commit().await.unwrap();
        let mut c = store.read().await.unwrap();
        let ids: Vec<i64> = query("SELECT id FROM store_probe ORDER BY id")
            .scalars(&mut c)
            .await
            .unwrap();
        assert_eq!(
            ids,
            vec![3],
            "the dropped savepoint's row is gone, the released one kept"
        );
    }

    /// A writer whose caller gave up while it waited for the database's write lock (a client
    /// that hung up while another process wrote) leaves no pooled connection inside a
    /// transaction: the next writers get the lock as soon as the other process lets go.
    #[tokio::test]
    async fn a_writer_dropped_while_waiting_for_the_lock_leaves_none_behind() {
        if testing::engine() != Engine::Sqlite {
            return; // PostgreSQL's writer lock is an advisory lock ended with the session
        }
        let (mut settings, _db) = testing::settings();
        settings.max_connections = 2;
        settings.busy_timeout = Duration::from_secs(3);
        let store = Store::open(&settings).await.unwrap();
        // Another process (a second pool on the same file) holds the write lock.
        let other = Store::open(&settings).await.unwrap();
        let held = other.write().await.unwrap();
        let gave_up = tokio::time::timeout(Duration::from_millis(100), store.write()).await;
        assert!(gave_up.is_err(), "the write lock was held elsewhere");
        drop(held);
        // The lock is free: every connection of the pool begins and commits at once, far
        // inside the busy timeout (the abandoned BEGIN would have kept the lock for good).
        for i in 0..4i64 {
            let started = std::time::Instant::now();
            let mut tx = store.write().await.unwrap();
            put(&mut tx, 100 + i, 1).await.unwrap();
            tx.commit().await.unwrap();
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "write {i} waited {:?}",
                started.elapsed()
            );
        }
    }
}
