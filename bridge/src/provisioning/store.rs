//! The `scim_users` and `scim_groups` tables: each provisioned object's SCIM body as the client
//! last wrote it, its owner, and its version (for ETags).

use std::collections::HashMap;

use plugin::store::Connection;
use serde_json::Value;
use sqlx::Row;
use uuid::Uuid;

use crate::error::Result;

/// The SCIM side of one provisioned object.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimRow {
    pub id: Uuid,
    pub source: String,
    pub external_id: Option<String>,
    pub body: Value,
    pub version: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Group,
}

impl Kind {
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

fn from_row(row: &sqlx::sqlite::SqliteRow) -> Result<ScimRow> {
    let id: String = row.try_get("id").map_err(plugin::Error::from)?;
    let body: String = row.try_get("body").map_err(plugin::Error::from)?;
    Ok(ScimRow {
        id: Uuid::parse_str(&id)
            .map_err(|_| plugin::Error::Internal(format!("corrupt id {id:?}")))?,
        source: row.try_get("source").map_err(plugin::Error::from)?,
        external_id: row.try_get("external_id").map_err(plugin::Error::from)?,
        body: serde_json::from_str(&body)
            .map_err(|e| plugin::Error::Internal(format!("corrupt SCIM body: {e}")))?,
        version: row.try_get("version").map_err(plugin::Error::from)?,
    })
}

pub async fn get(conn: &mut Connection, kind: Kind, id: Uuid) -> Result<Option<ScimRow>> {
    let row = sqlx::query(kind.select_one())
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(plugin::Error::from)?;
    row.as_ref().map(from_row).transpose()
}

pub async fn by_source(
    conn: &mut Connection,
    kind: Kind,
    source: &str,
) -> Result<HashMap<Uuid, ScimRow>> {
    let rows = sqlx::query(kind.select_source())
        .bind(source)
        .fetch_all(&mut *conn)
        .await
        .map_err(plugin::Error::from)?;
    rows.iter()
        .map(|r| from_row(r).map(|s| (s.id, s)))
        .collect()
}

pub async fn insert(conn: &mut Connection, kind: Kind, row: &ScimRow) -> Result<()> {
    sqlx::query(kind.insert())
        .bind(row.id.to_string())
        .bind(&row.source)
        .bind(&row.external_id)
        .bind(row.body.to_string())
        .execute(&mut *conn)
        .await
        .map_err(plugin::Error::from)?;
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
    let version = sqlx::query_scalar(kind.update())
        .bind(external_id)
        .bind(body.to_string())
        .bind(id.to_string())
        .fetch_one(&mut *conn)
        .await
        .map_err(plugin::Error::from)?;
    Ok(version)
}

/// A new version without a new body: for changes the body does not hold (a user's groups).
pub async fn bump_version(conn: &mut Connection, kind: Kind, id: Uuid) -> Result<()> {
    sqlx::query(kind.bump())
        .bind(id.to_string())
        .execute(&mut *conn)
        .await
        .map_err(plugin::Error::from)?;
    Ok(())
}
