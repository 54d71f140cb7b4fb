//! Which node runs the jobs that must run once (the LDAP schedule, purges): the leader.
//!
//! On SQLite there is one node, and it always leads. On PostgreSQL the leader is the node
//! whose dedicated connection holds a session-level advisory lock: the server frees the lock
//! the moment that session ends — a node killed with `kill -9` included, since the kernel
//! closes its socket — and another node's next attempt takes it, so leadership moves within
//! one interval. The dedicated connection is not a pooled one: a pooled connection would go
//! back to the pool still holding the lock.

use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection as _, PgConnection};
use tokio::sync::watch;

use super::{Pool, Store};

/// The advisory lock the leader holds ("tapblead").
const LEADER_LOCK: i64 = 0x7461_7062_6c65_6164;

/// Whether this node leads now.
#[derive(Debug, Clone)]
pub struct Leadership {
    leads: watch::Receiver<bool>,
}

impl Leadership {
    /// A node that always leads (SQLite, or tests).
    pub fn always() -> Leadership {
        let (tx, rx) = watch::channel(true);
        // The receiver keeps the last value after the sender is gone.
        drop(tx);
        Leadership { leads: rx }
    }

    pub fn leads(&self) -> bool {
        *self.leads.borrow()
    }

    /// Waits until this node leads.
    pub async fn wait(&mut self) {
        let _ = self.leads.wait_for(|l| *l).await;
    }
}

impl Store {
    /// This node's leadership, tried again every `interval` until `stop` turns true.
    pub fn leadership(&self, interval: Duration, stop: watch::Receiver<bool>) -> Leadership {
        let Pool::Postgres(pool) = &self.pool else {
            return Leadership::always();
        };
        let options = (*pool.connect_options()).clone();
        let (tx, rx) = watch::channel(false);
        tokio::spawn(campaign(options, interval, tx, stop));
        Leadership { leads: rx }
    }
}

async fn campaign(
    options: PgConnectOptions,
    interval: Duration,
    leads: watch::Sender<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let mut held: Option<PgConnection> = None;
    loop {
        held = match held.take() {
            // Still alive: the lock is still ours.
            Some(mut conn) => match sqlx::query("SELECT 1").execute(&mut conn).await {
                Ok(_) => Some(conn),
                Err(e) => {
                    tracing::warn!(error = %e, "leadership lost: its database session ended");
                    leads.send_replace(false);
                    None
                }
            },
            None => try_lead(&options).await,
        };
        if held.is_some() && !*leads.borrow() {
            tracing::info!("this node leads: it runs the scheduled jobs");
            leads.send_replace(true);
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    leads.send_replace(false);
    if let Some(conn) = held {
        // Frees the lock at once rather than when the server notices.
        let _ = conn.close().await;
    }
}

async fn try_lead(options: &PgConnectOptions) -> Option<PgConnection> {
    let mut conn = match options.connect().await {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(error = %e, "leadership: cannot connect");
            return None;
        }
    };
    let took: Result<bool, sqlx::Error> = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(LEADER_LOCK)
        .fetch_one(&mut conn)
        .await;
    match took {
        Ok(true) => Some(conn),
        Ok(false) => {
            let _ = conn.close().await;
            None
        }
        Err(e) => {
            tracing::debug!(error = %e, "leadership: lock attempt failed");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Engine, testing};
    use super::*;

    /// On PostgreSQL one of two stores leads; when its store stops, the other takes over.
    #[tokio::test]
    async fn one_leader_and_a_takeover() {
        let (a, _db) = testing::store().await;
        let (stop_a, rx_a) = watch::channel(false);
        let mut lead_a = a.leadership(Duration::from_millis(50), rx_a);
        if testing::engine() == Engine::Sqlite {
            assert!(lead_a.leads(), "a single SQLite node always leads");
            return;
        }
        tokio::time::timeout(Duration::from_secs(5), lead_a.wait())
            .await
            .expect("the only candidate leads");
        let Pool::Postgres(pool) = &a.pool else {
            unreachable!()
        };
        let mut settings = super::super::DatabaseSettings::postgres("");
        let url = {
            let o = pool.connect_options();
            format!(
                "postgres://{}@{}:{}/{}",
                o.get_username(),
                o.get_host(),
                o.get_port(),
                o.get_database().unwrap_or_default()
            )
        };
        if let super::super::Location::Postgres(pg) = &mut settings.location {
            pg.url = url;
        }
        let b = Store::open_without_migrating(&settings).await.unwrap();
        let (_stop_b, rx_b) = watch::channel(false);
        let mut lead_b = b.leadership(Duration::from_millis(50), rx_b);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            lead_a.leads() && !lead_b.leads(),
            "the first leader keeps leading"
        );
        stop_a.send_replace(true);
        tokio::time::timeout(Duration::from_secs(5), lead_b.wait())
            .await
            .expect("the other store takes over");
    }
}
