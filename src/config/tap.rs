//! `[tap]`: Temporary Access Pass lock-out and retention.

use serde::Deserialize;

use super::{ConfigError, bad};

#[derive(Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TapConfig {
    pub max_failed_attempts: u32,
    pub retention_days: u32,
    pub purge_interval_minutes: u64,
}

impl Default for TapConfig {
    fn default() -> Self {
        TapConfig {
            max_failed_attempts: 10,
            retention_days: 30,
            purge_interval_minutes: 60,
        }
    }
}

impl TapConfig {
    /// Checks the section's values.
    pub fn validate(&self, errors: &mut Vec<ConfigError>) {
        if !(1..=100).contains(&self.max_failed_attempts) {
            errors.push(bad("tap.max_failed_attempts", "must be between 1 and 100"));
        }
        if self.retention_days > 3650 {
            errors.push(bad("tap.retention_days", "must be at most 3650"));
        }
        if !(1..=10_080).contains(&self.purge_interval_minutes) {
            errors.push(bad(
                "tap.purge_interval_minutes",
                "must be between 1 and 10080",
            ));
        }
    }
}
