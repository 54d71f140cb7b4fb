//! Microsoft Entra's external authentication method (EAM): Entra sends a user who must
//! complete multi-factor authentication here with an OpenID Connect implicit request
//! (`response_type=id_token`, `response_mode=form_post`) carrying an `id_token_hint` it signed
//! (RS256, issued already expired); tapbridge has the user prove a passkey and answers with an
//! RS256 ID token naming the hint's `sub`, the requested `acr` and `amr: ["fido"]`.
//!
//! The rules here follow Microsoft's "external method provider reference": which redirect
//! URIs Entra uses, what the hint carries and how it is checked (issuer per tenant, audience,
//! age by `iat` — never by `exp`, which Entra sets in the past), and what the answer carries.

use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::{Error, Result};

/// The only places an EAM answer may go: Entra's fixed endpoints in its three clouds (global,
/// US Government, operated by 21Vianet).
pub const ENTRA_REDIRECT_URIS: [&str; 3] = [
    "https://login.microsoftonline.com/common/federation/externalauthprovider",
    "https://login.microsoftonline.us/common/federation/externalauthprovider",
    "https://login.partner.microsoftonline.cn/common/federation/externalauthprovider",
];

/// The `acr` values a passkey (`fido`, a possession factor) satisfies, most specific first:
/// the answer names the first of these the request asked for.
const ACR_MET_BY_FIDO: [&str; 4] = [
    "possessionorinherence",
    "possession",
    "knowledgeorpossession",
    "knowledgeorpossessionorinherence",
];

/// What Entra asks for when the request carries no `claims` parameter.
pub const DEFAULT_ACR: &str = "possessionorinherence";

/// The one method an answer names: FIDO2 was used.
pub const AMR_FIDO: &str = "fido";

/// Most tenants one EAM application serves.
pub const MAX_TENANTS: usize = 100;

/// An application's marking as Entra's EAM client: which tenants may send users, and the
/// Entra application (`appId` of the app registration) whose hints they send. Without
/// `entra_app_id` the hint's audience must be tapbridge's own client id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EamClient {
    pub tenant_ids: Vec<Uuid>,
    pub entra_app_id: Option<Uuid>,
}

impl EamClient {
    pub fn check(&self) -> Result<()> {
        if self.tenant_ids.is_empty() || self.tenant_ids.len() > MAX_TENANTS {
            return Err(Error::invalid(format!(
                "entraExternalAuthentication@tapbridge.tenantIds holds 1 to {MAX_TENANTS} tenant ids"
            )));
        }
        Ok(())
    }

    /// The audience the hints must carry.
    pub fn audience(&self, client_id: Uuid) -> Uuid {
        self.entra_app_id.unwrap_or(client_id)
    }
}

/// Checks an EAM application's redirect URIs: at least one, all of them Entra's.
pub fn check_redirect_uris(web: &[String], others: usize) -> Result<()> {
    if web.is_empty() || others > 0 {
        return Err(Error::invalid(format!(
            "an Entra external authentication client has web.redirectUris only, each one of {}",
            ENTRA_REDIRECT_URIS.join(", ")
        )));
    }
    if let Some(bad) = web
        .iter()
        .find(|u| !ENTRA_REDIRECT_URIS.contains(&u.as_str()))
    {
        return Err(Error::invalid(format!(
            "web.redirectUris: `{bad}` is not one of Microsoft Entra's external authentication endpoints ({})",
            ENTRA_REDIRECT_URIS.join(", ")
        )));
    }
    Ok(())
}

/// How a hint is checked and its user found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EamSettings {
    /// The issuer of a tenant's tokens, `{tenantid}` standing for the tenant id.
    pub issuer_template: String,
    /// A hint older than this (by `iat`) is refused.
    pub max_hint_age: Duration,
    /// Tolerated clock difference for an `iat` in the future.
    pub clock_skew: Duration,
    /// The hint claim that names the user on first use (`preferred_username`, or an optional
    /// claim such as `upn` or `email`).
    pub link_claim: String,
    /// The tapbridge attribute it is compared with.
    pub link_attribute: LinkAttribute,
}

