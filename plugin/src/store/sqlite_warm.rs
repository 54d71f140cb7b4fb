//! SQLite connections kept locked, with their prepared statements, between uses.
//!
//! Giving a connection back to sqlx's pool cost more than most reads: the lock taken for
//! statements on the caller's thread (`sqlite_direct`) went back to the connection's own
//! thread and was taken again at the next checkout (a round trip each way), sqlx pinged the
//! connection's thread on every release, and each checkout parsed its statements anew (a
//! filtered SCIM GET spent more CPU in SQLite's parser than in running the query). So a
//! connection that leaves a checkout outside any transaction stays locked here, in this store's own list of idle connections, and the next checkout
//! takes it as it is. sqlx's pool sees such a connection as still in use: it never pings,
//! ages out or closes it behind the store's back (its cached statements would make SQLite
//! refuse the close). [`Warm::close`] gives them all back before the pool closes.
//!
//! The store's own permits bound the checkouts to the pool's size, and a permit is given
//! back only after its connection is kept or returned. So a checkout that finds no idle
//! connection holds one of at most `max` permits while every connection taken from sqlx's
//! pool is in use by another holder: there is room in sqlx's pool for it.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sqlx::Sqlite;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::SqlitePool;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::sqlite_direct::Direct;

/// How long a checkout waits for a connection (sqlx's own default).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// A store's SQLite connections outside sqlx's pool.
#[derive(Debug)]
pub(super) struct Warm {
    permits: Arc<Semaphore>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    idle: Vec<Kept>,
    closed: bool,
}

/// An idle connection, still locked.
struct Kept {
    /// Declared first: dropped (its statements finalized, its lock released) before the
    /// connection whose state it borrows.
    direct: Direct,
    conn: PoolConnection<Sqlite>,
}

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kept")
    }
}

/// A checked-out connection: locked already when it was kept (`direct`), or fresh from
/// sqlx's pool.
pub(super) struct Checkout {
    pub direct: Option<Direct>,
    pub conn: PoolConnection<Sqlite>,
    pub lease: Lease,
}

/// The right to one connection; gives the connection back through [`Lease::give_back`].
pub(super) struct Lease {
    warm: Arc<Warm>,
    _permit: OwnedSemaphorePermit,
}

