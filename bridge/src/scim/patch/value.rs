//! Value coercion and value identity for the PATCH engine.

use std::borrow::Cow;

use serde_json::{Map, Number, Value};

use super::PatchError;
use crate::scim::filter::{get_ci, parse_date_time};
use crate::scim::schema::{AttributeDef, AttributeType, Mutability};

pub(super) type Object = Map<String, Value>;

/// Coerces `value` for the simple attribute `def`. `null` passes through (it unassigns).
pub(super) fn coerce_simple(def: &AttributeDef, value: &Value) -> Result<Value, PatchError> {
    let coerced = match (def.kind, value) {
        (_, Value::Null) => Some(Value::Null),
        (AttributeType::Boolean, Value::Bool(_)) => Some(value.clone()),
        // Entra sends booleans as "True"/"False".
        (AttributeType::Boolean, Value::String(s)) => match s.trim() {
            t if t.eq_ignore_ascii_case("true") => Some(Value::Bool(true)),
            t if t.eq_ignore_ascii_case("false") => Some(Value::Bool(false)),
            _ => None,
        },
        (AttributeType::String | AttributeType::Reference | AttributeType::Binary, v) => match v {
            Value::String(_) => Some(v.clone()),
            // Some clients send identifiers such as employee numbers as JSON numbers.
            Value::Number(n) if def.kind == AttributeType::String => {
                Some(Value::String(n.to_string()))
            }
            _ => None,
        },
        (AttributeType::DateTime, Value::String(s)) => {
            parse_date_time(s).is_some().then(|| value.clone())
        }
        (AttributeType::Integer, Value::Number(n)) => integer(n).map(Value::Number),
        (AttributeType::Integer, Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .ok()
            .map(|i| Value::Number(i.into())),
        (AttributeType::Decimal, Value::Number(_)) => Some(value.clone()),
        (AttributeType::Decimal, Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number),
        _ => None,
    };
    coerced.ok_or_else(|| {
        PatchError::invalid_value(format!(
            "'{}' must be {}, not {}",
            def.name,
            describe_kind(def.kind),
            describe_json(value)
        ))
    })
}

/// An integer-valued number, including fractional notation with no fraction (`5.0`).
fn integer(n: &Number) -> Option<Number> {
    if n.is_i64() || n.is_u64() {
        return Some(n.clone());
    }
    let f = n.as_f64()?;
    // i64::MAX as f64 rounds up to 2^63, so the upper bound must be exclusive.
    let in_range = f.fract() == 0.0 && f >= -(2f64.powi(63)) && f < 2f64.powi(63);
    // Exact: `f` is integral and within range.
    in_range.then(|| Number::from(f as i64))
}

fn describe_kind(kind: AttributeType) -> &'static str {
    match kind {
        AttributeType::String => "a string",
        AttributeType::Boolean => "a boolean",
        AttributeType::Decimal => "a number",
        AttributeType::Integer => "an integer",
        AttributeType::DateTime => "an RFC 3339 date-time string",
        AttributeType::Binary => "a base64 string",
        AttributeType::Reference => "a URI string",
        AttributeType::Complex => "an object",
    }
}

