//! Administrators' pages: find a user, see their methods, issue and delete passes, delete
//! passkeys, edit the pass and passkey policies. Each handler needs an [`AdminSession`]; the
//! platform checks the user's roles again for every operation.

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::WebState;
use super::auth::{self, AdminSession};
use super::error::PageError;
use super::form::{PageForm, PagePath};
use super::pages::{Page, human_time};
use crate::domain::directory::{UserCondition, UserField, UserQuery, UserRef};
use crate::domain::fido2_policy::{EnforcementType, Fido2PolicyPatch, KeyRestrictionsPatch};
use crate::domain::tap_policy::{PolicyState, TapPolicyPatch, TapRequest};
use crate::platform::IssuedTap;
use crate::{Error, Result};

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/admin/users", get(list_users))
        .route("/admin/users/{id}", get(show_user))
        .route("/admin/users/{id}/tap", post(create_tap))
        .route("/admin/users/{id}/tap/delete", post(delete_tap))
        .route(
            "/admin/users/{id}/passkeys/{pid}/delete",
            post(delete_passkey),
        )
        .route("/admin/policies", get(show_policies))
        .route("/admin/policies/tap", post(update_tap_policy))
        .route("/admin/policies/fido2", post(update_fido2_policy))
}

fn page(a: &AdminSession, state: &WebState, template: &'static str, title: &str) -> Page {
    let csrf = state.passwordless.csrf_token(&a.signed_in.session);
    Page::new(template, title, Some(&a.signed_in), &csrf)
}

#[derive(Deserialize)]
pub struct Search {
    #[serde(default)]
    q: String,
}

#[derive(Serialize)]
struct UserRow {
    id: String,
    upn: String,
    name: String,
    state: &'static str,
}

/// `GET /admin/users?q=` — any administrative role.
pub async fn list_users(
    State(state): State<WebState>,
    a: AdminSession,
    Query(search): Query<Search>,
) -> Result<Response, PageError> {
    let q = search.q.trim().chars().take(256).collect::<String>();
    let conditions = if q.is_empty() {
        vec![]
    } else {
        vec![UserCondition::StartsWith(
            UserField::UserPrincipalName,
            q.clone(),
        )]
    };
    let users = state
        .passwordless
        .platform()
        .users(
            &a.caller,
            &UserQuery {
                conditions,
                after: None,
                limit: 50,
            },
        )
        .await?;
    let rows: Vec<UserRow> = users
        .iter()
        .map(|u| UserRow {
            id: u.id.to_string(),
            upn: u.user_principal_name.clone(),
            name: u.display_name.clone().unwrap_or_default(),
            state: if u.account_enabled {
                "Enabled"
            } else {
                "Disabled"
            },
        })
        .collect();
    Ok(page(&a, &state, "admin_users.html", "Users")
        .with("q", &q)
        .with("users", &rows)
        .into_response())
}

async fn user_page(
    state: &WebState,
    a: &AdminSession,
    id: Uuid,
    issued: Option<&IssuedTap>,
) -> Result<Page> {
    let platform = state.passwordless.platform();
    let user_ref = UserRef::Id(id);
    let (user, taps) = platform.taps(&a.caller, &user_ref).await?;
    let (_, passkeys) = platform.fido2_methods(&a.caller, &user_ref).await?;
    let policy = platform.tap_policy(&a.caller).await?;
    let rows: Vec<_> = passkeys
        .iter()
        .map(|p| {
            json!({
                "id": p.id.to_string(),
                "name": p.display_name,
                "model": p.model(),
                "aaguid": p.aaguid.to_string(),
                "attestation": p.attestation_level.as_str(),
                "created": human_time(p.created_at),
                "last_used": p.last_used_at.map_or_else(|| "Never".to_owned(), human_time),
            })
        })
        .collect();
    let tap = taps.first().map_or(String::new(), |v| {
        format!(
            "Expires {} · {} · {}",
            human_time(v.record.expires_at()),
            if v.record.is_usable_once {
                "one-time"
            } else {
                "multi-use"
            },
            v.usability.reason.as_str()
        )
    });
    let mut p = page(a, state, "admin_user.html", &user.user_principal_name)
        .with("id", &user.id.to_string())
        .with("upn", &user.user_principal_name)
        .with("name", &user.display_name.clone().unwrap_or_default())
        .with("disabled", &!user.account_enabled)
        .with("passkeys", &rows)
        .with("tap", &tap)
        .with("default_lifetime", &policy.default_lifetime_in_minutes)
        .with("default_once", &policy.is_usable_once)
        .with("issued", &"");
    if let Some(i) = issued {
        p = p
            .with("issued", &i.pass.expose())
            .with("issued_expiry", &human_time(i.view.record.expires_at()))
            .with("issued_once", &i.view.record.is_usable_once);
    }
    Ok(p)
}

