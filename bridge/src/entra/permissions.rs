//! Which application permissions the connector needs, and which ones the tenant granted, read
//! from the `roles` claim of the access token Entra issued. The token is only decoded, never
//! trusted for anything else: it came straight from the token endpoint, and Graph checks it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

/// One thing the connector does, and the permissions any one of which allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Requirement {
    /// The permission to grant, as the Entra portal names it.
    pub permission: &'static str,
    /// Every permission that suffices (the least privileged first).
    pub any_of: &'static [&'static str],
    pub needed_for: &'static str,
}

pub const REQUIRED: &[Requirement] = &[
    Requirement {
        permission: "UserAuthenticationMethod.ReadWrite.All or UserAuthMethod-TAP.ReadWrite.All",
        any_of: &[
            "UserAuthMethod-TAP.ReadWrite.All",
            "UserAuthenticationMethod.ReadWrite.All",
        ],
        needed_for: "creating and deleting users' Temporary Access Passes",
    },
    Requirement {
        permission: "User.Read.All",
        any_of: &[
            "User.Read.All",
            "User.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        ],
        needed_for: "finding the Entra user of each joiner",
    },
    Requirement {
        permission: "Policy.Read.All",
        any_of: &[
            "Policy.Read.All",
            "Policy.Read.AuthenticationMethod",
            "Policy.ReadWrite.AuthenticationMethod",
        ],
        needed_for: "reading the tenant's Temporary Access Pass policy",
    },
];

/// The `roles` claim of a JWT access token; `None` if the token is not a readable JWT
/// (Microsoft does not promise that it is).
pub fn roles(access_token: &str) -> Option<Vec<String>> {
    let payload = access_token.split('.').nth(1)?;
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?)
            .ok()?;
    Some(match claims.get("roles") {
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .filter_map(|r| r.as_str().map(str::to_owned))
            .collect(),
        // A token without the claim carries no application permission at all.
        _ => Vec::new(),
    })
}

/// The requirements none of whose permissions is among `granted` (compared ignoring case).
pub fn missing(granted: &[String]) -> Vec<Requirement> {
    REQUIRED
        .iter()
        .filter(|r| {
            !r.any_of
                .iter()
                .any(|p| granted.iter().any(|g| g.eq_ignore_ascii_case(p)))
        })
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: serde_json::Value) -> String {
        format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"RS256"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    #[test]
    fn roles_are_read_from_the_token() {
        let t = jwt(
            serde_json::json!({"aud": "https://graph.microsoft.com", "roles": ["User.Read.All", "Policy.Read.All"]}),
        );
        assert_eq!(
            roles(&t),
            Some(vec!["User.Read.All".into(), "Policy.Read.All".into()])
        );
        assert_eq!(roles(&jwt(serde_json::json!({"aud": "x"}))), Some(vec![]));
        assert_eq!(roles("opaque-token"), None);
        assert_eq!(roles("a.!!!.c"), None);
    }

    #[test]
    fn missing_permissions_are_named_and_alternatives_count() {
        let all: Vec<String> = [
            "UserAuthMethod-TAP.ReadWrite.All",
            "user.read.all",
            "Policy.Read.All",
        ]
        .map(String::from)
        .to_vec();
        assert!(missing(&all).is_empty());
        let broad: Vec<String> = [
            "UserAuthenticationMethod.ReadWrite.All",
            "Directory.Read.All",
            "Policy.ReadWrite.AuthenticationMethod",
        ]
        .map(String::from)
        .to_vec();
        assert!(missing(&broad).is_empty());
        let names: Vec<_> = missing(&["User.Read.All".to_owned()])
            .iter()
            .map(|r| r.permission)
            .collect();
        assert_eq!(
            names,
            [
                "UserAuthenticationMethod.ReadWrite.All or UserAuthMethod-TAP.ReadWrite.All",
                "Policy.Read.All"
            ]
        );
        // Read access to methods does not create passes.
        assert_eq!(
            missing(&[
                "UserAuthenticationMethod.Read.All".into(),
                "User.Read.All".into(),
                "Policy.Read.All".into()
            ])
            .len(),
            1
        );
    }
}
