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
use crate::domain::audit::AuditQuery;
use crate::domain::directory::{NewUser, UserRef};
use crate::domain::fido2_policy::{EnforcementType, Fido2PolicyPatch, KeyRestrictionsPatch};
use crate::domain::session::SessionTimeouts;
use crate::domain::tap_policy::TapRequest;
use crate::platform::testing::{Fixture, fixture};
use crate::platform::{Caller, Passwordless, PasswordlessSettings};
use crate::secret::ServerSecret;

const ORIGIN: &str = "http://localhost:8080";

struct Site {
    f: Fixture,
    state: WebState,
}

/// One browser: a cookie jar and an authenticator holding at most one passkey.
struct Browser {
    cookies: HashMap<String, String>,
    origin: String,
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
        let f = fixture().await;
        let webauthn =
            crate::platform::passkeys::verifier("localhost", "tapbridge", &[format!("{ORIGIN}/")])
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

    async fn audit(&self, activity: &str) -> Vec<crate::domain::audit::AuditEntry> {
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
    assert_eq!(done.json()["redirect"], "/register/done");

    let page = site.get(&mut b, "/register/done").await;
    let csrf = page.csrf();
    let out = site.form(&mut b, "/signout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), "/signin");
    assert!(!b.cookies.contains_key("__Host-tapbridge_session"));
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
    crate::store::query(conn.pick(
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
    use crate::domain::role::{Role, Roles};
    use crate::http::{AppState, HttpSettings, app};

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
                    crate::platform::TokenGrant::Roles(roles),
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

#[tokio::test]
async fn admin_pages_issue_passes_and_edit_policies() {
    use crate::domain::role::{Role, Roles};

    let site = Site::new().await;
    site.f
        .platform
        .create_user(
            &Caller::operator(),
            NewUser {
                user_principal_name: "root@example.com".into(),
                account_enabled: true,
                roles: Roles::new([
                    Role::AuthenticationAdministrator,
                    Role::AuthenticationPolicyAdministrator,
                ]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    site.user("kim@example.com").await;
    let pass = site.pass("root@example.com", true).await;
    let mut b = Browser::new();
    site.sign_in_with_pass(&mut b, "root@example.com", &pass)
        .await;
    site.register(&mut b, "").await;
    site.passkey_sign_in(&mut b).await;

    let list = site.get(&mut b, "/admin/users?q=kim").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let id = list.text.split("/admin/users/").nth(1).unwrap()[..36].to_owned();
    let user = site.get(&mut b, &format!("/admin/users/{id}")).await;
    assert!(user.text.contains("Create Temporary Access Pass"));
    let csrf = user.csrf();
    let created = site
        .form(
            &mut b,
            &format!("/admin/users/{id}/tap"),
            &[("csrf", &csrf), ("lifetime", "120"), ("once", "yes")],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    assert!(created.text.contains("shown only now"));
    assert_eq!(created.headers[header::CACHE_CONTROL], "no-store");
    let shown = created
        .text
        .split("id=\"new-pass\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    assert_eq!(shown.len(), 8, "the policy's default length");
    let again = site.get(&mut b, &format!("/admin/users/{id}")).await;
    assert!(!again.text.contains(shown), "a pass is shown once");

    let bad = site
        .form(
            &mut b,
            &format!("/admin/users/{id}/tap"),
            &[("csrf", &csrf), ("lifetime", "five")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text.contains("whole number"));

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
    let shown = site.get(&mut b, "/admin/policies").await;
    assert!(shown.text.contains("cb69481e-8ff7-4039-93ec-0a2729a154a8"));
    let deleted = site
        .form(
            &mut b,
            &format!("/admin/users/{id}/tap/delete"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);

    // A signed-in user without a role sees no admin page.
    let pass = site.pass("kim@example.com", true).await;
    let mut k = Browser::new();
    site.sign_in_with_pass(&mut k, "kim@example.com", &pass)
        .await;
    site.register(&mut k, "").await;
    site.passkey_sign_in(&mut k).await;
    assert_eq!(
        site.get(&mut k, "/admin/users").await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_leaver_loses_their_sessions_at_once() {
    use crate::domain::audit::Initiator;
    use crate::platform::lifecycle::{Writer, revoke_access};

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
    assert_eq!(site.audit("Revoke sign-in sessions").await.len(), 1);
}
