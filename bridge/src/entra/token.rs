//! Access tokens for Graph by the OAuth 2.0 client-credentials grant against
//! `{authority}/{tenant}/oauth2/v2.0/token`, kept until shortly before they expire.
//!
//! One token serves every request. Callers that find the cache empty or stale wait for the one
//! request in flight instead of each asking the token endpoint (which throttles too). A Graph
//! 401 drops the token it was refused with — only that one, so a burst of 401s on an old token
//! costs one new token, not one each.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use plugin::clock::Clock;
use plugin::secret::SecretString;
use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use super::credential::{ASSERTION_TYPE, Credential};
use super::error::{EntraError, classify};
use super::transport::{Body, Method, Request, Transport};

/// How long before its expiry a token is replaced: five minutes, or half its lifetime if that
/// is shorter, so a request never leaves with a token that expires on the way.
const REFRESH_MARGIN: Duration = Duration::minutes(5);

#[derive(Clone)]
pub struct AccessToken {
    pub value: SecretString,
    pub expires_at: OffsetDateTime,
    refresh_at: OffsetDateTime,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccessToken(<redacted>, expires {})", self.expires_at)
    }
}

pub struct TokenSource {
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    endpoint: String,
    client_id: String,
    scope: String,
    credential: Credential,
    cache: tokio::sync::Mutex<Option<AccessToken>>,
    requested: AtomicU64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: SecretString,
    #[serde(default)]
    token_type: String,
    expires_in: Seconds,
}

/// `expires_in`: a number, or (from older endpoints) a number in a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum Seconds {
    Number(i64),
    Text(String),
}

