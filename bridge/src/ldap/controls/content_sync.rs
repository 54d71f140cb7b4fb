//! RFC 4533 LDAP Content Synchronization ("syncrepl"): the Sync Request,
//! Sync State and Sync Done controls and the Sync Info intermediate response.
//!
//! The ASN.1 module uses implicit tags, so `[0] syncCookie` in Sync Info is
//! a primitive `0x80` element holding the cookie octets, and the
//! `refreshDelete`, `refreshPresent` and `syncIdSet` alternatives are
//! constructed `0xA1`, `0xA2` and `0xA3` elements holding the SEQUENCE
//! components directly, as OpenLDAP's `syncprov` sends them.
//!
//! Decoders accept an explicitly encoded DEFAULT value (e.g. `reloadHint
//! FALSE`); encoders omit it, as RFC 4511 §5.1 requires.

use super::ber::{BerError, Reader, Tag, Writer};
use super::control::{Control, ControlError, ControlErrorKind, expect_value};
use super::guid::EntryUuid;

/// Control type of the Sync Request control.
pub const SYNC_REQUEST_OID: &str = "1.3.6.1.4.1.4203.1.9.1.1";
/// Control type of the Sync State control.
pub const SYNC_STATE_OID: &str = "1.3.6.1.4.1.4203.1.9.1.2";
/// Control type of the Sync Done control.
pub const SYNC_DONE_OID: &str = "1.3.6.1.4.1.4203.1.9.1.3";
/// `responseName` of the Sync Info intermediate response.
pub const SYNC_INFO_OID: &str = "1.3.6.1.4.1.4203.1.9.1.4";

/// The `e-syncRefreshRequired` result code (RFC 4533 §2.6): the server cannot
/// continue from the cookie, and the client must start a fresh refresh
/// (without a cookie) and reconcile everything.
pub const E_SYNC_REFRESH_REQUIRED: u32 = 4096;

const TAG_NEW_COOKIE: Tag = Tag::context::<0>(false);
const TAG_REFRESH_DELETE: Tag = Tag::context::<1>(true);
const TAG_REFRESH_PRESENT: Tag = Tag::context::<2>(true);
const TAG_SYNC_ID_SET: Tag = Tag::context::<3>(true);

const REQUEST: &str = "Sync Request";
const STATE: &str = "Sync State";
const DONE: &str = "Sync Done";
const INFO: &str = "Sync Info";

/// The `mode` of a Sync Request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncMode {
    /// `refreshOnly (1)`: the search ends once the content is synchronized.
    RefreshOnly,
    /// `refreshAndPersist (3)`: after the refresh, the search stays open and
    /// the server streams changes.
    RefreshAndPersist,
}

impl SyncMode {
    /// The ENUMERATED value on the wire.
    #[must_use]
    pub const fn code(self) -> i64 {
        match self {
            SyncMode::RefreshOnly => 1,
            SyncMode::RefreshAndPersist => 3,
        }
    }

    /// The mode for an ENUMERATED value; 0 and 2 are unused/reserved.
    #[must_use]
    pub const fn from_code(code: i64) -> Option<Self> {
        match code {
            1 => Some(SyncMode::RefreshOnly),
            3 => Some(SyncMode::RefreshAndPersist),
            _ => None,
        }
    }
}

/// The value of a Sync Request control.
///
/// ```text
/// syncRequestValue ::= SEQUENCE {
///     mode ENUMERATED { refreshOnly (1), refreshAndPersist (3) },
///     cookie     syncCookie OPTIONAL,
///     reloadHint BOOLEAN DEFAULT FALSE }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRequest {
    /// Refresh only, or refresh and then persist.
    pub mode: SyncMode,
    /// The last cookie received, or `None` for an initial full refresh.
    pub cookie: Option<Vec<u8>>,
    /// Ask the server to prefer a full reload over a delta refresh.
    pub reload_hint: bool,
}

impl SyncRequest {
    /// The DER control value.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.write_sequence(|w| {
            w.write_enumerated(self.mode.code());
            if let Some(cookie) = &self.cookie {
                w.write_octet_string(cookie);
            }
            if self.reload_hint {
                w.write_boolean(true);
            }
        });
        w.into_bytes()
    }

    /// The request control, marked critical so that a server without content
    /// synchronization fails the search instead of answering it as a plain
    /// one.
    #[must_use]
    pub fn to_control(&self) -> Control {
        Control::new(SYNC_REQUEST_OID, true, Some(self.encode()))
    }

    /// Decodes a request control value.
    ///
    /// # Errors
    /// Malformed BER or an undefined mode.
    pub fn decode(value: &[u8]) -> Result<Self, ControlError> {
        Self::decode_inner(value).map_err(|kind| kind.within(REQUEST))
    }

    fn decode_inner(value: &[u8]) -> Result<Self, ControlErrorKind> {
        let mut outer = Reader::new(value);
        let mut seq = outer.read_sequence()?;
        let code = seq.read_enumerated()?;
        let mode = SyncMode::from_code(code).ok_or(ControlErrorKind::UnknownEnumValue {
            field: "mode",
            value: code,
        })?;
        let cookie = read_optional_cookie(&mut seq)?;
        let reload_hint = read_boolean_or(&mut seq, false)?;
        seq.finish()?;
        outer.finish()?;
        Ok(SyncRequest {
            mode,
            cookie,
            reload_hint,
        })
    }
}

