//! Directory object identifiers: AD `objectGUID`, OpenLDAP `entryUUID` and AD
//! `objectSid`, between their binary attribute values and text forms.
//!
//! * `objectGUID` is a Windows GUID in its in-memory layout: the first three
//!   fields (4, 2 and 2 bytes) are little-endian, the last 8 bytes are in
//!   order. Its text form swaps those fields back, so the bytes
//!   `0a 2c 45 67 89 ab cd ef 01 23 ...` read `67452c0a-ab89-efcd-0123-...`.
//! * `entryUUID` as carried in the RFC 4533 Sync State control is the 16-byte
//!   RFC 4122 big-endian form; its text form is the bytes in order.
//! * `objectSid` is the MS-DTYP §2.4.2.2 binary SID; its text form is the
//!   MS-DTYP §2.4.2.1 `S-1-...` string.
//!
//! Text output is always lowercase hexadecimal for GUIDs and UUIDs.

use std::fmt;
use std::str::FromStr;

/// Why an identifier could not be built from bytes or text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentifierError {
    /// A GUID or UUID value is not exactly 16 bytes.
    #[error("GUID/UUID must be 16 bytes, found {length}")]
    GuidLength {
        /// The length found.
        length: usize,
    },
    /// GUID or UUID text is not of the form
    /// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (optionally in braces).
    #[error("GUID/UUID text is not of the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")]
    GuidText,
    /// A binary SID violates MS-DTYP §2.4.2.2.
    #[error("invalid binary SID: {reason}")]
    SidBinary {
        /// What is wrong.
        reason: &'static str,
    },
    /// SID text violates MS-DTYP §2.4.2.1.
    #[error("invalid SID text: {reason}")]
    SidText {
        /// What is wrong.
        reason: &'static str,
    },
}

/// An Active Directory `objectGUID`, stored in its wire (attribute value)
/// byte order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectGuid([u8; 16]);

impl ObjectGuid {
    /// Wraps the 16 bytes of an `objectGUID` attribute value.
    #[must_use]
    pub const fn from_bytes(wire: [u8; 16]) -> Self {
        ObjectGuid(wire)
    }

    /// Wraps an `objectGUID` attribute value of unchecked length.
    ///
    /// # Errors
    /// [`IdentifierError::GuidLength`] unless `wire` is 16 bytes.
    pub fn from_slice(wire: &[u8]) -> Result<Self, IdentifierError> {
        to_array(wire).map(ObjectGuid)
    }

    /// Builds the GUID whose text form equals that of the RFC 4122 UUID with
    /// these big-endian bytes.
    #[must_use]
    pub const fn from_uuid_bytes(uuid: [u8; 16]) -> Self {
        ObjectGuid(swap_guid_fields(uuid))
    }

    /// The attribute value bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The RFC 4122 big-endian bytes of the same identifier, e.g. for
    /// `uuid::Uuid::from_bytes`.
    #[must_use]
    pub const fn to_uuid_bytes(&self) -> [u8; 16] {
        swap_guid_fields(self.0)
    }

    /// The RFC 4515 escaped assertion value that matches this GUID, for a
    /// filter such as `(objectGUID=\0a\2c...)`.
    #[must_use]
    pub fn to_filter_value(&self) -> String {
        escape_filter_bytes(&self.0)
    }
}

impl fmt::Display for ObjectGuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hyphenated(&self.to_uuid_bytes(), f)
    }
}

impl fmt::Debug for ObjectGuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectGuid({self})")
    }
}

impl FromStr for ObjectGuid {
    type Err = IdentifierError;

    /// Parses the hyphenated text form, case-insensitively, optionally
    /// enclosed in braces.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_hyphenated(text)
            .map(ObjectGuid::from_uuid_bytes)
            .ok_or(IdentifierError::GuidText)
    }
}

/// An OpenLDAP `entryUUID` in RFC 4122 big-endian byte order, as carried in
/// RFC 4533 Sync State controls and Sync Info `syncUUIDs`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryUuid([u8; 16]);

impl EntryUuid {
    /// Wraps 16 big-endian UUID bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        EntryUuid(bytes)
    }

    /// Wraps a UUID value of unchecked length.
    ///
    /// # Errors
    /// [`IdentifierError::GuidLength`] unless `bytes` is 16 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, IdentifierError> {
        to_array(bytes).map(EntryUuid)
    }

    /// The 16 big-endian bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for EntryUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hyphenated(&self.0, f)
    }
}

