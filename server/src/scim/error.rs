//! The one place a bridge error becomes HTTP: SCIM's error response (RFC 7644 §3.12).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bridge::error::{Error, ScimType};
use serde_json::json;

pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const SCIM_MEDIA_TYPE: &str = "application/scim+json";

pub type Result<T, E = ScimError> = std::result::Result<T, E>;

/// A bridge error on its way to a SCIM client. (A wrapper: the error type is the bridge's,
/// its HTTP shape is this crate's.)
#[derive(Debug)]
pub struct ScimError(pub Error);

impl From<Error> for ScimError {
    fn from(e: Error) -> Self {
        ScimError(e)
    }
}

impl From<plugin::Error> for ScimError {
    fn from(e: plugin::Error) -> Self {
        ScimError(Error::Platform(e))
    }
}

/// Status, `scimType` and the detail shown to the client.
fn parts(error: &Error) -> (u16, Option<ScimType>, String) {
    use plugin::Error as P;
    match error {
        Error::Scim {
            status,
            scim_type,
            detail,
        } => (*status, *scim_type, detail.clone()),
        Error::NotFound(what) => (404, None, format!("{what} not found")),
        Error::PreconditionFailed { .. } => (412, None, error.to_string()),
        Error::NotModified { .. } => (304, None, String::new()),
        Error::Platform(e) => match e {
            P::InvalidInput(m) | P::PolicyViolation(m) => {
                (400, Some(ScimType::InvalidValue), m.clone())
            }
            P::NotFound(m) => (404, None, format!("{m} does not exist")),
            P::Conflict(m) => (409, Some(ScimType::Uniqueness), m.clone()),
            P::Unauthenticated => (401, None, "a valid bearer token is required".into()),
            P::Forbidden(m) => (403, None, m.clone()),
            P::InvalidPass => (400, None, e.to_string()),
            P::Storage(s) if s.fault.is_some() => {
                tracing::warn!(error = %e, "SCIM request refused: the store cannot work");
                (
                    503,
                    None,
                    "the service cannot store changes right now; retry later".into(),
                )
            }
            P::Storage(_) | P::Internal(_) => {
                tracing::error!(error = %e, detail = ?e, "SCIM request failed");
                (500, None, "an internal error occurred".into())
            }
        },
        Error::Ldap(_) | Error::Guard(_) | Error::Interrupted(_) => {
            tracing::error!(error = %error, "request failed");
            (500, None, "an internal error occurred".into())
        }
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        if let Error::NotModified { etag } = &self.0 {
            return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag.clone())]).into_response();
        }
        let (status, scim_type, detail) = parts(&self.0);
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": status.to_string(),
            "detail": detail,
        });
        if let Some(t) = scim_type {
            body["scimType"] = t.as_str().into();
        }
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (
            status,
            [(header::CONTENT_TYPE, SCIM_MEDIA_TYPE)],
            Json(body),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"tapbridge-scim\""),
            );
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(crate::http::error::RETRY_AFTER),
            );
        }
        response
    }
}
