//! WAL checkpoints on a thread of their own.
//!
//! SQLite copies the write-ahead log back into the database file (a checkpoint) on the
//! connection whose commit takes the log past `wal_autocheckpoint`, right after that commit.
//! Here that connection is the group committer, which still holds the process's writer lock:
//! every write queued behind it waited for the copy and the database file's fsync, and a
//! directory load's batches paid for each checkpoint in line. So each connection's WAL hook
//! only wakes a checkpointer thread, which checkpoints on a connection of its own in PASSIVE
//! mode: it neither blocks a writer nor waits for one, and writers go on appending to the log
//! while it copies. The log keeps a bound: past [`INLINE_FRAMES`] (the thread fell behind, or a
//! long read kept it from finishing) the committing connection checkpoints in line, as SQLite
//! would have.
//!
//! Measured (release, 2 cores, `benches/scim_load.sh 8`, alternating runs): SCIM POST p99
//! 22.7 and 21.1 ms in line, 16.1 and 14.8 ms here; PATCH 23.9 and 18.3 ms, 15.9 and 15.7 ms.
//! A 100,000-user first load took 0.91 times the wall time (median of four paired runs).

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::path::Path;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use libsqlite3_sys as ffi;

/// Frames (4 KiB pages) in the log that wake the checkpointer: 32 MiB, SQLite's default is
/// 4 MiB. A page a large import rewrites batch after batch is copied back less often
/// (~10 % off a 100k-user first load, when the copy was in line).
const WAKE_FRAMES: c_int = 8192;
/// Frames past which the committing connection checkpoints itself: 128 MiB of log.
const INLINE_FRAMES: c_int = 4 * WAKE_FRAMES;
/// How long the thread waits for work before it closes its connection and ends (the next
/// wake starts another).
const IDLE: Duration = Duration::from_secs(30);

/// The checkpointer of one database file.
#[derive(Debug)]
pub(super) struct Checkpoints {
    path: CString,
    synchronous: &'static CStr,
    state: Mutex<State>,
    wake: Condvar,
    /// Checkpoints run by the thread, and by committing connections past the bound.
    background: AtomicU64,
    inline: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    requested: bool,
    running: bool,
    closed: bool,
}

impl Checkpoints {
    /// `full`: the checkpoint syncs the log before it copies and the database file after
    /// (durability `full`); otherwise as `synchronous = NORMAL`, which syncs at checkpoints
    /// too.
    pub(super) fn new(path: &Path, full: bool) -> Option<Checkpoints> {
        let path = CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
        Some(Checkpoints {
            path,
            synchronous: if full {
                c"PRAGMA synchronous = FULL"
            } else {
                c"PRAGMA synchronous = NORMAL"
            },
            state: Mutex::default(),
            wake: Condvar::new(),
            background: AtomicU64::new(0),
            inline: AtomicU64::new(0),
        })
    }

    /// Replaces `db`'s automatic checkpoint with a wake-up of the checkpointer.
    pub(super) fn hook(&'static self, db: *mut ffi::sqlite3) {
        unsafe extern "C" fn on_commit(
            arg: *mut c_void,
            db: *mut ffi::sqlite3,
            name: *const c_char,
            frames: c_int,
        ) -> c_int {
            // SAFETY: `arg` is the `&'static Checkpoints` registered below.
            let this = unsafe { &*(arg as *const Checkpoints) };
            if frames >= INLINE_FRAMES {
                // SAFETY: SQLite calls the hook after the commit, with the write lock
                // released, on the connection that committed: it may checkpoint there.
                unsafe { checkpoint(db, name) };
                this.inline.fetch_add(1, Ordering::Relaxed);
            } else if frames >= WAKE_FRAMES {
                this.request();
            }
            ffi::SQLITE_OK
        }
        // SAFETY: `db` is the live handle of the connection being set up; `self` lives for
        // the rest of the process.
        unsafe {
            ffi::sqlite3_wal_hook(
                db,
                Some(on_commit),
                self as *const Checkpoints as *mut c_void,
            );
        }
    }

    fn request(&'static self) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if state.closed {
            return;
        }
        state.requested = true;
        if !state.running {
            let spawned = std::thread::Builder::new()
                .name("sqlite-checkpoint".into())
                .spawn(move || self.run());
            state.running = spawned.is_ok();
        }
        self.wake.notify_one();
    }

    /// Ends the thread (the store is closing): a checkpoint under way finishes first.
    pub(super) fn close(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.closed = true;
        }
        self.wake.notify_all();
    }

    /// Checkpoints run so far: by the thread, and in line past the bound.
    #[cfg(test)]
    fn counts(&self) -> (u64, u64) {
        (
            self.background.load(Ordering::Relaxed),
            self.inline.load(Ordering::Relaxed),
        )
    }

    fn run(&'static self) {
        let conn = Conn::open(&self.path, self.synchronous);
        loop {
            let Ok(mut state) = self.state.lock() else {
                return;
            };
            while !state.requested && !state.closed {
                let Ok((next, waited)) = self.wake.wait_timeout(state, IDLE) else {
                    return;
                };
                state = next;
                if waited.timed_out() && !state.requested {
                    state.running = false;
                    return;
                }
            }
            if state.closed {
                state.running = false;
                return;
            }
            state.requested = false;
            drop(state);
            match &conn {
                // SAFETY: the thread's own connection, open until `conn` drops.
                Some(c) => {
                    unsafe { checkpoint(c.0, ptr::null()) };
                    self.background.fetch_add(1, Ordering::Relaxed);
                }
                None => {
                    // Without a connection of its own (the file could not be opened), the
                    // log's bound falls to the committing connections for good: no thread is
                    // started again only to fail the same way at every commit.
                    if let Ok(mut state) = self.state.lock() {
                        state.running = false;
                        state.closed = true;
                    }
                    return;
                }
            }
        }
    }
}