impl fmt::Debug for EntryUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EntryUuid({self})")
    }
}

impl FromStr for EntryUuid {
    type Err = IdentifierError;

    /// Parses the hyphenated text form, case-insensitively, optionally
    /// enclosed in braces.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_hyphenated(text)
            .map(EntryUuid)
            .ok_or(IdentifierError::GuidText)
    }
}

/// Escapes every byte of `bytes` as `\xx` (lowercase hex), the RFC 4515 form
/// for matching binary attribute values in a search filter.
///
/// Escaping every byte, not only the special ones, keeps the result ASCII and
/// independent of the server's handling of non-UTF-8 filter values.
#[must_use]
pub fn escape_filter_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().saturating_mul(3));
    for &byte in bytes {
        out.push('\\');
        push_hex_byte(&mut out, byte);
    }
    out
}

/// A Windows security identifier (MS-DTYP §2.4.2).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid {
    authority: u64,
    sub_authorities: Vec<u32>,
}

impl Sid {
    /// Largest number of sub-authorities MS-DTYP permits.
    pub const MAX_SUB_AUTHORITIES: usize = 15;
    /// Largest identifier authority (48 bits).
    pub const MAX_AUTHORITY: u64 = 0xFFFF_FFFF_FFFF;

    /// Builds a revision-1 SID.
    ///
    /// # Errors
    /// [`IdentifierError::SidBinary`] if `authority` exceeds 48 bits or there
    /// are more than 15 sub-authorities.
    pub fn new(authority: u64, sub_authorities: &[u32]) -> Result<Self, IdentifierError> {
        if authority > Self::MAX_AUTHORITY {
            return Err(IdentifierError::SidBinary {
                reason: "identifier authority exceeds 48 bits",
            });
        }
        if sub_authorities.len() > Self::MAX_SUB_AUTHORITIES {
            return Err(IdentifierError::SidBinary {
                reason: "more than 15 sub-authorities",
            });
        }
        Ok(Sid {
            authority,
            sub_authorities: sub_authorities.to_vec(),
        })
    }

    /// Parses an `objectSid` attribute value.
    ///
    /// # Errors
    /// [`IdentifierError::SidBinary`] if the revision is not 1, the
    /// sub-authority count exceeds 15, or the length does not match the count.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IdentifierError> {
        let (header, rest) = bytes
            .split_first_chunk::<8>()
            .ok_or(IdentifierError::SidBinary {
                reason: "shorter than the 8-byte header",
            })?;
        let [revision, count, a0, a1, a2, a3, a4, a5] = *header;
        if revision != 1 {
            return Err(IdentifierError::SidBinary {
                reason: "revision is not 1",
            });
        }
        let count = usize::from(count);
        if count > Self::MAX_SUB_AUTHORITIES {
            return Err(IdentifierError::SidBinary {
                reason: "more than 15 sub-authorities",
            });
        }
        if rest.len() != count.saturating_mul(4) {
            return Err(IdentifierError::SidBinary {
                reason: "length does not match the sub-authority count",
            });
        }
        let sub_authorities = rest
            .chunks_exact(4)
            .filter_map(|chunk| chunk.first_chunk::<4>())
            .map(|chunk| u32::from_le_bytes(*chunk))
            .collect();
        Ok(Sid {
            authority: u64::from_be_bytes([0, 0, a0, a1, a2, a3, a4, a5]),
            sub_authorities,
        })
    }

    /// The binary (attribute value) form.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            self.sub_authorities
                .len()
                .saturating_mul(4)
                .saturating_add(8),
        );
        out.push(1);
        // `new`, `from_bytes` and `from_str` all cap the count at 15.
        out.push(u8::try_from(self.sub_authorities.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(self.authority.to_be_bytes().get(2..).unwrap_or_default());
        for sub in &self.sub_authorities {
            out.extend_from_slice(&sub.to_le_bytes());
        }
        out
    }

    /// The identifier authority (5 for `NT AUTHORITY`).
    #[must_use]
    pub fn authority(&self) -> u64 {
        self.authority
    }

    /// The sub-authorities, domain identifier first and RID last.
    #[must_use]
    pub fn sub_authorities(&self) -> &[u32] {
        &self.sub_authorities
    }

    /// The relative identifier: the last sub-authority, if any.
    #[must_use]
    pub fn rid(&self) -> Option<u32> {
        self.sub_authorities.last().copied()
    }

    /// The RFC 4515 escaped assertion value that matches this SID's binary
    /// form, for a filter such as `(objectSid=\01\05...)`.
    #[must_use]
    pub fn to_filter_value(&self) -> String {
        escape_filter_bytes(&self.to_bytes())
    }
}

