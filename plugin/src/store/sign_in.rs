//! The one read a pass sign-in decides on. It spans the users, passes, group members and
//! policies tables on purpose: one statement that returns exactly one row whatever was typed,
//! so a name that matches nobody costs the same statement, the same single row (of NULLs) and
//! the same hand-over from SQLite's thread as a name that holds a pass.

use std::collections::HashSet;

use uuid::Uuid;

use super::taps::{self, StoredTap};
use super::{Connection, query_owned, users, uuid};
use crate::domain::directory::{User, upn_key};
use crate::domain::tap_policy::{POLICY_ID, TapPolicy};
use crate::{Error, Result};

/// What a pass sign-in needs to know about the name typed.
pub struct SignInFacts {
    pub user: Option<User>,
    pub pass: Option<StoredTap>,
    /// The user's groups (none for an unknown name).
    pub group_ids: HashSet<Uuid>,
    /// The stored pass policy; `None` while it was never changed from its default.
    pub policy: Option<TapPolicy>,
}

pub async fn facts(conn: &mut Connection, user_principal_name: &str) -> Result<SignInFacts> {
    let sql = format!(
        "SELECT {user},
            t.id AS tap_id, t.user_id AS tap_user_id, t.secret_hash AS tap_secret_hash,
            t.created_at AS tap_created_at, t.start_date_time AS tap_start_date_time,
            t.lifetime_in_minutes AS tap_lifetime_in_minutes,
            t.is_usable_once AS tap_is_usable_once, t.first_used_at AS tap_first_used_at,
            t.use_count AS tap_use_count, t.failed_attempts AS tap_failed_attempts,
            t.locked_at AS tap_locked_at,
            (SELECT string_agg(g.group_id, ',') FROM group_members g WHERE g.user_id = u.id)
                AS group_ids,
            (SELECT config FROM auth_method_policies WHERE id = ?) AS policy
         FROM (SELECT CAST(? AS TEXT) AS upn_key) q
         LEFT JOIN users u ON u.upn_key = q.upn_key
         LEFT JOIN temporary_access_passes t ON t.user_id = u.id",
        user = users::COLUMNS
    );
    let row = query_owned(sql)
        .bind(POLICY_ID)
        .bind(upn_key(user_principal_name))
        .fetch_one(&mut *conn)
        .await?;
    let user = match row.try_get::<Option<&str>, _>("id")? {
        Some(_) => Some(users::from_row(&row)?),
        None => None,
    };
    let pass = taps::from_prefixed_row(&row, "tap_")?;
    let group_ids = row
        .try_get::<Option<&str>, _>("group_ids")?
        .unwrap_or("")
        .split(',')
        .filter(|g| !g.is_empty())
        .map(uuid)
        .collect::<Result<_>>()?;
    let policy = row
        .try_get::<Option<&str>, _>("policy")?
        .map(|json| {
            serde_json::from_str(json)
                .map_err(|e| Error::Internal(format!("corrupt policy {POLICY_ID}: {e}")))
        })
        .transpose()?;
    Ok(SignInFacts {
        user,
        pass,
        group_ids,
        policy,
    })
}
