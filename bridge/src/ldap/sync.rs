//! One run of one source: read the directory (full or delta), feed the executor in bounded
//! batches, then — only once the read completed — check the guard and deprovision.

use std::time::Instant;

use plugin::domain::directory_sync::Deprovision;
use plugin::platform::Platform;
use plugin::platform::directory_sync::{Executor, GroupRead, LockSettings, RunLock};
use tokio::sync::watch;

use super::client::Client;
use super::config::{DeltaMethod, Kind, SourceConfig};
use super::delta::{self, timestamp::Tracker};
use super::entry::Entry;
use super::group_read::{self, AllGroups};
use super::mapping::{AttributeMap, Rejected};
use super::plan::check_guard;
use super::reader;
use super::report::{Counts, Mode, Report, Status};
use super::state::{Cursor, RunRecord};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// A full read with mark-and-sweep even when a delta is possible.
    pub full: bool,
    /// Compute and report everything, write nothing.
    pub dry_run: bool,
    /// Deprovision beyond the source's `max_deprovision_share`, and take the run lock of a
    /// run known to be dead without waiting for its grace.
    pub force: bool,
    /// How the run holds its source against other runs.
    pub lock: LockSettings,
}

/// Turns true when the run should stop (the process is shutting down): the run ends at its
/// next await, rolls back the batch in flight, records the interruption and frees the source.
pub type Stop = watch::Receiver<bool>;

/// Called after each batch with the counters so far.
pub type Progress<'a> = &'a (dyn Fn(&Counts) + Sync);

/// A filter that matches nothing: a content-sync or DirSync search with it returns just a
/// cookie.
pub(super) const MATCH_NOTHING: &str = "(&(objectClass=*)(!(objectClass=*)))";

/// One source's settings resolved for a run.
pub(super) struct Ctx<'a> {
    pub cfg: &'a SourceConfig,
    pub map: AttributeMap,
    pub source: String,
    pub user_filter: String,
    pub group_filter: String,
    /// How deltas are read; never `Auto`.
    pub method: DeltaMethod,
    pub user_attrs: Vec<String>,
    pub group_attrs: Vec<String>,
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
        let anchor_is = |a: &str| map.anchor.eq_ignore_ascii_case(a);
        let method = match (cfg.delta, cfg.kind) {
            // Content sync names entries by entryUUID, DirSync and USN deltas by objectGUID:
            // with another anchor, changed entries could not be matched to users.
            (DeltaMethod::Auto, Kind::Openldap) if anchor_is("entryUUID") => {
                DeltaMethod::ContentSync
            }
            (DeltaMethod::Auto, Kind::Ad) if anchor_is("objectGUID") => DeltaMethod::Dirsync,
            (DeltaMethod::Auto, Kind::Generic) => DeltaMethod::Timestamp,
            (DeltaMethod::Auto, _) => DeltaMethod::None,
            (m, _) => m,
        };
        let mut user_attrs = map.user_attributes();
        let mut group_attrs = map.group_attributes();
        if method == DeltaMethod::Timestamp {
            user_attrs.push("modifyTimestamp".into());
            group_attrs.push("modifyTimestamp".into());
        }
        Ctx {
            user_filter: pick(&cfg.user_filter, map.default_user_filter()),
            group_filter: pick(&cfg.group_filter, map.default_group_filter()),
            source: cfg.source_id(),
            cfg,
            map,
            method,
            user_attrs,
            group_attrs,
        }
    }
}

/// Runs one source once and records the outcome. Never panics; errors are in the report.
/// A dry run runs on a snapshot of the database, thrown away after.
pub async fn run(
    platform: &Platform,
    cfg: &SourceConfig,
    opts: RunOptions,
    stop: &Stop,
    progress: Progress<'_>,
) -> Report {
    if !opts.dry_run {
        return run_on(platform, cfg, opts, stop, progress).await;
    }
    let copy = match platform.dry_run_copy().await {
        Ok(copy) => copy,
        Err(e) => {
            return busy(
                &cfg.source_id(),
                Mode::Full,
                format!("cannot take a snapshot of the database for the dry run: {e}"),
            );
        }
    };
    let report = run_on(&copy, cfg, opts, stop, progress).await;
    copy.discard_dry_run_copy().await;
    report
}

