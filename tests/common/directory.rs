//! What the directory-sync suites run and read: `sync ldap --json` reports, users through the
//! CLI, anything else by SQL on the test's database.

use std::path::Path;

use serde_json::Value;

/// Runs `sync ldap --json` with `args` and returns (success, the one report): a delta when
/// the stored cursor allows one, unless `args` has `--full`.
pub fn sync_report(dir: &Path, args: &[&str]) -> (bool, Value) {
    let mut all = vec!["sync", "ldap", "--json"];
    all.extend_from_slice(args);
    let out = super::run(dir, &all);
    let text = String::from_utf8_lossy(&out.stdout);
    let reports: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}): {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), reports[0].clone())
}

pub fn users(dir: &Path) -> Vec<Value> {
    super::json(dir, &["user", "list", "--json", "--limit", "1000"])
        .as_array()
        .expect("array")
        .clone()
}

pub fn user<'a>(all: &'a [Value], upn: &str) -> Option<&'a Value> {
    all.iter()
        .find(|u| u["userPrincipalName"].as_str() == Some(upn))
}

/// Rows of a query against the test's database, every column as text.
pub fn query(dir: &Path, sql: &str) -> Vec<Vec<String>> {
    use sqlx::{Connection, Row};
    let path = dir.join("data/tapbridge.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .expect("open db");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_all(&mut c)
            .await
            .expect("query");
        rows.iter()
            .map(|r| {
                (0..r.columns().len())
                    .map(|i| {
                        r.try_get::<String, _>(i)
                            .or_else(|_| r.try_get::<i64, _>(i).map(|v| v.to_string()))
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .collect()
    })
}

pub fn members(dir: &Path, group: &str) -> Vec<String> {
    let mut m: Vec<String> = query(
        dir,
        &format!(
            "SELECT u.user_principal_name FROM group_members gm JOIN groups g ON g.id = gm.group_id \
             JOIN users u ON u.id = gm.user_id WHERE g.display_name = '{group}'"
        ),
    )
    .into_iter()
    .map(|r| r[0].clone())
    .collect();
    m.sort();
    m
}

pub fn events(dir: &Path, upn: &str) -> Vec<String> {
    query(
        dir,
        &format!(
            "SELECT kind FROM directory_events WHERE user_principal_name = '{upn}' ORDER BY seq"
        ),
    )
    .into_iter()
    .map(|r| r[0].clone())
    .collect()
}
