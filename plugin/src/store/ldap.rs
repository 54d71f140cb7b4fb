//! SQL for the sync's own tables (migration 0003): the object index, the quarantine and the
//! per-source state. Functions over a connection, so they compose in the executor's
//! transactions.

use std::collections::HashMap;

use super::{Connection, QueryBuilder, Row, at, ms, query, query_owned, uuid as id};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Error, Result};

pub use crate::domain::directory_sync::groups::Names;
pub use crate::domain::directory_sync::state::{
    Cursor, Known, Quarantined, RunRecord, SourceState, UsnMark, hex, unhex,
};

/// The users of `source` with these anchors, with the fingerprint of their last import.
pub async fn known_users(
    conn: &mut Connection,
    source: &str,
    anchors: &[&str],
) -> Result<HashMap<String, Known>> {
    let mut out = HashMap::with_capacity(anchors.len());
    // Chunks stay far below SQLite's bound-parameter limit.
    for chunk in anchors.chunks(2000) {
        let mut qb = QueryBuilder::new(
            "SELECT u.id, u.anchor, u.account_enabled, o.fingerprint, o.dn, o.login \
             FROM users u \
             LEFT JOIN ldap_objects o ON o.source = u.source AND o.anchor = u.anchor AND o.kind = 'user' \
             WHERE u.source = ",
        );
        qb.push_bind(source).push(" AND u.anchor IN (");
        qb.push_list(chunk.iter().copied()).push(")");
        for mut row in qb.build().fetch_all(&mut *conn).await? {
            let uid = id(row.try_get::<&str, _>(0)?)?;
            let dn: Option<String> = row.take(4)?;
            let login: Option<String> = row.take(5)?;
            out.insert(
                row.take(1)?,
                Known {
                    id: uid,
                    enabled: row.try_get(2)?,
                    fingerprint: row.take(3)?,
                    references: dn.map(|dn| (dn, login)),
                },
            );
        }
    }
    Ok(out)
}

pub struct ObjectRow<'a> {
    pub source: &'a str,
    pub anchor: &'a str,
    pub kind: &'a str,
    pub object_id: Uuid,
    pub dn: &'a str,
    pub login: Option<&'a str>,
    pub fingerprint: &'a str,
}

pub async fn upsert_object(conn: &mut Connection, o: &ObjectRow<'_>) -> Result<()> {
    upsert_objects(conn, std::slice::from_ref(o)).await
}

