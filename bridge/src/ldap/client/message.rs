//! LDAP messages (RFC 4511 §4) as the sync sends and receives them.
//!
//! Requests are written with the DER [`Writer`]. Responses are read in place with the strict
//! BER [`Reader`]: a received message is kept as the bytes that carried it plus the positions of
//! its parts, and a search result entry is read from those bytes as an [`EntryView`] without
//! copying a value. Every length is checked before it is used; malformed input of any kind is an
//! error, never a panic (the lints below hold the code to that, and `proptests` feed it noise).
//!
//! Integers in the envelope (message ID, result code) are read leniently: a non-minimal
//! encoding (a leading zero octet) is accepted, as some servers send one.

#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented
)]

use std::ops::Range;

use bytes::Bytes;
use zeroize::Zeroizing;

use super::super::controls::Control;
use super::super::controls::ber::{Reader, Tag, Tlv, Writer};
use super::super::entry::EntryView;

/// The largest message accepted. An AD range or an OpenLDAP group of a million members fits
/// (about 50 MB); anything larger is taken for a broken or hostile server rather than buffered.
pub const MAX_MESSAGE: usize = 256 << 20;

pub const BIND_REQUEST: Tag = Tag::application::<0>(true);
pub const BIND_RESPONSE: Tag = Tag::application::<1>(true);
pub const UNBIND_REQUEST: Tag = Tag::application::<2>(false);
pub const SEARCH_REQUEST: Tag = Tag::application::<3>(true);
pub const SEARCH_ENTRY: Tag = Tag::application::<4>(true);
pub const SEARCH_DONE: Tag = Tag::application::<5>(true);
pub const ABANDON_REQUEST: Tag = Tag::application::<16>(false);
pub const SEARCH_REFERENCE: Tag = Tag::application::<19>(true);
pub const EXTENDED_REQUEST: Tag = Tag::application::<23>(true);
pub const EXTENDED_RESPONSE: Tag = Tag::application::<24>(true);
pub const INTERMEDIATE: Tag = Tag::application::<25>(true);

const CONTROLS: Tag = Tag::context::<0>(true);

/// How a search request names its scope (RFC 4511 §4.5.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchScope {
    Base = 0,
    OneLevel = 1,
    Subtree = 2,
}

/// How many bytes the first message in `buf` occupies, once its header is complete: `None`
/// while more bytes are needed to tell. `Err` for anything that is not the start of an
/// LDAPMessage (a SEQUENCE of definite length no larger than [`MAX_MESSAGE`]).
pub fn frame_length(buf: &[u8]) -> Result<Option<usize>, String> {
    let Some((&identifier, rest)) = buf.split_first() else {
        return Ok(None);
    };
    if identifier != Tag::SEQUENCE.identifier() {
        return Err(format!(
            "the server sent something that is not an LDAP message (first octet 0x{identifier:02x})"
        ));
    }
    let Some((&first, rest)) = rest.split_first() else {
        return Ok(None);
    };
    let (length, header) = match first {
        0x00..=0x7f => (usize::from(first), 2),
        0x80 => return Err("the server sent a message of indefinite length".into()),
        _ => {
            let octets = usize::from(first & 0x7f);
            if octets > 4 {
                return Err(format!(
                    "the server sent a message length of {octets} octets"
                ));
            }
            let Some(bytes) = rest.get(..octets) else {
                return Ok(None);
            };
            let length = bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            (length, 2 + octets)
        }
    };
    let total = length.saturating_add(header);
    if total > MAX_MESSAGE {
        return Err(format!(
            "the server sent a message of {total} bytes, more than the {MAX_MESSAGE} accepted"
        ));
    }
    Ok(Some(total))
}

/// One received message: its bytes, its ID, the tag of its protocol operation and where the
/// operation and the controls lie.
#[derive(Debug, Clone)]
pub struct Message {
    bytes: Bytes,
    pub id: i32,
    pub op: Tag,
    body: Range<usize>,
    controls: Option<Range<usize>>,
}

/// A result (`LDAPResult`, and the name and value an extended response adds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapResult {
    pub rc: u32,
    pub text: String,
    pub name: Option<String>,
    pub value: Option<Vec<u8>>,
}

fn ber(context: &str) -> impl Fn(super::super::controls::ber::BerError) -> String + '_ {
    move |e| format!("{context}: {e}")
}

fn span(whole: &[u8], part: &[u8]) -> Range<usize> {
    let start = (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize);
    start..start.saturating_add(part.len())
}

