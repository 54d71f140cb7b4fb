//! Passkeys in the Graph API: `fido2AuthenticationMethod` under
//! `/v1.0/users/{user}/authentication/fido2Methods`, and the policy
//! `fido2AuthenticationMethodConfiguration`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use uuid::Uuid;

use super::odata::{Options, collection};
use crate::http::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::{ApiCaller, GraphJson, GraphPath, ODataQuery};
use plugin::domain::directory::UserRef;
use plugin::domain::fido2_policy::{self, Fido2Policy, Fido2PolicyPatch};
use plugin::domain::timefmt::rfc3339;
use plugin::domain::webauthn::PasskeyMethod;
use plugin::{Error, Result};

pub const ODATA_TYPE: &str = "#microsoft.graph.fido2AuthenticationMethod";
pub const POLICY_ODATA_TYPE: &str = "#microsoft.graph.fido2AuthenticationMethodConfiguration";

/// The Graph shape of a passkey. Counter and backup state travel as `@tapbridge` annotations.
pub fn fido2_json(m: &PasskeyMethod) -> Value {
    json!({
        "@odata.type": ODATA_TYPE,
        "id": m.id,
        "displayName": m.display_name,
        "createdDateTime": rfc3339(m.created_at),
        "aaGuid": m.aaguid,
        "model": m.model(),
        "attestationCertificates": m.attestation_certificates,
        "attestationLevel": m.attestation_level.as_str(),
        "@tapbridge.lastUsedDateTime": m.last_used_at.map(rfc3339),
        "@tapbridge.backupState": if m.backup_state { "backedUp" } else { "notBackedUp" },
    })
}

fn method_id(raw: &str) -> Result<Uuid> {
    Uuid::try_parse(raw.trim())
        .map_err(|_| Error::not_found(format!("fido2AuthenticationMethod `{raw}`")))
}

/// `GET …/fido2Methods` — any administrative role.
pub async fn list_fido2_methods(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    GraphPath(user): GraphPath<String>,
    ODataQuery(raw): ODataQuery,
) -> ApiResult<impl IntoResponse> {
    let options = Options::parse(&raw, &[])?;
    let (user, methods) = state
        .platform
        .fido2_methods(&caller, &UserRef::parse(&user)?)
        .await?;
    let items = methods.iter().map(fido2_json).collect();
    let path = format!("/v1.0/users/{}/authentication/fido2Methods", user.id);
    let context = format!("users('{}')/authentication/fido2Methods", user.id);
    Ok(collection(&state, &context, &path, &options, items, None))
}

/// `GET …/fido2Methods/{id}` — any administrative role.
pub async fn get_fido2_method(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    GraphPath((user, id)): GraphPath<(String, String)>,
) -> ApiResult<Json<Value>> {
    let id = method_id(&id)?;
    let (user, methods) = state
        .platform
        .fido2_methods(&caller, &UserRef::parse(&user)?)
        .await?;
    let m = methods
        .iter()
        .find(|m| m.id == id)
        .ok_or_else(|| Error::not_found(format!("fido2AuthenticationMethod `{id}`")))?;
    let mut v = fido2_json(m);
    v["@odata.context"] = Value::from(format!(
        "{}/v1.0/$metadata#users('{}')/authentication/fido2Methods/$entity",
        state.settings.public_url, user.id
    ));
    Ok(Json(v))
}

/// `DELETE …/fido2Methods/{id}` — Authentication Administrator (users without admin roles),
/// Privileged Authentication Administrator (anyone). 204, as Graph.
pub async fn delete_fido2_method(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    GraphPath((user, id)): GraphPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let id = method_id(&id)?;
    state
        .platform
        .delete_fido2_method(&caller, &UserRef::parse(&user)?, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn policy_json(state: &AppState, p: &Fido2Policy) -> Value {
    let mut v = json!({
        "@odata.context": format!(
            "{}/v1.0/$metadata#policies/authenticationMethodsPolicy/authenticationMethodConfigurations/$entity",
            state.settings.public_url
        ),
        "@odata.type": POLICY_ODATA_TYPE,
        "id": fido2_policy::POLICY_ID,
    });
    if let (Value::Object(out), Ok(Value::Object(fields))) = (&mut v, serde_json::to_value(p)) {
        out.extend(fields);
    }
    v
}

/// `GET …/authenticationMethodConfigurations/Fido2` — any administrative role.
pub async fn get_fido2_policy(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Value>> {
    let policy = state.platform.fido2_policy(&caller).await?;
    Ok(Json(policy_json(&state, &policy)))
}

/// `PATCH` the same — Authentication Policy Administrator. 204 on success, as Graph.
pub async fn patch_fido2_policy(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    GraphJson(patch): GraphJson<Fido2PolicyPatch>,
) -> ApiResult<StatusCode> {
    state.platform.update_fido2_policy(&caller, patch).await?;
    Ok(StatusCode::NO_CONTENT)
}
