//! Provisioned users: create, read, write (the client decides the change inside the
//! transaction), delete and list, each in one transaction with the lifecycle's audit records,
//! events and revocation.

use std::collections::HashMap;

use uuid::Uuid;

use super::{ProvisioningError, audit_discarded, user_taken};
use crate::Result;
use crate::domain::directory::{Group, NewUser, User};
use crate::domain::provisioned::{Kind, ProvisionedUser, Refusal, ScimRow, UserChange, UserWrite};
use crate::platform::lifecycle;
use crate::platform::{Platform, Provisioner};
use crate::store::{Connection, groups, scim, users};

/// The user and its SCIM row, if `source` owns them.
async fn owned_user(
    conn: &mut Connection,
    source: &str,
    id: Uuid,
) -> Result<Option<(User, ScimRow)>> {
    let Some(user) = users::get(conn, id).await? else {
        return Ok(None);
    };
    if user.source != source {
        return Ok(None);
    }
    Ok(scim::get(conn, Kind::User, id)
        .await?
        .map(|row| (user, row)))
}

/// The user's groups that `source` may see: its own.
async fn visible_groups(conn: &mut Connection, source: &str, user: Uuid) -> Result<Vec<Group>> {
    let mut list = groups::of_user(conn, user).await?;
    list.retain(|g| g.source == source);
    Ok(list)
}

/// Sets the manager the body named, if it is a user of the same source; another source's
/// user (or no user) is not a manager this client may name, and is ignored.
async fn resolve_manager(
    conn: &mut Connection,
    source: &str,
    manager: Option<Uuid>,
    new: &mut NewUser,
) -> Result<()> {
    if let Some(id) = manager
        && let Some(manager) = users::get(conn, id).await?
        && manager.source == source
    {
        new.manager_id = Some(manager.id);
    }
    Ok(())
}

impl Platform {
    /// Creates a user of `who`'s source with its SCIM body: row, audit, joiner event.
    pub async fn create_provisioned_user<E: ProvisioningError>(
        &self,
        who: &Provisioner,
        correlation: Option<Uuid>,
        write: UserWrite,
    ) -> Result<ProvisionedUser, E> {
        let w = self.provisioning_writer(who, correlation);
        let UserWrite {
            user: mut new,
            manager,
            external_id,
            body,
            discarded,
        } = write;
        let mut tx = self.store.write().await?;
        resolve_manager(&mut tx, &who.source, manager, &mut new).await?;
        let user = lifecycle::create_user(&mut tx, new, &w)
            .await
            .map_err(user_taken::<E>)?;
        let row = ScimRow {
            id: user.id,
            source: who.source.clone(),
            external_id,
            body,
            version: 1,
        };
        scim::insert(&mut tx, Kind::User, &row).await?;
        audit_discarded(&mut tx, &w, &user, &discarded).await?;
        tx.commit().await?;
        Ok(ProvisionedUser {
            user,
            row,
            groups: Vec::new(),
        })
    }

    /// A user of `who`'s source; `None` when there is none (or another source owns it).
    pub async fn provisioned_user(
        &self,
        who: &Provisioner,
        id: Uuid,
    ) -> Result<Option<ProvisionedUser>> {
        let mut conn = self.store.read().await?;
        let Some((user, row)) = owned_user(&mut conn, &who.source, id).await? else {
            return Ok(None);
        };
        let groups = visible_groups(&mut conn, &who.source, id).await?;
        Ok(Some(ProvisionedUser { user, row, groups }))
    }

