//! The passkey (FIDO2) policy, shaped like Graph's `fido2AuthenticationMethodConfiguration`.
//! Applied when a passkey is registered and each time one is used to sign in.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::tap_policy::PolicyState;
use crate::{Error, Result};

/// The id of the configuration, as in Graph's path.
pub const POLICY_ID: &str = "Fido2";
/// The most AAGUIDs one restriction list may hold.
pub const MAX_AAGUIDS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EnforcementType {
    Allow,
    Block,
}

/// Graph's `fido2KeyRestrictions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRestrictions {
    pub is_enforced: bool,
    pub enforcement_type: EnforcementType,
    pub aa_guids: Vec<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fido2Policy {
    pub state: PolicyState,
    pub is_self_service_registration_allowed: bool,
    /// Only authenticators whose attestation chains to a configured root may register.
    pub is_attestation_enforced: bool,
    pub key_restrictions: KeyRestrictions,
}

impl Default for Fido2Policy {
    /// Passkeys are the point of tapbridge: on, self-service, any authenticator.
    fn default() -> Self {
        Fido2Policy {
            state: PolicyState::Enabled,
            is_self_service_registration_allowed: true,
            is_attestation_enforced: false,
            key_restrictions: KeyRestrictions {
                is_enforced: false,
                enforcement_type: EnforcementType::Block,
                aa_guids: vec![],
            },
        }
    }
}

/// A PATCH body. Absent fields stay as they are; unknown ones are an error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fido2PolicyPatch {
    #[serde(rename = "@odata.type")]
    pub odata_type: Option<String>,
    pub id: Option<String>,
    pub state: Option<PolicyState>,
    pub is_self_service_registration_allowed: Option<bool>,
    pub is_attestation_enforced: Option<bool>,
    pub key_restrictions: Option<KeyRestrictionsPatch>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyRestrictionsPatch {
    pub is_enforced: Option<bool>,
    pub enforcement_type: Option<EnforcementType>,
    pub aa_guids: Option<Vec<Uuid>>,
}

/// Why the policy refuses an authenticator. Shown to the user in plain words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Disabled,
    SelfServiceNotAllowed,
    ModelNotAllowed,
    AttestationRequired,
}

impl Refusal {
    pub const ALL: [Refusal; 4] = [
        Refusal::Disabled,
        Refusal::SelfServiceNotAllowed,
        Refusal::ModelNotAllowed,
        Refusal::AttestationRequired,
    ];

    pub fn message(self) -> &'static str {
        match self {
            Refusal::Disabled => "Passkeys are turned off by your organisation's policy.",
            Refusal::SelfServiceNotAllowed => {
                "Your organisation does not allow you to register passkeys yourself. Ask your administrator."
            }
            Refusal::ModelNotAllowed => {
                "Your organisation does not allow this kind of authenticator. Try another one."
            }
            Refusal::AttestationRequired => {
                "Your organisation accepts only authenticators that prove their make and model. This one did not."
            }
        }
    }
}

/// A policy setting that locks everyone out of passkeys, worth a warning before it is saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockoutRisk {
    /// Passkeys are turned off: nobody can register one or sign in with one.
    Disabled,
    /// Only listed authenticators are allowed, and none is listed.
    EmptyAllowList,
    /// Attestation is enforced, but no root is configured that could make one trusted: no
    /// authenticator can register.
    AttestationWithoutRoots,
}

impl Fido2Policy {
    pub fn patched(&self, patch: Fido2PolicyPatch) -> Result<Fido2Policy> {
        if let Some(t) = &patch.odata_type
            && t != "#microsoft.graph.fido2AuthenticationMethodConfiguration"
        {
            return Err(Error::invalid(format!("@odata.type `{t}` does not match")));
        }
        if let Some(id) = &patch.id
            && id != POLICY_ID
        {
            return Err(Error::invalid(format!("id `{id}` does not match")));
        }
        let mut p = self.clone();
        if let Some(s) = patch.state {
            p.state = s;
        }
        if let Some(v) = patch.is_self_service_registration_allowed {
            p.is_self_service_registration_allowed = v;
        }
        if let Some(v) = patch.is_attestation_enforced {
            p.is_attestation_enforced = v;
        }
        if let Some(k) = patch.key_restrictions {
            if let Some(v) = k.is_enforced {
                p.key_restrictions.is_enforced = v;
            }
            if let Some(v) = k.enforcement_type {
                p.key_restrictions.enforcement_type = v;
            }
            if let Some(mut v) = k.aa_guids {
                v.sort();
                v.dedup();
                if v.len() > MAX_AAGUIDS {
                    return Err(Error::invalid(format!(
                        "keyRestrictions.aaGuids holds at most {MAX_AAGUIDS} values"
                    )));
                }
                p.key_restrictions.aa_guids = v;
            }
        }
        Ok(p)
    }

    fn model_allowed(&self, aaguid: Uuid) -> bool {
        let k = &self.key_restrictions;
        if !k.is_enforced {
            return true;
        }
        let listed = k.aa_guids.contains(&aaguid);
        match k.enforcement_type {
            EnforcementType::Allow => listed,
            EnforcementType::Block => !listed,
        }
    }

