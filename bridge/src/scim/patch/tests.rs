use serde_json::{Value, json};

use super::*;
use crate::scim::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, ResourceSchema, USER_SCHEMA};

mod proptests;

const ENTERPRISE: &str = ENTERPRISE_USER_SCHEMA;

fn body(operations: Value) -> Value {
    json!({"schemas": [PATCH_OP_SCHEMA], "Operations": operations})
}

fn user() -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "id": "2819c223",
        "userName": "bjensen",
        "active": true,
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "bjensen@example.com", "type": "home", "primary": true}],
        "meta": {
            "resourceType": "User",
            "created": "2024-01-01T00:00:00Z",
            "lastModified": "2024-01-01T00:00:00Z"
        }
    })
}

/// `user()` with `changes` merged in at the top level (`null` removes a member).
fn user_with(changes: Value) -> Value {
    merged(user(), changes)
}

fn group() -> Value {
    json!({
        "schemas": [GROUP_SCHEMA],
        "id": "e9e30dba",
        "displayName": "Tour Guides",
        "members": [
            {"value": "2819c223", "display": "Babs Jensen"},
            {"value": "902c246b"}
        ]
    })
}

fn group_with(changes: Value) -> Value {
    merged(group(), changes)
}

fn merged(mut base: Value, changes: Value) -> Value {
    if let (Value::Object(base), Value::Object(changes)) = (&mut base, changes) {
        for (key, value) in changes {
            if value.is_null() {
                base.remove(&key);
            } else {
                base.insert(key, value);
            }
        }
    }
    base
}

enum Expect {
    /// The resource afterwards.
    Becomes(Value),
    /// The request is accepted and changes nothing.
    Unchanged,
    /// The request fails with this error, leaving the resource as it was.
    Fails(PatchErrorKind),
}

struct Case {
    name: &'static str,
    schema: &'static ResourceSchema,
    before: Value,
    operations: Value,
    expect: Expect,
}

fn run(cases: Vec<Case>) {
    for case in cases {
        let mut resource = case.before.clone();
        let result = patch_resource(&mut resource, &body(case.operations), case.schema);
        match (case.expect, result) {
            (Expect::Becomes(expected), Ok(changed)) => {
                assert_eq!(resource, expected, "{}", case.name);
                assert_eq!(
                    changed,
                    expected != case.before,
                    "{}: changed flag",
                    case.name
                );
            }
            (Expect::Unchanged, Ok(changed)) => {
                assert_eq!(resource, case.before, "{}", case.name);
                assert!(!changed, "{}: reported a change", case.name);
            }
            (Expect::Fails(kind), Err(e)) => {
                assert_eq!(e.kind(), kind, "{}: {e}", case.name);
                assert_eq!(
                    resource, case.before,
                    "{}: resource modified on error",
                    case.name
                );
            }
            (Expect::Fails(kind), Ok(_)) => {
                panic!("{}: expected {kind:?}, got success: {resource}", case.name)
            }
            (_, Err(e)) => panic!("{}: unexpected error {e} ({})", case.name, e.scim_type()),
        }
    }
}

