//! `GET /v1.0/tapbridge/entra` — any role that may read: the same facts as
//! `tapbridge entra check`, as JSON (Graph error envelope for the caller's own mistakes; Entra's
//! refusals are part of the report, not errors of this request).

use std::sync::Arc;

use axum::extract::{FromRequestParts, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};
use plugin::Error;
use plugin::platform::Platform;
use plugin::secret::SecretString;
use serde_json::{Value, json};

use super::{Entra, RuleTerms};

#[derive(Clone)]
struct EntraApi {
    platform: Arc<Platform>,
    entra: Option<Arc<Entra>>,
    rules: Arc<Vec<RuleTerms>>,
}

/// `rules`: the onboarding rules that mint in Entra.
pub fn routes(
    platform: Arc<Platform>,
    entra: Option<Arc<Entra>>,
    rules: Arc<Vec<RuleTerms>>,
) -> Router {
    Router::new()
        .route("/v1.0/tapbridge/entra", get(get_entra))
        .with_state(EntraApi {
            platform,
            entra,
            rules,
        })
}

/// A caller whose token may read.
struct Reader;

impl FromRequestParts<EntraApi> for Reader {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &EntraApi) -> Result<Self, Error> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| SecretString::new(t.trim().to_owned()))
            .ok_or(Error::Unauthenticated)?;
        let actor = state.platform.authenticate_token(&token).await?;
        actor.check_read()?;
        Ok(Reader)
    }
}

/// `GET /v1.0/tapbridge/entra` — any role that may read.
async fn get_entra(State(api): State<EntraApi>, _: Reader) -> Json<Value> {
    match &api.entra {
        None => Json(json!({
            "configured": false,
            "ok": false,
            "message": "the Entra connector is not configured ([entra] tenant_id is empty)",
        })),
        Some(entra) => {
            Json(serde_json::to_value(entra.check(&api.rules).await).unwrap_or_default())
        }
    }
}
