//! Sync status for operators: what `GET /v1.0/tapbridge/syncSources` shows (the server crate
//! serves it) and Prometheus lines for `/metrics`.

use std::fmt::Write as _;

use plugin::domain::timefmt::rfc3339;
use plugin::platform::directory_sync::{HolderView, LockSettings};
use plugin::platform::{Caller, Platform};
use serde_json::{Value, json};

use super::config::SourceConfig;

/// Every configured source with its last result, counters, cursor age and quarantine: what
/// `GET /v1.0/tapbridge/syncSources` answers. Any role that may read.
pub async fn sources_status(
    platform: &Platform,
    caller: &Caller,
    sources: &[SourceConfig],
    settings: LockSettings,
) -> Result<Vec<Value>, plugin::Error> {
    let mut value = Vec::new();
    for src in sources {
        value.push(source_status(platform, caller, src, settings).await?);
    }
    Ok(value)
}

async fn source_status(
    platform: &Platform,
    caller: &Caller,
    src: &SourceConfig,
    settings: LockSettings,
) -> Result<Value, plugin::Error> {
    let id = src.source_id();
    let source = platform.sync_source(caller, &id, 50).await?;
    let now = platform.now();
    let holder = source.run_lock.map(|h| HolderView::of(h, settings, now));
    let (st, quarantined, quarantined_count) =
        (source.state, source.quarantined, source.quarantined_count);
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
        // The daemon reads its own state for /metrics: as its operator.
        let Ok(source) = platform.sync_source(&Caller::operator(), &id, 0).await else {
            continue;
        };
        let running = source
            .run_lock
            .is_some_and(|h| !HolderView::of(h, settings, platform.now()).stale);
        rows.push((
            src.name.clone(),
            source.state,
            source.quarantined_count,
            running,
        ));
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
