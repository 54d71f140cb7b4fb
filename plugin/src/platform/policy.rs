//! The Temporary Access Pass policy.

use super::{Caller, Platform};
use crate::domain::audit::{Activity, AuditRecord};
use crate::domain::tap_policy::{POLICY_ID, TapPolicy, TapPolicyPatch};
use crate::store::{Connection, audit, groups, policies};
use crate::{Error, Result};

impl Platform {
    pub(super) async fn load_tap_policy(&self, conn: &mut Connection) -> Result<TapPolicy> {
        Ok(policies::get(conn, POLICY_ID).await?.unwrap_or_default())
    }

    pub async fn tap_policy(&self, caller: &Caller) -> Result<TapPolicy> {
        caller.actor.check_read()?;
        let mut conn = self.store.read().await?;
        self.load_tap_policy(&mut conn).await
    }

    /// Applies a PATCH. The result is validated as a whole and every group it targets must
    /// exist; otherwise nothing changes.
    pub async fn update_tap_policy(
        &self,
        caller: &Caller,
        patch: TapPolicyPatch,
    ) -> Result<TapPolicy> {
        caller.actor.check_manage_policy()?;
        let now = self.now();
        let mut tx = self.store.write().await?;
        let before = self.load_tap_policy(&mut tx).await?;
        let after = before.patched(patch)?;
        for group in after.target_groups() {
            if groups::get(&mut tx, group).await?.is_none() {
                return Err(Error::invalid(format!(
                    "target group `{group}` does not exist"
                )));
            }
        }
        if after == before {
            return Ok(after);
        }
        policies::put(&mut tx, POLICY_ID, &after, now).await?;
        let to_json = |p: &TapPolicy| serde_json::to_string(p).unwrap_or_default();
        let record = AuditRecord::new(Activity::PolicyUpdated, (&caller.actor).into(), now)
            .target("Policy", POLICY_ID, Some("Temporary Access Pass"))
            .detail("oldValue", to_json(&before))
            .detail("newValue", to_json(&after))
            .correlation(caller.correlation_id);
        audit::insert(&mut tx, &record).await?;
        tx.commit().await?;
        Ok(after)
    }
}
