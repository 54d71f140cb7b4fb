//! Page rendering: the templates under `templates/pages`, compiled into the binary, rendered
//! with tera's HTML auto-escaping.

use std::sync::LazyLock;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use tera::{Context, Tera};
use time::OffsetDateTime;

use super::i18n::Lang;
use super::viewer;
use plugin::domain::timefmt::rfc3339;

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
        "confirm.html",
        include_str!("../../../templates/pages/confirm.html"),
    ),
    (
        "signout.html",
        include_str!("../../../templates/pages/signout.html"),
    ),
    (
        "admin_users.html",
        include_str!("../../../templates/pages/admin_users.html"),
    ),
    (
        "admin_applications.html",
        include_str!("../../../templates/pages/admin_applications.html"),
    ),
    (
        "admin_user.html",
        include_str!("../../../templates/pages/admin_user.html"),
    ),
    (
        "admin_policies.html",
        include_str!("../../../templates/pages/admin_policies.html"),
    ),
    (
        "consent.html",
        include_str!("../../../templates/pages/consent.html"),
    ),
    (
        "form_post.html",
        include_str!("../../../templates/pages/form_post.html"),
    ),
    (
        "signed_out.html",
        include_str!("../../../templates/pages/signed_out.html"),
    ),
];

static TERA: LazyLock<Result<Tera, String>> = LazyLock::new(|| {
    let mut tera = Tera::new();
    tera.add_raw_templates(TEMPLATES.iter().copied())
        .map_err(|e| format!("{e:?}"))?;
    Ok(tera)
});

/// A page to render: its template and variables, in the viewer's language.
pub struct Page {
    template: &'static str,
    context: Context,
    status: StatusCode,
    lang: Lang,
}

impl Page {
    /// A page for the current [viewer](super::viewer), titled by the catalogue's `title_key`.
    pub fn new(template: &'static str, title_key: &str) -> Self {
        let lang = viewer::lang();
        let title = lang.text(title_key).to_owned();
        Self::titled(template, &title)
    }

    /// A page whose title is `title` as given (a user's name, say).
    pub fn titled(template: &'static str, title: &str) -> Self {
        let viewer = viewer::current();
        let lang = viewer.lang;
        let mut context = Context::new();
        context.insert("title", title);
        context.insert("lang", lang.code());
        context.insert("t", lang.catalogue());
        context.insert("notice", "");
        match &viewer.who {
            Some(w) => {
                context.insert("user", &w.user_principal_name);
                context.insert("full", &w.full);
                context.insert("admin", &w.admin);
                context.insert("csrf", &w.csrf);
            }
            None => {
                context.insert("user", &false);
                context.insert("full", &false);
                context.insert("admin", &false);
                context.insert("csrf", "");
            }
        }
        Page {
            template,
            context,
            status: StatusCode::OK,
            lang,
        }
    }

    /// The page's language.
    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// The CSRF token of the page's forms, when it is not the session's (the sign-in pages'
    /// double-submit token).
    pub fn csrf(self, token: &str) -> Self {
        self.with("csrf", &token)
    }

    pub fn with(mut self, key: &'static str, value: &impl serde::Serialize) -> Self {
        self.context.insert(key, value);
        self
    }

    /// A success notice, by catalogue key.
    pub fn notice(self, key: &str) -> Self {
        let text = self.lang.text(key).to_owned();
        self.with("notice", &text)
    }

    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// The HTML, or why it could not be made.
    pub fn render(&self) -> Result<String, String> {
        match &*TERA {
            Ok(tera) => tera
                .render(self.template, &self.context)
                .map_err(|e| format!("{e:?}")),
            Err(e) => Err(e.clone()),
        }
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        match self.render() {
            Ok(html) => (self.status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(template = self.template, error = %e, "page failed to render");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Html("<!doctype html><html lang=\"en\"><title>Error</title><p>Something went wrong. Try again later.</p></html>"),
                )
                    .into_response()
            }
        }
    }
}

/// A catalogue sentence in the viewer's language.
pub fn text(key: &str) -> String {
    viewer::lang().text(key).to_owned()
}

/// A time on a page: machine-readable for `<time datetime>` (which the pages' script shows in
/// the viewer's own time zone) and as text in UTC, labelled so.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct When {
    pub iso: String,
    pub text: String,
}

impl When {
    pub fn new(at: OffsetDateTime, lang: Lang) -> Self {
        When {
            iso: rfc3339(at),
            text: human_time(at, lang),
        }
    }
}

/// A date and time for people, in UTC and saying so: `27 Nov 2026, 09:00 UTC`,
/// `27.11.2026, 09:00 UTC`.
pub fn human_time(at: OffsetDateTime, lang: Lang) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let formatted = match lang {
        Lang::En => at.format(time::macros::format_description!(
            "[day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
        )),
        Lang::De => at.format(time::macros::format_description!(
            "[day].[month].[year], [hour]:[minute] UTC"
        )),
    };
    formatted.unwrap_or_else(|_| at.to_string())
}
