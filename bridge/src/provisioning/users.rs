//! SCIM Users: create, read, replace, patch, delete — each in one transaction with the
//! platform's lifecycle (audit, joiner/mover/leaver events, revocation).

use std::collections::HashMap;

use plugin::Error as PlatformError;
use plugin::domain::audit::{Activity, AuditRecord};
use plugin::domain::directory::{Group, NewUser, User};
use plugin::platform::Provisioner;
use plugin::platform::lifecycle::{self, Writer};
use plugin::store::{Connection, audit, groups, users};
use serde_json::{Value, json};
use uuid::Uuid;

use super::mapping::to_new_user;
use super::resource::{
    Meta, discard_write_only, etag, etag_listed, get_ci, normalise, render, user_schema, with_id,
    without_id,
};
use super::store::{self as scim_store, Kind, ScimRow};
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

    /// The user and its SCIM row, if this source owns them.
    async fn owned_user(
        &self,
        conn: &mut Connection,
        who: &Provisioner,
        id: Uuid,
    ) -> Result<(User, ScimRow)> {
        let not_found = || Error::NotFound(format!("User `{id}`"));
        let user = users::get(conn, id).await?.ok_or_else(not_found)?;
        if user.source != who.source {
            return Err(not_found());
        }
        let row = scim_store::get(conn, Kind::User, id)
            .await?
            .ok_or_else(not_found)?;
        Ok((user, row))
    }

    async fn visible_groups(
        &self,
        conn: &mut Connection,
        who: &Provisioner,
        user: Uuid,
    ) -> Result<Vec<Group>> {
        let mut list = groups::of_user(conn, user).await?;
        list.retain(|g| g.source == who.source);
        Ok(list)
    }

    /// The manager named in the Enterprise extension, if it is a user of the same source.
    async fn resolve_manager(
        &self,
        conn: &mut Connection,
        who: &Provisioner,
        resource: &Value,
        new: &mut NewUser,
    ) -> Result<()> {
        let Some(value) = get_ci(resource, crate::scim::schema::ENTERPRISE_USER_SCHEMA)
            .and_then(|e| get_ci(e, "manager"))
            .and_then(|m| get_ci(m, "value"))
            .and_then(Value::as_str)
        else {
            return Ok(());
        };
        if let Ok(id) = Uuid::try_parse(value)
            && let Some(manager) = users::get(conn, id).await?
            && manager.source == who.source
        {
            new.manager_id = Some(manager.id);
        }
        Ok(())
    }

    fn new_user(&self, who: &Provisioner, resource: &Value) -> Result<NewUser> {
        to_new_user(resource, &who.source, &self.settings.mapping)
    }

    pub async fn create_user(
        &self,
        who: &Provisioner,
        body: Value,
        correlation: Option<Uuid>,
    ) -> Result<Resource> {
        let mut resource = normalise(body, user_schema())?;
        let discarded = discard_write_only(&mut resource, user_schema());
        let mut new = self.new_user(who, &resource)?;
        let w = self.writer(who, correlation);
        let mut tx = self.platform.store().write().await?;
        self.resolve_manager(&mut tx, who, &resource, &mut new)
            .await?;
        let user = lifecycle::create_user(&mut tx, new, &w)
            .await
            .map_err(|e| match e {
                PlatformError::Conflict(_) => Error::conflict("userName is already in use"),
                other => other.into(),
            })?;
        let row = ScimRow {
            id: user.id,
            source: who.source.clone(),
            external_id: external_id(&resource),
            body: resource,
            version: 1,
        };
        scim_store::insert(&mut tx, Kind::User, &row).await?;
        audit_discarded(&mut tx, &w, &user, &discarded).await?;
        tx.commit().await?;
        Ok(Resource {
            json: self.render_user(&user, &row, &[]),
            version: row.version,
        })
    }

    pub async fn get_user(&self, who: &Provisioner, id: &str) -> Result<Resource> {
        let id = parse_id(id, "User")?;
        let mut conn = self.platform.store().read().await?;
        let (user, row) = self.owned_user(&mut conn, who, id).await?;
        let groups = self.visible_groups(&mut conn, who, id).await?;
        Ok(Resource {
            json: self.render_user(&user, &row, &groups),
            version: row.version,
        })
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

    /// Loads the user, checks the precondition, computes the new body with `change` (`None`:
    /// nothing changed), and writes body and platform record together. Write-only values the
    /// body gained (a password) are dropped and audited; a request that brought nothing else
    /// changes nothing stored.
    async fn write_user(
        &self,
        who: &Provisioner,
        id: Uuid,
        if_match: Option<&str>,
        correlation: Option<Uuid>,
        change: impl FnOnce(&Value) -> Result<Option<Value>>,
    ) -> Result<Resource> {
        let w = self.writer(who, correlation);
        let mut tx = self.platform.store().write().await?;
        let (user, row) = self.owned_user(&mut tx, who, id).await?;
        check_if_match(if_match, row.version)?;
        let mut next = change(&row.body)?;
        let discarded = next
            .as_mut()
            .map(|n| discard_write_only(n, user_schema()))
            .unwrap_or_default();
        let Some(next) = next.filter(|n| *n != row.body) else {
            let groups = self.visible_groups(&mut tx, who, id).await?;
            if !discarded.is_empty() {
                audit_discarded(&mut tx, &w, &user, &discarded).await?;
                tx.commit().await?;
            }
            return Ok(Resource {
                json: self.render_user(&user, &row, &groups),
                version: row.version,
            });
        };
        let mut new = self.new_user(who, &next)?;
        self.resolve_manager(&mut tx, who, &next, &mut new).await?;
        let (updated, _) = lifecycle::update_user(&mut tx, &user, new, &w)
            .await
            .map_err(|e| match e {
                PlatformError::Conflict(_) => Error::conflict("userName is already in use"),
                other => other.into(),
            })?;
        let version = scim_store::update(
            &mut tx,
            Kind::User,
            id,
            external_id(&next).as_deref(),
            &next,
        )
        .await?;
        audit_discarded(&mut tx, &w, &updated, &discarded).await?;
        let groups = self.visible_groups(&mut tx, who, id).await?;
        tx.commit().await?;
        let row = ScimRow {
            body: next,
            version,
            ..row
        };
        Ok(Resource {
            json: self.render_user(&updated, &row, &groups),
            version,
        })
    }

    pub async fn delete_user(
        &self,
        who: &Provisioner,
        id: &str,
        if_match: Option<&str>,
        correlation: Option<Uuid>,
    ) -> Result<()> {
        let id = parse_id(id, "User")?;
        let w = self.writer(who, correlation);
        let mut tx = self.platform.store().write().await?;
        let (user, row) = self.owned_user(&mut tx, who, id).await?;
        check_if_match(if_match, row.version)?;
        let groups = self.visible_groups(&mut tx, who, id).await?;
        lifecycle::delete_user(&mut tx, &user, &w).await?;
        for g in groups {
            scim_store::bump_version(&mut tx, Kind::Group, g.id).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every user of this source, rendered, for filtering. The common `userName eq "…"`
    /// lookup (how Entra and Okta match before creating) is answered from the index instead.
    pub(super) async fn all_users(
        &self,
        who: &Provisioner,
        user_name: Option<&str>,
    ) -> Result<Vec<Value>> {
        let mut conn = self.platform.store().read().await?;
        if let Some(name) = user_name {
            let Some(user) = users::get_by_upn(&mut conn, name).await? else {
                return Ok(vec![]);
            };
            if user.source != who.source {
                return Ok(vec![]);
            }
            let Some(row) = scim_store::get(&mut conn, Kind::User, user.id).await? else {
                return Ok(vec![]);
            };
            let groups = self.visible_groups(&mut conn, who, user.id).await?;
            return Ok(vec![self.render_user(&user, &row, &groups)]);
        }
        let list = users::by_source(&mut conn, &who.source).await?;
        let rows = scim_store::by_source(&mut conn, Kind::User, &who.source).await?;
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
            .iter()
            .filter_map(|u| {
                let row = rows.get(&u.id)?;
                let groups = by_user.get(&u.id).map(Vec::as_slice).unwrap_or(&[]);
                Some(self.render_user(u, row, groups))
            })
            .collect())
    }
}

/// Audits that the client offered write-only values (`discarded`: their names) that tapbridge
/// dropped unread. The record names the attributes, never their values: tapbridge accounts
/// have no password, so a password a client pushes is neither stored nor checked.
async fn audit_discarded(
    conn: &mut Connection,
    w: &Writer,
    user: &User,
    discarded: &[String],
) -> Result<()> {
    if discarded.is_empty() {
        return Ok(());
    }
    let record = AuditRecord::new(Activity::UserUpdated, w.initiator.clone(), w.now)
        .reason(format!(
            "the provisioning client offered {}; tapbridge accounts are passwordless, so it was \
             discarded and not stored",
            discarded.join(", ")
        ))
        .target("User", user.id, Some(&user.user_principal_name))
        .detail("discardedAttributes", discarded.join(","))
        .correlation(w.correlation_id);
    audit::insert(conn, &record).await?;
    Ok(())
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
