//! The longest request target served. hyper itself answers a target over 65,534 bytes with an
//! empty 414 before any handler runs; below that, each API refuses a long target in its own
//! error shape: [`graph_uri_limit`] here, SCIM's in the bridge. Both use [`uri_too_long`].

use axum::extract::{OriginalUri, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

/// Bytes of path and query accepted. Far above any filter a Graph or SCIM client sends, far
/// below hyper's own limit, so that every 414 a client can meet here is one of ours.
pub const MAX_URI_BYTES: usize = 16 * 1024;

/// Whether the request's target (path and query, before any nesting stripped a prefix) is
/// longer than [`MAX_URI_BYTES`].
pub fn uri_too_long(request: &Request) -> bool {
    let uri = request
        .extensions()
        .get::<OriginalUri>()
        .map_or(request.uri(), |o| &o.0);
    uri.path_and_query().map_or(0, |p| p.as_str().len()) > MAX_URI_BYTES
}

/// A Graph 414 for a target longer than [`MAX_URI_BYTES`]. A layer for routers under `/v1.0`.
pub async fn graph_uri_limit(request: Request, next: Next) -> Response {
    if uri_too_long(&request) {
        return super::error::envelope(
            StatusCode::URI_TOO_LONG,
            "requestUriTooLong",
            &format!("The request URI is longer than {MAX_URI_BYTES} bytes."),
        );
    }
    next.run(request).await
}
