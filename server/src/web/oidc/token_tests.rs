//! What a code is worth at the token endpoint, and what the tokens open: exchange, replay,
//! PKCE, refresh rotation and reuse, client credentials, private_key_jwt, UserInfo,
//! revocation, introspection and logout — through the router, with a software authenticator.

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use serde_json::{Value, json};

use super::tests::*;
use plugin::domain::oidc::client::{ApplicationPatch, NewApplication};
use plugin::domain::role::{Role, Roles};
use plugin::jose::{self, Alg, JwkSet, SigningKey};
use plugin::platform::Caller;

impl Site {
    pub async fn token(&self, fields: &[(&str, &str)], basic: Option<(&str, &str)>) -> Reply {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut extra = vec![];
        let auth;
        if let Some((id, secret)) = basic {
            use base64::Engine;
            auth = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
            );
            extra.push(("authorization", auth.as_str()));
        }
        self.send(
            &mut Browser::new(),
            Method::POST,
            "/oauth2/token",
            Body::from(body),
            Some("application/x-www-form-urlencoded"),
            &extra,
        )
        .await
    }

    pub async fn bearer(&self, path: &str, token: &str) -> Reply {
        let auth = format!("Bearer {token}");
        self.send(
            &mut Browser::new(),
            Method::GET,
            path,
            Body::empty(),
            None,
            &[("authorization", &auth)],
        )
        .await
    }

    pub async fn jwks(&self) -> JwkSet {
        let r = self.get(&mut Browser::new(), "/oauth2/jwks").await;
        serde_json::from_str(&r.text).unwrap()
    }
}

fn claims(site_jwks: &JwkSet, token: &str, alg: Alg) -> serde_json::Map<String, Value> {
    jose::verify(token, &[alg], site_jwks)
        .expect("verifies")
        .claims
}

#[tokio::test]
async fn a_code_buys_tokens_once_and_a_replay_revokes_them() {
    let site = Site::new().await;
    let (app, secret) = site.application(false).await;
    let mut b = Browser::new();
    let done = code_for_new_hire(&site, &mut b, &app, &[]).await;
    let code = done.param("code").expect("code");
    let client_id = app.app_id.to_string();
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
    ];

    // A web code needs the client's secret.
    let anonymous = site
        .token(
            &[exchange.as_slice(), &[("client_id", &client_id)]].concat(),
            None,
        )
        .await;
    assert_eq!(
        anonymous.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        anonymous.text
    );
    assert_eq!(anonymous.json()["error"], "invalid_client");
    // That attempt spent the code: a code is good for one try.
    let done = code_for_second_sign_in(&site, &mut b, &app).await;
    let code = done.param("code").unwrap();
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
    ];
    let ok = site.token(&exchange, Some((&client_id, &secret))).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.headers[header::CACHE_CONTROL], "no-store");
    let body = ok.json();
    assert_eq!(body["token_type"], "Bearer");
    assert!(
        body["refresh_token"].is_string(),
        "offline_access was granted"
    );

    let jwks = site.jwks().await;
    let id = claims(&jwks, body["id_token"].as_str().unwrap(), Alg::Es256);
    assert_eq!(id["iss"], ORIGIN);
    assert_eq!(id["aud"], client_id.as_str());
    assert_eq!(id["nonce"], "no-1");
    assert_eq!(id["preferred_username"], "ada@example.com");
    assert_eq!(id["email_verified"], true);
    assert_eq!(
        id["amr"],
        json!(["hwk", "user", "mfa"]),
        "the software key is device-bound"
    );
    assert_eq!(id["acr"], "phrh");
    assert!(id["auth_time"].as_i64().is_some() && id["sid"].is_string());
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(id["at_hash"], plugin::domain::oidc::claims::at_hash(access));
    let header: Value =
        serde_json::from_slice(&plugin::jose::unb64(access.split('.').next().unwrap()).unwrap())
            .unwrap();
    assert_eq!(header["typ"], "at+jwt");

    let info = site.bearer("/oauth2/userinfo", access).await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.text);
    assert_eq!(info.json()["sub"], id["sub"]);
    assert_eq!(info.json()["family_name"], "Lovelace");

    // The same code again: refused, and what it bought is revoked.
    let replay = site.token(&exchange, Some((&client_id, &secret))).await;
    assert_eq!(replay.json()["error"], "invalid_grant");
    let info = site.bearer("/oauth2/userinfo", access).await;
    assert_eq!(info.status, StatusCode::UNAUTHORIZED);
    assert!(
        info.headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let refresh = site
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", body["refresh_token"].as_str().unwrap()),
            ],
            Some((&client_id, &secret)),
        )
        .await;
    assert_eq!(refresh.json()["error"], "invalid_grant");
}

