//! Reading the audit log, and purging it past its retention period.

use super::{Caller, Platform};
use crate::Result;
use crate::domain::audit::{Activity, AuditEntry, AuditQuery, AuditRecord};
use crate::metrics::add;
use crate::store::audit;

/// Records deleted per write transaction: the purge of a large backlog leaves the write lock
/// free between batches for the requests, the CLI and the other jobs.
const PURGE_BATCH: u32 = 2000;

impl Platform {
    pub async fn audit_log(&self, caller: &Caller, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        caller.actor.check_read()?;
        let mut conn = self.store.read().await?;
        audit::list(&mut conn, query).await
    }

    /// Deletes the audit records whose last occurrence is older than the retention period,
    /// in batches; the run itself is audited (with the count) in its last batch's
    /// transaction. Returns how many went. Nothing happens when retention is unlimited.
    pub async fn purge_audit_log(&self, caller: &Caller) -> Result<u64> {
        // Housekeeping run by the server's scheduler, as the operator.
        caller.actor.check_manage_policy()?;
        let Some(retention) = self.settings.audit_retention else {
            return Ok(0);
        };
        let now = self.now();
        let cutoff = now - retention;
        let mut total = 0;
        loop {
            // A background writer: a CLI or another process waiting for the lock goes first.
            let mut tx = self.store.write_background().await?;
            let n = audit::purge_before(&mut tx, cutoff, PURGE_BATCH).await?;
            total += n;
            let last = n < u64::from(PURGE_BATCH);
            if last && total > 0 {
                let record = AuditRecord::new(Activity::AuditPurged, (&caller.actor).into(), now)
                    .detail("count", total)
                    .detail("retentionDays", retention.whole_days())
                    .correlation(caller.correlation_id);
                audit::insert(&mut tx, &record).await?;
            }
            tx.commit().await?;
            add(&self.metrics.audit_records_purged, n);
            if last {
                return Ok(total);
            }
        }
    }
}
