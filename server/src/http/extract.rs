//! Extractors whose rejections are Graph errors rather than axum's plain-text ones, and the
//! bearer-token extractor that turns a request into a [`Caller`].

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Path, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::{AppState, request_id};
use plugin::metrics::inc;
use plugin::platform::{Caller, Oidc, TOKEN_PREFIX};
use plugin::secret::SecretString;
use plugin::{Error, Result};

/// A JSON body. Wrong media type, oversized, malformed or ill-typed bodies are 400/413/415
/// Graph errors.
pub struct GraphJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for GraphJson<T> {
    type Rejection = axum::response::Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        use axum::http::StatusCode;
        use axum::response::IntoResponse;
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(super::error::envelope(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalidRequest",
                "The request body must be application/json.",
            ));
        }
        let bytes = match Bytes::from_request(req, state).await {
            Ok(b) => b,
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(super::error::envelope(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "requestTooLarge",
                    "The request body is larger than this server accepts.",
                ));
            }
            Err(_) => {
                return Err(
                    ApiError(Error::invalid("The request body could not be read.")).into_response(),
                );
            }
        };
        serde_json::from_slice(&bytes).map(GraphJson).map_err(|e| {
            ApiError(Error::invalid(format!(
                "The request body is not valid: {e}"
            )))
            .into_response()
        })
    }
}

/// Path parameters.
pub struct GraphPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for GraphPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| GraphPath(v))
            .map_err(|e| ApiError(Error::invalid(e.body_text())))
    }
}

/// OData query options (`$filter`, `$top`, …) as raw strings. Repeated options are an error.
pub struct ODataQuery(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for ODataQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let mut map = HashMap::new();
        for (k, v) in form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()) {
            if map.insert(k.to_string(), v.to_string()).is_some() {
                return Err(ApiError(Error::invalid(format!(
                    "query option `{k}` is given more than once"
                ))));
            }
        }
        Ok(ODataQuery(map))
    }
}

/// An API client authenticated by its bearer token: a static API token (`tapbridge_…`), or
/// an access token the OpenID Connect provider issued to an application by client
/// credentials, carrying the roles an administrator granted that application. The provider
/// is found in the request's extensions (`serve` puts it there); without it only static
/// tokens are known. Every `/v1.0` route authenticates through it, whatever its router's
/// state (one that holds the [`AppState`]).
pub struct ApiCaller(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for ApiCaller
where
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(Error::Unauthenticated)?;
        let (scheme, token) = header.split_once(' ').ok_or(Error::Unauthenticated)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Error::Unauthenticated.into());
        }
        let token = SecretString::new(token.trim().to_owned());
        let oidc = parts.extensions.get::<Arc<Oidc>>();
        let actor = match oidc {
            Some(oidc) if !token.expose().starts_with(TOKEN_PREFIX) => {
                match oidc.authenticate_app_token(token.expose()).await {
                    Ok(actor) => actor,
                    Err(Error::Unauthenticated) => {
                        inc(&state.platform.metrics().api_auth_failures);
                        return Err(Error::Unauthenticated.into());
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            _ => state.platform.authenticate_token(&token).await?,
        };
        Ok(ApiCaller(Caller::new(actor, request_id::current())))
    }
}
