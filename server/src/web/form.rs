//! Request bodies for the pages: rejections become a friendly page (forms) or JSON error
//! (scripts), never axum's plain-text ones.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::{JsonError, PageError};
use plugin::Error;

/// An `application/x-www-form-urlencoded` body of string fields. A repeated field is
/// malformed.
pub struct PageForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for PageForm<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &S) -> Result<Self, PageError> {
        let malformed =
            || PageError::from(Error::invalid(super::pages::text("error_form_malformed")));
        let is_form = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(malformed());
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| malformed())?;
        let mut fields = serde_json::Map::new();
        for (k, v) in form_urlencoded::parse(&bytes) {
            if fields
                .insert(k.into_owned(), serde_json::Value::String(v.into_owned()))
                .is_some()
            {
                return Err(malformed());
            }
        }
        serde_json::from_value(serde_json::Value::Object(fields))
            .map(PageForm)
            .map_err(|_| malformed())
    }
}

/// A JSON body from the pages' script.
pub struct ScriptJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ScriptJson<T> {
    type Rejection = JsonError;

    async fn from_request(req: Request, state: &S) -> Result<Self, JsonError> {
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| ScriptJson(v))
            .map_err(|_| {
                JsonError::from(Error::invalid(super::pages::text(
                    "error_request_malformed",
                )))
            })
    }
}

/// A path parameter.
pub struct PagePath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PagePath<T> {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, PageError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| PagePath(v))
            .map_err(|_| PageError::NotFound)
    }
}

/// A query string. A malformed one (a repeated field) gets the "malformed" page, not axum's
/// plain text.
pub struct PageQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PageQuery<T> {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, PageError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| PageQuery(v))
            .map_err(|_| {
                PageError::from(Error::invalid(super::pages::text(
                    "error_address_malformed",
                )))
            })
    }
}
