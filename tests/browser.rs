//! The pages in a real browser: headless Chromium, driven over the DevTools protocol, with a
//! virtual platform authenticator (CTAP2, internal, resident keys, user verification), against
//! the real binary. Three journeys, each on its own daemon:
//!
//! - a new hire whose name is not ASCII goes from a Temporary Access Pass to a passkey, sees
//!   the "waiting for your passkey" state, the focus where it belongs, validation and notices;
//! - an administrator finds users, creates a pass (shown once, kept valid by a reload, one pass
//!   for a double click, without JavaScript), sees plain states and model names, confirms
//!   deletions, is warned off a lock-out policy; a reader sees the same pages read-only;
//! - a German user and a German browser get German pages, every error is a page, sign-out has
//!   a page, the icon exists, and fields and focus ring have the contrast they need.
//!
//! Every page met is audited with axe-core (WCAG 2.1 A and AA) in light, dark and 375-px views
//! and must have no violation; screenshots land in `<target>/browser-artifacts/`.
//!
//! Without Chromium (or axe-core) the checks are skipped with a notice, except under
//! `CI=true`, where that fails.

mod common;

use std::path::Path;

use common::browser::{Chromium, Page, View, artifacts_dir, find_chromium};
use common::{Daemon, admin_token, ok};
use serde_json::{Value, json};

/// Chromium, or `None` (with a notice) where it is not installed and CI does not demand it.
fn chromium() -> Option<std::path::PathBuf> {
    let found = find_chromium();
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("chromium is not installed; .ci/run installs it");
        }
        eprintln!("SKIPPED: chromium not found (install it: apt-get install chromium)");
    }
    found
}

/// The daemon, its admin token and the URL browsers use (WebAuthn on http needs localhost).
struct Site {
    daemon: Daemon,
    base: String,
    token: String,
    /// Accessibility violations found on the way, reported together at the end.
    violations: Vec<String>,
}

