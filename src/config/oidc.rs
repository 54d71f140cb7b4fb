//! The `[oidc]` section: the OpenID Connect provider's lifetimes and key rotation, and their
//! translation into the platform's settings.

use plugin::domain::oidc::OidcSettings;
use serde::Deserialize;

use super::entra_eam::EntraEamConfig;
use super::{ConfigError, bad};

#[derive(Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcConfig {
    pub enabled: bool,
    pub code_lifetime_seconds: u32,
    pub access_token_lifetime_seconds: u32,
    pub id_token_lifetime_seconds: u32,
    pub refresh_token_idle_minutes: u32,
    pub refresh_token_absolute_minutes: u32,
    pub flow_lifetime_minutes: u32,
    pub key_rotation_days: u32,
    pub key_retire_margin_minutes: u32,
    pub key_check_interval_minutes: u32,
    pub entra_eam: EntraEamConfig,
}

impl Default for OidcConfig {
    fn default() -> Self {
        OidcConfig {
            enabled: true,
            code_lifetime_seconds: 60,
            access_token_lifetime_seconds: 600,
            id_token_lifetime_seconds: 600,
            refresh_token_idle_minutes: 1440,
            refresh_token_absolute_minutes: 10_080,
            flow_lifetime_minutes: 30,
            key_rotation_days: 30,
            key_retire_margin_minutes: 60,
            key_check_interval_minutes: 60,
            entra_eam: EntraEamConfig::default(),
        }
    }
}

impl OidcConfig {
    pub fn validate(&self, errors: &mut Vec<ConfigError>) {
        let ranges: [(&str, u32, u32, u32); 9] = [
            (
                "oidc.code_lifetime_seconds",
                self.code_lifetime_seconds,
                5,
                600,
            ),
            (
                "oidc.access_token_lifetime_seconds",
                self.access_token_lifetime_seconds,
                60,
                86_400,
            ),
            (
                "oidc.id_token_lifetime_seconds",
                self.id_token_lifetime_seconds,
                60,
                86_400,
            ),
            (
                "oidc.refresh_token_idle_minutes",
                self.refresh_token_idle_minutes,
                5,
                129_600,
            ),
            (
                "oidc.refresh_token_absolute_minutes",
                self.refresh_token_absolute_minutes,
                5,
                525_600,
            ),
            (
                "oidc.flow_lifetime_minutes",
                self.flow_lifetime_minutes,
                5,
                240,
            ),
            ("oidc.key_rotation_days", self.key_rotation_days, 1, 365),
            (
                "oidc.key_retire_margin_minutes",
                self.key_retire_margin_minutes,
                0,
                10_080,
            ),
            (
                "oidc.key_check_interval_minutes",
                self.key_check_interval_minutes,
                1,
                1440,
            ),
        ];
        for (key, value, min, max) in ranges {
            if !(min..=max).contains(&value) {
                errors.push(bad(key, format!("must be between {min} and {max}")));
            }
        }
        self.entra_eam.validate(errors);
        if self.refresh_token_idle_minutes > self.refresh_token_absolute_minutes {
            errors.push(bad(
                "oidc.refresh_token_idle_minutes",
                "must not exceed oidc.refresh_token_absolute_minutes",
            ));
        }
    }

    /// The provider's settings for `issuer` (the public URL).
    pub fn settings(&self, issuer: &str) -> OidcSettings {
        let secs = |s: u32| time::Duration::seconds(i64::from(s));
        let mins = |m: u32| time::Duration::minutes(i64::from(m));
        OidcSettings {
            code_lifetime: secs(self.code_lifetime_seconds),
            access_token_lifetime: secs(self.access_token_lifetime_seconds),
            id_token_lifetime: secs(self.id_token_lifetime_seconds),
            refresh_token_idle: mins(self.refresh_token_idle_minutes),
            refresh_token_absolute: mins(self.refresh_token_absolute_minutes),
            flow_lifetime: mins(self.flow_lifetime_minutes),
            key_rotation: time::Duration::days(i64::from(self.key_rotation_days)),
            key_retire_margin: mins(self.key_retire_margin_minutes),
            ..OidcSettings::with_issuer(issuer)
        }
    }
}
