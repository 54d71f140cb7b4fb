//! The delivery worker: claims due messages, mints each one's pass, sends it, records the
//! outcome. Temporary failures retry with exponential backoff and jitter; permanent ones stop
//! with the server's reply kept for the operator.
//!
//! SMTP has no two-phase commit: between the server taking a message (its reply to the final
//! `.`) and the outbox recording it as sent, a crash leaves the outcome unknown, and the
//! message is sent again. That window is kept as small as SMTP allows. The attempt is
//! committed as handed over before anything goes on the wire, in the transaction that mints
//! its pass (so it costs no commit of its own: with `durability = full` every commit is an
//! fsync, and a separate one right before DATA cut throughput by half or more in a debug
//! build); "sent" is committed right after the reply, with nothing in between; at most `concurrency` messages are ever inside the window. A message
//! claimed again with its attempt marked as handed over, or whose hand-over got no reply,
//! carries the same Message-ID (receiving systems may drop the copy) and says that it
//! replaces an earlier one whose code no longer works — minting its pass replaced that one's.
//! A crash between that commit and DATA makes the note say "may have sent" of a message that
//! never left: a harmless false alarm, and only for messages caught by a crash.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use plugin::Error as PlatformError;
use plugin::domain::actor::Actor;
use plugin::domain::directory::{User, UserRef};
use plugin::domain::outbox::Message as Queued;
use plugin::domain::tap_policy::TapRequest;
use plugin::domain::timefmt::{parse_rfc3339, rfc3339};
use plugin::platform::{Caller, MailOutcome, MailPass, Platform};
use serde_json::json;
use tokio::sync::watch;

use super::MailSettings;
use super::backoff;
use super::entra::{EntraMinting, Terms};
use super::render::{Templates, pick_language};
use super::transport::{Accepted, Refused, Transport};
use crate::error::Result;

pub struct Mailer {
    platform: Arc<Platform>,
    transport: Transport,
    templates: Templates,
    settings: MailSettings,
    from: Mailbox,
    sent: AtomicU64,
    retried: AtomicU64,
    failed: AtomicU64,
    /// Hand-over to committed "sent", per delivered message: the window in which a crash
    /// sends the message twice.
    window: Mutex<Window>,
    /// The Entra connector, for messages whose rule mints in Entra.
    entra: Option<EntraMinting>,
    entra_created: AtomicU64,
}

#[derive(Debug, Default, Clone, Copy)]
struct Window {
    count: u64,
    total: Duration,
    max: Duration,
}

mod entra;

/// How a delivery ended, for the caller's bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    Retry,
    Failed,
}

