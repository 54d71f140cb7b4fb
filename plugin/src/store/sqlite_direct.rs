//! SQLite statements run on the calling thread.
//!
//! sqlx runs each SQLite connection on a thread of its own and sends it every statement: two
//! thread switches per statement, more than the statement itself costs. A pass issued in a
//! dozen statements spent two thirds of its CPU time in the kernel switching threads (`perf`,
//! `benches/tap_throughput.rs`). So a connection, once taken from the pool, is locked out of
//! its thread (`lock_handle`: one round trip) and its statements run here, through SQLite's C
//! interface, until it goes back. The lock's guard lives in the [`Direct`] next to the pooled
//! connection and is dropped before it, so the connection reaches the pool with its thread
//! running again.
//!
//! Statements run to completion inside one call, never across an `.await`: a request that
//! is dropped cannot leave a statement half-stepped. SQLite's busy handler is off while a
//! connection is locked here: a statement that finds another connection's write lock fails
//! at once and `Connection` waits for the lock between awaits (sleeping in the handler would
//! hold an async worker thread, perhaps the one the lock's holder needs). COMMIT's sync to
//! disk leaves the async worker thread to the runtime first (`block_in_place`) where the
//! runtime allows it.

use std::collections::HashMap;
use std::ffi::{CStr, c_char, c_int};
use std::ptr::{self, NonNull};
use std::sync::Arc;

use libsqlite3_sys as ffi;
use sqlx::sqlite::LockedSqliteHandle;

use super::db::Value;
use super::sqlite::{Waiting, poll_busy_lock};

/// A value read from a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// A result row: its cells and the statement's column names (shared by the rows).
#[derive(Clone)]
pub struct DirectRow {
    names: Arc<[String]>,
    cells: Vec<Cell>,
}

/// Column names only: rows hold keyed hashes, sealed secrets and personal data.
impl std::fmt::Debug for DirectRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectRow")
            .field("columns", &self.names)
            .finish_non_exhaustive()
    }
}

impl DirectRow {
    pub(super) fn cell(&self, at: usize) -> Option<&Cell> {
        self.cells.get(at)
    }

    /// The cell at `at`, moved out (NULL is left in its place).
    pub(super) fn take(&mut self, at: usize) -> Cell {
        self.cells
            .get_mut(at)
            .map_or(Cell::Null, |c| std::mem::replace(c, Cell::Null))
    }

    pub(super) fn position(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n.eq_ignore_ascii_case(name))
    }

    pub(super) fn len(&self) -> usize {
        self.cells.len()
    }
}

/// A pooled SQLite connection locked out of its sqlx thread.
pub(super) struct Direct {
    /// The statements this connection prepared, by their text, kept for the next run of the
    /// same text: requests, batches of writes and directory loads run the same statements
    /// over and over, and parsing one costs more than running it. Declared before `guard`
    /// so they are finalized while the connection is still locked to this side (sqlx's
    /// close fails on a connection holding statements it does not know).
    cache: HashMap<Box<str>, Prepared>,
    /// Counts runs: a statement's last use, to evict the least recently used.
    runs: u64,
    /// Borrows the connection's shared state, which lives on the heap behind an `Arc` the
    /// pooled connection holds: the owner drops this before the pooled connection (field
    /// order), so the borrow never outlives what it borrows.
    guard: LockedSqliteHandle<'static>,
    /// The store's busy handler state: its handler is off while the connection is locked
    /// here (see `Connection`'s waits) and back on when it goes back to sqlx.
    waiting: &'static Waiting,
}

// SAFETY: the guard is a mutex guard over the connection's state; the connection is used by
// one task at a time (it is behind `&mut`), and SQLite connections opened by sqlx may move
// between threads (sqlx sends them to its own thread).
unsafe impl Send for Direct {}
unsafe impl Sync for Direct {}

impl Drop for Direct {
    fn drop(&mut self) {
        // Back to sqlx's thread, where waiting in the handler blocks nothing.
        poll_busy_lock(self.db(), self.waiting);
    }
}