    /// May a user register an authenticator of model `aaguid` on their own?
    /// `attested`: its attestation verified against the configured roots.
    pub fn check_registration(&self, aaguid: Uuid, attested: bool) -> Result<(), Refusal> {
        self.check_enabled()?;
        if !self.is_self_service_registration_allowed {
            return Err(Refusal::SelfServiceNotAllowed);
        }
        if self.is_attestation_enforced && !attested {
            return Err(Refusal::AttestationRequired);
        }
        if !self.model_allowed(aaguid) {
            return Err(Refusal::ModelNotAllowed);
        }
        Ok(())
    }

    /// Is the method enabled at all (before a ceremony starts)?
    pub fn check_enabled(&self) -> Result<(), Refusal> {
        if self.state == PolicyState::Disabled {
            return Err(Refusal::Disabled);
        }
        Ok(())
    }

    /// What in this policy would stop everyone from registering a passkey or signing in with
    /// one. `attestation_roots`: whether any root is configured that could make an
    /// attestation trusted.
    pub fn lockout_risks(&self, attestation_roots: bool) -> Vec<LockoutRisk> {
        let mut risks = Vec::new();
        if self.state == PolicyState::Disabled {
            risks.push(LockoutRisk::Disabled);
        }
        let k = &self.key_restrictions;
        if k.is_enforced && k.enforcement_type == EnforcementType::Allow && k.aa_guids.is_empty() {
            risks.push(LockoutRisk::EmptyAllowList);
        }
        if self.is_attestation_enforced && !attestation_roots {
            risks.push(LockoutRisk::AttestationWithoutRoots);
        }
        risks
    }

    /// May a registered passkey of model `aaguid` still sign in? A model blocked after it was
    /// registered stops working.
    pub fn check_sign_in(&self, aaguid: Uuid) -> Result<(), Refusal> {
        self.check_enabled()?;
        if !self.model_allowed(aaguid) {
            return Err(Refusal::ModelNotAllowed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: Uuid = Uuid::from_u128(0xcb69481e_8ff7_4039_93ec_0a2729a154a8);
    const OTHER: Uuid = Uuid::from_u128(0x1234);

    fn restricted(kind: EnforcementType) -> Fido2Policy {
        Fido2Policy::default()
            .patched(Fido2PolicyPatch {
                key_restrictions: Some(KeyRestrictionsPatch {
                    is_enforced: Some(true),
                    enforcement_type: Some(kind),
                    aa_guids: Some(vec![KEY, KEY]),
                }),
                ..Default::default()
            })
            .unwrap()
    }

    #[test]
    fn default_admits_everything() {
        let p = Fido2Policy::default();
        assert_eq!(p.check_registration(Uuid::nil(), false), Ok(()));
        assert_eq!(p.check_sign_in(Uuid::nil()), Ok(()));
    }

    #[test]
    fn allow_and_block_lists() {
        let allow = restricted(EnforcementType::Allow);
        assert_eq!(allow.key_restrictions.aa_guids, vec![KEY]);
        assert_eq!(allow.check_registration(KEY, false), Ok(()));
        assert_eq!(
            allow.check_registration(OTHER, false),
            Err(Refusal::ModelNotAllowed)
        );
        let block = restricted(EnforcementType::Block);
        assert_eq!(block.check_sign_in(KEY), Err(Refusal::ModelNotAllowed));
        assert_eq!(block.check_sign_in(OTHER), Ok(()));
    }

    #[test]
    fn attestation_state_and_self_service() {
        let mut p = Fido2Policy {
            is_attestation_enforced: true,
            ..Default::default()
        };
        assert_eq!(
            p.check_registration(OTHER, false),
            Err(Refusal::AttestationRequired)
        );
        assert_eq!(p.check_registration(OTHER, true), Ok(()));
        p.is_self_service_registration_allowed = false;
        assert_eq!(
            p.check_registration(OTHER, true),
            Err(Refusal::SelfServiceNotAllowed)
        );
        p.state = PolicyState::Disabled;
        assert_eq!(p.check_sign_in(OTHER), Err(Refusal::Disabled));
    }

    #[test]
    fn lockout_risks() {
        assert!(Fido2Policy::default().lockout_risks(false).is_empty());
        let mut p = restricted(EnforcementType::Allow);
        assert!(p.lockout_risks(false).is_empty(), "a non-empty allow-list");
        p.key_restrictions.aa_guids.clear();
        assert_eq!(p.lockout_risks(true), vec![LockoutRisk::EmptyAllowList]);
        p.key_restrictions.enforcement_type = EnforcementType::Block;
        assert!(p.lockout_risks(true).is_empty(), "an empty block-list");
        p.is_attestation_enforced = true;
        assert!(p.lockout_risks(true).is_empty(), "roots configured");
        assert_eq!(
            p.lockout_risks(false),
            vec![LockoutRisk::AttestationWithoutRoots]
        );
        p.state = PolicyState::Disabled;
        assert_eq!(
            p.lockout_risks(false),
            vec![LockoutRisk::Disabled, LockoutRisk::AttestationWithoutRoots]
        );
    }

    #[test]
    fn patch_rejects_unknown_fields_and_mismatched_ids() {
        assert!(serde_json::from_str::<Fido2PolicyPatch>(r#"{"bogus":1}"#).is_err());
        let patch: Fido2PolicyPatch = serde_json::from_str(r#"{"id":"Email"}"#).unwrap();
        assert!(Fido2Policy::default().patched(patch).is_err());
    }
}
