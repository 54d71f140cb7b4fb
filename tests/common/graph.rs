//! A local Microsoft Entra for the black-box tests: the v2.0 token endpoint and the Graph
//! calls the connector makes, served over real HTTP on a loopback port from a thread of the
//! test process, answering as Microsoft documents them.
//!
//! - `POST /{tenant}/oauth2/v2.0/token`: client credentials with a client secret or a client
//!   assertion (RS256, verified against the registered certificate's key and thumbprint);
//!   `{"token_type","expires_in","ext_expires_in","access_token"}`, or the OAuth error JSON
//!   with `error_codes`, `trace_id`, `correlation_id` and an AADSTS description. The access
//!   token is a JWT whose `roles` claim lists the application permissions granted.
//! - `GET /v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass`
//! - `GET /v1.0/users?$filter=userPrincipalName eq '…'` (or `onPremisesImmutableId`), a user
//!   appearing only after a number of look-ups (directory sync lag).
//! - `POST|GET /v1.0/users/{id}/authentication/temporaryAccessPassMethods`,
//!   `GET|DELETE …/{id}`: one pass per user, a new one replacing the old, `lifetimeInMinutes`
//!   and `isUsableOnce` checked against the policy with Entra's `badRequest` answers.
//! - Errors in Graph's envelope `{"error":{"code","message","innerError":{"date","request-id",
//!   "client-request-id"}}}`; scripted faults (429 with `Retry-After`, 503, 500) per route.
//!
//! It keeps every pass it issued (value included — it is Entra here), so tests can tell which
//! mailed pass still works.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

pub const TENANT: &str = "4a1ec9e1-0000-4000-8000-00000000c0de";
pub const CLIENT_ID: &str = "6b7a0c1e-0000-4000-8000-0000000a99b1";
pub const SECRET: &str = "Xy8Q~local.entra.secret";
/// Every permission the connector needs.
pub const ALL_ROLES: &[&str] = &[
    "UserAuthenticationMethod.ReadWrite.All",
    "User.Read.All",
    "Policy.Read.All",
];

/// Which call a scripted fault answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Token,
    Policy,
    Users,
    CreatePass,
    ListPasses,
    GetPass,
    DeletePass,
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub route: Route,
    pub status: u16,
    pub retry_after: Option<String>,
    pub code: String,
    pub message: String,
}

impl Fault {
    /// Graph's throttling answer: 429 `TooManyRequests` with `Retry-After` seconds.
    pub fn throttled(route: Route, seconds: u32) -> Fault {
        Fault {
            route,
            status: 429,
            retry_after: Some(seconds.to_string()),
            code: "TooManyRequests".into(),
            message: "Please retry again later.".into(),
        }
    }

    pub fn unavailable(route: Route, seconds: u32) -> Fault {
        Fault {
            route,
            status: 503,
            retry_after: Some(seconds.to_string()),
            code: "serviceNotAvailable".into(),
            message: "The service is temporarily unavailable. Please retry later.".into(),
        }
    }

