//! The token endpoint's grants — authorization code, refresh token, client credentials —
//! and the tokens they issue; verifying access tokens (UserInfo, the admin API); revocation
//! (RFC 7009) and introspection (RFC 7662).
//!
//! Access tokens are JWTs (RFC 9068, `typ: at+jwt`, ES256) that name their grant (`gid`):
//! every use checks the grant is still live, so revoking a grant — a replayed code, a reused
//! refresh token, a revocation request, a logout — stops its access tokens at once. ID tokens
//! are signed with the application's algorithm (ES256, or RS256 where the relying party
//! needs it). Codes and refresh tokens are opaque `id.secret` values kept as keyed hashes.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::oidc::Oidc;
use super::oidc_authorize::token_parts;
use super::oidc_client_auth::Client;
use crate::domain::actor::{Actor, Principal};
use crate::domain::audit::{Activity, AuditRecord, Initiator};
use crate::domain::directory::User;
use crate::domain::oidc::authn::Authentication;
use crate::domain::oidc::claims::{at_hash, user_claims};
use crate::domain::oidc::client::Application;
use crate::domain::oidc::error::{OAuthError, OAuthErrorCode};
use crate::domain::oidc::grant::{
    CodeRefusal, Exchange, GrantDetail, RefreshVerdict, check_exchange, judge_refresh,
};
use crate::domain::oidc::scope::{Scope, Scopes};
use crate::domain::role::Roles;
use crate::jose::{self, Alg, JoseError};
use crate::store::oidc_grants::{self, GrantRow};
use crate::store::{Connection, audit, oidc_clients, users};
use crate::{Error, Result};

/// A successful token response. Its `Debug` shows which tokens it holds, never their values.
#[derive(Clone)]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub scope: String,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = |t: &Option<String>| t.as_ref().map(|_| "<redacted>");
        f.debug_struct("TokenResponse")
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &held(&self.refresh_token))
            .field("id_token", &held(&self.id_token))
            .field("scope", &self.scope)
            .finish()
    }
}

/// A verified, live access token.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub grant_id: Uuid,
    pub client_id: Uuid,
    /// The user, for tokens from a user's sign-in.
    pub user_id: Option<Uuid>,
    pub scopes: Scopes,
    /// Roles of an application's own token (client credentials).
    pub roles: Roles,
    pub claims: Map<String, Value>,
}

/// The scopes that ask for an application token for tapbridge's API (client credentials),
/// besides `{issuer}/.default`: Graph SDKs ask for Graph's.
const GRAPH_DEFAULT: &str = "https://graph.microsoft.com/.default";

fn service() -> Initiator {
    Initiator {
        kind: "service".into(),
        id: None,
        display_name: "oidc".into(),
    }
}

/// Splits `id.secret`; `None` for anything else.
fn split_token(token: &str) -> Option<(&str, &str)> {
    let (id, secret) = token.split_once('.')?;
    (id.len() == 22 && secret.len() == 43 && !secret.contains('.')).then_some((id, secret))
}

impl Oidc {
    pub(super) async fn sign(
        &self,
        alg: Alg,
        typ: &str,
        claims: &Map<String, Value>,
    ) -> Result<String> {
        let key = self.signing_key(alg).await?;
        jose::sign(&key, typ, claims).map_err(|e| Error::Internal(format!("signing: {e}")))
    }

    /// Verifies a token this provider signed, with `allowed` algorithms, trying a fresh read
    /// of the keys once if the `kid` is unknown (another node may have made it).
    pub(super) async fn verify_own(
        &self,
        token: &str,
        allowed: &[Alg],
    ) -> std::result::Result<jose::Verified, JoseError> {
        let ring = self.key_ring().await.map_err(|_| JoseError::UnknownKey)?;
        match jose::verify(token, allowed, &ring.published) {
            Err(JoseError::UnknownKey) => {
                let ring = {
                    let _one = self.reloading.lock().await;
                    self.reload().await.map_err(|_| JoseError::UnknownKey)?
                };
                jose::verify(token, allowed, &ring.published)
            }
            other => other,
        }
    }

