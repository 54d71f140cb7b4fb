//! Signing in and out: the Temporary Access Pass form, passkey sign-in (no user name), sign-out.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use webauthn_rs::prelude::PublicKeyCredential;

use super::WebState;
use super::auth::{self, ClientAddress, RegistrationSession};
use super::error::{JsonError, PageError, too_many};
use super::form::{PageForm, ScriptJson};
use super::notices::{Done, Notice};
use super::pages::Page;
use super::viewer;
use crate::http;
use plugin::Error;
use plugin::metrics::inc;
use plugin::platform::{LimitScope, OpenedSession, PassAttempt};
use plugin::secret::SecretString;

/// `GET /` — to security info; its capability check sends everyone else to the page that
/// fits (sign-in, or registration for a pass session).
pub async fn home() -> Redirect {
    Redirect::to("/security-info")
}

fn with_cookie(mut response: Response, cookie: Option<axum::http::HeaderValue>) -> Response {
    if let Some(c) = cookie {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    response
}

/// The pass form; `error`: a catalogue key for the whole form, `blank`: fields left empty.
/// The flow's pass form adds its own links to it.
pub(super) fn tap_page(csrf: &str, upn: &str, error: Option<&str>, blank: &[&'static str]) -> Page {
    let page = Page::new("signin_tap.html", "tap_signin_title").csrf(csrf);
    let mut fields = super::fields::FieldErrors::new();
    for field in blank {
        fields.add(
            field,
            page.lang().text(&format!("tap_signin_{field}_missing")),
        );
    }
    let error = error.map_or("", |key| page.lang().text(key)).to_owned();
    page.with("upn", &upn)
        .with("error", &error)
        .with("errors", &fields)
}

/// `GET /signin/tap` — anyone.
pub async fn tap_form(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let (csrf, set) = auth::presession_token(&state, &headers);
    with_cookie(tap_page(&csrf, "", None, &[]).into_response(), set)
}

#[derive(Deserialize)]
pub struct TapForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    upn: String,
    pass: Option<SecretString>,
}

/// The session cookie for a session just opened, and where to go.
fn opened(state: &WebState, opened: &OpenedSession) -> Option<axum::http::HeaderValue> {
    state.settings.cookie_header(
        &state.settings.session_cookie(),
        opened.cookie.expose(),
        None,
    )
}

/// `POST /signin/tap` — anyone; rate-limited per address and per user name. One message for
/// every failure.
pub async fn tap_sign_in(
    State(state): State<WebState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    PageForm(form): PageForm<TapForm>,
) -> Response {
    if let Err(e) = auth::check_presession(&state, &headers, &form.csrf) {
        return PageError::from(e).into_response();
    }
    let upn = form.upn.trim();
    let pass = form
        .pass
        .unwrap_or_else(|| SecretString::new(String::new()));
    if upn.is_empty()
        || upn.chars().count() > 256
        || pass.expose().trim().is_empty()
        || pass.expose().len() > 64
    {
        let (csrf, _) = auth::presession_token(&state, &headers);
        let mut blank = vec![];
        if upn.is_empty() {
            blank.push("upn");
        }
        if pass.expose().trim().is_empty() {
            blank.push("pass");
        }
        let error = blank.is_empty().then_some("tap_signin_too_long");
        let kept: String = upn.chars().take(256).collect();
        return tap_page(&csrf, &kept, error, &blank)
            .status(axum::http::StatusCode::BAD_REQUEST)
            .into_response();
    }
    if !pass_sign_in_allowed(&state, &address, upn).await {
        return too_many();
    }
    let attempt = PassAttempt {
        user_principal_name: upn,
        pass: &pass,
        client_address: Some(&address),
        correlation_id: http::request_id(),
    };
    match state.passwordless.sign_in_with_pass(attempt).await {
        Ok(session) => with_cookie(
            Redirect::to("/register").into_response(),
            opened(&state, &session),
        ),
        Err(Error::InvalidPass) => {
            let (csrf, _) = auth::presession_token(&state, &headers);
            tap_page(&csrf, upn, Some("tap_signin_failed"), &[])
                .status(axum::http::StatusCode::BAD_REQUEST)
                .into_response()
        }
        Err(e) => PageError::from(e).into_response(),
    }
}

/// `GET /signin` — anyone.
pub async fn passkey_page(
    State(state): State<WebState>,
    headers: HeaderMap,
    axum::extract::Query(done): axum::extract::Query<Done>,
) -> Response {
    let (csrf, set) = auth::presession_token(&state, &headers);
    let mut page = Page::new("signin.html", "signin_title").csrf(&csrf);
    if let Some(n) = done.notice(&[Notice::SignedOut]) {
        page = page.notice(n.key());
    }
    with_cookie(page.into_response(), set)
}

fn header_token(headers: &HeaderMap) -> &str {
    headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// `POST /signin/passkey/options` — anyone (double-submit token).
pub async fn passkey_options(
    State(state): State<WebState>,
    headers: HeaderMap,
) -> Result<Response, JsonError> {
    auth::check_presession(&state, &headers, header_token(&headers))?;
    let (ceremony, options) = state.passwordless.start_sign_in().await?;
    Ok(Json(json!({ "ceremony": ceremony, "options": options })).into_response())
}

#[derive(Deserialize)]
pub struct SignInAnswer {
    ceremony: String,
    credential: PublicKeyCredential,
}

/// `POST /signin/passkey` — anyone (double-submit token). Opens a full session.
pub async fn passkey_sign_in(
    State(state): State<WebState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    ScriptJson(answer): ScriptJson<SignInAnswer>,
) -> Result<Response, JsonError> {
    auth::check_presession(&state, &headers, header_token(&headers))?;
    let session = state
        .passwordless
        .finish_sign_in(
            &answer.ceremony,
            &answer.credential,
            Some(&address),
            http::request_id(),
        )
        .await?;
    let response = Json(json!({ "redirect": "/security-info" })).into_response();
    Ok(with_cookie(response, opened(&state, &session)))
}

#[derive(Deserialize)]
pub struct SignOutForm {
    #[serde(default)]
    csrf: String,
    /// `signin`: straight on to passkey sign-in (after registering one), without a notice.
    #[serde(default)]
    next: String,
}

/// `POST /signout` — a session of either kind.
pub async fn sign_out(
    State(state): State<WebState>,
    RegistrationSession(s): RegistrationSession,
    PageForm(form): PageForm<SignOutForm>,
) -> Result<Response, PageError> {
    auth::check_csrf(&state, &s, &form.csrf)?;
    state.passwordless.sign_out(&s).await?;
    viewer::signed_out();
    let clear = state
        .settings
        .cookie_header(&state.settings.session_cookie(), "", Some(0));
    let to = if form.next == "signin" {
        "/signin".to_owned()
    } else {
        Notice::SignedOut.after("/signin")
    };
    Ok(with_cookie(Redirect::to(&to).into_response(), clear))
}

/// The pass sign-in rate limits, per client address and per user: false when either is
/// reached. This node's own buckets first (a refusal costs no write); then, with several
/// nodes on one database, the count of every node together. Counted every time, logged once a
/// minute per client: a flood must not fill the disk.
pub(super) async fn pass_sign_in_allowed(state: &WebState, address: &str, upn: &str) -> bool {
    let platform = state.passwordless.platform();
    let metrics = platform.metrics();
    let user = upn.to_lowercase();
    let settings = &state.settings;
    let mut limited = if !state.signin_by_address.allow(address) {
        Some(("address", &metrics.signin_rate_limited_by_address))
    } else if !state.signin_by_user.allow(&user) {
        Some(("user", &metrics.signin_rate_limited_by_user))
    } else {
        None
    };
    if limited.is_none() && platform.shares_rate_limits() {
        let shared = [
            (
                LimitScope::PassSignInByAddress,
                address,
                settings.signin_per_minute_per_address,
                ("address", &metrics.signin_rate_limited_by_address),
            ),
            (
                LimitScope::PassSignInByUser,
                user.as_str(),
                settings.signin_per_minute_per_user,
                ("user", &metrics.signin_rate_limited_by_user),
            ),
        ];
        for (scope, key, per_minute, refusal) in shared {
            match platform.count_shared_attempt(scope, key, per_minute).await {
                Ok(true) => {}
                Ok(false) => {
                    limited = Some(refusal);
                    break;
                }
                // The sign-in that follows meets the same store and answers with its error;
                // this node's own buckets still limit meanwhile.
                Err(e) => {
                    tracing::debug!(error = %e, "the shared sign-in counters could not be written");
                    break;
                }
            }
        }
    }
    let Some((limit, refusals)) = limited else {
        return true;
    };
    inc(refusals);
    if let Some(refused) = state.signin_refusals.refused(address) {
        tracing::warn!(%address, limit, refused, "pass sign-ins refused by the rate limit (count since this client's last report)");
    }
    false
}
