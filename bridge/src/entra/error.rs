//! What Entra's answers mean for the caller. Every error answer — Graph's envelope
//! `{"error":{"code","message","innerError":{…}}}`, the token endpoint's OAuth error JSON, or
//! a body that is neither — becomes one of four outcomes, decided here and nowhere else:
//!
//! | answer | outcome |
//! |---|---|
//! | 404 | [`EntraError::NotFound`] (the caller knows what was missing: a user not synced yet, a pass already gone) |
//! | 429, 503 | [`EntraError::Throttled`], with `Retry-After` |
//! | 408, other 5xx, no answer, an answer that does not parse | [`EntraError::Unavailable`]: try again later |
//! | 400, 401 (after one fresh token), 403, other 4xx | [`EntraError::Refused`]: it would be refused again; Entra's code and message are kept |

use std::time::Duration;

use serde::Deserialize;
use time::OffsetDateTime;

use super::transport::{Response, TransportError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntraError {
    /// What was asked for does not exist (404).
    #[error("{code}: {message}")]
    NotFound { code: String, message: String },
    /// Entra asks us to slow down (429, 503). `retry_after`: how long, if it said.
    #[error("throttled ({status} {code}): {message}")]
    Throttled {
        status: u16,
        retry_after: Option<Duration>,
        code: String,
        message: String,
    },
    /// Entra refused the request and would refuse it again: a policy (400), a missing
    /// permission (403), credentials it does not accept (401, `invalid_client`).
    #[error("refused ({status} {code}): {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    /// No usable answer (connection, timeout, 5xx): the same request may work later.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl EntraError {
    /// Entra's error code, where it gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            EntraError::NotFound { code, .. }
            | EntraError::Throttled { code, .. }
            | EntraError::Refused { code, .. } => Some(code),
            EntraError::Unavailable(_) => None,
        }
    }
}

impl From<TransportError> for EntraError {
    fn from(e: TransportError) -> Self {
        EntraError::Unavailable(e.0)
    }
}

#[derive(Deserialize)]
struct GraphEnvelope {
    error: GraphBody,
}

#[derive(Deserialize)]
struct GraphBody {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default, rename = "innerError")]
    inner_error: Option<serde_json::Value>,
}

/// The token endpoint's error answer (RFC 6749 §5.2 plus Entra's own fields).
#[derive(Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: String,
}

/// Entra's code and message from an error answer: Graph's envelope, the token endpoint's OAuth
/// error, or (neither) the status and the start of the body. The request id Graph puts in
/// `innerError` is kept with the message: it is what Microsoft support asks for.
pub fn code_and_message(response: &Response) -> (String, String) {
    if let Ok(e) = serde_json::from_slice::<GraphEnvelope>(&response.body) {
        let request_id = e
            .error
            .inner_error
            .as_ref()
            .and_then(|i| i.get("request-id"))
            .and_then(|v| v.as_str())
            .map(|id| format!(" (request-id {id})"))
            .unwrap_or_default();
        return (e.error.code, format!("{}{request_id}", e.error.message));
    }
    if let Ok(e) = serde_json::from_slice::<OAuthError>(&response.body) {
        // Entra's descriptions end in trace and correlation ids on further lines; the first
        // line says what is wrong ("AADSTS7000215: Invalid client secret provided. …").
        let first = e.error_description.lines().next().unwrap_or_default();
        return (e.error, first.trim().to_owned());
    }
    let text = String::from_utf8_lossy(&response.body);
    let snippet: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    (format!("http{}", response.status), snippet)
}

/// The outcome of an error answer (any status outside 2xx).
pub fn classify(response: &Response, now: OffsetDateTime) -> EntraError {
    let (code, message) = code_and_message(response);
    match response.status {
        404 => EntraError::NotFound { code, message },
        429 | 503 => EntraError::Throttled {
            status: response.status,
            retry_after: response
                .retry_after
                .as_deref()
                .and_then(|v| retry_after(v, now)),
            code,
            message,
        },
        408 | 500..=599 => {
            EntraError::Unavailable(format!("{} {code}: {message}", response.status))
        }
        status => EntraError::Refused {
            status,
            code,
            message,
        },
    }
}

