//! The `[mail]` and `[onboarding]` sections, and their translation into the bridge's settings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bridge::mail::{Branding, MailSettings, Security, SmtpSettings, TransportSettings};
use bridge::onboarding::{Recipient, Rule, Timing};
use plugin::secret::SecretString;
use serde::Deserialize;

use crate::config::ConfigError;

fn bad(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        reason: reason.into(),
    }
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    Starttls,
    Tls,
    None,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
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
            security: SmtpSecurity::Starttls,
            username: String::new(),
            password: None,
            password_file: None,
            timeout_seconds: 30,
            ca_file: None,
            verify: true,
        }
    }
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OnboardingConfig {
    pub enabled: bool,
    pub poll_interval_ms: u64,
    pub rules: Vec<RuleConfig>,
}

impl Default for OnboardingConfig {
    fn default() -> Self {
        OnboardingConfig {
            enabled: true,
            poll_interval_ms: 1000,
            rules: vec![],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum When {
    Creation,
    BeforeHireDate,
}

/// Where a rule's pass is minted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mint {
    /// By tapbridge, for its own sign-in pages.
    Local,
    /// In the Microsoft Entra tenant of `[entra]`.
    Entra,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleConfig {
    pub name: String,
    pub sources: Vec<String>,
    pub groups: Vec<String>,
    pub without_passkey: bool,
    pub when: When,
    pub days_before_hire: u32,
    pub lifetime_minutes: Option<u32>,
    pub usable_once: Option<bool>,
    pub start_at_hire_date: bool,
    pub recipients: Vec<String>,
    pub cc: Vec<String>,
    pub mint: Mint,
    /// Entra keeps one pass per user: replace one the user has (else the message fails).
    pub replace_existing_pass: bool,
}

impl Default for RuleConfig {
    fn default() -> Self {
        RuleConfig {
            name: String::new(),
            sources: vec![],
            groups: vec![],
            without_passkey: true,
            when: When::Creation,
            days_before_hire: 0,
            lifetime_minutes: None,
            usable_once: None,
            start_at_hire_date: false,
            recipients: vec!["personal".into(), "work".into()],
            cc: vec![],
            mint: Mint::Local,
            replace_existing_pass: false,
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
            if smtp.security == SmtpSecurity::None && !loopback && smtp.password.is_some() {
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
                security: match s.security {
                    SmtpSecurity::Starttls => Security::StartTls,
                    SmtpSecurity::Tls => Security::Tls,
                    SmtpSecurity::None => Security::None,
                },
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

impl OnboardingConfig {
    pub fn validate(&self, errors: &mut Vec<ConfigError>) {
        if !(10..=60_000).contains(&self.poll_interval_ms) {
            errors.push(bad(
                "onboarding.poll_interval_ms",
                "must be between 10 and 60000",
            ));
        }
        for (i, r) in self.rules.iter().enumerate() {
            let key = |k: &str| format!("onboarding.rules[{i}].{k}");
            if r.name.trim().is_empty() {
                errors.push(bad(&key("name"), "every rule needs a name"));
            }
            if r.recipients.is_empty() {
                errors.push(bad(
                    &key("recipients"),
                    "list at least one of personal, work, manager",
                ));
            }
            for rcp in &r.recipients {
                if parse_recipient(rcp).is_none() {
                    errors.push(bad(
                        &key("recipients"),
                        format!("`{rcp}` is not personal, work or manager"),
                    ));
                }
            }
            for cc in &r.cc {
                if cc.parse::<lettre::Address>().is_err() {
                    errors.push(bad(&key("cc"), format!("`{cc}` is not an e-mail address")));
                }
            }
            if r.when == When::Creation && r.days_before_hire != 0 {
                errors.push(bad(
                    &key("days_before_hire"),
                    "applies only with when = \"before_hire_date\"",
                ));
            }
            if r.days_before_hire > 365 {
                errors.push(bad(&key("days_before_hire"), "must be at most 365"));
            }
            if r.replace_existing_pass && r.mint != Mint::Entra {
                errors.push(bad(
                    &key("replace_existing_pass"),
                    "applies only with mint = \"entra\" (a local pass always replaces the old one)",
                ));
            }
            if let Some(l) = r.lifetime_minutes
                && !(10..=43_200).contains(&l)
            {
                errors.push(bad(
                    &key("lifetime_minutes"),
                    "must be between 10 and 43200 (and within the TAP policy)",
                ));
            }
        }
    }

    /// The pass terms of the rules that mint in Entra, for `tapbridge entra check`.
    pub fn entra_rule_terms(&self) -> Vec<bridge::entra::RuleTerms> {
        self.rules
            .iter()
            .filter(|r| r.mint == Mint::Entra)
            .map(|r| bridge::entra::RuleTerms {
                name: r.name.clone(),
                lifetime_minutes: r.lifetime_minutes,
                usable_once: r.usable_once,
            })
            .collect()
    }

    pub fn rules(&self) -> Vec<Rule> {
        self.rules
            .iter()
            .map(|r| Rule {
                name: r.name.clone(),
                sources: r.sources.clone(),
                groups: r.groups.clone(),
                without_passkey: r.without_passkey,
                timing: match r.when {
                    When::Creation => Timing::AtCreation,
                    When::BeforeHireDate => Timing::DaysBeforeHire(r.days_before_hire),
                },
                lifetime_minutes: r.lifetime_minutes,
                usable_once: r.usable_once,
                start_at_hire_date: r.start_at_hire_date,
                recipients: r
                    .recipients
                    .iter()
                    .filter_map(|s| parse_recipient(s))
                    .collect(),
                cc: r.cc.clone(),
                mint: match r.mint {
                    Mint::Local => bridge::onboarding::Mint::Local,
                    Mint::Entra => bridge::onboarding::Mint::Entra,
                },
                replace_existing_pass: r.replace_existing_pass,
            })
            .collect()
    }
}

fn parse_recipient(s: &str) -> Option<Recipient> {
    match s.to_ascii_lowercase().as_str() {
        "personal" => Some(Recipient::Personal),
        "work" => Some(Recipient::Work),
        "manager" => Some(Recipient::Manager),
        _ => None,
    }
}
