//! Consumes joiner and leaver events: a joiner matching a rule gets one onboarding message in
//! the outbox; a leaver's unsent messages are cancelled. Each batch of events is handled in one
//! transaction, so an event is consumed exactly when its outcome is recorded.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use plugin::domain::audit::{Activity, AuditRecord, Initiator};
use plugin::domain::directory::{User, UserRef};
use plugin::domain::lifecycle::{DirectoryEvent, EventKind};
use plugin::domain::timefmt::rfc3339;
use plugin::platform::{Caller, Platform};
use plugin::store::{Connection, audit, events, groups, users};
use serde_json::json;
use tokio::sync::watch;
use uuid::Uuid;

use super::rules::{Candidate, Mint, Recipient, Rule, Timing, first_match};
use crate::error::Result;
use crate::mail::outbox::{self, Kind, NewMessage};
use crate::mail::render::pick_language;

pub struct Onboarding {
    platform: Arc<Platform>,
    rules: Vec<Rule>,
    default_language: String,
    poll_interval: Duration,
}

fn initiator() -> Initiator {
    Initiator {
        kind: "service".into(),
        id: None,
        display_name: "onboarding".into(),
    }
}

/// Whether the user has registered a passkey or security key.
async fn has_passkey(conn: &mut Connection, user_id: Uuid) -> Result<bool> {
    Ok(
        !plugin::store::credentials::credential_ids_for_user(conn, user_id)
            .await?
            .is_empty(),
    )
}

/// The facts a rule looks at, gathered from the store.
async fn facts<'u>(
    conn: &mut Connection,
    user: &'u User,
    manager_mail: &'u Option<String>,
) -> Result<Candidate<'u>> {
    let mut names = HashSet::new();
    for g in groups::of_user(conn, user.id).await? {
        names.insert(g.display_name.to_lowercase());
        names.insert(g.id.to_string());
    }
    Ok(Candidate {
        user,
        groups: names,
        has_passkey: has_passkey(conn, user.id).await?,
        manager_mail: manager_mail.as_deref(),
    })
}

async fn manager_mail(conn: &mut Connection, user: &User) -> Result<Option<String>> {
    Ok(match user.manager_id {
        Some(id) => users::get(conn, id).await?.and_then(|m| m.mail),
        None => None,
    })
}

/// The pass terms a message carries to the delivery worker, which mints the pass then: the
/// rule may change meanwhile, the message keeps what it was queued with.
fn params(rule: &Rule, user: &User, now: time::OffsetDateTime) -> serde_json::Value {
    let mut params = json!({
        "rule": rule.name,
        "lifetimeInMinutes": rule.lifetime_minutes,
        "isUsableOnce": rule.usable_once,
        "startDateTime": rule.pass_start(user, now).map(rfc3339),
    });
    if rule.mint == Mint::Entra {
        params["mint"] = "entra".into();
        params["replaceExistingPass"] = rule.replace_existing_pass.into();
    }
    params
}

impl Onboarding {
    pub fn new(
        platform: Arc<Platform>,
        rules: Vec<Rule>,
        default_language: String,
        poll_interval: Duration,
    ) -> Self {
        Onboarding {
            platform,
            rules,
            default_language,
            poll_interval,
        }
    }

