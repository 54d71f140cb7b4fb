//! Evaluation of filters against JSON resources.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Map, Number, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{AttrPath, CompValue, CompareOp, Filter};

/// Whether `resource` (a SCIM resource as a JSON object) matches `filter`.
///
/// Semantics (RFC 7644 §3.4.2.2):
/// - Attribute and sub-attribute names match case-insensitively. A schema URN prefix selects the
///   extension object stored under that URN; a core-schema URN (one listed in `schemas` that has
///   no object of its own, or any `urn:ietf:params:scim:schemas:core:` URN) selects the top level.
/// - A multi-valued attribute matches if any of its values matches. Comparing a complex value
///   with a plain literal compares its `value` sub-attribute (`emails co "example.com"`).
/// - Strings compare case-insensitively unless `case_exact` returns true for the attribute; it
///   is called with the full path (`emails.type` for `type` inside `emails[...]`).
///   `gt`/`ge`/`lt`/`le` order strings lexically, except that two RFC 3339 date-times compare
///   chronologically (as do `eq`/`ne` on them). Numbers compare numerically; booleans support
///   only `eq`/`ne`. Values of different JSON types never compare equal.
/// - `ne` is the negation of `eq`: it matches when no value equals the literal, including when
///   the attribute is absent. `eq null` matches an absent or null attribute.
/// - `pr` matches when some value is not null, not an empty string and not an empty array or
///   object (a complex value needs at least one present sub-attribute).
pub fn matches(filter: &Filter, resource: &Value, case_exact: &dyn Fn(&AttrPath) -> bool) -> bool {
    Evaluator {
        case_exact,
        parent: None,
    }
    .eval(filter, resource)
}

/// Whether one value (`element`) of the multi-valued attribute `attribute` matches a value
/// filter, i.e. the part of `attribute[filter]` between the brackets.
///
/// Attribute paths in `filter` name sub-attributes of `element`; for a non-object element (a
/// multi-valued simple attribute) the sub-attribute `value` denotes the element itself.
/// `case_exact` receives paths qualified with `attribute` (`emails.type`).
pub fn matches_element(
    filter: &Filter,
    attribute: &AttrPath,
    element: &Value,
    case_exact: &dyn Fn(&AttrPath) -> bool,
) -> bool {
    Evaluator {
        case_exact,
        parent: Some(attribute),
    }
    .eval(filter, element)
}

/// Case-insensitive member lookup, preferring an exact match.
pub(crate) fn get_ci<'v>(object: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    object.get(name).or_else(|| {
        object
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    })
}

/// The prefix of the URNs of the RFC 7643 core schemas.
const CORE_SCHEMA_PREFIX: &str = "urn:ietf:params:scim:schemas:core:";

struct Evaluator<'a> {
    case_exact: &'a dyn Fn(&AttrPath) -> bool,
    /// Set while evaluating inside `parent[...]`: the node is then one value of `parent`.
    parent: Option<&'a AttrPath>,
}

impl Evaluator<'_> {
    fn eval(&self, filter: &Filter, node: &Value) -> bool {
        match filter {
            Filter::Present(path) => self.values(path, node).into_iter().any(is_present),
            Filter::Compare { path, op, value } => self.compare(path, *op, value, node),
            Filter::ValuePath { path, filter } => {
                // The parser never nests value filters; a hand-built nested one matches nothing
                // rather than being given invented semantics.
                if self.parent.is_some() {
                    return false;
                }
                let inner = Evaluator {
                    case_exact: self.case_exact,
                    parent: Some(path),
                };
                self.values(path, node)
                    .into_iter()
                    .any(|element| inner.eval(filter, element))
            }
            Filter::Not(inner) => !self.eval(inner, node),
            Filter::And(operands) => operands.iter().all(|operand| self.eval(operand, node)),
            Filter::Or(operands) => operands.iter().any(|operand| self.eval(operand, node)),
        }
    }

    /// The values `path` denotes in `node`, with multi-valued attributes flattened.
    fn values<'v>(&self, path: &AttrPath, node: &'v Value) -> Vec<&'v Value> {
        let attribute = match (self.parent, node) {
            (Some(_), Value::Object(element)) => get_ci(element, &path.name),
            (Some(_), scalar) if path.name.eq_ignore_ascii_case("value") => Some(scalar),
            (None, Value::Object(resource)) => {
                container(resource, path.urn.as_deref()).and_then(|c| get_ci(c, &path.name))
            }
            _ => None,
        };
        let mut out = Vec::new();
        let Some(attribute) = attribute else {
            return out;
        };
        match &path.sub_attr {
            None => push_flat(&mut out, attribute),
            Some(sub) => match attribute {
                Value::Array(items) => {
                    for item in items {
                        if let Some(v) = item.as_object().and_then(|o| get_ci(o, sub)) {
                            push_flat(&mut out, v);
                        }
                    }
                }
                Value::Object(complex) => {
                    if let Some(v) = get_ci(complex, sub) {
                        push_flat(&mut out, v);
                    }
                }
                _ => {}
            },
        }
        out
    }

    fn compare(&self, path: &AttrPath, op: CompareOp, literal: &CompValue, node: &Value) -> bool {
        let values = self.values(path, node);
        let exact = matches!(literal, CompValue::String(_)) && self.is_case_exact(path);
        match op {
            CompareOp::Eq => any_equal(&values, literal, exact),
            CompareOp::Ne => !any_equal(&values, literal, exact),
            _ => values
                .into_iter()
                .any(|value| compare_one(value, op, literal, exact)),
        }
    }

    fn is_case_exact(&self, path: &AttrPath) -> bool {
        match self.parent {
            None => (self.case_exact)(path),
            Some(parent) => (self.case_exact)(&AttrPath {
                urn: parent.urn.clone(),
                name: parent.name.clone(),
                sub_attr: Some(path.name.clone()),
            }),
        }
    }
}

