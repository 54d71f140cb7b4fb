//! Active Directory deltas. Both methods only *detect* change — they name the objectGUIDs of
//! objects changed or deleted since the cursor — and the changed users are then read again in
//! full through the configured filter and bases, so a delta maps entries exactly as a full
//! run does and sees a user who moved out of scope or out of the filter as gone.
//!
//! * DirSync (MS-ADTS 3.1.1.3.4.1.3): one search of the naming context with the cookie,
//!   repeated while the server has more; tombstones come back with `isDeleted`. Needs the
//!   "Replicating Directory Changes" right.
//! * `uSNChanged`: objects of the naming context with a higher USN than the cursor, tombstones
//!   included (Show Deleted). USNs belong to one domain controller and one incarnation of its
//!   database, so the cursor keeps the DC's `dsServiceName` and `invocationId`; either one
//!   changing (another DC behind the name, a restore) forces a full run.

use std::collections::{BTreeSet, HashSet};
use std::str::FromStr;

use ldap3::Scope;

use super::super::client::{Answer, Client};
use super::super::config::DeltaMethod;
use super::super::controls::ad::show_deleted;
use super::super::controls::dirsync::{DIRSYNC_OID, DirSyncRequest, DirSyncResponse};
use super::super::controls::guid::ObjectGuid;
use super::super::dn;
use super::super::entry::Entry;
use super::super::group_read::GroupMapper;
use super::super::state::{self, Cursor, UsnMark};
use super::super::sync::{
    Ctx, MATCH_NOTHING, Outcome, Progress, RunOptions, connect, map_entry_user,
};
use crate::error::{Error, Result};
use plugin::platform::directory_sync::Executor;

/// Objects whose change may concern a user or a group; tombstones keep their objectClass.
const CHANGE_FILTER: &str = "(|(objectClass=user)(objectClass=group))";
/// GUIDs per re-read search: keeps filters well under servers' size limits.
const GUID_CHUNK: usize = 200;
/// DirSync rounds: an answer this size, then "more data".
const DIRSYNC_MAX_BYTES: u32 = 1 << 20;

/// What the root DSE says of the domain controller answering.
#[derive(Debug, Clone)]
struct RootDse {
    naming_context: String,
    server: String,
    highest_usn: i64,
}

async fn root_dse(client: &mut Client) -> Result<RootDse> {
    let answer = client
        .search_all(
            "",
            Scope::Base,
            "(objectClass=*)",
            vec![
                "defaultNamingContext".into(),
                "dsServiceName".into(),
                "highestCommittedUSN".into(),
            ],
            Vec::new(),
        )
        .await?;
    let e = single(answer, "the root DSE")?;
    let text = |a: &str| -> Result<String> {
        e.text(a)
            .map_err(Error::Ldap)?
            .map(str::to_owned)
            .ok_or_else(|| Error::Ldap(format!("the root DSE has no {a}: not Active Directory?")))
    };
    Ok(RootDse {
        naming_context: text("defaultnamingcontext")?,
        server: text("dsservicename")?,
        highest_usn: text("highestcommittedusn")?
            .parse()
            .map_err(|_| Error::Ldap("highestCommittedUSN is not a number".into()))?,
    })
}

/// The one entry of a base search.
fn single(answer: Answer, what: &str) -> Result<Entry> {
    if answer.rc != 0 {
        return Err(Error::Ldap(format!(
            "reading {what} failed (result code {}): {}",
            answer.rc, answer.text
        )));
    }
    answer
        .entries
        .into_iter()
        .next()
        .ok_or_else(|| Error::Ldap(format!("{what} is not readable")))?
        .map_err(Error::Ldap)
}

