//! The admin API through `app(state)`, without a socket.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{AppState, HttpSettings, app};
use plugin::domain::audit::AuditQuery;
use plugin::domain::role::{Role, Roles};
use plugin::platform::Caller;
use plugin::platform::testing::{Fixture, fixture};

const TAPS: &str = "/authentication/temporaryAccessPassMethods";
const POLICY: &str = "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass";

struct Api {
    f: Fixture,
    state: AppState,
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

impl Api {
    async fn new() -> Api {
        let f = fixture().await;
        let state = AppState {
            platform: f.platform.clone(),
            settings: Arc::new(HttpSettings {
                body_limit: 4096,
                public_url: "http://localhost:8080".into(),
            }),
        };
        Api { f, state }
    }

    async fn token(&self, roles: &[Role]) -> String {
        let name = format!("t{}", uuid::Uuid::new_v4().simple());
        let created = self
            .f
            .platform
            .create_token(
                &Caller::operator(),
                &name,
                plugin::platform::TokenGrant::Roles(Roles::new(roles.iter().copied())),
            )
            .await
            .unwrap();
        created.token.expose().to_owned()
    }

    async fn admin(&self) -> String {
        self.token(&[
            Role::PrivilegedAuthenticationAdministrator,
            Role::AuthenticationPolicyAdministrator,
            Role::UserAdministrator,
        ])
        .await
    }

    async fn send(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_owned())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let res = app(self.state.clone()).oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, uri: &str, token: &str) -> Reply {
        self.send(Method::GET, uri, Some(token), None).await
    }

    async fn post(&self, uri: &str, token: &str, body: Value) -> Reply {
        self.send(Method::POST, uri, Some(token), Some(&body.to_string()))
            .await
    }

