//! The authorization endpoint, resuming a flow after sign-in, and consent.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::super::error::PageError;
use super::super::form::PageForm;
use super::super::pages::Page;
use super::{FlowQuery, OidcPages, csp, flow_link, response, session};
use crate::http::request_id;
use plugin::Error;
use plugin::domain::oidc::problem::Problem;
use plugin::domain::session::SessionKind;

fn pairs(raw: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(raw)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// `GET /oauth2/authorize` — anyone; an application sends the browser here.
pub async fn authorize_get(
    State(state): State<OidcPages>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let params = pairs(uri.query().unwrap_or("").as_bytes());
    run(&state, &headers, &params).await
}

/// `POST /oauth2/authorize` — anyone; the same request as a form (OpenID Connect Core
/// §3.1.2.1). Arrives cross-site: the session cookie (SameSite=Lax) does not come along, so
/// the user signs in.
pub async fn authorize_post(
    State(state): State<OidcPages>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return response::problem(Problem::NotAForm);
    }
    run(&state, &headers, &pairs(&body)).await
}

async fn run(state: &OidcPages, headers: &HeaderMap, params: &[(String, String)]) -> Response {
    let signed_in = match session(state, headers).await {
        Ok(s) => s,
        Err(e) => return PageError::from(e).into_response(),
    };
    response::step(
        state
            .oidc
            .authorize(params, signed_in.as_ref(), request_id())
            .await,
    )
}

/// `GET /oauth2/authorize/resume?flow=…` — the flow's browser, after a sign-in.
pub async fn resume(
    State(state): State<OidcPages>,
    headers: HeaderMap,
    Query(q): Query<FlowQuery>,
) -> Response {
    let signed_in = match session(&state, &headers).await {
        Ok(s) => s,
        Err(e) => return PageError::from(e).into_response(),
    };
    response::step(
        state
            .oidc
            .resume(&q.flow, signed_in.as_ref(), request_id())
            .await,
    )
}

/// `GET /oauth2/consent?flow=…` — a passkey session. What the application asks for, and the
/// choice.
pub async fn consent_page(
    State(state): State<OidcPages>,
    headers: HeaderMap,
    Query(q): Query<FlowQuery>,
) -> Response {
    let view = match state.oidc.flow_view(&q.flow).await {
        Ok(v) => v,
        Err(e) => return response::failure(e),
    };
    let signed_in = match session(&state, &headers).await {
        Ok(Some(s)) if s.session.kind == SessionKind::Full => s,
        Ok(_) => return Redirect::to(&flow_link("/oauth2/signin", &view.flow_id)).into_response(),
        Err(e) => return PageError::from(e).into_response(),
    };
    let page = Page::new("consent.html", "consent_title");
    let lang = page.lang();
    let scopes: Vec<String> = view
        .scopes
        .iter()
        .map(|s| {
            lang.text(&format!("consent_scope_{}", s.as_str()))
                .to_owned()
        })
        .collect();
    let mut page = page
        .with("app", &view.app_name)
        .with("scopes", &scopes)
        .with("flow", &view.flow_id)
        .with("user", &signed_in.user.user_principal_name)
        .into_response();
    // The answer may be a redirect to the application straight from this form.
    if let Ok(v) = HeaderValue::from_str(&csp::answering(&view.redirect_uri)) {
        page.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
    page
}

#[derive(Deserialize)]
pub struct ConsentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    flow: String,
    #[serde(default)]
    decision: String,
}

/// `POST /oauth2/consent` — a passkey session; session-bound CSRF token.
pub async fn consent_answer(
    State(state): State<OidcPages>,
    headers: HeaderMap,
    PageForm(form): PageForm<ConsentForm>,
) -> Response {
    let signed_in = match session(&state, &headers).await {
        Ok(Some(s)) => s,
        Ok(None) => return Redirect::to(&flow_link("/oauth2/signin", &form.flow)).into_response(),
        Err(e) => return PageError::from(e).into_response(),
    };
    if super::super::auth::check_csrf(&state.web, &signed_in, &form.csrf).is_err() {
        return PageError::Expired.into_response();
    }
    let allow = match form.decision.as_str() {
        "allow" => true,
        "deny" => false,
        _ => {
            return PageError::from(Error::invalid("Choose Allow or Don’t allow.")).into_response();
        }
    };
    response::step(
        state
            .oidc
            .answer_consent(&form.flow, &signed_in, allow, request_id())
            .await,
    )
}
