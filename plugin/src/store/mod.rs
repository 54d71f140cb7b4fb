//! SQLite storage. Each submodule holds the SQL of one table family; its functions take a
//! `&mut SqliteConnection` so the platform can run several inside one transaction.

pub mod audit;
pub mod ceremonies;
pub mod credentials;
pub mod events;
pub mod groups;
pub mod migrate;
pub mod policies;
pub mod sessions;
pub mod taps;
pub mod tokens;
pub mod users;

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::StorageError;
use crate::{Error, Result};

pub use sqlx::SqliteConnection as Connection;

/// A write transaction holding the process-wide writer lock.
///
/// SQLite admits one writer at a time. Left to itself, a second `BEGIN IMMEDIATE` waits in
/// SQLite's busy handler, which sleeps in growing steps (1, 2, 5, 10 … ms); queueing writers
/// on an async mutex first hands the lock over the moment it is free. Dropping the value
/// without `commit` rolls back.
pub struct WriteTx {
    // Field order matters: the transaction is dropped (rolled back) before the lock is freed.
    tx: Transaction<'static, Sqlite>,
    _writer: tokio::sync::OwnedMutexGuard<()>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

impl std::ops::Deref for WriteTx {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.tx
    }
}

/// How hard SQLite works to make a commit durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync on every commit: a committed write survives power loss.
    Full,
    /// fsync at checkpoints only: a committed write survives a crash of tapbridge, not
    /// necessarily a power loss.
    Normal,
}

impl FromStr for Durability {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "full" => Ok(Durability::Full),
            "normal" => Ok(Durability::Normal),
            _ => Err(format!("expected `full` or `normal`, got `{s}`")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub path: PathBuf,
    pub max_connections: u32,
    pub busy_timeout: Duration,
    pub durability: Durability,
    /// Page cache per connection, MiB.
    pub cache_mib: u32,
}

impl DatabaseSettings {
    pub fn at(path: impl Into<PathBuf>) -> Self {
        DatabaseSettings {
            path: path.into(),
            max_connections: 8,
            busy_timeout: Duration::from_secs(5),
            durability: Durability::Full,
            cache_mib: 16,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
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
        migrate::run(&migrator.pool).await?;
        migrator.close().await;
        Self::open_without_migrating(settings).await
    }

    pub async fn open_without_migrating(settings: &DatabaseSettings) -> Result<Store> {
        let options = SqliteConnectOptions::new()
            .filename(&settings.path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match settings.durability {
                Durability::Full => SqliteSynchronous::Full,
                Durability::Normal => SqliteSynchronous::Normal,
            })
            .foreign_keys(true)
            // SQLite's default page cache is 2 MB per connection. Writes keyed by random ids
            // (users, audit, events) land on random pages; once the tables outgrow the cache
            // every insert re-reads pages through a system call and a 100k-user import slows
            // down with its own size. The cache only grows as it is used (it is memory of
            // every connection the pool opens).
            .pragma(
                "cache_size",
                format!("-{}", u64::from(settings.cache_mib) * 1024),
            )
            // Checkpoint every 32 MB of WAL rather than SQLite's 4 MB: a page a large import
            // rewrites batch after batch is copied back to the database file less often
            // (~10 % off a 100k-user import here).
            .pragma("wal_autocheckpoint", "8192")
            .busy_timeout(settings.busy_timeout);
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .min_connections(1)
            .connect_with(options)
            .await?;
        Ok(Store {
            pool,
            writer: Default::default(),
            snapshot: false,
        })
    }

    /// A consistent copy of the database beside it (same file system, same protected
    /// folder), opened as a store of its own: a dry run writes there as a real run would, so
    /// each batch sees what the ones before it would have done, while the live database is
    /// only read (no write lock is held, the daemon goes on). [`Store::discard`] removes it.
    pub async fn snapshot(&self) -> Result<Store> {
        let live = self.pool.connect_options().get_filename().to_owned();
        let mut name = live.file_name().unwrap_or_default().to_owned();
        name.push(format!(".dry-run-{}", uuid::Uuid::new_v4()));
        let path = live.with_file_name(name);
        let target = path
            .to_str()
            .ok_or_else(|| Error::Internal("snapshot path is not UTF-8".into()))?;
        sqlx::query("VACUUM INTO ?")
            .bind(target)
            .execute(&self.pool)
            .await?;
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
        if !self.snapshot {
            return;
        }
        let path = self.pool.connect_options().get_filename().to_owned();
        self.pool.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A write transaction that takes SQLite's write lock up front (`BEGIN IMMEDIATE`), so
    /// read-then-write sequences such as a redemption are serialised instead of failing with
    /// a lock upgrade error. Writers of this process queue on an async mutex first.
    pub async fn write(&self) -> Result<WriteTx> {
        let writer = self.writer.clone().lock_owned().await;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok(WriteTx {
            tx,
            _writer: writer,
        })
    }

    pub async fn read(&self) -> Result<sqlx::pool::PoolConnection<Sqlite>> {
        Ok(self.pool.acquire().await?)
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Storage(StorageError(Box::new(e)))
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Error::Storage(StorageError(Box::new(e)))
    }
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

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A fresh, migrated database in a temporary directory that lives as long as the guard.
    pub async fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = DatabaseSettings::at(dir.path().join("test.db"));
        settings.durability = Durability::Normal;
        (Store::open(&settings).await.expect("open store"), dir)
    }
}
