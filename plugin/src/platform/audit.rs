//! Reading the audit log.

use super::{Caller, Platform};
use crate::Result;
use crate::domain::audit::{AuditEntry, AuditQuery};
use crate::store::audit;

impl Platform {
    pub async fn audit_log(&self, caller: &Caller, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        caller.actor.check_read()?;
        let mut conn = self.store.read().await?;
        audit::list(&mut conn, query).await
    }
}