    /// Handles events until `stop` turns true.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            match self.process_pending().await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "onboarding: handling directory events failed")
                }
            }
            tokio::select! {
                () = tokio::time::sleep(self.poll_interval) => {}
                () = async { let _ = stop.wait_for(|s| *s).await; } => return,
            }
        }
    }

    /// Handles one batch of pending events; returns how many.
    pub async fn process_pending(&self) -> Result<usize> {
        let now = self.platform.now();
        let mut tx = self.platform.store().write_background().await?;
        let pending = events::pending(&mut tx, 200).await?;
        for event in &pending {
            match event.kind {
                EventKind::Joiner => self.joiner(&mut tx, event, now).await?,
                EventKind::Leaver => self.leaver(&mut tx, event, now).await?,
                EventKind::Mover => {}
            }
            events::mark_consumed(&mut tx, event.seq, now).await?;
        }
        tx.commit().await?;
        Ok(pending.len())
    }

    async fn joiner(
        &self,
        conn: &mut Connection,
        event: &DirectoryEvent,
        now: time::OffsetDateTime,
    ) -> Result<()> {
        let Some(user) = users::get(conn, event.user_id).await? else {
            return Ok(());
        };
        let manager = manager_mail(conn, &user).await?;
        let candidate = facts(conn, &user, &manager).await?;
        let Some(rule) = first_match(&self.rules, &candidate) else {
            return Ok(());
        };
        let record = |activity| {
            AuditRecord::new(activity, initiator(), now)
                .target("User", user.id, Some(&user.user_principal_name))
                .detail("rule", &rule.name)
        };
        let (to, cc) = rule.addresses(&candidate);
        if to.is_empty() {
            let skipped = record(Activity::OnboardingMailSkipped)
                .failed("the rule's recipients have no address");
            return audit::insert(conn, &skipped).await.map_err(Into::into);
        }
        if outbox::has_open(conn, user.id).await? {
            // One onboarding message in flight per person: a second joiner event (re-enabled
            // before the first mail went out) does not send a second pass.
            return Ok(());
        }
        let message = NewMessage {
            idempotency_key: format!("onboarding:{}:{}", user.id, event.seq),
            kind: Kind::Onboarding,
            user_id: user.id,
            recipients: to,
            cc,
            language: pick_language(user.preferred_language.as_deref(), &self.default_language)
                .to_owned(),
            params: params(rule, &user, now),
            not_before: rule.send_at(&user, now),
        };
        if let Some(id) = outbox::insert(conn, &message, now).await? {
            let queued = record(Activity::OnboardingMailQueued)
                .detail("message", id)
                .detail("notBefore", rfc3339(message.not_before));
            audit::insert(conn, &queued).await?;
        }
        Ok(())
    }

    async fn leaver(
        &self,
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
        // Passes their messages created in Entra are deleted there by the delivery worker
        // (a call to Entra does not belong inside this transaction).
        plugin::store::entra::request_removal(conn, event.user_id, now).await?;
        Ok(())
    }
}

/// An administrator's "resend onboarding": a new message (and so a fresh pass) to the
/// addresses of the first matching rule, or the personal and work addresses.
pub async fn resend(
    platform: &Platform,
    caller: &Caller,
    user: &UserRef,
    rules: &[Rule],
    default_language: &str,
) -> Result<Uuid> {
    let now = platform.now();
    let mut tx = platform.store().write().await?;
    let user = users::find(&mut tx, user)
        .await?
        .ok_or_else(|| plugin::Error::not_found(format!("user `{user}`")))?;
    caller.actor.check_manage_passes_for(&user)?;
    let manager = manager_mail(&mut tx, &user).await?;
    let candidate = facts(&mut tx, &user, &manager).await?;
    let fallback = Rule {
        name: "resend".into(),
        sources: vec![],
        groups: vec![],
        without_passkey: false,
        timing: Timing::AtCreation,
        lifetime_minutes: None,
        usable_once: None,
        start_at_hire_date: false,
        recipients: vec![Recipient::Personal, Recipient::Work],
        cc: vec![],
        mint: Mint::Local,
        replace_existing_pass: false,
    };
    let rule = first_match(rules, &candidate).unwrap_or(&fallback);
    let (to, cc) = rule.addresses(&candidate);
    if to.is_empty() {
        return Err(plugin::Error::invalid(format!(
            "`{}` has no address to send to",
            user.user_principal_name
        ))
        .into());
    }
    let id = Uuid::new_v4();
    let message = NewMessage {
        idempotency_key: format!("resend:{}:{id}", user.id),
        kind: Kind::Resend,
        user_id: user.id,
        recipients: to,
        cc,
        language: pick_language(user.preferred_language.as_deref(), default_language).to_owned(),
        params: params(rule, &user, now),
        not_before: now,
    };
    outbox::cancel_for_user(&mut tx, user.id, now).await?;
    let queued = outbox::insert(&mut tx, &message, now)
        .await?
        .ok_or_else(|| plugin::Error::Internal("duplicate resend key".into()))?;
    let record = AuditRecord::new(Activity::OnboardingMailQueued, (&caller.actor).into(), now)
        .target("User", user.id, Some(&user.user_principal_name))
        .reason("resent by an administrator")
        .detail("message", queued)
        .correlation(caller.correlation_id);
    audit::insert(&mut tx, &record).await?;
    tx.commit().await?;
    Ok(queued)
}
