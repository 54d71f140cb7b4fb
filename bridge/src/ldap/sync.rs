//! One run of one source: read the directory (full or delta), feed the executor in bounded
//! batches, then — only once the read completed — check the guard and deprovision.

use std::collections::HashSet;
use std::time::Instant;

use plugin::platform::Platform;

use super::client::{Client, SyncMessage};
use super::config::{Kind, SourceConfig};
use super::controls::content_sync::{EntryState, SyncInfo};
use super::entry::Entry;
use super::executor::{Deprovision, Executor};
use super::mapping::{AttributeMap, Rejected, SourceGroup, map_group, map_user};
use super::plan::{check_guard, plan_sweep};
use super::report::{Counts, Mode, Report, Status};
use super::state::{self, Cursor, RunRecord};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// A full read with mark-and-sweep even when a delta is possible.
    pub full: bool,
    /// Compute and report everything, write nothing.
    pub dry_run: bool,
    /// Deprovision beyond the source's `max_deprovision_share`.
    pub force: bool,
}

/// Called after each batch with the counters so far.
pub type Progress<'a> = &'a (dyn Fn(&Counts) + Sync);

/// A filter that matches nothing: a content-sync search with it returns just a cookie.
const MATCH_NOTHING: &str = "(&(objectClass=*)(!(objectClass=*)))";

struct Ctx<'a> {
    cfg: &'a SourceConfig,
    map: AttributeMap,
    source: String,
    user_filter: String,
    group_filter: String,
}

impl<'a> Ctx<'a> {
    fn new(cfg: &'a SourceConfig) -> Self {
        let map = AttributeMap::new(cfg.kind, &cfg.attributes);
        let pick = |f: &str, d: &str| {
            if f.is_empty() {
                d.to_owned()
            } else {
                f.to_owned()
            }
        };
        Ctx {
            user_filter: pick(&cfg.user_filter, map.default_user_filter()),
            group_filter: pick(&cfg.group_filter, map.default_group_filter()),
            source: cfg.source_id(),
            cfg,
            map,
        }
    }

    /// Deltas by content sync need the anchor to be the entryUUID the protocol names.
    fn can_content_sync(&self) -> bool {
        self.cfg.kind == Kind::Openldap && self.map.anchor.eq_ignore_ascii_case("entryUUID")
    }
}

/// Runs one source once and records the outcome. Never panics; errors are in the report.
pub async fn run(
    platform: &Platform,
    cfg: &SourceConfig,
    opts: RunOptions,
    progress: Progress<'_>,
) -> Report {
    let started = Instant::now();
    let at = platform.now();
    let ctx = Ctx::new(cfg);
    let previous = match platform.store().read().await {
        Ok(mut c) => state::load_state(&mut c, &ctx.source).await.ok(),
        Err(_) => None,
    }
    .unwrap_or_default();
    let delta_possible = ctx.can_content_sync() && !previous.cursor.cookies.is_empty();
    let mut mode = if opts.full || !delta_possible {
        Mode::Full
    } else {
        Mode::Delta
    };
    // A dry run writes nothing, so it needs no exclusive hold on the source.
    if !opts.dry_run {
        let held = async {
            let mut tx = platform.store().write().await?;
            let got =
                state::acquire_run(&mut tx, &ctx.source, at, at + time::Duration::hours(1)).await?;
            tx.commit().await?;
            Ok::<_, Error>(got)
        };
        match held.await {
            Ok(true) => {}
            Ok(false) => {
                return busy(
                    &ctx.source,
                    mode,
                    "another run of this source is in progress".into(),
                );
            }
            Err(e) => {
                return busy(
                    &ctx.source,
                    mode,
                    format!("cannot take the source for a run: {e}"),
                );
            }
        }
    }
    let mut exec = Executor::new(platform, ctx.source.clone(), cfg.on_delete, opts.dry_run);
    let mut outcome = match mode {
        Mode::Full => full(&ctx, &mut exec, opts, progress).await,
        Mode::Delta => delta(&ctx, &mut exec, &previous.cursor, opts, progress).await,
    };
    if matches!(outcome, Ok(Outcome::RefreshRequired)) {
        tracing::info!(source = %ctx.source, "the server asks for a full refresh; running one");
        mode = Mode::Full;
        outcome = full(&ctx, &mut exec, opts, progress).await;
    }
    let (status, error, cursor) = match outcome {
        Ok(Outcome::Done(cursor)) if opts.dry_run => (Status::DryRun, None, Some(cursor)),
        Ok(Outcome::Done(cursor)) => (Status::Ok, None, Some(cursor)),
        Ok(Outcome::RefreshRequired) => (
            Status::Failed,
            Some("the server asked for a full refresh twice".to_owned()),
            None,
        ),
        Err(Error::Guard(g)) => (Status::Guarded, Some(g.to_string()), None),
        Err(e) => (Status::Failed, Some(e.to_string()), None),
    };
    let report = Report {
        source: ctx.source.clone(),
        mode,
        status,
        counts: exec.counts.clone(),
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        error,
        plan: std::mem::take(&mut exec.plan),
    };
    if !opts.dry_run {
        let counts = serde_json::to_value(&report.counts).unwrap_or_default();
        let record = RunRecord {
            source: &ctx.source,
            at,
            status: status.as_str(),
            mode: mode.as_str(),
            error: report.error.as_deref(),
            duration_ms: i64::try_from(report.duration_ms).unwrap_or(i64::MAX),
            counts: &counts,
            cursor: if status == Status::Ok {
                cursor.as_ref()
            } else {
                None
            },
            full_completed: status == Status::Ok && mode == Mode::Full,
        };
        let saved = async {
            let mut tx = platform.store().write().await?;
            state::record_run(&mut tx, &record).await?;
            state::release_run(&mut tx, &ctx.source).await?;
            tx.commit().await?;
            Ok::<_, Error>(())
        };
        if let Err(e) = saved.await {
            tracing::error!(source = %ctx.source, error = %e, "cannot record the sync result");
        }
    }
    match status {
        Status::Ok | Status::DryRun => {
            tracing::info!(source = %ctx.source, summary = %report.summary(), "LDAP sync finished")
        }
        _ => {
            tracing::warn!(source = %ctx.source, summary = %report.summary(), "LDAP sync did not complete")
        }
    }
    report
}

