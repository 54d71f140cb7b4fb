//! The Temporary Access Pass policy, shaped like Graph's
//! `temporaryAccessPassAuthenticationMethodConfiguration`.

use std::collections::HashSet;
use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::{Error, Result};

/// Lifetimes Graph accepts, in minutes: ten minutes to thirty days.
pub const LIFETIME_RANGE: RangeInclusive<u32> = 10..=43_200;
/// Pass lengths Graph accepts.
pub const LENGTH_RANGE: RangeInclusive<u32> = 8..=48;
/// The target id that means every user.
pub const ALL_USERS: &str = "all_users";
/// How far in the past a requested start may lie: clock skew between caller and server.
pub const START_SKEW: Duration = Duration::minutes(5);
/// How far in the future a pass may start. A hire date months away still fits; a pass that
/// becomes valid years from now would be a forgotten credential.
pub const MAX_START_AHEAD: Duration = Duration::days(180);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PolicyState {
    Enabled,
    Disabled,
}

/// Graph's `authenticationMethodTarget` (include) and `excludeTarget` (exclude).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Target {
    pub target_type: String,
    /// `all_users` or a group id.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_registration_required: Option<bool>,
}

impl Target {
    pub fn all_users() -> Self {
        Target {
            target_type: "group".into(),
            id: ALL_USERS.into(),
            is_registration_required: Some(false),
        }
    }

    pub fn group(id: Uuid) -> Self {
        Target {
            target_type: "group".into(),
            id: id.to_string(),
            is_registration_required: Some(false),
        }
    }

    /// The group this target names, `None` for `all_users`.
    pub fn group_id(&self) -> Option<Uuid> {
        Uuid::parse_str(&self.id).ok()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TapPolicy {
    pub state: PolicyState,
    pub include_targets: Vec<Target>,
    pub exclude_targets: Vec<Target>,
    pub minimum_lifetime_in_minutes: u32,
    pub maximum_lifetime_in_minutes: u32,
    pub default_lifetime_in_minutes: u32,
    pub default_length: u32,
    pub is_usable_once: bool,
}

impl Default for TapPolicy {
    /// Entra's defaults, except that the method starts enabled for all users: issuing passes is
    /// what tapbridge is for.
    fn default() -> Self {
        TapPolicy {
            state: PolicyState::Enabled,
            include_targets: vec![Target::all_users()],
            exclude_targets: vec![],
            minimum_lifetime_in_minutes: 60,
            maximum_lifetime_in_minutes: 480,
            default_lifetime_in_minutes: 60,
            default_length: 8,
            is_usable_once: false,
        }
    }
}

/// A PATCH of the policy. Absent fields keep their value; target lists are replaced whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TapPolicyPatch {
    /// Graph clients send the type annotation; it is accepted and checked.
    #[serde(rename = "@odata.type")]
    pub odata_type: Option<String>,
    /// Graph clients may echo the id; it must be the policy's own.
    pub id: Option<String>,
    pub state: Option<PolicyState>,
    pub include_targets: Option<Vec<Target>>,
    pub exclude_targets: Option<Vec<Target>>,
    pub minimum_lifetime_in_minutes: Option<u32>,
    pub maximum_lifetime_in_minutes: Option<u32>,
    pub default_lifetime_in_minutes: Option<u32>,
    pub default_length: Option<u32>,
    pub is_usable_once: Option<bool>,
}

pub const POLICY_ID: &str = "TemporaryAccessPass";
pub const POLICY_ODATA_TYPE: &str =
    "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration";

impl TapPolicy {
    /// Checks every rule Graph enforces, and that targets are well-formed. Group existence is
    /// checked by the caller, which can see the store.
    pub fn validate(&self) -> Result<()> {
        let in_range = |name: &str, v: u32, r: &RangeInclusive<u32>| {
            if r.contains(&v) {
                Ok(())
            } else {
                Err(Error::invalid(format!(
                    "{name} must be between {} and {}, got {v}",
                    r.start(),
                    r.end()
                )))
            }
        };
        in_range(
            "minimumLifetimeInMinutes",
            self.minimum_lifetime_in_minutes,
            &LIFETIME_RANGE,
        )?;
        in_range(
            "maximumLifetimeInMinutes",
            self.maximum_lifetime_in_minutes,
            &LIFETIME_RANGE,
        )?;
        in_range(
            "defaultLifetimeInMinutes",
            self.default_lifetime_in_minutes,
            &LIFETIME_RANGE,
        )?;
        in_range("defaultLength", self.default_length, &LENGTH_RANGE)?;
        if self.minimum_lifetime_in_minutes > self.maximum_lifetime_in_minutes {
            return Err(Error::invalid(format!(
                "minimumLifetimeInMinutes ({}) must not exceed maximumLifetimeInMinutes ({})",
                self.minimum_lifetime_in_minutes, self.maximum_lifetime_in_minutes
            )));
        }
        if !(self.minimum_lifetime_in_minutes..=self.maximum_lifetime_in_minutes)
            .contains(&self.default_lifetime_in_minutes)
        {
            return Err(Error::invalid(format!(
                "defaultLifetimeInMinutes ({}) must lie between minimumLifetimeInMinutes ({}) and maximumLifetimeInMinutes ({})",
                self.default_lifetime_in_minutes,
                self.minimum_lifetime_in_minutes,
                self.maximum_lifetime_in_minutes
            )));
        }
        check_targets("includeTargets", &self.include_targets, true)?;
        check_targets("excludeTargets", &self.exclude_targets, false)?;
        Ok(())
    }

