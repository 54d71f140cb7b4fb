//! Signing-key rotation: the plan is the domain's (`domain::oidc::keys`), applied here in one
//! write transaction with its audit record. Key material is generated, sealed under the
//! server secret and stored; only the public JWK is ever published.

use tracing::instrument;

use super::Caller;
use super::oidc::Oidc;
use crate::domain::audit::{Activity, AuditRecord};
use crate::domain::oidc::keys::{self, KeyAction, KeyInfo, KeyState, Trigger};
use crate::jose::{Alg, SigningKey};
use crate::store::oidc_keys::{self, StoredKey};
use crate::store::{Connection, audit, oidc_clients};
use crate::{Error, Result};

impl Oidc {
    /// Every stored key (the CLI's `keys list`) — operator or any administrative role.
    pub async fn keys(&self, caller: &Caller) -> Result<Vec<KeyInfo>> {
        caller.actor.check_read()?;
        let mut conn = self.platform.store.read().await?;
        Ok(oidc_keys::list(&mut conn)
            .await?
            .into_iter()
            .map(|k| k.info)
            .collect())
    }

    /// Brings the keys up to date: on `Trigger::Schedule` rotates what is due, on
    /// `Trigger::Now` rotates every algorithm in use (or just `only`). Returns what was done.
    /// Operator (CLI) or the daemon's own schedule.
    #[instrument(skip_all)]
    pub async fn rotate_keys(
        &self,
        caller: &Caller,
        trigger: Trigger,
        only: Option<Alg>,
    ) -> Result<Vec<KeyAction>> {
        caller.actor.check_grant_roles()?;
        let _one = self.reloading.lock().await;
        let now = self.platform.now();
        let mut tx = self.platform.store.write().await?;
        let infos: Vec<KeyInfo> = oidc_keys::list(&mut tx)
            .await?
            .into_iter()
            .map(|k| k.info)
            .collect();
        // An application registered to sign RS256 (Microsoft Entra's EAM client always does)
        // gets its key here, before its first token: Entra caches a provider's keys for a
        // day and would not know a key made at the first answer.
        let rs256_registered = oidc_clients::any_signing_with(&mut tx, Alg::Rs256.as_str()).await?;
        let mut done = Vec::new();
        for alg in Alg::ALL {
            if only.is_some_and(|o| o != alg) {
                continue;
            }
            // ES256 is the default and always has keys; RS256 once something asked for it
            // or an application is registered for it, or when the operator names it.
            let wanted =
                alg == Alg::Es256 || only == Some(alg) || (alg == Alg::Rs256 && rs256_registered);
            let plan = keys::plan(
                &infos,
                alg,
                wanted,
                trigger,
                self.settings.key_rotation,
                self.settings.retired_key_publication(),
                now,
            );
            for action in plan {
                self.apply(&mut tx, &action, now).await?;
                done.push(action);
            }
        }
        if !done.is_empty() {
            let mut record =
                AuditRecord::new(Activity::SigningKeysRotated, (&caller.actor).into(), now);
            for action in &done {
                record = match action {
                    KeyAction::Create { alg, state } => {
                        record.detail("created", format!("{alg} {}", state.as_str()))
                    }
                    KeyAction::Activate { kid } => record.detail("activated", kid),
                    KeyAction::Retire { kid, .. } => record.detail("retired", kid),
                    KeyAction::Delete { kid } => record.detail("deleted", kid),
                };
            }
            audit::insert(&mut tx, &record.correlation(caller.correlation_id)).await?;
        }
        tx.commit().await?;
        self.reload().await?;
        Ok(done)
    }

