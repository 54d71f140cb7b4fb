//! How to reach the database and how hard it works for durability.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::secret::SecretString;

/// How hard SQLite works to make a commit durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync on every commit: a committed write survives power loss.
    Full,
    /// fsync at checkpoints only: a committed write survives a crash of tapbridge, not
    /// necessarily a power loss.
    Normal,
}

impl FromStr for Durability {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "full" => Ok(Durability::Full),
            "normal" => Ok(Durability::Normal),
            _ => Err(format!("expected `full` or `normal`, got `{s}`")),
        }
    }
}

/// Where the data lives.
#[derive(Debug, Clone)]
pub enum Location {
    /// The embedded default: a file (WAL beside it).
    Sqlite(PathBuf),
    /// A PostgreSQL database, for several nodes.
    Postgres(PostgresSettings),
}

#[derive(Debug, Clone)]
pub struct PostgresSettings {
    /// `postgres://user@host:port/database` (a password in the URL is refused at start-up:
    /// it belongs in `password`).
    pub url: String,
    pub password: Option<SecretString>,
    /// Verify the server's certificate against this CA and its name against the URL's host
    /// (`verify-full`). Without it, the URL's own `sslmode` applies.
    pub ca_file: Option<PathBuf>,
    /// Any statement running longer is cancelled by the server.
    pub statement_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub location: Location,
    pub max_connections: u32,
    /// How long a writer waits for another process's write lock (SQLite) or a connection.
    pub busy_timeout: Duration,
    pub durability: Durability,
    /// Page cache per connection, MiB (SQLite).
    pub cache_mib: u32,
    /// The largest the database file may grow, MiB (SQLite; 0: no cap). A write that would
    /// grow it further fails as if the disk were full, and succeeds again once rows are
    /// deleted: a flood cannot fill the disk the rest of the host needs.
    pub max_size_mib: u32,
    /// The most write operations one commit covers when they come at once (group commit);
    /// 1: each commits on its own.
    pub group_commit_max: u32,
}

impl DatabaseSettings {
    /// An SQLite file with the defaults.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        DatabaseSettings {
            location: Location::Sqlite(path.into()),
            max_connections: 8,
            busy_timeout: Duration::from_secs(5),
            durability: Durability::Full,
            cache_mib: 16,
            max_size_mib: 0,
            group_commit_max: 64,
        }
    }

    /// A PostgreSQL database with the defaults.
    pub fn postgres(url: impl Into<String>) -> Self {
        DatabaseSettings {
            location: Location::Postgres(PostgresSettings {
                url: url.into(),
                password: None,
                ca_file: None,
                statement_timeout: Duration::from_secs(30),
            }),
            ..DatabaseSettings::at("")
        }
    }

    /// Where the database is, for messages (never a password).
    pub fn describe(&self) -> String {
        match &self.location {
            Location::Sqlite(path) => path.display().to_string(),
            Location::Postgres(pg) => pg.url.clone(),
        }
    }
}
