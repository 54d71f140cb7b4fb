//! Passkey registration: reachable with a pass (bootstrap) session or a full one.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use webauthn_rs::prelude::RegisterPublicKeyCredential;

use super::WebState;
use super::auth::{self, NoSession, RegistrationSession};
use super::error::{JsonError, PageError};
use super::form::ScriptJson;
use super::i18n::Lang;
use super::notices::Notice;
use super::pages::{Page, When};
use super::security_info::tap_state;
use super::viewer;
use crate::http;
use plugin::domain::session::SessionKind;

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
    let page = Page::new("register.html", "register_title");
    let lang = page.lang();
    let ends = When::new(s.session.absolute_expires_at, lang);
    let have = match info.passkeys.len() {
        0 => String::new(),
        1 => lang.text("register_have_one").to_owned(),
        n => lang.format("register_have_many", &[("count", &n.to_string())]),
    };
    Ok(page
        .with("bootstrap", &(s.session.kind == SessionKind::Bootstrap))
        .with("ends", &ends)
        .with("have", &have)
        .into_response())
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
    let registered = state
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
        // With the session gone, the last page learns the user's language from its link.
        SessionKind::Bootstrap if registered.session_ended => {
            format!("/register/done?lang={}", viewer::lang().code())
        }
        SessionKind::Bootstrap => "/register/done".to_owned(),
        SessionKind::Full => Notice::PasskeyAdded.after("/security-info"),
    };
    let mut response = Json(json!({ "redirect": next })).into_response();
    if registered.session_ended
        && let Some(clear) =
            state
                .settings
                .cookie_header(&state.settings.session_cookie(), "", Some(0))
    {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    Ok(response)
}

#[derive(Deserialize)]
pub struct DoneQuery {
    /// The language of a page shown after the session ended (a language tag; others are
    /// ignored).
    lang: Option<String>,
}

/// `GET /register/done` — anyone: a session of either kind, or none when a one-time pass's
/// session ended with the registration. Says the pass is no longer needed only when it can no
/// longer be used; a pass that still works is named as such.
pub async fn done(
    State(state): State<WebState>,
    Query(query): Query<DoneQuery>,
    session: Result<RegistrationSession, NoSession>,
) -> Result<Response, PageError> {
    let s = match session {
        Ok(RegistrationSession(s)) => s,
        Err(NoSession::Refused(e)) => return Err(e.into()),
        // The one-time pass is spent: nothing to sign out of, the passkey signs in.
        Err(_) => {
            if let Some(lang) = query.lang.as_deref().and_then(Lang::from_tag) {
                viewer::prefer_lang(lang);
            }
            return Ok(Page::new("registered.html", "registered_title")
                .with("pass_usable", &false)
                .with("tap", &None::<()>)
                .with("spent", &true)
                .into_response());
        }
    };
    let page = Page::new("registered.html", "registered_title");
    let info = state.passwordless.security_info(&s).await?;
    let tap = tap_state(&info, page.lang());
    Ok(page
        .with("pass_usable", &tap.as_ref().is_some_and(|t| t.usable))
        .with("tap", &tap)
        .with("spent", &false)
        .into_response())
}
