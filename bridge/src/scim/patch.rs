//! The RFC 7644 §3.5.2 PATCH engine.
//!
//! [`parse_patch_request`] validates a PATCH request body and yields [`PatchOp`]s;
//! [`apply_patch`] applies them to a JSON resource, guided by a [`PatchSchema`]. Application is
//! all-or-nothing: on error the resource is left exactly as it was.
//!
//! Beyond the RFC, the engine accepts what Microsoft Entra ID and Okta actually send:
//! - operation names in any case (`Replace`, `ADD`);
//! - `"True"`/`"False"` strings (any case) for boolean attributes, numeric strings for integer
//!   and decimal attributes, and numbers for string attributes (stored as their decimal text);
//! - path-less `add`/`replace` whose value keys are paths themselves: dotted
//!   (`"name.familyName"`), URN-qualified
//!   (`"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"`) or filtered
//!   (`"emails[type eq \"work\"].value"`), as well as extension objects keyed by their URN;
//! - `add`/`replace` with a value-filter path that matches nothing: the value is created from the
//!   filter's `eq` conditions (`emails[type eq "work"].value` adds
//!   `{"type": "work", "value": ...}`), and `noTarget` is reported only when the filter cannot
//!   describe a value;
//! - member removal both as `{"op": "remove", "path": "members", "value": [{"value": "id"}]}`
//!   and as `members[value eq "id"]`; removing something that is not there is a no-op;
//! - a plain string (or a one-element array) for a single-valued complex attribute, read as its
//!   `value` sub-attribute (Entra sends `manager` that way); an empty one (`"manager": ""`,
//!   `{"value": ""}`) unassigns the attribute instead of pointing at no one;
//! - read-only attributes echoed back unchanged (Okta sends the group's `id` in a path-less
//!   `replace`) and read-only sub-attributes inside values (`manager.displayName`) are ignored.
//!
//! Other semantics: a `replace` or `add` on a complex attribute, or on values selected by a
//! filter, merges the given sub-attributes into the existing ones; `add` on a multi-valued
//! attribute appends values not already present (values with a `value` sub-attribute are the
//! same when their `value`, and `type` where both have one, are equal) and merges into those
//! that are; `null` unassigns; setting `primary` to true clears it on the other values.
//! Attribute names are matched case-insensitively and stored in their canonical spelling.
//! Unknown attributes and sub-attributes are rejected (`invalidPath` in a path or path-less key,
//! `invalidValue` inside a value). Write-only attributes (the User's `password`) are written like
//! any other: it is for the service to discard what it must not keep.
//! The engine keeps the resource's `schemas` list in step with the extension objects it holds,
//! but does not touch `meta`: update `meta.lastModified`/`version` when [`apply_patch`] reports
//! a change.

mod apply;
mod remove;
mod request;
mod store;
#[cfg(test)]
mod tests;
mod value;
mod write;

use std::fmt;

use serde_json::Value;

use crate::scim::filter::{PatchPath, parse_path};
use crate::scim::schema::PatchSchema;

/// The `schemas` value of a PATCH request body.
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A PATCH operation type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchOpKind {
    /// `add`.
    Add,
    /// `remove`.
    Remove,
    /// `replace`.
    Replace,
}

impl PatchOpKind {
    /// Parses an operation name, case-insensitively.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Add, Self::Remove, Self::Replace]
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// The lower-case operation name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Remove => "remove",
            Self::Replace => "replace",
        }
    }
}

/// One PATCH operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchOp {
    /// The operation.
    pub op: PatchOpKind,
    /// The target; `None` targets the resource itself.
    pub path: Option<PatchPath>,
    /// The operation's value; `add` and `replace` require one.
    pub value: Option<Value>,
}

impl PatchOp {
    /// Parses one element of a request's `Operations` array. Member names are matched
    /// case-insensitively; an empty `path` counts as absent.
    ///
    /// # Errors
    ///
    /// `invalidSyntax` for a malformed operation, `invalidPath` for a malformed path.
    pub fn from_json(operation: &Value) -> Result<Self, PatchError> {
        request::parse_operation(operation)
    }
}

