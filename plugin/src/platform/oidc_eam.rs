//! Microsoft Entra's external authentication method, the platform's side: Entra's signing
//! keys (fetched, cached, fetched again for an unknown `kid` at most once per interval), the
//! hint's verification, the Entra user's tapbridge user (a stored link, made on first use by
//! a configured claim and attribute), and the answer: an RS256 ID token for Entra.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use time::OffsetDateTime;
use uuid::Uuid;

use super::oidc::Oidc;
use super::oidc_authorize::{AuthorizeError, AuthorizeStep};
use super::sessions::SignedIn;
use crate::domain::audit::{Activity, AuditRecord, Initiator};
use crate::domain::directory::User;
use crate::domain::oidc::authn::Authentication;
use crate::domain::oidc::client::Application;
use crate::domain::oidc::eam::{
    EamSettings, EamSubject, HintError, LinkAttribute, answer_claims, check_hint,
};
use crate::domain::oidc::error::{OAuthError, OAuthErrorCode};
use crate::domain::oidc::flow::Flow;
use crate::domain::oidc::problem::Problem;
use crate::domain::oidc::request::{self, AuthorizationRequest, HintParam, Params};
use crate::jose::{self, Alg, JoseError, JwkSet};
use crate::store::{audit, eam_links, oidc_clients, oidc_flows, users};
use crate::{Error, Result};

/// Where Entra's public keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntraKeySource {
    /// An OpenID discovery document whose `jwks_uri` is read.
    Discovery(String),
    Jwks(String),
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct EntraEamConfig {
    pub keys: EntraKeySource,
    pub settings: EamSettings,
    /// Keys are fetched again after this.
    pub key_cache: StdDuration,
    /// A hint with an unknown `kid` fetches the keys again, at most once per this.
    pub refetch_interval: StdDuration,
    pub http_timeout: StdDuration,
}

impl Default for EntraEamConfig {
    fn default() -> Self {
        EntraEamConfig {
            keys: EntraKeySource::Discovery(
                "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"
                    .into(),
            ),
            settings: EamSettings::default(),
            key_cache: StdDuration::from_secs(24 * 3600),
            refetch_interval: StdDuration::from_secs(60),
            http_timeout: StdDuration::from_secs(10),
        }
    }
}

struct Cached {
    set: Arc<JwkSet>,
    fetched_at: Instant,
    /// The last fetch an unknown `kid` caused.
    refetched_at: Option<Instant>,
}

/// Entra's keys, as last fetched.
pub struct EntraKeys {
    config: EntraEamConfig,
    http: reqwest::Client,
    cache: tokio::sync::Mutex<Option<Cached>>,
}

/// Largest key document read: Entra's is a few kilobytes.
const MAX_DOCUMENT: usize = 512 * 1024;

impl EntraKeys {
    pub fn new(config: EntraEamConfig) -> EntraKeys {
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.http_timeout)
            .user_agent(concat!("tapbridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        EntraKeys {
            config,
            http,
            cache: tokio::sync::Mutex::new(None),
        }
    }

    pub fn settings(&self) -> &EamSettings {
        &self.config.settings
    }

