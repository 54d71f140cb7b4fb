//! Reading groups: all of them (a full run), or only those a delta's changes reach.
//!
//! A delta need not read every group again. Memberships can move only in
//! * the groups the delta returned as changed,
//! * the groups naming a user whose names moved (a new DN or login),
//! * and, since memberships are stored as the nested closure, every group nesting one of
//!   those, however deep — these are read whole and recomputed;
//! * and for a joiner (a new user, one back after deprovisioning), the groups naming them and
//!   the groups nesting those: a joiner can only gain groups, so these are not read at all,
//!   the joiner is added.
//!
//! The directory finds them with equality searches on the member attributes, so a delta's
//! cost follows its change: a hundred changed people cost a few searches, not a read of
//! every group (at 100,000 users, 240,000 member values), and a joiner in "All Staff" does
//! not cost a read of everyone.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tokio::task::JoinHandle;

use plugin::domain::directory_sync::plan::{MovedReferences, Names};
use plugin::platform::directory_sync::Executor;

use super::client::{Client, Scope};
use super::delta::timestamp::Tracker;
use super::dn;
use super::entry::Entry;
use super::mapping::{AttributeMap, Rejected, SourceGroup, map_group};
use super::sync::Ctx;
use crate::error::{Error, Result};

/// Member attributes a group names its members (and nested groups) with by DN.
const DN_MEMBER_ATTRS: [&str; 2] = ["member", "uniqueMember"];
/// Equality assertions per search: filters stay a few kilobytes.
const ASSERTIONS_PER_SEARCH: usize = 200;

/// Maps group entries as they come; those with ranged member values (Active Directory's
/// large groups) wait until the search that returned them is done, since completing them
/// takes searches of their own.
#[derive(Default)]
pub(super) struct GroupMapper {
    groups: Vec<SourceGroup>,
    rejected: Vec<Rejected>,
    ranged: Vec<Entry>,
}

impl GroupMapper {
    pub fn take(&mut self, map: &AttributeMap, e: std::result::Result<Entry, String>) {
        match e {
            Ok(e) if e.attrs.keys().any(|k| k.contains(";range=")) => self.ranged.push(e),
            Ok(e) => match map_group(map, &e) {
                Ok(g) => self.groups.push(g),
                Err(r) => self.rejected.push(r),
            },
            Err(r) => self.rejected.push(Rejected {
                dn: r.clone(),
                anchor: None,
                reason: r,
            }),
        }
    }

    /// The groups mapped, ranged ones completed; rejects quarantined.
    pub async fn finish(
        mut self,
        ctx: &Ctx<'_>,
        client: &mut Client,
        exec: &mut Executor<'_>,
    ) -> Result<Vec<SourceGroup>> {
        self.complete(&ctx.map, client).await?;
        exec.quarantine_all(self.rejected).await?;
        Ok(self.groups)
    }

    /// Completes the ranged entries (they take searches of their own).
    async fn complete(&mut self, map: &AttributeMap, client: &mut Client) -> Result<()> {
        for mut e in std::mem::take(&mut self.ranged) {
            client.complete_ranges(&mut e).await?;
            self.take(map, Ok(e));
        }
        Ok(())
    }
}

/// Every group under every base, ranged member values completed, rejects quarantined.
pub(super) async fn read_groups(
    ctx: &Ctx<'_>,
    client: &mut Client,
    exec: &mut Executor<'_>,
    stamps: &mut Tracker,
) -> Result<Vec<SourceGroup>> {
    let all = read_all(&AllGroups::of(ctx), client, stamps).await?;
    all.finish(exec).await
}

/// A read of every group, owned: see [`spawn_all`].
pub(super) struct AllGroups {
    map: AttributeMap,
    base_dns: Vec<String>,
    filter: String,
    attrs: Vec<String>,
    page_size: u32,
}

