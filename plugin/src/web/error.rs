//! Errors on the web pages: a friendly HTML page (or, for the scripts' JSON calls, a small JSON
//! body) instead of the Graph envelope. Like `http::error`, internal details are logged once
//! and never shown.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::pages::Page;
use crate::Error;
use crate::http::request_id;

/// Status and the sentence a person reads.
fn status_and_message(e: &Error) -> (StatusCode, String) {
    match e {
        Error::InvalidInput(m) | Error::PolicyViolation(m) => (StatusCode::BAD_REQUEST, m.clone()),
        Error::InvalidPass => (
            StatusCode::BAD_REQUEST,
            "The user name or Temporary Access Pass is not valid, or the pass can no longer be used.".into(),
        ),
        Error::NotFound(_) => (
            StatusCode::NOT_FOUND,
            "That item does not exist, or no longer exists.".into(),
        ),
        Error::Conflict(m) => (StatusCode::CONFLICT, m.clone()),
        Error::Unauthenticated => (
            StatusCode::UNAUTHORIZED,
            "Your session has ended. Sign in again.".into(),
        ),
        Error::Forbidden(_) => (
            StatusCode::FORBIDDEN,
            "You are not allowed to do that, or the form has expired. Reload the page and try again.".into(),
        ),
        Error::Storage(s) if s.fault.is_some() => {
            tracing::warn!(request_id = ?request_id(), error = %e, "page refused: the store cannot work");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "We cannot save anything right now. Try again in a few minutes.".into(),
            )
        }
        Error::Storage(_) | Error::Internal(_) => {
            tracing::error!(request_id = ?request_id(), error = %e, detail = ?e, "page request failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side. Try again in a moment.".into(),
            )
        }
    }
}

/// An error shown as a page.
pub struct PageError(pub Error);

impl From<Error> for PageError {
    fn from(e: Error) -> Self {
        PageError(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, message) = status_and_message(&self.0);
        let heading = match status {
            StatusCode::UNAUTHORIZED => "Signed out",
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
            s if s.is_server_error() => "Something went wrong",
            _ => "That did not work",
        };
        error_page(status, heading, &message)
    }
}

/// A stand-alone error page with a way back.
pub fn error_page(status: StatusCode, heading: &str, message: &str) -> Response {
    Page::new("error.html", heading, None, "")
        .with("heading", &heading)
        .with("message", &message)
        .with("back", &"/")
        .with("back_label", &"Back to the start")
        .status(status)
        .into_response()
}

/// An error for the pages' JSON calls: `{"error": "…"}`.
pub struct JsonError(pub Error);

impl From<Error> for JsonError {
    fn from(e: Error) -> Self {
        JsonError(e)
    }
}

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        let (status, message) = status_and_message(&self.0);
        (status, Json(json!({ "error": message }))).into_response()
    }
}

/// Too many attempts: the same page for every limit, so it says nothing about which.
pub fn too_many() -> Response {
    error_page(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many attempts",
        "Too many sign-in attempts. Wait a minute and try again.",
    )
}
