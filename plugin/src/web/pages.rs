//! Page rendering: the templates under `templates/pages`, compiled into the binary, rendered
//! with tera's HTML auto-escaping.

use std::sync::LazyLock;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use tera::{Context, Tera};
use time::OffsetDateTime;

use crate::platform::SignedIn;

const TEMPLATES: &[(&str, &str)] = &[
    (
        "base.html",
        include_str!("../../../templates/pages/base.html"),
    ),
    (
        "error.html",
        include_str!("../../../templates/pages/error.html"),
    ),
    (
        "signin_tap.html",
        include_str!("../../../templates/pages/signin_tap.html"),
    ),
    (
        "signin.html",
        include_str!("../../../templates/pages/signin.html"),
    ),
    (
        "register.html",
        include_str!("../../../templates/pages/register.html"),
    ),
    (
        "registered.html",
        include_str!("../../../templates/pages/registered.html"),
    ),
    (
        "security_info.html",
        include_str!("../../../templates/pages/security_info.html"),
    ),
    (
        "confirm_delete.html",
        include_str!("../../../templates/pages/confirm_delete.html"),
    ),
    (
        "admin_users.html",
        include_str!("../../../templates/pages/admin_users.html"),
    ),
    (
        "admin_user.html",
        include_str!("../../../templates/pages/admin_user.html"),
    ),
    (
        "admin_policies.html",
        include_str!("../../../templates/pages/admin_policies.html"),
    ),
];

static TERA: LazyLock<Result<Tera, String>> = LazyLock::new(|| {
    let mut tera = Tera::new();
    tera.add_raw_templates(TEMPLATES.iter().copied())
        .map_err(|e| format!("{e:?}"))?;
    Ok(tera)
});

/// A page to render: its template and variables.
pub struct Page {
    template: &'static str,
    context: Context,
    status: StatusCode,
}

impl Page {
    /// A page titled `title`, for `who` (signed in, or not), with `csrf` for its forms.
    pub fn new(template: &'static str, title: &str, who: Option<&SignedIn>, csrf: &str) -> Self {
        let mut context = Context::new();
        context.insert("title", title);
        context.insert("csrf", csrf);
        match who {
            Some(s) => {
                context.insert("user", &s.user.user_principal_name);
                context.insert(
                    "full",
                    &(s.session.kind == crate::domain::session::SessionKind::Full),
                );
                context.insert(
                    "admin",
                    &(s.session.kind == crate::domain::session::SessionKind::Full
                        && s.user.is_admin()),
                );
            }
            None => {
                context.insert("user", &false);
                context.insert("full", &false);
                context.insert("admin", &false);
            }
        }
        Page {
            template,
            context,
            status: StatusCode::OK,
        }
    }

    pub fn with(mut self, key: &'static str, value: &impl serde::Serialize) -> Self {
        self.context.insert(key, value);
        self
    }

    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let rendered = match &*TERA {
            Ok(tera) => tera
                .render(self.template, &self.context)
                .map_err(|e| format!("{e:?}")),
            Err(e) => Err(e.clone()),
        };
        match rendered {
            Ok(html) => (self.status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(template = self.template, error = %e, "page failed to render");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Html("<!doctype html><title>Error</title><p>Something went wrong. Try again later.</p>"),
                )
                    .into_response()
            }
        }
    }
}

/// A date and time for people: `27 Nov 2026, 09:00 UTC`.
pub fn human_time(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let format = time::macros::format_description!(
        "[day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
    );
    at.format(&format).unwrap_or_else(|_| at.to_string())
}