async fn invocation_id(client: &mut Client, server: &str) -> Result<String> {
    let answer = client
        .search_all(
            server,
            Scope::Base,
            "(objectClass=*)",
            vec!["invocationId".into()],
            Vec::new(),
        )
        .await?;
    let e = single(answer, "the domain controller's NTDS Settings")?;
    let raw = e
        .raw("invocationid")
        .first()
        .ok_or_else(|| Error::Ldap("the NTDS Settings object has no invocationId".into()))?;
    ObjectGuid::from_slice(raw)
        .map(|g| g.to_string())
        .map_err(|e| Error::Ldap(format!("invocationId: {e}")))
}

/// The naming context DirSync and the USN search cover: the DC's default one, which must
/// hold every base DN (a delta of another domain would miss its changes).
fn naming_context(ctx: &Ctx<'_>, root: &RootDse) -> Result<String> {
    let nc = dn::normalise(&root.naming_context);
    for base in &ctx.cfg.base_dns {
        let b = dn::normalise(base);
        if !(b == nc || b.ends_with(&format!(",{nc}"))) {
            return Err(Error::Ldap(format!(
                "base `{base}` is outside the naming context `{}`; AD deltas need every base in it",
                root.naming_context
            )));
        }
    }
    Ok(root.naming_context.clone())
}

pub(super) async fn start(ctx: &Ctx<'_>, client: &mut Client) -> Result<Cursor> {
    let root = root_dse(client).await?;
    let nc = naming_context(ctx, &root)?;
    let mut cursor = Cursor {
        naming_context: Some(nc.clone()),
        ..Cursor::default()
    };
    if ctx.method == DeltaMethod::Dirsync {
        match dirsync(client, &nc, MATCH_NOTHING, Vec::new(), &[]).await {
            Ok(Some((cookie, _))) => {
                cursor.dirsync = Some(state::hex(&cookie));
                return Ok(cursor);
            }
            Ok(None) => {
                tracing::warn!(source = %ctx.source, "DirSync returned no cookie; polling uSNChanged instead")
            }
            Err(e) if ctx.cfg.delta == DeltaMethod::Dirsync => return Err(e),
            Err(e) => {
                tracing::warn!(source = %ctx.source, error = %e, "DirSync refused; polling uSNChanged instead")
            }
        }
    }
    cursor.usn = Some(UsnMark {
        invocation_id: invocation_id(client, &root.server).await?,
        server: root.server,
        usn: root.highest_usn,
    });
    Ok(cursor)
}

/// Changes since the cursor: anchors changed (to be read again) and anchors deleted.
#[derive(Debug, Default)]
struct Changes {
    changed: BTreeSet<String>,
    deleted: HashSet<String>,
    /// USN deltas: the objectGUID of every user in scope now. Tombstones are visible only to
    /// accounts allowed to read them; an ordinary account sees none and would miss every
    /// deletion, so USN deltas also list who is still there (one attribute per user, no
    /// writes) and whoever is missing is gone.
    present: Option<HashSet<String>>,
}

impl Changes {
    /// Files one entry of a DirSync or USN answer by its objectGUID. An entry without a
    /// readable GUID fails the run: it might be a deletion, and a missed deletion is silent.
    fn add(&mut self, e: std::result::Result<Entry, String>) -> Result<()> {
        let e = e.map_err(|r| Error::Ldap(format!("unreadable change entry: {r}")))?;
        let Some(raw) = e.raw("objectguid").first() else {
            // Partial DirSync entries of objects outside our attribute list carry no GUID
            // only when they are not objects at all (referrals); nothing to do.
            return Ok(());
        };
        let guid = ObjectGuid::from_slice(raw)
            .map_err(|err| Error::Ldap(format!("`{}`: objectGUID: {err}", e.dn)))?
            .to_string();
        let deleted = e
            .text("isdeleted")
            .ok()
            .flatten()
            .is_some_and(|v| v.eq_ignore_ascii_case("TRUE"));
        if deleted {
            self.changed.remove(&guid);
            self.deleted.insert(guid);
        } else if !self.deleted.contains(&guid) {
            self.changed.insert(guid);
        }
        Ok(())
    }
}

