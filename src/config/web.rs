//! `[web]`: the pages, the passkey relying party, sessions and sign-in limits.

use std::path::PathBuf;

use serde::Deserialize;

use super::{ConfigError, bad};

/// The web pages: passkey relying party, sessions, sign-in limits.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    pub enabled: bool,
    /// WebAuthn relying-party id. Empty: the host of the public URL.
    pub rp_id: String,
    pub rp_name: String,
    /// Origins the pages are served from. Empty: the public URL's origin.
    pub allowed_origins: Vec<String>,
    pub session_idle_minutes: u32,
    pub session_absolute_minutes: u32,
    pub bootstrap_window_minutes: u32,
    pub secure_cookies: bool,
    pub signin_per_minute_per_address: u32,
    pub signin_per_minute_per_user: u32,
    /// JSON attestation CA list (webauthn-rs format). Empty: none.
    pub attestation_ca_file: PathBuf,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            enabled: true,
            rp_id: String::new(),
            rp_name: "tapbridge".into(),
            allowed_origins: vec![],
            session_idle_minutes: 30,
            session_absolute_minutes: 720,
            bootstrap_window_minutes: 15,
            secure_cookies: true,
            signin_per_minute_per_address: 20,
            signin_per_minute_per_user: 5,
            attestation_ca_file: PathBuf::new(),
        }
    }
}

impl WebConfig {
    pub fn validate(&self, errors: &mut Vec<ConfigError>) {
        if self.rp_name.trim().is_empty() || self.rp_name.chars().count() > 64 {
            errors.push(bad("web.rp_name", "must be 1 to 64 characters"));
        }
        if !(1..=1440).contains(&self.session_idle_minutes) {
            errors.push(bad(
                "web.session_idle_minutes",
                "must be between 1 and 1440",
            ));
        }
        if !(5..=43_200).contains(&self.session_absolute_minutes) {
            errors.push(bad(
                "web.session_absolute_minutes",
                "must be between 5 and 43200",
            ));
        }
        if !(1..=240).contains(&self.bootstrap_window_minutes) {
            errors.push(bad(
                "web.bootstrap_window_minutes",
                "must be between 1 and 240",
            ));
        }
        for (key, value) in [
            (
                "web.signin_per_minute_per_address",
                self.signin_per_minute_per_address,
            ),
            (
                "web.signin_per_minute_per_user",
                self.signin_per_minute_per_user,
            ),
        ] {
            if !(1..=10_000).contains(&value) {
                errors.push(bad(key, "must be between 1 and 10000"));
            }
        }
        if !self.attestation_ca_file.as_os_str().is_empty() && !self.attestation_ca_file.is_file() {
            errors.push(bad(
                "web.attestation_ca_file",
                format!("`{}` does not exist", self.attestation_ca_file.display()),
            ));
        }
    }

    /// The relying-party id and allowed origins for `public_url`, checked together: every
    /// origin must be https (or http on localhost) and lie within the relying-party id.
    pub fn relying_party(&self, public_url: &str) -> Result<(String, Vec<String>), ConfigError> {
        let origins = if self.allowed_origins.is_empty() {
            vec![public_url.trim_end_matches('/').to_owned()]
        } else {
            self.allowed_origins
                .iter()
                .map(|o| o.trim_end_matches('/').to_owned())
                .collect()
        };
        let rp_id = if self.rp_id.is_empty() {
            let host = public_url
                .split_once("://")
                .map(|(_, rest)| rest)
                .unwrap_or(public_url)
                .split(['/', ':'])
                .next()
                .unwrap_or_default();
            host.to_owned()
        } else {
            self.rp_id.clone()
        };
        let with_slash: Vec<String> = origins.iter().map(|o| format!("{o}/")).collect();
        plugin::platform::passkeys::verifier(&rp_id, &self.rp_name, &with_slash)
            .map_err(|e| bad("web.allowed_origins", e))?;
        Ok((rp_id, origins))
    }
}
