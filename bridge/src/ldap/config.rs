//! The `[ldap]` configuration section and its `[[ldap.sources]]` tables, with their checks.
//! The binary embeds [`LdapConfig`] in its configuration; every key is documented in
//! `config.example.toml`.

use std::path::PathBuf;
use std::time::Duration;

use plugin::secret::SecretString;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LdapConfig {
    /// Run each source on its schedule inside `serve`.
    pub scheduler: bool,
    /// How often a running sync renews its source's run lock.
    pub lock_heartbeat_seconds: u64,
    /// How long a run lock's heartbeat may be silent before another run takes it over.
    pub lock_grace_seconds: u64,
    pub sources: Vec<SourceConfig>,
}

impl Default for LdapConfig {
    fn default() -> Self {
        LdapConfig {
            scheduler: true,
            lock_heartbeat_seconds: 5,
            lock_grace_seconds: 30,
            sources: Vec::new(),
        }
    }
}

/// Which directory a source is: it picks the attribute defaults and the delta method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// OpenLDAP (or 389-ds with `anchor = "nsUniqueId"`): RFC 4533 refreshOnly deltas.
    Openldap,
    /// Active Directory.
    Ad,
    /// Any LDAPv3 server: `modifyTimestamp` polling plus periodic full sweeps.
    Generic,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Openldap => "openldap",
            Kind::Ad => "ad",
            Kind::Generic => "generic",
        }
    }
}

/// How a run between full runs finds what changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeltaMethod {
    /// The kind's method: content sync for openldap, DirSync falling back to `uSNChanged`
    /// for ad, `modifyTimestamp` for generic.
    Auto,
    /// RFC 4533 refreshOnly (needs `anchor = "entryUUID"`).
    ContentSync,
    /// AD DirSync; needs the "Replicating Directory Changes" right.
    Dirsync,
    /// AD `uSNChanged` polling of one domain controller plus its Deleted Objects.
    Usn,
    /// `modifyTimestamp` polling; deletions are found by the periodic full runs.
    Timestamp,
    /// Every run is a full run.
    None,
}

impl DeltaMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            DeltaMethod::Auto => "auto",
            DeltaMethod::ContentSync => "content-sync",
            DeltaMethod::Dirsync => "dirsync",
            DeltaMethod::Usn => "usn",
            DeltaMethod::Timestamp => "timestamp",
            DeltaMethod::None => "none",
        }
    }
}

/// What happens to a user whose entry left the directory.
pub use plugin::domain::directory_sync::OnDelete;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SourceConfig {
    /// Short name; users get the source `ldap:<name>`.
    pub name: String,
    pub kind: Kind,
    /// `ldap://host:389` or `ldaps://host:636`.
    pub url: String,
    pub starttls: bool,
    /// PEM file of the CA(s) to trust instead of the system store.
    pub ca_file: Option<PathBuf>,
    /// Verify the server certificate. Off only for testing.
    pub verify: bool,
    /// Empty: anonymous bind.
    pub bind_dn: String,
    pub password: Option<SecretString>,
    pub password_file: Option<PathBuf>,
    pub base_dns: Vec<String>,
    /// Empty: the kind's default.
    pub user_filter: String,
    /// Empty: the kind's default.
    pub group_filter: String,
    pub page_size: u32,
    /// Entries written per transaction.
    pub batch_size: u32,
    pub connect_timeout_seconds: u64,
    /// Longest wait for one LDAP response (a page, a bind); a run that waits longer fails
    /// and deletes nothing.
    pub operation_timeout_seconds: u64,
    /// Minutes between runs under `serve` (0: never scheduled).
    pub interval_minutes: u64,
    /// Hours between full runs (mark-and-sweep) under `serve`; deltas run in between.
    pub full_interval_hours: u64,
    /// How deltas are read.
    pub delta: DeltaMethod,
    pub on_delete: OnDelete,
    /// The largest share of this source's users (0.0–1.0) one run may disable or delete
    /// without `--force`.
    pub max_deprovision_share: f64,
    pub attributes: AttributeOverrides,
}