    /// The user behind a grant, if still there and enabled.
    async fn live_user(conn: &mut Connection, id: Uuid) -> Result<Option<User>> {
        Ok(users::get(conn, id).await?.filter(|u| u.account_enabled))
    }

    async fn user_tokens(
        &self,
        app: &Application,
        user: &User,
        grant_id: Uuid,
        detail: &GrantDetail,
        nonce: Option<&str>,
        refresh_token: Option<String>,
    ) -> Result<TokenResponse> {
        let now = self.platform.now().unix_timestamp();
        let issuer = &self.settings.issuer;
        let groups: Vec<Uuid> = if detail.scopes.contains(Scope::Groups) {
            let mut conn = self.platform.store.read().await?;
            let mut g: Vec<Uuid> = users::group_ids(&mut conn, user.id)
                .await?
                .into_iter()
                .collect();
            g.sort();
            g
        } else {
            vec![]
        };
        let access_lifetime = self.settings.access_token_lifetime.whole_seconds();
        let mut access = Map::new();
        access.insert("iss".into(), json!(issuer));
        access.insert("sub".into(), json!(user.id));
        access.insert("aud".into(), json!(issuer));
        access.insert("client_id".into(), json!(app.app_id));
        access.insert("scope".into(), json!(detail.scopes.to_string()));
        access.insert("gid".into(), json!(grant_id));
        access.insert("jti".into(), json!(Uuid::new_v4()));
        access.insert("iat".into(), json!(now));
        access.insert("exp".into(), json!(now + access_lifetime));
        access.insert("idtyp".into(), json!("user"));
        if let Some(a) = &detail.authentication {
            put_authentication(&mut access, a);
        }
        let access_token = self.sign(Alg::Es256, "at+jwt", &access).await?;

        let id_token = if detail.scopes.contains(Scope::OpenId) {
            let mut id = user_claims(user, &groups, &detail.scopes);
            id.insert("iss".into(), json!(issuer));
            id.insert("aud".into(), json!(app.app_id));
            id.insert("azp".into(), json!(app.app_id));
            id.insert("iat".into(), json!(now));
            id.insert(
                "exp".into(),
                json!(now + self.settings.id_token_lifetime.whole_seconds()),
            );
            id.insert("at_hash".into(), json!(at_hash(&access_token)));
            if let Some(n) = nonce {
                id.insert("nonce".into(), json!(n));
            }
            if let Some(a) = &detail.authentication {
                put_authentication(&mut id, a);
            }
            if let Some(s) = &detail.session_id {
                id.insert("sid".into(), json!(self.sid(s)));
            }
            Some(self.sign(app.id_token_signing_alg, "JWT", &id).await?)
        } else {
            None
        };
        Ok(TokenResponse {
            access_token,
            expires_in: access_lifetime,
            refresh_token,
            id_token,
            scope: detail.scopes.to_string(),
        })
    }

    /// The `sid` claim for a browser session: a keyed hash of its id, so the session's
    /// lookup key never leaves the server.
    pub(super) fn sid(&self, session_id: &str) -> String {
        use base64::Engine;
        let h = self.token_hasher.hash(b"sid", session_id.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&h[..18])
    }

    fn new_refresh(&self) -> (String, String, [u8; 32]) {
        let (id, secret) = token_parts();
        let hash = self.token_hasher.hash(id.as_bytes(), secret.as_bytes());
        let token = format!("{id}.{secret}");
        (id, token, hash)
    }

    async fn revoke_with_audit(
        &self,
        tx: &mut Connection,
        grant_id: Uuid,
        client_id: Uuid,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let revoked = oidc_grants::revoke_grant(tx, grant_id, now, reason).await?;
        if revoked {
            let record = AuditRecord::new(Activity::ApplicationTokensRevoked, service(), now)
                .target("Grant", grant_id, None)
                .detail("appId", client_id)
                .reason(reason);
            audit::insert(tx, &record).await?;
            tracing::warn!(%grant_id, %client_id, reason, "grant revoked");
        }
        Ok(revoked)
    }