#[test]
fn applies_entra_and_okta_user_requests() {
    let user_schema = ResourceSchema::user();
    run(vec![
        Case {
            name: "Entra disables with a capitalised op and a string boolean",
            schema: user_schema,
            before: user(),
            operations: json!([{"op": "Replace", "path": "active", "value": "False"}]),
            expect: Expect::Becomes(user_with(json!({"active": false}))),
        },
        Case {
            name: "Entra re-enables with \"True\"",
            schema: user_schema,
            before: user_with(json!({"active": false})),
            operations: json!([{"op": "Replace", "path": "active", "value": "True"}]),
            expect: Expect::Becomes(user()),
        },
        Case {
            name: "Entra path-less replace with a dotted key",
            schema: user_schema,
            before: user(),
            operations: json!([
                {"op": "replace", "value": {"active": false, "name.familyName": "X"}}
            ]),
            expect: Expect::Becomes(user_with(json!({
                "active": false,
                "name": {"givenName": "Barbara", "familyName": "X"}
            }))),
        },
        Case {
            name: "Okta path-less replace",
            schema: user_schema,
            before: user(),
            operations: json!([{"op": "replace", "value": {"active": false}}]),
            expect: Expect::Becomes(user_with(json!({"active": false}))),
        },
        Case {
            name: "path-less string boolean in any case",
            schema: user_schema,
            before: user_with(json!({"active": false})),
            operations: json!([{"op": "REPLACE", "value": {"ACTIVE": "TRUE"}}]),
            expect: Expect::Becomes(user()),
        },
        Case {
            name: "upper-case ADD of a simple attribute",
            schema: user_schema,
            before: user(),
            operations: json!([{"op": "ADD", "path": "title", "value": "Tour Guide"}]),
            expect: Expect::Becomes(user_with(json!({"title": "Tour Guide"}))),
        },
        Case {
            name: "Entra path-less replace with URN-qualified enterprise keys",
            schema: user_schema,
            before: user(),
            operations: json!([{"op": "Replace", "value": {
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Sales",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value": "26118915",
                "displayName": "Babs"
            }}]),
            expect: Expect::Becomes(user_with(json!({
                "schemas": [USER_SCHEMA, ENTERPRISE],
                "displayName": "Babs",
                ENTERPRISE: {"department": "Sales", "manager": {"value": "26118915"}}
            }))),
        },
        Case {
            name: "path-less add of an extension object merges into it",
            schema: user_schema,
            before: user_with(json!({
                "schemas": [USER_SCHEMA, ENTERPRISE],
                ENTERPRISE: {"department": "Sales"}
            })),
            operations: json!([
                {"op": "add", "value": {ENTERPRISE: {"employeeNumber": 701984}}}
            ]),
            expect: Expect::Becomes(user_with(json!({
                "schemas": [USER_SCHEMA, ENTERPRISE],
                ENTERPRISE: {"department": "Sales", "employeeNumber": "701984"}
            }))),
        },
        Case {
            name: "replace of a whole extension object that lists its own schemas",
            schema: user_schema,
            before: user(),
            operations: json!([{"op": "replace", "path": ENTERPRISE, "value": {
                "schemas": [ENTERPRISE], "department": "Sales"
            }}]),
            expect: Expect::Becomes(user_with(json!({
                "schemas": [USER_SCHEMA, ENTERPRISE],
                ENTERPRISE: {"department": "Sales"}
            }))),
        },
        Case {
            name: "Entra adds a manager as a bare id",
            schema: user_schema,
            before: user(),
            operations: json!([{
                "op": "Add",
                "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                "value": "26118915"
            }]),
            expect: Expect::Becomes(user_with(json!({
                "schemas": [USER_SCHEMA, ENTERPRISE],
                ENTERPRISE: {"manager": {"value": "26118915"}}
            }))),
        },
        Case {
            name: "manager as a one-element array; read-only displayName is dropped",
            schema: user_schema,
            before: user(),
            operations: json!([{
                "op": "replace",
                "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                "value": [{"value": "26118915", "displayName": "John Smith"}]
            }]),
            expect: Expect::Becomes(user_with(json!({
                "schemas": [USER_SCHEMA, ENTERPRISE],
                ENTERPRISE: {"manager": {"value": "26118915"}}
            }))),
        },
        Case {
            name: "removing the last extension attribute drops the extension and its URN",
            schema: user_schema,
            before: user_with(json!({
                "schemas": [USER_SCHEMA, ENTERPRISE],
                ENTERPRISE: {"manager": {"value": "26118915"}}
            })),
            operations: json!([{
                "op": "Remove",
                "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                "value": [{"value": "26118915"}]
            }]),
            expect: Expect::Becomes(user()),
        },
        Case {
            name: "removing the whole extension by its URN",
            schema: user_schema,
            before: user_with(json!({
                "schemas": [USER_SCHEMA, ENTERPRISE],
                ENTERPRISE: {"department": "Sales", "costCenter": "4130"}
            })),
            operations: json!([{"op": "remove", "path": ENTERPRISE}]),
            expect: Expect::Becomes(user()),
        },
        Case {
            name: "an empty manager value removes the manager",
            schema: user_schema,
            before: user_with(json!({
                "schemas": [USER_SCHEMA, ENTERPRISE],
                ENTERPRISE: {"department": "Sales", "manager": {"value": "26118915"}}
            })),
            operations: json!([{
                "op": "Replace",
                "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                "value": ""
            }]),
            expect: Expect::Becomes(user_with(json!({
                "schemas": [USER_SCHEMA, ENTERPRISE],
                ENTERPRISE: {"department": "Sales"}
            }))),
        },
        Case {
            name: "an empty manager.value, unqualified, removes the manager and its extension",
            schema: user_schema,
            before: user_with(json!({
                "schemas": [USER_SCHEMA, ENTERPRISE],
                ENTERPRISE: {"manager": {"value": "26118915", "$ref": "../Users/26118915"}}
            })),
            operations: json!([{"op": "replace", "path": "manager.value", "value": "  "}]),
            expect: Expect::Becomes(user()),
        },
        Case {
            name: "an empty manager object in a path-less replace removes the manager",
            schema: user_schema,
            before: user_with(json!({
                "schemas": [USER_SCHEMA, ENTERPRISE],
                ENTERPRISE: {"manager": {"value": "26118915"}}
            })),
            operations: json!([{"op": "replace", "value": {ENTERPRISE: {"manager": {"value": ""}}}}]),
            expect: Expect::Becomes(user()),
        },
        Case {
            name: "an empty manager where there is none changes nothing",
            schema: user_schema,
            before: user(),
            operations: json!([{"op": "add", "path": "manager", "value": ""}]),
            expect: Expect::Unchanged,
        },
        Case {
            name: "Okta's password, path-less: written like any attribute (the service drops it)",
            schema: user_schema,
            before: user(),
            operations: json!([{"op": "replace", "value": {"password": "t1meMa$heen"}}]),
            expect: Expect::Becomes(user_with(json!({"password": "t1meMa$heen"}))),
        },
        Case {
            name: "removing a password that is not there changes nothing",
            schema: user_schema,
            before: user(),
            operations: json!([{"op": "remove", "path": "password"}]),
            expect: Expect::Unchanged,
        },
        Case {
            name: "Entra sets the work email when there is none",
            schema: user_schema,
            before: user(),
            operations: json!([{
                "op": "replace",
                "path": "emails[type eq \"work\"].value",
                "value": "babs@work.example"
            }]),
            expect: Expect::Becomes(user_with(json!({"emails": [
                {"value": "bjensen@example.com", "type": "home", "primary": true},
                {"type": "work", "value": "babs@work.example"}
            ]}))),
        },
        Case {
            name: "Entra adds the work email with op Add",
            schema: user_schema,
            before: user_with(json!({"emails": null})),
            operations: json!([{
                "op": "Add",
                "path": "emails[type eq \"work\"].value",
                "value": "babs@work.example"
            }]),
            expect: Expect::Becomes(user_with(json!({"emails": [
                {"type": "work", "value": "babs@work.example"}
            ]}))),
        },
        Case {
            name: "Entra path-less key with a value filter",
            schema: user_schema,
            before: user(),
            operations: json!([{"op": "Replace", "value": {
                "emails[type eq \"work\"].value": "babs@work.example",
                "phoneNumbers[type eq \"mobile\"].value": "+1 555 0100"
            }}]),
            expect: Expect::Becomes(user_with(json!({
                "emails": [
                    {"value": "bjensen@example.com", "type": "home", "primary": true},
                    {"type": "work", "value": "babs@work.example"}
                ],
                "phoneNumbers": [{"type": "mobile", "value": "+1 555 0100"}]
            }))),
        },
        Case {
            name: "a filter that selects nothing and asks for primary takes over primary",
            schema: user_schema,
            before: user(),
            operations: json!([{
                "op": "replace",
                "path": "emails[type eq \"work\" and primary eq true].value",
                "value": "babs@work.example"
            }]),
            expect: Expect::Becomes(user_with(json!({"emails": [
                {"value": "bjensen@example.com", "type": "home", "primary": false},
                {"type": "work", "primary": true, "value": "babs@work.example"}
            ]}))),
        },
        Case {
            name: "a filtered sub-attribute replace updates the matching value",
            schema: user_schema,
            before: user(),
            operations: json!([{
                "op": "replace",
                "path": "emails[type eq \"HOME\"].value",
                "value": "babs@home.example"
            }]),
            expect: Expect::Becomes(user_with(json!({"emails": [
                {"value": "babs@home.example", "type": "home", "primary": true}
            ]}))),
        },
        Case {
            name: "a filtered replace without sub-attribute merges into the matching value",
            schema: user_schema,
            before: user(),
            operations: json!([{
                "op": "replace",
                "path": "emails[type eq \"home\"]",
                "value": {"display": "Home", "primary": "false"}
            }]),
            expect: Expect::Becomes(user_with(json!({"emails": [
                {"value": "bjensen@example.com", "type": "home", "primary": false, "display": "Home"}
            ]}))),
        },
        Case {
            name: "a value created from a filter merges into an unselected duplicate",
            schema: user_schema,
            before: user_with(json!({"emails": [{"value": "babs@work.example"}]})),
            operations: json!([{
                "op": "replace",
                "path": "emails[type eq \"work\"].value",
                "value": "babs@work.example"
            }]),
            expect: Expect::Becomes(user_with(json!({"emails": [
                {"value": "babs@work.example", "type": "work"}
            ]}))),
        },
        Case {
            name: "Entra work address street when there is no address",
            schema: user_schema,
            before: user(),
            operations: json!([{
                "op": "Add",
                "path": "addresses[type eq \"work\"].streetAddress",
                "value": "100 Universal City Plaza"
            }]),
            expect: Expect::Becomes(user_with(json!({"addresses": [
                {"type": "work", "streetAddress": "100 Universal City Plaza"}
            ]}))),
        },
        Case {
            name: "add appends to a multi-valued attribute",
            schema: user_schema,
            before: user(),
            operations: json!([{
                "op": "add",
                "path": "emails",
                "value": [{"value": "babs@work.example", "type": "work"}]
            }]),
            expect: Expect::Becomes(user_with(json!({"emails": [
                {"value": "bjensen@example.com", "type": "home", "primary": true},
                {"value": "babs@work.example", "type": "work"}
            ]}))),
        },
        Case {
            name: "add of a value already present (compared case-insensitively) changes nothing",
            schema: user_schema,
            before: user(),
            operations: json!([{
                "op": "add",
                "path": "emails",
                "value": [{"value": "BJensen@Example.com", "type": "home"}]
            }]),
            expect: Expect::Unchanged,
        },
        Case {
            name: "add of a new primary value clears the old primary",
            schema: user_schema,
            before: user(),
            operations: json!([{
                "op": "add",
                "path": "emails",
                "value": {"value": "babs@work.example", "type": "work", "primary": "True"}
            }]),
            expect: Expect::Becomes(user_with(json!({"emails": [
                {"value": "bjensen@example.com", "type": "home", "primary": false},
                {"value": "babs@work.example", "type": "work", "primary": true}
            ]}))),
        },
        Case {
            name: "replace of a whole multi-valued attribute",
            schema: user_schema,
            before: user(),
            operations: json!([{
                "op": "replace",
                "path": "emails",
                "value": [{"value": "a@example.com"}, {"value": "A@example.com"}, null]
            }]),
            expect: Expect::Becomes(user_with(json!({"emails": [{"value": "a@example.com"}]}))),
        },
        Case {
            name: "replace of a sub-attribute on every value",
            schema: user_schema,
            before: user(),
            operations: json!([{"op": "replace", "path": "emails.type", "value": "work"}]),
            expect: Expect::Becomes(user_with(json!({"emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true}
            ]}))),
        },
        Case {
            name: "remove by filter; the emptied attribute is unassigned",
            schema: user_schema,
            before: user(),
            operations: json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]),
            expect: Expect::Becomes(user_with(json!({"emails": null}))),
        },
        Case {
            name: "remove by a filter that selects nothing is a no-op",
            schema: user_schema,
            before: user(),
            operations: json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]),
            expect: Expect::Unchanged,
        },
        Case {
            name: "remove a sub-attribute of filtered values",
            schema: user_schema,
            before: user(),
            operations: json!([{"op": "remove", "path": "emails[type eq \"home\"].primary"}]),
            expect: Expect::Becomes(user_with(json!({"emails": [
                {"value": "bjensen@example.com", "type": "home"}
            ]}))),
        },
        Case {
            name: "replace of a complex attribute merges sub-attributes",
            schema: user_schema,
            before: user(),
            operations: json!([{"op": "replace", "path": "name", "value": {"givenName": "Babs"}}]),
            expect: Expect::Becomes(user_with(json!({
                "name": {"givenName": "Babs", "familyName": "Jensen"}
            }))),
        },
        Case {
            name: "replace with null unassigns",
            schema: user_schema,
            before: user(),
            operations: json!([
                {"op": "replace", "path": "name", "value": null},
                {"op": "replace", "value": {"userName": null}}
            ]),
            expect: Expect::Becomes(user_with(json!({"name": null, "userName": null}))),
        },
        Case {
            name: "remove sub-attributes; an emptied complex attribute is unassigned",
            schema: user_schema,
            before: user(),
            operations: json!([
                {"op": "remove", "path": "name.givenName"},
                {"op": "remove", "path": "NAME.FAMILYNAME"}
            ]),
            expect: Expect::Becomes(user_with(json!({"name": null}))),
        },
        Case {
            name: "removing an absent attribute is a no-op",
            schema: user_schema,
            before: user(),
            operations: json!([
                {"op": "remove", "path": "title"},
                {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}
            ]),
            expect: Expect::Unchanged,
        },
        Case {
            name: "names are stored in canonical case, replacing differently-cased keys",
            schema: user_schema,
            before: user_with(json!({"userName": null, "USERNAME": "old"})),
            operations: json!([
                {"op": "replace", "path": "UserName", "value": "new"},
                {"op": "add", "path": "NAME.MIDDLENAME", "value": "J"}
            ]),
            expect: Expect::Becomes(user_with(json!({
                "userName": "new",
                "name": {"givenName": "Barbara", "familyName": "Jensen", "middleName": "J"}
            }))),
        },
        Case {
            name: "core URN-qualified path",
            schema: user_schema,
            before: user(),
            operations: json!([{
                "op": "replace",
                "path": "urn:ietf:params:scim:schemas:core:2.0:User:displayName",
                "value": "Babs"
            }]),
            expect: Expect::Becomes(user_with(json!({"displayName": "Babs"}))),
        },
        Case {
            name: "read-only values echoed unchanged are ignored, as is schemas",
            schema: user_schema,
            before: user(),
            operations: json!([{"op": "replace", "value": {
                "schemas": [USER_SCHEMA],
                "id": "2819c223",
                "displayName": "Babs"
            }}]),
            expect: Expect::Becomes(user_with(json!({"displayName": "Babs"}))),
        },
        Case {
            name: "several operations apply in order",
            schema: user_schema,
            before: user(),
            operations: json!([
                {"op": "add", "path": "title", "value": "A"},
                {"op": "replace", "path": "title", "value": "B"},
                {"op": "remove", "path": "emails"},
                {"op": "add", "path": "nickName", "value": "Babs"}
            ]),
            expect: Expect::Becomes(user_with(json!({
                "title": "B",
                "nickName": "Babs",
                "emails": null
            }))),
        },
    ]);
}

