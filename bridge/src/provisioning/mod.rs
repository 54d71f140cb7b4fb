//! The SCIM 2.0 service provider (RFC 7643 / RFC 7644) under `/scim/v2`, for HR systems and
//! identity providers that push joiners, movers and leavers.
//!
//! Each client authenticates with a provisioning token bound to a source (`scim:NAME`); it
//! sees and changes only the users and groups that source created, and can never adopt
//! another source's or an administrator's objects nor grant roles. Creating a user emits a
//! joiner event; `active: false` or DELETE a leaver event, and the user's pass is revoked in
//! the same transaction.
//!
//! This is the service; its routes and its error responses are the server crate's (`scim`).

pub mod discovery;
mod groups;
mod list;
pub mod mapping;
pub mod resource;
mod users;

use std::sync::Arc;

use plugin::domain::provisioned::Refusal;
use plugin::platform::Platform;
use serde_json::Value;
use uuid::Uuid;

use crate::error::Error;
pub use list::ListQuery;
pub use mapping::Mapping;
pub use plugin::domain::provisioned::Kind;

#[derive(Debug, Clone)]
pub struct ScimSettings {
    /// The externally visible base URL of the daemon, without `/scim/v2`.
    pub public_url: String,
    /// The most resources one list response holds (`filter.maxResults`).
    pub max_results: u32,
    pub mapping: Mapping,
}

/// One rendered resource and its version (for the ETag header).
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub json: Value,
    pub version: i64,
}

/// A write whose answer may go without the resource: its new version (for the ETag), and the
/// rendered resource when the caller asked for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub json: Option<Value>,
    pub version: i64,
}

/// A page of a list or search.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub total_results: usize,
    pub start_index: usize,
    pub resources: Vec<Value>,
}

/// The SCIM service: operations on Users and Groups for one authenticated source.
pub struct Scim {
    platform: Arc<Platform>,
    settings: ScimSettings,
}

impl Scim {
    pub fn new(platform: Arc<Platform>, settings: ScimSettings) -> Self {
        Scim { platform, settings }
    }

    /// The base URL of the SCIM endpoint (`…/scim/v2`).
    pub fn base(&self) -> String {
        format!("{}/scim/v2", self.settings.public_url)
    }

    /// The most resources one list response holds.
    pub fn max_results(&self) -> u32 {
        self.settings.max_results
    }

    fn location(&self, kind: &str, id: Uuid) -> String {
        format!("{}/{kind}/{id}", self.base())
    }
}

/// The platform's refusals of a provisioning write, in SCIM's words.
impl From<Refusal> for Error {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::NotFound(kind, id) => Error::NotFound(format!("{} `{id}`", kind.as_str())),
            Refusal::UserTaken(_) => Error::conflict("userName is already in use"),
            Refusal::GroupNameTaken(name) => Error::conflict(format!(
                "a group named `{name}` already exists for this provisioning source \
                 (group names are unique per source, ignoring case)"
            )),
            Refusal::ForeignMember(id) => users::foreign(&format!("member `{id}`")),
        }
    }
}
