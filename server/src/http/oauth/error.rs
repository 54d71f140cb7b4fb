//! OAuth errors as responses: `{"error", "error_description"}` (RFC 6749 §5.2), 400, or 401
//! with `WWW-Authenticate` for `invalid_client` (Basic when the client tried Basic) and for
//! bearer-token errors (RFC 6750 §3). Never cached.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use plugin::domain::oidc::{OAuthError, OAuthErrorCode};

/// An error from the token, revocation or introspection endpoint.
pub struct TokenError {
    pub error: OAuthError,
    /// The client tried `Authorization: Basic`.
    pub basic: bool,
}

impl From<OAuthError> for TokenError {
    fn from(error: OAuthError) -> Self {
        TokenError {
            error,
            basic: false,
        }
    }
}

pub fn no_store(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let status = if self.error.code == OAuthErrorCode::InvalidClient {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        };
        let body = json!({
            "error": self.error.code.as_str(),
            "error_description": self.error.description,
        });
        let mut response = no_store((status, Json(body)).into_response());
        if status == StatusCode::UNAUTHORIZED {
            let scheme = if self.basic {
                "Basic realm=\"tapbridge\""
            } else {
                "Bearer realm=\"tapbridge\""
            };
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(scheme));
        }
        response
    }
}

/// A bearer-token failure at UserInfo (RFC 6750 §3.1).
pub fn bearer_error(status: StatusCode, code: &'static str, description: &str) -> Response {
    let mut response = no_store(
        (
            status,
            Json(json!({ "error": code, "error_description": description })),
        )
            .into_response(),
    );
    let challenge = format!("Bearer realm=\"tapbridge\", error=\"{code}\"");
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    response
}
