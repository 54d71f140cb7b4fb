//! The `oidc_session_auth` table: which passkey sign-in opened a browser session.

use uuid::Uuid;

use super::{Connection, at, ms, query, uuid};
use crate::Result;
use crate::domain::oidc::authn::Authentication;

pub async fn insert(conn: &mut Connection, session_id: &str, auth: &Authentication) -> Result<()> {
    query(
        "INSERT INTO oidc_session_auth (session_id, user_id, authenticated_at, method_id, backup_eligible, user_verified)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(session_id)
    .bind(auth.user_id.to_string())
    .bind(ms(auth.at))
    .bind(auth.method_id.to_string())
    .bind(auth.backup_eligible)
    .bind(auth.user_verified)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The sign-in behind a session; `None` for a session no passkey opened.
pub async fn get(conn: &mut Connection, session_id: &str) -> Result<Option<Authentication>> {
    let row = query(
        "SELECT user_id, authenticated_at, method_id, backup_eligible, user_verified
         FROM oidc_session_auth WHERE session_id = ?",
    )
    .bind(session_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let user_id: String = r.try_get("user_id")?;
    let method_id: String = r.try_get("method_id")?;
    Ok(Some(Authentication {
        user_id: uuid(&user_id)?,
        at: at(r.try_get("authenticated_at")?),
        method_id: Uuid::parse_str(&method_id).unwrap_or_default(),
        backup_eligible: r.try_get("backup_eligible")?,
        user_verified: r.try_get("user_verified")?,
    }))
}