/// DirSync rounds from `cookie` until the server has no more; `Ok(None)` when a round ends
/// without the response control. Every entry goes to `sink`.
async fn dirsync(
    client: &mut Client,
    nc: &str,
    filter: &str,
    mut cookie: Vec<u8>,
    attrs: &[String],
) -> Result<Option<(Vec<u8>, Changes)>> {
    let mut changes = Changes::default();
    let mut attrs = attrs.to_vec();
    if attrs.is_empty() {
        attrs.push("objectGUID".into());
    }
    loop {
        let request = DirSyncRequest {
            flags: 0,
            max_bytes: DIRSYNC_MAX_BYTES,
            cookie: std::mem::take(&mut cookie),
        };
        let answer = client
            .search_all(
                nc,
                Scope::Subtree,
                filter,
                attrs.clone(),
                vec![request.to_control()],
            )
            .await?;
        if answer.rc != 0 {
            return Err(Error::Ldap(format!(
                "DirSync failed (result code {}): {}",
                answer.rc, answer.text
            )));
        }
        let Some(c) = answer.control(DIRSYNC_OID) else {
            return Ok(None);
        };
        let response = DirSyncResponse::from_control(&c.oid, c.value.as_deref())
            .map_err(|e| Error::Ldap(format!("bad DirSync response: {e}")))?;
        for e in answer.entries {
            changes.add(e)?;
        }
        cookie = response.cookie;
        if !response.more_results {
            return Ok(Some((cookie, changes)));
        }
    }
}

/// Every attribute a user or group is mapped from: a DirSync round returns an object only
/// when one of the attributes asked for changed.
fn watched_attributes(ctx: &Ctx<'_>) -> Vec<String> {
    let mut attrs = ctx.user_attrs.clone();
    attrs.extend(ctx.group_attrs.iter().cloned());
    // A rename or move changes only `name` and `parentGUID`; a tombstone says `isDeleted`
    // only when asked.
    attrs.extend([
        "objectGUID".into(),
        "isDeleted".into(),
        "name".into(),
        "parentGUID".into(),
    ]);
    attrs.sort_by_key(|a| a.to_ascii_lowercase());
    attrs.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    attrs
}

pub(super) async fn delta(
    ctx: &Ctx<'_>,
    exec: &mut Executor<'_>,
    previous: &Cursor,
    opts: RunOptions,
    progress: Progress<'_>,
) -> Result<Outcome> {
    let Some(nc) = previous.naming_context.as_deref() else {
        return Ok(Outcome::RefreshRequired);
    };
    let mut client = connect(ctx).await?;
    let mut cursor = Cursor {
        naming_context: Some(nc.to_owned()),
        ..Cursor::default()
    };
    let cookie = match ctx.method {
        DeltaMethod::Dirsync => previous.dirsync.as_deref().and_then(state::unhex),
        _ => None,
    };
    let changes = if let Some(cookie) = cookie {
        match dirsync(
            &mut client,
            nc,
            CHANGE_FILTER,
            cookie,
            &watched_attributes(ctx),
        )
        .await
        {
            Ok(Some((cookie, changes))) => {
                cursor.dirsync = Some(state::hex(&cookie));
                changes
            }
            Ok(None) => return Ok(Outcome::RefreshRequired),
            // The server refused the cookie (too old, another DC, rights withdrawn): a full
            // run takes a fresh one, or falls back to USN polling.
            Err(Error::Ldap(e)) if e.starts_with("DirSync failed") => {
                tracing::warn!(source = %ctx.source, error = %e, "DirSync cookie refused");
                return Ok(Outcome::RefreshRequired);
            }
            Err(e) => return Err(e),
        }
    } else if let Some(mark) = &previous.usn {
        let root = root_dse(&mut client).await?;
        if root.server != mark.server {
            tracing::warn!(source = %ctx.source, was = %mark.server, now = %root.server,
                "another domain controller answers; USNs do not carry over");
            return Ok(Outcome::RefreshRequired);
        }
        let invocation = invocation_id(&mut client, &root.server).await?;
        if invocation != mark.invocation_id {
            tracing::warn!(source = %ctx.source, "the domain controller's invocationId changed (restored?)");
            return Ok(Outcome::RefreshRequired);
        }
        let mut changes = usn_changes(ctx, &mut client, nc, mark.usn).await?;
        changes.present = Some(present_users(ctx, &mut client).await?);
        cursor.usn = Some(UsnMark {
            server: root.server,
            invocation_id: invocation,
            // Read before the search: a change made during it is read again next time.
            usn: root.highest_usn.max(mark.usn),
        });
        changes
    } else {
        return Ok(Outcome::RefreshRequired);
    };
    apply(ctx, exec, &mut client, changes, opts, progress).await?;
    client.unbind().await;
    progress(&exec.counts);
    Ok(Outcome::Done(cursor))
}

