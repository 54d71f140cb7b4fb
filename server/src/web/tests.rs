//! The pages through `routes(state)`, without a socket, with a software authenticator standing
//! in for the browser's.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

use super::{WebSettings, WebState, routes};
use plugin::domain::audit::AuditQuery;
use plugin::domain::directory::{NewUser, UserRef};
use plugin::domain::fido2_policy::{EnforcementType, Fido2PolicyPatch, KeyRestrictionsPatch};
use plugin::domain::session::SessionTimeouts;
use plugin::domain::tap_policy::TapRequest;
use plugin::platform::testing::{Fixture, fixture};
use plugin::platform::{Caller, Passwordless, PasswordlessSettings};
use plugin::secret::ServerSecret;

const ORIGIN: &str = "http://localhost:8080";

struct Site {
    f: Fixture,
    state: WebState,
}

/// One browser: a cookie jar and an authenticator holding at most one passkey.
struct Browser {
    cookies: HashMap<String, String>,
    origin: String,
    accept_language: Option<String>,
    accept: Option<String>,
    key: SoftPasskey,
    credential_id: Option<Value>,
    user_handle: Option<String>,
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The value of the form field `name` on the page (the first one).
    fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .text
            .find(&marker)
            .unwrap_or_else(|| panic!("no field {name} in {}", self.text))
            + marker.len();
        self.text[start..]
            .split('"')
            .next()
            .unwrap_or("")
            .to_owned()
    }

    /// The text of the element with `id` (up to its first tag).
    fn by_id(&self, id: &str) -> Option<String> {
        let marker = format!("id=\"{id}\"");
        let at = self.text.find(&marker)?;
        let rest = &self.text[at..];
        let start = rest.find('>')? + 1;
        Some(
            rest[start..]
                .split('<')
                .next()
                .unwrap_or("")
                .trim()
                .to_owned(),
        )
    }

    /// The page's CSRF token (from its meta tag or a hidden field).
    fn csrf(&self) -> String {
        let marker = if self.text.contains("name=\"csrf-token\" content=\"") {
            "name=\"csrf-token\" content=\""
        } else {
            "name=\"csrf\" value=\""
        };
        let start = self.text.find(marker).expect("csrf token in page") + marker.len();
        self.text[start..]
            .split('"')
            .next()
            .unwrap_or("")
            .to_owned()
    }
}

impl Site {
    async fn new() -> Site {
        Site::with_limits(1000, 1000).await
    }

    async fn with_limits(per_address: u32, per_user: u32) -> Site {
        Site::over(fixture().await, per_address, per_user)
    }

    /// Another node over the same database: its own pool, platform and pages, nothing
    /// shared with this one in memory.
    async fn second_node(&self) -> Site {
        let settings = self.f._dir.settings();
        let store = plugin::store::Store::open_without_migrating(&settings)
            .await
            .unwrap();
        let platform = Arc::new(plugin::platform::Platform::new(
            store,
            self.f.clock.clone(),
            &ServerSecret::from_bytes(vec![42; 32]).unwrap(),
            plugin::platform::PlatformSettings::default(),
            Arc::default(),
        ));
        let f = plugin::platform::testing::Fixture {
            platform,
            clock: self.f.clock.clone(),
            _dir: plugin::store::testing::TestDb::Shared(settings),
        };
        Site::over(f, 1000, 1000)
    }

    fn over(f: plugin::platform::testing::Fixture, per_address: u32, per_user: u32) -> Site {
        let webauthn =
            plugin::platform::passkeys::verifier("localhost", "tapbridge", &[format!("{ORIGIN}/")])
                .unwrap();
        let passwordless = Arc::new(Passwordless::new(
            f.platform.clone(),
            webauthn,
            &ServerSecret::from_bytes(vec![42; 32]).unwrap(),
            PasswordlessSettings {
                timeouts: SessionTimeouts::default(),
                attestation_cas: None,
            },
        ));
        let state = WebState::new(
            passwordless,
            WebSettings {
                allowed_origins: vec![ORIGIN.into()],
                secure_cookies: true,
                signin_per_minute_per_address: per_address,
                signin_per_minute_per_user: per_user,
            },
        );
        Site { f, state }
    }