    pub fn server_error(route: Route) -> Fault {
        Fault {
            route,
            status: 500,
            retry_after: None,
            code: "generalException".into(),
            message: "An unexpected error occurred.".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct EntraUser {
    pub id: String,
    pub upn: String,
    pub immutable_id: Option<String>,
    /// Look-ups answered with no such user before it "arrives" (directory sync lag).
    pub hidden_for: u32,
    /// Outside the TAP policy's targets.
    pub excluded: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pass {
    pub id: String,
    pub value: String,
    pub created: String,
    pub start: Option<String>,
    pub lifetime: u32,
    pub once: bool,
}

/// What happened to passes, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Created {
        user: String,
        id: String,
    },
    /// Removed by a newer pass (Entra keeps one per user).
    Replaced {
        user: String,
        id: String,
    },
    Deleted {
        user: String,
        id: String,
    },
}

struct Tenant {
    roles: Vec<String>,
    policy: Value,
    users: Vec<EntraUser>,
    lookups: HashMap<String, u32>,
    passes: HashMap<String, Pass>,
    events: Vec<Event>,
    faults: VecDeque<Fault>,
    tokens: HashMap<String, bool>,
    /// `(public key DER, x5t)` of the registered certificate.
    certificate: Option<(Vec<u8>, String)>,
    token_requests: u32,
    graph_requests: u32,
    inflight: usize,
    peak_inflight: usize,
    latency: Duration,
    token_lifetime: u32,
}

#[derive(Clone)]
struct Shared {
    state: Arc<Mutex<Tenant>>,
    base: String,
}

pub struct LocalEntra {
    pub url: String,
    shared: Shared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn now_utc() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn graph_date() -> String {
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    now_utc().format(&f).unwrap_or_default()
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn random_hex(n: usize) -> String {
    let mut out = String::new();
    while out.len() < n {
        out.push_str(&format!("{:032x}", uuid::Uuid::new_v4().as_u128()));
    }
    out.truncate(n);
    out
}

/// Graph's error envelope.
fn graph_error(status: u16, code: &str, message: &str, retry_after: Option<&str>) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    let body = json!({"error": {"code": code, "message": message,
        "innerError": {"date": graph_date(), "request-id": id, "client-request-id": id}}});
    let mut res = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        Json(body),
    )
        .into_response();
    if let Some(r) = retry_after {
        res.headers_mut()
            .insert(header::RETRY_AFTER, r.parse().expect("header value"));
    }
    res
}

/// The token endpoint's OAuth error JSON.
fn oauth_error(status: u16, error: &str, aadsts: u32, text: &str) -> Response {
    let (trace, corr) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let stamp = graph_date().replace('T', " ") + "Z";
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{aadsts}: {text}\r\nTrace ID: {trace}\r\nCorrelation ID: {corr}\r\nTimestamp: {stamp}"),
        "error_codes": [aadsts],
        "timestamp": stamp,
        "trace_id": trace.to_string(),
        "correlation_id": corr.to_string(),
        "error_uri": format!("https://login.microsoftonline.com/error?code={aadsts}"),
    });
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        Json(body),
    )
        .into_response()
}

fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn form(body: &[u8]) -> HashMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (url_decode(k), url_decode(v)))
        .collect()
}

impl LocalEntra {
    pub fn start() -> LocalEntra {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let base = format!("http://{addr}");
        let shared = Shared {
            state: Arc::new(Mutex::new(Tenant {
                roles: ALL_ROLES.iter().map(|s| s.to_string()).collect(),
                policy: json!({
                    "state": "enabled",
                    "defaultLifetimeInMinutes": 60,
                    "defaultLength": 8,
                    "minimumLifetimeInMinutes": 60,
                    "maximumLifetimeInMinutes": 480,
                    "isUsableOnce": false,
                    "includeTargets": [{"targetType": "group", "id": "all_users", "isRegistrationRequired": false}],
                    "excludeTargets": [],
                }),
                users: vec![],
                lookups: HashMap::new(),
                passes: HashMap::new(),
                events: vec![],
                faults: VecDeque::new(),
                tokens: HashMap::new(),
                certificate: None,
                token_requests: 0,
                graph_requests: 0,
                inflight: 0,
                peak_inflight: 0,
                latency: Duration::ZERO,
                token_lifetime: 3599,
            })),
            base: base.clone(),
        };
        let app = router(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("serve");
            });
        });
        LocalEntra {
            url: base,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Tenant> {
        self.shared.state.lock().unwrap()
    }

    /// The `[entra]` section pointing tapbridge here, with the client secret.
    pub fn config(&self) -> String {
        format!(
            "[entra]\ntenant_id = \"{TENANT}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{SECRET}\"\nauthority_url = \"{u}\"\ngraph_url = \"{u}\"\nmy_security_info_url = \"https://mysignins.microsoft.com/security-info\"\n",
            u = self.url
        )
    }

    pub fn add_user(&self, upn: &str) -> String {
        self.add(EntraUser {
            id: uuid::Uuid::new_v4().to_string(),
            upn: upn.into(),
            immutable_id: None,
            hidden_for: 0,
            excluded: false,
        })
    }

    pub fn add(&self, user: EntraUser) -> String {
        let id = user.id.clone();
        self.state().users.push(user);
        id
    }

    pub fn user_id(&self, upn: &str) -> Option<String> {
        self.state()
            .users
            .iter()
            .find(|u| u.upn.eq_ignore_ascii_case(upn))
            .map(|u| u.id.clone())
    }

    pub fn set_roles(&self, roles: &[&str]) {
        self.state().roles = roles.iter().map(|s| s.to_string()).collect();
    }

    /// Changes properties of the TAP policy.
    pub fn patch_policy(&self, patch: Value) {
        let mut s = self.state();
        if let (Some(p), Some(obj)) = (s.policy.as_object_mut(), patch.as_object()) {
            for (k, v) in obj {
                p.insert(k.clone(), v.clone());
            }
        }
    }

    /// Registers the certificate whose key signs client assertions.
    pub fn register_certificate(&self, public_key_der: Vec<u8>, x5t: &str) {
        self.state().certificate = Some((public_key_der, x5t.to_owned()));
    }

    pub fn fault(&self, fault: Fault) {
        self.state().faults.push_back(fault);
    }

    /// Every token issued so far stops working (Graph answers 401).
    pub fn expire_tokens(&self) {
        for valid in self.state().tokens.values_mut() {
            *valid = false;
        }
    }

    pub fn set_latency(&self, latency: Duration) {
        self.state().latency = latency;
    }

    /// A pass made in Entra by someone else (an administrator in the portal).
    pub fn give_pass(&self, user_id: &str) -> Pass {
        let pass = Pass {
            id: uuid::Uuid::new_v4().to_string(),
            value: "AdminMade1".into(),
            created: rfc3339(now_utc() - time::Duration::days(1)),
            start: None,
            lifetime: 480,
            once: false,
        };
        let mut s = self.state();
        s.passes.insert(user_id.to_owned(), pass.clone());
        s.events.push(Event::Created {
            user: user_id.to_owned(),
            id: pass.id.clone(),
        });
        pass
    }

    /// How often the user was looked up.
    pub fn lookups(&self, user_id: &str) -> u32 {
        self.state().lookups.get(user_id).copied().unwrap_or(0)
    }

    /// The user's current pass in Entra.
    pub fn pass(&self, user_id: &str) -> Option<Pass> {
        self.state().passes.get(user_id).cloned()
    }

    pub fn passes(&self) -> HashMap<String, Pass> {
        self.state().passes.clone()
    }

    pub fn events(&self) -> Vec<Event> {
        self.state().events.clone()
    }

    pub fn token_requests(&self) -> u32 {
        self.state().token_requests
    }

    pub fn graph_requests(&self) -> u32 {
        self.state().graph_requests
    }

    pub fn peak_inflight(&self) -> usize {
        self.state().peak_inflight
    }
}

