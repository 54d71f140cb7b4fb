//! The `auth_method_policies` table: one JSON document per method configuration.

use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use super::{Connection, ms, query};
use crate::{Error, Result};

/// The stored configuration `id`, or `None` if it was never changed from its default.
pub async fn get<T: DeserializeOwned>(conn: &mut Connection, id: &str) -> Result<Option<T>> {
    let json: Option<String> = query("SELECT config FROM auth_method_policies WHERE id = ?")
        .bind(id)
        .scalar_optional(&mut *conn)
        .await?;
    json.map(|j| {
        serde_json::from_str(&j).map_err(|e| Error::Internal(format!("corrupt policy {id}: {e}")))
    })
    .transpose()
}

pub async fn put<T: Serialize>(
    conn: &mut Connection,
    id: &str,
    config: &T,
    now: OffsetDateTime,
) -> Result<()> {
    let json = serde_json::to_string(config).map_err(|e| Error::Internal(e.to_string()))?;
    query(
        "INSERT INTO auth_method_policies (id, config, updated_at) VALUES (?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at",
    )
    .bind(id)
    .bind(json)
    .bind(ms(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}
