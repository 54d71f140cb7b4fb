//! The embedded engine: one file in WAL mode, one writer at a time.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::settings::{DatabaseSettings, Durability};
use super::sqlite_checkpoint::Checkpoints;

/// How this process tells others that it waits for the write lock: a marker file beside the
/// database (`<db>-wait-<pid>`) while one of its writers waits. SQLite's lock says nothing of
/// who waits for it, so a process running batch after batch would otherwise never notice
/// another that polls in vain (see [`poll_busy_lock`] and [`yield_to_waiters`]). Writers of one
/// process queue on its own mutex first, so at most one of them waits here at a time.
#[derive(Debug)]
pub(super) struct Waiting {
    timeout_ms: usize,
    marker: PathBuf,
    marked: AtomicBool,
}

impl Waiting {
    fn new(db: &Path, timeout_ms: usize) -> Waiting {
        Waiting {
            timeout_ms,
            marker: marker(db, std::process::id()),
            marked: AtomicBool::new(false),
        }
    }

    /// How long a writer waits for another's lock (`database.busy_timeout_ms`).
    pub(super) fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms as u64)
    }

    /// This process waits for the write lock: the other process's background writers leave
    /// it free meanwhile.
    pub(super) fn mark(&self) {
        if !self.marked.swap(true, Ordering::AcqRel) {
            let _ = std::fs::write(&self.marker, b"");
        }
    }

    /// The wait is over (the lock was taken, or the wait gave up).
    pub(super) fn clear(&self) {
        if self.marked.swap(false, Ordering::AcqRel) {
            let _ = std::fs::remove_file(&self.marker);
        }
    }
}

fn marker(db: &Path, pid: u32) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_owned();
    name.push(format!("-wait-{pid}"));
    db.with_file_name(name)
}

/// Whether another live process waits for the write lock; markers of processes that died
/// are removed.
fn others_waiting(db: &Path) -> bool {
    let dir = match db.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut prefix = db.file_name().unwrap_or_default().to_owned();
    prefix.push("-wait-");
    let prefix = prefix.to_string_lossy().into_owned();
    let own = std::process::id();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    let mut waiting = false;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix.as_str()))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == own {
            continue;
        }
        if Path::new(&format!("/proc/{pid}")).exists() {
            waiting = true;
        } else {
            let _ = std::fs::remove_file(e.path());
        }
    }
    waiting
}

/// Before a background transaction: while another process waits for the write lock, leave it
/// free (for at most `limit`, so a marker left by a process that hung cannot stall this one).
pub(super) async fn yield_to_waiters(db: &Path, limit: Duration) {
    let started = Instant::now();
    while others_waiting(db) && started.elapsed() < limit {
        tokio::time::sleep(BUSY_POLL).await;
    }
}

/// Library-wide settings, applied once before SQLite first initialises (later calls are
/// refused by SQLite and ignored here).
fn configure_library() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SQLite's memory statistics (nothing here reads them) take a process-wide mutex
        // around every allocation it makes: 2-3 % of a first load's time.
        // SAFETY: sqlite3_config with SQLITE_CONFIG_MEMSTATUS takes one int; it runs before
        // any connection is opened (or fails harmlessly with SQLITE_MISUSE).
        unsafe {
            libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS, 0);
        }
    });
}

pub(super) async fn open(
    path: &Path,
    settings: &DatabaseSettings,
) -> Result<(SqlitePool, &'static Waiting, Option<&'static Checkpoints>), sqlx::Error> {
    configure_library();
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
        // Statement journals (the undo of a savepoint, or of a statement writing many rows)
        // in memory: past 64 KiB SQLite spilled them to a temporary file, and a batch of a
        // thousand users under its savepoint wrote every page it touched there first (a
        // first load took 1.17x as long, in paired runs). The cost: temporary tables and
        // sorts larger than the page cache stay in memory too (a query sorting many rows
        // without an index, or a migration building an index on a large table).
        // A bounded in-memory journal (SQLITE_CONFIG_STMTJRNL_SPILL) allocates its whole
        // bound per statement, and at 4 MiB its spill failed with SQLITE_FULL here.
        .pragma("temp_store", "MEMORY")
        .busy_timeout(settings.busy_timeout);
    let options = if settings.max_size_mib > 0 {
        // Pages of 4 KiB, SQLite's default.
        options.pragma(
            "max_page_count",
            (u64::from(settings.max_size_mib) * 256).to_string(),
        )
    } else {
        options
    };
    let busy_ms = settings.busy_timeout.as_millis().min(u128::from(u32::MAX)) as usize;
    // One per store, shared by its connections' busy handlers for as long as they live.
    let waiting: &'static Waiting = Box::leak(Box::new(Waiting::new(path, busy_ms)));
    // Likewise shared by the connections' WAL hooks. A path SQLite cannot take as a C string
    // keeps SQLite's own checkpoints (in line, every 32 MiB of log).
    let checkpoints: Option<&'static Checkpoints> =
        Checkpoints::new(path, settings.durability == Durability::Full)
            .map(|c| &*Box::leak(Box::new(c)));
    let options = match checkpoints {
        Some(_) => options,
        None => options.pragma("wal_autocheckpoint", "8192"),
    };
    let pool = SqlitePoolOptions::new()
        .max_connections(settings.max_connections.max(1))
        .min_connections(1)
        // An embedded file has no other end to lose: the ping before each checkout only
        // cost a round trip to the connection's thread (the one on release stays: sqlx
        // always runs it).
        .test_before_acquire(false)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                let mut handle = conn.lock_handle().await?;
                poll_busy_lock(handle.as_raw_handle().as_ptr(), waiting);
                if let Some(c) = checkpoints {
                    c.hook(handle.as_raw_handle().as_ptr());
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await?;
    Ok((pool, waiting, checkpoints))
}

/// How often a writer that finds another process's write lock tries again.
pub(super) const BUSY_POLL: Duration = Duration::from_millis(1);

/// Replaces SQLite's busy handler, which sleeps in growing steps up to 100 ms, with one that
/// polls every millisecond until the busy timeout has passed, and says that this process
/// waits (a marker file, see [`Waiting`]). With the default handler a second process (the
/// CLI beside `serve`) tried ten times a second and lost the lock to a daemon running batch
/// after batch: it starved for 11 s behind a 95,000-event backlog. Now the daemon's
/// background writers see the marker and leave the lock free until the waiter had it.
pub(super) fn poll_busy_lock(db: *mut libsqlite3_sys::sqlite3, waiting: &'static Waiting) {
    unsafe extern "C" fn busy(
        arg: *mut std::ffi::c_void,
        count: std::ffi::c_int,
    ) -> std::ffi::c_int {
        // SAFETY: `arg` is the `&'static Waiting` registered below.
        let waiting = unsafe { &*(arg as *const Waiting) };
        if count == 0 {
            waiting.mark();
        }
        // Each call sleeps at least BUSY_POLL, so `count` polls have taken at least `count`
        // milliseconds.
        if usize::try_from(count).unwrap_or(usize::MAX) >= waiting.timeout_ms {
            return 0;
        }
        std::thread::sleep(BUSY_POLL);
        1
    }
    // SAFETY: `db` is the live handle of the connection being set up (held locked by the
    // caller); `waiting` lives for the rest of the process.
    unsafe {
        libsqlite3_sys::sqlite3_busy_handler(
            db,
            Some(busy),
            waiting as *const Waiting as *mut std::ffi::c_void,
        );
    }
}
