//! Who is looking at the page being served, and in which language: set by the pages' middleware
//! from `Accept-Language`, completed by the session extractors once they know the user. Error
//! pages, which are made far from any handler's arguments, read it to speak the viewer's
//! language and to offer the right way back.

use std::cell::RefCell;
use std::future::Future;

use super::i18n::Lang;
use plugin::domain::session::SessionKind;
use plugin::platform::SignedIn;

/// The signed-in viewer, as the page header needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    pub user_principal_name: String,
    pub full: bool,
    pub admin: bool,
    /// The session's CSRF token, for the header's sign-out form.
    pub csrf: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Viewer {
    pub lang: Lang,
    pub who: Option<Who>,
}

impl Viewer {
    /// Where a "back" link on an error page leads, and its label's catalogue key.
    pub fn way_back(&self) -> (&'static str, &'static str) {
        match &self.who {
            Some(w) if w.admin => ("/admin/users", "back_to_users"),
            Some(w) if w.full => ("/security-info", "back_to_security_info"),
            Some(_) => ("/register", "back_to_register"),
            None => ("/signin", "back_to_signin"),
        }
    }
}

tokio::task_local! {
    static VIEWER: RefCell<Viewer>;
}

/// Runs `f` (the rest of a page request) with an anonymous viewer reading `lang`.
pub async fn scope<F: Future>(lang: Lang, f: F) -> F::Output {
    VIEWER
        .scope(RefCell::new(Viewer { lang, who: None }), f)
        .await
}

/// The viewer of the request being served; anonymous and English outside one.
pub fn current() -> Viewer {
    VIEWER.try_with(|v| v.borrow().clone()).unwrap_or_default()
}

/// The viewer's language.
pub fn lang() -> Lang {
    VIEWER.try_with(|v| v.borrow().lang).unwrap_or_default()
}

/// Records the signed-in user: their `preferredLanguage` wins over the browser's when the
/// pages have it.
pub fn signed_in(s: &SignedIn, csrf: String) {
    let _ = VIEWER.try_with(|v| {
        let mut v = v.borrow_mut();
        if let Some(lang) = s
            .user
            .preferred_language
            .as_deref()
            .and_then(Lang::from_tag)
        {
            v.lang = lang;
        }
        let full = s.session.kind == SessionKind::Full;
        v.who = Some(Who {
            user_principal_name: s.user.user_principal_name.clone(),
            full,
            admin: full && s.user.is_admin(),
            csrf,
        });
    });
}

/// Reads the page in `lang`, when a request says which (a page shown after its session
/// ended cannot ask the session).
pub fn prefer_lang(lang: Lang) {
    let _ = VIEWER.try_with(|v| v.borrow_mut().lang = lang);
}

/// Forgets the signed-in user (the session just ended).
pub fn signed_out() {
    let _ = VIEWER.try_with(|v| v.borrow_mut().who = None);
}