#[test]
fn rejects_invalid_user_requests_without_changing_anything() {
    let user_schema = ResourceSchema::user();
    let fails = |name, operations, kind| Case {
        name,
        schema: user_schema,
        before: user(),
        operations,
        expect: Expect::Fails(kind),
    };
    use PatchErrorKind::*;
    run(vec![
        fails("remove without a path", json!([{"op": "remove"}]), NoTarget),
        fails(
            "a filter that cannot describe a new value",
            json!([{"op": "replace", "path": "emails[value co \"zzz\"].type", "value": "work"}]),
            NoTarget,
        ),
        fails(
            "an or-filter cannot describe a new value",
            json!([{
                "op": "replace",
                "path": "emails[type eq \"work\" or type eq \"other\"].value",
                "value": "x"
            }]),
            NoTarget,
        ),
        fails(
            "changing id",
            json!([{"op": "replace", "path": "id", "value": "other"}]),
            Mutability,
        ),
        fails(
            "changing id path-less",
            json!([{"op": "replace", "value": {"id": "other"}}]),
            Mutability,
        ),
        fails(
            "removing id",
            json!([{"op": "remove", "path": "id"}]),
            Mutability,
        ),
        fails(
            "adding groups",
            json!([{"op": "add", "path": "groups", "value": [{"value": "g1"}]}]),
            Mutability,
        ),
        fails(
            "changing meta",
            json!([{"op": "replace", "path": "meta.lastModified", "value": "2030-01-01T00:00:00Z"}]),
            Mutability,
        ),
        fails(
            "setting the manager's read-only displayName",
            json!([{
                "op": "replace",
                "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
                "value": "Boss"
            }]),
            Mutability,
        ),
        fails(
            "unknown attribute",
            json!([{"op": "replace", "path": "favouriteColour", "value": "blue"}]),
            InvalidPath,
        ),
        fails(
            "unknown sub-attribute",
            json!([{"op": "replace", "path": "name.nickname", "value": "x"}]),
            InvalidPath,
        ),
        fails(
            "unknown schema",
            json!([{"op": "replace", "path": "urn:example:custom:1.0:User:badge", "value": "x"}]),
            InvalidPath,
        ),
        fails(
            "malformed path",
            json!([{"op": "replace", "path": "emails[type eq \"work\"", "value": "x"}]),
            InvalidPath,
        ),
        fails(
            "value filter on a single-valued attribute",
            json!([{"op": "replace", "path": "name[givenName eq \"x\"]", "value": {}}]),
            InvalidPath,
        ),
        fails(
            "patching schemas",
            json!([{"op": "add", "path": "schemas", "value": [ENTERPRISE]}]),
            InvalidPath,
        ),
        fails(
            "unknown path-less key",
            json!([{"op": "replace", "value": {"active": false, "favouriteColour": "blue"}}]),
            InvalidPath,
        ),
        fails(
            "not a boolean",
            json!([{"op": "replace", "path": "active", "value": "maybe"}]),
            InvalidValue,
        ),
        fails(
            "object for a string attribute",
            json!([{"op": "replace", "path": "userName", "value": {"x": 1}}]),
            InvalidValue,
        ),
        fails(
            "unknown sub-attribute in a value",
            json!([{"op": "add", "path": "emails", "value": [{"value": "x", "colour": "red"}]}]),
            InvalidValue,
        ),
        fails(
            "two primary values in one add",
            json!([{"op": "add", "path": "emails", "value": [
                {"value": "a@example.com", "primary": true},
                {"value": "b@example.com", "primary": true}
            ]}]),
            InvalidValue,
        ),
        fails(
            "path-less value that is not an object",
            json!([{"op": "replace", "value": "active"}]),
            InvalidValue,
        ),
        fails(
            "replace without a value",
            json!([{"op": "replace", "path": "active"}]),
            InvalidSyntax,
        ),
        fails(
            "unknown op",
            json!([{"op": "move", "path": "active", "value": true}]),
            InvalidSyntax,
        ),
        fails(
            "all or nothing: a failing second operation undoes the first",
            json!([
                {"op": "replace", "path": "displayName", "value": "Babs"},
                {"op": "remove", "path": "emails"},
                {"op": "replace", "path": "active", "value": "maybe"}
            ]),
            InvalidValue,
        ),
    ]);
}