async fn usn_changes(ctx: &Ctx<'_>, client: &mut Client, nc: &str, after: i64) -> Result<Changes> {
    let filter = format!(
        "(&{CHANGE_FILTER}(uSNChanged>={}))",
        after.saturating_add(1)
    );
    let mut changes = Changes::default();
    let mut search = client.paged_with(
        nc,
        &filter,
        vec!["objectGUID".into(), "isDeleted".into()],
        ctx.cfg.page_size,
        vec![show_deleted()],
    );
    while let Some(page) = search.next_page().await? {
        for e in page {
            changes.add(e)?;
        }
    }
    Ok(changes)
}

async fn present_users(ctx: &Ctx<'_>, client: &mut Client) -> Result<HashSet<String>> {
    let mut present = HashSet::new();
    for base in &ctx.cfg.base_dns {
        let mut search = client.paged(
            base,
            &ctx.user_filter,
            vec!["objectGUID".into()],
            ctx.cfg.page_size,
        );
        while let Some(page) = search.next_page().await? {
            for e in page {
                let e = e.map_err(|r| Error::Ldap(format!("unreadable entry: {r}")))?;
                let raw = e
                    .raw("objectguid")
                    .first()
                    .ok_or_else(|| Error::Ldap(format!("`{}` has no objectGUID", e.dn)))?;
                let guid = ObjectGuid::from_slice(raw)
                    .map_err(|err| Error::Ldap(format!("`{}`: objectGUID: {err}", e.dn)))?;
                present.insert(guid.to_string());
            }
        }
    }
    Ok(present)
}

fn guid_filter<'a>(filter: &str, anchors: impl Iterator<Item = &'a String>) -> String {
    let ors: String = anchors
        .filter_map(|a| ObjectGuid::from_str(a).ok())
        .map(|g| format!("(objectGUID={})", g.to_filter_value()))
        .collect();
    format!("(&{filter}(|{ors}))")
}

