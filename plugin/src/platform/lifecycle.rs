//! Directory writes made on behalf of a bridge (SCIM, LDAP), composable inside the bridge's
//! own transaction: each writes the change, its audit record and its joiner / mover / leaver
//! event together, and a leaver loses their pass at once.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::audit::{Activity, AuditRecord, Initiator, TargetRef};
use crate::domain::directory::{NewUser, User};
use crate::domain::lifecycle::{EventKind, classify_update};
use crate::store::{Connection, audit, events, groups, taps, users};
use crate::{Error, Result};

/// Who writes, for the audit log.
#[derive(Debug, Clone)]
pub struct Writer {
    pub initiator: Initiator,
    pub correlation_id: Option<Uuid>,
    pub now: OffsetDateTime,
}

impl Writer {
    fn record(&self, activity: Activity, user: &User) -> AuditRecord {
        AuditRecord::new(activity, self.initiator.clone(), self.now)
            .target("User", user.id, Some(&user.user_principal_name))
            .correlation(self.correlation_id)
    }
}

/// Creates a provisioned user: row, audit, joiner event (only for an enabled account; a user
/// provisioned disabled joins when enabled).
pub async fn create_user(conn: &mut Connection, new: NewUser, w: &Writer) -> Result<User> {
    let new = new.normalised()?;
    if !new.roles.is_empty() {
        return Err(Error::forbidden(
            "provisioning never grants administrative roles",
        ));
    }
    let user = users::insert(conn, &new, w.now).await?;
    audit::insert(
        conn,
        &w.record(Activity::UserAdded, &user)
            .detail("source", &user.source),
    )
    .await?;
    if user.account_enabled {
        events::insert(conn, EventKind::Joiner, &user, &json!({}), w.now).await?;
    }
    Ok(user)
}

/// [`create_user`] for many users at once, in a few statements: the same checks, rows, audit
/// records and joiner events. All or nothing: any refusal fails the whole call (run it under
/// a savepoint and fall back to [`create_user`] one by one to learn which).
/// The ids are the caller's, so users of one call can name each other as manager.
pub async fn create_users(
    conn: &mut Connection,
    news: Vec<(Uuid, NewUser)>,
    w: &Writer,
) -> Result<Vec<User>> {
    let mut rows = Vec::with_capacity(news.len());
    for (id, new) in news {
        let new = new.normalised()?;
        if !new.roles.is_empty() {
            return Err(Error::forbidden(
                "provisioning never grants administrative roles",
            ));
        }
        rows.push((id, new));
    }
    let users = users::insert_many(conn, rows, w.now).await?;
    let records: Vec<_> = users
        .iter()
        .map(|u| w.record(Activity::UserAdded, u).detail("source", &u.source))
        .collect();
    audit::insert_many(conn, &records).await?;
    let joiners: Vec<&User> = users.iter().filter(|u| u.account_enabled).collect();
    events::insert_many(conn, EventKind::Joiner, &joiners, &json!({}), w.now).await?;
    Ok(users)
}

/// Replaces a provisioned user's profile. Disabling revokes access and emits a leaver event;
/// enabling emits a joiner event; other changes a mover event (only if something changed).
pub async fn update_user(
    conn: &mut Connection,
    existing: &User,
    new: NewUser,
    w: &Writer,
) -> Result<(User, Option<EventKind>)> {
    let mut new = new.normalised()?;
    new.source = existing.source.clone();
    new.roles = existing.roles.clone();
    let updated = users::update(conn, existing.id, &new, w.now)
        .await?
        .ok_or_else(|| Error::not_found(format!("user `{}`", existing.id)))?;
    let changed = !same_profile(existing, &updated);
    if !changed {
        return Ok((updated, None));
    }
    let kind = classify_update(existing.account_enabled, updated.account_enabled);
    let activity = if kind == EventKind::Leaver {
        Activity::UserDisabled
    } else {
        Activity::UserUpdated
    };
    audit::insert(conn, &w.record(activity, &updated)).await?;
    if kind == EventKind::Leaver {
        revoke_access(conn, &updated, w, "account disabled").await?;
    }
    events::insert(conn, kind, &updated, &json!({}), w.now).await?;
    Ok((updated, Some(kind)))
}