/// Which SCIM error a failed PATCH is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchErrorKind {
    /// The path is malformed or names an unknown attribute.
    InvalidPath,
    /// A `remove` without a path, or a filter that selects nothing and cannot create a value.
    NoTarget,
    /// A value has the wrong type or shape for its attribute.
    InvalidValue,
    /// The operation would modify a read-only or immutable attribute.
    Mutability,
    /// The request body does not have the structure of a PATCH request.
    InvalidSyntax,
}

impl PatchErrorKind {
    /// The RFC 7644 §3.12 `scimType`.
    pub fn scim_type(self) -> &'static str {
        match self {
            Self::InvalidPath => "invalidPath",
            Self::NoTarget => "noTarget",
            Self::InvalidValue => "invalidValue",
            Self::Mutability => "mutability",
            Self::InvalidSyntax => "invalidSyntax",
        }
    }
}

/// A PATCH request that cannot be parsed or applied. Report it with HTTP 400 and
/// [`PatchError::scim_type`] as the `scimType`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchError {
    kind: PatchErrorKind,
    message: String,
    operation: Option<usize>,
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(index) = self.operation {
            write!(f, "Operations[{index}]: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for PatchError {}

impl PatchError {
    pub(crate) fn new(kind: PatchErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            operation: None,
        }
    }

    pub(crate) fn invalid_path(message: impl Into<String>) -> Self {
        Self::new(PatchErrorKind::InvalidPath, message)
    }

    pub(crate) fn no_target(message: impl Into<String>) -> Self {
        Self::new(PatchErrorKind::NoTarget, message)
    }

    pub(crate) fn invalid_value(message: impl Into<String>) -> Self {
        Self::new(PatchErrorKind::InvalidValue, message)
    }

    pub(crate) fn mutability(message: impl Into<String>) -> Self {
        Self::new(PatchErrorKind::Mutability, message)
    }

    pub(crate) fn invalid_syntax(message: impl Into<String>) -> Self {
        Self::new(PatchErrorKind::InvalidSyntax, message)
    }

    /// This error, attributed to the operation at `index` in the request.
    #[must_use]
    pub(crate) fn at_operation(mut self, index: usize) -> Self {
        self.operation.get_or_insert(index);
        self
    }

    /// Which error this is.
    pub fn kind(&self) -> PatchErrorKind {
        self.kind
    }

    /// The SCIM `scimType` to report.
    pub fn scim_type(&self) -> &'static str {
        self.kind.scim_type()
    }

    /// What went wrong, without the operation index.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Index of the failing operation within the request, when known.
    pub fn operation(&self) -> Option<usize> {
        self.operation
    }
}

/// Parses a PATCH operation path.
///
/// # Errors
///
/// `invalidPath`, with the parser's explanation, when `input` is not a valid path.
pub fn parse_patch_path(input: &str) -> Result<PatchPath, PatchError> {
    parse_path(input).map_err(|e| PatchError::invalid_path(format!("invalid path '{input}': {e}")))
}

/// Parses a PATCH request body:
/// `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [...]}`.
///
/// `schemas` must list [`PATCH_OP_SCHEMA`]; member names and `op` values are case-insensitive.
/// # Errors
///
/// `invalidSyntax` for a malformed body or operation and `invalidPath` for a malformed path,
/// attributed to the operation's index.
pub fn parse_patch_request(body: &Value) -> Result<Vec<PatchOp>, PatchError> {
    request::parse_request(body)
}

/// Applies `ops` in order to `resource`, a SCIM resource as a JSON object.
///
/// Returns whether the resource changed. See the module documentation for the semantics.
///
/// # Errors
///
/// The first failing operation's error, with its index; `resource` is then left untouched.
/// `invalidValue` if `resource` is not a JSON object.
pub fn apply_patch(
    resource: &mut Value,
    ops: &[PatchOp],
    schema: &dyn PatchSchema,
) -> Result<bool, PatchError> {
    apply::apply_all(resource, ops, schema)
}

/// Parses the PATCH request `body` and applies it to `resource`: [`parse_patch_request`]
/// followed by [`apply_patch`].
///
/// # Errors
///
/// As for those two functions; `resource` is untouched on error.
pub fn patch_resource(
    resource: &mut Value,
    body: &Value,
    schema: &dyn PatchSchema,
) -> Result<bool, PatchError> {
    let ops = parse_patch_request(body)?;
    apply_patch(resource, &ops, schema)
}