impl Drop for LocalEntra {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn router(shared: Shared) -> Router {
    let pass_path = "/v1.0/users/{user}/authentication/temporaryAccessPassMethods";
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route(
            "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass",
            get(policy),
        )
        .route("/v1.0/users", get(users))
        .route(pass_path, post(create_pass).get(list_passes))
        .route(
            &format!("{pass_path}/{{method}}"),
            get(get_pass).delete(delete_pass),
        )
        .with_state(shared)
}

fn take_fault(s: &mut Tenant, route: Route) -> Option<Fault> {
    let i = s.faults.iter().position(|f| f.route == route)?;
    s.faults.remove(i)
}

fn jwt(claims: Value) -> String {
    let header = json!({"typ": "JWT", "alg": "RS256", "kid": "local"});
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(random_hex(64))
    )
}

async fn token(State(sh): State<Shared>, Path(tenant): Path<String>, body: Bytes) -> Response {
    let f = form(&body);
    let mut s = sh.state.lock().unwrap();
    s.token_requests += 1;
    if let Some(fault) = take_fault(&mut s, Route::Token) {
        let code = if fault.status == 429 {
            "temporarily_unavailable"
        } else {
            "server_error"
        };
        let mut res = oauth_error(fault.status, code, 50196, &fault.message);
        if let Some(r) = &fault.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, r.parse().expect("header"));
        }
        return res;
    }
    if tenant != TENANT {
        return oauth_error(
            400,
            "invalid_request",
            90002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        );
    }
    if f.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(
            400,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        );
    }
    let client = f.get("client_id").cloned().unwrap_or_default();
    if client != CLIENT_ID {
        return oauth_error(
            400,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client}' was not found in the directory '{TENANT}'."
            ),
        );
    }
    if f.get("scope").map(String::as_str) != Some(&format!("{}/.default", sh.base)) {
        return oauth_error(
            400,
            "invalid_scope",
            1002012,
            "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
        );
    }
    match (f.get("client_secret"), f.get("client_assertion")) {
        (Some(secret), None) if secret == SECRET => {}
        (Some(_), None) => {
            return oauth_error(
                401,
                "invalid_client",
                7000215,
                &format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{CLIENT_ID}'."
                ),
            );
        }
        (None, Some(assertion)) => {
            let endpoint = format!("{}/{TENANT}/oauth2/v2.0/token", sh.base);
            if let Err((code, text)) = verify_assertion(&s, assertion, &endpoint, &f) {
                return oauth_error(401, "invalid_client", code, text);
            }
        }
        _ => {
            return oauth_error(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            );
        }
    }
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + u64::from(s.token_lifetime);
    let access = jwt(json!({
        "aud": sh.base, "iss": format!("https://sts.windows.net/{TENANT}/"), "tid": TENANT,
        "appid": CLIENT_ID, "idtyp": "app", "roles": s.roles, "exp": exp, "oid": random_hex(8),
    }));
    s.tokens.insert(access.clone(), true);
    Json(
        json!({"token_type": "Bearer", "expires_in": s.token_lifetime,
        "ext_expires_in": s.token_lifetime, "access_token": access}),
    )
    .into_response()
}

