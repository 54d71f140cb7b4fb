//! A directory entry as the mapping sees it: a DN and attribute values looked up by
//! attribute name, case-insensitively. Free of wire types so mapping and planning are tested
//! with literals.
//!
//! Two forms share the [`Attributes`] reading interface: [`Entry`] owns its values (deltas,
//! groups, tests), and [`EntryView`] borrows them from the received message, so a full read
//! maps each user without copying the entry first.

use std::collections::HashMap;

use super::controls::ber::Reader;

/// Read access to an entry's DN and values, whatever holds them.
pub trait Attributes {
    fn dn(&self) -> &str;

    /// Every value of `attr`. Names compare case-insensitively; options are part of the name
    /// (`member;range=0-1499` is not `member`). An attribute listed twice yields the values of
    /// both, in order.
    fn values<'s>(&'s self, attr: &str) -> Values<'s>;

    /// The first value as text. `Err` if it is not UTF-8.
    fn text(&self, attr: &str) -> Result<Option<&str>, String> {
        match self.values(attr).next() {
            None => Ok(None),
            Some(v) => std::str::from_utf8(v)
                .map(Some)
                .map_err(|_| format!("{attr} is not valid UTF-8")),
        }
    }

    /// Every value as text; values that are not UTF-8 are an error.
    fn texts(&self, attr: &str) -> Result<Vec<&str>, String> {
        self.values(attr)
            .map(|v| std::str::from_utf8(v).map_err(|_| format!("{attr} is not valid UTF-8")))
            .collect()
    }

    fn has_object_class(&self, class: &str) -> bool {
        self.values("objectclass")
            .any(|v| v.eq_ignore_ascii_case(class.as_bytes()))
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entry {
    pub dn: String,
    /// Attribute name (lower case, options such as `;binary` kept) → raw values.
    pub attrs: HashMap<String, Vec<Vec<u8>>>,
}

impl Entry {
    pub fn new(dn: impl Into<String>) -> Self {
        Entry {
            dn: dn.into(),
            attrs: HashMap::new(),
        }
    }

    /// Adds text values (for tests and fixtures).
    pub fn with(mut self, attr: &str, values: &[&str]) -> Self {
        self.attrs
            .entry(attr.to_ascii_lowercase())
            .or_default()
            .extend(values.iter().map(|v| v.as_bytes().to_vec()));
        self
    }

    pub fn with_binary(mut self, attr: &str, value: &[u8]) -> Self {
        self.attrs
            .entry(attr.to_ascii_lowercase())
            .or_default()
            .push(value.to_vec());
        self
    }

    pub fn raw(&self, attr: &str) -> &[Vec<u8>] {
        if attr.is_empty() {
            return &[];
        }
        // Names are stored lower-cased; most look-ups already are (no allocation then).
        let found = if attr.bytes().any(|b| b.is_ascii_uppercase()) {
            self.attrs.get(&attr.to_ascii_lowercase())
        } else {
            self.attrs.get(attr)
        };
        found.map_or(&[], Vec::as_slice)
    }

    /// The first value as text. `Err` if it is not UTF-8.
    pub fn text(&self, attr: &str) -> Result<Option<&str>, String> {
        Attributes::text(self, attr)
    }

    /// Every value as text; values that are not UTF-8 are an error.
    pub fn texts(&self, attr: &str) -> Result<Vec<&str>, String> {
        Attributes::texts(self, attr)
    }

    pub fn has_object_class(&self, class: &str) -> bool {
        Attributes::has_object_class(self, class)
    }
}

impl Attributes for Entry {
    fn dn(&self) -> &str {
        &self.dn
    }

    fn values<'s>(&'s self, attr: &str) -> Values<'s> {
        Values(Inner::Owned(self.raw(attr).iter()))
    }
}

/// A search result entry read in place from the message that carried it. Built only by the
/// client's decoder, which has checked every element: looking values up cannot fail.
#[derive(Debug, Clone)]
pub struct EntryView<'m> {
    dn: &'m str,
    attrs: Vec<RawAttribute<'m>>,
}

#[derive(Debug, Clone, Copy)]
struct RawAttribute<'m> {
    name: &'m str,
    /// The content of the `SET OF` values: primitive OCTET STRINGs, checked.
    values: &'m [u8],
    /// The next attribute of the same name, if the server listed it twice.
    again: Option<usize>,
}

