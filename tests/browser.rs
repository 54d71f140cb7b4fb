//! The whole passwordless journey in a real browser: headless Chromium, driven over the
//! DevTools protocol, with a virtual platform authenticator (CTAP2, internal, resident keys,
//! user verification). An administrator issues a pass through the admin API; the user signs in
//! with it, registers a passkey, signs out, signs in again with the passkey alone (no user
//! name) and sees it under Security info. Each page is saved as a screenshot under
//! `<target>/browser-artifacts/`.
//!
//! Without Chromium the test is skipped with a notice, except under `CI=true`, where it fails.

mod common;

use common::browser::{Chromium, Page, artifacts_dir, find_chromium};
use common::{Daemon, admin_token, ok};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_to_passkey_in_chromium() {
    let Some(exe) = find_chromium() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("chromium is not installed; .ci/run installs it");
        }
        eprintln!("SKIPPED: chromium not found (install it: apt-get install chromium)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    ok(
        dir.path(),
        &[
            "user",
            "add",
            "ada@example.com",
            "--display-name",
            "Ada Lovelace",
        ],
    );
    let token = admin_token(dir.path());
    let daemon = Daemon::start(dir.path(), &[]);
    assert!(daemon.base.contains("127.0.0.1"));
    // Browsers accept WebAuthn on http only for localhost.
    let base = daemon.base.replace("127.0.0.1", "localhost");

    let issued: Value = reqwest::Client::new()
        .post(format!(
            "{base}/v1.0/users/ada@example.com/authentication/temporaryAccessPassMethods"
        ))
        .bearer_auth(&token)
        .json(&json!({"lifetimeInMinutes": 60, "isUsableOnce": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pass = issued["temporaryAccessPass"]
        .as_str()
        .expect("pass")
        .to_owned();

    let chromium = Chromium::launch(&exe);
    let mut page = Page::open(&chromium).await;
    // The passkey sign-in page, before any authenticator exists.
    page.navigate(&format!("{base}/signin")).await;
    page.wait_for_path("/signin").await;
    page.screenshot("00-signin").await;
    page.call("WebAuthn.enable", json!({})).await;
    let authenticator = page
        .call(
            "WebAuthn.addVirtualAuthenticator",
            json!({"options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": true,
                "hasUserVerification": true,
                "isUserVerified": true,
                "automaticPresenceSimulation": true,
            }}),
        )
        .await;
    let authenticator_id = authenticator["authenticatorId"].clone();

    // 1. Sign in with the pass.
    page.navigate(&format!("{base}/signin/tap")).await;
    page.wait_for_path("/signin/tap").await;
    page.screenshot("01-signin-tap").await;
    page.eval(&format!(
        "document.getElementById('upn').value = 'ada@example.com';
         document.getElementById('pass').value = {};
         document.querySelector('form[action=\"/signin/tap\"] button[type=submit]').click(); true",
        serde_json::to_string(&pass).unwrap()
    ))
    .await;
    page.wait_for_path("/register").await;
    page.screenshot("02-register").await;

    // A pass session reaches nothing but registration.
    page.navigate(&format!("{base}/security-info")).await;
    page.wait_for_path("/register").await;

    // 2. Register a passkey.
    page.eval(
        "document.getElementById('passkey-name').value = 'Chromium test key';
         document.getElementById('passkey-register').click(); true",
    )
    .await;
    page.wait_for_path("/register/done").await;
    page.screenshot("03-registered").await;
    let creds = page
        .call(
            "WebAuthn.getCredentials",
            json!({"authenticatorId": authenticator_id}),
        )
        .await;
    let creds = creds["credentials"].as_array().expect("credentials");
    assert_eq!(creds.len(), 1);
    assert_eq!(
        creds[0]["isResidentCredential"], true,
        "a discoverable passkey"
    );
    assert!(
        creds[0]["userHandle"]
            .as_str()
            .is_some_and(|h| !h.is_empty()),
        "a user handle is stored"
    );

    // 3. Sign out, landing on the passkey sign-in page.
    page.eval("document.getElementById('continue-signin').click(); true")
        .await;
    // 4. Sign in with the passkey; no user name typed. Where the browser offers conditional
    // UI, the virtual authenticator (which needs no touch) may answer the page's conditional
    // request before the button is pressed: both ways are a username-less sign-in.
    if page.wait_for_any(&["/signin", "/security-info"]).await == "/signin" {
        page.screenshot("04-signin").await;
        page.eval(
            "(() => { const b = document.getElementById('passkey-signin'); if (b) b.click(); return true; })()",
        )
        .await;
    }
    page.wait_for_path("/security-info").await;
    page.screenshot("05-security-info").await;
    let text = page.eval("document.body.innerText").await;
    let text = text.as_str().unwrap_or("");
    assert!(text.contains("Chromium test key"), "{text}");
    assert!(text.contains("Last used"), "{text}");

    // The pass was one-time: it is gone, and the audit log tells the story.
    let audits: Value = reqwest::Client::new()
        .get(format!("{base}/v1.0/auditLogs/directoryAudits"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = audits["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["activityDisplayName"].as_str())
        .collect();
    for expected in [
        "User signed in with temporary access pass",
        "User registered security info",
        "User signed in with passkey",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    eprintln!("screenshots in {}", artifacts_dir().display());
    drop(page);
    drop(chromium);
    daemon.stop();
}
