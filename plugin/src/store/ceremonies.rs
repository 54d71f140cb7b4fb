//! The `webauthn_ceremonies` table: a registration's or sign-in's server-side state between
//! the options sent to the browser and its answer.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{Connection, ms, query, uuid};
use crate::Result;
use crate::domain::webauthn::CeremonyKind;

/// A ceremony taken out of the store.
#[derive(Debug)]
pub struct Taken {
    pub session_id: Option<String>,
    pub user_id: Option<Uuid>,
    /// The verifier's serialised state.
    pub state: String,
}

pub async fn insert(
    conn: &mut Connection,
    id: &str,
    kind: CeremonyKind,
    session_id: Option<&str>,
    user_id: Option<Uuid>,
    state: &str,
    expires_at: OffsetDateTime,
) -> Result<()> {
    query(
        "INSERT INTO webauthn_ceremonies (id, kind, session_id, user_id, state, expires_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(kind.as_str())
    .bind(session_id)
    .bind(user_id.map(|u| u.to_string()))
    .bind(state)
    .bind(ms(expires_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Deletes the ceremony and returns it if it existed, was of `kind` and had not expired. A
/// ceremony can be taken once: a replayed answer finds nothing.
pub async fn take(
    conn: &mut Connection,
    id: &str,
    kind: CeremonyKind,
    now: OffsetDateTime,
) -> Result<Option<Taken>> {
    let row = query(
        "DELETE FROM webauthn_ceremonies WHERE id = ?
         RETURNING kind, session_id, user_id, state, expires_at",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let stored_kind: String = row.try_get("kind")?;
    let expires_at: i64 = row.try_get("expires_at")?;
    if stored_kind != kind.as_str() || expires_at <= ms(now) {
        return Ok(None);
    }
    Ok(Some(Taken {
        session_id: row.try_get("session_id")?,
        user_id: row
            .try_get::<Option<String>, _>("user_id")?
            .map(|u| uuid(&u))
            .transpose()?,
        state: row.try_get("state")?,
    }))
}

pub async fn purge_expired(conn: &mut Connection, now: OffsetDateTime) -> Result<u64> {
    Ok(
        query("DELETE FROM webauthn_ceremonies WHERE expires_at <= ?")
            .bind(ms(now))
            .execute(&mut *conn)
            .await?,
    )
}
