//! The authorization endpoint's operations: check a request, keep it as a flow while the user
//! signs in and consents, and end it with a code (or an error) for the client.
//!
//! Every step re-reads the flow and the session and asks the domain what comes next
//! (`domain::oidc::flow`), so a step cannot be skipped by opening a later URL. A flow ends
//! once: the code is issued in the transaction that deletes it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use super::oidc::Oidc;
use super::sessions::SignedIn;
use crate::domain::audit::{Activity, AuditRecord, Initiator};
use crate::domain::oidc::authn::Authentication;
use crate::domain::oidc::client::Application;
use crate::domain::oidc::error::{OAuthError, OAuthErrorCode};
use crate::domain::oidc::flow::{Flow, FlowFacts, Next, SessionFacts, next_step};
use crate::domain::oidc::grant::CodeDetail;
use crate::domain::oidc::problem::Problem;
use crate::domain::oidc::request::{self, Destination, Params, RequestError, ResponseMode};
use crate::domain::oidc::scope::Scope;
use crate::domain::session::SessionKind;
use crate::secret::random_bytes;
use crate::store::{Connection, audit, oidc_clients, oidc_flows, oidc_grants, oidc_sessions};
use crate::{Error, Result};

/// What the pages of a flow show.
#[derive(Debug, Clone)]
pub struct FlowView {
    pub flow_id: String,
    pub app_name: String,
    pub login_hint: Option<String>,
    pub scopes: Vec<Scope>,
    /// Where the answer will go (its origin goes into the consent page's form-action).
    pub redirect_uri: String,
}

/// The answer for the client: where, how, and its parameters (a code, or an error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationResponse {
    pub redirect_uri: String,
    pub response_mode: ResponseMode,
    pub params: Vec<(String, String)>,
}

#[derive(Debug)]
pub enum AuthorizeStep {
    SignIn(FlowView),
    Consent(FlowView),
    Respond(AuthorizationResponse),
}

/// A problem that is shown to the user and sent nowhere.
#[derive(Debug)]
pub enum AuthorizeError {
    Page(Problem),
    Failed(Error),
}

impl From<Error> for AuthorizeError {
    fn from(e: Error) -> Self {
        AuthorizeError::Failed(e)
    }
}

/// A random id and secret, `id.secret`, for codes and refresh tokens.
pub(super) fn token_parts() -> (String, String) {
    (
        URL_SAFE_NO_PAD.encode(random_bytes::<16>()),
        URL_SAFE_NO_PAD.encode(random_bytes::<32>()),
    )
}

impl Oidc {
    fn respond(&self, dest: &Destination, mut params: Vec<(String, String)>) -> AuthorizeStep {
        if let Some(state) = &dest.state {
            params.push(("state".into(), state.clone()));
        }
        // RFC 9207: the issuer in every response, against mix-up attacks (not to Entra, which
        // expects `id_token` and `state` only).
        if dest.issuer_param {
            params.push(("iss".into(), self.settings.issuer.clone()));
        }
        AuthorizeStep::Respond(AuthorizationResponse {
            redirect_uri: dest.redirect_uri.clone(),
            response_mode: dest.response_mode,
            params,
        })
    }

    fn respond_error(&self, dest: &Destination, e: &OAuthError) -> AuthorizeStep {
        self.respond(
            dest,
            vec![
                ("error".into(), e.code.as_str().into()),
                ("error_description".into(), e.description.clone()),
            ],
        )
    }

    pub(super) fn eam_error(&self, flow: &Flow, e: &OAuthError) -> AuthorizeStep {
        self.respond_error(&flow.request.destination(), e)
    }

    pub(super) fn eam_answer(&self, flow: &Flow, id_token: String) -> AuthorizeStep {
        self.respond(
            &flow.request.destination(),
            vec![("id_token".into(), id_token)],
        )
    }

    fn view(flow: &Flow, app: &Application) -> FlowView {
        FlowView {
            flow_id: flow.id.clone(),
            app_name: app.display_name.clone(),
            login_hint: flow.request.login_hint.clone(),
            scopes: flow.request.scopes.iter().collect(),
            redirect_uri: flow.request.redirect_uri.clone(),
        }
    }