    /// `grant_type=authorization_code`.
    pub async fn exchange_code(
        &self,
        client: &Client,
        code: &str,
        redirect_uri: Option<&str>,
        code_verifier: Option<&str>,
    ) -> std::result::Result<TokenResponse, OAuthError> {
        let invalid = || OAuthError::invalid_grant("the code is invalid, expired or used");
        let (id, secret) = split_token(code).ok_or_else(invalid)?;
        let now = self.platform.now();
        let mut tx = self.platform.store.write().await?;
        let Some((state, hash, issued)) = oidc_grants::code(&mut tx, id).await? else {
            return Err(invalid());
        };
        if !self
            .token_hasher
            .verify(id.as_bytes(), secret.as_bytes(), &hash)
        {
            return Err(invalid());
        }
        // Spent before anything else is checked: whatever happens next, this code is done.
        oidc_grants::spend_code(&mut tx, id, now).await?;
        let verdict = check_exchange(
            &state,
            &Exchange {
                client_id: client.app.app_id,
                client_authenticated: client.authenticated,
                redirect_uri,
                code_verifier,
                now,
            },
        );
        match verdict {
            Err(CodeRefusal::Replayed) => {
                if let Some(grant) = issued {
                    self.revoke_with_audit(
                        &mut tx,
                        grant,
                        state.client_id,
                        "authorization code replayed",
                        now,
                    )
                    .await?;
                }
                tx.commit().await?;
                return Err(invalid());
            }
            Err(CodeRefusal::Invalid(e)) => {
                tx.commit().await?;
                return Err(e);
            }
            Ok(()) => {}
        }
        let Some(user) = Self::live_user(&mut tx, state.user_id).await? else {
            tx.commit().await?;
            return Err(OAuthError::invalid_grant("the user can no longer sign in"));
        };
        let detail = GrantDetail {
            scopes: state.detail.scopes.clone(),
            authentication: Some(state.detail.authentication.clone()),
            session_id: Some(state.detail.session_id.clone()),
            public: state.detail.platform.is_public(),
        };
        let grant = GrantRow {
            id: Uuid::new_v4(),
            kind: "authorization_code",
            client_id: client.app.app_id,
            user_id: Some(user.id),
            detail: detail.clone(),
            created_at: now,
            expires_at: now + self.settings.refresh_token_absolute,
            revoked_at: None,
        };
        oidc_grants::insert_grant(&mut tx, &grant).await?;
        oidc_grants::set_code_grant(&mut tx, id, grant.id).await?;
        let refresh = if detail.scopes.contains(Scope::OfflineAccess) {
            let (rid, token, hash) = self.new_refresh();
            let expires = (now + self.settings.refresh_token_idle).min(grant.expires_at);
            oidc_grants::insert_refresh(&mut tx, &rid, &hash, grant.id, now, expires).await?;
            Some(token)
        } else {
            None
        };
        tx.commit().await?;
        Ok(self
            .user_tokens(
                &client.app,
                &user,
                grant.id,
                &detail,
                state.detail.nonce.as_deref(),
                refresh,
            )
            .await?)
    }

    /// `grant_type=refresh_token`: spends the token and issues its successor.
    pub async fn refresh(
        &self,
        client: &Client,
        refresh_token: &str,
        scope: Option<&str>,
    ) -> std::result::Result<TokenResponse, OAuthError> {
        let invalid =
            || OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
        let (id, secret) = split_token(refresh_token).ok_or_else(invalid)?;
        let now = self.platform.now();
        let mut tx = self.platform.store.write().await?;
        let Some((state, hash)) = oidc_grants::refresh(&mut tx, id).await? else {
            return Err(invalid());
        };
        if !self
            .token_hasher
            .verify(id.as_bytes(), secret.as_bytes(), &hash)
        {
            return Err(invalid());
        }
        let Some(grant) = oidc_grants::grant(&mut tx, state.grant_id).await? else {
            return Err(invalid());
        };
        if !grant.detail.public && !client.authenticated {
            return Err(OAuthError::invalid_client());
        }
        match judge_refresh(&state, client.app.app_id, now) {
            RefreshVerdict::Reused => {
                self.revoke_with_audit(
                    &mut tx,
                    grant.id,
                    grant.client_id,
                    "refresh token reused",
                    now,
                )
                .await?;
                tx.commit().await?;
                return Err(invalid());
            }
            RefreshVerdict::Refused(e) => return Err(e),
            RefreshVerdict::Rotate => {}
        }
        let scopes = match scope {
            None => grant.detail.scopes.clone(),
            Some(s) => {
                let asked = Scopes::parse(s);
                if !grant.detail.scopes.covers(&asked) {
                    return Err(OAuthError::new(
                        OAuthErrorCode::InvalidScope,
                        "a refresh may narrow the scopes, not widen them",
                    ));
                }
                asked
            }
        };
        let Some(user) = Self::live_user(&mut tx, grant.user_id.unwrap_or_default()).await? else {
            self.revoke_with_audit(
                &mut tx,
                grant.id,
                grant.client_id,
                "user disabled or deleted",
                now,
            )
            .await?;
            tx.commit().await?;
            return Err(invalid());
        };
        if !oidc_grants::spend_refresh(&mut tx, id, now).await? {
            return Err(invalid());
        }
        let (rid, token, hash) = self.new_refresh();
        let expires = (now + self.settings.refresh_token_idle).min(grant.expires_at);
        oidc_grants::insert_refresh(&mut tx, &rid, &hash, grant.id, now, expires).await?;
        tx.commit().await?;
        let detail = GrantDetail {
            scopes,
            ..grant.detail.clone()
        };
        Ok(self
            .user_tokens(&client.app, &user, grant.id, &detail, None, Some(token))
            .await?)
    }

