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
    on_end: Option<Box<dyn FnOnce() + Send>>,
}

impl WriteTx {
    pub(super) async fn begin(
        mut conn: Connection,
        writer: OwnedMutexGuard<()>,
        lock_key: i64,
    ) -> Result<WriteTx> {
        let begun = match conn.engine() {
            // IMMEDIATE takes SQLite's write lock up front, so read-then-write sequences
            // (a redemption) are serialised instead of failing with a lock upgrade error.
            Engine::Sqlite => conn.batch("BEGIN IMMEDIATE").await,
            Engine::Postgres => match conn.batch("BEGIN").await {
                Ok(()) => super::db::query("SELECT pg_advisory_xact_lock(?)")
                    .bind(lock_key)
                    .execute(&mut conn)
                    .await
                    .map(|_| ()),
                Err(e) => Err(e),
            },
        };
        let mut tx = WriteTx {
            conn: Some(conn),
            writer: Some(writer),
            on_end: None,
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

    /// Runs `f` when the transaction has ended, committed or not (the writer's timing).
    pub(super) fn on_end(&mut self, f: impl FnOnce() + Send + 'static) {
        self.on_end = Some(Box::new(f));
    }

    pub async fn commit(mut self) -> Result<()> {
        let mut conn = self
            .conn
            .take()
            .expect("a live transaction has its connection");
        match conn.batch("COMMIT").await {
            Ok(()) => {
                conn.health().recovered();
                Ok(())
            }
            Err(e) => {
                // A failed COMMIT may have left the transaction open (SQLITE_BUSY) or rolled
                // it back (SQLITE_FULL). Try to end it; either way the connection is closed.
                let _ = conn.batch("ROLLBACK").await;
                conn.discard();
                Err(e.into())
            }
        }
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        let on_end = self.on_end.take();
        let Some(mut conn) = self.conn.take() else {
            if let Some(f) = on_end {
                f();
            }
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
                    if let Some(f) = on_end {
                        f();
                    }
                });
            }
            // No runtime to roll back on: closing the connection rolls back.
            Err(_) => {
                conn.discard();
                drop(conn);
                drop(writer);
                if let Some(f) = on_end {
                    f();
                }
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
