//! The `oidc_flows` and `oidc_consents` tables: authorizations in progress, and what users
//! consented to.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{Connection, at, ms, opt_at, query};
use crate::domain::oidc::flow::Flow;
use crate::domain::oidc::scope::Scopes;
use crate::{Error, Result};

pub async fn insert(conn: &mut Connection, flow: &Flow) -> Result<()> {
    let request =
        serde_json::to_string(&flow.request).map_err(|e| Error::Internal(e.to_string()))?;
    query(
        "INSERT INTO oidc_flows (id, client_id, request, created_at, expires_at, consented_at)
         VALUES (?, ?, ?, ?, ?, NULL)",
    )
    .bind(&flow.id)
    .bind(flow.request.client_id.to_string())
    .bind(request)
    .bind(ms(flow.created_at))
    .bind(ms(flow.expires_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A flow that has not expired at `now`.
pub async fn get(conn: &mut Connection, id: &str, now: OffsetDateTime) -> Result<Option<Flow>> {
    let row = query(
        "SELECT id, request, created_at, expires_at, consented_at FROM oidc_flows
         WHERE id = ? AND expires_at > ?",
    )
    .bind(id)
    .bind(ms(now))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let request: String = r.try_get("request")?;
    Ok(Some(Flow {
        id: r.try_get("id")?,
        request: serde_json::from_str(&request)
            .map_err(|e| Error::Internal(format!("corrupt flow: {e}")))?,
        created_at: at(r.try_get("created_at")?),
        expires_at: at(r.try_get("expires_at")?),
        consented_at: opt_at(r.try_get("consented_at")?),
    }))
}

pub async fn set_consented(conn: &mut Connection, id: &str, now: OffsetDateTime) -> Result<()> {
    query("UPDATE oidc_flows SET consented_at = ? WHERE id = ?")
        .bind(ms(now))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Returns whether the flow was still there: a flow ends once.
pub async fn delete(conn: &mut Connection, id: &str) -> Result<bool> {
    let n = query("DELETE FROM oidc_flows WHERE id = ?")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(n == 1)
}

pub async fn purge_expired(conn: &mut Connection, now: OffsetDateTime) -> Result<u64> {
    Ok(query("DELETE FROM oidc_flows WHERE expires_at <= ?")
        .bind(ms(now))
        .execute(&mut *conn)
        .await?)
}

pub async fn delete_for_client(conn: &mut Connection, client_id: Uuid) -> Result<()> {
    for sql in [
        "DELETE FROM oidc_flows WHERE client_id = ?",
        "DELETE FROM oidc_consents WHERE client_id = ?",
    ] {
        query(sql)
            .bind(client_id.to_string())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn consent(
    conn: &mut Connection,
    user_id: Uuid,
    client_id: Uuid,
) -> Result<Option<Scopes>> {
    let scopes: Option<String> =
        query("SELECT scopes FROM oidc_consents WHERE user_id = ? AND client_id = ?")
            .bind(user_id.to_string())
            .bind(client_id.to_string())
            .scalar_optional(&mut *conn)
            .await?;
    Ok(scopes.map(|s| Scopes::parse(&s)))
}

/// Records consent to `scopes`, adding to what was consented before.
pub async fn grant_consent(
    conn: &mut Connection,
    user_id: Uuid,
    client_id: Uuid,
    scopes: &Scopes,
    now: OffsetDateTime,
) -> Result<()> {
    let all = match consent(conn, user_id, client_id).await? {
        Some(before) => before.union(scopes),
        None => scopes.clone(),
    };
    query(
        "INSERT INTO oidc_consents (user_id, client_id, scopes, granted_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at",
    )
    .bind(user_id.to_string())
    .bind(client_id.to_string())
    .bind(all.to_string())
    .bind(ms(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}
