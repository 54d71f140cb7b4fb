//! The provider's pages and endpoints through the router, without a socket, with a software
//! authenticator standing in for the browser's: the flow's steps, what each refuses, and
//! (with the token endpoint) what the code is worth.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
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

use super::super::{WebSettings, WebState};
use plugin::domain::directory::{NewUser, UserRef};
use plugin::domain::oidc::OidcSettings;
use plugin::domain::oidc::client::{Application, NewApplication};
use plugin::domain::session::SessionTimeouts;
use plugin::domain::tap_policy::TapRequest;
use plugin::platform::testing::{Fixture, fixture};
use plugin::platform::{Caller, Oidc, Passwordless, PasswordlessSettings};
use plugin::secret::ServerSecret;

pub const ORIGIN: &str = "http://localhost:8080";
pub const CB: &str = "https://app.example.com/cb";
pub const SPA: &str = "http://localhost:5173/";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub struct Site {
    pub f: Fixture,
    pub oidc: Arc<Oidc>,
    pub app: Router,
}

pub struct Browser {
    pub cookies: HashMap<String, String>,
    key: SoftPasskey,
    credential_id: Option<Value>,
    user_handle: Option<String>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// A query parameter of the redirect.
    pub fn param(&self, name: &str) -> Option<String> {
        let q = self.location().split_once('?')?.1;
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    pub fn csrf(&self) -> String {
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
    pub async fn new() -> Site {
        let f = fixture().await;
        let secret = ServerSecret::from_bytes(vec![42; 32]).unwrap();
        let webauthn =
            plugin::platform::passkeys::verifier("localhost", "tapbridge", &[format!("{ORIGIN}/")])
                .unwrap();
        let passwordless = Arc::new(Passwordless::new(
            f.platform.clone(),
            webauthn,
            &secret,
            PasswordlessSettings {
                timeouts: SessionTimeouts::default(),
                attestation_cas: None,
            },
        ));
        let web = WebState::new(
            passwordless,
            WebSettings {
                allowed_origins: vec![ORIGIN.into()],
                secure_cookies: true,
                signin_per_minute_per_address: 1000,
                signin_per_minute_per_user: 1000,
            },
        );
        let oidc = Arc::new(Oidc::new(
            f.platform.clone(),
            &secret,
            OidcSettings::with_issuer(ORIGIN),
        ));
        let app = Router::new()
            .merge(super::super::routes(web.clone()))
            .merge(super::routes(web, oidc.clone()))
            .merge(crate::http::oauth::routes(oidc.clone()));
        Site { f, oidc, app }
    }

    pub async fn user(&self, upn: &str) {
        self.f
            .platform
            .create_user(
                &Caller::operator(),
                NewUser {
                    user_principal_name: upn.into(),
                    display_name: Some("Ada Lovelace".into()),
                    given_name: Some("Ada".into()),
                    surname: Some("Lovelace".into()),
                    mail: Some(upn.into()),
                    account_enabled: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }

    pub async fn pass(&self, upn: &str) -> String {
        let issued = self
            .f
            .platform
            .issue_tap(
                &Caller::operator(),
                &UserRef::parse(upn).unwrap(),
                TapRequest {
                    start_date_time: None,
                    lifetime_in_minutes: Some(60),
                    is_usable_once: Some(true),
                },
            )
            .await
            .unwrap();
        issued.pass.expose().to_owned()
    }

    /// An application with a web and a spa redirect URI, and a secret.
    pub async fn application(&self, skip_consent: bool) -> (Application, String) {
        let op = Caller::operator();
        let app = self
            .f
            .platform
            .create_application(
                &op,
                NewApplication {
                    display_name: "CRM".into(),
                    web_redirect_uris: vec![CB.into()],
                    spa_redirect_uris: vec![SPA.into()],
                    skip_consent,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let (app, added) = self
            .f
            .platform
            .add_application_password(&op, app.id, None, None)
            .await
            .unwrap();
        (app, added.secret_text.expose().to_owned())
    }

    pub async fn send(
        &self,
        b: &mut Browser,
        method: Method,
        path: &str,
        body: Body,
        kind: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut req = Request::builder().method(method.clone()).uri(path);
        if method != Method::GET {
            req = req.header(header::ORIGIN, ORIGIN);
        }
        if let Some(k) = kind {
            req = req.header(header::CONTENT_TYPE, k);
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let jar: Vec<String> = b.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if !jar.is_empty() {
            req = req.header(header::COOKIE, jar.join("; "));
        }
        let response = self
            .app
            .clone()
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

    pub async fn get(&self, b: &mut Browser, path: &str) -> Reply {
        self.send(b, Method::GET, path, Body::empty(), None, &[])
            .await
    }

    pub async fn form(&self, b: &mut Browser, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.send(
            b,
            Method::POST,
            path,
            Body::from(body),
            Some("application/x-www-form-urlencoded"),
            &[],
        )
        .await
    }

    async fn script(&self, b: &mut Browser, path: &str, csrf: &str, body: Value) -> Reply {
        self.send(
            b,
            Method::POST,
            path,
            Body::from(body.to_string()),
            Some("application/json"),
            &[("x-csrf-token", csrf)],
        )
        .await
    }

    /// Registers a passkey from the flow's registration page.
    pub async fn register(&self, b: &mut Browser, page: &Reply) -> Reply {
        let csrf = page.csrf();
        let start = self.script(b, "/register/options", &csrf, json!({})).await;
        assert_eq!(start.status, StatusCode::OK, "{}", start.text);
        let start = start.json();
        let options: CreationChallengeResponse =
            serde_json::from_value(start["options"].clone()).unwrap();
        let credential = b.create(options);
        self.script(
            b,
            "/register",
            &csrf,
            json!({ "ceremony": start["ceremony"], "name": "", "credential": credential }),
        )
        .await
    }

    /// Signs in with the passkey from a sign-in page (which set the pre-session token).
    pub async fn passkey_sign_in(&self, b: &mut Browser, page: &Reply) -> Reply {
        let csrf = page.csrf();
        let start = self
            .script(b, "/signin/passkey/options", &csrf, json!({}))
            .await;
        assert_eq!(start.status, StatusCode::OK, "{}", start.text);
        let start = start.json();
        let options: RequestChallengeResponse =
            serde_json::from_value(start["options"].clone()).unwrap();
        let assertion = b.get(options);
        self.script(
            b,
            "/signin/passkey",
            &csrf,
            json!({ "ceremony": start["ceremony"], "credential": assertion }),
        )
        .await
    }

    /// Onboards `upn` inside the flow that `signin` (a reply redirecting to the flow's
    /// sign-in page) started: pass, first passkey, sign-in with it. Returns the page the
    /// flow's script goes to next.
    pub async fn onboard(&self, b: &mut Browser, upn: &str, signin: &Reply) -> String {
        let pass = self.pass(upn).await;
        let page = self.get(b, signin.location()).await;
        let tap_link = attr(&page.text, "id=\"use-tap\"", "href").replace("&amp;", "&");
        let tap_page = self.get(b, &tap_link).await;
        assert_eq!(tap_page.status, StatusCode::OK, "{}", tap_page.text);
        let action = attr(&tap_page.text, "<form method=\"post\"", "action").replace("&amp;", "&");
        let csrf = tap_page.csrf();
        let opened = self
            .form(
                b,
                &action,
                &[("csrf", &csrf), ("upn", upn), ("pass", &pass)],
            )
            .await;
        assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.text);
        let register = self.get(b, opened.location()).await;
        assert_eq!(register.status, StatusCode::OK, "{}", register.text);
        let next = data_next(&register.text);
        assert!(next.contains("registered=1"), "{next}");
        let done = self.register(b, &register).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text);
        let signin_page = self.get(b, &next).await;
        assert!(signin_page.text.contains("Your passkey is ready"));
        let signed = self.passkey_sign_in(b, &signin_page).await;
        assert_eq!(signed.status, StatusCode::OK, "{}", signed.text);
        data_next(&signin_page.text)
    }
}

/// The value of `attribute` in the tag holding `marker`.
pub fn attr(html: &str, marker: &str, attribute: &str) -> String {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"));
    let from = html[..at].rfind('<').unwrap_or(at);
    let rest = &html[from..];
    let key = format!("{attribute}=\"");
    let start = rest.find(&key).expect("attribute") + key.len();
    rest[start..].split('"').next().unwrap().to_owned()
}

pub fn data_next(html: &str) -> String {
    attr(html, "data-page=", "data-next").replace("&amp;", "&")
}

impl Browser {
    pub fn new() -> Browser {
        Browser {
            cookies: HashMap::new(),
            key: SoftPasskey::new(true),
            credential_id: None,
            user_handle: None,
        }
    }

    fn create(&mut self, mut options: CreationChallengeResponse) -> Value {
        self.user_handle = Some(URL_SAFE_NO_PAD.encode(&options.public_key.user.id));
        if let Some(sel) = options.public_key.authenticator_selection.as_mut() {
            sel.require_resident_key = false;
            sel.resident_key = None;
        }
        let reg = self
            .key
            .do_registration(Url::parse(ORIGIN).unwrap(), options)
            .expect("registration");
        let v = serde_json::to_value(&reg).unwrap();
        self.credential_id = Some(v["rawId"].clone());
        v
    }

    fn get(&mut self, mut options: RequestChallengeResponse) -> Value {
        let id = self.credential_id.clone().expect("a registered passkey");
        options.public_key.allow_credentials =
            vec![serde_json::from_value(json!({ "type": "public-key", "id": id })).unwrap()];
        options.mediation = None;
        let assertion = self
            .key
            .do_authentication(Url::parse(ORIGIN).unwrap(), options)
            .expect("assertion");
        let mut v = serde_json::to_value(&assertion).unwrap();
        v["response"]["userHandle"] = json!(self.user_handle);
        v
    }
}

pub fn authorize_url(app: &Application, extra: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    let mut params: Vec<(&str, String)> = vec![
        ("client_id", app.app_id.to_string()),
        ("redirect_uri", CB.into()),
        ("response_type", "code".into()),
        ("scope", "openid profile email offline_access".into()),
        ("state", "st-1".into()),
        ("nonce", "no-1".into()),
    ];
    for (k, v) in extra {
        params.retain(|(name, _)| name != k);
        if !v.is_empty() {
            params.push((k, (*v).to_owned()));
        }
    }
    for (k, v) in &params {
        q.append_pair(k, v);
    }
    format!("/oauth2/authorize?{}", q.finish())
}

/// Goes through the flow as a new hire, with consent; returns the redirect to the client.
pub async fn code_for_new_hire(
    site: &Site,
    b: &mut Browser,
    app: &Application,
    extra: &[(&str, &str)],
) -> Reply {
    site.user("ada@example.com").await;
    let start = site.get(b, &authorize_url(app, extra)).await;
    assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.text);
    assert!(
        start.location().starts_with("/oauth2/signin?flow="),
        "{}",
        start.location()
    );
    let next = site.onboard(b, "ada@example.com", &start).await;
    let resumed = site.get(b, &next).await;
    if !resumed.location().starts_with("/oauth2/consent") {
        return resumed;
    }
    let consent = site.get(b, resumed.location()).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.text);
    let flow = attr(&consent.text, "name=\"flow\"", "value");
    site.form(
        b,
        "/oauth2/consent",
        &[
            ("csrf", &consent.csrf()),
            ("flow", &flow),
            ("decision", "allow"),
        ],
    )
    .await
}

#[tokio::test]
async fn a_new_hire_goes_from_pass_to_passkey_to_the_application() {
    let site = Site::new().await;
    let (app, _) = site.application(false).await;
    let mut b = Browser::new();
    site.user("ada@example.com").await;
    let start = site.get(&mut b, &authorize_url(&app, &[])).await;
    assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.text);
    let flow_page = start.location().to_owned();

    // Pass, then a passkey; before signing in with it, the flow still wants a sign-in: a
    // pass alone never completes it.
    let pass = site.pass("ada@example.com").await;
    let page = site.get(&mut b, &flow_page).await;
    assert!(page.text.contains("CRM"), "{}", page.text);
    let tap_link = attr(&page.text, "id=\"use-tap\"", "href").replace("&amp;", "&");
    let tap_page = site.get(&mut b, &tap_link).await;
    let action = attr(&tap_page.text, "<form method=\"post\"", "action").replace("&amp;", "&");
    let opened = site
        .form(
            &mut b,
            &action,
            &[
                ("csrf", &tap_page.csrf()),
                ("upn", "ada@example.com"),
                ("pass", &pass),
            ],
        )
        .await;
    assert!(
        opened.location().starts_with("/oauth2/register?flow="),
        "{}",
        opened.location()
    );
    let resume = flow_page.replace("/oauth2/signin", "/oauth2/authorize/resume");
    let early = site.get(&mut b, &resume).await;
    assert!(
        early.location().starts_with("/oauth2/signin?flow="),
        "pass session: {}",
        early.location()
    );
    let register = site.get(&mut b, opened.location()).await;
    assert!(site.register(&mut b, &register).await.status.is_success());
    let early = site.get(&mut b, &resume).await;
    assert!(
        early.location().starts_with("/oauth2/signin?flow="),
        "still a pass session: {}",
        early.location()
    );
    let signin_page = site.get(&mut b, &data_next(&register.text)).await;
    assert_eq!(
        site.passkey_sign_in(&mut b, &signin_page).await.status,
        StatusCode::OK
    );

    // Now consent, then the code goes to the application with its state and our issuer.
    let resumed = site.get(&mut b, &data_next(&signin_page.text)).await;
    assert!(
        resumed.location().starts_with("/oauth2/consent?flow="),
        "{}",
        resumed.location()
    );
    let consent = site.get(&mut b, resumed.location()).await;
    let csp = consent.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("form-action 'self' https://app.example.com"),
        "{csp}"
    );
    assert!(consent.text.contains("See your e-mail address"));
    let flow = attr(&consent.text, "name=\"flow\"", "value");
    let done = site
        .form(
            &mut b,
            "/oauth2/consent",
            &[
                ("csrf", &consent.csrf()),
                ("flow", &flow),
                ("decision", "allow"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    assert!(
        done.location().starts_with(&format!("{CB}?code=")),
        "{}",
        done.location()
    );
    assert_eq!(done.param("state").as_deref(), Some("st-1"));
    assert_eq!(done.param("iss").as_deref(), Some(ORIGIN));

    // The flow is spent; a second authorization needs no consent and no sign-in.
    assert_eq!(
        site.get(&mut b, &resume).await.status,
        StatusCode::BAD_REQUEST
    );
    let again = site
        .get(&mut b, &authorize_url(&app, &[("state", "st-2")]))
        .await;
    assert!(
        again.location().starts_with(&format!("{CB}?code=")),
        "{}",
        again.location()
    );
    assert_eq!(again.param("state").as_deref(), Some("st-2"));
}

#[tokio::test]
async fn untrusted_clients_and_redirects_get_a_page_not_a_redirect() {
    let site = Site::new().await;
    let (app, _) = site.application(false).await;
    let mut b = Browser::new();
    for url in [
        authorize_url(&app, &[("redirect_uri", "https://evil.example.com/cb")]),
        authorize_url(
            &app,
            &[("redirect_uri", "https://app.example.com/cb/../evil")],
        ),
        authorize_url(
            &app,
            &[("client_id", "00000000-0000-0000-0000-000000000001")],
        ),
        authorize_url(&app, &[("client_id", "")]),
        "/oauth2/authorize".to_owned(),
    ] {
        let r = site.get(&mut b, &url).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{url}");
        assert!(
            r.location().is_empty(),
            "{url} redirected to {}",
            r.location()
        );
        assert!(r.text.contains("This sign-in cannot continue"));
    }
    // A known redirect gets the error itself, with the state.
    let r = site
        .get(&mut b, &authorize_url(&app, &[("response_type", "token")]))
        .await;
    assert_eq!(
        r.param("error").as_deref(),
        Some("unsupported_response_type")
    );
    assert_eq!(r.param("state").as_deref(), Some("st-1"));
    let r = site
        .get(&mut b, &authorize_url(&app, &[("redirect_uri", SPA)]))
        .await;
    assert!(r.location().starts_with(SPA));
    assert_eq!(
        r.param("error").as_deref(),
        Some("invalid_request"),
        "spa without PKCE"
    );
    let r = site
        .get(&mut b, &authorize_url(&app, &[("prompt", "none")]))
        .await;
    assert_eq!(r.param("error").as_deref(), Some("login_required"));
    // form_post: the answer is a form to the client, and the page may post there only.
    let r = site
        .get(
            &mut b,
            &authorize_url(&app, &[("prompt", "none"), ("response_mode", "form_post")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains(&format!("action=\"{CB}\"")), "{}", r.text);
    assert!(r.text.contains("name=\"error\" value=\"login_required\""));
    let csp = r.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("form-action 'self' https://app.example.com;"),
        "{csp}"
    );
}

#[tokio::test]
async fn declining_consent_tells_the_client_and_prompt_none_needs_prior_consent() {
    let site = Site::new().await;
    let (app, _) = site.application(false).await;
    let mut b = Browser::new();
    site.user("ada@example.com").await;
    let start = site.get(&mut b, &authorize_url(&app, &[])).await;
    let next = site.onboard(&mut b, "ada@example.com", &start).await;
    let resumed = site.get(&mut b, &next).await;
    let consent = site.get(&mut b, resumed.location()).await;
    let flow = attr(&consent.text, "name=\"flow\"", "value");
    let no = site
        .form(
            &mut b,
            "/oauth2/consent",
            &[
                ("csrf", &consent.csrf()),
                ("flow", &flow),
                ("decision", "deny"),
            ],
        )
        .await;
    assert_eq!(no.param("error").as_deref(), Some("access_denied"));
    assert_eq!(no.param("state").as_deref(), Some("st-1"));
    let none = site
        .get(&mut b, &authorize_url(&app, &[("prompt", "none")]))
        .await;
    assert_eq!(none.param("error").as_deref(), Some("consent_required"));
    // A forged consent (no CSRF token) changes nothing.
    let start = site.get(&mut b, &authorize_url(&app, &[])).await;
    let consent = site.get(&mut b, start.location()).await;
    let flow = attr(&consent.text, "name=\"flow\"", "value");
    let forged = site
        .form(
            &mut b,
            "/oauth2/consent",
            &[("flow", &flow), ("decision", "allow")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let none = site
        .get(&mut b, &authorize_url(&app, &[("prompt", "none")]))
        .await;
    assert_eq!(none.param("error").as_deref(), Some("consent_required"));
}
