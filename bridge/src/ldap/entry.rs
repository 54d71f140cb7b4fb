//! A directory entry as the mapping sees it: a DN and attribute values keyed by lower-case
//! attribute name. Free of `ldap3` types so mapping and planning are tested with literals.

use std::collections::HashMap;

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
        match self.raw(attr).first() {
            None => Ok(None),
            Some(v) => std::str::from_utf8(v)
                .map(Some)
                .map_err(|_| format!("{attr} is not valid UTF-8")),
        }
    }

    /// Every value as text; values that are not UTF-8 are an error.
    pub fn texts(&self, attr: &str) -> Result<Vec<&str>, String> {
        self.raw(attr)
            .iter()
            .map(|v| std::str::from_utf8(v).map_err(|_| format!("{attr} is not valid UTF-8")))
            .collect()
    }

    pub fn has_object_class(&self, class: &str) -> bool {
        self.raw("objectclass")
            .iter()
            .any(|v| v.eq_ignore_ascii_case(class.as_bytes()))
    }
}
