//! The `api_tokens` table. Tokens are stored as keyed hashes; the token itself is shown once.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{Connection, Row, at, is_unique_violation, ms, opt_at, query, uuid};
use crate::domain::role::Roles;
use crate::{Error, Result};

/// The columns every query names explicitly: a `*` would be expanded when a connection first
/// prepares the statement, and go stale if the schema changes under it.
macro_rules! token_columns {
    () => {
        "id, name, roles, provisioning_source, secret_hash, created_at, last_used_at, revoked_at"
    };
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: Uuid,
    pub name: String,
    pub roles: Roles,
    /// Set for a SCIM client: the provisioning source it acts as (e.g. `scim:workday`).
    pub provisioning_source: Option<String>,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

fn from_row(row: &Row) -> Result<TokenInfo> {
    Ok(TokenInfo {
        id: uuid(row.try_get("id")?)?,
        name: row.try_get("name")?,
        roles: Roles::from_csv(row.try_get("roles")?).map_err(Error::Internal)?,
        provisioning_source: row.try_get("provisioning_source")?,
        created_at: at(row.try_get("created_at")?),
        last_used_at: opt_at(row.try_get("last_used_at")?),
        revoked_at: opt_at(row.try_get("revoked_at")?),
    })
}

pub async fn insert(conn: &mut Connection, info: &TokenInfo, secret_hash: &[u8]) -> Result<()> {
    let res = query(
        "INSERT INTO api_tokens (id, name, roles, provisioning_source, secret_hash, created_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(info.id.to_string())
    .bind(&info.name)
    .bind(info.roles.to_csv())
    .bind(&info.provisioning_source)
    .bind(secret_hash)
    .bind(ms(info.created_at))
    .execute(&mut *conn)
    .await;
    match res {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(Error::Conflict(format!(
            "a token named `{}` already exists",
            info.name
        ))),
        Err(e) => Err(e.into()),
    }
}

/// A live (not revoked) token and its hash.
pub async fn get_live(conn: &mut Connection, id: Uuid) -> Result<Option<(TokenInfo, Vec<u8>)>> {
    let row = query(concat!(
        "SELECT ",
        token_columns!(),
        " FROM api_tokens WHERE id = ? AND revoked_at IS NULL"
    ))
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        None => Ok(None),
        Some(r) => Ok(Some((from_row(&r)?, r.try_get("secret_hash")?))),
    }
}

pub async fn list(conn: &mut Connection) -> Result<Vec<TokenInfo>> {
    let rows = query(concat!(
        "SELECT ",
        token_columns!(),
        " FROM api_tokens ORDER BY created_at, name"
    ))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn count_live(conn: &mut Connection) -> Result<i64> {
    Ok(
        query("SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL")
            .scalar(&mut *conn)
            .await?,
    )
}

/// Revokes by id or name; returns the token if one was live.
pub async fn revoke(
    conn: &mut Connection,
    id_or_name: &str,
    now: OffsetDateTime,
) -> Result<Option<TokenInfo>> {
    let row = query(
        concat!("UPDATE api_tokens SET revoked_at = ? WHERE (id = ? OR name = ?) AND revoked_at IS NULL RETURNING ", token_columns!()),
    )
    .bind(ms(now))
    .bind(id_or_name)
    .bind(id_or_name)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Records use, at most once a minute per token so that reads do not become writes.
pub async fn touch(conn: &mut Connection, id: Uuid, now: OffsetDateTime) -> Result<()> {
    query(
        "UPDATE api_tokens SET last_used_at = ?1 WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?1 - 60000)",
    )
    .bind(ms(now))
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}