    /// `grant_type=client_credentials`: a token for the application itself, carrying the
    /// administrative roles an administrator granted it.
    pub async fn client_credentials(
        &self,
        client: &Client,
        scope: Option<&str>,
    ) -> std::result::Result<TokenResponse, OAuthError> {
        if !client.authenticated {
            return Err(OAuthError::new(
                OAuthErrorCode::UnauthorizedClient,
                "client credentials need a client secret or a client assertion",
            ));
        }
        let own = format!("{}/.default", self.settings.issuer);
        let scope = match scope.map(str::trim).filter(|s| !s.is_empty()) {
            None => own,
            Some(s) if s == own || s == GRAPH_DEFAULT => s.to_owned(),
            Some(s) => {
                return Err(OAuthError::new(
                    OAuthErrorCode::InvalidScope,
                    format!(
                        "client credentials take the scope `{own}` (or `{GRAPH_DEFAULT}`), not `{s}`"
                    ),
                ));
            }
        };
        let app = &client.app;
        let now = self.platform.now();
        let lifetime = self.settings.access_token_lifetime;
        let grant = GrantRow {
            id: Uuid::new_v4(),
            kind: "client_credentials",
            client_id: app.app_id,
            user_id: None,
            detail: GrantDetail {
                scopes: Scopes::default(),
                authentication: None,
                session_id: None,
                public: false,
            },
            created_at: now,
            expires_at: now + lifetime,
            revoked_at: None,
        };
        let mut tx = self.platform.store.write().await?;
        oidc_grants::insert_grant(&mut tx, &grant).await?;
        tx.commit().await?;
        let iat = now.unix_timestamp();
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.settings.issuer));
        claims.insert("sub".into(), json!(app.app_id));
        claims.insert("aud".into(), json!(self.settings.issuer));
        claims.insert("client_id".into(), json!(app.app_id));
        claims.insert("azp".into(), json!(app.app_id));
        claims.insert("scope".into(), json!(scope));
        claims.insert(
            "roles".into(),
            json!(app.app_roles.iter().map(|r| r.as_str()).collect::<Vec<_>>()),
        );
        claims.insert("gid".into(), json!(grant.id));
        claims.insert("jti".into(), json!(Uuid::new_v4()));
        claims.insert("iat".into(), json!(iat));
        claims.insert("exp".into(), json!(iat + lifetime.whole_seconds()));
        claims.insert("idtyp".into(), json!("app"));
        let access_token = self.sign(Alg::Es256, "at+jwt", &claims).await?;
        Ok(TokenResponse {
            access_token,
            expires_in: lifetime.whole_seconds(),
            refresh_token: None,
            id_token: None,
            scope,
        })
    }

    /// Verifies an access token: signature (ES256 only), type, issuer, audience, expiry, and
    /// that its grant is live. Any failure is `Unauthenticated`.
    pub async fn verify_access_token(&self, token: &str) -> Result<AccessToken> {
        let verified = self
            .verify_own(token, &[Alg::Es256])
            .await
            .map_err(|_| Error::Unauthenticated)?;
        if verified.header.typ.as_deref() != Some("at+jwt") {
            return Err(Error::Unauthenticated);
        }
        let c = verified.claims;
        let now = self.platform.now().unix_timestamp();
        let text = |k: &str| c.get(k).and_then(|v| v.as_str());
        let uuid = |k: &str| text(k).and_then(|v| Uuid::try_parse(v).ok());
        let exp = c.get("exp").and_then(|v| v.as_i64()).unwrap_or(0);
        if text("iss") != Some(self.settings.issuer.as_str())
            || text("aud") != Some(self.settings.issuer.as_str())
            || exp <= now
        {
            return Err(Error::Unauthenticated);
        }
        let (Some(grant_id), Some(client_id)) = (uuid("gid"), uuid("client_id")) else {
            return Err(Error::Unauthenticated);
        };
        let mut conn = self.platform.store.read().await?;
        if !oidc_grants::grant_is_live(&mut conn, grant_id).await? {
            return Err(Error::Unauthenticated);
        }
        let app_token = text("idtyp") == Some("app");
        let roles = if app_token {
            let names: Vec<&str> = c
                .get("roles")
                .and_then(|v| v.as_array())
                .map(|a| a.iter().filter_map(|r| r.as_str()).collect())
                .unwrap_or_default();
            Roles::from_csv(&names.join(",")).map_err(|_| Error::Unauthenticated)?
        } else {
            Roles::default()
        };
        Ok(AccessToken {
            grant_id,
            client_id,
            user_id: if app_token { None } else { uuid("sub") },
            scopes: Scopes::parse(text("scope").unwrap_or("")),
            roles,
            claims: c,
        })
    }

    /// The admin API's view of an application token: the application, with the roles it
    /// holds now (a role removed from it stops working before its tokens expire).
    pub async fn authenticate_app_token(&self, token: &str) -> Result<Actor> {
        let access = self.verify_access_token(token).await?;
        if access.user_id.is_some() {
            // A user's token is for UserInfo, not for administration.
            return Err(Error::Unauthenticated);
        }
        let mut conn = self.platform.store.read().await?;
        let app = oidc_clients::by_client_id(&mut conn, access.client_id)
            .await?
            .ok_or(Error::Unauthenticated)?;
        let roles = Roles::new(access.roles.iter().filter(|r| app.app_roles.contains(*r)));
        Ok(Actor {
            principal: Principal::ApiToken {
                id: app.app_id,
                name: app.display_name,
            },
            roles,
        })
    }

    /// UserInfo: the claims of the token's scopes, for an enabled user.
    pub async fn userinfo(&self, token: &str) -> Result<Map<String, Value>> {
        let access = self.verify_access_token(token).await?;
        let user_id = access.user_id.ok_or(Error::Unauthenticated)?;
        if !access.scopes.contains(Scope::OpenId) {
            return Err(Error::Forbidden("the token lacks the openid scope".into()));
        }
        let mut conn = self.platform.store.read().await?;
        let user = Self::live_user(&mut conn, user_id)
            .await?
            .ok_or(Error::Unauthenticated)?;
        let groups: Vec<Uuid> = if access.scopes.contains(Scope::Groups) {
            let mut g: Vec<Uuid> = users::group_ids(&mut conn, user.id)
                .await?
                .into_iter()
                .collect();
            g.sort();
            g
        } else {
            vec![]
        };
        Ok(user_claims(&user, &groups, &access.scopes))
    }

    /// The grant a token (access or refresh) belongs to, if it is one of ours, and the client
    /// it was issued to. Expired access tokens still name their grant.
    async fn grant_of(&self, token: &str) -> Result<Option<(Uuid, Uuid)>> {
        if let Some((id, secret)) = split_token(token) {
            let mut conn = self.platform.store.read().await?;
            return Ok(match oidc_grants::refresh(&mut conn, id).await? {
                Some((state, hash))
                    if self
                        .token_hasher
                        .verify(id.as_bytes(), secret.as_bytes(), &hash) =>
                {
                    Some((state.grant_id, state.client_id))
                }
                _ => None,
            });
        }
        let Ok(v) = self.verify_own(token, &[Alg::Es256]).await else {
            return Ok(None);
        };
        let uuid = |k: &str| {
            v.claims
                .get(k)
                .and_then(|x| x.as_str())
                .and_then(|x| Uuid::try_parse(x).ok())
        };
        Ok(uuid("gid").zip(uuid("client_id")))
    }

    /// RFC 7009: revokes the token's grant — every token issued under it. A token that is not
    /// ours, or another client's, is answered the same way and changes nothing.
    pub async fn revoke(
        &self,
        client: &Client,
        token: &str,
    ) -> std::result::Result<(), OAuthError> {
        if let Some((grant, owner)) = self.grant_of(token).await?
            && owner == client.app.app_id
        {
            let now = self.platform.now();
            let mut tx = self.platform.store.write().await?;
            self.revoke_with_audit(&mut tx, grant, owner, "revoked by the client", now)
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// RFC 7662: whether a token is active, and what it says. Only the client a token was
    /// issued to learns about it; anything else is `{"active": false}`.
    pub async fn introspect(
        &self,
        client: &Client,
        token: &str,
    ) -> std::result::Result<Value, OAuthError> {
        if !client.authenticated {
            return Err(OAuthError::invalid_client());
        }
        let inactive = json!({ "active": false });
        if let Some((id, secret)) = split_token(token) {
            let now = self.platform.now();
            let mut conn = self.platform.store.read().await?;
            let Some((state, hash)) = oidc_grants::refresh(&mut conn, id).await? else {
                return Ok(inactive);
            };
            let live = self
                .token_hasher
                .verify(id.as_bytes(), secret.as_bytes(), &hash)
                && state.client_id == client.app.app_id
                && judge_refresh(&state, client.app.app_id, now) == RefreshVerdict::Rotate;
            if !live {
                return Ok(inactive);
            }
            let Some(grant) = oidc_grants::grant(&mut conn, state.grant_id).await? else {
                return Ok(inactive);
            };
            let user = match grant.user_id {
                Some(u) => Self::live_user(&mut conn, u).await?,
                None => None,
            };
            let Some(user) = user else {
                return Ok(inactive);
            };
            return Ok(json!({
                "active": true,
                "token_type": "refresh_token",
                "client_id": grant.client_id,
                "sub": user.id,
                "username": user.user_principal_name,
                "scope": grant.detail.scopes.to_string(),
                "iss": self.settings.issuer,
                "exp": state.token_expires_at.unix_timestamp(),
            }));
        }
        let Ok(access) = self.verify_access_token(token).await else {
            return Ok(inactive);
        };
        if access.client_id != client.app.app_id {
            return Ok(inactive);
        }
        let mut out = json!({
            "active": true,
            "token_type": "Bearer",
            "client_id": access.client_id,
            "scope": access.claims.get("scope"),
            "sub": access.claims.get("sub"),
            "aud": access.claims.get("aud"),
            "iss": access.claims.get("iss"),
            "exp": access.claims.get("exp"),
            "iat": access.claims.get("iat"),
            "jti": access.claims.get("jti"),
        });
        if let Some(u) = access.user_id {
            let mut conn = self.platform.store.read().await?;
            match Self::live_user(&mut conn, u).await? {
                Some(user) => out["username"] = json!(user.user_principal_name),
                None => return Ok(inactive),
            }
        }
        Ok(out)
    }

    /// Housekeeping: codes, grants, refresh tokens and flows long past their expiry.
    pub async fn purge_expired(&self) -> Result<u64> {
        let now = self.platform.now();
        let mut tx = self.platform.store.write().await?;
        let n = oidc_grants::purge_expired(&mut tx, now).await?
            + crate::store::oidc_flows::purge_expired(&mut tx, now).await?;
        tx.commit().await?;
        Ok(n)
    }
}

fn put_authentication(claims: &mut Map<String, Value>, a: &Authentication) {
    claims.insert("auth_time".into(), json!(a.at.unix_timestamp()));
    claims.insert("acr".into(), json!(a.acr()));
    claims.insert("amr".into(), json!(a.amr()));
}
