//! The append-only `audit_log` table.

use super::{Connection, QueryBuilder, Row, at, ms, uuid};
use crate::domain::audit::{AuditEntry, AuditQuery, AuditRecord, Initiator};
use crate::{Error, Result};

/// The columns every query names explicitly: a `*` would be expanded when a connection first
/// prepares the statement, and go stale if the schema changes under it.
macro_rules! audit_columns {
    () => {
        "seq, id, at, category, activity, operation_type, success, result_reason, initiator_kind, initiator_id, initiator_name, targets, correlation_id, details"
    };
}

pub async fn insert(conn: &mut Connection, r: &AuditRecord) -> Result<()> {
    insert_many(conn, std::slice::from_ref(r)).await
}

/// Many records in a few statements (a directory import's batch).
pub async fn insert_many(conn: &mut Connection, records: &[AuditRecord]) -> Result<()> {
    // 13 parameters a row, under SQLite's 32766.
    for chunk in records.chunks(1000) {
        let mut rows = Vec::with_capacity(chunk.len());
        for r in chunk {
            rows.push((r, json(&r.targets)?, json(&r.details)?));
        }
        let mut qb: QueryBuilder = QueryBuilder::new(
            "INSERT INTO audit_log (id, at, category, activity, operation_type, success, result_reason,
                initiator_kind, initiator_id, initiator_name, targets, correlation_id, details) ",
        );
        qb.push_values(rows, |b, (r, targets, details)| {
            b.push_bind(r.id.to_string())
                .push_bind(ms(r.at))
                .push_bind(r.activity.category())
                .push_bind(r.activity.display_name())
                .push_bind(r.activity.operation_type())
                .push_bind(r.success)
                .push_bind(r.result_reason.clone())
                .push_bind(r.initiated_by.kind.clone())
                .push_bind(r.initiated_by.id.clone())
                .push_bind(r.initiated_by.display_name.clone())
                .push_bind(targets)
                .push_bind(r.correlation_id.map(|c| c.to_string()))
                .push_bind(details);
        });
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

fn json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Internal(e.to_string()))
}

fn from_row(row: &Row) -> Result<AuditEntry> {
    let corrupt = |e: serde_json::Error| Error::Internal(format!("corrupt audit record: {e}"));
    let targets: String = row.try_get("targets")?;
    let details: String = row.try_get("details")?;
    let correlation: Option<String> = row.try_get("correlation_id")?;
    Ok(AuditEntry {
        seq: row.try_get("seq")?,
        id: uuid(row.try_get("id")?)?,
        at: at(row.try_get("at")?),
        category: row.try_get("category")?,
        activity: row.try_get("activity")?,
        operation_type: row.try_get("operation_type")?,
        success: row.try_get("success")?,
        result_reason: row.try_get("result_reason")?,
        initiated_by: Initiator {
            kind: row.try_get("initiator_kind")?,
            id: row.try_get("initiator_id")?,
            display_name: row.try_get("initiator_name")?,
        },
        targets: serde_json::from_str(&targets).map_err(corrupt)?,
        correlation_id: correlation.as_deref().map(uuid).transpose()?,
        details: serde_json::from_str(&details).map_err(corrupt)?,
    })
}

/// Newest first.
pub async fn list(conn: &mut Connection, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
    let mut qb: QueryBuilder = QueryBuilder::new(concat!(
        "SELECT ",
        audit_columns!(),
        " FROM audit_log WHERE 1=1"
    ));
    if let Some(before) = q.before_seq {
        qb.push(" AND seq < ").push_bind(before);
    }
    if let Some(activity) = &q.activity {
        qb.push(" AND activity = ").push_bind(activity.clone());
    }
    qb.push(" ORDER BY seq DESC LIMIT ")
        .push_bind(i64::from(q.limit.max(1)));
    let rows = qb.build().fetch_all(&mut *conn).await?;
    rows.iter().map(from_row).collect()
}
