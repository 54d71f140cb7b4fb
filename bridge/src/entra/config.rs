//! The `[entra]` configuration section and its checks. The binary embeds [`EntraConfig`];
//! every key is documented in `config.example.toml`. An empty `tenant_id` switches the
//! connector off.

use std::path::PathBuf;
use std::time::Duration;

use plugin::secret::SecretString;
use serde::Deserialize;

use super::credential::{Certificate, Credential};

pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
pub const DEFAULT_GRAPH: &str = "https://graph.microsoft.com";
pub const DEFAULT_SECURITY_INFO: &str = "https://mysignins.microsoft.com/security-info";

/// Which Entra property identifies a tapbridge user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum UserMatch {
    /// The same user principal name in both.
    #[serde(rename = "userPrincipalName")]
    UserPrincipalName,
    /// Base64 of the AD objectGUID: users that Entra Connect or Cloud Sync synchronise from
    /// the Active Directory tapbridge reads.
    #[serde(rename = "onPremisesImmutableId")]
    OnPremisesImmutableId,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EntraConfig {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    pub client_secret_file: Option<PathBuf>,
    /// PEM private key of the certificate uploaded to the app registration.
    pub certificate_key_file: Option<PathBuf>,
    /// The certificate's thumbprint in hex (SHA-1, or SHA-256).
    pub certificate_thumbprint: String,
    pub authority_url: String,
    pub graph_url: String,
    pub user_match: UserMatch,
    pub my_security_info_url: String,
    /// Graph requests in flight at once.
    pub concurrency: usize,
    pub timeout_seconds: u64,
    /// How long a joiner's pass waits for their Entra account to appear (directory sync)
    /// before the message fails.
    pub user_wait_hours: u32,
    /// An HTTP(S) proxy for every request to Entra. Empty: direct.
    pub proxy: String,
}

impl Default for EntraConfig {
    fn default() -> Self {
        EntraConfig {
            tenant_id: String::new(),
            client_id: String::new(),
            client_secret: None,
            client_secret_file: None,
            certificate_key_file: None,
            certificate_thumbprint: String::new(),
            authority_url: DEFAULT_AUTHORITY.into(),
            graph_url: DEFAULT_GRAPH.into(),
            user_match: UserMatch::UserPrincipalName,
            my_security_info_url: DEFAULT_SECURITY_INFO.into(),
            concurrency: 4,
            timeout_seconds: 30,
            user_wait_hours: 24,
            proxy: String::new(),
        }
    }
}