/// The `state` of a Sync State control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryState {
    /// `present (0)`: the entry is unchanged and still in the content.
    Present,
    /// `add (1)`: the entry is new to the content.
    Add,
    /// `modify (2)`: the entry changed.
    Modify,
    /// `delete (3)`: the entry left the content.
    Delete,
}

impl EntryState {
    /// The ENUMERATED value on the wire.
    #[must_use]
    pub const fn code(self) -> i64 {
        match self {
            EntryState::Present => 0,
            EntryState::Add => 1,
            EntryState::Modify => 2,
            EntryState::Delete => 3,
        }
    }

    /// The state for an ENUMERATED value.
    #[must_use]
    pub const fn from_code(code: i64) -> Option<Self> {
        match code {
            0 => Some(EntryState::Present),
            1 => Some(EntryState::Add),
            2 => Some(EntryState::Modify),
            3 => Some(EntryState::Delete),
            _ => None,
        }
    }
}

/// The value of a Sync State control, attached to each SearchResultEntry
/// (and SearchResultReference) during synchronization.
///
/// ```text
/// syncStateValue ::= SEQUENCE {
///     state ENUMERATED { present (0), add (1), modify (2), delete (3) },
///     entryUUID syncUUID,
///     cookie    syncCookie OPTIONAL }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncState {
    /// What happened to the entry.
    pub state: EntryState,
    /// The entry's `entryUUID`.
    pub entry_uuid: EntryUuid,
    /// A new cookie, to be stored once this entry has been processed.
    pub cookie: Option<Vec<u8>>,
}

impl SyncState {
    /// The DER control value.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.write_sequence(|w| {
            w.write_enumerated(self.state.code());
            w.write_octet_string(self.entry_uuid.as_bytes());
            if let Some(cookie) = &self.cookie {
                w.write_octet_string(cookie);
            }
        });
        w.into_bytes()
    }

    /// The control as a server attaches it (not critical).
    #[must_use]
    pub fn to_control(&self) -> Control {
        Control::new(SYNC_STATE_OID, false, Some(self.encode()))
    }

    /// Decodes a Sync State control value.
    ///
    /// # Errors
    /// Malformed BER, an undefined state, or an `entryUUID` that is not 16
    /// octets.
    pub fn decode(value: &[u8]) -> Result<Self, ControlError> {
        Self::decode_inner(value).map_err(|kind| kind.within(STATE))
    }

    /// Decodes a received control, checking its OID and that it has a value.
    ///
    /// # Errors
    /// A different OID, a missing value, or any error of
    /// [`SyncState::decode`].
    pub fn from_control(oid: &str, value: Option<&[u8]>) -> Result<Self, ControlError> {
        Self::decode(expect_value(STATE, SYNC_STATE_OID, oid, value)?)
    }

    fn decode_inner(value: &[u8]) -> Result<Self, ControlErrorKind> {
        let mut outer = Reader::new(value);
        let mut seq = outer.read_sequence()?;
        let code = seq.read_enumerated()?;
        let state = EntryState::from_code(code).ok_or(ControlErrorKind::UnknownEnumValue {
            field: "state",
            value: code,
        })?;
        let entry_uuid = read_uuid(&mut seq, "entryUUID")?;
        let cookie = read_optional_cookie(&mut seq)?;
        seq.finish()?;
        outer.finish()?;
        Ok(SyncState {
            state,
            entry_uuid,
            cookie,
        })
    }
}

/// The value of a Sync Done control, attached to the SearchResultDone that
/// ends a refreshOnly search.
///
/// ```text
/// syncDoneValue ::= SEQUENCE {
///     cookie          syncCookie OPTIONAL,
///     refreshDeletes  BOOLEAN DEFAULT FALSE }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncDone {
    /// The cookie to store for the next synchronization.
    pub cookie: Option<Vec<u8>>,
    /// True if the refresh used delete messages: entries not mentioned are
    /// unchanged. False if it used present messages: entries not mentioned
    /// as present must be deleted locally.
    pub refresh_deletes: bool,
}

