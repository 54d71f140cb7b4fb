//! Typed configuration: defaults, then the TOML file, then `TAPBRIDGE_…` environment variables
//! (nested keys joined by `__`, e.g. `TAPBRIDGE_SERVER__LISTEN`). Every key is documented in
//! `config.example.toml`. A bad value stops start-up with the key's name and the reason.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use plugin::secret::SecretString;
use serde::Deserialize;

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
    pub mail: crate::mail_config::MailConfig,
    pub onboarding: crate::mail_config::OnboardingConfig,
    /// The Entra connector (`[entra]`): passes minted in a Microsoft Entra tenant.
    pub entra: bridge::entra::EntraConfig,
    pub oidc: crate::oidc_config::OidcConfig,
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

#[derive(Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Externally visible base URL. Empty: derived from the bound address.
    pub public_url: String,
    pub body_limit_bytes: usize,
    pub shutdown_timeout_seconds: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: String::new(),
            body_limit_bytes: 64 * 1024,
            shutdown_timeout_seconds: 10,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    Full,
    Normal,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Empty or `sqlite:`: the embedded SQLite file at `path`. `postgres://user@host/db`:
    /// PostgreSQL, for several nodes.
    pub url: String,
    /// PostgreSQL password, read from this file (never in the URL).
    pub password_file: Option<PathBuf>,
    /// PostgreSQL over TLS, the server verified against this CA (`verify-full`).
    pub ca_file: Option<PathBuf>,
    /// PostgreSQL: statements running longer are cancelled.
    pub statement_timeout_ms: u64,
    /// SQLite file. Empty: `<data_dir>/tapbridge.db`.
    pub path: PathBuf,
    pub max_connections: u32,
    pub busy_timeout_ms: u64,
    pub durability: Durability,
    /// SQLite page cache per connection, MiB.
    pub cache_mib: u32,
    /// SQLite: the largest the database may grow, MiB (0: no cap).
    pub max_size_mib: u32,
    /// PostgreSQL: how often a node tries to become the leader (or checks that it still is).
    pub leader_interval_seconds: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: String::new(),
            password_file: None,
            ca_file: None,
            statement_timeout_ms: 30_000,
            path: PathBuf::new(),
            max_connections: 8,
            busy_timeout_ms: 5000,
            durability: Durability::Full,
            cache_mib: 16,
            max_size_mib: 0,
            leader_interval_seconds: 5,
        }
    }
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsConfig {
    pub server_secret: Option<SecretString>,
    pub server_secret_file: Option<PathBuf>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TapConfig {
    pub max_failed_attempts: u32,
    pub retention_days: u32,
    pub purge_interval_minutes: u64,
}

impl Default for TapConfig {
    fn default() -> Self {
        TapConfig {
            max_failed_attempts: 10,
            retention_days: 30,
            purge_interval_minutes: 60,
        }
    }
}

/// The audit log: how long records are kept, and how repeats of a failure are counted.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Days a record is kept after its last occurrence; 0: for ever.
    pub retention_days: u32,
    pub purge_interval_minutes: u64,
    /// Repeats of an identical failed sign-in within this many minutes share one record.
    pub coalesce_window_minutes: u32,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            retention_days: 365,
            purge_interval_minutes: 60,
            coalesce_window_minutes: 15,
        }
    }
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScimConfig {
    pub enabled: bool,
    pub max_results: u32,
    pub personal_email_attribute: String,
    pub hire_date_attribute: String,
}

impl Default for ScimConfig {
    fn default() -> Self {
        ScimConfig {
            enabled: true,
            max_results: 1000,
            personal_email_attribute: bridge::provisioning::mapping::DEFAULT_PERSONAL_EMAIL.into(),
            hire_date_attribute: bridge::provisioning::mapping::DEFAULT_HIRE_DATE.into(),
        }
    }
}

impl ScimConfig {
    /// The attribute mapping, checked: a path that does not parse or names no attribute is
    /// a configuration error.
    pub fn mapping(&self) -> Result<bridge::provisioning::Mapping, String> {
        bridge::provisioning::Mapping::new(
            &self.personal_email_attribute,
            &self.hire_date_attribute,
        )
    }
}

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

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing filter: `info`, `debug`, `tapbridge=debug,sqlx=warn` …
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

impl WebConfig {
    fn validate(&self, errors: &mut Vec<ConfigError>) {
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

/// A configuration problem: which key, and why.
#[derive(Debug)]
pub struct ConfigError {
    pub key: String,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "invalid configuration: {}", self.reason)
        } else {
            let env = format!("TAPBRIDGE_{}", self.key.replace('.', "__").to_uppercase());
            write!(
                f,
                "invalid configuration: `{}` (env {env}): {}",
                self.key, self.reason
            )
        }
    }
}

