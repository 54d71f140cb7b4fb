//! Turning a flow's step into what the browser gets: a redirect to the next page, or the
//! answer for the application (a redirect with query parameters, or an auto-submitted form).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::super::error::{PageError, error_page};
use super::super::pages::Page;
use super::{csp, flow_link};
use crate::domain::oidc::request::ResponseMode;
use crate::platform::oidc_authorize::{AuthorizationResponse, AuthorizeError, AuthorizeStep};

pub fn step(result: Result<AuthorizeStep, AuthorizeError>) -> Response {
    match result {
        Ok(AuthorizeStep::SignIn(view)) => {
            Redirect::to(&flow_link("/oauth2/signin", &view.flow_id)).into_response()
        }
        Ok(AuthorizeStep::Consent(view)) => {
            Redirect::to(&flow_link("/oauth2/consent", &view.flow_id)).into_response()
        }
        Ok(AuthorizeStep::Respond(r)) => answer(&r),
        Err(e) => failure(e),
    }
}

pub fn failure(e: AuthorizeError) -> Response {
    match e {
        AuthorizeError::Page(message) => error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in cannot continue",
            &message,
        ),
        AuthorizeError::Failed(e) => PageError(e).into_response(),
    }
}

/// The answer for the application at its redirect URI.
pub fn answer(r: &AuthorizationResponse) -> Response {
    match r.response_mode {
        ResponseMode::Query => {
            let mut q = form_urlencoded::Serializer::new(String::new());
            for (k, v) in &r.params {
                q.append_pair(k, v);
            }
            let sep = if r.redirect_uri.contains('?') {
                '&'
            } else {
                '?'
            };
            let location = format!("{}{sep}{}", r.redirect_uri, q.finish());
            // 303: whatever method brought the browser here, it follows with a GET.
            let mut response = StatusCode::SEE_OTHER.into_response();
            match HeaderValue::from_str(&location) {
                Ok(v) => {
                    response.headers_mut().insert(header::LOCATION, v);
                    response
                }
                Err(_) => error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The answer for the application could not be built.",
                ),
            }
        }
        ResponseMode::FormPost => {
            let fields: Vec<(String, String)> = r.params.clone();
            let mut response = Page::new("form_post.html", "Signing you in", None, "")
                .with("action", &r.redirect_uri)
                .with("fields", &fields)
                .into_response();
            if let Ok(v) = HeaderValue::from_str(&csp::answering(&r.redirect_uri)) {
                response
                    .headers_mut()
                    .insert(header::CONTENT_SECURITY_POLICY, v);
            }
            response
        }
    }
}