impl fmt::Display for Sid {
    /// Formats as `S-1-<authority>-<sub>-...`; the authority is decimal below
    /// 2^32 and `0x` plus 12 uppercase hex digits otherwise (MS-DTYP §2.4.2.1).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.authority <= u64::from(u32::MAX) {
            write!(f, "S-1-{}", self.authority)?;
        } else {
            write!(f, "S-1-0x{:012X}", self.authority)?;
        }
        for sub in &self.sub_authorities {
            write!(f, "-{sub}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sid({self})")
    }
}

impl FromStr for Sid {
    type Err = IdentifierError;

    /// Parses `S-1-<authority>(-<sub>)*`, the authority in decimal or as `0x`
    /// followed by up to 12 hex digits, each sub-authority a decimal `u32`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = |reason| IdentifierError::SidText { reason };
        let body = text
            .strip_prefix("S-1-")
            .or_else(|| text.strip_prefix("s-1-"))
            .ok_or(err("does not start with S-1-"))?;
        let mut parts = body.split('-');
        let authority_text = parts.next().ok_or(err("identifier authority missing"))?;
        let authority = if let Some(hex) = authority_text
            .strip_prefix("0x")
            .or_else(|| authority_text.strip_prefix("0X"))
        {
            if hex.is_empty() || hex.len() > 12 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(err("hexadecimal identifier authority is malformed"));
            }
            u64::from_str_radix(hex, 16)
                .map_err(|_| err("hexadecimal identifier authority is malformed"))?
        } else {
            parse_decimal::<u64>(authority_text)
                .filter(|value| *value <= Self::MAX_AUTHORITY)
                .ok_or(err("identifier authority is not a 48-bit decimal number"))?
        };
        let mut sub_authorities = Vec::new();
        for part in parts {
            if sub_authorities.len() == Self::MAX_SUB_AUTHORITIES {
                return Err(err("more than 15 sub-authorities"));
            }
            let sub = parse_decimal::<u32>(part)
                .ok_or(err("sub-authority is not a 32-bit decimal number"))?;
            sub_authorities.push(sub);
        }
        Ok(Sid {
            authority,
            sub_authorities,
        })
    }
}

fn parse_decimal<T: FromStr>(text: &str) -> Option<T> {
    // `FromStr` for integers accepts a leading '+', which SID text does not.
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn to_array(bytes: &[u8]) -> Result<[u8; 16], IdentifierError> {
    <[u8; 16]>::try_from(bytes).map_err(|_| IdentifierError::GuidLength {
        length: bytes.len(),
    })
}

/// Converts between the Windows GUID memory layout and RFC 4122 order; the
/// permutation is its own inverse.
const fn swap_guid_fields(b: [u8; 16]) -> [u8; 16] {
    let [
        b0,
        b1,
        b2,
        b3,
        b4,
        b5,
        b6,
        b7,
        b8,
        b9,
        b10,
        b11,
        b12,
        b13,
        b14,
        b15,
    ] = b;
    [
        b3, b2, b1, b0, b5, b4, b7, b6, b8, b9, b10, b11, b12, b13, b14, b15,
    ]
}

fn write_hyphenated(bytes: &[u8; 16], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let mut text = String::with_capacity(36);
    for (index, &byte) in bytes.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        push_hex_byte(&mut text, byte);
    }
    f.write_str(&text)
}

fn parse_hyphenated(text: &str) -> Option<[u8; 16]> {
    let text = text
        .strip_prefix('{')
        .and_then(|inner| inner.strip_suffix('}'))
        .unwrap_or(text);
    let raw = text.as_bytes();
    if raw.len() != 36 {
        return None;
    }
    let mut nibbles = [0u8; 32];
    let mut slots = nibbles.iter_mut();
    for (index, &c) in raw.iter().enumerate() {
        if matches!(index, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
        } else {
            *slots.next()? = hex_value(c)?;
        }
    }
    let mut out = [0u8; 16];
    for (byte, pair) in out.iter_mut().zip(nibbles.chunks_exact(2)) {
        if let [high, low] = pair {
            *byte = (high << 4) | low;
        }
    }
    Some(out)
}

fn hex_value(c: u8) -> Option<u8> {
    char::from(c)
        .to_digit(16)
        .and_then(|digit| u8::try_from(digit).ok())
}

