//! API tokens: created and revoked by the operator, presented as bearer tokens.
//!
//! A token is `tapbridge_` + 32 hex digits of id + 43 characters of base64url secret. The id
//! finds the row; the secret is verified against its keyed hash in constant time. The prefix
//! lets secret scanners recognise a leaked token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use super::{Caller, Platform};
use crate::domain::actor::{Actor, Principal};
use crate::domain::audit::{Activity, AuditRecord};
use crate::domain::role::Roles;
use crate::metrics::inc;
use crate::secret::{SecretString, random_bytes};
use crate::store::audit;
use crate::store::tokens::{self, TokenInfo};
use crate::{Error, Result};

pub const TOKEN_PREFIX: &str = "tapbridge_";
const ID_LEN: usize = 32;
const SECRET_LEN: usize = 43;

#[derive(Debug)]
pub struct CreatedToken {
    pub info: TokenInfo,
    /// Shown once, never stored.
    pub token: SecretString,
}

/// Splits a presented token into id and secret; `None` if it is not shaped like one.
fn parse(token: &str) -> Option<(Uuid, &str)> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    if rest.len() != ID_LEN + SECRET_LEN || !rest.is_ascii() {
        return None;
    }
    let (id, secret) = rest.split_at(ID_LEN);
    Some((Uuid::try_parse(id).ok()?, secret))
}

/// A SCIM client, authenticated: the provisioning source it writes as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioner {
    pub token_id: Uuid,
    pub token_name: String,
    /// `scim:NAME`: the `source` of every object this client creates, and the only objects
    /// it may see or change.
    pub source: String,
}

/// What a new token may do: act with administrative roles, or provision as a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenGrant {
    Roles(Roles),
    /// A SCIM provisioning source name: lower-case letters, digits and dashes.
    Provisioning(String),
}

pub const SCIM_SOURCE_PREFIX: &str = "scim:";

fn check_source_name(source: &str) -> Result<()> {
    let valid = !source.is_empty()
        && source.len() <= 32
        && source
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(Error::invalid(
            "a provisioning source name is 1 to 32 lower-case letters, digits and dashes",
        ))
    }
}

