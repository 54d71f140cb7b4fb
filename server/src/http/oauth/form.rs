//! The body of a token, revocation or introspection request, and the client authentication
//! in it: a form whose parameters each appear at most once (RFC 6749 §3.2).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;

use super::error::TokenError;
use plugin::domain::oidc::OAuthError;
use plugin::platform::oidc_client_auth::ClientAuth;
use plugin::secret::SecretString;

pub struct OAuthForm {
    fields: HashMap<String, String>,
    /// The `Authorization` header, if any.
    authorization: Option<String>,
}

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = TokenError;

    async fn from_request(req: Request, state: &S) -> Result<Self, TokenError> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            )
            .into());
        }
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| OAuthError::invalid_request("the body could not be read"))?;
        let mut fields = HashMap::new();
        for (k, v) in form_urlencoded::parse(&bytes) {
            if fields.insert(k.to_string(), v.into_owned()).is_some() {
                return Err(
                    OAuthError::invalid_request(format!("{k} is given more than once")).into(),
                );
            }
        }
        Ok(OAuthForm {
            fields,
            authorization,
        })
    }
}

impl OAuthForm {
    /// A parameter; empty counts as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn require(&self, name: &str) -> Result<&str, TokenError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("{name} is missing")).into())
    }

    pub fn used_basic(&self) -> bool {
        self.authorization
            .as_deref()
            .is_some_and(|a| a.len() > 6 && a[..6].eq_ignore_ascii_case("basic "))
    }

    /// The one way the client authenticates. More than one is an error (RFC 6749 §2.3).
    pub fn client_auth(&self) -> Result<ClientAuth, TokenError> {
        let basic = self.used_basic();
        let fail = |m: &str| TokenError {
            error: OAuthError::invalid_request(m),
            basic,
        };
        let secret = self.get("client_secret");
        let assertion = self.get("client_assertion");
        let methods =
            usize::from(basic) + usize::from(secret.is_some()) + usize::from(assertion.is_some());
        if methods > 1 {
            return Err(fail("use one client authentication method"));
        }
        if basic {
            let encoded = self.authorization.as_deref().unwrap_or_default()[6..].trim();
            use base64::Engine;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| TokenError {
                    error: OAuthError::invalid_client(),
                    basic,
                })?;
            let (id, secret) = decoded.split_once(':').ok_or_else(|| TokenError {
                error: OAuthError::invalid_client(),
                basic,
            })?;
            let unescape = |s: &str| {
                form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            let client_id = unescape(id);
            if self.get("client_id").is_some_and(|c| c != client_id) {
                return Err(fail("client_id differs from the Authorization header"));
            }
            return Ok(ClientAuth::Basic {
                client_id,
                secret: SecretString::new(unescape(secret)),
            });
        }
        if let Some(assertion) = assertion {
            if self.get("client_assertion_type")
                != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            {
                return Err(fail(
                    "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ));
            }
            return Ok(ClientAuth::Jwt {
                client_id: self.get("client_id").map(str::to_owned),
                assertion: assertion.to_owned(),
            });
        }
        let client_id = self
            .get("client_id")
            .ok_or_else(|| TokenError {
                error: OAuthError::invalid_client(),
                basic,
            })?
            .to_owned();
        Ok(match secret {
            Some(s) => ClientAuth::Post {
                client_id,
                secret: SecretString::new(s.to_owned()),
            },
            None => ClientAuth::None { client_id },
        })
    }
}
