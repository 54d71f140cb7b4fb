//! Attribute definitions the PATCH engine and filter evaluation consult.
//!
//! [`PatchSchema`] is the small interface the engine needs: for a case-insensitive attribute
//! path, which canonical attribute it names, whether it is multi-valued, boolean, complex,
//! read-only or case-exact, and which extension schemas exist. [`ResourceSchema`] implements it
//! for a core schema plus extensions; [`ResourceSchema::user`] and [`ResourceSchema::group`] are
//! the RFC 7643 User (with the Enterprise User extension) and Group resource types.

mod builtin;

use std::fmt;

use crate::scim::filter::{AttrPath, Filter, Operands};

/// Core User schema URN (RFC 7643 §4.1).
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Core Group schema URN (RFC 7643 §4.2).
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Enterprise User extension schema URN (RFC 7643 §4.3).
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// An attribute's data type (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttributeType {
    /// A JSON string.
    String,
    /// A JSON boolean.
    Boolean,
    /// A JSON number, possibly fractional.
    Decimal,
    /// A JSON number without a fractional part.
    Integer,
    /// An RFC 3339 date-time string.
    DateTime,
    /// A base64 string.
    Binary,
    /// A URI string.
    Reference,
    /// A JSON object of sub-attributes.
    Complex,
}

/// Whether and when an attribute may be written (RFC 7643 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutability {
    /// Only the service provider sets it.
    ReadOnly,
    /// Clients may set and change it.
    ReadWrite,
    /// Clients may set it once; it cannot change afterwards.
    Immutable,
    /// Clients may set it but it is never returned.
    WriteOnly,
}

/// One attribute or sub-attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeDef {
    /// Canonical spelling of the name.
    pub name: String,
    /// Data type.
    pub kind: AttributeType,
    /// Whether the attribute holds a JSON array of values.
    pub multi_valued: bool,
    /// Who may write it.
    pub mutability: Mutability,
    /// Whether string values compare case-sensitively.
    pub case_exact: bool,
    /// Sub-attributes, for [`AttributeType::Complex`].
    pub sub_attributes: Vec<AttributeDef>,
}

impl AttributeDef {
    /// A single-valued, read-write, case-insensitive attribute of type `kind`.
    pub fn new(name: impl Into<String>, kind: AttributeType) -> Self {
        Self {
            name: name.into(),
            kind,
            multi_valued: false,
            mutability: Mutability::ReadWrite,
            case_exact: false,
            sub_attributes: Vec::new(),
        }
    }

    /// A single-valued, read-write complex attribute with the given sub-attributes.
    pub fn complex(name: impl Into<String>, sub_attributes: Vec<AttributeDef>) -> Self {
        Self {
            sub_attributes,
            ..Self::new(name, AttributeType::Complex)
        }
    }

    /// This attribute, multi-valued.
    #[must_use]
    pub fn multi_valued(mut self) -> Self {
        self.multi_valued = true;
        self
    }

    /// This attribute with the given mutability.
    #[must_use]
    pub fn with_mutability(mut self, mutability: Mutability) -> Self {
        self.mutability = mutability;
        self
    }

    /// This attribute, read-only.
    #[must_use]
    pub fn read_only(self) -> Self {
        self.with_mutability(Mutability::ReadOnly)
    }

    /// This attribute, immutable.
    #[must_use]
    pub fn immutable(self) -> Self {
        self.with_mutability(Mutability::Immutable)
    }

    /// This attribute, compared case-sensitively.
    #[must_use]
    pub fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }

    /// Whether this is a complex attribute.
    pub fn is_complex(&self) -> bool {
        self.kind == AttributeType::Complex
    }

    /// The sub-attribute called `name`, case-insensitively.
    pub fn sub_attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.sub_attributes
            .iter()
            .find(|sub| sub.name.eq_ignore_ascii_case(name))
    }
}

/// A schema: its URN and top-level attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaDef {
    /// Canonical schema URN.
    pub urn: String,
    /// Top-level attributes.
    pub attributes: Vec<AttributeDef>,
}

