//! SCIM Users: create, read, replace, patch, delete — each one platform operation, in one
//! transaction with the platform's lifecycle (audit, joiner/mover/leaver events, revocation);
//! the SCIM body (normalising, patching, mapping, rendering) is decided here.

use plugin::domain::directory::{Group, User};
use plugin::domain::provisioned::{ProvisionedUser, ScimRow, UserChange, UserWrite};
use plugin::platform::Provisioner;
use serde_json::{Value, json};
use uuid::Uuid;

use super::mapping::to_new_user;
use super::resource::{
    Meta, discard_write_only, etag, etag_listed, get_ci, normalise, render, user_schema, with_id,
    without_id,
};
use super::{Resource, Scim};
use crate::error::{Error, Result, ScimType};
use crate::scim::patch::patch_resource;

/// The id in a URL, as this client may see it: an unknown or foreign id is simply not found.
pub(super) fn parse_id(id: &str, what: &str) -> Result<Uuid> {
    Uuid::try_parse(id.trim()).map_err(|_| Error::NotFound(format!("{what} `{id}`")))
}

/// Checks an `If-Match` precondition against the current version.
pub(super) fn check_if_match(if_match: Option<&str>, version: i64) -> Result<()> {
    match if_match {
        Some(h) if !etag_listed(h, &etag(version)) => Err(Error::PreconditionFailed {
            current: etag(version),
        }),
        _ => Ok(()),
    }
}

impl Scim {
    pub(super) fn render_user(&self, user: &User, row: &ScimRow, groups: &[Group]) -> Value {
        let mut json = render(
            &row.body,
            &user.id.to_string(),
            Meta {
                resource_type: "User",
                created: user.created_at,
                last_modified: user.updated_at,
                location: self.location("Users", user.id),
                version: row.version,
            },
        );
        if !groups.is_empty() {
            json["groups"] = Value::Array(
                groups
                    .iter()
                    .map(|g| {
                        json!({
                            "value": g.id,
                            "$ref": self.location("Groups", g.id),
                            "display": g.display_name,
                            "type": "direct",
                        })
                    })
                    .collect(),
            );
        }
        json
    }

    /// The SCIM body as the platform's record and what the write carries besides: the
    /// mapped user, the manager it names, the write-only attributes dropped from it.
    fn user_write(
        &self,
        who: &Provisioner,
        body: Value,
        discarded: Vec<String>,
    ) -> Result<UserWrite> {
        Ok(UserWrite {
            user: to_new_user(&body, &who.source, &self.settings.mapping)?,
            manager: manager_ref(&body),
            external_id: external_id(&body),
            body,
            discarded,
        })
    }

    fn user_resource(&self, p: &ProvisionedUser) -> Resource {
        Resource {
            json: self.render_user(&p.user, &p.row, &p.groups),
            version: p.row.version,
        }
    }

    pub async fn create_user(
        &self,
        who: &Provisioner,
        body: Value,
        correlation: Option<Uuid>,
    ) -> Result<Resource> {
        let mut resource = normalise(body, user_schema())?;
        let discarded = discard_write_only(&mut resource, user_schema());
        let write = self.user_write(who, resource, discarded)?;
        let created = self
            .platform
            .create_provisioned_user::<Error>(who, correlation, write)
            .await?;
        Ok(self.user_resource(&created))
    }

    pub async fn get_user(&self, who: &Provisioner, id: &str) -> Result<Resource> {
        let id = parse_id(id, "User")?;
        let user = self
            .platform
            .provisioned_user(who, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("User `{id}`")))?;
        Ok(self.user_resource(&user))
    }

    /// PUT: the body replaces the resource entirely.
    pub async fn replace_user(
        &self,
        who: &Provisioner,
        id: &str,
        body: Value,
        if_match: Option<&str>,
        correlation: Option<Uuid>,
    ) -> Result<Resource> {
        let id = parse_id(id, "User")?;
        let resource = normalise(body, user_schema())?;
        self.write_user(who, id, if_match, correlation, |_| Ok(Some(resource)))
            .await
    }

    pub async fn patch_user(
        &self,
        who: &Provisioner,
        id: &str,
        patch: Value,
        if_match: Option<&str>,
        correlation: Option<Uuid>,
    ) -> Result<Resource> {
        let id = parse_id(id, "User")?;
        self.write_user(who, id, if_match, correlation, |current| {
            let mut next = with_id(current, id);
            let changed = patch_resource(&mut next, &patch, user_schema())?;
            Ok(changed.then(|| without_id(next)))
        })
        .await
    }

    /// Inside the platform's write: checks the precondition, computes the new body with
    /// `change` (`None`: nothing changed) and maps it. Write-only values the body gained (a
    /// password) are dropped and audited; a request that brought nothing else changes nothing
    /// stored.
    async fn write_user(
        &self,
        who: &Provisioner,
        id: Uuid,
        if_match: Option<&str>,
        correlation: Option<Uuid>,
        change: impl FnOnce(&Value) -> Result<Option<Value>> + Send,
    ) -> Result<Resource> {
        let written = self
            .platform
            .write_provisioned_user::<Error>(who, correlation, id, |_, row| {
                check_if_match(if_match, row.version)?;
                let mut next = change(&row.body)?;
                let discarded = next
                    .as_mut()
                    .map(|n| discard_write_only(n, user_schema()))
                    .unwrap_or_default();
                match next.filter(|n| *n != row.body) {
                    None => Ok(UserChange::Unchanged { discarded }),
                    Some(next) => Ok(UserChange::Changed(Box::new(
                        self.user_write(who, next, discarded)?,
                    ))),
                }
            })
            .await?;
        Ok(self.user_resource(&written))
    }

    pub async fn delete_user(
        &self,
        who: &Provisioner,
        id: &str,
        if_match: Option<&str>,
        correlation: Option<Uuid>,
    ) -> Result<()> {
        let id = parse_id(id, "User")?;
        self.platform
            .delete_provisioned_user(who, correlation, id, |row| {
                check_if_match(if_match, row.version)
            })
            .await
    }

    /// Every user of this source, rendered, for filtering. The common `userName eq "…"`
    /// lookup (how Entra and Okta match before creating) is answered from the index instead.
    pub(super) async fn all_users(
        &self,
        who: &Provisioner,
        user_name: Option<&str>,
    ) -> Result<Vec<Value>> {
        let list = self.platform.provisioned_users(who, user_name).await?;
        Ok(list
            .iter()
            .map(|p| self.render_user(&p.user, &p.row, &p.groups))
            .collect())
    }
}

/// The manager the Enterprise extension names, if its value is an id; the platform keeps it
/// only if it is a user of the same source.
fn manager_ref(resource: &Value) -> Option<Uuid> {
    get_ci(resource, crate::scim::schema::ENTERPRISE_USER_SCHEMA)
        .and_then(|e| get_ci(e, "manager"))
        .and_then(|m| get_ci(m, "value"))
        .and_then(Value::as_str)
        .and_then(|value| Uuid::try_parse(value).ok())
}

pub(super) fn external_id(resource: &Value) -> Option<String> {
    get_ci(resource, "externalId")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// A client asked to change something it may not; kept here so users and groups word it alike.
pub(super) fn foreign(what: &str) -> Error {
    Error::bad(
        ScimType::InvalidValue,
        format!("{what} is not a resource of this provisioning source"),
    )
}
