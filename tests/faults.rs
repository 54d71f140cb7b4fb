//! Faults an identity service must survive, against the real binary: a pass that goes ends the
//! bootstrap sessions it opened; floods of refused or failed sign-ins add O(1) log lines and
//! audit records; the audit log is purged past its retention; oversized requests get the API's
//! own error JSON.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Daemon, admin_token, json, send};
use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

const TAPS: &str = "/authentication/temporaryAccessPassMethods";
const POLICY: &str = "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass";
const AUDITS: &str = "/v1.0/auditLogs/directoryAudits";
const REVOKED: &str = "Revoke sign-in sessions";
const TAP_FAILED: &str = "Temporary access pass sign-in failed";

/// One browser against the daemon's pages: a cookie jar, and a software authenticator holding
/// at most one passkey.
struct Browser {
    base: String,
    http: reqwest::Client,
    jar: HashMap<String, String>,
    key: SoftPasskey,
    credential_id: Option<Value>,
    user_handle: Option<String>,
}

struct Reply {
    status: u16,
    location: String,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// The page's CSRF token: its meta tag, else a form's hidden field.
    fn csrf(&self) -> String {
        for marker in [r#"name="csrf-token" content=""#, r#"name="csrf" value=""#] {
            if let Some(rest) = self.text.split(marker).nth(1) {
                return rest.split('"').next().unwrap_or("").to_owned();
            }
        }
        panic!("no CSRF token in:\n{}", self.text)
    }
}

