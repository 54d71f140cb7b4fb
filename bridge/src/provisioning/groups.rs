//! SCIM Groups. Membership lives in the platform's `group_members`; the SCIM body keeps the
//! other attributes. Every membership change is audited and emits a mover event for the user,
//! so onboarding rules that look at groups see it.

use std::collections::{BTreeSet, HashMap, HashSet};

use plugin::domain::audit::{Activity, AuditRecord};
use plugin::domain::directory::{Group, NewGroup, User};
use plugin::platform::Provisioner;
use plugin::platform::lifecycle::{Memberships, Writer};
use plugin::store::{Connection, audit, groups, users};
use serde_json::{Value, json};
use uuid::Uuid;

use super::resource::{
    Meta, get_ci, group_schema, normalise, render, take_ci, with_id, without_id,
};
use super::store::{self as scim_store, Kind, ScimRow};
use super::users::{check_if_match, external_id, foreign, parse_id};
use super::{Resource, Scim, Written};
use crate::error::{Error, Result, ScimType};
use crate::scim::patch::patch_resource;

/// The member ids a resource lists. Only users are members here.
fn member_ids(resource: &Value) -> Result<BTreeSet<Uuid>> {
    let Some(members) = get_ci(resource, "members") else {
        return Ok(BTreeSet::new());
    };
    let Some(list) = members.as_array() else {
        return Err(Error::bad(
            ScimType::InvalidValue,
            "members must be an array",
        ));
    };
    list.iter()
        .map(|m| {
            // Nested groups are not supported; any other `type` text is a label, and the
            // member is whatever user `value` names.
            if let Some(t) = get_ci(m, "type").and_then(Value::as_str)
                && t.eq_ignore_ascii_case("Group")
            {
                return Err(Error::bad(
                    ScimType::InvalidValue,
                    "groups cannot be members of groups here",
                ));
            }
            let value = get_ci(m, "value")
                .and_then(Value::as_str)
                .unwrap_or_default();
            Uuid::try_parse(value).map_err(|_| foreign(&format!("member `{value}`")))
        })
        .collect()
}

fn display_name(resource: &Value) -> Result<String> {
    get_ci(resource, "displayName")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| Error::bad(ScimType::InvalidValue, "displayName is required"))
}

/// A display name as uniqueness compares it: trimmed and case-folded, as `displayName eq`
/// filters compare (so two names that one filter would both match count as the same).
fn folded(name: &str) -> String {
    name.trim().to_lowercase()
}

/// The body as stored: without members, which live in the membership table.
fn stored_body(mut resource: Value) -> Value {
    if let Value::Object(o) = &mut resource {
        take_ci(o, "members");
    }
    resource
}

impl Scim {
    fn render_group(&self, group: &Group, row: &ScimRow, members: &[User]) -> Value {
        let mut json = render(
            &row.body,
            &group.id.to_string(),
            Meta {
                resource_type: "Group",
                created: group.created_at,
                last_modified: group.updated_at,
                location: self.location("Groups", group.id),
                version: row.version,
            },
        );
        json["displayName"] = Value::from(group.display_name.clone());
        if !members.is_empty() {
            // No `display`: SCIM clients compare members as they wrote them, and a name
            // derived here would read as a change they did not make.
            json["members"] = Value::Array(
                members
                    .iter()
                    .map(|u| {
                        json!({
                            "value": u.id,
                            "$ref": self.location("Users", u.id),
                            "type": "User",
                        })
                    })
                    .collect(),
            );
        }
        json
    }

    async fn owned_group(
        &self,
        conn: &mut Connection,
        who: &Provisioner,
        id: Uuid,
    ) -> Result<(Group, ScimRow)> {
        let not_found = || Error::NotFound(format!("Group `{id}`"));
        let group = groups::get(conn, id).await?.ok_or_else(not_found)?;
        if group.source != who.source {
            return Err(not_found());
        }
        let row = scim_store::get(conn, Kind::Group, id)
            .await?
            .ok_or_else(not_found)?;
        Ok((group, row))
    }