/// The report of a run that did not start: nothing was read or written.
fn busy(source: &str, mode: Mode, error: String) -> Report {
    tracing::warn!(source = %source, %error, "LDAP sync not started");
    Report {
        source: source.to_owned(),
        mode,
        status: Status::Failed,
        counts: Default::default(),
        duration_ms: 0,
        error: Some(error),
        plan: Vec::new(),
    }
}

enum Outcome {
    /// The read completed; the cursor to store.
    Done(Cursor),
    RefreshRequired,
}

async fn connect(ctx: &Ctx<'_>) -> Result<Client> {
    Client::connect(ctx.cfg).await
}

/// Full read: paged searches of users then groups under every base, mark-and-sweep at the end.
async fn full(
    ctx: &Ctx<'_>,
    exec: &mut Executor<'_>,
    opts: RunOptions,
    progress: Progress<'_>,
) -> Result<Outcome> {
    let started_at = time::OffsetDateTime::now_utc();
    let mut client = connect(ctx).await?;
    // Take the content-sync cookie *before* reading: changes made during the read are then
    // replayed by the next delta rather than lost.
    let mut cursor = Cursor::default();
    if ctx.can_content_sync() {
        for base in &ctx.cfg.base_dns {
            match cookie_now(&mut client, base).await {
                Ok(Some(c)) => {
                    cursor.cookies.insert(base.clone(), state::hex(&c));
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(source = %ctx.source, error = %e, "no content-sync cookie; later runs will be full reads")
                }
            }
        }
    }
    let batch_size = ctx.cfg.batch_size as usize;
    for base in &ctx.cfg.base_dns {
        let mut search = client.paged(
            base,
            &ctx.user_filter,
            ctx.map.user_attributes(),
            ctx.cfg.page_size,
        );
        let mut batch = Vec::with_capacity(batch_size);
        while let Some(page) = search.next_page().await? {
            for e in page {
                batch.push(map_entry_user(ctx, e));
                if batch.len() >= batch_size {
                    exec.users(std::mem::take(&mut batch)).await?;
                    progress(&exec.counts);
                }
            }
        }
        exec.users(batch).await?;
        progress(&exec.counts);
    }
    let groups = read_groups(ctx, &mut client, exec).await?;
    client.unbind().await;
    exec.fix_managers().await?;
    // The read completed: now, and only now, deprovision.
    let mut tx_conn = exec_conn(exec).await?;
    let imported = state::imported(&mut tx_conn, &ctx.source, "user").await?;
    let population = state::enabled_population(&mut tx_conn, &ctx.source).await?;
    drop(tx_conn);
    let gone = plan_sweep(imported.iter().map(|(a, id)| (a.as_str(), *id)), &exec.seen);
    let mut steps: Vec<Deprovision> = std::mem::take(&mut exec.deferred);
    steps.extend(
        gone.into_iter()
            .map(|(anchor, id)| Deprovision::Gone { anchor, id }),
    );
    guard_and_apply(ctx, exec, steps, population, opts).await?;
    exec.groups(groups, true).await?;
    exec.prune_quarantine(started_at).await?;
    progress(&exec.counts);
    Ok(Outcome::Done(cursor))
}

