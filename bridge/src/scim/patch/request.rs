//! Parsing of PATCH request bodies.

use serde_json::Value;

use super::{PATCH_OP_SCHEMA, PatchError, PatchOp, PatchOpKind, parse_patch_path};
use crate::scim::filter::get_ci;

pub(super) fn parse_request(body: &Value) -> Result<Vec<PatchOp>, PatchError> {
    let Value::Object(body) = body else {
        return Err(PatchError::invalid_syntax(
            "the PATCH request body must be a JSON object",
        ));
    };
    let declares_patch_op = get_ci(body, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|schemas| {
            schemas.iter().any(|s| {
                s.as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP_SCHEMA))
            })
        });
    if !declares_patch_op {
        return Err(PatchError::invalid_syntax(format!(
            "the request's 'schemas' must contain \"{PATCH_OP_SCHEMA}\""
        )));
    }
    let Some(Value::Array(operations)) = get_ci(body, "Operations") else {
        return Err(PatchError::invalid_syntax(
            "the request must have an 'Operations' array",
        ));
    };
    operations
        .iter()
        .enumerate()
        .map(|(index, operation)| parse_operation(operation).map_err(|e| e.at_operation(index)))
        .collect()
}

pub(super) fn parse_operation(operation: &Value) -> Result<PatchOp, PatchError> {
    let Value::Object(operation) = operation else {
        return Err(PatchError::invalid_syntax(
            "an operation must be a JSON object",
        ));
    };
    let op = match get_ci(operation, "op") {
        Some(Value::String(name)) => PatchOpKind::parse(name).ok_or_else(|| {
            PatchError::invalid_syntax(format!(
                "unknown operation '{name}': expected add, remove or replace"
            ))
        })?,
        Some(_) => return Err(PatchError::invalid_syntax("'op' must be a string")),
        None => return Err(PatchError::invalid_syntax("the operation has no 'op'")),
    };
    let path = match get_ci(operation, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(path)) if path.trim().is_empty() => None,
        Some(Value::String(path)) => Some(parse_patch_path(path)?),
        Some(_) => return Err(PatchError::invalid_syntax("'path' must be a string")),
    };
    let value = get_ci(operation, "value").cloned();
    Ok(PatchOp { op, path, value })
}
