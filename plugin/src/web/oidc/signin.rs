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
use super::super::pages::{Page, human_time};
use super::{FlowQuery, OidcPages, flow_link, response, session};
use crate::Error;
use crate::domain::session::SessionKind;
use crate::http::request_id;
use crate::secret::SecretString;

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
    let page = Page::new("signin.html", "Sign in", None, &csrf)
        .with("app", &view.app_name)
        .with(
            "next",
            &flow_link("/oauth2/authorize/resume", &view.flow_id),
        )
        .with("tap_link", &flow_link("/oauth2/signin/tap", &view.flow_id))
        .with("login_hint", &view.login_hint.unwrap_or_default())
        .with("registered", &q.registered.is_some());
    with_cookie(page.into_response(), set)
}

fn tap_page_for(
    state: &OidcPages,
    headers: &HeaderMap,
    flow: &str,
    app: &str,
    upn: &str,
    error: Option<&str>,
) -> (Page, Option<axum::http::HeaderValue>) {
    let (csrf, set) = auth::presession_token(&state.web, headers);
    let page = Page::new("signin_tap.html", "Sign in with a pass", None, &csrf)
        .with("upn", &upn)
        .with("error", &error.unwrap_or(""))
        .with("app", &app)
        .with("action", &flow_link("/oauth2/signin/tap", flow))
        .with("passkey_link", &flow_link("/oauth2/signin", flow));
    (page, set)
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
    let hint = view.login_hint.clone().unwrap_or_default();
    let (page, set) = tap_page_for(&state, &headers, &view.flow_id, &view.app_name, &hint, None);
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
        return PageError(e).into_response();
    }
    let view = match state.oidc.flow_view(&q.flow).await {
        Ok(v) => v,
        Err(e) => return response::failure(e),
    };
    let upn = form.upn.trim();
    let pass = form
        .pass
        .unwrap_or_else(|| SecretString::new(String::new()));
    let again = |message: &str, upn: &str| {
        let (page, _) = tap_page_for(
            &state,
            &headers,
            &view.flow_id,
            &view.app_name,
            upn,
            Some(message),
        );
        page.status(StatusCode::BAD_REQUEST).into_response()
    };
    if upn.is_empty()
        || upn.chars().count() > 256
        || pass.expose().trim().is_empty()
        || pass.expose().len() > 64
    {
        return again("Enter your user name and Temporary Access Pass.", "");
    }
    if !state.web.signin_by_address.allow(&address)
        || !state.web.signin_by_user.allow(&upn.to_lowercase())
    {
        tracing::warn!(%address, "pass sign-in rate limit reached");
        return too_many();
    }
    match state
        .web
        .passwordless
        .sign_in_with_pass(upn, &pass, request_id())
        .await
    {
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
        Err(Error::InvalidPass) => again(
            "That user name and pass did not work. Check them and try again, or ask your administrator for a new pass.",
            upn,
        ),
        Err(e) => PageError(e).into_response(),
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
        Err(e) => return PageError(e).into_response(),
    };
    let info = match state.web.passwordless.security_info(&signed_in).await {
        Ok(i) => i,
        Err(e) => return PageError(e).into_response(),
    };
    let csrf = state.web.passwordless.csrf_token(&signed_in.session);
    let next = format!(
        "{}&registered=1",
        flow_link("/oauth2/signin", &view.flow_id)
    );
    Page::new("register.html", "Create a passkey", Some(&signed_in), &csrf)
        .with(
            "bootstrap",
            &(signed_in.session.kind == SessionKind::Bootstrap),
        )
        .with("ends", &human_time(signed_in.session.absolute_expires_at))
        .with("count", &info.passkeys.len())
        .with("app", &view.app_name)
        .with("next", &next)
        .into_response()
}
