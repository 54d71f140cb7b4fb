//! `/v1.0/auditLogs/directoryAudits`: Graph's `directoryAudit`.

use axum::extract::State;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::odata::{Options, collection, split_page};
use crate::http::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::{ApiCaller, ODataQuery};
use plugin::domain::audit::{AuditEntry, AuditQuery};
use plugin::domain::timefmt::rfc3339;
use plugin::{Error, Result};

fn audit_json(e: &AuditEntry) -> Value {
    let i = &e.initiated_by;
    let initiated_by = match i.kind.as_str() {
        "user" => json!({
            "app": null,
            "user": {"id": i.id, "displayName": null, "userPrincipalName": i.display_name, "ipAddress": e.client_address},
        }),
        _ => json!({
            "user": null,
            "app": {
                "appId": i.id,
                "displayName": i.display_name,
                "servicePrincipalId": i.id,
                "servicePrincipalName": if i.kind == "operator" { "tapbridge CLI" } else { i.display_name.as_str() },
            },
        }),
    };
    let mut details: Vec<Value> = e
        .details
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    // A coalesced record (repeats of one failure): how many, and when the last was. Graph has
    // no field for either; additionalDetails is where Graph itself puts such extras.
    if e.occurrences > 1 {
        details.push(json!({"key": "occurrences", "value": e.occurrences.to_string()}));
        if let Some(last) = e.last_at {
            details.push(json!({"key": "lastActivityDateTime", "value": rfc3339(last)}));
        }
    }
    json!({
        "id": e.id,
        "category": e.category,
        "correlationId": e.correlation_id,
        "result": if e.success { "success" } else { "failure" },
        "resultReason": e.result_reason.clone().unwrap_or_default(),
        "activityDisplayName": e.activity,
        "activityDateTime": rfc3339(e.at),
        "loggedByService": "tapbridge",
        "operationType": e.operation_type,
        "initiatedBy": initiated_by,
        "targetResources": e.targets.iter().map(|t| json!({
            "id": t.id,
            "displayName": t.display_name,
            "type": t.kind,
            "userPrincipalName": if t.kind == "User" { t.display_name.clone() } else { None },
            "modifiedProperties": [],
        })).collect::<Vec<_>>(),
        "additionalDetails": details,
    })
}

/// `GET /v1.0/auditLogs/directoryAudits` — any administrative role. Newest first;
/// `$filter=activityDisplayName eq '…'`, `$top`, `$skiptoken`.
pub async fn list_directory_audits(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ODataQuery(raw): ODataQuery,
) -> ApiResult<impl IntoResponse> {
    let options = Options::parse(&raw, &["$filter"])?;
    let activity = match options.get("$filter") {
        None => None,
        Some(f) => Some(parse_activity_filter(f)?),
    };
    let before_seq = match &options.after {
        None => None,
        Some(s) => Some(
            s.parse::<i64>()
                .map_err(|_| Error::invalid("$skiptoken is not one this server issued"))?,
        ),
    };
    let query = AuditQuery {
        before_seq,
        limit: options.top + 1,
        activity,
    };
    let entries = state.platform.audit_log(&caller, &query).await?;
    let (entries, more) = split_page(entries, options.top);
    let next = more
        .then(|| entries.last().map(|e| e.seq.to_string()))
        .flatten();
    let items = entries.iter().map(audit_json).collect();
    Ok(collection(
        &state,
        "auditLogs/directoryAudits",
        "/v1.0/auditLogs/directoryAudits",
        &options,
        items,
        next,
    ))
}

fn parse_activity_filter(f: &str) -> Result<String> {
    let invalid =
        || Error::invalid("Invalid $filter: only activityDisplayName eq '…' is supported");
    let (left, right) = f.split_once(" eq ").ok_or_else(invalid)?;
    if !left.trim().eq_ignore_ascii_case("activityDisplayName") {
        return Err(invalid());
    }
    let v = right.trim();
    let inner = v
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .ok_or_else(invalid)?;
    Ok(inner.replace("''", "'"))
}
