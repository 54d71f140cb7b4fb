//! Reading and writing attribute values inside a resource object: canonical member names,
//! immutability, merging of complex values and the `primary` rule.

use serde_json::Value;

use super::PatchError;
use super::value::{Object, equal_scalars, is_primary};
use crate::scim::filter::get_ci;
use crate::scim::schema::{AttributeDef, Mutability};

/// Removes every member whose name matches `name` case-insensitively; returns the first.
pub(super) fn take_ci(object: &mut Object, name: &str) -> Option<Value> {
    let keys: Vec<String> = object
        .keys()
        .filter(|key| key.eq_ignore_ascii_case(name))
        .cloned()
        .collect();
    let mut taken = None;
    for key in keys {
        let value = object.remove(&key);
        if taken.is_none() {
            taken = value;
        }
    }
    taken
}

/// Sets `name` (the canonical spelling) to `value`, dropping differently-cased duplicates.
pub(super) fn set_canonical(object: &mut Object, name: &str, value: Value) {
    take_ci(object, name);
    object.insert(name.to_owned(), value);
}

/// Sets (or, for `null`, unassigns) a simple attribute, enforcing immutability.
pub(super) fn set_scalar(
    object: &mut Object,
    def: &AttributeDef,
    value: Value,
) -> Result<(), PatchError> {
    let current = get_ci(object, &def.name).filter(|c| !c.is_null());
    if def.mutability == Mutability::Immutable
        && current.is_some()
        && !equal_scalars(def, current, Some(&value))
    {
        return Err(PatchError::mutability(format!(
            "'{}' is immutable",
            def.name
        )));
    }
    if value.is_null() {
        take_ci(object, &def.name);
    } else {
        set_canonical(object, &def.name, value);
    }
    Ok(())
}

pub(super) fn unassign(object: &mut Object, def: &AttributeDef) -> Result<(), PatchError> {
    set_scalar(object, def, Value::Null)
}

/// Merges coerced sub-attributes into the single-valued complex attribute `attr`.
pub(super) fn merge_complex(
    container: &mut Object,
    attr: &AttributeDef,
    incoming: Object,
) -> Result<(), PatchError> {
    let mut object = match take_ci(container, &attr.name) {
        Some(Value::Object(object)) => object,
        _ => Object::new(),
    };
    merge_into(&mut object, attr, incoming)?;
    if !object.is_empty() {
        container.insert(attr.name.clone(), Value::Object(object));
    }
    Ok(())
}

pub(super) fn merge_into(
    object: &mut Object,
    attr: &AttributeDef,
    incoming: Object,
) -> Result<(), PatchError> {
    for (name, value) in incoming {
        if let Some(sub) = attr.sub_attribute(&name) {
            set_scalar(object, sub, value)?;
        }
    }
    Ok(())
}

/// Merges a re-added value into the existing value it duplicates. Sub-attributes that already
/// hold an equivalent value keep it, so that adding a value that is present changes nothing.
pub(super) fn merge_duplicate(
    object: &mut Object,
    attr: &AttributeDef,
    incoming: Object,
) -> Result<(), PatchError> {
    for (name, value) in incoming {
        if let Some(sub) = attr.sub_attribute(&name)
            && !equal_scalars(sub, get_ci(object, &sub.name), Some(&value))
        {
            set_scalar(object, sub, value)?;
        }
    }
    Ok(())
}

/// Removes and returns the values of a multi-valued attribute (a stray single value counts as
/// one), to be written back with [`put_values`].
pub(super) fn take_values(container: &mut Object, attr: &AttributeDef) -> Vec<Value> {
    match take_ci(container, &attr.name) {
        Some(Value::Array(values)) => values,
        None | Some(Value::Null) => Vec::new(),
        Some(other) => vec![other],
    }
}

/// Stores `values`, dropping nulls and empty objects; no values leaves the attribute unassigned.
pub(super) fn put_values(container: &mut Object, attr: &AttributeDef, mut values: Vec<Value>) {
    values.retain(|v| !v.is_null() && v.as_object().is_none_or(|o| !o.is_empty()));
    if !values.is_empty() {
        container.insert(attr.name.clone(), Value::Array(values));
    }
}

/// After the values at `touched` were written: if one of them is now primary, no other value
/// stays primary (RFC 7644 §3.5.2); if several are, the request is invalid.
pub(super) fn settle_primary(
    attr: &AttributeDef,
    values: &mut [Value],
    touched: &[usize],
) -> Result<(), PatchError> {
    let mut winners: Vec<usize> = touched
        .iter()
        .copied()
        .filter(|&i| values.get(i).is_some_and(is_primary))
        .collect();
    winners.sort_unstable();
    winners.dedup();
    match winners.as_slice() {
        [] => Ok(()),
        [winner] => {
            for (index, value) in values.iter_mut().enumerate() {
                if index != *winner
                    && is_primary(value)
                    && let Value::Object(object) = value
                {
                    set_canonical(object, "primary", Value::Bool(false));
                }
            }
            Ok(())
        }
        _ => Err(PatchError::invalid_value(format!(
            "at most one value of '{}' may be primary",
            attr.name
        ))),
    }
}
