//! The storage layer: the only code that writes SQL or names the database driver, for both
//! engines (SQLite, the embedded default; PostgreSQL, for several nodes). Each table family
//! has its own module; its functions take a `&mut Connection` so the platform can run several
//! inside one transaction.

pub mod audit;
pub mod ceremonies;
pub mod copy;
pub mod credentials;
mod db;
pub mod eam_links;
pub mod entra;
pub mod events;
pub mod fault;
pub mod groups;
pub mod handovers;
pub mod ldap;
mod leader;
pub mod migrate;
pub mod oidc_clients;
pub mod oidc_flows;
pub mod oidc_grants;
pub mod oidc_keys;
pub mod oidc_sessions;
pub mod outbox;
pub mod policies;
mod postgres;
pub mod rate_limits;
pub mod run_locks;
pub mod scim;
pub mod sessions;
mod settings;
pub mod sign_in;
mod sqlite;
mod sqlite_checkpoint;
mod sqlite_direct;
mod sqlite_warm;
pub mod taps;
pub mod tokens;
mod tx;
pub mod users;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sqlx::{PgPool, SqlitePool};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::StorageError;
use crate::{Error, Result};

pub use db::{
    Bind, Column, Connection, Engine, Query, QueryBuilder, Row, Savepoint, query, query_owned,
    row_chunks,
};
pub use fault::{Cause, Fault, Health};
pub use leader::Leadership;
pub use settings::{DatabaseSettings, Durability, Location, PostgresSettings};
pub use tx::WriteTx;

/// The longest a background writer leaves the write lock to another process that waits for
/// it (a marker left by a process that hung must not stall the daemon).
const YIELD_LIMIT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
enum Pool {
    Sqlite {
        pool: SqlitePool,
        /// Connections kept locked between checkouts (see `sqlite_warm`).
        warm: Arc<sqlite_warm::Warm>,
        path: PathBuf,
        waiting: &'static sqlite::Waiting,
        /// The checkpointer of the file's write-ahead log (see `sqlite_checkpoint`).
        checkpoints: Option<&'static sqlite_checkpoint::Checkpoints>,
    },
    Postgres(PgPool),
}

#[derive(Debug, Clone)]
pub struct Store {
    pool: Pool,
    writer: Arc<tx::Writer>,
    health: Arc<Health>,
    busy_timeout: Duration,
    /// A private copy made by [`Store::snapshot`]: what is written here is thrown away.
    snapshot: bool,
}

impl Store {
    /// Opens (creating if needed) the database and applies pending migrations.
    pub async fn open(settings: &DatabaseSettings) -> Result<Store> {
        // Migrate through a connection of its own, closed before the pool opens: no pooled
        // connection then holds a schema from before the migration.
        let mut one = settings.clone();
        one.max_connections = 1;
        let migrator = Self::open_without_migrating(&one).await?;
        migrate::run(&migrator).await?;
        migrator.close().await;
        Self::open_without_migrating(settings).await
    }

    pub async fn open_without_migrating(settings: &DatabaseSettings) -> Result<Store> {
        let pool = match &settings.location {
            Location::Sqlite(path) => {
                let (pool, waiting, checkpoints) = sqlite::open(path, settings).await?;
                Pool::Sqlite {
                    pool,
                    checkpoints,
                    warm: sqlite_warm::Warm::new(settings.max_connections),
                    path: path.clone(),
                    waiting,
                }
            }
            Location::Postgres(pg) => Pool::Postgres(postgres::open(pg, settings).await?),
        };
        let health = Arc::new(Health::default());
        if let Location::Sqlite(path) = &settings.location {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
            health.watch_space_of(dir.unwrap_or(std::path::Path::new(".")).to_path_buf());
        }
        Ok(Store {
            pool,
            writer: Arc::new(tx::Writer::new(settings.group_commit_max)),
            health,
            busy_timeout: settings.busy_timeout,
            snapshot: false,
        })
    }

    pub fn engine(&self) -> Engine {
        match self.pool {
            Pool::Sqlite { .. } => Engine::Sqlite,
            Pool::Postgres(_) => Engine::Postgres,
        }
    }

