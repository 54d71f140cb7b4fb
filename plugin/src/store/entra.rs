//! The Entra connector's columns of `mail_outbox`: which Entra user and which pass (method id,
//! never the pass) a message produced, and the deletion of a leaver's pass in Entra.
//!
//! Writes made while a message is being delivered name the claim they belong to (`attempt`,
//! the attempt count the claim set): a sender whose lease ran out and whose message another
//! sender took over records nothing.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{Connection, Row, ms, opt_at, query};
use crate::Result;
use crate::domain::outbox::{EntraPass, Recorded, Removal};

fn from_row(row: &Row) -> Result<EntraPass> {
    Ok(EntraPass {
        user_id: row.try_get("entra_user_id")?,
        minting_at: opt_at(row.try_get("entra_minting_at")?),
        method_id: row.try_get("entra_method_id")?,
        removal: row.try_get("entra_removal")?,
        removal_error: row.try_get("entra_removal_error")?,
    })
}

macro_rules! columns {
    () => {
        "entra_user_id, entra_minting_at, entra_method_id, entra_removal, entra_removal_error"
    };
}

pub async fn get(conn: &mut Connection, message: Uuid) -> Result<Option<EntraPass>> {
    let row = query(concat!(
        "SELECT ",
        columns!(),
        " FROM mail_outbox WHERE id = ?"
    ))
    .bind(message.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// The Entra state of several messages, for listings.
pub async fn of_messages(
    conn: &mut Connection,
    messages: &[Uuid],
) -> Result<Vec<(Uuid, EntraPass)>> {
    let mut out = Vec::with_capacity(messages.len());
    for chunk in messages.chunks(500) {
        let mut q = super::QueryBuilder::new(concat!(
            "SELECT id, ",
            columns!(),
            " FROM mail_outbox WHERE entra_user_id IS NOT NULL AND id IN ("
        ));
        q.push_list(chunk.iter().map(Uuid::to_string));
        q.push(")");
        for row in q.build().fetch_all(&mut *conn).await? {
            let id: String = row.try_get("id")?;
            if let Ok(id) = Uuid::parse_str(&id) {
                out.push((id, from_row(&row)?));
            }
        }
    }
    Ok(out)
}

/// The passes tapbridge's messages created in Entra for a user (method ids), newest first.
pub async fn methods_of_user(conn: &mut Connection, user_id: Uuid) -> Result<Vec<String>> {
    Ok(query(
        "SELECT entra_method_id FROM mail_outbox
         WHERE user_id = ? AND entra_method_id IS NOT NULL ORDER BY updated_at DESC",
    )
    .bind(user_id.to_string())
    .scalars(&mut *conn)
    .await?)
}

/// Commits, right before the request for a pass is sent, which Entra user it is for and when.
/// `false`: the claim is no longer this sender's.
pub async fn mark_minting(
    conn: &mut Connection,
    message: Uuid,
    attempt: u32,
    entra_user_id: &str,
    now: OffsetDateTime,
) -> Result<bool> {
    let n = query(
        "UPDATE mail_outbox SET entra_user_id = ?, entra_minting_at = ?, updated_at = ?
         WHERE id = ? AND state = 'sending' AND attempts = ?",
    )
    .bind(entra_user_id)
    .bind(ms(now))
    .bind(ms(now))
    .bind(message.to_string())
    .bind(i64::from(attempt))
    .execute(&mut *conn)
    .await?;
    Ok(n == 1)
}

/// Entra said no pass was created (it refused, or asked for a pause): forget the moment
/// the request went out, so that a later pass nobody recorded is not taken for this
/// message's.
pub async fn clear_minting(conn: &mut Connection, message: Uuid, attempt: u32) -> Result<()> {
    query(
        "UPDATE mail_outbox SET entra_minting_at = NULL
         WHERE id = ? AND state = 'sending' AND attempts = ? AND entra_method_id IS NULL",
    )
    .bind(message.to_string())
    .bind(i64::from(attempt))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Back to `pending` until `next` without counting the attempt: Entra asked for a pause, or
/// the user is not in Entra yet. Neither says anything about the message, and neither may use
/// up `mail.max_attempts`.
pub async fn mark_waiting(
    conn: &mut Connection,
    message: Uuid,
    attempt: u32,
    reason: &str,
    next: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<()> {
    query(
        "UPDATE mail_outbox SET state = 'pending', attempts = attempts - 1, last_error = ?,
            next_attempt_at = ?, updated_at = ?, lease_until = NULL
         WHERE id = ? AND state = 'sending' AND attempts = ?",
    )
    .bind(reason)
    .bind(ms(next))
    .bind(ms(now))
    .bind(message.to_string())
    .bind(i64::from(attempt))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records the method id of the pass Entra created for the message.
pub async fn record_method(
    conn: &mut Connection,
    message: Uuid,
    attempt: u32,
    method_id: &str,
    now: OffsetDateTime,
) -> Result<Recorded> {
    let row = query(
        "UPDATE mail_outbox SET entra_method_id = ?, updated_at = ?
         WHERE id = ? AND state = 'sending' AND attempts = ?
         RETURNING entra_removal",
    )
    .bind(method_id)
    .bind(ms(now))
    .bind(message.to_string())
    .bind(i64::from(attempt))
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match row {
        None => Recorded::NotOurs,
        Some(r) => match r.try_get::<Option<String>, _>("entra_removal")? {
            Some(_) => Recorded::UserLeft,
            None => Recorded::Deliver,
        },
    })
}

/// The user left: every pass their messages created (or may have created) in Entra is to be
/// deleted there — including a message being sent right now, whose sender finds the request
/// when it records its pass. Returns how many messages that concerns.
pub async fn request_removal(
    conn: &mut Connection,
    user_id: Uuid,
    now: OffsetDateTime,
) -> Result<u64> {
    query(
        "UPDATE mail_outbox SET entra_removal = 'pending', entra_removal_next_at = ?, updated_at = ?
         WHERE user_id = ? AND entra_removal IS NULL
           AND (entra_user_id IS NOT NULL OR state = 'sending')",
    )
    .bind(ms(now))
    .bind(ms(now))
    .bind(user_id.to_string())
    .execute(&mut *conn)
    .await
    .map_err(Into::into)
}

/// Due removals, except for messages a sender is working on right now (it finds the request
/// when it records its pass).
pub async fn due_removals(
    conn: &mut Connection,
    now: OffsetDateTime,
    limit: u32,
) -> Result<Vec<Removal>> {
    let rows = query(
        "SELECT id, user_id, entra_user_id, entra_method_id, entra_minting_at, attempts
         FROM mail_outbox
         WHERE entra_removal = 'pending' AND entra_removal_next_at <= ?1
           AND NOT (state = 'sending' AND lease_until >= ?1)
         ORDER BY entra_removal_next_at LIMIT ?2",
    )
    .bind(ms(now))
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let id = |c: &str| -> Result<Uuid> {
                Uuid::parse_str(&r.try_get::<String, _>(c)?)
                    .map_err(|_| crate::Error::Internal("corrupt outbox id".into()))
            };
            Ok(Removal {
                message: id("id")?,
                user_id: id("user_id")?,
                entra_user_id: r.try_get("entra_user_id")?,
                method_id: r.try_get("entra_method_id")?,
                minting_at: opt_at(r.try_get("entra_minting_at")?),
                attempts: r
                    .try_get::<i64, _>("attempts")?
                    .clamp(0, i64::from(u32::MAX)) as u32,
            })
        })
        .collect()
}

/// The removal is over: `error` `None` is done, else failed for good with the reason.
pub async fn finish_removal(
    conn: &mut Connection,
    message: Uuid,
    error: Option<&str>,
    now: OffsetDateTime,
) -> Result<()> {
    query(
        "UPDATE mail_outbox SET entra_removal = ?, entra_removal_error = ?, updated_at = ?
         WHERE id = ? AND entra_removal = 'pending'",
    )
    .bind(if error.is_some() { "failed" } else { "done" })
    .bind(error)
    .bind(ms(now))
    .bind(message.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Entra could not be asked now: again at `next`.
pub async fn retry_removal(
    conn: &mut Connection,
    message: Uuid,
    error: &str,
    next: OffsetDateTime,
) -> Result<()> {
    query(
        "UPDATE mail_outbox SET entra_removal_error = ?, entra_removal_next_at = ?
         WHERE id = ? AND entra_removal = 'pending'",
    )
    .bind(error)
    .bind(ms(next))
    .bind(message.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Messages whose Entra pass still waits for deletion.
pub async fn pending_removals(conn: &mut Connection) -> Result<i64> {
    Ok(
        query("SELECT count(*) FROM mail_outbox WHERE entra_removal = 'pending'")
            .scalar(&mut *conn)
            .await?,
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::super::outbox;
    use super::super::testing;
    use super::*;
    use crate::domain::outbox::{Kind, NewMessage};

    const NOW: OffsetDateTime = datetime!(2026-11-27 09:00 UTC);

    async fn queued(conn: &mut Connection, user: Uuid) -> Uuid {
        let m = NewMessage {
            idempotency_key: format!("k:{}", Uuid::new_v4()),
            kind: Kind::Onboarding,
            user_id: user,
            recipients: vec!["a@example.com".into()],
            cc: vec![],
            language: "en".into(),
            params: json!({"mint": "entra"}),
            not_before: NOW,
        };
        outbox::insert(conn, &m, NOW).await.unwrap().unwrap()
    }

    #[tokio::test]
    async fn a_pass_is_recorded_under_its_claim_and_a_leaver_finds_it() {
        let (store, _db) = testing::store().await;
        let mut c = store.write().await.unwrap();
        let user = Uuid::new_v4();
        let id = queued(&mut c, user).await;
        assert_eq!(get(&mut c, id).await.unwrap(), Some(EntraPass::default()));
        // Nothing to remove before a pass was asked for.
        assert_eq!(request_removal(&mut c, user, NOW).await.unwrap(), 0);
        let lease = time::Duration::minutes(5);
        let claimed = outbox::claim_due(&mut c, NOW, lease, 10).await.unwrap();
        let attempt = claimed[0].attempts;
        // A message on its way may yet create one.
        let other = Uuid::new_v4();
        let sending = queued(&mut c, other).await;
        outbox::claim_due(&mut c, NOW, lease, 10).await.unwrap();
        assert_eq!(request_removal(&mut c, other, NOW).await.unwrap(), 1);
        assert_eq!(
            record_method(&mut c, sending, 1, "m0", NOW).await.unwrap(),
            Recorded::UserLeft
        );
        assert!(
            !mark_minting(&mut c, id, attempt + 1, "e1", NOW)
                .await
                .unwrap()
        );
        assert!(mark_minting(&mut c, id, attempt, "e1", NOW).await.unwrap());
        assert_eq!(
            record_method(&mut c, id, attempt + 1, "m1", NOW)
                .await
                .unwrap(),
            Recorded::NotOurs
        );
        assert_eq!(
            record_method(&mut c, id, attempt, "m1", NOW).await.unwrap(),
            Recorded::Deliver
        );
        let state = get(&mut c, id).await.unwrap().unwrap();
        assert_eq!(state.user_id.as_deref(), Some("e1"));
        assert_eq!(state.method_id.as_deref(), Some("m1"));
        assert_eq!(state.minting_at, Some(NOW));
        assert_eq!(
            of_messages(&mut c, &[id, Uuid::new_v4()]).await.unwrap(),
            vec![(id, state)]
        );

        // The user leaves while the message is still being sent: the removal waits for the
        // sender, who finds the request when it records its pass.
        assert_eq!(request_removal(&mut c, user, NOW).await.unwrap(), 1);
        assert_eq!(
            request_removal(&mut c, user, NOW).await.unwrap(),
            0,
            "asked once"
        );
        assert!(due_removals(&mut c, NOW, 10).await.unwrap().is_empty());
        assert_eq!(
            record_method(&mut c, id, attempt, "m2", NOW).await.unwrap(),
            Recorded::UserLeft
        );
        outbox::mark_sent(&mut c, id, "250 ok", NOW).await.unwrap();
        let due = due_removals(&mut c, NOW, 10).await.unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(
            (
                due[0].user_id,
                due[0].entra_user_id.as_deref(),
                due[0].method_id.as_deref()
            ),
            (user, Some("e1"), Some("m2"))
        );
        retry_removal(
            &mut c,
            id,
            "429 TooManyRequests",
            NOW + time::Duration::seconds(30),
        )
        .await
        .unwrap();
        assert!(due_removals(&mut c, NOW, 10).await.unwrap().is_empty());
        assert_eq!(
            pending_removals(&mut c).await.unwrap(),
            2,
            "this one and the other's"
        );
        // Later, the lease and the wait are over.
        let later = NOW + time::Duration::minutes(6);
        let due = due_removals(&mut c, later, 10).await.unwrap();
        assert_eq!(due.len(), 2);
        finish_removal(&mut c, id, None, later).await.unwrap();
        let state = get(&mut c, id).await.unwrap().unwrap();
        assert_eq!(state.removal.as_deref(), Some("done"));
        assert_eq!(pending_removals(&mut c).await.unwrap(), 1);
        c.commit().await.unwrap();
    }
}