pub async fn delete_object(conn: &mut Connection, source: &str, anchor: &str) -> Result<()> {
    query("DELETE FROM ldap_objects WHERE source = ? AND anchor = ?")
        .bind(source)
        .bind(anchor)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Every imported user or group of `source`: (anchor, object id).
pub async fn imported(
    conn: &mut Connection,
    source: &str,
    kind: &str,
) -> Result<Vec<(String, Uuid)>> {
    let mut out = Vec::new();
    for_each_page::<(String, String)>(conn, source, kind, "object_id", PAGE, |page| {
        for (anchor, object_id) in page {
            out.push((anchor, id(&object_id)?));
        }
        Ok(())
    })
    .await?;
    Ok(out)
}

/// Rows per page of [`for_each_page`]: small enough to keep memory flat.
const PAGE: usize = 5000;

/// `ldap_objects` rows of one source and kind in anchor order, `page_size` at a time:
/// `(anchor, <columns>...)` tuples. (The anchor column is `COLLATE "C"` on PostgreSQL: byte
/// order, as SQLite compares text.)
async fn for_each_page<T: PageRow>(
    conn: &mut Connection,
    source: &str,
    kind: &str,
    columns: &str,
    page_size: usize,
    mut each: impl FnMut(Vec<T>) -> Result<()>,
) -> Result<()> {
    for_each_row_page(conn, source, kind, columns, page_size, |rows| {
        each(
            rows.into_iter()
                .map(|mut r| T::read(&mut r))
                .collect::<Result<Vec<T>>>()?,
        )
    })
    .await
}

/// [`for_each_page`] handing over the rows as they are, for callers that keep only part of
/// each (no owned copy of every cell).
async fn for_each_row_page(
    conn: &mut Connection,
    source: &str,
    kind: &str,
    columns: &str,
    page_size: usize,
    mut each: impl FnMut(Vec<Row>) -> Result<()>,
) -> Result<()> {
    let sql = format!(
        "SELECT anchor, {columns} FROM ldap_objects \
         WHERE source = ? AND kind = ? AND anchor > ? ORDER BY anchor LIMIT {page_size}"
    );
    let mut after = String::new();
    loop {
        let page = query_owned(sql.clone())
            .bind(source)
            .bind(kind)
            .bind(&after)
            .fetch_all(&mut *conn)
            .await?;
        let full = page.len() == page_size;
        if let Some(last) = page.last() {
            after = last.try_get(0)?;
        }
        each(page)?;
        if !full {
            return Ok(());
        }
    }
}

/// A page row read whole (its first column is the anchor, the page key).
trait PageRow: Sized {
    fn read(row: &mut Row) -> Result<Self>;
}

impl PageRow for (String, String) {
    fn read(row: &mut Row) -> Result<Self> {
        Ok((row.take(0)?, row.take(1)?))
    }
}

/// [`imported`] restricted to these anchors.
pub async fn imported_among(
    conn: &mut Connection,
    source: &str,
    kind: &str,
    anchors: &[&str],
) -> Result<Vec<(String, Uuid)>> {
    let mut out = Vec::new();
    for chunk in anchors.chunks(2000) {
        let mut qb: QueryBuilder =
            QueryBuilder::new("SELECT anchor, object_id FROM ldap_objects WHERE source = ");
        qb.push_bind(source)
            .push(" AND kind = ")
            .push_bind(kind)
            .push(" AND anchor IN (");
        qb.push_list(chunk.iter().copied()).push(")");
        for r in qb.build().fetch_all(&mut *conn).await? {
            out.push((r.try_get("anchor")?, id(r.try_get("object_id")?)?));
        }
    }
    Ok(out)
}

/// The imported object with this anchor, if any: (kind, object id).
pub async fn object_by_anchor(
    conn: &mut Connection,
    source: &str,
    anchor: &str,
) -> Result<Option<(String, Uuid)>> {
    let row = query("SELECT kind, object_id FROM ldap_objects WHERE source = ? AND anchor = ?")
        .bind(source)
        .bind(anchor)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| Ok((r.try_get("kind")?, id(r.try_get("object_id")?)?)))
        .transpose()
}

/// Imported groups of `source` by anchor: (group id, fingerprint). The fingerprint is `None`
/// where the index row is missing or names another object, so that it is written again.
pub async fn known_groups(
    conn: &mut Connection,
    source: &str,
) -> Result<HashMap<String, (Uuid, Option<String>)>> {
    let rows = query(
        "SELECT g.id, g.anchor, CASE WHEN o.object_id = g.id THEN o.fingerprint END AS fingerprint
         FROM groups g
         LEFT JOIN ldap_objects o ON o.source = g.source AND o.anchor = g.anchor AND o.kind = 'group'
         WHERE g.source = ? AND g.anchor IS NOT NULL",
    )
    .bind(source)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = HashMap::new();
    for mut r in rows {
        let gid = id(r.try_get::<&str, _>("id")?)?;
        out.insert(r.take("anchor")?, (gid, r.take("fingerprint")?));
    }
    Ok(out)
}

/// The user with this normalised DN.
pub async fn user_by_dn(conn: &mut Connection, source: &str, dn: &str) -> Result<Option<Uuid>> {
    let v: Option<String> = query_owned(
        conn.pick(
            // Without table statistics SQLite picks the primary key's `source` prefix — a
            // scan of the whole source per look-up, quadratic over a full load. The DN index
            // is exact.
            "SELECT object_id FROM ldap_objects INDEXED BY ldap_objects_by_dn WHERE source = ? AND dn = ? AND kind = 'user' LIMIT 1",
            "SELECT object_id FROM ldap_objects WHERE source = ? AND dn = ? AND kind = 'user' LIMIT 1",
        )
        .to_owned(),
    )
    .bind(source)
    .bind(dn)
    .scalar_optional(&mut *conn)
    .await?;
    v.as_deref().map(id).transpose()
}

/// [`user_by_dn`] for many DNs: the ones found, DN → user id.
pub async fn users_by_dns(conn: &mut Connection, source: &str, dns: &[&str]) -> Result<Names> {
    objects_by(conn, source, "user", By::Dn, dns).await
}