fn verify_assertion(
    s: &Tenant,
    assertion: &str,
    endpoint: &str,
    f: &HashMap<String, String>,
) -> Result<(), (u32, &'static str)> {
    if f.get("client_assertion_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    {
        return Err((700013, "Invalid client_assertion_type."));
    }
    let Some((key, x5t)) = &s.certificate else {
        return Err((
            700027,
            "The certificate with identifier used to sign the client assertion is not registered on application.",
        ));
    };
    let parts: Vec<&str> = assertion.split('.').collect();
    let decode = |p: &str| -> Option<Value> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()
    };
    let (Some(header), Some(claims), [h, c, sig]) = (
        parts.first().and_then(|p| decode(p)),
        parts.get(1).and_then(|p| decode(p)),
        parts.as_slice(),
    ) else {
        return Err((50027, "JWT token is invalid or malformed."));
    };
    if header["alg"] != "RS256" || header["x5t"].as_str() != Some(x5t) {
        return Err((
            700027,
            "The certificate with identifier used to sign the client assertion is not registered on application.",
        ));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| (50027, "JWT token is invalid or malformed."))?;
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, key)
        .verify(format!("{h}.{c}").as_bytes(), &signature)
        .map_err(|_| (7000274, "Client assertion failed signature validation."))?;
    let now = now_utc().unix_timestamp();
    if claims["aud"] != endpoint
        || claims["iss"] != CLIENT_ID
        || claims["sub"] != CLIENT_ID
        || claims["jti"].as_str().is_none_or(str::is_empty)
    {
        return Err((
            700021,
            "Client assertion audience claim does not match Realm issuer.",
        ));
    }
    if claims["exp"].as_i64().is_none_or(|e| e < now)
        || claims["nbf"].as_i64().is_some_and(|n| n > now + 300)
    {
        return Err((
            700024,
            "Client assertion is not within its valid time range.",
        ));
    }
    Ok(())
}

/// A Graph request: counted, checked for a valid token and the needed permission, delayed by
/// the configured latency, and answered by a scripted fault if one waits for this route.
struct Call {
    sh: Shared,
}

impl Drop for Call {
    fn drop(&mut self) {
        self.sh.state.lock().unwrap().inflight -= 1;
    }
}

