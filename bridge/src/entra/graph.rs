//! The few Microsoft Graph calls the connector makes: read the tenant's Temporary Access Pass
//! policy, find a user, and create, list and delete a user's Temporary Access Pass.
//!
//! Every call holds one of `concurrency` permits, carries the cached token (renewed once on a
//! 401), and maps a refusal through [`super::error::classify`]. A 429 or 503 pauses every
//! caller for the time Entra asked: a request that would have to wait longer than a moment
//! comes back throttled without being sent, so nothing goes out before Entra said it may.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use plugin::clock::Clock;
use plugin::domain::timefmt::{parse_rfc3339, rfc3339};
use plugin::secret::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::error::{EntraError, classify};
use super::policy::TenantPolicy;
use super::token::TokenSource;
use super::transport::{Body, Method, Request, Response, Transport};

/// A pause Entra asked for without saying how long.
const DEFAULT_PAUSE: Duration = Duration::from_secs(5);
/// A request waits out a pause up to this long; a longer one is answered as throttled at once
/// (the caller reschedules its work instead of holding a permit).
const MAX_INLINE_WAIT: Duration = Duration::from_secs(5);

pub const TAP_POLICY_PATH: &str =
    "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass";

/// How a tapbridge user is found in Entra.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserKey {
    UserPrincipalName(String),
    /// Base64 of the AD objectGUID, as Entra Connect and Cloud Sync set it.
    OnPremisesImmutableId(String),
}

impl UserKey {
    fn property(&self) -> (&'static str, &str) {
        match self {
            UserKey::UserPrincipalName(v) => ("userPrincipalName", v),
            UserKey::OnPremisesImmutableId(v) => ("onPremisesImmutableId", v),
        }
    }
}

impl std::fmt::Display for UserKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (p, v) = self.property();
        write!(f, "{p} `{v}`")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntraUser {
    pub id: String,
    #[serde(default)]
    pub user_principal_name: String,
    #[serde(default)]
    pub account_enabled: Option<bool>,
}

/// What tapbridge asks of a new pass; unset fields take the tenant policy's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassRequest {
    pub lifetime_in_minutes: Option<u32>,
    pub is_usable_once: Option<bool>,
    pub start_date_time: Option<OffsetDateTime>,
}

/// A `temporaryAccessPassAuthenticationMethod` as Graph returns it (the pass itself aside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassMethod {
    pub id: String,
    pub created: Option<OffsetDateTime>,
    pub start: Option<OffsetDateTime>,
    pub lifetime_in_minutes: Option<u32>,
    pub is_usable_once: Option<bool>,
    pub is_usable: Option<bool>,
    pub method_usability_reason: Option<String>,
}

impl PassMethod {
    pub fn valid_from(&self) -> Option<OffsetDateTime> {
        self.start.or(self.created)
    }

    pub fn valid_until(&self) -> Option<OffsetDateTime> {
        Some(self.valid_from()? + time::Duration::minutes(i64::from(self.lifetime_in_minutes?)))
    }
}

/// A pass Entra just created: the method and, this once, the pass. `Debug` hides the pass.
#[derive(Debug)]
pub struct CreatedPass {
    pub method: PassMethod,
    pub pass: SecretString,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MethodJson {
    id: String,
    #[serde(default)]
    temporary_access_pass: Option<SecretString>,
    #[serde(default)]
    created_date_time: Option<String>,
    #[serde(default)]
    start_date_time: Option<String>,
    #[serde(default)]
    lifetime_in_minutes: Option<u32>,
    #[serde(default)]
    is_usable_once: Option<bool>,
    #[serde(default)]
    is_usable: Option<bool>,
    #[serde(default)]
    method_usability_reason: Option<String>,
}

impl MethodJson {
    fn split(self) -> (PassMethod, Option<SecretString>) {
        let at = |v: Option<String>| v.as_deref().and_then(parse_rfc3339);
        (
            PassMethod {
                id: self.id,
                created: at(self.created_date_time),
                start: at(self.start_date_time),
                lifetime_in_minutes: self.lifetime_in_minutes,
                is_usable_once: self.is_usable_once,
                is_usable: self.is_usable,
                method_usability_reason: self.method_usability_reason,
            },
            self.temporary_access_pass,
        )
    }
}

#[derive(Deserialize)]
struct Collection<T> {
    value: Vec<T>,
}

pub struct Graph {
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    tokens: TokenSource,
    /// `{graph}/v1.0`.
    base: String,
    permits: Semaphore,
    paused_until: std::sync::Mutex<Option<Instant>>,
    sent: AtomicU64,
}

impl Graph {
    pub fn new(
        transport: Arc<dyn Transport>,
        clock: Arc<dyn Clock>,
        tokens: TokenSource,
        graph_url: &str,
        concurrency: usize,
    ) -> Graph {
        Graph {
            transport,
            clock,
            tokens,
            base: format!("{graph_url}/v1.0"),
            permits: Semaphore::new(concurrency.max(1)),
            paused_until: std::sync::Mutex::new(None),
            sent: AtomicU64::new(0),
        }
    }