/// The imported groups with these normalised DNs: DN → group id.
pub async fn groups_by_dns(conn: &mut Connection, source: &str, dns: &[&str]) -> Result<Names> {
    objects_by(conn, source, "group", By::Dn, dns).await
}

/// The imported users with these login names (posixGroup `memberUid`): login → user id.
pub async fn users_by_logins(
    conn: &mut Connection,
    source: &str,
    logins: &[&str],
) -> Result<Names> {
    objects_by(conn, source, "user", By::Login, logins).await
}

/// The column [`objects_by`] matches.
#[derive(Clone, Copy)]
enum By {
    Dn,
    Login,
}

/// Objects of one kind by DN or login, through that column's index (see [`user_by_dn`]).
async fn objects_by(
    conn: &mut Connection,
    source: &str,
    kind: &str,
    by: By,
    values: &[&str],
) -> Result<Names> {
    let (sqlite, postgres, column) = match by {
        By::Dn => (
            "SELECT dn, object_id FROM ldap_objects INDEXED BY ldap_objects_by_dn WHERE source = ",
            "SELECT dn, object_id FROM ldap_objects WHERE source = ",
            "dn",
        ),
        By::Login => (
            "SELECT login, object_id FROM ldap_objects INDEXED BY ldap_objects_by_login WHERE source = ",
            "SELECT login, object_id FROM ldap_objects WHERE source = ",
            "login",
        ),
    };
    let mut out = Names::with_capacity_and_hasher(values.len(), Default::default());
    for chunk in values.chunks(2000) {
        let mut qb = QueryBuilder::new(conn.pick(sqlite, postgres));
        qb.push_bind(source)
            .push(" AND kind = ")
            .push_bind(kind)
            .push(" AND ")
            .push(column)
            .push(" IN (");
        qb.push_list(chunk.iter().copied()).push(")");
        for row in qb.build().fetch_all(&mut *conn).await? {
            out.insert(row.try_get(0)?, id(row.try_get(1)?)?);
        }
    }
    Ok(out)
}

/// The stored DN of each imported object with one of these anchors: anchor → DN.
pub async fn dns_of(
    conn: &mut Connection,
    source: &str,
    anchors: &[&str],
) -> Result<HashMap<String, String>> {
    let mut out = HashMap::with_capacity(anchors.len());
    for chunk in anchors.chunks(2000) {
        let mut qb: QueryBuilder =
            QueryBuilder::new("SELECT anchor, dn FROM ldap_objects WHERE source = ");
        qb.push_bind(source).push(" AND anchor IN (");
        qb.push_list(chunk.iter().copied()).push(")");
        for r in qb.build().fetch_all(&mut *conn).await? {
            out.insert(r.try_get(0)?, r.try_get(1)?);
        }
    }
    Ok(out)
}

