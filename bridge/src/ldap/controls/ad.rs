//! Active Directory search controls without a response: Show Deleted,
//! Show Recycled (MS-ADTS §3.1.1.3.4.1.14, §3.1.1.3.4.1.26) and Extended DN
//! (MS-ADTS §3.1.1.3.4.1.5).

use super::ber::{Reader, Writer};
use super::control::{Control, ControlError, ControlErrorKind};

/// `LDAP_SERVER_SHOW_DELETED_OID`: include tombstones (`isDeleted=TRUE`) in
/// search results.
pub const SHOW_DELETED_OID: &str = "1.2.840.113556.1.4.417";
/// `LDAP_SERVER_SHOW_RECYCLED_OID`: include deleted and recycled objects when
/// the Recycle Bin feature is enabled.
pub const SHOW_RECYCLED_OID: &str = "1.2.840.113556.1.4.2064";
/// `LDAP_SERVER_EXTENDED_DN_OID`: return DNs as
/// `<GUID=...>;<SID=...>;dn`.
pub const EXTENDED_DN_OID: &str = "1.2.840.113556.1.4.529";

const EXTENDED_DN: &str = "Extended DN";

/// The Show Deleted control (no value), marked critical: a server that
/// ignored it would silently omit deletions from a sync.
#[must_use]
pub fn show_deleted() -> Control {
    Control::new(SHOW_DELETED_OID, true, None)
}

/// The Show Recycled control (no value), marked critical for the same reason
/// as [`show_deleted`].
#[must_use]
pub fn show_recycled() -> Control {
    Control::new(SHOW_RECYCLED_OID, true, None)
}

/// How the Extended DN control renders the GUID and SID parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExtendedDnFormat {
    /// `Flag = 0`: raw bytes as hexadecimal, e.g.
    /// `<GUID=0a2c456789abcdef0123456789abcdef>`.
    Hex,
    /// `Flag = 1`: standard text forms, e.g.
    /// `<GUID=67452c0a-ab89-efcd-0123-456789abcdef>;<SID=S-1-5-...>`.
    Standard,
}

impl ExtendedDnFormat {
    /// The `Flag` INTEGER on the wire.
    #[must_use]
    pub const fn code(self) -> i64 {
        match self {
            ExtendedDnFormat::Hex => 0,
            ExtendedDnFormat::Standard => 1,
        }
    }
}

/// The Extended DN request control.
///
/// ```text
/// ExtendedDNRequestValue ::= SEQUENCE { Flag INTEGER }
/// ```
///
/// The value is optional; without it the server uses the hexadecimal form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExtendedDn {
    /// The requested format, or `None` to send the control without a value.
    pub format: Option<ExtendedDnFormat>,
}

impl ExtendedDn {
    /// The DER control value, or `None` when no format was chosen.
    #[must_use]
    pub fn encode(&self) -> Option<Vec<u8>> {
        self.format.map(|format| {
            let mut w = Writer::new();
            w.write_sequence(|w| w.write_integer(format.code()));
            w.into_bytes()
        })
    }

    /// The request control, marked critical so that DN parsing never meets
    /// an unexpected plain DN.
    #[must_use]
    pub fn to_control(&self) -> Control {
        Control::new(EXTENDED_DN_OID, true, self.encode())
    }

    /// Decodes an optional request control value.
    ///
    /// # Errors
    /// Malformed BER or a `Flag` other than 0 or 1.
    pub fn decode(value: Option<&[u8]>) -> Result<Self, ControlError> {
        Self::decode_inner(value).map_err(|kind| kind.within(EXTENDED_DN))
    }

    fn decode_inner(value: Option<&[u8]>) -> Result<Self, ControlErrorKind> {
        let Some(value) = value else {
            return Ok(ExtendedDn { format: None });
        };
        let mut outer = Reader::new(value);
        let mut seq = outer.read_sequence()?;
        let flag = seq.read_integer()?;
        let format = match flag {
            0 => ExtendedDnFormat::Hex,
            1 => ExtendedDnFormat::Standard,
            other => {
                return Err(ControlErrorKind::UnknownEnumValue {
                    field: "Flag",
                    value: other,
                });
            }
        };
        seq.finish()?;
        outer.finish()?;
        Ok(ExtendedDn {
            format: Some(format),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn value_less_controls() {
        let deleted = show_deleted();
        assert_eq!(deleted.oid, "1.2.840.113556.1.4.417");
        assert!(deleted.critical);
        assert_eq!(deleted.value, None);

        let recycled = show_recycled();
        assert_eq!(recycled.oid, "1.2.840.113556.1.4.2064");
        assert!(recycled.critical);
        assert_eq!(recycled.value, None);
    }

    #[test]
    fn extended_dn_vectors() {
        // 30 03 | 02 01 01
        let standard = [0x30, 0x03, 0x02, 0x01, 0x01];
        let control = ExtendedDn {
            format: Some(ExtendedDnFormat::Standard),
        };
        assert_eq!(control.encode().as_deref(), Some(&standard[..]));
        assert_eq!(ExtendedDn::decode(Some(&standard)).unwrap(), control);
        assert_eq!(control.to_control().oid, EXTENDED_DN_OID);

        let hex = [0x30, 0x03, 0x02, 0x01, 0x00];
        let control = ExtendedDn {
            format: Some(ExtendedDnFormat::Hex),
        };
        assert_eq!(control.encode().as_deref(), Some(&hex[..]));
        assert_eq!(ExtendedDn::decode(Some(&hex)).unwrap(), control);

        let bare = ExtendedDn::default();
        assert_eq!(bare.encode(), None);
        assert_eq!(bare.to_control().value, None);
        assert_eq!(ExtendedDn::decode(None).unwrap(), bare);
    }

    #[test]
    fn extended_dn_rejects_malformed_values() {
        let standard = [0x30, 0x03, 0x02, 0x01, 0x01];
        for cut in 0..standard.len() {
            assert!(ExtendedDn::decode(Some(&standard[..cut])).is_err());
        }
        assert_eq!(
            ExtendedDn::decode(Some(&[0x30, 0x03, 0x02, 0x01, 0x02]))
                .unwrap_err()
                .kind,
            ControlErrorKind::UnknownEnumValue {
                field: "Flag",
                value: 2
            }
        );
        for bad in [
            &[0x30, 0x03, 0x0A, 0x01, 0x01][..],
            &[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01],
            &[0x30, 0x03, 0x02, 0x01, 0x01, 0x00],
        ] {
            assert!(ExtendedDn::decode(Some(bad)).is_err(), "{bad:02x?}");
        }
    }
}