    /// `GET|POST /oauth2/authorize`: checks the request and takes the first step.
    pub async fn authorize(
        &self,
        params: &[(String, String)],
        session: Option<&SignedIn>,
        correlation_id: Option<Uuid>,
    ) -> Result<AuthorizeStep, AuthorizeError> {
        let params = Params(params);
        let client_id = request::client_id(&params).map_err(|e| match e {
            RequestError::Fatal(p) => AuthorizeError::Page(p),
            RequestError::Redirect(..) => AuthorizeError::Page(Problem::ClientUnknown),
        })?;
        let app = {
            let mut conn = self.platform.store.read().await?;
            oidc_clients::by_client_id(&mut conn, client_id).await?
        };
        let mut request = match request::check(&params, app.as_ref()) {
            Ok(r) => r,
            Err(RequestError::Fatal(p)) => return Err(AuthorizeError::Page(p)),
            Err(RequestError::Redirect(dest, e)) => return Ok(self.respond_error(&dest, &e)),
        };
        let app = app.expect("a checked request has an application");
        if let Err(e) = self
            .eam_subject(&params, &app, &mut request, correlation_id)
            .await?
        {
            return Ok(self.respond_error(&request.destination(), &e));
        }
        let now = self.platform.now();
        let flow = Flow {
            id: URL_SAFE_NO_PAD.encode(random_bytes::<32>()),
            request,
            created_at: now,
            expires_at: now + self.settings.flow_lifetime,
            consented_at: None,
        };
        self.step(flow, false, &app, session, correlation_id).await
    }

    /// The flow's next step, after a sign-in or a consent.
    pub async fn resume(
        &self,
        flow_id: &str,
        session: Option<&SignedIn>,
        correlation_id: Option<Uuid>,
    ) -> Result<AuthorizeStep, AuthorizeError> {
        let (flow, app) = self.flow_and_app(flow_id).await?;
        self.step(flow, true, &app, session, correlation_id).await
    }

    /// What the flow's pages show.
    pub async fn flow_view(&self, flow_id: &str) -> Result<FlowView, AuthorizeError> {
        let (flow, app) = self.flow_and_app(flow_id).await?;
        Ok(Self::view(&flow, &app))
    }

    async fn flow_and_app(&self, flow_id: &str) -> Result<(Flow, Application), AuthorizeError> {
        if flow_id.is_empty() || flow_id.len() > 64 {
            return Err(AuthorizeError::Page(Problem::FlowGone));
        }
        let now = self.platform.now();
        let mut conn = self.platform.store.read().await?;
        let flow = oidc_flows::get(&mut conn, flow_id, now)
            .await?
            .ok_or_else(|| AuthorizeError::Page(Problem::FlowGone))?;
        let app = oidc_clients::by_client_id(&mut conn, flow.request.client_id)
            .await?
            .filter(|a| {
                a.redirect_platform(&flow.request.redirect_uri) == Some(flow.request.platform)
            })
            .ok_or_else(|| AuthorizeError::Page(Problem::ApplicationChanged))?;
        Ok((flow, app))
    }

    /// The passkey sign-in behind a session, if a passkey opened it.
    async fn authentication(
        &self,
        conn: &mut Connection,
        session: Option<&SignedIn>,
    ) -> Result<Option<Authentication>> {
        let Some(s) = session.filter(|s| s.session.kind == SessionKind::Full) else {
            return Ok(None);
        };
        Ok(oidc_sessions::get(conn, &s.session.id)
            .await?
            .filter(|a| a.user_id == s.user.id))
    }

    async fn step(
        &self,
        flow: Flow,
        stored: bool,
        app: &Application,
        session: Option<&SignedIn>,
        correlation_id: Option<Uuid>,
    ) -> Result<AuthorizeStep, AuthorizeError> {
        let now = self.platform.now();
        let (auth, consent) = {
            let mut conn = self.platform.store.read().await?;
            let auth = self.authentication(&mut conn, session).await?;
            let consent = match (&auth, session) {
                (Some(_), Some(s)) => oidc_flows::consent(&mut conn, s.user.id, app.app_id).await?,
                _ => None,
            };
            (auth, consent)
        };
        let next = next_step(&FlowFacts {
            request: &flow.request,
            started_at: flow.created_at,
            now,
            session: session.map(|s| SessionFacts {
                user_principal_name: &s.user.user_principal_name,
                authentication: auth.as_ref(),
            }),
            stored_consent: consent.as_ref(),
            consented_in_flow: flow.consented_at.is_some(),
            skip_consent: app.skip_consent,
        });
        let dest = flow.request.destination();
        match next {
            Next::SignIn | Next::Consent => {
                if !stored {
                    let mut tx = self.platform.store.write().await?;
                    oidc_flows::purge_expired(&mut tx, now).await?;
                    oidc_flows::insert(&mut tx, &flow).await?;
                    tx.commit().await?;
                }
                let view = Self::view(&flow, app);
                Ok(if next == Next::SignIn {
                    AuthorizeStep::SignIn(view)
                } else {
                    AuthorizeStep::Consent(view)
                })
            }
            Next::Fail(e) => {
                if stored {
                    let mut tx = self.platform.store.write().await?;
                    oidc_flows::delete(&mut tx, &flow.id).await?;
                    tx.commit().await?;
                }
                if flow.request.eam.is_some() {
                    self.eam_refused(&flow, app, &e, correlation_id).await?;
                }
                Ok(self.respond_error(&dest, &e))
            }
            Next::Issue => {
                let (Some(session), Some(auth)) = (session, auth) else {
                    return Err(AuthorizeError::Failed(Error::Internal(
                        "a code without a sign-in".into(),
                    )));
                };
                if flow.request.eam.is_some() {
                    return self
                        .issue_eam(&flow, stored, app, session, &auth, correlation_id)
                        .await;
                }
                let code = self
                    .issue_code(&flow, stored, app, session, auth, correlation_id)
                    .await?;
                Ok(self.respond(&dest, vec![("code".into(), code)]))
            }
        }
    }

