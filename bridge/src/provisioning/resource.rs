//! SCIM resource representation: the schemas tapbridge serves, normalising what clients send,
//! rendering what is stored, ETags, and `attributes` / `excludedAttributes` projection.

use std::sync::LazyLock;

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::error::{Error, Result, ScimType};
use crate::scim::filter::AttrPath;
use crate::scim::patch::{PatchError, PatchErrorKind, PatchOp, PatchOpKind, apply_patch};
use crate::scim::schema::{
    AttributeDef, AttributeType, GROUP_SCHEMA, PatchSchema, ResourceSchema, SchemaDef, USER_SCHEMA,
};

/// tapbridge's own User extension: what onboarding needs and neither RFC 7643 schema has.
pub const TAPBRIDGE_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:tapbridge:2.0:User";
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// Core User, Enterprise User and the tapbridge extension.
pub fn user_schema() -> &'static ResourceSchema {
    static SCHEMA: LazyLock<ResourceSchema> = LazyLock::new(|| {
        let builtin = ResourceSchema::user();
        let mut extensions = builtin.extensions().to_vec();
        extensions.push(SchemaDef::new(
            TAPBRIDGE_USER_SCHEMA,
            vec![
                // A string, not a dateTime: HR systems send plain dates (`2026-12-01`) as often
                // as date-times. The mapping reads both; anything else stays SCIM data only.
                AttributeDef::new("hireDate", AttributeType::String),
                AttributeDef::new("personalEmail", AttributeType::String),
            ],
        ));
        ResourceSchema::new(builtin.core().clone(), extensions)
    });
    &SCHEMA
}

pub fn group_schema() -> &'static ResourceSchema {
    ResourceSchema::group()
}

/// A PATCH request's error: the message names the failing operation (`Operations[1]: …`).
impl From<PatchError> for Error {
    fn from(e: PatchError) -> Self {
        let scim_type = match e.kind() {
            PatchErrorKind::InvalidPath => ScimType::InvalidPath,
            PatchErrorKind::NoTarget => ScimType::NoTarget,
            PatchErrorKind::InvalidValue => ScimType::InvalidValue,
            PatchErrorKind::Mutability => ScimType::Mutability,
            PatchErrorKind::InvalidSyntax => ScimType::InvalidSyntax,
        };
        Error::bad(scim_type, e.to_string())
    }
}

/// The error of a POST or PUT body, which `normalise` applies as one internal PATCH operation:
/// the message names the body's attribute, never an operation the client did not send, and a
/// key that is no attribute is a value the schema does not allow (there is no `path` here).
fn body_error(e: PatchError) -> Error {
    let scim_type = match e.kind() {
        PatchErrorKind::InvalidPath | PatchErrorKind::InvalidValue | PatchErrorKind::NoTarget => {
            ScimType::InvalidValue
        }
        PatchErrorKind::Mutability => ScimType::Mutability,
        PatchErrorKind::InvalidSyntax => ScimType::InvalidSyntax,
    };
    Error::bad(scim_type, format!("request body: {}", e.message()))
}

/// Whether the body carries attributes of the schema `urn`: an object keyed by it, or keys
/// qualified with it (`urn:…:User:badge`).
fn carries_attributes(object: &Map<String, Value>, urn: &str) -> bool {
    let urn = urn.to_ascii_lowercase();
    object.keys().any(|key| {
        let key = key.to_ascii_lowercase();
        key == urn
            || key
                .strip_prefix(urn.as_str())
                .is_some_and(|rest| rest.starts_with(':'))
    })
}

