//! What the store knows about its own health: whether writes currently fail for a reason
//! outside tapbridge (a full disk, a read-only file system, a database that cannot be
//! reached), since when, and how often. `/readyz` and `/metrics` read it; a successful commit
//! or probe clears it, so the daemon recovers without a restart when the cause goes away.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

/// Why the store cannot write (or be reached).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// No space left: the file system, or SQLite's `max_page_count`, or PostgreSQL's disk.
    DiskFull,
    /// The database or its directory turned read-only.
    ReadOnly,
    /// The operating system failed a read or write.
    Io,
    /// The database server cannot be reached or refuses connections.
    Unavailable,
    /// The database file is damaged.
    Corrupt,
}

impl Cause {
    pub const ALL: [Cause; 5] = [
        Cause::DiskFull,
        Cause::ReadOnly,
        Cause::Io,
        Cause::Unavailable,
        Cause::Corrupt,
    ];

    /// The label of `/metrics` series.
    pub fn label(self) -> &'static str {
        match self {
            Cause::DiskFull => "disk_full",
            Cause::ReadOnly => "read_only",
            Cause::Io => "io_error",
            Cause::Unavailable => "unavailable",
            Cause::Corrupt => "corrupt",
        }
    }

    /// In words, for `/readyz` and logs.
    pub fn describe(self) -> &'static str {
        match self {
            Cause::DiskFull => "the database or its disk is full",
            Cause::ReadOnly => "the database is read-only",
            Cause::Io => "the database file cannot be read or written (I/O error)",
            Cause::Unavailable => "the database cannot be reached",
            Cause::Corrupt => "the database file is damaged",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The cause behind a driver error, when it is one of the store's own faults rather than a
/// rule of the data (a unique constraint) or a bug (a bad statement).
pub fn classify(e: &sqlx::Error) -> Option<Cause> {
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code()?;
            if let Ok(n) = code.parse::<i64>() {
                // SQLite: the primary result code is the low byte of the extended one.
                return match n & 0xff {
                    13 => Some(Cause::DiskFull),
                    8 => Some(Cause::ReadOnly),
                    10 => Some(Cause::Io),
                    14 => Some(Cause::Unavailable),
                    11 | 26 => Some(Cause::Corrupt),
                    _ => None,
                };
            }
            // PostgreSQL SQLSTATE.
            match code.as_ref() {
                "53100" => Some(Cause::DiskFull),
                "25006" => Some(Cause::ReadOnly),
                "58030" => Some(Cause::Io),
                "XX001" | "XX002" => Some(Cause::Corrupt),
                c if c.starts_with("08") || c.starts_with("57P") || c.starts_with("53") => {
                    Some(Cause::Unavailable)
                }
                _ => None,
            }
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => Some(Cause::Unavailable),
        _ => None,
    }
}

/// A fault in force.
#[derive(Debug, Clone)]
pub struct Fault {
    pub cause: Cause,
    /// The driver's own words, for the log and `/readyz`.
    pub detail: String,
    pub since: OffsetDateTime,
}

/// The store's health, shared by its connections.
#[derive(Debug, Default)]
pub struct Health {
    fault: Mutex<Option<Fault>>,
    failures: [AtomicU64; 5],
    last_probe: Mutex<Option<Instant>>,
    /// The directory of an SQLite database, whose file system's free space decides when a
    /// full disk is over (see [`Health::nearly_full`]).
    data_dir: std::sync::OnceLock<std::path::PathBuf>,
}

/// The least free space on the file system for a store that ran out of it to count as
/// writable again (more than a few writes need).
const ROOM: u64 = 256 * 1024;

impl Health {
    /// Records a failed statement; returns its cause if it is a store fault.
    pub fn observe(&self, e: &sqlx::Error) -> Option<Cause> {
        let cause = classify(e)?;
        self.failures[cause.index()].fetch_add(1, Ordering::Relaxed);
        let mut fault = self.fault.lock().unwrap_or_else(|p| p.into_inner());
        if fault.as_ref().is_none_or(|f| f.cause != cause) {
            tracing::error!(cause = cause.label(), error = %e, "store: {}", cause.describe());
            *fault = Some(Fault {
                cause,
                detail: e.to_string(),
                since: OffsetDateTime::now_utc(),
            });
        }
        Some(cause)
    }

    /// Where an SQLite database lives (see `data_dir`).
    pub(super) fn watch_space_of(&self, dir: std::path::PathBuf) {
        let _ = self.data_dir.set(dir);
    }

    /// Whether the SQLite database's file system has less than [`ROOM`] free. SQLite can
    /// still commit a small write into the space that the write which failed left in its
    /// log (seen: 16 KiB committed with 0 bytes free), so one successful commit does not
    /// end a full disk: the next real write fails again.
    pub fn nearly_full(&self) -> bool {
        self.data_dir.get().is_some_and(|dir| {
            rustix::fs::statvfs(dir).is_ok_and(|st| st.f_bavail.saturating_mul(st.f_frsize) < ROOM)
        })
    }

    /// A write committed: whatever failed before works again (a full disk only once it has
    /// room again).
    pub fn recovered(&self) {
        let mut fault = self.fault.lock().unwrap_or_else(|p| p.into_inner());
        if fault.as_ref().is_some_and(|f| f.cause == Cause::DiskFull) && self.nearly_full() {
            return;
        }
        if let Some(f) = fault.take() {
            let after = OffsetDateTime::now_utc() - f.since;
            tracing::info!(
                cause = f.cause.label(),
                after_ms = after.whole_milliseconds() as i64,
                "store: writes succeed again"
            );
        }
    }

    pub fn fault(&self) -> Option<Fault> {
        self.fault.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Failures seen per cause since start.
    pub fn failures(&self) -> Vec<(Cause, u64)> {
        Cause::ALL
            .iter()
            .map(|c| (*c, self.failures[c.index()].load(Ordering::Relaxed)))
            .collect()
    }

    /// Whether a probe may run now: at most one per `interval`, so a readiness probe
    /// hammered by a load balancer does not turn into a write load of its own.
    pub fn probe_due(&self, interval: Duration) -> bool {
        let mut last = self.last_probe.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if last.is_some_and(|l| now.duration_since(l) < interval) {
            return false;
        }
        *last = Some(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_mean_unavailable() {
        let e = sqlx::Error::Io(std::io::Error::other("connection refused"));
        assert_eq!(classify(&e), Some(Cause::Unavailable));
        assert_eq!(classify(&sqlx::Error::RowNotFound), None);
    }

    #[test]
    fn a_fault_holds_until_recovery() {
        let h = Health::default();
        assert!(h.fault().is_none());
        h.observe(&sqlx::Error::PoolTimedOut);
        assert_eq!(h.fault().unwrap().cause, Cause::Unavailable);
        assert_eq!(
            h.failures()
                .into_iter()
                .find(|(c, _)| *c == Cause::Unavailable)
                .unwrap()
                .1,
            1
        );
        h.recovered();
        assert!(h.fault().is_none());
    }

    #[test]
    fn probes_are_spaced() {
        let h = Health::default();
        assert!(h.probe_due(Duration::from_secs(60)));
        assert!(!h.probe_due(Duration::from_secs(60)));
        assert!(h.probe_due(Duration::ZERO));
    }
}