/// [`upsert_object`] for many rows, in a few statements.
pub async fn upsert_objects(conn: &mut Connection, rows: &[ObjectRow<'_>]) -> Result<()> {
    // 7 parameters a row, under SQLite's 32766.
    for chunk in rows.chunks(4000) {
        let mut qb: QueryBuilder = QueryBuilder::new(
            "INSERT INTO ldap_objects (source, anchor, kind, object_id, dn, login, fingerprint) ",
        );
        qb.push_values(chunk, |b, o| {
            b.push_bind(o.source)
                .push_bind(o.anchor)
                .push_bind(o.kind)
                .push_bind(o.object_id.to_string())
                .push_bind(o.dn)
                .push_bind(o.login)
                .push_bind(o.fingerprint);
        });
        qb.push(
            " ON CONFLICT (source, anchor) DO UPDATE SET kind = excluded.kind,
               object_id = excluded.object_id, dn = excluded.dn, login = excluded.login,
               fingerprint = excluded.fingerprint",
        );
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// [`release`] for many DNs.
pub async fn release_many(conn: &mut Connection, source: &str, dns: &[&str]) -> Result<()> {
    for chunk in dns.chunks(2000) {
        let mut qb: QueryBuilder = QueryBuilder::new("DELETE FROM ldap_quarantine WHERE source = ");
        qb.push_bind(source).push(" AND dn IN (");
        qb.push_list(chunk.iter().copied()).push(")");
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Normalised DN → user id and login → user id, for member resolution.
pub async fn user_references(conn: &mut Connection, source: &str) -> Result<(Names, Names)> {
    let (by_dn, by_login, _) = user_index(conn, source, |_| false).await?;
    Ok((by_dn, by_login))
}

/// [`user_references`], and the imported users (anchor, user id) whose anchor `keep`
/// accepts: a full run's sweep needs both, and one scan of the index costs less than two.
pub async fn user_index(
    conn: &mut Connection,
    source: &str,
    mut keep: impl FnMut(&str) -> bool,
) -> Result<(Names, Names, Vec<(String, Uuid)>)> {
    let mut by_dn = Names::default();
    let mut by_login = Names::default();
    let mut kept = Vec::new();
    for_each_row_page(conn, source, "user", "object_id, dn, login", PAGE, |page| {
        by_dn.reserve(page.len());
        by_login.reserve(page.len());
        for mut row in page {
            let uid = id(row.try_get::<&str, _>(1)?)?;
            by_dn.insert(row.take::<String, _>(2)?, uid);
            if let Some(login) = row.take::<Option<String>, _>(3)? {
                by_login.insert(login, uid);
            }
            let anchor: &str = row.try_get(0)?;
            if keep(anchor) {
                kept.push((anchor.to_owned(), uid));
            }
        }
        Ok(())
    })
    .await?;
    Ok((by_dn, by_login, kept))
}

/// Enabled users owned by `source`: the population the deprovisioning guard measures.
pub async fn enabled_population(conn: &mut Connection, source: &str) -> Result<u64> {
    let n: i64 = query("SELECT count(*) FROM users WHERE source = ? AND account_enabled = TRUE")
        .bind(source)
        .scalar(&mut *conn)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub async fn quarantine(
    conn: &mut Connection,
    source: &str,
    dn: &str,
    anchor: Option<&str>,
    reason: &str,
    now: OffsetDateTime,
) -> Result<()> {
    query(
        "INSERT INTO ldap_quarantine (source, dn, anchor, reason, first_seen, last_seen)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (source, dn) DO UPDATE SET anchor = excluded.anchor,
           reason = excluded.reason, last_seen = excluded.last_seen",
    )
    .bind(source)
    .bind(dn)
    .bind(anchor)
    .bind(reason)
    .bind(ms(now))
    .bind(ms(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Releases a quarantined entry that imported cleanly.
pub async fn release(conn: &mut Connection, source: &str, dn: &str) -> Result<()> {
    release_many(conn, source, &[dn]).await
}

/// After a complete full read: drops quarantine rows of entries no longer seen.
pub async fn prune_quarantine(
    conn: &mut Connection,
    source: &str,
    before: OffsetDateTime,
) -> Result<()> {
    query("DELETE FROM ldap_quarantine WHERE source = ? AND last_seen < ?")
        .bind(source)
        .bind(ms(before))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn quarantined(
    conn: &mut Connection,
    source: &str,
    limit: u32,
) -> Result<Vec<Quarantined>> {
    let rows = query(
        "SELECT dn, anchor, reason, last_seen FROM ldap_quarantine WHERE source = ? ORDER BY dn LIMIT ?",
    )
    .bind(source)
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Quarantined {
                dn: r.try_get("dn")?,
                anchor: r.try_get("anchor")?,
                reason: r.try_get("reason")?,
                last_seen: at(r.try_get("last_seen")?),
            })
        })
        .collect()
}

pub async fn quarantine_count(conn: &mut Connection, source: &str) -> Result<u64> {
    let n: i64 = query("SELECT count(*) FROM ldap_quarantine WHERE source = ?")
        .bind(source)
        .scalar(&mut *conn)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub async fn load_state(conn: &mut Connection, source: &str) -> Result<SourceState> {
    let row = query(
        "SELECT cursor, cursor_at, last_full_at, last_run_at, last_status, last_mode, last_error,
                last_duration_ms, last_counts, runs_ok, runs_failed
         FROM ldap_sync_state WHERE source = ?",
    )
    .bind(source)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else {
        return Ok(SourceState::default());
    };
    let cursor: String = r.try_get("cursor")?;
    let counts: String = r.try_get("last_counts")?;
    let opt_at = |v: Option<i64>| v.map(at);
    Ok(SourceState {
        // A cursor that does not parse is treated as none: the next run is a full one.
        cursor: serde_json::from_str(&cursor).unwrap_or_default(),
        cursor_at: opt_at(r.try_get("cursor_at")?),
        last_full_at: opt_at(r.try_get("last_full_at")?),
        last_run_at: opt_at(r.try_get("last_run_at")?),
        last_status: r.try_get("last_status")?,
        last_mode: r.try_get("last_mode")?,
        last_error: r.try_get("last_error")?,
        last_duration_ms: r.try_get("last_duration_ms")?,
        last_counts: serde_json::from_str(&counts).unwrap_or_default(),
        runs_ok: r.try_get("runs_ok")?,
        runs_failed: r.try_get("runs_failed")?,
    })
}

pub async fn record_run(conn: &mut Connection, r: &RunRecord<'_>) -> Result<()> {
    let ok = r.status == "ok";
    query(
        "INSERT INTO ldap_sync_state (source, last_run_at, last_status, last_mode, last_error,
            last_duration_ms, last_counts, runs_ok, runs_failed)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (source) DO UPDATE SET last_run_at = excluded.last_run_at,
            last_status = excluded.last_status, last_mode = excluded.last_mode,
            last_error = excluded.last_error, last_duration_ms = excluded.last_duration_ms,
            last_counts = excluded.last_counts,
            runs_ok = ldap_sync_state.runs_ok + excluded.runs_ok,
            runs_failed = ldap_sync_state.runs_failed + excluded.runs_failed",
    )
    .bind(r.source)
    .bind(ms(r.at))
    .bind(r.status)
    .bind(r.mode)
    .bind(r.error)
    .bind(r.duration_ms)
    .bind(r.counts.to_string())
    .bind(i64::from(ok))
    .bind(i64::from(!ok && r.status != "dry-run"))
    .execute(&mut *conn)
    .await?;
    if let Some(cursor) = r.cursor {
        let text = serde_json::to_string(cursor).map_err(|e| Error::Internal(e.to_string()))?;
        query("UPDATE ldap_sync_state SET cursor = ?, cursor_at = ? WHERE source = ?")
            .bind(text)
            .bind(ms(r.at))
            .bind(r.source)
            .execute(&mut *conn)
            .await?;
    }
    if r.full_completed {
        query("UPDATE ldap_sync_state SET last_full_at = ? WHERE source = ?")
            .bind(ms(r.at))
            .bind(r.source)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Ends one batch of a dry run that runs in a single transaction as the batch's commit would
/// end it: the foreign keys it deferred (see [`super::defer_foreign_keys`]) are checked now
/// (PostgreSQL; SQLite checks them only at the commit), and the next batch starts with them
/// checked per statement again.
pub async fn end_batch(conn: &mut Connection) -> Result<()> {
    let sql = conn.pick(
        "PRAGMA defer_foreign_keys = OFF",
        "SET CONSTRAINTS ALL IMMEDIATE",
    );
    conn.batch(sql).await?;
    Ok(())
}

/// Drops the cursor so the next run is a full one (e-syncRefreshRequired).
pub async fn clear_cursor(conn: &mut Connection, source: &str) -> Result<()> {
    query("UPDATE ldap_sync_state SET cursor = '{}', cursor_at = NULL WHERE source = ?")
        .bind(source)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Refreshes PostgreSQL's planner statistics of the tables a directory run writes. Left to
/// autovacuum (which looks once a minute), the run after a first load planned its
/// 2,000-anchor comparison against the statistics of empty tables: 230 ms a query, and an
/// unchanged 10,000-user directory took longer to compare (2.8 s) than to load (1.9 s).
/// SQLite finds these rows by their unique indexes whatever its statistics: nothing to do.
pub async fn refresh_statistics(conn: &mut Connection) -> Result<()> {
    if conn.engine() == super::Engine::Postgres {
        conn.batch("ANALYZE users, ldap_objects, groups, group_members")
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On PostgreSQL the planner learns at once how many rows a run wrote (`reltuples` is
    /// what it plans with; -1 means never analysed); on SQLite it is a no-op that succeeds.
    #[tokio::test]
    async fn statistics_are_refreshed_after_a_large_write() {
        let (store, _db) = super::super::testing::store().await;
        let mut tx = store.write().await.unwrap();
        for i in 0..300 {
            upsert_object(
                &mut tx,
                &ObjectRow {
                    source: "ldap:t",
                    anchor: &format!("a{i:03}"),
                    kind: "user",
                    object_id: Uuid::new_v4(),
                    dn: &format!("uid={i},dc=x"),
                    login: None,
                    fingerprint: "f",
                },
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        let mut conn = store.read().await.unwrap();
        let planned = "SELECT reltuples::float8 FROM pg_class WHERE oid = 'ldap_objects'::regclass";
        if conn.engine() == super::super::Engine::Postgres {
            let before: f64 = query(planned).scalar(&mut conn).await.unwrap();
            assert!(before < 300.0, "{before}");
        }
        refresh_statistics(&mut conn).await.unwrap();
        if conn.engine() == super::super::Engine::Postgres {
            let after: f64 = query(planned).scalar(&mut conn).await.unwrap();
            assert_eq!(after, 300.0);
        }
    }

    #[tokio::test]
    async fn pages_cover_every_object_once_in_anchor_order() {
        let (store, _db) = super::super::testing::store().await;
        let mut tx = store.write().await.unwrap();
        let mut want = Vec::new();
        for i in 0..12 {
            let anchor = format!("a{i:02}");
            let object_id = Uuid::new_v4();
            upsert_object(
                &mut tx,
                &ObjectRow {
                    source: "ldap:t",
                    anchor: &anchor,
                    kind: "user",
                    object_id,
                    dn: &format!("uid={i},dc=x"),
                    login: None,
                    fingerprint: "f",
                },
            )
            .await
            .unwrap();
            want.push((anchor, object_id));
        }
        // Another source and another kind stay out.
        for (source, kind) in [("ldap:other", "user"), ("ldap:t", "group")] {
            upsert_object(
                &mut tx,
                &ObjectRow {
                    source,
                    anchor: "a05x",
                    kind,
                    object_id: Uuid::new_v4(),
                    dn: "cn=g",
                    login: None,
                    fingerprint: "f",
                },
            )
            .await
            .unwrap();
        }
        for size in [1, 5, 12, 13] {
            let mut pages = Vec::new();
            let mut got = Vec::new();
            for_each_page::<(String, String)>(&mut tx, "ldap:t", "user", "object_id", size, |p| {
                pages.push(p.len());
                for (a, o) in p {
                    got.push((a, id(&o)?));
                }
                Ok(())
            })
            .await
            .unwrap();
            assert_eq!(got, want, "page size {size}");
            assert!(pages.iter().all(|n| *n <= size), "{pages:?}");
        }
        assert_eq!(imported(&mut tx, "ldap:t", "user").await.unwrap(), want);
        let (by_dn, _) = user_references(&mut tx, "ldap:t").await.unwrap();
        assert_eq!(by_dn.len(), 12);
    }

    /// Runs recorded one after another add up and keep the latest cursor, on both engines
    /// (PostgreSQL refused the second record of a source while the counters' update named
    /// its columns unqualified, and every delta after the first full run became a full run).
    #[tokio::test]
    async fn runs_recorded_again_add_up_and_keep_the_cursor() {
        let (store, _db) = super::super::testing::store().await;
        let at = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let counts = serde_json::json!({"read": 3});
        for (i, status) in ["ok", "ok", "failed"].into_iter().enumerate() {
            let mut cursor = Cursor::default();
            cursor.cookies.insert("dc=x".into(), format!("0{i}"));
            let mut tx = store.write().await.unwrap();
            record_run(
                &mut tx,
                &RunRecord {
                    source: "ldap:t",
                    at: at + time::Duration::seconds(i as i64),
                    status,
                    mode: "full",
                    error: None,
                    duration_ms: 10,
                    counts: &counts,
                    cursor: (status == "ok").then_some(&cursor),
                    full_completed: status == "ok",
                },
            )
            .await
            .unwrap_or_else(|e| panic!("record {i}: {e}"));
            tx.commit().await.unwrap();
        }
        let mut conn = store.read().await.unwrap();
        let state = load_state(&mut conn, "ldap:t").await.unwrap();
        assert_eq!((state.runs_ok, state.runs_failed), (2, 1));
        assert_eq!(
            state.cursor.cookies.get("dc=x").map(String::as_str),
            Some("01")
        );
        assert_eq!(state.last_status.as_deref(), Some("failed"));
    }
}
