//! The `audit_log` table: appended to, except that a repeat of a coalescing record (a failed
//! sign-in) within its window is counted on the row it repeats, and that rows past the
//! retention period are purged.

use time::OffsetDateTime;

use uuid::Uuid;

use super::db::Tuple;
use super::{Bind, Connection, QueryBuilder, Row, at, ms, query, row_chunks, uuid};
use crate::domain::audit::{Activity, AuditEntry, AuditQuery, AuditRecord, Initiator, TargetRef};
use crate::{Error, Result};

/// The columns every query names explicitly: a `*` would be expanded when a connection first
/// prepares the statement, and go stale if the schema changes under it.
macro_rules! audit_columns {
    () => {
        "seq, id, at, category, activity, operation_type, success, result_reason, initiator_kind, initiator_id, initiator_name, targets, correlation_id, details, client_address, occurrences, last_at"
    };
}

/// Appends `r`, or, for a coalescing record with an identical one inside its window, counts
/// it there (the row keeps its first time and takes the latest details).
pub async fn insert(conn: &mut Connection, r: &AuditRecord) -> Result<()> {
    if let (Some(key), Some(window)) = (r.coalesce_key(), r.coalesce_window) {
        let counted = query(
            "UPDATE audit_log SET occurrences = occurrences + 1, last_at = ?, details = ?
             WHERE seq = (SELECT seq FROM audit_log WHERE coalesce_key = ? AND at >= ?
                          ORDER BY at DESC LIMIT 1)",
        )
        .bind(ms(r.at))
        .bind(json(&r.details)?)
        .bind(key)
        .bind(ms(r.at - window))
        .execute(&mut *conn)
        .await?;
        if counted > 0 {
            return Ok(());
        }
    }
    insert_many(conn, std::slice::from_ref(r)).await
}

