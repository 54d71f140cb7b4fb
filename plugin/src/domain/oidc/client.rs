//! Applications (OAuth clients), shaped after Graph's `application`: redirect URIs per
//! platform (`web`, `spa`, `publicClient`), password credentials (secrets: only metadata here,
//! the value is shown once and stored as a keyed hash), plus what Graph keeps elsewhere or not
//! at all — the ID-token signing algorithm, skipped consent, the administrative roles the
//! application itself holds for client credentials, and a JWKS for `private_key_jwt`.

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::eam::{EamClient, check_redirect_uris as check_eam_redirects};
use crate::domain::role::Roles;
use crate::jose::{Alg, JwkSet};
use crate::{Error, Result};

/// Where a redirect URI is registered, which decides how the code is redeemed: `web` codes by
/// an authenticated (confidential) client, `spa` and `publicClient` codes by a public client
/// with PKCE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RedirectPlatform {
    Web,
    Spa,
    PublicClient,
}

impl RedirectPlatform {
    pub fn is_public(self) -> bool {
        !matches!(self, RedirectPlatform::Web)
    }

    pub fn graph_name(self) -> &'static str {
        match self {
            RedirectPlatform::Web => "web",
            RedirectPlatform::Spa => "spa",
            RedirectPlatform::PublicClient => "publicClient",
        }
    }
}

/// A secret's metadata (Graph `passwordCredential` without `secretText`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordCredential {
    pub key_id: Uuid,
    pub display_name: Option<String>,
    /// The secret's first three characters, to tell secrets apart.
    pub hint: String,
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
}

impl PasswordCredential {
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.start <= now && now < self.end
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    /// Graph's object id.
    pub id: Uuid,
    /// The client id.
    pub app_id: Uuid,
    pub display_name: String,
    pub web_redirect_uris: Vec<String>,
    pub spa_redirect_uris: Vec<String>,
    pub public_client_redirect_uris: Vec<String>,
    pub id_token_signing_alg: Alg,
    /// Users are not asked to consent: an administrator decided for them.
    pub skip_consent: bool,
    /// Roles the application holds itself, in tokens from client credentials.
    pub app_roles: Roles,
    /// Public keys for `private_key_jwt` client authentication.
    pub jwks: Option<JwkSet>,
    /// Marked as Microsoft Entra's external authentication method client.
    pub eam: Option<EamClient>,
    pub passwords: Vec<PasswordCredential>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Application {
    /// Which platform `uri` is registered for, by exact string comparison (no normalisation,
    /// no wildcards, no prefix matching).
    pub fn redirect_platform(&self, uri: &str) -> Option<RedirectPlatform> {
        let is = |list: &[String]| list.iter().any(|u| u == uri);
        if is(&self.web_redirect_uris) {
            Some(RedirectPlatform::Web)
        } else if is(&self.spa_redirect_uris) {
            Some(RedirectPlatform::Spa)
        } else if is(&self.public_client_redirect_uris) {
            Some(RedirectPlatform::PublicClient)
        } else {
            None
        }
    }

    /// Every registered redirect URI, web first.
    pub fn all_redirect_uris(&self) -> impl Iterator<Item = &String> {
        self.web_redirect_uris
            .iter()
            .chain(&self.spa_redirect_uris)
            .chain(&self.public_client_redirect_uris)
    }

    /// Where a user may be sent after signing out: as in Entra, any registered redirect URI,
    /// matched exactly.
    pub fn allows_post_logout_redirect(&self, uri: &str) -> bool {
        self.redirect_platform(uri).is_some()
    }

    /// Whether the application can authenticate itself (a secret or keys): needed for
    /// client credentials and for codes issued to `web` redirect URIs.
    pub fn has_credentials(&self) -> bool {
        !self.passwords.is_empty() || self.jwks.as_ref().is_some_and(|j| !j.keys.is_empty())
    }
}

/// Longest display name, as Graph allows.
pub const MAX_NAME_CHARS: usize = 256;
/// Redirect URIs per platform.
pub const MAX_REDIRECT_URIS: usize = 256;
/// Graph's default secret lifetime, and the longest tapbridge accepts.
pub const DEFAULT_SECRET_LIFETIME: Duration = Duration::days(730);
pub const MAX_SECRET_LIFETIME: Duration = Duration::days(3650);

pub fn check_display_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(Error::invalid(format!(
            "displayName must be 1 to {MAX_NAME_CHARS} printable characters"
        )));
    }
    Ok(name.to_owned())
}

