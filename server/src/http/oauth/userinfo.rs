//! `GET|POST /oauth2/userinfo` (OpenID Connect Core §5.3) with a bearer access token.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::{bearer_error, no_store};
use crate::http::error::ApiError;
use plugin::Error;
use plugin::platform::Oidc;

pub async fn userinfo(State(oidc): State<Arc<Oidc>>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    let Some(token) = token else {
        return bearer_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "a bearer token is required",
        );
    };
    match oidc.userinfo(&token).await {
        Ok(claims) => no_store(Json(claims).into_response()),
        Err(Error::Forbidden(m)) => bearer_error(StatusCode::FORBIDDEN, "insufficient_scope", &m),
        Err(Error::Unauthenticated) => bearer_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the access token is invalid, expired or revoked",
        ),
        Err(e) => ApiError(e).into_response(),
    }
}