/// `GET /admin/users/{id}` — any administrative role.
pub async fn show_user(
    State(state): State<WebState>,
    a: AdminSession,
    PagePath(id): PagePath<Uuid>,
) -> Result<Response, PageError> {
    Ok(user_page(&state, &a, id, None).await?.into_response())
}

#[derive(Deserialize)]
pub struct TapForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    lifetime: String,
    #[serde(default)]
    once: String,
}

/// `POST /admin/users/{id}/tap` — Authentication Administrator or Privileged Authentication
/// Administrator. The pass appears in this response only.
pub async fn create_tap(
    State(state): State<WebState>,
    a: AdminSession,
    PagePath(id): PagePath<Uuid>,
    PageForm(form): PageForm<TapForm>,
) -> Result<Response, PageError> {
    auth::check_csrf(&state, &a.signed_in, &form.csrf)?;
    let lifetime = form
        .lifetime
        .trim()
        .parse::<u32>()
        .map_err(|_| Error::invalid("The lifetime must be a whole number of minutes."))?;
    let issued = state
        .passwordless
        .platform()
        .issue_tap(
            &a.caller,
            &UserRef::Id(id),
            TapRequest {
                start_date_time: None,
                lifetime_in_minutes: Some(lifetime),
                is_usable_once: Some(form.once == "yes"),
            },
        )
        .await?;
    Ok(user_page(&state, &a, id, Some(&issued))
        .await?
        .into_response())
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// `POST /admin/users/{id}/tap/delete` — as for creating a pass.
pub async fn delete_tap(
    State(state): State<WebState>,
    a: AdminSession,
    PagePath(id): PagePath<Uuid>,
    PageForm(form): PageForm<CsrfOnly>,
) -> Result<Redirect, PageError> {
    auth::check_csrf(&state, &a.signed_in, &form.csrf)?;
    state
        .passwordless
        .platform()
        .delete_tap(&a.caller, &UserRef::Id(id), None)
        .await?;
    Ok(Redirect::to(&format!("/admin/users/{id}")))
}

/// `POST /admin/users/{id}/passkeys/{pid}/delete` — as for creating a pass.
pub async fn delete_passkey(
    State(state): State<WebState>,
    a: AdminSession,
    PagePath((id, pid)): PagePath<(Uuid, Uuid)>,
    PageForm(form): PageForm<CsrfOnly>,
) -> Result<Redirect, PageError> {
    auth::check_csrf(&state, &a.signed_in, &form.csrf)?;
    state
        .passwordless
        .platform()
        .delete_fido2_method(&a.caller, &UserRef::Id(id), pid)
        .await?;
    Ok(Redirect::to(&format!("/admin/users/{id}")))
}

/// `GET /admin/policies` — any administrative role.
pub async fn show_policies(
    State(state): State<WebState>,
    a: AdminSession,
) -> Result<Response, PageError> {
    let platform = state.passwordless.platform();
    let tap = platform.tap_policy(&a.caller).await?;
    let fido2 = platform.fido2_policy(&a.caller).await?;
    let aaguids: Vec<String> = fido2
        .key_restrictions
        .aa_guids
        .iter()
        .map(Uuid::to_string)
        .collect();
    Ok(page(&a, &state, "admin_policies.html", "Policies")
        .with("notice", &"")
        .with(
            "tap",
            &json!({
                "enabled": tap.state == PolicyState::Enabled,
                "min": tap.minimum_lifetime_in_minutes,
                "max": tap.maximum_lifetime_in_minutes,
                "default": tap.default_lifetime_in_minutes,
                "length": tap.default_length,
                "once": tap.is_usable_once,
            }),
        )
        .with(
            "fido2",
            &json!({
                "enabled": fido2.state == PolicyState::Enabled,
                "self_service": fido2.is_self_service_registration_allowed,
                "attestation": fido2.is_attestation_enforced,
                "restrict": fido2.key_restrictions.is_enforced,
                "kind": match fido2.key_restrictions.enforcement_type {
                    EnforcementType::Allow => "allow",
                    EnforcementType::Block => "block",
                },
                "aaguids": aaguids.join("\n"),
            }),
        )
        .into_response())
}

fn number(field: &str, value: &str) -> Result<u32> {
    value
        .trim()
        .parse()
        .map_err(|_| Error::invalid(format!("{field} must be a whole number.")))
}

fn state_of(checkbox: &str) -> PolicyState {
    if checkbox == "yes" {
        PolicyState::Enabled
    } else {
        PolicyState::Disabled
    }
}

#[derive(Deserialize)]
pub struct TapPolicyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    enabled: String,
    #[serde(default)]
    min: String,
    #[serde(default)]
    max: String,
    #[serde(default)]
    default: String,
    #[serde(default)]
    length: String,
    #[serde(default)]
    once: String,
}