/// The object holding the attributes of schema `urn` within `resource`.
fn container<'v>(
    resource: &'v Map<String, Value>,
    urn: Option<&str>,
) -> Option<&'v Map<String, Value>> {
    let Some(urn) = urn else {
        return Some(resource);
    };
    if let Some(Value::Object(extension)) = get_ci(resource, urn) {
        return Some(extension);
    }
    let is_core = urn
        .get(..CORE_SCHEMA_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(CORE_SCHEMA_PREFIX))
        || (listed_schema(resource, urn) && !contains_ci(urn, ":extension:"));
    is_core.then_some(resource)
}

fn listed_schema(resource: &Map<String, Value>, urn: &str) -> bool {
    get_ci(resource, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|schemas| {
            schemas
                .iter()
                .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)))
        })
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack.to_ascii_lowercase().contains(needle)
}

fn push_flat<'v>(out: &mut Vec<&'v Value>, value: &'v Value) {
    match value {
        Value::Array(items) => out.extend(items.iter()),
        other => out.push(other),
    }
}

fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(is_present),
        Value::Object(members) => members.values().any(is_present),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn any_equal(values: &[&Value], literal: &CompValue, exact: bool) -> bool {
    if matches!(literal, CompValue::Null) {
        return !values.iter().any(|v| !v.is_null());
    }
    values
        .iter()
        .any(|value| compare_one(value, CompareOp::Eq, literal, exact))
}

/// Compares one value with a non-null literal.
fn compare_one(value: &Value, op: CompareOp, literal: &CompValue, exact: bool) -> bool {
    // A complex value stands for its `value` sub-attribute when compared with a plain literal.
    let value = match value {
        Value::Object(complex) => match get_ci(complex, "value") {
            Some(inner) => inner,
            None => return false,
        },
        other => other,
    };
    match (value, literal) {
        (Value::String(actual), CompValue::String(expected)) => {
            compare_strings(actual, op, expected, exact)
        }
        (Value::Number(actual), CompValue::Number(expected)) => {
            compare_numbers(actual, expected).is_some_and(|ord| ordering_satisfies(op, ord))
        }
        (Value::Bool(actual), CompValue::Bool(expected)) => match op {
            CompareOp::Eq => actual == expected,
            CompareOp::Ne => actual != expected,
            _ => false,
        },
        _ => false,
    }
}

fn compare_strings(actual: &str, op: CompareOp, expected: &str, exact: bool) -> bool {
    if matches!(
        op,
        CompareOp::Eq
            | CompareOp::Ne
            | CompareOp::Gt
            | CompareOp::Ge
            | CompareOp::Lt
            | CompareOp::Le
    ) && let (Some(a), Some(b)) = (parse_date_time(actual), parse_date_time(expected))
    {
        return ordering_satisfies(op, a.cmp(&b));
    }
    let (actual, expected) = if exact {
        (Cow::Borrowed(actual), Cow::Borrowed(expected))
    } else {
        (fold(actual), fold(expected))
    };
    match op {
        CompareOp::Co => actual.contains(expected.as_ref()),
        CompareOp::Sw => actual.starts_with(expected.as_ref()),
        CompareOp::Ew => actual.ends_with(expected.as_ref()),
        _ => ordering_satisfies(op, actual.cmp(&expected)),
    }
}

fn ordering_satisfies(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// Lower-cases for case-insensitive comparison, without allocating when nothing changes.
fn fold(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            Cow::Borrowed(s)
        }
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    match (as_integer(a), as_integer(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

fn as_integer(n: &Number) -> Option<i128> {
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
}

/// Parses an RFC 3339 date-time; cheap rejection first, since most strings are not one.
pub(crate) fn parse_date_time(s: &str) -> Option<OffsetDateTime> {
    let looks_like_date = s.len() >= 20 && s.as_bytes().first().is_some_and(u8::is_ascii_digit);
    if looks_like_date {
        OffsetDateTime::parse(s, &Rfc3339).ok()
    } else {
        None
    }
}
