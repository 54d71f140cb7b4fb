//! `/v1.0/groups`: read views, creation of local groups, and membership.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::odata::{Options, collection, split_page};
use super::users::user_json;
use crate::http::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::{ApiCaller, GraphJson, GraphPath, ODataQuery};
use plugin::domain::directory::{Group, NewGroup, UserRef};
use plugin::domain::timefmt::rfc3339;
use plugin::{Error, Result};

fn group_json(g: &Group) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.group",
        "id": g.id,
        "displayName": g.display_name,
        "description": g.description,
        "createdDateTime": rfc3339(g.created_at),
        "securityEnabled": true,
        "mailEnabled": false,
        "source@tapbridge": g.source,
    })
}

fn group_id(raw: &str) -> Result<Uuid> {
    Uuid::try_parse(raw.trim()).map_err(|_| Error::invalid(format!("`{raw}` is not a group id")))
}

/// `GET /v1.0/groups` — any administrative role.
pub async fn list_groups(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ODataQuery(raw): ODataQuery,
) -> ApiResult<impl IntoResponse> {
    let options = Options::parse(&raw, &[])?;
    let after = match &options.after {
        Some(a) => Some(group_id(a)?),
        None => None,
    };
    let groups = state
        .platform
        .groups(&caller, after, options.top + 1)
        .await?;
    let (groups, more) = split_page(groups, options.top);
    let next = more
        .then(|| groups.last().map(|g| g.id.to_string()))
        .flatten();
    let items = groups.iter().map(group_json).collect();
    Ok(collection(
        &state,
        "groups",
        "/v1.0/groups",
        &options,
        items,
        next,
    ))
}

/// `GET /v1.0/groups/{id}` — any administrative role.
pub async fn get_group(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    GraphPath(group): GraphPath<String>,
) -> ApiResult<Json<Value>> {
    let group = state.platform.group(&caller, group_id(&group)?).await?;
    Ok(Json(group_json(&group)))
}

/// `GET /v1.0/groups/{id}/members` — any administrative role.
pub async fn list_members(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    GraphPath(group): GraphPath<String>,
    ODataQuery(raw): ODataQuery,
) -> ApiResult<impl IntoResponse> {
    let options = Options::parse(&raw, &[])?;
    let members = state
        .platform
        .group_members(&caller, group_id(&group)?)
        .await?;
    let items = members.iter().map(user_json).collect();
    let path = format!("/v1.0/groups/{group}/members");
    Ok(collection(
        &state,
        "directoryObjects",
        &path,
        &options,
        items,
        None,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateGroup {
    #[serde(rename = "@odata.type")]
    _odata_type: Option<String>,
    display_name: String,
    description: Option<String>,
    // Graph requires these three; only a security group without mail is meaningful here.
    mail_enabled: Option<bool>,
    security_enabled: Option<bool>,
    #[serde(rename = "mailNickname")]
    _mail_nickname: Option<String>,
}

/// `POST /v1.0/groups` — User Administrator.
pub async fn create_group(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    GraphJson(body): GraphJson<CreateGroup>,
) -> ApiResult<impl IntoResponse> {
    if body.mail_enabled == Some(true) || body.security_enabled == Some(false) {
        return Err(Error::invalid("only security groups without mail are supported").into());
    }
    let new = NewGroup {
        display_name: body.display_name,
        description: body.description,
        ..Default::default()
    };
    let group = state.platform.create_group(&caller, new).await?;
    Ok((StatusCode::CREATED, Json(group_json(&group))))
}

#[derive(Debug, Deserialize)]
pub struct MemberRef {
    #[serde(rename = "@odata.id")]
    odata_id: String,
}

/// `POST /v1.0/groups/{id}/members/$ref` with `{"@odata.id": ".../directoryObjects/{id}"}` —
/// User Administrator.
pub async fn add_member(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    GraphPath(group): GraphPath<String>,
    GraphJson(body): GraphJson<MemberRef>,
) -> ApiResult<StatusCode> {
    let member = body
        .odata_id
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    let member = UserRef::parse(member)?;
    state
        .platform
        .add_group_member(&caller, group_id(&group)?, &member)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