    /// The policy with `patch` applied, validated. `self` is left unchanged.
    pub fn patched(&self, patch: TapPolicyPatch) -> Result<TapPolicy> {
        if let Some(t) = &patch.odata_type
            && t != POLICY_ODATA_TYPE
        {
            return Err(Error::invalid(format!(
                "@odata.type must be {POLICY_ODATA_TYPE}"
            )));
        }
        if let Some(id) = &patch.id
            && id != POLICY_ID
        {
            return Err(Error::invalid(format!("id must be {POLICY_ID}")));
        }
        let mut p = self.clone();
        if let Some(v) = patch.state {
            p.state = v;
        }
        if let Some(v) = patch.include_targets {
            p.include_targets = v;
        }
        if let Some(v) = patch.exclude_targets {
            p.exclude_targets = v;
        }
        if let Some(v) = patch.minimum_lifetime_in_minutes {
            p.minimum_lifetime_in_minutes = v;
        }
        if let Some(v) = patch.maximum_lifetime_in_minutes {
            p.maximum_lifetime_in_minutes = v;
        }
        if let Some(v) = patch.default_lifetime_in_minutes {
            p.default_lifetime_in_minutes = v;
        }
        if let Some(v) = patch.default_length {
            p.default_length = v;
        }
        if let Some(v) = patch.is_usable_once {
            p.is_usable_once = v;
        }
        p.validate()?;
        Ok(p)
    }

    /// The groups the targets name (to check they exist).
    pub fn target_groups(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.include_targets
            .iter()
            .chain(&self.exclude_targets)
            .filter_map(Target::group_id)
    }

    /// Whether the method is enabled for a user who belongs to `groups`.
    pub fn enabled_for(&self, groups: &HashSet<Uuid>) -> bool {
        if self.state != PolicyState::Enabled {
            return false;
        }
        let member =
            |t: &Target| t.id == ALL_USERS || t.group_id().is_some_and(|g| groups.contains(&g));
        self.include_targets.iter().any(member) && !self.exclude_targets.iter().any(member)
    }