fn is_loopback(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

/// Checks one redirect URI for `platform`: absolute, no fragment, no wildcard; `web` and
/// `spa` over https (plain http only to a loopback host, as Entra allows for development);
/// `publicClient` may also use a private scheme (`com.example.app:/callback`).
pub fn check_redirect_uri(uri: &str, platform: RedirectPlatform) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::invalid(format!(
            "{}.redirectUris: `{uri}` {why}",
            platform.graph_name()
        )))
    };
    if uri.is_empty()
        || uri.len() > 2048
        || uri.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return bad("is not a valid URI");
    }
    if uri.contains('#') {
        return bad("must not have a fragment");
    }
    if uri.contains('*') {
        return bad("must not contain a wildcard");
    }
    let Some((scheme, rest)) = uri.split_once(':') else {
        return bad("is not an absolute URI");
    };
    let valid_scheme = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid_scheme {
        return bad("is not an absolute URI");
    }
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.strip_prefix("//").map(|r| {
        let end = r.find(['/', '?']).unwrap_or(r.len());
        &r[..end]
    });
    let host = authority.map(|a| {
        let a = a.rsplit_once('@').map_or(a, |(_, h)| h);
        if a.starts_with('[') {
            a.split_inclusive(']').next().unwrap_or(a)
        } else {
            a.split(':').next().unwrap_or(a)
        }
    });
    match scheme.as_str() {
        "https" => match host {
            Some(h) if !h.is_empty() => Ok(()),
            _ => bad("has no host"),
        },
        "http" => match host {
            Some(h) if is_loopback(&h.to_ascii_lowercase()) => Ok(()),
            _ => bad("must use https (plain http is allowed for localhost only)"),
        },
        _ if platform == RedirectPlatform::PublicClient => {
            if matches!(scheme.as_str(), "javascript" | "data" | "file" | "vbscript") {
                bad("uses a scheme that cannot be a redirect")
            } else {
                Ok(())
            }
        }
        _ => bad("must use https (plain http is allowed for localhost only)"),
    }
}