impl Browser {
    fn new(daemon: &Daemon) -> Browser {
        Browser {
            // The pages' origin is the public URL: localhost, not 127.0.0.1.
            base: daemon.base.replace("127.0.0.1", "localhost"),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            jar: HashMap::new(),
            key: SoftPasskey::new(true),
            credential_id: None,
            user_handle: None,
        }
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Reply {
        let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let res = req
            .header(COOKIE, cookies.join("; "))
            .header(ORIGIN, &self.base)
            .send()
            .await
            .expect("request");
        for c in res.headers().get_all(SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.jar.remove(k);
            } else {
                self.jar.insert(k.into(), v.into());
            }
        }
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        Reply {
            status,
            location,
            text: res.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Reply {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    async fn json(&mut self, path: &str, csrf: &str, body: Value) -> Reply {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("x-csrf-token", csrf)
            .json(&body);
        self.send(req).await
    }

    async fn sign_in_with_pass(&mut self, upn: &str, pass: &str) -> Reply {
        let csrf = self.get("/signin/tap").await.csrf();
        let req = self.http.post(format!("{}/signin/tap", self.base)).form(&[
            ("csrf", csrf.as_str()),
            ("upn", upn),
            ("pass", pass),
        ]);
        self.send(req).await
    }

    /// The session cookie, to replay after the browser has let go of it.
    fn session_cookie(&self) -> Option<(String, String)> {
        self.jar
            .iter()
            .find(|(k, _)| k.contains("tapbridge_session"))
            .map(|(k, v)| (k.clone(), v.clone()))
    }

    /// Starts a registration and lets the authenticator answer it; returns the CSRF token and
    /// the finishing request's body, or the reply that refused the start.
    async fn prepare_registration(&mut self) -> Result<(String, Value), Reply> {
        let page = self.get("/register").await;
        if page.status != 200 {
            return Err(page);
        }
        let csrf = page.csrf();
        let start = self.json("/register/options", &csrf, json!({})).await;
        if start.status != 200 {
            return Err(start);
        }
        let start = start.json();
        let mut options: CreationChallengeResponse =
            serde_json::from_value(start["options"].clone()).unwrap();
        self.user_handle = Some(URL_SAFE_NO_PAD.encode(&options.public_key.user.id));
        // The software key cannot keep resident keys; it keeps the handle as one would.
        if let Some(sel) = options.public_key.authenticator_selection.as_mut() {
            sel.require_resident_key = false;
            sel.resident_key = None;
        }
        let credential = self
            .key
            .do_registration(Url::parse(&self.base).unwrap(), options)
            .expect("registration");
        let credential = serde_json::to_value(&credential).unwrap();
        self.credential_id = Some(credential["rawId"].clone());
        Ok((
            csrf,
            json!({"ceremony": start["ceremony"], "name": "test key", "credential": credential}),
        ))
    }

    async fn finish_registration(&mut self, csrf: &str, body: Value) -> Reply {
        self.json("/register", csrf, body).await
    }

    /// Signs in with the authenticator's passkey (no user name), as the sign-in page does.
    async fn passkey_sign_in(&mut self) -> Reply {
        let csrf = self.get("/signin").await.csrf();
        let start = self.json("/signin/passkey/options", &csrf, json!({})).await;
        assert_eq!(start.status, 200, "{}", start.text);
        let start = start.json();
        let mut options: RequestChallengeResponse =
            serde_json::from_value(start["options"].clone()).unwrap();
        let id = self.credential_id.clone().expect("a passkey");
        options.public_key.allow_credentials =
            vec![serde_json::from_value(json!({"type": "public-key", "id": id})).unwrap()];
        options.mediation = None;
        let assertion = self
            .key
            .do_authentication(Url::parse(&self.base).unwrap(), options)
            .expect("assertion");
        let mut assertion = serde_json::to_value(&assertion).unwrap();
        assertion["response"]["userHandle"] = json!(self.user_handle);
        self.json(
            "/signin/passkey",
            &csrf,
            json!({"ceremony": start["ceremony"], "credential": assertion}),
        )
        .await
    }
}

struct Admin {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Admin {
    fn new(daemon: &Daemon) -> Admin {
        Admin {
            http: reqwest::Client::new(),
            base: daemon.base.clone(),
            token: admin_token(&daemon.dir),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        send(req).await
    }

    async fn user(&self, upn: &str) {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/v1.0/users",
                Some(json!({"userPrincipalName": upn, "displayName": upn})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }

    /// Issues a pass; returns (its id, its value).
    async fn pass(&self, upn: &str, once: bool) -> (String, String) {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                &format!("/v1.0/users/{upn}{TAPS}"),
                Some(json!({"lifetimeInMinutes": 60, "isUsableOnce": once})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        (
            body["id"].as_str().unwrap().to_owned(),
            body["temporaryAccessPass"].as_str().unwrap().to_owned(),
        )
    }

    async fn audits(&self, activity: &str) -> Vec<Value> {
        let (status, body) = send(
            self.http
                .get(format!("{}{AUDITS}", self.base))
                .query(&[
                    ("$filter", format!("activityDisplayName eq '{activity}'")),
                    ("$top", "999".to_owned()),
                ])
                .bearer_auth(&self.token),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        body["value"].as_array().unwrap().clone()
    }

    /// The "Revoke sign-in sessions" records about `upn`, as (resultReason, count).
    async fn revocations(&self, upn: &str) -> Vec<(String, String)> {
        self.audits(REVOKED)
            .await
            .iter()
            .filter(|a| a["targetResources"][0]["userPrincipalName"] == upn)
            .map(|a| {
                (
                    a["resultReason"].as_str().unwrap().to_owned(),
                    detail(a, "count"),
                )
            })
            .collect()
    }

    async fn passkeys(&self, upn: &str) -> usize {
        let (status, body) = self
            .call(
                reqwest::Method::GET,
                &format!("/v1.0/users/{upn}/authentication/fido2Methods"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["value"].as_array().unwrap().len()
    }

    async fn metric(&self, series: &str) -> f64 {
        let text = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{series} missing from:\n{text}"))
    }
}

fn detail(audit: &Value, key: &str) -> String {
    audit["additionalDetails"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["key"] == key)
        .and_then(|d| d["value"].as_str())
        .unwrap_or("")
        .to_owned()
}

/// Asserts that the session of `b` is gone: no registration, no page, only the sign-in page.
async fn assert_session_ended(b: &mut Browser, what: &str) {
    let page = b.get("/register").await;
    assert_eq!(
        (page.status, page.location.as_str()),
        (303, "/signin"),
        "{what}: the registration page is refused"
    );
    let options = b.json("/register/options", "", json!({})).await;
    assert_ne!(options.status, 200, "{what}: no registration starts");
    let info = b.get("/security-info").await;
    assert_eq!(
        info.location, "/signin",
        "{what}: not even the bootstrap redirect"
    );
}

#[tokio::test]
async fn a_pass_that_stops_being_usable_ends_the_sessions_it_opened() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(
        dir.path(),
        &[
            ("TAPBRIDGE_DATABASE__DURABILITY", "normal"),
            ("TAPBRIDGE_TAP__MAX_FAILED_ATTEMPTS", "3"),
            ("TAPBRIDGE_WEB__SIGNIN_PER_MINUTE_PER_USER", "1000"),
            ("TAPBRIDGE_WEB__SIGNIN_PER_MINUTE_PER_ADDRESS", "1000"),
        ],
    );
    let admin = Admin::new(&daemon);

    // Deleted through the Graph API while a registration is under way: the answer that
    // arrives afterwards is refused, and no passkey (so no full session) ever exists.
    let upn = "del@example.com";
    admin.user(upn).await;
    let (tap_id, pass) = admin.pass(upn, false).await;
    let mut b = Browser::new(&daemon);
    let signed_in = b.sign_in_with_pass(upn, &pass).await;
    assert_eq!(
        (signed_in.status, signed_in.location.as_str()),
        (303, "/register"),
        "{}",
        signed_in.text
    );
    let (csrf, answer) = b.prepare_registration().await.map_err(|r| r.text).unwrap();
    let (status, body) = admin
        .call(
            reqwest::Method::DELETE,
            &format!("/v1.0/users/{upn}{TAPS}/{tap_id}"),
            None,
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let finished = b.finish_registration(&csrf, answer).await;
    assert_ne!(finished.status, 200, "{}", finished.text);
    assert_session_ended(&mut b, "deleted").await;
    assert_eq!(admin.passkeys(upn).await, 0, "no passkey was registered");
    let full = b.passkey_sign_in().await;
    assert_ne!(full.status, 200, "no full session: {}", full.text);
    assert_eq!(
        admin.revocations(upn).await,
        vec![("revoked: pass deleted".to_owned(), "1".to_owned())]
    );

    // Replaced by a new pass.
    let upn = "rep@example.com";
    admin.user(upn).await;
    let (_, pass) = admin.pass(upn, false).await;
    let mut b = Browser::new(&daemon);
    assert_eq!(b.sign_in_with_pass(upn, &pass).await.status, 303);
    assert!(b.prepare_registration().await.is_ok(), "live before");
    admin.pass(upn, false).await;
    assert_session_ended(&mut b, "replaced").await;
    assert_eq!(
        admin.revocations(upn).await,
        vec![(
            "revoked: pass replaced by a new one".to_owned(),
            "1".to_owned()
        )]
    );

    // Locked by someone else's wrong codes.
    let upn = "lock@example.com";
    admin.user(upn).await;
    let (_, pass) = admin.pass(upn, false).await;
    let mut b = Browser::new(&daemon);
    assert_eq!(b.sign_in_with_pass(upn, &pass).await.status, 303);
    let mut intruder = Browser::new(&daemon);
    for _ in 0..3 {
        assert_eq!(
            intruder.sign_in_with_pass(upn, "WRONGPASS").await.status,
            400
        );
    }
    assert_session_ended(&mut b, "locked").await;
    assert_eq!(
        admin.revocations(upn).await,
        vec![(
            "revoked: pass locked after repeated wrong codes".to_owned(),
            "1".to_owned()
        )]
    );

    // A one-time pass is spent by the registration it allowed: the passkey then signs in
    // (a full session, legitimately), the pass's session is over.
    let upn = "one@example.com";
    admin.user(upn).await;
    let (_, pass) = admin.pass(upn, true).await;
    let mut b = Browser::new(&daemon);
    assert_eq!(b.sign_in_with_pass(upn, &pass).await.status, 303);
    let spent = b.session_cookie().expect("a session cookie");
    let (csrf, answer) = b.prepare_registration().await.map_err(|r| r.text).unwrap();
    let finished = b.finish_registration(&csrf, answer).await;
    assert_eq!(finished.status, 200, "{}", finished.text);
    assert_eq!(finished.json()["redirect"], "/register/done?lang=en");
    assert!(b.session_cookie().is_none(), "the cookie is cleared");
    let done = b.get("/register/done?lang=de").await;
    assert_eq!(done.status, 200, "the last page still shows");
    assert!(done.text.contains(r#"href="/signin""#), "{}", done.text);
    assert!(
        done.text.contains("brauchen Sie nicht mehr"),
        "in the language asked"
    );
    let mut replay = Browser::new(&daemon);
    replay.jar.insert(spent.0, spent.1);
    assert_session_ended(&mut replay, "one-time pass spent").await;
    let full = b.passkey_sign_in().await;
    assert_eq!(full.status, 200, "{}", full.text);
    assert_eq!(b.get("/security-info").await.status, 200);
    assert_eq!(
        admin.revocations(upn).await,
        vec![(
            "ended: its one-time pass is spent (passkey registered)".to_owned(),
            "1".to_owned()
        )]
    );

    // A condition rather than an event: the policy switched off. The next request finds it.
    let upn = "pol@example.com";
    admin.user(upn).await;
    let (_, pass) = admin.pass(upn, false).await;
    let mut b = Browser::new(&daemon);
    assert_eq!(b.sign_in_with_pass(upn, &pass).await.status, 303);
    let (status, body) = admin
        .call(
            reqwest::Method::PATCH,
            POLICY,
            Some(json!({"state": "disabled"})),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    assert_session_ended(&mut b, "policy off").await;
    assert_eq!(
        admin.revocations(upn).await,
        vec![(
            "revoked: its pass is no longer usable: PolicyDisabled".to_owned(),
            "1".to_owned()
        )]
    );
    daemon.stop();
}

/// POSTs the pass form `n` times from one client for `upn`; returns the statuses' counts.
async fn flood(b: &mut Browser, upn: &str, n: usize) -> HashMap<u16, usize> {
    let csrf = b.get("/signin/tap").await.csrf();
    let mut counts = HashMap::new();
    for _ in 0..n {
        let req = b.http.post(format!("{}/signin/tap", b.base)).form(&[
            ("csrf", csrf.as_str()),
            ("upn", upn),
            ("pass", "NOTAPASS"),
        ]);
        *counts.entry(b.send(req).await.status).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn a_flood_of_refused_sign_ins_adds_one_log_line_and_one_audit_record() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(
        dir.path(),
        &[
            ("TAPBRIDGE_DATABASE__DURABILITY", "normal"),
            ("TAPBRIDGE_WEB__SIGNIN_PER_MINUTE_PER_ADDRESS", "5"),
        ],
    );
    let admin = Admin::new(&daemon);
    let mut b = Browser::new(&daemon);
    let n = 400;
    let counts = flood(&mut b, "nobody@example.com", n).await;
    // Five tokens, and one more for every 12 s the flood takes.
    let through = counts.get(&400).copied().unwrap_or(0);
    assert!((5..=7).contains(&through), "{counts:?}");
    assert_eq!(counts.get(&429), Some(&(n - through)), "{counts:?}");

    let logs = daemon.logs();
    let refusal_lines = logs
        .lines()
        .filter(|l| l.contains("refused by the rate limit"))
        .count();
    assert_eq!(refusal_lines, 1, "{logs}");
    assert!(
        !logs.lines().any(|l| l.contains("status=429")),
        "no access line per refusal"
    );
    assert_eq!(
        admin
            .metric("tapbridge_signin_rate_limited_total{limit=\"address\"}")
            .await,
        (n - through) as f64
    );

    // Those that got through were the same failure from the same client: one record.
    let failed = admin.audits(TAP_FAILED).await;
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(detail(&failed[0], "occurrences"), through.to_string());
    assert!(!detail(&failed[0], "lastActivityDateTime").is_empty());
    assert_eq!(failed[0]["initiatedBy"]["user"]["ipAddress"], "127.0.0.1");
    assert_eq!(failed[0]["resultReason"], "no such user or no pass");
    daemon.stop();
}

#[tokio::test]
async fn a_flood_of_failed_sign_ins_with_raised_limits_adds_one_record_per_failure_kind() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(
        dir.path(),
        &[
            ("TAPBRIDGE_DATABASE__DURABILITY", "normal"),
            ("TAPBRIDGE_TAP__MAX_FAILED_ATTEMPTS", "5"),
            ("TAPBRIDGE_WEB__SIGNIN_PER_MINUTE_PER_ADDRESS", "10000"),
            ("TAPBRIDGE_WEB__SIGNIN_PER_MINUTE_PER_USER", "10000"),
        ],
    );
    let admin = Admin::new(&daemon);
    admin.user("ada@example.com").await;
    admin.pass("ada@example.com", false).await;
    let mut b = Browser::new(&daemon);
    let n = 300;
    let unknown = flood(&mut b, "nobody@example.com", n).await;
    assert_eq!(unknown.get(&400), Some(&n), "{unknown:?}");
    // Wrong codes until the pass locks, then the same refusal over and over.
    let holder = flood(&mut b, "ada@example.com", n).await;
    assert_eq!(holder.get(&400), Some(&n), "{holder:?}");

    let failed = admin.audits(TAP_FAILED).await;
    let mut seen: Vec<(String, String)> = failed
        .iter()
        .map(|a| {
            (
                a["resultReason"].as_str().unwrap().to_owned(),
                detail(a, "occurrences"),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("LockedOut".to_owned(), (n - 5).to_string()),
            ("no such user or no pass".to_owned(), n.to_string()),
            ("wrong pass".to_owned(), "5".to_owned()),
        ],
        "{failed:#?}"
    );
    let wrong = failed
        .iter()
        .find(|a| a["resultReason"] == "wrong pass")
        .unwrap();
    assert_eq!(detail(wrong, "failedAttempts"), "5", "the latest count");
    assert_eq!(
        admin
            .audits("Temporary access pass locked after repeated failures")
            .await
            .len(),
        1
    );
    daemon.stop();
}

#[tokio::test]
async fn the_audit_log_is_purged_past_its_retention() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("TAPBRIDGE_DATABASE__DURABILITY", "normal"),
        ("TAPBRIDGE_AUDIT__RETENTION_DAYS", "30"),
    ];
    let daemon = Daemon::start(dir.path(), &env);
    let admin = Admin::new(&daemon);
    for i in 0..5 {
        admin.user(&format!("old{i}@example.com")).await;
    }
    admin.user("recent@example.com").await;
    daemon.stop();

    // Five of the records age by 31 days (the test's one way to let time pass).
    let db = dir.path().join("data/tapbridge.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let aged = sqlx::query(
        "UPDATE audit_log SET at = at - 31 * 86400000
         WHERE activity = 'Add user' AND targets LIKE '%old%'",
    )
    .execute(&pool)
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(aged, 5);
    pool.close().await;

    // The purge runs at start.
    let daemon = Daemon::start(dir.path(), &env);
    let admin = Admin {
        base: daemon.base.clone(),
        ..admin
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let remaining = loop {
        let left: Vec<String> = admin
            .audits("Add user")
            .await
            .iter()
            .map(|a| {
                a["targetResources"][0]["userPrincipalName"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        if left.len() == 1 || Instant::now() > deadline {
            break left;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(remaining, vec!["recent@example.com".to_owned()]);
    let purge = admin.audits("Purge audit records past retention").await;
    assert_eq!(purge.len(), 1, "{purge:#?}");
    assert_eq!(detail(&purge[0], "count"), "5");
    assert_eq!(detail(&purge[0], "retentionDays"), "30");
    assert_eq!(
        admin.metric("tapbridge_audit_records_purged_total").await,
        5.0
    );
    assert!(
        daemon
            .logs()
            .contains("purged audit records past their retention")
    );
    daemon.stop();
}

fn scim_token(dir: &std::path::Path) -> String {
    let v = json(
        dir,
        &[
            "token",
            "create",
            "--name",
            "hr",
            "--scim-source",
            "hr",
            "--json",
        ],
    );
    v["token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn oversized_bodies_and_uris_get_each_apis_error_json() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(
        dir.path(),
        &[("TAPBRIDGE_SERVER__BODY_LIMIT_BYTES", "2048")],
    );
    let admin = Admin::new(&daemon);
    let scim = scim_token(dir.path());
    let c = reqwest::Client::new();
    let big_body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "big@example.com",
        "displayName": "x".repeat(4096),
    })
    .to_string();
    let long = "a".repeat(20 * 1024);

    let scim_error = |status: u16, res: (u16, Value), content_type: &str| {
        assert_eq!(res.0, status, "{}", res.1);
        assert!(
            content_type.starts_with("application/scim+json"),
            "{content_type}"
        );
        assert_eq!(
            res.1["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
        assert_eq!(res.1["status"], status.to_string());
        assert!(res.1["detail"].as_str().is_some_and(|d| !d.is_empty()));
    };
    let graph_error = |status: u16, code: &str, res: (u16, Value)| {
        assert_eq!(res.0, status, "{}", res.1);
        assert_eq!(res.1["error"]["code"], code, "{}", res.1);
        assert!(res.1["error"]["innerError"]["request-id"].is_string());
    };
    async fn with_type(req: reqwest::RequestBuilder) -> ((u16, Value), String) {
        let res = req.send().await.unwrap();
        let content_type = res
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (
            (
                status,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            ),
            content_type,
        )
    }

    let (res, ct) = with_type(
        c.post(daemon.url("/scim/v2/Users"))
            .bearer_auth(&scim)
            .header("content-type", "application/scim+json")
            .body(big_body.clone()),
    )
    .await;
    scim_error(413, res, &ct);
    let (res, ct) = with_type(
        c.get(daemon.url(&format!(
            "/scim/v2/Users?filter=userName%20eq%20%22{long}%22"
        )))
        .bearer_auth(&scim),
    )
    .await;
    scim_error(414, res, &ct);
    // Not even a token is needed to be told: the limit comes first.
    let (res, ct) = with_type(c.get(daemon.url(&format!("/scim/v2/{long}")))).await;
    scim_error(414, res, &ct);

    let res = send(
        c.post(daemon.url("/v1.0/users"))
            .bearer_auth(&admin.token)
            .header("content-type", "application/json")
            .body(big_body),
    )
    .await;
    graph_error(413, "requestTooLarge", res);
    let res = send(
        c.get(daemon.url(&format!(
            "/v1.0/users?$filter=userPrincipalName%20eq%20'{long}'"
        )))
        .bearer_auth(&admin.token),
    )
    .await;
    graph_error(414, "requestUriTooLong", res);
    for path in ["/v1.0/tapbridge/mail/outbox", "/v1.0/tapbridge/syncSources"] {
        let res = send(
            c.get(daemon.url(&format!("{path}?x={long}")))
                .bearer_auth(&admin.token),
        )
        .await;
        graph_error(414, "requestUriTooLong", res);
    }
    // Nothing was created by any of it.
    let (status, users) = admin.call(reqwest::Method::GET, "/v1.0/users", None).await;
    assert_eq!(status, 200);
    assert_eq!(users["value"].as_array().unwrap().len(), 0, "{users}");
    daemon.stop();
}
