//! The `groups` and `group_members` tables.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{Connection, QueryBuilder, Row, at, is_unique_violation, ms, query, row_chunks, uuid};
use crate::domain::directory::{Group, NewGroup};
use crate::{Error, Result};

/// The columns every query names explicitly: a `*` would be expanded when a connection first
/// prepares the statement, and go stale if the schema changes under it.
macro_rules! group_columns {
    () => {
        "id, display_name, description, source, anchor, created_at, updated_at"
    };
}

fn from_row(row: &Row) -> Result<Group> {
    Ok(Group {
        id: uuid(row.try_get("id")?)?,
        display_name: row.try_get("display_name")?,
        description: row.try_get("description")?,
        source: row.try_get("source")?,
        anchor: row.try_get("anchor")?,
        created_at: at(row.try_get("created_at")?),
        updated_at: at(row.try_get("updated_at")?),
    })
}

pub async fn insert(conn: &mut Connection, new: &NewGroup, now: OffsetDateTime) -> Result<Group> {
    let group = Group {
        id: crate::domain::directory::new_object_id(),
        display_name: new.display_name.clone(),
        description: new.description.clone(),
        source: new.source.clone(),
        anchor: new.anchor.clone(),
        created_at: now,
        updated_at: now,
    };
    let res = query(
        "INSERT INTO groups (id, display_name, description, source, anchor, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(group.id.to_string())
    .bind(&group.display_name)
    .bind(&group.description)
    .bind(&group.source)
    .bind(&group.anchor)
    .bind(ms(now))
    .bind(ms(now))
    .execute(&mut *conn)
    .await;
    match res {
        Ok(_) => Ok(group),
        Err(e) if is_unique_violation(&e) => Err(Error::Conflict(
            "a group with the same source anchor already exists".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

pub async fn get(conn: &mut Connection, id: Uuid) -> Result<Option<Group>> {
    let row = query(concat!(
        "SELECT ",
        group_columns!(),
        " FROM groups WHERE id = ?"
    ))
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Groups whose display name equals `name`, ignoring ASCII case. Names are not unique.
pub async fn find_by_name(conn: &mut Connection, name: &str) -> Result<Vec<Group>> {
    let rows = query(concat!(
        "SELECT ",
        group_columns!(),
        " FROM groups WHERE lower(display_name) = lower(?) ORDER BY created_at"
    ))
    .bind(name)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Groups ordered by id, after `after`, at most `limit`.
pub async fn list(conn: &mut Connection, after: Option<Uuid>, limit: u32) -> Result<Vec<Group>> {
    let rows = query(concat!(
        "SELECT ",
        group_columns!(),
        " FROM groups WHERE id > ? ORDER BY id LIMIT ?"
    ))
    .bind(after.map(|a| a.to_string()).unwrap_or_default())
    .bind(i64::from(limit.max(1)))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Renames a group and replaces its description.
pub async fn update(
    conn: &mut Connection,
    id: Uuid,
    new: &NewGroup,
    now: OffsetDateTime,
) -> Result<bool> {
    let res = query("UPDATE groups SET display_name = ?, description = ?, anchor = ?, updated_at = ? WHERE id = ?")
        .bind(&new.display_name)
        .bind(&new.description)
        .bind(&new.anchor)
        .bind(ms(now))
        .bind(id.to_string())
        .execute(&mut *conn)
        .await;
    match res {
        Ok(r) => Ok(r == 1),
        Err(e) if is_unique_violation(&e) => Err(Error::Conflict(
            "a group with the same source anchor already exists".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

pub async fn delete(conn: &mut Connection, id: Uuid) -> Result<bool> {
    let res = query("DELETE FROM groups WHERE id = ?")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(res == 1)
}

/// Records a change to the group (a membership change) at `now`.
pub async fn touch(conn: &mut Connection, id: Uuid, now: OffsetDateTime) -> Result<()> {
    query("UPDATE groups SET updated_at = ? WHERE id = ?")
        .bind(ms(now))
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Removes a member; returns false if they were not one.
pub async fn remove_member(conn: &mut Connection, group_id: Uuid, user_id: Uuid) -> Result<bool> {
    let res = query("DELETE FROM group_members WHERE group_id = ? AND user_id = ?")
        .bind(group_id.to_string())
        .bind(user_id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(res == 1)
}

/// Every group owned by `source`, oldest first.
pub async fn by_source(conn: &mut Connection, source: &str) -> Result<Vec<Group>> {
    let rows = query(concat!(
        "SELECT ",
        group_columns!(),
        " FROM groups WHERE source = ? ORDER BY created_at, id"
    ))
    .bind(source)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Every (group, member) pair of the groups owned by `source`.
pub async fn memberships_by_source(
    conn: &mut Connection,
    source: &str,
) -> Result<Vec<(Uuid, Uuid)>> {
    let rows = query(
        "SELECT m.group_id, m.user_id FROM group_members m JOIN groups g ON g.id = m.group_id WHERE g.source = ?",
    )
    .bind(source)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| Ok((uuid(r.try_get("group_id")?)?, uuid(r.try_get("user_id")?)?)))
        .collect()
}

/// The groups `user_id` is a direct member of.
pub async fn of_user(conn: &mut Connection, user_id: Uuid) -> Result<Vec<Group>> {
    let rows = query(concat!(
        "SELECT ",
        group_columns!(),
        " FROM groups WHERE id IN (SELECT group_id FROM group_members WHERE user_id = ?) ORDER BY display_name"
    ))
    .bind(user_id.to_string())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Adds a member; returns false if they already were one.
pub async fn add_member(conn: &mut Connection, group_id: Uuid, user_id: Uuid) -> Result<bool> {
    let res =
        query("INSERT INTO group_members (group_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING")
            .bind(group_id.to_string())
            .bind(user_id.to_string())
            .execute(&mut *conn)
            .await?;
    Ok(res == 1)
}

/// Adds memberships, (user, group) pairs, in a few statements; those already there are
/// skipped. Rows go in in the order given.
pub async fn add_memberships(conn: &mut Connection, rows: &[(Uuid, Uuid)]) -> Result<()> {
    for chunk in row_chunks(rows, 5000) {
        let mut qb: QueryBuilder =
            QueryBuilder::new("INSERT INTO group_members (group_id, user_id) ");
        qb.push_values(chunk, |b, (uid, gid)| {
            b.push_bind(gid.to_string()).push_bind(uid.to_string());
        });
        qb.push(" ON CONFLICT DO NOTHING");
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Removes many members from one group in a few statements.
pub async fn remove_members(
    conn: &mut Connection,
    group_id: Uuid,
    user_ids: &[Uuid],
) -> Result<()> {
    for chunk in user_ids.chunks(5000) {
        let mut qb: QueryBuilder = QueryBuilder::new("DELETE FROM group_members WHERE group_id = ");
        qb.push_bind(group_id.to_string()).push(" AND user_id IN (");
        qb.push_list(chunk.iter().map(|uid| uid.to_string()))
            .push(")");
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Which of `ids` are members of the group.
pub async fn members_among(
    conn: &mut Connection,
    group_id: Uuid,
    ids: &[Uuid],
) -> Result<Vec<Uuid>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(2000) {
        let mut qb = QueryBuilder::new("SELECT user_id FROM group_members WHERE group_id = ");
        qb.push_bind(group_id.to_string()).push(" AND user_id IN (");
        qb.push_list(chunk.iter().map(Uuid::to_string)).push(")");
        for r in qb.build().fetch_all(&mut *conn).await? {
            out.push(uuid(r.try_get::<&str, _>(0)?)?);
        }
    }
    Ok(out)
}

pub async fn member_ids(conn: &mut Connection, group_id: Uuid) -> Result<Vec<Uuid>> {
    let mut ids = match conn.engine() {
        // One value rather than a row per member: each row read is two allocations (its
        // cells and its text), 240,000 of them for a directory run's groups.
        super::Engine::Sqlite => {
            let text: String = query(
                "SELECT coalesce(group_concat(user_id, ' '), '') FROM group_members WHERE group_id = ?",
            )
            .bind(group_id.to_string())
            .scalar(&mut *conn)
            .await?;
            text.split_ascii_whitespace()
                .map(uuid)
                .collect::<Result<Vec<_>>>()?
        }
        // sqlx hands PostgreSQL's rows over one at a time, which for a group of thousands
        // costs more than the query: one aggregated value instead.
        super::Engine::Postgres => {
            let text: String = query(
                "SELECT coalesce(json_agg(user_id), '[]')::text FROM group_members WHERE group_id = ?",
            )
            .bind(group_id.to_string())
            .scalar(&mut *conn)
            .await?;
            let ids: Vec<String> = serde_json::from_str(&text)
                .map_err(|e| Error::Internal(format!("member ids: {e}")))?;
            ids.iter().map(|s| uuid(s)).collect::<Result<Vec<_>>>()?
        }
    };
    ids.sort_unstable();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::super::{testing, users};
    use super::*;
    use crate::domain::directory::NewUser;

    #[tokio::test]
    async fn groups_and_members() {
        let (store, _d) = testing::store().await;
        let mut c = store.read().await.unwrap();
        let now = OffsetDateTime::now_utc();
        let g = insert(
            &mut c,
            &NewGroup {
                display_name: "Sales".into(),
                ..Default::default()
            }
            .normalised()
            .unwrap(),
            now,
        )
        .await
        .unwrap();
        let u = users::insert(
            &mut c,
            &NewUser {
                user_principal_name: "s@x.io".into(),
                ..Default::default()
            }
            .normalised()
            .unwrap(),
            now,
        )
        .await
        .unwrap();
        assert!(add_member(&mut c, g.id, u.id).await.unwrap());
        assert!(!add_member(&mut c, g.id, u.id).await.unwrap());
        assert_eq!(member_ids(&mut c, g.id).await.unwrap(), vec![u.id]);
        assert!(
            users::group_ids(&mut c, u.id)
                .await
                .unwrap()
                .contains(&g.id)
        );
        assert_eq!(find_by_name(&mut c, "sales").await.unwrap().len(), 1);
        assert_eq!(list(&mut c, None, 10).await.unwrap().len(), 1);
        assert!(
            add_member(&mut c, Uuid::new_v4(), u.id).await.is_err(),
            "foreign key enforced"
        );
    }
}
