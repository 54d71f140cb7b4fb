//! Provisioned groups. Membership lives in the platform's `group_members`; the SCIM body keeps
//! the other attributes. Every membership change goes through [`Memberships`]: audited, one
//! mover event per person, and each member's resource gets a new version (it lists its
//! groups).

use std::collections::{BTreeSet, HashMap, HashSet};

use uuid::Uuid;

use super::ProvisioningError;
use crate::Result;
use crate::domain::audit::{Activity, AuditRecord};
use crate::domain::directory::{Group, NewGroup, User};
use crate::domain::provisioned::{GroupWrite, Kind, ProvisionedGroup, Refusal, ScimRow};
use crate::platform::lifecycle::{Memberships, Writer};
use crate::platform::{Platform, Provisioner};
use crate::store::{Connection, audit, groups, scim, users};

/// A display name as uniqueness compares it: trimmed and case-folded, as `displayName eq`
/// filters compare (so two names that one filter would both match count as the same).
fn folded(name: &str) -> String {
    name.trim().to_lowercase()
}

/// The group and its SCIM row, if `source` owns them.
async fn owned_group(
    conn: &mut Connection,
    source: &str,
    id: Uuid,
) -> Result<Option<(Group, ScimRow)>> {
    let Some(group) = groups::get(conn, id).await? else {
        return Ok(None);
    };
    if group.source != source {
        return Ok(None);
    }
    Ok(scim::get(conn, Kind::Group, id)
        .await?
        .map(|row| (group, row)))
}

/// Refuses `name` if another group of `source` (other than `except`) has it, ignoring case:
/// Entra and Okta find a group by `displayName eq "…"` and must find one. Names are unique
/// per source only; other sources' and LDAP groups may share them.
async fn check_name_free<E: ProvisioningError>(
    conn: &mut Connection,
    source: &str,
    name: &str,
    except: Option<Uuid>,
) -> Result<(), E> {
    let wanted = folded(name);
    let taken = scim::group_names(conn, source)
        .await?
        .into_iter()
        .any(|(id, existing)| Some(id) != except && folded(&existing) == wanted);
    if taken {
        return Err(Refusal::GroupNameTaken(name.to_owned()).into());
    }
    Ok(())
}

/// The users `ids` names, each of which must belong to `source`. Users in `known` (the
/// group's current members, already read) are not read again, so a PATCH that renames a
/// large group or adds one member costs one look-up per new member, not one per member.
async fn owned_members<E: ProvisioningError>(
    conn: &mut Connection,
    source: &str,
    ids: &BTreeSet<Uuid>,
    known: &[User],
) -> Result<HashMap<Uuid, User>, E> {
    let known: HashMap<Uuid, &User> = known.iter().map(|u| (u.id, u)).collect();
    let mut found = HashMap::new();
    for id in ids {
        if let Some(u) = known.get(id).filter(|u| u.source == source) {
            found.insert(*id, (*u).clone());
            continue;
        }
        match users::get(conn, *id).await? {
            Some(u) if u.source == source => {
                found.insert(*id, u);
            }
            _ => return Err(Refusal::ForeignMember(*id).into()),
        }
    }
    Ok(found)
}

/// Brings the group's membership to `wanted`: audit, mover events, new user versions.
async fn set_members(
    conn: &mut Connection,
    w: &Writer,
    group: &Group,
    current: &[User],
    wanted: &HashMap<Uuid, User>,
) -> Result<()> {
    let remove: Vec<Uuid> = current
        .iter()
        .filter(|u| !wanted.contains_key(&u.id))
        .map(|u| u.id)
        .collect();
    // A set, not a scan of `current` per wanted member: that was quadratic in the size of
    // the group, on every PATCH of it.
    let had: HashSet<Uuid> = current.iter().map(|u| u.id).collect();
    let add: Vec<Uuid> = wanted
        .keys()
        .filter(|id| !had.contains(id))
        .copied()
        .collect();
    let mut changes = Memberships::default();
    changes
        .change(conn, w, (group.id, &group.display_name), &add, &remove)
        .await?;
    // Members' resources show their groups: each gets a new version (ETag).
    for uid in changes.finish(conn, w, |_| false).await? {
        scim::bump_version(conn, Kind::User, uid).await?;
    }
    Ok(())
}