/// A non-negative INTEGER or ENUMERATED of at most eight significant octets; redundant
/// leading zero octets are accepted.
fn lenient_uint(tlv: &Tlv<'_>) -> Option<u64> {
    let c = tlv.content;
    // Two's complement: a set high bit in the first octet is a negative number.
    if c.first().is_none_or(|b| b & 0x80 != 0) {
        return None;
    }
    let significant = c.get(c.iter().take_while(|&&b| b == 0).count()..)?;
    if significant.len() > 8 {
        return None;
    }
    Some(
        significant
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)),
    )
}

impl Message {
    /// Reads the envelope of one complete message (as [`frame_length`] delimited it).
    pub fn parse(bytes: Bytes) -> Result<Message, String> {
        let whole: &[u8] = &bytes;
        let mut outer = Reader::new(whole);
        let mut m = outer
            .read_sequence()
            .map_err(ber("malformed LDAP message"))?;
        outer.finish().map_err(ber("malformed LDAP message"))?;
        let id_tlv = m
            .read_element(Tag::INTEGER)
            .map_err(ber("malformed message ID"))?;
        let id = lenient_uint(&id_tlv)
            .and_then(|v| i32::try_from(v).ok())
            .ok_or("malformed message ID")?;
        let op = m.read_tlv().map_err(ber("malformed protocol operation"))?;
        let mut controls = None;
        // Active Directory puts the name of a Notice of Disconnection after the operation
        // instead of inside it; anything there but the controls is skipped.
        while !m.is_empty() {
            let t = m.read_tlv().map_err(ber("malformed message"))?;
            if t.tag == CONTROLS {
                controls = Some(span(whole, t.content));
            }
        }
        let (op_tag, body) = (op.tag, span(whole, op.content));
        Ok(Message {
            id,
            op: op_tag,
            body,
            controls,
            bytes,
        })
    }

    /// The content octets of the protocol operation.
    pub fn body(&self) -> &[u8] {
        self.bytes.get(self.body.clone()).unwrap_or_default()
    }

    /// The response controls (none if the message has no `[0] Controls`).
    pub fn controls(&self) -> Result<Vec<Control>, String> {
        let Some(range) = &self.controls else {
            return Ok(Vec::new());
        };
        let mut r = Reader::new(self.bytes.get(range.clone()).unwrap_or_default());
        let mut out = Vec::new();
        let bad = ber("malformed response control");
        while !r.is_empty() {
            let mut c = r.read_sequence().map_err(&bad)?;
            let oid = c.read_octet_string().map_err(&bad)?;
            let oid = std::str::from_utf8(oid)
                .map_err(|_| "malformed response control: the OID is not text".to_owned())?;
            let critical = if c.next_is(Tag::BOOLEAN) {
                c.read_boolean().map_err(&bad)?
            } else {
                false
            };
            let value = if c.is_empty() {
                None
            } else {
                Some(c.read_octet_string().map_err(&bad)?.to_vec())
            };
            c.finish().map_err(&bad)?;
            out.push(Control::new(oid, critical, value));
        }
        Ok(out)
    }

