//! The `temporary_access_passes` table. One row per user at most; the pass itself is never
//! here, only its keyed hash.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{Connection, Row, at, ms, opt_at, opt_ms, query, uuid};
use crate::Result;
use crate::domain::tap::TapRecord;

/// A pass with its stored hash, for verification only.
/// The columns every query names explicitly: a `*` would be expanded when a connection first
/// prepares the statement, and go stale if the schema changes under it.
macro_rules! tap_columns {
    () => {
        "id, user_id, secret_hash, created_at, start_date_time, lifetime_in_minutes, is_usable_once, first_used_at, use_count, failed_attempts, locked_at"
    };
}

pub struct StoredTap {
    pub record: TapRecord,
    pub secret_hash: Vec<u8>,
}

fn from_row(row: &Row) -> Result<TapRecord> {
    Ok(TapRecord {
        id: uuid(row.try_get("id")?)?,
        user_id: uuid(row.try_get("user_id")?)?,
        created_at: at(row.try_get("created_at")?),
        start_date_time: opt_at(row.try_get("start_date_time")?),
        lifetime_in_minutes: row
            .try_get::<i64, _>("lifetime_in_minutes")?
            .clamp(0, u32::MAX.into()) as u32,
        is_usable_once: row.try_get("is_usable_once")?,
        first_used_at: opt_at(row.try_get("first_used_at")?),
        use_count: row
            .try_get::<i64, _>("use_count")?
            .clamp(0, u32::MAX.into()) as u32,
        failed_attempts: row
            .try_get::<i64, _>("failed_attempts")?
            .clamp(0, u32::MAX.into()) as u32,
        locked_at: opt_at(row.try_get("locked_at")?),
    })
}

/// The pass in a row whose pass columns carry `prefix` (a join), with its hash; `None` when
/// they are NULL (no pass).
pub(super) fn from_prefixed_row(row: &Row, prefix: &str) -> Result<Option<StoredTap>> {
    let col = |name: &str| format!("{prefix}{name}");
    let Some(id) = row.try_get::<Option<&str>, _>(col("id").as_str())? else {
        return Ok(None);
    };
    let count = |name: &str| -> Result<u32> {
        Ok(row
            .try_get::<i64, _>(col(name).as_str())?
            .clamp(0, u32::MAX.into()) as u32)
    };
    let record = TapRecord {
        id: uuid(id)?,
        user_id: uuid(row.try_get(col("user_id").as_str())?)?,
        created_at: at(row.try_get(col("created_at").as_str())?),
        start_date_time: opt_at(row.try_get(col("start_date_time").as_str())?),
        lifetime_in_minutes: count("lifetime_in_minutes")?,
        is_usable_once: row.try_get(col("is_usable_once").as_str())?,
        first_used_at: opt_at(row.try_get(col("first_used_at").as_str())?),
        use_count: count("use_count")?,
        failed_attempts: count("failed_attempts")?,
        locked_at: opt_at(row.try_get(col("locked_at").as_str())?),
    };
    Ok(Some(StoredTap {
        record,
        secret_hash: row.try_get(col("secret_hash").as_str())?,
    }))
}

