//! Local users and groups: created by an administrator, read by every role.

use uuid::Uuid;

use super::{Caller, Platform};
use crate::domain::audit::{Activity, AuditRecord};
use crate::domain::directory::{Group, NewGroup, NewUser, User, UserQuery, UserRef, UserSearch};
use crate::store::{audit, groups, users};
use crate::{Error, Result};

impl Platform {
    pub async fn create_user(&self, caller: &Caller, new: NewUser) -> Result<User> {
        caller.actor.check_manage_directory()?;
        let new = new.normalised()?;
        if !new.roles.is_empty() {
            caller.actor.check_grant_roles()?;
        }
        let now = self.now();
        let mut tx = self.store.write().await?;
        let user = users::insert(&mut tx, &new, now).await?;
        let mut record = AuditRecord::new(Activity::UserAdded, (&caller.actor).into(), now)
            .target("User", user.id, Some(&user.user_principal_name))
            .correlation(caller.correlation_id);
        if !user.roles.is_empty() {
            record = record.detail("roles", user.roles.to_csv());
        }
        audit::insert(&mut tx, &record).await?;
        // A local user is a joiner like a provisioned one: onboarding rules decide (and may
        // filter on the source).
        if user.account_enabled {
            crate::store::events::insert(
                &mut tx,
                crate::domain::lifecycle::EventKind::Joiner,
                &user,
                &serde_json::json!({}),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(user)
    }

    /// Replaces a user's administrative roles (none: an ordinary user again). Audited with
    /// the roles before and after.
    pub async fn set_user_roles(
        &self,
        caller: &Caller,
        user: &UserRef,
        roles: crate::domain::role::Roles,
    ) -> Result<User> {
        caller.actor.check_grant_roles()?;
        let now = self.now();
        let mut tx = self.store.write().await?;
        let before = users::find(&mut tx, user)
            .await?
            .ok_or_else(|| Error::not_found(format!("user `{user}`")))?;
        users::set_roles(&mut tx, before.id, &roles).await?;
        let record = AuditRecord::new(Activity::RolesUpdated, (&caller.actor).into(), now)
            .target("User", before.id, Some(&before.user_principal_name))
            .detail("oldValue", before.roles.to_csv())
            .detail("newValue", roles.to_csv())
            .correlation(caller.correlation_id);
        audit::insert(&mut tx, &record).await?;
        tx.commit().await?;
        Ok(User { roles, ..before })
    }

    pub async fn user(&self, caller: &Caller, user: &UserRef) -> Result<User> {
        caller.actor.check_read()?;
        let mut conn = self.store.read().await?;
        users::find(&mut conn, user)
            .await?
            .ok_or_else(|| Error::not_found(format!("user `{user}`")))
    }

    pub async fn users(&self, caller: &Caller, query: &UserQuery) -> Result<Vec<User>> {
        caller.actor.check_read()?;
        let mut conn = self.store.read().await?;
        users::list(&mut conn, query).await
    }

    /// The first `limit` users an administrator's search finds, and how many it finds in all.
    pub async fn search_users(
        &self,
        caller: &Caller,
        search: &UserSearch,
        limit: u32,
    ) -> Result<(Vec<User>, u64)> {
        caller.actor.check_read()?;
        let mut conn = self.store.read().await?;
        users::search_users(&mut conn, search, limit).await
    }

    pub async fn create_group(&self, caller: &Caller, new: NewGroup) -> Result<Group> {
        caller.actor.check_manage_directory()?;
        let new = new.normalised()?;
        let now = self.now();
        let mut tx = self.store.write().await?;
        let group = groups::insert(&mut tx, &new, now).await?;
        let record = AuditRecord::new(Activity::GroupAdded, (&caller.actor).into(), now)
            .target("Group", group.id, Some(&group.display_name))
            .correlation(caller.correlation_id);
        audit::insert(&mut tx, &record).await?;
        tx.commit().await?;
        Ok(group)
    }

    pub async fn group(&self, caller: &Caller, id: Uuid) -> Result<Group> {
        caller.actor.check_read()?;
        let mut conn = self.store.read().await?;
        groups::get(&mut conn, id)
            .await?
            .ok_or_else(|| Error::not_found(format!("group `{id}`")))
    }

    /// A group by id, or by display name when that name is unique.
    pub async fn group_by_id_or_name(&self, caller: &Caller, key: &str) -> Result<Group> {
        if let Ok(id) = Uuid::parse_str(key.trim()) {
            return self.group(caller, id).await;
        }
        caller.actor.check_read()?;
        let mut conn = self.store.read().await?;
        let mut found = groups::find_by_name(&mut conn, key.trim()).await?;
        match found.len() {
            0 => Err(Error::not_found(format!("group `{key}`"))),
            1 => Ok(found.remove(0)),
            n => Err(Error::Conflict(format!(
                "{n} groups are named `{key}`; use the group id"
            ))),
        }
    }

    pub async fn groups(
        &self,
        caller: &Caller,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Group>> {
        caller.actor.check_read()?;
        let mut conn = self.store.read().await?;
        groups::list(&mut conn, after, limit).await
    }

    pub async fn group_members(&self, caller: &Caller, group_id: Uuid) -> Result<Vec<User>> {
        caller.actor.check_read()?;
        let mut conn = self.store.read().await?;
        if groups::get(&mut conn, group_id).await?.is_none() {
            return Err(Error::not_found(format!("group `{group_id}`")));
        }
        let mut members = Vec::new();
        for id in groups::member_ids(&mut conn, group_id).await? {
            if let Some(u) = users::get(&mut conn, id).await? {
                members.push(u);
            }
        }
        Ok(members)
    }

    /// Adds `user` to `group_id`. Adding an existing member is a conflict, as in Graph.
    pub async fn add_group_member(
        &self,
        caller: &Caller,
        group_id: Uuid,
        user: &UserRef,
    ) -> Result<()> {
        caller.actor.check_manage_directory()?;
        let now = self.now();
        let mut tx = self.store.write().await?;
        let group = groups::get(&mut tx, group_id)
            .await?
            .ok_or_else(|| Error::not_found(format!("group `{group_id}`")))?;
        let member = users::find(&mut tx, user)
            .await?
            .ok_or_else(|| Error::not_found(format!("user `{user}`")))?;
        if !groups::add_member(&mut tx, group.id, member.id).await? {
            return Err(Error::Conflict(format!(
                "`{}` is already a member of `{}`",
                member.user_principal_name, group.display_name
            )));
        }
        let record = AuditRecord::new(Activity::GroupMemberAdded, (&caller.actor).into(), now)
            .target("Group", group.id, Some(&group.display_name))
            .target("User", member.id, Some(&member.user_principal_name))
            .correlation(caller.correlation_id);
        audit::insert(&mut tx, &record).await?;
        tx.commit().await?;
        Ok(())
    }
}
