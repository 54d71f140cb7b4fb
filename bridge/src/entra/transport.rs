//! The HTTP exchange the Entra client needs, and nothing more: one request out, status,
//! `Retry-After` and body back. Production sends it through reqwest (rustls on ring); unit
//! tests script the answers in process, so the token cache and the error mapping are tested
//! without a socket. Neither type implements `Debug`: a request carries a client secret, an
//! assertion or a bearer token, and a response may carry a pass.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use plugin::secret::SecretString;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

pub enum Body {
    Empty,
    /// `application/x-www-form-urlencoded`; values may be secrets.
    Form(Vec<(&'static str, SecretString)>),
    Json(serde_json::Value),
}

pub struct Request {
    pub method: Method,
    pub url: String,
    pub bearer: Option<SecretString>,
    pub body: Body,
}

pub struct Response {
    pub status: u16,
    /// The `Retry-After` header as sent.
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

/// Why no response arrived (connection refused, timeout, TLS failure, body too large).
/// Carries no request content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError(pub String);

pub type Exchange<'a> = Pin<Box<dyn Future<Output = Result<Response, TransportError>> + Send + 'a>>;

pub trait Transport: Send + Sync + 'static {
    fn send(&self, request: Request) -> Exchange<'_>;
}

/// Answers larger than this are cut off as an error: Graph's answers to these calls are a
/// few kilobytes.
const MAX_BODY: usize = 4 * 1024 * 1024;

pub struct Reqwest {
    client: reqwest::Client,
}

impl Reqwest {
    /// A client with rustls (ring) and the web PKI roots, no redirects followed (nothing in
    /// these APIs redirects, and a bearer token must not follow one), `timeout` per exchange,
    /// and an optional HTTP(S) proxy for every request.
    pub fn new(timeout: Duration, proxy: Option<&str>) -> Result<Reqwest, String> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .https_only(false)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("tapbridge/", env!("CARGO_PKG_VERSION")));
        if let Some(p) = proxy {
            builder = builder.proxy(reqwest::Proxy::all(p).map_err(|e| format!("proxy: {e}"))?);
        }
        Ok(Reqwest {
            client: builder.build().map_err(|e| format!("HTTP client: {e}"))?,
        })
    }
}

impl Transport for Reqwest {
    fn send(&self, request: Request) -> Exchange<'_> {
        Box::pin(async move {
            let method = match request.method {
                Method::Get => reqwest::Method::GET,
                Method::Post => reqwest::Method::POST,
                Method::Delete => reqwest::Method::DELETE,
            };
            let mut builder = self
                .client
                .request(method, &request.url)
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(token) = &request.bearer {
                builder = builder.bearer_auth(token.expose());
            }
            builder = match &request.body {
                Body::Empty => builder,
                Body::Form(pairs) => {
                    let pairs: Vec<(&str, &str)> =
                        pairs.iter().map(|(k, v)| (*k, v.expose())).collect();
                    builder.form(&pairs)
                }
                Body::Json(v) => builder.json(v),
            };
            // reqwest's errors name the URL, which holds no secret here (ids and paths only).
            let mut res = builder
                .send()
                .await
                .map_err(|e| TransportError(describe(&e)))?;
            let status = res.status().as_u16();
            let retry_after = res
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let mut body = Vec::new();
            while let Some(chunk) = res
                .chunk()
                .await
                .map_err(|e| TransportError(describe(&e)))?
            {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(TransportError(format!(
                        "the answer is larger than {MAX_BODY} bytes"
                    )));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Response {
                status,
                retry_after,
                body,
            })
        })
    }
}

/// What went wrong and its causes, without reqwest's "for url (…)" suffix (the caller names
/// the operation instead).
fn describe(e: &reqwest::Error) -> String {
    let mut text = String::from(if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "the answer broke off"
    } else {
        "the request failed"
    });
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
