//! The `[oidc.entra_eam]` section: how Microsoft Entra's external authentication method
//! requests are checked, and its translation into the platform's settings.

use plugin::domain::oidc::eam::{EamSettings, LinkAttribute};
use plugin::platform::EntraKeySource;
use serde::Deserialize;

use super::{ConfigError, bad};

/// `[oidc.entra_eam]`: Microsoft Entra's external authentication method — where Entra's keys
/// come from and how its hints are checked. Which applications are Entra's EAM clients, and
/// for which tenants, is the applications' business (`entraExternalAuthentication@tapbridge`),
/// so one server can serve several tenants' registrations.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EntraEamConfig {
    pub discovery_url: String,
    pub jwks_url: String,
    pub jwks_file: String,
    pub issuer: String,
    pub max_hint_age_seconds: u32,
    pub clock_skew_seconds: u32,
    pub link_claim: String,
    pub link_attribute: String,
    pub key_cache_minutes: u32,
    pub key_refetch_seconds: u32,
    pub http_timeout_seconds: u32,
}

impl Default for EntraEamConfig {
    fn default() -> Self {
        EntraEamConfig {
            discovery_url:
                "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"
                    .into(),
            jwks_url: String::new(),
            jwks_file: String::new(),
            issuer: "https://login.microsoftonline.com/{tenantid}/v2.0".into(),
            max_hint_age_seconds: 300,
            clock_skew_seconds: 60,
            link_claim: "preferred_username".into(),
            link_attribute: "userPrincipalName".into(),
            key_cache_minutes: 1440,
            key_refetch_seconds: 60,
            http_timeout_seconds: 10,
        }
    }
}

/// https, or plain http to this machine (a test issuer).
fn acceptable_url(url: &str) -> bool {
    url.starts_with("https://")
        || ["http://localhost", "http://127.0.0.1", "http://[::1]"]
            .iter()
            .any(|p| {
                url.strip_prefix(p)
                    .is_some_and(|r| r.is_empty() || r.starts_with([':', '/']))
            })
}

impl EntraEamConfig {
    pub(super) fn validate(&self, errors: &mut Vec<ConfigError>) {
        let ranges: [(&str, u32, u32, u32); 5] = [
            (
                "oidc.entra_eam.max_hint_age_seconds",
                self.max_hint_age_seconds,
                10,
                600,
            ),
            (
                "oidc.entra_eam.clock_skew_seconds",
                self.clock_skew_seconds,
                0,
                300,
            ),
            (
                "oidc.entra_eam.key_cache_minutes",
                self.key_cache_minutes,
                5,
                10_080,
            ),
            (
                "oidc.entra_eam.key_refetch_seconds",
                self.key_refetch_seconds,
                10,
                3600,
            ),
            (
                "oidc.entra_eam.http_timeout_seconds",
                self.http_timeout_seconds,
                1,
                60,
            ),
        ];
        for (key, value, min, max) in ranges {
            if !(min..=max).contains(&value) {
                errors.push(bad(key, format!("must be between {min} and {max}")));
            }
        }
        if !self.jwks_url.is_empty() && !self.jwks_file.is_empty() {
            errors.push(bad(
                "oidc.entra_eam.jwks_url",
                "set jwks_url or jwks_file, not both",
            ));
        }
        for (key, url) in [
            ("oidc.entra_eam.discovery_url", &self.discovery_url),
            ("oidc.entra_eam.jwks_url", &self.jwks_url),
        ] {
            if !url.is_empty() && !acceptable_url(url) {
                errors.push(bad(key, "must be an https URL (http only to localhost)"));
            }
        }
        if self.discovery_url.is_empty() && self.jwks_url.is_empty() && self.jwks_file.is_empty() {
            errors.push(bad(
                "oidc.entra_eam.discovery_url",
                "one of discovery_url, jwks_url or jwks_file is needed",
            ));
        }
        if !self.issuer.contains("{tenantid}") || !acceptable_url(&self.issuer) {
            errors.push(bad(
                "oidc.entra_eam.issuer",
                "must be an https URL containing {tenantid}",
            ));
        }
        if self.link_claim.is_empty() {
            errors.push(bad("oidc.entra_eam.link_claim", "must not be empty"));
        }
        if LinkAttribute::parse(&self.link_attribute).is_none() {
            errors.push(bad(
                "oidc.entra_eam.link_attribute",
                "must be userPrincipalName or mail",
            ));
        }
    }

    /// The platform's view: a file before a JWKS URL before discovery.
    pub fn platform(&self) -> plugin::platform::EntraEamConfig {
        let keys = if !self.jwks_file.is_empty() {
            EntraKeySource::File(self.jwks_file.clone().into())
        } else if !self.jwks_url.is_empty() {
            EntraKeySource::Jwks(self.jwks_url.clone())
        } else {
            EntraKeySource::Discovery(self.discovery_url.clone())
        };
        let secs = |s: u32| std::time::Duration::from_secs(u64::from(s));
        plugin::platform::EntraEamConfig {
            keys,
            settings: EamSettings {
                issuer_template: self.issuer.clone(),
                max_hint_age: time::Duration::seconds(i64::from(self.max_hint_age_seconds)),
                clock_skew: time::Duration::seconds(i64::from(self.clock_skew_seconds)),
                link_claim: self.link_claim.clone(),
                link_attribute: LinkAttribute::parse(&self.link_attribute)
                    .unwrap_or(LinkAttribute::UserPrincipalName),
            },
            key_cache: secs(self.key_cache_minutes * 60),
            refetch_interval: secs(self.key_refetch_seconds),
            http_timeout: secs(self.http_timeout_seconds),
        }
    }
}
