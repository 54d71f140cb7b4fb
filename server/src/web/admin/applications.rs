//! The applications (OAuth clients) of the OpenID Connect provider, as administrators see
//! them: name, client id, redirect URIs by platform, ID-token algorithm, secrets, and whether
//! the application is Microsoft Entra's external authentication method. Read-only: they are
//! added and changed through `/v1.0/applications` or `tapbridge app`, where each change is
//! checked and audited.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::web::WebState;
use crate::web::auth::AdminSession;
use crate::web::error::PageError;
use crate::web::pages::Page;

/// The most applications one page lists.
const SHOWN: u32 = 200;

#[derive(Serialize)]
struct Redirect {
    platform: &'static str,
    uri: String,
}

#[derive(Serialize)]
struct AppRow {
    name: String,
    client_id: String,
    redirects: Vec<Redirect>,
    alg: &'static str,
    secrets: usize,
    /// Entra tenants for which the application answers as the external authentication
    /// method; empty when it does not.
    eam_tenants: Vec<String>,
}

/// `GET /admin/applications` — any administrative role.
pub async fn list_applications(
    State(state): State<WebState>,
    a: AdminSession,
) -> Result<Response, PageError> {
    let apps = state
        .passwordless
        .platform()
        .applications(&a.caller, None, SHOWN)
        .await?;
    let rows: Vec<AppRow> = apps
        .into_iter()
        .map(|app| {
            let mut redirects = Vec::new();
            for (platform, uris) in [
                ("web", app.web_redirect_uris),
                ("spa", app.spa_redirect_uris),
                ("public", app.public_client_redirect_uris),
            ] {
                redirects.extend(uris.into_iter().map(|uri| Redirect { platform, uri }));
            }
            AppRow {
                name: app.display_name,
                client_id: app.app_id.to_string(),
                redirects,
                alg: app.id_token_signing_alg.as_str(),
                secrets: app.passwords.len(),
                eam_tenants: app
                    .eam
                    .map(|e| e.tenant_ids.iter().map(ToString::to_string).collect())
                    .unwrap_or_default(),
            }
        })
        .collect();
    Ok(Page::new("admin_applications.html", "apps_title")
        .with("apps", &rows)
        .into_response())
}
