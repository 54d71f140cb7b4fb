//! Codes, grants and refresh-token families: what is stored with each, and the rules for
//! redeeming them. Pure: the token endpoint asks, the store keeps.
//!
//! - A code is redeemed once, by the client it was issued to, with the redirect URI it was
//!   issued for, and with the PKCE verifier whenever a challenge was sent (and only then: a
//!   verifier for a code issued without a challenge is refused, so PKCE cannot be stripped
//!   and added back). A code sent to a `web` redirect URI needs an authenticated client.
//! - A replayed code revokes the grant its first redemption made (RFC 6749 §4.1.2).
//! - Refresh tokens rotate: each use spends the token and issues its successor in the same
//!   family (grant). Presenting a spent one means two parties hold the family: the whole
//!   grant is revoked (OAuth 2.0 Security BCP, RFC 9700 §4.14.2).

use time::OffsetDateTime;
use uuid::Uuid;

use super::authn::Authentication;
use super::client::RedirectPlatform;
use super::error::OAuthError;
use super::pkce;
use super::scope::Scopes;

/// What an authorization code carries, from the request and the sign-in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CodeDetail {
    pub redirect_uri: String,
    pub platform: RedirectPlatform,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub scopes: Scopes,
    pub authentication: Authentication,
    /// The browser session that signed in (`sid`), ended by RP-initiated logout.
    pub session_id: String,
}

/// A stored code, as the exchange sees it.
#[derive(Debug, Clone)]
pub struct CodeState {
    pub client_id: Uuid,
    pub user_id: Uuid,
    pub detail: CodeDetail,
    pub expires_at: OffsetDateTime,
    /// Set when it was redeemed before (or an attempt spent it).
    pub used: bool,
}

/// The parts of a token request that a code exchange checks.
#[derive(Debug, Clone)]
pub struct Exchange<'a> {
    pub client_id: Uuid,
    pub client_authenticated: bool,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
    pub now: OffsetDateTime,
}

/// Why a code exchange fails. `Replayed` tells the caller to revoke what the first
/// redemption issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRefusal {
    Replayed,
    Invalid(OAuthError),
}

pub fn check_exchange(code: &CodeState, x: &Exchange<'_>) -> Result<(), CodeRefusal> {
    let invalid = |m: &str| Err(CodeRefusal::Invalid(OAuthError::invalid_grant(m)));
    if code.used {
        return Err(CodeRefusal::Replayed);
    }
    if x.now >= code.expires_at {
        return invalid("the code has expired");
    }
    if code.client_id != x.client_id {
        return invalid("the code was issued to another client");
    }
    if x.redirect_uri != Some(code.detail.redirect_uri.as_str()) {
        return invalid("redirect_uri does not match the authorization request");
    }
    match (&code.detail.code_challenge, x.code_verifier) {
        (Some(challenge), Some(verifier)) if pkce::verify(challenge, verifier) => {}
        (Some(_), Some(_)) => return invalid("code_verifier does not match the code_challenge"),
        (Some(_), None) => return invalid("code_verifier is required"),
        (None, Some(_)) => return invalid("code_verifier sent for a code issued without PKCE"),
        (None, None) => {}
    }
    if code.detail.platform == RedirectPlatform::Web && !x.client_authenticated {
        return Err(CodeRefusal::Invalid(OAuthError::invalid_client()));
    }
    Ok(())
}

/// What a grant remembers for refreshes and for its tokens' claims.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GrantDetail {
    pub scopes: Scopes,
    /// The user's sign-in (authorization-code grants).
    pub authentication: Option<Authentication>,
    pub session_id: Option<String>,
    /// Issued through a `spa` or `publicClient` redirect: refreshes need no client
    /// authentication. Otherwise the client must authenticate to refresh.
    #[serde(default)]
    pub public: bool,
}

/// A refresh token and its grant, as a refresh sees them.
#[derive(Debug, Clone)]
pub struct RefreshState {
    pub grant_id: Uuid,
    pub client_id: Uuid,
    pub token_expires_at: OffsetDateTime,
    pub token_used: bool,
    pub grant_expires_at: OffsetDateTime,
    pub grant_revoked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshVerdict {
    /// Spend it and issue the next one.
    Rotate,
    /// A spent token came back: revoke the family.
    Reused,
    Refused(OAuthError),
}

pub fn judge_refresh(r: &RefreshState, client_id: Uuid, now: OffsetDateTime) -> RefreshVerdict {
    let refused = |m: &str| RefreshVerdict::Refused(OAuthError::invalid_grant(m));
    if r.client_id != client_id {
        return refused("the refresh token was issued to another client");
    }
    if r.grant_revoked {
        return refused("the refresh token has been revoked");
    }
    if r.token_used {
        return RefreshVerdict::Reused;
    }
    if now >= r.token_expires_at || now >= r.grant_expires_at {
        return refused("the refresh token has expired");
    }
    RefreshVerdict::Rotate
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::oidc::error::OAuthErrorCode;
    use time::Duration;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-12-01 09:00 UTC);
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn code(platform: RedirectPlatform, challenge: Option<&str>) -> CodeState {
        CodeState {
            client_id: Uuid::from_u128(1),
            user_id: Uuid::from_u128(2),
            detail: CodeDetail {
                redirect_uri: "https://app/cb".into(),
                platform,
                code_challenge: challenge.map(str::to_owned),
                nonce: None,
                scopes: Scopes::parse("openid"),
                authentication: Authentication {
                    user_id: Uuid::from_u128(2),
                    at: NOW,
                    method_id: Uuid::nil(),
                    backup_eligible: false,
                    user_verified: true,
                },
                session_id: "s".into(),
            },
            expires_at: NOW + Duration::minutes(1),
            used: false,
        }
    }

