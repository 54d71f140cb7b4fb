//! `/v1.0/users/{user}/authentication/temporaryAccessPassMethods`: Graph's
//! `temporaryAccessPassAuthenticationMethod`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::odata::{Options, collection};
use crate::http::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::{ApiCaller, GraphJson, GraphPath, ODataQuery};
use plugin::domain::directory::UserRef;
use plugin::domain::tap_policy::TapRequest;
use plugin::domain::timefmt::{parse_rfc3339, rfc3339};
use plugin::platform::TapView;
use plugin::secret::SecretString;
use plugin::{Error, Result};

pub const ODATA_TYPE: &str = "#microsoft.graph.temporaryAccessPassAuthenticationMethod";

/// The Graph shape. `pass` is given only in the response that creates the pass; everywhere
/// else `temporaryAccessPass` is null. Extra facts travel as `@tapbridge` annotations, which
/// Graph clients keep as additional data.
pub fn tap_json(view: &TapView, pass: Option<&SecretString>) -> Value {
    let r = &view.record;
    let mut v = json!({
        "@odata.type": ODATA_TYPE,
        "id": r.id,
        "temporaryAccessPass": pass.map(SecretString::expose),
        "createdDateTime": rfc3339(r.created_at),
        "startDateTime": rfc3339(r.valid_from()),
        "lifetimeInMinutes": r.lifetime_in_minutes,
        "isUsableOnce": r.is_usable_once,
        "isUsable": view.usability.is_usable(),
        "methodUsabilityReason": view.usability.reason.as_str(),
        "@tapbridge.expirationDateTime": rfc3339(r.expires_at()),
        "@tapbridge.failedAttempts": r.failed_attempts,
    });
    if let Some(detail) = view.usability.detail {
        v["methodUsabilityReason@tapbridge.detail"] = Value::from(detail.as_str());
    }
    v
}

fn user_ref(raw: &str) -> Result<UserRef> {
    UserRef::parse(raw)
}

fn tap_id(raw: &str) -> Result<Uuid> {
    Uuid::try_parse(raw.trim())
        .map_err(|_| Error::not_found(format!("temporary access pass `{raw}`")))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTap {
    #[serde(rename = "@odata.type")]
    odata_type: Option<String>,
    start_date_time: Option<String>,
    lifetime_in_minutes: Option<u32>,
    is_usable_once: Option<bool>,
}

/// `POST …/temporaryAccessPassMethods` — Authentication Administrator (users without admin
/// roles) or Privileged Authentication Administrator. The response is the only place the
/// pass ever appears; it is marked uncacheable.
pub async fn create_tap(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    GraphPath(user): GraphPath<String>,
    GraphJson(body): GraphJson<CreateTap>,
) -> ApiResult<impl IntoResponse> {
    if let Some(t) = &body.odata_type
        && t != ODATA_TYPE
    {
        return Err(Error::invalid(format!("@odata.type must be {ODATA_TYPE}")).into());
    }
    let start_date_time = match body.start_date_time.as_deref() {
        None => None,
        Some(s) => Some(
            parse_rfc3339(s)
                .ok_or_else(|| Error::invalid("startDateTime must be an RFC 3339 timestamp"))?,
        ),
    };
    let request = TapRequest {
        start_date_time,
        lifetime_in_minutes: body.lifetime_in_minutes,
        is_usable_once: body.is_usable_once,
    };
    let issued = state
        .platform
        .issue_tap(&caller, &user_ref(&user)?, request)
        .await?;
    let location = format!(
        "{}/v1.0/users/{}/authentication/temporaryAccessPassMethods/{}",
        state.settings.public_url, issued.user.id, issued.view.record.id
    );
    let mut response = (
        StatusCode::CREATED,
        Json(tap_json(&issued.view, Some(&issued.pass))),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, v);
    }
    Ok(response)
}

/// `GET …/temporaryAccessPassMethods` — any administrative role.
pub async fn list_taps(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    GraphPath(user): GraphPath<String>,
    ODataQuery(raw): ODataQuery,
) -> ApiResult<impl IntoResponse> {
    let options = Options::parse(&raw, &[])?;
    let (user, views) = state.platform.taps(&caller, &user_ref(&user)?).await?;
    let items = views.iter().map(|v| tap_json(v, None)).collect();
    let path = format!(
        "/v1.0/users/{}/authentication/temporaryAccessPassMethods",
        user.id
    );
    let context = format!(
        "users('{}')/authentication/temporaryAccessPassMethods",
        user.id
    );
    Ok(collection(&state, &context, &path, &options, items, None))
}

/// `GET …/temporaryAccessPassMethods/{id}` — any administrative role.
pub async fn get_tap(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    GraphPath((user, id)): GraphPath<(String, String)>,
) -> ApiResult<Json<Value>> {
    let view = state
        .platform
        .tap(&caller, &user_ref(&user)?, tap_id(&id)?)
        .await?;
    Ok(Json(tap_json(&view, None)))
}

/// `DELETE …/temporaryAccessPassMethods/{id}` — as for create.
pub async fn delete_tap(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    GraphPath((user, id)): GraphPath<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .platform
        .delete_tap(&caller, &user_ref(&user)?, Some(tap_id(&id)?))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
