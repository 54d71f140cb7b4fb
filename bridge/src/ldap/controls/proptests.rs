//! Property tests: no decoder panics on any input, and every encoder's output
//! decodes back to the value it came from.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use proptest::prelude::*;

use super::ad::{ExtendedDn, ExtendedDnFormat};
use super::ber::{self, Reader, Writer};
use super::content_sync::{EntryState, SyncDone, SyncInfo, SyncMode, SyncRequest, SyncState};
use super::dirsync::{DirSyncRequest, DirSyncResponse, MAX_BYTES_LIMIT};
use super::guid::{EntryUuid, ObjectGuid, Sid, escape_filter_bytes};
use super::paged::{MAX_INT, PagedResults};

/// Runs every decoder over `bytes`. Results are discarded: the property is
/// that none of them panics, and a panic fails the test.
fn decode_everything(bytes: &[u8]) {
    let _ = DirSyncRequest::decode(bytes);
    let _ = DirSyncResponse::decode(bytes);
    let _ = SyncRequest::decode(bytes);
    let _ = SyncState::decode(bytes);
    let _ = SyncDone::decode(bytes);
    let _ = SyncInfo::decode(bytes);
    let _ = PagedResults::decode(bytes);
    let _ = ExtendedDn::decode(Some(bytes));
    let _ = ber::validate(bytes, ber::DEFAULT_MAX_DEPTH);
    let _ = ber::validate(bytes, usize::MAX);
    let _ = ObjectGuid::from_slice(bytes);
    let _ = EntryUuid::from_slice(bytes);
    let _ = Sid::from_bytes(bytes);
    let mut reader = Reader::new(bytes);
    while reader.read_tlv().is_ok() {}
}

/// Identifier and length octets that steer random input into the decoders'
/// deeper paths far more often than uniform bytes do.
fn ber_soup() -> impl Strategy<Value = Vec<u8>> {
    let octet = prop_oneof![
        Just(0x30u8),
        Just(0x31),
        Just(0x04),
        Just(0x02),
        Just(0x0A),
        Just(0x01),
        Just(0x80),
        Just(0xA1),
        Just(0xA2),
        Just(0xA3),
        Just(0x81),
        Just(0x82),
        Just(0x84),
        Just(0x00),
        Just(0x10),
        Just(0xFF),
        0u8..0x20,
        any::<u8>(),
    ];
    prop::collection::vec(octet, 0..96)
}

fn cookie() -> impl Strategy<Value = Vec<u8>> {
    // Up to 300 bytes crosses the one- and two-octet long-form boundaries.
    prop::collection::vec(any::<u8>(), 0..300)
}

fn uuid() -> impl Strategy<Value = EntryUuid> {
    any::<[u8; 16]>().prop_map(EntryUuid::from_bytes)
}

fn entry_state() -> impl Strategy<Value = EntryState> {
    prop_oneof![
        Just(EntryState::Present),
        Just(EntryState::Add),
        Just(EntryState::Modify),
        Just(EntryState::Delete),
    ]
}

fn sync_info() -> impl Strategy<Value = SyncInfo> {
    let opt_cookie = || proptest::option::of(cookie());
    prop_oneof![
        cookie().prop_map(SyncInfo::NewCookie),
        (opt_cookie(), any::<bool>()).prop_map(|(cookie, refresh_done)| {
            SyncInfo::RefreshDelete {
                cookie,
                refresh_done,
            }
        }),
        (opt_cookie(), any::<bool>()).prop_map(|(cookie, refresh_done)| {
            SyncInfo::RefreshPresent {
                cookie,
                refresh_done,
            }
        }),
        (
            opt_cookie(),
            any::<bool>(),
            prop::collection::vec(uuid(), 0..40)
        )
            .prop_map(|(cookie, refresh_deletes, uuids)| SyncInfo::SyncIdSet {
                cookie,
                refresh_deletes,
                uuids,
            }),
    ]
}

/// The value a SyncInfo decodes to after DER encoding: the SET OF is sorted.
fn canonical(info: SyncInfo) -> SyncInfo {
    match info {
        SyncInfo::SyncIdSet {
            cookie,
            refresh_deletes,
            mut uuids,
        } => {
            uuids.sort_unstable();
            SyncInfo::SyncIdSet {
                cookie,
                refresh_deletes,
                uuids,
            }
        }
        other => other,
    }
}

