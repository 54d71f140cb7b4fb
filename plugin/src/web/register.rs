//! Passkey registration: reachable with a pass (bootstrap) session or a full one.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use webauthn_rs::prelude::RegisterPublicKeyCredential;

use super::WebState;
use super::auth::{self, RegistrationSession};
use super::error::{JsonError, PageError};
use super::form::ScriptJson;
use super::pages::{Page, human_time};
use crate::domain::session::SessionKind;
use crate::http;

fn header_token(headers: &HeaderMap) -> &str {
    headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// `GET /register` — a session of either kind.
pub async fn page(
    State(state): State<WebState>,
    RegistrationSession(s): RegistrationSession,
) -> Result<Response, PageError> {
    let info = state.passwordless.security_info(&s).await?;
    let csrf = state.passwordless.csrf_token(&s.session);
    Ok(
        Page::new("register.html", "Create a passkey", Some(&s), &csrf)
            .with("bootstrap", &(s.session.kind == SessionKind::Bootstrap))
            .with("ends", &human_time(s.session.absolute_expires_at))
            .with("count", &info.passkeys.len())
            .into_response(),
    )
}

/// `POST /register/options` — a session of either kind; session-bound CSRF token.
pub async fn options(
    State(state): State<WebState>,
    RegistrationSession(s): RegistrationSession,
    headers: HeaderMap,
) -> Result<Response, JsonError> {
    auth::check_csrf(&state, &s, header_token(&headers))?;
    let (ceremony, options) = state.passwordless.start_registration(&s).await?;
    Ok(Json(json!({ "ceremony": ceremony, "options": options })).into_response())
}

#[derive(Deserialize)]
pub struct RegistrationAnswer {
    ceremony: String,
    #[serde(default)]
    name: String,
    credential: RegisterPublicKeyCredential,
}

/// `POST /register` — a session of either kind; session-bound CSRF token.
pub async fn finish(
    State(state): State<WebState>,
    RegistrationSession(s): RegistrationSession,
    headers: HeaderMap,
    ScriptJson(answer): ScriptJson<RegistrationAnswer>,
) -> Result<Response, JsonError> {
    auth::check_csrf(&state, &s, header_token(&headers))?;
    state
        .passwordless
        .finish_registration(
            &s,
            &answer.ceremony,
            &answer.credential,
            &answer.name,
            http::request_id(),
        )
        .await?;
    let next = match s.session.kind {
        SessionKind::Bootstrap => "/register/done",
        SessionKind::Full => "/security-info",
    };
    Ok(Json(json!({ "redirect": next })).into_response())
}

/// `GET /register/done` — a session of either kind.
pub async fn done(
    State(state): State<WebState>,
    RegistrationSession(s): RegistrationSession,
) -> Response {
    let csrf = state.passwordless.csrf_token(&s.session);
    Page::new("registered.html", "Passkey ready", Some(&s), &csrf).into_response()
}
