//! Runs between full runs: each method finds what changed since the stored cursor, then
//! [`finish`] applies what every delta shares (managers, the guard, deprovisioning, groups).
//!
//! * [`content_sync`]: OpenLDAP / 389-ds, RFC 4533 refreshOnly.
//! * [`ad`]: Active Directory, DirSync, or `uSNChanged` of one domain controller.
//! * [`timestamp`]: any LDAPv3 server, `modifyTimestamp`; deletions wait for a full run.
//!
//! A delta that cannot go on from its cursor (expired cookie, another domain controller, a
//! restored database) answers [`Outcome::RefreshRequired`] and the run turns into a full one.

pub mod ad;
pub mod content_sync;
pub mod timestamp;

use std::collections::{BTreeSet, HashMap, HashSet};

use plugin::domain::directory_sync::Deprovision;
use plugin::platform::directory_sync::{Executor, GroupRead, Imported};
use uuid::Uuid;

use super::client::Client;
use super::config::DeltaMethod;
use super::group_read::{self, read_groups};
use super::mapping::SourceGroup;
use super::state::Cursor;
use super::sync::{Ctx, Outcome, Progress, RunOptions, guard_and_apply};
use crate::error::Result;
use timestamp::Tracker;

/// Whether the stored cursor lets this source run a delta.
pub(super) fn can_resume(ctx: &Ctx<'_>, cursor: &Cursor) -> bool {
    resumable(ctx.method, cursor)
}

fn resumable(method: DeltaMethod, cursor: &Cursor) -> bool {
    match method {
        DeltaMethod::ContentSync => !cursor.cookies.is_empty(),
        // DirSync, or the USN polling it fell back to.
        DeltaMethod::Dirsync => {
            cursor.naming_context.is_some() && (cursor.dirsync.is_some() || cursor.usn.is_some())
        }
        // A DirSync cookie is no start for a source told to poll USNs (say, because its
        // account lost the right): a full run takes a USN mark.
        DeltaMethod::Usn => cursor.naming_context.is_some() && cursor.usn.is_some(),
        DeltaMethod::Timestamp => cursor.watermark.is_some(),
        DeltaMethod::Auto | DeltaMethod::None => false,
    }
}

/// Where the next delta starts, taken before a full read. A method that cannot start leaves
/// an empty cursor: the next run is a full one again, and says why in the log.
pub(super) async fn start(ctx: &Ctx<'_>, client: &mut Client) -> Cursor {
    let started = match ctx.method {
        DeltaMethod::ContentSync => content_sync::start(ctx, client).await,
        DeltaMethod::Dirsync | DeltaMethod::Usn => ad::start(ctx, client).await,
        // Known only once the read is done (the newest modifyTimestamp seen).
        DeltaMethod::Timestamp | DeltaMethod::Auto | DeltaMethod::None => Ok(Cursor::default()),
    };
    started.unwrap_or_else(|e| {
        tracing::warn!(source = %ctx.source, method = ctx.method.as_str(), error = %e,
            "cannot take a delta starting point; the next run will be a full one too");
        Cursor::default()
    })
}

pub(super) async fn run(
    ctx: &Ctx<'_>,
    exec: &mut Executor<'_>,
    previous: &Cursor,
    opts: RunOptions,
    progress: Progress<'_>,
) -> Result<Outcome> {
    // A delta recomputes only the groups its moved users reach: it needs their names.
    exec.track_moves(true);
    match ctx.method {
        DeltaMethod::ContentSync => content_sync::delta(ctx, exec, previous, opts, progress).await,
        DeltaMethod::Dirsync | DeltaMethod::Usn => {
            ad::delta(ctx, exec, previous, opts, progress).await
        }
        DeltaMethod::Timestamp => timestamp::delta(ctx, exec, previous, opts, progress).await,
        DeltaMethod::Auto | DeltaMethod::None => Ok(Outcome::RefreshRequired),
    }
}

