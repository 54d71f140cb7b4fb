//! The `eam_links` table: which tapbridge user an Entra user (tenant id, object id) is.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{Connection, ms, query, uuid};
use crate::Result;

/// The linked user, if any.
pub async fn user_of(
    conn: &mut Connection,
    tenant_id: Uuid,
    object_id: Uuid,
) -> Result<Option<Uuid>> {
    let row = query("SELECT user_id FROM eam_links WHERE tenant_id = ? AND object_id = ?")
        .bind(tenant_id.to_string())
        .bind(object_id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(r) => {
            let id: String = r.try_get("user_id")?;
            Ok(Some(uuid(&id)?))
        }
        None => Ok(None),
    }
}

/// Links (tenant id, object id) to `user_id`, or notes its use if linked already. A link
/// never moves to another user: `false` if it points elsewhere.
pub async fn link(
    conn: &mut Connection,
    tenant_id: Uuid,
    object_id: Uuid,
    user_id: Uuid,
    now: OffsetDateTime,
) -> Result<bool> {
    query(
        "INSERT INTO eam_links (tenant_id, object_id, user_id, linked_at, last_used_at)
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, object_id) DO NOTHING",
    )
    .bind(tenant_id.to_string())
    .bind(object_id.to_string())
    .bind(user_id.to_string())
    .bind(ms(now))
    .bind(ms(now))
    .execute(&mut *conn)
    .await?;
    let n = query(
        "UPDATE eam_links SET last_used_at = ? WHERE tenant_id = ? AND object_id = ? AND user_id = ?",
    )
    .bind(ms(now))
    .bind(tenant_id.to_string())
    .bind(object_id.to_string())
    .bind(user_id.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(n == 1)
}
