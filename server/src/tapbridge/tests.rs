//! tapbridge's `/v1.0` extensions through the daemon's whole router ([`crate::router`]),
//! without a socket: they authenticate as every other Graph route does — static API tokens
//! and the OpenID Connect provider's application tokens alike — and refuse in Graph's
//! envelope.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use plugin::domain::directory::NewUser;
use plugin::domain::oidc::OidcSettings;
use plugin::domain::oidc::client::NewApplication;
use plugin::domain::role::{Role, Roles};
use plugin::platform::testing::{Fixture, fixture};
use plugin::platform::{Caller, Oidc, TokenGrant};
use plugin::secret::ServerSecret;
use serde_json::Value;
use tower::ServiceExt;

use super::Extensions;
use crate::{HttpSettings, Services, router};

const ORIGIN: &str = "http://localhost:8080";
const EXTENSIONS: [&str; 3] = [
    "/v1.0/tapbridge/mail/outbox",
    "/v1.0/tapbridge/syncSources",
    "/v1.0/tapbridge/entra",
];

struct Daemon {
    f: Fixture,
    app: Router,
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

impl Daemon {
    async fn new() -> Daemon {
        let f = fixture().await;
        let oidc = Arc::new(Oidc::new(
            f.platform.clone(),
            &ServerSecret::from_bytes(vec![42; 32]).unwrap(),
            OidcSettings::with_issuer(ORIGIN),
        ));
        let app = router(Services {
            platform: f.platform.clone(),
            settings: HttpSettings {
                body_limit: 4096,
                public_url: ORIGIN.into(),
            },
            scim: None,
            extensions: Extensions {
                rules: Arc::default(),
                default_language: "en".into(),
                entra: None,
                entra_rules: Arc::default(),
                ldap_sources: Arc::default(),
                ldap_lock: Default::default(),
            },
            web: None,
            oidc: Some(oidc),
        });
        Daemon { f, app }
    }

    async fn send(&self, method: Method, uri: &str, authorization: Option<&str>) -> Reply {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(a) = authorization {
            req = req.header(header::AUTHORIZATION, a);
        }
        self.reply(req.body(Body::empty()).unwrap()).await
    }

    async fn reply(&self, req: Request<Body>) -> Reply {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
        Reply {
            status,
            headers,
            body,
        }
    }

    /// A static API token with `roles`.
    async fn static_token(&self, roles: &[Role]) -> String {
        let name = format!("t{}", uuid::Uuid::new_v4().simple());
        let created = self
            .f
            .platform
            .create_token(
                &Caller::operator(),
                &name,
                TokenGrant::Roles(Roles::new(roles.iter().copied())),
            )
            .await
            .unwrap();
        created.token.expose().to_owned()
    }

    /// An access token the provider issues by client credentials to an application granted
    /// `roles`, fetched from the token endpoint.
    async fn app_token(&self, roles: &[Role]) -> String {
        let op = Caller::operator();
        let app = self
            .f
            .platform
            .create_application(
                &op,
                NewApplication {
                    display_name: "Automation".into(),
                    app_roles: Roles::new(roles.iter().copied()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let (_, added) = self
            .f
            .platform
            .add_application_password(&op, app.id, None, None)
            .await
            .unwrap();
        let form = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("grant_type", "client_credentials"),
                ("client_id", &app.app_id.to_string()),
                ("client_secret", added.secret_text.expose()),
                ("scope", "https://graph.microsoft.com/.default"),
            ])
            .finish();
        let req = Request::builder()
            .method(Method::POST)
            .uri("/oauth2/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap();
        let r = self.reply(req).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body["access_token"].as_str().unwrap().to_owned()
    }
}

fn assert_graph_error(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.body["error"]["code"], code, "{}", r.body);
    assert!(
        r.body["error"]["innerError"]["request-id"]
            .as_str()
            .is_some()
    );
}

#[tokio::test]
async fn extensions_take_static_and_application_tokens_alike() {
    let d = Daemon::new().await;
    let reader = d.static_token(&[Role::Reader]).await;
    let app = d.app_token(&[Role::Reader]).await;
    for token in [&reader, &app] {
        let bearer = format!("Bearer {token}");
        for path in EXTENSIONS {
            let r = d.send(Method::GET, path, Some(&bearer)).await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        }
        // The scheme's name is case-insensitive, as on the rest of /v1.0.
        let r = d
            .send(Method::GET, EXTENSIONS[0], Some(&format!("bearer {token}")))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let r = d
        .send(
            Method::GET,
            "/v1.0/tapbridge/syncSources",
            Some(&format!("Bearer {app}")),
        )
        .await;
    assert_eq!(r.body["value"], serde_json::json!([]));
    let r = d
        .send(
            Method::GET,
            "/v1.0/tapbridge/entra",
            Some(&format!("Bearer {app}")),
        )
        .await;
    assert_eq!(r.body["configured"], false);

    // Authenticated, but a reader may not resend a pass: refused by role, not by token.
    d.f.platform
        .create_user(
            &Caller::operator(),
            NewUser {
                user_principal_name: "ada@example.com".into(),
                account_enabled: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let r = d
        .send(
            Method::POST,
            "/v1.0/users/ada@example.com/tapbridge.resendOnboarding",
            Some(&format!("Bearer {app}")),
        )
        .await;
    assert_graph_error(&r, StatusCode::FORBIDDEN, "Authorization_RequestDenied");
}

#[tokio::test]
async fn extensions_refuse_in_graphs_envelope() {
    let d = Daemon::new().await;
    let no_roles = d.app_token(&[]).await;
    let reader = d.static_token(&[Role::Reader]).await;
    for path in EXTENSIONS {
        for authorization in [
            None,
            Some("Bearer".to_owned()),
            Some("Bearer tapbridge_not-a-token".to_owned()),
            Some("Bearer not.a.jwt".to_owned()),
            Some(format!("Basic {reader}")),
        ] {
            let r = d.send(Method::GET, path, authorization.as_deref()).await;
            assert_graph_error(&r, StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken");
            assert!(
                r.headers
                    .get(header::WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("Bearer")),
                "{path}"
            );
        }
        let r = d
            .send(Method::GET, path, Some(&format!("Bearer {no_roles}")))
            .await;
        assert_graph_error(&r, StatusCode::FORBIDDEN, "Authorization_RequestDenied");
    }
    let r = d
        .send(
            Method::GET,
            "/v1.0/tapbridge/mail/outbox?state=lost",
            Some(&format!("Bearer {reader}")),
        )
        .await;
    assert_graph_error(&r, StatusCode::BAD_REQUEST, "invalidRequest");
}
