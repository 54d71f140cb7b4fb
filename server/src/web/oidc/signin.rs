//! Signing in inside a flow, on the same pages as everywhere else: a passkey (discoverable,
//! conditional UI), or for someone without one a Temporary Access Pass, then a first passkey,
//! then a sign-in with it. A pass alone never completes a flow: it opens a session that may
//! only register a passkey, and the flow asks for a passkey sign-in.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::super::auth::{self, ClientAddress};
use super::super::error::{PageError, too_many};
use super::super::form::PageForm;
use super::super::pages::{Page, When};
use super::{FlowQuery, OidcPages, flow_link, response, session};
use crate::http::request_id;
use plugin::Error;
use plugin::domain::session::SessionKind;
use plugin::platform::PassAttempt;
use plugin::secret::SecretString;

fn with_cookie(mut r: Response, c: Option<axum::http::HeaderValue>) -> Response {
    if let Some(c) = c {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

/// `GET /oauth2/signin?flow=…` — anyone. The passkey sign-in page; afterwards the flow goes
/// on.
pub async fn passkey_page(
    State(state): State<OidcPages>,
    headers: HeaderMap,
    Query(q): Query<FlowQuery>,
) -> Response {
    let view = match state.oidc.flow_view(&q.flow).await {
        Ok(v) => v,
        Err(e) => return response::failure(e),
    };
    let (csrf, set) = auth::presession_token(&state.web, &headers);
    let mut page = Page::new("signin.html", "signin_title")
        .csrf(&csrf)
        .with("app", &view.app_name)
        .with(
            "next",
            &flow_link("/oauth2/authorize/resume", &view.flow_id),
        )
        .with("tap_link", &flow_link("/oauth2/signin/tap", &view.flow_id))
        .with("login_hint", &view.login_hint.unwrap_or_default());
    if q.registered.is_some() {
        page = page.notice("oidc_passkey_ready");
    }
    with_cookie(page.into_response(), set)
}

/// The flow's pass form; `error`: a catalogue key for the whole form, `blank`: fields left
/// empty.
fn tap_page_for(
    csrf: &str,
    flow: &str,
    app: &str,
    upn: &str,
    error: Option<&str>,
    blank: &[&'static str],
) -> Page {
    super::super::signin::tap_page(csrf, upn, error, blank)
        .with("app", &app)
        .with("action", &flow_link("/oauth2/signin/tap", flow))
        .with("passkey_link", &flow_link("/oauth2/signin", flow))
}

/// `GET /oauth2/signin/tap?flow=…` — anyone.
pub async fn tap_page(
    State(state): State<OidcPages>,
    headers: HeaderMap,
    Query(q): Query<FlowQuery>,
) -> Response {
    let view = match state.oidc.flow_view(&q.flow).await {
        Ok(v) => v,
        Err(e) => return response::failure(e),
    };
    let (csrf, set) = auth::presession_token(&state.web, &headers);
    let hint = view.login_hint.clone().unwrap_or_default();
    let page = tap_page_for(&csrf, &view.flow_id, &view.app_name, &hint, None, &[]);
    with_cookie(page.into_response(), set)
}

#[derive(Deserialize)]
pub struct TapForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    upn: String,
    pass: Option<SecretString>,
}

/// `POST /oauth2/signin/tap?flow=…` — anyone; rate-limited as the other pass form. A pass
/// opens a session that may only register a passkey; the new hire goes on to do that.
pub async fn tap_sign_in(
    State(state): State<OidcPages>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    Query(q): Query<FlowQuery>,
    PageForm(form): PageForm<TapForm>,
) -> Response {
    if let Err(e) = auth::check_presession(&state.web, &headers, &form.csrf) {
        return PageError::from(e).into_response();
    }
    let view = match state.oidc.flow_view(&q.flow).await {
        Ok(v) => v,
        Err(e) => return response::failure(e),
    };
    let upn = form.upn.trim();
    let pass = form
        .pass
        .unwrap_or_else(|| SecretString::new(String::new()));
    let (csrf, _) = auth::presession_token(&state.web, &headers);
    let again = |error: Option<&str>, upn: &str, blank: &[&'static str]| {
        tap_page_for(&csrf, &view.flow_id, &view.app_name, upn, error, blank)
            .status(StatusCode::BAD_REQUEST)
            .into_response()
    };
    if upn.is_empty()
        || upn.chars().count() > 256
        || pass.expose().trim().is_empty()
        || pass.expose().len() > 64
    {
        let mut blank = vec![];
        if upn.is_empty() {
            blank.push("upn");
        }
        if pass.expose().trim().is_empty() {
            blank.push("pass");
        }
        let error = blank.is_empty().then_some("tap_signin_too_long");
        let kept: String = upn.chars().take(256).collect();
        return again(error, &kept, &blank);
    }
    if !super::super::signin::pass_sign_in_allowed(&state.web, &address, upn).await {
        return too_many();
    }
    let attempt = PassAttempt {
        user_principal_name: upn,
        pass: &pass,
        client_address: Some(&address),
        correlation_id: request_id(),
    };
    match state.web.passwordless.sign_in_with_pass(attempt).await {
        Ok(opened) => {
            let cookie = state.web.settings.cookie_header(
                &state.web.settings.session_cookie(),
                opened.cookie.expose(),
                None,
            );
            with_cookie(
                Redirect::to(&flow_link("/oauth2/register", &view.flow_id)).into_response(),
                cookie,
            )
        }
        Err(Error::InvalidPass) => again(Some("tap_signin_failed"), upn, &[]),
        Err(e) => PageError::from(e).into_response(),
    }
}

/// `GET /oauth2/register?flow=…` — a session of either kind. The registration page; once the
/// passkey exists, the sign-in page of the flow, where the new passkey signs in.
pub async fn register_page(
    State(state): State<OidcPages>,
    headers: HeaderMap,
    Query(q): Query<FlowQuery>,
) -> Response {
    let view = match state.oidc.flow_view(&q.flow).await {
        Ok(v) => v,
        Err(e) => return response::failure(e),
    };
    let signed_in = match session(&state, &headers).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Redirect::to(&flow_link("/oauth2/signin", &view.flow_id)).into_response();
        }
        Err(e) => return PageError::from(e).into_response(),
    };
    let info = match state.web.passwordless.security_info(&signed_in).await {
        Ok(i) => i,
        Err(e) => return PageError::from(e).into_response(),
    };
    let page = Page::new("register.html", "register_title");
    let lang = page.lang();
    let have = match info.passkeys.len() {
        0 => String::new(),
        1 => lang.text("register_have_one").to_owned(),
        n => lang.format("register_have_many", &[("count", &n.to_string())]),
    };
    let next = format!(
        "{}&registered=1",
        flow_link("/oauth2/signin", &view.flow_id)
    );
    page.with(
        "bootstrap",
        &(signed_in.session.kind == SessionKind::Bootstrap),
    )
    .with(
        "ends",
        &When::new(signed_in.session.absolute_expires_at, lang),
    )
    .with("have", &have)
    .with("app", &view.app_name)
    .with("next", &next)
    .into_response()
}