impl Default for SourceConfig {
    fn default() -> Self {
        SourceConfig {
            name: String::new(),
            kind: Kind::Openldap,
            url: String::new(),
            starttls: false,
            ca_file: None,
            verify: true,
            bind_dn: String::new(),
            password: None,
            password_file: None,
            base_dns: Vec::new(),
            user_filter: String::new(),
            group_filter: String::new(),
            page_size: 500,
            batch_size: 1000,
            connect_timeout_seconds: 10,
            operation_timeout_seconds: 120,
            interval_minutes: 15,
            full_interval_hours: 24,
            delta: DeltaMethod::Auto,
            on_delete: OnDelete::Disable,
            max_deprovision_share: 0.10,
            attributes: AttributeOverrides::default(),
        }
    }
}

/// Attribute names that replace the kind's defaults (see `mapping::AttributeMap`). Unset keeps
/// the default; an empty string switches an optional attribute off.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttributeOverrides {
    pub anchor: Option<String>,
    pub user_name: Option<String>,
    pub login: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub mail: Option<String>,
    pub other_mails: Option<String>,
    pub personal_email: Option<String>,
    pub manager: Option<String>,
    pub hire_date: Option<String>,
    pub group_name: Option<String>,
}

impl SourceConfig {
    /// The `source` column of this source's users and groups.
    pub fn source_id(&self) -> String {
        format!("ldap:{}", self.name)
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_seconds)
    }

    pub fn operation_timeout(&self) -> Duration {
        Duration::from_secs(self.operation_timeout_seconds)
    }
}

impl LdapConfig {
    pub fn lock_settings(&self) -> super::LockSettings {
        super::LockSettings {
            heartbeat: Duration::from_secs(self.lock_heartbeat_seconds),
            grace: Duration::from_secs(self.lock_grace_seconds),
        }
    }

