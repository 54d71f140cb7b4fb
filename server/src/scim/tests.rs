//! `/scim/v2` through the whole HTTP application (shared middleware included), with recorded
//! request shapes from Microsoft Entra provisioning and Okta.

use std::sync::Arc;

use crate::http::{AppState, HttpSettings, app_with};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use plugin::clock::SystemClock;
use plugin::domain::directory::UserRef;
use plugin::domain::role::Roles;
use plugin::domain::tap_policy::TapRequest;
use plugin::platform::{Caller, Platform, PlatformSettings, TokenGrant};
use plugin::secret::ServerSecret;
use serde_json::{Value, json};
use tower::ServiceExt;

use bridge::provisioning::{Mapping, Scim, ScimSettings};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

struct Env {
    app: Router,
    platform: Arc<Platform>,
    _dir: plugin::store::testing::TestDb,
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

async fn env() -> Env {
    let (store, dir) = plugin::store::testing::store().await;
    let secret = ServerSecret::from_bytes(vec![3; 32]).unwrap();
    let platform = Arc::new(Platform::new(
        store,
        Arc::new(SystemClock),
        &secret,
        PlatformSettings::default(),
        Arc::default(),
    ));
    let public_url = "http://localhost:8080".to_owned();
    let scim = Arc::new(Scim::new(
        platform.clone(),
        ScimSettings {
            public_url: public_url.clone(),
            max_results: 100,
            mapping: Mapping::default(),
        },
    ));
    let state = AppState {
        platform: platform.clone(),
        settings: Arc::new(HttpSettings {
            body_limit: 65536,
            public_url,
        }),
    };
    let extra = Router::new().nest("/scim/v2", super::routes(scim, platform.clone()));
    Env {
        app: app_with(state, extra),
        platform,
        _dir: dir,
    }
}

impl Env {
    async fn token(&self, source: &str) -> String {
        let t = self
            .platform
            .create_token(
                &Caller::operator(),
                source,
                TokenGrant::Provisioning(source.into()),
            )
            .await
            .unwrap();
        t.token.expose().to_owned()
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/scim+json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, uri: &str, t: &str) -> Reply {
        self.call(Method::GET, uri, Some(t), None, &[]).await
    }

    async fn post(&self, uri: &str, t: &str, body: Value) -> Reply {
        self.call(Method::POST, uri, Some(t), Some(body), &[]).await
    }

    async fn patch(&self, uri: &str, t: &str, ops: Value) -> Reply {
        self.call(
            Method::PATCH,
            uri,
            Some(t),
            Some(json!({"schemas": [PATCH], "Operations": ops})),
            &[],
        )
        .await
    }