fn group_record(activity: Activity, w: &Writer, id: Uuid, name: &str) -> AuditRecord {
    AuditRecord::new(activity, w.initiator.clone(), w.now)
        .target("Group", id, Some(name))
        .correlation(w.correlation_id)
}

impl Platform {
    /// Creates a group of `who`'s source with its members (users of the same source) and its
    /// SCIM body; the answer lists the members as stored.
    pub async fn create_provisioned_group<E: ProvisioningError>(
        &self,
        who: &Provisioner,
        correlation: Option<Uuid>,
        write: GroupWrite,
    ) -> Result<ProvisionedGroup, E> {
        let w = self.provisioning_writer(who, correlation);
        let GroupWrite {
            display_name,
            members,
            external_id,
            body,
        } = write;
        let mut tx = self.store.write().await?;
        check_name_free::<E>(&mut tx, &who.source, &display_name, None).await?;
        let wanted = owned_members::<E>(&mut tx, &who.source, &members, &[]).await?;
        let new = NewGroup {
            display_name,
            description: None,
            source: who.source.clone(),
            anchor: None,
        }
        .normalised()?;
        let group = groups::insert(&mut tx, &new, w.now).await?;
        audit::insert(
            &mut tx,
            &group_record(Activity::GroupAdded, &w, group.id, &group.display_name),
        )
        .await?;
        let row = ScimRow {
            id: group.id,
            source: who.source.clone(),
            external_id,
            body,
            version: 1,
        };
        scim::insert(&mut tx, Kind::Group, &row).await?;
        set_members(&mut tx, &w, &group, &[], &wanted).await?;
        let members = users::members_of(&mut tx, group.id).await?;
        tx.commit().await?;
        Ok(ProvisionedGroup {
            group,
            row,
            members,
        })
    }

    /// A group of `who`'s source; without `with_members` its member list is not read (Entra
    /// reads groups with `excludedAttributes=members`).
    pub async fn provisioned_group(
        &self,
        who: &Provisioner,
        id: Uuid,
        with_members: bool,
    ) -> Result<Option<ProvisionedGroup>> {
        let mut conn = self.store.read().await?;
        let Some((group, row)) = owned_group(&mut conn, &who.source, id).await? else {
            return Ok(None);
        };
        let members = if with_members {
            users::members_of(&mut conn, id).await?
        } else {
            Vec::new()
        };
        Ok(Some(ProvisionedGroup {
            group,
            row,
            members,
        }))
    }