/// Turns a client's POST or PUT body into the stored form: names canonical, values checked and
/// coerced by the schema (the PATCH engine applies the body as a path-less `add` to an empty
/// resource, so POST, PUT and PATCH share one interpretation), read-only attributes dropped.
///
/// `schemas` must list the core schema. A URN in it that the server does not know is ignored
/// when the body carries no attribute of it (Entra's group create lists
/// `http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group`), and refused
/// when it does, since those attributes would be lost. Write-only attributes are still in the
/// result: take them out with [`discard_write_only`].
pub fn normalise(body: Value, schema: &ResourceSchema) -> Result<Value> {
    let Value::Object(mut object) = body else {
        return Err(Error::bad(
            ScimType::InvalidSyntax,
            "the request body must be a JSON object",
        ));
    };
    let core = schema.core_schema().to_owned();
    let schemas = take_ci(&mut object, "schemas").ok_or_else(|| {
        Error::bad(
            ScimType::InvalidSyntax,
            format!("`schemas` is required and must list {core}"),
        )
    })?;
    let Value::Array(schemas) = schemas else {
        return Err(Error::bad(
            ScimType::InvalidSyntax,
            "`schemas` must be an array of schema URNs",
        ));
    };
    let mut saw_core = false;
    for urn in &schemas {
        let Some(urn) = urn.as_str() else {
            return Err(Error::bad(
                ScimType::InvalidSyntax,
                "`schemas` must be an array of schema URNs",
            ));
        };
        if urn.eq_ignore_ascii_case(&core) {
            saw_core = true;
        } else if schema.extension_urn(urn).is_none() && carries_attributes(&object, urn) {
            return Err(Error::bad(
                ScimType::InvalidValue,
                format!(
                    "schema `{urn}` is not supported here, and the request carries attributes \
                     of it that would be lost; /Schemas lists the supported schemas"
                ),
            ));
        }
    }
    if !saw_core {
        return Err(Error::bad(
            ScimType::InvalidValue,
            format!("`schemas` must list {core}"),
        ));
    }
    // Read-only attributes a client sends are ignored (RFC 7643 §2.2), as are the server's.
    for read_only in ["id", "meta", "groups"] {
        take_ci(&mut object, read_only);
    }
    let mut resource = json!({ "schemas": [core] });
    if !object.is_empty() {
        let op = PatchOp {
            op: PatchOpKind::Add,
            path: None,
            value: Some(Value::Object(object)),
        };
        apply_patch(&mut resource, &[op], schema).map_err(body_error)?;
    }
    Ok(resource)
}

/// Takes the write-only attributes (RFC 7643 §2.2; the User's `password`) out of a resource:
/// tapbridge keeps none of them, stores none and returns none. Returns the canonical names of
/// those that held a value, so the caller can audit that they were offered (never the value).
pub fn discard_write_only(resource: &mut Value, schema: &ResourceSchema) -> Vec<String> {
    let Value::Object(object) = resource else {
        return Vec::new();
    };
    let mut discarded = Vec::new();
    for (urn, attribute) in schema.write_only() {
        let container = match urn {
            None => Some(&mut *object),
            Some(urn) => key_ci(object, urn)
                .and_then(|key| object.get_mut(&key))
                .and_then(Value::as_object_mut),
        };
        if let Some(container) = container
            && take_ci(container, &attribute.name).is_some_and(|v| !v.is_null())
        {
            discarded.push(attribute.name.clone());
        }
    }
    discarded
}

/// The stored body as the PATCH engine should see it: with the `id` a client may echo back
/// (Okta does, in path-less replaces), so an unchanged read-only value is recognised as such.
pub fn with_id(body: &Value, id: uuid::Uuid) -> Value {
    let mut v = body.clone();
    if let Value::Object(o) = &mut v {
        o.insert("id".into(), Value::from(id.to_string()));
    }
    v
}

/// The engine's result made storable again: without `id` (the row holds it).
pub fn without_id(mut v: Value) -> Value {
    if let Value::Object(o) = &mut v {
        take_ci(o, "id");
    }
    v
}

/// Removes and returns a member, matching its name case-insensitively.
pub fn take_ci(object: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let key = object
        .keys()
        .find(|k| k.eq_ignore_ascii_case(name))?
        .clone();
    object.remove(&key)
}

/// A member by name, case-insensitively.
pub fn get_ci<'v>(object: &'v Value, name: &str) -> Option<&'v Value> {
    let object = object.as_object()?;
    object.get(name).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// The value at `path` (`name`, `name.sub`, `urn:…:name`) of a resource; for a multi-valued
/// attribute, the primary value or else the first.
pub fn value_at<'v>(
    resource: &'v Value,
    path: &AttrPath,
    schema: &ResourceSchema,
) -> Option<&'v Value> {
    let resolved = schema.resolve(path)?;
    let container = if resolved.extension {
        get_ci(resource, resolved.schema)?
    } else {
        resource
    };
    let mut value = get_ci(container, &resolved.attribute.name)?;
    if let Value::Array(values) = value {
        value = values
            .iter()
            .find(|v| get_ci(v, "primary").and_then(Value::as_bool) == Some(true))
            .or_else(|| values.first())?;
    }
    match resolved.sub_attribute {
        Some(sub) => get_ci(value, &sub.name),
        None if value.is_object() => get_ci(value, "value"),
        None => Some(value),
    }
    .filter(|v| !v.is_null())
}

