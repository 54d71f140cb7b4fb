//! The pages' stylesheet, script and icon, compiled into the binary: nothing is loaded from
//! elsewhere.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::error::PageError;

const CSS: &str = include_str!("../../../assets/app.css");
const JS: &str = include_str!("../../../assets/app.js");
const FAVICON: &[u8] = include_bytes!("../../../assets/favicon.ico");

fn cached(mut response: Response, kind: &'static str) -> Response {
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

pub async fn asset(Path(file): Path<String>) -> Response {
    match file.as_str() {
        "app.css" => cached(CSS.into_response(), "text/css; charset=utf-8"),
        "app.js" => cached(JS.into_response(), "text/javascript; charset=utf-8"),
        _ => PageError::NotFound.into_response(),
    }
}

/// `GET /favicon.ico`: browsers ask for it on every site.
pub async fn favicon() -> Response {
    cached(FAVICON.into_response(), "image/x-icon")
}