    async fn user(&self, upn: &str) {
        self.f
            .platform
            .create_user(
                &Caller::operator(),
                NewUser {
                    user_principal_name: upn.into(),
                    account_enabled: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }

    async fn pass(&self, upn: &str, once: bool) -> String {
        let issued = self
            .f
            .platform
            .issue_tap(
                &Caller::operator(),
                &UserRef::parse(upn).unwrap(),
                TapRequest {
                    start_date_time: None,
                    lifetime_in_minutes: Some(60),
                    is_usable_once: Some(once),
                },
            )
            .await
            .unwrap();
        issued.pass.expose().to_owned()
    }

    async fn send(
        &self,
        b: &mut Browser,
        method: Method,
        path: &str,
        body: Body,
        kind: Option<&str>,
        csrf: Option<&str>,
    ) -> Reply {
        let mut req = Request::builder().method(method.clone()).uri(path);
        if method != Method::GET {
            req = req.header(header::ORIGIN, &b.origin);
        }
        if let Some(k) = kind {
            req = req.header(header::CONTENT_TYPE, k);
        }
        if let Some(t) = csrf {
            req = req.header("x-csrf-token", t);
        }
        if let Some(l) = &b.accept_language {
            req = req.header(header::ACCEPT_LANGUAGE, l);
        }
        if let Some(a) = &b.accept {
            req = req.header(header::ACCEPT, a);
        }
        let jar: Vec<String> = b.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if !jar.is_empty() {
            req = req.header(header::COOKIE, jar.join("; "));
        }
        let response = routes(self.state.clone())
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        for c in headers.get_all(header::SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                b.cookies.remove(k);
            } else {
                b.cookies.insert(k.into(), v.into());
            }
        }
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get(&self, b: &mut Browser, path: &str) -> Reply {
        self.send(b, Method::GET, path, Body::empty(), None, None)
            .await
    }

    async fn form(&self, b: &mut Browser, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.send(
            b,
            Method::POST,
            path,
            Body::from(body),
            Some("application/x-www-form-urlencoded"),
            None,
        )
        .await
    }

    async fn json(&self, b: &mut Browser, path: &str, csrf: &str, body: Value) -> Reply {
        self.send(
            b,
            Method::POST,
            path,
            Body::from(body.to_string()),
            Some("application/json"),
            Some(csrf),
        )
        .await
    }

    async fn sign_in_with_pass(&self, b: &mut Browser, upn: &str, pass: &str) -> Reply {
        let page = self.get(b, "/signin/tap").await;
        assert_eq!(page.status, StatusCode::OK);
        let csrf = page.csrf();
        self.form(
            b,
            "/signin/tap",
            &[("csrf", &csrf), ("upn", upn), ("pass", pass)],
        )
        .await
    }

    /// Registers a passkey from the registration page; returns the finish reply.
    async fn register(&self, b: &mut Browser, name: &str) -> Reply {
        let page = self.get(b, "/register").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let csrf = page.csrf();
        let start = self.json(b, "/register/options", &csrf, json!({})).await;
        if start.status != StatusCode::OK {
            return start;
        }
        let start = start.json();
        let options: CreationChallengeResponse =
            serde_json::from_value(start["options"].clone()).unwrap();
        let sel = options.public_key.authenticator_selection.as_ref().unwrap();
        assert!(sel.require_resident_key, "a passkey must be discoverable");
        let credential = b.create(options);
        self.json(
            b,
            "/register",
            &csrf,
            json!({ "ceremony": start["ceremony"], "name": name, "credential": credential }),
        )
        .await
    }

    /// Signs in with the passkey, no user name; returns the options and finish replies.
    async fn passkey_sign_in(&self, b: &mut Browser) -> (Value, Reply) {
        let page = self.get(b, "/signin").await;
        let csrf = page.csrf();
        let start = self
            .json(b, "/signin/passkey/options", &csrf, json!({}))
            .await;
        assert_eq!(start.status, StatusCode::OK, "{}", start.text);
        let start = start.json();
        let options: RequestChallengeResponse =
            serde_json::from_value(start["options"].clone()).unwrap();
        assert!(
            options.public_key.allow_credentials.is_empty(),
            "no user name, no list"
        );
        let assertion = b.get(options);
        let body = json!({ "ceremony": start["ceremony"], "credential": assertion });
        let reply = self.json(b, "/signin/passkey", &csrf, body.clone()).await;
        (body, reply)
    }

    async fn audit(&self, activity: &str) -> Vec<plugin::domain::audit::AuditEntry> {
        self.f
            .platform
            .audit_log(
                &Caller::operator(),
                &AuditQuery {
                    before_seq: None,
                    limit: 100,
                    activity: Some(activity.into()),
                },
            )
            .await
            .unwrap()
    }
}

impl Browser {
    fn new() -> Browser {
        Browser {
            cookies: HashMap::new(),
            origin: ORIGIN.into(),
            accept_language: None,
            accept: None,
            key: SoftPasskey::new(true),
            credential_id: None,
            user_handle: None,
        }
    }

    /// `navigator.credentials.create`. The software key cannot store resident keys, so it is
    /// told not to; it keeps the user handle the way a discoverable credential would.
    fn create(&mut self, mut options: CreationChallengeResponse) -> Value {
        self.user_handle = Some(URL_SAFE_NO_PAD.encode(&options.public_key.user.id));
        if let Some(sel) = options.public_key.authenticator_selection.as_mut() {
            sel.require_resident_key = false;
            sel.resident_key = None;
        }
        let origin = Url::parse(&self.origin).unwrap();
        let reg = self
            .key
            .do_registration(origin, options)
            .expect("registration");
        let v = serde_json::to_value(&reg).unwrap();
        self.credential_id = Some(v["rawId"].clone());
        v
    }

    /// `navigator.credentials.get` for a discoverable credential: picks its one passkey and
    /// returns the user handle stored with it.
    fn get(&mut self, mut options: RequestChallengeResponse) -> Value {
        let id = self.credential_id.clone().expect("a registered passkey");
        options.public_key.allow_credentials =
            vec![serde_json::from_value(json!({ "type": "public-key", "id": id })).unwrap()];
        options.mediation = None;
        let origin = Url::parse(&self.origin).unwrap();
        let assertion = self
            .key
            .do_authentication(origin, options)
            .expect("assertion");
        let mut v = serde_json::to_value(&assertion).unwrap();
        v["response"]["userHandle"] = json!(self.user_handle);
        v
    }
}

/// A registration begun on one node finishes on another, and the passkey registered there
/// signs in through the first: ceremonies and sessions live in the database, so any node
/// answers any step (several nodes on PostgreSQL).
#[tokio::test]
async fn ceremonies_and_sessions_cross_nodes() {
    let a = Site::new().await;
    let b = a.second_node().await;
    a.user("nia@example.com").await;
    let pass = a.pass("nia@example.com", true).await;
    let mut browser = Browser::new();
    let signed_in = a
        .sign_in_with_pass(&mut browser, "nia@example.com", &pass)
        .await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.text
    );
    // Registration: options from A, the credential to B.
    let page = b.get(&mut browser, "/register").await;
    assert_eq!(
        page.status,
        StatusCode::OK,
        "B knows A's session: {}",
        page.text
    );
    let csrf = page.csrf();
    let start = a
        .json(&mut browser, "/register/options", &csrf, json!({}))
        .await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.text);
    let start = start.json();
    let options: CreationChallengeResponse =
        serde_json::from_value(start["options"].clone()).unwrap();
    let credential = browser.create(options);
    let done = b
        .json(
            &mut browser,
            "/register",
            &csrf,
            json!({ "ceremony": start["ceremony"], "name": "Key", "credential": credential }),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    // Sign-in: options from B, the assertion to A; the session then works on both.
    let mut fresh = Browser {
        cookies: HashMap::new(),
        ..browser
    };
    let page = b.get(&mut fresh, "/signin").await;
    let csrf = page.csrf();
    let start = b
        .json(&mut fresh, "/signin/passkey/options", &csrf, json!({}))
        .await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.text);
    let start = start.json();
    let options: RequestChallengeResponse =
        serde_json::from_value(start["options"].clone()).unwrap();
    let assertion = fresh.get(options);
    let reply = a
        .json(
            &mut fresh,
            "/signin/passkey",
            &csrf,
            json!({ "ceremony": start["ceremony"], "credential": assertion }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    for node in [&a, &b] {
        let info = node.get(&mut fresh, "/security-info").await;
        assert_eq!(info.status, StatusCode::OK, "{}", info.text);
        assert!(info.text.contains("Key"), "{}", info.text);
    }
}

#[tokio::test]
async fn pass_then_passkey_round_trip() {
    let site = Site::new().await;
    site.user("ada@example.com").await;
    let pass = site.pass("ada@example.com", true).await;
    let mut b = Browser::new();

    let signed_in = site
        .sign_in_with_pass(&mut b, "ada@example.com", &pass)
        .await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.text
    );
    assert_eq!(signed_in.location(), "/register");
    let cookie = signed_in
        .headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(cookie.starts_with("__Host-tapbridge_session="));
    for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }

