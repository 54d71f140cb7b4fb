//! Issuing, listing, deleting, redeeming and purging Temporary Access Passes.

use std::collections::HashSet;

use time::OffsetDateTime;
use tracing::instrument;
use uuid::Uuid;

use super::sessions::end_sessions_of_pass;
use super::{Caller, Platform};
use crate::domain::audit::{Activity, AuditRecord, Initiator};
use crate::domain::directory::{User, UserRef};
use crate::domain::tap::{self, Context, Redemption, TapRecord, Usability, UsabilityDetail};
use crate::domain::tap_policy::{PolicyState, TapPolicy, TapRequest};
use crate::domain::timefmt::rfc3339;
use crate::metrics::inc;
use crate::secret::SecretString;
use crate::store::sign_in::{self, SignInFacts};
use crate::store::{Connection, audit, taps, users};
use crate::{Error, Result};

/// A pass as an administrator sees it: its record and its state now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapView {
    pub record: TapRecord,
    pub usability: Usability,
}

/// A pass just created. `pass` is the only copy of its value there will ever be.
#[derive(Debug)]
pub struct IssuedTap {
    pub user: User,
    pub view: TapView,
    pub pass: SecretString,
}

/// A successful redemption.
#[derive(Debug, Clone, PartialEq)]
pub struct Redeemed {
    pub user: User,
    pub tap_id: Uuid,
    /// When the pass expires: a session it opens must not outlive it.
    pub expires_at: OffsetDateTime,
}

/// A sign-in attempt with a pass: what the person typed, and where from.
#[derive(Debug, Clone, Copy)]
pub struct PassAttempt<'a> {
    pub user_principal_name: &'a str,
    pub pass: &'a SecretString,
    /// The client's address, for the audit log (and so for its coalescing).
    pub client_address: Option<&'a str>,
    pub correlation_id: Option<Uuid>,
}

/// The policy in force and whether it applies to `user`.
pub(super) async fn usability_context(
    conn: &mut Connection,
    policy: &TapPolicy,
    user: &User,
) -> Result<Context> {
    let groups: HashSet<Uuid> = users::group_ids(conn, user.id).await?;
    Ok(Context {
        policy_enabled: policy.state == PolicyState::Enabled,
        user_targeted: policy.enabled_for(&groups),
        account_enabled: user.account_enabled,
    })
}

async fn find_user(conn: &mut Connection, user: &UserRef) -> Result<User> {
    users::find(conn, user)
        .await?
        .ok_or_else(|| Error::not_found(format!("user `{user}`")))
}

impl Platform {
    /// Issues a pass for `user`, replacing any pass they had (the replacement is audited).
    #[instrument(skip_all, fields(user = %user))]
    pub async fn issue_tap(
        &self,
        caller: &Caller,
        user: &UserRef,
        request: TapRequest,
    ) -> Result<IssuedTap> {
        let mut tx = self.store.write().await?;
        let issued = self.issue_tap_in(&mut tx, caller, user, request).await?;
        tx.commit().await?;
        inc(&self.metrics.taps_issued);
        Ok(issued)
    }

