//! The RFC 7643 User, Enterprise User and Group schemas (§4.1–§4.3, §8.7.1).

use std::sync::LazyLock;

use super::{
    AttributeDef, AttributeType, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, Mutability, ResourceSchema,
    SchemaDef, USER_SCHEMA,
};

pub(super) static USER: LazyLock<ResourceSchema> = LazyLock::new(|| {
    ResourceSchema::new(
        SchemaDef::new(USER_SCHEMA, user_attributes()),
        vec![SchemaDef::new(
            ENTERPRISE_USER_SCHEMA,
            enterprise_attributes(),
        )],
    )
});

pub(super) static GROUP: LazyLock<ResourceSchema> = LazyLock::new(|| {
    ResourceSchema::new(SchemaDef::new(GROUP_SCHEMA, group_attributes()), Vec::new())
});

fn string(name: &str) -> AttributeDef {
    AttributeDef::new(name, AttributeType::String)
}

fn reference(name: &str) -> AttributeDef {
    AttributeDef::new(name, AttributeType::Reference).case_exact()
}

fn boolean(name: &str) -> AttributeDef {
    AttributeDef::new(name, AttributeType::Boolean)
}

fn date_time(name: &str) -> AttributeDef {
    AttributeDef::new(name, AttributeType::DateTime)
}

/// `id`, `externalId` and `meta`, shared by every resource type (RFC 7643 §3.1).
pub(super) fn common_attributes() -> Vec<AttributeDef> {
    vec![
        string("id").case_exact().read_only(),
        string("externalId").case_exact(),
        AttributeDef::complex(
            "meta",
            vec![
                string("resourceType").case_exact().read_only(),
                date_time("created").read_only(),
                date_time("lastModified").read_only(),
                reference("location").read_only(),
                string("version").case_exact().read_only(),
            ],
        )
        .read_only(),
    ]
}

/// A multi-valued attribute with the usual `value`/`display`/`type`/`primary` sub-attributes.
fn plural(name: &str, value: AttributeDef) -> AttributeDef {
    AttributeDef::complex(
        name,
        vec![value, string("display"), string("type"), boolean("primary")],
    )
    .multi_valued()
}

fn user_attributes() -> Vec<AttributeDef> {
    vec![
        string("userName"),
        AttributeDef::complex(
            "name",
            vec![
                string("formatted"),
                string("familyName"),
                string("givenName"),
                string("middleName"),
                string("honorificPrefix"),
                string("honorificSuffix"),
            ],
        ),
        string("displayName"),
        string("nickName"),
        reference("profileUrl"),
        string("title"),
        string("userType"),
        string("preferredLanguage"),
        string("locale"),
        string("timezone"),
        boolean("active"),
        // Write-only and never returned (RFC 7643 §4.1.1). Clients send it (Okta does on every
        // create); a service that keeps no passwords accepts it and discards it.
        string("password").with_mutability(Mutability::WriteOnly),
        plural("emails", string("value")),
        plural("phoneNumbers", string("value")),
        plural("ims", string("value")),
        plural("photos", reference("value")),
        AttributeDef::complex(
            "addresses",
            vec![
                string("formatted"),
                string("streetAddress"),
                string("locality"),
                string("region"),
                string("postalCode"),
                string("country"),
                string("type"),
                boolean("primary"),
            ],
        )
        .multi_valued(),
        AttributeDef::complex(
            "groups",
            vec![
                string("value").case_exact().read_only(),
                reference("$ref").read_only(),
                string("display").read_only(),
                string("type").read_only(),
            ],
        )
        .multi_valued()
        .read_only(),
        plural("entitlements", string("value")),
        plural("roles", string("value")),
        plural(
            "x509Certificates",
            AttributeDef::new("value", AttributeType::Binary).case_exact(),
        ),
    ]
}

fn enterprise_attributes() -> Vec<AttributeDef> {
    vec![
        string("employeeNumber"),
        string("costCenter"),
        string("organization"),
        string("division"),
        string("department"),
        AttributeDef::complex(
            "manager",
            vec![
                string("value").case_exact(),
                reference("$ref"),
                string("displayName").read_only(),
            ],
        ),
    ]
}

fn group_attributes() -> Vec<AttributeDef> {
    vec![
        string("displayName"),
        AttributeDef::complex(
            "members",
            vec![
                // Member ids reference `id`, which is case-exact.
                string("value").case_exact().immutable(),
                reference("$ref").immutable(),
                string("type").immutable(),
                // Derived from the member's own name on every read, so a client cannot make it
                // disagree with the user it names.
                string("display").read_only(),
            ],
        )
        .multi_valued(),
    ]
}
