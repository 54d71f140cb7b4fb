//! PostgreSQL, for several nodes over one database.

use std::str::FromStr;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};

use super::settings::{DatabaseSettings, PostgresSettings};

/// Every write transaction takes this transaction-scoped advisory lock first: writers are
/// serialised across nodes exactly as SQLite serialises them in one file, so every
/// read-then-write of the platform (a redemption, a lock-out count, a uniqueness check) keeps
/// the meaning it has on SQLite. Readers never wait for it.
pub(super) const WRITER_LOCK: i64 = 0x7461_7062_7772_6974; // "tapbwrit"

pub(super) fn options(pg: &PostgresSettings) -> Result<PgConnectOptions, sqlx::Error> {
    let mut options = PgConnectOptions::from_str(&pg.url)?.application_name("tapbridge");
    if let Some(password) = &pg.password {
        options = options.password(password.expose());
    }
    if let Some(ca) = &pg.ca_file {
        options = options.ssl_mode(PgSslMode::VerifyFull).ssl_root_cert(ca);
    }
    let timeout_ms = pg.statement_timeout.as_millis().max(1).to_string();
    Ok(options.options([("statement_timeout", timeout_ms.as_str())]))
}

pub(super) async fn open(
    pg: &PostgresSettings,
    settings: &DatabaseSettings,
) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(settings.max_connections.max(1))
        .min_connections(0)
        .acquire_timeout(settings.busy_timeout.max(std::time::Duration::from_secs(1)))
        .connect_with(options(pg)?)
        .await
}