/// What a read of every group found: the groups (ranged ones completed), the entries to
/// quarantine, and how many entries were read.
pub(super) struct GroupsRead {
    groups: Vec<SourceGroup>,
    rejected: Vec<Rejected>,
    read: u64,
}

impl AllGroups {
    pub fn of(ctx: &Ctx<'_>) -> Self {
        AllGroups {
            map: ctx.map.clone(),
            base_dns: ctx.cfg.base_dns.clone(),
            filter: ctx.group_filter.clone(),
            attrs: ctx.group_attrs.clone(),
            page_size: ctx.cfg.page_size,
        }
    }
}

impl GroupsRead {
    /// Counts the entries read and quarantines the rejected ones: the groups.
    pub async fn finish(self, exec: &mut Executor<'_>) -> Result<Vec<SourceGroup>> {
        exec.counts.read += self.read;
        exec.quarantine_all(self.rejected).await?;
        Ok(self.groups)
    }
}

async fn read_all(
    all: &AllGroups,
    client: &mut Client,
    stamps: &mut Tracker,
) -> Result<GroupsRead> {
    let mut mapper = GroupMapper::default();
    let mut read = 0;
    for base in &all.base_dns {
        let mut search = client.paged(base, &all.filter, all.attrs.clone(), all.page_size);
        while let Some(page) = search.next_page().await? {
            for e in page {
                read += 1;
                stamps.observe(&e);
                mapper.take(&all.map, e);
            }
        }
    }
    mapper.complete(&all.map, client).await?;
    Ok(GroupsRead {
        groups: mapper.groups,
        rejected: mapper.rejected,
        read,
    })
}

/// [`read_groups`] on a task of its own, which hands the client and the timestamps back:
/// a full run plans its sweep in the store while the directory sends the groups.
pub(super) fn spawn_all(all: AllGroups, mut client: Client, mut stamps: Tracker) -> GroupReading {
    GroupReading(tokio::spawn(async move {
        let read = read_all(&all, &mut client, &mut stamps).await?;
        Ok((read, client, stamps))
    }))
}

/// The task of [`spawn_all`]. A run that ends before joining it (an error, a cancelled run)
/// stops it: the read does not go on for nobody, holding the directory's connection.
pub(super) struct GroupReading(JoinHandle<Result<(GroupsRead, Client, Tracker)>>);

impl GroupReading {
    /// Waits for the read; a panic in its task is an error of the run.
    pub async fn join(mut self) -> Result<(GroupsRead, Client, Tracker)> {
        (&mut self.0)
            .await
            .map_err(|e| Error::Ldap(format!("reading the directory's groups stopped: {e}")))?
    }
}

