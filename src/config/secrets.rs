//! `[secrets]`: the server secret every hash and seal is keyed with.

use std::path::PathBuf;

use plugin::secret::SecretString;
use serde::Deserialize;

use super::{ConfigError, bad};

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsConfig {
    pub server_secret: Option<SecretString>,
    pub server_secret_file: Option<PathBuf>,
}

impl SecretsConfig {
    /// Checks the section, reading `server_secret_file` into `server_secret`.
    pub fn validate(&mut self, errors: &mut Vec<ConfigError>) {
        match (&self.server_secret, &self.server_secret_file) {
            (Some(_), Some(_)) => errors.push(bad(
                "secrets.server_secret_file",
                "set either secrets.server_secret or secrets.server_secret_file, not both",
            )),
            (None, Some(file)) => match std::fs::read_to_string(file) {
                Ok(s) => self.server_secret = Some(SecretString::new(s.trim().to_owned())),
                Err(e) => errors.push(bad(
                    "secrets.server_secret_file",
                    format!("cannot read `{}`: {e}", file.display()),
                )),
            },
            _ => {}
        }
        if let Some(s) = &self.server_secret
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
    }
}
