//! `[database]`: the embedded SQLite file, or PostgreSQL for several nodes.

use std::path::PathBuf;

use serde::Deserialize;

use super::{ConfigError, bad};

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    Full,
    Normal,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Empty or `sqlite:`: the embedded SQLite file at `path`. `postgres://user@host/db`:
    /// PostgreSQL, for several nodes.
    pub url: String,
    /// PostgreSQL password, read from this file (never in the URL).
    pub password_file: Option<PathBuf>,
    /// PostgreSQL over TLS, the server verified against this CA (`verify-full`).
    pub ca_file: Option<PathBuf>,
    /// PostgreSQL: statements running longer are cancelled.
    pub statement_timeout_ms: u64,
    /// SQLite file. Empty: `<data_dir>/tapbridge.db`.
    pub path: PathBuf,
    pub max_connections: u32,
    pub busy_timeout_ms: u64,
    pub durability: Durability,
    /// SQLite page cache per connection, MiB.
    pub cache_mib: u32,
    /// SQLite: the largest the database may grow, MiB (0: no cap).
    pub max_size_mib: u32,
    /// Write operations that arrive together commit together, up to this many (1: off).
    pub group_commit_max: u32,
    /// PostgreSQL: how often a node tries to become the leader (or checks that it still is).
    pub leader_interval_seconds: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: String::new(),
            password_file: None,
            ca_file: None,
            statement_timeout_ms: 30_000,
            path: PathBuf::new(),
            max_connections: 8,
            busy_timeout_ms: 5000,
            durability: Durability::Full,
            cache_mib: 16,
            max_size_mib: 0,
            group_commit_max: 64,
            leader_interval_seconds: 5,
        }
    }
}

impl DatabaseConfig {
    /// Checks the section's values.
    pub fn validate(&self, errors: &mut Vec<ConfigError>) {
        let db_url = self.url.trim();
        if let Some(rest) = db_url
            .strip_prefix("postgres://")
            .or_else(|| db_url.strip_prefix("postgresql://"))
        {
            let authority = rest.split(['/', '?']).next().unwrap_or_default();
            if authority
                .rsplit_once('@')
                .is_some_and(|(user, _)| user.contains(':'))
            {
                errors.push(bad(
                    "database.url",
                    "must not carry a password: put it in database.password_file",
                ));
            }
        } else if !(db_url.is_empty() || db_url == "sqlite:") {
            errors.push(bad(
                "database.url",
                "must be empty, `sqlite:` or a postgres:// URL",
            ));
        }
        if !(1..=3600).contains(&self.leader_interval_seconds) {
            errors.push(bad(
                "database.leader_interval_seconds",
                "must be between 1 and 3600",
            ));
        }
        if !(1..=3_600_000).contains(&self.statement_timeout_ms) {
            errors.push(bad(
                "database.statement_timeout_ms",
                "must be between 1 and 3600000",
            ));
        }
        if !(1..=64).contains(&self.max_connections) {
            errors.push(bad("database.max_connections", "must be between 1 and 64"));
        }
        if !(1..=1024).contains(&self.group_commit_max) {
            errors.push(bad(
                "database.group_commit_max",
                "must be between 1 and 1024",
            ));
        }
        if !(1..=4096).contains(&self.cache_mib) {
            errors.push(bad("database.cache_mib", "must be between 1 and 4096"));
        }
        if !(1..=60_000).contains(&self.busy_timeout_ms) {
            errors.push(bad(
                "database.busy_timeout_ms",
                "must be between 1 and 60000",
            ));
        }
    }
}