    /// Loads the user, lets `decide` (the client's protocol: precondition, PATCH or PUT,
    /// mapping) say what changes, and writes body and platform record together. An unchanged
    /// body changes nothing stored, except that offered write-only values are still audited.
    pub async fn write_provisioned_user<E: ProvisioningError>(
        &self,
        who: &Provisioner,
        correlation: Option<Uuid>,
        id: Uuid,
        decide: impl FnOnce(&User, &ScimRow) -> Result<UserChange, E> + Send,
    ) -> Result<ProvisionedUser, E> {
        let w = self.provisioning_writer(who, correlation);
        let mut tx = self.store.write().await?;
        let (user, row) = owned_user(&mut tx, &who.source, id)
            .await?
            .ok_or(Refusal::NotFound(Kind::User, id))?;
        let write = match decide(&user, &row)? {
            UserChange::Unchanged { discarded } => {
                let groups = visible_groups(&mut tx, &who.source, id).await?;
                if !discarded.is_empty() {
                    audit_discarded(&mut tx, &w, &user, &discarded).await?;
                    tx.commit().await?;
                }
                return Ok(ProvisionedUser { user, row, groups });
            }
            UserChange::Changed(write) => *write,
        };
        let UserWrite {
            user: mut new,
            manager,
            external_id,
            body,
            discarded,
        } = write;
        resolve_manager(&mut tx, &who.source, manager, &mut new).await?;
        let (updated, _) = lifecycle::update_user(&mut tx, &user, new, &w)
            .await
            .map_err(user_taken::<E>)?;
        let version = scim::update(&mut tx, Kind::User, id, external_id.as_deref(), &body).await?;
        audit_discarded(&mut tx, &w, &updated, &discarded).await?;
        let groups = visible_groups(&mut tx, &who.source, id).await?;
        tx.commit().await?;
        Ok(ProvisionedUser {
            user: updated,
            row: ScimRow {
                external_id,
                body,
                version,
                ..row
            },
            groups,
        })
    }

    /// Deletes a user of `who`'s source once `check` (the client's precondition) accepts its
    /// row: access revoked, leaver event; its groups get new versions, their member lists
    /// having changed.
    pub async fn delete_provisioned_user<E: ProvisioningError>(
        &self,
        who: &Provisioner,
        correlation: Option<Uuid>,
        id: Uuid,
        check: impl FnOnce(&ScimRow) -> Result<(), E> + Send,
    ) -> Result<(), E> {
        let w = self.provisioning_writer(who, correlation);
        let mut tx = self.store.write().await?;
        let (user, row) = owned_user(&mut tx, &who.source, id)
            .await?
            .ok_or(Refusal::NotFound(Kind::User, id))?;
        check(&row)?;
        let groups = visible_groups(&mut tx, &who.source, id).await?;
        lifecycle::delete_user(&mut tx, &user, &w).await?;
        for g in groups {
            scim::bump_version(&mut tx, Kind::Group, g.id).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every user of `who`'s source, for filtering. With `user_name` only the user with that
    /// principal name, from the index: the common `userName eq "…"` lookup (how Entra and
    /// Okta match before creating).
    pub async fn provisioned_users(
        &self,
        who: &Provisioner,
        user_name: Option<&str>,
    ) -> Result<Vec<ProvisionedUser>> {
        let mut conn = self.store.read().await?;
        if let Some(name) = user_name {
            let Some(user) = users::get_by_upn(&mut conn, name).await? else {
                return Ok(vec![]);
            };
            if user.source != who.source {
                return Ok(vec![]);
            }
            let Some(row) = scim::get(&mut conn, Kind::User, user.id).await? else {
                return Ok(vec![]);
            };
            let groups = visible_groups(&mut conn, &who.source, user.id).await?;
            return Ok(vec![ProvisionedUser { user, row, groups }]);
        }
        let list = users::by_source(&mut conn, &who.source).await?;
        let mut rows = scim::by_source(&mut conn, Kind::User, &who.source).await?;
        let all_groups: HashMap<Uuid, Group> = groups::by_source(&mut conn, &who.source)
            .await?
            .into_iter()
            .map(|g| (g.id, g))
            .collect();
        let mut by_user: HashMap<Uuid, Vec<Group>> = HashMap::new();
        for (g, u) in groups::memberships_by_source(&mut conn, &who.source).await? {
            if let Some(group) = all_groups.get(&g) {
                by_user.entry(u).or_default().push(group.clone());
            }
        }
        Ok(list
            .into_iter()
            .filter_map(|user| {
                let row = rows.remove(&user.id)?;
                let groups = by_user.remove(&user.id).unwrap_or_default();
                Some(ProvisionedUser { user, row, groups })
            })
            .collect())
    }
}
