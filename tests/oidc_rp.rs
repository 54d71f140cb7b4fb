//! A standard relying-party library against the real binary: Authlib (Python), inside a small
//! web application (`tests/support/oidc_rp.py`), signs a new hire in with code + PKCE,
//! validates the ID token, calls UserInfo, rotates refresh tokens, detects their reuse, gets
//! an application token by client credentials for the Graph-compatible API, and logs out.
//! The browser part is a plain HTTP client with a software authenticator.
//!
//! Without python3 + authlib the test is skipped with a notice, except under `CI=true`.

mod common;

use common::oidc::{HttpBrowser, RelyingParty, rp_available};
use common::{Daemon, json, ok};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authlib_relying_party_end_to_end() {
    if !rp_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(
        d,
        &[
            "user",
            "add",
            "ada@example.com",
            "--display-name",
            "Ada Lovelace",
            "--given-name",
            "Ada",
            "--surname",
            "Lovelace",
            "--mail",
            "ada@example.com",
        ],
    );
    ok(d, &["group", "add", "staff"]);
    ok(d, &["group", "add-member", "staff", "ada@example.com"]);
    let staff = json(d, &["group", "list", "--json"])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let daemon = Daemon::start(d, &[]);
    let issuer = daemon.base.replace("127.0.0.1", "localhost");
    let rp = RelyingParty::start();
    // As in Entra, the address the application returns to after logout is one of its
    // registered redirect URIs.
    let app = json(
        d,
        &[
            "app",
            "add",
            "Test application",
            "--web",
            &rp.callback(),
            "--web",
            &rp.logged_out(),
            "--secret",
            "--json",
        ],
    );
    let robot = json(
        d,
        &[
            "app",
            "add",
            "Robot",
            "--role",
            "user-administrator",
            "--secret",
            "--json",
        ],
    );
    rp.configure(json!({
        "issuer": issuer,
        "client_id": app["appId"],
        "client_secret": app["secret"]["secretText"],
        "cc_id": robot["appId"],
        "cc_secret": robot["secret"]["secretText"],
    }))
    .await;
    let pass =
        json(d, &["tap", "create", "ada@example.com", "--once", "--json"])["temporaryAccessPass"]
            .as_str()
            .unwrap()
            .to_owned();

    // The application sends the new hire to tapbridge; pass, first passkey, sign-in with it,
    // consent, and back to the application, which Authlib signs in.
    let mut browser = HttpBrowser::new(&issuer);
    let signin = browser.open(&format!("{}/login", rp.base)).await;
    assert!(
        signin
            .url
            .starts_with(&format!("{issuer}/oauth2/signin?flow=")),
        "{}",
        signin.url
    );
    assert!(signin.text.contains("Test application"));
    let consent = browser.onboard(&signin, "ada@example.com", &pass).await;
    assert!(
        consent.url.starts_with(&format!("{issuer}/oauth2/consent")),
        "{}",
        consent.url
    );
    let landed = browser.allow(&consent).await;
    assert!(landed.url.starts_with(&rp.callback()), "{}", landed.url);
    let r = landed.result();
    assert_eq!(r["signed_in"], "ada@example.com", "{r}");
    let claims = &r["claims"];
    assert_eq!(claims["iss"], issuer.as_str());
    assert_eq!(claims["aud"], app["appId"]);
    assert_eq!(claims["name"], "Ada Lovelace");
    assert_eq!(claims["amr"], json!(["hwk", "user", "mfa"]));
    assert_eq!(claims["acr"], "phrh");
    assert_eq!(claims["groups"], json!([staff]));
    assert_eq!(r["userinfo"]["email"], "ada@example.com");
    assert_eq!(r["userinfo"]["sub"], claims["sub"]);
    assert_eq!(r["has_refresh_token"], true);

    // Refresh tokens rotate; the spent one coming back revokes the whole family.
    let refresh: serde_json::Value = reqwest::get(format!(
        "{}/refresh",
        rp.base.replace("localhost", "127.0.0.1")
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(
        refresh,
        json!({
            "rotated": true,
            "userinfo_with_new_token": 200,
            "old_token": "invalid_grant",
            "new_token_after_reuse": "invalid_grant",
            "userinfo_after_reuse": 401,
        })
    );

    // Client credentials, then the Graph-compatible API with the application's token.
    let cc: serde_json::Value = reqwest::get(format!(
        "{}/client-credentials",
        rp.base.replace("localhost", "127.0.0.1")
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(cc["users_status"], 200, "{cc}");
    assert_eq!(cc["users"], json!(["ada@example.com"]));

    // Negative cases, each through a real authorization (signed in and consented already, so
    // the browser comes straight back with a code).
    for (mode, field, expected) in [
        ("verifier", "error", json!("invalid_grant")),
        ("redirect", "error", json!("invalid_grant")),
        ("reuse", "second", json!("invalid_grant")),
        ("reuse", "userinfo_after_replay", json!(401)),
        ("nonce", "error", json!("invalid_claim")),
        ("none", "userinfo_status", json!(401)),
    ] {
        let page = browser
            .open(&format!("{}/login?break={mode}", rp.base))
            .await;
        let r = page.result();
        assert_eq!(r[field], expected, "{mode}: {r}");
    }

    // Logout from the application: the session ends at once (the ID token names it), the
    // browser returns with the application's state, and the next sign-in asks again.
    let out = browser.open(&format!("{}/logout", rp.base)).await;
    assert!(out.url.starts_with(&rp.logged_out()), "{}", out.url);
    assert_eq!(out.result(), json!({"logged_out": true, "state_ok": true}));
    assert!(!browser.has_cookie("tapbridge_session"));
    let again = browser.open(&format!("{}/login", rp.base)).await;
    assert!(
        again
            .url
            .starts_with(&format!("{issuer}/oauth2/signin?flow=")),
        "{}",
        again.url
    );
    // A passkey sign-in takes the user straight back: consent was given before.
    let back = browser.sign_in_and_continue(&again).await;
    assert_eq!(back.result()["signed_in"], "ada@example.com");
    daemon.stop();
}