    /// A SearchResultEntry's DN and attributes (`[APPLICATION 4] SEQUENCE { objectName,
    /// attributes PartialAttributeList }`), read in place. `Err` names the defect and, when it
    /// could be read, the DN.
    pub fn entry(&self) -> Result<EntryView<'_>, String> {
        if self.op != SEARCH_ENTRY {
            return Err(format!("expected a search result entry, got {}", self.op));
        }
        let mut r = Reader::new(self.body());
        let dn = r
            .read_octet_string()
            .map_err(|e| format!("malformed entry: no DN ({e})"))?;
        let dn =
            std::str::from_utf8(dn).map_err(|_| "malformed entry: DN is not UTF-8".to_owned())?;
        let bad = |e| format!("malformed entry `{dn}`: {e}");
        let mut list = r
            .read_sequence()
            .map_err(|e| format!("malformed entry `{dn}`: no attribute list ({e})"))?;
        r.finish().map_err(bad)?;
        let mut pairs = Vec::with_capacity(16);
        while !list.is_empty() {
            let mut attr = list.read_sequence().map_err(bad)?;
            let name = attr.read_octet_string().map_err(bad)?;
            let name = std::str::from_utf8(name)
                .map_err(|_| format!("malformed entry `{dn}`: attribute name is not UTF-8"))?;
            let set = attr.read_element(Tag::SET).map_err(bad)?;
            attr.finish().map_err(bad)?;
            let mut values = Reader::new(set.content);
            while !values.is_empty() {
                values
                    .read_element(Tag::OCTET_STRING)
                    .map_err(|e| format!("malformed entry `{dn}`: bad value of {name} ({e})"))?;
            }
            pairs.push((name, set.content));
        }
        Ok(EntryView::new(dn, pairs))
    }

    /// The result of a BindResponse, SearchResultDone or ExtendedResponse.
    pub fn result(&self) -> Result<LdapResult, String> {
        let bad = ber("malformed result");
        let mut r = Reader::new(self.body());
        let rc_tlv = r.read_element(Tag::ENUMERATED).map_err(&bad)?;
        let rc = lenient_uint(&rc_tlv)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or("malformed result code")?;
        r.read_octet_string().map_err(&bad)?;
        let text = r.read_octet_string().map_err(&bad)?;
        let mut result = LdapResult {
            rc,
            text: String::from_utf8_lossy(text).into_owned(),
            name: None,
            value: None,
        };
        // referral [3], then an extended response's responseName [10] and responseValue [11].
        while !r.is_empty() {
            let t = r.read_tlv().map_err(&bad)?;
            if t.tag == Tag::context::<10>(false) {
                result.name = Some(String::from_utf8_lossy(t.content).into_owned());
            } else if t.tag == Tag::context::<11>(false) {
                result.value = Some(t.content.to_vec());
            }
        }
        Ok(result)
    }

    /// An IntermediateResponse's name and value (`[APPLICATION 25] SEQUENCE { responseName
    /// [0] OPTIONAL, responseValue [1] OPTIONAL }`).
    pub fn intermediate(&self) -> Result<(Option<String>, Option<Vec<u8>>), String> {
        let bad = ber("malformed intermediate response");
        let mut r = Reader::new(self.body());
        let (mut name, mut value) = (None, None);
        while !r.is_empty() {
            let t = r.read_tlv().map_err(&bad)?;
            if t.tag == Tag::context::<0>(false) {
                name = Some(
                    std::str::from_utf8(t.content)
                        .map_err(|_| "malformed intermediate response: name is not text")?
                        .to_owned(),
                );
            } else if t.tag == Tag::context::<1>(false) {
                value = Some(t.content.to_vec());
            }
        }
        Ok((name, value))
    }
}

/// An LDAPMessage with `op` written by `write_op` and `controls` attached.
fn envelope(id: i32, controls: &[Control], write_op: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut w = Writer::new();
    w.write_sequence(|m| {
        m.write_integer(i64::from(id));
        write_op(m);
        if !controls.is_empty() {
            m.write_constructed(CONTROLS, |cs| {
                for c in controls {
                    cs.write_sequence(|s| {
                        s.write_octet_string(c.oid.as_bytes());
                        if c.critical {
                            s.write_boolean(true);
                        }
                        if let Some(v) = &c.value {
                            s.write_octet_string(v);
                        }
                    });
                }
            });
        }
    });
    w.into_bytes()
}

/// A simple BindRequest (version 3). Every buffer that held the password is wiped on drop.
pub fn bind_request(id: i32, dn: &str, password: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut body = Writer::new();
    body.write_integer(3);
    body.write_octet_string(dn.as_bytes());
    body.write_primitive(Tag::context::<0>(false), password);
    let body = Zeroizing::new(body.into_bytes());
    let mut inner = Writer::new();
    inner.write_integer(i64::from(id));
    inner.write_primitive(BIND_REQUEST, &body);
    let inner = Zeroizing::new(inner.into_bytes());
    let mut outer = Writer::new();
    outer.write_primitive(Tag::SEQUENCE, &inner);
    Zeroizing::new(outer.into_bytes())
}

/// A SearchRequest: aliases never dereferenced, no size or time limit (the server's own
/// limits apply), values wanted. `filter` is the encoded Filter.
pub fn search_request(
    id: i32,
    base: &str,
    scope: SearchScope,
    filter: &[u8],
    attrs: &[String],
    controls: &[Control],
) -> Vec<u8> {
    envelope(id, controls, |m| {
        m.write_constructed(SEARCH_REQUEST, |s| {
            s.write_octet_string(base.as_bytes());
            s.write_enumerated(scope as i64);
            s.write_enumerated(0);
            s.write_integer(0);
            s.write_integer(0);
            s.write_boolean(false);
            s.write_raw(filter);
            s.write_sequence(|a| {
                for attr in attrs {
                    a.write_octet_string(attr.as_bytes());
                }
            });
        });
    })
}

