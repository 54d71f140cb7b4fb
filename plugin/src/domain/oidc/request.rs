//! Authorization requests (OpenID Connect Core §3.1.2): parsing and checking, in the order
//! RFC 6749 §4.1.2.1 demands. While the client or the redirect URI is in doubt, errors are
//! shown to the user and never redirected (no open redirect); once both are known good, every
//! other error goes back to the client.

use uuid::Uuid;

use super::client::{Application, RedirectPlatform};
use super::eam::{ClaimsError, ENTRA_REDIRECT_URIS, EamRequest, requested_acr};
use super::error::{OAuthError, OAuthErrorCode};
use super::pkce;
use super::problem::Problem;
use super::scope::{Scope, Scopes};

/// How the response reaches the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    /// A redirect with the parameters in the query.
    Query,
    /// An auto-submitted HTML form POSTed to the redirect URI.
    FormPost,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Prompt {
    /// No page may be shown: fail instead of asking.
    pub none: bool,
    /// Sign in again even with a session.
    pub login: bool,
    /// Ask for consent even if given before.
    pub consent: bool,
}

/// A checked request, kept with its flow until a code is issued.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: Uuid,
    pub redirect_uri: String,
    pub platform: RedirectPlatform,
    pub response_mode: ResponseMode,
    pub scopes: Scopes,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// S256 challenge.
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    /// Seconds.
    pub max_age: Option<u32>,
    pub login_hint: Option<String>,
    pub acr_values: Vec<String>,
    /// Microsoft Entra's external authentication request (`response_type=id_token` from an
    /// EAM client): answered with an ID token instead of a code.
    #[serde(default)]
    pub eam: Option<EamRequest>,
}

/// Where an answer for the client goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub redirect_uri: String,
    pub response_mode: ResponseMode,
    pub state: Option<String>,
    /// Add RFC 9207's `iss` parameter: not for Entra, whose answer is `id_token` and `state`
    /// only.
    pub issuer_param: bool,
}