impl Mailer {
    /// Builds the mailer and its transport; must run inside the Tokio runtime.
    pub fn new(
        platform: Arc<Platform>,
        settings: MailSettings,
    ) -> std::result::Result<Mailer, String> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| format!("mail.from `{}`: {e}", settings.from))?;
        let transport = Transport::build(&settings.transport)?;
        let templates = Templates::new().map_err(|e| e.to_string())?;
        Ok(Mailer {
            platform,
            transport,
            templates,
            settings,
            from,
            sent: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            window: Mutex::default(),
            entra: None,
            entra_created: AtomicU64::new(0),
        })
    }

    /// Mints the passes of Entra rules' messages through `minting`.
    pub fn with_entra(mut self, minting: EntraMinting) -> Self {
        self.entra = Some(minting);
        self
    }

    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Delivers due messages until `stop` turns true.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        self.transport.clean_up();
        loop {
            match self.deliver_due().await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "mail delivery pass failed"),
            }
            tokio::select! {
                () = tokio::time::sleep(self.settings.poll_interval) => {}
                () = async { let _ = stop.wait_for(|s| *s).await; } => return,
            }
        }
    }

    /// Claims the due messages and delivers them, `concurrency` at a time. Returns how many
    /// were handled.
    pub async fn deliver_due(self: &Arc<Self>) -> Result<usize> {
        let lease =
            time::Duration::try_from(self.settings.lease).unwrap_or(time::Duration::minutes(5));
        let limit = u32::try_from(self.settings.concurrency.max(1) * 4).unwrap_or(64);
        let claimed = self.platform.claim_due_mail(lease, limit).await?;
        let n = claimed.len();
        let semaphore = Arc::new(tokio::sync::Semaphore::new(
            self.settings.concurrency.max(1),
        ));
        let mut tasks = tokio::task::JoinSet::new();
        for message in claimed {
            let (me, permit) = (self.clone(), semaphore.clone().acquire_owned().await);
            tasks.spawn(async move {
                let _permit = permit;
                if let Err(e) = me.deliver(message).await {
                    tracing::warn!(error = %e, "recording a delivery failed; the message will be retried");
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        Ok(n)
    }

    /// Delivers one claimed message and records the outcome.
    async fn deliver(&self, m: Queued) -> Result<Outcome> {
        let caller = Caller::new(Actor::service("onboarding mail"), None);
        let user = match self.platform.user(&caller, &UserRef::Id(m.user_id)).await {
            Ok(user) => Some(user),
            Err(plugin::Error::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        };
        let Some(user) = user else {
            return self
                .record(
                    &m,
                    Err(Refused {
                        permanent: true,
                        unconfirmed: false,
                        reason: "the user no longer exists".into(),
                    }),
                )
                .await;
        };
        if let Some(terms) = Terms::from_params(&m.params) {
            return self.deliver_entra(m, user, terms).await;
        }
        let request = TapRequest {
            start_date_time: m
                .params
                .get("startDateTime")
                .and_then(|v| v.as_str())
                .and_then(parse_rfc3339),
            lifetime_in_minutes: m
                .params
                .get("lifetimeInMinutes")
                .and_then(|v| v.as_u64())
                .map(|v| v as u32),
            is_usable_once: m.params.get("isUsableOnce").and_then(|v| v.as_bool()),
        };
        // The pass and the attempt that carries it commit together, before anything goes on
        // the wire: once this commits, the message may reach its recipients (a crash from
        // here on counts the attempt as unconfirmed); if it does not, there is no pass either.
        let issued = match self
            .platform
            .mint_mail_pass(&caller, &m, user.id, request)
            .await?
        {
            MailPass::Issued(issued) => *issued,
            MailPass::TakenOver => {
                tracing::warn!(message = %m.id, "the message was taken over by another sender; this attempt stops");
                return Ok(Outcome::Retry);
            }
            MailPass::Refused(e) => {
                let permanent =
                    !matches!(e, PlatformError::Storage(_) | PlatformError::Internal(_));
                return self
                    .record(
                        &m,
                        Err(Refused {
                            permanent,
                            unconfirmed: false,
                            reason: format!("cannot issue the pass: {e}"),
                        }),
                    )
                    .await;
            }
        };
        let record = &issued.view.record;
        let email = self.compose(
            &m,
            &user,
            "onboarding",
            json!({
                "user_principal_name": user.user_principal_name,
                "pass": grouped(issued.pass.expose()),
                "valid_from": human(record.valid_from()),
                "valid_until": human(record.expires_at()),
                "usable_once": record.is_usable_once,
                "onboard_url": format!("{}/onboard", self.settings.public_url),
            }),
        );
        let prepared = match email {
            Ok(email) => self.transport.prepare(&email, &m.id.to_string()).await,
            Err(reason) => Err(Refused {
                permanent: true,
                unconfirmed: false,
                reason,
            }),
        };
        let prepared = match prepared {
            Ok(prepared) => prepared,
            Err(refused) => {
                return self
                    .undelivered(&m, &caller, &user, record.id, refused)
                    .await;
            }
        };
        let handed_over = Instant::now();
        match prepared.hand_over().await {
            Ok(accepted) => {
                let outcome = self.record(&m, Ok(accepted)).await;
                if outcome.is_ok() {
                    self.observe_window(handed_over.elapsed());
                }
                outcome
            }
            Err(refused) => {
                self.undelivered(&m, &caller, &user, record.id, refused)
                    .await
            }
        }
    }

    /// A delivery that failed (or whose outcome is unknown): its pass must not stay usable —
    /// it reached nobody, or the retry replaces it and says so.
    async fn undelivered(
        &self,
        m: &Queued,
        caller: &Caller,
        user: &User,
        pass: uuid::Uuid,
        refused: Refused,
    ) -> Result<Outcome> {
        self.delete_pass(caller, user, pass).await;
        self.record(m, Err(refused)).await
    }

    async fn delete_pass(&self, caller: &Caller, user: &User, pass: uuid::Uuid) {
        if let Err(e) = self
            .platform
            .delete_tap(caller, &UserRef::Id(user.id), Some(pass))
            .await
        {
            tracing::warn!(error = %e, "could not delete the pass of an undelivered message");
        }
    }

    fn observe_window(&self, took: Duration) {
        if let Ok(mut w) = self.window.lock() {
            w.count += 1;
            w.total += took;
            w.max = w.max.max(took);
        }
    }

    /// The message of `kind` (its templates) for `m`: `context` (the pass and where to use
    /// it) completed with the branding and the user's name.
    fn compose(
        &self,
        m: &Queued,
        user: &User,
        kind: &str,
        mut context: serde_json::Value,
    ) -> std::result::Result<Message, String> {
        let language = pick_language(Some(&m.language), &self.settings.default_language);
        let b = &self.settings.branding;
        let common = json!({
            "lang": language,
            "org_name": b.org_name,
            "logo_url": b.logo_url,
            "support_contact": b.support_contact,
            "name": user.given_name.clone().or_else(|| user.display_name.clone()).unwrap_or_else(|| user.user_principal_name.clone()),
            // An earlier attempt may have arrived: its code no longer works (this pass
            // replaced it), and the reader should know which message to use.
            "replaces": m.unconfirmed_attempts > 0,
        });
        if let (Some(ctx), Some(common)) = (context.as_object_mut(), common.as_object()) {
            for (k, v) in common {
                ctx.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        let rendered = self
            .templates
            .render(kind, language, &context)
            .map_err(|e| e.to_string())?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            // One Message-ID per outbox entry, the same on every attempt: a receiving system
            // that got an earlier attempt can recognise this one as the same message.
            .message_id(Some(format!("<{}@{}>", m.id, self.from.email.domain())))
            .subject(rendered.subject);
        for to in &m.recipients {
            let address = to.parse().map_err(|e| format!("recipient `{to}`: {e}"))?;
            // Only the user's own addresses carry their name; a manager's carry none.
            let own = user.mail.as_deref() == Some(to.as_str())
                || user.personal_email.as_deref() == Some(to.as_str())
                || user.other_mails.iter().any(|o| o == to);
            let name = if own { user.display_name.clone() } else { None };
            builder = builder.to(Mailbox::new(name, address));
        }
        for cc in &m.cc {
            builder = builder.cc(Mailbox::new(
                None,
                cc.parse().map_err(|e| format!("cc `{cc}`: {e}"))?,
            ));
        }
        builder
            .multipart(MultiPart::alternative_plain_html(
                rendered.text,
                rendered.html,
            ))
            .map_err(|e| format!("cannot build the message: {e}"))
    }

    async fn record(
        &self,
        m: &Queued,
        result: std::result::Result<Accepted, Refused>,
    ) -> Result<Outcome> {
        let now = self.platform.now();
        let (outcome, recorded) = match &result {
            Ok(accepted) => (
                Outcome::Sent,
                MailOutcome::Sent {
                    reply: &accepted.reply,
                },
            ),
            Err(r) if r.permanent || m.attempts >= self.settings.max_attempts => (
                Outcome::Failed,
                MailOutcome::Failed {
                    unconfirmed: r.unconfirmed,
                    reason: &r.reason,
                },
            ),
            Err(r) => {
                let wait = backoff::delay(
                    m.attempts,
                    self.settings.retry_base,
                    self.settings.retry_max,
                    backoff::random_jitter(),
                );
                let next =
                    now + time::Duration::try_from(wait).unwrap_or(time::Duration::minutes(1));
                (
                    Outcome::Retry,
                    MailOutcome::Retry {
                        unconfirmed: r.unconfirmed,
                        reason: &r.reason,
                        next,
                    },
                )
            }
        };
        self.platform.record_mail_outcome(m, recorded).await?;
        let counter = match outcome {
            Outcome::Sent => &self.sent,
            Outcome::Retry => &self.retried,
            Outcome::Failed => &self.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        match &result {
            Ok(_) => tracing::info!(message = %m.id, "onboarding mail delivered"),
            Err(r) => {
                tracing::warn!(message = %m.id, permanent = r.permanent, unconfirmed = r.unconfirmed, attempts = m.attempts, reason = %r.reason, "onboarding mail not delivered")
            }
        }
        Ok(outcome)
    }

    /// Sends a test message straight through the transport (not the outbox).
    pub async fn send_test(&self, to: &str) -> std::result::Result<Accepted, Refused> {
        let refused = |reason: String| Refused {
            permanent: true,
            unconfirmed: false,
            reason,
        };
        let address = to.parse().map_err(|e| refused(format!("`{to}`: {e}")))?;
        let b = &self.settings.branding;
        let context = json!({"lang": "en", "org_name": b.org_name, "logo_url": b.logo_url, "support_contact": b.support_contact});
        let rendered = self
            .templates
            .render("test", "en", &context)
            .map_err(|e| refused(e.to_string()))?;
        let email = Message::builder()
            .from(self.from.clone())
            .message_id(None)
            .to(Mailbox::new(None, address))
            .subject(rendered.subject)
            .multipart(MultiPart::alternative_plain_html(
                rendered.text,
                rendered.html,
            ))
            .map_err(|e| refused(e.to_string()))?;
        self.transport.send(email).await
    }

    /// Prometheus series: outbox size per state and delivery outcomes.
    pub async fn metrics(&self) -> String {
        let mut out = String::from(
            "# HELP tapbridge_mail_outbox Messages in the mail outbox by state.\n# TYPE tapbridge_mail_outbox gauge\n",
        );
        if let Ok(counts) = self.platform.mail_counts().await {
            for (state, n) in counts {
                out.push_str(&format!(
                    "tapbridge_mail_outbox{{state=\"{}\"}} {n}\n",
                    state.as_str()
                ));
            }
        }
        out.push_str("# HELP tapbridge_mail_deliveries_total Delivery attempts by outcome.\n# TYPE tapbridge_mail_deliveries_total counter\n");
        for (name, c) in [
            ("sent", &self.sent),
            ("retry", &self.retried),
            ("failed", &self.failed),
        ] {
            out.push_str(&format!(
                "tapbridge_mail_deliveries_total{{outcome=\"{name}\"}} {}\n",
                c.load(Ordering::Relaxed)
            ));
        }
        let w = self.window.lock().map(|w| *w).unwrap_or_default();
        out.push_str(&format!(
            "# HELP tapbridge_mail_unconfirmed_window_seconds From handing a message over (SMTP DATA, the file's rename) to recording it sent: where a crash sends it twice.\n\
             # TYPE tapbridge_mail_unconfirmed_window_seconds summary\n\
             tapbridge_mail_unconfirmed_window_seconds_sum {}\n\
             tapbridge_mail_unconfirmed_window_seconds_count {}\n\
             # HELP tapbridge_mail_unconfirmed_window_max_seconds The longest such window since start.\n\
             # TYPE tapbridge_mail_unconfirmed_window_max_seconds gauge\n\
             tapbridge_mail_unconfirmed_window_max_seconds {}\n",
            w.total.as_secs_f64(),
            w.count,
            w.max.as_secs_f64()
        ));
        if self.entra.is_some() {
            out.push_str(&format!(
                "# HELP tapbridge_entra_passes_created_total Passes created in Entra for onboarding mail.\n# TYPE tapbridge_entra_passes_created_total counter\ntapbridge_entra_passes_created_total {}\n",
                self.entra_created.load(Ordering::Relaxed)
            ));
        }
        out
    }
}

/// `AbCdEfGh` → `AbCd-EfGh`: easier to read and type; the sign-in page ignores the dashes.
fn grouped(pass: &str) -> String {
    pass.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

fn human(t: time::OffsetDateTime) -> String {
    let s = rfc3339(t);
    // 2026-11-27T09:00:00.000Z → 2026-11-27 09:00
    format!("{} {}", &s[..10], &s[11..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_grouping() {
        assert_eq!(grouped("AbCdEfGh"), "AbCd-EfGh");
        assert_eq!(grouped("AbCdEfGhJk"), "AbCd-EfGh-Jk");
        assert_eq!(
            plugin::domain::tap::normalise_input(&grouped("AbCdEfGhJk")),
            "AbCdEfGhJk"
        );
    }
}