impl Default for EamSettings {
    fn default() -> Self {
        EamSettings {
            issuer_template: "https://login.microsoftonline.com/{tenantid}/v2.0".into(),
            max_hint_age: Duration::minutes(5),
            clock_skew: Duration::minutes(1),
            link_claim: "preferred_username".into(),
            link_attribute: LinkAttribute::UserPrincipalName,
        }
    }
}

/// Which attribute of a tapbridge user an Entra user is first matched by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkAttribute {
    UserPrincipalName,
    Mail,
}

impl LinkAttribute {
    pub fn parse(s: &str) -> Option<LinkAttribute> {
        match s {
            "userPrincipalName" => Some(LinkAttribute::UserPrincipalName),
            "mail" => Some(LinkAttribute::Mail),
            _ => None,
        }
    }
}

/// What Entra's request asks of the answer (its `claims` parameter), kept with the flow, and
/// whom it is about once the hint checked out.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EamRequest {
    /// The `acr` the answer will carry.
    pub acr: String,
    pub subject: Option<EamSubject>,
    /// Entra's `client-request-id`, for the audit log (a GUID; anything else is dropped).
    #[serde(default)]
    pub client_request_id: Option<Uuid>,
}

/// The user Entra sent, from a verified hint.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EamSubject {
    /// The hint's `sub` (pairwise per Entra application): the answer's `sub`.
    pub sub: String,
    pub tenant_id: Uuid,
    pub object_id: Uuid,
    /// The tapbridge user it maps to.
    pub user_id: Uuid,
}

/// Why a request's `claims` cannot be met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimsError {
    Malformed,
    /// Asks for an `acr` a passkey does not satisfy (a knowledge or inherence factor alone).
    AcrUnmet,
    /// Lists `amr` values without `fido`.
    AmrUnmet,
}

/// Reads the `claims` parameter (OpenID Connect Core §5.5) for the answer's `acr`: the first
/// requested value a passkey meets. Without `claims` (or without `acr` in it), the default.
pub fn requested_acr(claims: Option<&str>) -> std::result::Result<String, ClaimsError> {
    let Some(raw) = claims else {
        return Ok(DEFAULT_ACR.into());
    };
    let v: Value = serde_json::from_str(raw).map_err(|_| ClaimsError::Malformed)?;
    if !v.is_object() {
        return Err(ClaimsError::Malformed);
    }
    let id_token = match v.get("id_token") {
        None | Some(Value::Null) => return Ok(DEFAULT_ACR.into()),
        Some(Value::Object(o)) => o,
        Some(_) => return Err(ClaimsError::Malformed),
    };
    let values = |name: &str| -> std::result::Result<Option<Vec<String>>, ClaimsError> {
        let Some(spec) = id_token.get(name) else {
            return Ok(None);
        };
        if spec.is_null() {
            return Ok(None);
        }
        let obj = spec.as_object().ok_or(ClaimsError::Malformed)?;
        let mut out = vec![];
        if let Some(one) = obj.get("value") {
            out.push(one.as_str().ok_or(ClaimsError::Malformed)?.to_owned());
        }
        if let Some(many) = obj.get("values") {
            for v in many.as_array().ok_or(ClaimsError::Malformed)? {
                out.push(v.as_str().ok_or(ClaimsError::Malformed)?.to_owned());
            }
        }
        Ok((!out.is_empty()).then_some(out))
    };
    if let Some(amr) = values("amr")?
        && !amr.iter().any(|a| a == AMR_FIDO)
    {
        return Err(ClaimsError::AmrUnmet);
    }
    match values("acr")? {
        None => Ok(DEFAULT_ACR.into()),
        Some(asked) => ACR_MET_BY_FIDO
            .iter()
            .find(|met| asked.iter().any(|a| a == *met))
            .map(|a| (*a).to_owned())
            .ok_or(ClaimsError::AcrUnmet),
    }
}

/// Why a hint was refused. `reason` goes to the audit log; nothing of the token does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HintError {
    Missing,
    /// Not a token, a bad signature, a key Entra does not publish, an algorithm other than
    /// RS256 (`none` included).
    Unverified(String),
    Issuer,
    TenantNotAllowed(Uuid),
    Audience,
    TooOld,
    FromTheFuture,
    /// A claim the provider needs is absent or not of the right form.
    Claim(&'static str),
}

