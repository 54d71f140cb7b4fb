//! Applies a sync's planned steps to the store, one transaction per batch, every user change
//! through [`lifecycle`] (audit record and joiner / mover / leaver event included).
//!
//! Each entry is written under its own savepoint: an entry the store refuses (a user name
//! another user has, a value out of range) is rolled back alone and quarantined, and the batch
//! goes on. A dry run must see, batch after batch, what the batches before it would have
//! done, so that its counts and plan are the real run's; it must not change the live data.
//! On SQLite it runs on a snapshot of the database (see [`Platform::dry_run_copy`]) and
//! commits there. Where there is no snapshot (PostgreSQL), it runs in one write transaction
//! from its first read to its end, every batch and every read inside it, and rolls it back.
//! That transaction holds the writer lock (`write_alone`), so no other write interleaves with
//! the run's reads and writes; the cost is that every other writer of the database, on every
//! node, waits until the dry run ends.
//!
//! Batches of users run in a background write transaction (`write_background`), everything
//! else alone (`write_alone`): the bulk create defers foreign keys (a manager later in the
//! same statement), which a transaction shared with other writers must not do.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use time::OffsetDateTime;
use uuid::Uuid;

use super::run_lock::Fence;
use crate::Result;
use crate::domain::audit::{Activity, AuditRecord, Initiator};
use crate::domain::directory::{NewGroup, NewUser, User, new_object_id, upn_key};
use crate::domain::directory_sync::groups::{Names, Resolver, diff, effective_members};
use crate::domain::directory_sync::plan::{
    MovedReferences, UserStep, managers_first, moves_references, plan_user,
};
use crate::domain::directory_sync::{
    Counts, Deprovision, OnDelete, Rejected, SourceGroup, SourceUser,
};
use crate::platform::Platform;
use crate::platform::lifecycle::{self, GroupChange, Memberships, Writer};
use crate::store::ldap::{self as state, ObjectRow};
use crate::store::{Connection, WriteTx, audit, groups, users};

/// The imported objects of a source, as [`Executor::imported_objects`] finds them.
#[derive(Debug, Default)]
pub struct Imported {
    /// (anchor, user id)
    pub users: Vec<(String, Uuid)>,
    /// (anchor, group id)
    pub groups: Vec<(String, Uuid)>,
    /// Enabled users of the source.
    pub population: u64,
}

/// Applies one run of one source: it keeps the run's counters, the anchors it saw and the
/// deprovisioning steps it deferred until the read completed.
pub struct Executor<'p> {
    platform: &'p Platform,
    source: String,
    on_delete: OnDelete,
    dry_run: bool,
    pub counts: Counts,
    /// Anchors of every user entry read (imported, unchanged or quarantined).
    pub seen: HashSet<String>,
    pub deferred: Vec<Deprovision>,
    /// How the users this run created, or who changed how groups name them, are named (old
    /// and new): the groups naming them need their memberships recomputed. Kept only when
    /// `track_moved` (a delta: a full run recomputes every group, and a first load would
    /// keep every user's names).
    pub moved: MovedReferences,
    track_moved: bool,
    /// Whether the next user batch is worth checking for "nothing to write" before taking
    /// the write lock.
    expect_unchanged: bool,
    /// Users whose manager was not imported yet when they were written.
    manager_fixups: Vec<(Uuid, String)>,
    /// Rejected entries of batches that changed nothing else: their quarantine records are
    /// written with the next batch that writes, or by [`Self::flush_rejects`].
    pending_rejects: Vec<Rejected>,
    /// The users this run created, with their user principal names: their joiner events
    /// stand for their first groups, and their names are those the groups' audit records
    /// give (read back from the store they cost a random look-up each, a sixth of a first
    /// load's group step).
    created: Arc<HashMap<Uuid, String>>,
    /// How groups name the source's users, read by [`Self::unseen_users`] for a full run's
    /// group step.
    references: Option<References>,
    /// What a dry run would do, one line per change.
    pub plan: Vec<String>,
    /// The run's lock: each transaction proves the run still holds its source before it
    /// commits. `None` for a dry run, which holds nothing.
    pub fence: Option<Fence>,
    /// A dry run without a snapshot: the one transaction the whole run reads and writes in,
    /// between two uses; rolled back when the executor is dropped.
    held: Option<WriteTx>,
}

/// Where a run reads: a pooled connection, or a dry run's one transaction (whose writes are
/// visible only there).
enum Reading {
    Pool(Connection),
    Held(WriteTx),
}

impl std::ops::Deref for Reading {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        match self {
            Reading::Pool(c) => c,
            Reading::Held(tx) => tx,
        }
    }
}

impl std::ops::DerefMut for Reading {
    fn deref_mut(&mut self) -> &mut Connection {
        match self {
            Reading::Pool(c) => c,
            Reading::Held(tx) => tx,
        }
    }
}

impl<'p> Executor<'p> {
    pub fn new(platform: &'p Platform, source: String, on_delete: OnDelete, dry_run: bool) -> Self {
        Executor {
            platform,
            source,
            on_delete,
            dry_run,
            counts: Counts::default(),
            seen: HashSet::new(),
            deferred: Vec::new(),
            moved: MovedReferences::default(),
            track_moved: false,
            expect_unchanged: true,
            manager_fixups: Vec::new(),
            pending_rejects: Vec::new(),
            created: Arc::default(),
            references: None,
            plan: Vec::new(),
            fence: None,
            held: None,
        }
    }

    /// A dry run with no snapshot to run on: it runs in one transaction, rolled back at its
    /// end.
    fn holds(&self) -> bool {
        self.dry_run && !self.platform.store().is_snapshot()
    }

    async fn take_held(&mut self) -> Result<WriteTx> {
        match self.held.take() {
            Some(tx) => Ok(tx),
            None => self.platform.store().write_alone().await,
        }
    }

    /// A write transaction: `background` for a batch of users (it lets another process
    /// waiting for the database in first), else one that commits alone.
    async fn begin(&mut self, background: bool) -> Result<WriteTx> {
        if self.holds() {
            return self.take_held().await;
        }
        let store = self.platform.store();
        if background {
            store.write_background().await
        } else {
            store.write_alone().await
        }
    }

    async fn reading(&mut self) -> Result<Reading> {
        if self.holds() {
            return Ok(Reading::Held(self.take_held().await?));
        }
        Ok(Reading::Pool(self.platform.store().read().await?))
    }

    fn done_reading(&mut self, r: Reading) {
        if let Reading::Held(tx) = r {
            self.held = Some(tx);
        }
    }

