//! Provider metadata and keys: public, cacheable, readable from any origin.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::paths;
use plugin::platform::Oidc;

/// The scopes a client may ask for.
pub const SCOPES: [&str; 5] = ["openid", "profile", "email", "groups", "offline_access"];

fn metadata(issuer: &str) -> Value {
    let url = |path: &str| format!("{issuer}{path}");
    let auth_methods = [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    ];
    json!({
        "issuer": issuer,
        "authorization_endpoint": url(paths::AUTHORIZE),
        "token_endpoint": url(paths::TOKEN),
        "userinfo_endpoint": url(paths::USERINFO),
        "jwks_uri": url(paths::JWKS),
        "revocation_endpoint": url(paths::REVOKE),
        "introspection_endpoint": url(paths::INTROSPECT),
        "end_session_endpoint": url(paths::LOGOUT),
        // id_token: the implicit answer to Microsoft Entra's external authentication requests
        // (applications marked as its client only).
        "response_types_supported": ["code", "id_token"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "implicit", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256"],
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": SCOPES,
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid",
            "name", "given_name", "family_name", "preferred_username", "email",
            "email_verified", "groups",
        ],
        "prompt_values_supported": ["none", "login", "consent"],
        "acr_values_supported": ["phr", "phrh", "possessionorinherence", "possession", "knowledgeorpossession", "knowledgeorpossessionorinherence"],
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "frontchannel_logout_supported": false,
        "backchannel_logout_supported": false,
    })
}

fn public(mut response: Response, max_age: u32) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        h.insert(header::CACHE_CONTROL, v);
    }
    response
}

/// `GET /.well-known/openid-configuration`, `GET /.well-known/oauth-authorization-server` —
/// anyone.
pub async fn openid_configuration(State(oidc): State<Arc<Oidc>>) -> Response {
    public(Json(metadata(oidc.issuer())).into_response(), 3600)
}

/// `GET /oauth2/jwks` — anyone. The next, current and recently retired keys. Cached briefly:
/// a relying party that meets an unknown `kid` fetches again.
pub async fn jwks(State(oidc): State<Arc<Oidc>>) -> Result<Response, crate::http::error::ApiError> {
    let set = oidc.jwks().await?;
    Ok(public(Json(set.as_ref().clone()).into_response(), 300))
}