/// `https://…`, or `http://` to this host only (a test double, a local proxy's endpoint).
fn url_ok(url: &str) -> bool {
    if url.starts_with("https://") {
        return url.len() > "https://".len();
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split('/').next().unwrap_or_default();
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

impl EntraConfig {
    pub fn enabled(&self) -> bool {
        !self.tenant_id.trim().is_empty()
    }

    /// Checks the section (`entra.…` keys and why), trimming URLs and reading
    /// `client_secret_file` into `client_secret`.
    pub fn validate(&mut self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        let mut bad = |k: &str, why: String| errors.push((format!("entra.{k}"), why));
        for url in [
            &mut self.authority_url,
            &mut self.graph_url,
            &mut self.my_security_info_url,
        ] {
            *url = url.trim().trim_end_matches('/').to_owned();
        }
        for (key, url) in [
            ("authority_url", &self.authority_url),
            ("graph_url", &self.graph_url),
        ] {
            if !url_ok(url) {
                bad(
                    key,
                    "must be an https:// URL (http:// only on localhost)".into(),
                );
            }
        }
        if !(self.my_security_info_url.starts_with("https://")
            || url_ok(&self.my_security_info_url))
        {
            bad("my_security_info_url", "must be an https:// URL".into());
        }
        if !(1..=64).contains(&self.concurrency) {
            bad("concurrency", "must be between 1 and 64".into());
        }
        if !(1..=300).contains(&self.timeout_seconds) {
            bad("timeout_seconds", "must be between 1 and 300".into());
        }
        if !(1..=720).contains(&self.user_wait_hours) {
            bad(
                "user_wait_hours",
                "must be between 1 and 720 (30 days)".into(),
            );
        }
        if !(self.proxy.is_empty()
            || self.proxy.starts_with("http://")
            || self.proxy.starts_with("https://"))
        {
            bad(
                "proxy",
                "must be empty or an http:// or https:// URL".into(),
            );
        }
        let credentials = [
            self.client_secret.is_some(),
            self.client_secret_file.is_some(),
            self.certificate_key_file.is_some(),
        ]
        .iter()
        .filter(|c| **c)
        .count();
        if !self.enabled() {
            if credentials > 0 || !self.client_id.is_empty() {
                bad(
                    "tenant_id",
                    "is required when the other entra keys are set".into(),
                );
            }
            return errors;
        }
        let tenant = self.tenant_id.trim();
        if !tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            bad(
                "tenant_id",
                "must be the directory (tenant) id or a verified domain name".into(),
            );
        }
        self.tenant_id = tenant.to_owned();
        if uuid::Uuid::try_parse(self.client_id.trim()).is_err() {
            bad(
                "client_id",
                "must be the application (client) id, a GUID".into(),
            );
        }
        self.client_id = self.client_id.trim().to_owned();
        if credentials != 1 {
            bad(
                "client_secret",
                "set exactly one of client_secret, client_secret_file and certificate_key_file"
                    .into(),
            );
            return errors;
        }
        if let Some(file) = &self.client_secret_file {
            match std::fs::read_to_string(file) {
                Ok(s) if !s.trim().is_empty() => {
                    self.client_secret = Some(SecretString::new(s.trim().to_owned()))
                }
                Ok(_) => bad(
                    "client_secret_file",
                    format!("`{}` is empty", file.display()),
                ),
                Err(e) => bad(
                    "client_secret_file",
                    format!("cannot read `{}`: {e}", file.display()),
                ),
            }
        }
        if self.certificate_key_file.is_some() {
            if let Err((key, why)) = self.certificate() {
                bad(key, why);
            }
        } else if !self.certificate_thumbprint.is_empty() {
            bad(
                "certificate_thumbprint",
                "applies only with certificate_key_file".into(),
            );
        }
        errors
    }

    fn certificate(&self) -> Result<Certificate, (&'static str, String)> {
        let file = self
            .certificate_key_file
            .as_ref()
            .ok_or(("certificate_key_file", "is not set".to_owned()))?;
        let pem = std::fs::read_to_string(file).map_err(|e| {
            (
                "certificate_key_file",
                format!("cannot read `{}`: {e}", file.display()),
            )
        })?;
        if self.certificate_thumbprint.trim().is_empty() {
            return Err((
                "certificate_thumbprint",
                "is required with certificate_key_file".to_owned(),
            ));
        }
        Certificate::from_pem(&pem, &self.certificate_thumbprint).map_err(|e| {
            let key = if e.contains("thumbprint") {
                "certificate_thumbprint"
            } else {
                "certificate_key_file"
            };
            (key, e)
        })
    }

    /// The credential, after [`validate`](Self::validate) found the section sound.
    pub fn credential(&self) -> Result<Credential, String> {
        if let Some(secret) = &self.client_secret {
            return Ok(Credential::Secret(secret.clone()));
        }
        self.certificate()
            .map(|c| Credential::Certificate(Box::new(c)))
            .map_err(|(key, why)| format!("entra.{key}: {why}"))
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_seconds)
    }

    pub fn user_wait(&self) -> Duration {
        Duration::from_secs(u64::from(self.user_wait_hours) * 3600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/support/entra/app_key.pem"
    );

    fn configured() -> EntraConfig {
        EntraConfig {
            tenant_id: "contoso.onmicrosoft.com".into(),
            client_id: "00000000-0000-0000-0000-00000000000a".into(),
            client_secret: Some(SecretString::new("s".into())),
            ..EntraConfig::default()
        }
    }

    fn keys(mut c: EntraConfig) -> Vec<String> {
        c.validate().into_iter().map(|(k, _)| k).collect()
    }

    #[test]
    fn off_by_default_and_sound_when_configured() {
        assert!(!EntraConfig::default().enabled());
        assert!(keys(EntraConfig::default()).is_empty());
        assert!(keys(configured()).is_empty());
        let half = EntraConfig {
            client_id: "x".into(),
            ..EntraConfig::default()
        };
        assert_eq!(keys(half), ["entra.tenant_id"]);
    }

    #[test]
    fn exactly_one_credential() {
        let none = EntraConfig {
            client_secret: None,
            ..configured()
        };
        assert_eq!(keys(none), ["entra.client_secret"]);
        let two = EntraConfig {
            certificate_key_file: Some(KEY.into()),
            ..configured()
        };
        assert_eq!(keys(two), ["entra.client_secret"]);
    }

    #[test]
    fn a_certificate_needs_its_key_and_thumbprint() {
        let cert = |file: &str, thumb: &str| EntraConfig {
            client_secret: None,
            certificate_key_file: Some(file.into()),
            certificate_thumbprint: thumb.into(),
            ..configured()
        };
        let good = cert(KEY, "155E2C8556C956D0E0D59A965B6F304E78155B8F");
        assert!(keys(good.clone()).is_empty());
        assert!(matches!(good.credential(), Ok(Credential::Certificate(_))));
        assert_eq!(keys(cert(KEY, "")), ["entra.certificate_thumbprint"]);
        assert_eq!(keys(cert(KEY, "12")), ["entra.certificate_thumbprint"]);
        assert_eq!(
            keys(cert(
                "/nonexistent.pem",
                "155E2C8556C956D0E0D59A965B6F304E78155B8F"
            )),
            ["entra.certificate_key_file"]
        );
        let stray = EntraConfig {
            certificate_thumbprint: "aa".into(),
            ..configured()
        };
        assert_eq!(keys(stray), ["entra.certificate_thumbprint"]);
    }

    #[test]
    fn secret_files_are_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s");
        std::fs::write(&file, "abc~123\n").unwrap();
        let mut c = EntraConfig {
            client_secret: None,
            client_secret_file: Some(file.clone()),
            ..configured()
        };
        assert!(c.validate().is_empty());
        assert_eq!(
            c.client_secret.as_ref().map(|s| s.expose()),
            Some("abc~123")
        );
        std::fs::write(&file, "\n").unwrap();
        let empty = EntraConfig {
            client_secret: None,
            client_secret_file: Some(file),
            ..configured()
        };
        assert_eq!(keys(empty), ["entra.client_secret_file"]);
    }

    #[test]
    fn values_are_checked() {
        let with = |f: &dyn Fn(&mut EntraConfig)| {
            let mut c = configured();
            f(&mut c);
            keys(c)
        };
        assert_eq!(with(&|c| c.client_id = "app".into()), ["entra.client_id"]);
        assert_eq!(with(&|c| c.tenant_id = "a/b".into()), ["entra.tenant_id"]);
        assert_eq!(
            with(&|c| c.graph_url = "http://graph.example".into()),
            ["entra.graph_url"]
        );
        assert!(with(&|c| c.graph_url = "http://127.0.0.1:8081/".into()).is_empty());
        assert!(with(&|c| c.authority_url = "http://localhost".into()).is_empty());
        assert_eq!(
            with(&|c| c.my_security_info_url = "ftp://x".into()),
            ["entra.my_security_info_url"]
        );
        assert_eq!(with(&|c| c.concurrency = 0), ["entra.concurrency"]);
        assert_eq!(with(&|c| c.timeout_seconds = 0), ["entra.timeout_seconds"]);
        assert_eq!(with(&|c| c.user_wait_hours = 0), ["entra.user_wait_hours"]);
        assert_eq!(with(&|c| c.proxy = "socks5://x".into()), ["entra.proxy"]);
        let mut trimmed = configured();
        trimmed.graph_url = "https://graph.microsoft.us/".into();
        assert!(trimmed.validate().is_empty());
        assert_eq!(trimmed.graph_url, "https://graph.microsoft.us");
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let c = EntraConfig {
            client_secret: Some(SecretString::new("hunter2-secret".into())),
            ..configured()
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