    /// A consistent copy of the database beside it (same file system, same protected
    /// folder), opened as a store of its own: a dry run writes there as a real run would, so
    /// each batch sees what the ones before it would have done, while the live database is
    /// only read (no write lock is held, the daemon goes on). [`Store::discard`] removes it.
    pub async fn snapshot(&self) -> Result<Store> {
        let Pool::Sqlite { pool, .. } = &self.pool else {
            return Err(Error::Internal(
                "snapshots are made of SQLite databases only".into(),
            ));
        };
        let live = pool.connect_options().get_filename().to_owned();
        let mut name = live.file_name().unwrap_or_default().to_owned();
        name.push(format!(".dry-run-{}", uuid::Uuid::new_v4()));
        let path = live.with_file_name(name);
        let target = path
            .to_str()
            .ok_or_else(|| Error::Internal("snapshot path is not UTF-8".into()))?;
        let mut conn = self.read().await?;
        query("VACUUM INTO ?")
            .bind(target)
            .execute(&mut conn)
            .await?;
        drop(conn);
        let mut settings = DatabaseSettings::at(&path);
        settings.durability = Durability::Normal;
        settings.max_connections = 2;
        let mut store = Self::open_without_migrating(&settings).await?;
        store.snapshot = true;
        Ok(store)
    }

    pub fn is_snapshot(&self) -> bool {
        self.snapshot
    }

    /// Closes a snapshot and removes its files. Does nothing to a live store.
    pub async fn discard(self) {
        let Pool::Sqlite { pool, warm, .. } = &self.pool else {
            return;
        };
        if !self.snapshot {
            return;
        }
        let path = pool.connect_options().get_filename().to_owned();
        warm.close();
        pool.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }

    /// A write transaction. Writers of this process queue on an async mutex first: left to
    /// itself, a second SQLite writer waits in the busy handler; the queue hands the lock over
    /// the moment it is free, in arrival order. While others queue, concurrent writes commit
    /// together (see [`tx`]); `commit` still returns only once the write is committed.
    pub async fn write(&self) -> Result<WriteTx> {
        self.begin_write(tx::Sharing::Shared).await
    }

    /// A write transaction that commits alone: for a transaction that changes how the
    /// connection checks what comes after it (deferred foreign keys, checked only at COMMIT:
    /// a violation would fail every member of a batch), or that runs long (an import batch,
    /// whose length others' answers should not wait for). An open batch commits first.
    pub async fn write_alone(&self) -> Result<WriteTx> {
        self.begin_write(tx::Sharing::Alone).await
    }

    async fn begin_write(&self, sharing: tx::Sharing) -> Result<WriteTx> {
        // Runs to its end even if the caller goes away meanwhile (the transaction it returns
        // is then dropped, which rolls back): a connection dropped bare while BEGIN, or a
        // batch's SAVEPOINT, runs would go back to the pool inside a transaction and hold the
        // write lock for every later writer to time out on.
        let store = self.clone();
        tokio::spawn(async move { store.begin_write_now(sharing).await })
            .await
            .map_err(|e| Error::Internal(format!("a write transaction did not begin: {e}")))?
    }

    async fn begin_write_now(&self, sharing: tx::Sharing) -> Result<WriteTx> {
        let guard = match self.writer.lock(sharing).await {
            tx::Locked::Open(guard, batch) => {
                return WriteTx::join(guard, *batch, self.writer.clone()).await;
            }
            tx::Locked::Free(guard) => guard,
        };
        let conn = self.connection().await?;
        let begun = WriteTx::begin(
            conn,
            guard,
            self.writer.clone(),
            sharing,
            postgres::WRITER_LOCK,
        )
        .await;
        if let Pool::Sqlite { waiting, .. } = &self.pool {
            waiting.clear();
        }
        begun.map_err(|e| self.explain_busy(e))
    }

    /// SQLite's "database is locked" after the busy timeout, in words an operator can act on.
    fn explain_busy(&self, e: Error) -> Error {
        let Error::Storage(s) = &e else { return e };
        let busy = s
            .source
            .downcast_ref::<sqlx::Error>()
            .is_some_and(sqlite_direct::is_busy);
        if !busy || self.engine() != Engine::Sqlite {
            return e;
        }
        Error::Storage(StorageError {
            fault: None,
            source: format!(
                "another process held the database's write lock for longer than {} ms \
                 (database.busy_timeout_ms). A `tapbridge serve` on the same data directory \
                 frees it between transactions and lets waiting processes in; retry, or look \
                 for a process that hangs",
                self.busy_timeout.as_millis()
            )
            .into(),
        })
    }