/// Deletes a provisioned user after revoking their access; emits a leaver event.
pub async fn delete_user(conn: &mut Connection, user: &User, w: &Writer) -> Result<()> {
    revoke_access(conn, user, w, "account deleted").await?;
    users::delete(conn, user.id).await?;
    audit::insert(conn, &w.record(Activity::UserDeleted, user)).await?;
    if user.account_enabled {
        events::insert(
            conn,
            EventKind::Leaver,
            user,
            &json!({"deleted": true}),
            w.now,
        )
        .await?;
    }
    Ok(())
}

/// Removes the user's pass and ends their browser sessions, each audited with the reason.
pub async fn revoke_access(
    conn: &mut Connection,
    user: &User,
    w: &Writer,
    reason: &str,
) -> Result<()> {
    // Sessions first: deleting the pass would end its bootstrap sessions unseen (cascade),
    // and the count would miss them.
    let ended = crate::store::sessions::delete_for_user(conn, user.id).await?;
    if ended > 0 {
        let record = w
            .record(Activity::SessionsRevoked, user)
            .reason(format!("revoked: {reason}"))
            .detail("count", ended);
        audit::insert(conn, &record).await?;
    }
    if let Some(old) = taps::delete_for_user(conn, user.id).await? {
        let record = w
            .record(Activity::TapDeleted, user)
            .reason(format!("revoked: {reason}"))
            .detail("temporaryAccessPassId", old.id);
        audit::insert(conn, &record).await?;
    }
    Ok(())
}

fn same_profile(a: &User, b: &User) -> bool {
    a.user_principal_name == b.user_principal_name
        && a.display_name == b.display_name
        && a.given_name == b.given_name
        && a.surname == b.surname
        && a.mail == b.mail
        && a.other_mails == b.other_mails
        && a.personal_email == b.personal_email
        && a.preferred_language == b.preferred_language
        && a.account_enabled == b.account_enabled
        && a.anchor == b.anchor
        && a.manager_id == b.manager_id
        && a.employee_hire_date == b.employee_hire_date
}

/// Membership changes audited per statement batch.
const AUDIT_CHUNK: usize = 2000;

/// The group-membership changes of one transaction, written in one shape whatever the source
/// (SCIM, LDAP, the admin API): the membership rows and one audit record per change at once,
/// and at the end one mover event per person whose groups changed, naming the groups gained
/// and lost. A person in several changed groups is one mover, not one per membership row.
#[derive(Debug, Default)]
pub struct Memberships {
    moved: std::collections::BTreeMap<Uuid, Moves>,
    /// People whose moves are not kept (no mover event, not in [`Self::finish`]'s answer),
    /// with their user principal names.
    quiet: Option<Arc<HashMap<Uuid, String>>>,
}

/// One group's membership changes: members to add and to remove.
#[derive(Debug, Clone)]
pub struct GroupChange<'a> {
    pub id: Uuid,
    /// The group's name, for the audit records.
    pub name: &'a str,
    pub add: Vec<Uuid>,
    pub remove: Vec<Uuid>,
}

#[derive(Debug, Default)]
struct Moves {
    added: Vec<Uuid>,
    removed: Vec<Uuid>,
}

impl Memberships {
    /// Memberships whose changes for `quiet` people (joiners of the same run, whose joiner
    /// event stands for their first groups; id → user principal name) are written and
    /// audited but not kept: a first load's joiners are every member of every group, and
    /// their moves were the largest thing left in memory after the audit records. Their
    /// audit records take the names given here.
    pub fn quiet(quiet: Arc<HashMap<Uuid, String>>) -> Self {
        Memberships {
            moved: Default::default(),
            quiet: Some(quiet),
        }
    }

    fn keeps(&self, uid: &Uuid) -> bool {
        self.quiet.as_ref().is_none_or(|q| !q.contains_key(uid))
    }

    /// Adds and removes members of one group (bulk statements), each change audited.
    pub async fn change(
        &mut self,
        conn: &mut Connection,
        w: &Writer,
        group: (Uuid, &str),
        add: &[Uuid],
        remove: &[Uuid],
    ) -> Result<()> {
        let (id, name) = group;
        self.change_all(
            conn,
            w,
            &[GroupChange {
                id,
                name,
                add: add.to_vec(),
                remove: remove.to_vec(),
            }],
        )
        .await
    }

