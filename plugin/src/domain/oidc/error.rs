//! OAuth 2.0 errors (RFC 6749 §4.1.2.1, §5.2; OpenID Connect Core §3.1.2.6; RFC 7009, 7662).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    AccessDenied,
    ServerError,
    LoginRequired,
    ConsentRequired,
    InteractionRequired,
    InvalidToken,
    UnsupportedTokenType,
    RequestNotSupported,
    RequestUriNotSupported,
}

impl OAuthErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthErrorCode::InvalidRequest => "invalid_request",
            OAuthErrorCode::InvalidClient => "invalid_client",
            OAuthErrorCode::InvalidGrant => "invalid_grant",
            OAuthErrorCode::UnauthorizedClient => "unauthorized_client",
            OAuthErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            OAuthErrorCode::UnsupportedResponseType => "unsupported_response_type",
            OAuthErrorCode::InvalidScope => "invalid_scope",
            OAuthErrorCode::AccessDenied => "access_denied",
            OAuthErrorCode::ServerError => "server_error",
            OAuthErrorCode::LoginRequired => "login_required",
            OAuthErrorCode::ConsentRequired => "consent_required",
            OAuthErrorCode::InteractionRequired => "interaction_required",
            OAuthErrorCode::InvalidToken => "invalid_token",
            OAuthErrorCode::UnsupportedTokenType => "unsupported_token_type",
            OAuthErrorCode::RequestNotSupported => "request_not_supported",
            OAuthErrorCode::RequestUriNotSupported => "request_uri_not_supported",
        }
    }
}

/// An error for an OAuth client: a code from the registry and a description for its
/// developer. Never carries a secret or an internal detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: OAuthErrorCode,
    pub description: String,
}

impl OAuthError {
    pub fn new(code: OAuthErrorCode, description: impl Into<String>) -> Self {
        OAuthError {
            code,
            description: description.into(),
        }
    }

    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, d)
    }

    pub fn invalid_client() -> Self {
        Self::new(
            OAuthErrorCode::InvalidClient,
            "client authentication failed",
        )
    }

    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidGrant, d)
    }

    pub fn server_error() -> Self {
        Self::new(
            OAuthErrorCode::ServerError,
            "the server could not complete the request",
        )
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

/// Platform errors as a client sees them: input and policy problems stay what they are,
/// everything else is a server error (logged by the caller, not described).
impl From<crate::Error> for OAuthError {
    fn from(e: crate::Error) -> Self {
        use crate::Error;
        match e {
            Error::InvalidInput(m) | Error::PolicyViolation(m) => OAuthError::invalid_request(m),
            Error::Unauthenticated => OAuthError::invalid_client(),
            Error::Forbidden(m) => OAuthError::new(OAuthErrorCode::UnauthorizedClient, m),
            Error::NotFound(m) => OAuthError::invalid_request(format!("{m} does not exist")),
            other => {
                tracing::error!(error = %other, detail = ?other, "OAuth request failed");
                OAuthError::server_error()
            }
        }
    }
}
