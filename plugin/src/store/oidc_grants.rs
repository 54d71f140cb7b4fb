//! The `oidc_codes`, `oidc_grants` and `oidc_refresh_tokens` tables: what the token endpoint
//! redeems and what it issued. Codes and refresh tokens are `id.secret`; only keyed hashes of
//! the secrets are stored.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{Connection, Row, at, ms, opt_at, query, uuid};
use crate::domain::oidc::grant::{CodeDetail, CodeState, GrantDetail, RefreshState};
use crate::{Error, Result};

/// How old an expired code, grant or refresh token gets before it is deleted: a code replayed
/// a little after it expired is still recognised (and its grant revoked).
const KEEP_AFTER_EXPIRY_MS: i64 = 3_600_000;

fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Internal(e.to_string()))
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::Internal(format!("corrupt {what}: {e}")))
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_code(
    conn: &mut Connection,
    id: &str,
    secret_hash: &[u8],
    client_id: Uuid,
    user_id: Uuid,
    detail: &CodeDetail,
    created_at: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> Result<()> {
    query(
        "INSERT INTO oidc_codes (id, secret_hash, client_id, user_id, detail, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(secret_hash)
    .bind(client_id.to_string())
    .bind(user_id.to_string())
    .bind(json(detail)?)
    .bind(ms(created_at))
    .bind(ms(expires_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A stored code, whatever its state, with its secret's hash and the grant its redemption
/// made. Call inside the write transaction that marks it used.
pub async fn code(
    conn: &mut Connection,
    id: &str,
) -> Result<Option<(CodeState, Vec<u8>, Option<Uuid>)>> {
    let row = query(
        "SELECT secret_hash, client_id, user_id, detail, expires_at, used_at, grant_id
         FROM oidc_codes WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let detail: String = r.try_get("detail")?;
    let grant: Option<String> = r.try_get("grant_id")?;
    Ok(Some((
        CodeState {
            client_id: uuid(r.try_get("client_id")?)?,
            user_id: uuid(r.try_get("user_id")?)?,
            detail: parse("code", &detail)?,
            expires_at: at(r.try_get("expires_at")?),
            used: r.try_get::<Option<i64>, _>("used_at")?.is_some(),
        },
        r.try_get("secret_hash")?,
        grant.map(|g| uuid(&g)).transpose()?,
    )))
}

/// Marks a code spent. Returns whether it was unspent: under the write lock, exactly one
/// redemption of a code sees `true`.
pub async fn spend_code(conn: &mut Connection, id: &str, now: OffsetDateTime) -> Result<bool> {
    let n = query("UPDATE oidc_codes SET used_at = ? WHERE id = ? AND used_at IS NULL")
        .bind(ms(now))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(n == 1)
}

pub async fn set_code_grant(conn: &mut Connection, id: &str, grant_id: Uuid) -> Result<()> {
    query("UPDATE oidc_codes SET grant_id = ? WHERE id = ?")
        .bind(grant_id.to_string())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A grant as stored.
#[derive(Debug, Clone)]
pub struct GrantRow {
    pub id: Uuid,
    /// `authorization_code` or `client_credentials`.
    pub kind: &'static str,
    pub client_id: Uuid,
    pub user_id: Option<Uuid>,
    pub detail: GrantDetail,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

fn grant_from_row(r: &Row) -> Result<GrantRow> {
    let kind: String = r.try_get("kind")?;
    let detail: String = r.try_get("detail")?;
    let user: Option<String> = r.try_get("user_id")?;
    Ok(GrantRow {
        id: uuid(r.try_get("id")?)?,
        kind: if kind == "client_credentials" {
            "client_credentials"
        } else {
            "authorization_code"
        },
        client_id: uuid(r.try_get("client_id")?)?,
        user_id: user.map(|u| uuid(&u)).transpose()?,
        detail: parse("grant", &detail)?,
        created_at: at(r.try_get("created_at")?),
        expires_at: at(r.try_get("expires_at")?),
        revoked_at: opt_at(r.try_get("revoked_at")?),
    })
}

pub async fn insert_grant(conn: &mut Connection, g: &GrantRow) -> Result<()> {
    query(
        "INSERT INTO oidc_grants (id, kind, client_id, user_id, detail, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(g.id.to_string())
    .bind(g.kind)
    .bind(g.client_id.to_string())
    .bind(g.user_id.map(|u| u.to_string()))
    .bind(json(&g.detail)?)
    .bind(ms(g.created_at))
    .bind(ms(g.expires_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn grant(conn: &mut Connection, id: Uuid) -> Result<Option<GrantRow>> {
    let row = query(
        "SELECT id, kind, client_id, user_id, detail, created_at, expires_at, revoked_at
         FROM oidc_grants WHERE id = ?",
    )
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(grant_from_row).transpose()
}

/// Whether a grant exists and is not revoked: what every access-token check asks.
pub async fn grant_is_live(conn: &mut Connection, id: Uuid) -> Result<bool> {
    let live: Option<String> =
        query("SELECT id FROM oidc_grants WHERE id = ? AND revoked_at IS NULL")
            .bind(id.to_string())
            .scalar_optional(&mut *conn)
            .await?;
    Ok(live.is_some())
}

/// Revokes a grant (and so its refresh tokens and access tokens). Returns whether it was
/// live.
pub async fn revoke_grant(
    conn: &mut Connection,
    id: Uuid,
    now: OffsetDateTime,
    reason: &str,
) -> Result<bool> {
    let n = query(
        "UPDATE oidc_grants SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL",
    )
    .bind(ms(now))
    .bind(reason)
    .bind(id.to_string())
    .execute(&mut *conn).await?;
    Ok(n == 1)
}

/// Revokes the live grants of `client_id` that a user got through one browser session
/// (RP-initiated logout). Returns how many.
pub async fn revoke_for_session(
    conn: &mut Connection,
    user_id: Uuid,
    session_id: &str,
    client_id: Uuid,
    now: OffsetDateTime,
) -> Result<u64> {
    // The session is inside the grant's JSON detail; each engine reads JSON its own way.
    let sql = conn.pick(
        "UPDATE oidc_grants SET revoked_at = ?, revoked_reason = 'logout'
         WHERE user_id = ? AND client_id = ? AND revoked_at IS NULL
           AND json_extract(detail, '$.session_id') = ?",
        "UPDATE oidc_grants SET revoked_at = ?, revoked_reason = 'logout'
         WHERE user_id = ? AND client_id = ? AND revoked_at IS NULL
           AND (detail::jsonb ->> 'session_id') = ?",
    );
    Ok(query(sql)
        .bind(ms(now))
        .bind(user_id.to_string())
        .bind(client_id.to_string())
        .bind(session_id)
        .execute(&mut *conn)
        .await?)
}

pub async fn insert_refresh(
    conn: &mut Connection,
    id: &str,
    secret_hash: &[u8],
    grant_id: Uuid,
    created_at: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> Result<()> {
    query(
        "INSERT INTO oidc_refresh_tokens (id, secret_hash, grant_id, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(secret_hash)
    .bind(grant_id.to_string())
    .bind(ms(created_at))
    .bind(ms(expires_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A refresh token with its grant's state, and the token secret's hash.
pub async fn refresh(conn: &mut Connection, id: &str) -> Result<Option<(RefreshState, Vec<u8>)>> {
    let row = query(
        "SELECT t.secret_hash, t.grant_id, t.expires_at, t.used_at, g.client_id,
                g.expires_at AS grant_expires_at, g.revoked_at
         FROM oidc_refresh_tokens t JOIN oidc_grants g ON g.id = t.grant_id
         WHERE t.id = ?",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some((
        RefreshState {
            grant_id: uuid(r.try_get("grant_id")?)?,
            client_id: uuid(r.try_get("client_id")?)?,
            token_expires_at: at(r.try_get("expires_at")?),
            token_used: r.try_get::<Option<i64>, _>("used_at")?.is_some(),
            grant_expires_at: at(r.try_get("grant_expires_at")?),
            grant_revoked: r.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
        },
        r.try_get("secret_hash")?,
    )))
}

/// Spends a refresh token. Returns whether it was unspent (exactly once, under the write
/// lock).
pub async fn spend_refresh(conn: &mut Connection, id: &str, now: OffsetDateTime) -> Result<bool> {
    let n = query("UPDATE oidc_refresh_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL")
        .bind(ms(now))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(n == 1)
}

/// Removes an application's codes and grants (their refresh tokens go with them).
pub async fn delete_for_client(conn: &mut Connection, client_id: Uuid) -> Result<()> {
    for sql in [
        "DELETE FROM oidc_codes WHERE client_id = ?",
        "DELETE FROM oidc_grants WHERE client_id = ?",
    ] {
        query(sql)
            .bind(client_id.to_string())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Deletes codes, refresh tokens and grants an hour past their expiry. Returns how many rows.
pub async fn purge_expired(conn: &mut Connection, now: OffsetDateTime) -> Result<u64> {
    let cutoff = ms(now) - KEEP_AFTER_EXPIRY_MS;
    let mut n = 0;
    for sql in [
        "DELETE FROM oidc_codes WHERE expires_at <= ?",
        "DELETE FROM oidc_refresh_tokens WHERE expires_at <= ?",
        "DELETE FROM oidc_grants WHERE expires_at <= ?",
    ] {
        n += query(sql).bind(cutoff).execute(&mut *conn).await?;
    }
    Ok(n)
}

/// Records a client assertion's `jti`. Returns `false` if it was seen before (a replay).
pub async fn remember_jti(
    conn: &mut Connection,
    client_id: Uuid,
    jti: &str,
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<bool> {
    query("DELETE FROM oidc_assertion_jtis WHERE expires_at <= ?")
        .bind(ms(now))
        .execute(&mut *conn)
        .await?;
    let n = query(
        "INSERT INTO oidc_assertion_jtis (client_id, jti, expires_at) VALUES (?, ?, ?)
         ON CONFLICT DO NOTHING",
    )
    .bind(client_id.to_string())
    .bind(jti)
    .bind(ms(expires_at))
    .execute(&mut *conn)
    .await?;
    Ok(n == 1)
}