async fn exec_conn(exec: &Executor<'_>) -> Result<sqlx::pool::PoolConnection<sqlx::Sqlite>> {
    Ok(exec_platform(exec).store().read().await?)
}

fn exec_platform<'p>(exec: &Executor<'p>) -> &'p Platform {
    exec.platform()
}

async fn guard_and_apply(
    ctx: &Ctx<'_>,
    exec: &mut Executor<'_>,
    steps: Vec<Deprovision>,
    population: u64,
    opts: RunOptions,
) -> Result<()> {
    let count = steps.len() as u64;
    if let Err(tripped) = check_guard(count, population, ctx.cfg.max_deprovision_share, opts.force)
    {
        tracing::warn!(source = %ctx.source, %tripped, "deprovisioning guard tripped");
        return Err(tripped.into());
    }
    exec.deprovision(steps).await
}

fn map_entry_user(
    ctx: &Ctx<'_>,
    e: std::result::Result<Entry, String>,
) -> std::result::Result<super::mapping::SourceUser, Rejected> {
    match e {
        Ok(e) => map_user(&ctx.map, &ctx.source, &e),
        Err(reason) => Err(Rejected {
            dn: reason.clone(),
            anchor: None,
            reason,
        }),
    }
}

async fn read_groups(
    ctx: &Ctx<'_>,
    client: &mut Client,
    exec: &mut Executor<'_>,
) -> Result<Vec<SourceGroup>> {
    let mut groups = Vec::new();
    let mut rejected = Vec::new();
    for base in &ctx.cfg.base_dns {
        let mut search = client.paged(
            base,
            &ctx.group_filter,
            ctx.map.group_attributes(),
            ctx.cfg.page_size,
        );
        while let Some(page) = search.next_page().await? {
            for e in page {
                exec.counts.read += 1;
                match e
                    .map_err(|r| Rejected {
                        dn: r.clone(),
                        anchor: None,
                        reason: r,
                    })
                    .and_then(|e| map_group(&ctx.map, &e))
                {
                    Ok(g) => groups.push(g),
                    Err(r) => rejected.push(r),
                }
            }
        }
    }
    exec.quarantine_all(rejected).await?;
    Ok(groups)
}

/// The current content-sync cookie for `base`, without reading any entry.
async fn cookie_now(client: &mut Client, base: &str) -> Result<Option<Vec<u8>>> {
    let mut search = client
        .refresh(base, MATCH_NOTHING, vec!["1.1".into()], None)
        .await?;
    let mut cookie = None;
    loop {
        match search.next().await? {
            SyncMessage::Done { cookie: c, .. } => return Ok(c.or(cookie)),
            SyncMessage::Info(info) => {
                if let Some(c) = info_cookie(&info) {
                    cookie = Some(c);
                }
            }
            SyncMessage::Entry(..) => {}
            SyncMessage::RefreshRequired => return Ok(None),
        }
    }
}

fn info_cookie(info: &SyncInfo) -> Option<Vec<u8>> {
    match info {
        SyncInfo::NewCookie(c) => Some(c.clone()),
        SyncInfo::RefreshDelete { cookie, .. }
        | SyncInfo::RefreshPresent { cookie, .. }
        | SyncInfo::SyncIdSet { cookie, .. } => cookie.clone(),
    }
}