/// An ExtendedRequest without a value (StartTLS: 1.3.6.1.4.1.1466.20037).
pub fn extended_request(id: i32, oid: &str) -> Vec<u8> {
    envelope(id, &[], |m| {
        m.write_constructed(EXTENDED_REQUEST, |e| {
            e.write_primitive(Tag::context::<0>(false), oid.as_bytes());
        });
    })
}

pub fn abandon_request(id: i32, target: i32) -> Vec<u8> {
    envelope(id, &[], |m| {
        m.write_integer_tagged(ABANDON_REQUEST, i64::from(target));
    })
}

pub fn unbind_request(id: i32) -> Vec<u8> {
    envelope(id, &[], |m| m.write_primitive(UNBIND_REQUEST, &[]))
}

/// Encoders for what a server sends, for the tests here and the client's.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
pub(crate) mod testing {
    use super::*;

    /// A response as a server would encode it.
    pub(crate) fn response(id: i32, op: Tag, body: &[u8], controls: &[Control]) -> Bytes {
        Bytes::from(envelope(id, controls, |m| m.write_primitive(op, body)))
    }

    pub(crate) fn entry_body(dn: &str, attrs: &[(&str, &[&[u8]])]) -> Vec<u8> {
        let mut w = Writer::new();
        w.write_octet_string(dn.as_bytes());
        w.write_sequence(|l| {
            for (name, values) in attrs {
                l.write_sequence(|a| {
                    a.write_octet_string(name.as_bytes());
                    a.write_constructed(Tag::SET, |s| {
                        for v in *values {
                            s.write_octet_string(v);
                        }
                    });
                });
            }
        });
        w.into_bytes()
    }

    pub(crate) fn result_body(rc: i64, text: &str, extra: &[(Tag, &[u8])]) -> Vec<u8> {
        let mut w = Writer::new();
        w.write_enumerated(rc);
        w.write_octet_string(b"");
        w.write_octet_string(text.as_bytes());
        for (t, v) in extra {
            w.write_primitive(*t, v);
        }
        w.into_bytes()
    }