fn bad(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        reason: reason.into(),
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
        let url = self.server.public_url.trim_end_matches('/').to_owned();
        if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
            errors.push(bad(
                "server.public_url",
                "must start with http:// or https://",
            ));
        }
        self.server.public_url = url;
        if !(1024..=16 * 1024 * 1024).contains(&self.server.body_limit_bytes) {
            errors.push(bad(
                "server.body_limit_bytes",
                "must be between 1024 and 16777216",
            ));
        }
        if self.server.shutdown_timeout_seconds > 600 {
            errors.push(bad(
                "server.shutdown_timeout_seconds",
                "must be at most 600",
            ));
        }
        let db_url = self.database.url.trim();
        if let Some(rest) = db_url
            .strip_prefix("postgres://")
            .or_else(|| db_url.strip_prefix("postgresql://"))
        {
            let authority = rest.split(['/', '?']).next().unwrap_or_default();
            if authority
                .rsplit_once('@')
                .is_some_and(|(user, _)| user.contains(':'))
            {
                errors.push(bad(
                    "database.url",
                    "must not carry a password: put it in database.password_file",
                ));
            }
        } else if !(db_url.is_empty() || db_url == "sqlite:") {
            errors.push(bad(
                "database.url",
                "must be empty, `sqlite:` or a postgres:// URL",
            ));
        }
        if !(1..=3600).contains(&self.database.leader_interval_seconds) {
            errors.push(bad(
                "database.leader_interval_seconds",
                "must be between 1 and 3600",
            ));
        }
        if !(1..=3_600_000).contains(&self.database.statement_timeout_ms) {
            errors.push(bad(
                "database.statement_timeout_ms",
                "must be between 1 and 3600000",
            ));
        }
        if !(1..=64).contains(&self.database.max_connections) {
            errors.push(bad("database.max_connections", "must be between 1 and 64"));
        }
        if !(1..=4096).contains(&self.database.cache_mib) {
            errors.push(bad("database.cache_mib", "must be between 1 and 4096"));
        }
        if !(1..=60_000).contains(&self.database.busy_timeout_ms) {
            errors.push(bad(
                "database.busy_timeout_ms",
                "must be between 1 and 60000",
            ));
        }
        if !(1..=100).contains(&self.tap.max_failed_attempts) {
            errors.push(bad("tap.max_failed_attempts", "must be between 1 and 100"));
        }
        if self.tap.retention_days > 3650 {
            errors.push(bad("tap.retention_days", "must be at most 3650"));
        }
        if !(1..=10_080).contains(&self.tap.purge_interval_minutes) {
            errors.push(bad(
                "tap.purge_interval_minutes",
                "must be between 1 and 10080",
            ));
        }
        if self.audit.retention_days > 36_500 {
            errors.push(bad("audit.retention_days", "must be at most 36500"));
        }
        if !(1..=10_080).contains(&self.audit.purge_interval_minutes) {
            errors.push(bad(
                "audit.purge_interval_minutes",
                "must be between 1 and 10080",
            ));
        }
        if !(1..=1440).contains(&self.audit.coalesce_window_minutes) {
            errors.push(bad(
                "audit.coalesce_window_minutes",
                "must be between 1 and 1440",
            ));
        }
        if !(1..=10_000).contains(&self.scim.max_results) {
            errors.push(bad("scim.max_results", "must be between 1 and 10000"));
        }
        if let Err(e) =
            bridge::provisioning::Mapping::new(&self.scim.personal_email_attribute, "userName")
        {
            errors.push(bad("scim.personal_email_attribute", e));
        }
        if let Err(e) =
            bridge::provisioning::Mapping::new("userName", &self.scim.hire_date_attribute)
        {
            errors.push(bad("scim.hire_date_attribute", e));
        }
        self.web.validate(&mut errors);
        self.mail.validate(&mut errors);
        self.onboarding.validate(&mut errors);
        self.oidc.validate(&mut errors);
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            errors.push(bad("log.level", format!("not a valid filter: {e}")));
        }
        match (
            &self.secrets.server_secret,
            &self.secrets.server_secret_file,
        ) {
            (Some(_), Some(_)) => errors.push(bad(
                "secrets.server_secret_file",
                "set either secrets.server_secret or secrets.server_secret_file, not both",
            )),
            (None, Some(file)) => match std::fs::read_to_string(file) {
                Ok(s) => self.secrets.server_secret = Some(SecretString::new(s.trim().to_owned())),
                Err(e) => errors.push(bad(
                    "secrets.server_secret_file",
                    format!("cannot read `{}`: {e}", file.display()),
                )),
            },
            _ => {}
        }
        if let Some(s) = &self.secrets.server_secret
            && s.expose().len() < plugin::secret::ServerSecret::MIN_LEN
        {
            errors.push(bad(
                "secrets.server_secret",
                format!(
                    "must be at least {} characters",
                    plugin::secret::ServerSecret::MIN_LEN
                ),
            ));
        }
        for (key, reason) in self.ldap.validate() {
            errors.push(bad(&key, reason));
        }
        for (key, reason) in self.entra.validate() {
            errors.push(bad(&key, reason));
        }
        for (i, rule) in self.onboarding.rules.iter().enumerate() {
            if rule.mint == crate::mail_config::Mint::Entra && !self.entra.enabled() {
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

    const EXAMPLE: &str = include_str!("../config.example.toml");

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
