//! Turning a flow's step into what the browser gets: a redirect to the next page, or the
//! answer for the application (a redirect with query parameters, or an auto-submitted form).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::super::error::PageError;
use super::super::pages::Page;
use super::super::viewer;
use super::{csp, flow_link};
use plugin::domain::oidc::problem::Problem;
use plugin::domain::oidc::request::ResponseMode;
use plugin::platform::oidc_authorize::{AuthorizationResponse, AuthorizeError, AuthorizeStep};

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

/// A page saying why the sign-in (or sign-out) stops here. Nothing goes to the application.
pub fn problem(p: Problem) -> Response {
    let viewer = viewer::current();
    let lang = viewer.lang;
    let (back, back_label) = viewer.way_back();
    Page::new("error.html", "oidc_problem_heading")
        .with("heading", &lang.text("oidc_problem_heading"))
        .with("message", &lang.text(p.key()))
        .with("back", &back)
        .with("back_label", &lang.text(back_label))
        .status(StatusCode::BAD_REQUEST)
        .into_response()
}

pub fn failure(e: AuthorizeError) -> Response {
    match e {
        AuthorizeError::Page(p) => problem(p),
        AuthorizeError::Failed(e) => PageError::from(e).into_response(),
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
                Err(_) => PageError::from(plugin::Error::Internal(
                    "the answer for the application is not a valid location".into(),
                ))
                .into_response(),
            }
        }
        ResponseMode::FormPost => {
            let fields: Vec<(String, String)> = r.params.clone();
            let mut response = Page::new("form_post.html", "form_post_title")
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

#[cfg(test)]
mod tests {
    use super::super::super::i18n::Lang;
    use plugin::domain::oidc::problem::Problem;
    use plugin::domain::oidc::scope::Scope;

    #[test]
    fn every_problem_and_scope_is_worded_in_every_language() {
        for lang in Lang::ALL {
            for p in Problem::ALL {
                assert!(lang.catalogue().contains_key(p.key()), "{p:?} in {lang:?}");
            }
            for s in Scope::ALL {
                let key = format!("consent_scope_{}", s.as_str());
                assert!(lang.catalogue().contains_key(&key), "{key} in {lang:?}");
            }
        }
        assert_eq!(
            Lang::En.text(Problem::FlowGone.key()),
            Problem::FlowGone.message()
        );
    }
}
