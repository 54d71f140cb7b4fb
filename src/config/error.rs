//! The configuration's one error type: which key, and why.

use std::fmt;

/// A configuration problem: which key, and why.
#[derive(Debug)]
pub struct ConfigError {
    pub key: String,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "invalid configuration: {}", self.reason)
        } else {
            let env = format!("TAPBRIDGE_{}", self.key.replace('.', "__").to_uppercase());
            write!(
                f,
                "invalid configuration: `{}` (env {env}): {}",
                self.key, self.reason
            )
        }
    }
}

pub(crate) fn bad(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        reason: reason.into(),
    }
}
