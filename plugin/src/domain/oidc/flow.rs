//! What an authorization needs next: a sign-in, the user's consent, or nothing more (a code
//! is issued). Decided afresh at every step from what the server knows, so no step can be
//! skipped by calling a later URL.

use time::{Duration, OffsetDateTime};

use super::authn::Authentication;
use super::eam::EamRequest;
use super::error::{OAuthError, OAuthErrorCode};
use super::request::AuthorizationRequest;
use super::scope::Scopes;

/// An authorization in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    /// Random; the pages of the flow carry it.
    pub id: String,
    pub request: AuthorizationRequest,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// The user consented in this flow.
    pub consented_at: Option<OffsetDateTime>,
}

/// The signed-in user, if any, as the flow sees them.
#[derive(Debug, Clone)]
pub struct SessionFacts<'a> {
    pub user_principal_name: &'a str,
    /// The passkey sign-in behind the session. `None`: a session without one (a pass opened
    /// it), which never completes an application sign-in.
    pub authentication: Option<&'a Authentication>,
}

#[derive(Debug, Clone)]
pub struct FlowFacts<'a> {
    pub request: &'a AuthorizationRequest,
    /// When the flow began: a sign-in since then satisfies `prompt=login`, `max_age`,
    /// `login_hint` and `acr_values`.
    pub started_at: OffsetDateTime,
    pub now: OffsetDateTime,
    pub session: Option<SessionFacts<'a>>,
    /// Scopes the user consented to for this application before.
    pub stored_consent: Option<&'a Scopes>,
    /// The user consented in this flow.
    pub consented_in_flow: bool,
    /// An administrator decided for every user.
    pub skip_consent: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    SignIn,
    Consent,
    Issue,
    Fail(OAuthError),
}

pub fn next_step(f: &FlowFacts<'_>) -> Next {
    let r = f.request;
    if let Some(eam) = &r.eam {
        return eam_step(f, eam);
    }
    let ask = |page: Next, code: OAuthErrorCode, why: &str| {
        if r.prompt.none {
            Next::Fail(OAuthError::new(code, why))
        } else {
            page
        }
    };
    let Some(auth) = f.session.as_ref().and_then(|s| s.authentication) else {
        return ask(
            Next::SignIn,
            OAuthErrorCode::LoginRequired,
            "the user is not signed in",
        );
    };
    let session = f
        .session
        .as_ref()
        .expect("authentication implies a session");
    // A sign-in made during this flow satisfies every freshness condition; one made before
    // must meet them.
    if auth.at < f.started_at {
        let stale = r
            .max_age
            .is_some_and(|m| f.now - auth.at > Duration::seconds(i64::from(m)));
        let other_user = r
            .login_hint
            .as_deref()
            .is_some_and(|h| !h.eq_ignore_ascii_case(session.user_principal_name));
        if r.prompt.login || stale || other_user || !auth.meets_any(&r.acr_values) {
            return ask(
                Next::SignIn,
                OAuthErrorCode::LoginRequired,
                "a new sign-in is required",
            );
        }
    }
    let consented = f.consented_in_flow
        || (!r.prompt.consent && f.stored_consent.is_some_and(|s| s.covers(&r.scopes)));
    if !f.skip_consent && !consented {
        return ask(
            Next::Consent,
            OAuthErrorCode::ConsentRequired,
            "the user has not consented",
        );
    }
    Next::Issue
}

