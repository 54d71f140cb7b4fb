//! Delivering a message whose pass is minted in Microsoft Entra: find the Entra user, check
//! for a pass the rule may not replace, commit the moment the pass is asked for, create it,
//! record its method id with an audit record (one transaction), then mail it. The pass itself
//! goes from Entra's answer into the message and nowhere else.
//!
//! A crash at any step leaves a message that is claimed again: a pass created before the
//! crash is recognised as this message's own (by the method id on record, or — if the crash
//! came before that was written — by being created after the request went out) and replaced
//! by the retry, so the user never holds two working passes from tapbridge, and Entra's
//! one-pass-per-user keeps it that way.

use std::time::{Duration, Instant};

use plugin::domain::audit::{Activity, AuditRecord, Initiator};
use plugin::domain::directory::User;
use plugin::domain::outbox::{Message as Queued, Recorded};
use plugin::domain::timefmt::rfc3339;
use serde_json::json;

use super::{Mailer, Outcome, human};
use crate::entra::{CreatedPass, EntraError, EntraUser};
use crate::error::Result;
use crate::mail::backoff;
use crate::mail::entra::{EntraMinting, NoPass, Terms, is_ours, not_replaced, outcome};
use crate::mail::transport::Refused;

/// A pass Entra created for the message, on record.
struct Minted {
    user: EntraUser,
    created: CreatedPass,
}

enum Minting {
    Minted(Minted),
    NoPass(NoPass),
    /// The lease ran out and another sender took the message over: this attempt stops
    /// without recording anything.
    TakenOver,
}

fn initiator() -> Initiator {
    Initiator {
        kind: "service".into(),
        id: None,
        display_name: "onboarding mail (Entra)".into(),
    }
}