    /// [`Self::issue_tap`] inside the caller's write transaction, for a caller that records
    /// something of its own with the pass in the same commit (the mail outbox: the delivery
    /// attempt that carries it). The pass exists once `tx` commits, and not at all otherwise.
    pub async fn issue_tap_in(
        &self,
        tx: &mut Connection,
        caller: &Caller,
        user: &UserRef,
        request: TapRequest,
    ) -> Result<IssuedTap> {
        let now = self.now();
        let user = find_user(tx, user).await?;
        caller.actor.check_manage_passes_for(&user)?;
        let policy = self.load_tap_policy(tx).await?;
        let ctx = usability_context(tx, &policy, &user).await?;
        if !ctx.policy_enabled {
            return Err(Error::PolicyViolation(
                "the Temporary Access Pass method is disabled by policy".into(),
            ));
        }
        if !ctx.user_targeted {
            return Err(Error::PolicyViolation(format!(
                "the Temporary Access Pass policy does not include `{}`",
                user.user_principal_name
            )));
        }
        if !user.account_enabled {
            return Err(Error::PolicyViolation(format!(
                "the account of `{}` is disabled",
                user.user_principal_name
            )));
        }
        let terms = policy.terms(&request, now)?;
        let pass = tap::generate(terms.length);
        let record = TapRecord {
            id: Uuid::new_v4(),
            user_id: user.id,
            created_at: now,
            start_date_time: terms.start_date_time,
            lifetime_in_minutes: terms.lifetime_in_minutes,
            is_usable_once: terms.is_usable_once,
            first_used_at: None,
            use_count: 0,
            failed_attempts: 0,
            locked_at: None,
        };
        let initiator: Initiator = (&caller.actor).into();
        if let Some(old) = taps::for_user(tx, user.id).await? {
            end_sessions_of_pass(
                tx,
                old.id,
                &user,
                initiator.clone(),
                "pass replaced by a new one",
                caller.correlation_id,
                now,
            )
            .await?;
            taps::delete_for_user(tx, user.id).await?;
            let replaced = AuditRecord::new(Activity::TapDeleted, initiator.clone(), now)
                .reason("replaced by a new pass")
                .target("User", user.id, Some(&user.user_principal_name))
                .detail("temporaryAccessPassId", old.id)
                .detail("replacedBy", record.id)
                .correlation(caller.correlation_id);
            audit::insert(tx, &replaced).await?;
            inc(&self.metrics.taps_deleted);
        }
        let hash = self
            .tap_hasher
            .hash(record.id.as_bytes(), pass.expose().as_bytes());
        taps::insert(tx, &record, &hash).await?;
        let mut registered = AuditRecord::new(Activity::TapRegistered, initiator, now)
            .target("User", user.id, Some(&user.user_principal_name))
            .detail("temporaryAccessPassId", record.id)
            .detail("lifetimeInMinutes", record.lifetime_in_minutes)
            .detail("isUsableOnce", record.is_usable_once)
            .correlation(caller.correlation_id);
        if let Some(start) = record.start_date_time {
            registered = registered.detail("startDateTime", rfc3339(start));
        }
        audit::insert(tx, &registered).await?;
        let usability = record.usability(ctx, now);
        Ok(IssuedTap {
            user,
            view: TapView { record, usability },
            pass,
        })
    }

    /// Why no pass can be issued to `user` now, whoever asks: the policy is off, does not
    /// include them, or their account is disabled. `None`: a pass can be issued (roles and
    /// the lifetime asked for permitting). Any administrative role may ask.
    pub async fn pass_blocker(
        &self,
        caller: &Caller,
        user: &UserRef,
    ) -> Result<Option<UsabilityDetail>> {
        caller.actor.check_read()?;
        let mut conn = self.store.read().await?;
        let user = find_user(&mut conn, user).await?;
        let policy = self.load_tap_policy(&mut conn).await?;
        let ctx = usability_context(&mut conn, &policy, &user).await?;
        Ok(if !ctx.policy_enabled {
            Some(UsabilityDetail::PolicyDisabled)
        } else if !ctx.user_targeted {
            Some(UsabilityDetail::NotTargeted)
        } else if !ctx.account_enabled {
            Some(UsabilityDetail::AccountDisabled)
        } else {
            None
        })
    }

    /// The user's passes (zero or one), with their state now.
    pub async fn taps(&self, caller: &Caller, user: &UserRef) -> Result<(User, Vec<TapView>)> {
        caller.actor.check_read()?;
        let now = self.now();
        let mut conn = self.store.read().await?;
        let user = find_user(&mut conn, user).await?;
        let Some(record) = taps::for_user(&mut conn, user.id).await? else {
            return Ok((user, vec![]));
        };
        let policy = self.load_tap_policy(&mut conn).await?;
        let ctx = usability_context(&mut conn, &policy, &user).await?;
        let usability = record.usability(ctx, now);
        Ok((user, vec![TapView { record, usability }]))
    }

    /// Every stored pass, newest first, with its holder's user principal name and its state.
    pub async fn all_taps(&self, caller: &Caller, limit: u32) -> Result<Vec<(String, TapView)>> {
        caller.actor.check_read()?;
        let now = self.now();
        let mut conn = self.store.read().await?;
        let policy = self.load_tap_policy(&mut conn).await?;
        let mut out = Vec::new();
        for (record, _) in taps::list_all(&mut conn, limit).await? {
            let Some(user) = users::get(&mut conn, record.user_id).await? else {
                continue;
            };
            let ctx = usability_context(&mut conn, &policy, &user).await?;
            let usability = record.usability(ctx, now);
            out.push((user.user_principal_name, TapView { record, usability }));
        }
        Ok(out)
    }

