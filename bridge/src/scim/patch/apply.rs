//! Application of PATCH operations to a resource: dispatch, path resolution and the
//! resource-wide invariants (`schemas`).

use serde_json::Value;

use super::remove::remove;
use super::store::take_ci;
use super::value::Object;
use super::write::{write, write_pathless};
use super::{PatchError, PatchOp, PatchOpKind};
use crate::scim::filter::{AttrPath, Filter, PatchPath, get_ci, matches_element};
use crate::scim::schema::{AttributeDef, Mutability, PatchSchema, Resolved};

pub(super) fn apply_all(
    resource: &mut Value,
    ops: &[PatchOp],
    schema: &dyn PatchSchema,
) -> Result<bool, PatchError> {
    let Value::Object(original) = &*resource else {
        return Err(PatchError::invalid_value(
            "the resource is not a JSON object",
        ));
    };
    // Operations run on a copy so that a failure part-way leaves the resource untouched.
    let mut work = original.clone();
    for (index, op) in ops.iter().enumerate() {
        apply_op(&mut work, op, schema).map_err(|e| e.at_operation(index))?;
    }
    tidy_schemas(&mut work, schema);
    let changed = work != *original;
    if changed {
        *resource = Value::Object(work);
    }
    Ok(changed)
}

fn apply_op(
    resource: &mut Object,
    op: &PatchOp,
    schema: &dyn PatchSchema,
) -> Result<(), PatchError> {
    match op.op {
        PatchOpKind::Remove => match &op.path {
            Some(path) => remove(resource, path, op.value.as_ref(), schema),
            None => Err(PatchError::no_target("'remove' requires a path")),
        },
        kind @ (PatchOpKind::Add | PatchOpKind::Replace) => {
            let value = op.value.as_ref().ok_or_else(|| {
                PatchError::invalid_syntax(format!("'{}' requires a value", kind.as_str()))
            })?;
            match &op.path {
                Some(path) => write(resource, kind, path, value, schema),
                None => write_pathless(resource, kind, value, schema),
            }
        }
    }
}

/// A path resolved against the schema.
pub(super) struct Target<'s, 'p> {
    pub(super) resolved: Resolved<'s>,
    pub(super) filter: Option<&'p Filter>,
    /// The canonical path of the (multi-valued) attribute, for evaluating `filter`.
    pub(super) element_path: AttrPath,
}

pub(super) fn resolve_target<'s, 'p>(
    schema: &'s dyn PatchSchema,
    path: &'p PatchPath,
) -> Result<Target<'s, 'p>, PatchError> {
    if path.attr.urn.is_none() && path.attr.name.eq_ignore_ascii_case("schemas") {
        return Err(PatchError::invalid_path(
            "'schemas' is maintained by the service provider and cannot be patched",
        ));
    }
    let resolved = schema.resolve(&path.attr).ok_or_else(|| {
        PatchError::invalid_path(format!("'{path}' does not name a known attribute"))
    })?;
    if path.filter.is_some() && !resolved.attribute.multi_valued {
        return Err(PatchError::invalid_path(format!(
            "'{path}': a value filter needs a multi-valued attribute"
        )));
    }
    let element_path = AttrPath {
        urn: resolved.extension.then(|| resolved.schema.to_owned()),
        name: resolved.attribute.name.clone(),
        sub_attr: None,
    };
    Ok(Target {
        resolved,
        filter: path.filter.as_ref(),
        element_path,
    })
}

/// The extension a path such as `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`
/// names as a whole (the grammar reads its last segment as an attribute name).
pub(super) fn whole_extension<'s>(
    schema: &'s dyn PatchSchema,
    path: &PatchPath,
) -> Option<&'s str> {
    if path.filter.is_some() || path.attr.sub_attr.is_some() {
        return None;
    }
    let urn = path.attr.urn.as_ref()?;
    schema.extension_urn(&format!("{urn}:{}", path.attr.name))
}

pub(super) fn is_read_only(resolved: &Resolved<'_>) -> bool {
    resolved.attribute.mutability == Mutability::ReadOnly
        || resolved
            .sub_attribute
            .is_some_and(|sub| sub.mutability == Mutability::ReadOnly)
}