/// The end of every delta: managers imported late, then the users `gone` names are
/// deprovisioned (guarded), the groups `group_gone` names are deleted (both looked for among
/// `candidates` only, when the delta knows them), and the memberships of the groups the
/// delta's changes reach are recomputed: `changed` groups as the delta returned them, plus
/// what [`group_read::reached`] finds (every group, when a group left).
pub(super) async fn finish(
    ctx: &Ctx<'_>,
    exec: &mut Executor<'_>,
    client: &mut Client,
    leavers: Leavers<impl Fn(&str) -> bool, impl Fn(&str) -> bool>,
    changed: Vec<SourceGroup>,
    opts: RunOptions,
) -> Result<()> {
    let t = std::time::Instant::now();
    exec.fix_managers().await?;
    // A delta that names what may be gone need not list every imported object.
    let Leavers {
        user: gone,
        group: group_gone,
        candidates,
    } = leavers;
    let among: Option<Vec<&str>> = candidates
        .as_ref()
        .map(|c| c.iter().map(String::as_str).collect());
    let Imported {
        users,
        groups: known_groups,
        population,
    } = exec.imported_objects(among.as_deref()).await?;
    let gone_users: Vec<Deprovision> = users
        .iter()
        .filter(|(a, _)| gone(a))
        .map(|(anchor, id)| Deprovision::Gone {
            anchor: anchor.clone(),
            id: *id,
        })
        .collect();
    let gone_groups: Vec<(String, Uuid)> = known_groups
        .into_iter()
        .filter(|(a, _)| group_gone(a))
        .collect();
    let mut steps: Vec<Deprovision> = std::mem::take(&mut exec.deferred);
    steps.extend(gone_users);
    guard_and_apply(ctx, exec, steps, population, opts).await?;
    let moved = std::mem::take(&mut exec.moved);
    if !gone_groups.is_empty() {
        // The groups nesting a group that left cannot be searched for: Active Directory's
        // member links follow a group moved out of the base to its new DN, which the store
        // never knew. Group deletions are rare: read every group, as a full run does.
        exec.delete_groups(&gone_groups).await?;
        let groups = read_groups(ctx, client, exec, &mut Tracker::new(false)).await?;
        exec.groups(groups, GroupRead::Complete).await?;
        return Ok(());
    }
    // Groups may still name a changed group by the DN it had (a directory without
    // referential integrity): its parents are searched for by that DN too.
    let anchors: Vec<&str> = changed.iter().map(|g| g.anchor.as_str()).collect();
    let now: HashMap<&str, &str> = changed
        .iter()
        .map(|g| (g.anchor.as_str(), g.dn_key.as_str()))
        .collect();
    let renamed: BTreeSet<String> = exec
        .stored_dns(&anchors)
        .await?
        .into_iter()
        .filter(|(a, dn)| now.get(a.as_str()) != Some(&dn.as_str()))
        .map(|(_, dn)| dn)
        .collect();
    let reach = group_read::reached(ctx, client, exec, changed, &moved, renamed).await?;
    tracing::debug!(source = %ctx.source, ms = t.elapsed().as_millis() as u64,
        whole = reach.whole.len(), joined = reach.joiners.len(), "delta: groups its changes reach found");
    if !reach.whole.is_empty() {
        exec.groups(reach.whole, GroupRead::Reached).await?;
    }
    exec.add_members(reach.joiners).await?;
    tracing::debug!(source = %ctx.source, ms = t.elapsed().as_millis() as u64, "delta: groups written");
    Ok(())
}

/// Who a delta found gone.
pub(super) struct Leavers<U, G> {
    /// Whether the imported user with this anchor is gone.
    pub user: U,
    pub group: G,
    /// The only anchors that can be gone, when the delta knows them (`None`: any imported
    /// object may be).
    pub candidates: Option<Vec<String>>,
}

/// Anchors known to the store as this source's groups.
pub(super) async fn known_group_anchors(exec: &mut Executor<'_>) -> Result<HashSet<String>> {
    let groups = exec.imported_groups().await?;
    Ok(groups.into_iter().map(|(a, _)| a).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ldap::state::UsnMark;

    #[test]
    fn ad_cursors_resume_the_method_they_were_taken_for() {
        let nc = Some("DC=tap,DC=test".to_owned());
        let dirsync = Cursor {
            naming_context: nc.clone(),
            dirsync: Some("4d534453".into()),
            ..Cursor::default()
        };
        let usn = Cursor {
            naming_context: nc,
            usn: Some(UsnMark {
                server: "CN=NTDS Settings,CN=DC1".into(),
                invocation_id: "00000000-0000-0000-0000-000000000001".into(),
                usn: 4000,
            }),
            ..Cursor::default()
        };
        assert!(resumable(DeltaMethod::Dirsync, &dirsync));
        // DirSync fell back to USN polling when it was refused.
        assert!(resumable(DeltaMethod::Dirsync, &usn));
        assert!(resumable(DeltaMethod::Usn, &usn));
        // Switched from DirSync to USN: a full run first, for a USN mark.
        assert!(!resumable(DeltaMethod::Usn, &dirsync));
        let no_context = Cursor {
            naming_context: None,
            ..usn.clone()
        };
        assert!(!resumable(DeltaMethod::Usn, &no_context));
        assert!(!resumable(DeltaMethod::Dirsync, &Cursor::default()));
        assert!(!resumable(DeltaMethod::None, &usn));
    }
}