impl SchemaDef {
    /// A schema with the given URN and attributes.
    pub fn new(urn: impl Into<String>, attributes: Vec<AttributeDef>) -> Self {
        Self {
            urn: urn.into(),
            attributes,
        }
    }

    /// The attribute called `name`, case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.attributes
            .iter()
            .find(|attr| attr.name.eq_ignore_ascii_case(name))
    }
}

/// An attribute path resolved against a [`PatchSchema`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved<'s> {
    /// Canonical URN of the schema that defines the attribute.
    pub schema: &'s str,
    /// Whether that schema is an extension, whose attributes are stored in an object keyed by
    /// its URN rather than at the top level of the resource.
    pub extension: bool,
    /// The top-level attribute.
    pub attribute: &'s AttributeDef,
    /// The sub-attribute, when the path names one.
    pub sub_attribute: Option<&'s AttributeDef>,
}

impl Resolved<'_> {
    /// The attribute or sub-attribute the path ends at.
    pub fn target(&self) -> &AttributeDef {
        self.sub_attribute.unwrap_or(self.attribute)
    }

    /// The canonical path: extension URN (core attributes get none), names as defined.
    pub fn canonical_path(&self) -> AttrPath {
        AttrPath {
            urn: self.extension.then(|| self.schema.to_owned()),
            name: self.attribute.name.clone(),
            sub_attr: self.sub_attribute.map(|sub| sub.name.clone()),
        }
    }
}

/// What the PATCH engine needs to know about a resource type's attributes.
///
/// Implementors provide the three required methods; the provided ones answer the engine's
/// questions from them. All name and URN matching is case-insensitive.
pub trait PatchSchema {
    /// URN of the core schema; its attributes sit at the top level of a resource.
    fn core_schema(&self) -> &str;

    /// URNs of the extension schemas; each one's attributes sit in an object keyed by its URN.
    fn extension_schemas(&self) -> Vec<&str>;

    /// The top-level attribute `name` of the schema `urn` (core or extension), if defined.
    fn attribute(&self, urn: &str, name: &str) -> Option<&AttributeDef>;

    /// The canonical spelling of the extension URN `urn`, if it is one of this type's extensions.
    fn extension_urn(&self, urn: &str) -> Option<&str> {
        self.extension_schemas()
            .into_iter()
            .find(|ext| ext.eq_ignore_ascii_case(urn))
    }

