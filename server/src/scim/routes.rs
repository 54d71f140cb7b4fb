//! `/scim/v2` routes. Thin handlers: authenticate the source, read the body, call the
//! service, shape the response (`application/scim+json`, `ETag`, `Location`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use plugin::platform::{Platform, Provisioner};
use plugin::secret::SecretString;
use serde_json::{Value, json};

use bridge::error::{Error, ScimType};
use bridge::provisioning::resource::{self, LIST_RESPONSE_SCHEMA, keeps_members};
use bridge::provisioning::{Kind, ListQuery, Page, Resource, Scim, discovery};

use super::error::{Result, SCIM_MEDIA_TYPE, ScimError};

#[derive(Clone)]
struct ScimState {
    scim: Arc<Scim>,
    platform: Arc<Platform>,
}

/// The SCIM router, to be nested under `/scim/v2`.
pub fn routes(scim: Arc<Scim>, platform: Arc<Platform>) -> Router {
    let state = ScimState { scim, platform };
    Router::new()
        // `{resource}` is `Users` or `Groups`; the static routes below take precedence.
        .route("/{resource}", get(list).post(create))
        .route("/{resource}/.search", post(search))
        .route(
            "/{resource}/{id}",
            get(read).put(replace).patch(patch).delete(delete),
        )
        .route("/.search", post(search_all))
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{id}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(uri_limit))
        .with_state(state)
}

/// SCIM's 414 for a request target longer than the server accepts.
async fn uri_limit(request: Request, next: Next) -> Response {
    if crate::http::limits::uri_too_long(&request) {
        return ScimError(Error::Scim {
            status: 414,
            scim_type: None,
            detail: format!(
                "the request URI is longer than {} bytes",
                crate::http::limits::MAX_URI_BYTES
            ),
        })
        .into_response();
    }
    next.run(request).await
}

/// A request body within the server's size limit; a larger one is SCIM's 413, not axum's
/// plain-text answer.
struct Body(Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ScimError;

    async fn from_request(request: Request, state: &S) -> Result<Self> {
        match Bytes::from_request(request, state).await {
            Ok(bytes) => Ok(Body(bytes)),
            Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ScimError(Error::Scim {
                status: 413,
                scim_type: None,
                detail: "the request body is larger than this server accepts".into(),
            })),
            Err(_) => Err(ScimError(Error::bad(
                ScimType::InvalidSyntax,
                "the request body could not be read",
            ))),
        }
    }
}

/// A provisioning source, authenticated by its bearer token.
struct Source(Provisioner);

impl FromRequestParts<ScimState> for Source {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &ScimState) -> Result<Self> {
        let unauthenticated = || ScimError(Error::Platform(plugin::Error::Unauthenticated));
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(unauthenticated)?;
        let (scheme, token) = value.split_once(' ').ok_or_else(unauthenticated)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(unauthenticated());
        }
        let token = SecretString::new(token.trim().to_owned());
        Ok(Source(
            state.platform.authenticate_provisioner(&token).await?,
        ))
    }
}

/// Reads a JSON body sent as `application/scim+json` or `application/json`.
fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<Value> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase());
    match media.as_deref() {
        Some("application/scim+json" | "application/json") => {}
        _ => {
            return Err(ScimError(Error::Scim {
                status: 415,
                scim_type: None,
                detail: "send the body as application/scim+json".into(),
            }));
        }
    }
    serde_json::from_slice(body).map_err(|e| {
        ScimError(Error::bad(
            ScimType::InvalidSyntax,
            format!("the body is not valid JSON: {e}"),
        ))
    })
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn respond(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, SCIM_MEDIA_TYPE)],
        axum::Json(body),
    )
        .into_response()
}

fn respond_resource(status: StatusCode, r: Resource) -> Response {
    let location = r
        .json
        .pointer("/meta/location")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let etag = r
        .json
        .pointer("/meta/version")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut response = respond(status, r.json);
    let headers = response.headers_mut();
    if let Some(v) = etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
        headers.insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED
        && let Some(v) = location.and_then(|l| HeaderValue::from_str(&l).ok())
    {
        headers.insert(header::LOCATION, v);
    }
    response
}

