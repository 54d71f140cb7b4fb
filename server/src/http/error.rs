//! The one place where errors become HTTP responses: Graph's error envelope,
//! `{"error":{"code","message","innerError":{"request-id","date"}}}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::request_id;
use plugin::Error;
use plugin::domain::timefmt::rfc3339;

/// A platform error on its way to an API client. (A wrapper: the error type is the
/// platform's, its HTTP shape is this crate's.)
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

/// What a Graph handler returns.
pub type ApiResult<T> = Result<T, ApiError>;

/// Status and Graph error code.
fn status_and_code(error: &Error) -> (StatusCode, &'static str) {
    match error {
        Error::InvalidInput(_) | Error::PolicyViolation(_) => {
            (StatusCode::BAD_REQUEST, "invalidRequest")
        }
        Error::InvalidPass => (StatusCode::BAD_REQUEST, "invalidRequest"),
        Error::NotFound(_) => (StatusCode::NOT_FOUND, "Request_ResourceNotFound"),
        Error::Conflict(_) => (StatusCode::CONFLICT, "nameAlreadyExists"),
        Error::Unauthenticated => (StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken"),
        Error::Forbidden(_) => (StatusCode::FORBIDDEN, "Authorization_RequestDenied"),
        // The store cannot work for a reason outside the request (a full disk, a lost
        // database): the client should come back, not report a bug.
        Error::Storage(e) if e.fault.is_some() => {
            (StatusCode::SERVICE_UNAVAILABLE, "serviceNotAvailable")
        }
        Error::Storage(_) | Error::Internal(_) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "generalException")
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let ApiError(error) = self;
        let (status, code) = status_and_code(&error);
        let message = match &error {
            Error::Storage(e) if e.fault.is_some() => {
                tracing::warn!(request_id = ?request_id::current(), error = %error, "request refused: the store cannot work");
                "The service cannot store changes right now. Retry after the time in Retry-After."
                    .to_owned()
            }
            Error::Storage(_) | Error::Internal(_) => {
                // Logged once here with the request id; the client gets no internals.
                tracing::error!(request_id = ?request_id::current(), error = %error, detail = ?error, "request failed");
                "An internal error occurred. Quote the request-id when reporting it.".to_owned()
            }
            other => other.to_string(),
        };
        let mut response = envelope(status, code, &message);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"tapbridge\", error=\"invalid_token\""),
            );
        }
        response
    }
}

/// Seconds a client waits before retrying when the store cannot work.
pub const RETRY_AFTER: &str = "5";

/// A Graph error response with an arbitrary status and code.
pub fn envelope(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "request-id": request_id::current().map(|id| id.to_string()),
                "date": rfc3339(time::OffsetDateTime::now_utc()),
            }
        }
    });
    (status, Json(body)).into_response()
}

pub async fn not_found() -> Response {
    envelope(
        StatusCode::NOT_FOUND,
        "Request_UnsupportedQuery",
        "The requested resource or path does not exist.",
    )
}

pub async fn method_not_allowed() -> Response {
    envelope(
        StatusCode::METHOD_NOT_ALLOWED,
        "Request_UnsupportedQuery",
        "The HTTP method is not supported on this resource.",
    )
}
