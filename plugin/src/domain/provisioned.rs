//! Users and groups a provisioning client (SCIM) created: the body it last wrote, with a
//! version for its ETags, and what a write through that client asks of the platform. The
//! protocol (parsing, patching, rendering the body) is the bridge's; these are the plain data
//! it hands over and gets back.

use std::collections::BTreeSet;

use serde_json::Value;
use uuid::Uuid;

use super::directory::{Group, NewUser, User};

/// The two kinds of provisioned object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Group,
}

impl Kind {
    /// The SCIM resource type's name, as error messages name the object.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
        }
    }
}

/// The SCIM side of one provisioned object.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimRow {
    pub id: Uuid,
    pub source: String,
    pub external_id: Option<String>,
    pub body: Value,
    pub version: i64,
}

/// A provisioned user as its source sees it: the platform's record, the stored body, and the
/// groups of the same source it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct ProvisionedUser {
    pub user: User,
    pub row: ScimRow,
    pub groups: Vec<Group>,
}

/// A provisioned group as its source sees it; `members` is empty when they were not asked
/// for (a large group's members are read only when the answer shows them).
#[derive(Debug, Clone, PartialEq)]
pub struct ProvisionedGroup {
    pub group: Group,
    pub row: ScimRow,
    pub members: Vec<User>,
}

/// A user body to store, and the platform record it maps to.
#[derive(Debug, Clone, PartialEq)]
pub struct UserWrite {
    pub user: NewUser,
    /// The manager the body names: kept only if it is a user of the same source.
    pub manager: Option<Uuid>,
    pub external_id: Option<String>,
    pub body: Value,
    /// Write-only attributes the client offered and that were dropped unread (their names,
    /// for the audit log).
    pub discarded: Vec<String>,
}

/// What a write of an existing user amounts to, decided inside its transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum UserChange {
    /// The body stays as it is; write-only attributes the request offered are still audited.
    Unchanged {
        discarded: Vec<String>,
    },
    Changed(Box<UserWrite>),
}

/// A group body to store: its name, its members (users of the same source) and the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupWrite {
    pub display_name: String,
    pub members: BTreeSet<Uuid>,
    pub external_id: Option<String>,
    /// Without members, which live in the platform's membership table.
    pub body: Value,
}

/// Why the platform refused a provisioning client's write; the bridge words it in its
/// protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The object does not exist, or another source owns it: the client cannot tell which.
    NotFound(Kind, Uuid),
    /// The user's principal name or anchor is another user's (the platform's `Conflict`).
    UserTaken(String),
    /// Another group of the same source has this display name, ignoring case.
    GroupNameTaken(String),
    /// A member named is not a user of this source.
    ForeignMember(Uuid),
}
