//! Admin API for the mail outbox, Graph-style (`/v1.0/tapbridge/…`, Graph error envelope).
//!
//! - `GET /v1.0/tapbridge/mail/outbox[?state=pending&$top=50]` — any administrative role.
//! - `POST /v1.0/users/{id | userPrincipalName}/tapbridge.resendOnboarding` — a role that may
//!   manage the user's passes: queues a new message, which carries a fresh pass.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use bridge::mail::outbox::{self, State as MailState};
use bridge::onboarding::resend;
use plugin::Error;
use plugin::domain::directory::UserRef;
use plugin::domain::timefmt::rfc3339;
use plugin::platform::OutboxListing;
use serde_json::{Value, json};

use super::ExtState;
use crate::http::error::ApiResult;
use crate::http::extract::ApiCaller;

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
pub(super) async fn list_outbox(
    State(s): State<ExtState>,
    ApiCaller(caller): ApiCaller,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
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
    let OutboxListing {
        counts,
        messages,
        entra,
    } = s.app.platform.mail_outbox(&caller, state, top).await?;
    let counts: serde_json::Map<String, Value> = counts
        .into_iter()
        .map(|(s, n)| (s.as_str().to_owned(), Value::from(n)))
        .collect();
    Ok(Json(
        json!({"counts": counts, "value": messages.iter().map(|m| {
            let mut v = message_json(m);
            if let Some(e) = entra.get(&m.id) {
                v["entra"] = bridge::mail::entra::listing(e);
            }
            v
        }).collect::<Vec<_>>()}),
    ))
}

/// `POST /v1.0/users/{user}/tapbridge.resendOnboarding` — Authentication Administrator (users
/// without admin roles) or Privileged Authentication Administrator.
pub(super) async fn resend_onboarding(
    State(s): State<ExtState>,
    ApiCaller(caller): ApiCaller,
    Path(user): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let user = UserRef::parse(&user)?;
    let id = resend(
        &s.app.platform,
        &caller,
        &user,
        &s.ext.rules,
        &s.ext.default_language,
    )
    .await
    .map_err(into_platform)?;
    Ok((StatusCode::ACCEPTED, Json(json!({"messageId": id}))))
}

fn into_platform(e: bridge::error::Error) -> Error {
    match e {
        bridge::error::Error::Platform(p) => p,
        other => Error::Internal(other.to_string()),
    }
}
