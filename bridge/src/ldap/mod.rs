//! LDAP and Active Directory sync.
//!
//! * [`config`]: the `[[ldap.sources]]` settings; [`mapping`]: attribute defaults per kind and
//!   entry → user / group; [`dn`]: DN normalisation.
//! * [`plan`]: the sweep and the deprovisioning guard, pure; what to do with one person and
//!   nested group membership are planned in `plugin::domain::directory_sync`.
//! * [`group_read`]: every group, or only those a delta's changes reach.
//! * [`client`]: the wire (paged search, RFC 4533 refreshOnly); [`sync`]: one run, reading
//!   the directory and handing the mapped entries to `plugin::platform::directory_sync`,
//!   which writes them (the executor), holds the source's run lock (heartbeat, takeover of
//!   a dead run's lock) and records the run; [`state`]: cursors and state as data.
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
pub mod group_read;
pub mod mapping;
pub mod plan;
pub mod reader;
pub mod report;
pub mod scheduler;
/// Delta cursors and the per-source state, as data.
pub use plugin::domain::directory_sync::state;
pub mod status;
pub mod sync;
pub mod tls;

pub use config::{LdapConfig, SourceConfig};
pub use plugin::platform::directory_sync::LockSettings;
pub use sync::{RunOptions, run};
