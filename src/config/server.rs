//! `[server]`: where the daemon listens and how it answers.

use std::net::SocketAddr;

use serde::Deserialize;

use super::{ConfigError, bad};

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

impl ServerConfig {
    /// Checks the section; trims the public URL's trailing slash.
    pub fn validate(&mut self, errors: &mut Vec<ConfigError>) {
        let url = self.public_url.trim_end_matches('/').to_owned();
        if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
            errors.push(bad(
                "server.public_url",
                "must start with http:// or https://",
            ));
        }
        self.public_url = url;
        if !(1024..=16 * 1024 * 1024).contains(&self.body_limit_bytes) {
            errors.push(bad(
                "server.body_limit_bytes",
                "must be between 1024 and 16777216",
            ));
        }
        if self.shutdown_timeout_seconds > 600 {
            errors.push(bad(
                "server.shutdown_timeout_seconds",
                "must be at most 600",
            ));
        }
    }
}
