//! Admin API for the mail outbox, Graph-style (`/v1.0/tapbridge/…`, Graph error envelope).
//!
//! - `GET /v1.0/tapbridge/mail/outbox[?state=pending&$top=50]` — any administrative role.
//! - `POST /v1.0/users/{id | userPrincipalName}/tapbridge.resendOnboarding` — a role that may
//!   manage the user's passes: queues a new message, which carries a fresh pass.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use plugin::Error;
use plugin::domain::directory::UserRef;
use plugin::domain::timefmt::rfc3339;
use plugin::platform::{Caller, Platform};
use plugin::secret::SecretString;
use serde_json::{Value, json};

use super::outbox::{self, State as MailState};
use crate::onboarding::{Rule, resend};

#[derive(Clone)]
struct MailApi {
    platform: Arc<Platform>,
    rules: Arc<Vec<Rule>>,
    default_language: String,
}

pub fn routes(platform: Arc<Platform>, rules: Arc<Vec<Rule>>, default_language: String) -> Router {
    Router::new()
        .route("/v1.0/tapbridge/mail/outbox", get(list_outbox))
        .route(
            "/v1.0/users/{user}/tapbridge.resendOnboarding",
            post(resend_onboarding),
        )
        .with_state(MailApi {
            platform,
            rules,
            default_language,
        })
}

struct Admin(Caller);

impl FromRequestParts<MailApi> for Admin {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &MailApi) -> Result<Self, Error> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| SecretString::new(t.trim().to_owned()))
            .ok_or(Error::Unauthenticated)?;
        let actor = state.platform.authenticate_token(&token).await?;
        Ok(Admin(Caller::new(actor, plugin::http::request_id())))
    }
}

fn message_json(m: &outbox::Message) -> Value {
    json!({
        "id": m.id,
        "kind": m.kind,
        "userId": m.user_id,
        "recipients": m.recipients,
        "cc": m.cc,
        "language": m.language,
        "state": m.state.as_str(),
        "attempts": m.attempts,
        // Attempts that may have arrived unrecorded (a crash after the hand-over): the message
        // sent since says it replaces them.
        "unconfirmedAttempts": m.unconfirmed_attempts,
        "notBefore": rfc3339(m.not_before),
        "nextAttemptDateTime": rfc3339(m.next_attempt_at),
        "lastError": m.last_error,
        "serverReply": m.server_reply,
        "createdDateTime": rfc3339(m.created_at),
        "sentDateTime": m.sent_at.map(rfc3339),
    })
}

/// `GET /v1.0/tapbridge/mail/outbox` — any administrative role. Counts per state, then the
/// newest messages (never a pass: none is stored).
async fn list_outbox(
    State(api): State<MailApi>,
    Admin(caller): Admin,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, Error> {
    caller.actor.check_read()?;
    let state = match q.get("state") {
        None => None,
        Some(s) => Some(
            MailState::ALL
                .into_iter()
                .find(|st| st.as_str() == s)
                .ok_or_else(|| {
                    Error::invalid("state must be pending, sending, sent, failed or cancelled")
                })?,
        ),
    };
    let top = match q.get("$top") {
        None => 100,
        Some(t) => t
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| Error::invalid("$top must be 1 to 1000"))?,
    };
    let mut conn = api.platform.store().read().await?;
    let counts = outbox::counts(&mut conn).await?;
    let messages = outbox::list(&mut conn, state, top).await?;
    let ids: Vec<_> = messages.iter().map(|m| m.id).collect();
    let entra: HashMap<_, _> = plugin::store::entra::of_messages(&mut conn, &ids)
        .await?
        .into_iter()
        .collect();
    let counts: serde_json::Map<String, Value> = counts
        .into_iter()
        .map(|(s, n)| (s.as_str().to_owned(), Value::from(n)))
        .collect();
    Ok(Json(
        json!({"counts": counts, "value": messages.iter().map(|m| {
            let mut v = message_json(m);
            if let Some(e) = entra.get(&m.id) {
                v["entra"] = super::entra::listing(e);
            }
            v
        }).collect::<Vec<_>>()}),
    ))
}

/// `POST /v1.0/users/{user}/tapbridge.resendOnboarding` — Authentication Administrator (users
/// without admin roles) or Privileged Authentication Administrator.
async fn resend_onboarding(
    State(api): State<MailApi>,
    Admin(caller): Admin,
    Path(user): Path<String>,
) -> Result<(StatusCode, Json<Value>), Error> {
    let user = UserRef::parse(&user)?;
    let id = resend(
        &api.platform,
        &caller,
        &user,
        &api.rules,
        &api.default_language,
    )
    .await
    .map_err(into_platform)?;
    Ok((StatusCode::ACCEPTED, Json(json!({"messageId": id}))))
}

fn into_platform(e: crate::error::Error) -> Error {
    match e {
        crate::error::Error::Platform(p) => p,
        other => Error::Internal(other.to_string()),
    }
}