/// Whether `e` is SQLite's "database is locked" (another connection holds the lock).
pub(super) fn is_busy(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .and_then(|c| c.parse::<c_int>().ok())
        .is_some_and(|c| c & 0xff == ffi::SQLITE_BUSY)
}

/// What a statement did.
pub(super) struct Stepped {
    pub rows: Vec<DirectRow>,
    pub changed: u64,
}

impl Direct {
    /// # Safety
    /// The caller keeps the connection `guard` was taken from alive, and unmoved in the
    /// sense that matters (its worker state is behind an `Arc`), until this is dropped.
    pub(super) unsafe fn new(guard: LockedSqliteHandle<'_>, waiting: &'static Waiting) -> Direct {
        // SAFETY: see above; the lifetime is extended to let the guard sit beside its owner.
        let guard = unsafe {
            std::mem::transmute::<LockedSqliteHandle<'_>, LockedSqliteHandle<'static>>(guard)
        };
        let mut direct = Direct {
            cache: HashMap::new(),
            runs: 0,
            guard,
            waiting,
        };
        // SQLite's busy handler would wait for another connection's write lock by sleeping
        // on this thread — an async worker, which may be the one the lock's holder needs to
        // finish. A busy statement fails at once instead, and `Connection` waits by polling
        // between awaits.
        // SAFETY: the locked connection's live handle.
        unsafe { ffi::sqlite3_busy_handler(direct.db(), None, ptr::null_mut()) };
        direct
    }

    fn db(&mut self) -> *mut ffi::sqlite3 {
        self.guard.as_raw_handle().as_ptr()
    }

    fn error(&mut self) -> sqlx::Error {
        match self.guard.last_error() {
            Some(e) => sqlx::Error::Database(Box::new(e)),
            None => sqlx::Error::Protocol("SQLite failed without an error code".into()),
        }
    }

    /// Whether a transaction is open on the connection.
    pub(super) fn in_transaction(&mut self) -> bool {
        // SAFETY: the locked connection's live handle.
        unsafe { ffi::sqlite3_get_autocommit(self.db()) == 0 }
    }

    /// Statements without parameters, separated by `;`.
    pub(super) fn batch(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        let text = std::ffi::CString::new(sql)
            .map_err(|_| sqlx::Error::Protocol("a statement holds a NUL byte".into()))?;
        let db = self.db();
        let started = std::time::Instant::now();
        let status = slow(is_slow(sql), || {
            // SAFETY: `db` is the locked connection's live handle; `text` outlives the call.
            unsafe { ffi::sqlite3_exec(db, text.as_ptr(), None, ptr::null_mut(), ptr::null_mut()) }
        });
        if status == ffi::SQLITE_OK {
            let done = Stepped {
                rows: Vec::new(),
                changed: 0,
            };
            log_statement(sql, &done, started.elapsed());
            Ok(())
        } else {
            Err(self.error())
        }
    }

    /// Runs one statement with its values; its rows (at most `limit`) and the rows it
    /// changed.
    pub(super) fn run(
        &mut self,
        sql: &str,
        values: &[Value],
        limit: Option<usize>,
    ) -> Result<Stepped, sqlx::Error> {
        let db = self.db();
        self.runs += 1;
        let stmt = match self.cache.get_mut(sql) {
            Some(p) => {
                p.used = self.runs;
                p.stmt.0
            }
            None => {
                // Only whitespace or a comment: nothing to run.
                let Some(stmt) = self.prepare(db, sql)? else {
                    return Ok(Stepped {
                        rows: Vec::new(),
                        changed: 0,
                    });
                };
                if sql.len() > LARGE_SQL
                    && self.cache.keys().filter(|k| k.len() > LARGE_SQL).count() >= CACHED_LARGE
                {
                    // A multi-row statement's program grows with its rows: a few at a time.
                    self.evict(|k| k.len() > LARGE_SQL);
                }
                if self.cache.len() >= CACHED_STATEMENTS {
                    self.evict(|_| true);
                }
                let ptr = stmt.0;
                self.cache.insert(
                    sql.into(),
                    Prepared {
                        stmt,
                        names: None,
                        used: self.runs,
                    },
                );
                ptr
            }
        };
        let started = std::time::Instant::now();
        // SAFETY: `stmt` is a statement of `db`, kept in the cache (finalized when it leaves).
        let outcome = slow(is_slow(sql), || unsafe {
            self.step_all(db, sql, stmt.as_ptr(), values, limit)
        });
        // SAFETY: as above. Reset ends the statement's read of the database (and any rows not
        // stepped past `limit`); its result repeats the step's error, already taken.
        unsafe {
            ffi::sqlite3_reset(stmt.as_ptr());
            ffi::sqlite3_clear_bindings(stmt.as_ptr());
        }
        if let Ok(done) = &outcome {
            log_statement(sql, done, started.elapsed());
        }
        outcome
    }