    fn exchange<'a>(verifier: Option<&'a str>, authenticated: bool) -> Exchange<'a> {
        Exchange {
            client_id: Uuid::from_u128(1),
            client_authenticated: authenticated,
            redirect_uri: Some("https://app/cb"),
            code_verifier: verifier,
            now: NOW,
        }
    }

    fn why(r: Result<(), CodeRefusal>) -> Option<OAuthErrorCode> {
        match r {
            Err(CodeRefusal::Invalid(e)) => Some(e.code),
            _ => None,
        }
    }

    #[test]
    fn a_code_is_bound_to_client_redirect_and_verifier() {
        let public = code(RedirectPlatform::Spa, Some(CHALLENGE));
        assert_eq!(
            check_exchange(&public, &exchange(Some(VERIFIER), false)),
            Ok(())
        );
        let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK";
        assert_eq!(
            why(check_exchange(&public, &exchange(Some(wrong), false))),
            Some(OAuthErrorCode::InvalidGrant)
        );
        assert_eq!(
            why(check_exchange(&public, &exchange(None, false))),
            Some(OAuthErrorCode::InvalidGrant)
        );
        let mut other = exchange(Some(VERIFIER), false);
        other.client_id = Uuid::from_u128(9);
        assert_eq!(
            why(check_exchange(&public, &other)),
            Some(OAuthErrorCode::InvalidGrant)
        );
        let mut other = exchange(Some(VERIFIER), false);
        other.redirect_uri = Some("https://app/cb/");
        assert_eq!(
            why(check_exchange(&public, &other)),
            Some(OAuthErrorCode::InvalidGrant)
        );
        other.redirect_uri = None;
        assert_eq!(
            why(check_exchange(&public, &other)),
            Some(OAuthErrorCode::InvalidGrant)
        );
        let mut late = exchange(Some(VERIFIER), false);
        late.now = NOW + Duration::minutes(1);
        assert_eq!(
            why(check_exchange(&public, &late)),
            Some(OAuthErrorCode::InvalidGrant)
        );
        let mut used = public.clone();
        used.used = true;
        assert_eq!(
            check_exchange(&used, &exchange(Some(VERIFIER), false)),
            Err(CodeRefusal::Replayed)
        );
    }

    #[test]
    fn web_codes_need_client_authentication_and_pkce_cannot_be_added_later() {
        let web = code(RedirectPlatform::Web, None);
        assert_eq!(check_exchange(&web, &exchange(None, true)), Ok(()));
        assert_eq!(
            why(check_exchange(&web, &exchange(None, false))),
            Some(OAuthErrorCode::InvalidClient)
        );
        assert_eq!(
            why(check_exchange(&web, &exchange(Some(VERIFIER), true))),
            Some(OAuthErrorCode::InvalidGrant)
        );
    }

    #[test]
    fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
        let state = RefreshState {
            grant_id: Uuid::nil(),
            client_id: Uuid::from_u128(1),
            token_expires_at: NOW + Duration::hours(1),
            token_used: false,
            grant_expires_at: NOW + Duration::days(1),
            grant_revoked: false,
        };
        let client = Uuid::from_u128(1);
        assert_eq!(judge_refresh(&state, client, NOW), RefreshVerdict::Rotate);
        let used = RefreshState {
            token_used: true,
            ..state.clone()
        };
        assert_eq!(judge_refresh(&used, client, NOW), RefreshVerdict::Reused);
        let revoked = RefreshState {
            grant_revoked: true,
            token_used: true,
            ..state.clone()
        };
        assert!(matches!(
            judge_refresh(&revoked, client, NOW),
            RefreshVerdict::Refused(_)
        ));
        assert!(matches!(
            judge_refresh(&state, Uuid::from_u128(7), NOW),
            RefreshVerdict::Refused(_)
        ));
        assert!(matches!(
            judge_refresh(&state, client, NOW + Duration::hours(1)),
            RefreshVerdict::Refused(_)
        ));
        let old_grant = RefreshState {
            grant_expires_at: NOW,
            ..state
        };
        assert!(matches!(
            judge_refresh(&old_grant, client, NOW),
            RefreshVerdict::Refused(_)
        ));
    }
}