impl Mailer {
    pub(super) async fn deliver_entra(
        &self,
        m: Queued,
        user: User,
        terms: Terms,
    ) -> Result<Outcome> {
        let Some(minting) = &self.entra else {
            return self
                .record(
                    &m,
                    Err(Refused {
                        permanent: true,
                        unconfirmed: false,
                        reason: "the rule mints the pass in Entra, but the Entra connector is not configured ([entra])".into(),
                    }),
                )
                .await;
        };
        let minted = match self.mint_in_entra(minting, &m, &user, &terms).await? {
            Minting::Minted(minted) => minted,
            Minting::NoPass(no) => return self.record_no_pass(&m, no).await,
            Minting::TakenOver => {
                tracing::warn!(message = %m.id, "the message was taken over by another sender; this attempt stops");
                return Ok(Outcome::Retry);
            }
        };
        self.entra_created
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let method = &minted.created.method;
        let now = self.platform.now();
        let valid_from = method.valid_from().unwrap_or(now);
        let lifetime = method
            .lifetime_in_minutes
            .or(terms.request.lifetime_in_minutes)
            .unwrap_or(60);
        let valid_until = method
            .valid_until()
            .unwrap_or(valid_from + time::Duration::minutes(i64::from(lifetime)));
        let upn = if minted.user.user_principal_name.is_empty() {
            user.user_principal_name.clone()
        } else {
            minted.user.user_principal_name.clone()
        };
        let email = self.compose(
            &m,
            &user,
            "onboarding_entra",
            json!({
                "user_principal_name": upn,
                // Entra's pass as it is: its sign-in page does not ignore added dashes.
                "pass": minted.created.pass.expose(),
                "valid_from": human(valid_from),
                "valid_until": human(valid_until),
                "usable_once": method.is_usable_once.or(terms.request.is_usable_once).unwrap_or(false),
                "security_info_url": minting.entra.my_security_info_url,
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
                    .undelivered_entra(minting, &m, &user, &minted, refused)
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
                self.undelivered_entra(minting, &m, &user, &minted, refused)
                    .await
            }
        }
    }

    /// A delivery that failed (or whose outcome is unknown): the pass must not stay usable —
    /// it reached nobody, or the retry's new pass replaces it and the mail says so.
    async fn undelivered_entra(
        &self,
        minting: &EntraMinting,
        m: &Queued,
        user: &User,
        minted: &Minted,
        refused: Refused,
    ) -> Result<Outcome> {
        self.delete_entra_pass(minting, m, user, minted, "the message was not delivered")
            .await;
        self.record(m, Err(refused)).await
    }

    async fn mint_in_entra(
        &self,
        minting: &EntraMinting,
        m: &Queued,
        user: &User,
        terms: &Terms,
    ) -> Result<Minting> {
        let graph = minting.entra.graph();
        let now = self.platform.now();
        if !user.account_enabled {
            // A leaver whose message was on its way (claimed, so not cancelled): Entra may not
            // know yet that they left, and must not get a pass for them.
            return Ok(Minting::NoPass(NoPass::Fail {
                reason: "the user's account is disabled (the user left); no pass was created"
                    .into(),
            }));
        }
        let key = match minting.user_key(user) {
            Ok(key) => key,
            Err(no) => return Ok(Minting::NoPass(no)),
        };
        let wait = self.user_backoff(m, now);
        let entra_user = match graph.find_user(&key).await {
            Ok(Some(u)) => u,
            Ok(None) => {
                return Ok(Minting::NoPass(minting.not_there_yet(
                    &key,
                    m.created_at,
                    wait,
                    now,
                )));
            }
            Err(e) => return Ok(Minting::NoPass(outcome(&e, "looking up the user", now))),
        };
        if !terms.replace_existing {
            let (state, known) = self.platform.entra_pass_of(m.id, user.id).await?;
            match graph.list_passes(&entra_user.id).await {
                Ok(passes) => {
                    if let Some(other) = passes.iter().find(|p| !is_ours(p, &state, &known)) {
                        return Ok(Minting::NoPass(not_replaced(
                            &entra_user.user_principal_name,
                            other,
                            &terms.rule,
                        )));
                    }
                }
                Err(EntraError::NotFound { .. }) => {
                    return Ok(Minting::NoPass(minting.not_there_yet(
                        &key,
                        m.created_at,
                        wait,
                        now,
                    )));
                }
                Err(e) => {
                    return Ok(Minting::NoPass(outcome(
                        &e,
                        "listing the user's passes",
                        now,
                    )));
                }
            }
        }
        // On record before the request whose outcome a crash can leave unknown.
        if !self.platform.mark_entra_minting(m, &entra_user.id).await? {
            return Ok(Minting::TakenOver);
        }
        let created = match graph.create_pass(&entra_user.id, &terms.request).await {
            Ok(created) => created,
            Err(e) => {
                if !matches!(e, EntraError::Unavailable(_)) {
                    // Entra answered: no pass exists from this request.
                    self.platform.clear_entra_minting(m).await?;
                }
                let no = match e {
                    // The user vanished between the look-up and now (a sync in progress).
                    EntraError::NotFound { .. } => {
                        minting.not_there_yet(&key, m.created_at, wait, now)
                    }
                    e => outcome(&e, "creating the pass", now),
                };
                return Ok(Minting::NoPass(no));
            }
        };
        let minted = Minted {
            user: entra_user,
            created,
        };
        let now = self.platform.now();
        let method = &minted.created.method;
        // The pass and the attempt that carries it are on record together before anything
        // goes on the wire (as for a local pass): a crash from here on counts the attempt as
        // unconfirmed, and the retry's mail says it replaces this one.
        let record = AuditRecord::new(Activity::EntraPassCreated, initiator(), now)
            .target("User", user.id, Some(&user.user_principal_name))
            .detail("rule", &terms.rule)
            .detail("message", m.id)
            .detail("entraUserId", &minted.user.id)
            .detail("entraUserPrincipalName", &minted.user.user_principal_name)
            .detail("entraMethodId", &method.id)
            .detail(
                "lifetimeInMinutes",
                method
                    .lifetime_in_minutes
                    .map_or("-".to_owned(), |l| l.to_string()),
            )
            .detail(
                "isUsableOnce",
                method
                    .is_usable_once
                    .map_or("-".to_owned(), |o| o.to_string()),
            )
            .detail(
                "startDateTime",
                method.start.map_or("-".to_owned(), rfc3339),
            );
        let recorded = self
            .platform
            .record_entra_pass(m, &method.id, record)
            .await?;
        Ok(match recorded {
            Recorded::Deliver => Minting::Minted(minted),
            Recorded::UserLeft => {
                self.delete_entra_pass(
                    minting,
                    m,
                    user,
                    &minted,
                    "the user left before the message was sent",
                )
                .await;
                Minting::NoPass(NoPass::Fail {
                    reason:
                        "the user left before the message was sent; its pass was deleted in Entra"
                            .into(),
                })
            }
            Recorded::NotOurs => {
                self.delete_entra_pass(
                    minting,
                    m,
                    user,
                    &minted,
                    "another sender took the message over",
                )
                .await;
                Minting::TakenOver
            }
        })
    }

    /// Deletes a pass this attempt created and will not deliver; best effort (a retry's new
    /// pass replaces it in any case).
    async fn delete_entra_pass(
        &self,
        minting: &EntraMinting,
        m: &Queued,
        user: &User,
        minted: &Minted,
        why: &str,
    ) {
        let id = &minted.created.method.id;
        let result = minting.entra.graph().delete_pass(&minted.user.id, id).await;
        let now = self.platform.now();
        let mut record = AuditRecord::new(Activity::EntraPassDeleted, initiator(), now)
            .target("User", user.id, Some(&user.user_principal_name))
            .detail("message", m.id)
            .detail("entraUserId", &minted.user.id)
            .detail("entraMethodId", id);
        record = match &result {
            Ok(_) => record.reason(why),
            Err(e) => {
                tracing::warn!(message = %m.id, error = %e, "could not delete an undelivered pass in Entra");
                record.failed(format!("{why}; deleting it failed: {e}"))
            }
        };
        if let Err(e) = self.platform.record_entra_step(&record).await {
            tracing::warn!(error = %e, "could not audit the deletion of a pass in Entra");
        }
    }

    /// Records a message that got no pass from Entra.
    async fn record_no_pass(&self, m: &Queued, no: NoPass) -> Result<Outcome> {
        match no {
            NoPass::Wait { at, reason } => {
                self.platform.mark_entra_waiting(m, &reason, at).await?;
                self.retried
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::info!(message = %m.id, until = %rfc3339(at), reason = %reason, "onboarding mail waits for Entra");
                Ok(Outcome::Retry)
            }
            NoPass::Retry { reason } => {
                self.record(
                    m,
                    Err(Refused {
                        permanent: false,
                        unconfirmed: false,
                        reason,
                    }),
                )
                .await
            }
            NoPass::Fail { reason } => {
                self.record(
                    m,
                    Err(Refused {
                        permanent: true,
                        unconfirmed: false,
                        reason,
                    }),
                )
                .await
            }
        }
    }

    /// How long to wait before looking for a user who is not in Entra yet: half the time
    /// the message has waited so far, within the mail retry bounds — about twenty look-ups
    /// in a day, most of them early, when directory sync is likeliest to bring the user.
    fn user_backoff(&self, m: &Queued, now: time::OffsetDateTime) -> Duration {
        let waited = Duration::try_from(now - m.created_at).unwrap_or(Duration::ZERO);
        let half = (waited / 2)
            .max(self.settings.retry_base)
            .min(self.settings.retry_max);
        half.mul_f64(0.75 + 0.25 * backoff::random_jitter())
    }
}