    /// Finalizes the least recently used of the cached statements `which` picks. (Any one
    /// evicted, a batch's statements that alternate — a first load's users, directory
    /// index rows, audit records and events, each of a batch's size — pushed each other
    /// out and were parsed again batch after batch.)
    fn evict(&mut self, which: impl Fn(&str) -> bool) {
        let oldest = self
            .cache
            .iter()
            .filter(|(k, _)| which(k))
            .min_by_key(|(_, p)| p.used)
            .map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            self.cache.remove(&k);
        }
    }

    /// The statement's column names, read once and kept with it (read again if a schema
    /// change made SQLite prepare it anew with other columns).
    ///
    /// # Safety
    /// `stmt` is the live statement cached under `sql`.
    unsafe fn names(&mut self, sql: &str, stmt: *mut ffi::sqlite3_stmt) -> Arc<[String]> {
        let columns = unsafe { ffi::sqlite3_column_count(stmt) };
        let cached = self.cache.get_mut(sql).map(|p| &mut p.names);
        if let Some(Some(names)) = cached.as_deref()
            && usize::try_from(columns).ok() == Some(names.len())
        {
            return names.clone();
        }
        let names: Arc<[String]> = (0..columns)
            .map(|i| {
                let name = unsafe { ffi::sqlite3_column_name(stmt, i) };
                if name.is_null() {
                    String::new()
                } else {
                    unsafe { CStr::from_ptr(name) }
                        .to_string_lossy()
                        .into_owned()
                }
            })
            .collect();
        if let Some(slot) = cached {
            *slot = Some(names.clone());
        }
        names
    }

    /// Prepares the one statement `sql` holds (`None` when it holds only whitespace or
    /// comments); a text holding a second statement is refused.
    fn prepare(
        &mut self,
        db: *mut ffi::sqlite3,
        sql: &str,
    ) -> Result<Option<Statement>, sqlx::Error> {
        let mut raw: *mut ffi::sqlite3_stmt = ptr::null_mut();
        let mut tail: *const c_char = ptr::null();
        let len = c_int::try_from(sql.len())
            .map_err(|_| sqlx::Error::Protocol("statement too long".into()))?;
        // SAFETY: `db` is live; SQLite reads `len` bytes of `sql` and writes the statement
        // and where the text after it starts (inside `sql`).
        let status = unsafe {
            ffi::sqlite3_prepare_v2(db, sql.as_ptr() as *const c_char, len, &mut raw, &mut tail)
        };
        if status != ffi::SQLITE_OK {
            return Err(self.error());
        }
        let stmt = NonNull::new(raw).map(Statement);
        let used = if tail.is_null() {
            sql.len()
        } else {
            (tail as usize).saturating_sub(sql.as_ptr() as usize)
        };
        let rest = sql.get(used..).unwrap_or("").trim();
        if !rest.is_empty() && !rest.starts_with("--") {
            drop(stmt);
            return Err(sqlx::Error::Protocol(
                "a query with values holds one statement".into(),
            ));
        }
        Ok(stmt)
    }

    /// # Safety
    /// `stmt` is a live statement of `db`, cached under `sql`.
    unsafe fn step_all(
        &mut self,
        db: *mut ffi::sqlite3,
        sql: &str,
        stmt: *mut ffi::sqlite3_stmt,
        values: &[Value],
        limit: Option<usize>,
    ) -> Result<Stepped, sqlx::Error> {
        let expected = unsafe { ffi::sqlite3_bind_parameter_count(stmt) };
        if usize::try_from(expected).ok() != Some(values.len()) {
            return Err(sqlx::Error::Protocol(format!(
                "the statement takes {expected} values, {} were bound",
                values.len()
            )));
        }
        for (i, value) in values.iter().enumerate() {
            let at = c_int::try_from(i + 1).unwrap_or(c_int::MAX);
            let status = unsafe { bind(stmt, at, value) };
            if status != ffi::SQLITE_OK {
                return Err(self.error());
            }
        }
        let names = unsafe { self.names(sql, stmt) };
        let columns = c_int::try_from(names.len()).unwrap_or(c_int::MAX);
        let mut rows = Vec::new();
        loop {
            if limit.is_some_and(|l| rows.len() >= l) {
                break;
            }
            match unsafe { ffi::sqlite3_step(stmt) } {
                ffi::SQLITE_ROW => {
                    let mut cells = Vec::with_capacity(names.len());
                    for i in 0..columns {
                        cells.push(unsafe { read(stmt, i) }?);
                    }
                    rows.push(DirectRow {
                        names: names.clone(),
                        cells,
                    });
                }
                ffi::SQLITE_DONE => break,
                _ => return Err(self.error()),
            }
        }
        let changed = if unsafe { ffi::sqlite3_stmt_readonly(stmt) } != 0 {
            0
        } else {
            u64::try_from(unsafe { ffi::sqlite3_changes64(db) }).unwrap_or(0)
        };
        Ok(Stepped { rows, changed })
    }
}