/// Microsoft Entra's external authentication: a passkey sign-in made during this flow, by the
/// user Entra named, with user verification. An earlier session never counts (Entra asks for
/// a second factor now), a pass session never does, and there is no consent to give: the
/// tenant's administrator consented for the organisation.
fn eam_step(f: &FlowFacts<'_>, eam: &EamRequest) -> Next {
    let Some(subject) = &eam.subject else {
        return Next::Fail(OAuthError::new(
            OAuthErrorCode::ServerError,
            "the request's user is not known",
        ));
    };
    match f.session.as_ref().and_then(|s| s.authentication) {
        Some(auth) if auth.at >= f.started_at => {
            if auth.user_id != subject.user_id {
                Next::Fail(OAuthError::new(
                    OAuthErrorCode::AccessDenied,
                    "signed in as another user than Microsoft Entra asked for",
                ))
            } else if !auth.user_verified {
                Next::Fail(OAuthError::new(
                    OAuthErrorCode::AccessDenied,
                    "the passkey did not verify the user",
                ))
            } else {
                Next::Issue
            }
        }
        _ => Next::SignIn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::oidc::client::RedirectPlatform;
    use crate::domain::oidc::request::{Prompt, ResponseMode};
    use time::macros::datetime;
    use uuid::Uuid;

    const START: OffsetDateTime = datetime!(2026-12-01 09:00 UTC);

    fn request() -> AuthorizationRequest {
        AuthorizationRequest {
            client_id: Uuid::nil(),
            redirect_uri: "https://app/cb".into(),
            platform: RedirectPlatform::Web,
            response_mode: ResponseMode::Query,
            scopes: Scopes::parse("openid profile"),
            state: None,
            nonce: None,
            code_challenge: None,
            prompt: Prompt::default(),
            max_age: None,
            login_hint: None,
            acr_values: vec![],
            eam: None,
        }
    }

    fn auth(at: OffsetDateTime) -> Authentication {
        Authentication {
            user_id: Uuid::nil(),
            at,
            method_id: Uuid::nil(),
            backup_eligible: true,
            user_verified: true,
        }
    }

    fn step(
        r: &AuthorizationRequest,
        a: Option<&Authentication>,
        consent: Option<&Scopes>,
        in_flow: bool,
    ) -> Next {
        next_step(&FlowFacts {
            request: r,
            started_at: START,
            now: START + Duration::minutes(1),
            session: Some(SessionFacts {
                user_principal_name: "ada@example.com",
                authentication: a,
            }),
            stored_consent: consent,
            consented_in_flow: in_flow,
            skip_consent: false,
        })
    }

    fn code(n: Next) -> Option<OAuthErrorCode> {
        match n {
            Next::Fail(e) => Some(e.code),
            _ => None,
        }
    }

    #[test]
    fn sign_in_then_consent_then_code() {
        let r = request();
        let earlier = auth(START - Duration::hours(1));
        let all = Scopes::parse("openid profile email");
        assert_eq!(
            step(&r, None, None, false),
            Next::SignIn,
            "a pass session is no sign-in"
        );
        assert_eq!(step(&r, Some(&earlier), None, false), Next::Consent);
        assert_eq!(
            step(&r, Some(&earlier), Some(&Scopes::parse("openid")), false),
            Next::Consent
        );
        assert_eq!(step(&r, Some(&earlier), Some(&all), false), Next::Issue);
        assert_eq!(step(&r, Some(&earlier), None, true), Next::Issue);
    }

    #[test]
    fn freshness_conditions_ask_for_a_sign_in_once() {
        let all = Scopes::parse("openid profile");
        let earlier = auth(START - Duration::hours(1));
        let during = auth(START + Duration::seconds(30));
        let mut r = request();
        r.prompt.login = true;
        assert_eq!(step(&r, Some(&earlier), Some(&all), false), Next::SignIn);
        assert_eq!(step(&r, Some(&during), Some(&all), false), Next::Issue);
        let mut r = request();
        r.max_age = Some(0);
        assert_eq!(step(&r, Some(&earlier), Some(&all), false), Next::SignIn);
        assert_eq!(
            step(&r, Some(&during), Some(&all), false),
            Next::Issue,
            "max_age=0 does not loop"
        );
        r.max_age = Some(7200);
        assert_eq!(step(&r, Some(&earlier), Some(&all), false), Next::Issue);
        let mut r = request();
        r.login_hint = Some("grace@example.com".into());
        assert_eq!(step(&r, Some(&earlier), Some(&all), false), Next::SignIn);
        r.login_hint = Some("ADA@example.com".into());
        assert_eq!(step(&r, Some(&earlier), Some(&all), false), Next::Issue);
        let mut r = request();
        r.acr_values = vec!["phrh".into()];
        assert_eq!(step(&r, Some(&earlier), Some(&all), false), Next::SignIn);
        assert_eq!(
            step(&r, Some(&during), Some(&all), false),
            Next::Issue,
            "voluntary once asked"
        );
    }

    #[test]
    fn prompt_none_fails_instead_of_asking_and_prompt_consent_asks_again() {
        let all = Scopes::parse("openid profile");
        let earlier = auth(START - Duration::hours(1));
        let mut r = request();
        r.prompt.none = true;
        assert_eq!(
            code(step(&r, None, None, false)),
            Some(OAuthErrorCode::LoginRequired)
        );
        assert_eq!(
            code(step(&r, Some(&earlier), None, false)),
            Some(OAuthErrorCode::ConsentRequired)
        );
        assert_eq!(step(&r, Some(&earlier), Some(&all), false), Next::Issue);
        let mut r = request();
        r.prompt.consent = true;
        assert_eq!(step(&r, Some(&earlier), Some(&all), false), Next::Consent);
        assert_eq!(step(&r, Some(&earlier), Some(&all), true), Next::Issue);
        let no_session = next_step(&FlowFacts {
            request: &request(),
            started_at: START,
            now: START,
            session: None,
            stored_consent: None,
            consented_in_flow: false,
            skip_consent: true,
        });
        assert_eq!(no_session, Next::SignIn);
    }

    #[test]
    fn entra_needs_a_fresh_verified_passkey_of_its_user() {
        use crate::domain::oidc::eam::{EamRequest, EamSubject};
        let ada = Uuid::from_u128(1);
        let mut r = request();
        r.eam = Some(EamRequest {
            acr: "possessionorinherence".into(),
            subject: Some(EamSubject {
                sub: "s".into(),
                tenant_id: Uuid::from_u128(9),
                object_id: Uuid::from_u128(8),
                user_id: ada,
            }),
            client_request_id: None,
        });
        let signed = |at: OffsetDateTime, user: Uuid, verified: bool| Authentication {
            user_id: user,
            user_verified: verified,
            ..auth(at)
        };
        let during = START + Duration::seconds(30);
        assert_eq!(step(&r, None, None, false), Next::SignIn, "a pass session");
        assert_eq!(
            step(
                &r,
                Some(&signed(START - Duration::minutes(1), ada, true)),
                None,
                false
            ),
            Next::SignIn,
            "a sign-in from before the flow"
        );
        assert_eq!(
            step(&r, Some(&signed(during, ada, true)), None, false),
            Next::Issue,
            "no consent asked"
        );
        assert_eq!(
            code(step(
                &r,
                Some(&signed(during, Uuid::from_u128(2), true)),
                None,
                false
            )),
            Some(OAuthErrorCode::AccessDenied)
        );
        assert_eq!(
            code(step(&r, Some(&signed(during, ada, false)), None, false)),
            Some(OAuthErrorCode::AccessDenied)
        );
    }
}