fn respond_page(page: Page) -> Response {
    respond(
        StatusCode::OK,
        json!({
            "schemas": [LIST_RESPONSE_SCHEMA],
            "totalResults": page.total_results,
            "startIndex": page.start_index,
            "itemsPerPage": page.resources.len(),
            "Resources": page.resources,
        }),
    )
}

/// `If-None-Match` on a read: the client's copy is current.
fn not_modified(headers: &HeaderMap, r: &Resource) -> Option<ScimError> {
    let etag = resource::etag(r.version);
    header_str(headers, header::IF_NONE_MATCH)
        .filter(|h| resource::etag_listed(h, &etag))
        .map(|_| ScimError(Error::NotModified { etag }))
}

fn correlation() -> Option<uuid::Uuid> {
    crate::http::request_id()
}

fn params(q: &HashMap<String, String>) -> Result<ListQuery> {
    Ok(ListQuery::from_params(q)?)
}

/// The resource type a path names: `Users` or `Groups` (case-sensitive, as RFC 7644's).
fn kind(resource: &str) -> Result<Kind> {
    match resource {
        "Users" => Ok(Kind::User),
        "Groups" => Ok(Kind::Group),
        _ => Err(Error::NotFound("the requested SCIM endpoint".into()).into()),
    }
}

/// `GET /{Users|Groups}` — the caller's source's resources, filtered, sorted and paged.
async fn list(
    State(s): State<ScimState>,
    Source(who): Source,
    Path(resource): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let kind = kind(&resource)?;
    Ok(respond_page(s.scim.list(&who, kind, &params(&q)?).await?))
}

/// `POST /{Users|Groups}/.search` — the same, with the query in a SearchRequest body.
async fn search(
    State(s): State<ScimState>,
    Source(who): Source,
    Path(resource): Path<String>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    let kind = kind(&resource)?;
    let q = ListQuery::from_search(&json_body(&headers, &body)?)?;
    Ok(respond_page(s.scim.list(&who, kind, &q).await?))
}

/// `POST /.search` — Users and Groups at once.
async fn search_all(
    State(s): State<ScimState>,
    Source(who): Source,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    let q = ListQuery::from_search(&json_body(&headers, &body)?)?;
    Ok(respond_page(s.scim.search_all(&who, &q).await?))
}

/// `POST /{Users|Groups}` — creates a resource owned by the caller's source; a user is a
/// joiner.
async fn create(
    State(s): State<ScimState>,
    Source(who): Source,
    Path(resource): Path<String>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    let body = json_body(&headers, &body)?;
    let r = match kind(&resource)? {
        Kind::User => s.scim.create_user(&who, body, correlation()).await?,
        Kind::Group => s.scim.create_group(&who, body, correlation()).await?,
    };
    Ok(respond_resource(StatusCode::CREATED, r))
}

/// `GET /{Users|Groups}/{id}` — honours `If-None-Match`, `attributes`, `excludedAttributes`.
async fn read(
    State(s): State<ScimState>,
    Source(who): Source,
    Path((resource, id)): Path<(String, String)>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let kind = kind(&resource)?;
    let query = ListQuery::from_params(&q)?;
    let mut r = match kind {
        Kind::User => s.scim.get_user(&who, &id).await?,
        Kind::Group => {
            let with_members = keeps_members(&query.attributes, &query.excluded);
            s.scim.get_group(&who, &id, with_members).await?
        }
    };
    if let Some(e) = not_modified(&headers, &r) {
        return Err(e);
    }
    r.json = project_one(r.json, &query, kind);
    Ok(respond_resource(StatusCode::OK, r))
}

/// `PUT /{Users|Groups}/{id}` — replaces the resource; `active: false` makes a user a leaver.
async fn replace(
    State(s): State<ScimState>,
    Source(who): Source,
    Path((resource, id)): Path<(String, String)>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    let if_match = header_str(&headers, header::IF_MATCH);
    let body = json_body(&headers, &body)?;
    let r = match kind(&resource)? {
        Kind::User => {
            s.scim
                .replace_user(&who, &id, body, if_match, correlation())
                .await?
        }
        Kind::Group => {
            s.scim
                .replace_group(&who, &id, body, if_match, correlation())
                .await?
        }
    };
    Ok(respond_resource(StatusCode::OK, r))
}

