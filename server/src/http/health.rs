//! Liveness, readiness and Prometheus metrics. Unauthenticated, as scrapers and probes expect;
//! they reveal counts, never names or secrets.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use plugin::domain::timefmt::rfc3339;
use plugin::store::Cause;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn healthz() -> &'static str {
    "ok"
}

/// How long readiness waits for the database before answering "not ready".
const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// At most one write probe per interval while the store is in a fault.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// Ready when the database answers and can be written: a full disk, a read-only file system
/// or a lost database turns it to 503 with the cause, and back to 200 when the cause is gone.
async fn readyz(State(state): State<AppState>) -> Response {
    let store = state.platform.store();
    let not_ready = |why: String| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, super::error::RETRY_AFTER)],
            format!("not ready: {why}"),
        )
            .into_response()
    };
    match tokio::time::timeout(PING_TIMEOUT, store.ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the database does not answer");
            return not_ready(Cause::Unavailable.describe().to_owned());
        }
        Err(_) => {
            return not_ready(format!(
                "{} (no answer within 2 s)",
                Cause::Unavailable.describe()
            ));
        }
    }
    match tokio::time::timeout(PING_TIMEOUT, store.writable(PROBE_INTERVAL)).await {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        Ok(Err(fault)) => not_ready(format!(
            "{} since {}",
            fault.cause.describe(),
            rfc3339(fault.since)
        )),
        Err(_) => not_ready("a write probe did not finish within 2 s".into()),
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let gauges = match state.platform.gauges().await {
        Ok(g) => g,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: store gauges unavailable");
            Default::default()
        }
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.platform.metrics().render(gauges)
            + &plugin::metrics::render_store(state.platform.store().health())
            + &format!(
                "# HELP tapbridge_node_leader 1 on the node that runs the jobs that must run once.\n\
                 # TYPE tapbridge_node_leader gauge\ntapbridge_node_leader {}\n",
                u8::from(state.platform.leads())
            )
            + &state.platform.extra_metrics().await,
    )
}
