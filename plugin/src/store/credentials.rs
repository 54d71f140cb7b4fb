//! The `webauthn_credentials` and `webauthn_user_handles` tables.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{Connection, Row, at, ms, opt_at, opt_ms, query, uuid};
use crate::domain::webauthn::{AttestationLevel, PasskeyMethod};
use crate::{Error, Result};

macro_rules! method_columns {
    () => {
        "id, user_id, aaguid, display_name, created_at, last_used_at, sign_count, backup_eligible, backup_state, attestation_format, attestation_level, attestation_certificates"
    };
}

fn from_row(row: &Row) -> Result<PasskeyMethod> {
    let certs: String = row.try_get("attestation_certificates")?;
    Ok(PasskeyMethod {
        id: uuid(row.try_get("id")?)?,
        user_id: uuid(row.try_get("user_id")?)?,
        aaguid: uuid(row.try_get("aaguid")?)?,
        display_name: row.try_get("display_name")?,
        created_at: at(row.try_get("created_at")?),
        last_used_at: opt_at(row.try_get("last_used_at")?),
        sign_count: row
            .try_get::<i64, _>("sign_count")?
            .clamp(0, u32::MAX.into()) as u32,
        backup_eligible: row.try_get("backup_eligible")?,
        backup_state: row.try_get("backup_state")?,
        attestation_format: row.try_get("attestation_format")?,
        attestation_level: AttestationLevel::parse(row.try_get("attestation_level")?),
        attestation_certificates: serde_json::from_str(&certs)
            .map_err(|e| Error::Internal(format!("corrupt attestation certificates: {e}")))?,
    })
}

/// A method with the verifier's serialised credential, for a sign-in.
pub struct StoredPasskey {
    pub method: PasskeyMethod,
    pub passkey: String,
}

/// Stores a new passkey. `Ok(false)` if its credential id is already registered (to anyone).
pub async fn insert(
    conn: &mut Connection,
    m: &PasskeyMethod,
    credential_id: &[u8],
    passkey: &str,
) -> Result<bool> {
    let certs = serde_json::to_string(&m.attestation_certificates)
        .map_err(|e| Error::Internal(e.to_string()))?;
    let result = query(concat!(
        "INSERT INTO webauthn_credentials (credential_id, passkey, ",
        method_columns!(),
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(credential_id)
    .bind(passkey)
    .bind(m.id.to_string())
    .bind(m.user_id.to_string())
    .bind(m.aaguid.to_string())
    .bind(&m.display_name)
    .bind(ms(m.created_at))
    .bind(opt_ms(m.last_used_at))
    .bind(i64::from(m.sign_count))
    .bind(m.backup_eligible)
    .bind(m.backup_state)
    .bind(&m.attestation_format)
    .bind(m.attestation_level.as_str())
    .bind(certs)
    .execute(&mut *conn)
    .await;
    match result {
        Ok(_) => Ok(true),
        Err(e) if super::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

pub async fn list_for_user(conn: &mut Connection, user_id: Uuid) -> Result<Vec<PasskeyMethod>> {
    let rows = query(concat!(
        "SELECT ",
        method_columns!(),
        " FROM webauthn_credentials WHERE user_id = ? ORDER BY created_at, id"
    ))
    .bind(user_id.to_string())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// The credential ids a user has registered (to exclude at registration).
pub async fn credential_ids_for_user(conn: &mut Connection, user_id: Uuid) -> Result<Vec<Vec<u8>>> {
    Ok(
        query("SELECT credential_id FROM webauthn_credentials WHERE user_id = ?")
            .bind(user_id.to_string())
            .scalars(&mut *conn)
            .await?,
    )
}

pub async fn by_credential_id(
    conn: &mut Connection,
    credential_id: &[u8],
) -> Result<Option<StoredPasskey>> {
    let row = query(concat!(
        "SELECT passkey, ",
        method_columns!(),
        " FROM webauthn_credentials WHERE credential_id = ?"
    ))
    .bind(credential_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(StoredPasskey {
            method: from_row(&r)?,
            passkey: r.try_get("passkey")?,
        })
    })
    .transpose()
}

/// Records a sign-in: the new counter, backup flags and verifier state.
pub async fn record_use(
    conn: &mut Connection,
    id: Uuid,
    passkey: &str,
    sign_count: u32,
    backup_eligible: bool,
    backup_state: bool,
    now: OffsetDateTime,
) -> Result<()> {
    query(
        "UPDATE webauthn_credentials SET passkey = ?, sign_count = ?, backup_eligible = ?,
            backup_state = ?, last_used_at = ? WHERE id = ?",
    )
    .bind(passkey)
    .bind(i64::from(sign_count))
    .bind(backup_eligible)
    .bind(backup_state)
    .bind(ms(now))
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Returns whether the user had a passkey `id`.
pub async fn rename(conn: &mut Connection, user_id: Uuid, id: Uuid, name: &str) -> Result<bool> {
    let n = query("UPDATE webauthn_credentials SET display_name = ? WHERE id = ? AND user_id = ?")
        .bind(name)
        .bind(id.to_string())
        .bind(user_id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(n > 0)
}

/// Deletes the user's passkey `id`, returning it if it existed.
pub async fn delete(
    conn: &mut Connection,
    user_id: Uuid,
    id: Uuid,
) -> Result<Option<PasskeyMethod>> {
    let row = query(concat!(
        "DELETE FROM webauthn_credentials WHERE id = ? AND user_id = ? RETURNING ",
        method_columns!()
    ))
    .bind(id.to_string())
    .bind(user_id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// The user's WebAuthn user handle, if one was made.
pub async fn user_handle(conn: &mut Connection, user_id: Uuid) -> Result<Option<Vec<u8>>> {
    Ok(
        query("SELECT handle FROM webauthn_user_handles WHERE user_id = ?")
            .bind(user_id.to_string())
            .scalar_optional(&mut *conn)
            .await?,
    )
}

pub async fn insert_user_handle(conn: &mut Connection, user_id: Uuid, handle: &[u8]) -> Result<()> {
    query("INSERT INTO webauthn_user_handles (user_id, handle) VALUES (?, ?)")
        .bind(user_id.to_string())
        .bind(handle)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Whose handle this is.
pub async fn user_for_handle(conn: &mut Connection, handle: &[u8]) -> Result<Option<Uuid>> {
    let id: Option<String> = query("SELECT user_id FROM webauthn_user_handles WHERE handle = ?")
        .bind(handle)
        .scalar_optional(&mut *conn)
        .await?;
    id.map(|s| uuid(&s)).transpose()
}