/// `PATCH /{Users|Groups}/{id}` — RFC 7644 §3.5.2, with what Entra and Okta really send.
/// A user is answered 200 with the user. A group is answered 204 No Content with its ETag, as
/// Microsoft advises, so that provisioning a large group never ships its member list back;
/// with `attributes` or `excludedAttributes` it is 200 with the projected group, as RFC 7644
/// requires.
async fn patch(
    State(s): State<ScimState>,
    Source(who): Source,
    Path((resource, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    let kind = kind(&resource)?;
    let query = ListQuery::from_params(&q)?;
    let if_match = header_str(&headers, header::IF_MATCH);
    let body = json_body(&headers, &body)?;
    let mut r = match kind {
        Kind::User => {
            s.scim
                .patch_user(&who, &id, body, if_match, correlation())
                .await?
        }
        Kind::Group => {
            let projected = !query.attributes.is_empty() || !query.excluded.is_empty();
            let written = s
                .scim
                .patch_group(&who, &id, body, if_match, correlation(), projected)
                .await?;
            let Some(json) = written.json else {
                return Ok(no_content(written.version));
            };
            Resource {
                json,
                version: written.version,
            }
        }
    };
    r.json = project_one(r.json, &query, kind);
    Ok(respond_resource(StatusCode::OK, r))
}

/// 204 No Content with the resource's new ETag.
fn no_content(version: i64) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(&resource::etag(version)) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

/// `DELETE /{Users|Groups}/{id}` — a user is deleted after their access is revoked (a leaver).
async fn delete(
    State(s): State<ScimState>,
    Source(who): Source,
    Path((resource, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode> {
    let if_match = header_str(&headers, header::IF_MATCH);
    match kind(&resource)? {
        Kind::User => {
            s.scim
                .delete_user(&who, &id, if_match, correlation())
                .await?
        }
        Kind::Group => {
            s.scim
                .delete_group(&who, &id, if_match, correlation())
                .await?
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `attributes` / `excludedAttributes` on a single resource (GET, PATCH).
fn project_one(json: Value, query: &ListQuery, kind: Kind) -> Value {
    let schema = match kind {
        Kind::User => resource::user_schema(),
        Kind::Group => resource::group_schema(),
    };
    resource::project(json, &query.attributes, &query.excluded, schema)
}

async fn service_provider_config(State(s): State<ScimState>) -> Response {
    respond(
        StatusCode::OK,
        discovery::service_provider_config(&s.scim.base(), s.scim.max_results()),
    )
}

async fn resource_types(State(s): State<ScimState>) -> Response {
    respond(
        StatusCode::OK,
        discovery::list(discovery::resource_types(&s.scim.base())),
    )
}

async fn resource_type(State(s): State<ScimState>, Path(id): Path<String>) -> Result<Response> {
    discovery::resource_types(&s.scim.base())
        .into_iter()
        .find(|r| r["id"].as_str() == Some(id.as_str()))
        .map(|r| respond(StatusCode::OK, r))
        .ok_or_else(|| Error::NotFound(format!("ResourceType `{id}`")).into())
}

async fn schemas(State(s): State<ScimState>) -> Response {
    respond(
        StatusCode::OK,
        discovery::list(discovery::schemas(&s.scim.base())),
    )
}

async fn schema(State(s): State<ScimState>, Path(id): Path<String>) -> Result<Response> {
    discovery::schemas(&s.scim.base())
        .into_iter()
        .find(|r| {
            r["id"]
                .as_str()
                .is_some_and(|u| u.eq_ignore_ascii_case(&id))
        })
        .map(|r| respond(StatusCode::OK, r))
        .ok_or_else(|| Error::NotFound(format!("Schema `{id}`")).into())
}

async fn not_found() -> ScimError {
    ScimError(Error::NotFound("the requested SCIM endpoint".into()))
}

async fn method_not_allowed() -> ScimError {
    ScimError(Error::Scim {
        status: 405,
        scim_type: None,
        detail: "the method is not supported on this endpoint".into(),
    })
}
