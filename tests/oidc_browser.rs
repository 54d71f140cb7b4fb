//! Signing in to an application in a real browser: headless Chromium with a virtual platform
//! authenticator, a relying party built on Authlib (`tests/support/oidc_rp.py`), the real
//! binary. A new hire goes application → tapbridge → pass → first passkey → sign-in with it
//! → consent → back to the application; signs out from the application; and comes back as a
//! returning user, passkey only, answered by form_post. Screenshots land in
//! `<target>/browser-artifacts/oidc-*.png`.
//!
//! Without Chromium or Authlib the test is skipped with a notice, except under `CI=true`.

mod common;

use common::browser::{Chromium, Page, find_chromium};
use common::oidc::{RelyingParty, rp_available};
use common::{Daemon, json, ok};
use serde_json::{Value, json};

async fn text(page: &mut Page) -> String {
    page.eval("document.body ? document.body.innerText : ''")
        .await
        .as_str()
        .unwrap_or("")
        .to_owned()
}

async fn click(page: &mut Page, id: &str) {
    page.eval(&format!(
        "(() => {{ const b = document.getElementById({}); if (b) b.click(); return !!b; }})()",
        serde_json::to_string(id).unwrap()
    ))
    .await;
}

/// On the flow's sign-in page: the virtual authenticator may answer the page's conditional
/// request by itself; otherwise press the button.
async fn passkey(page: &mut Page, after: &[&str]) -> String {
    let mut wanted = vec!["/oauth2/signin"];
    wanted.extend_from_slice(after);
    let at = page.wait_for_any(&wanted).await;
    if at != "/oauth2/signin" {
        return at;
    }
    click(page, "passkey-signin").await;
    page.wait_for_any(after).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_sign_in_in_chromium() {
    let Some(exe) = find_chromium() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("chromium is not installed; .ci/run installs it");
        }
        eprintln!("SKIPPED: chromium not found (install it: apt-get install chromium)");
        return;
    };
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
        ],
    );
    let daemon = Daemon::start(d, &[]);
    let issuer = daemon.base.replace("127.0.0.1", "localhost");
    let rp = RelyingParty::start();
    let app = json(
        d,
        &[
            "app",
            "add",
            "Wiki",
            "--web",
            &rp.callback(),
            "--web",
            &rp.logged_out(),
            "--alg",
            "RS256",
            "--secret",
            "--json",
        ],
    );
    rp.configure(json!({
        "issuer": issuer,
        "client_id": app["appId"],
        "client_secret": app["secret"]["secretText"],
        "cc_id": "", "cc_secret": "",
    }))
    .await;
    let pass =
        json(d, &["tap", "create", "ada@example.com", "--once", "--json"])["temporaryAccessPass"]
            .as_str()
            .unwrap()
            .to_owned();

    let chromium = Chromium::launch(&exe);
    let mut page = Page::open(&chromium).await;
    page.navigate("about:blank").await;
    page.call("WebAuthn.enable", json!({})).await;
    page.call(
        "WebAuthn.addVirtualAuthenticator",
        json!({"options": {
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
            "hasUserVerification": true, "isUserVerified": true,
            "automaticPresenceSimulation": true,
        }}),
    )
    .await;

    // 1. The application sends the new hire to tapbridge.
    page.navigate(&format!("{}/login", rp.base)).await;
    page.wait_for_path("/oauth2/signin").await;
    page.screenshot("oidc-01-signin").await;
    assert!(text(&mut page).await.contains("Wiki"));
    click(&mut page, "use-tap").await;
    page.wait_for_path("/oauth2/signin/tap").await;
    page.eval(&format!(
        "document.getElementById('upn').value = 'ada@example.com';
         document.getElementById('pass').value = {};
         document.querySelector('form button[type=submit]').click(); true",
        serde_json::to_string(&pass).unwrap()
    ))
    .await;
    // 2. The pass allows one thing: a first passkey.
    page.wait_for_path("/oauth2/register").await;
    page.screenshot("oidc-02-register").await;
    click(&mut page, "passkey-register").await;
    // 3. Signing in with it, then consent.
    let at = passkey(&mut page, &["/oauth2/consent"]).await;
    assert_eq!(at, "/oauth2/consent");
    page.screenshot("oidc-03-consent").await;
    assert!(text(&mut page).await.contains("Allow Wiki?"));
    click(&mut page, "consent-allow").await;
    // 4. Back in the application, signed in.
    page.wait_for_path("/callback").await;
    page.screenshot("oidc-04-application").await;
    let shown = text(&mut page).await;
    assert!(shown.contains("Signed in as ada@example.com"), "{shown}");
    let result: Value = serde_json::from_str(
        page.eval("document.getElementById('result').textContent")
            .await
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(result["claims"]["amr"][1], "user", "{result}");
    assert!(result["claims"]["amr"][0] == "hwk" || result["claims"]["amr"][0] == "swk");

    // 5. Sign out from the application: tapbridge's session ends, the application's page says so.
    page.navigate(&format!("{}/logout", rp.base)).await;
    page.wait_for_path("/logged-out").await;
    assert!(text(&mut page).await.contains("\"state_ok\": true"));

    // 6. A returning user: passkey only, no consent again; the answer comes as a form POST.
    page.navigate(&format!("{}/login?response_mode=form_post", rp.base))
        .await;
    let at = passkey(&mut page, &["/callback"]).await;
    assert_eq!(at, "/callback");
    page.screenshot("oidc-05-returning").await;
    let shown = text(&mut page).await;
    assert!(shown.contains("Signed in as ada@example.com"), "{shown}");

    // The audit log tells the story.
    let admin = common::admin_token(d);
    let audits: Value = reqwest::Client::new()
        .get(daemon.url("/v1.0/auditLogs/directoryAudits"))
        .bearer_auth(&admin)
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
        "Consent to application",
        "User signed in to application",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    drop(page);
    drop(chromium);
    daemon.stop();
}
