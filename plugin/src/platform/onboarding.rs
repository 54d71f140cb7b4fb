//! Onboarding's operations: joiner and leaver events consumed into the mail outbox, and an
//! administrator's "resend onboarding". Which rule applies and what its message says is the
//! bridge's decision (`decide`), taken inside the transaction on facts read in it; the outbox
//! rows, the audit records and the event's consumption are written here, together.

use std::collections::HashSet;

use uuid::Uuid;

use super::{Caller, Platform};
use crate::domain::audit::{Activity, AuditRecord, Initiator};
use crate::domain::directory::{User, UserRef};
use crate::domain::lifecycle::{DirectoryEvent, EventKind};
use crate::domain::outbox::NewMessage;
use crate::domain::timefmt::rfc3339;
use crate::store::{Connection, audit, credentials, entra, events, groups, outbox, users};
use crate::{Error, Result};

/// What a rule looks at, read in the transaction that acts on it.
#[derive(Debug, Clone)]
pub struct JoinerFacts {
    pub user: User,
    /// The user's groups: lower-cased display names and ids.
    pub groups: HashSet<String>,
    pub has_passkey: bool,
    pub manager_mail: Option<String>,
}

/// A rule's decision for a joiner.
#[derive(Debug, Clone)]
pub enum JoinerMail {
    /// No rule matched: nothing to do.
    None,
    /// The rule matched but its recipients have no address (audited as skipped).
    Skipped { rule: String },
    /// Queue this message (unless one is already in flight for the person).
    Queue { rule: String, message: NewMessage },
}

fn initiator() -> Initiator {
    Initiator {
        kind: "service".into(),
        id: None,
        display_name: "onboarding".into(),
    }
}

async fn facts(conn: &mut Connection, user: User) -> Result<JoinerFacts> {
    let mut names = HashSet::new();
    for g in groups::of_user(conn, user.id).await? {
        names.insert(g.display_name.to_lowercase());
        names.insert(g.id.to_string());
    }
    let has_passkey = !credentials::credential_ids_for_user(conn, user.id)
        .await?
        .is_empty();
    let manager_mail = match user.manager_id {
        Some(id) => users::get(conn, id).await?.and_then(|m| m.mail),
        None => None,
    };
    Ok(JoinerFacts {
        user,
        groups: names,
        has_passkey,
        manager_mail,
    })
}

impl Platform {
    /// Handles one batch of at most `limit` pending directory events in one transaction, so
    /// an event is consumed exactly when its outcome is recorded. Returns how many.
    pub async fn consume_directory_events(
        &self,
        limit: u32,
        decide: impl Fn(&DirectoryEvent, &JoinerFacts) -> JoinerMail,
    ) -> Result<usize> {
        let now = self.now();
        let mut tx = self.store.write_background().await?;
        let pending = events::pending(&mut tx, limit).await?;
        for event in &pending {
            match event.kind {
                EventKind::Joiner => joiner(&mut tx, event, &decide, now).await?,
                EventKind::Leaver => leaver(&mut tx, event, now).await?,
                EventKind::Mover => {}
            }
            events::mark_consumed(&mut tx, event.seq, now).await?;
        }
        tx.commit().await?;
        Ok(pending.len())
    }

    /// An administrator's "resend onboarding": the user's unsent messages are cancelled and
    /// `decide`'s message (a fresh pass) queued in their place. Returns the message's id.
    pub async fn resend_onboarding(
        &self,
        caller: &Caller,
        user: &UserRef,
        decide: impl FnOnce(&JoinerFacts) -> Result<NewMessage>,
    ) -> Result<Uuid> {
        let now = self.now();
        let mut tx = self.store.write().await?;
        let user = users::find(&mut tx, user)
            .await?
            .ok_or_else(|| Error::not_found(format!("user `{user}`")))?;
        caller.actor.check_manage_passes_for(&user)?;
        let facts = facts(&mut tx, user).await?;
        let message = decide(&facts)?;
        let user = &facts.user;
        outbox::cancel_for_user(&mut tx, user.id, now).await?;
        let queued = outbox::insert(&mut tx, &message, now)
            .await?
            .ok_or_else(|| Error::Internal("duplicate resend key".into()))?;
        let record = AuditRecord::new(Activity::OnboardingMailQueued, (&caller.actor).into(), now)
            .target("User", user.id, Some(&user.user_principal_name))
            .reason("resent by an administrator")
            .detail("message", queued)
            .correlation(caller.correlation_id);
        audit::insert(&mut tx, &record).await?;
        tx.commit().await?;
        Ok(queued)
    }

