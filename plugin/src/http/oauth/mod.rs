//! The OpenID Connect provider's machine-facing endpoints: discovery (OpenID Connect
//! Discovery and RFC 8414 metadata), the JWKS, and (in later files) the token, userinfo,
//! revocation and introspection endpoints. The browser-facing ones (authorization, consent,
//! logout) are pages, in `web::oidc`.
//!
//! Errors here are OAuth error JSON (RFC 6749 §5.2), mapped in one place, [`error`].

mod discovery;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

use crate::platform::Oidc;

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
        .with_state(oidc)
}
