//! What tokens and UserInfo say about a user, by scope (OpenID Connect Core §5.1, §5.4).
//!
//! - `sub`: the user's id, stable for the user's lifetime whatever their name becomes.
//! - `profile`: `name`, `given_name`, `family_name`, `preferred_username` (the user principal
//!   name, as Entra uses it).
//! - `email`: `email` and `email_verified`. The address comes from the directory an
//!   administrator or HR system maintains, not from the user, so it counts as verified.
//! - `groups` (opt-in): the ids of the user's groups, as Entra puts them in tokens.

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::scope::{Scope, Scopes};
use crate::domain::directory::User;

pub fn user_claims(user: &User, groups: &[Uuid], scopes: &Scopes) -> Map<String, Value> {
    let mut c = Map::new();
    c.insert("sub".into(), json!(user.id));
    let mut put = |k: &str, v: &Option<String>| {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            c.insert(k.into(), json!(v));
        }
    };
    if scopes.contains(Scope::Profile) {
        put("name", &user.display_name);
        put("given_name", &user.given_name);
        put("family_name", &user.surname);
        put(
            "preferred_username",
            &Some(user.user_principal_name.clone()),
        );
    }
    if scopes.contains(Scope::Email) && user.mail.as_deref().is_some_and(|m| !m.is_empty()) {
        put("email", &user.mail);
        c.insert("email_verified".into(), json!(true));
    }
    if scopes.contains(Scope::Groups) {
        c.insert("groups".into(), json!(groups));
    }
    c
}

/// `at_hash` (OpenID Connect Core §3.1.3.6): the left half of the SHA-256 of the access
/// token, base64url — right for ES256 and RS256, the algorithms tapbridge signs with.
pub fn at_hash(access_token: &str) -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(access_token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::role::Roles;
    use time::OffsetDateTime;

    fn user() -> User {
        User {
            id: Uuid::from_u128(7),
            user_principal_name: "ada@example.com".into(),
            display_name: Some("Ada Lovelace".into()),
            given_name: Some("Ada".into()),
            surname: Some("Lovelace".into()),
            mail: Some("ada@example.com".into()),
            other_mails: vec![],
            personal_email: Some("ada@home.example".into()),
            preferred_language: None,
            account_enabled: true,
            source: "local".into(),
            anchor: None,
            manager_id: None,
            employee_hire_date: None,
            roles: Roles::default(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn claims_follow_the_scopes() {
        let u = user();
        let only = user_claims(&u, &[], &Scopes::parse("openid"));
        assert_eq!(Value::Object(only), json!({"sub": u.id}));
        let all = user_claims(
            &u,
            &[Uuid::from_u128(1)],
            &Scopes::parse("openid profile email groups"),
        );
        assert_eq!(all["preferred_username"], "ada@example.com");
        assert_eq!(all["family_name"], "Lovelace");
        assert_eq!(all["email_verified"], true);
        assert_eq!(all["groups"], json!([Uuid::from_u128(1)]));
        assert!(
            !Value::Object(all).to_string().contains("home.example"),
            "personal e-mail stays private"
        );
    }

    #[test]
    fn at_hash_is_the_left_half_of_the_sha256() {
        // Computed independently (Python: base64url(sha256(token)[:16])); the relying-party
        // test has Authlib check it on real tokens too.
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNSR5yLt0"),
            "NvSkuA3HztViQ1stGIy4GQ"
        );
    }
}
