//! The `oidc_applications` and `oidc_client_secrets` tables. Secrets are stored as keyed
//! hashes, salted with their key id.

use uuid::Uuid;

use super::{Connection, Row, at, is_unique_violation, ms, query, uuid};
use crate::domain::oidc::client::{Application, PasswordCredential};
use crate::domain::oidc::eam::EamClient;
use crate::domain::role::Roles;
use crate::jose::JwkSet;
use crate::{Error, Result};

macro_rules! app_columns {
    () => {
        "id, app_id, display_name, web_redirect_uris, spa_redirect_uris, public_client_redirect_uris, id_token_signing_alg, skip_consent, app_roles, jwks, entra_eam, created_at, updated_at"
    };
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("corrupt application {what}: {e}"))
}

fn from_row(row: &Row) -> Result<Application> {
    let list = |col: &str| -> Result<Vec<String>> {
        let text: String = row.try_get(col)?;
        serde_json::from_str(&text).map_err(|e| corrupt(col, e))
    };
    let alg: String = row.try_get("id_token_signing_alg")?;
    let jwks: Option<String> = row.try_get("jwks")?;
    let eam: Option<String> = row.try_get("entra_eam")?;
    Ok(Application {
        id: uuid(row.try_get("id")?)?,
        app_id: uuid(row.try_get("app_id")?)?,
        display_name: row.try_get("display_name")?,
        web_redirect_uris: list("web_redirect_uris")?,
        spa_redirect_uris: list("spa_redirect_uris")?,
        public_client_redirect_uris: list("public_client_redirect_uris")?,
        id_token_signing_alg: alg.parse().map_err(|e| corrupt("algorithm", e))?,
        skip_consent: row.try_get("skip_consent")?,
        app_roles: Roles::from_csv(row.try_get("app_roles")?).map_err(|e| corrupt("roles", e))?,
        jwks: jwks
            .map(|j| serde_json::from_str::<JwkSet>(&j))
            .transpose()
            .map_err(|e| corrupt("jwks", e))?,
        eam: eam
            .map(|e| eam_from_json(&e))
            .transpose()
            .map_err(|e| corrupt("entra_eam", e))?,
        passwords: vec![],
        created_at: at(row.try_get("created_at")?),
        updated_at: at(row.try_get("updated_at")?),
    })
}

fn json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

/// `{"tenantIds": [...], "appId": ...}`, as the Graph annotation shows it.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredEam {
    tenant_ids: Vec<Uuid>,
    app_id: Option<Uuid>,
}

fn eam_from_json(text: &str) -> serde_json::Result<EamClient> {
    let s: StoredEam = serde_json::from_str(text)?;
    Ok(EamClient {
        tenant_ids: s.tenant_ids,
        entra_app_id: s.app_id,
    })
}

fn eam_json(eam: &Option<EamClient>) -> Option<String> {
    eam.as_ref().and_then(|e| {
        serde_json::to_string(&StoredEam {
            tenant_ids: e.tenant_ids.clone(),
            app_id: e.entra_app_id,
        })
        .ok()
    })
}

fn jwks_json(jwks: &Option<JwkSet>) -> Option<String> {
    jwks.as_ref().and_then(|j| serde_json::to_string(j).ok())
}