async fn enter(
    sh: &Shared,
    headers: &HeaderMap,
    route: Route,
    any_of: &[&str],
) -> Result<Call, Response> {
    let latency = {
        let mut s = sh.state.lock().unwrap();
        s.graph_requests += 1;
        s.inflight += 1;
        s.peak_inflight = s.peak_inflight.max(s.inflight);
        s.latency
    };
    let call = Call { sh: sh.clone() };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut s = sh.state.lock().unwrap();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = bearer else {
        return Err(graph_error(
            401,
            "InvalidAuthenticationToken",
            "Access token is empty.",
            None,
        ));
    };
    if s.tokens.get(token) != Some(&true) {
        return Err(graph_error(
            401,
            "InvalidAuthenticationToken",
            "Access token has expired or is not yet valid.",
            None,
        ));
    }
    if let Some(f) = take_fault(&mut s, route) {
        return Err(graph_error(
            f.status,
            &f.code,
            &f.message,
            f.retry_after.as_deref(),
        ));
    }
    let claims: Value = token
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let granted: Vec<&str> = claims["roles"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !any_of.iter().any(|p| granted.contains(p)) {
        return Err(match route {
            Route::Users => graph_error(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
                None,
            ),
            _ => graph_error(403, "accessDenied", "Request Authorization failed", None),
        });
    }
    drop(s);
    Ok(call)
}

async fn policy(State(sh): State<Shared>, headers: HeaderMap) -> Response {
    let _call = match enter(
        &sh,
        &headers,
        Route::Policy,
        &[
            "Policy.Read.All",
            "Policy.Read.AuthenticationMethod",
            "Policy.ReadWrite.AuthenticationMethod",
        ],
    )
    .await
    {
        Ok(c) => c,
        Err(r) => return r,
    };
    let mut p = sh.state.lock().unwrap().policy.clone();
    p["@odata.context"] =
        "https://graph.microsoft.com/v1.0/$metadata#authenticationMethodConfigurations/$entity"
            .into();
    p["@odata.type"] =
        "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration".into();
    p["id"] = "TemporaryAccessPass".into();
    Json(p).into_response()
}

async fn users(
    State(sh): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let _call = match enter(
        &sh,
        &headers,
        Route::Users,
        &["User.Read.All", "User.ReadWrite.All", "Directory.Read.All"],
    )
    .await
    {
        Ok(c) => c,
        Err(r) => return r,
    };
    let filter = q.get("$filter").cloned().unwrap_or_default();
    let parsed = filter
        .split_once(" eq '")
        .and_then(|(prop, rest)| Some((prop.trim(), rest.strip_suffix('\'')?.replace("''", "'"))));
    let Some((prop, value)) = parsed else {
        return graph_error(
            400,
            "Request_UnsupportedQuery",
            &format!(
                "Unsupported or invalid query filter clause specified for property '{filter}' of resource 'User'."
            ),
            None,
        );
    };
    let mut s = sh.state.lock().unwrap();
    let found = s
        .users
        .iter()
        .find(|u| match prop {
            "userPrincipalName" => u.upn.eq_ignore_ascii_case(&value),
            "onPremisesImmutableId" => u.immutable_id.as_deref() == Some(value.as_str()),
            _ => false,
        })
        .cloned();
    let visible = match found {
        Some(u) => {
            let seen = s.lookups.entry(u.id.clone()).or_insert(0);
            *seen += 1;
            (*seen > u.hidden_for).then_some(u)
        }
        None => None,
    };
    let value: Vec<Value> = visible
        .iter()
        .map(|u| json!({"id": u.id, "userPrincipalName": u.upn, "accountEnabled": true}))
        .collect();
    Json(json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(id,userPrincipalName,accountEnabled)", "value": value})).into_response()
}

const WRITE: &[&str] = &[
    "UserAuthenticationMethod.ReadWrite.All",
    "UserAuthMethod-TAP.ReadWrite.All",
];
const READ: &[&str] = &[
    "UserAuthenticationMethod.ReadWrite.All",
    "UserAuthMethod-TAP.ReadWrite.All",
    "UserAuthenticationMethod.Read.All",
    "UserAuthMethod-TAP.Read.All",
];

fn method_json(p: &Pass, with_value: bool) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
        "id": p.id,
        "temporaryAccessPass": if with_value { Value::from(p.value.clone()) } else { Value::Null },
        "createdDateTime": p.created,
        "startDateTime": p.start.clone().unwrap_or_else(|| p.created.clone()),
        "lifetimeInMinutes": p.lifetime,
        "isUsableOnce": p.once,
        "isUsable": p.start.is_none(),
        "methodUsabilityReason": if p.start.is_none() { "EnabledByPolicy" } else { "NotYetValid" },
    })
}

fn no_user(id: &str) -> Response {
    graph_error(
        404,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ),
        None,
    )
}

