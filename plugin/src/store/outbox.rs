//! The `mail_outbox` table. A message is committed here before anything is sent; delivery
//! claims it with a lease, so a crash mid-send leaves it to be retried, never lost.
//!
//! Each claim counts an attempt, and the attempt number is the claim's proof: a failure is
//! recorded only by the sender whose claim is current (`attempts` unchanged), so a sender
//! that outlived its lease cannot push the message back under its successor. Before the
//! message goes on the wire (SMTP, the `.eml` file) the attempt is marked `handed_over_at`,
//! in the commit that mints its pass; a message claimed again with that mark still set was
//! maybe delivered by a sender that died, and the attempt counts as unconfirmed.

use super::{Connection, Row, at, ms, query};
use crate::domain::outbox::{Message, NewMessage, State};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Error, Result};

macro_rules! columns {
    () => {
        "id, kind, user_id, recipients, cc, language, params, state, not_before, next_attempt_at, attempts, \
         unconfirmed_attempts, last_error, server_reply, created_at, sent_at"
    };
}

fn from_row(row: &Row) -> Result<Message> {
    let get_s = |c: &str| -> Result<String> { row.try_get::<String, _>(c).map_err(Error::from) };
    let json =
        |c: &str| -> Result<Value> { Ok(serde_json::from_str(&get_s(c)?).unwrap_or(Value::Null)) };
    let list = |c: &str| -> Result<Vec<String>> {
        Ok(serde_json::from_str(&get_s(c)?).unwrap_or_default())
    };
    let id = |c: &str| -> Result<Uuid> {
        Uuid::parse_str(&get_s(c)?).map_err(|_| Error::Internal("corrupt outbox id".into()))
    };
    let int = |c: &str| -> Result<i64> { row.try_get::<i64, _>(c).map_err(Error::from) };
    let opt = |c: &str| -> Result<Option<String>> { row.try_get(c).map_err(Error::from) };
    let sent: Option<i64> = row.try_get("sent_at")?;
    Ok(Message {
        id: id("id")?,
        kind: get_s("kind")?,
        user_id: id("user_id")?,
        recipients: list("recipients")?,
        cc: list("cc")?,
        language: get_s("language")?,
        params: json("params")?,
        state: State::parse(&get_s("state")?),
        not_before: at(int("not_before")?),
        next_attempt_at: at(int("next_attempt_at")?),
        attempts: int("attempts")?.clamp(0, i64::from(u32::MAX)) as u32,
        unconfirmed_attempts: int("unconfirmed_attempts")?.clamp(0, i64::from(u32::MAX)) as u32,
        last_error: opt("last_error")?,
        server_reply: opt("server_reply")?,
        created_at: at(int("created_at")?),
        sent_at: sent.map(at),
    })
}

/// Enqueues a message; `None` if one with the same idempotency key exists already.
pub async fn insert(
    conn: &mut Connection,
    m: &NewMessage,
    now: OffsetDateTime,
) -> Result<Option<Uuid>> {
    let id = Uuid::new_v4();
    let res = query(
        "INSERT INTO mail_outbox (id, idempotency_key, kind, user_id, recipients, cc, language, params,
            state, not_before, next_attempt_at, attempts, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, 0, ?, ?)
         ON CONFLICT (idempotency_key) DO NOTHING",
    )
    .bind(id.to_string())
    .bind(&m.idempotency_key)
    .bind(m.kind.as_str())
    .bind(m.user_id.to_string())
    .bind(serde_json::to_string(&m.recipients).unwrap_or_default())
    .bind(serde_json::to_string(&m.cc).unwrap_or_default())
    .bind(&m.language)
    .bind(m.params.to_string())
    .bind(ms(m.not_before))
    .bind(ms(m.not_before))
    .bind(ms(now))
    .bind(ms(now))
    .execute(&mut *conn)
    .await?;
    Ok((res == 1).then_some(id))
}