pub async fn insert(conn: &mut Connection, app: &Application) -> Result<()> {
    let res = query(concat!(
        "INSERT INTO oidc_applications (",
        app_columns!(),
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(app.id.to_string())
    .bind(app.app_id.to_string())
    .bind(&app.display_name)
    .bind(json(&app.web_redirect_uris))
    .bind(json(&app.spa_redirect_uris))
    .bind(json(&app.public_client_redirect_uris))
    .bind(app.id_token_signing_alg.as_str())
    .bind(app.skip_consent)
    .bind(app.app_roles.to_csv())
    .bind(jwks_json(&app.jwks))
    .bind(eam_json(&app.eam))
    .bind(ms(app.created_at))
    .bind(ms(app.updated_at))
    .execute(&mut *conn)
    .await;
    match res {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => {
            Err(Error::Conflict("an application with this id exists".into()))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn update(conn: &mut Connection, app: &Application) -> Result<bool> {
    let n = query(
        "UPDATE oidc_applications SET display_name = ?, web_redirect_uris = ?, spa_redirect_uris = ?,
         public_client_redirect_uris = ?, id_token_signing_alg = ?, skip_consent = ?, app_roles = ?,
         jwks = ?, entra_eam = ?, updated_at = ? WHERE id = ?",
    )
    .bind(&app.display_name)
    .bind(json(&app.web_redirect_uris))
    .bind(json(&app.spa_redirect_uris))
    .bind(json(&app.public_client_redirect_uris))
    .bind(app.id_token_signing_alg.as_str())
    .bind(app.skip_consent)
    .bind(app.app_roles.to_csv())
    .bind(jwks_json(&app.jwks))
    .bind(eam_json(&app.eam))
    .bind(ms(app.updated_at))
    .bind(app.id.to_string())
    .execute(&mut *conn).await?;
    Ok(n == 1)
}

/// Whether some application signs its ID tokens with `alg`.
pub async fn any_signing_with(conn: &mut Connection, alg: &str) -> Result<bool> {
    let row = query("SELECT id FROM oidc_applications WHERE id_token_signing_alg = ? LIMIT 1")
        .bind(alg)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.is_some())
}

/// Whether some application is marked as Microsoft Entra's EAM client.
pub async fn any_entra_eam(conn: &mut Connection) -> Result<bool> {
    let row = query("SELECT id FROM oidc_applications WHERE entra_eam IS NOT NULL LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.is_some())
}

/// Returns whether it existed. Its secrets go with it.
pub async fn delete(conn: &mut Connection, id: Uuid) -> Result<bool> {
    let n = query("DELETE FROM oidc_applications WHERE id = ?")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(n == 1)
}

async fn with_passwords(conn: &mut Connection, mut app: Application) -> Result<Application> {
    app.passwords = passwords(conn, app.id).await?;
    Ok(app)
}

/// By object id or client id.
pub async fn get(conn: &mut Connection, id_or_app_id: Uuid) -> Result<Option<Application>> {
    let row = query(concat!(
        "SELECT ",
        app_columns!(),
        " FROM oidc_applications WHERE id = ? OR app_id = ?"
    ))
    .bind(id_or_app_id.to_string())
    .bind(id_or_app_id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(r) => Ok(Some(with_passwords(conn, from_row(&r)?).await?)),
        None => Ok(None),
    }
}

/// By client id only: what the protocol endpoints look up.
pub async fn by_client_id(conn: &mut Connection, app_id: Uuid) -> Result<Option<Application>> {
    let row = query(concat!(
        "SELECT ",
        app_columns!(),
        " FROM oidc_applications WHERE app_id = ?"
    ))
    .bind(app_id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(r) => Ok(Some(with_passwords(conn, from_row(&r)?).await?)),
        None => Ok(None),
    }
}

/// A page of applications ordered by display name then id, after `after` (`name\u{0}id`).
pub async fn list(
    conn: &mut Connection,
    after: Option<(&str, &str)>,
    limit: u32,
) -> Result<Vec<Application>> {
    let rows = match after {
        Some((name, id)) => {
            query(concat!(
                "SELECT ",
                app_columns!(),
                " FROM oidc_applications WHERE (display_name, id) > (?, ?)
                  ORDER BY display_name, id LIMIT ?"
            ))
            .bind(name)
            .bind(id)
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await?
        }
        None => {
            query(concat!(
                "SELECT ",
                app_columns!(),
                " FROM oidc_applications ORDER BY display_name, id LIMIT ?"
            ))
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await?
        }
    };
    let mut apps = Vec::with_capacity(rows.len());
    for row in &rows {
        apps.push(with_passwords(conn, from_row(row)?).await?);
    }
    Ok(apps)
}

pub async fn passwords(
    conn: &mut Connection,
    application_id: Uuid,
) -> Result<Vec<PasswordCredential>> {
    let rows = query(
        "SELECT key_id, display_name, hint, start_at, end_at FROM oidc_client_secrets
         WHERE application_id = ? ORDER BY start_at, key_id",
    )
    .bind(application_id.to_string())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PasswordCredential {
                key_id: uuid(r.try_get("key_id")?)?,
                display_name: r.try_get("display_name")?,
                hint: r.try_get("hint")?,
                start: at(r.try_get("start_at")?),
                end: at(r.try_get("end_at")?),
            })
        })
        .collect()
}

/// The keyed hashes of an application's secrets, with their key ids and validity.
pub async fn password_hashes(
    conn: &mut Connection,
    application_id: Uuid,
) -> Result<Vec<(PasswordCredential, Vec<u8>)>> {
    let rows = query(
        "SELECT key_id, display_name, hint, start_at, end_at, secret_hash FROM oidc_client_secrets
         WHERE application_id = ?",
    )
    .bind(application_id.to_string())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                PasswordCredential {
                    key_id: uuid(r.try_get("key_id")?)?,
                    display_name: r.try_get("display_name")?,
                    hint: r.try_get("hint")?,
                    start: at(r.try_get("start_at")?),
                    end: at(r.try_get("end_at")?),
                },
                r.try_get("secret_hash")?,
            ))
        })
        .collect()
}

pub async fn insert_password(
    conn: &mut Connection,
    application_id: Uuid,
    password: &PasswordCredential,
    secret_hash: &[u8],
) -> Result<()> {
    query(
        "INSERT INTO oidc_client_secrets (key_id, application_id, display_name, hint, secret_hash, start_at, end_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(password.key_id.to_string())
    .bind(application_id.to_string())
    .bind(&password.display_name)
    .bind(&password.hint)
    .bind(secret_hash)
    .bind(ms(password.start))
    .bind(ms(password.end))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn delete_password(
    conn: &mut Connection,
    application_id: Uuid,
    key_id: Uuid,
) -> Result<bool> {
    let n = query("DELETE FROM oidc_client_secrets WHERE application_id = ? AND key_id = ?")
        .bind(application_id.to_string())
        .bind(key_id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(n == 1)
}