impl Platform {
    pub async fn create_token(
        &self,
        caller: &Caller,
        name: &str,
        grant: TokenGrant,
    ) -> Result<CreatedToken> {
        caller.actor.check_grant_roles()?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(Error::invalid(
                "a token name is 1 to 64 printable characters",
            ));
        }
        let (roles, provisioning_source) = match grant {
            TokenGrant::Roles(roles) if roles.is_empty() => {
                return Err(Error::invalid("a token needs at least one role"));
            }
            TokenGrant::Roles(roles) => (roles, None),
            TokenGrant::Provisioning(source) => {
                check_source_name(&source)?;
                (
                    Roles::default(),
                    Some(format!("{SCIM_SOURCE_PREFIX}{source}")),
                )
            }
        };
        let now = self.now();
        let info = TokenInfo {
            id: Uuid::new_v4(),
            name: name.to_owned(),
            roles,
            provisioning_source,
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        };
        let secret = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
        let hash = self
            .token_hasher
            .hash(info.id.as_bytes(), secret.as_bytes());
        let token = SecretString::new(format!("{TOKEN_PREFIX}{}{secret}", info.id.simple()));
        let mut tx = self.store.write().await?;
        tokens::insert(&mut tx, &info, &hash).await?;
        let record = AuditRecord::new(Activity::TokenCreated, (&caller.actor).into(), now)
            .target("ApiToken", info.id, Some(&info.name))
            .detail("roles", info.roles.to_csv())
            .detail(
                "provisioningSource",
                info.provisioning_source.clone().unwrap_or_default(),
            )
            .correlation(caller.correlation_id);
        audit::insert(&mut tx, &record).await?;
        tx.commit().await?;
        Ok(CreatedToken { info, token })
    }

    pub async fn tokens(&self, caller: &Caller) -> Result<Vec<TokenInfo>> {
        caller.actor.check_read()?;
        let mut conn = self.store.read().await?;
        tokens::list(&mut conn).await
    }

    pub async fn revoke_token(&self, caller: &Caller, id_or_name: &str) -> Result<TokenInfo> {
        caller.actor.check_grant_roles()?;
        let now = self.now();
        let mut tx = self.store.write().await?;
        let info = tokens::revoke(&mut tx, id_or_name.trim(), now)
            .await?
            .ok_or_else(|| Error::not_found(format!("live token `{id_or_name}`")))?;
        let record = AuditRecord::new(Activity::TokenRevoked, (&caller.actor).into(), now)
            .target("ApiToken", info.id, Some(&info.name))
            .correlation(caller.correlation_id);
        audit::insert(&mut tx, &record).await?;
        tx.commit().await?;
        Ok(info)
    }

    /// Resolves a presented bearer token to the actor it stands for. Any failure is
    /// `Unauthenticated`, with no hint of which part was wrong. A provisioning token resolves
    /// to an actor without roles, which the admin API refuses.
    pub async fn authenticate_token(&self, presented: &SecretString) -> Result<Actor> {
        let info = self.verify_token(presented).await?;
        Ok(Actor {
            principal: Principal::ApiToken {
                id: info.id,
                name: info.name,
            },
            roles: info.roles,
        })
    }

    /// Resolves a presented bearer token to a SCIM provisioning source. A token without one
    /// is `Unauthenticated` here, as an unknown token would be.
    pub async fn authenticate_provisioner(&self, presented: &SecretString) -> Result<Provisioner> {
        let info = self.verify_token(presented).await?;
        let source = info.provisioning_source.ok_or(Error::Unauthenticated)?;
        Ok(Provisioner {
            token_id: info.id,
            token_name: info.name,
            source,
        })
    }

    async fn verify_token(&self, presented: &SecretString) -> Result<TokenInfo> {
        let fail = || {
            inc(&self.metrics.api_auth_failures);
            Error::Unauthenticated
        };
        let Some((id, secret)) = parse(presented.expose()) else {
            return Err(fail());
        };
        let mut conn = self.store.read().await?;
        let Some((info, hash)) = tokens::get_live(&mut conn, id).await? else {
            let _ = self
                .token_hasher
                .verify(id.as_bytes(), secret.as_bytes(), &[0; 32]);
            return Err(fail());
        };
        if !self
            .token_hasher
            .verify(id.as_bytes(), secret.as_bytes(), &hash)
        {
            return Err(fail());
        }
        // Recording use is a write; decide in memory first, so that a busy client does not
        // turn every read into a contender for SQLite's single write lock.
        let now = self.now();
        if info
            .last_used_at
            .is_none_or(|t| now - t > time::Duration::minutes(1))
        {
            tokens::touch(&mut conn, id, now).await?;
        }
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::fixture;
    use super::*;
    use crate::domain::role::Role;

    #[tokio::test]
    async fn create_authenticate_revoke() {
        let f = fixture().await;
        let p = &f.platform;
        let op = Caller::operator();
        let created = p
            .create_token(&op, "ci", TokenGrant::Roles(Roles::new([Role::Reader])))
            .await
            .unwrap();
        let token = created.token.expose().to_owned();
        assert!(token.starts_with(TOKEN_PREFIX));
        assert_eq!(token.len(), TOKEN_PREFIX.len() + ID_LEN + SECRET_LEN);
        let actor = p.authenticate_token(&created.token).await.unwrap();
        assert!(actor.roles.contains(Role::Reader));

        // One character off, truncated, or garbage: all plain Unauthenticated.
        let mut bad = token.clone().into_bytes();
        let last = bad.len() - 1;
        bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
        for t in [
            String::from_utf8(bad).unwrap(),
            token[..token.len() - 1].to_owned(),
            "x".into(),
            String::new(),
        ] {
            assert!(matches!(
                p.authenticate_token(&SecretString::new(t)).await,
                Err(Error::Unauthenticated)
            ));
        }
        assert!(matches!(
            p.create_token(&op, "ci", TokenGrant::Roles(Roles::new([Role::Reader])))
                .await,
            Err(Error::Conflict(_))
        ));
        p.revoke_token(&op, "ci").await.unwrap();
        assert!(matches!(
            p.authenticate_token(&created.token).await,
            Err(Error::Unauthenticated)
        ));
        assert!(matches!(
            p.revoke_token(&op, "ci").await,
            Err(Error::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn provisioning_tokens_are_scim_only() {
        let f = fixture().await;
        let p = &f.platform;
        let op = Caller::operator();
        let scim = p
            .create_token(&op, "workday", TokenGrant::Provisioning("workday".into()))
            .await
            .unwrap();
        let prov = p.authenticate_provisioner(&scim.token).await.unwrap();
        assert_eq!(prov.source, "scim:workday");
        let actor = p.authenticate_token(&scim.token).await.unwrap();
        assert!(
            actor.check_read().is_err(),
            "a SCIM token has no admin role"
        );

        let admin = p
            .create_token(&op, "admin", TokenGrant::Roles(Roles::all()))
            .await
            .unwrap();
        assert!(matches!(
            p.authenticate_provisioner(&admin.token).await,
            Err(Error::Unauthenticated)
        ));
        for bad in ["", "Workday", "a b", &"x".repeat(33)] {
            assert!(
                p.create_token(&op, "x", TokenGrant::Provisioning(bad.into()))
                    .await
                    .is_err(),
                "{bad:?}"
            );
        }
    }
}
