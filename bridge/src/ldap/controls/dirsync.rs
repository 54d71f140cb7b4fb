//! Active Directory DirSync control (`LDAP_SERVER_DIRSYNC_OID`,
//! MS-ADTS §3.1.1.3.4.1.3).
//!
//! ```text
//! DirSyncRequestValue  ::= SEQUENCE { Flags INTEGER, MaxBytes INTEGER, Cookie OCTET STRING }
//! DirSyncResponseValue ::= SEQUENCE { MoreResults INTEGER, unused INTEGER, CookieServer OCTET STRING }
//! ```
//!
//! The request and the response control share the OID. Flags is a 32-bit
//! field that Windows encodes as a signed 32-bit INTEGER, so
//! [`LDAP_DIRSYNC_INCREMENTAL_VALUES`] (`0x80000000`) goes on the wire as the
//! negative number `02 04 80 00 00 00`.

use super::ber::{Reader, Writer};
use super::control::{Control, ControlError, ControlErrorKind, expect_value};

/// Control type of both the DirSync request and response control.
pub const DIRSYNC_OID: &str = "1.2.840.113556.1.4.841";

/// Return only what the caller may read instead of requiring the
/// "Replicating Directory Changes" right (Windows Server 2003 and later).
pub const LDAP_DIRSYNC_OBJECT_SECURITY: u32 = 0x0000_0001;
/// Return parents before their children.
pub const LDAP_DIRSYNC_ANCESTORS_FIRST_ORDER: u32 = 0x0000_0800;
/// Omit secret attributes (passwords and the like).
pub const LDAP_DIRSYNC_PUBLIC_DATA_ONLY: u32 = 0x0000_2000;
/// Return only changed values of multi-valued attributes (Windows Server 2003
/// and later); sent as a negative INTEGER.
pub const LDAP_DIRSYNC_INCREMENTAL_VALUES: u32 = 0x8000_0000;

/// Largest MaxBytes value; MS-ADTS treats the field as a signed 32-bit
/// integer.
pub const MAX_BYTES_LIMIT: u32 = 0x7FFF_FFFF;

const REQUEST: &str = "DirSync request";
const RESPONSE: &str = "DirSync response";

/// The value of a DirSync request control.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirSyncRequest {
    /// Bitwise OR of the `LDAP_DIRSYNC_*` flags.
    pub flags: u32,
    /// Upper bound on the size of the returned data; 0 lets the server
    /// choose. Values above [`MAX_BYTES_LIMIT`] are sent as that limit.
    pub max_bytes: u32,
    /// The cookie from the previous response, empty for a full initial sync.
    pub cookie: Vec<u8>,
}

impl DirSyncRequest {
    /// The DER control value.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.write_sequence(|w| {
            w.write_integer(i64::from(self.flags.cast_signed()));
            w.write_integer(i64::from(self.max_bytes.min(MAX_BYTES_LIMIT)));
            w.write_octet_string(&self.cookie);
        });
        w.into_bytes()
    }

    /// The request control, marked critical: Windows documents DirSync as a
    /// critical control, and a server that ignored it would silently answer a
    /// plain full search.
    #[must_use]
    pub fn to_control(&self) -> Control {
        Control::new(DIRSYNC_OID, true, Some(self.encode()))
    }

    /// Decodes a request control value.
    ///
    /// Flags are accepted both in the Windows signed form and as a positive
    /// INTEGER up to `u32::MAX`.
    ///
    /// # Errors
    /// Malformed BER, flags outside `i32::MIN..=u32::MAX`, or a negative
    /// MaxBytes.
    pub fn decode(value: &[u8]) -> Result<Self, ControlError> {
        Self::decode_inner(value).map_err(|kind| kind.within(REQUEST))
    }

    fn decode_inner(value: &[u8]) -> Result<Self, ControlErrorKind> {
        let mut outer = Reader::new(value);
        let mut seq = outer.read_sequence()?;
        let raw_flags = seq.read_integer()?;
        let flags = u32::try_from(raw_flags)
            .or_else(|_| i32::try_from(raw_flags).map(i32::cast_unsigned))
            .map_err(|_| ControlErrorKind::OutOfRange {
                field: "Flags",
                value: raw_flags,
            })?;
        let raw_max = seq.read_i32()?;
        let max_bytes = u32::try_from(raw_max).map_err(|_| ControlErrorKind::OutOfRange {
            field: "MaxBytes",
            value: i64::from(raw_max),
        })?;
        let cookie = seq.read_octet_string()?.to_vec();
        seq.finish()?;
        outer.finish()?;
        Ok(DirSyncRequest {
            flags,
            max_bytes,
            cookie,
        })
    }
}

