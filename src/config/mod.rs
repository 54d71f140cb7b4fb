//! Typed configuration: defaults, then the TOML file, then `TAPBRIDGE_…` environment variables
//! (nested keys joined by `__`, e.g. `TAPBRIDGE_SERVER__LISTEN`). Every key is documented in
//! `config.example.toml`. A bad value stops start-up with the key's name and the reason.

//!
//! One module per section; each checks its own keys (`validate`) and turns itself into the
//! settings of the subsystem that uses it. The LDAP and Entra sections are the bridge's own
//! types (`bridge::ldap::LdapConfig`, `bridge::entra::EntraConfig`), checked here the same way.

mod audit;
mod database;
mod entra_eam;
mod error;
mod log;
mod mail;
mod oidc;
mod onboarding;
mod scim;
mod secrets;
mod server;
mod tap;
mod web;

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;

pub use audit::AuditConfig;
pub use database::{DatabaseConfig, Durability};
pub use error::ConfigError;
pub(crate) use error::bad;
pub use log::{LogConfig, LogFormat};
pub use mail::MailConfig;
pub use oidc::OidcConfig;
pub use onboarding::{Mint, OnboardingConfig};
pub use scim::ScimConfig;
pub use secrets::SecretsConfig;
pub use server::ServerConfig;
pub use tap::TapConfig;
pub use web::WebConfig;

#[derive(Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the database, the generated server secret and the mail outbox live.
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub secrets: SecretsConfig,
    pub tap: TapConfig,
    pub audit: AuditConfig,
    pub scim: ScimConfig,
    /// LDAP / Active Directory sources (`[ldap]`, `[[ldap.sources]]`).
    pub ldap: bridge::ldap::LdapConfig,
    pub web: WebConfig,
    pub mail: MailConfig,
    pub onboarding: OnboardingConfig,
    /// The Entra connector (`[entra]`): passes minted in a Microsoft Entra tenant.
    pub entra: bridge::entra::EntraConfig,
    pub oidc: OidcConfig,
    pub log: LogConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("data"),
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            secrets: SecretsConfig::default(),
            tap: TapConfig::default(),
            audit: AuditConfig::default(),
            scim: ScimConfig::default(),
            ldap: bridge::ldap::LdapConfig::default(),
            web: WebConfig::default(),
            mail: Default::default(),
            onboarding: Default::default(),
            entra: Default::default(),
            oidc: Default::default(),
            log: LogConfig::default(),
        }
    }
}

impl Config {
    /// Loads `path` if given (it must exist), else `tapbridge.toml` if present, then the
    /// environment; then checks every value.
    pub fn load(path: Option<&Path>) -> Result<Config, Vec<ConfigError>> {
        let mut figment = Figment::new();
        match path {
            Some(p) if !p.is_file() => {
                return Err(vec![bad(
                    "",
                    format!("config file `{}` does not exist", p.display()),
                )]);
            }
            Some(p) => figment = figment.merge(Toml::file(p)),
            None if Path::new("tapbridge.toml").is_file() => {
                figment = figment.merge(Toml::file("tapbridge.toml"))
            }
            None => {}
        }
        figment = figment.merge(Env::prefixed("TAPBRIDGE_").split("__"));
        let mut config: Config = figment.extract().map_err(|errors| {
            errors
                .into_iter()
                .map(|e| {
                    let key = e.path.join(".");
                    let mut reason = e.kind.to_string();
                    if let Some(m) = &e.metadata {
                        reason = format!("{reason} (from {})", m.name);
                    }
                    ConfigError { key, reason }
                })
                .collect::<Vec<_>>()
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&mut self) -> Result<(), Vec<ConfigError>> {
        let mut errors = Vec::new();
        if self.data_dir.as_os_str().is_empty() {
            errors.push(bad("data_dir", "must not be empty"));
        }
        if self.database.path.as_os_str().is_empty() {
            self.database.path = self.data_dir.join("tapbridge.db");
        }
        self.server.validate(&mut errors);
        self.database.validate(&mut errors);
        self.secrets.validate(&mut errors);
        self.tap.validate(&mut errors);
        self.audit.validate(&mut errors);
        self.scim.validate(&mut errors);
        self.web.validate(&mut errors);
        self.mail.validate(&mut errors);
        self.onboarding.validate(&mut errors);
        self.oidc.validate(&mut errors);
        self.log.validate(&mut errors);
        for (key, reason) in self.ldap.validate() {
            errors.push(bad(&key, reason));
        }
        for (key, reason) in self.entra.validate() {
            errors.push(bad(&key, reason));
        }
        for (i, rule) in self.onboarding.rules.iter().enumerate() {
            if rule.mint == Mint::Entra && !self.entra.enabled() {
                errors.push(bad(
                    &format!("onboarding.rules[{i}].mint"),
                    "\"entra\" needs the [entra] section (tenant_id, client_id and a credential)",
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../config.example.toml");

    #[test]
    fn the_example_file_is_valid_and_states_the_defaults() {
        let parsed: Config = Figment::new()
            .merge(Toml::string(EXAMPLE))
            .extract()
            .expect("example parses");
        assert_eq!(parsed, Config::default());
    }

    /// Every key in the example, set or commented out, carries the right environment variable
    /// name in its comment block.
    #[test]
    fn the_example_file_names_every_environment_variable() {
        let mut section = String::new();
        let mut block = Vec::new();
        let mut keys = 0;
        for line in EXAMPLE.lines().map(str::trim) {
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.to_owned();
                block.clear();
                continue;
            }
            let candidate = line.trim_start_matches("# ");
            let is_key = candidate.split_once(" = ").is_some_and(|(k, _)| {
                !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            });
            if is_key {
                let key = candidate
                    .split_once(" = ")
                    .map(|(k, _)| k)
                    .unwrap_or_default();
                let path = if section.is_empty() {
                    key.to_owned()
                } else {
                    format!("{section}.{key}")
                };
                let env = format!(
                    "# env: TAPBRIDGE_{}",
                    path.replace('.', "__").to_uppercase()
                );
                assert!(
                    block.iter().any(|l: &&str| *l == env),
                    "`{path}` lacks `{env}`"
                );
                keys += 1;
                block.clear();
            } else if line.starts_with('#') {
                block.push(line);
            } else if line.is_empty() {
                block.clear();
            }
        }
        assert!(keys >= 15, "found only {keys} keys");
    }
}