/// Stores a new pass for its user. The caller has removed any previous one in the same
/// transaction; the UNIQUE(user_id) constraint guards the one-pass-per-user rule regardless.
pub async fn insert(conn: &mut Connection, record: &TapRecord, secret_hash: &[u8]) -> Result<()> {
    query(
        "INSERT INTO temporary_access_passes (id, user_id, secret_hash, created_at, start_date_time,
            lifetime_in_minutes, expires_at, is_usable_once, first_used_at, use_count, failed_attempts, locked_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(record.id.to_string())
    .bind(record.user_id.to_string())
    .bind(secret_hash)
    .bind(ms(record.created_at))
    .bind(opt_ms(record.start_date_time))
    .bind(i64::from(record.lifetime_in_minutes))
    .bind(ms(record.expires_at()))
    .bind(record.is_usable_once)
    .bind(opt_ms(record.first_used_at))
    .bind(i64::from(record.use_count))
    .bind(i64::from(record.failed_attempts))
    .bind(opt_ms(record.locked_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn for_user(conn: &mut Connection, user_id: Uuid) -> Result<Option<TapRecord>> {
    let row = query(concat!(
        "SELECT ",
        tap_columns!(),
        " FROM temporary_access_passes WHERE user_id = ?"
    ))
    .bind(user_id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// The pass with id `id`, if it is still stored.
pub async fn get(conn: &mut Connection, id: Uuid) -> Result<Option<TapRecord>> {
    let row = query(concat!(
        "SELECT ",
        tap_columns!(),
        " FROM temporary_access_passes WHERE id = ?"
    ))
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Writes back the counters a redemption changes. The row is written only if one of them
/// differs: a refusal that changes nothing (a locked or expired pass) writes no page, just as
/// the stand-in for an absent pass matches no row — the same statement either way.
pub async fn update_usage(conn: &mut Connection, record: &TapRecord) -> Result<()> {
    let (first_used, uses, failed, locked) = (
        opt_ms(record.first_used_at),
        i64::from(record.use_count),
        i64::from(record.failed_attempts),
        opt_ms(record.locked_at),
    );
    query(
        "UPDATE temporary_access_passes
         SET first_used_at = ?, use_count = ?, failed_attempts = ?, locked_at = ?
         WHERE id = ? AND (first_used_at IS DISTINCT FROM ? OR use_count IS DISTINCT FROM ?
                           OR failed_attempts IS DISTINCT FROM ? OR locked_at IS DISTINCT FROM ?)",
    )
    .bind(first_used)
    .bind(uses)
    .bind(failed)
    .bind(locked)
    .bind(record.id.to_string())
    .bind(first_used)
    .bind(uses)
    .bind(failed)
    .bind(locked)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Deletes a user's pass; returns it if there was one.
pub async fn delete_for_user(conn: &mut Connection, user_id: Uuid) -> Result<Option<TapRecord>> {
    let row = query(concat!(
        "DELETE FROM temporary_access_passes WHERE user_id = ? RETURNING ",
        tap_columns!()
    ))
    .bind(user_id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Deletes passes that expired before `cutoff`; returns them (id, user id).
pub async fn purge_expired_before(
    conn: &mut Connection,
    cutoff: OffsetDateTime,
) -> Result<Vec<(Uuid, Uuid)>> {
    let rows =
        query("DELETE FROM temporary_access_passes WHERE expires_at < ? RETURNING id, user_id")
            .bind(ms(cutoff))
            .fetch_all(&mut *conn)
            .await?;
    rows.iter()
        .map(|r| Ok((uuid(r.try_get("id")?)?, uuid(r.try_get("user_id")?)?)))
        .collect()
}

/// All passes with their user's principal name, newest first.
pub async fn list_all(conn: &mut Connection, limit: u32) -> Result<Vec<(TapRecord, String)>> {
    let rows = query(
        concat!("SELECT ", tap_columns!(), ", (SELECT user_principal_name FROM users u WHERE u.id = t.user_id) AS user_principal_name FROM temporary_access_passes t
         ORDER BY t.created_at DESC LIMIT ?"),
    )
    .bind(i64::from(limit.max(1)))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| Ok((from_row(r)?, r.try_get("user_principal_name")?)))
        .collect()
}

/// (passes not yet expired, passes in total) at `now`.
pub async fn counts(conn: &mut Connection, now: OffsetDateTime) -> Result<(i64, i64)> {
    let row = query(
        "SELECT count(*) FILTER (WHERE expires_at > ? AND locked_at IS NULL
                    AND NOT (is_usable_once AND first_used_at IS NOT NULL)) AS live,
                count(*) AS total FROM temporary_access_passes",
    )
    .bind(ms(now))
    .fetch_one(&mut *conn)
    .await?;
    Ok((row.try_get("live")?, row.try_get("total")?))
}