    let done = site.register(&mut b, "Work laptop").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert_eq!(done.json()["redirect"], "/register/done?lang=en");

    // The pass was one-time: registering spent it, and its session ended with the
    // registration (the cookie is cleared); the last page needs no session and no sign-out.
    assert!(!b.cookies.contains_key("__Host-tapbridge_session"));
    let page = site.get(&mut b, "/register/done?lang=en").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains(r#"href="/signin""#), "{}", page.text);
    assert!(page.text.contains("no longer needed"), "{}", page.text);
    assert_eq!(site.get(&mut b, "/register").await.location(), "/signin");

    let (_, reply) = site.passkey_sign_in(&mut b).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json()["redirect"], "/security-info");

    let info = site.get(&mut b, "/security-info").await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.text);
    assert!(info.text.contains("Work laptop"));
    assert!(info.text.contains("Last used"));
    let csp = info.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(info.headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(info.headers[header::REFERRER_POLICY], "no-referrer");

    assert_eq!(site.audit("User registered security info").await.len(), 1);
    assert_eq!(site.audit("User signed in with passkey").await.len(), 1);
    assert_eq!(
        site.audit("User signed in with temporary access pass")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn every_bad_pass_gets_the_same_answer() {
    let site = Site::new().await;
    site.user("bo@example.com").await;
    let pass = site.pass("bo@example.com", true).await;
    let mut b = Browser::new();
    let generic = "That user name and pass did not work";

    let wrong = site
        .sign_in_with_pass(&mut b, "bo@example.com", "wrongpass")
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.text.contains(generic));
    let nobody = site
        .sign_in_with_pass(&mut b, "nobody@example.com", &pass)
        .await;
    assert!(nobody.text.contains(generic));

    assert_eq!(
        site.sign_in_with_pass(&mut b, "bo@example.com", &pass)
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let mut other = Browser::new();
    let reused = site
        .sign_in_with_pass(&mut other, "bo@example.com", &pass)
        .await;
    assert_eq!(reused.status, StatusCode::BAD_REQUEST);
    assert!(reused.text.contains(generic), "a one-time pass is used up");

    let pass = site.pass("bo@example.com", false).await;
    site.f.clock.advance(time::Duration::minutes(61));
    let expired = site
        .sign_in_with_pass(&mut other, "bo@example.com", &pass)
        .await;
    assert!(expired.text.contains(generic));

    let pass = site.pass("bo@example.com", false).await;
    for _ in 0..10 {
        site.sign_in_with_pass(&mut other, "bo@example.com", "nope-nope")
            .await;
    }
    let locked = site
        .sign_in_with_pass(&mut other, "bo@example.com", &pass)
        .await;
    assert_eq!(locked.status, StatusCode::BAD_REQUEST);
    assert!(
        locked.text.contains(generic),
        "a locked pass fails like a wrong one"
    );
}

#[tokio::test]
async fn a_bootstrap_session_reaches_only_registration() {
    let site = Site::new().await;
    site.user("cy@example.com").await;
    let pass = site.pass("cy@example.com", true).await;
    let mut b = Browser::new();
    site.sign_in_with_pass(&mut b, "cy@example.com", &pass)
        .await;
    assert_eq!(site.get(&mut b, "/register").await.status, StatusCode::OK);
    for path in ["/security-info", "/admin/users", "/admin/policies"] {
        let r = site.get(&mut b, path).await;
        assert!(
            r.status == StatusCode::SEE_OTHER && r.location() == "/register"
                || r.status == StatusCode::NOT_FOUND,
            "{path}: {} {}",
            r.status,
            r.location()
        );
    }
    let rename = site
        .form(
            &mut b,
            &format!("/security-info/passkeys/{}/rename", uuid::Uuid::nil()),
            &[("csrf", "x"), ("name", "n")],
        )
        .await;
    assert_eq!(rename.location(), "/register");

    // The bootstrap window (15 minutes) ends the session even though the pass lives on.
    site.f.clock.advance(time::Duration::minutes(16));
    assert_eq!(site.get(&mut b, "/register").await.location(), "/signin");
}

#[tokio::test]
async fn replayed_and_foreign_answers_are_refused() {
    let site = Site::new().await;
    site.user("di@example.com").await;
    let pass = site.pass("di@example.com", true).await;
    let mut b = Browser::new();
    site.sign_in_with_pass(&mut b, "di@example.com", &pass)
        .await;
    assert_eq!(site.register(&mut b, "").await.status, StatusCode::OK);

    let mut fresh = Browser::new();
    fresh.key = std::mem::take(&mut b.key);
    fresh.credential_id = b.credential_id.clone();
    fresh.user_handle = b.user_handle.clone();
    let (body, first) = site.passkey_sign_in(&mut fresh).await;
    assert_eq!(first.status, StatusCode::OK);
    let csrf = site.get(&mut fresh, "/signin").await.csrf();
    let replay = site.json(&mut fresh, "/signin/passkey", &csrf, body).await;
    assert_eq!(
        replay.status,
        StatusCode::BAD_REQUEST,
        "a ceremony is single-use"
    );
    assert!(
        replay.json()["error"]
            .as_str()
            .unwrap()
            .contains("could not be verified")
    );

    // An assertion made for another origin does not verify.
    fresh.origin = "http://localhost:9999".into();
    let csrf2 = site.get(&mut fresh, "/signin").await.csrf();
    fresh.origin = ORIGIN.into();
    let start = site
        .json(&mut fresh, "/signin/passkey/options", &csrf2, json!({}))
        .await
        .json();
    let options: RequestChallengeResponse =
        serde_json::from_value(start["options"].clone()).unwrap();
    fresh.origin = "http://localhost:9999".into();
    let assertion = fresh.get(options);
    fresh.origin = ORIGIN.into();
    let foreign = site
        .json(
            &mut fresh,
            "/signin/passkey",
            &csrf2,
            json!({ "ceremony": start["ceremony"], "credential": assertion }),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::BAD_REQUEST);

    // A request from another site's page is refused before anything else.
    fresh.origin = "https://evil.example".into();
    let cross = site
        .json(&mut fresh, "/signin/passkey/options", &csrf2, json!({}))
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);

    assert!(site.audit("Passkey sign-in failed").await.len() >= 2);
}

#[tokio::test]
async fn a_counter_that_goes_backwards_is_refused_and_audited() {
    let site = Site::new().await;
    site.user("ed@example.com").await;
    let pass = site.pass("ed@example.com", true).await;
    let mut b = Browser::new();
    site.sign_in_with_pass(&mut b, "ed@example.com", &pass)
        .await;
    site.register(&mut b, "key").await;
    let (_, ok) = site.passkey_sign_in(&mut b).await;
    assert_eq!(ok.status, StatusCode::OK);
    // Pretend a clone of this authenticator signed in far more often.
    let mut conn = site.f.platform.store().write().await.unwrap();
    plugin::store::query(conn.pick(
        "UPDATE webauthn_credentials SET passkey = json_set(passkey, '$.cred.counter', 1000)",
        "UPDATE webauthn_credentials SET passkey = jsonb_set(passkey::jsonb, '{cred,counter}', '1000')::text",
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    conn.commit().await.unwrap();
    let (_, refused) = site.passkey_sign_in(&mut b).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let failures = site.audit("Passkey sign-in failed").await;
    assert!(failures.iter().any(|e| {
        e.result_reason
            .as_deref()
            .is_some_and(|r| r.contains("counter"))
    }));
}

#[tokio::test]
async fn csrf_and_malformed_input_get_a_page_and_change_nothing() {
    let site = Site::new().await;
    site.user("fay@example.com").await;
    let pass = site.pass("fay@example.com", true).await;
    let mut b = Browser::new();
    // No token: refused, and the one-time pass is not consumed.
    site.get(&mut b, "/signin/tap").await;
    let no_token = site
        .form(
            &mut b,
            "/signin/tap",
            &[("upn", "fay@example.com"), ("pass", &pass)],
        )
        .await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    assert!(no_token.text.contains("<!doctype html>"));
    let garbage = site
        .send(
            &mut b,
            Method::POST,
            "/signin/tap",
            Body::from("%%%&&&=\u{0}"),
            Some("application/x-www-form-urlencoded"),
            None,
        )
        .await;
    assert_eq!(garbage.status, StatusCode::FORBIDDEN);
    let wrong_type = site
        .send(
            &mut b,
            Method::POST,
            "/signin/tap",
            Body::from("{}"),
            Some("application/json"),
            None,
        )
        .await;
    assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST);
    assert!(wrong_type.text.contains("malformed"));
    assert_eq!(
        site.sign_in_with_pass(&mut b, "fay@example.com", &pass)
            .await
            .status,
        StatusCode::SEE_OTHER
    );

    let bad_json = site
        .json(&mut b, "/register", "x", json!({"ceremony": 1}))
        .await;
    assert!(bad_json.status.is_client_error());
    let no_csrf = site.json(&mut b, "/register/options", "", json!({})).await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
    let bad_path = site
        .form(&mut b, "/security-info/passkeys/not-a-uuid/delete", &[])
        .await;
    assert!(bad_path.status.is_client_error() || bad_path.status.is_redirection());
}

#[tokio::test]
async fn pass_sign_in_is_rate_limited_per_user() {
    let site = Site::with_limits(1000, 3).await;
    site.user("gus@example.com").await;
    let mut b = Browser::new();
    for _ in 0..3 {
        let r = site
            .sign_in_with_pass(&mut b, "gus@example.com", "wrong-pass")
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
    let limited = site
        .sign_in_with_pass(&mut b, "GUS@example.com", "wrong-pass")
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn deleting_the_last_passkey_asks_first() {
    let site = Site::new().await;
    site.user("hal@example.com").await;
    let pass = site.pass("hal@example.com", true).await;
    let mut b = Browser::new();
    site.sign_in_with_pass(&mut b, "hal@example.com", &pass)
        .await;
    site.register(&mut b, "only").await;
    site.passkey_sign_in(&mut b).await;
    let info = site.get(&mut b, "/security-info").await;
    let csrf = info.csrf();
    let id = info.text.split("/security-info/passkeys/").nth(1).unwrap()[..36].to_owned();
    let renamed = site
        .form(
            &mut b,
            &format!("/security-info/passkeys/{id}/rename"),
            &[("csrf", &csrf), ("name", "Phone")],
        )
        .await;
    assert_eq!(renamed.status, StatusCode::SEE_OTHER);
    let ask = site
        .form(
            &mut b,
            &format!("/security-info/passkeys/{id}/delete"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(ask.status, StatusCode::OK);
    assert!(ask.text.contains("Delete your last passkey?"));
    assert!(
        site.get(&mut b, "/security-info")
            .await
            .text
            .contains("Phone")
    );
    let gone = site
        .form(
            &mut b,
            &format!("/security-info/passkeys/{id}/delete"),
            &[("csrf", &csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER);
    assert!(
        site.get(&mut b, "/security-info")
            .await
            .text
            .contains("You have no passkey")
    );
    assert_eq!(site.audit("User deleted security info").await.len(), 1);
}

#[tokio::test]
async fn fido2_policy_applies_at_registration_and_sign_in() {
    let site = Site::new().await;
    site.user("ivy@example.com").await;
    let op = Caller::operator();
    let mut b = Browser::new();
    let pass = site.pass("ivy@example.com", false).await;
    site.sign_in_with_pass(&mut b, "ivy@example.com", &pass)
        .await;

    // Attestation enforced with no trusted roots: nothing can register.
    let enforce = |v| Fido2PolicyPatch {
        is_attestation_enforced: Some(v),
        ..Default::default()
    };
    site.f
        .platform
        .update_fido2_policy(&op, enforce(true))
        .await
        .unwrap();
    let refused = site.register(&mut b, "").await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.json()["error"]
            .as_str()
            .unwrap()
            .contains("prove their make and model")
    );
    site.f
        .platform
        .update_fido2_policy(&op, enforce(false))
        .await
        .unwrap();

    // The software key's AAGUID is all zeros: block it.
    let block = Fido2PolicyPatch {
        key_restrictions: Some(KeyRestrictionsPatch {
            is_enforced: Some(true),
            enforcement_type: Some(EnforcementType::Block),
            aa_guids: Some(vec![uuid::Uuid::nil()]),
        }),
        ..Default::default()
    };
    site.f
        .platform
        .update_fido2_policy(&op, block)
        .await
        .unwrap();
    let blocked = site.register(&mut b, "").await;
    assert_eq!(blocked.status, StatusCode::BAD_REQUEST);
    assert!(
        blocked.json()["error"]
            .as_str()
            .unwrap()
            .contains("does not allow this kind")
    );
    assert!(
        !site
            .audit("User registered security info failed")
            .await
            .is_empty()
    );

    // Unblocked, it registers; blocked again later, it can no longer sign in.
    let unblock = Fido2PolicyPatch {
        key_restrictions: Some(KeyRestrictionsPatch {
            is_enforced: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    };
    site.f
        .platform
        .update_fido2_policy(&op, unblock)
        .await
        .unwrap();
    assert_eq!(site.register(&mut b, "").await.status, StatusCode::OK);
    let reblock = Fido2PolicyPatch {
        key_restrictions: Some(KeyRestrictionsPatch {
            is_enforced: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    site.f
        .platform
        .update_fido2_policy(&op, reblock)
        .await
        .unwrap();
    let (_, signin) = site.passkey_sign_in(&mut b).await;
    assert_eq!(signin.status, StatusCode::BAD_REQUEST);
}

/// The Graph side of passkeys: list, get, delete, the methods list and the policy.
#[tokio::test]
async fn graph_fido2_methods_and_policy() {
    use crate::http::{AppState, HttpSettings, app};
    use plugin::domain::role::{Role, Roles};

    let site = Site::new().await;
    site.user("jo@example.com").await;
    let pass = site.pass("jo@example.com", true).await;
    let mut b = Browser::new();
    site.sign_in_with_pass(&mut b, "jo@example.com", &pass)
        .await;
    assert_eq!(
        site.register(&mut b, "Desk key").await.status,
        StatusCode::OK
    );

    let api = app(AppState {
        platform: site.f.platform.clone(),
        settings: Arc::new(HttpSettings {
            body_limit: 4096,
            public_url: ORIGIN.into(),
        }),
    });
    let token = |roles: &[Role]| {
        let roles = Roles::new(roles.iter().copied());
        let platform = site.f.platform.clone();
        async move {
            let name = format!("t{}", uuid::Uuid::new_v4().simple());
            platform
                .create_token(
                    &Caller::operator(),
                    &name,
                    plugin::platform::TokenGrant::Roles(roles),
                )
                .await
                .unwrap()
                .token
                .expose()
                .to_owned()
        }
    };
    let reader = token(&[Role::Reader]).await;
    let admin = token(&[
        Role::PrivilegedAuthenticationAdministrator,
        Role::AuthenticationPolicyAdministrator,
    ])
    .await;
    let call = |method: Method, path: String, token: String, body: Option<Value>| {
        let api = api.clone();
        async move {
            let mut req = Request::builder()
                .method(method)
                .uri(path)
                .header(header::AUTHORIZATION, format!("Bearer {token}"));
            if body.is_some() {
                req = req.header(header::CONTENT_TYPE, "application/json");
            }
            let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
            let r = api.oneshot(req.body(body).unwrap()).await.unwrap();
            let status = r.status();
            let bytes = r.into_body().collect().await.unwrap().to_bytes();
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        }
    };
    let base = "/v1.0/users/jo@example.com/authentication";
    let (status, list) = call(
        Method::GET,
        format!("{base}/fido2Methods"),
        reader.clone(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let m = &list["value"][0];
    assert_eq!(
        m["@odata.type"],
        "#microsoft.graph.fido2AuthenticationMethod"
    );
    assert_eq!(m["displayName"], "Desk key");
    assert_eq!(m["aaGuid"], "00000000-0000-0000-0000-000000000000");
    assert_eq!(m["attestationLevel"], "notAttested");
    assert!(m["createdDateTime"].is_string() && m["model"].is_string());
    let id = m["id"].as_str().unwrap().to_owned();
    let (_, one) = call(
        Method::GET,
        format!("{base}/fido2Methods/{id}"),
        reader.clone(),
        None,
    )
    .await;
    assert_eq!(one["id"], id.as_str());
    let (_, all) = call(Method::GET, format!("{base}/methods"), reader.clone(), None).await;
    assert!(
        all["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["id"] == id.as_str())
    );

    let policy =
        "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/Fido2";
    let (_, p) = call(Method::GET, policy.into(), reader.clone(), None).await;
    assert_eq!(p["state"], "enabled");
    assert_eq!(p["keyRestrictions"]["enforcementType"], "block");
    let patch = json!({"isAttestationEnforced": true, "keyRestrictions": {"isEnforced": true, "enforcementType": "allow", "aaGuids": ["cb69481e-8ff7-4039-93ec-0a2729a154a8"]}});
    let (status, _) = call(
        Method::PATCH,
        policy.into(),
        reader.clone(),
        Some(patch.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(Method::PATCH, policy.into(), admin.clone(), Some(patch)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, p) = call(Method::GET, policy.into(), reader.clone(), None).await;
    assert_eq!(p["isAttestationEnforced"], true);
    assert_eq!(
        p["keyRestrictions"]["aaGuids"][0],
        "cb69481e-8ff7-4039-93ec-0a2729a154a8"
    );
    let (status, _) = call(
        Method::PATCH,
        policy.into(),
        admin.clone(),
        Some(json!({"keyRestrictions": {"enforcementType": "sometimes"}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, _) = call(
        Method::DELETE,
        format!("{base}/fido2Methods/{id}"),
        reader.clone(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(
        Method::DELETE,
        format!("{base}/fido2Methods/{id}"),
        admin.clone(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(
        Method::DELETE,
        format!("{base}/fido2Methods/{id}"),
        admin.clone(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = call(Method::GET, format!("{base}/fido2Methods"), reader, None).await;
    assert_eq!(list["value"].as_array().unwrap().len(), 0);
}

/// A signed-in browser of a user holding `roles`, with a passkey.
async fn admin_browser(
    site: &Site,
    upn: &str,
    roles: &[plugin::domain::role::Role],
    language: Option<&str>,
) -> Browser {
    use plugin::domain::role::Roles;
    site.f
        .platform
        .create_user(
            &Caller::operator(),
            NewUser {
                user_principal_name: upn.into(),
                account_enabled: true,
                roles: Roles::new(roles.iter().copied()),
                preferred_language: language.map(str::to_owned),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let pass = site.pass(upn, true).await;
    let mut b = Browser::new();
    site.sign_in_with_pass(&mut b, upn, &pass).await;
    site.register(&mut b, "").await;
    let (_, reply) = site.passkey_sign_in(&mut b).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    b
}

async fn user_id(site: &Site, upn: &str) -> String {
    site.f
        .platform
        .user(&Caller::operator(), &UserRef::parse(upn).unwrap())
        .await
        .unwrap()
        .id
        .to_string()
}

#[tokio::test]
async fn admin_pages_issue_passes_and_edit_policies() {
    use plugin::domain::role::Role;

    let site = Site::new().await;
    let mut b = admin_browser(
        &site,
        "root@example.com",
        &[
            Role::AuthenticationAdministrator,
            Role::AuthenticationPolicyAdministrator,
        ],
        None,
    )
    .await;
    site.f
        .platform
        .create_user(
            &Caller::operator(),
            NewUser {
                user_principal_name: "kim@example.com".into(),
                display_name: Some("Kim Jürgensen".into()),
                mail: Some("kim@corp.example".into()),
                account_enabled: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();

    // Found by a word of the display name and by mail domain, with a count.
    let list = site.get(&mut b, "/admin/users?q=j%C3%BCrgensen").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(list.by_id("result-count").unwrap(), "1 user found.");
    let id = list.text.split("/admin/users/").nth(1).unwrap()[..36].to_owned();
    let by_domain = site.get(&mut b, "/admin/users?q=%40corp.example").await;
    assert!(by_domain.text.contains("kim@example.com"));
    let all = site.get(&mut b, "/admin/users").await;
    assert_eq!(all.by_id("result-count").unwrap(), "2 users found.");

    let user = site.get(&mut b, &format!("/admin/users/{id}")).await;
    assert!(user.text.contains("Create Temporary Access Pass"));
    assert!(
        user.text.contains("min=\"60\" max=\"480\""),
        "the policy's limits"
    );
    let csrf = user.csrf();
    let form_id = user.field("form_id");
    let issued_before = site
        .audit("Admin registered temporary access pass method for user")
        .await
        .len();

    // Out of the policy's range, or not a number: the page again, the error next to the
    // field, what was typed kept, nothing created.
    for (typed, says) in [("5000", "between 60 and 480"), ("five", "whole number")] {
        let bad = site
            .form(
                &mut b,
                &format!("/admin/users/{id}/tap"),
                &[("csrf", &csrf), ("form_id", &form_id), ("lifetime", typed)],
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(
            bad.by_id("lifetime-error").unwrap().contains(says),
            "{}",
            bad.text
        );
        assert!(bad.text.contains(&format!("value=\"{typed}\"")));
    }
    assert_eq!(
        site.audit("Admin registered temporary access pass method for user")
            .await
            .len(),
        issued_before
    );

    // Post/redirect/get: the POST creates and redirects; the page shows the pass once.
    let created = site
        .form(
            &mut b,
            &format!("/admin/users/{id}/tap"),
            &[
                ("csrf", &csrf),
                ("form_id", &form_id),
                ("lifetime", "120"),
                ("once", "yes"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.text);
    let shown_at = created.location().to_owned();
    assert_eq!(shown_at, format!("/admin/users/{id}?pass={form_id}"));
    // Under another user's page the pass is neither shown nor spent.
    let root = user_id(&site, "root@example.com").await;
    let elsewhere = site
        .get(&mut b, &format!("/admin/users/{root}?pass={form_id}"))
        .await;
    assert!(elsewhere.by_id("new-pass").is_none());
    let shown = site.get(&mut b, &shown_at).await;
    assert_eq!(shown.headers[header::CACHE_CONTROL], "no-store");
    assert!(shown.text.contains("shown only now"));
    let pass = shown.by_id("new-pass").unwrap();
    assert_eq!(pass.len(), 8, "the policy's default length");
    // A reload shows it no more, and says why.
    let reloaded = site.get(&mut b, &shown_at).await;
    assert!(!reloaded.text.contains(&pass));
    assert!(reloaded.by_id("shown-before").is_some());
    // The same form again (a re-post, a double click) creates nothing.
    let again = site
        .form(
            &mut b,
            &format!("/admin/users/{id}/tap"),
            &[("csrf", &csrf), ("form_id", &form_id), ("lifetime", "120")],
        )
        .await;
    assert_eq!(again.location(), shown_at);
    assert_eq!(
        site.audit("Admin registered temporary access pass method for user")
            .await
            .len(),
        issued_before + 1
    );
    // The pass shown is the one that works.
    let mut kim = Browser::new();
    let signed_in = site
        .sign_in_with_pass(&mut kim, "kim@example.com", &pass)
        .await;
    assert_eq!(signed_in.location(), "/register");
    let used = site.get(&mut b, &format!("/admin/users/{id}")).await;
    assert_eq!(
        used.by_id("pass-state").unwrap(),
        "Used — it was for one sign-in"
    );

    let policy = site
        .form(
            &mut b,
            "/admin/policies/fido2",
            &[
                ("csrf", &csrf),
                ("enabled", "yes"),
                ("self_service", "yes"),
                ("restrict", "yes"),
                ("kind", "block"),
                ("aaguids", "cb69481e-8ff7-4039-93ec-0a2729a154a8"),
            ],
        )
        .await;
    assert_eq!(policy.status, StatusCode::SEE_OTHER, "{}", policy.text);
    let shown = site.get(&mut b, policy.location()).await;
    assert_eq!(
        shown.by_id("notice").unwrap(),
        "The passkey policy was saved."
    );
    assert!(shown.text.contains("cb69481e-8ff7-4039-93ec-0a2729a154a8"));
    assert!(
        shown.text.contains("YubiKey 5 Series"),
        "a name for a known AAGUID"
    );

    // Deleting asks first.
    let ask = site
        .form(
            &mut b,
            &format!("/admin/users/{id}/tap/delete"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(ask.status, StatusCode::OK);
    assert!(
        ask.text
            .contains("kim@example.com will no longer be able to sign in")
    );
    assert_eq!(
        site.audit("Admin deleted temporary access pass method for user")
            .await
            .len(),
        0
    );
    let deleted = site
        .form(
            &mut b,
            &format!("/admin/users/{id}/tap/delete"),
            &[("csrf", &csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    let after = site.get(&mut b, deleted.location()).await;
    assert_eq!(after.by_id("notice").unwrap(), "The pass was deleted.");

    // A signed-in user without a role sees no admin page, and is told why.
    let mut k = admin_browser(&site, "lee@example.com", &[], None).await;
    let refused = site.get(&mut k, "/admin/users").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.text.contains("for administrators"));
    assert!(
        refused.text.contains("href=\"/security-info\""),
        "a way back"
    );
}

#[tokio::test]
async fn a_policy_that_locks_everyone_out_is_saved_only_after_a_warning() {
    use plugin::domain::role::Role;

    let site = Site::new().await;
    let mut b = admin_browser(
        &site,
        "pol@example.com",
        &[Role::AuthenticationPolicyAdministrator],
        None,
    )
    .await;
    let page = site.get(&mut b, "/admin/policies").await;
    let csrf = page.csrf();
    let empty_allow = [
        ("csrf", csrf.as_str()),
        ("enabled", "yes"),
        ("self_service", "yes"),
        ("restrict", "yes"),
        ("kind", "allow"),
        ("aaguids", ""),
    ];
    let warned = site
        .form(&mut b, "/admin/policies/fido2", &empty_allow)
        .await;
    assert_eq!(warned.status, StatusCode::OK);
    assert!(
        warned.text.contains("would lock everyone out"),
        "{}",
        warned.text
    );
    assert!(warned.text.contains("none is listed"));
    assert!(warned.text.contains("Save anyway"));
    assert!(warned.text.contains("name=\"confirm\" value=\"yes\""));
    assert!(
        site.audit("Authentication Methods Policy Update")
            .await
            .is_empty()
    );
    let mut confirmed = empty_allow.to_vec();
    confirmed.push(("confirm", "yes"));
    let saved = site.form(&mut b, "/admin/policies/fido2", &confirmed).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text);
    assert_eq!(
        site.audit("Authentication Methods Policy Update")
            .await
            .len(),
        1
    );
    // The policy in force keeps saying so.
    let now = site.get(&mut b, "/admin/policies").await;
    assert!(now.by_id("risks-now").is_some(), "{}", now.text);

    // Attestation without roots, and passkeys off, are warned about too.
    let off = site
        .form(
            &mut b,
            "/admin/policies/fido2",
            &[("csrf", &csrf), ("attestation", "yes"), ("kind", "block")],
        )
        .await;
    assert!(off.text.contains("Passkeys are turned off"));
    assert!(off.text.contains("no attestation roots are configured"));

    // Pass policy values out of range come back next to their fields, as typed.
    let bad = site
        .form(
            &mut b,
            "/admin/policies/tap",
            &[
                ("csrf", &csrf),
                ("enabled", "yes"),
                ("min", "5"),
                ("max", "480"),
                ("default", "600"),
                ("length", "8"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.by_id("min-error")
            .unwrap()
            .contains("between 10 and 43200")
    );
    assert!(bad.text.contains("value=\"5\""));
    assert!(
        bad.by_id("default-error").is_none(),
        "one problem at a time per field"
    );
}

#[tokio::test]
async fn what_the_viewer_may_not_change_is_read_only_and_names_the_role() {
    use plugin::domain::role::Role;

    let site = Site::new().await;
    let mut b = admin_browser(&site, "reader@example.com", &[Role::Reader], None).await;
    site.user("kim@example.com").await;
    let id = user_id(&site, "kim@example.com").await;

    let policies = site.get(&mut b, "/admin/policies").await;
    assert_eq!(policies.status, StatusCode::OK);
    assert!(policies.text.contains("<fieldset disabled>"));
    assert!(!policies.text.contains("id=\"save-tap\""));
    assert!(
        policies
            .by_id("read-only")
            .unwrap()
            .contains("Authentication Policy Administrator")
    );
    let csrf = policies.csrf();
    let refused = site
        .form(
            &mut b,
            "/admin/policies/tap",
            &[
                ("csrf", &csrf),
                ("min", "60"),
                ("max", "480"),
                ("default", "60"),
                ("length", "8"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.text.contains("Authentication Policy Administrator"));
    assert!(!refused.text.contains("expired"), "{}", refused.text);

    let user = site.get(&mut b, &format!("/admin/users/{id}")).await;
    assert!(!user.text.contains("id=\"create-tap\""));
    assert!(
        user.by_id("read-only")
            .unwrap()
            .contains("Authentication Administrator")
    );
    let refused = site
        .form(
            &mut b,
            &format!("/admin/users/{id}/tap"),
            &[
                ("csrf", &csrf),
                ("form_id", "abcdefghijklmnopqrstuv"),
                ("lifetime", "60"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.text.contains("Authentication Administrator"));

    // "The form has expired" is kept for a token that does not match.
    let expired = site
        .form(&mut b, "/admin/policies/tap", &[("csrf", "nope")])
        .await;
    assert_eq!(expired.status, StatusCode::FORBIDDEN);
    assert!(expired.text.contains("The form has expired"));
}

#[tokio::test]
async fn pages_speak_the_viewers_language() {
    let site = Site::new().await;
    let mut anon = Browser::new();
    anon.accept_language = Some("fr-CH, de;q=0.8, en;q=0.5".into());
    let page = site.get(&mut anon, "/signin/tap").await;
    assert!(page.text.contains("<html lang=\"de\">"));
    assert!(page.text.contains("Befristeter Zugangspass"));

    // The user's preferredLanguage wins over the browser's.
    let mut b = admin_browser(&site, "de@example.com", &[], Some("de-AT")).await;
    b.accept_language = Some("en".into());
    let info = site.get(&mut b, "/security-info").await;
    assert!(info.text.contains("<html lang=\"de\">"), "{}", info.text);
    assert!(info.text.contains("Sicherheitsinformationen"));
    let missing = site.get(&mut b, "/security-info/nothing-here").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.text.contains("Nicht gefunden"));

    let mut en = Browser::new();
    en.accept_language = Some("en-GB".into());
    assert!(
        site.get(&mut en, "/signin")
            .await
            .text
            .contains("<html lang=\"en\">")
    );
}

#[tokio::test]
async fn every_route_answers_like_a_page() {
    let site = Site::new().await;
    let mut b = Browser::new();
    b.accept = Some("text/html,application/xhtml+xml".into());
    let missing = site.get(&mut b, "/no/such/page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.text.contains("<!doctype html>"));
    assert!(missing.text.contains("href=\"/signin\""), "a way back");
    assert!(
        missing.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    // An API client keeps Graph's answer.
    let mut api = Browser::new();
    api.accept = Some("application/json".into());
    let graph = site.get(&mut api, "/v1.0/nothing").await;
    assert_eq!(graph.status, StatusCode::NOT_FOUND);
    assert!(graph.json()["error"]["code"].is_string(), "{}", graph.text);
    // Under the pages' own paths, always a page.
    let under = site.get(&mut api, "/admin/nothing").await;
    assert!(under.text.contains("<!doctype html>"));

    let wrong_method = site.get(&mut b, "/admin/policies/tap").await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(wrong_method.text.contains("<!doctype html>"));

    let signout = site.get(&mut b, "/signout").await;
    assert_eq!(signout.status, StatusCode::OK);
    assert!(signout.text.contains("You are signed out."));
    let mut s = admin_browser(&site, "out@example.com", &[], None).await;
    let ask = site.get(&mut s, "/signout").await;
    assert!(ask.text.contains("id=\"signout\""));
    let still = site.get(&mut s, "/security-info").await;
    assert_eq!(still.status, StatusCode::OK, "a GET signs nobody out");

    let icon = site.get(&mut b, "/favicon.ico").await;
    assert_eq!(icon.status, StatusCode::OK);
    assert_eq!(icon.headers[header::CONTENT_TYPE], "image/x-icon");
}

#[tokio::test]
async fn a_refused_rename_keeps_what_was_typed_next_to_the_field() {
    let site = Site::new().await;
    let mut b = admin_browser(&site, "ren@example.com", &[], None).await;
    let info = site.get(&mut b, "/security-info").await;
    let csrf = info.csrf();
    let id = info.text.split("/security-info/passkeys/").nth(1).unwrap()[..36].to_owned();
    let long = "x".repeat(70);
    let refused = site
        .form(
            &mut b,
            &format!("/security-info/passkeys/{id}/rename"),
            &[("csrf", &csrf), ("name", &long)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused
            .by_id(&format!("name-{id}-error"))
            .unwrap()
            .contains("at most 64 characters")
    );
    assert!(refused.text.contains(&format!("value=\"{long}\"")));
    let renamed = site
        .form(
            &mut b,
            &format!("/security-info/passkeys/{id}/rename"),
            &[("csrf", &csrf), ("name", "Laptop")],
        )
        .await;
    let page = site.get(&mut b, renamed.location()).await;
    assert_eq!(page.by_id("notice").unwrap(), "Your passkey was renamed.");
}

#[tokio::test]
async fn a_leaver_loses_their_sessions_at_once() {
    use plugin::domain::audit::Initiator;
    use plugin::platform::lifecycle::{Writer, revoke_access};

    let site = Site::new().await;
    site.user("lee@example.com").await;
    let pass = site.pass("lee@example.com", true).await;
    let mut b = Browser::new();
    site.sign_in_with_pass(&mut b, "lee@example.com", &pass)
        .await;
    site.register(&mut b, "").await;
    site.passkey_sign_in(&mut b).await;
    assert_eq!(
        site.get(&mut b, "/security-info").await.status,
        StatusCode::OK
    );

    let platform = &site.f.platform;
    let user = platform
        .user(
            &Caller::operator(),
            &UserRef::parse("lee@example.com").unwrap(),
        )
        .await
        .unwrap();
    let mut tx = platform.store().write().await.unwrap();
    let writer = Writer {
        initiator: Initiator {
            kind: "app".into(),
            id: None,
            display_name: "hr".into(),
        },
        correlation_id: None,
        now: platform.now(),
    };
    revoke_access(&mut tx, &user, &writer, "account disabled")
        .await
        .unwrap();
    tx.commit().await.unwrap();

    assert_eq!(
        site.get(&mut b, "/security-info").await.location(),
        "/signin"
    );
    let revoked: Vec<_> = site
        .audit("Revoke sign-in sessions")
        .await
        .into_iter()
        .filter_map(|r| r.result_reason)
        .collect();
    assert_eq!(
        revoked,
        [
            "revoked: account disabled",
            "ended: its one-time pass is spent (passkey registered)"
        ]
    );
}

#[tokio::test]
async fn a_registration_under_way_is_refused_once_its_pass_is_deleted() {
    use webauthn_rs::prelude::RegisterPublicKeyCredential;

    let site = Site::new().await;
    site.user("mo@example.com").await;
    let pass = site.pass("mo@example.com", false).await;
    let mut b = Browser::new();
    site.sign_in_with_pass(&mut b, "mo@example.com", &pass)
        .await;
    let cookie = b.cookies["__Host-tapbridge_session"].clone();
    let pw = &site.state.passwordless;
    // The request that finishes has already passed its session check when the pass goes.
    let signed_in = pw.session(&cookie).await.unwrap().expect("a live session");
    let (ceremony, options) = pw.start_registration(&signed_in).await.unwrap();
    let answer: RegisterPublicKeyCredential = serde_json::from_value(b.create(options)).unwrap();
    site.f
        .platform
        .delete_tap(
            &Caller::operator(),
            &UserRef::parse("mo@example.com").unwrap(),
            None,
        )
        .await
        .unwrap();
    let refused = pw
        .finish_registration(&signed_in, &ceremony, &answer, "", None)
        .await;
    assert!(
        matches!(refused, Err(plugin::Error::Forbidden(_))),
        "{refused:?}"
    );
    assert!(pw.session(&cookie).await.unwrap().is_none());
    assert!(site.audit("User registered security info").await.is_empty());
}

#[tokio::test]
async fn a_user_no_longer_targeted_loses_the_pass_session_at_the_next_request() {
    use plugin::domain::directory::NewGroup;
    use plugin::domain::tap_policy::TapPolicyPatch;

    let site = Site::new().await;
    site.user("nt@example.com").await;
    let pass = site.pass("nt@example.com", false).await;
    let mut b = Browser::new();
    site.sign_in_with_pass(&mut b, "nt@example.com", &pass)
        .await;
    assert_eq!(site.get(&mut b, "/register").await.status, StatusCode::OK);

    // Excluded through a group the user is put in: no event touches the pass or the session.
    let op = Caller::operator();
    let p = &site.f.platform;
    let group = p
        .create_group(
            &op,
            NewGroup {
                display_name: "Contractors".into(),
                description: None,
                source: "local".into(),
                anchor: None,
            },
        )
        .await
        .unwrap();
    p.add_group_member(&op, group.id, &UserRef::parse("nt@example.com").unwrap())
        .await
        .unwrap();
    let patch: TapPolicyPatch = serde_json::from_value(
        json!({"excludeTargets": [{"targetType": "group", "id": group.id.to_string()}]}),
    )
    .unwrap();
    p.update_tap_policy(&op, patch).await.unwrap();

    assert_eq!(site.get(&mut b, "/register").await.location(), "/signin");
    let revoked = site.audit("Revoke sign-in sessions").await;
    assert_eq!(revoked.len(), 1, "audited once");
    assert_eq!(
        revoked[0].result_reason.as_deref(),
        Some("revoked: its pass is no longer usable: NotTargeted")
    );
    assert_eq!(site.get(&mut b, "/register").await.location(), "/signin");
    assert_eq!(site.audit("Revoke sign-in sessions").await.len(), 1);
}
