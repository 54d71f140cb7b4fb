//! Passkeys as the platform sees them: what is stored about one, what its AAGUID says about
//! the authenticator, and the rules for names and ceremonies. The cryptography lives in the
//! verifier; nothing here knows its types.

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::{Error, Result};

/// How long a started registration or sign-in may wait for the browser's answer.
pub const CEREMONY_TTL: Duration = Duration::minutes(5);
/// What a person is told when a registration or sign-in answer does not verify (the reason
/// goes to the audit log only).
pub const NOT_VERIFIED: &str =
    "The passkey could not be verified. Try again, or use another passkey.";
/// The longest passkey name accepted.
pub const MAX_NAME_CHARS: usize = 64;

/// Graph's `attestationLevel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttestationLevel {
    Attested,
    NotAttested,
}

impl AttestationLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            AttestationLevel::Attested => "attested",
            AttestationLevel::NotAttested => "notAttested",
        }
    }

    pub fn parse(s: &str) -> Self {
        if s == "attested" {
            AttestationLevel::Attested
        } else {
            AttestationLevel::NotAttested
        }
    }
}

/// A registered passkey, without its key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyMethod {
    pub id: Uuid,
    pub user_id: Uuid,
    pub display_name: String,
    pub aaguid: Uuid,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub sign_count: u32,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub attestation_format: String,
    pub attestation_level: AttestationLevel,
    /// Base64 DER certificates of the attestation chain, leaf first. Empty when not attested.
    pub attestation_certificates: Vec<String>,
}

impl PasskeyMethod {
    /// A human name for the authenticator's make and model.
    pub fn model(&self) -> &'static str {
        model_name(self.aaguid)
    }
}

/// What kind of ceremony a stored state belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    Registration,
    Authentication,
}

impl CeremonyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CeremonyKind::Registration => "registration",
            CeremonyKind::Authentication => "authentication",
        }
    }
}

/// Known authenticator models by AAGUID: the few most people use. Everything else is shown as
/// a generic name; the AAGUID itself stays visible to administrators.
const MODELS: &[(u128, &str)] = &[
    (
        0xea9b8d66_4d01_1d21_3ce4_b6b48cb575d4,
        "Google Password Manager",
    ),
    (0xadce0002_35bc_c60a_648b_0b25f1f05503, "Chrome on Mac"),
    (0xfbfc3007_154e_4ecc_8c0b_6e020557d7bd, "iCloud Keychain"),
    (
        0xdd4ec289_e01d_41c9_bb89_70fa845d4bf2,
        "iCloud Keychain (managed)",
    ),
    (0x08987058_cadc_4b81_b6e1_30de50dcbe96, "Windows Hello"),
    (0x9ddd1817_af5a_4672_a2b9_3e3dd95000a9, "Windows Hello"),
    (0x6028b017_b1d4_4c02_b4b3_afcdafc96bb2, "Windows Hello"),
    (0xbada5566_a7aa_401f_bd96_45619a55120d, "1Password"),
    (0xd548826e_79b4_db40_a3d8_11116f7e8349, "Bitwarden"),
    (0x531126d6_e717_415c_9320_3d9aa6981239, "Dashlane"),
    (0xcb69481e_8ff7_4039_93ec_0a2729a154a8, "YubiKey 5 Series"),
    (0xee882879_721c_4913_9775_3dfcce97072a, "YubiKey 5 Series"),
    (
        0xfa2b99dc_9e39_4257_8f92_4a30d23c4118,
        "YubiKey 5 Series with NFC",
    ),
    (
        0x2fc0579f_8113_47ea_b116_bb5a8db9202a,
        "YubiKey 5 Series with NFC",
    ),
    (
        0x01020304_0506_0708_0102_030405060708,
        "Virtual authenticator",
    ),
];

pub fn model_name(aaguid: Uuid) -> &'static str {
    known_model(aaguid).unwrap_or(if aaguid.is_nil() {
        "Passkey"
    } else {
        "Security key or passkey provider"
    })
}

/// The make and model an AAGUID stands for, when it is one of the [`MODELS`] known here.
pub fn known_model(aaguid: Uuid) -> Option<&'static str> {
    let n = aaguid.as_u128();
    MODELS
        .iter()
        .find(|(id, _)| *id == n)
        .map(|(_, name)| *name)
}

/// A passkey name as the user typed it, trimmed; empty means "use `fallback`".
pub fn passkey_name(input: &str, fallback: &str) -> Result<String> {
    let name = input.trim();
    let name = if name.is_empty() {
        fallback.trim()
    } else {
        name
    };
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::invalid(format!(
            "A passkey name can be at most {MAX_NAME_CHARS} characters long."
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "A passkey name cannot contain control characters.",
        ));
    }
    if name.is_empty() {
        return Err(Error::invalid("Give the passkey a name."));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_printable() {
        assert_eq!(passkey_name("  Laptop ", "x").unwrap(), "Laptop");
        assert_eq!(
            passkey_name("", "iCloud Keychain").unwrap(),
            "iCloud Keychain"
        );
        assert!(passkey_name(&"a".repeat(65), "x").is_err());
        assert!(passkey_name("a\u{0}b", "x").is_err());
        assert!(passkey_name(" ", " ").is_err());
    }

    #[test]
    fn models_by_aaguid() {
        let yubikey = Uuid::parse_str("cb69481e-8ff7-4039-93ec-0a2729a154a8").unwrap();
        assert_eq!(model_name(yubikey), "YubiKey 5 Series");
        assert_eq!(model_name(Uuid::nil()), "Passkey");
        assert_eq!(
            model_name(Uuid::from_u128(7)),
            "Security key or passkey provider"
        );
    }
}
