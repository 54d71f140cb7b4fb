//! Directory sync (LDAP, Active Directory) as platform operations. The bridge reads the
//! directory and maps its entries to `domain::directory_sync` types; everything that touches
//! the store happens here, in transactions these operations own:
//!
//! * [`Executor`]: applies one run's users, groups, deprovisioning and quarantine, one
//!   transaction per batch, every change with its audit record and joiner / mover / leaver
//!   event (through [`super::lifecycle`]);
//! * [`RunLock`]: one run of a source at a time across processes and nodes, with a heartbeat
//!   and a fence every batch checks before it commits; [`RunLock::finish`] records the run;
//! * the source's recorded state, and the snapshot a dry run writes to.

mod executor;
mod run_lock;

pub use executor::{Executor, GroupRead, Imported};
pub use run_lock::{Fence, HolderView, LockSettings, RunLock};

use super::Platform;
use crate::Result;
use crate::domain::directory_sync::Counts;
use crate::domain::directory_sync::state::SourceState;
use crate::store::{Engine, ldap};

/// Rows a run must have written for the database's statistics to be refreshed after it.
const STATISTICS_AFTER: u64 = 1000;

impl Platform {
    /// After a run that wrote many rows, the database's planner statistics of the tables
    /// it wrote are refreshed at once (see `store::ldap::refresh_statistics`). For the sync
    /// itself, after the run is recorded; a failure here is the caller's to log, not the
    /// run's.
    pub async fn settle_after_directory_run(&self, counts: &Counts) -> Result<()> {
        let written = counts.added
            + counts.updated
            + counts.disabled
            + counts.deleted
            + counts.groups_added
            + counts.groups_updated
            + counts.groups_deleted
            + counts.memberships_added
            + counts.memberships_removed;
        if written < STATISTICS_AFTER {
            return Ok(());
        }
        let mut conn = self.store.read().await?;
        ldap::refresh_statistics(&mut conn).await
    }

    /// What the store recorded of `source` (`ldap:NAME`): its cursor, last runs and counters;
    /// the default state for a source never run. For the sync itself (the CLI or the
    /// daemon's scheduler); operators read it through [`Platform::sync_source`].
    pub async fn directory_sync_state(&self, source: &str) -> Result<SourceState> {
        let mut conn = self.store.read().await?;
        ldap::load_state(&mut conn, source).await
    }

    /// The platform a dry run runs on. On SQLite, the same platform over a consistent copy
    /// of the database: the run writes there as a real run would, so each batch sees what the
    /// ones before it would have done, while the live database is only read. PostgreSQL has
    /// no such copy: the platform is the live one, and the [`Executor`] of a dry run keeps
    /// everything it does in one transaction that it rolls back.
    /// [`Platform::discard_dry_run_copy`] removes the copy.
    pub async fn dry_run_copy(&self) -> Result<Platform> {
        match self.store.engine() {
            Engine::Sqlite => Ok(self.with_store(self.store.snapshot().await?)),
            Engine::Postgres => Ok(self.with_store(self.store.clone())),
        }
    }

    /// Closes and removes a copy made by [`Platform::dry_run_copy`]; does nothing to a
    /// platform over the live database.
    pub async fn discard_dry_run_copy(self) {
        self.store.discard().await;
    }
}