    /// A write transaction for background work that runs batch after batch (event drains,
    /// purges, deliveries, directory imports). While another process waits for SQLite's
    /// write lock, it first leaves the lock free (up to [`YIELD_LIMIT`]): writers of this
    /// process already queue fairly, but nothing else would let the CLI beside `serve` in.
    /// It commits alone (see [`Store::write_alone`]).
    pub async fn write_background(&self) -> Result<WriteTx> {
        if let Pool::Sqlite { path, .. } = &self.pool {
            sqlite::yield_to_waiters(path, YIELD_LIMIT).await;
        }
        self.write_alone().await
    }

    /// A connection for reads (no transaction).
    pub async fn read(&self) -> Result<Connection> {
        self.connection().await
    }

    async fn connection(&self) -> Result<Connection> {
        let acquired = match &self.pool {
            Pool::Sqlite {
                pool: p,
                warm,
                waiting,
                ..
            } => warm
                .checkout(p)
                .await
                .map(|c| Connection::sqlite(c, self.health.clone(), waiting)),
            Pool::Postgres(p) => p
                .acquire()
                .await
                .map(|c| Connection::postgres(c, self.health.clone())),
        };
        acquired.map_err(|e| {
            self.health.observe(&e);
            e.into()
        })
    }

    pub async fn ping(&self) -> Result<()> {
        let mut conn = self.read().await?;
        query("SELECT 1").execute(&mut conn).await?;
        Ok(())
    }

    /// Write transactions committed since the store opened; concurrent writes that shared a
    /// commit count once.
    pub fn commits(&self) -> u64 {
        self.writer.commits()
    }

