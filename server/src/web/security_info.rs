//! "Security info": the signed-in user's passkeys and pass, with rename and delete.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::WebState;
use super::auth::{self, FullSession};
use super::error::PageError;
use super::form::{PageForm, PagePath};
use super::i18n::Lang;
use super::notices::{Done, Notice};
use super::pages::{Page, When, text};
use super::pass_state::{PassState, pass_state};
use crate::http;
use plugin::Error;
use plugin::domain::webauthn::{PasskeyMethod, known_model, passkey_name};
use plugin::platform::{SecurityInfo, SignedIn};

#[derive(Serialize)]
struct PasskeyRow {
    id: String,
    name: String,
    model: String,
    synced: bool,
    created: When,
    last_used: Option<When>,
    /// What was typed into the rename field when it was refused, and why.
    typed: Option<String>,
    error: Option<String>,
}

/// The authenticator's make and model, or a generic name in the page's language.
pub fn model(p: &PasskeyMethod, lang: Lang) -> String {
    known_model(p.aaguid)
        .unwrap_or_else(|| lang.text("passkey_model_unknown"))
        .to_owned()
}

fn rows(info: &SecurityInfo, lang: Lang) -> Vec<PasskeyRow> {
    info.passkeys
        .iter()
        .map(|p| PasskeyRow {
            id: p.id.to_string(),
            name: p.display_name.clone(),
            model: model(p, lang),
            synced: p.backup_state,
            created: When::new(p.created_at, lang),
            last_used: p.last_used_at.map(|t| When::new(t, lang)),
            typed: None,
            error: None,
        })
        .collect()
}

/// The user's pass, in words; `None` when they have none.
pub fn tap_state(info: &SecurityInfo, lang: Lang) -> Option<PassState> {
    info.tap
        .as_ref()
        .map(|(record, usability)| pass_state(record, usability, lang))
}

fn security_page(info: &SecurityInfo, refused: Option<(Uuid, &str, String)>) -> Page {
    let page = Page::new("security_info.html", "security_info_title");
    let lang = page.lang();
    let mut rows = rows(info, lang);
    if let Some((id, typed, error)) = refused
        && let Some(row) = rows.iter_mut().find(|r| r.id == id.to_string())
    {
        row.typed = Some(typed.to_owned());
        row.error = Some(error);
    }
    page.with("passkeys", &rows)
        .with("tap", &tap_state(info, lang))
}

/// `GET /security-info` — a full session.
pub async fn page(
    State(state): State<WebState>,
    FullSession(s): FullSession,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let info = state.passwordless.security_info(&s).await?;
    let mut page = security_page(&info, None);
    if let Some(n) = done.notice(&[
        Notice::PasskeyAdded,
        Notice::PasskeyRenamed,
        Notice::PasskeyDeleted,
    ]) {
        page = page.notice(n.key());
    }
    Ok(page.into_response())
}

#[derive(Deserialize)]
pub struct RenameForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

/// The page's words for a name the domain refuses.
fn name_problem(name: &str, lang: Lang) -> Option<String> {
    let refused = passkey_name(name, "").is_err();
    refused.then(|| {
        let trimmed = name.trim();
        let key = if trimmed.is_empty() {
            "passkey_name_missing"
        } else if trimmed.chars().any(char::is_control) {
            "passkey_name_control"
        } else {
            "passkey_name_too_long"
        };
        lang.format(
            key,
            &[("max", &plugin::domain::webauthn::MAX_NAME_CHARS.to_string())],
        )
    })
}

/// `POST /security-info/passkeys/{id}/rename` — a full session, own passkeys only. A refused
/// name comes back next to its field, as typed.
pub async fn rename_passkey(
    State(state): State<WebState>,
    FullSession(s): FullSession,
    PagePath(id): PagePath<Uuid>,
    PageForm(form): PageForm<RenameForm>,
) -> Result<Response, PageError> {
    auth::check_csrf(&state, &s, &form.csrf)?;
    if let Some(problem) = name_problem(&form.name, super::viewer::lang()) {
        return refused(&state, &s, id, &form.name, problem).await;
    }
    state
        .passwordless
        .rename_passkey(&s, id, &form.name, http::request_id())
        .await?;
    Ok(Redirect::to(&Notice::PasskeyRenamed.after("/security-info")).into_response())
}

async fn refused(
    state: &WebState,
    s: &SignedIn,
    id: Uuid,
    typed: &str,
    problem: String,
) -> Result<Response, PageError> {
    let info = state.passwordless.security_info(s).await?;
    if !info.passkeys.iter().any(|p| p.id == id) {
        return Err(Error::not_found(format!("passkey `{id}`")).into());
    }
    // Bounded: what comes back is at most what the field lets one type, and a bit.
    let typed: String = typed.chars().take(256).collect();
    Ok(security_page(&info, Some((id, &typed, problem)))
        .status(StatusCode::BAD_REQUEST)
        .into_response())
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: String,
}

/// `POST /security-info/passkeys/{id}/delete` — a full session, own passkeys only. Deleting
/// the last way to sign in needs a second, explicit confirmation.
pub async fn delete_passkey(
    State(state): State<WebState>,
    FullSession(s): FullSession,
    PagePath(id): PagePath<Uuid>,
    PageForm(form): PageForm<DeleteForm>,
) -> Result<Response, PageError> {
    auth::check_csrf(&state, &s, &form.csrf)?;
    if form.confirm != "yes" {
        let info = state.passwordless.security_info(&s).await?;
        let last = info.passkeys.len() == 1
            && info.passkeys.iter().any(|p| p.id == id)
            && !info.tap.as_ref().is_some_and(|(_, u)| u.is_usable());
        if last {
            let name = info
                .passkeys
                .first()
                .map(|p| p.display_name.clone())
                .unwrap_or_default();
            let page = Page::new("confirm.html", "confirm_last_passkey_title");
            let message = page
                .lang()
                .format("confirm_last_passkey_message", &[("name", &name)]);
            return Ok(page
                .with("heading", &text("confirm_last_passkey_title"))
                .with("message", &message)
                .with("action", &format!("/security-info/passkeys/{id}/delete"))
                .with("confirm_label", &text("confirm_delete_it"))
                .with("cancel", &"/security-info")
                .with("cancel_label", &text("confirm_keep_it"))
                .into_response());
        }
    }
    state
        .passwordless
        .delete_own_passkey(&s, id, http::request_id())
        .await?;
    Ok(Redirect::to(&Notice::PasskeyDeleted.after("/security-info")).into_response())
}
