//! The OpenID Connect provider against the real binary: discovery, keys and their rotation,
//! applications, and the token endpoint driven by hand (negative cases included). The
//! relying-party library (authlib) and browser journeys are in `oidc_rp.rs` and
//! `oidc_browser.rs`.

mod common;

use common::{Daemon, json, ok, send};
use serde_json::Value;

fn jwks_kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect()
}

#[tokio::test]
async fn discovery_and_keys_survive_a_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), &[]);
    let c = reqwest::Client::new();
    let (status, meta) = send(c.get(daemon.url("/.well-known/openid-configuration"))).await;
    assert_eq!(status, 200, "{meta}");
    let issuer = daemon.base.replace("127.0.0.1", "localhost");
    assert_eq!(meta["issuer"], issuer.as_str());
    assert_eq!(meta["jwks_uri"], format!("{issuer}/oauth2/jwks"));
    assert_eq!(
        meta["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    for alg in ["ES256", "RS256"] {
        assert!(
            meta["id_token_signing_alg_values_supported"]
                .as_array()
                .unwrap()
                .contains(&Value::from(alg))
        );
    }
    let (status, rfc8414) =
        send(c.get(daemon.url("/.well-known/oauth-authorization-server"))).await;
    assert_eq!((status, &rfc8414), (200, &meta));

    // First start: an ES256 key that signs and the next one, published.
    let (status, jwks) = send(c.get(daemon.url("/oauth2/jwks"))).await;
    assert_eq!(status, 200);
    let first = jwks_kids(&jwks);
    assert_eq!(first.len(), 2, "{jwks}");
    for key in jwks["keys"].as_array().unwrap() {
        assert_eq!(
            (key["kty"].as_str(), key["alg"].as_str()),
            (Some("EC"), Some("ES256"))
        );
        assert!(key.get("d").is_none(), "no private part: {key}");
    }
    daemon.stop();
    let state = |keys: &Value, kid: &str| {
        keys.as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
            .map(|k| k["state"].as_str().unwrap().to_owned())
    };
    let before = json(dir.path(), &["keys", "list", "--json"]);
    let (current, next) = if state(&before, &first[0]).as_deref() == Some("current") {
        (&first[0], &first[1])
    } else {
        (&first[1], &first[0])
    };
    assert_eq!(state(&before, next).as_deref(), Some("next"));

    // Rotation from the CLI: the next key signs, the old one stays published.
    ok(dir.path(), &["keys", "rotate"]);
    let keys = json(dir.path(), &["keys", "list", "--json"]);
    assert_eq!(state(&keys, current).as_deref(), Some("retired"));
    assert_eq!(state(&keys, next).as_deref(), Some("current"));
    assert_eq!(keys.as_array().unwrap().len(), 3);

    // RS256 on demand, with its certificate.
    let out = ok(dir.path(), &["keys", "rotate", "--alg", "RS256"]);
    assert!(out.contains("created a RS256 key"), "{out}");
    let daemon = Daemon::start(dir.path(), &[]);
    let (_, jwks) = send(c.get(daemon.url("/oauth2/jwks"))).await;
    let kids = jwks_kids(&jwks);
    assert_eq!(kids.len(), 5, "{jwks}");
    assert!(kids.contains(&first[0]) && kids.contains(&first[1]));
    let rsa: Vec<&Value> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["kty"] == "RSA")
        .collect();
    assert_eq!(rsa.len(), 2);
    for key in rsa {
        assert_eq!(key["x5c"].as_array().map(Vec::len), Some(1), "{key}");
        assert_eq!(key["e"], "AQAB");
    }
    daemon.stop();
}

