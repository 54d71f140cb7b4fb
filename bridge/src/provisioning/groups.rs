//! SCIM Groups. Membership lives in the platform's `group_members`; the SCIM body keeps the
//! other attributes. Every membership change is audited and emits a mover event for the user
//! (the platform's provisioning operations do that), so onboarding rules that look at groups
//! see it.

use std::collections::BTreeSet;

use plugin::domain::directory::{Group, User};
use plugin::domain::provisioned::{GroupWrite, ProvisionedGroup, ScimRow};
use plugin::platform::Provisioner;
use serde_json::{Value, json};
use uuid::Uuid;

use super::resource::{
    Meta, get_ci, group_schema, normalise, render, take_ci, with_id, without_id,
};
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

/// The body as stored: without members, which live in the membership table.
fn stored_body(mut resource: Value) -> Value {
    if let Value::Object(o) = &mut resource {
        take_ci(o, "members");
    }
    resource
}

/// A group body (without `id`) as the platform stores it: name, members, the rest.
fn group_write(resource: Value) -> Result<GroupWrite> {
    let display_name = display_name(&resource)?;
    let members = member_ids(&resource)?;
    let body = stored_body(resource);
    Ok(GroupWrite {
        display_name,
        members,
        external_id: external_id(&body),
        body,
    })
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

    fn group_resource(&self, p: &ProvisionedGroup) -> Resource {
        Resource {
            json: self.render_group(&p.group, &p.row, &p.members),
            version: p.row.version,
        }
    }

    pub async fn create_group(
        &self,
        who: &Provisioner,
        body: Value,
        correlation: Option<Uuid>,
    ) -> Result<Resource> {
        let resource = normalise(body, group_schema())?;
        let write = group_write(resource)?;
        let created = self
            .platform
            .create_provisioned_group::<Error>(who, correlation, write)
            .await?;
        Ok(self.group_resource(&created))
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
        let group = self
            .platform
            .provisioned_group(who, id, with_members)
            .await?
            .ok_or_else(|| Error::NotFound(format!("Group `{id}`")))?;
        Ok(self.group_resource(&group))
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

    /// Inside the platform's write: checks the precondition and computes the new body with
    /// `change` from the group as a client sees it (`None`: nothing changed).
    async fn write_group(
        &self,
        who: &Provisioner,
        id: Uuid,
        if_match: Option<&str>,
        correlation: Option<Uuid>,
        with_body: bool,
        change: impl FnOnce(&Value) -> Result<Option<Value>> + Send,
    ) -> Result<Written> {
        let (version, group) = self
            .platform
            .write_provisioned_group::<Error>(who, correlation, id, with_body, |current| {
                check_if_match(if_match, current.row.version)?;
                // The engine sees members as a client would, so member filters and removals
                // work.
                let mut view = with_id(&current.row.body, id);
                if !current.members.is_empty() {
                    view["members"] = Value::Array(
                        current
                            .members
                            .iter()
                            .map(|u| json!({"value": u.id.to_string(), "type": "User"}))
                            .collect(),
                    );
                }
                change(&view)?
                    .map(|next| group_write(without_id(next)))
                    .transpose()
            })
            .await?;
        Ok(Written {
            json: group.map(|g| self.render_group(&g.group, &g.row, &g.members)),
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
        self.platform
            .delete_provisioned_group(who, correlation, id, |row| {
                check_if_match(if_match, row.version)
            })
            .await
    }

    /// Every group of this source, rendered, for filtering; without `with_members`, without
    /// their members (which are then never read).
    pub(super) async fn all_groups(
        &self,
        who: &Provisioner,
        with_members: bool,
    ) -> Result<Vec<Value>> {
        let list = self.platform.provisioned_groups(who, with_members).await?;
        Ok(list
            .iter()
            .map(|p| self.render_group(&p.group, &p.row, &p.members))
            .collect())
    }
}
