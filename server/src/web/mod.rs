//! The web pages: Temporary Access Pass sign-in, passkey registration and sign-in, the user's
//! security info and the administrators' pages.
//!
//! Handlers are thin: extract a capability ([`auth`]), make one call to
//! [`Passwordless`](plugin::platform::Passwordless) or the platform, render a page. Every
//! response carries a strict Content-Security-Policy (no inline script); every unsafe request
//! must come from our own origin and carry a token bound to the session (or, before sign-in,
//! to a cookie).

mod admin;
mod assets;
pub mod auth;
mod error;
mod fields;
mod form;
pub mod i18n;
mod notices;
pub mod oidc;
mod pages;
mod pass_state;
mod ratelimit;
mod register;
mod security_info;
mod signin;
mod signout;
mod viewer;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};

use plugin::Error;
use plugin::platform::Passwordless;

/// Settings of the pages.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// Origins our pages are served from (`https://id.example.com`): unsafe requests must
    /// come from one of them.
    pub allowed_origins: Vec<String>,
    /// Cookies with `Secure` and the `__Host-` prefix. Off only for plain-http development on
    /// localhost.
    pub secure_cookies: bool,
    /// Pass sign-in attempts per minute from one client address.
    pub signin_per_minute_per_address: u32,
    /// Pass sign-in attempts per minute for one user name.
    pub signin_per_minute_per_user: u32,
}

impl WebSettings {
    pub fn session_cookie(&self) -> String {
        self.cookie_name("tapbridge_session")
    }

    pub fn csrf_cookie(&self) -> String {
        self.cookie_name("tapbridge_csrf")
    }

    fn cookie_name(&self, base: &str) -> String {
        if self.secure_cookies {
            format!("__Host-{base}")
        } else {
            base.to_owned()
        }
    }

    /// A `Set-Cookie` value: HttpOnly, SameSite=Lax (a link from a mail still arrives signed
    /// in, a cross-site POST does not), path `/`, Secure when configured. `max_age` `None`:
    /// a browser-session cookie; `Some(0)`: delete.
    pub fn cookie_header(
        &self,
        name: &str,
        value: &str,
        max_age: Option<i64>,
    ) -> Option<HeaderValue> {
        let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
        if self.secure_cookies {
            c.push_str("; Secure");
        }
        if let Some(age) = max_age {
            c.push_str(&format!("; Max-Age={age}"));
        }
        HeaderValue::from_str(&c).ok()
    }
}

#[derive(Clone)]
pub struct WebState {
    pub passwordless: Arc<Passwordless>,
    pub settings: Arc<WebSettings>,
    signin_by_address: Arc<ratelimit::RateLimiter>,
    signin_by_user: Arc<ratelimit::RateLimiter>,
    signin_refusals: Arc<ratelimit::RefusalLog>,
}

impl WebState {
    pub fn new(passwordless: Arc<Passwordless>, settings: WebSettings) -> Self {
        WebState {
            passwordless,
            signin_by_address: Arc::new(ratelimit::RateLimiter::new(
                settings.signin_per_minute_per_address,
            )),
            signin_by_user: Arc::new(ratelimit::RateLimiter::new(
                settings.signin_per_minute_per_user,
            )),
            signin_refusals: Arc::new(ratelimit::RefusalLog::new(ratelimit::REFUSAL_LOG_INTERVAL)),
            settings: Arc::new(settings),
        }
    }
}

/// The pages and their scripts' endpoints, to merge into the application (`http::app_with`).
pub fn routes(state: WebState) -> Router {
    Router::new()
        .route("/", get(signin::home))
        .route(
            "/signin/tap",
            get(signin::tap_form).post(signin::tap_sign_in),
        )
        // The link in onboarding mail. GET and HEAD only show the form, so a mail scanner
        // that follows it changes nothing; the pass is spent by the person's own POST.
        .route("/onboard", get(signin::tap_form))
        .route("/signin", get(signin::passkey_page))
        .route("/signin/passkey/options", post(signin::passkey_options))
        .route("/signin/passkey", post(signin::passkey_sign_in))
        .route("/signout", get(signout::page).post(signin::sign_out))
        .route("/register", get(register::page).post(register::finish))
        .route("/register/options", post(register::options))
        .route("/register/done", get(register::done))
        .route("/security-info", get(security_info::page))
        .route(
            "/security-info/passkeys/{id}/rename",
            post(security_info::rename_passkey),
        )
        .route(
            "/security-info/passkeys/{id}/delete",
            post(security_info::delete_passkey),
        )
        .merge(admin::routes())
        .route("/assets/{file}", get(assets::asset))
        .route("/favicon.ico", get(assets::favicon))
        // Every other path: a page for a browser, Graph's error for an API client.
        .route("/{*path}", any(error::not_found))
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// Security headers on every page, a same-origin check on every unsafe request, and the
/// viewer's language from `Accept-Language` until a session says otherwise.
async fn guard(State(state): State<WebState>, request: Request, next: Next) -> Response {
    let lang = request
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(i18n::Lang::from_accept_language)
        .unwrap_or_default();
    let path = request.uri().path();
    let is_asset = path.starts_with("/assets/") || path == "/favicon.ico";
    let secure_cookies = state.settings.secure_cookies;
    let mut response = viewer::scope(lang, async move {
        if !auth::same_origin(&state, request.method(), request.headers()) {
            return error::PageError::from(Error::forbidden("cross-origin request"))
                .into_response();
        }
        next.run(request).await
    })
    .await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !is_asset {
        // Pages show passes, tokens and personal data: never cache them.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if secure_cookies {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}