#[test]
fn applies_group_membership_requests() {
    let group_schema = ResourceSchema::group();
    use PatchErrorKind::*;
    run(vec![
        Case {
            name: "Entra adds a member",
            schema: group_schema,
            before: group(),
            operations: json!([{"op": "Add", "path": "members", "value": [{"value": "5d48a0a8"}]}]),
            expect: Expect::Becomes(group_with(json!({"members": [
                {"value": "2819c223", "display": "Babs Jensen"},
                {"value": "902c246b"},
                {"value": "5d48a0a8"}
            ]}))),
        },
        Case {
            name: "adding an existing member changes nothing",
            schema: group_schema,
            before: group(),
            operations: json!([{"op": "add", "path": "members", "value": [{"value": "902c246b"}]}]),
            expect: Expect::Unchanged,
        },
        Case {
            // `display` is read-only (the server derives it): what clients send is ignored.
            name: "Okta adds members with display names, one already present",
            schema: group_schema,
            before: group(),
            operations: json!([{"op": "add", "path": "members", "value": [
                {"value": "902c246b", "display": "Kim"},
                {"value": "5d48a0a8", "display": "Lee"}
            ]}]),
            expect: Expect::Becomes(group_with(json!({"members": [
                {"value": "2819c223", "display": "Babs Jensen"},
                {"value": "902c246b"},
                {"value": "5d48a0a8"}
            ]}))),
        },
        Case {
            name: "Entra removes a member by value",
            schema: group_schema,
            before: group(),
            operations: json!([{"op": "Remove", "path": "members", "value": [{"value": "902c246b"}]}]),
            expect: Expect::Becomes(group_with(json!({"members": [
                {"value": "2819c223", "display": "Babs Jensen"}
            ]}))),
        },
        Case {
            name: "Okta removes a member by filter",
            schema: group_schema,
            before: group(),
            operations: json!([{"op": "remove", "path": "members[value eq \"2819c223\"]"}]),
            expect: Expect::Becomes(group_with(json!({"members": [{"value": "902c246b"}]}))),
        },
        Case {
            name: "member ids are case-exact",
            schema: group_schema,
            before: group(),
            operations: json!([
                {"op": "remove", "path": "members[value eq \"2819C223\"]"},
                {"op": "remove", "path": "members", "value": [{"value": "902C246B"}]}
            ]),
            expect: Expect::Unchanged,
        },
        Case {
            name: "removing a non-member is a no-op",
            schema: group_schema,
            before: group(),
            operations: json!([
                {"op": "Remove", "path": "members", "value": [{"value": "nobody"}]},
                {"op": "remove", "path": "members[value eq \"nobody\"]"}
            ]),
            expect: Expect::Unchanged,
        },
        Case {
            name: "removing every member unassigns members",
            schema: group_schema,
            before: group(),
            operations: json!([{"op": "remove", "path": "members", "value": [
                {"value": "902c246b"}, {"value": "2819c223"}
            ]}]),
            expect: Expect::Becomes(group_with(json!({"members": null}))),
        },
        Case {
            name: "remove members without a value removes them all",
            schema: group_schema,
            before: group(),
            operations: json!([{"op": "remove", "path": "members"}]),
            expect: Expect::Becomes(group_with(json!({"members": null}))),
        },
        Case {
            name: "Okta renames a group, echoing its id",
            schema: group_schema,
            before: group(),
            operations: json!([{"op": "replace", "value": {"id": "e9e30dba", "displayName": "Guides"}}]),
            expect: Expect::Becomes(group_with(json!({"displayName": "Guides"}))),
        },
        Case {
            name: "replace all members",
            schema: group_schema,
            before: group(),
            operations: json!([{"op": "replace", "path": "members", "value": [{"value": "5d48a0a8"}]}]),
            expect: Expect::Becomes(group_with(json!({"members": [{"value": "5d48a0a8"}]}))),
        },
        Case {
            name: "a member's id is immutable",
            schema: group_schema,
            before: group(),
            operations: json!([{
                "op": "replace",
                "path": "members[value eq \"2819c223\"].value",
                "value": "5d48a0a8"
            }]),
            expect: Expect::Fails(Mutability),
        },
        Case {
            name: "User attributes do not exist on a Group",
            schema: group_schema,
            before: group(),
            operations: json!([{"op": "replace", "path": "userName", "value": "x"}]),
            expect: Expect::Fails(InvalidPath),
        },
    ]);
}

