//! Finding a user: by the start of a user principal name, display name (any word of it) or
//! mail address, or by mail domain (`@example.com`), with how many match.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::web::WebState;
use crate::web::auth::AdminSession;
use crate::web::error::PageError;
use crate::web::form::PageQuery;
use crate::web::pages::Page;
use plugin::domain::directory::UserSearch;

/// The most users one page lists.
const SHOWN: u32 = 50;

#[derive(Deserialize)]
pub struct Search {
    #[serde(default)]
    q: String,
}

#[derive(Serialize)]
struct UserRow {
    id: String,
    upn: String,
    name: String,
    mail: String,
    enabled: bool,
}

/// `GET /admin/users?q=` — any administrative role.
pub async fn list_users(
    State(state): State<WebState>,
    a: AdminSession,
    PageQuery(search): PageQuery<Search>,
) -> Result<Response, PageError> {
    let q: String = search
        .q
        .trim()
        .chars()
        .take(UserSearch::MAX_CHARS)
        .collect();
    let (users, total) = state
        .passwordless
        .platform()
        .search_users(&a.caller, &UserSearch::parse(&q), SHOWN)
        .await?;
    let rows: Vec<UserRow> = users
        .iter()
        .map(|u| UserRow {
            id: u.id.to_string(),
            upn: u.user_principal_name.clone(),
            name: u.display_name.clone().unwrap_or_default(),
            mail: u.mail.clone().unwrap_or_default(),
            enabled: u.account_enabled,
        })
        .collect();
    let page = Page::new("admin_users.html", "users_title");
    let lang = page.lang();
    let (total_text, shown_text) = (total.to_string(), rows.len().to_string());
    let count = match total {
        0 => String::new(),
        1 => lang.text("search_found_one").to_owned(),
        n if n <= rows.len() as u64 => lang.format("search_found", &[("total", &total_text)]),
        _ => lang.format(
            "search_found_first",
            &[("total", &total_text), ("shown", &shown_text)],
        ),
    };
    Ok(page
        .with("q", &q)
        .with("users", &rows)
        .with("count", &count)
        .into_response())
}
