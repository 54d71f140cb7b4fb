//! A message's pass minted in Microsoft Entra instead of locally: which Entra user, whether a
//! pass they have may be replaced, and what each of Entra's answers means for the message.
//! The delivery worker ([`super::delivery`]) calls these between claiming a message and
//! handing it to SMTP; the pass lives in memory only, as a local one does.
//!
//! | Entra's answer | the message |
//! |---|---|
//! | no such user (directory sync lags) | waits, backing off, until `entra.user_wait_hours` after it was queued; then fails |
//! | 429, 503 | waits for `Retry-After`; the wait is not counted as an attempt |
//! | 400 (the tenant's policy), 401, 403 (a permission) | fails, Entra's code and message kept |
//! | 5xx, timeout, no answer | retries with backoff, counted |
//! | a pass the user has that this message did not create | fails, unless the rule replaces it |

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use plugin::domain::directory::User;
use plugin::domain::outbox::EntraPass;
use plugin::domain::timefmt::{parse_rfc3339, rfc3339};
use serde_json::Value;
use time::OffsetDateTime;

use crate::entra::{Entra, EntraError, PassMethod, PassRequest, UserKey, UserMatch};
use crate::ldap::controls::guid::ObjectGuid;

/// Clock difference allowed between tapbridge and Entra when telling whether a pass was
/// created after this message asked for one.
const SKEW: time::Duration = time::Duration::minutes(5);
/// A pause Entra asked for without saying how long.
const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// The connector, as the delivery worker uses it.
pub struct EntraMinting {
    pub entra: Arc<Entra>,
    /// Sources (`ldap:corp`) whose users' anchor is an AD objectGUID, the value Entra Connect
    /// and Cloud Sync put in `onPremisesImmutableId`.
    pub guid_sources: HashSet<String>,
}

/// What a message asks of Entra, from its params.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    pub rule: String,
    pub request: PassRequest,
    pub replace_existing: bool,
}

impl Terms {
    /// `None` for a message whose pass is minted locally.
    pub fn from_params(params: &Value) -> Option<Terms> {
        if params.get("mint").and_then(Value::as_str) != Some("entra") {
            return None;
        }
        Some(Terms {
            rule: params
                .get("rule")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            request: PassRequest {
                lifetime_in_minutes: params
                    .get("lifetimeInMinutes")
                    .and_then(Value::as_u64)
                    .and_then(|v| u32::try_from(v).ok()),
                is_usable_once: params.get("isUsableOnce").and_then(Value::as_bool),
                start_date_time: params
                    .get("startDateTime")
                    .and_then(Value::as_str)
                    .and_then(parse_rfc3339),
            },
            replace_existing: params
                .get("replaceExistingPass")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }
}

/// A message's Entra side for listings: the Entra user, the pass's method id (never the
/// pass), and the deletion of a leaver's pass.
pub fn listing(state: &EntraPass) -> Value {
    serde_json::json!({
        "userId": state.user_id,
        "methodId": state.method_id,
        "removal": state.removal,
        "removalError": state.removal_error,
    })
}

/// Why no pass came out of Entra, and what becomes of the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoPass {
    /// Try again at `at`, without counting an attempt: Entra asked for a pause, or the user
    /// is not there yet.
    Wait { at: OffsetDateTime, reason: String },
    /// Try again with the usual backoff, counting the attempt.
    Retry { reason: String },
    /// Give up; the reason is kept for the operator.
    Fail { reason: String },
}

impl NoPass {
    pub fn reason(&self) -> &str {
        match self {
            NoPass::Wait { reason, .. } | NoPass::Retry { reason } | NoPass::Fail { reason } => {
                reason
            }
        }
    }
}

impl EntraMinting {
    /// How `user` is found in Entra.
    pub fn user_key(&self, user: &User) -> Result<UserKey, NoPass> {
        match self.entra.user_match {
            UserMatch::UserPrincipalName => {
                Ok(UserKey::UserPrincipalName(user.user_principal_name.clone()))
            }
            UserMatch::OnPremisesImmutableId => {
                let guid = user
                    .anchor
                    .as_deref()
                    .filter(|_| self.guid_sources.contains(&user.source))
                    .and_then(|a| ObjectGuid::from_str(a).ok())
                    .ok_or_else(|| NoPass::Fail {
                        reason: format!(
                            "`{}` (source {}) has no Active Directory objectGUID to find them in Entra by onPremisesImmutableId",
                            user.user_principal_name, user.source
                        ),
                    })?;
                Ok(UserKey::OnPremisesImmutableId(
                    base64::engine::general_purpose::STANDARD.encode(guid.as_bytes()),
                ))
            }
        }
    }