    pub async fn tap(&self, caller: &Caller, user: &UserRef, tap_id: Uuid) -> Result<TapView> {
        let (_, views) = self.taps(caller, user).await?;
        views
            .into_iter()
            .find(|v| v.record.id == tap_id)
            .ok_or_else(|| Error::not_found(format!("temporary access pass `{tap_id}`")))
    }

    /// Deletes the user's pass. `tap_id` `None` deletes whichever pass they have.
    pub async fn delete_tap(
        &self,
        caller: &Caller,
        user: &UserRef,
        tap_id: Option<Uuid>,
    ) -> Result<TapRecord> {
        let now = self.now();
        let mut tx = self.store.write().await?;
        let user = find_user(&mut tx, user).await?;
        caller.actor.check_manage_passes_for(&user)?;
        let existing = taps::for_user(&mut tx, user.id).await?;
        let record = match (existing, tap_id) {
            (Some(r), Some(id)) if r.id == id => r,
            (Some(r), None) => r,
            (_, Some(id)) => return Err(Error::not_found(format!("temporary access pass `{id}`"))),
            (None, None) => {
                return Err(Error::not_found(format!(
                    "a temporary access pass for `{}`",
                    user.user_principal_name
                )));
            }
        };
        end_sessions_of_pass(
            &mut tx,
            record.id,
            &user,
            (&caller.actor).into(),
            "pass deleted",
            caller.correlation_id,
            now,
        )
        .await?;
        taps::delete_for_user(&mut tx, user.id).await?;
        let deleted = AuditRecord::new(Activity::TapDeleted, (&caller.actor).into(), now)
            .target("User", user.id, Some(&user.user_principal_name))
            .detail("temporaryAccessPassId", record.id)
            .correlation(caller.correlation_id);
        audit::insert(&mut tx, &deleted).await?;
        tx.commit().await?;
        inc(&self.metrics.taps_deleted);
        Ok(record)
    }

    /// Checks `code` for the user named `user_principal_name` and, if it is right and the pass
    /// usable, records the use (consuming a one-time pass). Atomic: the whole decision runs
    /// under SQLite's write lock, so a one-time pass is accepted once however many requests
    /// race. Every outcome is audited; the caller learns only success or `InvalidPass`.
    #[instrument(skip_all)]
    pub async fn redeem_tap(
        &self,
        user_principal_name: &str,
        code: &SecretString,
        correlation_id: Option<Uuid>,
    ) -> Result<Redeemed> {
        let attempt = PassAttempt {
            user_principal_name,
            pass: code,
            client_address: None,
            correlation_id,
        };
        let mut tx = self.store.write().await?;
        let redeemed = self.redeem_in(&mut tx, attempt).await?;
        tx.commit().await?;
        self.count_redemption(redeemed.is_some());
        redeemed.ok_or(Error::InvalidPass)
    }

    /// Counts a committed redemption in `/metrics`.
    pub(super) fn count_redemption(&self, accepted: bool) {
        inc(if accepted {
            &self.metrics.tap_redemptions_accepted
        } else {
            &self.metrics.tap_redemptions_rejected
        });
    }