/// `W/"<version>"`.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// Whether an `If-Match` / `If-None-Match` header value lists `etag` (or is `*`). Weak
/// comparison, as RFC 7232 prescribes for these headers on GET and as SCIM uses them.
pub fn etag_listed(header: &str, etag: &str) -> bool {
    let bare = |t: &str| {
        t.trim()
            .trim_start_matches("W/")
            .trim_matches('"')
            .to_owned()
    };
    let wanted = bare(etag);
    header
        .split(',')
        .any(|t| t.trim() == "*" || bare(t) == wanted)
}

pub struct Meta<'a> {
    pub resource_type: &'a str,
    pub created: OffsetDateTime,
    pub last_modified: OffsetDateTime,
    pub location: String,
    pub version: i64,
}

/// The stored body with `id` and `meta` added (and anything else derived, by the caller).
pub fn render(body: &Value, id: &str, meta: Meta<'_>) -> Value {
    let mut out = body.clone();
    if let Value::Object(o) = &mut out {
        o.insert("id".into(), Value::from(id));
        o.insert(
            "meta".into(),
            json!({
                "resourceType": meta.resource_type,
                "created": plugin::domain::timefmt::rfc3339(meta.created),
                "lastModified": plugin::domain::timefmt::rfc3339(meta.last_modified),
                "location": meta.location,
                "version": etag(meta.version),
            }),
        );
    }
    out
}

/// Parses a comma-separated `attributes` / `excludedAttributes` list.
pub fn parse_attribute_list(list: &str) -> Result<Vec<AttrPath>> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            AttrPath::parse(s)
                .map_err(|e| Error::bad(ScimType::InvalidValue, format!("`{s}`: {e}")))
        })
        .collect()
}

/// Applies `attributes` (keep only these, plus `id` and `schemas`) or `excludedAttributes`
/// (drop these, never `id` or `schemas`) to a rendered resource (RFC 7644 §3.9).
pub fn project(
    resource: Value,
    attributes: &[AttrPath],
    excluded: &[AttrPath],
    schema: &ResourceSchema,
) -> Value {
    let Value::Object(source) = resource else {
        return resource;
    };
    if !attributes.is_empty() {
        let mut out = Map::new();
        for always in ["schemas", "id"] {
            if let Some(v) = source.get(always) {
                out.insert(always.into(), v.clone());
            }
        }
        for path in attributes {
            copy_path(&source, &mut out, path, schema);
        }
        return Value::Object(out);
    }
    let mut out = source;
    for path in excluded {
        remove_path(&mut out, path, schema);
    }
    Value::Object(out)
}

/// Whether a Group projected by `attributes` / `excludedAttributes` still shows its members,
/// so that they must be read at all.
pub fn keeps_members(attributes: &[AttrPath], excluded: &[AttrPath]) -> bool {
    let members = |p: &AttrPath| {
        group_schema()
            .resolve(p)
            .is_some_and(|r| !r.extension && r.attribute.name == "members")
    };
    if !attributes.is_empty() {
        return attributes.iter().any(members);
    }
    !excluded.iter().any(|p| members(p) && p.sub_attr.is_none())
}

/// Where a path lives: the container key (an extension URN, or none for core), the attribute,
/// and the sub-attribute.
fn locate(
    path: &AttrPath,
    schema: &ResourceSchema,
) -> Option<(Option<String>, String, Option<String>)> {
    let r = schema.resolve(path)?;
    Some((
        r.extension.then(|| r.schema.to_owned()),
        r.attribute.name.clone(),
        r.sub_attribute.map(|s| s.name.clone()),
    ))
}

fn key_ci(object: &Map<String, Value>, name: &str) -> Option<String> {
    object
        .keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
}

