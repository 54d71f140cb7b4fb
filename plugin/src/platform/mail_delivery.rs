//! The onboarding mail delivery worker's operations: claim due messages, mint a message's pass
//! together with the mark that it is handed over, record each outcome, and the Entra
//! connector's steps around a pass minted in Microsoft Entra. Each is one transaction; the
//! worker (the bridge) talks to SMTP and Graph between them, never inside one.
//!
//! Every write made for a claimed message names its claim (`attempt`): a sender whose lease
//! ran out and whose message another sender took over records nothing.

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::{Caller, IssuedTap, Platform};
use crate::Result;
use crate::domain::audit::AuditRecord;
use crate::domain::directory::UserRef;
use crate::domain::outbox::{EntraPass, Message, Recorded, Removal, State};
use crate::domain::tap_policy::TapRequest;
use crate::store::{audit, entra, outbox};

/// What minting a claimed message's pass came to.
#[derive(Debug)]
pub enum MailPass {
    /// The pass, committed together with the attempt's hand-over mark.
    Issued(Box<IssuedTap>),
    /// No pass (policy, the user's state, or the store failing); nothing was written.
    Refused(crate::Error),
    /// The lease ran out and another sender took the message over: nothing was written.
    TakenOver,
}

/// How an attempt ended, as the outbox records it.
#[derive(Debug, Clone)]
pub enum MailOutcome<'a> {
    /// The server took the message; its reply is kept.
    Sent { reply: &'a str },
    /// Failed for good (a permanent refusal, or attempts used up).
    Failed { unconfirmed: bool, reason: &'a str },
    /// Again at `next`.
    Retry {
        unconfirmed: bool,
        reason: &'a str,
        next: OffsetDateTime,
    },
}

/// What became of a leaver's pass in Entra.
#[derive(Debug, Clone)]
pub enum RemovalOutcome {
    /// Deleted (or gone already); its audit records.
    Done(Vec<AuditRecord>),
    /// Entra could not be asked now: again at `next`.
    Later { next: OffsetDateTime, why: String },
    /// Failed for good; its audit record.
    Failed {
        why: String,
        record: Box<AuditRecord>,
    },
}

impl Platform {
    /// Claims up to `limit` due messages for `lease` (a background write: it gives way to
    /// requests waiting for the writer).
    pub async fn claim_due_mail(&self, lease: Duration, limit: u32) -> Result<Vec<Message>> {
        let mut tx = self.store.write_background().await?;
        let claimed = outbox::claim_due(&mut tx, self.now(), lease, limit).await?;
        tx.commit().await?;
        Ok(claimed)
    }

    /// Mints the pass of a claimed message. The pass and the attempt that carries it commit
    /// together, before anything goes on the wire: once this commits the message may reach
    /// its recipients; if it does not, there is no pass either.
    pub async fn mint_mail_pass(
        &self,
        caller: &Caller,
        message: &Message,
        user: Uuid,
        request: TapRequest,
    ) -> Result<MailPass> {
        let mut tx = self.store.write().await?;
        let issued = match self
            .issue_tap_in(&mut tx, caller, &UserRef::Id(user), request)
            .await
        {
            Ok(issued) => issued,
            Err(e) => return Ok(MailPass::Refused(e)),
        };
        if !outbox::mark_handed_over(&mut tx, message.id, message.attempts, self.now()).await? {
            // Rolled back: this attempt minted nothing and delivers nothing.
            return Ok(MailPass::TakenOver);
        }
        tx.commit().await?;
        Ok(MailPass::Issued(Box::new(issued)))
    }

    /// Records how an attempt ended. A foreground write: an accepted message is inside the
    /// window where a crash sends it twice until this commits.
    pub async fn record_mail_outcome(
        &self,
        message: &Message,
        outcome: MailOutcome<'_>,
    ) -> Result<()> {
        let now = self.now();
        let mut tx = self.store.write().await?;
        let (id, attempt) = (message.id, message.attempts);
        match outcome {
            MailOutcome::Sent { reply } => outbox::mark_sent(&mut tx, id, reply, now).await?,
            MailOutcome::Failed {
                unconfirmed,
                reason,
            } => outbox::mark_failed(&mut tx, id, attempt, unconfirmed, reason, now).await?,
            MailOutcome::Retry {
                unconfirmed,
                reason,
                next,
            } => outbox::mark_retry(&mut tx, id, attempt, unconfirmed, reason, next, now).await?,
        }
        tx.commit().await?;
        Ok(())
    }

    /// Messages per state, for the metrics.
    pub async fn mail_counts(&self) -> Result<Vec<(State, i64)>> {
        let mut conn = self.store.read().await?;
        outbox::counts(&mut conn).await
    }

    /// What the message knows of its pass in Entra, and the method ids of every pass
    /// tapbridge created in Entra for the user (a pass among them is tapbridge's own).
    pub async fn entra_pass_of(
        &self,
        message: Uuid,
        user: Uuid,
    ) -> Result<(EntraPass, Vec<String>)> {
        let mut conn = self.store.read().await?;
        let state = entra::get(&mut conn, message).await?.unwrap_or_default();
        let known = entra::methods_of_user(&mut conn, user).await?;
        Ok((state, known))
    }

    /// On record before the request to Entra whose outcome a crash can leave unknown: which
    /// Entra user, and when the pass was asked for. `false`: the claim is no longer this
    /// sender's.
    pub async fn mark_entra_minting(&self, message: &Message, entra_user_id: &str) -> Result<bool> {
        let mut tx = self.store.write().await?;
        let ours = entra::mark_minting(
            &mut tx,
            message.id,
            message.attempts,
            entra_user_id,
            self.now(),
        )
        .await?;
        tx.commit().await?;
        Ok(ours)
    }

    /// Entra answered that it created no pass: the mark of the request goes.
    pub async fn clear_entra_minting(&self, message: &Message) -> Result<()> {
        let mut tx = self.store.write().await?;
        entra::clear_minting(&mut tx, message.id, message.attempts).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records the pass Entra created (its method id) and, when it is to be delivered, marks
    /// the attempt handed over and writes `created` (its audit record) — one transaction, so a
    /// crash from here on counts the attempt as unconfirmed and the retry says it replaces it.
    pub async fn record_entra_pass(
        &self,
        message: &Message,
        method_id: &str,
        created: AuditRecord,
    ) -> Result<Recorded> {
        let now = self.now();
        let (id, attempt) = (message.id, message.attempts);
        let mut tx = self.store.write().await?;
        let mut recorded = entra::record_method(&mut tx, id, attempt, method_id, now).await?;
        if recorded == Recorded::Deliver
            && !outbox::mark_handed_over(&mut tx, id, attempt, now).await?
        {
            recorded = Recorded::NotOurs;
        }
        if recorded == Recorded::Deliver {
            audit::insert(&mut tx, &created).await?;
        }
        tx.commit().await?;
        Ok(recorded)
    }

    /// Back to pending until `next` without counting the attempt: Entra asked for a pause, or
    /// the user is not in Entra yet.
    pub async fn mark_entra_waiting(
        &self,
        message: &Message,
        reason: &str,
        next: OffsetDateTime,
    ) -> Result<()> {
        let now = self.now();
        let mut tx = self.store.write().await?;
        entra::mark_waiting(&mut tx, message.id, message.attempts, reason, next, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes the audit record of a step taken in Entra outside any platform transaction
    /// (the deletion of a pass that was not delivered).
    pub async fn record_entra_step(&self, record: &AuditRecord) -> Result<()> {
        let mut tx = self.store.write().await?;
        audit::insert(&mut tx, record).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Leavers' passes due for deletion in Entra, at most `limit`.
    pub async fn due_entra_removals(&self, limit: u32) -> Result<Vec<Removal>> {
        let mut conn = self.store.read().await?;
        entra::due_removals(&mut conn, self.now(), limit).await
    }

    /// Records what became of one removal, with its audit records.
    pub async fn finish_entra_removal(
        &self,
        message: Uuid,
        outcome: &RemovalOutcome,
    ) -> Result<()> {
        let now = self.now();
        let mut tx = self.store.write_background().await?;
        match outcome {
            RemovalOutcome::Done(records) => {
                entra::finish_removal(&mut tx, message, None, now).await?;
                for record in records {
                    audit::insert(&mut tx, record).await?;
                }
            }
            RemovalOutcome::Later { next, why } => {
                entra::retry_removal(&mut tx, message, why, *next).await?
            }
            RemovalOutcome::Failed { why, record } => {
                entra::finish_removal(&mut tx, message, Some(why), now).await?;
                audit::insert(&mut tx, record).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Messages whose Entra pass still waits for deletion, for the metrics.
    pub async fn pending_entra_removals(&self) -> Result<i64> {
        let mut conn = self.store.read().await?;
        entra::pending_removals(&mut conn).await
    }
}
