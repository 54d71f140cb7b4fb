//! Embedded SQL migrations, one set per engine (`migrations/sqlite/`, `migrations/postgres/`),
//! applied in order at start-up and by `tapbridge db migrate`. Both sets have the same
//! versions with the same meaning. A shipped migration is never edited: a changed checksum
//! stops start-up rather than leaving the schema in an unknown state.

use sha2::{Digest, Sha256};

use super::{Engine, Store, ms, query};
use crate::{Error, Result};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

macro_rules! migration {
    ($version:literal, $name:literal, $file:literal) => {
        Migration {
            version: $version,
            name: $name,
            sqlite: include_str!(concat!("../../../migrations/sqlite/", $file)),
            postgres: include_str!(concat!("../../../migrations/postgres/", $file)),
        }
    };
}

/// Every migration of the workspace, bridge tables included: one schema, one history.
const MIGRATIONS: &[Migration] = &[
    migration!(1, "core", "0001_core.sql"),
    migration!(2, "lifecycle", "0002_lifecycle.sql"),
    migration!(3, "ldap", "0003_ldap.sql"),
    migration!(4, "web", "0004_web.sql"),
    migration!(5, "outbox", "0005_outbox.sql"),
    migration!(7, "pass_handover", "0007_pass_handover.sql"),
    migration!(
        8,
        "pass_sessions_and_audit",
        "0008_pass_sessions_and_audit.sql"
    ),
    migration!(9, "jobs", "0009_jobs.sql"),
    migration!(10, "oidc", "0010_oidc.sql"),
    migration!(11, "store_probe", "0011_store_probe.sql"),
    migration!(12, "entra", "0012_entra.sql"),
    migration!(13, "eam", "0013_eam.sql"),
    migration!(14, "rate_limits", "0014_rate_limits.sql"),
];

impl Migration {
    fn sql(&self, engine: Engine) -> &'static str {
        match engine {
            Engine::Sqlite => self.sqlite,
            Engine::Postgres => self.postgres,
        }
    }
}

/// What `run` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub applied: Vec<String>,
    pub current_version: i64,
}

pub async fn run(store: &Store) -> Result<Report> {
    let engine = store.engine();
    {
        let mut tx = store.write().await?;
        tx.batch(match engine {
            Engine::Sqlite => {
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INTEGER PRIMARY KEY, name TEXT NOT NULL,
                    checksum BLOB NOT NULL, applied_at INTEGER NOT NULL)"
            }
            Engine::Postgres => {
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                    version BIGINT PRIMARY KEY, name TEXT NOT NULL,
                    checksum BYTEA NOT NULL, applied_at BIGINT NOT NULL)"
            }
        })
        .await?;
        tx.commit().await?;
    }
    let mut applied = Vec::new();
    for m in MIGRATIONS {
        let sql = m.sql(engine);
        let checksum = Sha256::digest(sql.as_bytes()).to_vec();
        // One transaction per migration, holding the write lock: two processes (or nodes)
        // starting at once cannot both apply it. Both engines run DDL transactionally.
        let mut tx = store.write().await?;
        let existing: Option<Vec<u8>> =
            query("SELECT checksum FROM schema_migrations WHERE version = ?")
                .bind(m.version)
                .scalar_optional(&mut tx)
                .await?;
        match existing {
            Some(stored) => {
                if stored != checksum {
                    return Err(Error::Internal(format!(
                        "migration {} ({}) differs from the one applied to this database",
                        m.version, m.name
                    )));
                }
            }
            None => {
                tx.batch(sql).await?;
                query(
                    "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
                )
                .bind(m.version)
                .bind(m.name)
                .bind(checksum)
                .bind(ms(time::OffsetDateTime::now_utc()))
                .execute(&mut tx)
                .await?;
                applied.push(format!("{:04}_{}", m.version, m.name));
            }
        }
        tx.commit().await?;
    }
    let current_version = MIGRATIONS.last().map_or(0, |m| m.version);
    Ok(Report {
        applied,
        current_version,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;

    #[tokio::test]
    async fn migrations_apply_once() {
        let (store, _dir) = testing::store().await;
        let again = run(&store).await.unwrap();
        assert!(again.applied.is_empty());
        assert_eq!(
            again.current_version,
            MIGRATIONS[MIGRATIONS.len() - 1].version
        );
        let mut conn = store.read().await.unwrap();
        let n: i64 = query("SELECT count(*) FROM schema_migrations")
            .scalar(&mut conn)
            .await
            .unwrap();
        assert_eq!(n, MIGRATIONS.len() as i64);
    }

    #[test]
    fn versions_ascend() {
        assert!(MIGRATIONS.windows(2).all(|w| w[0].version < w[1].version));
    }
}