async fn apply(
    ctx: &Ctx<'_>,
    exec: &mut Executor<'_>,
    client: &mut Client,
    changes: Changes,
    opts: RunOptions,
    progress: Progress<'_>,
) -> Result<()> {
    let changed: Vec<&String> = changes.changed.iter().collect();
    let batch_size = ctx.cfg.batch_size as usize;
    let mut batch = Vec::with_capacity(batch_size);
    for chunk in changed.chunks(GUID_CHUNK) {
        let filter = guid_filter(&ctx.user_filter, chunk.iter().copied());
        for base in &ctx.cfg.base_dns {
            let mut search = client.paged(base, &filter, ctx.user_attrs.clone(), ctx.cfg.page_size);
            while let Some(page) = search.next_page().await? {
                for e in page {
                    batch.push(map_entry_user(ctx, e));
                    if batch.len() >= batch_size {
                        exec.users(std::mem::take(&mut batch)).await?;
                        progress(&exec.counts);
                    }
                }
            }
        }
    }
    exec.users(batch).await?;
    let seen = std::mem::take(&mut exec.seen);
    let known_groups = super::known_group_anchors(exec).await?;
    // Changed objects the user re-read did not return may be groups (known, or new to the
    // source: created, or moved or filtered into scope): read those whole.
    let maybe_groups: Vec<&String> = changes
        .changed
        .iter()
        .filter(|a| !seen.contains(*a))
        .collect();
    let mut mapper = GroupMapper::default();
    for chunk in maybe_groups.chunks(GUID_CHUNK) {
        let filter = guid_filter(&ctx.group_filter, chunk.iter().copied());
        for base in &ctx.cfg.base_dns {
            let mut search =
                client.paged(base, &filter, ctx.group_attrs.clone(), ctx.cfg.page_size);
            while let Some(page) = search.next_page().await? {
                for e in page {
                    exec.counts.read += 1;
                    mapper.take(&ctx.map, e);
                }
            }
        }
    }
    let changed_groups = mapper.finish(ctx, client, exec).await?;
    let read_groups: HashSet<String> = changed_groups.iter().map(|g| g.anchor.clone()).collect();
    // A changed user or group the filtered re-read did not return left the scope (moved out,
    // or no longer matches the filter).
    let gone = |anchor: &str| {
        changes.deleted.contains(anchor)
            || (changes.changed.contains(anchor) && !seen.contains(anchor))
            || changes
                .present
                .as_ref()
                .is_some_and(|p| !p.contains(anchor) && !seen.contains(anchor))
    };
    let group_gone = |anchor: &str| {
        changes.deleted.contains(anchor)
            || (changes.changed.contains(anchor)
                && known_groups.contains(anchor)
                && !read_groups.contains(anchor))
    };
    let candidates = changes.present.is_none().then(|| {
        changes
            .deleted
            .iter()
            .chain(changes.changed.iter())
            .cloned()
            .collect()
    });
    super::finish(
        ctx,
        exec,
        client,
        super::Leavers {
            user: gone,
            group: group_gone,
            candidates,
        },
        changed_groups,
        opts,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guid_entry(bytes: [u8; 16], deleted: bool) -> std::result::Result<Entry, String> {
        let e = Entry::new("cn=x").with_binary("objectGUID", &bytes);
        Ok(if deleted {
            e.with("isDeleted", &["TRUE"])
        } else {
            e
        })
    }

    #[test]
    fn changes_file_entries_by_guid_and_a_deletion_wins() {
        let mut c = Changes::default();
        c.add(guid_entry([1; 16], false)).unwrap();
        c.add(guid_entry([2; 16], false)).unwrap();
        c.add(guid_entry([2; 16], true)).unwrap();
        c.add(guid_entry([3; 16], true)).unwrap();
        c.add(guid_entry([3; 16], false)).unwrap();
        c.add(Ok(Entry::new("cn=no guid"))).unwrap();
        let g = |b: u8| ObjectGuid::from_bytes([b; 16]).to_string();
        assert_eq!(c.changed, BTreeSet::from([g(1)]));
        assert_eq!(c.deleted, HashSet::from([g(2), g(3)]));
        assert!(c.add(Err("garbled".into())).is_err());
        assert!(
            c.add(Ok(Entry::new("cn=short").with_binary("objectGUID", &[1, 2])))
                .is_err()
        );
    }

    #[test]
    fn guid_filters_escape_every_byte() {
        let g =
            ObjectGuid::from_bytes([0x0a, 0x2c, 0x45, 0x67, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        let f = guid_filter("(objectClass=user)", [g.to_string()].iter());
        assert_eq!(
            f,
            "(&(objectClass=user)(|(objectGUID=\\0a\\2c\\45\\67\\00\\01\\02\\03\\04\\05\\06\\07\\08\\09\\0a\\0b)))"
        );
        assert!(ldap3::parse_filter(&f).is_ok());
    }
}
