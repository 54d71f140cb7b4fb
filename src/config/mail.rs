//! `[mail]`: the onboarding mail's sender, transport and retries, and their translation into
//! the bridge's settings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bridge::mail::{Branding, MailSettings, Security, SmtpSettings, TransportSettings};
use plugin::secret::SecretString;
use serde::Deserialize;

use super::{ConfigError, bad};

#[derive(Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    pub enabled: bool,
    pub from: String,
    pub outbox_dir: PathBuf,
    pub org_name: String,
    pub logo_url: String,
    pub support_contact: String,
    pub default_language: String,
    pub concurrency: usize,
    pub max_attempts: u32,
    pub retry_base_seconds: u64,
    pub retry_max_seconds: u64,
    pub lease_seconds: u64,
    pub poll_interval_ms: u64,
    pub smtp: SmtpConfig,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            enabled: true,
            from: "tapbridge <tapbridge@localhost>".into(),
            outbox_dir: PathBuf::new(),
            org_name: "tapbridge".into(),
            logo_url: String::new(),
            support_contact: String::new(),
            default_language: "en".into(),
            concurrency: 8,
            max_attempts: 12,
            retry_base_seconds: 30,
            retry_max_seconds: 3600,
            lease_seconds: 300,
            poll_interval_ms: 1000,
            smtp: SmtpConfig::default(),
        }
    }
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: String,
    pub password: Option<SecretString>,
    pub password_file: Option<PathBuf>,
    pub timeout_seconds: u64,
    pub ca_file: Option<PathBuf>,
    pub verify: bool,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            host: String::new(),
            port: 587,
            security: Security::StartTls,
            username: String::new(),
            password: None,
            password_file: None,
            timeout_seconds: 30,
            ca_file: None,
            verify: true,
        }
    }
}

impl MailConfig {
    /// Checks the section, reading `smtp.password_file` into `smtp.password`.
    pub fn validate(&mut self, errors: &mut Vec<ConfigError>) {
        if self.from.parse::<lettre::message::Mailbox>().is_err() {
            errors.push(bad(
                "mail.from",
                "must be an address, optionally with a name: `Name <user@example.com>`",
            ));
        }
        if self.org_name.trim().is_empty() {
            errors.push(bad("mail.org_name", "must not be empty"));
        }
        if !(1..=256).contains(&self.concurrency) {
            errors.push(bad("mail.concurrency", "must be between 1 and 256"));
        }
        if !(1..=100).contains(&self.max_attempts) {
            errors.push(bad("mail.max_attempts", "must be between 1 and 100"));
        }
        if self.retry_base_seconds == 0 || self.retry_base_seconds > self.retry_max_seconds {
            errors.push(bad(
                "mail.retry_base_seconds",
                "must be at least 1 and at most mail.retry_max_seconds",
            ));
        }
        if self.retry_max_seconds > 7 * 86_400 {
            errors.push(bad(
                "mail.retry_max_seconds",
                "must be at most 604800 (a week)",
            ));
        }
        if !(10..=86_400).contains(&self.lease_seconds) {
            errors.push(bad("mail.lease_seconds", "must be between 10 and 86400"));
        }
        if !(10..=60_000).contains(&self.poll_interval_ms) {
            errors.push(bad("mail.poll_interval_ms", "must be between 10 and 60000"));
        }
        if !bridge::mail::render::LANGUAGES.contains(&self.default_language.as_str()) {
            errors.push(bad(
                "mail.default_language",
                format!(
                    "must be one of {}",
                    bridge::mail::render::LANGUAGES.join(", ")
                ),
            ));
        }
        let smtp = &mut self.smtp;
        match (&smtp.password, &smtp.password_file) {
            (Some(_), Some(_)) => errors.push(bad(
                "mail.smtp.password_file",
                "set password or password_file, not both",
            )),
            (None, Some(file)) => match std::fs::read_to_string(file) {
                Ok(s) => {
                    smtp.password = Some(SecretString::new(
                        s.trim_end_matches(['\r', '\n']).to_owned(),
                    ))
                }
                Err(e) => errors.push(bad(
                    "mail.smtp.password_file",
                    format!("cannot read `{}`: {e}", file.display()),
                )),
            },
            _ => {}
        }
        if !smtp.host.is_empty() {
            if smtp.host.chars().any(|c| c.is_whitespace() || c == '/') {
                errors.push(bad("mail.smtp.host", "must be a host name or address"));
            }
            if smtp.port == 0 {
                errors.push(bad("mail.smtp.port", "must not be 0"));
            }
            if smtp.username.is_empty() != smtp.password.is_none() {
                errors.push(bad(
                    "mail.smtp.username",
                    "username and password go together",
                ));
            }
            let loopback = matches!(smtp.host.as_str(), "localhost" | "127.0.0.1" | "::1");
            if smtp.security == Security::None && !loopback && smtp.password.is_some() {
                errors.push(bad(
                    "mail.smtp.security",
                    "\"none\" would send the password in clear; use it for a local relay only",
                ));
            }
        }
        if !(1..=600).contains(&smtp.timeout_seconds) {
            errors.push(bad(
                "mail.smtp.timeout_seconds",
                "must be between 1 and 600",
            ));
        }
    }

    pub fn settings(&self, data_dir: &Path, public_url: &str) -> MailSettings {
        let s = &self.smtp;
        let transport = if s.host.is_empty() {
            let dir = if self.outbox_dir.as_os_str().is_empty() {
                data_dir.join("outbox")
            } else {
                self.outbox_dir.clone()
            };
            TransportSettings::Folder(dir)
        } else {
            TransportSettings::Smtp(SmtpSettings {
                host: s.host.clone(),
                port: s.port,
                security: s.security,
                username: (!s.username.is_empty()).then(|| s.username.clone()),
                password: s.password.clone(),
                timeout: Duration::from_secs(s.timeout_seconds),
                pool_size: u32::try_from(self.concurrency).unwrap_or(8),
                ca_file: s.ca_file.clone(),
                verify: s.verify,
            })
        };
        let optional = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_owned());
        MailSettings {
            from: self.from.clone(),
            transport,
            branding: Branding {
                org_name: self.org_name.clone(),
                logo_url: optional(&self.logo_url),
                support_contact: optional(&self.support_contact),
            },
            public_url: public_url.to_owned(),
            default_language: self.default_language.clone(),
            retry_base: Duration::from_secs(self.retry_base_seconds),
            retry_max: Duration::from_secs(self.retry_max_seconds),
            max_attempts: self.max_attempts,
            concurrency: self.concurrency,
            lease: Duration::from_secs(self.lease_seconds),
            poll_interval: Duration::from_millis(self.poll_interval_ms),
        }
    }
}