/// RFC 4533 refreshOnly from the stored cookies: changed entries in full, deleted ones by
/// UUID, or (present phase) every unchanged one by UUID so the rest can be swept.
async fn delta(
    ctx: &Ctx<'_>,
    exec: &mut Executor<'_>,
    previous: &Cursor,
    opts: RunOptions,
    progress: Progress<'_>,
) -> Result<Outcome> {
    let mut client = connect(ctx).await?;
    let filter = format!("(|{}{})", ctx.user_filter, ctx.group_filter);
    let mut attrs = ctx.map.user_attributes();
    attrs.extend(ctx.map.group_attributes());
    attrs.sort_by_key(|a| a.to_ascii_lowercase());
    attrs.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    let mut cursor = Cursor::default();
    let mut present: HashSet<String> = HashSet::new();
    let mut deleted: HashSet<String> = HashSet::new();
    let mut any_present_phase = false;
    let mut groups_dirty = false;
    let batch_size = ctx.cfg.batch_size as usize;
    for base in &ctx.cfg.base_dns {
        let Some(cookie) = previous.cookies.get(base).and_then(|c| state::unhex(c)) else {
            return Ok(Outcome::RefreshRequired);
        };
        let mut search = client
            .refresh(base, &filter, attrs.clone(), Some(cookie))
            .await?;
        let mut batch = Vec::with_capacity(batch_size);
        let mut last_cookie = None;
        loop {
            match search.next().await? {
                SyncMessage::RefreshRequired => return Ok(Outcome::RefreshRequired),
                SyncMessage::Entry(st, entry) => {
                    let anchor = st.entry_uuid.to_string().to_lowercase();
                    if let Some(c) = st.cookie {
                        last_cookie = Some(c);
                    }
                    match st.state {
                        EntryState::Present => {
                            present.insert(anchor);
                        }
                        EntryState::Delete => {
                            deleted.insert(anchor);
                        }
                        EntryState::Add | EntryState::Modify => {
                            present.insert(anchor.clone());
                            match entry {
                                Ok(e) if ctx.map.is_group(&e) => groups_dirty = true,
                                other => {
                                    batch.push(map_entry_user(ctx, other));
                                    if batch.len() >= batch_size {
                                        exec.users(std::mem::take(&mut batch)).await?;
                                        progress(&exec.counts);
                                    }
                                }
                            }
                        }
                    }
                }
                SyncMessage::Info(info) => {
                    if let Some(c) = info_cookie(&info) {
                        last_cookie = Some(c);
                    }
                    match info {
                        SyncInfo::SyncIdSet {
                            refresh_deletes: true,
                            uuids,
                            ..
                        } => {
                            deleted.extend(uuids.iter().map(|u| u.to_string().to_lowercase()));
                        }
                        SyncInfo::SyncIdSet {
                            refresh_deletes: false,
                            uuids,
                            ..
                        } => {
                            any_present_phase = true;
                            present.extend(uuids.iter().map(|u| u.to_string().to_lowercase()));
                        }
                        SyncInfo::RefreshPresent { .. } => any_present_phase = true,
                        _ => {}
                    }
                }
                SyncMessage::Done {
                    cookie,
                    refresh_deletes,
                } => {
                    if !refresh_deletes {
                        any_present_phase = true;
                    }
                    if let Some(c) = cookie
                        .or(last_cookie.take())
                        .or_else(|| previous.cookies.get(base).and_then(|c| state::unhex(c)))
                    {
                        cursor.cookies.insert(base.clone(), state::hex(&c));
                    }
                    break;
                }
            }
        }
        exec.users(batch).await?;
    }
    exec.fix_managers().await?;
    // Which imported objects are gone.
    let mut conn = exec_conn(exec).await?;
    let users = state::imported(&mut conn, &ctx.source, "user").await?;
    let known_groups = state::imported(&mut conn, &ctx.source, "group").await?;
    let population = state::enabled_population(&mut conn, &ctx.source).await?;
    drop(conn);
    let is_gone = |anchor: &str| {
        deleted.contains(anchor)
            || (any_present_phase && !present.contains(anchor) && !exec.seen.contains(anchor))
    };
    let gone_users: Vec<Deprovision> = users
        .iter()
        .filter(|(a, _)| is_gone(a))
        .map(|(anchor, id)| Deprovision::Gone {
            anchor: anchor.clone(),
            id: *id,
        })
        .collect();
    let gone_groups: Vec<(String, uuid::Uuid)> = known_groups
        .into_iter()
        .filter(|(a, _)| is_gone(a))
        .collect();
    let mut steps: Vec<Deprovision> = std::mem::take(&mut exec.deferred);
    let changed_people =
        exec.counts.added + exec.counts.updated > 0 || !gone_users.is_empty() || !steps.is_empty();
    steps.extend(gone_users);
    guard_and_apply(ctx, exec, steps, population, opts).await?;
    exec.delete_groups(&gone_groups).await?;
    if groups_dirty || changed_people {
        // Memberships may have changed: re-read the groups (small next to the users) and
        // recompute the effective memberships.
        let groups = read_groups(ctx, &mut client, exec).await?;
        exec.groups(groups, true).await?;
    }
    client.unbind().await;
    progress(&exec.counts);
    Ok(Outcome::Done(cursor))
}