/// `Retry-After` as delta-seconds or an HTTP-date (RFC 9110 §10.2.3). A date in the past is
/// zero; something else is ignored.
pub fn retry_after(value: &str, now: OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    Some(Duration::try_from(at - now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-27 09:00 UTC);

    fn answer(status: u16, retry: Option<&str>, body: &str) -> Response {
        Response {
            status,
            retry_after: retry.map(str::to_owned),
            body: body.as_bytes().to_vec(),
        }
    }

    /// Graph's documented envelope, as Entra sent it for a lifetime outside the policy.
    const LIFETIME: &str = r#"{"error":{"code":"badRequest","message":"Invalid LifetimeInMinutes specified. The valid range between 60 and 480.","innerError":{"message":"Invalid LifetimeInMinutes specified. The valid range between 60 and 480.","date":"2021-04-01T17:02:01","request-id":"07ddd94e-55c9-4c36-b6a8-80676ae0830e","client-request-id":"07ddd94e-55c9-4c36-b6a8-80676ae0830e"}}}"#;

    #[test]
    fn a_policy_refusal_keeps_entras_code_and_message() {
        let e = classify(&answer(400, None, LIFETIME), NOW);
        assert_eq!(
            e,
            EntraError::Refused {
                status: 400,
                code: "badRequest".into(),
                message: "Invalid LifetimeInMinutes specified. The valid range between 60 and 480. (request-id 07ddd94e-55c9-4c36-b6a8-80676ae0830e)".into(),
            }
        );
        assert_eq!(e.code(), Some("badRequest"));
    }

    #[test]
    fn a_missing_permission_is_refused() {
        let body = r#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation.","innerError":{"date":"2026-11-27T09:00:00","request-id":"r1","client-request-id":"r1"}}}"#;
        assert!(matches!(
            classify(&answer(403, None, body), NOW),
            EntraError::Refused { status: 403, code, .. } if code == "Authorization_RequestDenied"
        ));
    }

    #[test]
    fn not_found_is_its_own_outcome() {
        let body = r#"{"error":{"code":"Request_ResourceNotFound","message":"Resource 'x' does not exist or one of its queried reference-property objects are not present.","innerError":{}}}"#;
        assert!(matches!(
            classify(&answer(404, None, body), NOW),
            EntraError::NotFound { code, .. } if code == "Request_ResourceNotFound"
        ));
    }

    #[test]
    fn throttling_carries_retry_after_in_seconds_or_as_a_date() {
        let body = r#"{"error":{"code":"TooManyRequests","message":"Please retry again later.","innerError":{"code":"429","status":"429"}}}"#;
        assert_eq!(
            classify(&answer(429, Some("7"), body), NOW),
            EntraError::Throttled {
                status: 429,
                retry_after: Some(Duration::from_secs(7)),
                code: "TooManyRequests".into(),
                message: "Please retry again later.".into()
            }
        );
        let e = classify(
            &answer(
                503,
                Some("Fri, 27 Nov 2026 09:00:30 GMT"),
                "Service Unavailable",
            ),
            NOW,
        );
        assert!(matches!(
            e,
            EntraError::Throttled { status: 503, retry_after: Some(d), ref code, .. }
                if d == Duration::from_secs(30) && code == "http503"
        ));
        assert!(matches!(
            classify(&answer(429, None, body), NOW),
            EntraError::Throttled {
                retry_after: None,
                ..
            }
        ));
        assert_eq!(retry_after("soon", NOW), None);
        assert_eq!(
            retry_after("Fri, 27 Nov 2026 08:00:00 GMT", NOW),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn server_errors_and_timeouts_are_worth_retrying() {
        for status in [500, 502, 504, 408] {
            assert!(
                matches!(
                    classify(&answer(status, None, "{}"), NOW),
                    EntraError::Unavailable(_)
                ),
                "{status}"
            );
        }
        let e: EntraError = TransportError("cannot connect".into()).into();
        assert_eq!(e, EntraError::Unavailable("cannot connect".into()));
        assert_eq!(e.code(), None);
    }

    #[test]
    fn the_token_endpoints_oauth_errors_keep_the_first_line() {
        let body = r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.\r\nTrace ID: 0b5b\r\nCorrelation ID: 1c6c\r\nTimestamp: 2026-11-27 09:00:00Z","error_codes":[7000215],"timestamp":"2026-11-27 09:00:00Z","trace_id":"0b5b","correlation_id":"1c6c","error_uri":"https://login.microsoftonline.com/error?code=7000215"}"#;
        assert_eq!(
            classify(&answer(401, None, body), NOW),
            EntraError::Refused {
                status: 401,
                code: "invalid_client".into(),
                message: "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.".into()
            }
        );
    }

    #[test]
    fn a_body_that_is_no_error_json_is_summarised() {
        let e = classify(&answer(400, None, "<html>\n<b>Bad</b></html>"), NOW);
        assert_eq!(
            e,
            EntraError::Refused {
                status: 400,
                code: "http400".into(),
                message: "<html><b>Bad</b></html>".into()
            }
        );
        let long = "x".repeat(5000);
        let (_, m) = code_and_message(&answer(400, None, &long));
        assert_eq!(m.len(), 200);
    }
}
