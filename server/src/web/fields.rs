//! What was wrong with a form, field by field, in the page's words: shown next to each field,
//! with what the person typed kept in the form.

use std::collections::BTreeMap;

use serde::Serialize;

/// Messages by field name. The first field with a problem gets the focus.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FieldErrors(BTreeMap<&'static str, String>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `message` for `field`, unless the field has one already (the first problem is the
    /// one to fix first).
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.entry(field).or_insert_with(|| message.into());
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first field of `order` (the form's order) that has a problem: where the focus goes.
    pub fn first_of(&self, order: &[&'static str]) -> Option<&'static str> {
        order.iter().copied().find(|f| self.has(f))
    }
}

/// The whole number typed, if it is one (digits only: no sign, point or exponent).
pub fn whole_number(typed: &str) -> Option<u32> {
    let t = typed.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_problem_wins_and_numbers_are_plain_digits() {
        let mut e = FieldErrors::new();
        assert!(e.is_empty());
        e.add("min", "first");
        e.add("min", "second");
        assert!(e.has("min") && !e.has("max"));
        e.add("length", "x");
        assert_eq!(e.first_of(&["max", "length", "min"]), Some("length"));
        assert_eq!(serde_json::to_value(&e).unwrap()["min"], "first");
        assert_eq!(whole_number(" 120 "), Some(120));
        for bad in ["", "-5", "1e3", "12.5", "five", "99999999999"] {
            assert_eq!(whole_number(bad), None, "{bad}");
        }
    }
}
