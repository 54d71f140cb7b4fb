//! What the store knows of a directory sync source, for operators: its last run, delta
//! cursor, quarantine and the run lock's holder.

use super::{Caller, Platform};
use crate::Result;
use crate::store::ldap::{self, Quarantined, SourceState};
use crate::store::run_locks::{self, Holder};

#[derive(Debug)]
pub struct SyncSource {
    pub state: SourceState,
    /// Up to the asked number of entries held back as unusable.
    pub quarantined: Vec<Quarantined>,
    pub quarantined_count: u64,
    /// The run holding the source's lock (the source id is the lock's name), if any.
    pub run_lock: Option<Holder>,
}

impl Platform {
    /// The source `source` (`ldap:NAME`) as recorded — any administrative role. At most
    /// `quarantine_limit` quarantined entries are listed; all are counted.
    pub async fn sync_source(
        &self,
        caller: &Caller,
        source: &str,
        quarantine_limit: u32,
    ) -> Result<SyncSource> {
        caller.actor.check_read()?;
        let mut conn = self.store.read().await?;
        Ok(SyncSource {
            state: ldap::load_state(&mut conn, source).await?,
            quarantined: ldap::quarantined(&mut conn, source, quarantine_limit).await?,
            quarantined_count: ldap::quarantine_count(&mut conn, source).await?,
            run_lock: run_locks::get(&mut conn, source).await?,
        })
    }
}

#[cfg(test)]
mod tests {

    use super::super::testing::{caller, fixture};
    use super::*;
    use crate::Error;
    use crate::domain::role::Role;

    #[tokio::test]
    async fn a_reader_sees_a_sources_quarantine_and_run_lock_others_nothing() {
        let f = fixture().await;
        let p = &f.platform;
        let now = p.now();
        let mut tx = p.store().write().await.unwrap();
        for n in 0..3 {
            let dn = format!("uid=u{n},dc=x");
            ldap::quarantine(&mut tx, "ldap:a", &dn, None, "no mail", now)
                .await
                .unwrap();
        }
        let holder = Holder {
            token: "t".into(),
            host: "node-1".into(),
            pid: 42,
            pid_start: None,
            started_at: now,
            heartbeat_at: now,
        };
        assert!(
            run_locks::take(&mut tx, "ldap:a", &holder, now, None)
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();

        let a = p
            .sync_source(&caller(&[Role::Reader]), "ldap:a", 2)
            .await
            .unwrap();
        assert_eq!((a.quarantined.len(), a.quarantined_count), (2, 3));
        let lock = a.run_lock.expect("the run lock's holder");
        assert_eq!((lock.host.as_str(), lock.pid), ("node-1", 42));
        assert_eq!(a.state.runs_ok, 0);
        let b = p
            .sync_source(&caller(&[Role::Reader]), "ldap:b", 2)
            .await
            .unwrap();
        assert!(b.run_lock.is_none() && b.quarantined_count == 0);

        let refused = p.sync_source(&caller(&[]), "ldap:a", 2).await;
        assert!(matches!(refused, Err(Error::Forbidden(_))), "{refused:?}");
    }
}