    pub fn tokens(&self) -> &TokenSource {
        &self.tokens
    }

    /// Requests sent to Graph so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// The tenant's Temporary Access Pass policy.
    pub async fn tap_policy(&self) -> Result<TenantPolicy, EntraError> {
        let r = self.call(Method::Get, TAP_POLICY_PATH, None).await?;
        TenantPolicy::from_graph(&r.body).map_err(|e| {
            EntraError::Unavailable(format!("the policy Graph returned does not parse: {e}"))
        })
    }

    /// The Entra user `key` names; `None` while there is none (not synchronised yet).
    pub async fn find_user(&self, key: &UserKey) -> Result<Option<EntraUser>, EntraError> {
        let (property, value) = key.property();
        // OData string literals double their single quotes.
        let filter = format!("{property} eq '{}'", value.replace('\'', "''"));
        let path = format!(
            "/users?$filter={}&$select=id,userPrincipalName,accountEnabled",
            encode(&filter)
        );
        let r = self.call(Method::Get, &path, None).await?;
        let users: Collection<EntraUser> = parse(&r)?;
        Ok(users.value.into_iter().next())
    }

    /// Creates a pass for the user with object id `user_id`; Entra replaces any pass the user
    /// has.
    pub async fn create_pass(
        &self,
        user_id: &str,
        request: &PassRequest,
    ) -> Result<CreatedPass, EntraError> {
        let mut body = json!({});
        if let Some(l) = request.lifetime_in_minutes {
            body["lifetimeInMinutes"] = l.into();
        }
        if let Some(o) = request.is_usable_once {
            body["isUsableOnce"] = o.into();
        }
        if let Some(s) = request.start_date_time {
            body["startDateTime"] = rfc3339(s).into();
        }
        let path = format!(
            "/users/{}/authentication/temporaryAccessPassMethods",
            encode(user_id)
        );
        let r = self.call(Method::Post, &path, Some(body)).await?;
        let (method, pass) = parse::<MethodJson>(&r)?.split();
        let pass = pass.filter(|p| !p.expose().is_empty()).ok_or_else(|| {
            EntraError::Unavailable(format!(
                "Entra created pass {} but returned no temporaryAccessPass",
                method.id
            ))
        })?;
        Ok(CreatedPass { method, pass })
    }

    /// The user's pass (Entra keeps at most one), without its value.
    pub async fn list_passes(&self, user_id: &str) -> Result<Vec<PassMethod>, EntraError> {
        let path = format!(
            "/users/{}/authentication/temporaryAccessPassMethods",
            encode(user_id)
        );
        let r = self.call(Method::Get, &path, None).await?;
        let list: Collection<MethodJson> = parse(&r)?;
        Ok(list.value.into_iter().map(|m| m.split().0).collect())
    }

