//! The OpenID Connect provider's pages: the authorization endpoint, sign-in inside a flow
//! (passkey; for a new hire a Temporary Access Pass, then a first passkey, then a sign-in
//! with it), consent and RP-initiated logout.
//!
//! These routes sit beside the other pages with their own guard: the authorization and
//! logout endpoints accept cross-site requests (an application sends the user there), and the
//! pages that answer an application must allow a form to reach the application's origin
//! (`form-action`), which the other pages' policy forbids.

mod authorize;
mod logout;
mod response;
mod signin;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::WebState;
use super::error::PageError;
use plugin::Error;
use plugin::platform::{Oidc, SignedIn};

#[derive(Clone)]
pub struct OidcPages {
    pub web: WebState,
    pub oidc: Arc<Oidc>,
}

/// The provider's pages, to merge into the application.
pub fn routes(web: WebState, oidc: Arc<Oidc>) -> Router {
    let state = OidcPages { web, oidc };
    Router::new()
        .route(
            "/oauth2/authorize",
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route("/oauth2/authorize/resume", get(authorize::resume))
        .route("/oauth2/signin", get(signin::passkey_page))
        .route(
            "/oauth2/signin/tap",
            get(signin::tap_page).post(signin::tap_sign_in),
        )
        .route("/oauth2/register", get(signin::register_page))
        .route(
            "/oauth2/consent",
            get(authorize::consent_page).post(authorize::consent_answer),
        )
        .route(
            "/oauth2/logout",
            get(logout::logout_get).post(logout::logout_post),
        )
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// Endpoints an application sends the browser to, possibly with a cross-site POST.
fn accepts_cross_site(path: &str) -> bool {
    matches!(path, "/oauth2/authorize" | "/oauth2/logout")
}

/// The other pages' protections, except where the protocol needs otherwise: unsafe requests
/// from our own origin only (but see [`accepts_cross_site`]), a strict policy unless the
/// handler set one that admits the application's origin, no caching, no framing; and the
/// viewer's language, as on the other pages.
async fn guard(State(state): State<OidcPages>, request: Request, next: Next) -> Response {
    let lang = request
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(super::i18n::Lang::from_accept_language)
        .unwrap_or_default();
    let secure_cookies = state.web.settings.secure_cookies;
    let mut response = super::viewer::scope(lang, async move {
        let path = request.uri().path().to_owned();
        if !accepts_cross_site(&path)
            && !super::auth::same_origin(&state.web, request.method(), request.headers())
        {
            return PageError::from(Error::forbidden("cross-origin request")).into_response();
        }
        next.run(request).await
    })
    .await;
    let h = response.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp::STRICT),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if secure_cookies {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

mod csp {
    pub const STRICT: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

    /// The CSP source for where `redirect_uri` points: `scheme://host[:port]`, or `scheme:`
    /// for a native application's private scheme.
    pub fn source_of(redirect_uri: &str) -> Option<String> {
        let (scheme, rest) = redirect_uri.split_once(':')?;
        if let Some(rest) = rest.strip_prefix("//") {
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let authority = &rest[..end];
            let safe = authority
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
            return (safe && !authority.is_empty()).then(|| format!("{scheme}://{authority}"));
        }
        scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .then(|| format!("{scheme}:"))
    }

    /// The strict policy, with forms allowed to reach `redirect_uri`'s origin too.
    pub fn answering(redirect_uri: &str) -> String {
        let extra = source_of(redirect_uri).unwrap_or_default();
        STRICT.replace("form-action 'self'", &format!("form-action 'self' {extra}"))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn sources_are_origins_or_schemes() {
            assert_eq!(
                source_of("https://app.example.com:8443/cb?x=1").as_deref(),
                Some("https://app.example.com:8443")
            );
            assert_eq!(
                source_of("com.example.app:/cb").as_deref(),
                Some("com.example.app:")
            );
            assert_eq!(source_of("https://a b/cb"), None);
            assert!(
                answering("http://localhost:3000/cb")
                    .contains("form-action 'self' http://localhost:3000;")
            );
        }
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// The browser's session, of either kind, if it has a live one; the page header shows its
/// user.
async fn session(state: &OidcPages, headers: &HeaderMap) -> Result<Option<SignedIn>, Error> {
    let found = match cookie(headers, &state.web.settings.session_cookie()) {
        Some(value) => state.web.passwordless.session(value).await?,
        None => None,
    };
    if let Some(s) = &found {
        super::viewer::signed_in(s, state.web.passwordless.csrf_token(&s.session));
    }
    Ok(found)
}

/// The `flow` query parameter.
#[derive(serde::Deserialize)]
pub struct FlowQuery {
    #[serde(default)]
    flow: String,
    #[serde(default)]
    registered: Option<String>,
}

fn flow_link(path: &str, flow: &str) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("flow", flow);
    format!("{path}?{}", q.finish())
}

#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod token_tests;