    async fn get_json(&self, url: &str) -> std::result::Result<serde_json::Value, String> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        let body = response.bytes().await.map_err(|e| format!("{url}: {e}"))?;
        if body.len() > MAX_DOCUMENT {
            return Err(format!("{url}: the document is too large"));
        }
        serde_json::from_slice(&body).map_err(|e| format!("{url}: not JSON: {e}"))
    }

    async fn fetch(&self) -> std::result::Result<JwkSet, String> {
        let doc = match &self.config.keys {
            EntraKeySource::File(path) => {
                let text = tokio::fs::read(path)
                    .await
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?
            }
            EntraKeySource::Jwks(url) => self.get_json(url).await?,
            EntraKeySource::Discovery(url) => {
                let meta = self.get_json(url).await?;
                let jwks_uri = meta["jwks_uri"]
                    .as_str()
                    .ok_or_else(|| format!("{url}: no jwks_uri"))?
                    .to_owned();
                self.get_json(&jwks_uri).await?
            }
        };
        let set: JwkSet = serde_json::from_value(doc).map_err(|e| format!("not a JWKS: {e}"))?;
        // Only keys that can verify RS256, the algorithm of Entra's tokens.
        Ok(JwkSet {
            keys: set
                .keys
                .into_iter()
                .filter(|k| k.kty == "RSA" && !k.has_private_part())
                .collect(),
        })
    }

    /// The keys: cached for `key_cache`; with `unknown_kid`, fetched again unless an
    /// unknown `kid` did so within `refetch_interval` (so a flood of made-up `kid`s costs one
    /// fetch per interval, and a key Entra just rolled to is fetched at once). A failed fetch
    /// keeps the keys there were.
    async fn keys(&self, unknown_kid: bool) -> std::result::Result<Arc<JwkSet>, String> {
        let mut cache = self.cache.lock().await;
        let mut refetched_at = None;
        if let Some(c) = cache.as_ref() {
            let fresh = c.fetched_at.elapsed() < self.config.key_cache;
            let recently_refetched = c
                .refetched_at
                .is_some_and(|t| t.elapsed() < self.config.refetch_interval);
            if (fresh && !unknown_kid) || (unknown_kid && recently_refetched) {
                return Ok(c.set.clone());
            }
            refetched_at = c.refetched_at;
        }
        match self.fetch().await {
            Ok(set) => {
                let set = Arc::new(set);
                let now = Instant::now();
                *cache = Some(Cached {
                    set: set.clone(),
                    fetched_at: now,
                    refetched_at: if unknown_kid { Some(now) } else { refetched_at },
                });
                Ok(set)
            }
            Err(e) => match cache.as_mut() {
                Some(c) => {
                    if unknown_kid {
                        c.refetched_at = Some(Instant::now());
                    }
                    tracing::warn!(error = %e, "Microsoft Entra's keys could not be fetched again; using the ones there were");
                    Ok(c.set.clone())
                }
                None => Err(e),
            },
        }
    }

    /// Verifies a hint's signature: RS256 only, a key Entra publishes.
    pub async fn verify(
        &self,
        token: &str,
    ) -> std::result::Result<serde_json::Map<String, serde_json::Value>, HintError> {
        let unverified = |e: JoseError| HintError::Unverified(e.to_string());
        let keys = self.keys(false).await.map_err(|e| {
            tracing::error!(error = %e, "Microsoft Entra's keys are not available");
            HintError::Unverified("Microsoft Entra's keys are not available".into())
        })?;
        match jose::verify(token, &[Alg::Rs256], &keys) {
            Ok(v) => Ok(v.claims),
            Err(JoseError::UnknownKey) => {
                let keys = self
                    .keys(true)
                    .await
                    .map_err(|_| unverified(JoseError::UnknownKey))?;
                jose::verify(token, &[Alg::Rs256], &keys)
                    .map(|v| v.claims)
                    .map_err(unverified)
            }
            Err(e) => Err(unverified(e)),
        }
    }
}

/// Why Entra's user is refused after the hint checked out.
enum Refusal {
    Hint(HintError),
    UnknownUser,
    Disabled { id: Uuid, upn: String },
}

impl Oidc {
    fn eam_initiator() -> Initiator {
        Initiator {
            kind: "service".into(),
            id: None,
            display_name: "Microsoft Entra".into(),
        }
    }

