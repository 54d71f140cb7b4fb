//! `/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::http::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::{ApiCaller, GraphJson};
use plugin::domain::tap_policy::{POLICY_ID, POLICY_ODATA_TYPE, TapPolicy, TapPolicyPatch};

fn policy_json(state: &AppState, p: &TapPolicy) -> Value {
    let mut v = json!({
        "@odata.context": format!(
            "{}/v1.0/$metadata#policies/authenticationMethodsPolicy/authenticationMethodConfigurations/$entity",
            state.settings.public_url
        ),
        "@odata.type": POLICY_ODATA_TYPE,
        "id": POLICY_ID,
    });
    if let (Value::Object(out), Ok(Value::Object(fields))) = (&mut v, serde_json::to_value(p)) {
        out.extend(fields);
    }
    v
}

/// `GET` — any administrative role.
pub async fn get_tap_policy(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Value>> {
    let policy = state.platform.tap_policy(&caller).await?;
    Ok(Json(policy_json(&state, &policy)))
}

/// `PATCH` — Authentication Policy Administrator. 204 on success, as Graph.
pub async fn patch_tap_policy(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    GraphJson(patch): GraphJson<TapPolicyPatch>,
) -> ApiResult<StatusCode> {
    state.platform.update_tap_policy(&caller, patch).await?;
    Ok(StatusCode::NO_CONTENT)
}