    /// Refuses `name` if another group of this source (other than `except`) has it, ignoring
    /// case: Entra and Okta find a group by `displayName eq "…"` and must find one. Names are
    /// unique per source only; other sources' and LDAP groups may share them.
    async fn check_name_free(
        &self,
        conn: &mut Connection,
        who: &Provisioner,
        name: &str,
        except: Option<Uuid>,
    ) -> Result<()> {
        let wanted = folded(name);
        let taken = scim_store::group_names(conn, &who.source)
            .await?
            .into_iter()
            .any(|(id, existing)| Some(id) != except && folded(&existing) == wanted);
        if taken {
            return Err(Error::conflict(format!(
                "a group named `{name}` already exists for this provisioning source \
                 (group names are unique per source, ignoring case)"
            )));
        }
        Ok(())
    }

    /// The users `ids` names, each of which must belong to this source. Users in `known` (the
    /// group's current members, already read) are not read again, so a PATCH that renames a
    /// large group or adds one member costs one look-up per new member, not one per member.
    async fn owned_members(
        &self,
        conn: &mut Connection,
        who: &Provisioner,
        ids: &BTreeSet<Uuid>,
        known: &[User],
    ) -> Result<HashMap<Uuid, User>> {
        let known: HashMap<Uuid, &User> = known.iter().map(|u| (u.id, u)).collect();
        let mut found = HashMap::new();
        for id in ids {
            if let Some(u) = known.get(id).filter(|u| u.source == who.source) {
                found.insert(*id, (*u).clone());
                continue;
            }
            match users::get(conn, *id).await? {
                Some(u) if u.source == who.source => {
                    found.insert(*id, u);
                }
                _ => return Err(foreign(&format!("member `{id}`"))),
            }
        }
        Ok(found)
    }