fn copy_path(
    source: &Map<String, Value>,
    out: &mut Map<String, Value>,
    path: &AttrPath,
    schema: &ResourceSchema,
) {
    let Some((container, attr, sub)) = locate(path, schema) else {
        return;
    };
    let (src, dst) = match &container {
        None => (source, out),
        Some(urn) => {
            let Some(key) = key_ci(source, urn) else {
                return;
            };
            let Some(Value::Object(ext)) = source.get(&key) else {
                return;
            };
            let entry = out.entry(key).or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(dst) = entry else { return };
            (ext, dst)
        }
    };
    let Some(key) = key_ci(src, &attr) else {
        return;
    };
    let value = &src[&key];
    match sub {
        None => {
            dst.insert(key, value.clone());
        }
        Some(sub) => {
            let pick = |v: &Value| -> Option<Value> {
                let k = key_ci(v.as_object()?, &sub)?;
                Some(json!({ k.clone(): v[&k].clone() }))
            };
            let picked = match value {
                Value::Array(items) => Value::Array(items.iter().filter_map(pick).collect()),
                other => match pick(other) {
                    Some(p) => {
                        // Merge with sub-attributes already copied for this attribute.
                        if let (Some(Value::Object(existing)), Value::Object(new)) =
                            (dst.get_mut(&key), &p)
                        {
                            existing.extend(new.clone());
                            return;
                        }
                        p
                    }
                    None => return,
                },
            };
            dst.insert(key, picked);
        }
    }
}

fn remove_path(out: &mut Map<String, Value>, path: &AttrPath, schema: &ResourceSchema) {
    let Some((container, attr, sub)) = locate(path, schema) else {
        return;
    };
    if container.is_none() && (attr == "id" || attr == "schemas") {
        return;
    }
    let target = match &container {
        None => out,
        Some(urn) => {
            let Some(key) = key_ci(out, urn) else { return };
            let Some(Value::Object(ext)) = out.get_mut(&key) else {
                return;
            };
            ext
        }
    };
    let Some(key) = key_ci(target, &attr) else {
        return;
    };
    match sub {
        None => {
            target.remove(&key);
        }
        Some(sub) => match target.get_mut(&key) {
            Some(Value::Array(items)) => {
                for item in items {
                    if let Value::Object(o) = item
                        && let Some(k) = key_ci(o, &sub)
                    {
                        o.remove(&k);
                    }
                }
            }
            Some(Value::Object(o)) => {
                if let Some(k) = key_ci(o, &sub) {
                    o.remove(&k);
                }
            }
            _ => {}
        },
    }
}

/// Whether string comparisons on `path` are case-sensitive, per the schema.
pub fn case_exact(schema: &'static ResourceSchema) -> impl Fn(&AttrPath) -> bool {
    move |path: &AttrPath| schema.is_case_exact(path)
}