impl Warm {
    pub(super) fn new(max_connections: u32) -> Arc<Warm> {
        Arc::new(Warm {
            permits: Arc::new(Semaphore::new(max_connections.max(1) as usize)),
            state: Mutex::default(),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is a list and two counters, each changed in one step: a panic elsewhere
        // cannot leave it half-changed.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection: an idle one if there is one, else a new checkout from `pool`.
    pub(super) async fn checkout(
        self: &Arc<Self>,
        pool: &SqlitePool,
    ) -> Result<Checkout, sqlx::Error> {
        let permit = tokio::time::timeout(ACQUIRE_TIMEOUT, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let lease = Lease {
            warm: self.clone(),
            _permit: permit,
        };
        let kept = {
            let mut state = self.state();
            if state.closed {
                return Err(sqlx::Error::PoolClosed);
            }
            state.idle.pop()
        };
        if let Some(Kept { direct, conn }) = kept {
            return Ok(Checkout {
                direct: Some(direct),
                conn,
                lease,
            });
        }
        Ok(Checkout {
            direct: None,
            conn: pool.acquire().await?,
            lease,
        })
    }

    /// Connections kept idle now.
    #[cfg(test)]
    fn idle(&self) -> usize {
        self.state().idle.len()
    }

    /// Gives every idle connection back to sqlx's pool, and every connection in use when
    /// its checkout ends: call before closing the pool, which waits for them.
    pub(super) fn close(&self) {
        let idle = {
            let mut state = self.state();
            state.closed = true;
            std::mem::take(&mut state.idle)
        };
        drop(idle);
    }
}

impl Lease {
    /// Ends a checkout: keeps the connection if it is locked and outside any transaction;
    /// otherwise it goes back to sqlx's pool (closed there when the store discarded it).
    ///
    /// A connection the store discarded (a failed COMMIT or ROLLBACK) is kept too when
    /// SQLite says no transaction is open: on the caller's side of the lock its state is
    /// SQLite's own, with every statement reset. Closing it would be worse than useless
    /// on a full disk: closing a database's last connection folds the log back into the
    /// database, and the next connection cannot be opened at all.
    pub(super) fn give_back(self, direct: Option<Direct>, conn: Option<PoolConnection<Sqlite>>) {
        let Some(conn) = conn else {
            return;
        };
        let mut direct = direct;
        let clean = direct.as_mut().is_some_and(|d| !d.in_transaction());
        let mut conn = conn;
        if direct.is_some() && !clean {
            // Left inside a transaction (nothing the store does ends that way: a writer rolls
            // back first): closed, so no later checkout runs inside it.
            conn.close_on_drop();
        }
        let mut state = self.warm.state();
        match direct {
            Some(direct) if clean && !state.closed => state.idle.push(Kept { direct, conn }),
            direct => {
                drop(state);
                drop(direct);
                drop(conn);
            }
        }
        // The permit goes last (`self` drops here): whoever takes it finds the connection.
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{self, store};
    use super::super::{Engine, Pool, Store, query};
    use super::*;

    fn warm(store: &Store) -> Arc<Warm> {
        match &store.pool {
            Pool::Sqlite { warm, .. } => warm.clone(),
            Pool::Postgres(_) => unreachable!("SQLite only"),
        }
    }

    /// Connections come back to the idle list and are taken from it again; two used at
    /// once make two; closing the store gives them back and the pool closes (it would wait
    /// for ever on a connection still kept).
    #[tokio::test]
    async fn connections_are_kept_reused_and_given_back_on_close() {
        if testing::engine() != Engine::Sqlite {
            return;
        }
        let (store, _db) = store().await;
        let warm = warm(&store);
        let mut a = store.read().await.unwrap();
        let one: i64 = query("SELECT 1").scalar(&mut a).await.unwrap();
        assert_eq!(one, 1);
        drop(a);
        assert_eq!(warm.idle(), 1);
        let mut a = store.read().await.unwrap();
        assert_eq!(warm.idle(), 0, "the kept one is taken again");
        let mut b = store.read().await.unwrap();
        let _: i64 = query("SELECT 2").scalar(&mut a).await.unwrap();
        let _: i64 = query("SELECT 3").scalar(&mut b).await.unwrap();
        drop((a, b));
        assert_eq!(warm.idle(), 2);
        tokio::time::timeout(Duration::from_secs(5), store.close())
            .await
            .expect("the pool closes");
        assert_eq!(warm.idle(), 0);
        assert!(
            store.read().await.is_err(),
            "a closed store hands out nothing"
        );
    }

    /// A connection dropped inside a transaction is not kept: the next checkout does not
    /// find itself inside it.
    #[tokio::test]
    async fn a_connection_left_in_a_transaction_is_not_kept() {
        if testing::engine() != Engine::Sqlite {
            return;
        }
        // One connection, so the next checkout gets the same one back (or a new one if it
        // was closed).
        let (mut settings, _db) = testing::settings();
        settings.max_connections = 1;
        let store = Store::open(&settings).await.unwrap();
        let warm = warm(&store);
        let mut a = store.read().await.unwrap();
        a.batch("BEGIN").await.unwrap();
        let _: i64 = query("SELECT count(*) FROM users")
            .scalar(&mut a)
            .await
            .unwrap();
        drop(a);
        assert_eq!(warm.idle(), 0);
        // sqlx returns (or closes) it in a task of its own.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut b = store.read().await.unwrap();
        b.batch("BEGIN")
            .await
            .expect("not inside an old transaction");
        b.batch("ROLLBACK").await.unwrap();
    }
}
