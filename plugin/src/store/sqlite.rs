//! The embedded engine: one file in WAL mode, one writer at a time.

use std::path::Path;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::settings::{DatabaseSettings, Durability};

pub(super) async fn open(
    path: &Path,
    settings: &DatabaseSettings,
) -> Result<SqlitePool, sqlx::Error> {
    let options = SqliteConnectOptions::new()
        .filename(path)
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
    let busy_ms = settings.busy_timeout.as_millis().min(u128::from(u32::MAX)) as usize;
    SqlitePoolOptions::new()
        .max_connections(settings.max_connections.max(1))
        .min_connections(1)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                let mut handle = conn.lock_handle().await?;
                poll_busy_lock(handle.as_raw_handle().as_ptr(), busy_ms);
                Ok(())
            })
        })
        .connect_with(options)
        .await
}

/// How often a writer that finds another process's write lock tries again.
const BUSY_POLL: Duration = Duration::from_millis(1);

/// Replaces SQLite's busy handler, which sleeps in growing steps up to 100 ms, with one that
/// polls every millisecond until `timeout_ms` has passed. With the default handler a second
/// process (the CLI beside `serve`) tries only ten times a second and loses the lock to a
/// daemon whose background batches leave it free for a few milliseconds at a time: it
/// starved for 11 s behind a 95,000-event backlog. Polling each millisecond finds those gaps
/// (the daemon's background writers leave one after each transaction; see
/// `Store::write_background`).
fn poll_busy_lock(db: *mut libsqlite3_sys::sqlite3, timeout_ms: usize) {
    unsafe extern "C" fn busy(
        arg: *mut std::ffi::c_void,
        count: std::ffi::c_int,
    ) -> std::ffi::c_int {
        let timeout_ms = arg as usize;
        // Each call sleeps at least BUSY_POLL, so `count` polls have taken at least `count`
        // milliseconds.
        if usize::try_from(count).unwrap_or(usize::MAX) >= timeout_ms {
            return 0;
        }
        std::thread::sleep(BUSY_POLL);
        1
    }
    // SAFETY: `db` is the live handle of the connection being set up (held locked by the
    // caller); the handler takes its timeout by value in the pointer argument, so nothing
    // it points to can dangle.
    unsafe {
        libsqlite3_sys::sqlite3_busy_handler(db, Some(busy), timeout_ms as *mut std::ffi::c_void);
    }
}