    /// Resolves `path`. Without a URN the core schema is searched first, then the extensions;
    /// an unqualified name is only resolved to an extension when exactly one defines it.
    /// Returns `None` for an unknown schema, attribute or sub-attribute, or a sub-attribute of a
    /// non-complex attribute.
    fn resolve(&self, path: &AttrPath) -> Option<Resolved<'_>> {
        let core = self.core_schema();
        let (schema, extension, attribute) = match &path.urn {
            Some(urn) if urn.eq_ignore_ascii_case(core) => {
                (core, false, self.attribute(core, &path.name)?)
            }
            Some(urn) => {
                let ext = self.extension_urn(urn)?;
                (ext, true, self.attribute(ext, &path.name)?)
            }
            None => match self.attribute(core, &path.name) {
                Some(attribute) => (core, false, attribute),
                None => {
                    let mut found = self
                        .extension_schemas()
                        .into_iter()
                        .filter_map(|ext| self.attribute(ext, &path.name).map(|a| (ext, a)));
                    let (ext, attribute) = found.next()?;
                    if found.next().is_some() {
                        return None;
                    }
                    (ext, true, attribute)
                }
            },
        };
        let sub_attribute = match &path.sub_attr {
            Some(sub) => Some(attribute.sub_attribute(sub)?),
            None => None,
        };
        Some(Resolved {
            schema,
            extension,
            attribute,
            sub_attribute,
        })
    }

    /// The canonical spelling of `path`, if it resolves.
    fn canonical_path(&self, path: &AttrPath) -> Option<AttrPath> {
        self.resolve(path).map(|resolved| resolved.canonical_path())
    }

    /// Whether the attribute `path` ends at holds an array of values.
    fn is_multi_valued(&self, path: &AttrPath) -> bool {
        self.resolve(path)
            .is_some_and(|resolved| resolved.target().multi_valued)
    }

    /// Whether the attribute `path` ends at is a boolean.
    fn is_boolean(&self, path: &AttrPath) -> bool {
        self.resolve(path)
            .is_some_and(|resolved| resolved.target().kind == AttributeType::Boolean)
    }

    /// Whether clients may not write the attribute or sub-attribute `path` names.
    fn is_read_only(&self, path: &AttrPath) -> bool {
        self.resolve(path).is_some_and(|resolved| {
            resolved.attribute.mutability == Mutability::ReadOnly
                || resolved
                    .sub_attribute
                    .is_some_and(|sub| sub.mutability == Mutability::ReadOnly)
        })
    }

    /// Whether the attribute or sub-attribute `path` names is write-only (never returned).
    fn is_write_only(&self, path: &AttrPath) -> bool {
        self.resolve(path).is_some_and(|resolved| {
            resolved.attribute.mutability == Mutability::WriteOnly
                || resolved
                    .sub_attribute
                    .is_some_and(|sub| sub.mutability == Mutability::WriteOnly)
        })
    }

    /// `filter` with every attribute path in its canonical spelling, so that evaluation finds
    /// what PATCH paths find: an unqualified extension attribute gains its schema URN
    /// (`manager` → `urn:…:enterprise:2.0:User:manager`), a core URN is dropped, names take
    /// their defined case.
    ///
    /// # Errors
    ///
    /// A path that names no attribute, or a write-only one (it is never returned, so no
    /// filter could match it): the filter is refused rather than answered with nothing.
    fn canonical_filter(&self, filter: &Filter) -> Result<Filter, FilterPathError> {
        canonical_filter(self, filter, None)
    }

    /// Whether string values at `path` compare case-sensitively. A complex attribute without a
    /// sub-attribute stands for its `value` sub-attribute, as in filters. Unknown paths are
    /// case-insensitive.
    fn is_case_exact(&self, path: &AttrPath) -> bool {
        self.resolve(path).is_some_and(|resolved| {
            let target = resolved.target();
            if target.is_complex() {
                target.sub_attribute("value").is_some_and(|v| v.case_exact)
            } else {
                target.case_exact
            }
        })
    }
}

/// A filter names an attribute it may not: unknown, or write-only. Report it with HTTP 400 and
/// `scimType` `invalidFilter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterPathError {
    message: String,
}

impl FilterPathError {
    fn new(message: String) -> Self {
        Self { message }
    }

    /// The SCIM error type for this failure: always `invalidFilter`.
    pub fn scim_type(&self) -> &'static str {
        "invalidFilter"
    }
}

impl fmt::Display for FilterPathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FilterPathError {}

/// [`PatchSchema::canonical_filter`]; `parent` is the attribute whose values a value filter
/// (`emails[...]`) tests, whose paths name its sub-attributes.
fn canonical_filter<S: PatchSchema + ?Sized>(
    schema: &S,
    filter: &Filter,
    parent: Option<&AttrPath>,
) -> Result<Filter, FilterPathError> {
    let path = |p: &AttrPath| canonical_filter_path(schema, p, parent);
    let chain = |operands: &Operands| operands.try_map(|f| canonical_filter(schema, f, parent));
    Ok(match filter {
        Filter::Present(p) => Filter::Present(path(p)?),
        Filter::Compare { path: p, op, value } => Filter::Compare {
            path: path(p)?,
            op: *op,
            value: value.clone(),
        },
        Filter::ValuePath { path: p, filter } => {
            let outer = path(p)?;
            let inner = canonical_filter(schema, filter, Some(&outer))?;
            Filter::value_path(outer, inner)
        }
        Filter::Not(inner) => !canonical_filter(schema, inner, parent)?,
        Filter::And(operands) => Filter::And(chain(operands)?),
        Filter::Or(operands) => Filter::Or(chain(operands)?),
    })
}