    /// Checks every source; reads `password_file`s. Returns (key, reason) pairs.
    pub fn validate(&mut self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        if !(1..=300).contains(&self.lock_heartbeat_seconds) {
            errors.push((
                "ldap.lock_heartbeat_seconds".into(),
                "must be between 1 and 300".into(),
            ));
        } else if self.lock_grace_seconds < 2 * self.lock_heartbeat_seconds
            || self.lock_grace_seconds > 86_400
        {
            // One late heartbeat (a busy database) must not hand a live run's source over.
            errors.push((
                "ldap.lock_grace_seconds".into(),
                "must be at least twice ldap.lock_heartbeat_seconds, and at most 86400".into(),
            ));
        }
        let mut names = std::collections::HashSet::new();
        for (i, s) in self.sources.iter_mut().enumerate() {
            let key = |k: &str| format!("ldap.sources[{i}].{k}");
            let mut bad = |k: &str, why: &str| errors.push((key(k), why.to_owned()));
            if s.name.is_empty()
                || !s
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                bad("name", "must be non-empty letters, digits, `-` or `_`");
            } else if !names.insert(s.name.clone()) {
                bad("name", "is used by two sources");
            }
            if !(s.url.starts_with("ldap://") || s.url.starts_with("ldaps://")) {
                bad("url", "must start with ldap:// or ldaps://");
            }
            if s.starttls && s.url.starts_with("ldaps://") {
                bad("starttls", "cannot be combined with an ldaps:// url");
            }
            if s.base_dns.is_empty() || s.base_dns.iter().any(|b| b.trim().is_empty()) {
                bad("base_dns", "must list at least one non-empty base DN");
            }
            if !(1..=10_000).contains(&s.page_size) {
                bad("page_size", "must be between 1 and 10000");
            }
            if !(1..=50_000).contains(&s.batch_size) {
                bad("batch_size", "must be between 1 and 50000");
            }
            if !(1..=600).contains(&s.connect_timeout_seconds) {
                bad("connect_timeout_seconds", "must be between 1 and 600");
            }
            if !(1..=3600).contains(&s.operation_timeout_seconds) {
                bad("operation_timeout_seconds", "must be between 1 and 3600");
            }
            if !(0.0..=1.0).contains(&s.max_deprovision_share) {
                bad("max_deprovision_share", "must be between 0.0 and 1.0");
            }
            for (k, f) in [
                ("user_filter", &s.user_filter),
                ("group_filter", &s.group_filter),
            ] {
                if !f.is_empty() && ldap3::parse_filter(f).is_err() {
                    bad(k, "is not a valid LDAP filter");
                }
            }
            let anchor = s.attributes.anchor.as_deref();
            match s.delta {
                DeltaMethod::ContentSync
                    if !anchor
                        .unwrap_or("entryUUID")
                        .eq_ignore_ascii_case("entryUUID")
                        || s.kind == Kind::Ad =>
                {
                    bad("delta", "content-sync needs the entryUUID anchor")
                }
                DeltaMethod::Dirsync | DeltaMethod::Usn
                    if s.kind != Kind::Ad
                        || !anchor
                            .unwrap_or("objectGUID")
                            .eq_ignore_ascii_case("objectGUID") =>
                {
                    bad(
                        "delta",
                        "dirsync and usn need kind = \"ad\" and the objectGUID anchor",
                    )
                }
                _ => {}
            }
            match (&s.password, &s.password_file) {
                (Some(_), Some(_)) => {
                    bad("password_file", "set password or password_file, not both")
                }
                (None, Some(file)) => match std::fs::read_to_string(file) {
                    Ok(p) => {
                        s.password = Some(SecretString::new(
                            p.trim_end_matches(['\r', '\n']).to_owned(),
                        ))
                    }
                    Err(e) => errors.push((
                        key("password_file"),
                        format!("cannot read `{}`: {e}", file.display()),
                    )),
                },
                _ => {}
            }
            if let Some(ca) = &s.ca_file
                && !ca.is_file()
            {
                errors.push((key("ca_file"), format!("`{}` does not exist", ca.display())));
            }
        }
        errors
    }

    pub fn source(&self, name: &str) -> Option<&SourceConfig> {
        self.sources.iter().find(|s| s.name == name)
    }

    /// The user sources (`ldap:<name>`) whose anchor is the AD objectGUID — what Entra
    /// Connect and Cloud Sync write, base64-encoded, into `onPremisesImmutableId`.
    pub fn guid_sources(&self) -> std::collections::HashSet<String> {
        self.sources
            .iter()
            .filter(|s| {
                crate::ldap::mapping::AttributeMap::new(s.kind, &s.attributes)
                    .anchor
                    .eq_ignore_ascii_case("objectGUID")
            })
            .map(|s| format!("ldap:{}", s.name))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_key() {
        let mut c = LdapConfig {
            sources: vec![SourceConfig {
                name: "corp".into(),
                url: "http://x".into(),
                page_size: 0,
                user_filter: "(broken".into(),
                max_deprovision_share: 2.0,
                ..Default::default()
            }],
            ..Default::default()
        };
        let keys: Vec<String> = c.validate().into_iter().map(|(k, _)| k).collect();
        for k in [
            "url",
            "base_dns",
            "page_size",
            "user_filter",
            "max_deprovision_share",
        ] {
            assert!(
                keys.contains(&format!("ldap.sources[0].{k}")),
                "{k}: {keys:?}"
            );
        }
        let mut tight = LdapConfig {
            lock_heartbeat_seconds: 5,
            lock_grace_seconds: 9,
            ..Default::default()
        };
        assert_eq!(tight.validate()[0].0, "ldap.lock_grace_seconds");
        let mut ok = LdapConfig {
            sources: vec![SourceConfig {
                name: "corp".into(),
                url: "ldap://127.0.0.1:389".into(),
                base_dns: vec!["dc=example,dc=com".into()],
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(ok.validate().is_empty());
    }
}
