//! The `run_locks` table: jobs that must not run twice at once, across every process sharing
//! the database. A holder proves itself with its token; what makes a lock stale (a heartbeat
//! older than a grace period) is decided by the caller, which passes the cut-off.

use time::OffsetDateTime;

use super::{Connection, Row, at, ms, query};
use crate::Result;

/// Who holds (or wants) a lock.
pub use crate::domain::directory_sync::state::RunLockHolder as Holder;

fn from_row(row: &Row) -> Result<Holder> {
    let pid: i64 = row.try_get("pid")?;
    let pid_start: Option<i64> = row.try_get("pid_start")?;
    Ok(Holder {
        token: row.try_get("token")?,
        host: row.try_get("host")?,
        pid: u32::try_from(pid).unwrap_or(0),
        pid_start: pid_start.and_then(|v| u64::try_from(v).ok()),
        started_at: at(row.try_get("started_at")?),
        heartbeat_at: at(row.try_get("heartbeat_at")?),
    })
}

/// The current holder of `name`, stale or not.
pub async fn get(conn: &mut Connection, name: &str) -> Result<Option<Holder>> {
    let row = query(
        "SELECT token, host, pid, pid_start, started_at, heartbeat_at FROM run_locks WHERE name = ?",
    )
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Takes `name` for `holder` if it is free, or if its holder's heartbeat is older than
/// `stale_before`, or if its holder's token is `replacing` (a holder the caller found dead).
/// Returns whether `holder` now has it. Run it in a write transaction together with [`get`]
/// to learn whom it replaced.
pub async fn take(
    conn: &mut Connection,
    name: &str,
    holder: &Holder,
    stale_before: OffsetDateTime,
    replacing: Option<&str>,
) -> Result<bool> {
    let res = query(
        "INSERT INTO run_locks (name, token, host, pid, pid_start, started_at, heartbeat_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (name) DO UPDATE SET token = excluded.token, host = excluded.host,
            pid = excluded.pid, pid_start = excluded.pid_start, started_at = excluded.started_at,
            heartbeat_at = excluded.heartbeat_at
         WHERE run_locks.heartbeat_at < ?8 OR run_locks.token = ?9",
    )
    .bind(name)
    .bind(&holder.token)
    .bind(&holder.host)
    .bind(i64::from(holder.pid))
    .bind(holder.pid_start.and_then(|v| i64::try_from(v).ok()))
    .bind(ms(holder.started_at))
    .bind(ms(holder.heartbeat_at))
    .bind(ms(stale_before))
    .bind(replacing)
    .execute(&mut *conn)
    .await?;
    Ok(res == 1)
}

/// Moves the heartbeat of `name` forward if `token` still holds it; false if it does not
/// (released, or taken over after the heartbeat stopped).
pub async fn renew(
    conn: &mut Connection,
    name: &str,
    token: &str,
    now: OffsetDateTime,
) -> Result<bool> {
    // A clock that stepped back does not move the heartbeat back.
    let sql = conn.pick(
        "UPDATE run_locks SET heartbeat_at = max(heartbeat_at, ?) WHERE name = ? AND token = ?",
        "UPDATE run_locks SET heartbeat_at = GREATEST(heartbeat_at, ?) WHERE name = ? AND token = ?",
    );
    let res = query(sql)
        .bind(ms(now))
        .bind(name)
        .bind(token)
        .execute(&mut *conn)
        .await?;
    Ok(res == 1)
}

/// Gives `name` up if `token` holds it; a lock someone else took over is left alone.
pub async fn release(conn: &mut Connection, name: &str, token: &str) -> Result<()> {
    query("DELETE FROM run_locks WHERE name = ? AND token = ?")
        .bind(name)
        .bind(token)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;

    fn holder(token: &str, at: OffsetDateTime) -> Holder {
        Holder {
            token: token.into(),
            host: "h".into(),
            pid: 7,
            pid_start: Some(99),
            started_at: at,
            heartbeat_at: at,
        }
    }

    #[tokio::test]
    async fn a_live_lock_is_kept_a_stale_or_named_one_is_taken() {
        let (store, _db) = testing::store().await;
        let mut tx = store.write().await.unwrap();
        let t0 = OffsetDateTime::from_unix_timestamp(1_000_000).unwrap();
        let s = time::Duration::seconds;
        assert!(
            take(&mut tx, "ldap:a", &holder("a", t0), t0 - s(30), None)
                .await
                .unwrap()
        );
        // Live (heartbeat after the cut-off): refused, whatever the newcomer's clock says.
        assert!(
            !take(
                &mut tx,
                "ldap:a",
                &holder("b", t0 + s(10)),
                t0 - s(20),
                None
            )
            .await
            .unwrap()
        );
        assert!(
            !take(&mut tx, "ldap:a", &holder("b", t0), t0 - s(20), Some("x"))
                .await
                .unwrap()
        );
        assert_eq!(get(&mut tx, "ldap:a").await.unwrap().unwrap().token, "a");
        // Renewed by its holder only.
        assert!(renew(&mut tx, "ldap:a", "a", t0 + s(5)).await.unwrap());
        assert!(!renew(&mut tx, "ldap:a", "b", t0 + s(5)).await.unwrap());
        // A clock that went backwards does not move the heartbeat back.
        assert!(renew(&mut tx, "ldap:a", "a", t0).await.unwrap());
        assert_eq!(
            get(&mut tx, "ldap:a").await.unwrap().unwrap().heartbeat_at,
            t0 + s(5)
        );
        // Stale: taken over; the old holder can neither renew nor release it.
        assert!(
            take(
                &mut tx,
                "ldap:a",
                &holder("b", t0 + s(40)),
                t0 + s(10),
                None
            )
            .await
            .unwrap()
        );
        assert!(!renew(&mut tx, "ldap:a", "a", t0 + s(41)).await.unwrap());
        release(&mut tx, "ldap:a", "a").await.unwrap();
        let now = get(&mut tx, "ldap:a").await.unwrap().unwrap();
        assert_eq!((now.token.as_str(), now.pid_start), ("b", Some(99)));
        // Named as dead by the caller: taken even though its heartbeat is fresh.
        assert!(
            take(&mut tx, "ldap:a", &holder("c", t0 + s(41)), t0, Some("b"))
                .await
                .unwrap()
        );
        // Other names are independent; a released lock is free.
        assert!(
            take(&mut tx, "ldap:b", &holder("d", t0), t0, None)
                .await
                .unwrap()
        );
        release(&mut tx, "ldap:a", "c").await.unwrap();
        assert!(get(&mut tx, "ldap:a").await.unwrap().is_none());
        assert!(
            take(&mut tx, "ldap:a", &holder("e", t0), t0, None)
                .await
                .unwrap()
        );
    }
}