    /// The imported users this run's read did not see, (anchor, user id), and how many of
    /// the source's users are enabled (the deprovisioning guard's population): a full run's
    /// sweep. The anchors read are done with then and leave memory (100,000 at 100,000
    /// users).
    ///
    /// The same scan gives how groups name the source's users: kept for the group step of
    /// the same run, which read them again (a fifth of a second at 100,000 users), unless a
    /// deprovisioning step changes them first.
    pub async fn unseen_users(&mut self) -> Result<(Vec<(String, Uuid)>, u64)> {
        let seen = std::mem::take(&mut self.seen);
        let mut conn = self.reading().await?;
        let (by_dn, by_login, unseen) =
            state::user_index(&mut conn, &self.source, |a| !seen.contains(a)).await?;
        let population = state::enabled_population(&mut conn, &self.source).await?;
        self.done_reading(conn);
        self.references = Some(References::named(by_dn, by_login));
        Ok((unseen, population))
    }

    /// What a delta's end looks for among: the imported users and groups — all of them, or
    /// only those with these anchors — and the guard's population.
    pub async fn imported_objects(&mut self, among: Option<&[&str]>) -> Result<Imported> {
        let mut conn = self.reading().await?;
        let (users, groups) = match among {
            Some(c) => (
                state::imported_among(&mut conn, &self.source, "user", c).await?,
                state::imported_among(&mut conn, &self.source, "group", c).await?,
            ),
            None => (
                state::imported(&mut conn, &self.source, "user").await?,
                state::imported(&mut conn, &self.source, "group").await?,
            ),
        };
        let population = state::enabled_population(&mut conn, &self.source).await?;
        self.done_reading(conn);
        Ok(Imported {
            users,
            groups,
            population,
        })
    }

    /// Whether user writes record their moved names (a delta's) from now on; what was
    /// recorded is dropped (a delta that turned into a full run).
    pub fn track_moves(&mut self, on: bool) {
        self.track_moved = on;
        self.moved = MovedReferences::default();
    }

    /// The normalised DNs stored for these imported objects: anchor → DN.
    pub async fn stored_dns(&mut self, anchors: &[&str]) -> Result<HashMap<String, String>> {
        if anchors.is_empty() {
            return Ok(HashMap::new());
        }
        let mut conn = self.reading().await?;
        let dns = state::dns_of(&mut conn, &self.source, anchors).await?;
        self.done_reading(conn);
        Ok(dns)
    }

    /// The imported groups of the source: (anchor, group id).
    pub async fn imported_groups(&mut self) -> Result<Vec<(String, Uuid)>> {
        let mut conn = self.reading().await?;
        let groups = state::imported(&mut conn, &self.source, "group").await?;
        self.done_reading(conn);
        Ok(groups)
    }

    /// Writes the quarantine records of rejected entries that arrived in batches with
    /// nothing else to write. A run calls it before it ends; the user batches call it once
    /// [`PENDING_REJECTS`] are waiting.
    pub async fn flush_rejects(&mut self) -> Result<()> {
        let rejects = std::mem::take(&mut self.pending_rejects);
        self.quarantine_all(rejects).await
    }

    /// Quarantines entries rejected outside a user batch (groups, and the user entries that
    /// waited in [`Self::flush_rejects`]).
    pub async fn quarantine_all(&mut self, rejected: Vec<Rejected>) -> Result<()> {
        if rejected.is_empty() {
            return Ok(());
        }
        let now = self.platform.now();
        let mut tx = self.begin(false).await?;
        for r in &rejected {
            self.reject(&mut tx, r, now).await?;
        }
        self.finish(tx).await
    }

    fn writer(&self) -> Writer {
        Writer {
            initiator: Initiator {
                kind: "app".into(),
                id: Some(self.source.clone()),
                display_name: format!("LDAP sync ({})", self.source),
            },
            correlation_id: None,
            now: self.platform.now(),
        }
    }

    fn note(&mut self, line: String) {
        if self.dry_run {
            self.plan.push(line);
        }
    }

    async fn finish(&mut self, mut tx: WriteTx) -> Result<()> {
        if self.holds() {
            // The batch ends as its commit would check it; the transaction stays open for
            // the next one.
            state::end_batch(&mut tx).await?;
            self.held = Some(tx);
            return Ok(());
        }
        // A run that lost its source to another run (it stalled past the lock's grace) must
        // not write over that run's batches: the check and the commit share the transaction.
        if let Some(fence) = &self.fence {
            fence.check(&mut tx, self.platform.now()).await?;
        }
        // Here a dry run runs on a snapshot, and commits there.
        tx.commit().await
    }