impl HintError {
    pub fn reason(&self) -> String {
        match self {
            HintError::Missing => "the request has no id_token_hint".into(),
            HintError::Unverified(why) => format!("the id_token_hint does not verify: {why}"),
            HintError::Issuer => {
                "the id_token_hint's issuer is not Microsoft Entra's for its tenant".into()
            }
            HintError::TenantNotAllowed(t) => {
                format!("tenant {t} is not allowed for this application")
            }
            HintError::Audience => "the id_token_hint is for another application (aud)".into(),
            HintError::TooOld => "the id_token_hint is too old (iat)".into(),
            HintError::FromTheFuture => "the id_token_hint is issued in the future (iat)".into(),
            HintError::Claim(c) => format!("the id_token_hint lacks a valid `{c}` claim"),
        }
    }
}

/// What a verified hint says, once its claims checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    pub sub: String,
    pub tenant_id: Uuid,
    pub object_id: Uuid,
    /// The value of the configured link claim, if the hint has it.
    pub link_value: Option<String>,
}

/// Checks a hint's claims (its signature already verified against Entra's keys): `tid` one of
/// the client's tenants, `iss` Entra's for that tenant, `aud` the client's, issued at most
/// `max_hint_age` ago. `exp` is not looked at: Entra issues hints already expired.
pub fn check_hint(
    claims: &Map<String, Value>,
    client: &EamClient,
    client_id: Uuid,
    settings: &EamSettings,
    now: OffsetDateTime,
) -> std::result::Result<Hint, HintError> {
    let text = |name: &'static str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= 256)
            .ok_or(HintError::Claim(name))
    };
    let guid = |name: &'static str| {
        text(name).and_then(|s| Uuid::try_parse(s).map_err(|_| HintError::Claim(name)))
    };
    let tenant_id = guid("tid")?;
    let expected_issuer = settings
        .issuer_template
        .replace("{tenantid}", &tenant_id.hyphenated().to_string());
    if text("iss").map_err(|_| HintError::Issuer)? != expected_issuer {
        return Err(HintError::Issuer);
    }
    if !client.tenant_ids.contains(&tenant_id) {
        return Err(HintError::TenantNotAllowed(tenant_id));
    }
    let audience = client.audience(client_id).hyphenated().to_string();
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a.eq_ignore_ascii_case(&audience),
        Some(Value::Array(list)) => {
            list.len() == 1
                && list[0]
                    .as_str()
                    .is_some_and(|a| a.eq_ignore_ascii_case(&audience))
        }
        _ => false,
    };
    if !aud_ok {
        return Err(HintError::Audience);
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .ok_or(HintError::Claim("iat"))?;
    if iat > now + settings.clock_skew {
        return Err(HintError::FromTheFuture);
    }
    if now - iat > settings.max_hint_age {
        return Err(HintError::TooOld);
    }
    Ok(Hint {
        sub: text("sub")?.to_owned(),
        tenant_id,
        object_id: guid("oid")?,
        link_value: claims
            .get(settings.link_claim.as_str())
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
    })
}

