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

#[cfg(test)]
mod tests {
    use super::super::{testing, users};
    use super::*;
    use crate::domain::directory::NewUser;

    fn new(upn: &str, mail: &str) -> NewUser {
        NewUser {
            user_principal_name: upn.into(),
            mail: Some(mail.into()),
            account_enabled: true,
            ..Default::default()
        }
        .normalised()
        .unwrap()
    }

    #[tokio::test]
    async fn a_link_is_made_once_and_never_moves() {
        let (store, _db) = testing::store().await;
        let mut c = store.write().await.unwrap();
        let now = OffsetDateTime::now_utc();
        let ada = users::insert(&mut c, &new("ada@contoso.com", "Ada@Contoso.com"), now)
            .await
            .unwrap();
        let ben = users::insert(&mut c, &new("ben@contoso.com", "shared@contoso.com"), now)
            .await
            .unwrap();
        users::insert(&mut c, &new("cy@contoso.com", "shared@contoso.com"), now)
            .await
            .unwrap();
        let (tid, oid) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(user_of(&mut c, tid, oid).await.unwrap(), None);
        assert!(link(&mut c, tid, oid, ada.id, now).await.unwrap());
        assert!(
            link(&mut c, tid, oid, ada.id, now).await.unwrap(),
            "used again"
        );
        assert!(
            !link(&mut c, tid, oid, ben.id, now).await.unwrap(),
            "never moves"
        );
        assert_eq!(user_of(&mut c, tid, oid).await.unwrap(), Some(ada.id));
        assert_eq!(user_of(&mut c, Uuid::new_v4(), oid).await.unwrap(), None);
        // Matching by mail: case-insensitive, and never a pick among several.
        let by_mail = users::get_by_mail(&mut c, "ada@contoso.COM").await.unwrap();
        assert_eq!(by_mail.map(|u| u.id), Some(ada.id));
        assert!(
            users::get_by_mail(&mut c, "shared@contoso.com")
                .await
                .unwrap()
                .is_none()
        );
        // The link goes with its user.
        users::delete(&mut c, ada.id).await.unwrap();
        assert_eq!(user_of(&mut c, tid, oid).await.unwrap(), None);
        c.commit().await.unwrap();
    }
}