/// A PASSIVE checkpoint of `db` (`name`: the schema, null for all). Its outcome is not
/// reported: a checkpoint that could not run (another was under way, the disk was full)
/// leaves the log to the next one, and the log's pages stay readable meanwhile.
unsafe fn checkpoint(db: *mut ffi::sqlite3, name: *const c_char) {
    let (mut log, mut done) = (0, 0);
    // SAFETY: the caller's live handle.
    let rc = unsafe {
        ffi::sqlite3_wal_checkpoint_v2(
            db,
            name,
            ffi::SQLITE_CHECKPOINT_PASSIVE,
            &mut log,
            &mut done,
        )
    };
    if rc != ffi::SQLITE_OK && rc != ffi::SQLITE_BUSY {
        tracing::debug!(target: "tapbridge::sql", code = rc, "checkpoint failed");
    }
}

/// The checkpointer's own connection.
struct Conn(*mut ffi::sqlite3);

// SAFETY: used by the checkpointer thread alone.
unsafe impl Send for Conn {}

impl Conn {
    fn open(path: &CStr, synchronous: &CStr) -> Option<Conn> {
        let mut db = ptr::null_mut();
        // SAFETY: `path` is a C string; `db` receives a handle that `Conn` closes (SQLite
        // allocates one even when opening fails).
        let rc = unsafe {
            ffi::sqlite3_open_v2(
                path.as_ptr(),
                &mut db,
                ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_NOMUTEX,
                ptr::null(),
            )
        };
        let conn = Conn(db);
        if rc != ffi::SQLITE_OK || db.is_null() {
            return None;
        }
        // SAFETY: the live handle; the statement is a C string.
        let rc = unsafe {
            ffi::sqlite3_exec(
                db,
                synchronous.as_ptr(),
                None,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        (rc == ffi::SQLITE_OK).then_some(conn)
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // SAFETY: the handle opened in `open`, closed once.
        unsafe {
            ffi::sqlite3_close(self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::super::settings::{DatabaseSettings, Location};
    use super::super::{Engine, Pool, Store, query, testing};
    use super::{Checkpoints, INLINE_FRAMES, WAKE_FRAMES};

    const MIB: usize = 1024 * 1024;

    fn checkpoints(store: &Store) -> &'static Checkpoints {
        match &store.pool {
            Pool::Sqlite { checkpoints, .. } => checkpoints.expect("a checkpointer"),
            Pool::Postgres(_) => unreachable!("SQLite only"),
        }
    }

    /// Commits `mib` MiB of rows, 1 MiB per transaction.
    async fn write(store: &Store, from: i64, mib: usize) {
        for i in 0..mib {
            let mut tx = store.write().await.unwrap();
            query("INSERT INTO store_probe (id, filler) VALUES (?, ?)")
                .bind(from + i as i64)
                .bind(vec![7u8; MIB])
                .execute(&mut tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    }

    fn file_of(settings: &DatabaseSettings) -> std::path::PathBuf {
        match &settings.location {
            Location::Sqlite(path) => path.clone(),
            Location::Postgres(_) => unreachable!("SQLite only"),
        }
    }

    fn size(path: &std::path::Path) -> u64 {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }

    /// Past the wake mark the log is copied back into the database file by the thread, not
    /// by the commit that crossed it; without the thread nothing would be copied until the
    /// in-line bound (four times as far).
    #[tokio::test]
    async fn the_log_is_copied_back_off_the_commit_path() {
        if testing::engine() != Engine::Sqlite {
            return; // PostgreSQL checkpoints on its own
        }
        let (settings, db) = testing::settings();
        let store = Store::open(&settings).await.unwrap();
        let file = file_of(&db.settings());
        let mib = WAKE_FRAMES as usize * 4096 / MIB + 8;
        write(&store, 10, mib).await;
        let started = Instant::now();
        while size(&file) < (mib * MIB) as u64 && started.elapsed() < Duration::from_secs(30) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            size(&file) >= (mib * MIB) as u64,
            "{} MiB written, the database file holds {} bytes",
            mib,
            size(&file)
        );
        let (background, inline) = checkpoints(&store).counts();
        assert!(background >= 1, "the thread checkpointed");
        assert_eq!(inline, 0, "no commit checkpointed in line");
        store.close().await;
    }

    /// When the thread cannot keep up (here: it is gone), the commit that takes the log past
    /// the bound checkpoints in line, so the log stops growing there.
    #[tokio::test]
    async fn past_the_bound_the_committing_connection_checkpoints() {
        if testing::engine() != Engine::Sqlite {
            return;
        }
        let (settings, db) = testing::settings();
        let store = Store::open(&settings).await.unwrap();
        let file = file_of(&db.settings());
        let mut wal = file.clone().into_os_string();
        wal.push("-wal");
        checkpoints(&store).close();
        let bound = INLINE_FRAMES as usize * 4096 / MIB;
        write(&store, 10, bound + 24).await;
        let (background, inline) = checkpoints(&store).counts();
        assert_eq!(background, 0);
        assert!(inline >= 1, "a commit past the bound checkpointed");
        // The log restarted after the in-line copy: it holds at most the bound and the
        // writes since, not everything written.
        assert!(
            size(std::path::Path::new(&wal)) < ((bound + 4) * MIB) as u64,
            "log of {} bytes",
            size(std::path::Path::new(&wal))
        );
        assert!(
            size(&file) >= (bound / 2 * MIB) as u64,
            "database file {} bytes, inline {inline}",
            size(&file)
        );
    }
}