impl<'m> EntryView<'m> {
    /// An entry of `dn` with `(name, values)` pairs, each `values` the checked content of a
    /// `SET OF OCTET STRING`.
    pub(crate) fn new(dn: &'m str, pairs: Vec<(&'m str, &'m [u8])>) -> Self {
        let mut attrs: Vec<RawAttribute<'m>> = pairs
            .into_iter()
            .map(|(name, values)| RawAttribute {
                name,
                values,
                again: None,
            })
            .collect();
        // Entries list a dozen attributes, almost never one twice: a quadratic scan is cheap.
        for i in (0..attrs.len()).rev() {
            let name = attrs.get(i).map(|a| a.name);
            let again = name.and_then(|name| {
                attrs
                    .iter()
                    .skip(i + 1)
                    .position(|b| b.name.eq_ignore_ascii_case(name))
                    .map(|p| p + i + 1)
            });
            if let Some(a) = attrs.get_mut(i) {
                a.again = again;
            }
        }
        EntryView { dn, attrs }
    }

    /// The owned form, with names lower-cased and repeated attributes merged.
    pub fn to_entry(&self) -> Entry {
        let mut entry = Entry::new(self.dn);
        for a in &self.attrs {
            let slot = entry.attrs.entry(a.name.to_ascii_lowercase()).or_default();
            // A group's member list is most of its message: allocate it once, exactly.
            slot.reserve_exact(set_values(a.values).count());
            slot.extend(set_values(a.values).map(<[u8]>::to_vec));
        }
        entry
    }

    /// The attribute names, as the server sent them.
    pub fn names(&self) -> impl Iterator<Item = &'m str> + '_ {
        self.attrs.iter().map(|a| a.name)
    }
}

impl Attributes for EntryView<'_> {
    fn dn(&self) -> &str {
        self.dn
    }

    fn values<'s>(&'s self, attr: &str) -> Values<'s> {
        let first = self
            .attrs
            .iter()
            .position(|a| a.name.eq_ignore_ascii_case(attr));
        Values(Inner::Ber {
            attrs: &self.attrs,
            current: Reader::new(&[]),
            next: first,
        })
    }
}

fn set_values(content: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut r = Reader::new(content);
    std::iter::from_fn(move || r.read_tlv().ok().map(|t| t.content))
}

/// The values of one attribute, borrowed from the entry.
pub struct Values<'s>(Inner<'s>);

enum Inner<'s> {
    Owned(std::slice::Iter<'s, Vec<u8>>),
    Ber {
        attrs: &'s [RawAttribute<'s>],
        current: Reader<'s>,
        next: Option<usize>,
    },
}

impl<'s> Iterator for Values<'s> {
    type Item = &'s [u8];

    fn next(&mut self) -> Option<&'s [u8]> {
        match &mut self.0 {
            Inner::Owned(it) => it.next().map(Vec::as_slice),
            Inner::Ber {
                attrs,
                current,
                next,
            } => loop {
                if !current.is_empty() {
                    // Checked when the entry was decoded; an error cannot occur, and would
                    // only end the values.
                    return current.read_tlv().ok().map(|t| t.content);
                }
                let a = attrs.get((*next)?)?;
                *current = Reader::new(a.values);
                *next = a.again;
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ldap::controls::ber::Writer;

    fn set(values: &[&[u8]]) -> Vec<u8> {
        let mut w = Writer::new();
        for v in values {
            w.write_octet_string(v);
        }
        w.into_bytes()
    }

    #[test]
    fn views_read_like_owned_entries() {
        let mail = set(&[b"a@x.io", b"b@x.io"]);
        let more = set(&[b"c@x.io"]);
        let class = set(&[b"top", b"inetOrgPerson"]);
        let bad = set(&[&[0xff]]);
        let view = EntryView::new(
            "uid=a,dc=x",
            vec![
                ("Mail", &mail),
                ("objectClass", &class),
                ("mail", &more),
                ("jpegPhoto", &bad),
            ],
        );
        let owned = view.to_entry();
        for e in [&view as &dyn Attributes, &owned as &dyn Attributes] {
            assert_eq!(e.dn(), "uid=a,dc=x");
            assert_eq!(e.texts("MAIL").unwrap(), vec!["a@x.io", "b@x.io", "c@x.io"]);
            assert_eq!(e.text("mail").unwrap(), Some("a@x.io"));
            assert_eq!(e.text("cn").unwrap(), None);
            assert!(e.has_object_class("inetorgperson"));
            assert!(!e.has_object_class("person"));
            assert!(e.text("jpegphoto").is_err());
            assert_eq!(e.values("").count(), 0);
        }
        assert_eq!(owned.raw("mail").len(), 3);
        assert_eq!(
            view.names().collect::<Vec<_>>(),
            ["Mail", "objectClass", "mail", "jpegPhoto"]
        );
    }
}
