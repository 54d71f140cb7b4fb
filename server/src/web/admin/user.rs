//! One user as an administrator sees them: their passkeys and pass, creating a pass (shown
//! once, post/redirect/get) and deleting a pass or a passkey (after a confirmation).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::web::WebState;
use crate::web::auth::{self, AdminSession};
use crate::web::error::PageError;
use crate::web::fields::{FieldErrors, whole_number};
use crate::web::form::{PageForm, PagePath, PageQuery};
use crate::web::i18n::Lang;
use crate::web::notices::{Done, Notice};
use crate::web::pages::{Page, When, text};
use crate::web::pass_state::pass_state;
use crate::web::security_info::model;
use plugin::Error;
use plugin::domain::directory::{User, UserRef};
use plugin::domain::tap::UsabilityDetail;
use plugin::domain::tap_policy::{TapPolicy, TapRequest};
use plugin::domain::webauthn::{AttestationLevel, known_model};
use plugin::platform::pass_handover::{HandedOver, Issued};
use plugin::secret::random_bytes;

#[derive(Serialize)]
struct PasskeyRow {
    id: String,
    name: String,
    model: String,
    /// The AAGUID, shown only when no model name is known for it.
    unknown_aaguid: Option<String>,
    attested: bool,
    created: When,
    last_used: Option<When>,
}

/// The create-a-pass form as it was typed, to show again with its problems.
struct TapInput {
    lifetime: String,
    once: bool,
    errors: FieldErrors,
    /// A problem with the form as a whole (the policy refused it).
    error: Option<String>,
}

/// What the page shows besides the user: a pass just created, or that it was shown before.
#[derive(Default)]
struct Extras {
    handed_over: Option<HandedOver>,
    shown_before: bool,
    input: Option<TapInput>,
    notice: Option<Notice>,
}

/// A fresh id for the create-a-pass form: the same id sent twice creates one pass.
fn form_id() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<16>())
}

/// Why no pass can be created for this user, in the page's words.
fn blocker_text(blocker: UsabilityDetail, lang: Lang) -> &'static str {
    match blocker {
        UsabilityDetail::PolicyDisabled => lang.text("pass_blocked_policy_off"),
        UsabilityDetail::NotTargeted => lang.text("pass_blocked_not_targeted"),
        UsabilityDetail::AccountDisabled => lang.text("pass_blocked_account_disabled"),
        UsabilityDetail::LockedOut => lang.text("pass_state_locked"),
    }
}

async fn user_page(
    state: &WebState,
    a: &AdminSession,
    id: Uuid,
    extras: Extras,
) -> Result<Page, PageError> {
    let platform = state.passwordless.platform();
    let user_ref = UserRef::Id(id);
    let (user, taps) = platform.taps(&a.caller, &user_ref).await?;
    let (_, passkeys) = platform.fido2_methods(&a.caller, &user_ref).await?;
    let policy = platform.tap_policy(&a.caller).await?;
    let blocker = platform.pass_blocker(&a.caller, &user_ref).await?;
    let page = Page::titled("admin_user.html", &user.user_principal_name);
    let lang = page.lang();
    let rows: Vec<PasskeyRow> = passkeys
        .iter()
        .map(|p| PasskeyRow {
            id: p.id.to_string(),
            name: p.display_name.clone(),
            model: model(p, lang),
            unknown_aaguid: known_model(p.aaguid)
                .is_none()
                .then(|| p.aaguid.to_string()),
            attested: p.attestation_level == AttestationLevel::Attested,
            created: When::new(p.created_at, lang),
            last_used: p.last_used_at.map(|t| When::new(t, lang)),
        })
        .collect();
    let tap = taps
        .first()
        .map(|v| pass_state(&v.record, &v.usability, lang));
    let missing = a.caller.actor.missing_role_to_manage_passes_for(&user);
    let read_only =
        missing.map(|role| lang.format("admin_user_read_only", &[("role", role.display_name())]));
    let (lifetime, once, errors, form_error) = match extras.input {
        Some(i) => (i.lifetime, i.once, i.errors, i.error),
        None => (
            policy.default_lifetime_in_minutes.to_string(),
            policy.is_usable_once,
            FieldErrors::new(),
            None,
        ),
    };
    let issued = extras.handed_over.as_ref().map(|h| {
        let view = taps.first().filter(|v| v.record.id == h.tap_id);
        serde_json::json!({
            "pass": h.pass.expose(),
            "expires": view.map(|v| When::new(v.record.expires_at(), lang)),
            "once": view.is_some_and(|v| v.record.is_usable_once),
            "replaced": view.is_none(),
        })
    });
    let mut page = page
        .with("id", &user.id.to_string())
        .with("upn", &user.user_principal_name)
        .with("name", &user.display_name.clone().unwrap_or_default())
        .with("mail", &user.mail.clone().unwrap_or_default())
        .with("disabled", &!user.account_enabled)
        .with("is_admin", &user.is_admin())
        .with("passkeys", &rows)
        .with("tap", &tap)
        .with("read_only", &read_only)
        .with("blocked", &blocker.map(|b| blocker_text(b, lang)))
        .with("form_id", &form_id())
        .with("lifetime", &lifetime)
        .with("min", &policy.minimum_lifetime_in_minutes)
        .with("max", &policy.maximum_lifetime_in_minutes)
        .with(
            "lifetime_hint",
            &lang.format(
                "lifetime_hint",
                &[
                    ("min", &policy.minimum_lifetime_in_minutes.to_string()),
                    ("max", &policy.maximum_lifetime_in_minutes.to_string()),
                ],
            ),
        )
        .with("once", &once)
        .with("once_forced", &policy.is_usable_once)
        .with("errors", &errors)
        .with("form_error", &form_error)
        .with("issued", &issued)
        .with("shown_before", &extras.shown_before);
    if let Some(n) = extras.notice {
        page = page.notice(n.key());
    }
    Ok(page)
}

