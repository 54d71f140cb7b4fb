//! HTTP: the Graph-compatible admin API under `/v1.0`, health and metrics.
//!
//! Handlers are thin: extract, make one platform call, shape the response. Errors become
//! Graph's error envelope in one place, [`error`].

pub mod error;
pub(crate) mod extract;
mod graph;
mod health;
pub mod limits;
pub mod oauth;
mod request_id;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;

use plugin::platform::Platform;

/// What the HTTP layer needs besides the platform.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// The externally visible base URL, without a trailing slash. Used in `@odata.context`
    /// and `@odata.nextLink`.
    pub public_url: String,
}

#[derive(Clone)]
pub struct AppState {
    pub platform: Arc<Platform>,
    pub settings: Arc<HttpSettings>,
}

/// The id of the request being served (for audit correlation by other crates' handlers).
pub fn request_id() -> Option<uuid::Uuid> {
    request_id::current()
}

/// The whole HTTP application. Tests drive it with `tower::ServiceExt::oneshot`.
pub fn app(state: AppState) -> Router {
    app_with(state, Router::new())
}

/// The application with `extra` routes (another crate's, e.g. SCIM) sharing its middleware:
/// request ids, metrics, request logging and the body size limit. Each router bounds its
/// request targets in its own error shape ([`limits`]); `extra` brings its own bound.
pub fn app_with(state: AppState, extra: Router) -> Router {
    let body_limit = state.settings.body_limit;
    Router::new()
        .merge(graph::routes())
        .merge(health::routes())
        .layer(middleware::from_fn(limits::graph_uri_limit))
        .with_state(state.clone())
        .merge(extra)
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(state, request_id::track))
}
