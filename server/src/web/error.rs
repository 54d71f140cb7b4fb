//! Errors on the web pages: a page in the viewer's language with the header and a way back (or,
//! for the scripts' JSON calls, a small JSON body) instead of the Graph envelope. Like
//! `http::error`, internal details are logged once and never shown.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::i18n::Lang;
use super::pages::Page;
use super::viewer;
use super::{WebState, auth};
use crate::http::request_id;
use plugin::Error;
use plugin::domain::role::Role;

/// A CSRF token that is missing or does not match: the one failure worded "the form has
/// expired".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expired;

/// Why a page request failed.
#[derive(Debug)]
pub enum PageError {
    /// What the platform refused or failed at.
    Platform(Error),
    Expired,
    /// The viewer lacks this role for what they asked.
    MissingRole(Role),
    /// A signed-in user without any administrative role asked for an admin page.
    AdminOnly,
    NotFound,
    MethodNotAllowed,
    TooManyAttempts,
}

impl From<Error> for PageError {
    fn from(e: Error) -> Self {
        PageError::Platform(e)
    }
}

impl From<Expired> for PageError {
    fn from(_: Expired) -> Self {
        PageError::Expired
    }
}

/// The platform's sentences a person may meet on a page, in the page's language. Anything
/// else the platform says is shown as it said it.
fn in_page_words(message: &str, lang: Lang) -> String {
    use plugin::domain::fido2_policy::Refusal;
    let key = Refusal::ALL
        .into_iter()
        .find(|r| r.message() == message)
        .map(|r| match r {
            Refusal::Disabled => "refusal_disabled",
            Refusal::SelfServiceNotAllowed => "refusal_self_service",
            Refusal::ModelNotAllowed => "refusal_model",
            Refusal::AttestationRequired => "refusal_attestation",
        })
        .or((message == plugin::domain::webauthn::NOT_VERIFIED).then_some("passkey_not_verified"));
    key.map_or_else(|| message.to_owned(), |k| lang.text(k).to_owned())
}

impl PageError {
    /// Status, the heading's catalogue key and the message: the catalogue's, or the
    /// platform's own words for a value it refused.
    fn parts(&self, lang: Lang) -> (StatusCode, &'static str, String) {
        let text = |key: &str| lang.text(key).to_owned();
        match self {
            PageError::Platform(e) => match e {
                Error::InvalidInput(m) | Error::PolicyViolation(m) => (
                    StatusCode::BAD_REQUEST,
                    "error_heading_invalid",
                    in_page_words(m, lang),
                ),
                Error::InvalidPass => (
                    StatusCode::BAD_REQUEST,
                    "error_heading_invalid",
                    text("tap_signin_failed"),
                ),
                Error::NotFound(_) => (
                    StatusCode::NOT_FOUND,
                    "error_heading_not_found",
                    text("error_item_not_found"),
                ),
                Error::Conflict(m) => (StatusCode::CONFLICT, "error_heading_invalid", m.clone()),
                Error::Unauthenticated => (
                    StatusCode::UNAUTHORIZED,
                    "error_heading_signed_out",
                    text("error_signed_out"),
                ),
                Error::Forbidden(_) => (
                    StatusCode::FORBIDDEN,
                    "error_heading_forbidden",
                    text("error_forbidden"),
                ),
                Error::Storage(s) if s.fault.is_some() => {
                    tracing::warn!(request_id = ?request_id(), error = %e, "page refused: the store cannot work");
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "error_heading_unavailable",
                        text("error_store_unavailable"),
                    )
                }
                Error::Storage(_) | Error::Internal(_) => {
                    tracing::error!(request_id = ?request_id(), error = %e, detail = ?e, "page request failed");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "error_heading_internal",
                        text("error_internal"),
                    )
                }
            },
            PageError::Expired => (
                StatusCode::FORBIDDEN,
                "error_heading_expired",
                text("error_expired"),
            ),
            PageError::MissingRole(role) => (
                StatusCode::FORBIDDEN,
                "error_heading_forbidden",
                lang.format("error_missing_role", &[("role", role.display_name())]),
            ),
            PageError::AdminOnly => (
                StatusCode::FORBIDDEN,
                "error_heading_forbidden",
                text("error_admin_only"),
            ),
            PageError::NotFound => (
                StatusCode::NOT_FOUND,
                "error_heading_not_found",
                text("error_page_not_found"),
            ),
            PageError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "error_heading_method",
                text("error_method_not_allowed"),
            ),
            PageError::TooManyAttempts => (
                StatusCode::TOO_MANY_REQUESTS,
                "error_heading_too_many",
                text("error_too_many"),
            ),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let viewer = viewer::current();
        let (status, heading, message) = self.parts(viewer.lang);
        let (back, back_label) = viewer.way_back();
        Page::new("error.html", heading)
            .with("heading", &viewer.lang.text(heading))
            .with("message", &message)
            .with("back", &back)
            .with("back_label", &viewer.lang.text(back_label))
            .status(status)
            .into_response()
    }
}

/// An error for the pages' JSON calls: `{"error": "…"}` in the viewer's language.
#[derive(Debug)]
pub struct JsonError(pub PageError);

impl From<Error> for JsonError {
    fn from(e: Error) -> Self {
        JsonError(PageError::Platform(e))
    }
}

impl From<Expired> for JsonError {
    fn from(_: Expired) -> Self {
        JsonError(PageError::Expired)
    }
}

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        let (status, _, message) = self.0.parts(viewer::lang());
        (status, Json(json!({ "error": message }))).into_response()
    }
}

/// Too many attempts: the same page for every limit, so it says nothing about which.
pub fn too_many() -> Response {
    PageError::TooManyAttempts.into_response()
}

/// Whether a request came from a person's browser (it asks for HTML) rather than an API
/// client.
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// The pages' own paths: a miss under them is always a page.
fn is_page_path(path: &str) -> bool {
    [
        "/admin",
        "/security-info",
        "/signin",
        "/register",
        "/assets",
    ]
    .iter()
    .any(|p| path == *p || path.starts_with(&format!("{p}/")))
}

/// Any path no route serves: a "not found" page for a browser or under the pages, Graph's
/// error for everything else (API clients keep the answer they know).
pub async fn not_found(State(state): State<WebState>, uri: Uri, headers: HeaderMap) -> Response {
    if wants_html(&headers) || is_page_path(uri.path()) {
        auth::note_viewer(&state, &headers).await;
        PageError::NotFound.into_response()
    } else {
        crate::http::error::not_found().await
    }
}

/// A page route asked with a method it does not answer.
pub async fn method_not_allowed(State(state): State<WebState>, headers: HeaderMap) -> Response {
    auth::note_viewer(&state, &headers).await;
    PageError::MethodNotAllowed.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugin::domain::fido2_policy::Refusal;

    #[test]
    fn the_platforms_refusals_are_told_in_the_pages_language() {
        for r in Refusal::ALL {
            let de = in_page_words(r.message(), Lang::De);
            assert_ne!(de, r.message(), "{r:?} untranslated");
            assert_eq!(in_page_words(r.message(), Lang::En), r.message(), "{r:?}");
        }
        assert_eq!(
            in_page_words(plugin::domain::webauthn::NOT_VERIFIED, Lang::En),
            plugin::domain::webauthn::NOT_VERIFIED
        );
        assert_eq!(in_page_words("something else", Lang::De), "something else");
    }
}
