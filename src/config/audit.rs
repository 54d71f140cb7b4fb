//! `[audit]`: the audit log's retention and coalescing.

use serde::Deserialize;

use super::{ConfigError, bad};

/// The audit log: how long records are kept, and how repeats of a failure are counted.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Days a record is kept after its last occurrence; 0: for ever.
    pub retention_days: u32,
    pub purge_interval_minutes: u64,
    /// Repeats of an identical failed sign-in within this many minutes share one record.
    pub coalesce_window_minutes: u32,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            retention_days: 365,
            purge_interval_minutes: 60,
            coalesce_window_minutes: 15,
        }
    }
}

impl AuditConfig {
    /// Checks the section's values.
    pub fn validate(&self, errors: &mut Vec<ConfigError>) {
        if self.retention_days > 36_500 {
            errors.push(bad("audit.retention_days", "must be at most 36500"));
        }
        if !(1..=10_080).contains(&self.purge_interval_minutes) {
            errors.push(bad(
                "audit.purge_interval_minutes",
                "must be between 1 and 10080",
            ));
        }
        if !(1..=1440).contains(&self.coalesce_window_minutes) {
            errors.push(bad(
                "audit.coalesce_window_minutes",
                "must be between 1 and 1440",
            ));
        }
    }
}