impl SyncDone {
    /// The DER control value.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.write_sequence(|w| {
            if let Some(cookie) = &self.cookie {
                w.write_octet_string(cookie);
            }
            if self.refresh_deletes {
                w.write_boolean(true);
            }
        });
        w.into_bytes()
    }

    /// The control as a server attaches it (not critical).
    #[must_use]
    pub fn to_control(&self) -> Control {
        Control::new(SYNC_DONE_OID, false, Some(self.encode()))
    }

    /// Decodes a Sync Done control value.
    ///
    /// # Errors
    /// Malformed BER.
    pub fn decode(value: &[u8]) -> Result<Self, ControlError> {
        Self::decode_inner(value).map_err(|kind| kind.within(DONE))
    }

    /// Decodes a received control, checking its OID and that it has a value.
    ///
    /// # Errors
    /// A different OID, a missing value, or any error of
    /// [`SyncDone::decode`].
    pub fn from_control(oid: &str, value: Option<&[u8]>) -> Result<Self, ControlError> {
        Self::decode(expect_value(DONE, SYNC_DONE_OID, oid, value)?)
    }

    fn decode_inner(value: &[u8]) -> Result<Self, ControlErrorKind> {
        let mut outer = Reader::new(value);
        let mut seq = outer.read_sequence()?;
        let cookie = read_optional_cookie(&mut seq)?;
        let refresh_deletes = read_boolean_or(&mut seq, false)?;
        seq.finish()?;
        outer.finish()?;
        Ok(SyncDone {
            cookie,
            refresh_deletes,
        })
    }
}

/// The value of a Sync Info intermediate response.
///
/// ```text
/// syncInfoValue ::= CHOICE {
///     newcookie      [0] syncCookie,
///     refreshDelete  [1] SEQUENCE { cookie syncCookie OPTIONAL,
///                                   refreshDone BOOLEAN DEFAULT TRUE },
///     refreshPresent [2] SEQUENCE { cookie syncCookie OPTIONAL,
///                                   refreshDone BOOLEAN DEFAULT TRUE },
///     syncIdSet      [3] SEQUENCE { cookie syncCookie OPTIONAL,
///                                   refreshDeletes BOOLEAN DEFAULT FALSE,
///                                   syncUUIDs SET OF syncUUID } }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncInfo {
    /// A new cookie with no other change.
    NewCookie(Vec<u8>),
    /// End of (or a step in) the delete phase of a refresh.
    RefreshDelete {
        /// A new cookie, if any.
        cookie: Option<Vec<u8>>,
        /// Whether the refresh stage is complete.
        refresh_done: bool,
    },
    /// End of (or a step in) the present phase of a refresh.
    RefreshPresent {
        /// A new cookie, if any.
        cookie: Option<Vec<u8>>,
        /// Whether the refresh stage is complete.
        refresh_done: bool,
    },
    /// A batch of entries, identified by UUID only, that are present
    /// (`refresh_deletes == false`) or deleted (`refresh_deletes == true`).
    SyncIdSet {
        /// A new cookie, if any.
        cookie: Option<Vec<u8>>,
        /// True if the UUIDs are deleted entries, false if present ones.
        refresh_deletes: bool,
        /// The entries, in wire order; may be empty and may repeat.
        uuids: Vec<EntryUuid>,
    },
}

