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
