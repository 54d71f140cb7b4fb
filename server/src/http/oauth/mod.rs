//! The OpenID Connect provider's machine-facing endpoints: discovery (OpenID Connect
//! Discovery and RFC 8414 metadata), the JWKS, and (in later files) the token, userinfo,
//! revocation and introspection endpoints. The browser-facing ones (authorization, consent,
//! logout) are pages, in `web::oidc`.
//!
//! Errors here are OAuth error JSON (RFC 6749 §5.2), mapped in one place, [`error`].

mod discovery;
mod error;
mod form;
mod token;
mod userinfo;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use plugin::platform::Oidc;

/// The endpoints' paths, relative to the issuer.
pub mod paths {
    pub const AUTHORIZE: &str = "/oauth2/authorize";
    pub const TOKEN: &str = "/oauth2/token";
    pub const USERINFO: &str = "/oauth2/userinfo";
    pub const JWKS: &str = "/oauth2/jwks";
    pub const REVOKE: &str = "/oauth2/revoke";
    pub const INTROSPECT: &str = "/oauth2/introspect";
    pub const LOGOUT: &str = "/oauth2/logout";
}

/// The machine endpoints answer any origin (a single-page application calls them from its
/// own): they use no cookies, and every request carries its own credential.
async fn cors(request: Request, next: Next) -> Response {
    let preflight = request.method() == Method::OPTIONS;
    let mut response = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    let h = response.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    if preflight {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    response
}

/// Routes to merge into the application (`http::app_with`).
pub fn routes(oidc: Arc<Oidc>) -> Router {
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::openid_configuration),
        )
        .route(paths::JWKS, get(discovery::jwks))
        .route(paths::TOKEN, post(token::token))
        .route(paths::REVOKE, post(token::revoke))
        .route(paths::INTROSPECT, post(token::introspect))
        .route(
            paths::USERINFO,
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .layer(middleware::from_fn(cors))
        .with_state(oidc)
}
