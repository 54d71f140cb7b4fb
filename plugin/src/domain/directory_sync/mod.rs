//! Directory sync (LDAP, Active Directory) as the platform sees it: entries already mapped to
//! people and groups, the steps planned for them, and what a run counts. The bridge reads the
//! directory and maps its entries to these types; `platform::directory_sync` applies them.
//!
//! * [`plan`]: what to do with one incoming person, as a pure function of what is known.
//! * [`groups`]: nested group membership resolved to effective members, pure.
//! * [`state`]: what a sync keeps between runs (cursors, state, quarantine, run lock holder).

pub mod groups;
pub mod plan;
pub mod state;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::directory::NewUser;

/// A person as the directory describes them, mapped and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceUser {
    pub anchor: String,
    pub dn: String,
    /// Normalised DN, for member and manager references.
    pub dn_key: String,
    /// Login name (`uid`, `sAMAccountName`), for posixGroup `memberUid`.
    pub login: Option<String>,
    /// The profile, checked by `NewUser::normalised` (source filled in, manager unresolved).
    pub profile: NewUser,
    /// Normalised DN of the manager, resolved to a user by the executor.
    pub manager_dn: Option<String>,
    pub fingerprint: String,
}

/// A group as the directory describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceGroup {
    pub anchor: String,
    pub dn_key: String,
    pub name: String,
    pub description: Option<String>,
    /// Normalised DNs from `member` / `uniqueMember` (users or groups).
    pub member_dns: Vec<String>,
    /// `memberUid` values (posixGroup), matched against users' login names.
    pub member_uids: Vec<String>,
    pub fingerprint: String,
}

/// Why an entry was not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub dn: String,
    /// The anchor, when it could be read: an existing user whose entry turned bad is kept,
    /// never deprovisioned for it.
    pub anchor: Option<String>,
    pub reason: String,
}

/// A deprovisioning step waiting for the guard.
#[derive(Debug)]
pub enum Deprovision {
    /// The directory disabled the account.
    Disable(Box<SourceUser>),
    /// The entry left the directory.
    Gone { anchor: String, id: Uuid },
}

/// What happens to a user whose entry left the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDelete {
    /// Keep the user, disabled, without group memberships (reversible).
    Disable,
    /// Delete the user.
    Delete,
}

/// What a run did: counters for the summary, the admin API and /metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Entries read from the directory (users and groups).
    pub read: u64,
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub disabled: u64,
    pub deleted: u64,
    pub quarantined: u64,
    pub groups_added: u64,
    pub groups_updated: u64,
    pub groups_deleted: u64,
    pub memberships_added: u64,
    pub memberships_removed: u64,
}
