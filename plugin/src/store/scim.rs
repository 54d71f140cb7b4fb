//! The `scim_users` and `scim_groups` tables: each provisioned object's SCIM body as the client
//! last wrote it, its owner, and its version (for ETags).

use std::collections::HashMap;

use super::{Connection, Row, query, uuid};
use serde_json::Value;
use uuid::Uuid;

use crate::domain::provisioned::{Kind, ScimRow};
use crate::{Error, Result};

/// The statements per kind: the two tables have the same shape, keyed by `user_id` or
/// `group_id`.
trait Statements {
    fn select_one(self) -> &'static str;
    fn select_source(self) -> &'static str;
    fn insert(self) -> &'static str;
    fn update(self) -> &'static str;
    fn bump(self) -> &'static str;
}

impl Statements for Kind {
    fn select_one(self) -> &'static str {
        match self {
            Kind::User => {
                "SELECT user_id AS id, source, external_id, body, version FROM scim_users WHERE user_id = ?"
            }
            Kind::Group => {
                "SELECT group_id AS id, source, external_id, body, version FROM scim_groups WHERE group_id = ?"
            }
        }
    }

    fn select_source(self) -> &'static str {
        match self {
            Kind::User => {
                "SELECT user_id AS id, source, external_id, body, version FROM scim_users WHERE source = ?"
            }
            Kind::Group => {
                "SELECT group_id AS id, source, external_id, body, version FROM scim_groups WHERE source = ?"
            }
        }
    }

    fn insert(self) -> &'static str {
        match self {
            Kind::User => {
                "INSERT INTO scim_users (user_id, source, external_id, body, version) VALUES (?, ?, ?, ?, 1)"
            }
            Kind::Group => {
                "INSERT INTO scim_groups (group_id, source, external_id, body, version) VALUES (?, ?, ?, ?, 1)"
            }
        }
    }

    fn update(self) -> &'static str {
        match self {
            Kind::User => {
                "UPDATE scim_users SET external_id = ?, body = ?, version = version + 1 WHERE user_id = ? RETURNING version"
            }
            Kind::Group => {
                "UPDATE scim_groups SET external_id = ?, body = ?, version = version + 1 WHERE group_id = ? RETURNING version"
            }
        }
    }

    fn bump(self) -> &'static str {
        match self {
            Kind::User => "UPDATE scim_users SET version = version + 1 WHERE user_id = ?",
            Kind::Group => "UPDATE scim_groups SET version = version + 1 WHERE group_id = ?",
        }
    }
}

fn from_row(row: &Row) -> Result<ScimRow> {
    let id: String = row.try_get("id")?;
    let body: String = row.try_get("body")?;
    Ok(ScimRow {
        id: Uuid::parse_str(&id).map_err(|_| Error::Internal(format!("corrupt id {id:?}")))?,
        source: row.try_get("source")?,
        external_id: row.try_get("external_id")?,
        body: serde_json::from_str(&body)
            .map_err(|e| Error::Internal(format!("corrupt SCIM body: {e}")))?,
        version: row.try_get("version")?,
    })
}

pub async fn get(conn: &mut Connection, kind: Kind, id: Uuid) -> Result<Option<ScimRow>> {
    let row = query(kind.select_one())
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn by_source(
    conn: &mut Connection,
    kind: Kind,
    source: &str,
) -> Result<HashMap<Uuid, ScimRow>> {
    let rows = query(kind.select_source())
        .bind(source)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| from_row(r).map(|s| (s.id, s)))
        .collect()
}

pub async fn insert(conn: &mut Connection, kind: Kind, row: &ScimRow) -> Result<()> {
    query(kind.insert())
        .bind(row.id.to_string())
        .bind(&row.source)
        .bind(&row.external_id)
        .bind(row.body.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Replaces the body; returns the new version.
pub async fn update(
    conn: &mut Connection,
    kind: Kind,
    id: Uuid,
    external_id: Option<&str>,
    body: &Value,
) -> Result<i64> {
    let version = query(kind.update())
        .bind(external_id)
        .bind(body.to_string())
        .bind(id.to_string())
        .scalar(&mut *conn)
        .await?;
    Ok(version)
}

/// A new version without a new body: for changes the body does not hold (a user's groups).
pub async fn bump_version(conn: &mut Connection, kind: Kind, id: Uuid) -> Result<()> {
    query(kind.bump())
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Id and display name of each group `source` provisioned, for the name-uniqueness check.
pub async fn group_names(conn: &mut Connection, source: &str) -> Result<Vec<(Uuid, String)>> {
    let rows = query(
        "SELECT g.id AS id, g.display_name AS display_name FROM scim_groups s \
         JOIN groups g ON g.id = s.group_id WHERE s.source = ?",
    )
    .bind(source)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| Ok((uuid(row.try_get("id")?)?, row.try_get("display_name")?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::OffsetDateTime;

    use super::super::{groups, testing};
    use super::*;
    use crate::domain::directory::NewGroup;

    #[tokio::test]
    async fn group_names_lists_one_sources_scim_groups() {
        let (store, _d) = testing::store().await;
        let mut c = store.read().await.unwrap();
        let now = OffsetDateTime::now_utc();
        let mut add = async |name: &str, source: &str, scim: bool| {
            let new = NewGroup {
                display_name: name.into(),
                source: source.into(),
                ..Default::default()
            }
            .normalised()
            .unwrap();
            let g = groups::insert(&mut c, &new, now).await.unwrap();
            if scim {
                let row = ScimRow {
                    id: g.id,
                    source: source.into(),
                    external_id: None,
                    body: json!({"displayName": name}),
                    version: 1,
                };
                insert(&mut c, Kind::Group, &row).await.unwrap();
            }
            g.id
        };
        let sales = add("Sales", "scim:okta", true).await;
        add("Sales", "scim:entra", true).await;
        add("Sales", "ldap:corp", false).await;
        let ops = add("Ops", "scim:okta", true).await;
        let mut names = group_names(&mut c, "scim:okta").await.unwrap();
        names.sort_by(|a, b| a.1.cmp(&b.1));
        assert_eq!(
            names,
            [(ops, "Ops".to_owned()), (sales, "Sales".to_owned())]
        );
        assert!(group_names(&mut c, "scim:none").await.unwrap().is_empty());
    }
}