    /// The store's health (faults in force, failures counted).
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Whether the store can write now. While a fault is in force, a probe transaction (at
    /// most one per `interval`) finds out whether its cause went away: it grows the database
    /// by a few pages and commits, as a real write would, then removes them.
    pub async fn writable(&self, interval: Duration) -> std::result::Result<(), Fault> {
        let Some(fault) = self.health.fault() else {
            return Ok(());
        };
        if fault.cause == Cause::DiskFull && self.health.nearly_full() {
            return Err(fault);
        }
        if !self.health.probe_due(interval) {
            return Err(fault);
        }
        match self.probe().await {
            Ok(()) => Ok(()),
            Err(_) => Err(self.health.fault().unwrap_or(fault)),
        }
    }

    async fn probe(&self) -> Result<()> {
        // Two commits: pages added and freed in one transaction never reach the disk (SQLite
        // writes only the few pages that record them free), which would not show that a
        // write's pages fit.
        let mut tx = self.write().await?;
        query("DELETE FROM store_probe WHERE id = 1")
            .execute(&mut tx)
            .await?;
        query("INSERT INTO store_probe (id, filler) VALUES (?, ?)")
            .bind(1i64)
            .bind(vec![0u8; 16 * 1024])
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        let mut tx = self.write().await?;
        query("DELETE FROM store_probe WHERE id = 1")
            .execute(&mut tx)
            .await?;
        tx.commit().await
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite {
                pool: p,
                warm,
                checkpoints,
                ..
            } => {
                warm.close();
                if let Some(c) = checkpoints {
                    c.close();
                }
                p.close().await
            }
            Pool::Postgres(p) => p.close().await,
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Storage(StorageError {
            fault: fault::classify(&e),
            source: Box::new(e),
        })
    }
}

/// Checks foreign keys at commit instead of per statement, until the transaction ends: a batch
/// may then name rows (a manager) that a later statement of it writes. Only in a transaction
/// of its own ([`Store::write_alone`], [`Store::write_background`]): a violation found at the
/// commit of a shared one would fail every operation sharing it.
pub async fn defer_foreign_keys(conn: &mut Connection) -> Result<()> {
    if conn.shared {
        return Err(Error::Internal(
            "foreign keys deferred in a shared write transaction (use Store::write_alone)".into(),
        ));
    }
    conn.batch(conn.pick(
        "PRAGMA defer_foreign_keys = ON",
        "SET CONSTRAINTS ALL DEFERRED",
    ))
    .await?;
    Ok(())
}

/// True when `e` is a UNIQUE constraint violation: the caller turns it into a 409.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

/// A timestamp as stored: Unix milliseconds. Every table, the bridge's too, uses this form.
pub fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub(crate) fn opt_ms(t: Option<OffsetDateTime>) -> Option<i64> {
    t.map(ms)
}

/// The inverse of [`ms`].
pub fn at(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub(crate) fn opt_at(ms: Option<i64>) -> Option<OffsetDateTime> {
    ms.map(at)
}

pub(crate) fn uuid(text: &str) -> Result<Uuid> {
    Uuid::parse_str(text).map_err(|_| Error::Internal(format!("corrupt id in database: {text:?}")))
}

#[cfg(any(test, feature = "test-util"))]
pub mod testing {
    //! Stores for tests, on the engine the suite runs on: `TAPBRIDGE_TEST_DATABASE=postgres`
    //! runs every store and platform test on a fresh database of a throwaway PostgreSQL
    //! cluster (see `testkit`), anything else on a fresh SQLite file. One set of tests, two
    //! engines.
    use super::*;

    /// What keeps a test's database alive (a temporary directory for SQLite).
    pub enum TestDb {
        Sqlite(tempfile::TempDir),
        Postgres(String),
        /// Another store's database, opened again (a second node): the first owns it.
        Shared(DatabaseSettings),
    }

    impl TestDb {
        /// Settings that open this same database again (a second node over it).
        pub fn settings(&self) -> DatabaseSettings {
            match self {
                TestDb::Sqlite(dir) => {
                    let mut settings = DatabaseSettings::at(dir.path().join("test.db"));
                    settings.durability = Durability::Normal;
                    settings
                }
                TestDb::Postgres(url) => DatabaseSettings::postgres(url),
                TestDb::Shared(settings) => settings.clone(),
            }
        }

        /// Every file the database keeps its data in (flushed first), for tests that search
        /// them for what must never be stored.
        pub fn files(&self) -> Vec<std::path::PathBuf> {
            match self {
                TestDb::Sqlite(dir) => std::fs::read_dir(dir.path())
                    .map(|d| d.flatten().map(|e| e.path()).collect())
                    .unwrap_or_default(),
                TestDb::Postgres(_) => testkit::postgres::cluster()
                    .map(|c| c.data_files())
                    .unwrap_or_default(),
                TestDb::Shared(settings) => match &settings.location {
                    Location::Sqlite(path) => path
                        .parent()
                        .and_then(|d| std::fs::read_dir(d).ok())
                        .map(|d| d.flatten().map(|e| e.path()).collect())
                        .unwrap_or_default(),
                    Location::Postgres(_) => testkit::postgres::cluster()
                        .map(|c| c.data_files())
                        .unwrap_or_default(),
                },
            }
        }
    }

    /// The engine the suite runs on.
    pub fn engine() -> Engine {
        match std::env::var("TAPBRIDGE_TEST_DATABASE").as_deref() {
            Ok("postgres") => Engine::Postgres,
            _ => Engine::Sqlite,
        }
    }

    /// Settings for a fresh, empty database on the suite's engine.
    pub fn settings() -> (DatabaseSettings, TestDb) {
        match engine() {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let mut settings = DatabaseSettings::at(dir.path().join("test.db"));
                settings.durability = Durability::Normal;
                (settings, TestDb::Sqlite(dir))
            }
            Engine::Postgres => {
                let url = testkit::postgres::cluster()
                    .unwrap_or_else(|why| panic!("TAPBRIDGE_TEST_DATABASE=postgres, but {why}"))
                    .create_database();
                (DatabaseSettings::postgres(&url), TestDb::Postgres(url))
            }
        }
    }

    /// A fresh, migrated database that lives as long as the guard.
    pub async fn store() -> (Store, TestDb) {
        let (settings, db) = settings();
        (Store::open(&settings).await.expect("open store"), db)
    }
}
