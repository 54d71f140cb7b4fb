//! The OpenID Connect provider as a service over the platform: signing keys (this file and
//! `oidc_keys`), applications (`oidc_clients`), the authorization flow (`oidc_authorize`) and
//! the token endpoint's grants (`oidc_tokens`).
//!
//! Everything a request needs lives in the database — keys (sealed), flows, codes, grants —
//! so any node can serve any step. The only state in memory is a cache of the unsealed keys,
//! reloaded when it is a minute old or after this process rotated them.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration as StdDuration, Instant};

use super::Platform;
use super::oidc_eam::{EntraEamConfig, EntraKeys};
use crate::domain::oidc::OidcSettings;
use crate::domain::oidc::keys::KeyState;
use crate::jose::{Alg, JwkSet, SigningKey};
use crate::secret::{KeyedHasher, Purpose, Sealer, ServerSecret};
use crate::store::oidc_keys;
use crate::{Error, Result};

/// How long unsealed keys are used before the store is read again: another node's rotation
/// is seen within this (the key it promotes was published a whole rotation period earlier).
const KEY_CACHE_TTL: StdDuration = StdDuration::from_secs(60);

/// The keys as last read: who signs per algorithm, and what is published.
pub(super) struct KeyRing {
    pub(super) signing: HashMap<Alg, Arc<SigningKey>>,
    pub(super) published: Arc<JwkSet>,
    loaded_at: Instant,
}

pub struct Oidc {
    pub(super) platform: Arc<Platform>,
    pub(super) settings: OidcSettings,
    pub(super) sealer: Sealer,
    /// Authorization codes and refresh tokens.
    pub(super) token_hasher: KeyedHasher,
    ring: RwLock<Option<Arc<KeyRing>>>,
    /// One reload or rotation at a time in this process.
    pub(super) reloading: tokio::sync::Mutex<()>,
    /// Microsoft Entra's keys, for the external authentication method's hints.
    pub(super) entra: EntraKeys,
}

impl Oidc {
    pub fn new(platform: Arc<Platform>, secret: &ServerSecret, settings: OidcSettings) -> Oidc {
        Oidc {
            platform,
            settings,
            sealer: secret.sealer(Purpose::SigningKeySeal),
            token_hasher: secret.hasher(Purpose::OAuthToken),
            ring: RwLock::new(None),
            reloading: tokio::sync::Mutex::new(()),
            entra: EntraKeys::new(EntraEamConfig::default()),
        }
    }

    /// Where Microsoft Entra's keys come from and how its hints are checked.
    pub fn with_entra_eam(mut self, config: EntraEamConfig) -> Oidc {
        self.entra = EntraKeys::new(config);
        self
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    pub fn platform(&self) -> &Arc<Platform> {
        &self.platform
    }

    fn cached(&self) -> Option<Arc<KeyRing>> {
        self.ring
            .read()
            .ok()
            .and_then(|r| r.clone())
            .filter(|r| r.loaded_at.elapsed() < KEY_CACHE_TTL)
    }

    /// The key ring, from the cache or freshly read.
    pub(super) async fn key_ring(&self) -> Result<Arc<KeyRing>> {
        if let Some(ring) = self.cached() {
            return Ok(ring);
        }
        let _one = self.reloading.lock().await;
        if let Some(ring) = self.cached() {
            return Ok(ring);
        }
        self.reload().await
    }

    /// Reads and unseals every key. Called with `reloading` held.
    pub(super) async fn reload(&self) -> Result<Arc<KeyRing>> {
        let stored = {
            let mut conn = self.platform.store.read().await?;
            oidc_keys::list(&mut conn).await?
        };
        let now = self.platform.now();
        let mut signing = HashMap::new();
        let mut published = Vec::new();
        for key in stored {
            let expired = key.info.state == KeyState::Retired
                && key.info.publish_until.is_none_or(|t| t <= now);
            if !expired {
                let jwk = serde_json::from_str(&key.public_jwk).map_err(|e| {
                    Error::Internal(format!("corrupt public key {}: {e}", key.info.kid))
                })?;
                published.push(jwk);
            }
            if key.info.state == KeyState::Current {
                let pkcs8 = self
                    .sealer
                    .open_bytes(key.info.kid.as_bytes(), &key.sealed_private)
                    .ok_or_else(|| {
                        Error::Internal(format!(
                            "signing key {} does not open under the server secret (was the secret changed?)",
                            key.info.kid
                        ))
                    })?;
                let signer =
                    SigningKey::from_pkcs8(key.info.alg, &pkcs8, key.certificate.as_deref())
                        .map_err(|e| {
                            Error::Internal(format!("signing key {}: {e}", key.info.kid))
                        })?;
                signing.insert(key.info.alg, Arc::new(signer));
            }
        }
        let ring = Arc::new(KeyRing {
            signing,
            published: Arc::new(JwkSet { keys: published }),
            loaded_at: Instant::now(),
        });
        if let Ok(mut slot) = self.ring.write() {
            *slot = Some(ring.clone());
        }
        Ok(ring)
    }

    /// The published keys: the JWKS document.
    pub async fn jwks(&self) -> Result<Arc<JwkSet>> {
        Ok(self.key_ring().await?.published.clone())
    }

    /// The key that signs with `alg` now, made on first use (RSA keys are made only when a
    /// client needs one).
    pub(super) async fn signing_key(&self, alg: Alg) -> Result<Arc<SigningKey>> {
        if let Some(key) = self.key_ring().await?.signing.get(&alg) {
            return Ok(key.clone());
        }
        self.ensure_key(alg).await?;
        self.key_ring()
            .await?
            .signing
            .get(&alg)
            .cloned()
            .ok_or_else(|| Error::Internal(format!("no {alg} signing key after creating one")))
    }
}
