//! The bridge's one error type, and its mapping to SCIM's error response (RFC 7644 §3.12) —
//! the only place a bridge error becomes HTTP.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// SCIM's `scimType` detail codes (RFC 7644 table 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
}

impl ScimType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request the SCIM rules refuse, with its status and `scimType`.
    #[error("{detail}")]
    Scim {
        status: u16,
        scim_type: Option<ScimType>,
        detail: String,
    },
    /// The resource does not exist for this client (or belongs to another source).
    #[error("{0} not found")]
    NotFound(String),
    /// `If-Match` did not match the resource's version.
    #[error("the resource has changed: its version is {current}")]
    PreconditionFailed { current: String },
    /// `If-None-Match` matched: the client's copy is current.
    #[error("not modified")]
    NotModified { etag: String },
    #[error(transparent)]
    Platform(#[from] plugin::Error),
    /// An LDAP connection, bind or search failed, timed out or returned something unusable.
    #[error("LDAP: {0}")]
    Ldap(String),
    /// A sync stopped before deprovisioning more users than its source allows.
    #[error(transparent)]
    Guard(#[from] crate::ldap::plan::GuardTripped),
    /// A sync run stopped before its end: it lost its run lock, or its process is stopping.
    #[error("{0}")]
    Interrupted(String),
}

impl Error {
    pub fn bad(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Error::Scim {
            status: 400,
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Error::Scim {
            status: 409,
            scim_type: Some(ScimType::Uniqueness),
            detail: detail.into(),
        }
    }

    /// Status, `scimType` and the detail shown to the client.
    fn parts(&self) -> (u16, Option<ScimType>, String) {
        use plugin::Error as P;
        match self {
            Error::Scim {
                status,
                scim_type,
                detail,
            } => (*status, *scim_type, detail.clone()),
            Error::NotFound(what) => (404, None, format!("{what} not found")),
            Error::PreconditionFailed { .. } => (412, None, self.to_string()),
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
                tracing::error!(error = %self, "request failed");
                (500, None, "an internal error occurred".into())
            }
        }
    }
}

pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const SCIM_MEDIA_TYPE: &str = "application/scim+json";

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if let Error::NotModified { etag } = &self {
            return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag.clone())]).into_response();
        }
        let (status, scim_type, detail) = self.parts();
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
                axum::http::HeaderValue::from_static("Bearer realm=\"tapbridge-scim\""),
            );
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(plugin::http::error::RETRY_AFTER),
            );
        }
        response
    }
}