    /// [`Self::change`] for many groups at once. The new membership rows of all of them go
    /// in as one stream ordered by member: with ids in creation order both the members'
    /// index and each group's rows take them at their ends, where a group at a time swept
    /// the whole members' index once per group (on a first load, 100 sweeps of an index
    /// larger than the page cache).
    pub async fn change_all(
        &mut self,
        conn: &mut Connection,
        w: &Writer,
        changes: &[GroupChange<'_>],
    ) -> Result<()> {
        let changed: Vec<&GroupChange> = changes
            .iter()
            .filter(|c| !c.add.is_empty() || !c.remove.is_empty())
            .collect();
        for c in &changed {
            groups::remove_members(conn, c.id, &c.remove).await?;
        }
        let mut rows: Vec<(Uuid, Uuid)> = changed
            .iter()
            .flat_map(|c| c.add.iter().map(|uid| (*uid, c.id)))
            .collect();
        rows.sort_unstable();
        groups::add_memberships(conn, &rows).await?;
        drop(rows);
        for c in changed {
            groups::touch(conn, c.id, w.now).await?;
            self.audit(conn, w, c).await?;
            for uid in &c.add {
                if self.keeps(uid) {
                    self.moved.entry(*uid).or_default().added.push(c.id);
                }
            }
            for uid in &c.remove {
                if self.keeps(uid) {
                    self.moved.entry(*uid).or_default().removed.push(c.id);
                }
            }
        }
        Ok(())
    }

    /// One audit record per membership change of a group.
    async fn audit(&self, conn: &mut Connection, w: &Writer, c: &GroupChange<'_>) -> Result<()> {
        let changes: Vec<(Uuid, Activity)> = c
            .add
            .iter()
            .map(|u| (*u, Activity::GroupMemberAdded))
            .chain(c.remove.iter().map(|u| (*u, Activity::GroupMemberRemoved)))
            .collect();
        // Every record names the group, then the member.
        let base = AuditRecord::new(Activity::GroupMemberAdded, w.initiator.clone(), w.now)
            .target("Group", c.id, Some(c.name))
            .correlation(w.correlation_id);
        // The audit records of a group holding everyone would be the largest thing a sync
        // holds in memory (100,000 records at once on a first load): a chunk at a time.
        let given = self.quiet.as_deref();
        for chunk in changes.chunks(AUDIT_CHUNK) {
            let unknown: Vec<Uuid> = chunk
                .iter()
                .map(|(u, _)| *u)
                .filter(|u| given.is_none_or(|g| !g.contains_key(u)))
                .collect();
            let names = users::principal_names(conn, &unknown).await?;
            let each: Vec<(Activity, TargetRef)> = chunk
                .iter()
                .map(|(uid, activity)| {
                    let upn = given
                        .and_then(|g| g.get(uid))
                        .or_else(|| names.get(uid))
                        .map(String::as_str);
                    let user = TargetRef {
                        id: *uid,
                        kind: "User",
                        display_name: upn,
                    };
                    (*activity, user)
                })
                .collect();
            audit::insert_alike(conn, &base, &each).await?;
        }
        Ok(())
    }

    /// Members a deleted group took with it (its rows went with the group).
    pub fn lost(&mut self, group_id: Uuid, members: impl IntoIterator<Item = Uuid>) {
        for uid in members {
            if self.keeps(&uid) {
                self.moved.entry(uid).or_default().removed.push(group_id);
            }
        }
    }

    /// Writes one mover event per person whose groups changed, except those `skip` names
    /// (a joiner or leaver of the same transaction already has its event); returns everyone
    /// whose groups changed.
    pub async fn finish(
        self,
        conn: &mut Connection,
        w: &Writer,
        skip: impl Fn(&Uuid) -> bool,
    ) -> Result<Vec<Uuid>> {
        let people: Vec<Uuid> = self.moved.keys().copied().collect();
        for (uid, moves) in self.moved {
            if skip(&uid) {
                continue;
            }
            if let Some(user) = users::get(conn, uid).await? {
                let detail = json!({"groups": {"added": moves.added, "removed": moves.removed}});
                events::insert(conn, EventKind::Mover, &user, &detail, w.now).await?;
            }
        }
        Ok(people)
    }
}