    /// The terms of a new pass: the request checked against the policy, defaults filled in.
    pub fn terms(&self, request: &TapRequest, now: OffsetDateTime) -> Result<TapTerms> {
        let lifetime = request
            .lifetime_in_minutes
            .unwrap_or(self.default_lifetime_in_minutes);
        let (min, max) = (
            self.minimum_lifetime_in_minutes,
            self.maximum_lifetime_in_minutes,
        );
        if !(min..=max).contains(&lifetime) {
            return Err(Error::PolicyViolation(format!(
                "lifetimeInMinutes must be between {min} and {max} minutes under the Temporary Access Pass policy, got {lifetime}"
            )));
        }
        let is_usable_once = match (self.is_usable_once, request.is_usable_once) {
            (true, Some(false)) => {
                return Err(Error::PolicyViolation(
                    "the Temporary Access Pass policy requires one-time passes: isUsableOnce cannot be false".into(),
                ));
            }
            (true, _) => true,
            (false, requested) => requested.unwrap_or(false),
        };
        if let Some(start) = request.start_date_time {
            if start < now - START_SKEW {
                return Err(Error::invalid("startDateTime must not be in the past"));
            }
            if start > now + MAX_START_AHEAD {
                return Err(Error::invalid(format!(
                    "startDateTime must be within {} days from now",
                    MAX_START_AHEAD.whole_days()
                )));
            }
        }
        Ok(TapTerms {
            start_date_time: request.start_date_time,
            lifetime_in_minutes: lifetime,
            is_usable_once,
            length: self.default_length as usize,
        })
    }
}

fn check_targets(name: &str, targets: &[Target], include: bool) -> Result<()> {
    let mut seen = HashSet::new();
    for t in targets {
        if t.target_type != "group" {
            return Err(Error::invalid(format!(
                "{name}: targetType must be `group`, got `{}`",
                t.target_type
            )));
        }
        let valid_id = t.group_id().is_some() || (include && t.id == ALL_USERS);
        if !valid_id {
            let expected = if include {
                "`all_users` or a group id"
            } else {
                "a group id"
            };
            return Err(Error::invalid(format!(
                "{name}: id must be {expected}, got `{}`",
                t.id
            )));
        }
        if !include && t.is_registration_required.is_some() {
            return Err(Error::invalid(format!(
                "{name}: isRegistrationRequired applies to includeTargets only"
            )));
        }
        if !seen.insert(t.id.to_ascii_lowercase()) {
            return Err(Error::invalid(format!("{name}: `{}` appears twice", t.id)));
        }
    }
    Ok(())
}

/// What an administrator asks for when creating a pass; every field optional, as in Graph.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TapRequest {
    pub start_date_time: Option<OffsetDateTime>,
    pub lifetime_in_minutes: Option<u32>,
    pub is_usable_once: Option<bool>,
}