    /// An operator's "send again now" for a waiting or failed message. `false`: the message
    /// is neither.
    pub async fn retry_mail(&self, caller: &Caller, id: Uuid) -> Result<bool> {
        self.operate_on_mail(caller, id, Activity::OnboardingMailRetried)
            .await
    }

    /// An operator's cancellation of a message not sent yet. `false`: it was sent or
    /// cancelled already.
    pub async fn cancel_mail(&self, caller: &Caller, id: Uuid) -> Result<bool> {
        self.operate_on_mail(caller, id, Activity::OnboardingMailCancelled)
            .await
    }

    async fn operate_on_mail(&self, caller: &Caller, id: Uuid, activity: Activity) -> Result<bool> {
        let now = self.now();
        let mut tx = self.store.write().await?;
        let message = outbox::get(&mut tx, id)
            .await?
            .ok_or_else(|| Error::not_found(format!("message `{id}`")))?;
        let user = users::get(&mut tx, message.user_id).await?;
        match &user {
            Some(user) => caller.actor.check_manage_passes_for(user)?,
            None => caller.actor.check_manage_directory()?,
        }
        let done = if activity == Activity::OnboardingMailRetried {
            outbox::retry(&mut tx, id, now).await?
        } else {
            outbox::cancel(&mut tx, id, now).await?
        };
        if !done {
            return Ok(false);
        }
        let mut record = AuditRecord::new(activity, (&caller.actor).into(), now)
            .detail("message", id)
            .correlation(caller.correlation_id);
        record = match &user {
            Some(u) => record.target("User", u.id, Some(&u.user_principal_name)),
            None => record.target("User", message.user_id, None),
        };
        audit::insert(&mut tx, &record).await?;
        tx.commit().await?;
        Ok(true)
    }
}

async fn joiner(
    conn: &mut Connection,
    event: &DirectoryEvent,
    decide: &impl Fn(&DirectoryEvent, &JoinerFacts) -> JoinerMail,
    now: time::OffsetDateTime,
) -> Result<()> {
    let Some(user) = users::get(conn, event.user_id).await? else {
        return Ok(());
    };
    let facts = facts(conn, user).await?;
    let user = &facts.user;
    let record = |activity, rule: &str| {
        AuditRecord::new(activity, initiator(), now)
            .target("User", user.id, Some(&user.user_principal_name))
            .detail("rule", rule)
    };
    match decide(event, &facts) {
        JoinerMail::None => Ok(()),
        JoinerMail::Skipped { rule } => {
            let skipped = record(Activity::OnboardingMailSkipped, &rule)
                .failed("the rule's recipients have no address");
            audit::insert(conn, &skipped).await
        }
        JoinerMail::Queue { rule, message } => {
            if outbox::has_open(conn, user.id).await? {
                // One onboarding message in flight per person: a second joiner event
                // (re-enabled before the first mail went out) does not send a second pass.
                return Ok(());
            }
            if let Some(id) = outbox::insert(conn, &message, now).await? {
                let queued = record(Activity::OnboardingMailQueued, &rule)
                    .detail("message", id)
                    .detail("notBefore", rfc3339(message.not_before));
                audit::insert(conn, &queued).await?;
            }
            Ok(())
        }
    }
}