impl TokenSource {
    /// `authority` and `resource` without a trailing slash (`https://login.microsoftonline.com`,
    /// `https://graph.microsoft.com`); the scope asks for the application permissions granted
    /// on `resource`.
    pub fn new(
        transport: Arc<dyn Transport>,
        clock: Arc<dyn Clock>,
        authority: &str,
        tenant: &str,
        client_id: &str,
        resource: &str,
        credential: Credential,
    ) -> TokenSource {
        TokenSource {
            transport,
            clock,
            endpoint: format!("{authority}/{tenant}/oauth2/v2.0/token"),
            client_id: client_id.to_owned(),
            scope: format!("{resource}/.default"),
            credential,
            cache: tokio::sync::Mutex::new(None),
            requested: AtomicU64::new(0),
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Tokens requested from the token endpoint so far.
    pub fn requested(&self) -> u64 {
        self.requested.load(Ordering::Relaxed)
    }

    /// A token valid for a while yet: the cached one, or a new one.
    pub async fn get(&self) -> Result<AccessToken, EntraError> {
        let mut cache = self.cache.lock().await;
        if let Some(t) = cache.as_ref()
            && self.clock.now() < t.refresh_at
        {
            return Ok(t.clone());
        }
        *cache = None;
        let token = self.request().await?;
        *cache = Some(token.clone());
        Ok(token)
    }

    /// Forgets `refused` (Graph answered 401 to it) unless a newer token replaced it already.
    pub async fn invalidate(&self, refused: &AccessToken) {
        let mut cache = self.cache.lock().await;
        if cache.as_ref().is_some_and(|t| t.value == refused.value) {
            *cache = None;
        }
    }

    async fn request(&self) -> Result<AccessToken, EntraError> {
        let now = self.clock.now();
        let mut form = vec![
            ("grant_type", SecretString::new("client_credentials".into())),
            ("client_id", SecretString::new(self.client_id.clone())),
            ("scope", SecretString::new(self.scope.clone())),
        ];
        match &self.credential {
            Credential::Secret(s) => form.push(("client_secret", s.clone())),
            Credential::Certificate(c) => {
                let assertion = c
                    .assertion(&self.client_id, &self.endpoint, now)
                    .map_err(EntraError::Unavailable)?;
                form.push((
                    "client_assertion_type",
                    SecretString::new(ASSERTION_TYPE.into()),
                ));
                form.push(("client_assertion", assertion));
            }
        }
        self.requested.fetch_add(1, Ordering::Relaxed);
        let response = self
            .transport
            .send(Request {
                method: Method::Post,
                url: self.endpoint.clone(),
                bearer: None,
                body: Body::Form(form),
            })
            .await
            .map_err(|e| EntraError::Unavailable(format!("token endpoint: {}", e.0)))?;
        if !(200..300).contains(&response.status) {
            return Err(match classify(&response, now) {
                // A token endpoint that is not there is a wrong authority or tenant: asking
                // again will not find it.
                EntraError::NotFound { code, message } => EntraError::Refused {
                    status: 404,
                    code,
                    message,
                },
                other => other,
            });
        }
        let answer: TokenAnswer = serde_json::from_slice(&response.body).map_err(|_| {
            EntraError::Unavailable("the token endpoint's answer is not a token response".into())
        })?;
        if !answer.token_type.eq_ignore_ascii_case("bearer") {
            return Err(EntraError::Refused {
                status: response.status,
                code: "unsupported_token_type".into(),
                message: format!("expected a Bearer token, got `{}`", answer.token_type),
            });
        }
        let seconds = match answer.expires_in {
            Seconds::Number(n) => Some(n),
            Seconds::Text(t) => t.trim().parse().ok(),
        }
        .filter(|s| *s > 0)
        .ok_or_else(|| EntraError::Unavailable("the token has no usable expires_in".into()))?;
        let lifetime = Duration::seconds(seconds);
        let expires_at = now + lifetime;
        tracing::debug!(expires_in = seconds, "new Entra access token");
        Ok(AccessToken {
            value: answer.access_token,
            expires_at,
            refresh_at: expires_at - REFRESH_MARGIN.min(lifetime / 2),
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::entra::transport::{Exchange, Response, TransportError};
    use plugin::clock::ManualClock;
    use std::collections::VecDeque;
    use std::sync::Mutex;
    use time::macros::datetime;

    /// A scripted peer: answers in order, and remembers each request's method, URL, bearer
    /// token and form fields.
    #[derive(Default)]
    pub struct Script {
        pub answers: Mutex<VecDeque<Result<Response, TransportError>>>,
        pub seen: Mutex<Vec<Seen>>,
    }

    #[derive(Debug, Clone)]
    pub struct Seen {
        pub method: &'static str,
        pub url: String,
        pub bearer: Option<String>,
        pub form: Vec<(String, String)>,
        pub json: Option<serde_json::Value>,
    }

    impl Script {
        pub fn answer(&self, status: u16, retry_after: Option<&str>, body: &str) {
            self.answers.lock().unwrap().push_back(Ok(Response {
                status,
                retry_after: retry_after.map(str::to_owned),
                body: body.as_bytes().to_vec(),
            }));
        }

        pub fn fail(&self, why: &str) {
            self.answers
                .lock()
                .unwrap()
                .push_back(Err(TransportError(why.into())));
        }

        pub fn seen(&self) -> Vec<Seen> {
            self.seen.lock().unwrap().clone()
        }
    }

    impl Transport for Script {
        fn send(&self, request: Request) -> Exchange<'_> {
            let (form, json) = match &request.body {
                Body::Form(pairs) => (
                    pairs
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), v.expose().to_owned()))
                        .collect(),
                    None,
                ),
                Body::Json(v) => (vec![], Some(v.clone())),
                Body::Empty => (vec![], None),
            };
            self.seen.lock().unwrap().push(Seen {
                method: request.method.as_str(),
                url: request.url.clone(),
                bearer: request.bearer.as_ref().map(|b| b.expose().to_owned()),
                form,
                json,
            });
            let next = self
                .answers
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or_else(|| Err(TransportError("no scripted answer".into())));
            Box::pin(async move { next })
        }
    }

    pub fn token_body(value: &str, expires_in: i64) -> String {
        format!(
            r#"{{"token_type":"Bearer","expires_in":{expires_in},"ext_expires_in":{expires_in},"access_token":"{value}"}}"#
        )
    }

    pub const NOW: OffsetDateTime = datetime!(2026-11-27 09:00 UTC);

    fn source(script: Arc<Script>, clock: Arc<ManualClock>) -> TokenSource {
        TokenSource::new(
            script,
            clock,
            "https://login.example",
            "tenant-1",
            "client-1",
            "https://graph.example",
            Credential::Secret(SecretString::new("the-secret".into())),
        )
    }

    #[tokio::test]
    async fn the_request_is_client_credentials_for_the_resource() {
        let script = Arc::new(Script::default());
        script.answer(200, None, &token_body("t1", 3599));
        let tokens = source(script.clone(), Arc::new(ManualClock::new(NOW)));
        let t = tokens.get().await.unwrap();
        assert_eq!(t.value.expose(), "t1");
        assert_eq!(t.expires_at, NOW + Duration::seconds(3599));
        let seen = script.seen();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].method, "POST");
        assert_eq!(
            seen[0].url,
            "https://login.example/tenant-1/oauth2/v2.0/token"
        );
        let field = |k: &str| {
            seen[0]
                .form
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(field("grant_type").as_deref(), Some("client_credentials"));
        assert_eq!(field("client_id").as_deref(), Some("client-1"));
        assert_eq!(
            field("scope").as_deref(),
            Some("https://graph.example/.default")
        );
        assert_eq!(field("client_secret").as_deref(), Some("the-secret"));
        assert!(seen[0].bearer.is_none());
        assert!(!format!("{t:?}").contains("t1"), "Debug hides the token");
    }