    async fn issue_code(
        &self,
        flow: &Flow,
        stored: bool,
        app: &Application,
        session: &SignedIn,
        authentication: Authentication,
        correlation_id: Option<Uuid>,
    ) -> Result<String, AuthorizeError> {
        let now = self.platform.now();
        let (id, secret) = token_parts();
        let hash = self.token_hasher.hash(id.as_bytes(), secret.as_bytes());
        let r = &flow.request;
        let detail = CodeDetail {
            redirect_uri: r.redirect_uri.clone(),
            platform: r.platform,
            code_challenge: r.code_challenge.clone(),
            nonce: r.nonce.clone(),
            scopes: r.scopes.clone(),
            authentication,
            session_id: session.session.id.clone(),
        };
        let mut tx = self.platform.store.write().await?;
        // A flow completes once: two tabs resuming it cannot both get a code.
        if stored && !oidc_flows::delete(&mut tx, &flow.id).await? {
            return Err(AuthorizeError::Page(Problem::FlowGone));
        }
        oidc_grants::insert_code(
            &mut tx,
            &id,
            &hash,
            app.app_id,
            session.user.id,
            &detail,
            now,
            now + self.settings.code_lifetime,
        )
        .await?;
        let user = &session.user;
        let record = AuditRecord::new(
            Activity::ApplicationSignIn,
            Initiator {
                kind: "user".into(),
                id: Some(user.id.to_string()),
                display_name: user.user_principal_name.clone(),
            },
            now,
        )
        .target("User", user.id, Some(&user.user_principal_name))
        .target("Application", app.id, Some(&app.display_name))
        .detail("appId", app.app_id)
        .detail("scopes", r.scopes.to_string())
        .correlation(correlation_id);
        audit::insert(&mut tx, &record).await?;
        tx.commit().await?;
        Ok(format!("{id}.{secret}"))
    }

    /// The user's answer on the consent page. Allowing records consent to the requested
    /// scopes and continues; declining sends `access_denied` to the client.
    pub async fn answer_consent(
        &self,
        flow_id: &str,
        session: &SignedIn,
        allow: bool,
        correlation_id: Option<Uuid>,
    ) -> Result<AuthorizeStep, AuthorizeError> {
        let (flow, app) = self.flow_and_app(flow_id).await?;
        let now = self.platform.now();
        let signed_in = {
            let mut conn = self.platform.store.read().await?;
            self.authentication(&mut conn, Some(session))
                .await?
                .is_some()
        };
        if !signed_in {
            return Ok(AuthorizeStep::SignIn(Self::view(&flow, &app)));
        }
        let mut tx = self.platform.store.write().await?;
        if !allow {
            oidc_flows::delete(&mut tx, &flow.id).await?;
            tx.commit().await?;
            return Ok(self.respond_error(
                &flow.request.destination(),
                &OAuthError::new(OAuthErrorCode::AccessDenied, "the user declined"),
            ));
        }
        oidc_flows::grant_consent(
            &mut tx,
            session.user.id,
            app.app_id,
            &flow.request.scopes,
            now,
        )
        .await?;
        oidc_flows::set_consented(&mut tx, &flow.id, now).await?;
        let user = &session.user;
        let record = AuditRecord::new(
            Activity::ApplicationConsent,
            Initiator {
                kind: "user".into(),
                id: Some(user.id.to_string()),
                display_name: user.user_principal_name.clone(),
            },
            now,
        )
        .target("Application", app.id, Some(&app.display_name))
        .target("User", user.id, Some(&user.user_principal_name))
        .detail("scopes", flow.request.scopes.to_string())
        .correlation(correlation_id);
        audit::insert(&mut tx, &record).await?;
        tx.commit().await?;
        self.resume(flow_id, Some(session), correlation_id).await
    }
}
