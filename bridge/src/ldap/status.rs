//! Sync status for operators: what `GET /v1.0/tapbridge/syncSources` shows (the server crate
//! serves it) and Prometheus lines for `/metrics`.

use std::fmt::Write as _;

use plugin::domain::timefmt::rfc3339;
use plugin::platform::Platform;
use serde_json::{Value, json};

use super::config::SourceConfig;
use super::lock::{self, LockSettings};
use super::state;

/// Every configured source with its last result, counters, cursor age and quarantine: what
/// `GET /v1.0/tapbridge/syncSources` answers.
pub async fn sources_status(
    platform: &Platform,
    sources: &[SourceConfig],
    settings: LockSettings,
) -> Result<Vec<Value>, plugin::Error> {
    let mut value = Vec::new();
    for src in sources {
        value.push(source_status(platform, src, settings).await?);
    }
    Ok(value)
}

async fn source_status(
    platform: &Platform,
    src: &SourceConfig,
    settings: LockSettings,
) -> Result<Value, plugin::Error> {
    let id = src.source_id();
    let mut conn = platform.store().read().await?;
    let st = state::load_state(&mut conn, &id).await?;
    let now = platform.now();
    let holder = lock::holder(&mut conn, &id, settings, now).await?;
    let quarantined = state::quarantined(&mut conn, &id, 50).await?;
    let quarantined_count = state::quarantine_count(&mut conn, &id).await?;
    Ok(json!({
        "name": src.name,
        "source": id,
        "kind": src.kind.as_str(),
        "url": src.url,
        "lastStatus": st.last_status,
        "lastMode": st.last_mode,
        "lastRunDateTime": st.last_run_at.map(rfc3339),
        "lastFullSyncDateTime": st.last_full_at.map(rfc3339),
        "lastError": st.last_error,
        "lastDurationMs": st.last_duration_ms,
        "lastCounts": st.last_counts,
        "cookieAgeSeconds": st.cursor_at.map(|t| (now - t).whole_seconds()),
        // What the next run between full runs resumes from; null: the next run is full.
        "deltaCursor": st.cursor.method(),
        "runsSucceeded": st.runs_ok,
        "runsFailed": st.runs_failed,
        "quarantinedCount": quarantined_count,
        "quarantined": quarantined,
        // The run holding the source right now; null when none does. A stale lock's run
        // died: the next run takes the lock over.
        "runLock": holder.map(|h| json!({
            "host": h.host,
            "processId": h.pid,
            "startedDateTime": rfc3339(h.started_at),
            "lastHeartbeatDateTime": rfc3339(h.heartbeat_at),
            "state": if h.stale { "stale" } else { "running" },
        })),
    }))
}

/// Prometheus text lines for every source, to append to `/metrics`.
pub async fn render_metrics(
    platform: &Platform,
    sources: &[SourceConfig],
    settings: LockSettings,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP tapbridge_ldap_sync_last_success Whether the last run of the source completed (1) or not (0)."
    );
    let _ = writeln!(out, "# TYPE tapbridge_ldap_sync_last_success gauge");
    let mut rows = Vec::new();
    for src in sources {
        let id = src.source_id();
        let Ok(mut conn) = platform.store().read().await else {
            continue;
        };
        let Ok(st) = state::load_state(&mut conn, &id).await else {
            continue;
        };
        let q = state::quarantine_count(&mut conn, &id).await.unwrap_or(0);
        let running = lock::holder(&mut conn, &id, settings, platform.now())
            .await
            .ok()
            .flatten()
            .is_some_and(|h| !h.stale);
        rows.push((src.name.clone(), st, q, running));
    }
    let now = platform.now();
    for (name, st, _, _) in &rows {
        let ok = u8::from(st.last_status.as_deref() == Some("ok"));
        let _ = writeln!(
            out,
            "tapbridge_ldap_sync_last_success{{source=\"{name}\"}} {ok}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP tapbridge_ldap_sync_runs_total Completed and failed runs since the database was created."
    );
    let _ = writeln!(out, "# TYPE tapbridge_ldap_sync_runs_total counter");
    for (name, st, _, _) in &rows {
        let _ = writeln!(
            out,
            "tapbridge_ldap_sync_runs_total{{source=\"{name}\",result=\"ok\"}} {}",
            st.runs_ok
        );
        let _ = writeln!(
            out,
            "tapbridge_ldap_sync_runs_total{{source=\"{name}\",result=\"failed\"}} {}",
            st.runs_failed
        );
    }
    let _ = writeln!(
        out,
        "# HELP tapbridge_ldap_sync_last_run_age_seconds Seconds since the last run ended."
    );
    let _ = writeln!(out, "# TYPE tapbridge_ldap_sync_last_run_age_seconds gauge");
    for (name, st, _, _) in &rows {
        if let Some(at) = st.last_run_at {
            let _ = writeln!(
                out,
                "tapbridge_ldap_sync_last_run_age_seconds{{source=\"{name}\"}} {}",
                (now - at).whole_seconds()
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP tapbridge_ldap_sync_cookie_age_seconds Seconds since the delta cursor last moved."
    );
    let _ = writeln!(out, "# TYPE tapbridge_ldap_sync_cookie_age_seconds gauge");
    for (name, st, _, _) in &rows {
        if let Some(at) = st.cursor_at {
            let _ = writeln!(
                out,
                "tapbridge_ldap_sync_cookie_age_seconds{{source=\"{name}\"}} {}",
                (now - at).whole_seconds()
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP tapbridge_ldap_sync_last_run_changes Changes made by the last run, by kind."
    );
    let _ = writeln!(out, "# TYPE tapbridge_ldap_sync_last_run_changes gauge");
    for (name, st, _, _) in &rows {
        if let Some(map) = st.last_counts.as_object() {
            for (k, v) in map {
                let _ = writeln!(
                    out,
                    "tapbridge_ldap_sync_last_run_changes{{source=\"{name}\",kind=\"{k}\"}} {}",
                    v.as_u64().unwrap_or(0)
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "# HELP tapbridge_ldap_quarantined_entries Entries held back as unusable."
    );
    let _ = writeln!(out, "# TYPE tapbridge_ldap_quarantined_entries gauge");
    for (name, _, q, _) in &rows {
        let _ = writeln!(
            out,
            "tapbridge_ldap_quarantined_entries{{source=\"{name}\"}} {q}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP tapbridge_ldap_sync_running Whether a live run (fresh heartbeat) holds the source."
    );
    let _ = writeln!(out, "# TYPE tapbridge_ldap_sync_running gauge");
    for (name, _, _, running) in &rows {
        let _ = writeln!(
            out,
            "tapbridge_ldap_sync_running{{source=\"{name}\"}} {}",
            u8::from(*running)
        );
    }
    out
}