/// Logs a statement under `tapbridge::sql` (at `debug`; one that took over a second at
/// `warn`), as sqlx logs its own under `sqlx::query`: `log.level = "info,tapbridge::sql=debug"`.
fn log_statement(sql: &str, done: &Stepped, took: std::time::Duration) {
    let rows_returned = done.rows.len() as u64;
    let elapsed_us = took.as_micros() as u64;
    if took >= std::time::Duration::from_secs(1) {
        tracing::warn!(target: "tapbridge::sql", statement = %sql, rows_returned, rows_affected = done.changed, elapsed_us, "slow statement");
    } else {
        tracing::debug!(target: "tapbridge::sql", statement = %sql, rows_returned, rows_affected = done.changed, elapsed_us, "statement");
    }
}

/// How many prepared statements a connection keeps (a platform operation runs a dozen or two
/// distinct ones).
const CACHED_STATEMENTS: usize = 128;

/// Statements longer than this are multi-row ones assembled at run time (a batch's inserts):
/// each prepared program holds every row's parameters — about a megabyte for a 2,000-row
/// audit insert — and each distinct row count is its own statement. Unbounded, a first load
/// of 100,000 users kept over a hundred of them (the last chunk of each group's members).
const LARGE_SQL: usize = 4096;
/// Large statements a connection keeps: a batch's repeated full-size chunks stay prepared
/// (a user batch writes seven such, the group step two and the sizes its remainders take).
const CACHED_LARGE: usize = 8;

/// A cached statement and, once it ran, its column names.
struct Prepared {
    stmt: Statement,
    names: Option<Arc<[String]>>,
    /// When it last ran (see `Direct::runs`).
    used: u64,
}

/// A prepared statement, finalized on drop.
struct Statement(NonNull<ffi::sqlite3_stmt>);

impl Drop for Statement {
    fn drop(&mut self) {
        // SAFETY: the statement was prepared by `prepare` and is finalized once, here.
        unsafe {
            ffi::sqlite3_finalize(self.0.as_ptr());
        }
    }
}

