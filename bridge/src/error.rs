//! The bridge's one error type. The server crate maps it to SCIM's error response
//! (RFC 7644 §3.12), in one place.

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
}