async fn create_pass(
    State(sh): State<Shared>,
    headers: HeaderMap,
    Path(user): Path<String>,
    body: Bytes,
) -> Response {
    let _call = match enter(&sh, &headers, Route::CreatePass, WRITE).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return graph_error(
            400,
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
            None,
        );
    };
    let mut s = sh.state.lock().unwrap();
    let Some(u) = s.users.iter().find(|u| u.id == user).cloned() else {
        return no_user(&user);
    };
    let p = s.policy.clone();
    let num = |k: &str| p[k].as_u64().unwrap_or(0) as u32;
    let (min, max, default) = (
        num("minimumLifetimeInMinutes"),
        num("maximumLifetimeInMinutes"),
        num("defaultLifetimeInMinutes"),
    );
    if p["state"] != "enabled" || u.excluded {
        return graph_error(
            400,
            "badRequest",
            "User is not enabled for the TemporaryAccessPass authentication method by policy.",
            None,
        );
    }
    let lifetime = req["lifetimeInMinutes"]
        .as_u64()
        .map(|l| l as u32)
        .unwrap_or(default);
    if !(min..=max).contains(&lifetime) {
        return graph_error(
            400,
            "badRequest",
            &format!(
                "Invalid LifetimeInMinutes specified. The valid range between {min} and {max}."
            ),
            None,
        );
    }
    let policy_once = p["isUsableOnce"].as_bool().unwrap_or(false);
    let once = req["isUsableOnce"].as_bool().unwrap_or(policy_once);
    if policy_once && !once {
        return graph_error(
            400,
            "badRequest",
            "Invalid IsUsableOnce specified. The tenant policy requires one-time use Temporary Access Passes.",
            None,
        );
    }
    let length = num("defaultLength").max(8) as usize;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789+=!@#$%";
    let value: String = random_hex(length * 2)
        .as_bytes()
        .chunks(2)
        .map(|c| {
            let n = u8::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap();
            ALPHABET[n as usize % ALPHABET.len()] as char
        })
        .collect();
    let pass = Pass {
        id: uuid::Uuid::new_v4().to_string(),
        value,
        created: rfc3339(now_utc()),
        start: req["startDateTime"].as_str().map(str::to_owned),
        lifetime,
        once,
    };
    if let Some(old) = s.passes.insert(user.clone(), pass.clone()) {
        s.events.push(Event::Replaced {
            user: user.clone(),
            id: old.id,
        });
    }
    s.events.push(Event::Created {
        user: user.clone(),
        id: pass.id.clone(),
    });
    let mut body = method_json(&pass, true);
    body["@odata.context"] = format!("https://graph.microsoft.com/v1.0/$metadata#users('{user}')/authentication/temporaryAccessPassMethods/$entity").into();
    (StatusCode::CREATED, Json(body)).into_response()
}

async fn list_passes(
    State(sh): State<Shared>,
    headers: HeaderMap,
    Path(user): Path<String>,
) -> Response {
    let _call = match enter(&sh, &headers, Route::ListPasses, READ).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let s = sh.state.lock().unwrap();
    if !s.users.iter().any(|u| u.id == user) {
        return no_user(&user);
    }
    let value: Vec<Value> = s
        .passes
        .get(&user)
        .iter()
        .map(|p| method_json(p, false))
        .collect();
    Json(json!({"@odata.context": format!("https://graph.microsoft.com/v1.0/$metadata#users('{user}')/authentication/temporaryAccessPassMethods"), "value": value})).into_response()
}

async fn get_pass(
    State(sh): State<Shared>,
    headers: HeaderMap,
    Path((user, method)): Path<(String, String)>,
) -> Response {
    let _call = match enter(&sh, &headers, Route::GetPass, READ).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let s = sh.state.lock().unwrap();
    match s.passes.get(&user).filter(|p| p.id == method) {
        Some(p) => Json(method_json(p, false)).into_response(),
        None => graph_error(
            404,
            "itemNotFound",
            "The requested resource was not found.",
            None,
        ),
    }
}

async fn delete_pass(
    State(sh): State<Shared>,
    headers: HeaderMap,
    Path((user, method)): Path<(String, String)>,
) -> Response {
    let _call = match enter(&sh, &headers, Route::DeletePass, WRITE).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let mut s = sh.state.lock().unwrap();
    if s.passes.get(&user).is_some_and(|p| p.id == method) {
        s.passes.remove(&user);
        s.events.push(Event::Deleted { user, id: method });
        StatusCode::NO_CONTENT.into_response()
    } else {
        graph_error(
            404,
            "itemNotFound",
            "The requested resource was not found.",
            None,
        )
    }
}

/// The test application certificate in `tests/support/entra/`: the key file, the thumbprint
/// as the portal shows it, and what the local Entra needs to verify assertions (public key,
/// `x5t`).
pub struct TestCertificate {
    pub key_file: std::path::PathBuf,
    pub thumbprint: &'static str,
    pub public_key: Vec<u8>,
    pub x5t: &'static str,
}

pub fn test_certificate() -> TestCertificate {
    let key_file =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/entra/app_key.pem");
    let pem = std::fs::read_to_string(&key_file).expect("test key");
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("PEM body");
    let pair = ring::signature::RsaKeyPair::from_pkcs8(&der).expect("RSA key");
    use ring::signature::KeyPair;
    TestCertificate {
        key_file,
        thumbprint: "155E2C8556C956D0E0D59A965B6F304E78155B8F",
        public_key: pair.public_key().as_ref().to_vec(),
        x5t: "FV4shVbJVtDg1ZqWW28wTngVW48",
    }
}
