//! What a directory sync keeps between runs and about its objects: delta cursors, the
//! per-source state, the quarantine and the run lock's holder. Plain data; the storage layer
//! reads and writes it.

use time::OffsetDateTime;
use uuid::Uuid;

/// What tapbridge knows of a user a directory entry may already be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub id: Uuid,
    pub enabled: bool,
    /// The fingerprint of the mapped entry last imported; `None` if the user exists but was
    /// never imported by this sync (or was deprovisioned since).
    pub fingerprint: Option<String>,
    /// How groups name the user as last imported (normalised DN, login).
    pub references: Option<(String, Option<String>)>,
}

/// An entry held back as unusable, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Quarantined {
    pub dn: String,
    pub anchor: Option<String>,
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: OffsetDateTime,
}

/// The per-source sync state (`ldap_sync_state`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Cursor {
    /// RFC 4533 cookies by base DN, hex-encoded.
    #[serde(default)]
    pub cookies: std::collections::BTreeMap<String, String>,
    /// `modifyTimestamp` from which the next timestamp delta reads (GeneralizedTime).
    #[serde(default)]
    pub watermark: Option<String>,
    /// AD DirSync cookie (hex) for the naming context `naming_context`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dirsync: Option<String>,
    /// AD `uSNChanged` position on one domain controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usn: Option<UsnMark>,
    /// AD: the naming context the DirSync / uSNChanged searches cover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub naming_context: Option<String>,
}

impl Cursor {
    /// The delta method this cursor resumes, `None` when the next run must be a full one.
    pub fn method(&self) -> Option<&'static str> {
        if self.dirsync.is_some() {
            Some("dirsync")
        } else if self.usn.is_some() {
            Some("usn")
        } else if !self.cookies.is_empty() {
            Some("content-sync")
        } else if self.watermark.is_some() {
            Some("timestamp")
        } else {
            None
        }
    }
}

/// Where a `uSNChanged` delta resumes. USNs are local to one domain controller and to one
/// incarnation of its database: a different `server` or `invocation_id` (a restore from
/// backup) makes the number meaningless, and the next run is a full one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UsnMark {
    /// The DC's `dsServiceName` (its NTDS Settings DN).
    pub server: String,
    pub invocation_id: String,
    /// Changes with a `uSNChanged` above this are read next time.
    pub usn: i64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceState {
    pub cursor: Cursor,
    pub cursor_at: Option<OffsetDateTime>,
    pub last_full_at: Option<OffsetDateTime>,
    pub last_run_at: Option<OffsetDateTime>,
    pub last_status: Option<String>,
    pub last_mode: Option<String>,
    pub last_error: Option<String>,
    pub last_duration_ms: Option<i64>,
    pub last_counts: serde_json::Value,
    pub runs_ok: i64,
    pub runs_failed: i64,
}

/// How a run ended, for the state row.
pub struct RunRecord<'a> {
    pub source: &'a str,
    pub at: OffsetDateTime,
    pub status: &'a str,
    pub mode: &'a str,
    pub error: Option<&'a str>,
    pub duration_ms: i64,
    pub counts: &'a serde_json::Value,
    /// `Some` only when the run completed: the cursor then moves forward.
    pub cursor: Option<&'a Cursor>,
    pub full_completed: bool,
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Who holds (or wants) a run lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLockHolder {
    pub token: String,
    pub host: String,
    pub pid: u32,
    /// The process's start time as the OS counts it (Linux: ticks since boot), if known.
    pub pid_start: Option<u64>,
    pub started_at: OffsetDateTime,
    pub heartbeat_at: OffsetDateTime,
}
