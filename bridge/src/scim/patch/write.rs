//! `add` and `replace`.

use serde_json::Value;

use super::apply::{
    Selection, container_mut, echoes_current, is_read_only, resolve_target, whole_extension,
};
use super::store::{
    merge_complex, merge_duplicate, merge_into, put_values, set_canonical, set_scalar,
    settle_primary, take_ci, take_values, unassign,
};
use super::value::{Object, coerce_complex, coerce_simple, coerce_values, same_value};
use super::{PatchError, PatchOpKind, parse_patch_path};
use crate::scim::filter::{CompValue, CompareOp, Filter, PatchPath};
use crate::scim::schema::{AttributeDef, Mutability, PatchSchema};

pub(super) fn write_pathless(
    resource: &mut Object,
    kind: PatchOpKind,
    value: &Value,
    schema: &dyn PatchSchema,
) -> Result<(), PatchError> {
    let Value::Object(entries) = value else {
        return Err(PatchError::invalid_value(format!(
            "without a path, the value of '{}' must be an object of attributes",
            kind.as_str()
        )));
    };
    for (key, entry) in entries {
        // `schemas` follows the extension objects present; see `tidy_schemas`.
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if let Some(ext) = schema.extension_urn(key) {
            write_extension(resource, kind, ext, entry, schema)?;
            continue;
        }
        // Entra and others use paths as keys: "name.familyName", URN-qualified names, filters.
        let path = parse_patch_path(key)?;
        write(resource, kind, &path, entry, schema)?;
    }
    Ok(())
}

/// Writes an extension object's attributes one by one, so they merge with the existing ones.
fn write_extension(
    resource: &mut Object,
    kind: PatchOpKind,
    ext: &str,
    value: &Value,
    schema: &dyn PatchSchema,
) -> Result<(), PatchError> {
    match value {
        Value::Object(entries) => {
            for (name, entry) in entries {
                // SCIM libraries serialise an extension object with its own `schemas` list
                // (scim2-models does); it carries nothing to write.
                if name.eq_ignore_ascii_case("schemas") {
                    continue;
                }
                let path = parse_patch_path(&format!("{ext}:{name}"))?;
                write(resource, kind, &path, entry, schema)?;
            }
            Ok(())
        }
        Value::Null => {
            if kind == PatchOpKind::Replace {
                take_ci(resource, ext);
            }
            Ok(())
        }
        _ => Err(PatchError::invalid_value(format!(
            "'{ext}' must be an object of attributes"
        ))),
    }
}

pub(super) fn write(
    resource: &mut Object,
    kind: PatchOpKind,
    path: &PatchPath,
    value: &Value,
    schema: &dyn PatchSchema,
) -> Result<(), PatchError> {
    if let Some(ext) = whole_extension(schema, path) {
        return write_extension(resource, kind, ext, value, schema);
    }
    let target = resolve_target(schema, path)?;
    let resolved = target.resolved;
    if is_read_only(&resolved) {
        // Clients echo read-only values back unchanged (Okta sends a group's `id` with every
        // rename); only an actual change is refused.
        if target.filter.is_none() && echoes_current(resource, &resolved, value) {
            return Ok(());
        }
        return Err(PatchError::mutability(format!("'{path}' is read-only")));
    }
    let attr = resolved.attribute;
    let container = container_mut(resource, &resolved)?;
    match (attr.multi_valued, target.filter, resolved.sub_attribute) {
        (false, _, None) => write_single(container, attr, value),
        (false, _, Some(sub)) => {
            let mut incoming = Object::new();
            incoming.insert(sub.name.clone(), coerce_simple(sub, value)?);
            if blanks_value(attr, &incoming) {
                return unassign(container, attr);
            }
            merge_complex(container, attr, incoming)
        }
        (true, None, None) => write_values(container, attr, kind, value),
        (true, None, Some(sub)) => write_sub_of_all(container, attr, sub, value),
        (true, Some(filter), sub) => {
            let selection = Selection {
                attr,
                element_path: &target.element_path,
                filter,
                schema,
            };
            write_selected(container, &selection, sub, value)
        }
    }
}

fn write_single(
    container: &mut Object,
    attr: &AttributeDef,
    value: &Value,
) -> Result<(), PatchError> {
    if !attr.is_complex() {
        let value = coerce_simple(attr, value)?;
        return set_scalar(container, attr, value);
    }
    if value.is_null() {
        return unassign(container, attr);
    }
    let incoming = coerce_complex(attr, value)?;
    if blanks_value(attr, &incoming) {
        return unassign(container, attr);
    }
    merge_complex(container, attr, incoming)
}

/// Whether `incoming` gives a single-valued complex attribute that is identified by its
/// `value` (the Enterprise User's `manager`) an empty `value`. Such a value points at nobody,
/// and clients send it to clear the attribute (`"manager": ""`), so it unassigns the whole
/// attribute rather than storing a reference to no one.
fn blanks_value(attr: &AttributeDef, incoming: &Object) -> bool {
    let Some(value) = attr.sub_attribute("value") else {
        return false;
    };
    incoming
        .get(&value.name)
        .and_then(Value::as_str)
        .is_some_and(|s| s.trim().is_empty())
}

/// `add`/`replace` on a whole multi-valued attribute.
fn write_values(
    container: &mut Object,
    attr: &AttributeDef,
    kind: PatchOpKind,
    value: &Value,
) -> Result<(), PatchError> {
    let incoming = coerce_values(attr, value)?;
    if kind == PatchOpKind::Replace {
        take_ci(container, &attr.name);
        put_values(container, attr, incoming);
        return Ok(());
    }
    let mut values = take_values(container, attr);
    let mut touched = Vec::with_capacity(incoming.len());
    for new in incoming {
        match values
            .iter()
            .position(|existing| same_value(attr, existing, &new))
        {
            Some(index) => {
                // Re-adding a value merges what the client sent into it; an identical value
                // changes nothing.
                if let (Some(Value::Object(existing)), Value::Object(new)) =
                    (values.get_mut(index), new)
                {
                    merge_duplicate(existing, attr, new)?;
                }
                touched.push(index);
            }
            None => {
                values.push(new);
                touched.push(values.len() - 1);
            }
        }
    }
    settle_primary(attr, &mut values, &touched)?;
    put_values(container, attr, values);
    Ok(())
}

