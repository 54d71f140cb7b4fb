//! `GET /v1.0/tapbridge/entra` — any role that may read: the same facts as
//! `tapbridge entra check`, as JSON (Graph error envelope for the caller's own mistakes; Entra's
//! refusals are part of the report, not errors of this request).

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::ExtState;
use crate::http::error::ApiResult;
use crate::http::extract::ApiCaller;

pub(super) async fn get_entra(
    State(s): State<ExtState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Value>> {
    caller.actor.check_read()?;
    Ok(match &s.ext.entra {
        None => Json(json!({
            "configured": false,
            "ok": false,
            "message": "the Entra connector is not configured ([entra] tenant_id is empty)",
        })),
        Some(entra) => {
            Json(serde_json::to_value(entra.check(&s.ext.entra_rules).await).unwrap_or_default())
        }
    })
}
