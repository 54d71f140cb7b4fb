//! `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas` (RFC 7644 §4, RFC 7643 §5–7),
//! generated from the same schema definitions the PATCH engine and filters use, so what is
//! published is exactly what is implemented.

use serde_json::{Value, json};

use super::resource::{LIST_RESPONSE_SCHEMA, TAPBRIDGE_USER_SCHEMA, group_schema, user_schema};
use crate::scim::schema::{
    AttributeDef, AttributeType, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, Mutability, ResourceSchema,
    SchemaDef, USER_SCHEMA,
};

const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

pub fn service_provider_config(base: &str, max_results: u32) -> Value {
    json!({
        "schemas": [SPC_SCHEMA],
        "documentationUri": "https://www.rfc-editor.org/rfc/rfc7644",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A provisioning token created with `tapbridge token create --scim-source NAME`",
            "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
            "primary": true,
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")},
    })
}

pub fn resource_types(base: &str) -> Vec<Value> {
    vec![
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "A person, provisioned by this source",
            "schema": USER_SCHEMA,
            "schemaExtensions": [
                {"schema": ENTERPRISE_USER_SCHEMA, "required": false},
                {"schema": TAPBRIDGE_USER_SCHEMA, "required": false},
            ],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")},
        }),
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "A group of users of this source",
            "schema": GROUP_SCHEMA,
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")},
        }),
    ]
}

fn type_name(kind: AttributeType) -> &'static str {
    match kind {
        AttributeType::String => "string",
        AttributeType::Boolean => "boolean",
        AttributeType::Decimal => "decimal",
        AttributeType::Integer => "integer",
        AttributeType::DateTime => "dateTime",
        AttributeType::Binary => "binary",
        AttributeType::Reference => "reference",
        AttributeType::Complex => "complex",
    }
}

fn mutability(m: Mutability) -> &'static str {
    match m {
        Mutability::ReadOnly => "readOnly",
        Mutability::ReadWrite => "readWrite",
        Mutability::Immutable => "immutable",
        Mutability::WriteOnly => "writeOnly",
    }
}

fn attribute(schema_urn: &str, parent: Option<&str>, a: &AttributeDef) -> Value {
    let required = matches!(
        (schema_urn, parent, a.name.as_str()),
        (USER_SCHEMA, None, "userName") | (GROUP_SCHEMA, None, "displayName")
    );
    // userName is unique across the server; a group's displayName within its source, which is
    // all of the server a provisioning client sees.
    let unique = required;
    let mut v = json!({
        "name": a.name,
        "type": type_name(a.kind),
        "multiValued": a.multi_valued,
        "description": match parent {
            Some(p) => format!("{p}.{}", a.name),
            None => a.name.clone(),
        },
        "required": required,
        "caseExact": a.case_exact,
        "mutability": mutability(a.mutability),
        "returned": if a.mutability == Mutability::WriteOnly { "never" } else { "default" },
        "uniqueness": if unique { "server" } else { "none" },
    });
    if a.kind == AttributeType::Reference {
        let targets: Vec<&str> = match (parent, a.name.as_str()) {
            (Some("members"), "$ref") => vec!["User", "Group"],
            (Some("groups"), "$ref") => vec!["Group"],
            (Some("manager"), "$ref") => vec!["User"],
            _ => vec!["external"],
        };
        v["referenceTypes"] = json!(targets);
    }
    let canonical: &[&str] = match (parent, a.name.as_str()) {
        (Some("members"), "type") => &["User"],
        (Some("groups"), "type") => &["direct"],
        _ => &[],
    };
    if !canonical.is_empty() {
        v["canonicalValues"] = json!(canonical);
    }
    if a.is_complex() {
        v["subAttributes"] = Value::Array(
            a.sub_attributes
                .iter()
                .map(|s| attribute(schema_urn, Some(&a.name), s))
                .collect(),
        );
    }
    v
}

fn schema_json(base: &str, def: &SchemaDef, name: &str, description: &str) -> Value {
    // The common attributes (id, externalId, meta) belong to every resource and are not
    // listed in schema representations (RFC 7643 §7).
    let attributes: Vec<Value> = def
        .attributes
        .iter()
        .filter(|a| !matches!(a.name.as_str(), "id" | "externalId" | "meta"))
        .map(|a| attribute(&def.urn, None, a))
        .collect();
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": def.urn,
        "name": name,
        "description": description,
        "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{}", def.urn)},
    })
}

pub fn schemas(base: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let types: [&ResourceSchema; 2] = [user_schema(), group_schema()];
    for rs in types {
        let core = rs.core();
        let (name, description) = if core.urn == USER_SCHEMA {
            ("User", "User Account")
        } else {
            ("Group", "Group")
        };
        out.push(schema_json(base, core, name, description));
        for ext in rs.extensions() {
            let (name, description) = if ext.urn == ENTERPRISE_USER_SCHEMA {
                ("EnterpriseUser", "Enterprise User")
            } else {
                (
                    "TapbridgeUser",
                    "Onboarding attributes: hire date and personal e-mail",
                )
            };
            out.push(schema_json(base, ext, name, description));
        }
    }
    out
}

pub fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_describe_every_attribute_without_the_common_ones() {
        let all = schemas("http://x/scim/v2");
        let ids: Vec<&str> = all.iter().filter_map(|s| s["id"].as_str()).collect();
        assert_eq!(
            ids,
            [
                USER_SCHEMA,
                ENTERPRISE_USER_SCHEMA,
                TAPBRIDGE_USER_SCHEMA,
                GROUP_SCHEMA
            ]
        );
        let user = &all[0];
        let names: Vec<&str> = user["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a["name"].as_str())
            .collect();
        assert!(
            names.contains(&"userName") && names.contains(&"emails") && names.contains(&"groups")
        );
        assert!(!names.contains(&"id"));
        let password = user["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "password")
            .unwrap();
        assert_eq!(
            (
                password["mutability"].as_str(),
                password["returned"].as_str(),
                password["required"].as_bool()
            ),
            (Some("writeOnly"), Some("never"), Some(false))
        );
        let group_name = all[3]["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "displayName")
            .unwrap();
        assert_eq!(group_name["uniqueness"], "server");
        let user_name = user["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "userName")
            .unwrap();
        assert_eq!(
            (
                user_name["required"].as_bool(),
                user_name["uniqueness"].as_str()
            ),
            (Some(true), Some("server"))
        );
        let groups = user["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "groups")
            .unwrap();
        assert_eq!(groups["mutability"], "readOnly");
    }
}
