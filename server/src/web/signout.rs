//! The sign-out page. Signing out itself is a POST (`signin::sign_out`): a GET changes nothing,
//! so a link, a prefetch or another site's image cannot sign anyone out.

use axum::response::{IntoResponse, Response};

use super::auth::MaybeSignedIn;
use super::pages::Page;

/// `GET /signout` — anyone. Signed in: a button that signs out. Signed out: says so, with the
/// way to sign in again.
pub async fn page(MaybeSignedIn(s): MaybeSignedIn) -> Response {
    Page::new("signout.html", "signout_title")
        .with("signed_in", &s.is_some())
        .into_response()
}
