//! Who is asking, as capabilities: a handler that takes a [`FullSession`] can only run for a
//! live full session, one that takes an [`AdminSession`] only for a signed-in administrator.
//! Also the cookies, the CSRF checks and the client address.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

use super::WebState;
use super::error::{Expired, PageError};
use super::viewer;
use crate::http;
use plugin::Error;
use plugin::domain::session::SessionKind;
use plugin::platform::{Caller, SignedIn};
use plugin::secret::random_bytes;

/// A live session of either kind: enough to register a passkey, nothing else.
pub struct RegistrationSession(pub SignedIn);

/// A live full session (opened with a passkey).
pub struct FullSession(pub SignedIn);

/// A live full session of a user holding an administrative role. `caller` carries the user's
/// roles into platform operations, which check them again.
pub struct AdminSession {
    pub signed_in: SignedIn,
    pub caller: Caller,
}

/// No session: where to go instead.
pub enum NoSession {
    SignIn,
    Register,
    /// Signed in, but without an administrative role.
    AdminOnly,
    Refused(Error),
}

impl IntoResponse for NoSession {
    fn into_response(self) -> Response {
        match self {
            NoSession::SignIn => Redirect::to("/signin").into_response(),
            NoSession::Register => Redirect::to("/register").into_response(),
            NoSession::AdminOnly => PageError::AdminOnly.into_response(),
            NoSession::Refused(e) => PageError::from(e).into_response(),
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

async fn signed_in(parts: &Parts, state: &WebState) -> Result<Option<SignedIn>, NoSession> {
    let Some(value) = cookie(&parts.headers, &state.settings.session_cookie()) else {
        return Ok(None);
    };
    let found = state
        .passwordless
        .session(value)
        .await
        .map_err(NoSession::Refused)?;
    if let Some(s) = &found {
        viewer::signed_in(s, state.passwordless.csrf_token(&s.session));
    }
    Ok(found)
}

/// Records the viewer's session, if the request has a live one, for a page made outside any
/// handler that asked for it (a "not found" page in the user's language, with their header).
pub async fn note_viewer(state: &WebState, headers: &HeaderMap) {
    if let Some(value) = cookie(headers, &state.settings.session_cookie())
        && let Ok(Some(s)) = state.passwordless.session(value).await
    {
        viewer::signed_in(&s, state.passwordless.csrf_token(&s.session));
    }
}

/// The live session of either kind, if there is one: for pages anyone may see.
pub struct MaybeSignedIn(pub Option<SignedIn>);

impl FromRequestParts<WebState> for MaybeSignedIn {
    type Rejection = NoSession;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, NoSession> {
        signed_in(parts, state).await.map(MaybeSignedIn)
    }
}

impl FromRequestParts<WebState> for RegistrationSession {
    type Rejection = NoSession;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, NoSession> {
        match signed_in(parts, state).await? {
            Some(s) => Ok(RegistrationSession(s)),
            None => Err(NoSession::SignIn),
        }
    }
}

impl FromRequestParts<WebState> for FullSession {
    type Rejection = NoSession;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, NoSession> {
        match signed_in(parts, state).await? {
            Some(s) if s.session.kind == SessionKind::Full => Ok(FullSession(s)),
            // A pass opens the registration pages only.
            Some(_) => Err(NoSession::Register),
            None => Err(NoSession::SignIn),
        }
    }
}

impl FromRequestParts<WebState> for AdminSession {
    type Rejection = NoSession;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, NoSession> {
        let FullSession(s) = FullSession::from_request_parts(parts, state).await?;
        if !s.user.is_admin() {
            return Err(NoSession::AdminOnly);
        }
        let caller = Caller::new(s.actor(), http::request_id());
        Ok(AdminSession {
            signed_in: s,
            caller,
        })
    }
}

/// A session-bound CSRF token from a form field or the `x-csrf-token` header.
pub fn check_csrf(state: &WebState, s: &SignedIn, token: &str) -> Result<(), Expired> {
    state
        .passwordless
        .check_csrf(&s.session, token)
        .map_err(|_| Expired)
}

/// Before a session exists (the sign-in forms), a double-submit token: a random cookie that
/// the form or script must echo. Returns the token to put in the page and, when new, the
/// `Set-Cookie` value for it.
pub fn presession_token(state: &WebState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    let name = state.settings.csrf_cookie();
    if let Some(v) = cookie(headers, &name)
        && v.len() == 43
    {
        return (v.to_owned(), None);
    }
    let token = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
    let set = state.settings.cookie_header(&name, &token, None);
    (token, set)
}

/// Checks a double-submit token against its cookie in constant time.
pub fn check_presession(state: &WebState, headers: &HeaderMap, token: &str) -> Result<(), Expired> {
    let expected = cookie(headers, &state.settings.csrf_cookie()).unwrap_or("");
    if !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(token.trim().as_bytes())) {
        Ok(())
    } else {
        Err(Expired)
    }
}

/// Unsafe methods must come from our own pages: a browser states where a request comes from
/// in `Origin` (and `Sec-Fetch-Site`); another site's form or script is refused before any
/// token is looked at.
pub fn same_origin(state: &WebState, method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if let Some(origin) = headers.get(header::ORIGIN) {
        // Our pages send `Referrer-Policy: no-referrer`, under which a browser serialises the
        // Origin of a form POST as `null`; then only its own Sec-Fetch-Site can vouch.
        if origin.as_bytes() == b"null" {
            return fetch_site == Some("same-origin");
        }
        return origin
            .to_str()
            .is_ok_and(|o| state.settings.allowed_origins.iter().any(|a| a == o));
    }
    // No Origin: not a modern browser's cross-site request unless Sec-Fetch-Site says so.
    !fetch_site.is_some_and(|v| v == "cross-site" || v == "same-site")
}

/// The client's address, for rate limits: the peer address (tapbridge does not trust
/// forwarding headers). `unknown` when the server runs without connection info (tests).
pub struct ClientAddress(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string()),
        ))
    }
}