    /// A SearchResultDone, with a paged results control when `cookie` is given.
    pub(crate) fn done(id: i32, rc: i64, cookie: Option<&[u8]>) -> Bytes {
        let controls: Vec<Control> = cookie
            .map(|c| {
                super::super::super::controls::paged::PagedResults {
                    size: 0,
                    cookie: c.to_vec(),
                }
                .to_control()
            })
            .into_iter()
            .collect();
        response(id, SEARCH_DONE, &result_body(rc, "", &[]), &controls)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use proptest::prelude::*;

    use super::super::super::entry::Attributes;
    use super::testing::*;
    use super::*;

    #[test]
    fn frames_are_delimited_by_their_header() {
        assert_eq!(frame_length(&[]), Ok(None));
        assert_eq!(frame_length(&[0x30]), Ok(None));
        assert_eq!(frame_length(&[0x30, 0x05]), Ok(Some(7)));
        assert_eq!(frame_length(&[0x30, 0x82, 0x01]), Ok(None));
        assert_eq!(frame_length(&[0x30, 0x82, 0x01, 0x00]), Ok(Some(260)));
        // Active Directory's non-minimal lengths.
        assert_eq!(frame_length(&[0x30, 0x84, 0, 0, 0, 5]), Ok(Some(11)));
        for bad in [
            &[0x31, 0x00][..],
            &[0x30, 0x80],
            &[0x30, 0x85, 1, 1, 1, 1, 1],
            &[0x30, 0x84, 0x7f, 0xff, 0xff, 0xff],
        ] {
            assert!(frame_length(bad).is_err(), "{bad:02x?}");
        }
    }

    #[test]
    fn reads_entries_in_place() {
        let body = entry_body(
            "uid=ada,ou=People,dc=x",
            &[
                ("entryUUID", &[b"6f1c9d0e-2b5a-4c3d-8e9f-0a1b2c3d4e5f"]),
                ("Mail", &[b"ada@x.io", b"ada.king@x.io"]),
                ("cn", &["Ada Lövelace".as_bytes()]),
                ("jpegPhoto", &[]),
            ],
        );
        let msg = Message::parse(response(7, SEARCH_ENTRY, &body, &[])).unwrap();
        assert_eq!((msg.id, msg.op), (7, SEARCH_ENTRY));
        let e = msg.entry().unwrap();
        assert_eq!(e.dn(), "uid=ada,ou=People,dc=x");
        assert_eq!(e.texts("mail").unwrap(), ["ada@x.io", "ada.king@x.io"]);
        assert_eq!(e.text("CN").unwrap(), Some("Ada Lövelace"));
        assert_eq!(e.values("jpegphoto").count(), 0);
        let owned = e.to_entry();
        assert_eq!(owned.raw("mail").len(), 2);
        assert!(owned.attrs.contains_key("entryuuid"));
    }

    #[test]
    fn rejects_malformed_entries_with_the_dn() {
        let good_set = |w: &mut Writer| {
            w.write_constructed(Tag::SET, |s| s.write_octet_string(b"v"));
        };
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (Vec::new(), "no DN"),
            (
                {
                    let mut w = Writer::new();
                    w.write_octet_string(&[0xff]);
                    w.write_sequence(|_| {});
                    w.into_bytes()
                },
                "not UTF-8",
            ),
            (
                {
                    let mut w = Writer::new();
                    w.write_octet_string(b"cn=x");
                    w.into_bytes()
                },
                "no attribute list",
            ),
            (
                {
                    let mut w = Writer::new();
                    w.write_octet_string(b"cn=x");
                    w.write_sequence(|l| l.write_octet_string(b"a"));
                    w.into_bytes()
                },
                "`cn=x`",
            ),
            (
                {
                    let mut w = Writer::new();
                    w.write_octet_string(b"cn=x");
                    w.write_sequence(|l| {
                        l.write_sequence(|a| {
                            a.write_octet_string(b"a");
                            a.write_constructed(Tag::SET, |s| {
                                s.write_sequence(|_| {});
                            });
                        })
                    });
                    w.into_bytes()
                },
                "bad value of a",
            ),
            (
                {
                    let mut w = Writer::new();
                    w.write_octet_string(b"cn=x");
                    w.write_sequence(|l| {
                        l.write_sequence(|a| {
                            a.write_octet_string(&[0xfe]);
                            good_set(a);
                        })
                    });
                    w.into_bytes()
                },
                "attribute name is not UTF-8",
            ),
            (
                {
                    let mut w = Writer::new();
                    w.write_octet_string(b"cn=x");
                    w.write_sequence(|l| {
                        l.write_sequence(|a| {
                            a.write_octet_string(b"a");
                            good_set(a);
                            a.write_octet_string(b"extra");
                        })
                    });
                    w.into_bytes()
                },
                "trailing",
            ),
        ];
        for (body, why) in cases {
            let msg = Message::parse(response(1, SEARCH_ENTRY, &body, &[])).unwrap();
            let err = msg.entry().unwrap_err();
            assert!(err.contains(why), "{why}: {err}");
        }
        let done = Message::parse(response(1, SEARCH_DONE, &[], &[])).unwrap();
        assert!(done.entry().is_err());
    }

    #[test]
    fn reads_results_controls_and_intermediates() {
        let controls = [
            Control::new("1.2.840.113556.1.4.319", false, Some(vec![0x30, 0x00])),
            Control::new("1.3.6.1.4.1.4203.1.9.1.3", true, None),
        ];
        let done = Message::parse(response(
            3,
            SEARCH_DONE,
            &result_body(4096, "refresh required", &[]),
            &controls,
        ))
        .unwrap();
        assert_eq!(done.controls().unwrap(), controls);
        let r = done.result().unwrap();
        assert_eq!((r.rc, r.text.as_str()), (4096, "refresh required"));
        let ext = Message::parse(response(
            0,
            EXTENDED_RESPONSE,
            &result_body(
                52,
                "bye",
                &[(Tag::context::<10>(false), b"1.3.6.1.4.1.1466.20036")],
            ),
            &[],
        ))
        .unwrap();
        assert_eq!(ext.id, 0);
        assert_eq!(
            ext.result().unwrap().name.as_deref(),
            Some("1.3.6.1.4.1.1466.20036")
        );
        let mut body = Writer::new();
        body.write_primitive(Tag::context::<0>(false), b"1.3.6.1.4.1.4203.1.9.1.4");
        body.write_primitive(Tag::context::<1>(false), &[0xa1, 0x00]);
        let info = Message::parse(response(3, INTERMEDIATE, &body.into_bytes(), &[])).unwrap();
        assert_eq!(
            info.intermediate().unwrap(),
            (
                Some("1.3.6.1.4.1.4203.1.9.1.4".to_owned()),
                Some(vec![0xa1, 0x00])
            )
        );
    }

