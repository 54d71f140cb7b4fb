//! `[log]`: level and format of the daemon's log.

use serde::Deserialize;

use super::{ConfigError, bad};

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing filter: `info`, `debug`, `tapbridge=debug,sqlx=warn` …
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

impl LogConfig {
    /// Checks the section's values.
    pub fn validate(&self, errors: &mut Vec<ConfigError>) {
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.level) {
            errors.push(bad("log.level", format!("not a valid filter: {e}")));
        }
    }
}