/// Checks and de-duplicates a platform's list, keeping order.
pub fn check_redirect_uris(uris: Vec<String>, platform: RedirectPlatform) -> Result<Vec<String>> {
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(Error::invalid(format!(
            "{}.redirectUris holds at most {MAX_REDIRECT_URIS} URIs",
            platform.graph_name()
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(uris.len());
    for uri in uris {
        check_redirect_uri(&uri, platform)?;
        if !out.contains(&uri) {
            out.push(uri);
        }
    }
    Ok(out)
}

/// Checks a client's JWKS for `private_key_jwt`: public keys only, each usable for ES256 or
/// RS256, each with a `kid` (so a client assertion names the one it used).
pub fn check_jwks(jwks: &JwkSet) -> Result<()> {
    if jwks.keys.is_empty() || jwks.keys.len() > 10 {
        return Err(Error::invalid("jwks@tapbridge holds 1 to 10 keys"));
    }
    for key in &jwks.keys {
        if key.has_private_part() {
            return Err(Error::invalid(
                "jwks@tapbridge must hold public keys only: remove the private members (d, p, q …)",
            ));
        }
        if key.kid.as_deref().is_none_or(str::is_empty) {
            return Err(Error::invalid("every key in jwks@tapbridge needs a kid"));
        }
        let usable = Alg::ALL.iter().any(|alg| key.check(*alg).is_ok());
        if !usable {
            return Err(Error::invalid(format!(
                "key `{}` in jwks@tapbridge is not a usable P-256 or RSA (2048 bits or more) public key",
                key.kid.as_deref().unwrap_or_default()
            )));
        }
    }
    Ok(())
}

/// A new application, as checked input.
#[derive(Debug, Clone, Default)]
pub struct NewApplication {
    pub display_name: String,
    pub web_redirect_uris: Vec<String>,
    pub spa_redirect_uris: Vec<String>,
    pub public_client_redirect_uris: Vec<String>,
    pub id_token_signing_alg: Option<Alg>,
    pub skip_consent: bool,
    pub app_roles: Roles,
    pub jwks: Option<JwkSet>,
    pub eam: Option<EamClient>,
}

/// A PATCH: `None` leaves a property as it is. `jwks: Some(None)` removes the keys.
#[derive(Debug, Clone, Default)]
pub struct ApplicationPatch {
    pub display_name: Option<String>,
    pub web_redirect_uris: Option<Vec<String>>,
    pub spa_redirect_uris: Option<Vec<String>>,
    pub public_client_redirect_uris: Option<Vec<String>>,
    pub id_token_signing_alg: Option<Alg>,
    pub skip_consent: Option<bool>,
    pub app_roles: Option<Roles>,
    pub jwks: Option<Option<JwkSet>>,
    /// `Some(None)` removes the marking.
    pub eam: Option<Option<EamClient>>,
}

impl ApplicationPatch {
    /// Whether the patch touches what only a role-granting administrator may change.
    pub fn grants_roles(&self) -> bool {
        self.app_roles.as_ref().is_some_and(|r| !r.is_empty())
    }
}

impl Application {
    /// A new application from checked input.
    pub fn create(new: NewApplication, now: OffsetDateTime) -> Result<Application> {
        let app = Application {
            id: Uuid::new_v4(),
            app_id: Uuid::new_v4(),
            display_name: check_display_name(&new.display_name)?,
            web_redirect_uris: check_redirect_uris(new.web_redirect_uris, RedirectPlatform::Web)?,
            spa_redirect_uris: check_redirect_uris(new.spa_redirect_uris, RedirectPlatform::Spa)?,
            public_client_redirect_uris: check_redirect_uris(
                new.public_client_redirect_uris,
                RedirectPlatform::PublicClient,
            )?,
            id_token_signing_alg: new.id_token_signing_alg.unwrap_or(Alg::Es256),
            skip_consent: new.skip_consent,
            app_roles: new.app_roles,
            jwks: new.jwks,
            eam: new.eam,
            passwords: vec![],
            created_at: now,
            updated_at: now,
        };
        if let Some(jwks) = &app.jwks {
            check_jwks(jwks)?;
        }
        app.check_eam(new.id_token_signing_alg)
    }

    /// An Entra EAM client answers only Entra's endpoints, always with RS256 (the one
    /// algorithm Entra verifies).
    fn check_eam(mut self, asked_alg: Option<Alg>) -> Result<Application> {
        let Some(eam) = &self.eam else {
            return Ok(self);
        };
        eam.check()?;
        check_eam_redirects(
            &self.web_redirect_uris,
            self.spa_redirect_uris.len() + self.public_client_redirect_uris.len(),
        )?;
        if asked_alg.is_some_and(|a| a != Alg::Rs256) {
            return Err(Error::invalid(
                "an Entra external authentication client signs its ID tokens with RS256",
            ));
        }
        self.id_token_signing_alg = Alg::Rs256;
        Ok(self)
    }

    /// The application after `patch`, checked.
    pub fn patched(&self, patch: ApplicationPatch, now: OffsetDateTime) -> Result<Application> {
        let mut app = self.clone();
        if let Some(name) = patch.display_name {
            app.display_name = check_display_name(&name)?;
        }
        if let Some(uris) = patch.web_redirect_uris {
            app.web_redirect_uris = check_redirect_uris(uris, RedirectPlatform::Web)?;
        }
        if let Some(uris) = patch.spa_redirect_uris {
            app.spa_redirect_uris = check_redirect_uris(uris, RedirectPlatform::Spa)?;
        }
        if let Some(uris) = patch.public_client_redirect_uris {
            app.public_client_redirect_uris =
                check_redirect_uris(uris, RedirectPlatform::PublicClient)?;
        }
        if let Some(alg) = patch.id_token_signing_alg {
            app.id_token_signing_alg = alg;
        }
        if let Some(skip) = patch.skip_consent {
            app.skip_consent = skip;
        }
        if let Some(roles) = patch.app_roles {
            app.app_roles = roles;
        }
        if let Some(jwks) = patch.jwks {
            if let Some(j) = &jwks {
                check_jwks(j)?;
            }
            app.jwks = jwks;
        }
        if let Some(eam) = patch.eam {
            app.eam = eam;
        }
        app.updated_at = now;
        app.check_eam(patch.id_token_signing_alg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RedirectPlatform::*;

    #[test]
    fn redirect_uris_are_checked_per_platform() {
        for ok in [
            "https://app.example.com/callback",
            "https://app.example.com:8443/cb?x=1",
            "http://localhost:3000/cb",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
        ] {
            for p in [Web, Spa, PublicClient] {
                assert!(check_redirect_uri(ok, p).is_ok(), "{ok} {p:?}");
            }
        }
        for bad in [
            "",
            "/relative",
            "app.example.com/cb",
            "http://app.example.com/cb",
            "http://localhost.evil.com/cb",
            "https://app.example.com/cb#frag",
            "https://*.example.com/cb",
            "https:///nohost",
            "https://app.example.com/a b",
        ] {
            assert!(check_redirect_uri(bad, Web).is_err(), "{bad}");
        }
        assert!(check_redirect_uri("com.example.app:/oauth2redirect", PublicClient).is_ok());
        assert!(check_redirect_uri("com.example.app:/oauth2redirect", Web).is_err());
        assert!(check_redirect_uri("javascript:alert(1)", PublicClient).is_err());
        assert_eq!(
            check_redirect_uris(vec!["https://a/cb".into(), "https://a/cb".into()], Web).unwrap(),
            vec!["https://a/cb".to_owned()]
        );
    }

    #[test]
    fn redirect_matching_is_exact_and_tells_the_platform() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let app = Application::create(
            NewApplication {
                display_name: "App".into(),
                web_redirect_uris: vec!["https://app.example.com/cb".into()],
                spa_redirect_uris: vec!["https://spa.example.com/".into()],
                ..Default::default()
            },
            now,
        )
        .unwrap();
        assert_eq!(
            app.redirect_platform("https://app.example.com/cb"),
            Some(Web)
        );
        assert_eq!(app.redirect_platform("https://spa.example.com/"), Some(Spa));
        for near in [
            "https://app.example.com/cb/",
            "https://app.example.com/CB",
            "https://APP.example.com/cb",
            "https://app.example.com/cb?x=1",
            "https://app.example.com/cb#",
            "https://spa.example.com",
            "https://app.example.com:443/cb",
        ] {
            assert_eq!(app.redirect_platform(near), None, "{near}");
        }
        assert!(!app.has_credentials());
        assert_eq!(app.id_token_signing_alg, Alg::Es256);
    }
}
