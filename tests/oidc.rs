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