    /// [`Self::redeem_tap`] inside the caller's write transaction, which must commit whatever
    /// the outcome (the audit record, the failure count). `None`: refused.
    ///
    /// Every attempt runs the same steps — one read returning one row (user, pass, groups,
    /// policy: [`sign_in::facts`]), the same keyed-hash check, the same writes — whether or
    /// not the user exists or holds a pass: how long the answer takes must not tell which.
    /// The usage write of an absent pass matches no row; a refusal that changes no counter
    /// writes no row either.
    pub(super) async fn redeem_in(
        &self,
        tx: &mut Connection,
        attempt: PassAttempt<'_>,
    ) -> Result<Option<Redeemed>> {
        let input = SecretString::new(tap::normalise_input(attempt.pass.expose()));
        let now = self.now();
        let SignInFacts {
            user,
            pass: stored,
            group_ids: groups,
            policy,
        } = sign_in::facts(tx, attempt.user_principal_name).await?;
        let policy = policy.unwrap_or_default();
        let (record, secret_hash) = match &stored {
            Some(s) => (s.record.clone(), s.secret_hash.as_slice()),
            None => (TapRecord::absent(now), &[0u8; 32][..]),
        };
        let matches =
            self.tap_hasher
                .verify(record.id.as_bytes(), input.expose().as_bytes(), secret_hash);
        let ctx = Context {
            policy_enabled: policy.state == PolicyState::Enabled,
            user_targeted: policy.enabled_for(&groups),
            account_enabled: user.as_ref().is_some_and(|u| u.account_enabled),
        };
        let outcome = tap::redeem(
            &record,
            ctx,
            matches,
            self.settings.max_failed_attempts,
            now,
        );
        let updated = record.after(outcome, now);
        taps::update_usage(tx, &updated).await?;
        let failure = |activity, initiator: Initiator| {
            AuditRecord::new(activity, initiator, now)
                .client(attempt.client_address)
                .correlation(attempt.correlation_id)
                .coalescing(self.settings.audit_coalesce_window)
        };
        let (Some(user), true) = (user, stored.is_some()) else {
            let record = failure(
                Activity::TapSignInFailed,
                Initiator {
                    kind: "user".into(),
                    id: None,
                    display_name: truncate(attempt.user_principal_name),
                },
            )
            .failed("no such user or no pass");
            audit::insert(tx, &record).await?;
            return Ok(None);
        };
        let initiator = Initiator {
            kind: "user".into(),
            id: Some(user.id.to_string()),
            display_name: user.user_principal_name.clone(),
        };
        let on_user = |r: AuditRecord| {
            r.target("User", user.id, Some(&user.user_principal_name))
                .detail("temporaryAccessPassId", record.id)
        };
        match outcome {
            Redemption::Accepted { consumed } => {
                let signed_in = AuditRecord::new(Activity::TapSignIn, initiator, now)
                    .client(attempt.client_address)
                    .correlation(attempt.correlation_id);
                audit::insert(tx, &on_user(signed_in).detail("consumed", consumed)).await?;
                Ok(Some(Redeemed {
                    tap_id: record.id,
                    expires_at: record.expires_at(),
                    user,
                }))
            }
            Redemption::Unusable(u) => {
                let why = u.detail.map_or(u.reason.as_str(), |d| d.as_str());
                let refused = failure(Activity::TapSignInFailed, initiator).failed(why);
                audit::insert(tx, &on_user(refused)).await?;
                Ok(None)
            }
            Redemption::WrongCode { locks } => {
                let wrong = failure(Activity::TapSignInFailed, initiator.clone())
                    .failed("wrong pass")
                    .detail("failedAttempts", updated.failed_attempts);
                audit::insert(tx, &on_user(wrong)).await?;
                if locks {
                    let locked = AuditRecord::new(Activity::TapLocked, initiator.clone(), now)
                        .client(attempt.client_address)
                        .correlation(attempt.correlation_id)
                        .detail("failedAttempts", updated.failed_attempts);
                    audit::insert(tx, &on_user(locked)).await?;
                    end_sessions_of_pass(
                        tx,
                        record.id,
                        &user,
                        initiator,
                        "pass locked after repeated wrong codes",
                        attempt.correlation_id,
                        now,
                    )
                    .await?;
                    inc(&self.metrics.taps_locked);
                }
                Ok(None)
            }
        }
    }

    /// Deletes passes that expired longer ago than the retention period. Returns how many.
    pub async fn purge_expired_taps(&self, caller: &Caller) -> Result<usize> {
        // Housekeeping run by the server's scheduler and the CLI, both as the operator.
        caller.actor.check_manage_policy()?;
        let now = self.now();
        let mut tx = self.store.write_background().await?;
        let purged = taps::purge_expired_before(&mut tx, now - self.settings.tap_retention).await?;
        if !purged.is_empty() {
            let record = AuditRecord::new(Activity::TapsPurged, (&caller.actor).into(), now)
                .detail("count", purged.len())
                .detail("retentionDays", self.settings.tap_retention.whole_days())
                .correlation(caller.correlation_id);
            audit::insert(&mut tx, &record).await?;
        }
        tx.commit().await?;
        Ok(purged.len())
    }
}

/// Audit fields hold what an unauthenticated client typed: bound their size.
fn truncate(s: &str) -> String {
    s.chars().take(256).collect()
}