#[test]
fn keys_rotate_refuses_unknown_algorithms() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::run(dir.path(), &["keys", "rotate", "--alg", "none"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported signing algorithm"));
}

fn token(dir: &std::path::Path, name: &str, roles: &[&str]) -> String {
    let mut args = vec!["token", "create", "--name", name, "--json"];
    for r in roles {
        args.extend(["--role", r]);
    }
    json(dir, &args)["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn applications_are_graph_shaped_and_secrets_shown_once() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), &[]);
    let app_admin = token(dir.path(), "apps", &["application-administrator"]);
    let reader = token(dir.path(), "reader", &["reader"]);
    let privileged = token(
        dir.path(),
        "priv",
        &[
            "application-administrator",
            "privileged-authentication-administrator",
        ],
    );
    let c = reqwest::Client::new();
    let apps = daemon.url("/v1.0/applications");

    let (status, created) = send(
        c.post(&apps)
            .bearer_auth(&app_admin)
            .json(&serde_json::json!({
                "displayName": "CRM",
                "web": {"redirectUris": ["https://crm.example.com/signin-oidc"]},
                "spa": {"redirectUris": ["http://localhost:5173/"]},
                "idTokenSigningAlgorithm@tapbridge": "RS256",
            })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["@odata.type"], "#microsoft.graph.application");
    assert_eq!(
        created["web"]["redirectUris"][0],
        "https://crm.example.com/signin-oidc"
    );
    assert_eq!(created["idTokenSigningAlgorithm@tapbridge"], "RS256");
    let id = created["id"].as_str().unwrap().to_owned();
    let app_id = created["appId"].as_str().unwrap().to_owned();
    assert_ne!(id, app_id);

    let (status, password) = send(
        c.post(daemon.url(&format!("/v1.0/applications/{id}/addPassword")))
            .bearer_auth(&app_admin)
            .json(&serde_json::json!({"passwordCredential": {"displayName": "prod"}})),
    )
    .await;
    assert_eq!(status, 200, "{password}");
    let secret = password["secretText"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 40);
    assert_eq!(password["hint"], &secret[..3]);
    let key_id = password["keyId"].as_str().unwrap().to_owned();

    // Read back by object id and by client id: the secret's value is never there again.
    for key in [&id, &app_id] {
        let (status, app) = send(
            c.get(daemon.url(&format!("/v1.0/applications/{key}")))
                .bearer_auth(&reader),
        )
        .await;
        assert_eq!(status, 200, "{app}");
        assert_eq!(app["passwordCredentials"][0]["keyId"], key_id.as_str());
        assert_eq!(app["passwordCredentials"][0]["secretText"], Value::Null);
        assert!(!app.to_string().contains(&secret));
    }
    let (_, list) = send(
        c.get(&apps)
            .query(&[("$filter", format!("appId eq '{app_id}'"))])
            .bearer_auth(&reader),
    )
    .await;
    assert_eq!(list["value"].as_array().map(Vec::len), Some(1), "{list}");

    // Readers read, only Application Administrators write; roles for an app need more.
    let (status, _) = send(
        c.post(&apps)
            .bearer_auth(&reader)
            .json(&serde_json::json!({"displayName": "x"})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, body) = send(
        c.post(&apps)
            .bearer_auth(&app_admin)
            .json(&serde_json::json!({
                "displayName": "Automation", "appRoles@tapbridge": ["user-administrator"]
            })),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = send(
        c.post(&apps)
            .bearer_auth(&privileged)
            .json(&serde_json::json!({
                "displayName": "Automation", "appRoles@tapbridge": ["user-administrator"]
            })),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    // Bad input: a clear Graph error, nothing changed.
    for bad in [
        serde_json::json!({"web": {"redirectUris": ["http://crm.example.com/cb"]}}),
        serde_json::json!({"web": {"redirectUris": ["https://*.example.com/cb"]}}),
        serde_json::json!({"idTokenSigningAlgorithm@tapbridge": "none"}),
        serde_json::json!({"jwks@tapbridge": {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "1"}]}}),
        serde_json::json!({"requiredResourceAccess": []}),
    ] {
        let (status, body) = send(
            c.patch(daemon.url(&format!("/v1.0/applications/{id}")))
                .bearer_auth(&app_admin)
                .json(&bad),
        )
        .await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "invalidRequest");
    }
    let (_, app) = send(
        c.get(daemon.url(&format!("/v1.0/applications/{id}")))
            .bearer_auth(&reader),
    )
    .await;
    assert_eq!(
        app["web"]["redirectUris"],
        serde_json::json!(["https://crm.example.com/signin-oidc"])
    );

    let (status, _) = send(
        c.post(daemon.url(&format!("/v1.0/applications/{id}/removePassword")))
            .bearer_auth(&app_admin)
            .json(&serde_json::json!({"keyId": key_id})),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = send(
        c.delete(daemon.url(&format!("/v1.0/applications/{id}")))
            .bearer_auth(&app_admin),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = send(
        c.get(daemon.url(&format!("/v1.0/applications/{id}")))
            .bearer_auth(&reader),
    )
    .await;
    assert_eq!(status, 404);

    // The audit log names each step.
    let admin = common::admin_token(dir.path());
    let (_, audits) = send(
        c.get(daemon.url("/v1.0/auditLogs/directoryAudits"))
            .bearer_auth(&admin),
    )
    .await;
    let names: Vec<&str> = audits["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["activityDisplayName"].as_str())
        .collect();
    for expected in [
        "Add application",
        "Update application – Certificates and secrets management",
        "Remove application – Certificates and secrets management",
        "Delete application",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    daemon.stop();
}

#[test]
fn the_cli_registers_lists_and_removes_applications() {
    let dir = tempfile::tempdir().unwrap();
    let added = json(
        dir.path(),
        &[
            "app",
            "add",
            "Wiki",
            "--web",
            "https://wiki.example.com/cb",
            "--secret",
            "--json",
        ],
    );
    let app_id = added["appId"].as_str().unwrap().to_owned();
    let secret = added["secret"]["secretText"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 40);
    let list = ok(dir.path(), &["app", "list"]);
    assert!(list.contains("Wiki") && list.contains(&app_id), "{list}");
    assert!(!list.contains(&secret));
    let second = json(
        dir.path(),
        &["app", "secret", &app_id, "--name", "rotation", "--json"],
    );
    assert_ne!(second["secretText"], secret.as_str());
    let listed = json(dir.path(), &["app", "list", "--json"]);
    assert_eq!(listed[0]["secrets"].as_array().map(Vec::len), Some(2));
    let bad = common::run(
        dir.path(),
        &["app", "add", "Bad", "--web", "http://wiki.example.com/cb"],
    );
    assert_eq!(
        bad.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    ok(dir.path(), &["app", "remove", &app_id]);
    assert_eq!(
        json(dir.path(), &["app", "list", "--json"]),
        serde_json::json!([])
    );
}

async fn client_credentials(
    c: &reqwest::Client,
    daemon: &Daemon,
    id: &str,
    secret: &str,
) -> (u16, Value) {
    send(
        c.post(daemon.url("/oauth2/token"))
            .basic_auth(id, Some(secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "https://graph.microsoft.com/.default"),
            ]),
    )
    .await
}

#[tokio::test]
async fn application_tokens_call_the_admin_api_with_the_roles_granted_to_the_application() {
    let dir = tempfile::tempdir().unwrap();
    let automation = json(
        dir.path(),
        &[
            "app",
            "add",
            "Automation",
            "--role",
            "user-administrator",
            "--secret",
            "--json",
        ],
    );
    let bare = json(dir.path(), &["app", "add", "Bare", "--secret", "--json"]);
    let daemon = Daemon::start(dir.path(), &[]);
    let c = reqwest::Client::new();
    let id = automation["appId"].as_str().unwrap();
    let secret = automation["secret"]["secretText"].as_str().unwrap();

    let (status, tokens) = client_credentials(&c, &daemon, id, secret).await;
    assert_eq!(status, 200, "{tokens}");
    let token = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(tokens["expires_in"], 600);

    // Graph-style calls with the application's token: what a User Administrator may do.
    let (status, created) = send(
        c.post(daemon.url("/v1.0/users"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"userPrincipalName": "app-made@example.com"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let (status, users) = send(c.get(daemon.url("/v1.0/users")).bearer_auth(&token)).await;
    assert_eq!(status, 200, "{users}");
    // ... and no more: passes need an authentication role.
    let (status, body) = send(
        c.post(
            daemon
                .url("/v1.0/users/app-made@example.com/authentication/temporaryAccessPassMethods"),
        )
        .bearer_auth(&token)
        .json(&serde_json::json!({})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // The audit log names the application.
    let admin = common::admin_token(dir.path());
    let (_, audits) = send(
        c.get(daemon.url("/v1.0/auditLogs/directoryAudits"))
            .query(&[("$filter", "activityDisplayName eq 'Add user'")])
            .bearer_auth(&admin),
    )
    .await;
    assert_eq!(
        audits["value"][0]["initiatedBy"]["app"]["displayName"], "Automation",
        "{audits}"
    );

    // An application holding no role reads nothing.
    let (status, tokens) = client_credentials(
        &c,
        &daemon,
        bare["appId"].as_str().unwrap(),
        bare["secret"]["secretText"].as_str().unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = send(
        c.get(daemon.url("/v1.0/users"))
            .bearer_auth(tokens["access_token"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 403);

    // Static API tokens keep working beside them; a revoked application token stops at once;
    // a forged or unsigned one never worked.
    let (status, _) = send(c.get(daemon.url("/v1.0/users")).bearer_auth(&admin)).await;
    assert_eq!(status, 200);
    let (status, _) = send(
        c.post(daemon.url("/oauth2/revoke"))
            .basic_auth(id, Some(secret))
            .form(&[("token", token.as_str())]),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = send(c.get(daemon.url("/v1.0/users")).bearer_auth(&token)).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: Value = serde_json::from_slice(&b64.decode(&parts[1]).unwrap()).unwrap();
    claims["roles"] = serde_json::json!(["privileged-authentication-administrator"]);
    parts[1] = b64.encode(claims.to_string());
    let (status, _) = send(
        c.get(daemon.url("/v1.0/users"))
            .bearer_auth(parts.join(".")),
    )
    .await;
    assert_eq!(status, 401, "tampered claims");
    parts[0] = b64.encode(br#"{"alg":"none","typ":"at+jwt"}"#);
    let (status, _) = send(
        c.get(daemon.url("/v1.0/users"))
            .bearer_auth(format!("{}.{}.", parts[0], parts[1])),
    )
    .await;
    assert_eq!(status, 401, "alg none");
    daemon.stop();
}