    #[test]
    fn envelope_integers_are_read_leniently_but_bounded() {
        // Message ID 5 with a redundant leading zero, result code 0 likewise.
        let mut w = Writer::new();
        w.write_sequence(|m| {
            m.write_primitive(Tag::INTEGER, &[0x00, 0x05]);
            m.write_constructed(SEARCH_DONE, |d| {
                d.write_primitive(Tag::ENUMERATED, &[0x00, 0x00]);
                d.write_octet_string(b"");
                d.write_octet_string(b"");
            });
        });
        let msg = Message::parse(Bytes::from(w.into_bytes())).unwrap();
        assert_eq!((msg.id, msg.result().unwrap().rc), (5, 0));
        // Minimal encodings that need a leading zero (128 is `00 80`) and the largest ID.
        for id in [0, 127, 128, 255, 256, 40_000, i32::MAX] {
            let msg = Message::parse(response(id, SEARCH_DONE, &result_body(0, "", &[]), &[]));
            assert_eq!(msg.unwrap().id, id);
        }
        for id in [&[0xff][..], &[], &[0x01, 0, 0, 0, 0], &[0x80]] {
            let mut w = Writer::new();
            w.write_sequence(|m| {
                m.write_primitive(Tag::INTEGER, id);
                m.write_primitive(SEARCH_DONE, &[]);
            });
            assert!(
                Message::parse(Bytes::from(w.into_bytes())).is_err(),
                "{id:02x?}"
            );
        }
    }

    #[test]
    fn requests_encode_as_rfc_4511_says() {
        // ldapsearch -b dc=x -s base "(objectClass=*)" cn, message 2, as captured.
        let filter = [
            0x87, 0x0b, b'o', b'b', b'j', b'e', b'c', b't', b'C', b'l', b'a', b's', b's',
        ];
        let req = search_request(2, "dc=x", SearchScope::Base, &filter, &["cn".into()], &[]);
        let mut expected = vec![0x30, 0x2d, 0x02, 0x01, 0x02, 0x63, 0x28];
        expected.extend([
            0x04, 0x04, b'd', b'c', b'=', b'x', 0x0a, 0x01, 0x00, 0x0a, 0x01, 0x00,
        ]);
        expected.extend([0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x01, 0x01, 0x00]);
        expected.extend(filter);
        expected.extend([0x30, 0x04, 0x04, 0x02, b'c', b'n']);
        assert_eq!(req, expected);
        assert_eq!(
            bind_request(1, "cn=a", b"pw").as_slice(),
            [
                0x30, 0x12, 0x02, 0x01, 0x01, 0x60, 0x0d, 0x02, 0x01, 0x03, 0x04, 0x04, b'c', b'n',
                b'=', b'a', 0x80, 0x02, b'p', b'w'
            ]
        );
        assert_eq!(
            abandon_request(4, 3),
            [0x30, 0x06, 0x02, 0x01, 0x04, 0x50, 0x01, 0x03]
        );
        assert_eq!(
            unbind_request(5),
            [0x30, 0x05, 0x02, 0x01, 0x05, 0x42, 0x00]
        );
        let with_control = search_request(
            6,
            "",
            SearchScope::Subtree,
            &filter,
            &[],
            &[Control::new("1.2.3", true, Some(vec![0x30, 0x00]))],
        );
        let msg = Message::parse(Bytes::from(with_control)).unwrap();
        assert_eq!(msg.op, SEARCH_REQUEST);
        assert_eq!(
            msg.controls().unwrap(),
            [Control::new("1.2.3", true, Some(vec![0x30, 0x00]))]
        );
        let tls =
            Message::parse(Bytes::from(extended_request(1, "1.3.6.1.4.1.1466.20037"))).unwrap();
        assert_eq!(tls.op, EXTENDED_REQUEST);
    }