/// Whether a message for `user_id` is waiting or on its way (not sent, failed or cancelled).
pub async fn has_open(conn: &mut Connection, user_id: Uuid) -> Result<bool> {
    let n: i64 = query(
        "SELECT count(*) FROM mail_outbox WHERE user_id = ? AND state IN ('pending', 'sending')",
    )
    .bind(user_id.to_string())
    .scalar(&mut *conn)
    .await?;
    Ok(n > 0)
}

/// Claims up to `limit` due messages: pending ones whose time has come, and ones whose
/// sender died (lease expired). Each claim counts an attempt; a dead sender's attempt that
/// had been handed over counts as unconfirmed.
pub async fn claim_due(
    conn: &mut Connection,
    now: OffsetDateTime,
    lease: time::Duration,
    limit: u32,
) -> Result<Vec<Message>> {
    // On PostgreSQL, nodes delivering at once skip each other's claims instead of waiting.
    let rows = query(match conn.engine() {
        super::Engine::Sqlite => concat!(
            "UPDATE mail_outbox SET state = 'sending', attempts = attempts + 1, lease_until = ?1, updated_at = ?2,
                unconfirmed_attempts = unconfirmed_attempts
                    + CASE WHEN handed_over_at IS NULL THEN 0 ELSE 1 END,
                handed_over_at = NULL
             WHERE id IN (SELECT id FROM mail_outbox
                 WHERE (state = 'pending' AND next_attempt_at <= ?2) OR (state = 'sending' AND lease_until < ?2)
                 ORDER BY next_attempt_at LIMIT ?3)
             RETURNING ",
            columns!()
        ),
        super::Engine::Postgres => concat!(
            "UPDATE mail_outbox SET state = 'sending', attempts = attempts + 1, lease_until = ?1, updated_at = ?2,
                unconfirmed_attempts = unconfirmed_attempts
                    + CASE WHEN handed_over_at IS NULL THEN 0 ELSE 1 END,
                handed_over_at = NULL
             WHERE id IN (SELECT id FROM mail_outbox
                 WHERE (state = 'pending' AND next_attempt_at <= ?2) OR (state = 'sending' AND lease_until < ?2)
                 ORDER BY next_attempt_at LIMIT ?3 FOR UPDATE SKIP LOCKED)
             RETURNING ",
            columns!()
        ),
    })
    .bind(ms(now + lease))
    .bind(ms(now))
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Marks attempt `attempt` as about to be handed over. False if the claim is no longer
/// current (the lease ran out and another sender took the message, or it was sent): then
/// nothing may be sent.
pub async fn mark_handed_over(
    conn: &mut Connection,
    id: Uuid,
    attempt: u32,
    now: OffsetDateTime,
) -> Result<bool> {
    let res = query(
        "UPDATE mail_outbox SET handed_over_at = ?, updated_at = ?
         WHERE id = ? AND state = 'sending' AND attempts = ?",
    )
    .bind(ms(now))
    .bind(ms(now))
    .bind(id.to_string())
    .bind(attempt)
    .execute(&mut *conn)
    .await?;
    Ok(res == 1)
}

/// Records the server's acceptance. Whatever state the message is in: a sender that
/// outlived its lease did deliver it, and a successor that has not handed it over yet must
/// find it sent and stop (see [`mark_handed_over`]).
pub async fn mark_sent(
    conn: &mut Connection,
    id: Uuid,
    reply: &str,
    now: OffsetDateTime,
) -> Result<()> {
    query(
        "UPDATE mail_outbox SET state = 'sent', server_reply = ?, sent_at = ?, updated_at = ?, lease_until = NULL,
            handed_over_at = NULL, last_error = NULL WHERE id = ?",
    )
    .bind(reply)
    .bind(ms(now))
    .bind(ms(now))
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A temporary failure of attempt `attempt`: back to `pending` until `next`. `unconfirmed`:
/// the message was handed over without a reply, and may have arrived.
pub async fn mark_retry(
    conn: &mut Connection,
    id: Uuid,
    attempt: u32,
    unconfirmed: bool,
    error: &str,
    next: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<()> {
    query(
        "UPDATE mail_outbox SET state = 'pending', last_error = ?, next_attempt_at = ?, updated_at = ?,
            lease_until = NULL, handed_over_at = NULL, unconfirmed_attempts = unconfirmed_attempts + ?
         WHERE id = ? AND state = 'sending' AND attempts = ?",
    )
    .bind(error)
    .bind(ms(next))
    .bind(ms(now))
    .bind(i64::from(unconfirmed))
    .bind(id.to_string())
    .bind(attempt)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A permanent failure of attempt `attempt`: kept, with the server's reply, until an
/// operator retries or cancels.
pub async fn mark_failed(
    conn: &mut Connection,
    id: Uuid,
    attempt: u32,
    unconfirmed: bool,
    error: &str,
    now: OffsetDateTime,
) -> Result<()> {
    query(
        "UPDATE mail_outbox SET state = 'failed', last_error = ?, updated_at = ?, lease_until = NULL,
            handed_over_at = NULL, unconfirmed_attempts = unconfirmed_attempts + ?
         WHERE id = ? AND state = 'sending' AND attempts = ?",
    )
    .bind(error)
    .bind(ms(now))
    .bind(i64::from(unconfirmed))
    .bind(id.to_string())
    .bind(attempt)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Cancels what has not been sent for a user (a leaver). Returns how many.
pub async fn cancel_for_user(
    conn: &mut Connection,
    user_id: Uuid,
    now: OffsetDateTime,
) -> Result<u64> {
    let res = query(
        "UPDATE mail_outbox SET state = 'cancelled', updated_at = ?, lease_until = NULL
         WHERE user_id = ? AND state IN ('pending', 'failed')",
    )
    .bind(ms(now))
    .bind(user_id.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(res)
}

/// Cancels one message if it has not been sent.
pub async fn cancel(conn: &mut Connection, id: Uuid, now: OffsetDateTime) -> Result<bool> {
    let res = query(
        "UPDATE mail_outbox SET state = 'cancelled', updated_at = ?, lease_until = NULL
         WHERE id = ? AND state IN ('pending', 'failed')",
    )
    .bind(ms(now))
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(res == 1)
}

/// Puts a failed or pending message back in line for an attempt now.
pub async fn retry(conn: &mut Connection, id: Uuid, now: OffsetDateTime) -> Result<bool> {
    let res = query(
        "UPDATE mail_outbox SET state = 'pending', next_attempt_at = ?, updated_at = ?
         WHERE id = ? AND state IN ('pending', 'failed')",
    )
    .bind(ms(now))
    .bind(ms(now))
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(res == 1)
}

pub async fn get(conn: &mut Connection, id: Uuid) -> Result<Option<Message>> {
    let row = query(concat!(
        "SELECT ",
        columns!(),
        " FROM mail_outbox WHERE id = ?"
    ))
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Newest first; `state` narrows the list.
pub async fn list(conn: &mut Connection, state: Option<State>, limit: u32) -> Result<Vec<Message>> {
    let rows = query(concat!(
        "SELECT ",
        columns!(),
        " FROM mail_outbox WHERE (?1 IS NULL OR state = ?1) ORDER BY created_at DESC, id LIMIT ?2"
    ))
    .bind(state.map(State::as_str))
    .bind(i64::from(limit.max(1)))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Messages per state.
pub async fn counts(conn: &mut Connection) -> Result<Vec<(State, i64)>> {
    let rows = query("SELECT state, count(*) AS n FROM mail_outbox GROUP BY state")
        .fetch_all(&mut *conn)
        .await?;
    let mut out: Vec<(State, i64)> = State::ALL.iter().map(|s| (*s, 0)).collect();
    for r in rows {
        let state: String = r.try_get("state")?;
        let n: i64 = r.try_get("n")?;
        if let Some(slot) = out.iter_mut().find(|(s, _)| s.as_str() == state) {
            slot.1 = n;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;
    use crate::domain::outbox::Kind;

    fn message(key: &str, at: OffsetDateTime) -> NewMessage {
        NewMessage {
            idempotency_key: key.into(),
            kind: Kind::Onboarding,
            user_id: Uuid::new_v4(),
            recipients: vec!["a@example.com".into()],
            cc: vec![],
            language: "en".into(),
            params: serde_json::json!({}),
            not_before: at,
        }
    }

    #[tokio::test]
    async fn a_sender_that_died_after_the_hand_over_leaves_an_unconfirmed_attempt() {
        let (store, _db) = testing::store().await;
        let mut tx = store.write().await.unwrap();
        let t0 = OffsetDateTime::from_unix_timestamp(1_000_000).unwrap();
        let s = time::Duration::seconds;
        let lease = s(10);
        let handed = insert(&mut tx, &message("a", t0), t0)
            .await
            .unwrap()
            .unwrap();
        let quiet = insert(&mut tx, &message("b", t0), t0)
            .await
            .unwrap()
            .unwrap();
        let first = claim_due(&mut tx, t0, lease, 10).await.unwrap();
        assert_eq!(first.len(), 2);
        assert!(
            first
                .iter()
                .all(|m| m.attempts == 1 && m.unconfirmed_attempts == 0)
        );
        // Only `handed` reached the hand-over before its sender died.
        assert!(mark_handed_over(&mut tx, handed, 1, t0).await.unwrap());
        // Nothing is claimed again while the lease runs; after it, both are.
        assert!(
            claim_due(&mut tx, t0 + s(5), lease, 10)
                .await
                .unwrap()
                .is_empty()
        );
        let again = claim_due(&mut tx, t0 + s(11), lease, 10).await.unwrap();
        let by_id = |id| again.iter().find(|m| m.id == id).unwrap();
        assert_eq!(
            (by_id(handed).attempts, by_id(handed).unconfirmed_attempts),
            (2, 1)
        );
        assert_eq!(
            (by_id(quiet).attempts, by_id(quiet).unconfirmed_attempts),
            (2, 0)
        );
        // The first sender, had it lived on past its lease, may no longer hand over or push
        // the message back; the current one may.
        assert!(!mark_handed_over(&mut tx, quiet, 1, t0).await.unwrap());
        mark_retry(&mut tx, quiet, 1, false, "late", t0, t0)
            .await
            .unwrap();
        assert_eq!(
            get(&mut tx, quiet).await.unwrap().unwrap().state,
            State::Sending
        );
        assert!(mark_handed_over(&mut tx, quiet, 2, t0).await.unwrap());
        // No reply to the hand-over: unconfirmed too, and back in line.
        mark_retry(&mut tx, quiet, 2, true, "no reply", t0, t0)
            .await
            .unwrap();
        let m = get(&mut tx, quiet).await.unwrap().unwrap();
        assert_eq!((m.state, m.unconfirmed_attempts), (State::Pending, 1));
        // An acceptance is recorded whoever reports it, and stops a successor's hand-over.
        mark_sent(&mut tx, handed, "250 ok", t0).await.unwrap();
        assert_eq!(
            get(&mut tx, handed).await.unwrap().unwrap().state,
            State::Sent
        );
        assert!(!mark_handed_over(&mut tx, handed, 2, t0).await.unwrap());
        // Once sent, a later claim does not count the cleared mark.
        let third = claim_due(&mut tx, t0 + s(30), lease, 10).await.unwrap();
        assert_eq!(third.iter().map(|m| m.id).collect::<Vec<_>>(), [quiet]);
        assert_eq!(third[0].unconfirmed_attempts, 1);
    }
}