/// A second authorization in the same browser: no sign-in, no consent.
async fn code_for_second_sign_in(
    site: &Site,
    b: &mut Browser,
    app: &plugin::domain::oidc::client::Application,
) -> Reply {
    let r = site.get(b, &authorize_url(app, &[])).await;
    assert!(r.location().starts_with(CB), "{}", r.location());
    r
}

#[tokio::test]
async fn public_clients_prove_pkce_and_refresh_tokens_rotate() {
    let site = Site::new().await;
    let (app, _) = site.application(true).await;
    let mut b = Browser::new();
    let spa = [
        ("redirect_uri", SPA),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    let done = code_for_new_hire(&site, &mut b, &app, &spa).await;
    assert!(
        done.location().starts_with(SPA),
        "consent skipped: {}",
        done.location()
    );
    let client_id = app.app_id.to_string();
    let exchange = |code: &str, verifier: &str| {
        let fields = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", SPA),
            ("client_id", &client_id),
            ("code_verifier", verifier),
        ];
        fields.map(|(k, v)| (k, v.to_owned()))
    };
    let refresh = |token: &str| {
        [
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", &client_id),
        ]
        .map(|(k, v)| (k, v.to_owned()))
    };
    let post = |fields: Vec<(&'static str, String)>| {
        let site = &site;
        async move {
            let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            site.token(&refs, None).await
        }
    };

    let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK";
    let r = post(exchange(&done.param("code").unwrap(), wrong).to_vec()).await;
    assert_eq!(r.json()["error"], "invalid_grant", "{}", r.text);

    let done = site.get(&mut b, &authorize_url(&app, &spa)).await;
    let r = post(exchange(&done.param("code").unwrap(), VERIFIER).to_vec()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let first = r.json()["refresh_token"].as_str().unwrap().to_owned();

    // Rotation: each refresh spends the token and returns the next.
    let r = post(refresh(&first).to_vec()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let second = r.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    let id = claims(
        &site.jwks().await,
        r.json()["id_token"].as_str().unwrap(),
        Alg::Es256,
    );
    assert!(id.get("nonce").is_none(), "no nonce on a refresh");
    let access = r.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        site.bearer("/oauth2/userinfo", &access).await.status,
        StatusCode::OK
    );

    // Someone replays the spent first token: the family is revoked, the thief's and the
    // owner's alike.
    let r = post(refresh(&first).to_vec()).await;
    assert_eq!(r.json()["error"], "invalid_grant");
    let r = post(refresh(&second).to_vec()).await;
    assert_eq!(r.json()["error"], "invalid_grant");
    assert_eq!(
        site.bearer("/oauth2/userinfo", &access).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn client_credentials_with_a_secret_or_a_signed_assertion() {
    let site = Site::new().await;
    let op = Caller::operator();
    let (key, _) = SigningKey::generate(Alg::Es256, "client").unwrap();
    let jwks = JwkSet {
        keys: vec![key.public_jwk().clone()],
    };
    let app = site
        .f
        .platform
        .create_application(
            &op,
            NewApplication {
                display_name: "Automation".into(),
                app_roles: Roles::new([Role::UserAdministrator]),
                jwks: Some(jwks),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (_, added) = site
        .f
        .platform
        .add_application_password(&op, app.id, None, None)
        .await
        .unwrap();
    let client_id = app.app_id.to_string();
    let secret = added.secret_text.expose().to_owned();

    let r = site
        .token(
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &client_id),
                ("client_secret", &secret),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let access = r.json()["access_token"].as_str().unwrap().to_owned();
    let c = claims(&site.jwks().await, &access, Alg::Es256);
    assert_eq!(c["roles"], json!(["user-administrator"]));
    assert_eq!(c["idtyp"], "app");
    assert!(r.json().get("refresh_token").is_none() && r.json().get("id_token").is_none());
    let actor = site.oidc.authenticate_app_token(&access).await.unwrap();
    assert!(actor.roles.contains(Role::UserAdministrator));
    // An application token is not a user's: UserInfo refuses it.
    assert_eq!(
        site.bearer("/oauth2/userinfo", &access).await.status,
        StatusCode::UNAUTHORIZED
    );

    // private_key_jwt: a fresh assertion works once.
    let now = site.f.platform.now().unix_timestamp();
    let assertion = jose::sign(
        &key,
        "JWT",
        &json!({"iss": client_id, "sub": client_id, "aud": format!("{ORIGIN}/oauth2/token"), "exp": now + 60, "iat": now, "jti": "a-1"}),
    )
    .unwrap();
    let form = [
        ("grant_type", "client_credentials"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion.as_str()),
    ];
    let r = site.token(&form, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = site.token(&form, None).await;
    assert_eq!(r.json()["error"], "invalid_client", "a replayed assertion");
    // Signed by someone else, or for another audience, or with alg none: refused.
    let (other, _) = SigningKey::generate(Alg::Es256, "x").unwrap();
    let forged = jose::sign(
        &other,
        "JWT",
        &json!({"iss": client_id, "sub": client_id, "aud": ORIGIN, "exp": now + 60, "jti": "a-2"}),
    )
    .unwrap();
    let elsewhere = jose::sign(&key, "JWT", &json!({"iss": client_id, "sub": client_id, "aud": "https://other.example", "exp": now + 60, "jti": "a-3"})).unwrap();
    let none = format!(
        "{}.{}.",
        jose::b64(br#"{"alg":"none"}"#),
        jose::b64(json!({"iss": client_id, "sub": client_id, "aud": ORIGIN, "exp": now + 60, "jti": "a-4"}).to_string().as_bytes())
    );
    for bad in [forged, elsewhere, none] {
        let r = site
            .token(
                &[
                    ("grant_type", "client_credentials"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", bad.as_str()),
                ],
                None,
            )
            .await;
        assert_eq!(r.json()["error"], "invalid_client", "{}", r.text);
    }
    // A wrong secret, two methods at once, or no authentication at all.
    let r = site
        .token(
            &[("grant_type", "client_credentials")],
            Some((&client_id, "wrong")),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    let r = site
        .token(
            &[
                ("grant_type", "client_credentials"),
                ("client_secret", &secret),
            ],
            Some((&client_id, &secret)),
        )
        .await;
    assert_eq!(r.json()["error"], "invalid_request");
    let r = site
        .token(
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &client_id),
            ],
            None,
        )
        .await;
    assert_eq!(r.json()["error"], "unauthorized_client");

    // Removing the role from the application takes it out of its live tokens.
    site.f
        .platform
        .update_application(
            &op,
            app.id,
            ApplicationPatch {
                app_roles: Some(Roles::default()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let actor = site.oidc.authenticate_app_token(&access).await.unwrap();
    assert!(actor.roles.is_empty());
}

#[tokio::test]
async fn revocation_introspection_and_logout() {
    let site = Site::new().await;
    let (app, secret) = site.application(false).await;
    let mut b = Browser::new();
    let done = code_for_new_hire(&site, &mut b, &app, &[]).await;
    let client_id = app.app_id.to_string();
    let code = done.param("code").unwrap();
    let r = site
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CB),
            ],
            Some((&client_id, &secret)),
        )
        .await;
    let tokens = r.json();
    let access = tokens["access_token"].as_str().unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();

    let intro = |token: &str| {
        let token = token.to_owned();
        let (client_id, secret) = (client_id.clone(), secret.clone());
        let site = &site;
        async move {
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs([
                    ("token", token.as_str()),
                    ("client_id", &client_id),
                    ("client_secret", &secret),
                ])
                .finish();
            site.send(
                &mut Browser::new(),
                Method::POST,
                "/oauth2/introspect",
                Body::from(body),
                Some("application/x-www-form-urlencoded"),
                &[],
            )
            .await
            .json()
        }
    };
    let active = intro(access).await;
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["username"], "ada@example.com");
    assert_eq!(
        intro(tokens["refresh_token"].as_str().unwrap()).await["token_type"],
        "refresh_token"
    );
    assert_eq!(intro("garbage").await, json!({"active": false}));

    // Logout with the ID token as hint: no question asked, the session ends, the state comes
    // back at the registered address.
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("id_token_hint", id_token);
    q.append_pair("post_logout_redirect_uri", CB);
    q.append_pair("state", "bye");
    let out = site
        .get(&mut b, &format!("/oauth2/logout?{}", q.finish()))
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.text);
    assert_eq!(out.location(), format!("{CB}?state=bye"));
    assert!(!b.cookies.contains_key("__Host-tapbridge_session"));
    assert_eq!(
        intro(access).await,
        json!({"active": false}),
        "the app's grant from that session ends too"
    );
    let again = site.get(&mut b, &authorize_url(&app, &[])).await;
    assert!(
        again.location().starts_with("/oauth2/signin"),
        "signed out: {}",
        again.location()
    );

    // An unregistered return address is never followed.
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("id_token_hint", id_token);
    q.append_pair("post_logout_redirect_uri", "https://evil.example.com/");
    let out = site
        .get(&mut b, &format!("/oauth2/logout?{}", q.finish()))
        .await;
    assert_eq!(out.status, StatusCode::BAD_REQUEST);
    assert!(out.location().is_empty());

    // Revocation: 200 for anything; a real token's grant ends.
    let r = site
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
            Some((&client_id, &secret)),
        )
        .await;
    assert_eq!(r.json()["error"], "invalid_grant", "revoked at logout");
}

#[tokio::test]
async fn fifty_concurrent_exchanges_of_one_code_give_one_success() {
    let site = Site::new().await;
    let (app, secret) = site.application(true).await;
    let mut b = Browser::new();
    let done = code_for_new_hire(&site, &mut b, &app, &[]).await;
    let code = done.param("code").unwrap();
    let client_id = app.app_id.to_string();
    let site = std::sync::Arc::new(site);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (site, code, client_id, secret) = (
            site.clone(),
            code.clone(),
            client_id.clone(),
            secret.clone(),
        );
        tasks.push(tokio::spawn(async move {
            site.token(
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", CB),
                ],
                Some((&client_id, &secret)),
            )
            .await
            .status
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap() == StatusCode::OK {
            ok += 1;
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn expired_codes_tokens_and_flows_are_refused() {
    let site = Site::new().await;
    let (app, secret) = site.application(true).await;
    let mut b = Browser::new();
    let client_id = app.app_id.to_string();
    let settings = site.oidc.settings().clone();

    // A code not redeemed within its lifetime is worthless.
    let done = code_for_new_hire(&site, &mut b, &app, &[]).await;
    let code = done.param("code").unwrap();
    site.f.clock.advance(settings.code_lifetime);
    let r = site
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CB),
            ],
            Some((&client_id, &secret)),
        )
        .await;
    assert_eq!(r.json()["error"], "invalid_grant", "{}", r.text);

    // An access token past its lifetime, a refresh token past its idle time.
    let done = site.get(&mut b, &authorize_url(&app, &[])).await;
    let code = done.param("code").unwrap();
    let r = site
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CB),
            ],
            Some((&client_id, &secret)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let access = r.json()["access_token"].as_str().unwrap().to_owned();
    let refresh = r.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        site.bearer("/oauth2/userinfo", &access).await.status,
        StatusCode::OK
    );
    site.f.clock.advance(settings.access_token_lifetime);
    assert_eq!(
        site.bearer("/oauth2/userinfo", &access).await.status,
        StatusCode::UNAUTHORIZED
    );
    site.f.clock.advance(settings.refresh_token_idle);
    let r = site
        .token(
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            Some((&client_id, &secret)),
        )
        .await;
    assert_eq!(r.json()["error"], "invalid_grant");

    // A flow left half-way expires: its pages say so and nothing reaches the client.
    let start = site
        .get(&mut Browser::new(), &authorize_url(&app, &[]))
        .await;
    assert!(start.location().starts_with("/oauth2/signin?flow="));
    site.f.clock.advance(settings.flow_lifetime);
    let late = site.get(&mut Browser::new(), start.location()).await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
    assert!(late.text.contains("expired"));
}