    async fn create_user(&self, t: &str, user_name: &str) -> String {
        let r = self
            .post(
                "/scim/v2/Users",
                t,
                json!({"schemas": [USER], "userName": user_name, "active": true,
                "emails": [{"value": user_name, "type": "work", "primary": true}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }

    async fn events(&self) -> Vec<(String, String)> {
        let mut conn = self.platform.store().read().await.unwrap();
        plugin::store::events::since(&mut conn, 0, 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.kind.to_string(), e.user_principal_name))
            .collect()
    }
}

fn assert_scim_error(r: &Reply, status: u16, scim_type: Option<&str>) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert_eq!(
        r.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(r.body["status"], status.to_string());
    assert_eq!(r.body["scimType"].as_str(), scim_type, "{}", r.body);
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/scim+json");
}

#[tokio::test]
async fn entra_provisioning_sequence() {
    let e = env().await;
    let t = e.token("entra").await;
    // Entra matches by userName first; no match is 200 with zero results.
    let r = e
        .get(
            "/scim/v2/Users?filter=userName+eq+%22ada%40contoso.com%22",
            &t,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["totalResults"], 0);
    assert_eq!(r.body["Resources"], json!([]));

    let created = e
        .post("/scim/v2/Users", &t, json!({
            "schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "externalId": "ada",
            "userName": "ada@contoso.com",
            "active": true,
            "displayName": "Ada Lovelace",
            "emails": [{"primary": true, "type": "work", "value": "ada@contoso.com"}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "Ada Lovelace", "familyName": "Lovelace", "givenName": "Ada"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Engines"}
        }))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.headers[header::LOCATION],
        format!("http://localhost:8080/scim/v2/Users/{id}").as_str()
    );
    assert_eq!(created.headers[header::ETAG], "W/\"1\"");
    assert_eq!(created.body["meta"]["resourceType"], "User");
    assert_eq!(created.body["meta"]["version"], "W/\"1\"");
    assert_eq!(
        created.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Engines"
    );

    let found = e
        .get(
            "/scim/v2/Users?filter=userName+eq+%22ADA%40contoso.com%22",
            &t,
        )
        .await;
    assert_eq!(
        found.body["totalResults"], 1,
        "userName matching ignores case"
    );
    assert_eq!(found.body["Resources"][0]["id"], id.as_str());

    // The platform sees the user; give them a pass, then Entra deactivates them.
    let user = e
        .platform
        .user(&Caller::operator(), &UserRef::Upn("ada@contoso.com".into()))
        .await
        .unwrap();
    assert_eq!(
        (user.source.as_str(), user.surname.as_deref()),
        ("scim:entra", Some("Lovelace"))
    );
    e.platform
        .issue_tap(
            &Caller::operator(),
            &UserRef::Id(user.id),
            TapRequest::default(),
        )
        .await
        .unwrap();

    let r = e
        .patch(
            &format!("/scim/v2/Users/{id}"),
            &t,
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["active"], false);
    assert_eq!(r.body["meta"]["version"], "W/\"2\"");
    let (_, passes) = e
        .platform
        .taps(&Caller::operator(), &UserRef::Id(user.id))
        .await
        .unwrap();
    assert!(passes.is_empty(), "a leaver's pass is revoked at once");
    let read = e.get(&format!("/scim/v2/Users/{id}"), &t).await;
    assert_eq!(
        read.body["active"], false,
        "deactivated users stay readable"
    );
    assert_eq!(
        e.events().await,
        vec![
            ("joiner".into(), "ada@contoso.com".into()),
            ("leaver".into(), "ada@contoso.com".into())
        ]
    );

    // Pathless replace with dotted keys, as Entra sends for attribute changes.
    let r = e
        .patch(&format!("/scim/v2/Users/{id}"), &t, json!([{"op": "replace", "value": {"name.familyName": "King", "displayName": "Ada King"}}]))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["name"]["familyName"], "King");

    let del = e
        .call(
            Method::DELETE,
            &format!("/scim/v2/Users/{id}"),
            Some(&t),
            None,
            &[],
        )
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    assert_scim_error(&e.get(&format!("/scim/v2/Users/{id}"), &t).await, 404, None);
}

#[tokio::test]
async fn okta_deactivation_and_replace() {
    let e = env().await;
    let t = e.token("okta").await;
    let id = e.create_user(&t, "grace@example.com").await;
    let r = e
        .patch(
            &format!("/scim/v2/Users/{id}"),
            &t,
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .await;
    assert_eq!(
        (r.status, r.body["active"].as_bool()),
        (StatusCode::OK, Some(false)),
        "{}",
        r.body
    );
    // PUT replaces everything: attributes not sent are gone.
    let put = e
        .call(
            Method::PUT,
            &format!("/scim/v2/Users/{id}"),
            Some(&t),
            Some(json!({"schemas": [USER], "userName": "grace@example.com", "active": true})),
            &[],
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert!(put.body.get("emails").is_none());
    let kinds: Vec<String> = e.events().await.into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds, ["joiner", "leaver", "joiner"]);
}

#[tokio::test]
async fn groups_and_membership_both_removal_forms() {
    let e = env().await;
    let t = e.token("entra").await;
    let a = e.create_user(&t, "a@example.com").await;
    let b = e.create_user(&t, "b@example.com").await;
    let g = e
        .post(
            "/scim/v2/Groups",
            &t,
            json!({"schemas": [GROUP], "displayName": "Joiners", "members": [{"value": a}]}),
        )
        .await;
    assert_eq!(g.status, StatusCode::CREATED, "{}", g.body);
    let gid = g.body["id"].as_str().unwrap().to_owned();
    assert_eq!(g.body["members"][0]["value"], a.as_str());

    let r = e
        .patch(
            &format!("/scim/v2/Groups/{gid}"),
            &t,
            json!([{"op": "Add", "path": "members", "value": [{"value": b}]}]),
        )
        .await;
    // A group PATCH answers 204 with the new ETag, and no member list.
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(r.headers[header::ETAG], "W/\"2\"");
    assert_eq!(r.body, Value::Null);
    let read = e.get(&format!("/scim/v2/Groups/{gid}"), &t).await;
    assert_eq!(read.body["members"].as_array().unwrap().len(), 2);
    let user = e.get(&format!("/scim/v2/Users/{b}"), &t).await;
    assert_eq!(user.body["groups"][0]["value"], gid.as_str());
    assert_eq!(user.body["groups"][0]["display"], "Joiners");

    let r = e
        .patch(
            &format!("/scim/v2/Groups/{gid}"),
            &t,
            json!([{"op": "remove", "path": format!("members[value eq \"{a}\"]")}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let read = e.get(&format!("/scim/v2/Groups/{gid}"), &t).await;
    assert_eq!(read.body["members"].as_array().unwrap().len(), 1);
    // Asking for attributes gets them back (RFC 7644 §3.5.2: 200 with what was asked for).
    let r = e
        .call(
            Method::PATCH,
            &format!("/scim/v2/Groups/{gid}?attributes=members"),
            Some(&t),
            Some(json!({"schemas": [PATCH], "Operations":
                [{"op": "remove", "path": "members", "value": [{"value": b}]}]})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"schemas": [GROUP], "id": gid}),
        "no members left"
    );

    let r = e
        .call(
            Method::PATCH,
            &format!("/scim/v2/Groups/{gid}?excludedAttributes=members"),
            Some(&t),
            Some(json!({"schemas": [PATCH], "Operations":
                [{"op": "replace", "value": {"id": gid, "displayName": "Starters"}}]})),
            &[],
        )
        .await;
    assert_eq!(
        r.body["displayName"], "Starters",
        "Okta echoes the id in a pathless replace"
    );
    let list = e
        .get("/scim/v2/Groups?filter=displayName+eq+%22starters%22", &t)
        .await;
    assert_eq!(list.body["totalResults"], 1);
    let del = e
        .call(
            Method::DELETE,
            &format!("/scim/v2/Groups/{gid}"),
            Some(&t),
            None,
            &[],
        )
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_source_sees_and_changes_only_its_own_objects() {
    let e = env().await;
    let hr = e.token("hr").await;
    let idp = e.token("idp").await;
    let mine = e.create_user(&hr, "x@example.com").await;
    assert_scim_error(
        &e.get(&format!("/scim/v2/Users/{mine}"), &idp).await,
        404,
        None,
    );
    assert_eq!(e.get("/scim/v2/Users", &idp).await.body["totalResults"], 0);
    let dup = e
        .post(
            "/scim/v2/Users",
            &idp,
            json!({"schemas": [USER], "userName": "X@example.com"}),
        )
        .await;
    assert_scim_error(&dup, 409, Some("uniqueness"));
    let g = e
        .post(
            "/scim/v2/Groups",
            &idp,
            json!({"schemas": [GROUP], "displayName": "G", "members": [{"value": mine}]}),
        )
        .await;
    assert_scim_error(&g, 400, Some("invalidValue"));
    let r = e
        .patch(
            &format!("/scim/v2/Users/{mine}"),
            &idp,
            json!([{"op": "replace", "path": "active", "value": false}]),
        )
        .await;
    assert_scim_error(&r, 404, None);
    // An administrator's local user cannot be adopted either.
    e.platform
        .create_user(
            &Caller::operator(),
            plugin::domain::directory::NewUser {
                user_principal_name: "admin@example.com".into(),
                account_enabled: true,
                roles: Roles::default(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let adopt = e
        .post(
            "/scim/v2/Users",
            &hr,
            json!({"schemas": [USER], "userName": "admin@example.com"}),
        )
        .await;
    assert_scim_error(&adopt, 409, Some("uniqueness"));
}

#[tokio::test]
async fn authentication() {
    let e = env().await;
    let none = e.call(Method::GET, "/scim/v2/Users", None, None, &[]).await;
    assert_scim_error(&none, 401, None);
    assert!(
        none.headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let admin = e
        .platform
        .create_token(
            &Caller::operator(),
            "admin",
            TokenGrant::Roles(Roles::all()),
        )
        .await
        .unwrap();
    let r = e.get("/scim/v2/Users", admin.token.expose()).await;
    assert_scim_error(&r, 401, None);
    let scim = e.token("hr").await;
    let graph = e
        .call(Method::GET, "/v1.0/users", Some(&scim), None, &[])
        .await;
    assert_eq!(
        graph.status,
        StatusCode::FORBIDDEN,
        "a SCIM token cannot use the admin API"
    );
}

#[tokio::test]
async fn etags_and_preconditions() {
    let e = env().await;
    let t = e.token("hr").await;
    let id = e.create_user(&t, "p@example.com").await;
    let uri = format!("/scim/v2/Users/{id}");
    let r = e
        .call(
            Method::GET,
            &uri,
            Some(&t),
            None,
            &[("if-none-match", "W/\"1\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    let body = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "P"}]});
    let r = e
        .call(
            Method::PATCH,
            &uri,
            Some(&t),
            Some(body.clone()),
            &[("if-match", "W/\"7\"")],
        )
        .await;
    assert_scim_error(&r, 412, None);
    let r = e
        .call(
            Method::PATCH,
            &uri,
            Some(&t),
            Some(body),
            &[("if-match", "W/\"1\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::ETAG], "W/\"2\"");
}

#[tokio::test]
async fn bad_requests_are_scim_errors_and_change_nothing() {
    let e = env().await;
    let t = e.token("hr").await;
    let id = e.create_user(&t, "b@example.com").await;
    let uri = format!("/scim/v2/Users/{id}");
    let before = e.get(&uri, &t).await.body;

    let bad_json = e
        .call(Method::POST, "/scim/v2/Users", Some(&t), None, &[])
        .await;
    assert_scim_error(&bad_json, 415, None);
    let req = Request::builder()
        .method(Method::POST)
        .uri("/scim/v2/Users")
        .header(header::AUTHORIZATION, format!("Bearer {t}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    let res = e.app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    assert_scim_error(
        &e.get("/scim/v2/Users?filter=userName+eq", &t).await,
        400,
        Some("invalidFilter"),
    );
    assert_scim_error(
        &e.get("/scim/v2/Users?filter=shoeSize+gt+4", &t).await,
        400,
        Some("invalidFilter"),
    );
    let r = e.patch(&uri, &t, json!([{"op": "replace", "path": "displayName", "value": "ok"}, {"op": "replace", "path": "nope[", "value": 1}])).await;
    assert_scim_error(&r, 400, Some("invalidPath"));
    let r = e.patch(&uri, &t, json!([{"op": "remove"}])).await;
    assert_scim_error(&r, 400, Some("noTarget"));
    let r = e
        .patch(
            &uri,
            &t,
            json!([{"op": "replace", "path": "groups", "value": []}]),
        )
        .await;
    assert_scim_error(&r, 400, Some("mutability"));
    let r = e
        .post("/scim/v2/Users", &t, json!({"schemas": [USER]}))
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    let r = e
        .post(
            "/scim/v2/Users",
            &t,
            json!({"schemas": [USER], "userName": "a b"}),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert_scim_error(&e.get("/scim/v2/Users/not-an-id", &t).await, 404, None);
    assert_scim_error(&e.get("/scim/v2/Nope", &t).await, 404, None);

    assert_eq!(
        e.get(&uri, &t).await.body,
        before,
        "failed requests changed the user"
    );
}

#[tokio::test]
async fn paging_sorting_projection_and_search() {
    let e = env().await;
    let t = e.token("hr").await;
    for name in ["c@x.io", "a@x.io", "b@x.io"] {
        e.create_user(&t, name).await;
    }
    let r = e.get("/scim/v2/Users?sortBy=userName&sortOrder=descending&startIndex=2&count=1&attributes=userName", &t).await;
    assert_eq!(
        (
            r.body["totalResults"].as_u64(),
            r.body["startIndex"].as_u64(),
            r.body["itemsPerPage"].as_u64()
        ),
        (Some(3), Some(2), Some(1))
    );
    let item = &r.body["Resources"][0];
    assert_eq!(item["userName"], "b@x.io");
    assert!(item.get("emails").is_none() && item.get("id").is_some());
    let r = e.get("/scim/v2/Users?count=0", &t).await;
    assert_eq!(
        (
            r.body["totalResults"].as_u64(),
            r.body["Resources"].as_array().map(Vec::len)
        ),
        (Some(3), Some(0))
    );
    let r = e
        .post("/scim/v2/Users/.search", &t, json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "emails[type eq \"work\" and value ew \"x.io\"] and not (userName eq \"a@x.io\")",
            "excludedAttributes": ["emails"]
        }))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["totalResults"], 2);
    assert!(r.body["Resources"][0].get("emails").is_none());

    e.post(
        "/scim/v2/Groups",
        &t,
        json!({"schemas": [GROUP], "displayName": "All"}),
    )
    .await;
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "attributes": ["id"]});
    let r = e.post("/scim/v2/.search", &t, search).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["totalResults"], 4, "users and groups at once");
    let only_groups = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "displayName eq \"All\" and members pr"});
    let r = e.post("/scim/v2/.search", &t, only_groups).await;
    assert_eq!(r.body["totalResults"], 0, "{}", r.body);
    let bad = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "shoeSize pr"});
    assert_scim_error(
        &e.post("/scim/v2/.search", &t, bad).await,
        400,
        Some("invalidFilter"),
    );
}

#[tokio::test]
async fn discovery_endpoints() {
    let e = env().await;
    let t = e.token("hr").await;
    let spc = e.get("/scim/v2/ServiceProviderConfig", &t).await;
    assert_eq!(spc.body["patch"]["supported"], true);
    assert_eq!(spc.body["filter"]["maxResults"], 100);
    assert_eq!(spc.body["etag"]["supported"], true);
    let types = e.get("/scim/v2/ResourceTypes", &t).await;
    assert_eq!(types.body["totalResults"], 2);
    let user = e.get("/scim/v2/ResourceTypes/User", &t).await;
    assert_eq!(user.body["endpoint"], "/Users");
    let schemas = e.get("/scim/v2/Schemas", &t).await;
    assert_eq!(schemas.body["totalResults"], 4);
    let one = e.get(&format!("/scim/v2/Schemas/{USER}"), &t).await;
    assert_eq!(one.body["id"], USER);
}

#[tokio::test]
async fn hire_date_and_personal_email_flow_into_the_user_record() {
    let e = env().await;
    let t = e.token("workday").await;
    let r = e
        .post("/scim/v2/Users", &t, json!({
            "schemas": [USER, "urn:ietf:params:scim:schemas:extension:tapbridge:2.0:User"],
            "userName": "new@example.com",
            "urn:ietf:params:scim:schemas:extension:tapbridge:2.0:User": {"hireDate": "2026-12-01", "personalEmail": "new@home.example"}
        }))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let user = e
        .platform
        .user(&Caller::operator(), &UserRef::Upn("new@example.com".into()))
        .await
        .unwrap();
    assert_eq!(user.personal_email.as_deref(), Some("new@home.example"));
    assert_eq!(
        user.employee_hire_date
            .map(|d| d.date().to_string())
            .as_deref(),
        Some("2026-12-01")
    );
}