/// `add`/`replace` of a sub-attribute on every value of a multi-valued attribute
/// (`emails.type`); with no values yet, one is created.
fn write_sub_of_all(
    container: &mut Object,
    attr: &AttributeDef,
    sub: &AttributeDef,
    value: &Value,
) -> Result<(), PatchError> {
    let value = coerce_simple(sub, value)?;
    let mut values = take_values(container, attr);
    if values.is_empty() {
        if !value.is_null() {
            let mut object = Object::new();
            object.insert(sub.name.clone(), value);
            values.push(Value::Object(object));
        }
    } else {
        for item in &mut values {
            if let Value::Object(object) = item {
                set_scalar(object, sub, value.clone())?;
            }
        }
    }
    let touched: Vec<usize> = (0..values.len()).collect();
    settle_primary(attr, &mut values, &touched)?;
    put_values(container, attr, values);
    Ok(())
}

/// What a filtered `add`/`replace` writes into each selected value.
enum Update {
    Remove,
    Sub(Value),
    Merge(Object),
    Whole(Value),
}

fn write_selected(
    container: &mut Object,
    selection: &Selection<'_>,
    sub: Option<&AttributeDef>,
    value: &Value,
) -> Result<(), PatchError> {
    let attr = selection.attr;
    let mut values = take_values(container, attr);
    let matched = selection.matching(&values);
    let touched = if matched.is_empty() {
        // Entra adds values this way: a filter that selects nothing describes the value to add.
        if value.is_null() {
            Vec::new()
        } else {
            let created = new_value_from_filter(selection, sub, value)?;
            // The new value may duplicate one the filter did not select, e.g. an untyped
            // email with the same address; it is then merged into it rather than repeated.
            match values
                .iter()
                .position(|existing| same_value(attr, existing, &created))
            {
                Some(index) => {
                    if let (Some(Value::Object(existing)), Value::Object(created)) =
                        (values.get_mut(index), created)
                    {
                        merge_duplicate(existing, attr, created)?;
                    }
                    vec![index]
                }
                None => {
                    values.push(created);
                    vec![values.len() - 1]
                }
            }
        }
    } else {
        let update = match sub {
            Some(sub) => Update::Sub(coerce_simple(sub, value)?),
            // Replacing selected values with null unassigns them.
            None if value.is_null() => Update::Remove,
            None if attr.is_complex() => Update::Merge(coerce_complex(attr, value)?),
            None => Update::Whole(coerce_simple(attr, value)?),
        };
        for &index in &matched {
            let Some(item) = values.get_mut(index) else {
                continue;
            };
            match (&update, sub, &mut *item) {
                (Update::Sub(v), Some(sub), Value::Object(object)) => {
                    set_scalar(object, sub, v.clone())?;
                }
                (Update::Merge(incoming), _, Value::Object(object)) => {
                    merge_into(object, attr, incoming.clone())?;
                }
                (Update::Whole(v), _, _) => *item = v.clone(),
                (Update::Remove, _, _) => *item = Value::Null,
                _ => {}
            }
        }
        matched
    };
    settle_primary(attr, &mut values, &touched)?;
    put_values(container, attr, values);
    Ok(())
}

/// Builds the value a filter such as `type eq "work" and primary eq true` describes, then
/// applies the operation's value to it.
fn new_value_from_filter(
    selection: &Selection<'_>,
    sub: Option<&AttributeDef>,
    value: &Value,
) -> Result<Value, PatchError> {
    let attr = selection.attr;
    let mut element = Object::new();
    if !attr.is_complex() || !describe(selection.filter, attr, &mut element)? {
        return Err(PatchError::no_target(format!(
            "no value of '{}' matches '{}', and the filter does not describe a value to add \
             (only 'eq' comparisons joined by 'and' do)",
            attr.name, selection.filter
        )));
    }
    match sub {
        Some(sub) => {
            let value = coerce_simple(sub, value)?;
            if !value.is_null() {
                set_canonical(&mut element, &sub.name, value);
            }
        }
        None => {
            for (name, member) in coerce_complex(attr, value)? {
                if !member.is_null() {
                    set_canonical(&mut element, &name, member);
                }
            }
        }
    }
    Ok(Value::Object(element))
}

/// Collects the sub-attribute values an `eq`/`and` filter pins down into `out`; false when the
/// filter has any other shape or contradicts itself.
fn describe(filter: &Filter, attr: &AttributeDef, out: &mut Object) -> Result<bool, PatchError> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.urn.is_none() && path.sub_attr.is_none() => {
            let Some(sub) = attr.sub_attribute(&path.name) else {
                return Ok(false);
            };
            if sub.is_complex() || sub.mutability == Mutability::ReadOnly {
                return Ok(false);
            }
            let json = match value {
                CompValue::String(s) => Value::String(s.clone()),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Null => return Ok(false),
            };
            let json = coerce_simple(sub, &json)?;
            if out.get(&sub.name).is_some_and(|existing| existing != &json) {
                return Ok(false);
            }
            out.insert(sub.name.clone(), json);
            Ok(true)
        }
        Filter::And(operands) => {
            for operand in operands {
                if !describe(operand, attr, out)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        _ => Ok(false),
    }
}