/// `POST /admin/policies/tap` — Authentication Policy Administrator.
pub async fn update_tap_policy(
    State(state): State<WebState>,
    a: AdminSession,
    PageForm(f): PageForm<TapPolicyForm>,
) -> Result<Redirect, PageError> {
    auth::check_csrf(&state, &a.signed_in, &f.csrf)?;
    let patch = TapPolicyPatch {
        state: Some(state_of(&f.enabled)),
        minimum_lifetime_in_minutes: Some(number("The minimum lifetime", &f.min)?),
        maximum_lifetime_in_minutes: Some(number("The maximum lifetime", &f.max)?),
        default_lifetime_in_minutes: Some(number("The default lifetime", &f.default)?),
        default_length: Some(number("The length", &f.length)?),
        is_usable_once: Some(f.once == "yes"),
        ..Default::default()
    };
    state
        .passwordless
        .platform()
        .update_tap_policy(&a.caller, patch)
        .await?;
    Ok(Redirect::to("/admin/policies"))
}

#[derive(Deserialize)]
pub struct Fido2PolicyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    enabled: String,
    #[serde(default)]
    self_service: String,
    #[serde(default)]
    attestation: String,
    #[serde(default)]
    restrict: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    aaguids: String,
}

/// `POST /admin/policies/fido2` — Authentication Policy Administrator.
pub async fn update_fido2_policy(
    State(state): State<WebState>,
    a: AdminSession,
    PageForm(f): PageForm<Fido2PolicyForm>,
) -> Result<Redirect, PageError> {
    auth::check_csrf(&state, &a.signed_in, &f.csrf)?;
    let aaguids = f
        .aaguids
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(|s| Uuid::try_parse(s).map_err(|_| Error::invalid(format!("`{s}` is not an AAGUID."))))
        .collect::<Result<Vec<_>>>()?;
    let kind = match f.kind.as_str() {
        "allow" => EnforcementType::Allow,
        "block" => EnforcementType::Block,
        _ => return Err(Error::invalid("Choose allow or block.").into()),
    };
    let patch = Fido2PolicyPatch {
        state: Some(state_of(&f.enabled)),
        is_self_service_registration_allowed: Some(f.self_service == "yes"),
        is_attestation_enforced: Some(f.attestation == "yes"),
        key_restrictions: Some(KeyRestrictionsPatch {
            is_enforced: Some(f.restrict == "yes"),
            enforcement_type: Some(kind),
            aa_guids: Some(aaguids),
        }),
        ..Default::default()
    };
    state
        .passwordless
        .platform()
        .update_fido2_policy(&a.caller, patch)
        .await?;
    Ok(Redirect::to("/admin/policies"))
}