#[derive(Deserialize)]
pub struct Shown {
    /// The form id of a pass just created, to show it (once).
    #[serde(default)]
    pass: String,
    #[serde(flatten)]
    done: Done,
}

/// `GET /admin/users/{id}[?pass=FORM]` — any administrative role. With `pass`, the pass that
/// form created in this session, the first time only.
pub async fn show_user(
    State(state): State<WebState>,
    a: AdminSession,
    PagePath(id): PagePath<Uuid>,
    PageQuery(shown): PageQuery<Shown>,
) -> Result<Response, PageError> {
    let mut extras = Extras {
        notice: shown
            .done
            .notice(&[Notice::PassDeleted, Notice::UserPasskeyDeleted]),
        ..Default::default()
    };
    if !shown.pass.is_empty() {
        match state
            .passwordless
            .take_pass_for_page(&a.signed_in, &shown.pass, id)
            .await?
        {
            Some(h) => extras.handed_over = Some(h),
            None => extras.shown_before = true,
        }
    }
    Ok(user_page(&state, &a, id, extras).await?.into_response())
}

#[derive(Deserialize)]
pub struct TapForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    form_id: String,
    #[serde(default)]
    lifetime: String,
    #[serde(default)]
    once: String,
}

/// The lifetime typed, checked against the policy's limits in the page's words.
fn check_lifetime(typed: &str, policy: &TapPolicy, errors: &mut FieldErrors) -> Option<u32> {
    let (min, max) = (
        policy.minimum_lifetime_in_minutes,
        policy.maximum_lifetime_in_minutes,
    );
    let limits = [("min", min.to_string()), ("max", max.to_string())];
    let limits: Vec<(&str, &str)> = limits.iter().map(|(k, v)| (*k, v.as_str())).collect();
    match whole_number(typed) {
        Some(v) if (min..=max).contains(&v) => Some(v),
        Some(_) => {
            errors.add(
                "lifetime",
                crate::web::viewer::lang().format("lifetime_out_of_range", &limits),
            );
            None
        }
        None => {
            errors.add(
                "lifetime",
                crate::web::viewer::lang().format("lifetime_not_a_number", &limits),
            );
            None
        }
    }
}

async fn target(state: &WebState, a: &AdminSession, id: Uuid) -> Result<User, PageError> {
    let user = state
        .passwordless
        .platform()
        .user(&a.caller, &UserRef::Id(id))
        .await?;
    if let Some(role) = a.caller.actor.missing_role_to_manage_passes_for(&user) {
        return Err(PageError::MissingRole(role));
    }
    Ok(user)
}