/// Texts and blobs are bound in place (`SQLITE_STATIC`), not copied: SQLite reads them while
/// the statement steps, and [`Direct::run`] clears the bindings before it returns, while the
/// values it was lent are still borrowed. A copy per value (`SQLITE_TRANSIENT`) was an
/// allocation, a copy and a free for each of a directory load's several million values.
///
/// # Safety
/// `stmt` is live and `at` one of its parameters; `value` outlives the binding (the
/// statement is reset and its bindings cleared before `value` is dropped or moved).
unsafe fn bind(stmt: *mut ffi::sqlite3_stmt, at: c_int, value: &Value) -> c_int {
    unsafe {
        match value {
            Value::I64(Some(v)) => ffi::sqlite3_bind_int64(stmt, at, *v),
            Value::F64(Some(v)) => ffi::sqlite3_bind_double(stmt, at, *v),
            Value::Bool(Some(v)) => ffi::sqlite3_bind_int64(stmt, at, i64::from(*v)),
            Value::Text(Some(v)) => ffi::sqlite3_bind_text64(
                stmt,
                at,
                v.as_ptr() as *const c_char,
                v.len() as u64,
                ffi::SQLITE_STATIC(),
                ffi::SQLITE_UTF8 as u8,
            ),
            Value::Bytes(Some(v)) => ffi::sqlite3_bind_blob64(
                stmt,
                at,
                v.as_ptr() as *const std::ffi::c_void,
                v.len() as u64,
                ffi::SQLITE_STATIC(),
            ),
            Value::I64(None)
            | Value::F64(None)
            | Value::Bool(None)
            | Value::Text(None)
            | Value::Bytes(None) => ffi::sqlite3_bind_null(stmt, at),
        }
    }
}

/// # Safety
/// `stmt` has a current row and `i` is one of its columns.
unsafe fn read(stmt: *mut ffi::sqlite3_stmt, i: c_int) -> Result<Cell, sqlx::Error> {
    unsafe {
        Ok(match ffi::sqlite3_column_type(stmt, i) {
            ffi::SQLITE_INTEGER => Cell::Int(ffi::sqlite3_column_int64(stmt, i)),
            ffi::SQLITE_FLOAT => Cell::Real(ffi::sqlite3_column_double(stmt, i)),
            ffi::SQLITE_TEXT => {
                let p = ffi::sqlite3_column_text(stmt, i);
                let n = usize::try_from(ffi::sqlite3_column_bytes(stmt, i)).unwrap_or(0);
                let bytes = if p.is_null() || n == 0 {
                    &[][..]
                } else {
                    std::slice::from_raw_parts(p, n)
                };
                Cell::Text(String::from_utf8(bytes.to_vec()).map_err(|e| {
                    sqlx::Error::Decode(format!("a text column is not UTF-8: {e}").into())
                })?)
            }
            ffi::SQLITE_BLOB => {
                let p = ffi::sqlite3_column_blob(stmt, i) as *const u8;
                let n = usize::try_from(ffi::sqlite3_column_bytes(stmt, i)).unwrap_or(0);
                Cell::Blob(if p.is_null() || n == 0 {
                    Vec::new()
                } else {
                    std::slice::from_raw_parts(p, n).to_vec()
                })
            }
            _ => Cell::Null,
        })
    }
}

/// Statements that wait for the disk (`COMMIT`, a checkpoint, a copy).
fn is_slow(sql: &str) -> bool {
    let head = sql.trim_start();
    ["COMMIT", "VACUUM", "PRAGMA wal_checkpoint"]
        .iter()
        .any(|k| head.len() >= k.len() && head[..k.len()].eq_ignore_ascii_case(k))
}

/// Runs `f`, leaving the async worker thread to the runtime first when `may_wait` and the
/// runtime has other worker threads to take over (not in a single-threaded runtime, where
/// it would panic).
fn slow<T>(may_wait: bool, f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    let multi = may_wait
        && Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
    if multi {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}