    /// Brings the group's membership to `wanted`: audit, mover events, new user versions.
    async fn set_members(
        &self,
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
            scim_store::bump_version(conn, Kind::User, uid).await?;
        }
        Ok(())
    }

    pub async fn create_group(
        &self,
        who: &Provisioner,
        body: Value,
        correlation: Option<Uuid>,
    ) -> Result<Resource> {
        let resource = normalise(body, group_schema())?;
        let name = display_name(&resource)?;
        let ids = member_ids(&resource)?;
        let w = self.writer(who, correlation);
        let mut tx = self.platform.store().write().await?;
        self.check_name_free(&mut tx, who, &name, None).await?;
        let wanted = self.owned_members(&mut tx, who, &ids, &[]).await?;
        let new = NewGroup {
            display_name: name,
            description: None,
            source: who.source.clone(),
            anchor: None,
        }
        .normalised()?;
        let group = groups::insert(&mut tx, &new, w.now).await?;
        audit::insert(
            &mut tx,
            &AuditRecord::new(Activity::GroupAdded, w.initiator.clone(), w.now)
                .target("Group", group.id, Some(&group.display_name))
                .correlation(w.correlation_id),
        )
        .await?;
        let row = ScimRow {
            id: group.id,
            source: who.source.clone(),
            external_id: external_id(&resource),
            body: stored_body(resource),
            version: 1,
        };
        scim_store::insert(&mut tx, Kind::Group, &row).await?;
        self.set_members(&mut tx, &w, &group, &[], &wanted).await?;
        let members = users::members_of(&mut tx, group.id).await?;
        tx.commit().await?;
        Ok(Resource {
            json: self.render_group(&group, &row, &members),
            version: row.version,
        })
    }

    /// The group; without `with_members` its member list is not read (Entra reads groups with
    /// `excludedAttributes=members`).
    pub async fn get_group(
        &self,
        who: &Provisioner,
        id: &str,
        with_members: bool,
    ) -> Result<Resource> {
        let id = parse_id(id, "Group")?;
        let mut conn = self.platform.store().read().await?;
        let (group, row) = self.owned_group(&mut conn, who, id).await?;
        let members = if with_members {
            users::members_of(&mut conn, id).await?
        } else {
            Vec::new()
        };
        Ok(Resource {
            json: self.render_group(&group, &row, &members),
            version: row.version,
        })
    }

    pub async fn replace_group(
        &self,
        who: &Provisioner,
        id: &str,
        body: Value,
        if_match: Option<&str>,
        correlation: Option<Uuid>,
    ) -> Result<Resource> {
        let id = parse_id(id, "Group")?;
        let resource = normalise(body, group_schema())?;
        let written = self
            .write_group(who, id, if_match, correlation, true, |_| Ok(Some(resource)))
            .await?;
        Ok(Resource {
            json: written.json.unwrap_or_default(),
            version: written.version,
        })
    }

    /// PATCH. With `with_body` the group is rendered into the answer; without it the member
    /// list is never read back, which keeps a large group's PATCH as cheap as its change.
    pub async fn patch_group(
        &self,
        who: &Provisioner,
        id: &str,
        patch: Value,
        if_match: Option<&str>,
        correlation: Option<Uuid>,
        with_body: bool,
    ) -> Result<Written> {
        let id = parse_id(id, "Group")?;
        self.write_group(who, id, if_match, correlation, with_body, |current| {
            let mut next = current.clone();
            let changed = patch_resource(&mut next, &patch, group_schema())?;
            Ok(changed.then_some(next))
        })
        .await
    }

    async fn write_group(
        &self,
        who: &Provisioner,
        id: Uuid,
        if_match: Option<&str>,
        correlation: Option<Uuid>,
        with_body: bool,
        change: impl FnOnce(&Value) -> Result<Option<Value>>,
    ) -> Result<Written> {
        let w = self.writer(who, correlation);
        let mut tx = self.platform.store().write().await?;
        let (group, row) = self.owned_group(&mut tx, who, id).await?;
        check_if_match(if_match, row.version)?;
        let current_members = users::members_of(&mut tx, id).await?;
        // The engine sees members as a client would, so member filters and removals work.
        let mut current = with_id(&row.body, id);
        if !current_members.is_empty() {
            current["members"] = Value::Array(
                current_members
                    .iter()
                    .map(|u| json!({"value": u.id.to_string(), "type": "User"}))
                    .collect(),
            );
        }
        let Some(next) = change(&current)? else {
            return Ok(Written {
                json: with_body.then(|| self.render_group(&group, &row, &current_members)),
                version: row.version,
            });
        };
        let name = display_name(&next)?;
        let wanted = self
            .owned_members(&mut tx, who, &member_ids(&next)?, &current_members)
            .await?;
        if name != group.display_name {
            self.check_name_free(&mut tx, who, &name, Some(id)).await?;
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
                &AuditRecord::new(Activity::GroupUpdated, w.initiator.clone(), w.now)
                    .target("Group", group.id, Some(&new.display_name))
                    .correlation(w.correlation_id),
            )
            .await?;
        }
        self.set_members(&mut tx, &w, &group, &current_members, &wanted)
            .await?;
        let body = stored_body(without_id(next));
        let version = scim_store::update(
            &mut tx,
            Kind::Group,
            id,
            external_id(&body).as_deref(),
            &body,
        )
        .await?;
        let rendered = if with_body {
            let group = groups::get(&mut tx, id)
                .await?
                .ok_or_else(|| Error::NotFound(format!("Group `{id}`")))?;
            let members = users::members_of(&mut tx, id).await?;
            let row = ScimRow {
                body,
                version,
                ..row
            };
            Some(self.render_group(&group, &row, &members))
        } else {
            None
        };
        tx.commit().await?;
        Ok(Written {
            json: rendered,
            version,
        })
    }

    pub async fn delete_group(
        &self,
        who: &Provisioner,
        id: &str,
        if_match: Option<&str>,
        correlation: Option<Uuid>,
    ) -> Result<()> {
        let id = parse_id(id, "Group")?;
        let w = self.writer(who, correlation);
        let mut tx = self.platform.store().write().await?;
        let (group, row) = self.owned_group(&mut tx, who, id).await?;
        check_if_match(if_match, row.version)?;
        let members = users::members_of(&mut tx, id).await?;
        self.set_members(&mut tx, &w, &group, &members, &HashMap::new())
            .await?;
        groups::delete(&mut tx, id).await?;
        audit::insert(
            &mut tx,
            &AuditRecord::new(Activity::GroupDeleted, w.initiator.clone(), w.now)
                .target("Group", group.id, Some(&group.display_name))
                .correlation(w.correlation_id),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every group of this source, rendered, for filtering; without `with_members`, without
    /// their members (which are then never read).
    pub(super) async fn all_groups(
        &self,
        who: &Provisioner,
        with_members: bool,
    ) -> Result<Vec<Value>> {
        let mut conn = self.platform.store().read().await?;
        let list = groups::by_source(&mut conn, &who.source).await?;
        let rows = scim_store::by_source(&mut conn, Kind::Group, &who.source).await?;
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
        let mut out = Vec::with_capacity(list.len());
        for g in &list {
            let Some(row) = rows.get(&g.id) else { continue };
            let m = members.get(&g.id).map(Vec::as_slice).unwrap_or(&[]);
            out.push(self.render_group(g, row, m));
        }
        Ok(out)
    }
}
