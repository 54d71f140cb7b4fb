//! The `oidc_signing_keys` table. Private keys arrive sealed; this layer never sees them in
//! the clear.

use time::OffsetDateTime;

use super::{Connection, Row, at, ms, opt_at, opt_ms, query};
use crate::domain::oidc::keys::{KeyInfo, KeyState};
use crate::{Error, Result};

/// A stored key: what is known of it, its public JWK (JSON), its sealed private half and, for
/// RSA, its certificate (DER).
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub info: KeyInfo,
    pub public_jwk: String,
    pub sealed_private: Vec<u8>,
    pub certificate: Option<Vec<u8>>,
}

macro_rules! key_columns {
    () => {
        "kid, alg, state, public_jwk, sealed_private, certificate, created_at, activated_at, retired_at, publish_until"
    };
}

fn from_row(row: &Row) -> Result<StoredKey> {
    let alg: String = row.try_get("alg")?;
    let state: String = row.try_get("state")?;
    Ok(StoredKey {
        info: KeyInfo {
            kid: row.try_get("kid")?,
            alg: alg
                .parse()
                .map_err(|_| Error::Internal(format!("corrupt key algorithm {alg:?}")))?,
            state: KeyState::parse(&state)
                .ok_or_else(|| Error::Internal(format!("corrupt key state {state:?}")))?,
            created_at: at(row.try_get("created_at")?),
            activated_at: opt_at(row.try_get("activated_at")?),
            retired_at: opt_at(row.try_get("retired_at")?),
            publish_until: opt_at(row.try_get("publish_until")?),
        },
        public_jwk: row.try_get("public_jwk")?,
        sealed_private: row.try_get("sealed_private")?,
        certificate: row.try_get("certificate")?,
    })
}

/// Every key, oldest first.
pub async fn list(conn: &mut Connection) -> Result<Vec<StoredKey>> {
    let rows = query(concat!(
        "SELECT ",
        key_columns!(),
        " FROM oidc_signing_keys ORDER BY created_at, kid"
    ))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn insert(conn: &mut Connection, key: &StoredKey) -> Result<()> {
    query(concat!(
        "INSERT INTO oidc_signing_keys (",
        key_columns!(),
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(&key.info.kid)
    .bind(key.info.alg.as_str())
    .bind(key.info.state.as_str())
    .bind(&key.public_jwk)
    .bind(&key.sealed_private)
    .bind(&key.certificate)
    .bind(ms(key.info.created_at))
    .bind(opt_ms(key.info.activated_at))
    .bind(opt_ms(key.info.retired_at))
    .bind(opt_ms(key.info.publish_until))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A `next` key starts signing.
pub async fn activate(conn: &mut Connection, kid: &str, now: OffsetDateTime) -> Result<bool> {
    let n = query(
        "UPDATE oidc_signing_keys SET state = 'current', activated_at = ?
         WHERE kid = ? AND state = 'next'",
    )
    .bind(ms(now))
    .bind(kid)
    .execute(&mut *conn)
    .await?;
    Ok(n == 1)
}

/// The `current` key stops signing and stays published until `publish_until`.
pub async fn retire(
    conn: &mut Connection,
    kid: &str,
    now: OffsetDateTime,
    publish_until: OffsetDateTime,
) -> Result<bool> {
    let n = query(
        "UPDATE oidc_signing_keys SET state = 'retired', retired_at = ?, publish_until = ?
         WHERE kid = ? AND state = 'current'",
    )
    .bind(ms(now))
    .bind(ms(publish_until))
    .bind(kid)
    .execute(&mut *conn)
    .await?;
    Ok(n == 1)
}

pub async fn delete(conn: &mut Connection, kid: &str) -> Result<bool> {
    let n = query("DELETE FROM oidc_signing_keys WHERE kid = ? AND state = 'retired'")
        .bind(kid)
        .execute(&mut *conn)
        .await?;
    Ok(n == 1)
}
