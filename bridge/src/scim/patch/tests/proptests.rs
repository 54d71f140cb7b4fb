//! Property tests: arbitrary requests never panic, are all-or-nothing, and `add` is idempotent.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        prop_oneof![
            Just("True".to_owned()),
            Just("work".to_owned()),
            Just("2819c223".to_owned()),
            "[a-z@.]{0,8}",
            any::<String>(),
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "value",
                    "type",
                    "primary",
                    "display",
                    "givenName",
                    "active",
                    "emails",
                    "name.familyName",
                    "members",
                    "id",
                    ENTERPRISE,
                    "x",
                ]),
                inner,
                0..4,
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

fn arb_path() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        prop::sample::select(vec![
            "active",
            "userName",
            "name",
            "name.givenName",
            "emails",
            "emails.type",
            "emails[type eq \"work\"]",
            "emails[type eq \"work\"].value",
            "emails[type eq \"home\" and primary eq true].primary",
            "emails[value co \"@\"]",
            "members",
            "members[value eq \"2819c223\"]",
            "addresses[type eq \"work\"].streetAddress",
            "id",
            "meta.created",
            "groups",
            "displayName",
            "schemas",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        ])
        .prop_map(|p| Some(p.to_owned())),
        any::<String>().prop_map(Some),
    ]
}

fn arb_operation() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec![
            "add", "Add", "REPLACE", "replace", "remove", "Remove", "bogus",
        ]),
        arb_path(),
        prop::option::of(arb_json()),
    )
        .prop_map(|(op, path, value)| {
            let mut operation = serde_json::Map::new();
            operation.insert("op".to_owned(), Value::from(op));
            if let Some(path) = path {
                operation.insert("path".to_owned(), Value::String(path));
            }
            if let Some(value) = value {
                operation.insert("value".to_owned(), value);
            }
            Value::Object(operation)
        })
}

proptest! {
    #[test]
    fn path_parser_never_panics(input in any::<String>()) {
        let _ = parse_patch_path(&input);
    }

    #[test]
    fn arbitrary_requests_never_panic_and_are_all_or_nothing(
        operations in prop::collection::vec(arb_operation(), 0..5),
        use_group in any::<bool>(),
    ) {
        let (before, schema) = if use_group {
            (group(), ResourceSchema::group())
        } else {
            (user(), ResourceSchema::user())
        };
        let mut resource = before.clone();
        match patch_resource(&mut resource, &body(Value::Array(operations)), schema) {
            Ok(changed) => {
                prop_assert_eq!(changed, resource != before);
                let schemas = resource.get("schemas").and_then(Value::as_array).cloned();
                prop_assert!(schemas.is_some_and(|s| s.contains(&Value::from(schema.core().urn.clone()))));
            }
            Err(e) => {
                prop_assert_eq!(&resource, &before);
                prop_assert!(!e.message().is_empty());
            }
        }
    }

    #[test]
    fn add_is_idempotent(
        path in prop::sample::select(vec!["emails", "members", "title", "name", "emails[type eq \"work\"].value"]),
        value in arb_json(),
    ) {
        let (mut resource, schema) = if path == "members" {
            (group(), ResourceSchema::group())
        } else {
            (user(), ResourceSchema::user())
        };
        let request = body(json!([{"op": "add", "path": path, "value": value}]));
        if patch_resource(&mut resource, &request, schema).is_ok() {
            let once = resource.clone();
            prop_assert_eq!(patch_resource(&mut resource, &request, schema), Ok(false));
            prop_assert_eq!(resource, once);
        }
    }
}