#[test]
fn parses_request_bodies() {
    let ops = parse_patch_request(&json!({
        "schemas": ["URN:IETF:PARAMS:SCIM:API:MESSAGES:2.0:PATCHOP"],
        "operations": [
            {"OP": "Add", "PATH": "members", "VALUE": [{"value": "1"}]},
            {"op": "remove", "path": "members[value eq \"2\"]"},
            {"op": "replace", "path": "", "value": {"active": false}},
            {"op": "replace", "path": null, "value": null}
        ]
    }));
    let ops = match ops {
        Ok(ops) => ops,
        Err(e) => panic!("valid body rejected: {e}"),
    };
    let kinds: Vec<PatchOpKind> = ops.iter().map(|op| op.op).collect();
    assert_eq!(
        kinds,
        [
            PatchOpKind::Add,
            PatchOpKind::Remove,
            PatchOpKind::Replace,
            PatchOpKind::Replace
        ]
    );
    assert_eq!(
        ops.first()
            .and_then(|op| op.path.as_ref())
            .map(ToString::to_string)
            .as_deref(),
        Some("members")
    );
    assert_eq!(
        ops.get(1)
            .and_then(|op| op.path.as_ref())
            .map(ToString::to_string)
            .as_deref(),
        Some("members[value eq \"2\"]")
    );
    assert!(ops.get(2).is_some_and(|op| op.path.is_none()));
    assert_eq!(
        ops.get(3).and_then(|op| op.value.clone()),
        Some(Value::Null)
    );
    assert_eq!(ops.get(1).and_then(|op| op.value.clone()), None);

    let invalid = [
        (json!([]), PatchErrorKind::InvalidSyntax, None),
        (
            json!({"Operations": []}),
            PatchErrorKind::InvalidSyntax,
            None,
        ),
        (
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": []}),
            PatchErrorKind::InvalidSyntax,
            None,
        ),
        (
            json!({"schemas": [PATCH_OP_SCHEMA]}),
            PatchErrorKind::InvalidSyntax,
            None,
        ),
        (
            json!({"schemas": [PATCH_OP_SCHEMA], "Operations": {"op": "add"}}),
            PatchErrorKind::InvalidSyntax,
            None,
        ),
        (body(json!(["add"])), PatchErrorKind::InvalidSyntax, Some(0)),
        (
            body(json!([{"path": "x"}])),
            PatchErrorKind::InvalidSyntax,
            Some(0),
        ),
        (
            body(json!([{"op": 1}])),
            PatchErrorKind::InvalidSyntax,
            Some(0),
        ),
        (
            body(json!([{"op": "add", "path": "title", "value": "x"}, {"op": "copy"}])),
            PatchErrorKind::InvalidSyntax,
            Some(1),
        ),
        (
            body(json!([{"op": "add", "path": 7, "value": "x"}])),
            PatchErrorKind::InvalidSyntax,
            Some(0),
        ),
        (
            body(
                json!([{"op": "add", "path": "title", "value": "x"}, {"op": "add", "path": "a b"}]),
            ),
            PatchErrorKind::InvalidPath,
            Some(1),
        ),
    ];
    for (request, kind, operation) in invalid {
        match parse_patch_request(&request) {
            Ok(_) => panic!("{request} should be rejected"),
            Err(e) => {
                assert_eq!(e.kind(), kind, "{request}: {e}");
                assert_eq!(e.operation(), operation, "{request}: {e}");
            }
        }
    }
}