async fn leaver(
    conn: &mut Connection,
    event: &DirectoryEvent,
    now: time::OffsetDateTime,
) -> Result<()> {
    let cancelled = outbox::cancel_for_user(conn, event.user_id, now).await?;
    if cancelled > 0 {
        let record = AuditRecord::new(Activity::OnboardingMailCancelled, initiator(), now)
            .target("User", event.user_id, Some(&event.user_principal_name))
            .reason("the user left")
            .detail("messages", cancelled);
        audit::insert(conn, &record).await?;
    }
    // Passes their messages created in Entra are deleted there by the delivery worker (a
    // call to Entra does not belong inside this transaction).
    entra::request_removal(conn, event.user_id, now).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::{caller, fixture};
    use super::*;
    use crate::domain::audit::AuditQuery;
    use crate::domain::directory::NewUser;
    use crate::domain::outbox::{Kind, State};
    use crate::domain::role::Role;

    fn mail_for(user: &User, key: &str, now: time::OffsetDateTime) -> NewMessage {
        NewMessage {
            idempotency_key: key.into(),
            kind: Kind::Onboarding,
            user_id: user.id,
            recipients: vec!["ada@home.example".into()],
            cc: vec![],
            language: "en".into(),
            params: json!({}),
            not_before: now,
        }
    }

    async fn activities(p: &Platform) -> Vec<String> {
        p.audit_log(
            &Caller::operator(),
            &AuditQuery {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.activity)
        .collect()
    }

    #[tokio::test]
    async fn a_joiner_gets_one_message_a_leaver_loses_it_each_event_consumed_once() {
        let f = fixture().await;
        let p = &f.platform;
        let user = p
            .create_user(
                &Caller::operator(),
                NewUser {
                    user_principal_name: "ada@example.com".into(),
                    manager_id: None,
                    account_enabled: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let now = p.now();
        {
            let mut tx = p.store().write().await.unwrap();
            for _ in 0..2 {
                events::insert(&mut tx, EventKind::Joiner, &user, &json!({}), now)
                    .await
                    .unwrap();
            }
            tx.commit().await.unwrap();
        }
        let decide = |e: &DirectoryEvent, facts: &JoinerFacts| {
            assert_eq!(facts.user.id, e.user_id);
            assert!(!facts.has_passkey);
            JoinerMail::Queue {
                rule: "joiners".into(),
                message: mail_for(&facts.user, &format!("k{}", e.seq), now),
            }
        };
        // The creation's own joiner event and the two written here.
        assert_eq!(p.consume_directory_events(10, decide).await.unwrap(), 3);
        assert_eq!(
            p.consume_directory_events(10, decide).await.unwrap(),
            0,
            "consumed"
        );
        let pending = p.mail_counts().await.unwrap();
        let pending = pending
            .iter()
            .find(|(s, _)| *s == State::Pending)
            .unwrap()
            .1;
        assert_eq!(
            pending, 1,
            "a second joiner event does not queue a second pass"
        );

        {
            let mut tx = p.store().write().await.unwrap();
            events::insert(&mut tx, EventKind::Leaver, &user, &json!({}), now)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        assert_eq!(p.consume_directory_events(10, decide).await.unwrap(), 1);
        let counts = p.mail_counts().await.unwrap();
        let cancelled = counts
            .iter()
            .find(|(s, _)| *s == State::Cancelled)
            .unwrap()
            .1;
        assert_eq!(cancelled, 1);
        let seen = activities(p).await;
        assert_eq!(
            seen.iter()
                .filter(|a| *a == "Queue onboarding mail")
                .count(),
            1
        );
        assert!(
            seen.iter().any(|a| a == "Cancel onboarding mail"),
            "{seen:?}"
        );
    }

    #[tokio::test]
    async fn an_operator_retries_or_cancels_a_message_with_the_role_and_an_audit_record() {
        let f = fixture().await;
        let p = &f.platform;
        let user = p
            .create_user(
                &Caller::operator(),
                NewUser {
                    user_principal_name: "ada@example.com".into(),
                    account_enabled: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let now = p.now();
        let id = {
            let mut tx = p.store().write().await.unwrap();
            let id = outbox::insert(&mut tx, &mail_for(&user, "k", now), now)
                .await
                .unwrap()
                .unwrap();
            tx.commit().await.unwrap();
            id
        };
        let reader = caller(&[Role::Reader]);
        let refused = p.cancel_mail(&reader, id).await;
        assert!(matches!(refused, Err(Error::Forbidden(_))), "{refused:?}");
        let missing = p.cancel_mail(&Caller::operator(), Uuid::new_v4()).await;
        assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");

        let admin = caller(&[Role::AuthenticationAdministrator]);
        assert!(p.retry_mail(&admin, id).await.unwrap(), "a pending message");
        assert!(p.cancel_mail(&admin, id).await.unwrap());
        assert!(
            !p.cancel_mail(&admin, id).await.unwrap(),
            "cancelled already"
        );
        assert!(!p.retry_mail(&admin, id).await.unwrap(), "a cancelled one");
        let seen = activities(p).await;
        let count = |name: &str| seen.iter().filter(|a| *a == name).count();
        assert_eq!(count("Cancel onboarding mail"), 1, "{seen:?}");
        assert_eq!(count("Retry onboarding mail"), 1, "{seen:?}");
    }
}
