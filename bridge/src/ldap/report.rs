//! What a run did: counters for the summary, the admin API and /metrics.

use serde::Serialize;

/// The counters, kept by the platform as it applies a run.
pub use plugin::domain::directory_sync::Counts;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Full,
    Delta,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::Delta => "delta",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Ok,
    Failed,
    /// Stopped by the deprovisioning guard; nobody was disabled or deleted.
    Guarded,
    DryRun,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Guarded => "guarded",
            Status::DryRun => "dry-run",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub source: String,
    pub mode: Mode,
    pub status: Status,
    pub counts: Counts,
    pub duration_ms: u64,
    pub error: Option<String>,
    /// In a dry run: one line per change it would make.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub plan: Vec<String>,
    /// A delta's method: content-sync, dirsync, usn or timestamp.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta_method: Option<&'static str>,
}

impl Report {
    pub fn entries_per_second(&self) -> f64 {
        if self.duration_ms == 0 {
            return self.counts.read as f64;
        }
        self.counts.read as f64 * 1000.0 / self.duration_ms as f64
    }

    /// The human summary the CLI prints.
    pub fn summary(&self) -> String {
        let c = &self.counts;
        let mut s = format!(
            "{} sync of {}: {} — {} added, {} updated, {} disabled, {} deleted, {} quarantined; groups {} added, {} updated, {} deleted (memberships +{} −{}); {} entries in {:.1} s ({:.0}/s)",
            self.mode.as_str(),
            self.source,
            self.status.as_str(),
            c.added,
            c.updated,
            c.disabled,
            c.deleted,
            c.quarantined,
            c.groups_added,
            c.groups_updated,
            c.groups_deleted,
            c.memberships_added,
            c.memberships_removed,
            c.read,
            self.duration_ms as f64 / 1000.0,
            self.entries_per_second(),
        );
        if let Some(e) = &self.error {
            s.push_str(&format!("\n  error: {e}"));
        }
        s
    }
}
