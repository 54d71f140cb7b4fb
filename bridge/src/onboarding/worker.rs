//! Consumes joiner and leaver events: a joiner matching a rule gets one onboarding message in
//! the outbox; a leaver's unsent messages are cancelled. Each batch of events is handled in one
//! transaction, so an event is consumed exactly when its outcome is recorded.

use std::sync::Arc;
use std::time::Duration;

use plugin::domain::directory::{User, UserRef};
use plugin::domain::lifecycle::DirectoryEvent;
use plugin::domain::outbox::{Kind, NewMessage};
use plugin::domain::timefmt::rfc3339;
use plugin::platform::{Caller, JoinerFacts, JoinerMail, Platform};
use serde_json::json;
use tokio::sync::watch;
use uuid::Uuid;

use super::rules::{Candidate, Mint, Recipient, Rule, Timing, first_match};
use crate::error::Result;
use crate::mail::render::pick_language;

pub struct Onboarding {
    platform: Arc<Platform>,
    rules: Vec<Rule>,
    default_language: String,
    poll_interval: Duration,
}

/// The facts a rule looks at.
fn candidate(facts: &JoinerFacts) -> Candidate<'_> {
    Candidate {
        user: &facts.user,
        groups: facts.groups.clone(),
        has_passkey: facts.has_passkey,
        manager_mail: facts.manager_mail.as_deref(),
    }
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
        let n = self
            .platform
            .consume_directory_events(200, |event, facts| self.decide(event, facts, now))
            .await?;
        Ok(n)
    }

    /// The first matching rule's message for a joiner, if any.
    fn decide(
        &self,
        event: &DirectoryEvent,
        facts: &JoinerFacts,
        now: time::OffsetDateTime,
    ) -> JoinerMail {
        let candidate = candidate(facts);
        let Some(rule) = first_match(&self.rules, &candidate) else {
            return JoinerMail::None;
        };
        let (to, cc) = rule.addresses(&candidate);
        if to.is_empty() {
            return JoinerMail::Skipped {
                rule: rule.name.clone(),
            };
        }
        let user = &facts.user;
        JoinerMail::Queue {
            rule: rule.name.clone(),
            message: NewMessage {
                idempotency_key: format!("onboarding:{}:{}", user.id, event.seq),
                kind: Kind::Onboarding,
                user_id: user.id,
                recipients: to,
                cc,
                language: pick_language(user.preferred_language.as_deref(), &self.default_language)
                    .to_owned(),
                params: params(rule, user, now),
                not_before: rule.send_at(user, now),
            },
        }
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
    let queued = platform
        .resend_onboarding(caller, user, |facts| {
            let candidate = candidate(facts);
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
            let user = &facts.user;
            if to.is_empty() {
                return Err(plugin::Error::invalid(format!(
                    "`{}` has no address to send to",
                    user.user_principal_name
                )));
            }
            Ok(NewMessage {
                idempotency_key: format!("resend:{}:{}", user.id, Uuid::new_v4()),
                kind: Kind::Resend,
                user_id: user.id,
                recipients: to,
                cc,
                language: pick_language(user.preferred_language.as_deref(), default_language)
                    .to_owned(),
                params: params(rule, user, now),
                not_before: now,
            })
        })
        .await?;
    Ok(queued)
}