impl SyncInfo {
    /// The DER `responseValue`. `syncUUIDs` are written in ascending byte
    /// order, as DER requires for SET OF.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        match self {
            SyncInfo::NewCookie(cookie) => w.write_primitive(TAG_NEW_COOKIE, cookie),
            SyncInfo::RefreshDelete {
                cookie,
                refresh_done,
            } => write_refresh(&mut w, TAG_REFRESH_DELETE, cookie.as_deref(), *refresh_done),
            SyncInfo::RefreshPresent {
                cookie,
                refresh_done,
            } => write_refresh(
                &mut w,
                TAG_REFRESH_PRESENT,
                cookie.as_deref(),
                *refresh_done,
            ),
            SyncInfo::SyncIdSet {
                cookie,
                refresh_deletes,
                uuids,
            } => w.write_constructed(TAG_SYNC_ID_SET, |w| {
                if let Some(cookie) = cookie {
                    w.write_octet_string(cookie);
                }
                if *refresh_deletes {
                    w.write_boolean(true);
                }
                w.write_set_of(uuids, |w, uuid| w.write_octet_string(uuid.as_bytes()));
            }),
        }
        w.into_bytes()
    }

    /// Decodes a Sync Info `responseValue`.
    ///
    /// # Errors
    /// Malformed BER, an undefined CHOICE alternative, or a `syncUUIDs`
    /// member that is not 16 octets.
    pub fn decode(value: &[u8]) -> Result<Self, ControlError> {
        Self::decode_inner(value).map_err(|kind| kind.within(INFO))
    }

    /// Decodes an intermediate response, checking that its `responseName` is
    /// [`SYNC_INFO_OID`] and that it has a value.
    ///
    /// # Errors
    /// A missing or different name, a missing value, or any error of
    /// [`SyncInfo::decode`].
    pub fn from_intermediate(
        name: Option<&str>,
        value: Option<&[u8]>,
    ) -> Result<Self, ControlError> {
        Self::decode(expect_value(
            INFO,
            SYNC_INFO_OID,
            name.unwrap_or_default(),
            value,
        )?)
    }

    fn decode_inner(value: &[u8]) -> Result<Self, ControlErrorKind> {
        let mut outer = Reader::new(value);
        let info = match outer.peek_tag()? {
            Some(TAG_NEW_COOKIE) => {
                SyncInfo::NewCookie(outer.read_octet_string_tagged(TAG_NEW_COOKIE)?.to_vec())
            }
            Some(tag @ (TAG_REFRESH_DELETE | TAG_REFRESH_PRESENT)) => {
                let mut seq = outer.read_constructed(tag)?;
                let cookie = read_optional_cookie(&mut seq)?;
                let refresh_done = read_boolean_or(&mut seq, true)?;
                seq.finish()?;
                if tag == TAG_REFRESH_DELETE {
                    SyncInfo::RefreshDelete {
                        cookie,
                        refresh_done,
                    }
                } else {
                    SyncInfo::RefreshPresent {
                        cookie,
                        refresh_done,
                    }
                }
            }
            Some(TAG_SYNC_ID_SET) => {
                let mut seq = outer.read_constructed(TAG_SYNC_ID_SET)?;
                let cookie = read_optional_cookie(&mut seq)?;
                let refresh_deletes = read_boolean_or(&mut seq, false)?;
                let mut set = seq.read_set()?;
                let mut uuids = Vec::new();
                while !set.is_empty() {
                    uuids.push(read_uuid(&mut set, "syncUUIDs")?);
                }
                seq.finish()?;
                SyncInfo::SyncIdSet {
                    cookie,
                    refresh_deletes,
                    uuids,
                }
            }
            Some(other) => {
                return Err(ControlErrorKind::UnknownChoice {
                    identifier: other.identifier(),
                });
            }
            None => {
                return Err(BerError::Truncated {
                    offset: outer.offset(),
                }
                .into());
            }
        };
        outer.finish()?;
        Ok(info)
    }
}

fn write_refresh(w: &mut Writer, tag: Tag, cookie: Option<&[u8]>, refresh_done: bool) {
    w.write_constructed(tag, |w| {
        if let Some(cookie) = cookie {
            w.write_octet_string(cookie);
        }
        if !refresh_done {
            w.write_boolean(false);
        }
    });
}

fn read_optional_cookie(seq: &mut Reader<'_>) -> Result<Option<Vec<u8>>, ControlErrorKind> {
    if seq.next_is(Tag::OCTET_STRING) {
        Ok(Some(seq.read_octet_string()?.to_vec()))
    } else {
        Ok(None)
    }
}

fn read_boolean_or(seq: &mut Reader<'_>, default: bool) -> Result<bool, ControlErrorKind> {
    if seq.next_is(Tag::BOOLEAN) {
        Ok(seq.read_boolean()?)
    } else {
        Ok(default)
    }
}