    #[tokio::test]
    async fn a_token_is_cached_until_shortly_before_it_expires() {
        let script = Arc::new(Script::default());
        script.answer(200, None, &token_body("t1", 3600));
        script.answer(200, None, &token_body("t2", 3600));
        let clock = Arc::new(ManualClock::new(NOW));
        let tokens = source(script.clone(), clock.clone());
        assert_eq!(tokens.get().await.unwrap().value.expose(), "t1");
        clock.advance(Duration::minutes(54));
        assert_eq!(tokens.get().await.unwrap().value.expose(), "t1");
        assert_eq!(tokens.requested(), 1);
        // Five minutes before expiry it is replaced.
        clock.advance(Duration::minutes(1));
        assert_eq!(tokens.get().await.unwrap().value.expose(), "t2");
        assert_eq!(tokens.requested(), 2);
    }

    #[tokio::test]
    async fn a_short_lived_token_is_kept_for_half_its_life() {
        let script = Arc::new(Script::default());
        script.answer(
            200,
            None,
            r#"{"token_type":"bearer","expires_in":"120","access_token":"t1"}"#,
        );
        script.answer(200, None, &token_body("t2", 3600));
        let clock = Arc::new(ManualClock::new(NOW));
        let tokens = source(script.clone(), clock.clone());
        assert_eq!(tokens.get().await.unwrap().value.expose(), "t1");
        clock.advance(Duration::seconds(59));
        assert_eq!(tokens.get().await.unwrap().value.expose(), "t1");
        clock.advance(Duration::seconds(1));
        assert_eq!(tokens.get().await.unwrap().value.expose(), "t2");
    }

    #[tokio::test]
    async fn invalidating_drops_only_the_refused_token() {
        let script = Arc::new(Script::default());
        script.answer(200, None, &token_body("t1", 3600));
        script.answer(200, None, &token_body("t2", 3600));
        let tokens = source(script.clone(), Arc::new(ManualClock::new(NOW)));
        let old = tokens.get().await.unwrap();
        tokens.invalidate(&old).await;
        let new = tokens.get().await.unwrap();
        assert_eq!(new.value.expose(), "t2");
        // A second 401 on the old token (a request that was already on its way) keeps t2.
        tokens.invalidate(&old).await;
        assert_eq!(tokens.get().await.unwrap().value.expose(), "t2");
        assert_eq!(tokens.requested(), 2);
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_request() {
        let script = Arc::new(Script::default());
        script.answer(200, None, &token_body("t1", 3600));
        let tokens = Arc::new(source(script.clone(), Arc::new(ManualClock::new(NOW))));
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let t = tokens.clone();
            set.spawn(async move { t.get().await.map(|t| t.value.expose().to_owned()) });
        }
        while let Some(r) = set.join_next().await {
            assert_eq!(r.unwrap().unwrap(), "t1");
        }
        assert_eq!(script.seen().len(), 1);
    }