fn push_hex_byte(out: &mut String, byte: u8) {
    for nibble in [byte >> 4, byte & 0x0F] {
        if let Some(c) = char::from_digit(u32::from(nibble), 16) {
            out.push(c);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const GUID_WIRE: [u8; 16] = [
        0x0A, 0x2C, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD,
        0xEF,
    ];
    const GUID_TEXT: &str = "67452c0a-ab89-efcd-0123-456789abcdef";

    #[test]
    fn object_guid_known_vector() {
        let guid = ObjectGuid::from_bytes(GUID_WIRE);
        assert_eq!(guid.to_string(), GUID_TEXT);
        assert_eq!(
            guid.to_uuid_bytes(),
            [
                0x67, 0x45, 0x2C, 0x0A, 0xAB, 0x89, 0xEF, 0xCD, 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB,
                0xCD, 0xEF
            ]
        );
        assert_eq!(format!("{guid:?}"), format!("ObjectGuid({GUID_TEXT})"));
        assert_eq!(GUID_TEXT.parse::<ObjectGuid>().unwrap(), guid);
        assert_eq!(
            "{67452C0A-AB89-EFCD-0123-456789ABCDEF}"
                .parse::<ObjectGuid>()
                .unwrap(),
            guid
        );
        assert_eq!(ObjectGuid::from_slice(&GUID_WIRE).unwrap(), guid);
        assert_eq!(
            ObjectGuid::from_uuid_bytes(guid.to_uuid_bytes()).as_bytes(),
            &GUID_WIRE
        );
    }

    #[test]
    fn object_guid_filter_value() {
        let guid = ObjectGuid::from_bytes(GUID_WIRE);
        assert_eq!(
            guid.to_filter_value(),
            r"\0a\2c\45\67\89\ab\cd\ef\01\23\45\67\89\ab\cd\ef"
        );
        assert_eq!(escape_filter_bytes(&[]), "");
        assert_eq!(escape_filter_bytes(b"*()\\\0"), r"\2a\28\29\5c\00");
    }

    #[test]
    fn entry_uuid_is_in_order() {
        let uuid = EntryUuid::from_bytes(GUID_WIRE);
        assert_eq!(uuid.to_string(), "0a2c4567-89ab-cdef-0123-456789abcdef");
        assert_eq!(
            "0A2C4567-89AB-CDEF-0123-456789ABCDEF"
                .parse::<EntryUuid>()
                .unwrap(),
            uuid
        );
        assert_eq!(EntryUuid::from_slice(&GUID_WIRE).unwrap(), uuid);
    }

    #[test]
    fn wrong_lengths_are_rejected() {
        for len in [0usize, 1, 15, 17, 32] {
            let bytes = vec![0u8; len];
            assert_eq!(
                ObjectGuid::from_slice(&bytes).unwrap_err(),
                IdentifierError::GuidLength { length: len }
            );
            assert_eq!(
                EntryUuid::from_slice(&bytes).unwrap_err(),
                IdentifierError::GuidLength { length: len }
            );
        }
    }

    #[test]
    fn malformed_guid_text_is_rejected() {
        for text in [
            "",
            "67452c0a-ab89-efcd-0123-456789abcde",
            "67452c0a-ab89-efcd-0123-456789abcdef0",
            "67452c0aab89-efcd-0123-456789abcdef0",
            "67452c0a_ab89-efcd-0123-456789abcdef",
            "67452c0a-ab89-efcd-0123-456789abcdeg",
            "+7452c0a-ab89-efcd-0123-456789abcdef",
            "{67452c0a-ab89-efcd-0123-456789abcdef",
            "67452c0a-ab89-efcd-0123-456789abcdef}",
            "67452c0aab89efcd0123456789abcdef",
            "67452c0a-ab89-efcd-0123-456789abcdé",
            "é7452c0a-ab89-efcd-0123-456789abcde",
        ] {
            assert_eq!(
                text.parse::<ObjectGuid>().unwrap_err(),
                IdentifierError::GuidText,
                "{text:?}"
            );
            assert!(text.parse::<EntryUuid>().is_err(), "{text:?}");
        }
    }

    // S-1-5-21-1004336348-1177238915-682003330-512 (Domain Admins), laid out
    // per MS-DTYP §2.4.2.2: revision 1, five sub-authorities, authority 5
    // big-endian, then each sub-authority little-endian.
    const DOMAIN_ADMINS: [u8; 28] = [
        0x01, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, // header
        0x15, 0x00, 0x00, 0x00, // 21
        0xDC, 0xF4, 0xDC, 0x3B, // 1004336348 = 0x3BDCF4DC
        0x83, 0x3D, 0x2B, 0x46, // 1177238915 = 0x462B3D83
        0x82, 0x8B, 0xA6, 0x28, // 682003330 = 0x28A68B82
        0x00, 0x02, 0x00, 0x00, // 512
    ];
    const DOMAIN_ADMINS_TEXT: &str = "S-1-5-21-1004336348-1177238915-682003330-512";

    #[test]
    fn sid_known_vector() {
        let sid = Sid::from_bytes(&DOMAIN_ADMINS).unwrap();
        assert_eq!(sid.to_string(), DOMAIN_ADMINS_TEXT);
        assert_eq!(sid.authority(), 5);
        assert_eq!(
            sid.sub_authorities(),
            [21, 1_004_336_348, 1_177_238_915, 682_003_330, 512]
        );
        assert_eq!(sid.rid(), Some(512));
        assert_eq!(sid.to_bytes(), DOMAIN_ADMINS);
        assert_eq!(DOMAIN_ADMINS_TEXT.parse::<Sid>().unwrap(), sid);
        assert_eq!(
            sid.to_filter_value(),
            r"\01\05\00\00\00\00\00\05\15\00\00\00\dc\f4\dc\3b\83\3d\2b\46\82\8b\a6\28\00\02\00\00"
        );
    }

    #[test]
    fn sid_well_known_and_edge_forms() {
        let everyone = [0x01, 0x01, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0];
        assert_eq!(Sid::from_bytes(&everyone).unwrap().to_string(), "S-1-1-0");

        let no_subs = [0x01, 0x00, 0, 0, 0, 0, 0, 0x05];
        let sid = Sid::from_bytes(&no_subs).unwrap();
        assert_eq!(sid.to_string(), "S-1-5");
        assert_eq!(sid.rid(), None);
        assert_eq!("S-1-5".parse::<Sid>().unwrap(), sid);

        let big_authority = [0x01, 0x01, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 7, 0, 0, 0];
        let sid = Sid::from_bytes(&big_authority).unwrap();
        assert_eq!(sid.to_string(), "S-1-0x010203040506-7");
        assert_eq!("S-1-0x010203040506-7".parse::<Sid>().unwrap(), sid);
        assert_eq!(sid.to_bytes(), big_authority);

        let max = Sid::new(Sid::MAX_AUTHORITY, &[u32::MAX; 15]).unwrap();
        assert_eq!(Sid::from_bytes(&max.to_bytes()).unwrap(), max);
        assert_eq!(max.to_string().parse::<Sid>().unwrap(), max);
        assert!(Sid::new(Sid::MAX_AUTHORITY + 1, &[]).is_err());
        assert!(Sid::new(5, &[0; 16]).is_err());
    }

    #[test]
    fn malformed_binary_sids_are_rejected() {
        let mut bad_revision = DOMAIN_ADMINS;
        bad_revision[0] = 2;
        let mut too_many = [0u8; 8 + 16 * 4];
        too_many[0] = 1;
        too_many[1] = 16;
        let cases: Vec<Vec<u8>> = vec![
            bad_revision.to_vec(),
            too_many.to_vec(),
            DOMAIN_ADMINS[..27].to_vec(),
            [&DOMAIN_ADMINS[..], &[0]].concat(),
            vec![0x01, 0x01, 0, 0, 0, 0, 0, 5],
        ];
        for case in cases {
            assert!(
                matches!(
                    Sid::from_bytes(&case),
                    Err(IdentifierError::SidBinary { .. })
                ),
                "{case:02x?}"
            );
        }
        for cut in 0..8 {
            assert!(Sid::from_bytes(&DOMAIN_ADMINS[..cut]).is_err());
        }
    }

    #[test]
    fn malformed_sid_text_is_rejected() {
        for text in [
            "",
            "S-",
            "S-1-",
            "S-2-5-21",
            "X-1-5",
            "S-1-5-",
            "S-1-5--1",
            "S-1--5",
            "S-1-+5",
            "S-1-5-+21",
            "S-1-5--21",
            "S-1-5-4294967296",
            "S-1-281474976710656",
            "S-1-0x",
            "S-1-0x1234567890123",
            "S-1-0xZZ",
            "S-1-0x+1",
            "S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16",
            "S-1-5-21 ",
        ] {
            assert!(
                matches!(text.parse::<Sid>(), Err(IdentifierError::SidText { .. })),
                "{text:?}"
            );
        }
    }
}
