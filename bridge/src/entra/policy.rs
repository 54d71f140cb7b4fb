//! The tenant's Temporary Access Pass policy as Graph returns it, and whether a rule's pass
//! terms fit it. The terms are checked by the same function that checks tapbridge's own
//! passes ([`plugin::domain::tap_policy::TapPolicy::terms`]), since the two policies are the
//! same Graph type with the same rules.

use plugin::domain::tap_policy::{PolicyState, TapPolicy, TapRequest, Target};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// `temporaryAccessPassAuthenticationMethodConfiguration`. Missing numbers take Entra's
/// defaults; unknown properties are ignored (Graph adds them over time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantPolicy {
    pub state: String,
    #[serde(default = "sixty")]
    pub minimum_lifetime_in_minutes: u32,
    #[serde(default = "four_eighty")]
    pub maximum_lifetime_in_minutes: u32,
    #[serde(default = "sixty")]
    pub default_lifetime_in_minutes: u32,
    #[serde(default = "eight")]
    pub default_length: u32,
    #[serde(default)]
    pub is_usable_once: bool,
    #[serde(default)]
    pub include_targets: Vec<PolicyTarget>,
    #[serde(default)]
    pub exclude_targets: Vec<PolicyTarget>,
}

fn sixty() -> u32 {
    60
}
fn four_eighty() -> u32 {
    480
}
fn eight() -> u32 {
    8
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyTarget {
    #[serde(default)]
    pub target_type: String,
    pub id: String,
}

impl TenantPolicy {
    pub fn from_graph(body: &[u8]) -> Result<TenantPolicy, String> {
        serde_json::from_slice(body).map_err(|e| e.to_string())
    }

    pub fn enabled(&self) -> bool {
        self.state.eq_ignore_ascii_case("enabled")
    }

    /// Whether the policy targets every user (else only the listed groups, which tapbridge
    /// cannot see into).
    pub fn targets_all_users(&self) -> bool {
        self.include_targets.iter().any(|t| t.id == "all_users")
    }

    /// Why a pass with these terms would be refused; empty when it fits. `None` asks for the
    /// policy's default.
    pub fn misfits(&self, lifetime_minutes: Option<u32>, usable_once: Option<bool>) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.enabled() {
            problems.push(format!(
                "the tenant's Temporary Access Pass policy is {}",
                self.state
            ));
        }
        let rules = TapPolicy {
            state: PolicyState::Enabled,
            include_targets: vec![Target::all_users()],
            exclude_targets: vec![],
            minimum_lifetime_in_minutes: self.minimum_lifetime_in_minutes,
            maximum_lifetime_in_minutes: self.maximum_lifetime_in_minutes,
            default_lifetime_in_minutes: self.default_lifetime_in_minutes,
            default_length: self.default_length,
            is_usable_once: self.is_usable_once,
        };
        let request = TapRequest {
            start_date_time: None,
            lifetime_in_minutes: lifetime_minutes,
            is_usable_once: usable_once,
        };
        // The lifetime and the one-time rule are checked one at a time, so both are named
        // when both are wrong.
        let lifetime_only = TapRequest {
            is_usable_once: None,
            ..request.clone()
        };
        let once_only = TapRequest {
            lifetime_in_minutes: None,
            ..request
        };
        let now = OffsetDateTime::UNIX_EPOCH;
        for r in [lifetime_only, once_only] {
            if let Err(e) = rules.terms(&r, now) {
                problems.push(e.to_string());
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of Graph's documented GET answer.
    const DOCUMENTED: &str = r##"{
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#authenticationMethodConfigurations/$entity",
        "@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration",
        "id": "TemporaryAccessPass",
        "state": "enabled",
        "defaultLifetimeInMinutes": 60,
        "defaultLength": 8,
        "minimumLifetimeInMinutes": 60,
        "maximumLifetimeInMinutes": 480,
        "isUsableOnce": false,
        "excludeTargets": [],
        "includeTargets@odata.context": "https://graph.microsoft.com/v1.0/$metadata#policies/authenticationMethodsPolicy/authenticationMethodConfigurations('TemporaryAccessPass')/microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration/includeTargets",
        "includeTargets": [{"targetType": "group", "id": "all_users", "isRegistrationRequired": false}]
    }"##;

    #[test]
    fn the_documented_answer_parses() {
        let p = TenantPolicy::from_graph(DOCUMENTED.as_bytes()).unwrap();
        assert!(p.enabled() && p.targets_all_users());
        assert_eq!(
            (
                p.minimum_lifetime_in_minutes,
                p.maximum_lifetime_in_minutes,
                p.default_lifetime_in_minutes
            ),
            (60, 480, 60)
        );
        let sparse = TenantPolicy::from_graph(br#"{"state":"disabled"}"#).unwrap();
        assert_eq!(sparse.maximum_lifetime_in_minutes, 480);
        assert!(!sparse.enabled() && !sparse.targets_all_users());
        assert!(TenantPolicy::from_graph(b"[]").is_err());
    }

    #[test]
    fn rule_terms_are_checked_like_tapbridges_own() {
        let mut p = TenantPolicy::from_graph(DOCUMENTED.as_bytes()).unwrap();
        assert!(p.misfits(None, None).is_empty());
        assert!(p.misfits(Some(480), Some(false)).is_empty());
        let long = p.misfits(Some(600), None);
        assert_eq!(long.len(), 1);
        assert!(long[0].contains("between 60 and 480"), "{long:?}");
        p.is_usable_once = true;
        assert!(p.misfits(Some(120), Some(true)).is_empty());
        let both = p.misfits(Some(30), Some(false));
        assert_eq!(both.len(), 2, "{both:?}");
        assert!(both[1].contains("one-time"));
        p.state = "disabled".into();
        assert_eq!(
            p.misfits(None, None),
            ["the tenant's Temporary Access Pass policy is disabled"]
        );
    }
}
