//! How a user proved who they are, and what a relying party is told about it: `auth_time`,
//! `amr` (RFC 8176) and `acr`.
//!
//! A passkey sign-in is a proof of possession of a key plus the authenticator's user
//! verification (PIN or biometric; which one, the authenticator does not say):
//! - `hwk` when the key is device-bound (not backup-eligible: it cannot leave the hardware
//!   that made it), `swk` when it is a synced passkey (backup-eligible: the key is copied
//!   between devices by the platform's software);
//! - `user`, because user verification implies the user was present and interacted;
//! - `mfa`, because possession of the key and the verification (knowledge or inherence) are
//!   two factors — the value relying parties check when they demand multi-factor sign-in.
//!
//! `acr` uses the OpenID Foundation's values for phishing-resistant authentication: `phrh`
//! (phishing-resistant, hardware-protected) for a device-bound passkey, `phr` otherwise.

use time::OffsetDateTime;
use uuid::Uuid;

/// A passkey sign-in that opened a browser session.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Authentication {
    pub user_id: Uuid,
    #[serde(with = "time::serde::timestamp")]
    pub at: OffsetDateTime,
    /// The passkey used (Graph `fido2AuthenticationMethod` id).
    pub method_id: Uuid,
    /// The credential may be synced to other devices.
    pub backup_eligible: bool,
    pub user_verified: bool,
}

pub const ACR_PHISHING_RESISTANT: &str = "phr";
pub const ACR_PHISHING_RESISTANT_HARDWARE: &str = "phrh";

impl Authentication {
    pub fn amr(&self) -> Vec<String> {
        let mut amr = vec![if self.backup_eligible { "swk" } else { "hwk" }];
        if self.user_verified {
            amr.extend(["user", "mfa"]);
        }
        amr.into_iter().map(str::to_owned).collect()
    }

    pub fn acr(&self) -> &'static str {
        if self.backup_eligible {
            ACR_PHISHING_RESISTANT
        } else {
            ACR_PHISHING_RESISTANT_HARDWARE
        }
    }

    /// Whether this sign-in meets one of `requested` (`acr_values`): `phrh` meets `phr` too.
    /// Unknown values are met by nothing.
    pub fn meets_any(&self, requested: &[String]) -> bool {
        requested.is_empty()
            || requested.iter().any(|r| match r.as_str() {
                ACR_PHISHING_RESISTANT => true,
                ACR_PHISHING_RESISTANT_HARDWARE => self.acr() == ACR_PHISHING_RESISTANT_HARDWARE,
                _ => false,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(backup_eligible: bool) -> Authentication {
        Authentication {
            user_id: Uuid::nil(),
            at: OffsetDateTime::UNIX_EPOCH,
            method_id: Uuid::nil(),
            backup_eligible,
            user_verified: true,
        }
    }

    #[test]
    fn device_bound_and_synced_passkeys_are_told_apart() {
        assert_eq!(auth(false).amr(), ["hwk", "user", "mfa"]);
        assert_eq!(auth(true).amr(), ["swk", "user", "mfa"]);
        assert_eq!(auth(false).acr(), "phrh");
        assert_eq!(auth(true).acr(), "phr");
        let phrh = vec!["phrh".to_owned()];
        assert!(auth(false).meets_any(&phrh));
        assert!(!auth(true).meets_any(&phrh));
        assert!(auth(true).meets_any(&["urn:x".to_owned(), "phr".to_owned()]));
        assert!(!auth(true).meets_any(&["urn:x".to_owned()]));
    }
}