/// `POST /admin/users/{id}/tap` — Authentication Administrator (users without admin roles)
/// or Privileged Authentication Administrator. Creates the pass and redirects to the page
/// that shows it once; the same form sent again creates nothing and redirects there too.
pub async fn create_tap(
    State(state): State<WebState>,
    a: AdminSession,
    PagePath(id): PagePath<Uuid>,
    PageForm(form): PageForm<TapForm>,
) -> Result<Response, PageError> {
    auth::check_csrf(&state, &a.signed_in, &form.csrf)?;
    target(&state, &a, id).await?;
    let platform = state.passwordless.platform();
    let policy = platform.tap_policy(&a.caller).await?;
    let mut errors = FieldErrors::new();
    let lifetime = check_lifetime(&form.lifetime, &policy, &mut errors);
    let once = form.once == "yes" || policy.is_usable_once;
    let again = |errors: FieldErrors, error: Option<String>| {
        let input = TapInput {
            lifetime: form.lifetime.chars().take(32).collect(),
            once,
            errors,
            error,
        };
        let extras = Extras {
            input: Some(input),
            ..Default::default()
        };
        user_page(&state, &a, id, extras)
    };
    let Some(lifetime) = lifetime else {
        return Ok(again(errors, None)
            .await?
            .status(StatusCode::BAD_REQUEST)
            .into_response());
    };
    let request = TapRequest {
        start_date_time: None,
        lifetime_in_minutes: Some(lifetime),
        is_usable_once: Some(once),
    };
    let issued = state
        .passwordless
        .issue_pass_for_page(
            &a.signed_in,
            &a.caller,
            &UserRef::Id(id),
            request,
            &form.form_id,
        )
        .await;
    let user_id = match issued {
        Ok(Issued::New) => id,
        Ok(Issued::Already { user_id }) => user_id,
        Err(Error::PolicyViolation(_)) => {
            // The policy changed under the form, or the user is not covered: say why in
            // the page's words, from the same facts the platform went by.
            let blocker = platform.pass_blocker(&a.caller, &UserRef::Id(id)).await?;
            let lang = crate::web::viewer::lang();
            let why = blocker.map_or_else(
                || text("pass_refused_by_policy"),
                |b| blocker_text(b, lang).to_owned(),
            );
            return Ok(again(FieldErrors::new(), Some(why))
                .await?
                .status(StatusCode::BAD_REQUEST)
                .into_response());
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Redirect::to(&format!("/admin/users/{user_id}?pass={}", form.form_id)).into_response())
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: String,
}

/// A page asking to confirm a deletion, posting `confirm=yes` to `action`.
fn confirm_page(heading: &str, message: &str, action: &str, cancel: &str) -> Response {
    Page::titled("confirm.html", heading)
        .with("heading", &heading)
        .with("message", &message)
        .with("action", &action)
        .with("confirm_label", &text("confirm_delete"))
        .with("cancel", &cancel)
        .with("cancel_label", &text("confirm_cancel"))
        .into_response()
}

/// `POST /admin/users/{id}/tap/delete` — as for creating a pass; asks first.
pub async fn delete_tap(
    State(state): State<WebState>,
    a: AdminSession,
    PagePath(id): PagePath<Uuid>,
    PageForm(form): PageForm<DeleteForm>,
) -> Result<Response, PageError> {
    auth::check_csrf(&state, &a.signed_in, &form.csrf)?;
    let user = target(&state, &a, id).await?;
    if form.confirm != "yes" {
        let lang = crate::web::viewer::lang();
        return Ok(confirm_page(
            lang.text("confirm_delete_pass_title"),
            &lang.format(
                "confirm_delete_pass_message",
                &[("user", &user.user_principal_name)],
            ),
            &format!("/admin/users/{id}/tap/delete"),
            &format!("/admin/users/{id}"),
        ));
    }
    state
        .passwordless
        .platform()
        .delete_tap(&a.caller, &UserRef::Id(id), None)
        .await?;
    Ok(Redirect::to(&Notice::PassDeleted.after(&format!("/admin/users/{id}"))).into_response())
}

/// `POST /admin/users/{id}/passkeys/{pid}/delete` — as for creating a pass; asks first.
pub async fn delete_passkey(
    State(state): State<WebState>,
    a: AdminSession,
    PagePath((id, pid)): PagePath<(Uuid, Uuid)>,
    PageForm(form): PageForm<DeleteForm>,
) -> Result<Response, PageError> {
    auth::check_csrf(&state, &a.signed_in, &form.csrf)?;
    let user = target(&state, &a, id).await?;
    if form.confirm != "yes" {
        let (_, passkeys) = state
            .passwordless
            .platform()
            .fido2_methods(&a.caller, &UserRef::Id(id))
            .await?;
        let passkey = passkeys
            .iter()
            .find(|p| p.id == pid)
            .ok_or(PageError::NotFound)?;
        let lang = crate::web::viewer::lang();
        let mut message = lang.format(
            "confirm_delete_passkey_message",
            &[
                ("name", &passkey.display_name),
                ("user", &user.user_principal_name),
            ],
        );
        if passkeys.len() == 1 {
            message.push(' ');
            message.push_str(lang.text("confirm_delete_passkey_last"));
        }
        return Ok(confirm_page(
            lang.text("confirm_delete_passkey_title"),
            &message,
            &format!("/admin/users/{id}/passkeys/{pid}/delete"),
            &format!("/admin/users/{id}"),
        ));
    }
    state
        .passwordless
        .platform()
        .delete_fido2_method(&a.caller, &UserRef::Id(id), pid)
        .await?;
    Ok(
        Redirect::to(&Notice::UserPasskeyDeleted.after(&format!("/admin/users/{id}")))
            .into_response(),
    )
}