fn canonical_filter_path<S: PatchSchema + ?Sized>(
    schema: &S,
    path: &AttrPath,
    parent: Option<&AttrPath>,
) -> Result<AttrPath, FilterPathError> {
    // Inside `attr[...]` a name is a sub-attribute of `attr`; the parser admits nothing else.
    let full = match parent {
        Some(parent) => AttrPath {
            sub_attr: Some(path.name.clone()),
            ..parent.clone()
        },
        None => path.clone(),
    };
    let Some(resolved) = schema.resolve(&full) else {
        return Err(FilterPathError::new(format!(
            "unknown attribute `{full}` in filter"
        )));
    };
    if schema.is_write_only(&full) {
        return Err(FilterPathError::new(format!(
            "`{full}` is write-only and never returned, so a filter cannot test it"
        )));
    }
    let canonical = resolved.canonical_path();
    Ok(match parent {
        Some(_) => AttrPath::new(canonical.sub_attr.unwrap_or(canonical.name)),
        None => canonical,
    })
}

/// A resource type: a core schema plus extension schemas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceSchema {
    core: SchemaDef,
    extensions: Vec<SchemaDef>,
}

impl ResourceSchema {
    /// A resource type with the given core schema and extensions. The common attributes `id`,
    /// `externalId` and `meta` (RFC 7643 §3.1) are added to the core schema unless it already
    /// defines an attribute of that name.
    pub fn new(mut core: SchemaDef, extensions: Vec<SchemaDef>) -> Self {
        for common in builtin::common_attributes() {
            if core.attribute(&common.name).is_none() {
                core.attributes.push(common);
            }
        }
        Self { core, extensions }
    }

    /// RFC 7643 User with the Enterprise User extension. `password` is defined (write-only), so
    /// the engine accepts it like any attribute; a service that keeps no passwords removes it
    /// afterwards (see [`ResourceSchema::write_only`]).
    pub fn user() -> &'static ResourceSchema {
        &builtin::USER
    }

    /// RFC 7643 Group.
    pub fn group() -> &'static ResourceSchema {
        &builtin::GROUP
    }

    /// The core schema (including the common attributes).
    pub fn core(&self) -> &SchemaDef {
        &self.core
    }

    /// The extension schemas.
    pub fn extensions(&self) -> &[SchemaDef] {
        &self.extensions
    }

    /// The write-only top-level attributes, each with the extension URN that holds it (`None`
    /// for the core schema).
    pub fn write_only(&self) -> impl Iterator<Item = (Option<&str>, &AttributeDef)> {
        let core = self.core.attributes.iter().map(|a| (None, a));
        let extensions = self.extensions.iter().flat_map(|ext| {
            ext.attributes
                .iter()
                .map(move |a| (Some(ext.urn.as_str()), a))
        });
        core.chain(extensions)
            .filter(|(_, a)| a.mutability == Mutability::WriteOnly)
    }
}

impl PatchSchema for ResourceSchema {
    fn core_schema(&self) -> &str {
        &self.core.urn
    }

    fn extension_schemas(&self) -> Vec<&str> {
        self.extensions.iter().map(|ext| ext.urn.as_str()).collect()
    }