    #[tokio::test]
    async fn token_endpoint_errors_map_to_outcomes() {
        let script = Arc::new(Script::default());
        let tokens = source(script.clone(), Arc::new(ManualClock::new(NOW)));
        script.answer(401, None, r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x","error_codes":[7000215]}"#);
        assert!(matches!(
            tokens.get().await,
            Err(EntraError::Refused { status: 401, code, message }) if code == "invalid_client" && message == "AADSTS7000215: Invalid client secret provided."
        ));
        script.answer(400, None, r#"{"error":"invalid_request","error_description":"AADSTS90002: Tenant 'x' not found."}"#);
        assert!(matches!(
            tokens.get().await,
            Err(EntraError::Refused { status: 400, .. })
        ));
        script.answer(404, None, "Not Found");
        assert!(matches!(
            tokens.get().await,
            Err(EntraError::Refused { status: 404, .. })
        ));
        script.answer(
            429,
            Some("3"),
            r#"{"error":"temporarily_unavailable","error_description":"AADSTS50196"}"#,
        );
        assert!(matches!(
            tokens.get().await,
            Err(EntraError::Throttled { retry_after: Some(d), .. }) if d == std::time::Duration::from_secs(3)
        ));
        script.answer(500, None, "oops");
        assert!(matches!(
            tokens.get().await,
            Err(EntraError::Unavailable(_))
        ));
        script.fail("cannot connect");
        assert_eq!(
            tokens.get().await.unwrap_err(),
            EntraError::Unavailable("token endpoint: cannot connect".into())
        );
        script.answer(200, None, "<html>captive portal</html>");
        assert!(matches!(
            tokens.get().await,
            Err(EntraError::Unavailable(_))
        ));
        script.answer(
            200,
            None,
            r#"{"token_type":"pop","expires_in":3600,"access_token":"t"}"#,
        );
        assert!(
            matches!(tokens.get().await, Err(EntraError::Refused { code, .. }) if code == "unsupported_token_type")
        );
        script.answer(
            200,
            None,
            r#"{"token_type":"Bearer","expires_in":0,"access_token":"t"}"#,
        );
        assert!(matches!(
            tokens.get().await,
            Err(EntraError::Unavailable(_))
        ));
        // Nothing was cached from any of these.
        script.answer(200, None, &token_body("ok", 3600));
        assert_eq!(tokens.get().await.unwrap().value.expose(), "ok");
    }

    #[tokio::test]
    async fn a_certificate_sends_a_fresh_assertion_and_no_secret() {
        let script = Arc::new(Script::default());
        script.answer(200, None, &token_body("t1", 3600));
        let cert = crate::entra::credential::Certificate::from_pem(
            include_str!("../../../tests/support/entra/app_key.pem"),
            &"00".repeat(20),
        )
        .unwrap();
        let tokens = TokenSource::new(
            script.clone(),
            Arc::new(ManualClock::new(NOW)),
            "https://login.example",
            "tenant-1",
            "client-1",
            "https://graph.example",
            Credential::Certificate(Box::new(cert)),
        );
        tokens.get().await.unwrap();
        let form = &script.seen()[0].form;
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("client_assertion_type"), Some(ASSERTION_TYPE));
        assert_eq!(
            get("client_assertion").map(|a| a.split('.').count()),
            Some(3)
        );
        assert_eq!(get("client_secret"), None);
    }
}