    /// The user is not in Entra (yet): wait with `backoff`, until the horizon counted from
    /// when the message was queued.
    pub fn not_there_yet(
        &self,
        key: &UserKey,
        queued_at: OffsetDateTime,
        backoff: Duration,
        now: OffsetDateTime,
    ) -> NoPass {
        let horizon = queued_at
            + time::Duration::try_from(self.entra.user_wait).unwrap_or(time::Duration::DAY);
        if now >= horizon {
            return NoPass::Fail {
                reason: format!(
                    "no Entra user with {key} appeared within {} hours (entra.user_wait_hours)",
                    self.entra.user_wait.as_secs() / 3600
                ),
            };
        }
        let next = (now + time::Duration::try_from(backoff).unwrap_or(time::Duration::MINUTE))
            .min(horizon);
        NoPass::Wait {
            at: next,
            reason: format!(
                "no Entra user with {key} yet (directory sync?); looking again until {}",
                rfc3339(horizon)
            ),
        }
    }
}

/// What an Entra error means for the message. `doing` names the step (`creating the pass`).
pub fn outcome(e: &EntraError, doing: &str, now: OffsetDateTime) -> NoPass {
    match e {
        EntraError::Throttled { retry_after, .. } => {
            let wait = retry_after
                .unwrap_or(DEFAULT_WAIT)
                .max(Duration::from_secs(1));
            NoPass::Wait {
                at: now + time::Duration::try_from(wait).unwrap_or(time::Duration::MINUTE),
                reason: format!("Entra {doing}: {e}"),
            }
        }
        EntraError::Unavailable(_) => NoPass::Retry {
            reason: format!("Entra {doing}: {e}"),
        },
        EntraError::Refused { .. } | EntraError::NotFound { .. } => NoPass::Fail {
            reason: format!("Entra {doing}: {e}"),
        },
    }
}

/// Whether `existing` is a pass tapbridge created: one on record for the user (`known`, from
/// this or an earlier message — a resend replaces the first mail's pass), or one created after
/// this message asked for it (a crash lost its id).
pub fn is_ours(existing: &PassMethod, state: &EntraPass, known: &[String]) -> bool {
    if state.method_id.as_deref() == Some(existing.id.as_str()) || known.contains(&existing.id) {
        return true;
    }
    match (state.minting_at, existing.created) {
        (Some(asked), Some(created)) => created >= asked - SKEW,
        _ => false,
    }
}

/// The refusal for a pass the user already has that the rule does not replace.
pub fn not_replaced(upn: &str, existing: &PassMethod, rule: &str) -> NoPass {
    NoPass::Fail {
        reason: format!(
            "`{upn}` already has a Temporary Access Pass in Entra (method {}{}); rule `{rule}` does not replace it (replace_existing_pass = false)",
            existing.id,
            existing
                .created
                .map(|c| format!(", created {}", rfc3339(c)))
                .unwrap_or_default()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entra::EntraConfig;
    use plugin::clock::ManualClock;
    use plugin::domain::role::Roles;
    use plugin::secret::SecretString;
    use serde_json::json;
    use time::macros::datetime;
    use uuid::Uuid;

    const NOW: OffsetDateTime = datetime!(2026-11-27 09:00 UTC);

    fn minting(by: UserMatch) -> EntraMinting {
        let config = EntraConfig {
            tenant_id: "t".into(),
            client_id: "00000000-0000-0000-0000-00000000000a".into(),
            client_secret: Some(SecretString::new("s".into())),
            user_match: by,
            user_wait_hours: 24,
            ..EntraConfig::default()
        };
        EntraMinting {
            entra: Entra::from_config(&config, Arc::new(ManualClock::new(NOW)))
                .unwrap()
                .unwrap(),
            guid_sources: ["ldap:ad".to_owned()].into(),
        }
    }

    fn user(source: &str, anchor: Option<&str>) -> User {
        User {
            id: Uuid::nil(),
            user_principal_name: "ada@corp.example".into(),
            display_name: None,
            given_name: None,
            surname: None,
            mail: None,
            other_mails: vec![],
            personal_email: None,
            preferred_language: None,
            account_enabled: true,
            source: source.into(),
            anchor: anchor.map(str::to_owned),
            manager_id: None,
            employee_hire_date: None,
            roles: Roles::default(),
            created_at: NOW,
            updated_at: NOW,
        }
    }

    #[test]
    fn terms_come_from_the_params_the_rule_left() {
        assert_eq!(
            Terms::from_params(&json!({"rule": "r", "lifetimeInMinutes": 60})),
            None
        );
        let t = Terms::from_params(&json!({"rule": "r", "mint": "entra", "lifetimeInMinutes": 120,
            "isUsableOnce": true, "startDateTime": "2026-12-01T08:00:00.000Z", "replaceExistingPass": true}))
        .unwrap();
        assert_eq!(
            t,
            Terms {
                rule: "r".into(),
                request: PassRequest {
                    lifetime_in_minutes: Some(120),
                    is_usable_once: Some(true),
                    start_date_time: Some(datetime!(2026-12-01 08:00 UTC)),
                },
                replace_existing: true,
            }
        );
        let bare =
            Terms::from_params(&json!({"mint": "entra", "lifetimeInMinutes": null})).unwrap();
        assert_eq!(bare.request, PassRequest::default());
        assert!(!bare.replace_existing);
    }

    #[test]
    fn users_are_found_by_upn_or_by_their_objectguid() {
        let upn = minting(UserMatch::UserPrincipalName);
        assert_eq!(
            upn.user_key(&user("scim:hr", None)),
            Ok(UserKey::UserPrincipalName("ada@corp.example".into()))
        );
        let guid = minting(UserMatch::OnPremisesImmutableId);
        // objectGUID text 67452c0a-ab89-efcd-0123-456789abcdef is stored by AD as the bytes
        // 0a 2c 45 67 89 ab cd ef 01 23 …, whose base64 Entra Connect writes.
        let key = guid
            .user_key(&user(
                "ldap:ad",
                Some("67452c0a-ab89-efcd-0123-456789abcdef"),
            ))
            .unwrap();
        assert_eq!(
            key,
            UserKey::OnPremisesImmutableId("CixFZ4mrze8BI0VniavN7w==".into())
        );
        for (source, anchor) in [
            ("ldap:ad", None),
            (
                "ldap:openldap",
                Some("67452c0a-ab89-efcd-0123-456789abcdef"),
            ),
            ("ldap:ad", Some("nope")),
        ] {
            assert!(
                matches!(guid.user_key(&user(source, anchor)), Err(NoPass::Fail { reason }) if reason.contains("objectGUID"))
            );
        }
    }

    #[test]
    fn a_missing_user_is_waited_for_until_the_horizon() {
        let m = minting(UserMatch::UserPrincipalName);
        let key = UserKey::UserPrincipalName("ada@corp.example".into());
        let queued = NOW - time::Duration::hours(1);
        assert!(matches!(
            m.not_there_yet(&key, queued, Duration::from_secs(60), NOW),
            NoPass::Wait { at, .. } if at == NOW + time::Duration::MINUTE
        ));
        // The last wait ends at the horizon, not after it.
        let late = NOW + time::Duration::hours(22) + time::Duration::minutes(59);
        assert!(matches!(
            m.not_there_yet(&key, queued, Duration::from_secs(3600), late),
            NoPass::Wait { at, .. } if at == queued + time::Duration::hours(24)
        ));
        let over = m.not_there_yet(
            &key,
            queued,
            Duration::from_secs(60),
            queued + time::Duration::hours(24),
        );
        assert!(
            matches!(&over, NoPass::Fail { reason } if reason.contains("within 24 hours") && reason.contains("userPrincipalName `ada@corp.example`"))
        );
    }

    #[test]
    fn entras_answers_become_outcomes() {
        let throttled = EntraError::Throttled {
            status: 429,
            retry_after: Some(Duration::from_secs(7)),
            code: "TooManyRequests".into(),
            message: "m".into(),
        };
        assert!(
            matches!(outcome(&throttled, "creating the pass", NOW), NoPass::Wait { at, .. } if at == NOW + time::Duration::seconds(7))
        );
        let silent = EntraError::Throttled {
            status: 503,
            retry_after: None,
            code: "x".into(),
            message: "m".into(),
        };
        assert!(
            matches!(outcome(&silent, "x", NOW), NoPass::Wait { at, .. } if at == NOW + time::Duration::seconds(30))
        );
        assert!(matches!(
            outcome(&EntraError::Unavailable("502".into()), "x", NOW),
            NoPass::Retry { .. }
        ));
        let policy = EntraError::Refused {
            status: 400,
            code: "badRequest".into(),
            message: "Invalid LifetimeInMinutes specified. The valid range between 60 and 480."
                .into(),
        };
        let failed = outcome(&policy, "creating the pass", NOW);
        assert_eq!(failed, NoPass::Fail { reason: "Entra creating the pass: refused (400 badRequest): Invalid LifetimeInMinutes specified. The valid range between 60 and 480.".into() });
        assert_eq!(
            failed.reason(),
            "Entra creating the pass: refused (400 badRequest): Invalid LifetimeInMinutes specified. The valid range between 60 and 480."
        );
        assert!(matches!(
            outcome(
                &EntraError::Refused {
                    status: 403,
                    code: "accessDenied".into(),
                    message: "m".into()
                },
                "x",
                NOW
            ),
            NoPass::Fail { .. }
        ));
    }

    #[test]
    fn a_pass_is_ours_by_id_or_by_when_it_was_made() {
        let pass = |id: &str, created: OffsetDateTime| PassMethod {
            id: id.into(),
            created: Some(created),
            start: None,
            lifetime_in_minutes: Some(60),
            is_usable_once: Some(true),
            is_usable: Some(true),
            method_usability_reason: None,
        };
        let state = EntraPass {
            method_id: Some("m1".into()),
            minting_at: Some(NOW),
            ..Default::default()
        };
        assert!(is_ours(
            &pass("m1", NOW - time::Duration::days(3)),
            &state,
            &[]
        ));
        assert!(
            is_ours(&pass("m2", NOW + time::Duration::seconds(1)), &state, &[]),
            "created after we asked, id lost in a crash"
        );
        assert!(
            is_ours(&pass("m2", NOW - time::Duration::minutes(4)), &state, &[]),
            "clock skew"
        );
        assert!(!is_ours(
            &pass("m2", NOW - time::Duration::hours(1)),
            &state,
            &[]
        ));
        assert!(
            !is_ours(&pass("m2", NOW), &EntraPass::default(), &[]),
            "never asked: not ours"
        );
        assert!(
            is_ours(
                &pass("m2", NOW - time::Duration::days(1)),
                &EntraPass::default(),
                &["m0".into(), "m2".into()]
            ),
            "an earlier message's pass"
        );
        let refusal = not_replaced("ada@corp.example", &pass("m9", NOW), "joiners");
        assert!(
            matches!(refusal, NoPass::Fail { reason } if reason.contains("already has a Temporary Access Pass") && reason.contains("m9") && reason.contains("replace_existing_pass"))
        );
    }
}
