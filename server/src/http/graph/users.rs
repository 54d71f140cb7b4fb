//! `/v1.0/users`: read views of the directory store, and creation of local users.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use super::filter::parse_user_filter;
use super::odata::{Options, collection, split_page};
use crate::http::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::{ApiCaller, GraphJson, GraphPath, ODataQuery};
use plugin::Error;
use plugin::domain::directory::{NewUser, User, UserQuery, UserRef, upn_key};
use plugin::domain::timefmt::{parse_rfc3339, rfc3339};

pub fn user_json(u: &User) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.user",
        "id": u.id,
        "userPrincipalName": u.user_principal_name,
        "displayName": u.display_name,
        "givenName": u.given_name,
        "surname": u.surname,
        "mail": u.mail,
        "otherMails": u.other_mails,
        "accountEnabled": u.account_enabled,
        "employeeHireDate": u.employee_hire_date.map(rfc3339),
        "onPremisesImmutableId": u.anchor,
        "createdDateTime": rfc3339(u.created_at),
        "source@tapbridge": u.source,
        "roles@tapbridge": u.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
    })
}

/// `GET /v1.0/users` — any administrative role. `$filter`, `$top`, `$skiptoken`, `$select`.
pub async fn list_users(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ODataQuery(raw): ODataQuery,
) -> ApiResult<impl IntoResponse> {
    let options = Options::parse(&raw, &["$filter"])?;
    let conditions = match options.get("$filter") {
        Some(f) => parse_user_filter(f)?,
        None => vec![],
    };
    let query = UserQuery {
        conditions,
        after: options.after.clone(),
        limit: options.top + 1,
    };
    let users = state.platform.users(&caller, &query).await?;
    let (users, more) = split_page(users, options.top);
    let next = more
        .then(|| users.last().map(|u| upn_key(&u.user_principal_name)))
        .flatten();
    let items = users.iter().map(user_json).collect();
    Ok(collection(
        &state,
        "users",
        "/v1.0/users",
        &options,
        items,
        next,
    ))
}

/// `GET /v1.0/users/{id | userPrincipalName}` — any administrative role.
pub async fn get_user(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    GraphPath(user): GraphPath<String>,
) -> ApiResult<Json<Value>> {
    let user = state
        .platform
        .user(&caller, &UserRef::parse(&user)?)
        .await?;
    Ok(Json(user_json(&user)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUser {
    #[serde(rename = "@odata.type")]
    _odata_type: Option<String>,
    user_principal_name: String,
    display_name: Option<String>,
    given_name: Option<String>,
    surname: Option<String>,
    mail: Option<String>,
    #[serde(default)]
    other_mails: Vec<String>,
    account_enabled: Option<bool>,
    employee_hire_date: Option<String>,
    /// Accepted only to refuse it with a clear message: tapbridge accounts have no password.
    password_profile: Option<Value>,
    /// Graph requires it for mailboxes; tapbridge has none and ignores it.
    #[serde(rename = "mailNickname")]
    _mail_nickname: Option<String>,
}

/// `POST /v1.0/users` — User Administrator. Creates a local, passwordless user.
pub async fn create_user(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    GraphJson(body): GraphJson<CreateUser>,
) -> ApiResult<impl IntoResponse> {
    if body.password_profile.is_some() {
        return Err(Error::invalid(
            "passwordProfile is not supported: tapbridge accounts are passwordless",
        )
        .into());
    }
    let employee_hire_date = match body.employee_hire_date.as_deref() {
        None => None,
        Some(s) => Some(
            parse_rfc3339(s)
                .ok_or_else(|| Error::invalid("employeeHireDate must be an RFC 3339 timestamp"))?,
        ),
    };
    let new = NewUser {
        user_principal_name: body.user_principal_name,
        display_name: body.display_name,
        given_name: body.given_name,
        surname: body.surname,
        mail: body.mail,
        other_mails: body.other_mails,
        account_enabled: body.account_enabled.unwrap_or(true),
        employee_hire_date,
        ..Default::default()
    };
    let user = state.platform.create_user(&caller, new).await?;
    Ok((StatusCode::CREATED, Json(user_json(&user))))
}
