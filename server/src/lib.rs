//! The HTTP side of tapbridge: every route, and the only crate that speaks HTTP.
//!
//! - [`http`]: the Graph-compatible admin API under `/v1.0`, the OAuth / OpenID Connect
//!   provider's machine endpoints, health and metrics; errors in Graph's envelope.
//! - [`tapbridge`]: tapbridge's own `/v1.0` extensions (mail outbox, LDAP sync status, the
//!   Entra check), behind the same caller extractor and error envelope.
//! - [`scim`]: the SCIM 2.0 service provider under `/scim/v2`; errors in SCIM's shape.
//! - [`web`]: the pages (pass and passkey sign-in, registration, security info, admin,
//!   OpenID Connect sign-in and consent).
//!
//! Handlers are thin: extract, make one platform (or bridge) call, shape the response. The
//! platform and the bridge know nothing of HTTP; each of their error types becomes a response
//! in one place here (`http::error`, `scim::error`, `web`'s page errors).

pub mod http;
pub mod scim;
pub mod tapbridge;
pub mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use bridge::provisioning::Scim;
use plugin::platform::{Oidc, Platform};
use tokio::net::TcpListener;

pub use http::HttpSettings;
pub use tapbridge::Extensions;
pub use web::{WebSettings, WebState};

/// Everything the daemon serves; `None` for what is switched off.
pub struct Services {
    pub platform: Arc<Platform>,
    pub settings: HttpSettings,
    /// The SCIM service provider, under `/scim/v2`.
    pub scim: Option<Arc<Scim>>,
    /// tapbridge's `/v1.0/tapbridge/*` extensions.
    pub extensions: Extensions,
    /// The web pages.
    pub web: Option<WebState>,
    /// The OpenID Connect provider: its endpoints, its sign-in pages (with `web`), and its
    /// application tokens accepted by the admin API.
    pub oidc: Option<Arc<Oidc>>,
}

/// The whole application: every route behind the shared middleware (request ids, metrics,
/// request logging, the body size limit).
pub fn router(services: Services) -> Router {
    let Services {
        platform,
        settings,
        scim,
        extensions,
        web,
        oidc,
    } = services;
    let state = http::AppState {
        platform: platform.clone(),
        settings: Arc::new(settings),
    };
    let mut extra = Router::new();
    if let Some(scim) = scim {
        extra = extra.nest("/scim/v2", scim::routes(scim, platform));
    }
    // The extensions under /v1.0 answer a long URI as the rest of Graph's do.
    extra = extra.merge(
        tapbridge::routes(state.clone(), extensions)
            .layer(axum::middleware::from_fn(http::limits::graph_uri_limit)),
    );
    if let Some(web) = &web {
        extra = extra.merge(web::routes(web.clone()));
    }
    if let Some(oidc) = &oidc {
        extra = extra.merge(http::oauth::routes(oidc.clone()));
        if let Some(web) = web {
            extra = extra.merge(web::oidc::routes(web, oidc.clone()));
        }
    }
    let mut app = http::app_with(state, extra);
    if let Some(oidc) = oidc {
        // The admin API accepts the provider's application tokens besides static tokens.
        app = app.layer(axum::Extension(oidc));
    }
    app
}

/// Serves `app` on `listener` until `shutdown` completes, then finishes the requests in
/// flight. Connection info gives the pages' sign-in rate limits the client address.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