/// Many records in a few statements (a directory import's batch). Each is a row of its own,
/// coalescing or not.
pub async fn insert_many(conn: &mut Connection, records: &[AuditRecord]) -> Result<()> {
    // 15 parameters a row, under SQLite's 32766.
    for chunk in records.chunks(1000) {
        let mut rows = Vec::with_capacity(chunk.len());
        for r in chunk {
            rows.push((r, json(&r.targets)?, json(&r.details)?, r.coalesce_key()));
        }
        let mut qb = QueryBuilder::new(INSERT);
        qb.push_values(rows, |b, (r, targets, details, key)| {
            let correlation = r.correlation_id.map(|c| c.to_string());
            let row = (r.id, r.activity, targets, correlation, details);
            push_row(b, r, row, key);
        });
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Records alike but for their activity and one more target (a group's membership changes):
/// each row is what [`insert_many`] writes for `base` with that activity and `base`'s
/// targets followed by that one, under an id of its own. What the rows share is encoded
/// once and bound in place on every row; a first load writes 240,000 such records, and
/// building each as a record of its own was a fifth of its group step.
pub async fn insert_alike(
    conn: &mut Connection,
    base: &AuditRecord,
    each: &[(Activity, TargetRef<'_>)],
) -> Result<()> {
    if base.coalesce_window.is_some() {
        // Each record's coalescing key covers its own targets: written one by one.
        for (activity, target) in each {
            let mut r = base
                .clone()
                .target(target.kind, target.id, target.display_name);
            (r.id, r.activity) = (Uuid::now_v7(), *activity);
            insert(conn, &r).await?;
        }
        return Ok(());
    }
    // The targets' JSON up to the last one: `[` and the shared targets.
    let mut prefix = json(&base.targets)?;
    prefix.pop();
    if !base.targets.is_empty() {
        prefix.push(',');
    }
    let correlation = base.correlation_id.map(|c| c.to_string());
    let details = json(&base.details)?;
    for chunk in row_chunks(each, 1000) {
        let mut rows = Vec::with_capacity(chunk.len());
        for (activity, target) in chunk {
            let mut targets = Vec::with_capacity(prefix.len() + 128);
            targets.extend_from_slice(prefix.as_bytes());
            serde_json::to_writer(&mut targets, target)
                .map_err(|e| Error::Internal(e.to_string()))?;
            targets.push(b']');
            let targets = String::from_utf8(targets).map_err(|e| Error::Internal(e.to_string()))?;
            rows.push((*activity, targets));
        }
        let mut qb = QueryBuilder::new(INSERT);
        qb.push_values(rows, |b, (activity, targets)| {
            let row = (
                Uuid::now_v7(),
                activity,
                targets,
                correlation.as_deref(),
                details.as_str(),
            );
            push_row(b, base, row, None);
        });
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The values of one row of [`INSERT`]: its own id, activity, targets, correlation and
/// details, the rest from `r`, and the coalescing key.
fn push_row<'a>(
    b: &mut Tuple<'_, 'a>,
    r: &'a AuditRecord,
    (id, activity, targets, correlation, details): (
        Uuid,
        Activity,
        String,
        impl Bind<'a>,
        impl Bind<'a>,
    ),
    key: Option<String>,
) {
    b.push_bind(id.to_string())
        .push_bind(ms(r.at))
        .push_bind(activity.category())
        .push_bind(activity.display_name())
        .push_bind(activity.operation_type())
        .push_bind(r.success)
        .push_bind(r.result_reason.as_deref())
        .push_bind(&r.initiated_by.kind)
        .push_bind(r.initiated_by.id.as_deref())
        .push_bind(&r.initiated_by.display_name)
        .push_bind(targets)
        .push_bind(correlation)
        .push_bind(details)
        .push_bind(r.client_address.as_deref())
        .push_bind(key);
}

const INSERT: &str =
    "INSERT INTO audit_log (id, at, category, activity, operation_type, success, result_reason,
    initiator_kind, initiator_id, initiator_name, targets, correlation_id, details,
    client_address, coalesce_key) ";

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
        client_address: row.try_get("client_address")?,
        occurrences: row
            .try_get::<i64, _>("occurrences")?
            .clamp(1, u32::MAX.into()) as u32,
        last_at: row.try_get::<Option<i64>, _>("last_at")?.map(at),
    })
}

/// Deletes up to `limit` records whose last occurrence is older than `cutoff`, oldest first.
/// Returns how many. Small batches keep each write transaction short.
pub async fn purge_before(
    conn: &mut Connection,
    cutoff: OffsetDateTime,
    limit: u32,
) -> Result<u64> {
    Ok(query(
        "DELETE FROM audit_log WHERE seq IN (
            SELECT seq FROM audit_log WHERE at < ? AND coalesce(last_at, at) < ?
            ORDER BY at LIMIT ?)",
    )
    .bind(ms(cutoff))
    .bind(ms(cutoff))
    .bind(i64::from(limit.max(1)))
    .execute(&mut *conn)
    .await?)
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

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;
    use std::collections::HashSet;
    use time::Duration;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-27 09:00 UTC);

    fn failure(client: &str, at: OffsetDateTime, attempt: u32) -> AuditRecord {
        AuditRecord::new(
            Activity::TapSignInFailed,
            Initiator {
                kind: "user".into(),
                id: None,
                display_name: "nobody@example.com".into(),
            },
            at,
        )
        .failed("no such user or no pass")
        .detail("attempt", attempt)
        .client(Some(client))
        .coalescing(Duration::minutes(15))
    }

    async fn all(conn: &mut Connection) -> Vec<AuditEntry> {
        list(
            conn,
            &AuditQuery {
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn repeats_inside_the_window_are_counted_on_one_row() {
        let (store, _dir) = testing::store().await;
        let mut conn = store.write().await.unwrap();
        let m = Duration::minutes;
        for i in 1..=50 {
            let at = T0 + Duration::seconds(i64::from(i) - 1);
            insert(&mut conn, &failure("192.0.2.1", at, i))
                .await
                .unwrap();
        }
        assert_eq!(all(&mut conn).await.len(), 1);
        // Another client is another row; so is the same one after the window.
        insert(&mut conn, &failure("192.0.2.2", T0, 1))
            .await
            .unwrap();
        insert(&mut conn, &failure("192.0.2.1", T0 + m(16), 51))
            .await
            .unwrap();
        insert(&mut conn, &failure("192.0.2.1", T0 + m(20), 52))
            .await
            .unwrap();
        let rows = all(&mut conn).await;
        assert_eq!(rows.len(), 3);
        let client = |r: &&AuditEntry, c: &str| r.client_address.as_deref() == Some(c);
        let first = rows
            .iter()
            .find(|r| r.at == T0 && client(r, "192.0.2.1"))
            .unwrap();
        assert_eq!(first.occurrences, 50);
        assert_eq!(first.last_at, Some(T0 + Duration::seconds(49)));
        assert_eq!(first.details, vec![("attempt".to_owned(), "50".to_owned())]);
        let later = rows.iter().find(|r| r.at == T0 + m(16)).unwrap();
        assert_eq!((later.occurrences, later.last_at), (2, Some(T0 + m(20))));
        let other = rows.iter().find(|r| client(r, "192.0.2.2")).unwrap();
        assert_eq!((other.occurrences, other.last_at), (1, None));

        // Records that do not coalesce are rows of their own, however alike.
        let plain = AuditRecord {
            coalesce_window: None,
            ..failure("192.0.2.1", T0 + m(21), 53)
        };
        insert(&mut conn, &plain).await.unwrap();
        let again = AuditRecord {
            id: uuid::Uuid::new_v4(),
            ..plain
        };
        insert(&mut conn, &again).await.unwrap();
        assert_eq!(all(&mut conn).await.len(), 5);
    }

    #[tokio::test]
    async fn the_purge_takes_rows_whose_last_occurrence_is_old_in_batches() {
        let (store, _dir) = testing::store().await;
        let mut conn = store.write().await.unwrap();
        let d = Duration::days;
        for i in 0..5 {
            insert(&mut conn, &failure(&format!("192.0.2.{i}"), T0 - d(400), 1))
                .await
                .unwrap();
        }
        // Old first occurrence, recent last one: kept.
        insert(&mut conn, &failure("198.51.100.1", T0 - d(400), 1))
            .await
            .unwrap();
        insert(
            &mut conn,
            &failure("198.51.100.1", T0 - d(400) + Duration::minutes(1), 2),
        )
        .await
        .unwrap();
        query("UPDATE audit_log SET last_at = ? WHERE client_address = '198.51.100.1'")
            .bind(ms(T0 - d(1)))
            .execute(&mut conn)
            .await
            .unwrap();
        insert(&mut conn, &failure("192.0.2.9", T0, 1))
            .await
            .unwrap();
        let cutoff = T0 - d(365);
        assert_eq!(purge_before(&mut conn, cutoff, 3).await.unwrap(), 3);
        assert_eq!(purge_before(&mut conn, cutoff, 3).await.unwrap(), 2);
        assert_eq!(purge_before(&mut conn, cutoff, 3).await.unwrap(), 0);
        let left: Vec<_> = all(&mut conn)
            .await
            .into_iter()
            .map(|r| r.client_address.unwrap_or_default())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
        assert!(left.contains(&"198.51.100.1".to_owned()));
        assert!(left.contains(&"192.0.2.9".to_owned()));
    }

    /// Records written alike are the rows `insert_many` writes for the same records, byte
    /// for byte but for their ids and sequence numbers.
    #[tokio::test]
    async fn alike_records_are_written_as_records_of_their_own() {
        use crate::domain::audit::TargetRef;
        let (store, _dir) = testing::store().await;
        let mut conn = store.write().await.unwrap();
        let base = AuditRecord::new(
            Activity::GroupMemberAdded,
            Initiator {
                kind: "app".into(),
                id: Some("ldap:corp".into()),
                display_name: "LDAP sync (ldap:corp)".into(),
            },
            T0,
        )
        .target("Group", uuid::Uuid::now_v7(), Some("Ingénieurs \"R&D\""))
        .detail("source", "ldap:corp")
        .correlation(Some(uuid::Uuid::now_v7()))
        .client(Some("192.0.2.7"));
        let names = ["ada@example.com", "zoë \\ \"x\"@example.com"];
        let each: Vec<(Activity, TargetRef)> = vec![
            (
                Activity::GroupMemberAdded,
                TargetRef {
                    id: uuid::Uuid::now_v7(),
                    kind: "User",
                    display_name: Some(names[0]),
                },
            ),
            (
                Activity::GroupMemberRemoved,
                TargetRef {
                    id: uuid::Uuid::now_v7(),
                    kind: "User",
                    display_name: None,
                },
            ),
            (
                Activity::GroupMemberAdded,
                TargetRef {
                    id: uuid::Uuid::now_v7(),
                    kind: "User",
                    display_name: Some(names[1]),
                },
            ),
        ];
        insert_alike(&mut conn, &base, &each).await.unwrap();
        let records: Vec<AuditRecord> = each
            .iter()
            .map(|(activity, target)| {
                let mut r = base
                    .clone()
                    .target(target.kind, target.id, target.display_name);
                (r.id, r.activity) = (uuid::Uuid::now_v7(), *activity);
                r
            })
            .collect();
        insert_many(&mut conn, &records).await.unwrap();
        let texts: Vec<String> =
            query("SELECT targets || '|' || details FROM audit_log ORDER BY seq")
                .scalars(&mut conn)
                .await
                .unwrap();
        assert_eq!(texts.len(), 6);
        assert_eq!(texts[..3], texts[3..], "the same JSON, byte for byte");
        let mut rows = all(&mut conn).await;
        rows.sort_by_key(|r| r.seq);
        let ids: HashSet<uuid::Uuid> = rows.iter().map(|r| r.id).collect();
        assert_eq!(ids.len(), 6, "each record has an id of its own");
        for r in &mut rows {
            (r.seq, r.id) = (0, uuid::Uuid::nil());
        }
        assert_eq!(rows[..3], rows[3..]);
        assert_eq!(rows[1].activity, "Remove member from group");
        assert_eq!(rows[2].targets[1].display_name.as_deref(), Some(names[1]));
        assert_eq!(rows[0].client_address.as_deref(), Some("192.0.2.7"));

        // Coalescing records key on their own targets: each is a row.
        let coalescing = failure("192.0.2.8", T0, 1);
        insert_alike(&mut conn, &coalescing, &each).await.unwrap();
        assert_eq!(all(&mut conn).await.len(), 9);
    }
}
