//! The `web_pass_handovers` table: a pass created on the admin pages, sealed, between the form
//! that asked for it and the one page view that shows it.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{Connection, ms, query, uuid};
use crate::Result;

/// One row. `sealed` is `None` once the pass has been shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handover {
    pub session_id: String,
    pub form_id: String,
    pub user_id: Uuid,
    pub tap_id: Uuid,
    pub sealed: Option<Vec<u8>>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

pub async fn insert(conn: &mut Connection, h: &Handover) -> Result<()> {
    query(
        "INSERT INTO web_pass_handovers \
         (session_id, form_id, user_id, tap_id, sealed, created_at, expires_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&h.session_id)
    .bind(&h.form_id)
    .bind(h.user_id.to_string())
    .bind(h.tap_id.to_string())
    .bind(h.sealed.as_deref())
    .bind(ms(h.created_at))
    .bind(ms(h.expires_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The user a form submission already created a pass for, if it did (shown or not).
pub async fn user_of(
    conn: &mut Connection,
    session_id: &str,
    form_id: &str,
) -> Result<Option<Uuid>> {
    let id: Option<String> =
        query("SELECT user_id FROM web_pass_handovers WHERE session_id = ? AND form_id = ?")
            .bind(session_id)
            .bind(form_id)
            .scalar_optional(&mut *conn)
            .await?;
    id.as_deref().map(uuid).transpose()
}

/// Takes the sealed pass out of an unexpired row for `user_id`, leaving the row (so a
/// repeated form still finds it) without it: `(user id, pass id, sealed pass)`, or `None` if there is none or it
/// was taken already. Run it in a write transaction, which makes the read and the wipe one
/// step.
pub async fn take(
    conn: &mut Connection,
    session_id: &str,
    form_id: &str,
    user_id: Uuid,
    now: OffsetDateTime,
) -> Result<Option<(Uuid, Uuid, Vec<u8>)>> {
    let row = query(
        "SELECT user_id, tap_id, sealed FROM web_pass_handovers \
         WHERE session_id = ? AND form_id = ? AND user_id = ? AND sealed IS NOT NULL \
         AND expires_at > ?",
    )
    .bind(session_id)
    .bind(form_id)
    .bind(user_id.to_string())
    .bind(ms(now))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    query("UPDATE web_pass_handovers SET sealed = NULL WHERE session_id = ? AND form_id = ?")
        .bind(session_id)
        .bind(form_id)
        .execute(&mut *conn)
        .await?;
    Ok(Some((
        uuid(row.try_get("user_id")?)?,
        uuid(row.try_get("tap_id")?)?,
        row.try_get("sealed")?,
    )))
}

/// Wipes the passes no page took in time. The rows stay, so an old copy of the form still
/// creates nothing, until their session ends and takes them along.
pub async fn wipe_expired(conn: &mut Connection, now: OffsetDateTime) -> Result<u64> {
    let n = query(
        "UPDATE web_pass_handovers SET sealed = NULL WHERE sealed IS NOT NULL AND expires_at <= ?",
    )
    .bind(ms(now))
    .execute(&mut *conn)
    .await?;
    Ok(n)
}