#[test]
fn errors_carry_scim_types_and_operation_indexes() {
    let mut resource = user();
    let ops = match parse_patch_request(&body(json!([
        {"op": "replace", "path": "title", "value": "x"},
        {"op": "remove"}
    ]))) {
        Ok(ops) => ops,
        Err(e) => panic!("{e}"),
    };
    match apply_patch(&mut resource, &ops, ResourceSchema::user()) {
        Ok(_) => panic!("should fail"),
        Err(e) => {
            assert_eq!(e.scim_type(), "noTarget");
            assert_eq!(e.operation(), Some(1));
            assert!(e.to_string().starts_with("Operations[1]: "), "{e}");
            assert!(!e.message().starts_with("Operations"), "{e}");
        }
    }
    assert_eq!(resource, user());
    let kinds = [
        (PatchErrorKind::InvalidPath, "invalidPath"),
        (PatchErrorKind::NoTarget, "noTarget"),
        (PatchErrorKind::InvalidValue, "invalidValue"),
        (PatchErrorKind::Mutability, "mutability"),
        (PatchErrorKind::InvalidSyntax, "invalidSyntax"),
    ];
    for (kind, scim_type) in kinds {
        assert_eq!(kind.scim_type(), scim_type);
    }
    let mut not_an_object = json!(["x"]);
    let result = apply_patch(&mut not_an_object, &[], ResourceSchema::user());
    assert_eq!(
        result.map_err(|e| e.kind()),
        Err(PatchErrorKind::InvalidValue)
    );
}

#[test]
fn parses_patch_paths_with_invalid_path_errors() {
    assert!(parse_patch_path(r#"emails[type eq "work"].value"#).is_ok());
    for input in ["", "emails[", "a b", "members[value eq]", "x..y"] {
        match parse_patch_path(input) {
            Ok(p) => panic!("{input:?} parsed as {p}"),
            Err(e) => assert_eq!(e.kind(), PatchErrorKind::InvalidPath, "{input:?}"),
        }
    }
}

#[test]
fn schemas_are_created_when_missing() {
    let mut resource = json!({"userName": "x"});
    let result = patch_resource(
        &mut resource,
        &body(
            json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Sales"}]),
        ),
        ResourceSchema::user(),
    );
    assert_eq!(result, Ok(true));
    assert_eq!(
        resource,
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": "x",
            ENTERPRISE: {"department": "Sales"}
        })
    );
}