    /// Imports one batch of user entries (creates and updates; disables are deferred).
    pub async fn users(
        &mut self,
        batch: Vec<std::result::Result<SourceUser, Rejected>>,
    ) -> Result<()> {
        let anchors: Vec<&str> = batch
            .iter()
            .filter_map(|r| match r {
                Ok(u) => Some(u.anchor.as_str()),
                Err(r) => r.anchor.as_deref(),
            })
            .collect();
        if self.expect_unchanged {
            // Most batches of a steady-state run change nothing: find that out on a read
            // connection, so such a batch neither waits for nor holds the write lock.
            let mut conn = self.reading().await?;
            let known = state::known_users(&mut conn, &self.source, &anchors).await?;
            self.done_reading(conn);
            // A rejected entry only refreshes its quarantine record: that waits for the next
            // write. In a steady directory with entries it cannot import (5 % without mail),
            // nearly every batch had one, and each cost a write transaction and its fsync.
            let mut fresh = HashSet::with_capacity(batch.len());
            let unchanged = batch.iter().all(|r| match r {
                Ok(u) => {
                    !self.seen.contains(&u.anchor)
                        && fresh.insert(u.anchor.as_str())
                        && plan_user(u, known.get(&u.anchor)) == UserStep::Unchanged
                }
                Err(r) => r
                    .anchor
                    .as_deref()
                    .is_none_or(|a| !self.seen.contains(a) && fresh.insert(a)),
            });
            if unchanged {
                for item in batch {
                    self.counts.read += 1;
                    match item {
                        Ok(u) => {
                            self.counts.unchanged += 1;
                            self.seen.insert(u.anchor);
                        }
                        Err(rejected) => {
                            if let Some(a) = &rejected.anchor {
                                self.seen.insert(a.clone());
                            }
                            self.pending_rejects.push(rejected);
                        }
                    }
                }
                if self.pending_rejects.len() >= PENDING_REJECTS {
                    self.flush_rejects().await?;
                }
                return Ok(());
            }
        }
        let unchanged_before = self.counts.unchanged;
        let n = batch.len() as u64;
        let mut tx = self.begin(true).await?;
        let known = state::known_users(&mut tx, &self.source, &anchors).await?;
        let w = self.writer();
        for r in std::mem::take(&mut self.pending_rejects) {
            self.reject(&mut tx, &r, w.now).await?;
        }
        let mut creates = Vec::new();
        for item in batch {
            self.counts.read += 1;
            let user = match item {
                Ok(u) => u,
                Err(rejected) => {
                    if let Some(a) = &rejected.anchor {
                        // A bad entry of an existing user keeps that user: no deprovisioning
                        // because one value does not parse.
                        self.seen.insert(a.clone());
                    }
                    self.reject(&mut tx, &rejected, w.now).await?;
                    continue;
                }
            };
            if !self.seen.insert(user.anchor.clone()) {
                self.reject(
                    &mut tx,
                    &Rejected {
                        dn: user.dn.clone(),
                        anchor: None,
                        reason: format!("anchor {} appears twice in the directory", user.anchor),
                    },
                    w.now,
                )
                .await?;
                continue;
            }
            let k = known.get(&user.anchor);
            match plan_user(&user, k) {
                UserStep::Unchanged => self.counts.unchanged += 1,
                UserStep::Disable => self.deferred.push(Deprovision::Disable(Box::new(user))),
                UserStep::Create => {
                    if self.track_moved {
                        self.moved.note(None, &user);
                    }
                    creates.push(user);
                }
                UserStep::Update => {
                    if self.track_moved && k.is_none_or(|k| moves_references(k, &user)) {
                        self.moved.note(k, &user);
                    }
                    let id = k.map(|k| k.id);
                    self.write_user(&mut tx, id, user, &w).await?
                }
            }
        }
        self.create_all(&mut tx, creates, &w).await?;
        // A batch that changed things is usually followed by another (a first load): skip
        // the check then, it would only cost a second look-up.
        self.expect_unchanged = self.counts.unchanged - unchanged_before == n;
        self.finish(tx).await
    }

    /// Creates a batch's new users in a few statements. Entries the store would refuse (a
    /// taken or repeated user name, an invalid profile) go one by one through
    /// [`Self::write_user`], which quarantines them with the store's reason; so does the
    /// whole batch if the bulk write fails anyway.
    async fn create_all(
        &mut self,
        tx: &mut Connection,
        creates: Vec<SourceUser>,
        w: &Writer,
    ) -> Result<()> {
        if creates.is_empty() {
            return Ok(());
        }
        let upns: Vec<&str> = creates
            .iter()
            .map(|u| u.profile.user_principal_name.as_str())
            .collect();
        let taken = users::taken_upns(tx, &upns).await?;
        let mut keys = HashSet::new();
        let (mut bulk, mut single) = (Vec::new(), Vec::new());
        for u in creates {
            // The mapping normalised the profile (see `SourceUser::profile`): its name is the
            // one stored. One the store refuses all the same fails the bulk write, whose
            // fallback writes the batch one by one.
            let key = upn_key(&u.profile.user_principal_name);
            let free = !taken.contains(&key) && keys.insert(key);
            if free {
                bulk.push((new_object_id(), u));
            } else {
                single.push(u);
            }
        }
        // Managers: users of this batch first, then those imported before.
        let in_batch: HashMap<&str, Uuid> = bulk
            .iter()
            .map(|(id, u)| (u.dn_key.as_str(), *id))
            .collect();
        let wanted: Vec<&str> = bulk
            .iter()
            .filter_map(|(_, u)| u.manager_dn.as_deref())
            .filter(|dn| !in_batch.contains_key(dn))
            .collect();
        let stored = state::users_by_dns(tx, &self.source, &wanted).await?;
        let mut fixups = Vec::new();
        let mut rows: Vec<(Uuid, NewUser)> = bulk
            .iter()
            .map(|(id, u)| {
                let mut p = u.profile.clone();
                if let Some(dn) = &u.manager_dn {
                    p.manager_id = in_batch.get(dn.as_str()).or(stored.get(dn)).copied();
                    if p.manager_id.is_none() {
                        fixups.push((*id, dn.clone()));
                    }
                }
                (*id, p)
            })
            .collect();
        // Each manager of the batch is written before its reports: no forward reference is
        // left for the foreign key to wait on (deferring it took a PRAGMA that made SQLite
        // prepare every cached statement again, batch after batch).
        let links: Vec<(Uuid, Option<Uuid>)> =
            rows.iter().map(|(id, p)| (*id, p.manager_id)).collect();
        let (order, cut) = managers_first(&links);
        for i in cut {
            rows[i].1.manager_id = None;
            if let Some(dn) = &bulk[i].1.manager_dn {
                fixups.push((bulk[i].0, dn.clone()));
            }
        }
        let rows = permuted(rows, &order);
        let bulk = permuted(bulk, &order);
        let mut sp = tx.savepoint().await?;
        let written = match lifecycle::create_users(&mut sp, rows, w).await {
            Ok(written) => {
                let objects: Vec<ObjectRow> = bulk
                    .iter()
                    .map(|(id, u)| ObjectRow {
                        source: &self.source,
                        anchor: &u.anchor,
                        kind: "user",
                        object_id: *id,
                        dn: &u.dn_key,
                        login: u.login.as_deref(),
                        fingerprint: &u.fingerprint,
                    })
                    .collect();
                state::upsert_objects(&mut sp, &objects).await?;
                let dns: Vec<&str> = bulk.iter().map(|(_, u)| u.dn.as_str()).collect();
                state::release_many(&mut sp, &self.source, &dns).await?;
                sp.release().await?;
                Some(written)
            }
            Err(e) => {
                drop(sp);
                tracing::debug!(source = %self.source, error = %e, "batch create refused; creating one by one");
                None
            }
        };
        match written {
            Some(written) => {
                self.manager_fixups.extend(fixups);
                for (user, (_, u)) in written.iter().zip(&bulk) {
                    Arc::make_mut(&mut self.created)
                        .insert(user.id, user.user_principal_name.clone());
                    self.counts.added += 1;
                    self.note(format!("add {} ({})", user.user_principal_name, u.dn));
                }
            }
            None => single.extend(bulk.into_iter().map(|(_, u)| u)),
        }
        for u in single {
            self.write_user(tx, None, u, w).await?;
        }
        Ok(())
    }

