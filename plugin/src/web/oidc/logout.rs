//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): filled in with the token
//! endpoint.

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::super::pages::Page;
use super::OidcPages;

pub async fn logout_get(State(_state): State<OidcPages>) -> Response {
    Page::new("signed_out.html", "Signed out", None, "").into_response()
}

pub async fn logout_post(State(_state): State<OidcPages>) -> Response {
    Page::new("signed_out.html", "Signed out", None, "").into_response()
}
