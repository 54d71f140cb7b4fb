//! `GET|POST /oauth2/logout` — RP-initiated logout. Ends the browser's session (and what the
//! application got through it) at once when the request carries an ID token issued for this
//! session; otherwise asks first. Then back to the application's registered address, or a
//! signed-out page.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::super::error::PageError;
use super::super::pages::Page;
use super::{OidcPages, csp, response, session};
use crate::http::request_id;
use plugin::platform::SignedIn;
use plugin::platform::oidc_logout::LogoutRequest;

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

pub async fn logout_get(State(state): State<OidcPages>, headers: HeaderMap, uri: Uri) -> Response {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    logout(&state, &headers, Method::GET, &pairs).await
}

pub async fn logout_post(
    State(state): State<OidcPages>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    logout(&state, &headers, Method::POST, &pairs).await
}

async fn logout(
    state: &OidcPages,
    headers: &HeaderMap,
    method: Method,
    pairs: &[(String, String)],
) -> Response {
    let req = LogoutRequest {
        id_token_hint: field(pairs, "id_token_hint").map(str::to_owned),
        client_id: field(pairs, "client_id").map(str::to_owned),
        post_logout_redirect_uri: field(pairs, "post_logout_redirect_uri").map(str::to_owned),
        state: field(pairs, "state").map(str::to_owned),
    };
    let signed_in = match session(state, headers).await {
        Ok(s) => s,
        Err(e) => return PageError::from(e).into_response(),
    };
    let check = match state.oidc.check_logout(&req, signed_in.as_ref()).await {
        Ok(c) => c,
        Err(e) => return response::failure(e),
    };
    // The confirmation page's own form: only from our origin (the guard checked that) with
    // the session's token.
    let confirmed = method == Method::POST
        && field(pairs, "logout_confirm") == Some("yes")
        && signed_in.as_ref().is_some_and(|s| {
            state
                .web
                .passwordless
                .check_csrf(&s.session, field(pairs, "csrf").unwrap_or(""))
                .is_ok()
        });
    let cleared =
        state
            .web
            .settings
            .cookie_header(&state.web.settings.session_cookie(), "", Some(0));
    match signed_in {
        Some(s) if check.hinted || confirmed => {
            if let Err(e) = end(state, &s, check.app.as_ref()).await {
                return PageError::from(e).into_response();
            }
            super::super::viewer::signed_out();
            let mut r = done(check.redirect.as_deref());
            if let Some(c) = cleared {
                r.headers_mut().append(header::SET_COOKIE, c);
            }
            r
        }
        Some(_) => {
            let mut page = Page::new("signed_out.html", "logout_confirm_title")
                .with("confirm", &true)
                .with(
                    "app",
                    &check
                        .app
                        .as_ref()
                        .map(|a| a.display_name.clone())
                        .unwrap_or_default(),
                )
                .with(
                    "client_id",
                    &check
                        .app
                        .as_ref()
                        .map(|a| a.app_id.to_string())
                        .unwrap_or_default(),
                )
                .with(
                    "post_logout_redirect_uri",
                    &req.post_logout_redirect_uri.clone().unwrap_or_default(),
                )
                .with("state", &req.state.clone().unwrap_or_default())
                .into_response();
            if let Some(uri) = &req.post_logout_redirect_uri
                && let Ok(v) = HeaderValue::from_str(&csp::answering(uri))
            {
                page.headers_mut()
                    .insert(header::CONTENT_SECURITY_POLICY, v);
            }
            page
        }
        None => done(check.redirect.as_deref()),
    }
}

async fn end(
    state: &OidcPages,
    s: &SignedIn,
    app: Option<&plugin::domain::oidc::client::Application>,
) -> Result<(), plugin::Error> {
    if let Some(app) = app {
        state.oidc.logout_grants(s, app).await?;
    }
    state.web.passwordless.sign_out(s).await?;
    tracing::info!(request_id = ?request_id(), user = %s.user.id, "signed out by an application");
    Ok(())
}

fn done(redirect: Option<&str>) -> Response {
    match redirect.and_then(|r| HeaderValue::from_str(r).ok()) {
        Some(location) => {
            let mut r = StatusCode::SEE_OTHER.into_response();
            r.headers_mut().insert(header::LOCATION, location);
            r
        }
        None => Page::new("signed_out.html", "logout_done_title")
            .with("confirm", &false)
            .into_response(),
    }
}