    /// Makes sure `alg` has a signing key (first start, or the first client wanting RS256).
    pub(super) async fn ensure_key(&self, alg: Alg) -> Result<()> {
        let _one = self.reloading.lock().await;
        let now = self.platform.now();
        let mut tx = self.platform.store.write().await?;
        let infos: Vec<KeyInfo> = oidc_keys::list(&mut tx)
            .await?
            .into_iter()
            .map(|k| k.info)
            .collect();
        let plan = keys::plan(
            &infos,
            alg,
            true,
            Trigger::Schedule,
            self.settings.key_rotation,
            self.settings.retired_key_publication(),
            now,
        );
        let creates_current = plan.iter().any(|a| {
            matches!(
                a,
                KeyAction::Create {
                    state: KeyState::Current,
                    ..
                } | KeyAction::Activate { .. }
            )
        });
        if creates_current {
            for action in &plan {
                self.apply(&mut tx, action, now).await?;
            }
            let record = AuditRecord::new(
                Activity::SigningKeysRotated,
                crate::domain::audit::Initiator {
                    kind: "service".into(),
                    id: None,
                    display_name: "oidc".into(),
                },
                now,
            )
            .detail("created", format!("{alg} current and next"));
            audit::insert(&mut tx, &record).await?;
        }
        tx.commit().await?;
        self.reload().await?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut Connection,
        action: &KeyAction,
        now: time::OffsetDateTime,
    ) -> Result<()> {
        match action {
            KeyAction::Create { alg, state } => {
                let (key, generated) = SigningKey::generate(*alg, &self.settings.issuer)
                    .map_err(|e| Error::Internal(format!("key generation: {e}")))?;
                let kid = key.kid().to_owned();
                let stored = StoredKey {
                    info: KeyInfo {
                        kid: kid.clone(),
                        alg: *alg,
                        state: *state,
                        created_at: now,
                        activated_at: (*state == KeyState::Current).then_some(now),
                        retired_at: None,
                        publish_until: None,
                    },
                    public_jwk: serde_json::to_string(key.public_jwk())
                        .map_err(|e| Error::Internal(e.to_string()))?,
                    sealed_private: self.sealer.seal_bytes(kid.as_bytes(), &generated.pkcs8),
                    certificate: generated.certificate,
                };
                oidc_keys::insert(tx, &stored).await?;
                tracing::info!(%kid, %alg, state = state.as_str(), "signing key created");
            }
            KeyAction::Activate { kid } => {
                if !oidc_keys::activate(tx, kid, now).await? {
                    return Err(Error::Internal(format!("key {kid} is not the next key")));
                }
                tracing::info!(%kid, "signing key activated");
            }
            KeyAction::Retire { kid, publish_until } => {
                if !oidc_keys::retire(tx, kid, now, *publish_until).await? {
                    return Err(Error::Internal(format!("key {kid} is not the current key")));
                }
                tracing::info!(%kid, "signing key retired");
            }
            KeyAction::Delete { kid } => {
                oidc_keys::delete(tx, kid).await?;
                tracing::info!(%kid, "retired signing key deleted");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{fixture, oidc};
    use super::*;
    use crate::secret::ServerSecret;
    use time::Duration;

    #[tokio::test]
    async fn first_start_makes_a_signing_and_a_published_next_key_then_rotates_on_schedule() {
        let f = fixture().await;
        let o = oidc(&f);
        let op = Caller::operator();
        let done = o.rotate_keys(&op, Trigger::Schedule, None).await.unwrap();
        assert_eq!(done.len(), 2, "{done:?}");
        let keys = o.keys(&op).await.unwrap();
        let current = keys
            .iter()
            .find(|k| k.state == KeyState::Current)
            .unwrap()
            .clone();
        let next = keys
            .iter()
            .find(|k| k.state == KeyState::Next)
            .unwrap()
            .clone();
        assert_eq!((current.alg, next.alg), (Alg::Es256, Alg::Es256));
        let jwks = o.jwks().await.unwrap();
        let mut kids: Vec<_> = jwks.keys.iter().filter_map(|k| k.kid.clone()).collect();
        let mut both = vec![current.kid.clone(), next.kid.clone()];
        kids.sort();
        both.sort();
        assert_eq!(kids, both);
        assert_eq!(o.signing_key(Alg::Es256).await.unwrap().kid(), current.kid);

        // Nothing is due before the period; after it, next signs and current is retired.
        assert!(
            o.rotate_keys(&op, Trigger::Schedule, None)
                .await
                .unwrap()
                .is_empty()
        );
        f.clock.advance(Duration::days(30));
        let done = o.rotate_keys(&op, Trigger::Schedule, None).await.unwrap();
        assert_eq!(done.len(), 3, "{done:?}");
        assert_eq!(o.signing_key(Alg::Es256).await.unwrap().kid(), next.kid);
        let keys = o.keys(&op).await.unwrap();
        let retired = keys.iter().find(|k| k.kid == current.kid).unwrap();
        assert_eq!(retired.state, KeyState::Retired);
        let publication = o.settings.retired_key_publication();
        assert_eq!(retired.publish_until, Some(o.platform.now() + publication));
        assert_eq!(
            o.jwks().await.unwrap().keys.len(),
            3,
            "retired, current, next"
        );

        // Once every token it signed has expired, the retired key leaves the JWKS and the table.
        f.clock.advance(publication);
        let done = o.rotate_keys(&op, Trigger::Schedule, None).await.unwrap();
        assert_eq!(
            done,
            vec![KeyAction::Delete {
                kid: current.kid.clone()
            }]
        );
        assert_eq!(o.jwks().await.unwrap().keys.len(), 2);
    }

    #[tokio::test]
    async fn rsa_keys_are_made_on_demand_with_a_certificate_and_sealed_at_rest() {
        let f = fixture().await;
        let o = oidc(&f);
        let op = Caller::operator();
        o.rotate_keys(&op, Trigger::Schedule, None).await.unwrap();
        assert!(
            o.keys(&op)
                .await
                .unwrap()
                .iter()
                .all(|k| k.alg == Alg::Es256)
        );
        let rsa = o.signing_key(Alg::Rs256).await.unwrap();
        let jwks = o.jwks().await.unwrap();
        let published = jwks
            .keys
            .iter()
            .find(|k| k.kid.as_deref() == Some(rsa.kid()))
            .unwrap();
        assert_eq!(published.x5c.as_ref().map(Vec::len), Some(1));
        assert_eq!(
            jwks.keys.iter().filter(|k| k.kty == "RSA").count(),
            2,
            "current and next"
        );

        // The stored private key opens under this server secret only.
        let mut conn = f.platform.store.read().await.unwrap();
        let stored = oidc_keys::list(&mut conn).await.unwrap();
        let row = stored.iter().find(|k| k.info.kid == rsa.kid()).unwrap();
        let opens = |sealer: &crate::secret::Sealer, kid: &str| {
            sealer
                .open_bytes(kid.as_bytes(), &row.sealed_private)
                .is_some()
        };
        assert!(opens(&o.sealer, rsa.kid()));
        let other = ServerSecret::from_bytes(vec![7; 32])
            .unwrap()
            .sealer(crate::secret::Purpose::SigningKeySeal);
        assert!(!opens(&other, rsa.kid()), "another server secret");
        assert!(!opens(&o.sealer, "another kid"), "moved to another row");
    }

    #[tokio::test]
    async fn only_the_operator_rotates() {
        let f = fixture().await;
        let o = oidc(&f);
        let reader = Caller::new(
            crate::domain::actor::Actor {
                principal: crate::domain::actor::Principal::Operator,
                roles: crate::domain::role::Roles::new([crate::domain::role::Role::Reader]),
            },
            None,
        );
        assert!(matches!(
            o.rotate_keys(&reader, Trigger::Now, None).await,
            Err(Error::Forbidden(_))
        ));
    }
}
