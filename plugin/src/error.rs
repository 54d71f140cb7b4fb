//! The crate's one error type. The server crate maps it to HTTP in one place (`http::error`).

use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed or a value is out of range. The message is shown to the client.
    #[error("{0}")]
    InvalidInput(String),
    /// The request is well-formed but the policy does not allow it (lifetime outside the policy's
    /// range, user outside the policy's targets, policy disabled).
    #[error("{0}")]
    PolicyViolation(String),
    #[error("{0} does not exist")]
    NotFound(String),
    /// A uniqueness rule would be broken.
    #[error("{0}")]
    Conflict(String),
    /// No credential, or one that does not verify. Deliberately carries no detail.
    #[error("the access token is missing or invalid")]
    Unauthenticated,
    /// Authenticated, but the caller's roles do not allow the operation.
    #[error("{0}")]
    Forbidden(String),
    /// A pass could not be redeemed. Says nothing about why, by design: the reason (unknown
    /// user, wrong code, expired, locked …) goes to the audit log only.
    #[error("the user name or temporary access pass is invalid")]
    InvalidPass,
    /// The store failed. The detail is logged, never shown to a client.
    #[error("storage failure: {0}")]
    Storage(#[source] StorageError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Wraps the store's own error so that the domain-facing enum names no sqlx type.
pub struct StorageError {
    /// Set when the store itself cannot work (full disk, read-only, unreachable): the client
    /// is told to come back later (503) rather than that something broke (500).
    pub fault: Option<crate::store::Cause>,
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl fmt::Debug for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.source, f)
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.fault {
            Some(cause) => write!(f, "{} ({})", cause.describe(), self.source),
            None => fmt::Display::fmt(&self.source, f),
        }
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.source()
    }
}

impl Error {
    /// Why the store cannot work, when that is what failed.
    pub fn store_fault(&self) -> Option<crate::store::Cause> {
        match self {
            Error::Storage(e) => e.fault,
            _ => None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Error::InvalidInput(message.into())
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Error::NotFound(what.into())
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Error::Forbidden(message.into())
    }
}