    fn attribute(&self, urn: &str, name: &str) -> Option<&AttributeDef> {
        std::iter::once(&self.core)
            .chain(&self.extensions)
            .find(|schema| schema.urn.eq_ignore_ascii_case(urn))
            .and_then(|schema| schema.attribute(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &str) -> AttrPath {
        match AttrPath::parse(s) {
            Ok(p) => p,
            Err(e) => panic!("bad test path {s}: {e}"),
        }
    }

    #[test]
    fn resolves_case_insensitively_to_canonical_names() {
        let user = ResourceSchema::user();
        let cases = [
            ("USERNAME", Some("userName")),
            ("name.FAMILYNAME", Some("name.familyName")),
            ("Emails.Value", Some("emails.value")),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:userName",
                Some("userName"),
            ),
            (
                "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:Manager.Value",
                Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"),
            ),
            // Unqualified extension attributes resolve when unambiguous.
            (
                "department",
                Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
            ),
            ("id", Some("id")),
            ("meta.lastModified", Some("meta.lastModified")),
            ("PASSWORD", Some("password")),
            ("name.nope", None),
            ("userName.x", None),
            ("urn:example:unknown:foo", None),
        ];
        for (input, expected) in cases {
            let got = user.canonical_path(&path(input)).map(|p| p.to_string());
            assert_eq!(got.as_deref(), expected, "{input}");
        }
    }

    #[test]
    fn answers_attribute_questions() {
        let user = ResourceSchema::user();
        let group = ResourceSchema::group();
        assert!(user.is_boolean(&path("ACTIVE")));
        assert!(user.is_boolean(&path("emails.primary")));
        assert!(!user.is_boolean(&path("userName")));
        assert!(user.is_multi_valued(&path("emails")));
        assert!(!user.is_multi_valued(&path("emails.value")));
        assert!(!user.is_multi_valued(&path("name")));
        assert!(user.is_read_only(&path("id")));
        assert!(user.is_read_only(&path("meta.created")));
        assert!(user.is_read_only(&path("groups")));
        assert!(user.is_read_only(&path(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName"
        )));
        assert!(!user.is_read_only(&path("userName")));
        assert!(user.is_case_exact(&path("id")));
        assert!(user.is_case_exact(&path("externalId")));
        assert!(!user.is_case_exact(&path("userName")));
        assert!(!user.is_case_exact(&path("emails")));
        assert!(group.is_multi_valued(&path("members")));
        assert!(group.is_case_exact(&path("members.value")));
        assert!(group.is_case_exact(&path("members")));
        assert!(group.resolve(&path("userName")).is_none());
        assert_eq!(user.extension_schemas(), vec![ENTERPRISE_USER_SCHEMA]);
        assert!(group.extension_schemas().is_empty());
    }

    #[test]
    fn filters_are_canonicalised_like_patch_paths() {
        use crate::scim::filter::parse_filter;
        let user = ResourceSchema::user();
        let canonical = |f: &str| {
            let parsed = match parse_filter(f) {
                Ok(p) => p,
                Err(e) => panic!("bad test filter {f}: {e}"),
            };
            user.canonical_filter(&parsed).map(|c| c.to_string())
        };
        let cases = [
            (
                r#"id eq "U" and manager eq "M""#,
                r#"id eq "U" and urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "M""#,
            ),
            (
                r#"MANAGER.Value eq "M""#,
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "M""#,
            ),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:USERNAME eq "a""#,
                r#"userName eq "a""#,
            ),
            (
                r#"Emails[TYPE eq "work" and not (Primary eq false)] or department pr"#,
                r#"emails[type eq "work" and not (primary eq false)] or urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department pr"#,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(canonical(input).as_deref(), Ok(expected), "{input}");
        }
        for refused in [
            "shoeSize gt 40",
            r#"emails[colour eq "red"]"#,
            r#"password eq "secret""#,
            r#"userName pr or not (password pr)"#,
        ] {
            let e = canonical(refused).expect_err(refused);
            assert_eq!(e.scim_type(), "invalidFilter");
        }
        assert!(
            canonical("password pr")
                .unwrap_err()
                .to_string()
                .contains("write-only")
        );
    }

    #[test]
    fn password_is_the_users_only_write_only_attribute() {
        let user = ResourceSchema::user();
        let names: Vec<(Option<&str>, &str)> = user
            .write_only()
            .map(|(urn, a)| (urn, a.name.as_str()))
            .collect();
        assert_eq!(names, [(None, "password")]);
        assert!(user.is_write_only(&path("Password")));
        assert!(!user.is_read_only(&path("password")));
        assert_eq!(ResourceSchema::group().write_only().count(), 0);
    }

    #[test]
    fn common_attributes_are_added_once() {
        let schema = ResourceSchema::new(
            SchemaDef::new(
                "urn:example:Thing",
                vec![AttributeDef::new("id", AttributeType::String).case_exact()],
            ),
            Vec::new(),
        );
        let ids = schema
            .core()
            .attributes
            .iter()
            .filter(|a| a.name == "id")
            .count();
        assert_eq!(ids, 1);
        assert!(schema.core().attribute("meta").is_some());
        assert!(schema.core().attribute("externalId").is_some());
        // The caller's definition wins: this `id` is read-write.
        assert!(!schema.is_read_only(&path("id")));
    }
}
