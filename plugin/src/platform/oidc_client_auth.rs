//! Client authentication at the token, revocation and introspection endpoints:
//! `client_secret_basic`, `client_secret_post`, `private_key_jwt` (RFC 7523, OpenID Connect
//! Core §9) and `none` for public clients. Every failure is the same `invalid_client`.

use uuid::Uuid;

use super::oidc::Oidc;
use crate::domain::oidc::OAuthError;
use crate::domain::oidc::client::Application;
use crate::jose::{self, Alg};
use crate::secret::SecretString;
use crate::store::{oidc_clients, oidc_grants};

/// What a request presented to authenticate its client.
#[derive(Debug)]
pub enum ClientAuth {
    /// `Authorization: Basic`, both halves form-urlencoded (RFC 6749 §2.3.1).
    Basic {
        client_id: String,
        secret: SecretString,
    },
    /// `client_id` and `client_secret` in the body.
    Post {
        client_id: String,
        secret: SecretString,
    },
    /// `client_assertion` (a JWT signed with a key the application registered).
    Jwt {
        client_id: Option<String>,
        assertion: String,
    },
    /// Only `client_id`: a public client.
    None { client_id: String },
}

/// The client a request comes from, and whether it proved it.
#[derive(Debug, Clone)]
pub struct Client {
    pub app: Application,
    pub authenticated: bool,
}

/// The longest a client assertion may live: long enough for clock skew and a slow network,
/// short enough that remembering its `jti` costs little.
const MAX_ASSERTION_LIFETIME: i64 = 3600;
/// Tolerated clock difference with the client, seconds.
const LEEWAY: i64 = 60;

impl Oidc {
    /// Who `auth` is. `invalid_client` for an unknown client, a wrong secret, an assertion
    /// that does not verify or was seen before.
    pub async fn authenticate_client(&self, auth: ClientAuth) -> Result<Client, OAuthError> {
        let parse = |id: &str| Uuid::try_parse(id.trim()).map_err(|_| OAuthError::invalid_client());
        match auth {
            ClientAuth::Basic { client_id, secret } | ClientAuth::Post { client_id, secret } => {
                let app = self.app(parse(&client_id)?).await?;
                let Some(app) = app else {
                    return Err(OAuthError::invalid_client());
                };
                if self.platform.verify_client_secret(&app, &secret).await? {
                    Ok(Client {
                        app,
                        authenticated: true,
                    })
                } else {
                    Err(OAuthError::invalid_client())
                }
            }
            ClientAuth::None { client_id } => {
                let app = self
                    .app(parse(&client_id)?)
                    .await?
                    .ok_or_else(OAuthError::invalid_client)?;
                Ok(Client {
                    app,
                    authenticated: false,
                })
            }
            ClientAuth::Jwt {
                client_id,
                assertion,
            } => {
                self.verify_assertion(client_id.as_deref(), &assertion)
                    .await
            }
        }
    }

    async fn app(&self, client_id: Uuid) -> Result<Option<Application>, OAuthError> {
        let mut conn = self.platform.store.read().await?;
        Ok(oidc_clients::by_client_id(&mut conn, client_id).await?)
    }

    async fn verify_assertion(
        &self,
        client_id: Option<&str>,
        assertion: &str,
    ) -> Result<Client, OAuthError> {
        let bad = OAuthError::invalid_client;
        let (_, unverified) = jose::decode_unverified(assertion).map_err(|_| bad())?;
        let issuer = unverified
            .get("iss")
            .and_then(|v| v.as_str())
            .ok_or_else(bad)?;
        if client_id.is_some_and(|c| c != issuer) {
            return Err(bad());
        }
        let id = Uuid::try_parse(issuer).map_err(|_| bad())?;
        let app = self.app(id).await?.ok_or_else(bad)?;
        let jwks = app.jwks.as_ref().ok_or_else(bad)?;
        let verified =
            jose::verify(assertion, &[Alg::Es256, Alg::Rs256], jwks).map_err(|_| bad())?;
        let c = &verified.claims;
        let text = |k: &str| c.get(k).and_then(|v| v.as_str());
        let now = self.platform.now();
        let now_s = now.unix_timestamp();
        let exp = c.get("exp").and_then(|v| v.as_i64()).ok_or_else(bad)?;
        let audience_ok = |a: &str| {
            a == self.settings.issuer
                || a.strip_prefix(self.settings.issuer.as_str())
                    .is_some_and(|p| p.starts_with("/oauth2/"))
        };
        let aud_ok = match c.get("aud") {
            Some(serde_json::Value::String(a)) => audience_ok(a),
            Some(serde_json::Value::Array(list)) => {
                list.iter().filter_map(|a| a.as_str()).any(audience_ok)
            }
            _ => false,
        };
        let fresh = exp + LEEWAY > now_s
            && exp <= now_s + MAX_ASSERTION_LIFETIME
            && c.get("nbf")
                .and_then(|v| v.as_i64())
                .is_none_or(|n| n <= now_s + LEEWAY);
        let jti = text("jti").filter(|j| !j.is_empty() && j.len() <= 256);
        if text("sub") != Some(issuer) || !aud_ok || !fresh || jti.is_none() {
            return Err(bad());
        }
        let expires = time::OffsetDateTime::from_unix_timestamp(exp + LEEWAY).map_err(|_| bad())?;
        let mut tx = self.platform.store.write().await?;
        let first =
            oidc_grants::remember_jti(&mut tx, app.app_id, jti.unwrap_or_default(), expires, now)
                .await?;
        tx.commit().await?;
        if !first {
            tracing::warn!(client_id = %app.app_id, "client assertion replayed");
            return Err(bad());
        }
        Ok(Client {
            app,
            authenticated: true,
        })
    }
}