    /// Runs every reader over one message. The property: none panics, whatever the bytes.
    fn read_everything(bytes: &[u8]) {
        let _ = frame_length(bytes);
        let Ok(m) = Message::parse(Bytes::copy_from_slice(bytes)) else {
            return;
        };
        let _ = m.controls();
        let _ = m.result();
        let _ = m.intermediate();
        if let Ok(e) = m.entry() {
            let names: Vec<&str> = e.names().collect();
            for n in names {
                let _ = e.texts(n);
                let _ = e.values(n).count();
            }
            let _ = e.to_entry();
        }
    }

    /// LDAP-shaped noise: the identifiers and lengths of messages, entries and results.
    fn ldap_soup() -> impl Strategy<Value = Vec<u8>> {
        let octet = prop_oneof![
            Just(0x30u8),
            Just(0x31),
            Just(0x02),
            Just(0x04),
            Just(0x0a),
            Just(0x64),
            Just(0x65),
            Just(0x78),
            Just(0x79),
            Just(0xa0),
            Just(0x80),
            Just(0x81),
            Just(0x82),
            Just(0x84),
            Just(0x00),
            Just(0xff),
            0u8..0x10,
            any::<u8>(),
        ];
        prop::collection::vec(octet, 0..128)
    }

    fn attribute() -> impl Strategy<Value = (String, Vec<Vec<u8>>)> {
        (
            "[a-zA-Z][a-zA-Z0-9;=-]{0,12}",
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..140), 0..5),
        )
    }

    proptest! {
        #[test]
        fn no_reader_panics_on_noise(bytes in ldap_soup()) {
            read_everything(&bytes);
        }

        #[test]
        fn no_reader_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            read_everything(&bytes);
        }

        /// Entries as a server encodes them read back value for value, and every truncation
        /// or flipped octet of them is an error or a different entry, never a panic.
        #[test]
        fn entries_read_back_and_survive_damage(
            id in 0..=i32::MAX,
            dn in "\\PC{0,40}",
            attrs in prop::collection::vec(attribute(), 0..6),
            cut in any::<prop::sample::Index>(),
            flip in any::<prop::sample::Index>(),
            mask in 1u8..,
        ) {
            let pairs: Vec<(&str, Vec<&[u8]>)> = attrs
                .iter()
                .map(|(n, vs)| (n.as_str(), vs.iter().map(Vec::as_slice).collect()))
                .collect();
            let borrowed: Vec<(&str, &[&[u8]])> =
                pairs.iter().map(|(n, vs)| (*n, vs.as_slice())).collect();
            let bytes = response(id, SEARCH_ENTRY, &entry_body(&dn, &borrowed), &[]);
            prop_assert_eq!(frame_length(&bytes), Ok(Some(bytes.len())));
            let m = Message::parse(bytes.clone()).unwrap();
            prop_assert_eq!(m.id, id);
            let e = m.entry().unwrap();
            prop_assert_eq!(e.dn(), dn.as_str());
            for (name, values) in &attrs {
                // Names compare case-insensitively; a name listed twice yields both lists.
                let want: Vec<&[u8]> = attrs
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                    .flat_map(|(_, vs)| vs.iter().map(Vec::as_slice))
                    .collect();
                prop_assert_eq!(e.values(name).collect::<Vec<_>>(), want.clone());
                prop_assert_eq!(e.to_entry().raw(name).len(), want.len());
                prop_assert!(values.len() <= want.len());
            }
            let mut damaged = bytes.to_vec();
            damaged.truncate(cut.index(bytes.len() + 1));
            read_everything(&damaged);
            let mut flipped = bytes.to_vec();
            let at = flip.index(flipped.len());
            flipped[at] ^= mask;
            read_everything(&flipped);
        }

        #[test]
        fn envelopes_read_back(
            id in 0..=i32::MAX,
            rc in 0i64..=0xffff_ffff,
            text in "\\PC{0,30}",
            controls in prop::collection::vec(
                ("[0-9.]{1,20}", any::<bool>(), proptest::option::of(prop::collection::vec(any::<u8>(), 0..200))),
                0..4,
            ),
        ) {
            let controls: Vec<Control> = controls
                .into_iter()
                .map(|(oid, crit, value)| Control::new(oid, crit, value))
                .collect();
            let m = Message::parse(response(id, SEARCH_DONE, &result_body(rc, &text, &[]), &controls))
                .unwrap();
            prop_assert_eq!(m.id, id);
            prop_assert_eq!(m.controls().unwrap(), controls);
            let r = m.result().unwrap();
            prop_assert_eq!(i64::from(r.rc), rc);
            prop_assert_eq!(r.text, text);
        }
    }
}