    async fn eam_audit(&self, record: AuditRecord) -> Result<()> {
        let mut tx = self.platform.store.write().await?;
        audit::insert(&mut tx, &record).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The tapbridge user of a checked hint: the linked one, or on first use the one whose
    /// configured attribute equals the configured claim.
    async fn eam_user(
        &self,
        tenant_id: Uuid,
        object_id: Uuid,
        link_value: Option<&str>,
    ) -> Result<Option<User>> {
        let mut conn = self.platform.store.read().await?;
        if let Some(id) = eam_links::user_of(&mut conn, tenant_id, object_id).await? {
            return users::get(&mut conn, id).await;
        }
        let Some(value) = link_value else {
            return Ok(None);
        };
        match self.entra.settings().link_attribute {
            LinkAttribute::UserPrincipalName => users::get_by_upn(&mut conn, value).await,
            LinkAttribute::Mail => users::get_by_mail(&mut conn, value).await,
        }
    }

    /// Fetches Microsoft Entra's keys if an application is Entra's EAM client, so the first
    /// request does not wait for them and a source that cannot be read is logged at start.
    pub async fn prepare_entra_eam(&self) {
        let wanted = match self.platform.store.read().await {
            Ok(mut conn) => oidc_clients::any_entra_eam(&mut conn)
                .await
                .unwrap_or(false),
            Err(_) => false,
        };
        if !wanted {
            return;
        }
        match self.entra.keys(false).await {
            Ok(keys) => tracing::info!(
                keys = keys.keys.len(),
                "Microsoft Entra's keys for external authentication fetched"
            ),
            Err(e) => tracing::error!(
                error = %e,
                "Microsoft Entra's keys cannot be fetched: its external authentication requests will be refused until they can (see [oidc.entra_eam])"
            ),
        }
    }

    /// Checks an EAM request's hint and finds its user; the request then names them. `Err`:
    /// the error for Entra (audited here).
    pub(super) async fn eam_subject(
        &self,
        params: &Params<'_>,
        app: &Application,
        request: &mut AuthorizationRequest,
        correlation_id: Option<Uuid>,
    ) -> Result<std::result::Result<(), OAuthError>> {
        let (Some(client), Some(eam)) = (&app.eam, request.eam.as_mut()) else {
            return Ok(Ok(()));
        };
        let now = self.platform.now();
        let refusal = match request::id_token_hint(params) {
            HintParam::One(token) => match self.entra.verify(token).await {
                Ok(claims) => {
                    match check_hint(&claims, client, app.app_id, self.entra.settings(), now) {
                        Ok(hint) => {
                            match self
                                .eam_user(
                                    hint.tenant_id,
                                    hint.object_id,
                                    hint.link_value.as_deref(),
                                )
                                .await?
                            {
                                Some(user) if user.account_enabled => {
                                    // The pass form of a new hire is filled in already.
                                    request.login_hint = Some(user.user_principal_name.clone());
                                    eam.subject = Some(EamSubject {
                                        sub: hint.sub,
                                        tenant_id: hint.tenant_id,
                                        object_id: hint.object_id,
                                        user_id: user.id,
                                    });
                                    return Ok(Ok(()));
                                }
                                Some(user) => (
                                    Refusal::Disabled {
                                        id: user.id,
                                        upn: user.user_principal_name,
                                    },
                                    Some(hint),
                                ),
                                None => (Refusal::UnknownUser, Some(hint)),
                            }
                        }
                        Err(e) => (Refusal::Hint(e), None),
                    }
                }
                Err(e) => (Refusal::Hint(e), None),
            },
            HintParam::Absent => (Refusal::Hint(HintError::Missing), None),
            HintParam::Repeated => (
                Refusal::Hint(HintError::Unverified("sent more than once".into())),
                None,
            ),
        };
        let (refusal, hint) = refusal;
        let (reason, error) = match &refusal {
            Refusal::Hint(HintError::TenantNotAllowed(_)) => (
                refusal_reason(&refusal),
                OAuthError::new(OAuthErrorCode::AccessDenied, "the tenant is not allowed"),
            ),
            Refusal::Hint(_) => (
                refusal_reason(&refusal),
                OAuthError::new(
                    OAuthErrorCode::InvalidRequest,
                    "the id_token_hint is not valid",
                ),
            ),
            Refusal::UnknownUser | Refusal::Disabled { .. } => (
                refusal_reason(&refusal),
                OAuthError::new(OAuthErrorCode::AccessDenied, "the user cannot sign in here"),
            ),
        };
        let mut record = AuditRecord::new(
            Activity::ExternalMfaSignInFailed,
            Self::eam_initiator(),
            now,
        )
        .failed(reason)
        .target("Application", app.id, Some(&app.display_name))
        .correlation(correlation_id)
        .coalescing(self.platform.settings.audit_coalesce_window);
        if let Refusal::Disabled { id, upn } = &refusal {
            record = record.target("User", id, Some(upn));
        }
        if let Some(h) = &hint {
            record = record
                .detail("tenantId", h.tenant_id)
                .detail("objectId", h.object_id);
        }
        if let Some(id) = eam.client_request_id {
            record = record.detail("clientRequestId", id);
        }
        self.eam_audit(record).await?;
        Ok(Err(error))
    }

    /// A refusal inside the flow (another user signed in, no user verification), audited.
    pub(super) async fn eam_refused(
        &self,
        flow: &Flow,
        app: &Application,
        error: &OAuthError,
        correlation_id: Option<Uuid>,
    ) -> Result<()> {
        let mut record = AuditRecord::new(
            Activity::ExternalMfaSignInFailed,
            Self::eam_initiator(),
            self.platform.now(),
        )
        .failed(error.description.clone())
        .target("Application", app.id, Some(&app.display_name))
        .correlation(correlation_id);
        if let Some(eam) = &flow.request.eam {
            if let Some(s) = &eam.subject {
                record = record
                    .target("User", s.user_id, None)
                    .detail("tenantId", s.tenant_id)
                    .detail("objectId", s.object_id);
            }
            if let Some(id) = eam.client_request_id {
                record = record.detail("clientRequestId", id);
            }
        }
        self.eam_audit(record).await
    }

    /// Ends an EAM flow: the link kept, the sign-in audited, and the ID token for Entra.
    pub(super) async fn issue_eam(
        &self,
        flow: &Flow,
        stored: bool,
        app: &Application,
        session: &SignedIn,
        authentication: &Authentication,
        correlation_id: Option<Uuid>,
    ) -> std::result::Result<AuthorizeStep, AuthorizeError> {
        let r = &flow.request;
        let (Some(eam), Some(subject)) = (&r.eam, r.eam.as_ref().and_then(|e| e.subject.as_ref()))
        else {
            return Err(AuthorizeError::Failed(Error::Internal(
                "an EAM answer without its user".into(),
            )));
        };
        if app.eam.is_none() {
            return Err(AuthorizeError::Page(Problem::ApplicationChanged));
        }
        let now: OffsetDateTime = self.platform.now();
        let claims = answer_claims(
            &self.settings.issuer,
            app.app_id,
            subject,
            r.nonce.as_deref(),
            &eam.acr,
            now,
            self.settings.id_token_lifetime,
        );
        // Signed before the transaction: a first RS256 key is made in a transaction of its own.
        let id_token = self.sign(Alg::Rs256, "JWT", &claims).await?;
        let mut tx = self.platform.store.write().await?;
        if stored && !oidc_flows::delete(&mut tx, &flow.id).await? {
            return Err(AuthorizeError::Page(Problem::FlowGone));
        }
        let linked = eam_links::link(
            &mut tx,
            subject.tenant_id,
            subject.object_id,
            subject.user_id,
            now,
        )
        .await?;
        if !linked {
            // Another sign-in linked this Entra user to someone else meanwhile.
            tx.commit().await?;
            let e = OAuthError::new(OAuthErrorCode::AccessDenied, "the user cannot sign in here");
            self.eam_refused(flow, app, &e, correlation_id).await?;
            return Ok(self.eam_error(flow, &e));
        }
        let user = &session.user;
        let mut record = AuditRecord::new(
            Activity::ExternalMfaSignIn,
            Initiator {
                kind: "user".into(),
                id: Some(user.id.to_string()),
                display_name: user.user_principal_name.clone(),
            },
            now,
        )
        .target("User", user.id, Some(&user.user_principal_name))
        .target("Application", app.id, Some(&app.display_name))
        .detail("tenantId", subject.tenant_id)
        .detail("objectId", subject.object_id)
        .detail("acr", &eam.acr)
        .detail("amr", "fido")
        .detail("passkey", authentication.method_id)
        .correlation(correlation_id);
        if let Some(id) = eam.client_request_id {
            record = record.detail("clientRequestId", id);
        }
        audit::insert(&mut tx, &record).await?;
        tx.commit().await?;
        Ok(self.eam_answer(flow, id_token))
    }
}

fn refusal_reason(r: &Refusal) -> String {
    match r {
        Refusal::Hint(h) => h.reason(),
        Refusal::UnknownUser => "no tapbridge user matches the Microsoft Entra user".into(),
        Refusal::Disabled { .. } => "the user is disabled".into(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::jose::{SigningKey, b64, sign};

    fn write(path: &std::path::Path, keys: &[&SigningKey]) {
        let set = JwkSet {
            keys: keys.iter().map(|k| k.public_jwk().clone()).collect(),
        };
        std::fs::write(path, serde_json::to_vec(&set).unwrap()).unwrap();
    }

    /// A token signed by `key` whose header names `kid`.
    fn with_kid(key: &SigningKey, alg: &str, kid: &str) -> String {
        let input = format!(
            "{}.{}",
            b64(format!(r#"{{"alg":"{alg}","kid":"{kid}"}}"#).as_bytes()),
            b64(br#"{"sub":"s"}"#)
        );
        let sig = key.sign(input.as_bytes()).unwrap();
        format!("{input}.{}", b64(&sig))
    }

    #[tokio::test]
    async fn hints_verify_against_entras_keys_fetched_again_once_for_a_new_kid() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("entra.json");
        let (k1, _) = SigningKey::generate(Alg::Rs256, "entra 1").unwrap();
        let (k2, _) = SigningKey::generate(Alg::Rs256, "entra 2").unwrap();
        let (ec, _) = SigningKey::generate(Alg::Es256, "not entra").unwrap();
        write(&file, &[&k1]);
        let keys = EntraKeys::new(EntraEamConfig {
            keys: EntraKeySource::File(file.clone()),
            ..EntraEamConfig::default()
        });
        let claims = json!({"sub": "s"});
        let good = keys
            .verify(&sign(&k1, "JWT", &claims).unwrap())
            .await
            .unwrap();
        assert_eq!(good["sub"], "s");
        // alg none, an EC key, an HMAC "signature": never.
        let none = format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(br#"{"sub":"s"}"#));
        for bad in [
            none,
            sign(&ec, "JWT", &claims).unwrap(),
            with_kid(&k1, "HS256", k1.kid()),
            with_kid(&k2, "RS256", k1.kid()),
            "not a token".into(),
        ] {
            assert!(
                matches!(keys.verify(&bad).await, Err(HintError::Unverified(_))),
                "{bad}"
            );
        }
        // Entra rolls to a new key: fetched again at once.
        write(&file, &[&k1, &k2]);
        assert!(
            keys.verify(&sign(&k2, "JWT", &claims).unwrap())
                .await
                .is_ok()
        );
        // A made-up kid right after does not fetch again: the keys there were stay (k2 still
        // verifies although the file no longer has it).
        write(&file, &[&k1]);
        assert!(
            keys.verify(&with_kid(&k1, "RS256", "made-up"))
                .await
                .is_err()
        );
        assert!(
            keys.verify(&sign(&k2, "JWT", &claims).unwrap())
                .await
                .is_ok()
        );
        // A source that cannot be read leaves nothing to verify with.
        let missing = EntraKeys::new(EntraEamConfig {
            keys: EntraKeySource::File(dir.path().join("absent.json")),
            ..EntraEamConfig::default()
        });
        assert!(matches!(
            missing.verify(&sign(&k1, "JWT", &claims).unwrap()).await,
            Err(HintError::Unverified(_))
        ));
    }
}
