//! Administrators' pages: find a user, see their methods, issue and delete passes, delete
//! passkeys, read and edit the pass and passkey policies, list the applications. Each handler needs an
//! [`AdminSession`]; what the viewer's roles do not allow is shown read-only, with the role
//! that is missing, and the platform checks the roles again for every operation.

mod applications;
mod policies;
mod user;
mod users;

use axum::Router;
use axum::response::Redirect;
use axum::routing::{get, post};

use super::WebState;
use super::auth::AdminSession;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/admin", get(home))
        .route("/admin/users", get(users::list_users))
        .route("/admin/users/{id}", get(user::show_user))
        .route("/admin/users/{id}/tap", post(user::create_tap))
        .route("/admin/users/{id}/tap/delete", post(user::delete_tap))
        .route(
            "/admin/users/{id}/passkeys/{pid}/delete",
            post(user::delete_passkey),
        )
        .route("/admin/applications", get(applications::list_applications))
        .route("/admin/policies", get(policies::show_policies))
        .route("/admin/policies/tap", post(policies::update_tap_policy))
        .route("/admin/policies/fido2", post(policies::update_fido2_policy))
}

/// `GET /admin` — any administrative role.
async fn home(_: AdminSession) -> Redirect {
    Redirect::to("/admin/users")
}
