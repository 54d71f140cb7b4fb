//! The `directory_events` table: joiner, mover and leaver events for onboarding to consume.

use time::OffsetDateTime;

use super::{Connection, QueryBuilder, Row, at, ms, opt_at, query, uuid};
use crate::Result;
use crate::domain::directory::User;
use crate::domain::lifecycle::{DirectoryEvent, EventKind};

/// The columns every query names explicitly: a `*` would be expanded when a connection first
/// prepares the statement, and go stale if the schema changes under it.
macro_rules! event_columns {
    () => {
        "seq, kind, user_id, user_principal_name, source, at, detail, consumed_at"
    };
}

pub async fn insert(
    conn: &mut Connection,
    kind: EventKind,
    user: &User,
    detail: &serde_json::Value,
    now: OffsetDateTime,
) -> Result<i64> {
    let seq = query(
        "INSERT INTO directory_events (kind, user_id, user_principal_name, source, at, detail)
         VALUES (?, ?, ?, ?, ?, ?) RETURNING seq",
    )
    .bind(kind.as_str())
    .bind(user.id.to_string())
    .bind(&user.user_principal_name)
    .bind(&user.source)
    .bind(ms(now))
    .bind(detail.to_string())
    .scalar(&mut *conn)
    .await?;
    Ok(seq)
}

/// One event of `kind` for each user, in a few statements, in the users' order.
pub async fn insert_many(
    conn: &mut Connection,
    kind: EventKind,
    users: &[&User],
    detail: &serde_json::Value,
    now: OffsetDateTime,
) -> Result<()> {
    let detail = detail.to_string();
    for chunk in users.chunks(2000) {
        let mut qb: QueryBuilder = QueryBuilder::new(
            "INSERT INTO directory_events (kind, user_id, user_principal_name, source, at, detail) ",
        );
        qb.push_values(chunk, |b, user| {
            b.push_bind(kind.as_str())
                .push_bind(user.id.to_string())
                .push_bind(&user.user_principal_name)
                .push_bind(&user.source)
                .push_bind(ms(now))
                .push_bind(detail.as_str());
        });
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Events not yet consumed, oldest first.
pub async fn pending(conn: &mut Connection, limit: u32) -> Result<Vec<DirectoryEvent>> {
    let rows = query(concat!(
        "SELECT ",
        event_columns!(),
        " FROM directory_events WHERE consumed_at IS NULL ORDER BY seq LIMIT ?"
    ))
    .bind(i64::from(limit.max(1)))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Every event after `after_seq`, oldest first.
pub async fn since(
    conn: &mut Connection,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<DirectoryEvent>> {
    let rows = query(concat!(
        "SELECT ",
        event_columns!(),
        " FROM directory_events WHERE seq > ? ORDER BY seq LIMIT ?"
    ))
    .bind(after_seq)
    .bind(i64::from(limit.max(1)))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn mark_consumed(conn: &mut Connection, seq: i64, now: OffsetDateTime) -> Result<()> {
    query("UPDATE directory_events SET consumed_at = ? WHERE seq = ? AND consumed_at IS NULL")
        .bind(ms(now))
        .bind(seq)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

fn from_row(row: &Row) -> Result<DirectoryEvent> {
    let kind: String = row.try_get("kind")?;
    let detail: String = row.try_get("detail")?;
    Ok(DirectoryEvent {
        seq: row.try_get("seq")?,
        kind: kind.parse().map_err(crate::Error::Internal)?,
        user_id: uuid(row.try_get("user_id")?)?,
        user_principal_name: row.try_get("user_principal_name")?,
        source: row.try_get("source")?,
        at: at(row.try_get("at")?),
        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
        consumed_at: opt_at(row.try_get("consumed_at")?),
    })
}