fn describe_json(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Coerces `value` for the complex attribute `def` into sub-attributes with canonical names.
///
/// `null` sub-attributes are kept (they unassign when merged). Read-only sub-attributes are
/// dropped: clients echo them back (Okta sends `manager.displayName`), and the service provider
/// owns them. A scalar stands for the `value` sub-attribute, and for a single-valued attribute a
/// one-element array for its element, because Entra sends `manager` as `"id"` or
/// `[{"value": "id"}]`.
pub(super) fn coerce_complex(def: &AttributeDef, value: &Value) -> Result<Object, PatchError> {
    match value {
        Value::Object(members) => {
            let mut out = Object::new();
            for (name, member) in members {
                let sub = def.sub_attribute(name).ok_or_else(|| {
                    PatchError::invalid_value(format!(
                        "'{}' has no sub-attribute '{name}'",
                        def.name
                    ))
                })?;
                if sub.mutability == Mutability::ReadOnly {
                    continue;
                }
                if sub.is_complex() {
                    return Err(PatchError::invalid_value(format!(
                        "'{}.{}' cannot be set",
                        def.name, sub.name
                    )));
                }
                out.insert(sub.name.clone(), coerce_simple(sub, member)?);
            }
            Ok(out)
        }
        Value::Array(items) if !def.multi_valued && items.len() == 1 => match items.first() {
            Some(Value::Array(_)) | None => Err(not_complex(def, value)),
            Some(item) => coerce_complex(def, item),
        },
        Value::String(_) | Value::Number(_) | Value::Bool(_) => {
            let Some(value_sub) = def.sub_attribute("value") else {
                return Err(not_complex(def, value));
            };
            let mut out = Object::new();
            out.insert(value_sub.name.clone(), coerce_simple(value_sub, value)?);
            Ok(out)
        }
        _ => Err(not_complex(def, value)),
    }
}

fn not_complex(def: &AttributeDef, value: &Value) -> PatchError {
    PatchError::invalid_value(format!(
        "'{}' must be an object of sub-attributes, not {}",
        def.name,
        describe_json(value)
    ))
}

/// Coerces `value` for the multi-valued attribute `def` into its values: an array gives its
/// elements, anything else one value. `null`s and values without any sub-attribute are dropped;
/// values the list repeats are collapsed; at most one may be primary.
pub(super) fn coerce_values(def: &AttributeDef, value: &Value) -> Result<Vec<Value>, PatchError> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    };
    let mut out: Vec<Value> = Vec::with_capacity(items.len());
    for item in items.into_iter().filter(|item| !item.is_null()) {
        let coerced = if def.is_complex() {
            if let Value::Array(_) = item {
                return Err(not_complex(def, item));
            }
            let mut members = coerce_complex(def, item)?;
            members.retain(|_, v| !v.is_null());
            if members.is_empty() {
                continue;
            }
            Value::Object(members)
        } else {
            coerce_simple(def, item)?
        };
        if coerced.is_null() || out.iter().any(|seen| same_value(def, seen, &coerced)) {
            continue;
        }
        out.push(coerced);
    }
    if out.iter().filter(|v| is_primary(v)).count() > 1 {
        return Err(PatchError::invalid_value(format!(
            "at most one value of '{}' may be primary",
            def.name
        )));
    }
    Ok(out)
}

/// Whether a value of a multi-valued attribute has `"primary": true`.
pub(super) fn is_primary(value: &Value) -> bool {
    value
        .as_object()
        .and_then(|o| get_ci(o, "primary"))
        .is_some_and(|p| p == &Value::Bool(true))
}

/// Whether two values of the multi-valued attribute `def` denote the same value.
///
/// Complex values with a `value` sub-attribute are identified by it (and by `type` where both
/// have one); other complex values must agree on every sub-attribute. Strings compare per the
/// sub-attribute's case-exactness.
pub(super) fn same_value(def: &AttributeDef, a: &Value, b: &Value) -> bool {
    let (Value::Object(a_members), Value::Object(b_members)) = (a, b) else {
        return equal_scalars(def, Some(a), Some(b));
    };
    if !def.is_complex() {
        return a == b;
    }
    let identified = def.sub_attribute("value").is_some()
        && (get_ci(a_members, "value").is_some() || get_ci(b_members, "value").is_some());
    let compared: Vec<&str> = if identified {
        let both_typed = get_ci(a_members, "type").is_some() && get_ci(b_members, "type").is_some();
        if both_typed {
            vec!["value", "type"]
        } else {
            vec!["value"]
        }
    } else {
        a_members
            .keys()
            .chain(b_members.keys())
            .map(String::as_str)
            .collect()
    };
    compared.into_iter().all(|name| {
        let sub_case_exact = def.sub_attribute(name).is_some_and(|s| s.case_exact);
        equal_values(
            sub_case_exact,
            get_ci(a_members, name),
            get_ci(b_members, name),
        )
    })
}

/// Equality of two optional values of the simple attribute `def`, absent equalling `null`.
pub(super) fn equal_scalars(def: &AttributeDef, a: Option<&Value>, b: Option<&Value>) -> bool {
    equal_values(def.case_exact, a, b)
}

fn equal_values(case_exact: bool, a: Option<&Value>, b: Option<&Value>) -> bool {
    let a = a.filter(|v| !v.is_null());
    let b = b.filter(|v| !v.is_null());
    match (a, b) {
        (Some(Value::String(x)), Some(Value::String(y))) if !case_exact => fold(x) == fold(y),
        (x, y) => x == y,
    }
}

fn fold(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) || !s.is_ascii() {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}