/// The value of a DirSync response control.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirSyncResponse {
    /// Whether the server has more changes; if so, search again at once with
    /// [`DirSyncResponse::cookie`].
    pub more_results: bool,
    /// Opaque state to send in the next request.
    pub cookie: Vec<u8>,
}

impl DirSyncResponse {
    /// The DER control value (`MoreResults` as 1 or 0, `unused` as 0).
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.write_sequence(|w| {
            w.write_integer(i64::from(self.more_results));
            w.write_integer(0);
            w.write_octet_string(&self.cookie);
        });
        w.into_bytes()
    }

    /// The response control as a server sends it (not critical).
    #[must_use]
    pub fn to_control(&self) -> Control {
        Control::new(DIRSYNC_OID, false, Some(self.encode()))
    }

    /// Decodes a response control value. Any non-zero `MoreResults` means
    /// more data; `unused` must be a well-formed INTEGER and is discarded.
    ///
    /// # Errors
    /// Malformed BER, including INTEGERs longer than eight octets.
    pub fn decode(value: &[u8]) -> Result<Self, ControlError> {
        Self::decode_inner(value).map_err(|kind| kind.within(RESPONSE))
    }

    /// Decodes a received control, checking its OID and that it has a value.
    ///
    /// # Errors
    /// A different OID, a missing value, or any error of
    /// [`DirSyncResponse::decode`].
    pub fn from_control(oid: &str, value: Option<&[u8]>) -> Result<Self, ControlError> {
        Self::decode(expect_value(RESPONSE, DIRSYNC_OID, oid, value)?)
    }

    fn decode_inner(value: &[u8]) -> Result<Self, ControlErrorKind> {
        let mut outer = Reader::new(value);
        let mut seq = outer.read_sequence()?;
        let more_results = seq.read_integer()? != 0;
        seq.read_integer()?;
        let cookie = seq.read_octet_string()?.to_vec();
        seq.finish()?;
        outer.finish()?;
        Ok(DirSyncResponse {
            more_results,
            cookie,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::super::ber::{BerError, Tag};
    use super::*;

    // MS-ADTS §3.1.1.3.4.1.3 layout, derived by hand:
    //   30 0e                 SEQUENCE, 14 content octets
    //     02 04 80 00 08 01   Flags = 0x80000801 as signed 32-bit (-2147481599)
    //     02 04 7f ff ff ff   MaxBytes = 2147483647
    //     04 00               Cookie = empty (initial sync)
    const INITIAL_REQUEST: [u8; 16] = [
        0x30, 0x0E, 0x02, 0x04, 0x80, 0x00, 0x08, 0x01, 0x02, 0x04, 0x7F, 0xFF, 0xFF, 0xFF, 0x04,
        0x00,
    ];

    #[test]
    fn initial_request_vector() {
        let request = DirSyncRequest {
            flags: LDAP_DIRSYNC_INCREMENTAL_VALUES
                | LDAP_DIRSYNC_ANCESTORS_FIRST_ORDER
                | LDAP_DIRSYNC_OBJECT_SECURITY,
            max_bytes: MAX_BYTES_LIMIT,
            cookie: Vec::new(),
        };
        assert_eq!(request.encode(), INITIAL_REQUEST);
        assert_eq!(DirSyncRequest::decode(&INITIAL_REQUEST).unwrap(), request);

        let control = request.to_control();
        assert_eq!(control.oid, "1.2.840.113556.1.4.841");
        assert!(control.critical);
        assert_eq!(control.value.as_deref(), Some(&INITIAL_REQUEST[..]));
    }

    #[test]
    fn each_flag_encodes_as_expected() {
        let cases: &[(u32, &[u8])] = &[
            (0, &[0x02, 0x01, 0x00]),
            (LDAP_DIRSYNC_OBJECT_SECURITY, &[0x02, 0x01, 0x01]),
            (
                LDAP_DIRSYNC_ANCESTORS_FIRST_ORDER,
                &[0x02, 0x02, 0x08, 0x00],
            ),
            (LDAP_DIRSYNC_PUBLIC_DATA_ONLY, &[0x02, 0x02, 0x20, 0x00]),
            (
                LDAP_DIRSYNC_INCREMENTAL_VALUES,
                &[0x02, 0x04, 0x80, 0x00, 0x00, 0x00],
            ),
            (u32::MAX, &[0x02, 0x01, 0xFF]),
        ];
        for &(flags, integer) in cases {
            let request = DirSyncRequest {
                flags,
                max_bytes: 0,
                cookie: Vec::new(),
            };
            let mut expected = vec![0x30, u8::try_from(integer.len() + 5).unwrap()];
            expected.extend_from_slice(integer);
            expected.extend_from_slice(&[0x02, 0x01, 0x00, 0x04, 0x00]);
            assert_eq!(request.encode(), expected, "flags {flags:#x}");
            assert_eq!(DirSyncRequest::decode(&expected).unwrap(), request);
        }
    }

    #[test]
    fn request_with_cookie_and_clamped_max_bytes() {
        let request = DirSyncRequest {
            flags: LDAP_DIRSYNC_PUBLIC_DATA_ONLY,
            max_bytes: u32::MAX,
            cookie: b"ab".to_vec(),
        };
        // 30 0e | 02 02 20 00 | 02 04 7f ff ff ff | 04 02 61 62
        let expected = [
            0x30, 0x0E, 0x02, 0x02, 0x20, 0x00, 0x02, 0x04, 0x7F, 0xFF, 0xFF, 0xFF, 0x04, 0x02,
            0x61, 0x62,
        ];
        assert_eq!(request.encode(), expected);
        let decoded = DirSyncRequest::decode(&expected).unwrap();
        assert_eq!(decoded.max_bytes, MAX_BYTES_LIMIT);
    }

    #[test]
    fn positive_five_octet_flags_are_accepted() {
        let value = [
            0x30, 0x0C, 0x02, 0x05, 0x00, 0x80, 0x00, 0x00, 0x00, 0x02, 0x01, 0x00, 0x04, 0x00,
        ];
        assert_eq!(
            DirSyncRequest::decode(&value).unwrap().flags,
            LDAP_DIRSYNC_INCREMENTAL_VALUES
        );
    }

    #[test]
    fn request_range_errors() {
        // Flags = 0x1_0000_0000 does not fit 32 bits.
        let value = [
            0x30, 0x0C, 0x02, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00, 0x02, 0x01, 0x00, 0x04, 0x00,
        ];
        assert_eq!(
            DirSyncRequest::decode(&value).unwrap_err().kind,
            ControlErrorKind::OutOfRange {
                field: "Flags",
                value: 0x1_0000_0000
            }
        );
        let value = [0x30, 0x08, 0x02, 0x01, 0x00, 0x02, 0x01, 0xFF, 0x04, 0x00];
        assert_eq!(
            DirSyncRequest::decode(&value).unwrap_err().kind,
            ControlErrorKind::OutOfRange {
                field: "MaxBytes",
                value: -1
            }
        );
    }

    //   30 0d                 SEQUENCE, 13 content octets
    //     02 01 01            MoreResults = 1
    //     02 01 00            unused = 0
    //     04 05 63 6f 6f 6b 69  CookieServer = "cooki"
    const RESPONSE_MORE: [u8; 15] = [
        0x30, 0x0D, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x04, 0x05, 0x63, 0x6F, 0x6F, 0x6B, 0x69,
    ];

    #[test]
    fn response_vector() {
        let response = DirSyncResponse {
            more_results: true,
            cookie: b"cooki".to_vec(),
        };
        assert_eq!(response.encode(), RESPONSE_MORE);
        assert_eq!(DirSyncResponse::decode(&RESPONSE_MORE).unwrap(), response);
        assert_eq!(
            DirSyncResponse::from_control(DIRSYNC_OID, Some(&RESPONSE_MORE)).unwrap(),
            response
        );
        let control = response.to_control();
        assert!(!control.critical);
        assert_eq!(control.value.as_deref(), Some(&RESPONSE_MORE[..]));
    }

    #[test]
    fn response_in_active_directory_style() {
        // Four-octet long-form lengths throughout, a non-zero `unused` and a
        // MoreResults value other than 1.
        let value = [
            0x30, 0x84, 0x00, 0x00, 0x00, 0x0F, 0x02, 0x01, 0x05, 0x02, 0x02, 0x01, 0x00, 0x04,
            0x84, 0x00, 0x00, 0x00, 0x02, 0xAB, 0xCD,
        ];
        assert_eq!(
            DirSyncResponse::decode(&value).unwrap(),
            DirSyncResponse {
                more_results: true,
                cookie: vec![0xAB, 0xCD],
            }
        );
        let done = [0x30, 0x08, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x04, 0x00];
        assert!(!DirSyncResponse::decode(&done).unwrap().more_results);
    }

    #[test]
    fn truncation_at_every_position_fails() {
        for vector in [&INITIAL_REQUEST[..], &RESPONSE_MORE[..]] {
            for cut in 0..vector.len() {
                assert!(DirSyncRequest::decode(&vector[..cut]).is_err(), "cut {cut}");
                assert!(
                    DirSyncResponse::decode(&vector[..cut]).is_err(),
                    "cut {cut}"
                );
            }
        }
    }

    #[test]
    fn malformed_responses() {
        let ber = |e: BerError| ControlErrorKind::Ber(e);
        let cases: Vec<(Vec<u8>, ControlErrorKind)> = vec![
            (vec![], ber(BerError::Truncated { offset: 0 })),
            // SET instead of SEQUENCE
            (
                vec![0x31, 0x08, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x04, 0x00],
                ber(BerError::UnexpectedTag {
                    offset: 0,
                    expected: Tag::SEQUENCE,
                    found: Tag::SET,
                }),
            ),
            // ENUMERATED instead of INTEGER
            (
                vec![0x30, 0x08, 0x0A, 0x01, 0x00, 0x02, 0x01, 0x00, 0x04, 0x00],
                ber(BerError::UnexpectedTag {
                    offset: 2,
                    expected: Tag::INTEGER,
                    found: Tag::ENUMERATED,
                }),
            ),
            // constructed OCTET STRING, which RFC 4511 forbids
            (
                vec![
                    0x30, 0x0A, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x24, 0x02, 0x04, 0x00,
                ],
                ber(BerError::UnexpectedTag {
                    offset: 8,
                    expected: Tag::OCTET_STRING,
                    found: Tag::from_identifier(0x24).unwrap(),
                }),
            ),
            // cookie missing
            (
                vec![0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00],
                ber(BerError::Truncated { offset: 8 }),
            ),
            // indefinite length
            (
                vec![
                    0x30, 0x80, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x04, 0x00, 0x00, 0x00,
                ],
                ber(BerError::IndefiniteLength { offset: 1 }),
            ),
            // length larger than the input
            (
                vec![0x30, 0x09, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x04, 0x00],
                ber(BerError::LengthExceedsInput {
                    offset: 0,
                    length: 9,
                    available: 8,
                }),
            ),
            // absurd five-octet length
            (
                vec![0x30, 0x85, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
                ber(BerError::LengthTooLong {
                    offset: 1,
                    octets: 5,
                }),
            ),
            // nine-octet MoreResults
            (
                vec![
                    0x30, 0x10, 0x02, 0x09, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x01, 0x00, 0x04,
                    0x00,
                ],
                ber(BerError::IntegerOverflow {
                    offset: 2,
                    bits: 64,
                }),
            ),
            // extra element inside the SEQUENCE
            (
                vec![
                    0x30, 0x0B, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x04, 0x00, 0x02, 0x01, 0x00,
                ],
                ber(BerError::TrailingData {
                    offset: 10,
                    count: 3,
                }),
            ),
            // garbage after the SEQUENCE
            (
                vec![
                    0x30, 0x08, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x04, 0x00, 0xDE, 0xAD,
                ],
                ber(BerError::TrailingData {
                    offset: 10,
                    count: 2,
                }),
            ),
        ];
        for (value, expected) in cases {
            let err = DirSyncResponse::decode(&value).unwrap_err();
            assert_eq!(err.control, "DirSync response");
            assert_eq!(err.kind, expected, "value {value:02x?}");
        }
    }

    #[test]
    fn from_control_checks_oid_and_value() {
        assert!(matches!(
            DirSyncResponse::from_control("1.2.840.113556.1.4.319", Some(&RESPONSE_MORE))
                .unwrap_err()
                .kind,
            ControlErrorKind::WrongOid { .. }
        ));
        assert_eq!(
            DirSyncResponse::from_control(DIRSYNC_OID, None)
                .unwrap_err()
                .kind,
            ControlErrorKind::MissingValue
        );
    }
}