/// A damaged copy of `bytes`: truncated, with a byte changed, or with a byte
/// inserted, at a position chosen from `pick`.
fn mutate(bytes: &[u8], kind: u8, pick: usize, byte: u8) -> Vec<u8> {
    let mut out = bytes.to_vec();
    if out.is_empty() {
        return vec![byte];
    }
    let at = pick % out.len();
    match kind % 3 {
        0 => out.truncate(at),
        1 => out[at] ^= byte | 1,
        _ => out.insert(at, byte),
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        decode_everything(&bytes);
    }

    #[test]
    fn ber_soup_never_panics(bytes in ber_soup()) {
        decode_everything(&bytes);
    }

    #[test]
    fn damaged_encodings_never_panic_and_decode_consistently(
        info in sync_info(),
        kind in any::<u8>(),
        pick in any::<usize>(),
        byte in any::<u8>(),
    ) {
        let damaged = mutate(&info.encode(), kind, pick, byte);
        decode_everything(&damaged);
        // Whatever still decodes must survive a DER round trip unchanged.
        if let Ok(decoded) = SyncInfo::decode(&damaged) {
            prop_assert_eq!(SyncInfo::decode(&decoded.encode()).unwrap(), canonical(decoded));
        }
    }

    #[test]
    fn damaged_dirsync_never_panics(
        flags in any::<u32>(),
        cookie in cookie(),
        kind in any::<u8>(),
        pick in any::<usize>(),
        byte in any::<u8>(),
    ) {
        let request = DirSyncRequest { flags, max_bytes: 0, cookie: cookie.clone() };
        decode_everything(&mutate(&request.encode(), kind, pick, byte));
        let response = DirSyncResponse { more_results: flags & 1 == 1, cookie };
        let damaged = mutate(&response.encode(), kind, pick, byte);
        decode_everything(&damaged);
        if let Ok(decoded) = DirSyncResponse::decode(&damaged) {
            prop_assert_eq!(DirSyncResponse::decode(&decoded.encode()).unwrap(), decoded);
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = text.parse::<ObjectGuid>();
        let _ = text.parse::<EntryUuid>();
        let _ = text.parse::<Sid>();
    }

    #[test]
    fn sid_like_text_never_panics(text in "[sS]-1-(0[xX])?[0-9a-fA-F+-]{0,60}") {
        if let Ok(sid) = text.parse::<Sid>() {
            prop_assert_eq!(Sid::from_bytes(&sid.to_bytes()).unwrap(), sid.clone());
            prop_assert_eq!(sid.to_string().parse::<Sid>().unwrap(), sid);
        }
    }

    #[test]
    fn guid_like_text_never_panics(text in "[{]?[0-9a-fA-FgG-]{30,40}[}]?") {
        if let Ok(guid) = text.parse::<ObjectGuid>() {
            prop_assert_eq!(guid.to_string(), guid.to_string().to_lowercase());
            prop_assert_eq!(guid.to_string().parse::<ObjectGuid>().unwrap(), guid);
        }
    }

    #[test]
    fn ber_integer_round_trip(value in any::<i64>()) {
        let mut w = Writer::new();
        w.write_integer(value);
        let bytes = w.into_bytes();
        let mut r = Reader::new(&bytes);
        prop_assert_eq!(r.read_integer().unwrap(), value);
        prop_assert!(r.finish().is_ok());
        // Minimal: content never starts with a redundant sign octet.
        prop_assert!(bytes.len() <= 10);
        if bytes.len() > 3 {
            let (first, second) = (bytes[2], bytes[3]);
            prop_assert!(!(first == 0x00 && second & 0x80 == 0));
            prop_assert!(!(first == 0xFF && second & 0x80 != 0));
        }
    }

    #[test]
    fn ber_integer_decoding_agrees_with_encoding(content in prop::collection::vec(any::<u8>(), 0..12)) {
        // Any content that decodes must be exactly what the writer produces.
        if let Ok(value) = ber::decode_integer(&content, 0) {
            let mut w = Writer::new();
            w.write_integer(value);
            prop_assert_eq!(&w.as_bytes()[2..], &content[..]);
        }
    }

    #[test]
    fn ber_octet_string_round_trip(content in prop::collection::vec(any::<u8>(), 0..1024)) {
        let mut w = Writer::new();
        w.write_octet_string(&content);
        let bytes = w.into_bytes();
        let mut r = Reader::new(&bytes);
        prop_assert_eq!(r.read_octet_string().unwrap(), &content[..]);
        prop_assert!(r.finish().is_ok());
    }

    #[test]
    fn dirsync_request_round_trip(flags in any::<u32>(), max_bytes in any::<u32>(), cookie in cookie()) {
        let request = DirSyncRequest { flags, max_bytes, cookie };
        let bytes = request.encode();
        prop_assert!(ber::validate(&bytes, 1).is_ok());
        let decoded = DirSyncRequest::decode(&bytes).unwrap();
        prop_assert_eq!(decoded.flags, flags);
        prop_assert_eq!(decoded.max_bytes, max_bytes.min(MAX_BYTES_LIMIT));
        prop_assert_eq!(&decoded.cookie, &request.cookie);
        // Flags always travel as a signed 32-bit INTEGER: at most 4 octets.
        let mut outer = Reader::new(&bytes);
        let flags_element = outer.read_sequence().unwrap().read_tlv().unwrap();
        prop_assert!(flags_element.content.len() <= 4);
    }

    #[test]
    fn dirsync_response_round_trip(more_results in any::<bool>(), cookie in cookie()) {
        let response = DirSyncResponse { more_results, cookie };
        prop_assert_eq!(DirSyncResponse::decode(&response.encode()).unwrap(), response);
    }

    #[test]
    fn sync_request_round_trip(
        persist in any::<bool>(),
        cookie in proptest::option::of(cookie()),
        reload_hint in any::<bool>(),
    ) {
        let mode = if persist { SyncMode::RefreshAndPersist } else { SyncMode::RefreshOnly };
        let request = SyncRequest { mode, cookie, reload_hint };
        prop_assert_eq!(SyncRequest::decode(&request.encode()).unwrap(), request);
    }

    #[test]
    fn sync_state_round_trip(
        state in entry_state(),
        entry_uuid in uuid(),
        cookie in proptest::option::of(cookie()),
    ) {
        let value = SyncState { state, entry_uuid, cookie };
        prop_assert_eq!(SyncState::decode(&value.encode()).unwrap(), value);
    }

    #[test]
    fn sync_done_round_trip(cookie in proptest::option::of(cookie()), refresh_deletes in any::<bool>()) {
        let value = SyncDone { cookie, refresh_deletes };
        prop_assert_eq!(SyncDone::decode(&value.encode()).unwrap(), value);
    }

    #[test]
    fn sync_info_round_trip(info in sync_info()) {
        let bytes = info.encode();
        prop_assert!(ber::validate(&bytes, 2).is_ok());
        let decoded = SyncInfo::decode(&bytes).unwrap();
        prop_assert_eq!(&decoded, &canonical(info));
        // DER is canonical: re-encoding the decoded value gives the same bytes.
        prop_assert_eq!(decoded.encode(), bytes);
    }

    #[test]
    fn paged_round_trip(size in any::<u32>(), cookie in cookie()) {
        let value = PagedResults { size, cookie };
        let decoded = PagedResults::decode(&value.encode()).unwrap();
        prop_assert_eq!(decoded.size, size.min(MAX_INT));
        prop_assert_eq!(decoded.cookie, value.cookie);
    }

    #[test]
    fn extended_dn_round_trip(format in proptest::option::of(prop_oneof![
        Just(ExtendedDnFormat::Hex),
        Just(ExtendedDnFormat::Standard),
    ])) {
        let value = ExtendedDn { format };
        prop_assert_eq!(ExtendedDn::decode(value.encode().as_deref()).unwrap(), value);
    }

    #[test]
    fn guid_round_trips(bytes in any::<[u8; 16]>()) {
        let guid = ObjectGuid::from_bytes(bytes);
        let text = guid.to_string();
        prop_assert_eq!(text.len(), 36);
        prop_assert_eq!(text.parse::<ObjectGuid>().unwrap(), guid);
        prop_assert_eq!(ObjectGuid::from_uuid_bytes(guid.to_uuid_bytes()), guid);
        // The last eight bytes are in wire order in both forms.
        prop_assert_eq!(&guid.to_uuid_bytes()[8..], &bytes[8..]);

        let uuid = EntryUuid::from_bytes(bytes);
        prop_assert_eq!(uuid.to_string().parse::<EntryUuid>().unwrap(), uuid);
        prop_assert_eq!(uuid.to_string().replace('-', ""), escape_filter_bytes(&bytes).replace('\\', ""));
    }

    #[test]
    fn filter_escape_round_trip(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let escaped = escape_filter_bytes(&bytes);
        prop_assert_eq!(escaped.len(), bytes.len() * 3);
        let decoded: Vec<u8> = escaped
            .split('\\')
            .skip(1)
            .map(|pair| u8::from_str_radix(pair, 16).unwrap())
            .collect();
        prop_assert_eq!(decoded, bytes);
    }

    #[test]
    fn sid_round_trips(
        authority in 0u64..=Sid::MAX_AUTHORITY,
        subs in prop::collection::vec(any::<u32>(), 0..=15),
    ) {
        let sid = Sid::new(authority, &subs).unwrap();
        let bytes = sid.to_bytes();
        prop_assert_eq!(bytes.len(), 8 + 4 * subs.len());
        prop_assert_eq!(Sid::from_bytes(&bytes).unwrap(), sid.clone());
        prop_assert_eq!(sid.to_string().parse::<Sid>().unwrap(), sid);
    }
}