fn read_uuid(seq: &mut Reader<'_>, field: &'static str) -> Result<EntryUuid, ControlErrorKind> {
    let bytes = seq.read_octet_string()?;
    EntryUuid::from_slice(bytes).map_err(|_| ControlErrorKind::InvalidUuidLength {
        field,
        length: bytes.len(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const UUID_A: [u8; 16] = [
        0x1B, 0x4E, 0x28, 0xBA, 0x2F, 0xA1, 0x11, 0xD2, 0x88, 0x3F, 0xB9, 0xA7, 0x61, 0xBD, 0xE3,
        0xFB,
    ];
    const UUID_B: [u8; 16] = [
        0xF8, 0x1D, 0x4F, 0xAE, 0x7D, 0xEC, 0x11, 0xD0, 0xA7, 0x65, 0x00, 0xA0, 0xC9, 0x1E, 0x6B,
        0xF6,
    ];

    fn concat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    fn all_cuts_fail(vector: &[u8], decode: impl Fn(&[u8]) -> bool) {
        for cut in 0..vector.len() {
            assert!(!decode(&vector[..cut]), "prefix of {cut} bytes decoded");
        }
    }

    // RFC 4533 §2.2, derived by hand:
    //   30 03          SEQUENCE, 3 content octets
    //     0a 01 01     mode = refreshOnly (1)
    const REQUEST_MINIMAL: [u8; 5] = [0x30, 0x03, 0x0A, 0x01, 0x01];

    //   30 0f                           SEQUENCE, 15 content octets
    //     0a 01 03                      mode = refreshAndPersist (3)
    //     04 07 72 69 64 3d 30 30 31    cookie = "rid=001"
    //     01 01 ff                      reloadHint = TRUE
    const REQUEST_FULL: [u8; 17] = [
        0x30, 0x0F, 0x0A, 0x01, 0x03, 0x04, 0x07, 0x72, 0x69, 0x64, 0x3D, 0x30, 0x30, 0x31, 0x01,
        0x01, 0xFF,
    ];

    #[test]
    fn sync_request_vectors() {
        let minimal = SyncRequest {
            mode: SyncMode::RefreshOnly,
            cookie: None,
            reload_hint: false,
        };
        assert_eq!(minimal.encode(), REQUEST_MINIMAL);
        assert_eq!(SyncRequest::decode(&REQUEST_MINIMAL).unwrap(), minimal);

        let full = SyncRequest {
            mode: SyncMode::RefreshAndPersist,
            cookie: Some(b"rid=001".to_vec()),
            reload_hint: true,
        };
        assert_eq!(full.encode(), REQUEST_FULL);
        assert_eq!(SyncRequest::decode(&REQUEST_FULL).unwrap(), full);

        let control = full.to_control();
        assert_eq!(control.oid, "1.3.6.1.4.1.4203.1.9.1.1");
        assert!(control.critical);
        assert_eq!(control.value.as_deref(), Some(&REQUEST_FULL[..]));
    }

    #[test]
    fn sync_request_long_cookie_uses_long_form_lengths() {
        let cookie = vec![0x5A; 200];
        let request = SyncRequest {
            mode: SyncMode::RefreshOnly,
            cookie: Some(cookie.clone()),
            reload_hint: false,
        };
        // 3 (mode) + 3 (04 81 c8) + 200 = 206 = 0xce content octets.
        let expected = concat(&[
            &[0x30, 0x81, 0xCE, 0x0A, 0x01, 0x01, 0x04, 0x81, 0xC8],
            &cookie,
        ]);
        assert_eq!(request.encode(), expected);
        assert_eq!(SyncRequest::decode(&expected).unwrap(), request);

        let cookie = vec![0x5A; 300];
        let request = SyncRequest {
            cookie: Some(cookie.clone()),
            ..request
        };
        // 3 + 4 (04 82 01 2c) + 300 = 307 = 0x0133.
        let expected = concat(&[
            &[
                0x30, 0x82, 0x01, 0x33, 0x0A, 0x01, 0x01, 0x04, 0x82, 0x01, 0x2C,
            ],
            &cookie,
        ]);
        assert_eq!(request.encode(), expected);
        assert_eq!(SyncRequest::decode(&expected).unwrap(), request);
    }

    #[test]
    fn sync_request_accepts_explicit_default_and_empty_cookie() {
        let value = [0x30, 0x08, 0x0A, 0x01, 0x01, 0x04, 0x00, 0x01, 0x01, 0x00];
        assert_eq!(
            SyncRequest::decode(&value).unwrap(),
            SyncRequest {
                mode: SyncMode::RefreshOnly,
                cookie: Some(Vec::new()),
                reload_hint: false,
            }
        );
    }

    #[test]
    fn sync_request_rejects_bad_values() {
        for mode in [0u8, 2, 4, 0xFF] {
            let value = [0x30, 0x03, 0x0A, 0x01, mode];
            assert!(matches!(
                SyncRequest::decode(&value).unwrap_err().kind,
                ControlErrorKind::UnknownEnumValue { field: "mode", .. }
            ));
        }
        // INTEGER where ENUMERATED belongs
        let value = [0x30, 0x03, 0x02, 0x01, 0x01];
        assert!(matches!(
            SyncRequest::decode(&value).unwrap_err().kind,
            ControlErrorKind::Ber(BerError::UnexpectedTag { offset: 2, .. })
        ));
        // reloadHint before cookie is out of order
        let value = [0x30, 0x08, 0x0A, 0x01, 0x01, 0x01, 0x01, 0xFF, 0x04, 0x00];
        assert!(matches!(
            SyncRequest::decode(&value).unwrap_err().kind,
            ControlErrorKind::Ber(BerError::TrailingData {
                offset: 8,
                count: 2
            })
        ));
        all_cuts_fail(&REQUEST_FULL, |v| SyncRequest::decode(v).is_ok());
    }

    //   30 15                  SEQUENCE, 21 content octets
    //     0a 01 01             state = add (1)
    //     04 10 <16 octets>    entryUUID
    fn state_add_vector() -> Vec<u8> {
        concat(&[&[0x30, 0x15, 0x0A, 0x01, 0x01, 0x04, 0x10], &UUID_A])
    }

    #[test]
    fn sync_state_vectors() {
        let add = SyncState {
            state: EntryState::Add,
            entry_uuid: EntryUuid::from_bytes(UUID_A),
            cookie: None,
        };
        let vector = state_add_vector();
        assert_eq!(add.encode(), vector);
        assert_eq!(SyncState::decode(&vector).unwrap(), add);
        assert_eq!(
            SyncState::from_control(SYNC_STATE_OID, Some(&vector)).unwrap(),
            add
        );
        assert_eq!(
            add.entry_uuid.to_string(),
            "1b4e28ba-2fa1-11d2-883f-b9a761bde3fb"
        );

        // 3 + 18 + 3 = 24 = 0x18 content octets.
        let delete = SyncState {
            state: EntryState::Delete,
            entry_uuid: EntryUuid::from_bytes(UUID_B),
            cookie: Some(b"c".to_vec()),
        };
        let vector = concat(&[
            &[0x30, 0x18, 0x0A, 0x01, 0x03, 0x04, 0x10],
            &UUID_B,
            &[0x04, 0x01, 0x63],
        ]);
        assert_eq!(delete.encode(), vector);
        assert_eq!(SyncState::decode(&vector).unwrap(), delete);
        all_cuts_fail(&vector, |v| SyncState::decode(v).is_ok());

        for (code, state) in [
            (0, EntryState::Present),
            (1, EntryState::Add),
            (2, EntryState::Modify),
            (3, EntryState::Delete),
        ] {
            assert_eq!(EntryState::from_code(code), Some(state));
            assert_eq!(state.code(), code);
        }
    }

    #[test]
    fn sync_state_rejects_bad_uuid_sizes() {
        for len in [0usize, 1, 15, 17, 32] {
            let uuid = vec![0x11; len];
            let body = concat(&[&[0x0A, 0x01, 0x00, 0x04, u8::try_from(len).unwrap()], &uuid]);
            let value = concat(&[&[0x30, u8::try_from(body.len()).unwrap()], &body]);
            assert_eq!(
                SyncState::decode(&value).unwrap_err().kind,
                ControlErrorKind::InvalidUuidLength {
                    field: "entryUUID",
                    length: len
                },
                "length {len}"
            );
        }
    }

    #[test]
    fn sync_state_rejects_bad_structure() {
        let mut unknown_state = state_add_vector();
        unknown_state[4] = 4;
        assert_eq!(
            SyncState::decode(&unknown_state).unwrap_err().kind,
            ControlErrorKind::UnknownEnumValue {
                field: "state",
                value: 4
            }
        );
        // entryUUID missing
        let value = [0x30, 0x03, 0x0A, 0x01, 0x01];
        assert!(matches!(
            SyncState::decode(&value).unwrap_err().kind,
            ControlErrorKind::Ber(BerError::Truncated { offset: 5 })
        ));
        // trailing garbage
        let value = concat(&[&state_add_vector(), &[0x00]]);
        assert!(matches!(
            SyncState::decode(&value).unwrap_err().kind,
            ControlErrorKind::Ber(BerError::TrailingData {
                offset: 23,
                count: 1
            })
        ));
        assert_eq!(
            SyncState::from_control(SYNC_DONE_OID, Some(&value))
                .unwrap_err()
                .kind,
            ControlErrorKind::WrongOid {
                expected: SYNC_STATE_OID,
                found: SYNC_DONE_OID.into()
            }
        );
    }

    #[test]
    fn sync_done_vectors() {
        let empty = [0x30, 0x00];
        assert_eq!(SyncDone::default().encode(), empty);
        assert_eq!(SyncDone::decode(&empty).unwrap(), SyncDone::default());

        //   30 06 | 04 01 63 (cookie "c") | 01 01 ff (refreshDeletes TRUE)
        let full = [0x30, 0x06, 0x04, 0x01, 0x63, 0x01, 0x01, 0xFF];
        let done = SyncDone {
            cookie: Some(b"c".to_vec()),
            refresh_deletes: true,
        };
        assert_eq!(done.encode(), full);
        assert_eq!(SyncDone::decode(&full).unwrap(), done);
        assert_eq!(
            SyncDone::from_control(SYNC_DONE_OID, Some(&full)).unwrap(),
            done
        );
        all_cuts_fail(&full, |v| SyncDone::decode(v).is_ok());

        let deletes_only = [0x30, 0x03, 0x01, 0x01, 0xFF];
        assert_eq!(
            SyncDone::decode(&deletes_only).unwrap(),
            SyncDone {
                cookie: None,
                refresh_deletes: true
            }
        );

        // Wrong outer tag, bad boolean length, and an unexpected INTEGER.
        for bad in [
            &[0x31, 0x00][..],
            &[0x30, 0x04, 0x01, 0x02, 0xFF, 0xFF],
            &[0x30, 0x03, 0x02, 0x01, 0x00],
        ] {
            assert!(SyncDone::decode(bad).is_err(), "{bad:02x?}");
        }
    }

    #[test]
    fn sync_info_new_cookie() {
        // 80 03 61 62 63: [0] IMPLICIT OCTET STRING "abc"
        let vector = [0x80, 0x03, 0x61, 0x62, 0x63];
        let info = SyncInfo::NewCookie(b"abc".to_vec());
        assert_eq!(info.encode(), vector);
        assert_eq!(SyncInfo::decode(&vector).unwrap(), info);
        assert_eq!(
            SyncInfo::from_intermediate(Some(SYNC_INFO_OID), Some(&vector)).unwrap(),
            info
        );
        all_cuts_fail(&vector, |v| SyncInfo::decode(v).is_ok());
    }

    #[test]
    fn sync_info_refresh_phases() {
        let cases: Vec<(Vec<u8>, SyncInfo)> = vec![
            (
                vec![0xA1, 0x00],
                SyncInfo::RefreshDelete {
                    cookie: None,
                    refresh_done: true,
                },
            ),
            (
                vec![0xA2, 0x00],
                SyncInfo::RefreshPresent {
                    cookie: None,
                    refresh_done: true,
                },
            ),
            // a1 06 | 04 01 78 (cookie "x") | 01 01 00 (refreshDone FALSE)
            (
                vec![0xA1, 0x06, 0x04, 0x01, 0x78, 0x01, 0x01, 0x00],
                SyncInfo::RefreshDelete {
                    cookie: Some(b"x".to_vec()),
                    refresh_done: false,
                },
            ),
            (
                vec![0xA2, 0x03, 0x04, 0x01, 0x78],
                SyncInfo::RefreshPresent {
                    cookie: Some(b"x".to_vec()),
                    refresh_done: true,
                },
            ),
        ];
        for (vector, info) in cases {
            assert_eq!(info.encode(), vector);
            assert_eq!(SyncInfo::decode(&vector).unwrap(), info);
            all_cuts_fail(&vector, |v| SyncInfo::decode(v).is_ok());
        }
        // An explicit refreshDone TRUE is accepted.
        assert_eq!(
            SyncInfo::decode(&[0xA2, 0x03, 0x01, 0x01, 0xFF]).unwrap(),
            SyncInfo::RefreshPresent {
                cookie: None,
                refresh_done: true
            }
        );
    }

    //   a3 29                       [3] syncIdSet, 41 content octets
    //     01 01 ff                  refreshDeletes = TRUE
    //     31 24                     SET OF, 36 content octets
    //       04 10 <UUID_A>
    //       04 10 <UUID_B>
    fn id_set_vector() -> Vec<u8> {
        concat(&[
            &[0xA3, 0x29, 0x01, 0x01, 0xFF, 0x31, 0x24, 0x04, 0x10],
            &UUID_A,
            &[0x04, 0x10],
            &UUID_B,
        ])
    }

    #[test]
    fn sync_info_id_set() {
        let info = SyncInfo::SyncIdSet {
            cookie: None,
            refresh_deletes: true,
            uuids: vec![EntryUuid::from_bytes(UUID_A), EntryUuid::from_bytes(UUID_B)],
        };
        let vector = id_set_vector();
        assert_eq!(info.encode(), vector);
        assert_eq!(SyncInfo::decode(&vector).unwrap(), info);
        all_cuts_fail(&vector, |v| SyncInfo::decode(v).is_ok());

        // DER sorts the SET OF; decoding keeps wire order.
        let reversed = SyncInfo::SyncIdSet {
            cookie: None,
            refresh_deletes: true,
            uuids: vec![EntryUuid::from_bytes(UUID_B), EntryUuid::from_bytes(UUID_A)],
        };
        assert_eq!(reversed.encode(), vector);
        let unsorted = concat(&[
            &[0xA3, 0x29, 0x01, 0x01, 0xFF, 0x31, 0x24, 0x04, 0x10],
            &UUID_B,
            &[0x04, 0x10],
            &UUID_A,
        ]);
        assert_eq!(SyncInfo::decode(&unsorted).unwrap(), reversed);

        // a3 05 | 04 01 63 (cookie "c") | 31 00 (empty set)
        let empty = [0xA3, 0x05, 0x04, 0x01, 0x63, 0x31, 0x00];
        let info = SyncInfo::SyncIdSet {
            cookie: Some(b"c".to_vec()),
            refresh_deletes: false,
            uuids: Vec::new(),
        };
        assert_eq!(info.encode(), empty);
        assert_eq!(SyncInfo::decode(&empty).unwrap(), info);
    }

    #[test]
    fn sync_info_rejects_malformed_values() {
        let ber = ControlErrorKind::Ber;
        let cases: Vec<(Vec<u8>, ControlErrorKind)> = vec![
            (vec![], ber(BerError::Truncated { offset: 0 })),
            (
                vec![0xA4, 0x00],
                ControlErrorKind::UnknownChoice { identifier: 0xA4 },
            ),
            // constructed [0] and a universal OCTET STRING are not alternatives
            (
                vec![0xA0, 0x00],
                ControlErrorKind::UnknownChoice { identifier: 0xA0 },
            ),
            (
                vec![0x04, 0x01, 0x61],
                ControlErrorKind::UnknownChoice { identifier: 0x04 },
            ),
            // primitive [1]
            (
                vec![0x81, 0x00],
                ControlErrorKind::UnknownChoice { identifier: 0x81 },
            ),
            (
                vec![0x1F, 0x00],
                ber(BerError::UnsupportedTag { offset: 0 }),
            ),
            (
                vec![0x80, 0x01, 0x61, 0x00],
                ber(BerError::TrailingData {
                    offset: 3,
                    count: 1,
                }),
            ),
            (
                vec![0x80, 0x80, 0x00, 0x00],
                ber(BerError::IndefiniteLength { offset: 1 }),
            ),
            // syncUUIDs missing
            (
                vec![0xA3, 0x03, 0x01, 0x01, 0xFF],
                ber(BerError::Truncated { offset: 5 }),
            ),
            // a 15-octet syncUUID
            (
                concat(&[&[0xA3, 0x13, 0x31, 0x11, 0x04, 0x0F], &[0u8; 15]]),
                ControlErrorKind::InvalidUuidLength {
                    field: "syncUUIDs",
                    length: 15,
                },
            ),
            // an INTEGER inside the SET OF
            (
                vec![0xA3, 0x05, 0x31, 0x03, 0x02, 0x01, 0x00],
                ber(BerError::UnexpectedTag {
                    offset: 4,
                    expected: Tag::OCTET_STRING,
                    found: Tag::INTEGER,
                }),
            ),
            // SEQUENCE where the SET OF belongs
            (
                vec![0xA3, 0x02, 0x30, 0x00],
                ber(BerError::UnexpectedTag {
                    offset: 2,
                    expected: Tag::SET,
                    found: Tag::SEQUENCE,
                }),
            ),
            // refreshDone with two content octets
            (
                vec![0xA1, 0x04, 0x01, 0x02, 0x00, 0x00],
                ber(BerError::InvalidBoolean {
                    offset: 2,
                    length: 2,
                }),
            ),
            // an element after refreshDone
            (
                vec![0xA1, 0x05, 0x01, 0x01, 0x00, 0x05, 0x00],
                ber(BerError::TrailingData {
                    offset: 5,
                    count: 2,
                }),
            ),
            // a child element longer than its parent
            (
                vec![0xA2, 0x02, 0x04, 0x05, 0x61, 0x62, 0x63, 0x64, 0x65],
                ber(BerError::LengthExceedsInput {
                    offset: 2,
                    length: 5,
                    available: 0,
                }),
            ),
        ];
        for (value, expected) in cases {
            let err = SyncInfo::decode(&value).unwrap_err();
            assert_eq!(err.control, "Sync Info");
            assert_eq!(err.kind, expected, "value {value:02x?}");
        }
    }

    #[test]
    fn sync_info_from_intermediate_checks_name() {
        let vector = [0x80, 0x00];
        assert!(matches!(
            SyncInfo::from_intermediate(None, Some(&vector))
                .unwrap_err()
                .kind,
            ControlErrorKind::WrongOid { .. }
        ));
        assert!(matches!(
            SyncInfo::from_intermediate(Some("1.2.3"), Some(&vector))
                .unwrap_err()
                .kind,
            ControlErrorKind::WrongOid { .. }
        ));
        assert_eq!(
            SyncInfo::from_intermediate(Some(SYNC_INFO_OID), None)
                .unwrap_err()
                .kind,
            ControlErrorKind::MissingValue
        );
    }

    #[test]
    fn deeply_nested_input_is_rejected_without_recursion() {
        let mut value = Vec::new();
        for _ in 0..10_000 {
            value.extend_from_slice(&[0xA3, 0x80]);
        }
        assert!(SyncInfo::decode(&value).is_err());

        // Properly nested SEQUENCEs far deeper than any control needs.
        let mut nested = Vec::new();
        for _ in 0..64 {
            let mut w = Writer::new();
            w.write_primitive(TAG_SYNC_ID_SET, &nested);
            nested = w.into_bytes();
        }
        assert!(SyncInfo::decode(&nested).is_err());
        assert!(SyncRequest::decode(&nested).is_err());
    }

    #[test]
    fn refresh_required_code() {
        assert_eq!(E_SYNC_REFRESH_REQUIRED, 0x1000);
    }
}
