//! RFC 2696 Simple Paged Results control.
//!
//! ```text
//! realSearchControlValue ::= SEQUENCE {
//!     size    INTEGER (0..maxInt),   -- requested page size / estimated total
//!     cookie  OCTET STRING }
//! ```
//!
//! The same value shape serves the request and the response.

use super::ber::{Reader, Writer};
use super::control::{Control, ControlError, ControlErrorKind, expect_value};

/// Control type of the paged results control.
pub const PAGED_RESULTS_OID: &str = "1.2.840.113556.1.4.319";

/// `maxInt` from RFC 2696 (2^31 - 1).
pub const MAX_INT: u32 = 0x7FFF_FFFF;

const NAME: &str = "Paged Results";

/// A paged results control value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PagedResults {
    /// In a request, the page size; in a response, the server's estimate of
    /// the total result count (0 if unknown). Values above [`MAX_INT`] are
    /// sent as [`MAX_INT`].
    pub size: u32,
    /// Empty in the first request and in the last response; otherwise the
    /// opaque value to send back for the next page.
    pub cookie: Vec<u8>,
}

impl PagedResults {
    /// The DER control value.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.write_sequence(|w| {
            w.write_integer(i64::from(self.size.min(MAX_INT)));
            w.write_octet_string(&self.cookie);
        });
        w.into_bytes()
    }

    /// The request control, not critical (servers without paging then return
    /// the whole result or a size-limit error, which callers already handle).
    #[must_use]
    pub fn to_control(&self) -> Control {
        Control::new(PAGED_RESULTS_OID, false, Some(self.encode()))
    }

    /// Decodes a control value.
    ///
    /// # Errors
    /// Malformed BER, or a size outside `0..=maxInt`.
    pub fn decode(value: &[u8]) -> Result<Self, ControlError> {
        Self::decode_inner(value).map_err(|kind| kind.within(NAME))
    }

    /// Decodes a received control, checking its OID and that it has a value.
    ///
    /// # Errors
    /// A different OID, a missing value, or any error of
    /// [`PagedResults::decode`].
    pub fn from_control(oid: &str, value: Option<&[u8]>) -> Result<Self, ControlError> {
        Self::decode(expect_value(NAME, PAGED_RESULTS_OID, oid, value)?)
    }

    /// Whether this response ends the paged search.
    #[must_use]
    pub fn is_last_page(&self) -> bool {
        self.cookie.is_empty()
    }

    fn decode_inner(value: &[u8]) -> Result<Self, ControlErrorKind> {
        let mut outer = Reader::new(value);
        let mut seq = outer.read_sequence()?;
        let raw_size = seq.read_integer()?;
        let size = u32::try_from(raw_size)
            .ok()
            .filter(|size| *size <= MAX_INT)
            .ok_or(ControlErrorKind::OutOfRange {
                field: "size",
                value: raw_size,
            })?;
        let cookie = seq.read_octet_string()?.to_vec();
        seq.finish()?;
        outer.finish()?;
        Ok(PagedResults { size, cookie })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::super::ber::{BerError, Tag};
    use super::*;

    //   30 06 | 02 02 01 f4 (size 500) | 04 00 (empty cookie)
    const FIRST_REQUEST: [u8; 8] = [0x30, 0x06, 0x02, 0x02, 0x01, 0xF4, 0x04, 0x00];

    #[test]
    fn vectors() {
        let first = PagedResults {
            size: 500,
            cookie: Vec::new(),
        };
        assert_eq!(first.encode(), FIRST_REQUEST);
        assert_eq!(PagedResults::decode(&FIRST_REQUEST).unwrap(), first);
        assert!(first.is_last_page());
        let control = first.to_control();
        assert_eq!(control.oid, PAGED_RESULTS_OID);
        assert!(!control.critical);

        //   30 09 | 02 01 00 | 04 04 de ad be ef
        let next = [
            0x30, 0x09, 0x02, 0x01, 0x00, 0x04, 0x04, 0xDE, 0xAD, 0xBE, 0xEF,
        ];
        let response = PagedResults::from_control(PAGED_RESULTS_OID, Some(&next)).unwrap();
        assert_eq!(
            response,
            PagedResults {
                size: 0,
                cookie: vec![0xDE, 0xAD, 0xBE, 0xEF]
            }
        );
        assert!(!response.is_last_page());
        assert_eq!(response.encode(), next);

        //   30 08 | 02 04 7f ff ff ff | 04 00
        let max = [0x30, 0x08, 0x02, 0x04, 0x7F, 0xFF, 0xFF, 0xFF, 0x04, 0x00];
        let clamped = PagedResults {
            size: u32::MAX,
            cookie: Vec::new(),
        };
        assert_eq!(clamped.encode(), max);
        assert_eq!(PagedResults::decode(&max).unwrap().size, MAX_INT);
    }

    #[test]
    fn truncation_at_every_position_fails() {
        for cut in 0..FIRST_REQUEST.len() {
            assert!(PagedResults::decode(&FIRST_REQUEST[..cut]).is_err());
        }
    }

    #[test]
    fn malformed_values() {
        let ber = ControlErrorKind::Ber;
        let cases: Vec<(Vec<u8>, ControlErrorKind)> = vec![
            (
                vec![0x30, 0x05, 0x02, 0x01, 0xFF, 0x04, 0x00],
                ControlErrorKind::OutOfRange {
                    field: "size",
                    value: -1,
                },
            ),
            (
                vec![
                    0x30, 0x09, 0x02, 0x05, 0x00, 0x80, 0x00, 0x00, 0x00, 0x04, 0x00,
                ],
                ControlErrorKind::OutOfRange {
                    field: "size",
                    value: 0x8000_0000,
                },
            ),
            (
                vec![0x30, 0x05, 0x04, 0x00, 0x02, 0x01, 0x00],
                ber(BerError::UnexpectedTag {
                    offset: 2,
                    expected: Tag::INTEGER,
                    found: Tag::OCTET_STRING,
                }),
            ),
            (
                vec![0x30, 0x03, 0x02, 0x01, 0x00],
                ber(BerError::Truncated { offset: 5 }),
            ),
            (
                vec![0x30, 0x06, 0x02, 0x02, 0x00, 0x05, 0x04, 0x00],
                ber(BerError::InvalidInteger { offset: 2 }),
            ),
            (
                vec![0x30, 0x05, 0x02, 0x01, 0x00, 0x04, 0x00, 0x00],
                ber(BerError::TrailingData {
                    offset: 7,
                    count: 1,
                }),
            ),
            (
                vec![0x30, 0x80, 0x02, 0x01, 0x00, 0x04, 0x00, 0x00, 0x00],
                ber(BerError::IndefiniteLength { offset: 1 }),
            ),
        ];
        for (value, expected) in cases {
            let err = PagedResults::decode(&value).unwrap_err();
            assert_eq!(err.control, "Paged Results");
            assert_eq!(err.kind, expected, "value {value:02x?}");
        }
    }
}
