//! The control triple shared by every encoder, and the decoding error type.

use super::ber::BerError;

/// An LDAP control as it travels in a request or response: OID, criticality
/// and optional BER value.
///
/// Field for field the same as `ldap3::controls::RawControl`
/// (`ctype`, `crit`, `val`), so converting is a plain move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Control {
    /// The control type, a dotted-decimal OID.
    pub oid: String,
    /// Whether the server must reject the operation if it cannot honour the
    /// control.
    pub critical: bool,
    /// The BER-encoded control value, if the control has one.
    pub value: Option<Vec<u8>>,
}

impl Control {
    /// Builds a control from its parts.
    #[must_use]
    pub fn new(oid: impl Into<String>, critical: bool, value: Option<Vec<u8>>) -> Self {
        Control {
            oid: oid.into(),
            critical,
            value,
        }
    }

    /// Splits the control into `(oid, critical, value)`.
    #[must_use]
    pub fn into_parts(self) -> (String, bool, Option<Vec<u8>>) {
        (self.oid, self.critical, self.value)
    }
}

impl From<Control> for (String, bool, Option<Vec<u8>>) {
    fn from(control: Control) -> Self {
        control.into_parts()
    }
}

/// Why a control or intermediate-response value could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{control}: {kind}")]
pub struct ControlError {
    /// Human-readable name of the control being decoded, e.g. `"DirSync response"`.
    pub control: &'static str,
    /// What was wrong.
    pub kind: ControlErrorKind,
}

/// The specific defect behind a [`ControlError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlErrorKind {
    /// The value is not well-formed BER of the expected shape.
    #[error("malformed value: {0}")]
    Ber(#[from] BerError),
    /// The control or response carries a different OID.
    #[error("OID {found:?} is not the expected {expected}")]
    WrongOid {
        /// The OID this decoder handles.
        expected: &'static str,
        /// The OID that was presented.
        found: String,
    },
    /// The control or response has no value although one is required.
    #[error("value is missing")]
    MissingValue,
    /// A UUID field does not hold exactly 16 octets.
    #[error("{field} must be 16 octets, found {length}")]
    InvalidUuidLength {
        /// The ASN.1 field name.
        field: &'static str,
        /// The length found.
        length: usize,
    },
    /// An ENUMERATED field holds a value the specification does not define.
    #[error("{field} has undefined value {value}")]
    UnknownEnumValue {
        /// The ASN.1 field name.
        field: &'static str,
        /// The value found.
        value: i64,
    },
    /// An INTEGER field is outside the range the specification allows.
    #[error("{field} value {value} is out of range")]
    OutOfRange {
        /// The ASN.1 field name.
        field: &'static str,
        /// The value found.
        value: i64,
    },
    /// A CHOICE carries an alternative tag the specification does not define.
    #[error("unknown CHOICE alternative with identifier 0x{identifier:02x}")]
    UnknownChoice {
        /// The identifier octet found.
        identifier: u8,
    },
}

impl ControlErrorKind {
    pub(super) fn within(self, control: &'static str) -> ControlError {
        ControlError {
            control,
            kind: self,
        }
    }
}

/// Checks that a received control or intermediate response carries
/// `expected_oid` and a value, and returns the value.
///
/// # Errors
/// [`ControlErrorKind::WrongOid`] or [`ControlErrorKind::MissingValue`],
/// attributed to `control`.
pub fn expect_value<'a>(
    control: &'static str,
    expected_oid: &'static str,
    oid: &str,
    value: Option<&'a [u8]>,
) -> Result<&'a [u8], ControlError> {
    if oid != expected_oid {
        return Err(ControlErrorKind::WrongOid {
            expected: expected_oid,
            found: oid.to_owned(),
        }
        .within(control));
    }
    value.ok_or_else(|| ControlErrorKind::MissingValue.within(control))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn control_converts_to_parts() {
        let control = Control::new("1.2.3", true, Some(vec![1, 2]));
        let (oid, critical, value): (String, bool, Option<Vec<u8>>) = control.into();
        assert_eq!(oid, "1.2.3");
        assert!(critical);
        assert_eq!(value, Some(vec![1, 2]));
    }

    #[test]
    fn expect_value_checks_oid_and_presence() {
        assert_eq!(expect_value("x", "1.2", "1.2", Some(&[5])).unwrap(), [5]);
        let err = expect_value("x", "1.2", "1.3", Some(&[5])).unwrap_err();
        assert_eq!(
            err.kind,
            ControlErrorKind::WrongOid {
                expected: "1.2",
                found: "1.3".into()
            }
        );
        assert_eq!(err.to_string(), "x: OID \"1.3\" is not the expected 1.2");
        let err = expect_value("x", "1.2", "1.2", None).unwrap_err();
        assert_eq!(err.kind, ControlErrorKind::MissingValue);
    }
}