    async fn user(&self, token: &str, upn: &str) -> String {
        let r = self
            .post("/v1.0/users", token, json!({"userPrincipalName": upn}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }

    async fn audit_count(&self) -> usize {
        self.f
            .platform
            .audit_log(
                &Caller::operator(),
                &AuditQuery {
                    limit: 10_000,
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .len()
    }
}

fn assert_graph_error(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.body["error"]["code"], code, "{}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    let inner = &r.body["error"]["innerError"];
    assert_eq!(
        inner["request-id"].as_str(),
        r.headers.get("request-id").and_then(|v| v.to_str().ok())
    );
    assert!(inner["date"].as_str().is_some());
}

#[tokio::test]
async fn create_read_and_delete_a_pass_in_graph_shape() {
    let api = Api::new().await;
    let t = api.admin().await;
    let id = api.user(&t, "ada@example.com").await;

    let created = api
        .post(
            &format!("/v1.0/users/ada@example.com{TAPS}"),
            &t,
            json!({"lifetimeInMinutes": 120, "isUsableOnce": true}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.headers[header::CACHE_CONTROL], "no-store");
    let b = &created.body;
    assert_eq!(
        b["@odata.type"],
        "#microsoft.graph.temporaryAccessPassAuthenticationMethod"
    );
    let pass = b["temporaryAccessPass"].as_str().unwrap().to_owned();
    assert_eq!(pass.len(), 8);
    assert_eq!(
        (b["lifetimeInMinutes"].as_u64(), b["isUsableOnce"].as_bool()),
        (Some(120), Some(true))
    );
    assert_eq!(
        (b["isUsable"].as_bool(), b["methodUsabilityReason"].as_str()),
        (Some(true), Some("EnabledByPolicy"))
    );
    let tap_id = b["id"].as_str().unwrap().to_owned();

    // Afterwards the value is null everywhere, by id and by UPN.
    for uri in [
        format!("/v1.0/users/{id}{TAPS}"),
        "/v1.0/users/ada@example.com/authentication/methods".to_owned(),
    ] {
        let list = api.get(&uri, &t).await;
        assert_eq!(list.status, StatusCode::OK);
        assert_eq!(list.body["value"][0]["id"], tap_id.as_str());
        assert!(list.body["value"][0]["temporaryAccessPass"].is_null());
        assert!(!list.body.to_string().contains(&pass));
    }
    let one = api
        .get(&format!("/v1.0/users/{id}{TAPS}/{tap_id}"), &t)
        .await;
    assert_eq!(one.status, StatusCode::OK);
    assert!(one.body["temporaryAccessPass"].is_null());

    let del = api
        .send(
            Method::DELETE,
            &format!("/v1.0/users/{id}{TAPS}/{tap_id}"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    let gone = api
        .get(&format!("/v1.0/users/{id}{TAPS}/{tap_id}"), &t)
        .await;
    assert_graph_error(&gone, StatusCode::NOT_FOUND, "Request_ResourceNotFound");
}

#[tokio::test]
async fn errors_are_graph_envelopes_and_change_nothing() {
    let api = Api::new().await;
    let t = api.admin().await;
    api.user(&t, "ada@example.com").await;
    let uri = format!("/v1.0/users/ada@example.com{TAPS}");
    let reader = api.token(&[Role::Reader]).await;
    let before = api.audit_count().await;

    let bad_json = api
        .send(Method::POST, &uri, Some(&t), Some("{not json"))
        .await;
    assert_graph_error(&bad_json, StatusCode::BAD_REQUEST, "invalidRequest");

    let out_of_range = api.post(&uri, &t, json!({"lifetimeInMinutes": 481})).await;
    assert_graph_error(&out_of_range, StatusCode::BAD_REQUEST, "invalidRequest");
    let message = out_of_range.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("between 60 and 480"), "{message}");

    let unknown_field = api.post(&uri, &t, json!({"lifetime": 60})).await;
    assert_graph_error(&unknown_field, StatusCode::BAD_REQUEST, "invalidRequest");
    let wrong_type = api
        .post(&uri, &t, json!({"lifetimeInMinutes": "sixty"}))
        .await;
    assert_graph_error(&wrong_type, StatusCode::BAD_REQUEST, "invalidRequest");
    let past = api
        .post(&uri, &t, json!({"startDateTime": "2001-01-01T00:00:00Z"}))
        .await;
    assert_graph_error(&past, StatusCode::BAD_REQUEST, "invalidRequest");

    let no_user = api
        .post(
            &format!("/v1.0/users/nobody@example.com{TAPS}"),
            &t,
            json!({}),
        )
        .await;
    assert_graph_error(&no_user, StatusCode::NOT_FOUND, "Request_ResourceNotFound");

    let no_token = api.send(Method::GET, "/v1.0/users", None, None).await;
    assert_graph_error(
        &no_token,
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationToken",
    );
    assert!(
        no_token.headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let bad_token = api.get("/v1.0/users", "tapbridge_0000").await;
    assert_graph_error(
        &bad_token,
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationToken",
    );

    let forbidden = api.post(&uri, &reader, json!({})).await;
    assert_graph_error(
        &forbidden,
        StatusCode::FORBIDDEN,
        "Authorization_RequestDenied",
    );

    let huge = json!({"lifetimeInMinutes": 60, "padding": "x".repeat(10_000)}).to_string();
    let too_large = api.send(Method::POST, &uri, Some(&t), Some(&huge)).await;
    assert_graph_error(&too_large, StatusCode::PAYLOAD_TOO_LARGE, "requestTooLarge");

    let text = {
        let req = Request::builder()
            .method(Method::POST)
            .uri(&uri)
            .header(header::AUTHORIZATION, format!("Bearer {t}"))
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from("{}"))
            .unwrap();
        app(api.state.clone()).oneshot(req).await.unwrap().status()
    };
    assert_eq!(text, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let not_found = api.get("/v1.0/nothing/here", &t).await;
    assert_eq!(not_found.status, StatusCode::NOT_FOUND);
    let wrong_method = api.send(Method::PUT, "/v1.0/users", Some(&t), None).await;
    assert_graph_error(
        &wrong_method,
        StatusCode::METHOD_NOT_ALLOWED,
        "Request_UnsupportedQuery",
    );

    assert_eq!(
        api.audit_count().await,
        before,
        "a failed request wrote an audit record"
    );
    let list = api.get(&uri, &t).await;
    assert_eq!(
        list.body["value"].as_array().unwrap().len(),
        0,
        "a failed request created a pass"
    );
}

#[tokio::test]
async fn authentication_administrator_cannot_touch_admins() {
    let api = Api::new().await;
    let t = api.admin().await;
    api.user(&t, "plain@example.com").await;
    api.f
        .platform
        .create_user(
            &Caller::operator(),
            plugin::domain::directory::NewUser {
                user_principal_name: "boss@example.com".into(),
                account_enabled: true,
                roles: Roles::new([Role::Reader]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let auth_admin = api.token(&[Role::AuthenticationAdministrator]).await;
    let ok = api
        .post(
            &format!("/v1.0/users/plain@example.com{TAPS}"),
            &auth_admin,
            json!({}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED);
    let denied = api
        .post(
            &format!("/v1.0/users/boss@example.com{TAPS}"),
            &auth_admin,
            json!({}),
        )
        .await;
    assert_graph_error(
        &denied,
        StatusCode::FORBIDDEN,
        "Authorization_RequestDenied",
    );
}

#[tokio::test]
async fn policy_get_and_patch() {
    let api = Api::new().await;
    let t = api.admin().await;
    let got = api.get(POLICY, &t).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(
        got.body["@odata.type"],
        "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration"
    );
    assert_eq!(got.body["id"], "TemporaryAccessPass");
    assert_eq!(got.body["state"], "enabled");
    assert_eq!(got.body["minimumLifetimeInMinutes"], 60);
    assert_eq!(got.body["maximumLifetimeInMinutes"], 480);
    assert_eq!(got.body["defaultLifetimeInMinutes"], 60);
    assert_eq!(got.body["defaultLength"], 8);
    assert_eq!(got.body["isUsableOnce"], false);
    assert_eq!(got.body["includeTargets"][0]["id"], "all_users");

    let patch = json!({
        "@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration",
        "maximumLifetimeInMinutes": 1440, "defaultLength": 12, "isUsableOnce": true
    });
    let r = api
        .send(Method::PATCH, POLICY, Some(&t), Some(&patch.to_string()))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let got = api.get(POLICY, &t).await;
    assert_eq!(
        (
            got.body["maximumLifetimeInMinutes"].as_u64(),
            got.body["defaultLength"].as_u64()
        ),
        (Some(1440), Some(12))
    );

    api.user(&t, "ada@example.com").await;
    let pass = api
        .post(&format!("/v1.0/users/ada@example.com{TAPS}"), &t, json!({}))
        .await;
    assert_eq!(pass.body["temporaryAccessPass"].as_str().unwrap().len(), 12);
    assert_eq!(pass.body["isUsableOnce"], true);
    let refused = api
        .post(
            &format!("/v1.0/users/ada@example.com{TAPS}"),
            &t,
            json!({"isUsableOnce": false}),
        )
        .await;
    assert_graph_error(&refused, StatusCode::BAD_REQUEST, "invalidRequest");

    let inconsistent = json!({"minimumLifetimeInMinutes": 2000});
    let r = api
        .send(
            Method::PATCH,
            POLICY,
            Some(&t),
            Some(&inconsistent.to_string()),
        )
        .await;
    assert_graph_error(&r, StatusCode::BAD_REQUEST, "invalidRequest");
    assert_eq!(
        api.get(POLICY, &t).await.body["minimumLifetimeInMinutes"],
        60
    );

    let auth_admin = api.token(&[Role::AuthenticationAdministrator]).await;
    let r = api
        .send(
            Method::PATCH,
            POLICY,
            Some(&auth_admin),
            Some("{\"state\":\"disabled\"}"),
        )
        .await;
    assert_graph_error(&r, StatusCode::FORBIDDEN, "Authorization_RequestDenied");
}

#[tokio::test]
async fn users_filter_page_and_select() {
    let api = Api::new().await;
    let t = api.admin().await;
    for i in 0..5 {
        api.user(&t, &format!("user{i}@example.com")).await;
    }
    api.user(&t, "o'brien@example.com").await;

    let r = api
        .get(
            "/v1.0/users?$filter=userPrincipalName%20eq%20'USER3@example.com'",
            &t,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["value"][0]["userPrincipalName"], "user3@example.com");

    let r = api
        .get(
            "/v1.0/users?$filter=userPrincipalName%20eq%20'o''brien@example.com'",
            &t,
        )
        .await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);

    let r = api.get("/v1.0/users?$filter=startswith(userPrincipalName,'user')&$top=2&$select=id,userPrincipalName", &t).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 2);
    assert!(
        r.body["value"][0].get("displayName").is_none(),
        "$select drops other properties"
    );
    let mut seen = vec![];
    let mut page = r;
    loop {
        for u in page.body["value"].as_array().unwrap() {
            seen.push(u["userPrincipalName"].as_str().unwrap().to_owned());
        }
        let Some(next) = page.body["@odata.nextLink"].as_str() else {
            break;
        };
        let next = next
            .strip_prefix("http://localhost:8080")
            .unwrap()
            .to_owned();
        page = api.get(&next, &t).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    }
    assert_eq!(
        seen,
        (0..5)
            .map(|i| format!("user{i}@example.com"))
            .collect::<Vec<_>>()
    );

    let r = api.get("/v1.0/users?$filter=jobTitle%20eq%20'x'", &t).await;
    assert_graph_error(&r, StatusCode::BAD_REQUEST, "invalidRequest");
    let r = api.get("/v1.0/users?$orderby=displayName", &t).await;
    assert_graph_error(&r, StatusCode::BAD_REQUEST, "invalidRequest");
    let r = api.get("/v1.0/users?$top=0", &t).await;
    assert_graph_error(&r, StatusCode::BAD_REQUEST, "invalidRequest");
    let r = api.get("/v1.0/users/nobody@example.com", &t).await;
    assert_graph_error(&r, StatusCode::NOT_FOUND, "Request_ResourceNotFound");

    let dup = api
        .post(
            "/v1.0/users",
            &t,
            json!({"userPrincipalName": "USER1@example.com"}),
        )
        .await;
    assert_graph_error(&dup, StatusCode::CONFLICT, "nameAlreadyExists");
    let pw = api
        .post(
            "/v1.0/users",
            &t,
            json!({"userPrincipalName": "pw@example.com", "passwordProfile": {"password": "x"}}),
        )
        .await;
    assert_graph_error(&pw, StatusCode::BAD_REQUEST, "invalidRequest");
}

#[tokio::test]
async fn groups_members_and_targeting_through_the_api() {
    let api = Api::new().await;
    let t = api.admin().await;
    let ada = api.user(&t, "ada@example.com").await;
    api.user(&t, "bob@example.com").await;
    let g = api.post("/v1.0/groups", &t, json!({"displayName": "Joiners", "mailEnabled": false, "securityEnabled": true, "mailNickname": "joiners"})).await;
    assert_eq!(g.status, StatusCode::CREATED, "{}", g.body);
    let gid = g.body["id"].as_str().unwrap().to_owned();
    let add = api
        .post(
            &format!("/v1.0/groups/{gid}/members/$ref"),
            &t,
            json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{ada}")}),
        )
        .await;
    assert_eq!(add.status, StatusCode::NO_CONTENT, "{}", add.body);
    let again = api
        .post(
            &format!("/v1.0/groups/{gid}/members/$ref"),
            &t,
            json!({"@odata.id": format!("directoryObjects/{ada}")}),
        )
        .await;
    assert_graph_error(&again, StatusCode::CONFLICT, "nameAlreadyExists");
    let members = api.get(&format!("/v1.0/groups/{gid}/members"), &t).await;
    assert_eq!(members.body["value"][0]["id"], ada.as_str());

    let patch = json!({"includeTargets": [{"targetType": "group", "id": gid, "isRegistrationRequired": false}]});
    let r = api
        .send(Method::PATCH, POLICY, Some(&t), Some(&patch.to_string()))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let ok = api
        .post(&format!("/v1.0/users/ada@example.com{TAPS}"), &t, json!({}))
        .await;
    assert_eq!(ok.status, StatusCode::CREATED);
    let outside = api
        .post(&format!("/v1.0/users/bob@example.com{TAPS}"), &t, json!({}))
        .await;
    assert_graph_error(&outside, StatusCode::BAD_REQUEST, "invalidRequest");
    assert!(
        outside.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not include")
    );
}

#[tokio::test]
async fn audit_log_in_directory_audit_shape() {
    let api = Api::new().await;
    let t = api.admin().await;
    api.user(&t, "ada@example.com").await;
    let created = api
        .post(&format!("/v1.0/users/ada@example.com{TAPS}"), &t, json!({}))
        .await;
    let request_id = created.headers["request-id"].to_str().unwrap().to_owned();
    let r = api
        .get(
            "/v1.0/auditLogs/directoryAudits?$filter=activityDisplayName%20eq%20'Admin%20registered%20temporary%20access%20pass%20method%20for%20user'",
            &t,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let e = &r.body["value"][0];
    assert_eq!(
        e["activityDisplayName"],
        "Admin registered temporary access pass method for user"
    );
    assert_eq!(e["correlationId"], request_id.as_str());
    assert_eq!(e["result"], "success");
    assert_eq!(e["loggedByService"], "tapbridge");
    assert_eq!(
        e["targetResources"][0]["userPrincipalName"],
        "ada@example.com"
    );
    assert!(
        e["initiatedBy"]["app"]["displayName"]
            .as_str()
            .unwrap()
            .starts_with('t')
    );
    assert!(
        !r.body
            .to_string()
            .contains(created.body["temporaryAccessPass"].as_str().unwrap())
    );
}

#[tokio::test]
async fn health_ready_and_metrics() {
    let api = Api::new().await;
    let req = |uri: &str| Request::builder().uri(uri).body(Body::empty()).unwrap();
    let res = app(api.state.clone())
        .oneshot(req("/healthz"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = app(api.state.clone())
        .oneshot(req("/readyz"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let t = api.admin().await;
    api.user(&t, "ada@example.com").await;
    api.post(&format!("/v1.0/users/ada@example.com{TAPS}"), &t, json!({}))
        .await;
    let res = app(api.state.clone())
        .oneshot(req("/metrics"))
        .await
        .unwrap();
    let text =
        String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(text.contains("tapbridge_taps_issued_total 1"), "{text}");
    assert!(text.contains("tapbridge_users 1"));
    assert!(text.contains("tapbridge_taps_usable 1"));
    api.f.platform.store().close().await;
    let res = app(api.state.clone())
        .oneshot(req("/readyz"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
}
