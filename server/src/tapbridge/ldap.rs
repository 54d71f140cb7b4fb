//! `GET /v1.0/tapbridge/syncSources` — any role that may read: every configured LDAP source
//! with its last result, counters, cursor age and quarantine.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::ExtState;
use crate::http::error::ApiResult;
use crate::http::extract::ApiCaller;

pub(super) async fn list_sync_sources(
    State(s): State<ExtState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Value>> {
    caller.actor.check_read()?;
    let value = bridge::ldap::status::sources_status(
        &s.app.platform,
        &caller,
        &s.ext.ldap_sources,
        s.ext.ldap_lock,
    )
    .await?;
    Ok(Json(json!({ "value": value })))
}
