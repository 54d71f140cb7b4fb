//! `remove`.

use serde_json::Value;

use super::PatchError;
use super::apply::{
    Selection, existing_container_mut, is_read_only, resolve_target, whole_extension,
};
use super::store::{put_values, take_ci, take_values, unassign};
use super::value::{Object, coerce_values, same_value};
use crate::scim::filter::PatchPath;
use crate::scim::schema::PatchSchema;

pub(super) fn remove(
    resource: &mut Object,
    path: &PatchPath,
    value: Option<&Value>,
    schema: &dyn PatchSchema,
) -> Result<(), PatchError> {
    if let Some(ext) = whole_extension(schema, path) {
        take_ci(resource, ext);
        return Ok(());
    }
    let target = resolve_target(schema, path)?;
    let resolved = target.resolved;
    if is_read_only(&resolved) {
        return Err(PatchError::mutability(format!("'{path}' is read-only")));
    }
    let attr = resolved.attribute;
    // Removing what is not there is a no-op: clients retry removals.
    let Some(container) = existing_container_mut(resource, &resolved) else {
        return Ok(());
    };
    match (attr.multi_valued, target.filter, resolved.sub_attribute) {
        (false, _, None) => unassign(container, attr),
        (false, _, Some(sub)) => match take_ci(container, &attr.name) {
            Some(Value::Object(mut object)) => {
                unassign(&mut object, sub)?;
                if !object.is_empty() {
                    container.insert(attr.name.clone(), Value::Object(object));
                }
                Ok(())
            }
            Some(other) => {
                container.insert(attr.name.clone(), other);
                Ok(())
            }
            None => Ok(()),
        },
        (true, None, None) => match value.filter(|v| !v.is_null()) {
            None => {
                take_ci(container, &attr.name);
                Ok(())
            }
            // Entra removes members as {"path": "members", "value": [{"value": "id"}]}.
            Some(value) => {
                let unwanted = coerce_values(attr, value)?;
                let mut values = take_values(container, attr);
                values.retain(|v| !unwanted.iter().any(|u| same_value(attr, v, u)));
                put_values(container, attr, values);
                Ok(())
            }
        },
        (true, None, Some(sub)) => {
            let mut values = take_values(container, attr);
            for item in &mut values {
                if let Value::Object(object) = item {
                    unassign(object, sub)?;
                }
            }
            put_values(container, attr, values);
            Ok(())
        }
        (true, Some(filter), sub) => {
            let selection = Selection {
                attr,
                element_path: &target.element_path,
                filter,
                schema,
            };
            let mut values = take_values(container, attr);
            let matched = selection.matching(&values);
            match sub {
                None => {
                    let mut index = 0;
                    values.retain(|_| {
                        let keep = !matched.contains(&index);
                        index += 1;
                        keep
                    });
                }
                Some(sub) => {
                    for &index in &matched {
                        if let Some(Value::Object(object)) = values.get_mut(index) {
                            unassign(object, sub)?;
                        }
                    }
                }
            }
            put_values(container, attr, values);
            Ok(())
        }
    }
}
