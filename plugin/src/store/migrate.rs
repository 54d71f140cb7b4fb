//! Embedded SQL migrations from `migrations/`, applied in order at start-up and by
//! `tapbridge db migrate`. A shipped migration is never edited: a changed checksum stops
//! start-up rather than leaving the schema in an unknown state.

use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, Row, SqlitePool};

use super::ms;
use crate::{Error, Result};

struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

/// Every migration of the workspace, bridge tables included: one schema, one history.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "core",
        sql: include_str!("../../../migrations/0001_core.sql"),
    },
    Migration {
        version: 2,
        name: "lifecycle",
        sql: include_str!("../../../migrations/0002_lifecycle.sql"),
    },
    Migration {
        version: 3,
        name: "ldap",
        sql: include_str!("../../../migrations/0003_ldap.sql"),
    },
    Migration {
        version: 4,
        name: "web",
        sql: include_str!("../../../migrations/0004_web.sql"),
    },
    Migration {
        version: 5,
        name: "outbox",
        sql: include_str!("../../../migrations/0005_outbox.sql"),
    },
];

/// What `run` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub applied: Vec<String>,
    pub current_version: i64,
}

pub async fn run(pool: &SqlitePool) -> Result<Report> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY, name TEXT NOT NULL,
            checksum BLOB NOT NULL, applied_at INTEGER NOT NULL)",
    )
    .execute(pool)
    .await?;
    let mut applied = Vec::new();
    for m in MIGRATIONS {
        let checksum = Sha256::digest(m.sql.as_bytes()).to_vec();
        // One transaction per migration, holding the write lock: two processes starting at
        // once cannot both apply it.
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        let existing = sqlx::query("SELECT checksum FROM schema_migrations WHERE version = ?")
            .bind(m.version)
            .fetch_optional(&mut *tx)
            .await?;
        match existing {
            Some(row) => {
                let stored: Vec<u8> = row.try_get("checksum")?;
                if stored != checksum {
                    return Err(Error::Internal(format!(
                        "migration {} ({}) differs from the one applied to this database",
                        m.version, m.name
                    )));
                }
            }
            None => {
                sqlx::raw_sql(AssertSqlSafe(m.sql))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
                )
                .bind(m.version)
                .bind(m.name)
                .bind(&checksum)
                .bind(ms(time::OffsetDateTime::now_utc()))
                .execute(&mut *tx)
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
        let again = run(store.pool()).await.unwrap();
        assert!(again.applied.is_empty());
        assert_eq!(
            again.current_version,
            MIGRATIONS[MIGRATIONS.len() - 1].version
        );
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM schema_migrations")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(n, MIGRATIONS.len() as i64);
    }
}
