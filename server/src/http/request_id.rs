//! Gives every request an id: returned in the `request-id` header, quoted in error bodies
//! (`innerError.request-id`), stored as the audit records' correlation id, and logged. Also
//! counts the request in the metrics.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use uuid::Uuid;

use super::AppState;

tokio::task_local! {
    static REQUEST_ID: Uuid;
}

/// The id of the request being served, if called within one.
pub fn current() -> Option<Uuid> {
    REQUEST_ID.try_with(|id| *id).ok()
}

pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let id = Uuid::new_v4();
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    // Graph echoes the client's own id when it is a GUID; anything else is dropped rather than
    // reflected.
    let client_id = request
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Uuid::try_parse(v).ok());
    let mut response = REQUEST_ID.scope(id, next.run(request)).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    state.platform.metrics().observe_http(status, elapsed);
    // A request refused by a rate limit is counted (above) and reported by the limiter once
    // per client and interval; a line for each would let a flood fill the disk.
    if status != 429 {
        tracing::info!(
            request_id = %id,
            %method,
            route,
            status,
            latency_us = elapsed.as_micros() as u64,
            "request"
        );
    }
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
        headers.insert("request-id", v);
    }
    if let Some(c) = client_id
        && let Ok(v) = HeaderValue::from_str(&c.to_string())
    {
        headers.insert("client-request-id", v);
    }
    response
}