impl Site {
    fn start(dir: &Path, env: &[(&str, &str)]) -> Site {
        let token = admin_token(dir);
        let mut env = env.to_vec();
        // Many sign-ins from one address in a minute: the journeys, not the limiter, are
        // under test here.
        env.push(("TAPBRIDGE_WEB__SIGNIN_PER_MINUTE_PER_ADDRESS", "1000"));
        env.push(("TAPBRIDGE_WEB__SIGNIN_PER_MINUTE_PER_USER", "1000"));
        let daemon = Daemon::start(dir, &env);
        let base = daemon.base.replace("127.0.0.1", "localhost");
        Site {
            daemon,
            base,
            token,
            violations: vec![],
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = reqwest::Client::new()
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("API request");
        assert!(res.status().is_success(), "{path}: {}", res.status());
        res.json().await.expect("API JSON")
    }

    /// A pass for `upn` through the admin API.
    async fn pass(&self, upn: &str, once: bool) -> String {
        let issued = self
            .api(
                reqwest::Method::POST,
                &format!("/v1.0/users/{upn}/authentication/temporaryAccessPassMethods"),
                Some(json!({"lifetimeInMinutes": 60, "isUsableOnce": once})),
            )
            .await;
        issued["temporaryAccessPass"]
            .as_str()
            .expect("pass")
            .to_owned()
    }

    /// The audit log's activity names, newest first.
    async fn activities(&self) -> Vec<String> {
        let audits = self
            .api(
                reqwest::Method::GET,
                "/v1.0/auditLogs/directoryAudits?$top=500",
                None,
            )
            .await;
        audits["value"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a["activityDisplayName"].as_str().map(str::to_owned))
            .collect()
    }

    async fn count(&self, activity: &str) -> usize {
        self.activities()
            .await
            .iter()
            .filter(|a| *a == activity)
            .count()
    }

    async fn user_id(&self, upn: &str) -> String {
        self.api(reqwest::Method::GET, &format!("/v1.0/users/{upn}"), None)
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Opens `path`, waits for it, and audits it in every view as `name`.
    async fn visit(&mut self, page: &mut Page, path: &str, name: &str) {
        page.navigate(&self.url(path)).await;
        page.wait_for_path(path.split('?').next().unwrap()).await;
        self.audit(page, name).await;
    }

    async fn audit(&mut self, page: &mut Page, name: &str) {
        let found = page.audit(name).await;
        self.violations.extend(found);
    }

    /// Fails with every accessibility violation met, if any.
    fn assert_accessible(&self) {
        assert!(
            self.violations.is_empty(),
            "axe-core found violations:\n{}",
            self.violations.join("\n")
        );
    }
}

/// A virtual platform authenticator on `page`; returns its id.
async fn add_authenticator(page: &mut Page) -> Value {
    page.call("WebAuthn.enable", json!({})).await;
    let a = page
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
    a["authenticatorId"].clone()
}

/// Pass sign-in through the form, as typed.
async fn sign_in_with_pass(site: &Site, page: &mut Page, upn: &str, pass: &str) {
    page.navigate(&site.url("/signin/tap")).await;
    page.wait_for_path("/signin/tap").await;
    page.fill("#upn", upn).await;
    page.fill("#pass", pass).await;
    page.click("form[action='/signin/tap'] button[type=submit]")
        .await;
}

/// From a pass to a full session with a passkey: sign in with the pass, register, sign in
/// with the passkey. Ends on Security info.
async fn sign_up(site: &Site, page: &mut Page, upn: &str, pass: &str) {
    add_authenticator(page).await;
    sign_in_with_pass(site, page, upn, pass).await;
    page.wait_for_path("/register").await;
    page.click("#passkey-register").await;
    page.wait_for_path("/register/done").await;
    passkey_sign_in(page).await;
}

/// From the "passkey ready" page: sign out and in again with the passkey, no user name. Where
/// the browser offers conditional UI, the virtual authenticator (which needs no touch) may
/// answer the page's conditional request before the button is pressed: both ways are a
/// username-less sign-in.
async fn passkey_sign_in(page: &mut Page) {
    page.click("#continue-signin").await;
    if page.wait_for_any(&["/signin", "/security-info"]).await == "/signin" {
        page.eval(
            "(() => { const b = document.getElementById('passkey-signin'); if (b && !b.disabled) b.click(); return true; })()",
        )
        .await;
    }
    page.wait_for_path("/security-info").await;
}

/// In the 375-px view the page needs no sideways scrolling.
async fn assert_reflows(page: &mut Page, name: &str) {
    page.set_view(View::Narrow).await;
    let wide = page
        .eval("document.documentElement.scrollWidth - window.innerWidth")
        .await;
    page.set_view(View::Light).await;
    assert!(
        wide.as_f64().is_some_and(|w| w <= 0.0),
        "{name} scrolls sideways at 375 px by {wide}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_hire_with_a_non_ascii_name_goes_from_pass_to_passkey() {
    let Some(exe) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    ok(
        dir.path(),
        &[
            "user",
            "add",
            "jürgen@example.com",
            "--display-name",
            "Jürgen Müller",
        ],
    );
    let mut site = Site::start(dir.path(), &[]);
    // A pass for more than one sign-in: it stays usable after the passkey is made.
    let pass = site.pass("jürgen@example.com", false).await;
    let chromium = Chromium::launch(&exe);
    let mut page = Page::open_isolated(&chromium).await;

    site.visit(&mut page, "/signin", "signin").await;

    // The pass form works without JavaScript, takes a non-ASCII name, and puts the focus on
    // the first field, or on what went wrong.
    page.set_scripts(false).await;
    site.visit(&mut page, "/signin/tap", "signin-tap").await;
    page.wait_for_focus("upn").await;
    page.click("form[action='/signin/tap'] button[type=submit]")
        .await;
    page.wait_until("document.getElementById('upn-error')")
        .await;
    assert_eq!(
        page.text_of("#upn-error").await.as_deref(),
        Some("Enter your user name.")
    );
    page.wait_for_focus("upn").await;
    site.audit(&mut page, "signin-tap-empty").await;
    page.fill("#upn", "jürgen@example.com").await;
    page.fill("#pass", "not-the-pass").await;
    page.click("form[action='/signin/tap'] button[type=submit]")
        .await;
    page.wait_until("document.getElementById('form-error')")
        .await;
    page.wait_for_focus("form-error").await;
    assert_eq!(
        page.eval("document.getElementById('upn').value").await,
        "jürgen@example.com",
        "what was typed is kept"
    );
    site.audit(&mut page, "signin-tap-failed").await;
    page.fill("#pass", &pass).await;
    page.click("form[action='/signin/tap'] button[type=submit]")
        .await;
    page.wait_for_path("/register").await;
    page.set_scripts(true).await;
    page.navigate(&site.url("/register")).await;
    page.wait_for_path("/register").await;
    page.wait_for_focus("passkey-name").await;
    site.audit(&mut page, "register").await;

    // A pass session reaches nothing but registration.
    page.navigate(&site.url("/security-info")).await;
    page.wait_for_path("/register").await;

    // Waiting for the passkey is visible and announced; with no authenticator yet the
    // ceremony waits, and goes on once one appears.
    page.call("WebAuthn.enable", json!({})).await;
    page.fill("#passkey-name", "Jürgens Laptop").await;
    page.click("#passkey-register").await;
    page.wait_until("document.getElementById('ceremony-status').textContent.startsWith('Waiting for your passkey')")
        .await;
    assert_eq!(
        page.eval("document.getElementById('passkey-register').disabled")
            .await,
        true
    );
    assert_eq!(
        page.eval("document.getElementById('ceremony-status').getAttribute('role')")
            .await,
        "status"
    );
    page.screenshot("register-waiting").await;
    let authenticator = add_authenticator(&mut page).await;
    page.wait_for_path("/register/done").await;
    let done = page.text().await;
    assert!(done.contains("still works until"), "{done}");
    assert!(
        !done.contains("no longer needed"),
        "the pass is still usable: {done}"
    );
    page.wait_for_focus("continue-signin").await;
    site.audit(&mut page, "registered").await;
    let creds = page
        .call(
            "WebAuthn.getCredentials",
            json!({"authenticatorId": authenticator}),
        )
        .await;
    let creds = creds["credentials"].as_array().expect("credentials");
    assert_eq!(creds.len(), 1);
    assert_eq!(
        creds[0]["isResidentCredential"], true,
        "a discoverable passkey"
    );

    passkey_sign_in(&mut page).await;
    let text = page.text().await;
    assert!(text.contains("Jürgens Laptop"), "{text}");
    assert!(text.contains("Virtual authenticator"), "{text}");
    assert!(text.contains("You have a pass that works until"), "{text}");
    // Times are shown in the viewer's zone, the UTC text kept as the tooltip.
    assert!(
        page.eval("document.querySelector('time').title.endsWith('UTC')")
            .await
            == true
    );
    site.audit(&mut page, "security-info").await;

    // A name too long comes back next to its field, as typed, with the focus on it.
    let long = "L".repeat(70);
    page.eval("document.querySelector('details').open = true")
        .await;
    page.fill("form[action$='/rename'] input[name=name]", &long)
        .await;
    page.click("form[action$='/rename'] button[type=submit]")
        .await;
    page.wait_until("document.querySelector('.field-error')")
        .await;
    assert!(
        page.text_of(".field-error")
            .await
            .unwrap()
            .contains("at most 64 characters")
    );
    assert_eq!(
        page.eval("document.activeElement.value").await,
        long.as_str()
    );
    site.audit(&mut page, "security-info-rename-refused").await;
    page.fill("form[action$='/rename'] input[name=name]", "Arbeitslaptop")
        .await;
    page.click("form[action$='/rename'] button[type=submit]")
        .await;
    page.wait_until("document.getElementById('notice')").await;
    assert_eq!(
        page.text_of("#notice").await.as_deref(),
        Some("Your passkey was renamed.")
    );
    site.audit(&mut page, "security-info-notice").await;

    let names = site.activities().await;
    for expected in [
        "User signed in with temporary access pass",
        "User registered security info",
        "User signed in with passkey",
        "User changed security info",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    eprintln!("screenshots in {}", artifacts_dir().display());
    site.assert_accessible();
    drop(page);
    drop(chromium);
    site.daemon.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_creates_a_pass_once_and_a_reader_sees_read_only_pages() {
    let Some(exe) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &[
            "ada@example.com",
            "--display-name",
            "Ada Lovelace",
            "--role",
            "authentication-administrator",
            "--role",
            "authentication-policy-administrator",
        ][..],
        &["rita@example.com", "--role", "reader"],
        &[
            "kim@example.com",
            "--display-name",
            "Kim Jürgensen",
            "--mail",
            "kim@corp.example",
        ],
        &["lee@corp.example", "--display-name", "Lee Park"],
    ] {
        let mut all = vec!["user", "add"];
        all.extend_from_slice(args);
        ok(dir.path(), &all);
    }
    let mut site = Site::start(dir.path(), &[("TAPBRIDGE_TAP__MAX_FAILED_ATTEMPTS", "2")]);
    let chromium = Chromium::launch(&exe);
    let mut admin = Page::open_isolated(&chromium).await;
    let pass = site.pass("ada@example.com", true).await;
    sign_up(&site, &mut admin, "ada@example.com", &pass).await;

    // Find users by a word of the display name and by mail domain, with a count.
    site.visit(&mut admin, "/admin/users", "admin-users").await;
    assert_reflows(&mut admin, "admin-users").await;
    admin.fill("#q", "jürgensen").await;
    admin.click("form[role=search] button").await;
    admin.wait_until("location.search.includes('q=')").await;
    admin.wait_for_path("/admin/users").await;
    assert_eq!(
        admin.text_of("#result-count").await.as_deref(),
        Some("1 user found.")
    );
    admin.fill("#q", "@corp.example").await;
    admin.click("form[role=search] button").await;
    admin
        .wait_until("location.search.includes('corp.example')")
        .await;
    admin.wait_for_path("/admin/users").await;
    assert_eq!(
        admin.text_of("#result-count").await.as_deref(),
        Some("2 users found.")
    );
    site.audit(&mut admin, "admin-users-search").await;

    // The applications, read-only: an app made with the CLI is listed with its client id,
    // redirect URI and algorithm, reached from the users page.
    let made = ok(
        dir.path(),
        &[
            "app",
            "add",
            "Payroll",
            "--web",
            "https://payroll.example.com/callback",
            "--alg",
            "RS256",
            "--json",
        ],
    );
    let client_id = serde_json::from_str::<Value>(&made).unwrap()["appId"]
        .as_str()
        .expect("appId")
        .to_owned();
    admin.click("a[href='/admin/applications']").await;
    admin.wait_for_path("/admin/applications").await;
    let listed = admin.text().await;
    for shown in [
        "Payroll",
        client_id.as_str(),
        "https://payroll.example.com/callback",
        "RS256",
    ] {
        assert!(listed.contains(shown), "{shown} missing: {listed}");
    }
    assert_reflows(&mut admin, "admin-applications").await;
    site.audit(&mut admin, "admin-applications").await;

    let kim = site.user_id("kim@example.com").await;
    let kim_page = format!("/admin/users/{kim}");
    site.visit(&mut admin, &kim_page, "admin-user").await;
    assert_reflows(&mut admin, "admin-user").await;
    assert_eq!(
        admin
            .eval("[document.getElementById('lifetime').min, document.getElementById('lifetime').max].join('-')")
            .await,
        "60-480",
        "the lifetime's limits come from the policy"
    );

    // Out of the policy's range: the error next to the field, the value kept, the focus on it.
    admin.fill("#lifetime", "5000").await;
    admin.click("#create-tap").await;
    admin
        .wait_until("document.getElementById('lifetime-error')")
        .await;
    assert!(
        admin
            .text_of("#lifetime-error")
            .await
            .unwrap()
            .contains("between 60 and 480")
    );
    assert_eq!(
        admin
            .eval("document.getElementById('lifetime').value")
            .await,
        "5000"
    );
    admin.wait_for_focus("lifetime").await;
    site.audit(&mut admin, "admin-user-lifetime-refused").await;

    // Without JavaScript, a double click creates one pass, shown once, with no Copy button.
    let issued = "Admin registered temporary access pass method for user";
    let before = site.count(issued).await;
    admin.set_scripts(false).await;
    admin.navigate(&site.url(&kim_page)).await;
    admin.wait_for_path(&kim_page).await;
    admin.fill("#lifetime", "120").await;
    admin.double_click("#create-tap").await;
    admin
        .wait_until("location.search.startsWith('?pass=') && document.getElementById('new-pass')")
        .await;
    let kims_pass = admin.text_of("#new-pass").await.unwrap();
    assert_eq!(kims_pass.len(), 8);
    assert!(
        !admin.is_displayed("[data-copy]").await,
        "Copy needs script"
    );
    site.audit(&mut admin, "admin-user-pass-shown").await;
    assert_eq!(
        site.count(issued).await,
        before + 1,
        "one pass for a double click"
    );
    // A reload shows it no more and creates nothing.
    admin.call("Page.reload", json!({})).await;
    admin
        .wait_until("document.readyState === 'complete' && document.getElementById('shown-before')")
        .await;
    assert!(!admin.text().await.contains(&kims_pass));
    assert_eq!(site.count(issued).await, before + 1);
    site.audit(&mut admin, "admin-user-pass-shown-before").await;
    admin.set_scripts(true).await;

    // The pass shown is the one that works: Kim signs up with it.
    let mut kim_browser = Page::open_isolated(&chromium).await;
    sign_up(&site, &mut kim_browser, "kim@example.com", &kims_pass).await;

    // The administrator sees Kim's passkey by model name, not by AAGUID.
    admin.navigate(&site.url(&kim_page)).await;
    admin.wait_for_path(&kim_page).await;
    let text = admin.text().await;
    assert!(text.contains("Virtual authenticator"), "{text}");
    assert!(!text.contains("AAGUID"), "{text}");
    site.audit(&mut admin, "admin-user-passkeys").await;
    assert_reflows(&mut admin, "admin-user-passkeys").await;

    // An administrator's way back from a page that is not there leads to Users.
    site.visit(&mut admin, "/admin/users/no-such-user", "admin-404")
        .await;
    assert_eq!(
        admin
            .eval("document.querySelector('main a.button').getAttribute('href')")
            .await,
        "/admin/users"
    );

    // With JavaScript, the Copy button appears.
    let lee = site.user_id("lee@corp.example").await;
    let lee_page = format!("/admin/users/{lee}");
    admin.navigate(&site.url(&lee_page)).await;
    admin.wait_for_path(&lee_page).await;
    admin.click("#create-tap").await;
    admin
        .wait_until("document.getElementById('new-pass')")
        .await;
    assert!(admin.is_displayed("[data-copy]").await);

    // Two wrong codes lock Lee's pass (this daemon locks after two): the state says so.
    let mut lee_browser = Page::open_isolated(&chromium).await;
    for _ in 0..2 {
        sign_in_with_pass(&site, &mut lee_browser, "lee@corp.example", "WRONGCODE").await;
        lee_browser
            .wait_until("document.getElementById('form-error')")
            .await;
    }
    admin.navigate(&site.url(&lee_page)).await;
    admin.wait_for_path(&lee_page).await;
    assert_eq!(
        admin.text_of("#pass-state").await.as_deref(),
        Some("Locked — too many wrong codes")
    );
    site.audit(&mut admin, "admin-user-locked").await;

    // Deleting Kim's passkey asks first, then says it is done.
    admin.navigate(&site.url(&kim_page)).await;
    admin.wait_for_path(&kim_page).await;
    admin.click("form[action*='/passkeys/'] button").await;
    admin
        .wait_until("document.getElementById('confirm-delete')")
        .await;
    assert!(admin.text().await.contains("only passkey"));
    site.audit(&mut admin, "admin-confirm-delete").await;
    admin.click("#confirm-delete").await;
    admin.wait_until("document.getElementById('notice')").await;
    assert_eq!(
        admin.text_of("#notice").await.as_deref(),
        Some("The passkey was deleted.")
    );

    // A passkey policy that would lock everyone out is not saved without a second word.
    site.visit(&mut admin, "/admin/policies", "admin-policies")
        .await;
    admin
        .eval("document.querySelector('input[name=restrict]').checked = true; document.getElementById('kind').value = 'allow'; document.getElementById('aaguids').value = ''; true")
        .await;
    admin.click("#save-fido2").await;
    admin
        .wait_until("document.getElementById('lockout-warning')")
        .await;
    admin.wait_for_focus("lockout-warning").await;
    assert!(admin.text().await.contains("would lock everyone out"));
    site.audit(&mut admin, "admin-policies-warning").await;
    admin.click("a.button[href='/admin/policies']").await;
    admin
        .wait_until(
            "!document.getElementById('lockout-warning') && document.readyState === 'complete'",
        )
        .await;
    let fido2 = site
        .api(
            reqwest::Method::GET,
            "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/Fido2",
            None,
        )
        .await;
    assert_eq!(
        fido2["keyRestrictions"]["isEnforced"], false,
        "nothing saved"
    );

    // A reader sees the same pages, read-only, told which role is missing.
    let mut reader = Page::open_isolated(&chromium).await;
    let pass = site.pass("rita@example.com", true).await;
    sign_up(&site, &mut reader, "rita@example.com", &pass).await;
    site.visit(&mut reader, "/admin/policies", "admin-policies-read-only")
        .await;
    assert_eq!(
        reader
            .eval("document.querySelectorAll('fieldset[disabled]').length")
            .await,
        2
    );
    assert!(
        reader
            .text_of("#read-only")
            .await
            .unwrap()
            .contains("Authentication Policy Administrator")
    );
    site.visit(&mut reader, &kim_page, "admin-user-read-only")
        .await;
    assert!(
        reader
            .text_of("#read-only")
            .await
            .unwrap()
            .contains("needs the Authentication Administrator role")
    );
    assert!(!reader.is_displayed("#create-tap").await);

    site.assert_accessible();
    drop((admin, kim_browser, lee_browser, reader));
    drop(chromium);
    site.daemon.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn german_pages_error_pages_sign_out_icon_and_contrast() {
    let Some(exe) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    ok(
        dir.path(),
        &["user", "add", "grete@example.com", "--language", "de-AT"],
    );
    let mut site = Site::start(dir.path(), &[]);
    let chromium = Chromium::launch(&exe);

    // A German browser, nobody signed in.
    let mut anon = Page::open_isolated(&chromium).await;
    anon.set_accept_language("de-DE,de;q=0.9,en;q=0.5").await;
    site.visit(&mut anon, "/signin/tap", "de-signin-tap").await;
    assert_eq!(anon.eval("document.documentElement.lang").await, "de");
    assert_eq!(
        anon.text_of("h1").await.as_deref(),
        Some("Mit Ihrem befristeten Zugangspass anmelden")
    );

    // A German user on an English browser: the user's preferredLanguage wins.
    let mut grete = Page::open_isolated(&chromium).await;
    grete.set_accept_language("en-GB,en").await;
    let pass = site.pass("grete@example.com", true).await;
    let grete_key = add_authenticator(&mut grete).await;
    sign_in_with_pass(&site, &mut grete, "grete@example.com", &pass).await;
    grete.wait_for_path("/register").await;
    assert_eq!(grete.eval("document.documentElement.lang").await, "de");
    assert_eq!(
        grete.text_of("h1").await.as_deref(),
        Some("Passkey erstellen")
    );
    site.audit(&mut grete, "de-register").await;
    grete.click("#passkey-register").await;
    grete.wait_for_path("/register/done").await;
    // A one-time pass, now spent: only now is it "no longer needed".
    assert!(
        grete
            .text()
            .await
            .contains("Ihren befristeten Zugangspass brauchen Sie nicht mehr.")
    );
    site.audit(&mut grete, "de-registered").await;
    passkey_sign_in(&mut grete).await;
    assert_eq!(
        grete.text_of("h1").await.as_deref(),
        Some("Sicherheitsinformationen")
    );
    site.audit(&mut grete, "de-security-info").await;

    // Every route answers like a page, in the viewer's words, with a way back.
    site.visit(&mut grete, "/security-info/gibt-es-nicht", "de-404")
        .await;
    assert_eq!(grete.text_of("h1").await.as_deref(), Some("Nicht gefunden"));
    grete.wait_for_focus("form-error").await;
    assert_eq!(
        grete
            .eval("document.querySelector('main a.button').getAttribute('href')")
            .await,
        "/security-info"
    );
    site.visit(&mut grete, "/admin/users", "de-403").await;
    assert_eq!(grete.text_of("h1").await.as_deref(), Some("Nicht erlaubt"));
    assert!(grete.text().await.contains("für Administratoren"));
    site.visit(&mut grete, "/admin/policies/tap", "de-405")
        .await;
    assert_eq!(
        grete.text_of("h1").await.as_deref(),
        Some("So nicht verfügbar")
    );

    // GET /signout is a page that asks; the button signs out. (The authenticator goes first:
    // on the sign-in page it would otherwise answer the conditional request at once.)
    site.visit(&mut grete, "/signout", "de-signout").await;
    grete.wait_for_focus("signout").await;
    grete
        .call(
            "WebAuthn.removeVirtualAuthenticator",
            json!({"authenticatorId": grete_key}),
        )
        .await;
    grete.click("#signout").await;
    grete
        .wait_until("document.querySelector('.notice.ok')")
        .await;
    // Signed out, the page follows the browser again.
    assert_eq!(
        grete.text_of(".notice.ok").await.as_deref(),
        Some("You have signed out.")
    );
    site.visit(&mut grete, "/signout", "signout-done").await;
    assert!(grete.text().await.contains("You are signed out."));

    // English, anonymous: an unknown path is a page, leading to sign-in.
    let mut en = Page::open_isolated(&chromium).await;
    en.set_accept_language("en-US,en").await;
    site.visit(&mut en, "/no-such-page", "404").await;
    assert_eq!(en.text_of("h1").await.as_deref(), Some("Not found"));
    assert_eq!(
        en.eval("document.querySelector('main a.button').getAttribute('href')")
            .await,
        "/signin"
    );

    // The audit itself finds what it should: a page with an unlabelled image fails it.
    en.navigate("data:text/html,<html lang=en><title>t</title><img src=x>")
        .await;
    en.wait_until("document.readyState === 'complete'").await;
    let caught = en.audit("audit-self-test").await;
    assert!(
        caught.is_empty() && common::browser::axe_core().is_none()
            || caught.iter().any(|v| v.contains("image-alt")),
        "axe-core missed an image without alt: {caught:?}"
    );
    en.navigate(&site.url("/no-such-page")).await;
    en.wait_for_path("/no-such-page").await;

    // The icon browsers ask for exists and is an image.
    let icon = en
        .eval(
            "new Promise(r => { const i = new Image(); i.onload = () => r(i.naturalWidth); i.onerror = () => r(0); i.src = '/favicon.ico'; })",
        )
        .await;
    assert_eq!(icon, 32);

    // Field borders and the focus ring stand out from the card: at least 3:1, light and dark.
    en.navigate(&site.url("/signin/tap")).await;
    en.wait_for_path("/signin/tap").await;
    for view in [View::Light, View::Dark] {
        en.set_view(view).await;
        en.eval("document.getElementById('pass').focus(); true")
            .await;
        let border = en.contrast("#upn", "borderTopColor").await;
        let ring = en.contrast("#pass", "outlineColor").await;
        let style = en
            .eval("getComputedStyle(document.getElementById('pass')).outlineStyle")
            .await;
        assert!(border >= 3.0, "{} field border {border:.2}:1", view.name());
        assert!(ring >= 3.0, "{} focus ring {ring:.2}:1", view.name());
        assert_eq!(style, "solid", "{} focus ring drawn", view.name());
    }

    site.assert_accessible();
    drop((anon, grete, en));
    drop(chromium);
    site.daemon.stop();
}