    /// One pass by id; `None` if it is gone.
    pub async fn get_pass(
        &self,
        user_id: &str,
        method_id: &str,
    ) -> Result<Option<PassMethod>, EntraError> {
        let path = format!(
            "/users/{}/authentication/temporaryAccessPassMethods/{}",
            encode(user_id),
            encode(method_id)
        );
        match self.call(Method::Get, &path, None).await {
            Ok(r) => Ok(Some(parse::<MethodJson>(&r)?.split().0)),
            Err(EntraError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Deletes a pass; `false` if it was gone already (or its user is).
    pub async fn delete_pass(&self, user_id: &str, method_id: &str) -> Result<bool, EntraError> {
        let path = format!(
            "/users/{}/authentication/temporaryAccessPassMethods/{}",
            encode(user_id),
            encode(method_id)
        );
        match self.call(Method::Delete, &path, None).await {
            Ok(_) => Ok(true),
            Err(EntraError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// One Graph request: a permit, the pause Entra asked for, the token (renewed once if
    /// refused), and a 2xx answer or the refusal's outcome.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Response, EntraError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| EntraError::Unavailable("the Graph client is closed".into()))?;
        self.wait_for_pause().await?;
        let mut renewed = false;
        loop {
            let token = self.tokens.get().await?;
            let request = Request {
                method,
                url: format!("{}{path}", self.base),
                bearer: Some(token.value.clone()),
                body: match &body {
                    Some(v) => Body::Json(v.clone()),
                    None => Body::Empty,
                },
            };
            self.sent.fetch_add(1, Ordering::Relaxed);
            let response = self.transport.send(request).await?;
            match response.status {
                200..=299 => return Ok(response),
                // The token expired early or was revoked: one new token, one more try.
                401 if !renewed => {
                    self.tokens.invalidate(&token).await;
                    renewed = true;
                }
                _ => {
                    let e = classify(&response, self.clock.now());
                    if let EntraError::Throttled { retry_after, .. } = &e {
                        self.pause(retry_after.unwrap_or(DEFAULT_PAUSE));
                    }
                    tracing::debug!(method = method.as_str(), path, error = %e, "Graph refused");
                    return Err(e);
                }
            }
        }
    }

    fn pause(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut paused = self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        if paused.is_none_or(|p| p < until) {
            *paused = Some(until);
        }
    }

    async fn wait_for_pause(&self) -> Result<(), EntraError> {
        let until = *self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        let Some(until) = until else { return Ok(()) };
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        if left > MAX_INLINE_WAIT {
            return Err(EntraError::Throttled {
                status: 429,
                retry_after: Some(left),
                code: "paused".into(),
                message: format!(
                    "Entra asked for a pause; {} s left",
                    left.as_secs_f64().ceil()
                ),
            });
        }
        tokio::time::sleep(left).await;
        Ok(())
    }
}

fn parse<T: for<'de> Deserialize<'de>>(r: &Response) -> Result<T, EntraError> {
    serde_json::from_slice(&r.body)
        .map_err(|e| EntraError::Unavailable(format!("Graph's answer does not parse: {e}")))
}

/// Percent-encodes everything but RFC 3986's unreserved characters: a user principal name may
/// hold `#` (`ada_example.com#EXT#@…`), `&` or `+`.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entra::credential::Credential;
    use crate::entra::token::tests::{NOW, Script, token_body};
    use plugin::clock::ManualClock;

    fn graph(script: Arc<Script>, concurrency: usize) -> Graph {
        let clock = Arc::new(ManualClock::new(NOW));
        let tokens = TokenSource::new(
            script.clone(),
            clock.clone(),
            "https://login.example",
            "t",
            "c",
            "https://graph.example",
            Credential::Secret(SecretString::new("s".into())),
        );
        Graph::new(script, clock, tokens, "https://graph.example", concurrency)
    }

    const CREATED: &str = r##"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users('u1')/authentication/temporaryAccessPassMethods/$entity","@odata.type":"#microsoft.graph.temporaryAccessPassAuthenticationMethod","id":"6f1967b7-15e8-4935-ac26-d50770ed07a7","temporaryAccessPass":"+drkzqAD","createdDateTime":"2022-06-02T16:21:09.765173Z","startDateTime":"2022-06-05T00:00:00Z","lifetimeInMinutes":60,"isUsableOnce":false,"isUsable":false,"methodUsabilityReason":"NotYetValid"}"##;

    #[tokio::test]
    async fn creating_a_pass_sends_the_terms_and_returns_the_pass_once() {
        let script = Arc::new(Script::default());
        script.answer(200, None, &token_body("tok", 3600));
        script.answer(201, None, CREATED);
        let g = graph(script.clone(), 2);
        let created = g
            .create_pass(
                "u1",
                &PassRequest {
                    lifetime_in_minutes: Some(60),
                    is_usable_once: Some(false),
                    start_date_time: Some(time::macros::datetime!(2022-06-05 00:00 UTC)),
                },
            )
            .await
            .unwrap();
        assert_eq!(created.pass.expose(), "+drkzqAD");
        assert_eq!(created.method.id, "6f1967b7-15e8-4935-ac26-d50770ed07a7");
        assert_eq!(
            created.method.valid_until(),
            Some(time::macros::datetime!(2022-06-05 01:00 UTC))
        );
        assert!(!format!("{created:?}").contains("drkzqAD"));
        let seen = script.seen();
        assert_eq!(seen[1].method, "POST");
        assert_eq!(
            seen[1].url,
            "https://graph.example/v1.0/users/u1/authentication/temporaryAccessPassMethods"
        );
        assert_eq!(seen[1].bearer.as_deref(), Some("tok"));
        assert_eq!(
            seen[1].json,
            Some(
                json!({"lifetimeInMinutes": 60, "isUsableOnce": false, "startDateTime": "2022-06-05T00:00:00.000Z"})
            )
        );
    }

    #[tokio::test]
    async fn a_created_method_without_a_pass_is_not_success() {
        let script = Arc::new(Script::default());
        script.answer(200, None, &token_body("tok", 3600));
        script.answer(201, None, r#"{"id":"m1","temporaryAccessPass":null}"#);
        let e = graph(script, 1)
            .create_pass("u1", &PassRequest::default())
            .await
            .unwrap_err();
        assert!(matches!(e, EntraError::Unavailable(m) if m.contains("m1")));
    }

    #[tokio::test]
    async fn users_are_found_by_an_encoded_filter() {
        let script = Arc::new(Script::default());
        script.answer(200, None, &token_body("tok", 3600));
        script.answer(200, None, r#"{"@odata.context":"x","value":[{"id":"u1","userPrincipalName":"o'neil_x.com#EXT#@t.onmicrosoft.com","accountEnabled":true}]}"#);
        script.answer(200, None, r#"{"value":[]}"#);
        let g = graph(script.clone(), 1);
        let u = g
            .find_user(&UserKey::UserPrincipalName(
                "o'neil_x.com#EXT#@t.onmicrosoft.com".into(),
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(u.id, "u1");
        assert_eq!(
            script.seen()[1].url,
            "https://graph.example/v1.0/users?$filter=userPrincipalName%20eq%20%27o%27%27neil_x.com%23EXT%23%40t.onmicrosoft.com%27&$select=id,userPrincipalName,accountEnabled"
        );
        assert_eq!(
            g.find_user(&UserKey::OnPremisesImmutableId("Cgs=".into()))
                .await
                .unwrap(),
            None
        );
        assert!(
            script.seen()[2]
                .url
                .contains("onPremisesImmutableId%20eq%20%27Cgs%3D%27")
        );
    }

    #[tokio::test]
    async fn a_401_renews_the_token_once() {
        let script = Arc::new(Script::default());
        let expired = r#"{"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired or is not yet valid.","innerError":{}}}"#;
        script.answer(200, None, &token_body("old", 3600));
        script.answer(401, None, expired);
        script.answer(200, None, &token_body("new", 3600));
        script.answer(200, None, r#"{"value":[]}"#);
        let g = graph(script.clone(), 1);
        assert_eq!(g.list_passes("u1").await.unwrap(), vec![]);
        let bearers: Vec<_> = script.seen().iter().map(|s| s.bearer.clone()).collect();
        assert_eq!(
            bearers,
            [None, Some("old".into()), None, Some("new".into())]
        );
        // A second 401 with the new token is a refusal, not a loop.
        script.answer(401, None, expired);
        script.answer(200, None, &token_body("newer", 3600));
        script.answer(401, None, expired);
        assert!(matches!(
            g.list_passes("u1").await,
            Err(EntraError::Refused { status: 401, code, .. }) if code == "InvalidAuthenticationToken"
        ));
        assert_eq!(g.tokens().requested(), 3);
    }

    #[tokio::test]
    async fn throttling_pauses_later_requests_without_sending_them() {
        let script = Arc::new(Script::default());
        script.answer(200, None, &token_body("tok", 3600));
        script.answer(429, Some("120"), r#"{"error":{"code":"TooManyRequests","message":"Please retry again later.","innerError":{}}}"#);
        let g = graph(script.clone(), 1);
        assert!(matches!(
            g.list_passes("u1").await,
            Err(EntraError::Throttled { retry_after: Some(d), .. }) if d == Duration::from_secs(120)
        ));
        let before = script.seen().len();
        assert!(matches!(
            g.get_pass("u1", "m1").await,
            Err(EntraError::Throttled { code, retry_after: Some(d), .. }) if code == "paused" && d > Duration::from_secs(100)
        ));
        assert_eq!(
            script.seen().len(),
            before,
            "nothing was sent during the pause"
        );
    }

    #[tokio::test]
    async fn a_short_pause_is_waited_out() {
        let script = Arc::new(Script::default());
        script.answer(200, None, &token_body("tok", 3600));
        script.answer(503, Some("1"), "Service Unavailable");
        script.answer(200, None, r#"{"value":[]}"#);
        let g = graph(script.clone(), 1);
        assert!(matches!(
            g.list_passes("u1").await,
            Err(EntraError::Throttled { status: 503, .. })
        ));
        let started = std::time::Instant::now();
        assert_eq!(g.list_passes("u1").await.unwrap(), vec![]);
        assert!(started.elapsed() >= Duration::from_millis(900));
    }

    #[tokio::test]
    async fn gone_passes_are_not_errors_and_a_missing_user_is_not_found() {
        let script = Arc::new(Script::default());
        let gone = r#"{"error":{"code":"itemNotFound","message":"The specified item was not found.","innerError":{}}}"#;
        script.answer(200, None, &token_body("tok", 3600));
        script.answer(404, None, gone);
        script.answer(404, None, gone);
        script.answer(204, None, "");
        script.answer(404, None, r#"{"error":{"code":"Request_ResourceNotFound","message":"Resource 'u9' does not exist or one of its queried reference-property objects are not present.","innerError":{}}}"#);
        let g = graph(script.clone(), 1);
        assert_eq!(g.get_pass("u1", "m1").await.unwrap(), None);
        assert!(!g.delete_pass("u1", "m1").await.unwrap());
        assert!(g.delete_pass("u1", "m1").await.unwrap());
        assert_eq!(script.seen()[3].method, "DELETE");
        assert!(matches!(
            g.list_passes("u9").await,
            Err(EntraError::NotFound { code, .. }) if code == "Request_ResourceNotFound"
        ));
    }

    #[tokio::test]
    async fn policy_refusals_and_unparsable_answers() {
        let script = Arc::new(Script::default());
        script.answer(200, None, &token_body("tok", 3600));
        script.answer(400, None, r#"{"error":{"code":"badRequest","message":"Invalid LifetimeInMinutes specified. The valid range between 60 and 480.","innerError":{"request-id":"r1"}}}"#);
        script.answer(200, None, "not json");
        script.answer(502, None, "Bad Gateway");
        let g = graph(script.clone(), 1);
        let request = PassRequest {
            lifetime_in_minutes: Some(600),
            ..Default::default()
        };
        assert!(matches!(
            g.create_pass("u1", &request).await,
            Err(EntraError::Refused { status: 400, code, message }) if code == "badRequest" && message.contains("between 60 and 480")
        ));
        assert!(matches!(
            g.list_passes("u1").await,
            Err(EntraError::Unavailable(_))
        ));
        assert!(
            matches!(g.list_passes("u1").await, Err(EntraError::Unavailable(m)) if m.starts_with("502"))
        );
    }

    #[tokio::test]
    async fn concurrency_is_bounded() {
        use std::sync::atomic::AtomicUsize;
        struct Slow {
            inflight: AtomicUsize,
            peak: AtomicUsize,
        }
        impl Transport for Slow {
            fn send(&self, r: Request) -> crate::entra::transport::Exchange<'_> {
                Box::pin(async move {
                    let now = self.inflight.fetch_add(1, Ordering::SeqCst) + 1;
                    self.peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    self.inflight.fetch_sub(1, Ordering::SeqCst);
                    let body = if r.url.contains("/token") {
                        token_body("t", 3600)
                    } else {
                        r#"{"value":[]}"#.into()
                    };
                    Ok(Response {
                        status: 200,
                        retry_after: None,
                        body: body.into_bytes(),
                    })
                })
            }
        }
        let slow = Arc::new(Slow {
            inflight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        });
        let clock = Arc::new(ManualClock::new(NOW));
        let tokens = TokenSource::new(
            slow.clone(),
            clock.clone(),
            "https://l",
            "t",
            "c",
            "https://g",
            Credential::Secret(SecretString::new("s".into())),
        );
        let g = Arc::new(Graph::new(slow.clone(), clock, tokens, "https://g", 3));
        let mut set = tokio::task::JoinSet::new();
        for i in 0..20 {
            let g = g.clone();
            set.spawn(async move { g.list_passes(&format!("u{i}")).await });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap().unwrap();
        }
        assert_eq!(slow.peak.load(Ordering::SeqCst), 3);
        assert_eq!(g.sent(), 20);
    }
}
