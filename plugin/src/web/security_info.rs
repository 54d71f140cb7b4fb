//! "Security info": the signed-in user's passkeys and pass, with rename and delete.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::WebState;
use super::auth::{self, FullSession};
use super::error::PageError;
use super::form::{PageForm, PagePath};
use super::pages::{Page, human_time};
use crate::domain::timefmt::rfc3339;
use crate::http;
use crate::platform::SecurityInfo;

#[derive(Serialize)]
struct PasskeyRow {
    id: String,
    name: String,
    model: &'static str,
    synced: bool,
    created: String,
    created_text: String,
    last_used: String,
    last_used_text: String,
}

fn rows(info: &SecurityInfo) -> Vec<PasskeyRow> {
    info.passkeys
        .iter()
        .map(|p| PasskeyRow {
            id: p.id.to_string(),
            name: p.display_name.clone(),
            model: p.model(),
            synced: p.backup_state,
            created: rfc3339(p.created_at),
            created_text: human_time(p.created_at),
            last_used: p.last_used_at.map(rfc3339).unwrap_or_default(),
            last_used_text: p.last_used_at.map(human_time).unwrap_or_default(),
        })
        .collect()
}

/// A pass's state in a sentence.
pub fn tap_sentence(info: &SecurityInfo) -> String {
    match &info.tap {
        None => String::new(),
        Some((record, usability)) if usability.is_usable() => format!(
            "A pass is active until {}.",
            human_time(record.expires_at())
        ),
        Some((_, usability)) => {
            use crate::domain::tap::UsabilityReason as R;
            match usability.reason {
                R::OneTimeUsed => "Your pass has been used; you no longer need it.".to_owned(),
                R::Expired => "Your pass has expired.".to_owned(),
                R::NotYetValid => "Your pass is not valid yet.".to_owned(),
                R::DisabledByPolicy | R::EnabledByPolicy => {
                    "A pass exists but cannot be used.".to_owned()
                }
            }
        }
    }
}

/// `GET /security-info` — a full session.
pub async fn page(
    State(state): State<WebState>,
    FullSession(s): FullSession,
) -> Result<Response, PageError> {
    let info = state.passwordless.security_info(&s).await?;
    let csrf = state.passwordless.csrf_token(&s.session);
    Ok(
        Page::new("security_info.html", "Security info", Some(&s), &csrf)
            .with("passkeys", &rows(&info))
            .with("tap", &tap_sentence(&info))
            .with("notice", &"")
            .into_response(),
    )
}

#[derive(Deserialize)]
pub struct RenameForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

/// `POST /security-info/passkeys/{id}/rename` — a full session, own passkeys only.
pub async fn rename_passkey(
    State(state): State<WebState>,
    FullSession(s): FullSession,
    PagePath(id): PagePath<Uuid>,
    PageForm(form): PageForm<RenameForm>,
) -> Result<Redirect, PageError> {
    auth::check_csrf(&state, &s, &form.csrf)?;
    state
        .passwordless
        .rename_passkey(&s, id, &form.name, http::request_id())
        .await?;
    Ok(Redirect::to("/security-info"))
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
            let csrf = state.passwordless.csrf_token(&s.session);
            return Ok(
                Page::new("confirm_delete.html", "Delete passkey", Some(&s), &csrf)
                    .with("id", &id.to_string())
                    .with("name", &name)
                    .into_response(),
            );
        }
    }
    state
        .passwordless
        .delete_own_passkey(&s, id, http::request_id())
        .await?;
    Ok(Redirect::to("/security-info").into_response())
}
