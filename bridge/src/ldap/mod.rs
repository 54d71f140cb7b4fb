//! LDAP and Active Directory sync.
//!
//! * [`config`]: the `[[ldap.sources]]` settings; [`mapping`]: attribute defaults per kind and
//!   entry → user / group; [`dn`]: DN normalisation.
//! * [`plan`] and [`groups`]: pure planning (steps, sweep, guard, nested membership).
//! * [`client`]: the wire (paged search, RFC 4533 refreshOnly); [`executor`]: writes through
//!   `plugin::platform::lifecycle`; [`state`]: the sync's own tables; [`sync`]: one run,
//!   holding its source's [`lock`] (heartbeat, takeover of a dead run's lock).
//! * [`scheduler`] and [`status`]: `serve`'s periodic runs, the admin route and metrics.
//! * [`controls`] encodes and decodes the request and response controls the sync needs and
//!   `ldap3` lacks (AD DirSync, Show Deleted, RFC 4533 content sync, paged results), with a
//!   strict BER reader that returns errors, never panics.

pub mod client;
pub mod config;
pub mod controls;
pub mod delta;
pub mod dn;
pub mod entry;
pub mod executor;
pub mod groups;
pub mod lock;
pub mod mapping;
pub mod plan;
pub mod reader;
pub mod report;
pub mod scheduler;
/// The sync's own tables, in the storage layer.
pub use plugin::store::ldap as state;
pub mod status;
pub mod sync;
pub mod tls;

pub use config::{LdapConfig, SourceConfig};
pub use lock::LockSettings;
pub use sync::{RunOptions, run};