    /// Loads the group with its members, lets `decide` (the client's protocol: precondition,
    /// PATCH or PUT) say what it becomes (`None`: nothing changed), and writes name,
    /// membership and body together. Returns the new version, and with `read_back` the group
    /// as stored; without it the member list is never read back, which keeps a large group's
    /// PATCH as cheap as its change.
    pub async fn write_provisioned_group<E: ProvisioningError>(
        &self,
        who: &Provisioner,
        correlation: Option<Uuid>,
        id: Uuid,
        read_back: bool,
        decide: impl FnOnce(&ProvisionedGroup) -> Result<Option<GroupWrite>, E> + Send,
    ) -> Result<(i64, Option<ProvisionedGroup>), E> {
        let w = self.provisioning_writer(who, correlation);
        let mut tx = self.store.write().await?;
        let (group, row) = owned_group(&mut tx, &who.source, id)
            .await?
            .ok_or(Refusal::NotFound(Kind::Group, id))?;
        let members = users::members_of(&mut tx, id).await?;
        let current = ProvisionedGroup {
            group,
            row,
            members,
        };
        let Some(change) = decide(&current)? else {
            return Ok((current.row.version, read_back.then_some(current)));
        };
        let ProvisionedGroup {
            group,
            row,
            members: current_members,
        } = current;
        let GroupWrite {
            display_name: name,
            members,
            external_id,
            body,
        } = change;
        let wanted = owned_members::<E>(&mut tx, &who.source, &members, &current_members).await?;
        if name != group.display_name {
            check_name_free::<E>(&mut tx, &who.source, &name, Some(id)).await?;
            let new = NewGroup {
                display_name: name,
                description: group.description.clone(),
                source: group.source.clone(),
                anchor: group.anchor.clone(),
            }
            .normalised()?;
            groups::update(&mut tx, id, &new, w.now).await?;
            audit::insert(
                &mut tx,
                &group_record(Activity::GroupUpdated, &w, group.id, &new.display_name),
            )
            .await?;
        }
        set_members(&mut tx, &w, &group, &current_members, &wanted).await?;
        let version = scim::update(&mut tx, Kind::Group, id, external_id.as_deref(), &body).await?;
        let written = if read_back {
            let group = groups::get(&mut tx, id)
                .await?
                .ok_or(Refusal::NotFound(Kind::Group, id))?;
            let members = users::members_of(&mut tx, id).await?;
            let row = ScimRow {
                external_id,
                body,
                version,
                ..row
            };
            Some(ProvisionedGroup {
                group,
                row,
                members,
            })
        } else {
            None
        };
        tx.commit().await?;
        Ok((version, written))
    }

    /// Deletes a group of `who`'s source once `check` (the client's precondition) accepts its
    /// row; each member's removal is audited and moves them.
    pub async fn delete_provisioned_group<E: ProvisioningError>(
        &self,
        who: &Provisioner,
        correlation: Option<Uuid>,
        id: Uuid,
        check: impl FnOnce(&ScimRow) -> Result<(), E> + Send,
    ) -> Result<(), E> {
        let w = self.provisioning_writer(who, correlation);
        let mut tx = self.store.write().await?;
        let (group, row) = owned_group(&mut tx, &who.source, id)
            .await?
            .ok_or(Refusal::NotFound(Kind::Group, id))?;
        check(&row)?;
        let members = users::members_of(&mut tx, id).await?;
        set_members(&mut tx, &w, &group, &members, &HashMap::new()).await?;
        groups::delete(&mut tx, id).await?;
        audit::insert(
            &mut tx,
            &group_record(Activity::GroupDeleted, &w, group.id, &group.display_name),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every group of `who`'s source, for filtering; without `with_members`, without their
    /// members (which are then never read).
    pub async fn provisioned_groups(
        &self,
        who: &Provisioner,
        with_members: bool,
    ) -> Result<Vec<ProvisionedGroup>> {
        let mut conn = self.store.read().await?;
        let list = groups::by_source(&mut conn, &who.source).await?;
        let mut rows = scim::by_source(&mut conn, Kind::Group, &who.source).await?;
        let mut members: HashMap<Uuid, Vec<User>> = HashMap::new();
        if with_members {
            let people: HashMap<Uuid, User> = users::by_source(&mut conn, &who.source)
                .await?
                .into_iter()
                .map(|u| (u.id, u))
                .collect();
            for (g, u) in groups::memberships_by_source(&mut conn, &who.source).await? {
                if let Some(user) = people.get(&u) {
                    members.entry(g).or_default().push(user.clone());
                }
            }
        }
        Ok(list
            .into_iter()
            .filter_map(|group| {
                let row = rows.remove(&group.id)?;
                let members = members.remove(&group.id).unwrap_or_default();
                Some(ProvisionedGroup {
                    group,
                    row,
                    members,
                })
            })
            .collect())
    }
}