async fn run_on(
    platform: &Platform,
    cfg: &SourceConfig,
    opts: RunOptions,
    stop: &Stop,
    progress: Progress<'_>,
) -> Report {
    let started = Instant::now();
    let at = platform.now();
    let ctx = Ctx::new(cfg);
    let previous = platform
        .directory_sync_state(&ctx.source)
        .await
        .unwrap_or_default();
    let delta_possible = delta::can_resume(&ctx, &previous.cursor);
    let mut mode = if opts.full || !delta_possible {
        Mode::Full
    } else {
        Mode::Delta
    };
    // A dry run writes nothing, so it needs no exclusive hold on the source.
    let lock = if opts.dry_run {
        None
    } else {
        match RunLock::acquire(platform, &ctx.source, opts.lock, opts.force).await {
            Ok(lock) => Some(lock),
            Err(why) => return busy(&ctx.source, mode, why),
        }
    };
    let mut exec = Executor::new(platform, ctx.source.clone(), cfg.on_delete, opts.dry_run);
    exec.fence = lock.as_ref().map(RunLock::fence);
    let outcome = {
        let work = async {
            let mut outcome = match mode {
                Mode::Full => full(&ctx, &mut exec, opts, progress).await,
                Mode::Delta => delta::run(&ctx, &mut exec, &previous.cursor, opts, progress).await,
            };
            if matches!(outcome, Ok(Outcome::RefreshRequired)) {
                tracing::info!(source = %ctx.source, "the server asks for a full refresh; running one");
                mode = Mode::Full;
                // A full run recomputes every group.
                exec.track_moves(false);
                outcome = full(&ctx, &mut exec, opts, progress).await;
            }
            // Rejected entries whose batches wrote nothing else are quarantined now, whatever
            // became of the rest of the run (unless it was stopped: then nothing more is
            // written).
            match exec.flush_rejects().await {
                Ok(()) => outcome,
                Err(e) => outcome.and(Err(e.into())),
            }
        };
        let lost = async {
            match &lock {
                Some(lock) => lock.lost().await,
                None => std::future::pending().await,
            }
        };
        // Either ends the run at once: the batch in flight rolls back (its transaction is
        // dropped), and nobody is deprovisioned by a run that did not complete.
        tokio::select! {
            outcome = work => outcome,
            () = stopped(stop) => Err(Error::Interrupted("the run was stopped: tapbridge is shutting down".into())),
            () = lost => Err(Error::Interrupted(format!("the run lost its lock on {}: another run took it over", ctx.source))),
        }
    };
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
        delta_method: (mode == Mode::Delta)
            .then(|| previous.cursor.method())
            .flatten(),
    };
    if let Some(lock) = &lock {
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
        // The record is written only while the run still holds the source: a run that lost
        // it must not overwrite the state of the run that took over.
        lock.finish(platform, &record).await;
    }
    if status == Status::Ok
        && let Err(e) = platform.settle_after_directory_run(&report.counts).await
    {
        tracing::warn!(source = %ctx.source, error = %e, "database statistics not refreshed after the sync");
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

/// Resolves when `stop` turns true; never if its sender is gone without doing so.
async fn stopped(stop: &Stop) {
    let mut stop = stop.clone();
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
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
        delta_method: None,
    }
}

pub(super) enum Outcome {
    /// The read completed; the cursor to store.
    Done(Cursor),
    RefreshRequired,
}

pub(super) async fn connect(ctx: &Ctx<'_>) -> Result<Client> {
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
    let read_started = Instant::now();
    let mut client = connect(ctx).await?;
    // Take the delta's starting point *before* reading: changes made during the read are
    // then replayed by the next delta rather than lost.
    let mut cursor = delta::start(ctx, &mut client).await;
    let (mut batches, reading) = reader::spawn(
        client,
        reader::UserRead {
            map: ctx.map.clone(),
            source: ctx.source.clone(),
            base_dns: ctx.cfg.base_dns.clone(),
            filter: ctx.user_filter.clone(),
            attrs: ctx.user_attrs.clone(),
            page_size: ctx.cfg.page_size,
            batch_size: ctx.cfg.batch_size as usize,
            stamps: Tracker::new(ctx.method == DeltaMethod::Timestamp),
        },
    );
    let mut writing = std::time::Duration::ZERO;
    while let Some(batch) = batches.recv().await {
        let t = Instant::now();
        if let Err(e) = exec.users(batch).await {
            reading.abort();
            return Err(e.into());
        }
        writing += t.elapsed();
        progress(&exec.counts);
    }
    tracing::debug!(source = %ctx.source, ms = writing.as_millis() as u64, "of which writing users");
    let (client, stamps) = reader::join(reading).await?;
    tracing::debug!(source = %ctx.source, ms = read_started.elapsed().as_millis() as u64, "users read and written");
    // The directory sends the groups while the store sets late managers and plans the
    // sweep: neither needs the groups, and both cores are busy (a tenth of a second of each
    // at 100,000 users, one after the other before).
    let reading = group_read::spawn_all(AllGroups::of(ctx), client, stamps);
    let (steps, population) = sweep_steps(exec).await?;
    tracing::debug!(source = %ctx.source, ms = read_started.elapsed().as_millis() as u64, "sweep planned");
    let (read, client, stamps) = reading.join().await?;
    client.unbind().await;
    let groups = read.finish(exec).await?;
    tracing::debug!(source = %ctx.source, ms = read_started.elapsed().as_millis() as u64, "groups read");
    if ctx.method == DeltaMethod::Timestamp {
        cursor.watermark = stamps.next_watermark(None, read_started.elapsed());
    }
    // The read completed: now, and only now, deprovision.
    guard_and_apply(ctx, exec, steps, population, opts).await?;
    exec.groups(groups, GroupRead::Complete).await?;
    tracing::debug!(source = %ctx.source, ms = read_started.elapsed().as_millis() as u64, "groups written");
    exec.prune_quarantine(started_at).await?;
    progress(&exec.counts);
    Ok(Outcome::Done(cursor))
}

/// Sets the managers imported after their reports, then plans a full run's sweep: the
/// deprovisioning steps (those deferred by the user batches, then every imported user the
/// read did not see) and the guard's population.
async fn sweep_steps(exec: &mut Executor<'_>) -> plugin::Result<(Vec<Deprovision>, u64)> {
    exec.fix_managers().await?;
    let (gone, population) = exec.unseen_users().await?;
    let mut steps: Vec<Deprovision> = std::mem::take(&mut exec.deferred);
    steps.extend(
        gone.into_iter()
            .map(|(anchor, id)| Deprovision::Gone { anchor, id }),
    );
    Ok((steps, population))
}

pub(super) async fn guard_and_apply(
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
    Ok(exec.deprovision(steps).await?)
}

pub(super) fn map_entry_user(
    ctx: &Ctx<'_>,
    e: std::result::Result<Entry, String>,
) -> std::result::Result<super::mapping::SourceUser, Rejected> {
    reader::map(&ctx.map, &ctx.source, e)
}