/// A request resolved against the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapTerms {
    pub start_date_time: Option<OffsetDateTime>,
    pub lifetime_in_minutes: u32,
    pub is_usable_once: bool,
    pub length: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-27 09:00 UTC);

    fn with(f: impl FnOnce(&mut TapPolicy)) -> TapPolicy {
        let mut p = TapPolicy::default();
        f(&mut p);
        p
    }

    #[test]
    fn validation_table() {
        let g = Uuid::new_v4();
        let cases: Vec<(&str, TapPolicy, Option<&str>)> = vec![
            ("defaults", TapPolicy::default(), None),
            (
                "min below 10",
                with(|p| p.minimum_lifetime_in_minutes = 9),
                Some("minimumLifetimeInMinutes must be between 10 and 43200"),
            ),
            (
                "max above 30 days",
                with(|p| p.maximum_lifetime_in_minutes = 43_201),
                Some("maximumLifetimeInMinutes"),
            ),
            (
                "extremes",
                with(|p| {
                    p.minimum_lifetime_in_minutes = 10;
                    p.default_lifetime_in_minutes = 10;
                    p.maximum_lifetime_in_minutes = 43_200;
                }),
                None,
            ),
            (
                "min above max",
                with(|p| {
                    p.minimum_lifetime_in_minutes = 500;
                }),
                Some("must not exceed"),
            ),
            (
                "default below min",
                with(|p| {
                    p.minimum_lifetime_in_minutes = 120;
                    p.default_lifetime_in_minutes = 60;
                }),
                Some("defaultLifetimeInMinutes (60) must lie between"),
            ),
            (
                "default above max",
                with(|p| p.default_lifetime_in_minutes = 481),
                Some("must lie between"),
            ),
            (
                "length 7",
                with(|p| p.default_length = 7),
                Some("defaultLength must be between 8 and 48"),
            ),
            ("length 48", with(|p| p.default_length = 48), None),
            (
                "length 49",
                with(|p| p.default_length = 49),
                Some("defaultLength"),
            ),
            (
                "group target",
                with(|p| p.include_targets = vec![Target::group(g)]),
                None,
            ),
            (
                "user target type",
                with(|p| {
                    p.include_targets = vec![Target {
                        target_type: "user".into(),
                        ..Target::all_users()
                    }]
                }),
                Some("targetType must be `group`"),
            ),
            (
                "bad id",
                with(|p| {
                    p.include_targets = vec![Target {
                        id: "sales".into(),
                        ..Target::all_users()
                    }]
                }),
                Some("id must be"),
            ),
            (
                "duplicate",
                with(|p| p.include_targets = vec![Target::group(g), Target::group(g)]),
                Some("appears twice"),
            ),
            (
                "exclude all_users",
                with(|p| {
                    p.exclude_targets = vec![Target {
                        is_registration_required: None,
                        ..Target::all_users()
                    }]
                }),
                Some("excludeTargets: id must be a group id"),
            ),
            ("empty include", with(|p| p.include_targets = vec![]), None),
        ];
        for (name, policy, expected) in cases {
            let got = policy.validate();
            match expected {
                None => assert!(got.is_ok(), "{name}: {got:?}"),
                Some(text) => {
                    let msg = got.expect_err(name).to_string();
                    assert!(msg.contains(text), "{name}: {msg}");
                }
            }
        }
    }

    #[test]
    fn patch_applies_and_validates_whole() {
        let p = TapPolicy::default();
        let patched = p
            .patched(TapPolicyPatch {
                odata_type: Some(POLICY_ODATA_TYPE.into()),
                maximum_lifetime_in_minutes: Some(1440),
                is_usable_once: Some(true),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(patched.maximum_lifetime_in_minutes, 1440);
        assert!(patched.is_usable_once);
        assert_eq!(patched.default_length, 8);
        // Consistent field by field, inconsistent together.
        let err = p
            .patched(TapPolicyPatch {
                minimum_lifetime_in_minutes: Some(600),
                ..Default::default()
            })
            .unwrap_err();
        assert!(err.to_string().contains("must not exceed"));
        assert!(
            p.patched(TapPolicyPatch {
                id: Some("Fido2".into()),
                ..Default::default()
            })
            .is_err()
        );
        assert!(
            p.patched(TapPolicyPatch {
                odata_type: Some("#x".into()),
                ..Default::default()
            })
            .is_err()
        );
    }

    #[test]
    fn patch_rejects_unknown_fields() {
        let err = serde_json::from_str::<TapPolicyPatch>(r#"{"maximumLifetime": 5}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"));
        let ok: TapPolicyPatch = serde_json::from_str(
            r##"{"@odata.type":"#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration","state":"disabled"}"##,
        )
        .unwrap();
        assert_eq!(ok.state, Some(PolicyState::Disabled));
    }

    #[test]
    fn targeting() {
        let (sales, contractors) = (Uuid::new_v4(), Uuid::new_v4());
        let groups = |ids: &[Uuid]| ids.iter().copied().collect::<HashSet<_>>();
        let all = TapPolicy::default();
        assert!(all.enabled_for(&groups(&[])));
        let p = with(|p| {
            p.include_targets = vec![Target::group(sales)];
            p.exclude_targets = vec![Target {
                is_registration_required: None,
                ..Target::group(contractors)
            }];
        });
        assert!(p.enabled_for(&groups(&[sales])));
        assert!(!p.enabled_for(&groups(&[])));
        assert!(!p.enabled_for(&groups(&[sales, contractors])));
        let off = with(|p| p.state = PolicyState::Disabled);
        assert!(!off.enabled_for(&groups(&[sales])));
    }

    #[test]
    fn terms_table() {
        let p = TapPolicy::default();
        let req = |l: Option<u32>, once: Option<bool>, start: Option<OffsetDateTime>| TapRequest {
            lifetime_in_minutes: l,
            is_usable_once: once,
            start_date_time: start,
        };
        let t = p.terms(&req(None, None, None), NOW).unwrap();
        assert_eq!(
            (t.lifetime_in_minutes, t.is_usable_once, t.length),
            (60, false, 8)
        );
        assert_eq!(
            p.terms(&req(Some(480), Some(true), None), NOW)
                .unwrap()
                .lifetime_in_minutes,
            480
        );
        let err = p
            .terms(&req(Some(481), None, None), NOW)
            .unwrap_err()
            .to_string();
        assert!(err.contains("between 60 and 480"), "{err}");
        assert!(p.terms(&req(Some(59), None, None), NOW).is_err());
        let future = NOW + Duration::days(10);
        assert_eq!(
            p.terms(&req(None, None, Some(future)), NOW)
                .unwrap()
                .start_date_time,
            Some(future)
        );
        assert!(
            p.terms(&req(None, None, Some(NOW - Duration::minutes(4))), NOW)
                .is_ok()
        );
        assert!(
            p.terms(&req(None, None, Some(NOW - Duration::minutes(6))), NOW)
                .is_err()
        );
        assert!(
            p.terms(&req(None, None, Some(NOW + Duration::days(181))), NOW)
                .is_err()
        );

        let once = with(|p| p.is_usable_once = true);
        assert!(
            once.terms(&req(None, None, None), NOW)
                .unwrap()
                .is_usable_once
        );
        assert!(
            once.terms(&req(None, Some(true), None), NOW)
                .unwrap()
                .is_usable_once
        );
        assert!(matches!(
            once.terms(&req(None, Some(false), None), NOW),
            Err(Error::PolicyViolation(_))
        ));
    }
}
