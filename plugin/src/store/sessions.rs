//! The `web_sessions` table. The secret half of a session cookie is never stored, only its
//! keyed hash. A bootstrap session names the pass that opened it (`tap_id`); the row goes
//! with the pass (foreign key, `ON DELETE CASCADE`).

use time::OffsetDateTime;
use uuid::Uuid;

use super::{Connection, Row, at, ms, query, uuid};
use crate::domain::session::{Session, SessionKind};
use crate::{Error, Result};

macro_rules! session_columns {
    () => {
        "id, secret_hash, user_id, kind, created_at, last_seen_at, idle_expires_at, absolute_expires_at, tap_id"
    };
}

fn from_row(row: &Row) -> Result<(Session, Vec<u8>)> {
    let kind: String = row.try_get("kind")?;
    let session = Session {
        id: row.try_get("id")?,
        user_id: uuid(row.try_get("user_id")?)?,
        kind: SessionKind::parse(&kind)
            .ok_or_else(|| Error::Internal(format!("corrupt session kind {kind:?}")))?,
        tap_id: row
            .try_get::<Option<&str>, _>("tap_id")?
            .map(uuid)
            .transpose()?,
        created_at: at(row.try_get("created_at")?),
        last_seen_at: at(row.try_get("last_seen_at")?),
        idle_expires_at: at(row.try_get("idle_expires_at")?),
        absolute_expires_at: at(row.try_get("absolute_expires_at")?),
    };
    Ok((session, row.try_get("secret_hash")?))
}

pub async fn insert(conn: &mut Connection, s: &Session, secret_hash: &[u8]) -> Result<()> {
    query(concat!(
        "INSERT INTO web_sessions (",
        session_columns!(),
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(&s.id)
    .bind(secret_hash)
    .bind(s.user_id.to_string())
    .bind(s.kind.as_str())
    .bind(ms(s.created_at))
    .bind(ms(s.last_seen_at))
    .bind(ms(s.idle_expires_at))
    .bind(ms(s.absolute_expires_at))
    .bind(s.tap_id.map(|t| t.to_string()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The session and its secret's hash, for verification.
pub async fn get(conn: &mut Connection, id: &str) -> Result<Option<(Session, Vec<u8>)>> {
    let row = query(concat!(
        "SELECT ",
        session_columns!(),
        " FROM web_sessions WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn touch(conn: &mut Connection, s: &Session) -> Result<()> {
    query("UPDATE web_sessions SET last_seen_at = ?, idle_expires_at = ? WHERE id = ?")
        .bind(ms(s.last_seen_at))
        .bind(ms(s.idle_expires_at))
        .bind(&s.id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Returns whether a session was deleted.
pub async fn delete(conn: &mut Connection, id: &str) -> Result<bool> {
    let n = query("DELETE FROM web_sessions WHERE id = ?")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(n > 0)
}

/// Whether the session is still stored (not signed out, revoked or purged).
pub async fn exists(conn: &mut Connection, id: &str) -> Result<bool> {
    let n: i64 = query("SELECT count(*) FROM web_sessions WHERE id = ?")
        .bind(id)
        .scalar(&mut *conn)
        .await?;
    Ok(n > 0)
}

/// Ends every session opened with the pass `tap_id`. Returns how many there were.
pub async fn delete_for_tap(conn: &mut Connection, tap_id: Uuid) -> Result<u64> {
    Ok(query("DELETE FROM web_sessions WHERE tap_id = ?")
        .bind(tap_id.to_string())
        .execute(&mut *conn)
        .await?)
}

/// Ends every session of a user. Returns how many there were.
pub async fn delete_for_user(conn: &mut Connection, user_id: Uuid) -> Result<u64> {
    Ok(query("DELETE FROM web_sessions WHERE user_id = ?")
        .bind(user_id.to_string())
        .execute(&mut *conn)
        .await?)
}

/// Sessions of a user still live at `now`.
pub async fn count_live_for_user(
    conn: &mut Connection,
    user_id: Uuid,
    now: OffsetDateTime,
) -> Result<i64> {
    Ok(query(
        "SELECT count(*) FROM web_sessions
         WHERE user_id = ? AND idle_expires_at > ? AND absolute_expires_at > ?",
    )
    .bind(user_id.to_string())
    .bind(ms(now))
    .bind(ms(now))
    .scalar(&mut *conn)
    .await?)
}

pub async fn purge_expired(conn: &mut Connection, now: OffsetDateTime) -> Result<u64> {
    Ok(
        query("DELETE FROM web_sessions WHERE idle_expires_at <= ? OR absolute_expires_at <= ?")
            .bind(ms(now))
            .bind(ms(now))
            .execute(&mut *conn)
            .await?,
    )
}
