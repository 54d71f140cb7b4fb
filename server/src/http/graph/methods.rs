//! `/v1.0/users/{user}/authentication/methods`: every method the user has.

use axum::extract::State;
use axum::response::IntoResponse;

use super::odata::{Options, collection};
use super::tap_methods::tap_json;
use crate::http::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::{ApiCaller, GraphPath, ODataQuery};
use plugin::domain::directory::UserRef;

/// `GET …/authentication/methods` — any administrative role. tapbridge accounts have no
/// password, so unlike Entra there is no `passwordAuthenticationMethod` entry.
pub async fn list_methods(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    GraphPath(user): GraphPath<String>,
    ODataQuery(raw): ODataQuery,
) -> ApiResult<impl IntoResponse> {
    let options = Options::parse(&raw, &[])?;
    let (user, taps) = state
        .platform
        .taps(&caller, &UserRef::parse(&user)?)
        .await?;
    let (_, passkeys) = state
        .platform
        .fido2_methods(&caller, &UserRef::Id(user.id))
        .await?;
    let items = taps
        .iter()
        .map(|v| tap_json(v, None))
        .chain(passkeys.iter().map(super::fido2::fido2_json))
        .collect();
    let path = format!("/v1.0/users/{}/authentication/methods", user.id);
    let context = format!("users('{}')/authentication/methods", user.id);
    Ok(collection(&state, &context, &path, &options, items, None))
}