pub fn core_urn(kind: crate::provisioning::Kind) -> &'static str {
    match kind {
        crate::provisioning::Kind::User => USER_SCHEMA,
        crate::provisioning::Kind::Group => GROUP_SCHEMA,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_compare_weakly() {
        assert!(etag_listed("W/\"3\"", &etag(3)));
        assert!(etag_listed("\"3\"", &etag(3)));
        assert!(etag_listed("W/\"1\", W/\"3\"", &etag(3)));
        assert!(etag_listed("*", &etag(3)));
        assert!(!etag_listed("W/\"2\"", &etag(3)));
    }

    #[test]
    fn normalise_canonicalises_and_rejects() {
        let body = json!({
            "schemas": [USER_SCHEMA],
            "USERNAME": "ada@example.com",
            "active": "False",
            "id": "client-chosen",
            "name": {"familyname": "Lovelace"},
        });
        let r = normalise(body, user_schema()).unwrap();
        assert_eq!(r["userName"], "ada@example.com");
        assert_eq!(r["active"], false);
        assert_eq!(r["name"]["familyName"], "Lovelace");
        assert!(r.get("id").is_none());

        assert!(
            normalise(json!({"userName": "x"}), user_schema()).is_err(),
            "schemas required"
        );
        assert!(
            normalise(
                json!({"schemas": ["urn:x"], "userName": "x"}),
                user_schema()
            )
            .is_err(),
            "the core schema must be listed"
        );
        assert!(normalise(json!([1]), user_schema()).is_err());
        let bad_type = json!({"schemas": [USER_SCHEMA], "userName": "x", "active": "maybe"});
        assert!(normalise(bad_type, user_schema()).is_err());
    }

    #[test]
    fn unknown_schemas_without_attributes_are_ignored() {
        const ADSCIM: &str =
            "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";
        let r = normalise(
            json!({"schemas": [GROUP_SCHEMA, ADSCIM], "displayName": "Sales",
                "meta": {"resourceType": "Group"}}),
            group_schema(),
        )
        .unwrap();
        assert_eq!(
            r,
            json!({"schemas": [GROUP_SCHEMA], "displayName": "Sales"})
        );
        let r = normalise(
            json!({"schemas": [USER_SCHEMA, "urn:example:params:scim:schemas:extension:acme:2.0:User"],
                "userName": "a"}),
            user_schema(),
        )
        .unwrap();
        assert_eq!(r["schemas"], json!([USER_SCHEMA]));

        // An unknown schema whose attributes are sent, as an object or as qualified keys.
        const ACME: &str = "urn:example:params:scim:schemas:extension:acme:2.0:User";
        for body in [
            json!({"schemas": [USER_SCHEMA, ACME], "userName": "a", ACME: {"badge": "7"}}),
            json!({"schemas": [USER_SCHEMA, ACME], "userName": "a", format!("{ACME}:badge"): "7"}),
        ] {
            let Err(Error::Scim {
                scim_type, detail, ..
            }) = normalise(body, user_schema())
            else {
                panic!("accepted attributes of an unknown schema");
            };
            assert_eq!(scim_type, Some(ScimType::InvalidValue));
            assert!(detail.contains(ACME), "{detail}");
        }
    }

    #[test]
    fn body_errors_name_the_attribute_not_an_operation() {
        for (body, scim_type, names) in [
            (
                json!({"schemas": [USER_SCHEMA], "userName": "a", "shoeSize": 44}),
                ScimType::InvalidValue,
                "shoeSize",
            ),
            (
                json!({"schemas": [USER_SCHEMA], "userName": "a", "active": "maybe"}),
                ScimType::InvalidValue,
                "active",
            ),
        ] {
            let Err(Error::Scim {
                scim_type: got,
                detail,
                ..
            }) = normalise(body, user_schema())
            else {
                panic!("accepted a bad body");
            };
            assert_eq!(got, Some(scim_type), "{detail}");
            assert!(detail.contains(names), "{detail}");
            assert!(!detail.contains("Operations"), "{detail}");
        }
    }

    #[test]
    fn write_only_values_are_discarded_and_reported_by_name() {
        let mut r = normalise(
            json!({"schemas": [USER_SCHEMA], "userName": "a", "PassWord": "1mz050nq"}),
            user_schema(),
        )
        .unwrap();
        assert_eq!(
            r["password"], "1mz050nq",
            "the engine keeps it; the service drops it"
        );
        assert_eq!(discard_write_only(&mut r, user_schema()), ["password"]);
        assert_eq!(r, json!({"schemas": [USER_SCHEMA], "userName": "a"}));
        assert!(discard_write_only(&mut r, user_schema()).is_empty());
        let mut null = json!({"schemas": [USER_SCHEMA], "userName": "a", "password": null});
        assert!(discard_write_only(&mut null, user_schema()).is_empty());
        assert!(null.get("password").is_none());
    }

    #[test]
    fn projection() {
        let r = json!({
            "schemas": [USER_SCHEMA], "id": "1", "userName": "a", "displayName": "A",
            "name": {"givenName": "G", "familyName": "F"},
            "emails": [{"value": "a@x", "type": "work"}],
        });
        let only = |list: &str| {
            project(
                r.clone(),
                &parse_attribute_list(list).unwrap(),
                &[],
                user_schema(),
            )
        };
        let p = only("userName,name.familyName");
        assert_eq!(
            p,
            json!({"schemas": [USER_SCHEMA], "id": "1", "userName": "a", "name": {"familyName": "F"}})
        );
        let p = only("emails.value");
        assert_eq!(p["emails"], json!([{"value": "a@x"}]));
        let p = project(
            r.clone(),
            &[],
            &parse_attribute_list("displayName,id,name.givenName").unwrap(),
            user_schema(),
        );
        assert!(p.get("displayName").is_none());
        assert_eq!(p["id"], "1");
        assert_eq!(p["name"], json!({"familyName": "F"}));
    }
}