impl Drop for GroupReading {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What a delta's changes reach: groups to recompute whole, and joiners to add to groups
/// whose entries did not change.
#[derive(Default)]
pub(super) struct Reach {
    pub whole: Vec<SourceGroup>,
    /// (group anchor, normalised DNs of users to add).
    pub joiners: Vec<(String, Vec<String>)>,
}

/// The groups whose memberships a delta may have moved.
///
/// Read whole and recomputed: `changed` (as the delta returned them), the groups naming a
/// `moved.renamed` name, and every group nesting any of these or naming one of `frontier`
/// (the DNs changed groups had, which parents may still name).
///
/// Joiners (`moved.joined`) can only gain groups: each is added to the groups naming them
/// and every group nesting those, found by anchor alone — a joiner in "All Staff" costs a
/// search, not a read of everyone.
pub(super) async fn reached(
    ctx: &Ctx<'_>,
    client: &mut Client,
    exec: &mut Executor<'_>,
    changed: Vec<SourceGroup>,
    moved: &MovedReferences,
    mut frontier: BTreeSet<String>,
) -> Result<Reach> {
    let mut reached: HashMap<String, SourceGroup> = HashMap::new();
    for g in changed {
        reached.insert(g.anchor.clone(), g);
    }
    let assertions = name_assertions(&moved.renamed);
    for g in read_unseen(ctx, client, exec, &assertions, &reached).await? {
        reached.entry(g.anchor.clone()).or_insert(g);
    }
    // Up the nesting, level by level, until no group nests one not seen yet (a cycle ends
    // there too).
    frontier.extend(reached.values().map(|g| g.dn_key.clone()));
    let mut asked: BTreeSet<String> = BTreeSet::new();
    while !frontier.is_empty() {
        let dns: Vec<String> = std::mem::take(&mut frontier)
            .into_iter()
            .filter(|dn| asked.insert(dn.clone()))
            .collect();
        let assertions = nesting_assertions(&dns);
        for g in read_unseen(ctx, client, exec, &assertions, &reached).await? {
            if !reached.contains_key(&g.anchor) {
                frontier.insert(g.dn_key.clone());
                reached.insert(g.anchor.clone(), g);
            }
        }
    }
    let joiners = joiners(ctx, client, exec, &moved.joined, &reached).await?;
    Ok(Reach {
        whole: reached.into_values().collect(),
        joiners,
    })
}

/// The groups matching `assertions` that `seen` does not hold yet, read whole.
async fn read_unseen(
    ctx: &Ctx<'_>,
    client: &mut Client,
    exec: &mut Executor<'_>,
    assertions: &[(&'static str, String)],
    seen: &HashMap<String, SourceGroup>,
) -> Result<Vec<SourceGroup>> {
    let mut mapper = GroupMapper::default();
    for (anchor, dn) in naming(ctx, client, exec, assertions, &mut mapper).await? {
        if anchor.is_none_or(|a| !seen.contains_key(&a)) {
            read_one(ctx, client, &dn, &mut mapper).await?;
        }
    }
    mapper.finish(ctx, client, exec).await
}

/// For each group not recomputed whole, the joiners it gains: the groups naming a joiner,
/// and the groups nesting those (each group's parents asked once).
async fn joiners(
    ctx: &Ctx<'_>,
    client: &mut Client,
    exec: &mut Executor<'_>,
    joined: &[Names],
    whole: &HashMap<String, SourceGroup>,
) -> Result<Vec<(String, Vec<String>)>> {
    // Group DN → (anchor, DN) of the groups nesting it.
    let mut parents: HashMap<String, Vec<(Option<String>, String)>> = HashMap::new();
    let mut gains: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for names in joined {
        let Some(user_dn) = names.dns.first() else {
            continue;
        };
        let mut mapper = GroupMapper::default();
        let mut todo = naming(ctx, client, exec, &name_assertions(names), &mut mapper).await?;
        // Unreadable groups are quarantined here; the joiner gains the rest.
        mapper.finish(ctx, client, exec).await?;
        let mut seen: BTreeSet<String> = BTreeSet::new();
        while let Some((anchor, dn)) = todo.pop() {
            let key = dn::normalise(&dn);
            if !seen.insert(key.clone()) {
                continue;
            }
            if let Some(a) = anchor.filter(|a| !whole.contains_key(a)) {
                gains.entry(a).or_default().insert(user_dn.clone());
            }
            if !parents.contains_key(&key) {
                let mut mapper = GroupMapper::default();
                let up = naming(
                    ctx,
                    client,
                    exec,
                    &nesting_assertions(std::slice::from_ref(&key)),
                    &mut mapper,
                )
                .await?;
                mapper.finish(ctx, client, exec).await?;
                parents.insert(key.clone(), up);
            }
            todo.extend(parents[&key].iter().cloned());
        }
    }
    Ok(gains
        .into_iter()
        .map(|(anchor, users)| (anchor, users.into_iter().collect()))
        .collect())
}

/// Equalities matching the groups that name a user by one of `names`.
fn name_assertions(names: &Names) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = Vec::new();
    for dn in &names.dns {
        out.extend(DN_MEMBER_ATTRS.iter().map(|a| (*a, dn.clone())));
    }
    out.extend(names.logins.iter().map(|l| ("memberUid", l.clone())));
    out
}

/// Equalities matching the groups that nest a group with one of these DNs.
fn nesting_assertions(dns: &[String]) -> Vec<(&'static str, String)> {
    dns.iter()
        .flat_map(|dn| DN_MEMBER_ATTRS.iter().map(move |a| (*a, dn.clone())))
        .collect()
}

/// The groups with any of these (attribute, value) equalities, as (anchor, DN): only the
/// anchor is asked for, so a group already in hand (a large one, often) is not sent again.
/// An entry that does not decode goes to `mapper`, which quarantines it.
async fn naming(
    ctx: &Ctx<'_>,
    client: &mut Client,
    exec: &mut Executor<'_>,
    assertions: &[(&'static str, String)],
    mapper: &mut GroupMapper,
) -> Result<Vec<(Option<String>, String)>> {
    let mut found = Vec::new();
    for chunk in assertions.chunks(ASSERTIONS_PER_SEARCH) {
        let filter = naming_filter(&ctx.group_filter, chunk);
        for base in &ctx.cfg.base_dns {
            let mut search = client.paged(
                base,
                &filter,
                vec![ctx.map.anchor.clone()],
                ctx.cfg.page_size,
            );
            while let Some(page) = search.next_page().await? {
                for e in page {
                    exec.counts.read += 1;
                    match e {
                        // Without a usable anchor it is read whole, and quarantined then.
                        Ok(e) => found.push((ctx.map.anchor_of(&e).ok(), e.dn)),
                        Err(e) => mapper.take(&ctx.map, Err(e)),
                    }
                }
            }
        }
    }
    Ok(found)
}

/// One group by DN, whole, into `mapper`; nothing if it is gone or out of the filter.
async fn read_one(
    ctx: &Ctx<'_>,
    client: &mut Client,
    dn: &str,
    mapper: &mut GroupMapper,
) -> Result<()> {
    let answer = client
        .search_all(
            dn,
            Scope::Base,
            &ctx.group_filter,
            ctx.group_attrs.clone(),
            Vec::new(),
        )
        .await?;
    match answer.rc {
        0 => {}
        // noSuchObject: deleted since it was named.
        32 => return Ok(()),
        rc => {
            return Err(Error::Ldap(format!(
                "reading group `{dn}`: result {rc} {}",
                answer.text
            )));
        }
    }
    for e in answer.entries {
        mapper.take(&ctx.map, e);
    }
    Ok(())
}

fn naming_filter(group_filter: &str, assertions: &[(&str, String)]) -> String {
    let ors: String = assertions
        .iter()
        .map(|(attr, value)| format!("({attr}={})", ldap3::ldap_escape(value.as_str())))
        .collect();
    format!("(&{group_filter}(|{ors}))")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_group_read_left_unjoined_is_stopped() {
        let (held, gone) = tokio::sync::oneshot::channel::<()>();
        let reading = GroupReading(tokio::spawn(async move {
            let _held = held;
            std::future::pending::<Result<(GroupsRead, Client, Tracker)>>().await
        }));
        drop(reading);
        // Stopping the task drops its future, and the sender it held with it.
        let closed = tokio::time::timeout(std::time::Duration::from_secs(10), gone).await;
        assert!(matches!(closed, Ok(Err(_))), "the read still runs");
    }

    #[test]
    fn naming_filters_escape_values() {
        let f = naming_filter(
            "(objectClass=groupOfNames)",
            &[
                ("member", "cn=a\\2c b (x)*,dc=x".to_owned()),
                ("memberUid", "ann".to_owned()),
            ],
        );
        assert_eq!(
            f,
            "(&(objectClass=groupOfNames)(|(member=cn=a\\5c2c b \\28x\\29\\2a,dc=x)(memberUid=ann)))"
        );
        // ldap3 parses what it will send.
        assert!(ldap3::parse_filter(&f).is_ok());
    }
}