/// The answer's claims: exactly what Entra checks (issuer, audience = the client id, the
/// hint's `sub`, the request's `nonce`, the chosen `acr`, one `amr`), nothing about the user
/// Entra does not already know.
pub fn answer_claims(
    issuer: &str,
    client_id: Uuid,
    subject: &EamSubject,
    nonce: Option<&str>,
    acr: &str,
    now: OffsetDateTime,
    lifetime: Duration,
) -> Map<String, Value> {
    let mut c = Map::new();
    let now = now.unix_timestamp();
    c.insert("iss".into(), json!(issuer));
    c.insert("aud".into(), json!(client_id));
    c.insert("sub".into(), json!(subject.sub));
    c.insert("iat".into(), json!(now));
    c.insert("exp".into(), json!(now + lifetime.whole_seconds()));
    if let Some(n) = nonce {
        c.insert("nonce".into(), json!(n));
    }
    c.insert("acr".into(), json!(acr));
    c.insert("amr".into(), json!([AMR_FIDO]));
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-12-07 09:00 UTC);
    const TENANT: Uuid = Uuid::from_u128(0x14c2f153_90a7_4689_9db7_9543bf084dad);
    const CLIENT: Uuid = Uuid::from_u128(0x600b719b_3766_4dc5_95a6_3c4a8dc31885);

    fn client() -> EamClient {
        EamClient {
            tenant_ids: vec![TENANT],
            entra_app_id: None,
        }
    }

    /// A hint as Entra issues it: expired at issue (`exp` one second before `iat`).
    fn hint(iat: OffsetDateTime) -> Map<String, Value> {
        let iat = iat.unix_timestamp();
        json!({
            "ver": "2.0",
            "iss": format!("https://login.microsoftonline.com/{TENANT}/v2.0"),
            "sub": "mBfcvuhSHkDWVgV72x2ruIYdSsPSvcj2R0qfc6mGEAA",
            "aud": CLIENT.to_string(),
            "exp": iat - 1,
            "iat": iat,
            "nbf": iat,
            "name": "Test User 2",
            "preferred_username": "testuser2@contoso.com",
            "oid": "951ddb04-b16d-45f3-bbf7-b0fa18fa7aee",
            "tid": TENANT.to_string(),
        })
        .as_object()
        .unwrap()
        .clone()
    }

    fn check(c: &Map<String, Value>) -> std::result::Result<Hint, HintError> {
        check_hint(c, &client(), CLIENT, &EamSettings::default(), NOW)
    }

    #[test]
    fn an_expired_hint_is_good_while_its_iat_is_recent() {
        let h = check(&hint(NOW - Duration::seconds(10))).unwrap();
        assert_eq!(h.sub, "mBfcvuhSHkDWVgV72x2ruIYdSsPSvcj2R0qfc6mGEAA");
        assert_eq!(h.tenant_id, TENANT);
        assert_eq!(
            h.object_id.to_string(),
            "951ddb04-b16d-45f3-bbf7-b0fa18fa7aee"
        );
        assert_eq!(h.link_value.as_deref(), Some("testuser2@contoso.com"));
        // Exactly at the limit, and an iat a little ahead of our clock.
        assert!(check(&hint(NOW - Duration::minutes(5))).is_ok());
        assert!(check(&hint(NOW + Duration::seconds(30))).is_ok());
    }

    #[test]
    fn age_is_bounded_by_iat() {
        assert_eq!(
            check(&hint(NOW - Duration::minutes(5) - Duration::seconds(1))),
            Err(HintError::TooOld)
        );
        assert_eq!(
            check(&hint(NOW + Duration::minutes(2))),
            Err(HintError::FromTheFuture)
        );
        let mut no_iat = hint(NOW);
        no_iat.remove("iat");
        assert_eq!(check(&no_iat), Err(HintError::Claim("iat")));
        let mut text_iat = hint(NOW);
        text_iat.insert("iat".into(), json!("1536093791"));
        assert_eq!(check(&text_iat), Err(HintError::Claim("iat")));
    }

    #[test]
    fn tenant_issuer_and_audience_must_match() {
        let other = Uuid::from_u128(0xdead);
        let mut foreign = hint(NOW);
        foreign.insert("tid".into(), json!(other));
        foreign.insert(
            "iss".into(),
            json!(format!("https://login.microsoftonline.com/{other}/v2.0")),
        );
        assert_eq!(check(&foreign), Err(HintError::TenantNotAllowed(other)));
        // An issuer that does not name the token's own tenant, or another host.
        let mut mixed = hint(NOW);
        mixed.insert(
            "iss".into(),
            json!(format!("https://login.microsoftonline.com/{other}/v2.0")),
        );
        assert_eq!(check(&mixed), Err(HintError::Issuer));
        let mut host = hint(NOW);
        host.insert(
            "iss".into(),
            json!(format!("https://login.evil.example/{TENANT}/v2.0")),
        );
        assert_eq!(check(&host), Err(HintError::Issuer));
        let mut v1 = hint(NOW);
        v1.insert(
            "iss".into(),
            json!(format!("https://sts.windows.net/{TENANT}/")),
        );
        assert_eq!(check(&v1), Err(HintError::Issuer));
        // Audience: the client id, or the configured Entra application.
        let mut aud = hint(NOW);
        aud.insert("aud".into(), json!(Uuid::from_u128(1)));
        assert_eq!(check(&aud), Err(HintError::Audience));
        aud.insert("aud".into(), json!([CLIENT, Uuid::from_u128(1)]));
        assert_eq!(check(&aud), Err(HintError::Audience));
        aud.insert("aud".into(), json!([CLIENT]));
        assert!(check(&aud).is_ok());
        let entra_app = EamClient {
            tenant_ids: vec![TENANT],
            entra_app_id: Some(Uuid::from_u128(1)),
        };
        let mut for_app = hint(NOW);
        for_app.insert("aud".into(), json!(Uuid::from_u128(1)));
        assert!(check_hint(&for_app, &entra_app, CLIENT, &EamSettings::default(), NOW).is_ok());
        assert_eq!(
            check_hint(&hint(NOW), &entra_app, CLIENT, &EamSettings::default(), NOW),
            Err(HintError::Audience)
        );
    }

    #[test]
    fn sub_and_oid_are_required() {
        for claim in ["sub", "oid", "tid"] {
            let mut h = hint(NOW);
            h.remove(claim);
            assert!(check(&h).is_err(), "{claim}");
        }
        let mut h = hint(NOW);
        h.insert("oid".into(), json!("not-a-guid"));
        assert_eq!(check(&h), Err(HintError::Claim("oid")));
    }

    #[test]
    fn the_claims_parameter_chooses_the_acr() {
        let entra = r#"{"id_token":{"acr":{"essential":true,"values":["possessionorinherence"]},"amr":{"essential":true,"values":["face","fido","fpt","hwk","iris","otp","pop","retina","sc","sms","swk","tel","vbm"]}}}"#;
        assert_eq!(requested_acr(Some(entra)).unwrap(), "possessionorinherence");
        assert_eq!(requested_acr(None).unwrap(), DEFAULT_ACR);
        assert_eq!(
            requested_acr(Some(
                r#"{"id_token":{"acr":{"values":["knowledge","possession"]}}}"#
            ))
            .unwrap(),
            "possession"
        );
        assert_eq!(
            requested_acr(Some(
                r#"{"id_token":{"acr":{"value":"knowledgeorpossession"}}}"#
            ))
            .unwrap(),
            "knowledgeorpossession"
        );
        assert_eq!(
            requested_acr(Some(
                r#"{"id_token":{"acr":{"values":["knowledge","inherence"]}}}"#
            )),
            Err(ClaimsError::AcrUnmet)
        );
        assert_eq!(
            requested_acr(Some(r#"{"id_token":{"amr":{"values":["otp","sms"]}}}"#)),
            Err(ClaimsError::AmrUnmet)
        );
        for bad in [
            "{",
            "[]",
            r#"{"id_token":1}"#,
            r#"{"id_token":{"acr":{"values":[1]}}}"#,
        ] {
            assert_eq!(
                requested_acr(Some(bad)),
                Err(ClaimsError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_answer_carries_what_entra_checks_and_no_more() {
        let subject = EamSubject {
            sub: "pairwise-sub".into(),
            tenant_id: TENANT,
            object_id: Uuid::from_u128(2),
            user_id: Uuid::from_u128(3),
        };
        let c = answer_claims(
            "https://id.example.com",
            CLIENT,
            &subject,
            Some("n-1"),
            "possessionorinherence",
            NOW,
            Duration::minutes(10),
        );
        assert_eq!(
            Value::Object(c),
            json!({
                "iss": "https://id.example.com",
                "aud": CLIENT,
                "sub": "pairwise-sub",
                "iat": NOW.unix_timestamp(),
                "exp": NOW.unix_timestamp() + 600,
                "nonce": "n-1",
                "acr": "possessionorinherence",
                "amr": ["fido"],
            })
        );
    }

    #[test]
    fn only_entras_endpoints_are_redirect_uris() {
        let ok: Vec<String> = ENTRA_REDIRECT_URIS
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert!(check_redirect_uris(&ok, 0).is_ok());
        for bad in [
            "https://login.microsoftonline.com/common/federation/externalauthprovider/",
            "https://login.microsoftonline.com.evil.example/common/federation/externalauthprovider",
            "https://login.microsoftonline.com/common/oauth2/nativeclient",
            "http://login.microsoftonline.com/common/federation/externalauthprovider",
        ] {
            assert!(check_redirect_uris(&[bad.to_owned()], 0).is_err(), "{bad}");
        }
        assert!(check_redirect_uris(&[], 0).is_err());
        assert!(check_redirect_uris(&ok[..1], 1).is_err());
    }
}
