//! tapbridge's own extensions of the admin API: `/v1.0/tapbridge/*` (the mail outbox, LDAP
//! sync status, the Entra connector's check) and `tapbridge.resendOnboarding` on a user.
//!
//! They are Graph routes like the others: the same caller extractor
//! ([`ApiCaller`](crate::http::extract::ApiCaller): static API tokens and the OpenID Connect
//! provider's application tokens alike) and the same error envelope.

mod entra;
mod ldap;
mod mail;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};
use bridge::entra::{Entra, RuleTerms};
use bridge::ldap::{LockSettings, SourceConfig};
use bridge::onboarding::Rule;

use crate::http::AppState;

/// What the extensions serve besides the platform.
#[derive(Clone)]
pub struct Extensions {
    /// The onboarding rules (a resent message follows them).
    pub rules: Arc<Vec<Rule>>,
    /// The language of a message when neither the rule nor the user names one.
    pub default_language: String,
    /// The Entra connector, when configured.
    pub entra: Option<Arc<Entra>>,
    /// The onboarding rules that mint in Entra.
    pub entra_rules: Arc<Vec<RuleTerms>>,
    /// The configured LDAP sources.
    pub ldap_sources: Arc<Vec<SourceConfig>>,
    pub ldap_lock: LockSettings,
}

#[derive(Clone)]
struct ExtState {
    app: AppState,
    ext: Extensions,
}

impl FromRef<ExtState> for AppState {
    fn from_ref(state: &ExtState) -> AppState {
        state.app.clone()
    }
}

pub fn routes(app: AppState, ext: Extensions) -> Router {
    Router::new()
        .route("/v1.0/tapbridge/mail/outbox", get(mail::list_outbox))
        .route(
            "/v1.0/users/{user}/tapbridge.resendOnboarding",
            post(mail::resend_onboarding),
        )
        .route("/v1.0/tapbridge/entra", get(entra::get_entra))
        .route("/v1.0/tapbridge/syncSources", get(ldap::list_sync_sources))
        .with_state(ExtState { app, ext })
}