impl AuthorizationRequest {
    pub fn destination(&self) -> Destination {
        Destination {
            redirect_uri: self.redirect_uri.clone(),
            response_mode: self.response_mode,
            state: self.state.clone(),
            issuer_param: self.eam.is_none(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// The client or its redirect URI cannot be trusted: tell the user, send nothing anywhere.
    Fatal(Problem),
    /// Tell the client, at its (checked) redirect URI.
    Redirect(Destination, OAuthError),
}

/// The request's parameters as sent (query or form body), in order.
pub struct Params<'a>(pub &'a [(String, String)]);

impl<'a> Params<'a> {
    /// A parameter's value; `Err` if it was sent more than once (RFC 6749 §3.1). An empty
    /// value counts as absent.
    fn get(&self, name: &str) -> Result<Option<&'a str>, ()> {
        let mut found = self
            .0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        match (found.next(), found.next()) {
            (Some(_), Some(_)) => Err(()),
            (Some(v), None) if !v.is_empty() => Ok(Some(v)),
            _ => Ok(None),
        }
    }
}

/// Step one: the client id, so the caller can look the application up.
pub fn client_id(params: &Params<'_>) -> Result<Uuid, RequestError> {
    let raw = params
        .get("client_id")
        .map_err(|_| RequestError::Fatal(Problem::ClientRepeated))?
        .ok_or(RequestError::Fatal(Problem::ClientMissing))?;
    Uuid::try_parse(raw).map_err(|_| RequestError::Fatal(Problem::ClientUnknown))
}

const MAX_STATE: usize = 2048;
const MAX_NONCE: usize = 512;
const MAX_HINT: usize = 256;

/// Step two: everything else, for a known application (`None`: unknown client id).
pub fn check(
    params: &Params<'_>,
    app: Option<&Application>,
) -> Result<AuthorizationRequest, RequestError> {
    let fatal = RequestError::Fatal;
    let app = app.ok_or(fatal(Problem::ClientUnknown))?;
    let redirect_uri = params
        .get("redirect_uri")
        .map_err(|_| fatal(Problem::RedirectRepeated))?
        .ok_or(fatal(Problem::RedirectMissing))?;
    let platform = app
        .redirect_platform(redirect_uri)
        .ok_or(fatal(Problem::RedirectUnregistered))?;
    let eam = app.eam.is_some();
    // An EAM client's registration allows nothing else; checked again so that no stored
    // registration can make an EAM answer go anywhere but to Entra.
    if eam && !ENTRA_REDIRECT_URIS.contains(&redirect_uri) {
        return Err(fatal(Problem::RedirectUnregistered));
    }

    // From here on errors go back to the client. Its response mode and state first, so the
    // error reaches it the way it asked.
    let state_raw = params.get("state").ok().flatten();
    let mode_raw = params.get("response_mode");
    let response_mode = match mode_raw {
        Ok(Some("form_post")) => ResponseMode::FormPost,
        // Entra reads its answer only from a form POST, whatever a request says.
        _ if eam => ResponseMode::FormPost,
        _ => ResponseMode::Query,
    };
    let dest = Destination {
        redirect_uri: redirect_uri.to_owned(),
        response_mode,
        state: state_raw.map(str::to_owned),
        issuer_param: !eam,
    };
    let fail = |code: OAuthErrorCode, m: &str| {
        RequestError::Redirect(dest.clone(), OAuthError::new(code, m))
    };
    let invalid = |m: &str| fail(OAuthErrorCode::InvalidRequest, m);
    let one = |name: &str| {
        params
            .get(name)
            .map_err(|_| invalid(&format!("{name} is given more than once")))
    };

    match mode_raw {
        Ok(None | Some("query" | "form_post")) => {}
        Ok(Some(other)) => {
            return Err(invalid(&format!(
                "response_mode `{other}` is not supported; use query or form_post"
            )));
        }
        Err(()) => return Err(invalid("response_mode is given more than once")),
    }
    let state = one("state")?;
    if state.is_some_and(|s| s.len() > MAX_STATE) {
        return Err(invalid("state is too long"));
    }
    if one("request")?.is_some() {
        return Err(fail(
            OAuthErrorCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if one("request_uri")?.is_some() {
        return Err(fail(
            OAuthErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    match one("response_type")? {
        Some("code") if !eam => {}
        Some("id_token") if eam => {
            return check_eam(params, app, redirect_uri, platform, dest.clone(), state);
        }
        Some("code") => {
            return Err(fail(
                OAuthErrorCode::UnsupportedResponseType,
                "this application is Microsoft Entra's external authentication method: use response_type=id_token",
            ));
        }
        None => return Err(invalid("response_type is missing")),
        Some(other) => {
            return Err(fail(
                OAuthErrorCode::UnsupportedResponseType,
                &format!("response_type `{other}` is not supported; use code"),
            ));
        }
    }
    let scopes = Scopes::parse(one("scope")?.unwrap_or(""));
    if !scopes.contains(Scope::OpenId) {
        return Err(fail(
            OAuthErrorCode::InvalidScope,
            "scope must include openid",
        ));
    }

    let challenge = one("code_challenge")?;
    match (one("code_challenge_method")?, challenge) {
        (Some("S256"), Some(c)) if pkce::is_valid_challenge(c) => {}
        (Some("S256"), Some(_)) => return Err(invalid("code_challenge is not an S256 challenge")),
        (Some("S256"), None) => {
            return Err(invalid("code_challenge_method without code_challenge"));
        }
        (Some(m), _) => {
            return Err(invalid(&format!(
                "code_challenge_method `{m}` is not supported; use S256"
            )));
        }
        // RFC 7636 makes `plain` the default method; tapbridge does not accept plain.
        (None, Some(_)) => return Err(invalid("code_challenge_method must be S256")),
        (None, None) if platform.is_public() => {
            return Err(invalid(
                "a public client (spa or publicClient redirect URI) must use PKCE (code_challenge with S256)",
            ));
        }
        (None, None) => {}
    }
    if platform == RedirectPlatform::Web && !app.has_credentials() {
        return Err(fail(
            OAuthErrorCode::UnauthorizedClient,
            "the application has no secret or keys to redeem a code sent to a web redirect URI",
        ));
    }

    let mut prompt = Prompt::default();
    if let Some(p) = one("prompt")? {
        for word in p.split(' ').filter(|w| !w.is_empty()) {
            match word {
                "none" => prompt.none = true,
                "login" | "select_account" => prompt.login = true,
                "consent" => prompt.consent = true,
                other => return Err(invalid(&format!("prompt `{other}` is not supported"))),
            }
        }
        if prompt.none && (prompt.login || prompt.consent) {
            return Err(invalid("prompt=none cannot be combined with other values"));
        }
    }
    let max_age = match one("max_age")? {
        None => None,
        Some(v) => Some(
            v.parse::<u32>()
                .map_err(|_| invalid("max_age must be a whole number of seconds"))?,
        ),
    };
    let nonce = one("nonce")?;
    if nonce.is_some_and(|n| n.len() > MAX_NONCE) {
        return Err(invalid("nonce is too long"));
    }
    let login_hint = one("login_hint")?;
    if login_hint.is_some_and(|h| h.len() > MAX_HINT) {
        return Err(invalid("login_hint is too long"));
    }
    let acr_values = one("acr_values")?
        .map(|v| {
            v.split(' ')
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();

    Ok(AuthorizationRequest {
        client_id: app.app_id,
        redirect_uri: redirect_uri.to_owned(),
        platform,
        response_mode,
        scopes,
        state: state.map(str::to_owned),
        nonce: nonce.map(str::to_owned),
        code_challenge: challenge.map(str::to_owned),
        prompt,
        max_age,
        login_hint: login_hint.map(str::to_owned),
        acr_values,
        eam: None,
    })
}

/// The rest of an EAM request (OpenID Connect implicit flow, as Entra sends it): `scope`
/// with `openid`, a `nonce`, `response_mode` form_post, and `claims` a passkey can meet. The
/// `id_token_hint` is the platform's to verify; unknown parameters are ignored, as Entra asks.
fn check_eam(
    params: &Params<'_>,
    app: &Application,
    redirect_uri: &str,
    platform: RedirectPlatform,
    dest: Destination,
    state: Option<&str>,
) -> Result<AuthorizationRequest, RequestError> {
    let fail = |code: OAuthErrorCode, m: &str| {
        RequestError::Redirect(dest.clone(), OAuthError::new(code, m))
    };
    let invalid = |m: &str| fail(OAuthErrorCode::InvalidRequest, m);
    let one = |name: &str| {
        params
            .get(name)
            .map_err(|_| invalid(&format!("{name} is given more than once")))
    };
    if !matches!(one("response_mode")?, None | Some("form_post")) {
        return Err(invalid("response_mode must be form_post"));
    }
    let scopes = Scopes::parse(one("scope")?.unwrap_or(""));
    if !scopes.contains(Scope::OpenId) {
        return Err(fail(
            OAuthErrorCode::InvalidScope,
            "scope must include openid",
        ));
    }
    let nonce = one("nonce")?.ok_or_else(|| invalid("nonce is required"))?;
    if nonce.len() > MAX_NONCE {
        return Err(invalid("nonce is too long"));
    }
    let acr = requested_acr(one("claims")?).map_err(|e| match e {
        ClaimsError::Malformed => invalid("claims is not a valid claims request"),
        ClaimsError::AcrUnmet => fail(
            OAuthErrorCode::AccessDenied,
            "a passkey (possession) cannot meet the requested acr",
        ),
        ClaimsError::AmrUnmet => fail(
            OAuthErrorCode::AccessDenied,
            "the requested amr values do not include fido",
        ),
    })?;
    Ok(AuthorizationRequest {
        client_id: app.app_id,
        redirect_uri: redirect_uri.to_owned(),
        platform,
        response_mode: ResponseMode::FormPost,
        scopes: Scopes::parse("openid"),
        state: state.map(str::to_owned),
        nonce: Some(nonce.to_owned()),
        code_challenge: None,
        prompt: Prompt::default(),
        max_age: None,
        login_hint: None,
        acr_values: vec![],
        eam: Some(EamRequest {
            acr,
            subject: None,
            client_request_id: one("client-request-id")
                .ok()
                .flatten()
                .and_then(|id| Uuid::try_parse(id).ok()),
        }),
    })
}

/// An EAM request's `id_token_hint` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HintParam<'a> {
    Absent,
    One(&'a str),
    Repeated,
}

pub fn id_token_hint<'a>(params: &Params<'a>) -> HintParam<'a> {
    match params.get("id_token_hint") {
        Ok(Some(h)) => HintParam::One(h),
        Ok(None) => HintParam::Absent,
        Err(()) => HintParam::Repeated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::oidc::client::NewApplication;
    use crate::jose::JwkSet;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn app() -> Application {
        let mut app = Application::create(
            NewApplication {
                display_name: "App".into(),
                web_redirect_uris: vec!["https://app.example.com/cb".into()],
                spa_redirect_uris: vec!["https://spa.example.com/".into()],
                ..Default::default()
            },
            time::OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        app.jwks = Some(JwkSet::default());
        app.passwords
            .push(super::super::client::PasswordCredential {
                key_id: Uuid::nil(),
                display_name: None,
                hint: "abc".into(),
                start: time::OffsetDateTime::UNIX_EPOCH,
                end: time::OffsetDateTime::UNIX_EPOCH,
            });
        app
    }

    fn params(app: &Application, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = vec![
            ("client_id".into(), app.app_id.to_string()),
            ("redirect_uri".into(), "https://app.example.com/cb".into()),
            ("response_type".into(), "code".into()),
            ("scope".into(), "openid profile".into()),
            ("state".into(), "s1".into()),
        ];
        for (k, v) in extra {
            p.retain(|(name, _)| name != k);
            if !v.is_empty() {
                p.push(((*k).into(), (*v).into()));
            }
        }
        p
    }

    fn run(
        app: &Application,
        extra: &[(&str, &str)],
    ) -> Result<AuthorizationRequest, RequestError> {
        let p = params(app, extra);
        check(&Params(&p), Some(app))
    }

    fn redirected(r: Result<AuthorizationRequest, RequestError>) -> (Destination, OAuthErrorCode) {
        match r {
            Err(RequestError::Redirect(d, e)) => (d, e.code),
            other => panic!("expected a redirected error, got {other:?}"),
        }
    }

    #[test]
    fn a_good_request_is_kept_whole() {
        let a = app();
        let r = run(
            &a,
            &[
                ("nonce", "n"),
                ("prompt", "login consent"),
                ("max_age", "300"),
                ("login_hint", "ada@example.com"),
                ("acr_values", "phrh phr"),
                ("response_mode", "form_post"),
            ],
        )
        .unwrap();
        assert_eq!(r.platform, RedirectPlatform::Web);
        assert_eq!(r.scopes.to_string(), "openid profile");
        assert_eq!(r.response_mode, ResponseMode::FormPost);
        assert!(r.prompt.login && r.prompt.consent && !r.prompt.none);
        assert_eq!((r.max_age, r.nonce.as_deref()), (Some(300), Some("n")));
        assert_eq!(r.acr_values, ["phrh", "phr"]);
    }

    #[test]
    fn client_and_redirect_problems_are_never_redirected() {
        let a = app();
        for extra in [
            vec![("redirect_uri", "https://evil.example.com/cb")],
            vec![("redirect_uri", "https://app.example.com/cb/")],
            vec![("redirect_uri", "")],
        ] {
            assert!(
                matches!(run(&a, &extra), Err(RequestError::Fatal(_))),
                "{extra:?}"
            );
        }
        let mut dup = params(&a, &[]);
        dup.push(("redirect_uri".into(), "https://evil.example.com/cb".into()));
        assert!(matches!(
            check(&Params(&dup), Some(&a)),
            Err(RequestError::Fatal(_))
        ));
        assert!(matches!(
            check(&Params(&params(&a, &[])), None),
            Err(RequestError::Fatal(_))
        ));
        assert!(matches!(
            client_id(&Params(&params(&a, &[("client_id", "nope")]))),
            Err(RequestError::Fatal(_))
        ));
    }

    #[test]
    fn other_problems_go_back_to_the_client_with_its_state() {
        let a = app();
        let cases: Vec<(Vec<(&str, &str)>, OAuthErrorCode)> = vec![
            (
                vec![("response_type", "token")],
                OAuthErrorCode::UnsupportedResponseType,
            ),
            (vec![("response_type", "")], OAuthErrorCode::InvalidRequest),
            (vec![("scope", "profile")], OAuthErrorCode::InvalidScope),
            (
                vec![
                    ("code_challenge", CHALLENGE),
                    ("code_challenge_method", "plain"),
                ],
                OAuthErrorCode::InvalidRequest,
            ),
            (
                vec![("code_challenge", CHALLENGE)],
                OAuthErrorCode::InvalidRequest,
            ),
            (
                vec![
                    ("code_challenge", "short"),
                    ("code_challenge_method", "S256"),
                ],
                OAuthErrorCode::InvalidRequest,
            ),
            (
                vec![("prompt", "none login")],
                OAuthErrorCode::InvalidRequest,
            ),
            (vec![("prompt", "maybe")], OAuthErrorCode::InvalidRequest),
            (vec![("max_age", "-1")], OAuthErrorCode::InvalidRequest),
            (
                vec![("response_mode", "fragment")],
                OAuthErrorCode::InvalidRequest,
            ),
            (
                vec![("request", "eyJ...")],
                OAuthErrorCode::RequestNotSupported,
            ),
            (
                vec![("redirect_uri", "https://spa.example.com/")],
                OAuthErrorCode::InvalidRequest,
            ),
        ];
        for (extra, code) in cases {
            let (dest, got) = redirected(run(&a, &extra));
            assert_eq!(got, code, "{extra:?}");
            assert_eq!(dest.state.as_deref(), Some("s1"));
        }
        let mut dup = params(&a, &[]);
        dup.push(("scope".into(), "openid".into()));
        assert_eq!(
            redirected(check(&Params(&dup), Some(&a))).1,
            OAuthErrorCode::InvalidRequest
        );
    }

    #[test]
    fn public_clients_need_pkce_and_web_clients_need_credentials() {
        let mut a = app();
        let spa = run(
            &a,
            &[
                ("redirect_uri", "https://spa.example.com/"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ],
        )
        .unwrap();
        assert_eq!(spa.platform, RedirectPlatform::Spa);
        assert_eq!(spa.code_challenge.as_deref(), Some(CHALLENGE));
        a.passwords.clear();
        a.jwks = None;
        assert_eq!(
            redirected(run(&a, &[])).1,
            OAuthErrorCode::UnauthorizedClient
        );
    }

    fn eam_app() -> Application {
        Application::create(
            NewApplication {
                display_name: "Entra".into(),
                web_redirect_uris: vec![ENTRA_REDIRECT_URIS[0].into()],
                eam: Some(crate::domain::oidc::eam::EamClient {
                    tenant_ids: vec![Uuid::from_u128(1)],
                    entra_app_id: None,
                }),
                ..Default::default()
            },
            time::OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap()
    }

    fn eam_params(app: &Application, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = vec![
            ("scope".into(), "openid".into()),
            ("response_type".into(), "id_token".into()),
            ("response_mode".into(), "form_post".into()),
            ("client_id".into(), app.app_id.to_string()),
            ("redirect_uri".into(), ENTRA_REDIRECT_URIS[0].into()),
            ("nonce".into(), "n-1".into()),
            ("state".into(), "s-1".into()),
            ("claims".into(), r#"{"id_token":{"acr":{"essential":true,"values":["possessionorinherence"]},"amr":{"essential":true,"values":["fido","otp"]}}}"#.into()),
            ("client-request-id".into(), "8f3b9f4e-0c3a-4c1e-9a59-6c1b4c0e2d11".into()),
            ("id_token_hint".into(), "eyJ...".into()),
            ("something_new".into(), "ignored".into()),
        ];
        for (k, v) in extra {
            p.retain(|(name, _)| name != k);
            if !v.is_empty() {
                p.push(((*k).into(), (*v).into()));
            }
        }
        p
    }

    #[test]
    fn entras_request_is_an_implicit_request_answered_by_form_post() {
        let a = eam_app();
        assert_eq!(a.id_token_signing_alg, crate::jose::Alg::Rs256);
        let p = eam_params(&a, &[]);
        let r = check(&Params(&p), Some(&a)).unwrap();
        let eam = r.eam.as_ref().unwrap();
        assert_eq!(eam.acr, "possessionorinherence");
        assert_eq!(
            eam.client_request_id.map(|u| u.to_string()).as_deref(),
            Some("8f3b9f4e-0c3a-4c1e-9a59-6c1b4c0e2d11")
        );
        assert_eq!(r.response_mode, ResponseMode::FormPost);
        assert_eq!(r.nonce.as_deref(), Some("n-1"));
        assert!(
            !r.destination().issuer_param,
            "Entra gets id_token and state only"
        );
        assert_eq!(id_token_hint(&Params(&p)), HintParam::One("eyJ..."));
        // Without response_mode the answer is a form POST all the same.
        let p = eam_params(&a, &[("response_mode", "")]);
        assert_eq!(
            check(&Params(&p), Some(&a)).unwrap().response_mode,
            ResponseMode::FormPost
        );
        let cases: Vec<(Vec<(&str, &str)>, OAuthErrorCode)> = vec![
            (
                vec![("response_type", "code")],
                OAuthErrorCode::UnsupportedResponseType,
            ),
            (
                vec![("response_type", "id_token token")],
                OAuthErrorCode::UnsupportedResponseType,
            ),
            (vec![("nonce", "")], OAuthErrorCode::InvalidRequest),
            (vec![("scope", "profile")], OAuthErrorCode::InvalidScope),
            (
                vec![("response_mode", "query")],
                OAuthErrorCode::InvalidRequest,
            ),
            (
                vec![("claims", "{not json")],
                OAuthErrorCode::InvalidRequest,
            ),
            (
                vec![("claims", r#"{"id_token":{"acr":{"values":["knowledge"]}}}"#)],
                OAuthErrorCode::AccessDenied,
            ),
        ];
        for (extra, code) in cases {
            let p = eam_params(&a, &extra);
            let (dest, got) = redirected(check(&Params(&p), Some(&a)));
            assert_eq!(got, code, "{extra:?}");
            assert_eq!(dest.response_mode, ResponseMode::FormPost, "{extra:?}");
            assert_eq!(dest.state.as_deref(), Some("s-1"));
        }
        // Anywhere but Entra's endpoints: a page, nothing sent.
        for uri in [ENTRA_REDIRECT_URIS[1], "https://app.example.com/cb"] {
            let p = eam_params(&a, &[("redirect_uri", uri)]);
            assert!(matches!(
                check(&Params(&p), Some(&a)),
                Err(RequestError::Fatal(Problem::RedirectUnregistered))
            ));
        }
        // An ordinary application cannot ask for an ID token from this endpoint.
        let plain = app();
        let (_, got) = redirected(run(
            &plain,
            &[("response_type", "id_token"), ("nonce", "n")],
        ));
        assert_eq!(got, OAuthErrorCode::UnsupportedResponseType);
    }

    #[test]
    fn an_eam_client_answers_entra_only_and_signs_rs256() {
        let base = || NewApplication {
            display_name: "Entra".into(),
            web_redirect_uris: vec![ENTRA_REDIRECT_URIS[0].into()],
            eam: Some(crate::domain::oidc::eam::EamClient {
                tenant_ids: vec![Uuid::from_u128(1)],
                entra_app_id: None,
            }),
            ..Default::default()
        };
        let now = time::OffsetDateTime::UNIX_EPOCH;
        assert!(Application::create(base(), now).is_ok());
        let mut other = base();
        other
            .web_redirect_uris
            .push("https://app.example.com/cb".into());
        assert!(Application::create(other, now).is_err());
        let mut spa = base();
        spa.spa_redirect_uris = vec!["https://spa.example.com/".into()];
        assert!(Application::create(spa, now).is_err());
        let mut es = base();
        es.id_token_signing_alg = Some(crate::jose::Alg::Es256);
        assert!(Application::create(es, now).is_err());
        let mut no_tenant = base();
        no_tenant.eam.as_mut().unwrap().tenant_ids.clear();
        assert!(Application::create(no_tenant, now).is_err());
        // Marking an existing application checks it the same way.
        let plain = app();
        let patch = crate::domain::oidc::client::ApplicationPatch {
            eam: Some(base().eam),
            ..Default::default()
        };
        assert!(plain.patched(patch, now).is_err());
    }
}