/// Whether `value` equals what the resource already holds at `resolved` (absent equals null).
pub(super) fn echoes_current(resource: &Object, resolved: &Resolved<'_>, value: &Value) -> bool {
    let container = if resolved.extension {
        get_ci(resource, resolved.schema).and_then(Value::as_object)
    } else {
        Some(resource)
    };
    let mut current = container.and_then(|c| get_ci(c, &resolved.attribute.name));
    if let Some(sub) = resolved.sub_attribute {
        current = current
            .and_then(Value::as_object)
            .and_then(|o| get_ci(o, &sub.name));
    }
    match current {
        None | Some(Value::Null) => value.is_null(),
        Some(current) => current == value,
    }
}

/// The object holding `resolved`'s attribute, creating an extension object if needed.
pub(super) fn container_mut<'r>(
    resource: &'r mut Object,
    resolved: &Resolved<'_>,
) -> Result<&'r mut Object, PatchError> {
    if !resolved.extension {
        return Ok(resource);
    }
    let urn = resolved.schema;
    if let Some(existing) = take_ci(resource, urn) {
        resource.insert(urn.to_owned(), existing);
    }
    let slot = resource
        .entry(urn.to_owned())
        .or_insert_with(|| Value::Object(Object::new()));
    if slot.is_null() {
        *slot = Value::Object(Object::new());
    }
    match slot {
        Value::Object(object) => Ok(object),
        _ => Err(PatchError::invalid_value(format!(
            "the resource's '{urn}' member is not an object"
        ))),
    }
}

/// The object holding `resolved`'s attribute, if the resource has one.
pub(super) fn existing_container_mut<'r>(
    resource: &'r mut Object,
    resolved: &Resolved<'_>,
) -> Option<&'r mut Object> {
    if !resolved.extension {
        return Some(resource);
    }
    let urn = resolved.schema;
    let existing = take_ci(resource, urn)?;
    resource.insert(urn.to_owned(), existing);
    resource.get_mut(urn).and_then(Value::as_object_mut)
}

/// A value filter on a multi-valued attribute.
pub(super) struct Selection<'a> {
    pub(super) attr: &'a AttributeDef,
    pub(super) element_path: &'a AttrPath,
    pub(super) filter: &'a Filter,
    pub(super) schema: &'a dyn PatchSchema,
}

impl Selection<'_> {
    pub(super) fn matching(&self, values: &[Value]) -> Vec<usize> {
        let case_exact = |p: &AttrPath| self.schema.is_case_exact(p);
        values
            .iter()
            .enumerate()
            .filter(|(_, v)| matches_element(self.filter, self.element_path, v, &case_exact))
            .map(|(index, _)| index)
            .collect()
    }
}

/// Keeps `schemas` in step with the extension objects: an extension with at least one non-null
/// attribute is listed, an empty one is dropped along with its URN, and the core URN is listed.
fn tidy_schemas(resource: &mut Object, schema: &dyn PatchSchema) {
    let mut listed: Vec<Value> = match take_ci(resource, "schemas") {
        Some(Value::Array(items)) => items,
        None | Some(Value::Null) => Vec::new(),
        Some(other) => {
            // Not ours to repair.
            resource.insert("schemas".to_owned(), other);
            return;
        }
    };
    let is_listed = |listed: &[Value], urn: &str| {
        listed
            .iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)))
    };
    for ext in schema.extension_schemas() {
        let present = match take_ci(resource, ext) {
            Some(Value::Object(object)) if object.values().any(|v| !v.is_null()) => {
                resource.insert(ext.to_owned(), Value::Object(object));
                true
            }
            Some(Value::Object(_) | Value::Null) | None => false,
            Some(other) => {
                resource.insert(ext.to_owned(), other);
                continue;
            }
        };
        if present && !is_listed(&listed, ext) {
            listed.push(Value::String(ext.to_owned()));
        } else if !present {
            listed.retain(|s| !s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(ext)));
        }
    }
    let core = schema.core_schema();
    if !is_listed(&listed, core) {
        listed.insert(0, Value::String(core.to_owned()));
    }
    resource.insert("schemas".to_owned(), Value::Array(listed));
}