    async fn reject(
        &mut self,
        conn: &mut Connection,
        r: &Rejected,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.counts.quarantined += 1;
        self.note(format!("quarantine {}: {}", r.dn, r.reason));
        tracing::warn!(source = %self.source, dn = %r.dn, reason = %r.reason, "entry quarantined");
        state::quarantine(
            conn,
            &self.source,
            &r.dn,
            r.anchor.as_deref(),
            &r.reason,
            now,
        )
        .await?;
        Ok(())
    }

    /// Creates (`id == None`) or updates a user under a savepoint; a refusal quarantines it.
    async fn write_user(
        &mut self,
        tx: &mut Connection,
        id: Option<Uuid>,
        user: SourceUser,
        w: &Writer,
    ) -> Result<()> {
        let mut profile = user.profile.clone();
        if let Some(dn) = &user.manager_dn {
            profile.manager_id = state::user_by_dn(tx, &self.source, dn).await?;
        }
        let mut sp = tx.savepoint().await?;
        let outcome = match id {
            None => lifecycle::create_user(&mut sp, profile.clone(), w)
                .await
                .map(|u| (u.id, Some(u.user_principal_name))),
            Some(id) => match users::get(&mut sp, id).await? {
                Some(existing) => lifecycle::update_user(&mut sp, &existing, profile.clone(), w)
                    .await
                    .map(|(u, _)| (u.id, None)),
                None => Err(crate::Error::not_found(format!("user {id}"))),
            },
        };
        match outcome {
            Ok((uid, created)) => {
                state::upsert_object(
                    &mut sp,
                    &ObjectRow {
                        source: &self.source,
                        anchor: &user.anchor,
                        kind: "user",
                        object_id: uid,
                        dn: &user.dn_key,
                        login: user.login.as_deref(),
                        fingerprint: &user.fingerprint,
                    },
                )
                .await?;
                state::release(&mut sp, &self.source, &user.dn).await?;
                sp.release().await?;
                if profile.manager_id.is_none()
                    && let Some(dn) = user.manager_dn
                {
                    self.manager_fixups.push((uid, dn));
                }
                if let Some(upn) = created {
                    Arc::make_mut(&mut self.created).insert(uid, upn);
                    self.counts.added += 1;
                    self.note(format!("add {} ({})", profile.user_principal_name, user.dn));
                } else {
                    self.counts.updated += 1;
                    self.note(format!(
                        "update {} ({})",
                        profile.user_principal_name, user.dn
                    ));
                }
            }
            Err(e) => {
                drop(sp);
                self.reject(
                    tx,
                    &Rejected {
                        dn: user.dn.clone(),
                        anchor: Some(user.anchor.clone()),
                        reason: e.to_string(),
                    },
                    w.now,
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Sets managers that were imported after their reports (or cut from a reporting cycle,
    /// see [`managers_first`]).
    pub async fn fix_managers(&mut self) -> Result<()> {
        if self.manager_fixups.is_empty() {
            return Ok(());
        }
        let fixups = std::mem::take(&mut self.manager_fixups);
        let w = self.writer();
        for chunk in fixups.chunks(1000) {
            let mut tx = self.begin(false).await?;
            for (uid, dn) in chunk {
                let Some(manager) = state::user_by_dn(&mut tx, &self.source, dn).await? else {
                    continue;
                };
                if let Some(existing) = users::get(&mut tx, *uid).await? {
                    let mut p = profile_of(&existing);
                    p.manager_id = Some(manager);
                    lifecycle::update_user(&mut tx, &existing, p, &w).await?;
                }
            }
            self.finish(tx).await?;
        }
        Ok(())
    }

    /// Applies deferred and sweep deprovisioning; the guard has already allowed it.
    pub async fn deprovision(&mut self, steps: Vec<Deprovision>) -> Result<()> {
        if !steps.is_empty() {
            // A disabled or deleted user is named differently (or not at all) from now on.
            self.references = None;
        }
        let w = self.writer();
        let mut steps = steps.into_iter().peekable();
        while steps.peek().is_some() {
            let mut tx = self.begin(false).await?;
            let mut memberships = Memberships::default();
            let mut leavers = HashSet::new();
            for step in steps.by_ref().take(500) {
                match step {
                    Deprovision::Disable(user) => {
                        let Some(k) = state::known_users(&mut tx, &self.source, &[&user.anchor])
                            .await?
                            .remove(&user.anchor)
                        else {
                            continue;
                        };
                        self.note(format!(
                            "disable {} ({})",
                            user.profile.user_principal_name, user.dn
                        ));
                        self.counts.disabled += 1;
                        self.write_user(&mut tx, Some(k.id), *user, &w).await?;
                        // write_user counted it as an update too
                        self.counts.updated = self.counts.updated.saturating_sub(1);
                    }
                    Deprovision::Gone { anchor, id } => {
                        let Some(existing) = users::get(&mut tx, id).await? else {
                            state::delete_object(&mut tx, &self.source, &anchor).await?;
                            continue;
                        };
                        match self.on_delete {
                            OnDelete::Delete => {
                                self.note(format!("delete {}", existing.user_principal_name));
                                lifecycle::delete_user(&mut tx, &existing, &w).await?;
                                self.counts.deleted += 1;
                            }
                            OnDelete::Disable => {
                                self.note(format!(
                                    "disable {} (left the directory)",
                                    existing.user_principal_name
                                ));
                                let mut p = profile_of(&existing);
                                p.account_enabled = false;
                                lifecycle::update_user(&mut tx, &existing, p, &w).await?;
                                self.drop_memberships(&mut tx, &mut memberships, &existing, &w)
                                    .await?;
                                leavers.insert(existing.id);
                                self.counts.disabled += 1;
                            }
                        }
                        // Forget the import: if the entry comes back it is imported afresh.
                        state::delete_object(&mut tx, &self.source, &anchor).await?;
                    }
                }
            }
            // A leaver's lost groups are part of leaving: no mover event for them.
            memberships
                .finish(&mut tx, &w, |u| leavers.contains(u))
                .await?;
            self.finish(tx).await?;
        }
        Ok(())
    }

    async fn drop_memberships(
        &mut self,
        conn: &mut Connection,
        memberships: &mut Memberships,
        user: &User,
        w: &Writer,
    ) -> Result<()> {
        for g in groups::of_user(conn, user.id).await? {
            if g.source != self.source {
                continue;
            }
            memberships
                .change(conn, w, (g.id, &g.display_name), &[], &[user.id])
                .await?;
            self.counts.memberships_removed += 1;
        }
        Ok(())
    }

    /// Writes the groups read: creates, renames and effective memberships. `Complete`: every
    /// group of the source was read, and those no longer in the directory are deleted.
    /// `Reached`: only the groups a delta's changes reach were read (changed groups, groups
    /// naming renamed users, and every group nesting one of those); nested groups outside
    /// that set count with their stored members. (Joiners reach groups too, but only to be
    /// added: [`Self::add_members`].)
    pub async fn groups(&mut self, read: Vec<SourceGroup>, scope: GroupRead) -> Result<()> {
        let w = self.writer();
        let mut tx = self.begin(false).await?;
        let known = state::known_groups(&mut tx, &self.source).await?;
        let refs = match (scope, self.references.take()) {
            (GroupRead::Complete, Some(read_with_the_sweep)) => read_with_the_sweep,
            (GroupRead::Complete, None) => References::all(&mut tx, &self.source).await?,
            (GroupRead::Reached, _) => References::of(&mut tx, &self.source, &read).await?,
        };
        let members = effective_members(&read, &refs.resolver());
        // What the members were resolved from is no longer needed: a first load's member
        // DNs (240,000 at 100,000 users) and every user's names leave memory before the
        // writes fill SQLite's cache.
        drop(refs);
        let read: Vec<SourceGroup> = read
            .into_iter()
            .map(|g| SourceGroup {
                member_dns: Vec::new(),
                member_uids: Vec::new(),
                ..g
            })
            .collect();
        // Joiners of this run have their joiner event; their first groups are no move.
        let mut memberships = Memberships::quiet(Arc::clone(&self.created));
        // Every group's changes, written together once all are known.
        let mut changes = Vec::new();
        let mut seen = HashSet::new();
        for g in &read {
            if !seen.insert(g.anchor.clone()) {
                continue;
            }
            let new = NewGroup {
                display_name: g.name.clone(),
                description: g.description.clone(),
                source: self.source.clone(),
                anchor: Some(g.anchor.clone()),
            };
            let new = match new.normalised() {
                Ok(n) => n,
                Err(e) => {
                    let r = Rejected {
                        dn: g.dn_key.clone(),
                        anchor: Some(g.anchor.clone()),
                        reason: e.to_string(),
                    };
                    self.reject(&mut tx, &r, w.now).await?;
                    continue;
                }
            };
            let (gid, unchanged) = match known.get(&g.anchor) {
                None => {
                    let created = groups::insert(&mut tx, &new, w.now).await?;
                    audit_group(
                        &mut tx,
                        &w,
                        Activity::GroupAdded,
                        created.id,
                        &created.display_name,
                        None,
                    )
                    .await?;
                    self.counts.groups_added += 1;
                    self.note(format!("add group {}", g.name));
                    (created.id, false)
                }
                // The fingerprint covers the entry's DN, name and description: when it is
                // the stored one, the group and its index row are as stored and nothing is
                // written.
                Some((gid, fp)) => {
                    let unchanged = fp.as_deref() == Some(g.fingerprint.as_str());
                    if !unchanged {
                        groups::update(&mut tx, *gid, &new, w.now).await?;
                    }
                    (*gid, unchanged)
                }
            };
            if !unchanged {
                state::upsert_object(
                    &mut tx,
                    &ObjectRow {
                        source: &self.source,
                        anchor: &g.anchor,
                        kind: "group",
                        object_id: gid,
                        dn: &g.dn_key,
                        login: None,
                        fingerprint: &g.fingerprint,
                    },
                )
                .await?;
            }
            let current = groups::member_ids(&mut tx, gid).await?;
            let desired = members.get(&g.anchor).map_or(&[][..], Vec::as_slice);
            let (add, remove) = diff(&current, desired);
            if (!add.is_empty() || !remove.is_empty()) && known.contains_key(&g.anchor) {
                self.counts.groups_updated += 1;
                self.note(format!(
                    "update group {} (+{} −{})",
                    g.name,
                    add.len(),
                    remove.len()
                ));
            }
            self.counts.memberships_added += add.len() as u64;
            self.counts.memberships_removed += remove.len() as u64;
            changes.push(GroupChange {
                id: gid,
                name: &g.name,
                add,
                remove,
            });
        }
        memberships.change_all(&mut tx, &w, &changes).await?;
        drop(changes);
        if scope == GroupRead::Complete {
            for (anchor, (gid, _)) in &known {
                if seen.contains(anchor) {
                    continue;
                }
                self.delete_group(&mut tx, &w, anchor, *gid, Some(&mut memberships))
                    .await?;
            }
        }
        memberships.finish(&mut tx, &w, |_| false).await?;
        self.finish(tx).await
    }

    /// Adds joiners to groups whose entries did not change (a delta's joiners, see
    /// [`GroupRead`]): (group anchor, normalised user DNs). Groups not imported and users
    /// not found are passed over; members already in a group stay as they are.
    pub async fn add_members(&mut self, joiners: Vec<(String, Vec<String>)>) -> Result<()> {
        if joiners.is_empty() {
            return Ok(());
        }
        let w = self.writer();
        let mut tx = self.begin(false).await?;
        let known = state::known_groups(&mut tx, &self.source).await?;
        let dns: Vec<&str> = joiners
            .iter()
            .flat_map(|(_, users)| users.iter().map(String::as_str))
            .collect::<HashSet<&str>>()
            .into_iter()
            .collect();
        let users = state::users_by_dns(&mut tx, &self.source, &dns).await?;
        // Joiners of this run have their joiner event; their first groups are no move.
        let mut memberships = Memberships::quiet(Arc::clone(&self.created));
        for (anchor, dns) in &joiners {
            let Some((gid, _)) = known.get(anchor) else {
                continue;
            };
            let mut ids: Vec<Uuid> = dns.iter().filter_map(|d| users.get(d).copied()).collect();
            ids.sort_unstable();
            ids.dedup();
            let present = groups::members_among(&mut tx, *gid, &ids).await?;
            ids.retain(|id| !present.contains(id));
            if ids.is_empty() {
                continue;
            }
            let Some(g) = groups::get(&mut tx, *gid).await? else {
                continue;
            };
            self.counts.groups_updated += 1;
            self.counts.memberships_added += ids.len() as u64;
            self.note(format!(
                "update group {} (+{} −0)",
                g.display_name,
                ids.len()
            ));
            memberships
                .change(&mut tx, &w, (*gid, &g.display_name), &ids, &[])
                .await?;
        }
        memberships.finish(&mut tx, &w, |_| false).await?;
        self.finish(tx).await
    }

    /// Deletes groups by anchor (a delta's delete messages).
    pub async fn delete_groups(&mut self, gone: &[(String, Uuid)]) -> Result<()> {
        if gone.is_empty() {
            return Ok(());
        }
        let w = self.writer();
        let mut tx = self.begin(false).await?;
        for (anchor, gid) in gone {
            self.delete_group(&mut tx, &w, anchor, *gid, None).await?;
        }
        self.finish(tx).await
    }

    /// Deletes one group of the source (if it still exists) with its audit record, and its
    /// object index row. With `memberships`, its members' lost membership is recorded there
    /// first (a full run's sweep).
    async fn delete_group(
        &mut self,
        tx: &mut WriteTx,
        w: &Writer,
        anchor: &str,
        gid: Uuid,
        memberships: Option<&mut Memberships>,
    ) -> Result<()> {
        if let Some(g) = groups::get(tx, gid).await? {
            if let Some(memberships) = memberships {
                memberships.lost(gid, groups::member_ids(tx, gid).await?);
            }
            groups::delete(tx, gid).await?;
            audit_group(tx, w, Activity::GroupDeleted, gid, &g.display_name, None).await?;
            self.counts.groups_deleted += 1;
            self.note(format!("delete group {}", g.display_name));
        }
        state::delete_object(tx, &self.source, anchor).await
    }

    /// A quarantine row for every entry a complete full read did not see again is stale.
    pub async fn prune_quarantine(&mut self, before: OffsetDateTime) -> Result<()> {
        // Records not yet written would look unseen.
        self.flush_rejects().await?;
        let mut tx = self.begin(false).await?;
        state::prune_quarantine(&mut tx, &self.source, before).await?;
        self.finish(tx).await
    }
}

/// Rejected entries held before their quarantine records are written in a transaction of
/// their own (about a megabyte).
const PENDING_REJECTS: usize = 5000;

/// What a group write was given: see [`Executor::groups`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupRead {
    Complete,
    Reached,
}

/// How the member values of the groups read resolve: users by DN and login, and the stored
/// members of nested groups not read.
#[derive(Default)]
struct References {
    by_dn: Names,
    by_login: Names,
    settled: HashMap<String, Vec<Uuid>>,
}

/// `items` in `order` (a permutation of their indexes).
fn permuted<T>(items: Vec<T>, order: &[usize]) -> Vec<T> {
    let mut slots: Vec<Option<T>> = items.into_iter().map(Some).collect();
    order.iter().filter_map(|&i| slots[i].take()).collect()
}

/// Each value once.
fn distinct<'a>(values: impl Iterator<Item = &'a String>) -> impl Iterator<Item = &'a str> {
    values
        .map(String::as_str)
        .collect::<HashSet<&str>>()
        .into_iter()
}

/// Above this many member DNs to resolve, reading the source's whole DN index at once costs
/// less than looking each one up (measured at 100,000 users: one scan against a lookup per
/// member of the "All Staff" group).
const LOOKUP_LIMIT: usize = 20_000;

impl References {
    /// Users by DN and by login, no settled groups.
    fn named(by_dn: Names, by_login: Names) -> Self {
        References {
            by_dn,
            by_login,
            settled: HashMap::new(),
        }
    }

    /// Every user of the source: a complete read names most of them.
    async fn all(conn: &mut Connection, source: &str) -> Result<Self> {
        let (by_dn, by_login) = state::user_references(conn, source).await?;
        Ok(Self::named(by_dn, by_login))
    }

    /// Only what these groups name: users looked up by DN and login, and nested groups that
    /// were not read with their stored members.
    async fn of(conn: &mut Connection, source: &str, read: &[SourceGroup]) -> Result<Self> {
        let read_dns: HashSet<&str> = read.iter().map(|g| g.dn_key.as_str()).collect();
        let named: usize = read
            .iter()
            .map(|g| g.member_dns.len() + g.member_uids.len())
            .sum();
        let mut refs = if named > LOOKUP_LIMIT {
            Self::all(conn, source).await?
        } else {
            let dns: Vec<&str> = distinct(read.iter().flat_map(|g| &g.member_dns))
                .filter(|dn| !read_dns.contains(dn))
                .collect();
            let logins: Vec<&str> = distinct(read.iter().flat_map(|g| &g.member_uids)).collect();
            Self::named(
                state::users_by_dns(conn, source, &dns).await?,
                state::users_by_logins(conn, source, &logins).await?,
            )
        };
        // Member DNs that are neither users nor groups read may be settled nested groups.
        let unresolved: Vec<&str> = distinct(read.iter().flat_map(|g| &g.member_dns))
            .filter(|dn| !refs.by_dn.contains_key(*dn) && !read_dns.contains(dn))
            .collect();
        for (dn, gid) in state::groups_by_dns(conn, source, &unresolved).await? {
            refs.settled
                .insert(dn, groups::member_ids(conn, gid).await?);
        }
        Ok(refs)
    }

    fn resolver(&self) -> Resolver<'_> {
        Resolver {
            users_by_dn: &self.by_dn,
            users_by_login: &self.by_login,
            settled_groups: &self.settled,
        }
    }
}

async fn audit_group(
    conn: &mut Connection,
    w: &Writer,
    activity: Activity,
    group_id: Uuid,
    group_name: &str,
    member: Option<&User>,
) -> Result<()> {
    let mut r = AuditRecord::new(activity, w.initiator.clone(), w.now).target(
        "Group",
        group_id,
        Some(group_name),
    );
    if let Some(u) = member {
        r = r.target("User", u.id, Some(&u.user_principal_name));
    }
    audit::insert(conn, &r).await?;
    Ok(())
}

/// The profile of a stored user, to write it back with one field changed.
pub fn profile_of(u: &User) -> NewUser {
    NewUser {
        user_principal_name: u.user_principal_name.clone(),
        display_name: u.display_name.clone(),
        given_name: u.given_name.clone(),
        surname: u.surname.clone(),
        mail: u.mail.clone(),
        other_mails: u.other_mails.clone(),
        personal_email: u.personal_email.clone(),
        account_enabled: u.account_enabled,
        source: u.source.clone(),
        anchor: u.anchor.clone(),
        manager_id: u.manager_id,
        employee_hire_date: u.employee_hire_date,
        roles: u.roles.clone(),
        preferred_language: u.preferred_language.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::lifecycle::EventKind;
    use crate::platform::testing::fixture;
    use crate::store;

    fn person(name: &str, manager: Option<&str>) -> SourceUser {
        SourceUser {
            anchor: format!("anchor-{name}"),
            dn: format!("uid={name},dc=x"),
            dn_key: format!("uid={name},dc=x"),
            login: Some(name.to_owned()),
            profile: NewUser {
                user_principal_name: format!("{name}@x.io"),
                display_name: Some(name.to_uppercase()),
                account_enabled: true,
                source: "ldap:t".into(),
                anchor: Some(format!("anchor-{name}")),
                ..Default::default()
            },
            manager_dn: manager.map(|m| format!("uid={m},dc=x")),
            fingerprint: format!("fp-{name}"),
        }
    }

    fn group(name: &str, members: &[&str]) -> SourceGroup {
        SourceGroup {
            anchor: format!("anchor-{name}"),
            dn_key: format!("cn={name},dc=x"),
            name: name.to_owned(),
            description: None,
            member_dns: members.iter().map(|m| format!("uid={m},dc=x")).collect(),
            member_uids: Vec::new(),
            fingerprint: format!("fp-{name}"),
        }
    }

    /// A first load in two batches (a manager in the first, her report in the second, a bad
    /// entry between), its groups, then the sweep of a person the read did not see.
    async fn first_load(exec: &mut Executor<'_>) -> Counts {
        exec.users(vec![Ok(person("ada", None)), Ok(person("bob", None))])
            .await
            .unwrap();
        exec.users(vec![
            Ok(person("cy", Some("ada"))),
            Err(Rejected {
                dn: "uid=bad,dc=x".into(),
                anchor: None,
                reason: "no usable name".into(),
            }),
        ])
        .await
        .unwrap();
        exec.fix_managers().await.unwrap();
        // The read did not see bob after all.
        exec.seen.remove("anchor-bob");
        let (unseen, population) = exec.unseen_users().await.unwrap();
        assert!(exec.seen.is_empty());
        assert_eq!(population, 3);
        let [bob] = <[(String, Uuid); 1]>::try_from(unseen).unwrap();
        assert_eq!(bob.0, "anchor-bob");
        exec.groups(vec![group("crew", &["ada", "cy"])], GroupRead::Complete)
            .await
            .unwrap();
        exec.deprovision(vec![Deprovision::Gone {
            anchor: bob.0,
            id: bob.1,
        }])
        .await
        .unwrap();
        exec.counts.clone()
    }

    /// Row counts of what a run writes.
    async fn rows(p: &Platform) -> (i64, usize, usize, u64) {
        let mut c = p.store().read().await.unwrap();
        let users = users::count(&mut c).await.unwrap();
        let events = store::events::since(&mut c, 0, 1000).await.unwrap().len();
        let q = crate::domain::audit::AuditQuery {
            before_seq: None,
            limit: 1000,
            activity: None,
        };
        let audit = audit::list(&mut c, &q).await.unwrap().len();
        let quarantined = state::quarantine_count(&mut c, "ldap:t").await.unwrap();
        (users, events, audit, quarantined)
    }

    /// A dry run with no snapshot to run on (PostgreSQL's case; here on the suite's engine)
    /// sees batch after batch what the ones before it wrote, so its counts are the real
    /// run's; and none of it stays.
    #[tokio::test]
    async fn a_dry_run_without_a_snapshot_counts_as_the_real_run_and_leaves_nothing() {
        let f = fixture().await;
        let p = &f.platform;
        let before = rows(p).await;
        let mut dry = Executor::new(p, "ldap:t".into(), OnDelete::Disable, true);
        let planned = first_load(&mut dry).await;
        assert!(dry.plan.iter().any(|l| l.starts_with("add cy@x.io")));
        drop(dry);
        assert_eq!(rows(p).await, before, "the dry run left rows behind");

        let mut real = Executor::new(p, "ldap:t".into(), OnDelete::Disable, false);
        let done = first_load(&mut real).await;
        assert_eq!(done, planned);
        assert_eq!(
            (
                done.added,
                done.quarantined,
                done.disabled,
                done.groups_added
            ),
            (3, 1, 1, 1)
        );
        assert_eq!(done.memberships_added, 2);
        let mut c = p.store().read().await.unwrap();
        let events = store::events::since(&mut c, 0, 1000).await.unwrap();
        let kinds: Vec<(String, EventKind)> = events
            .iter()
            .map(|e| (e.user_principal_name.clone(), e.kind))
            .collect();
        // Joiners' first groups are no move; the leaver has one leaver event.
        assert_eq!(kinds.len(), 4, "{kinds:?}");
        assert!(kinds.contains(&("bob@x.io".into(), EventKind::Leaver)));
        let cy = users::get_by_upn(&mut c, "cy@x.io").await.unwrap().unwrap();
        assert!(cy.manager_id.is_some(), "the report's manager was set");
    }

    /// Reports ahead of their managers in one batch larger than one statement (1,000 rows),
    /// and two people managing each other across that boundary: every manager is set (the
    /// cycle's cut link after the run).
    #[tokio::test]
    async fn a_batch_with_reports_before_managers_and_a_cycle_sets_every_manager() {
        let f = fixture().await;
        let p = &f.platform;
        let mut exec = Executor::new(p, "ldap:t".into(), OnDelete::Disable, false);
        let name = |i: usize| format!("u{i}");
        // u0 reports to u1000 (the next statement) and u1000 to u0; u5 reports to u999, u999
        // to u1000; everyone else to u6.
        let manager = |i: usize| match i {
            0 => Some(1000),
            1000 => Some(0),
            5 => Some(999),
            999 => Some(1000),
            6 => None,
            _ => Some(6),
        };
        let batch = (0..=1000)
            .map(|i| Ok(person(&name(i), manager(i).map(name).as_deref())))
            .collect();
        exec.users(batch).await.unwrap();
        assert_eq!(exec.counts.added, 1001);
        exec.fix_managers().await.unwrap();
        let mut c = p.store().read().await.unwrap();
        let mut id = HashMap::new();
        for i in 0..=1000 {
            let u = users::get_by_upn(&mut c, &format!("u{i}@x.io"))
                .await
                .unwrap()
                .unwrap();
            id.insert(i, (u.id, u.manager_id));
        }
        for i in 0..=1000 {
            assert_eq!(id[&i].1, manager(i).map(|m| id[&m].0), "u{i}'s manager");
        }
    }

    /// The names the sweep's scan read serve the group step only while nobody was
    /// deprovisioned in between: a group naming a user who left gains no member for them.
    #[tokio::test]
    async fn a_group_step_after_a_sweep_that_removed_someone_reads_the_names_again() {
        let f = fixture().await;
        let p = &f.platform;
        let mut exec = Executor::new(p, "ldap:t".into(), OnDelete::Delete, false);
        exec.users(vec![Ok(person("ada", None)), Ok(person("bob", None))])
            .await
            .unwrap();
        exec.seen.remove("anchor-bob");
        let (unseen, _) = exec.unseen_users().await.unwrap();
        let steps = unseen
            .into_iter()
            .map(|(anchor, id)| Deprovision::Gone { anchor, id })
            .collect();
        exec.deprovision(steps).await.unwrap();
        exec.groups(vec![group("crew", &["ada", "bob"])], GroupRead::Complete)
            .await
            .unwrap();
        assert_eq!(exec.counts.memberships_added, 1);
        let mut c = p.store().read().await.unwrap();
        let ada = users::get_by_upn(&mut c, "ada@x.io")
            .await
            .unwrap()
            .unwrap();
        let crew = groups::by_source(&mut c, "ldap:t").await.unwrap();
        let members = groups::member_ids(&mut c, crew[0].id).await.unwrap();
        assert_eq!(members, [ada.id]);
    }

    /// A membership's audit record names the user, whether they joined in this run (the
    /// name comes with the run) or were imported before (read from the store).
    #[tokio::test]
    async fn membership_audit_records_name_joiners_and_earlier_users() {
        let f = fixture().await;
        let p = &f.platform;
        let mut first = Executor::new(p, "ldap:t".into(), OnDelete::Disable, false);
        first.users(vec![Ok(person("ada", None))]).await.unwrap();
        let mut second = Executor::new(p, "ldap:t".into(), OnDelete::Disable, false);
        second.users(vec![Ok(person("bob", None))]).await.unwrap();
        second
            .groups(vec![group("crew", &["ada", "bob"])], GroupRead::Complete)
            .await
            .unwrap();
        let mut c = p.store().read().await.unwrap();
        let q = crate::domain::audit::AuditQuery {
            before_seq: None,
            limit: 100,
            activity: Some("Add member to group".into()),
        };
        let mut named: Vec<String> = audit::list(&mut c, &q)
            .await
            .unwrap()
            .into_iter()
            .flat_map(|e| e.targets)
            .filter(|t| t.kind == "User")
            .filter_map(|t| t.display_name)
            .collect();
        named.sort();
        assert_eq!(named, ["ada@x.io", "bob@x.io"]);
    }

    /// In a batch that changes nothing else, a rejected entry's quarantine record waits (no
    /// write transaction for it alone) and is written before the run prunes what it did not
    /// see, so the prune keeps it.
    #[tokio::test]
    async fn a_rejected_entry_in_an_unchanged_batch_is_quarantined_before_the_prune() {
        let f = fixture().await;
        let p = &f.platform;
        let bad = || {
            Err(Rejected {
                dn: "uid=bad,dc=x".into(),
                anchor: Some("anchor-bad".into()),
                reason: "no usable name".into(),
            })
        };
        let mut first = Executor::new(p, "ldap:t".into(), OnDelete::Disable, false);
        first
            .users(vec![Ok(person("ada", None)), bad()])
            .await
            .unwrap();
        let seen_first = {
            let mut c = p.store().read().await.unwrap();
            state::quarantined(&mut c, "ldap:t", 10).await.unwrap()[0].last_seen
        };

        f.clock.advance(time::Duration::hours(1));
        let second_started = p.now();
        let mut second = Executor::new(p, "ldap:t".into(), OnDelete::Disable, false);
        second
            .users(vec![Ok(person("ada", None)), bad()])
            .await
            .unwrap();
        assert_eq!(
            (second.counts.unchanged, second.pending_rejects.len()),
            (1, 1)
        );
        {
            let mut c = p.store().read().await.unwrap();
            let q = state::quarantined(&mut c, "ldap:t", 10).await.unwrap();
            assert_eq!(
                q[0].last_seen, seen_first,
                "nothing written for the batch yet"
            );
        }
        second.prune_quarantine(second_started).await.unwrap();
        assert_eq!(second.counts.quarantined, 1);
        let mut c = p.store().read().await.unwrap();
        let q = state::quarantined(&mut c, "ldap:t", 10).await.unwrap();
        assert_eq!(q.len(), 1, "the entry seen in this run stays quarantined");
        assert_eq!(q[0].last_seen, second_started);
    }

    /// A group whose entry is unchanged writes nothing: its index row stays as it is stored
    /// (here marked with another DN under the same fingerprint). One whose index row names
    /// another object is written again, row included.
    #[tokio::test]
    async fn an_unchanged_group_writes_nothing_and_a_stale_index_row_is_written_again() {
        let f = fixture().await;
        let p = &f.platform;
        let read = || vec![group("crew", &["ada"]), group("ops", &["ada"])];
        let mut first = Executor::new(p, "ldap:t".into(), OnDelete::Disable, false);
        first.users(vec![Ok(person("ada", None))]).await.unwrap();
        first.groups(read(), GroupRead::Complete).await.unwrap();
        let mut tx = p.store().write().await.unwrap();
        let ids: HashMap<String, Uuid> =
            state::imported_among(&mut tx, "ldap:t", "group", &["anchor-crew", "anchor-ops"])
                .await
                .unwrap()
                .into_iter()
                .collect();
        let mark = |anchor: &'static str, object_id: Uuid, fingerprint: &'static str| ObjectRow {
            source: "ldap:t",
            anchor,
            kind: "group",
            object_id,
            dn: "marked",
            login: None,
            fingerprint,
        };
        state::upsert_objects(
            &mut tx,
            &[
                mark("anchor-crew", ids["anchor-crew"], "fp-crew"),
                mark("anchor-ops", Uuid::new_v4(), "fp-ops"),
            ],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();

        let mut second = Executor::new(p, "ldap:t".into(), OnDelete::Disable, false);
        second.groups(read(), GroupRead::Complete).await.unwrap();
        assert_eq!(second.counts.groups_updated, 0);
        let mut c = p.store().read().await.unwrap();
        let dns = state::dns_of(&mut c, "ldap:t", &["anchor-crew", "anchor-ops"])
            .await
            .unwrap();
        assert_eq!(
            dns["anchor-crew"], "marked",
            "an unchanged group was written"
        );
        assert_eq!(dns["anchor-ops"], "cn=ops,dc=x");
        let now: HashMap<String, Uuid> =
            state::imported_among(&mut c, "ldap:t", "group", &["anchor-ops"])
                .await
                .unwrap()
                .into_iter()
                .collect();
        assert_eq!(now["anchor-ops"], ids["anchor-ops"]);
    }
}
