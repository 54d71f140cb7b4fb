//! The `mail_outbox` table. A message is committed here before anything is sent; delivery
//! claims it with a lease, so a crash mid-send leaves it to be retried, never lost.

use super::{Connection, Row, at, ms, query};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Pending,
    Sending,
    Sent,
    Failed,
    Cancelled,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Sending => "sending",
            State::Sent => "sent",
            State::Failed => "failed",
            State::Cancelled => "cancelled",
        }
    }

    pub const ALL: [State; 5] = [
        State::Pending,
        State::Sending,
        State::Sent,
        State::Failed,
        State::Cancelled,
    ];

    fn parse(s: &str) -> State {
        State::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .unwrap_or(State::Failed)
    }
}

/// What a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The first mail for a joiner, from a rule.
    Onboarding,
    /// An administrator's "resend onboarding".
    Resend,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Onboarding => "onboarding",
            Kind::Resend => "resend",
        }
    }
}

/// A message to enqueue.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub idempotency_key: String,
    pub kind: Kind,
    pub user_id: Uuid,
    pub recipients: Vec<String>,
    pub cc: Vec<String>,
    pub language: String,
    /// Pass terms and the rule's name.
    pub params: Value,
    /// Not sent before this time (a hire date minus some days).
    pub not_before: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: Uuid,
    pub kind: String,
    pub user_id: Uuid,
    pub recipients: Vec<String>,
    pub cc: Vec<String>,
    pub language: String,
    pub params: Value,
    pub state: State,
    pub not_before: OffsetDateTime,
    pub next_attempt_at: OffsetDateTime,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub server_reply: Option<String>,
    pub created_at: OffsetDateTime,
    pub sent_at: Option<OffsetDateTime>,
}

macro_rules! columns {
    () => {
        "id, kind, user_id, recipients, cc, language, params, state, not_before, next_attempt_at, attempts, \
         last_error, server_reply, created_at, sent_at"
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
/// sender died (lease expired). Each claim counts an attempt.
pub async fn claim_due(
    conn: &mut Connection,
    now: OffsetDateTime,
    lease: time::Duration,
    limit: u32,
) -> Result<Vec<Message>> {
    // On PostgreSQL, nodes delivering at once skip each other's claims instead of waiting.
    let rows = query(match conn.engine() {
        super::Engine::Sqlite => concat!(
            "UPDATE mail_outbox SET state = 'sending', attempts = attempts + 1, lease_until = ?1, updated_at = ?2
             WHERE id IN (SELECT id FROM mail_outbox
                 WHERE (state = 'pending' AND next_attempt_at <= ?2) OR (state = 'sending' AND lease_until < ?2)
                 ORDER BY next_attempt_at LIMIT ?3)
             RETURNING ",
            columns!()
        ),
        super::Engine::Postgres => concat!(
            "UPDATE mail_outbox SET state = 'sending', attempts = attempts + 1, lease_until = ?1, updated_at = ?2
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

/// Records the server's acceptance. A message being sent cannot be cancelled meanwhile
/// (`cancel` takes pending and failed ones only), so the acceptance is always recorded.
pub async fn mark_sent(
    conn: &mut Connection,
    id: Uuid,
    reply: &str,
    now: OffsetDateTime,
) -> Result<()> {
    query(
        "UPDATE mail_outbox SET state = 'sent', server_reply = ?, sent_at = ?, updated_at = ?, lease_until = NULL,
            last_error = NULL WHERE id = ?",
    )
    .bind(reply)
    .bind(ms(now))
    .bind(ms(now))
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A temporary failure: back to `pending` until `next`.
pub async fn mark_retry(
    conn: &mut Connection,
    id: Uuid,
    error: &str,
    next: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<()> {
    query(
        "UPDATE mail_outbox SET state = 'pending', last_error = ?, next_attempt_at = ?, updated_at = ?,
            lease_until = NULL WHERE id = ? AND state = 'sending'",
    )
    .bind(error)
    .bind(ms(next))
    .bind(ms(now))
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A permanent failure: kept, with the server's reply, until an operator retries or cancels.
pub async fn mark_failed(
    conn: &mut Connection,
    id: Uuid,
    error: &str,
    now: OffsetDateTime,
) -> Result<()> {
    query(
        "UPDATE mail_outbox SET state = 'failed', last_error = ?, updated_at = ?, lease_until = NULL
         WHERE id = ? AND state = 'sending'",
    )
    .bind(error)
    .bind(ms(now))
    .bind(id.to_string())
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
