//! Start-up shared by `serve` and the CLI commands: data directory, server secret, store,
//! platform.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use plugin::clock::SystemClock;
use plugin::platform::{Platform, PlatformSettings};
use plugin::secret::SecretString;
use plugin::secret::{ServerSecret, random_bytes};
use plugin::store::{DatabaseSettings, Durability, Location, PostgresSettings, Store};

use crate::config::{self, Config};

const SECRET_FILE: &str = "server.secret";

pub fn ensure_data_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create data directory `{}`", dir.display()))?;
    }
    Ok(())
}

/// The configured secret, else the one generated on first start in the data directory
/// (mode 0600), else a new one written there.
pub fn server_secret(config: &Config) -> Result<ServerSecret> {
    if let Some(s) = &config.secrets.server_secret {
        return ServerSecret::from_bytes(s.expose().as_bytes().to_vec())
            .map_err(anyhow::Error::msg);
    }
    let path = config.data_dir.join(SECRET_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => {
            let mode = fs::metadata(&path)?.permissions().mode();
            if mode & 0o077 != 0 {
                bail!(
                    "`{}` is readable by other users (mode {:o}); run `chmod 600` on it",
                    path.display(),
                    mode & 0o777
                );
            }
            ServerSecret::from_bytes(text.trim().as_bytes().to_vec())
                .map_err(|e| anyhow::anyhow!("`{}`: {e}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use base64::Engine;
            let text =
                base64::engine::general_purpose::STANDARD_NO_PAD.encode(random_bytes::<48>());
            // create_new: two processes starting at once cannot overwrite each other's secret.
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(mut f) => {
                    f.write_all(text.as_bytes())?;
                    f.sync_all()?;
                    tracing::info!(path = %path.display(), "generated a new server secret");
                    ServerSecret::from_bytes(text.into_bytes()).map_err(anyhow::Error::msg)
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => server_secret(config),
                Err(e) => Err(e).with_context(|| format!("cannot write `{}`", path.display())),
            }
        }
        Err(e) => Err(e).with_context(|| format!("cannot read `{}`", path.display())),
    }
}

pub fn database_settings(config: &Config) -> Result<DatabaseSettings> {
    let db = &config.database;
    let location = if db.url.trim().is_empty() || db.url.trim() == "sqlite:" {
        Location::Sqlite(db.path.clone())
    } else {
        let password = match &db.password_file {
            Some(path) => Some(SecretString::new(
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read `{}`", path.display()))?
                    .trim_end_matches(['\r', '\n'])
                    .to_owned(),
            )),
            None => None,
        };
        Location::Postgres(PostgresSettings {
            url: db.url.trim().to_owned(),
            password,
            ca_file: db.ca_file.clone(),
            statement_timeout: std::time::Duration::from_millis(db.statement_timeout_ms),
        })
    };
    Ok(DatabaseSettings {
        location,
        max_connections: config.database.max_connections,
        busy_timeout: std::time::Duration::from_millis(config.database.busy_timeout_ms),
        cache_mib: config.database.cache_mib,
        max_size_mib: config.database.max_size_mib,
        group_commit_max: config.database.group_commit_max,
        durability: match config.database.durability {
            config::Durability::Full => Durability::Full,
            config::Durability::Normal => Durability::Normal,
        },
    })
}

/// Where the database is, for messages (never a password).
pub fn database_name(config: &Config) -> String {
    if config.database.url.trim().is_empty() || config.database.url.trim() == "sqlite:" {
        config.database.path.display().to_string()
    } else {
        config.database.url.trim().to_owned()
    }
}

pub async fn open_platform(config: &Config) -> Result<Arc<Platform>> {
    ensure_data_dir(&config.data_dir)?;
    let secret = server_secret(config)?;
    let store = Store::open(&database_settings(config)?)
        .await
        .with_context(|| format!("cannot open database `{}`", database_name(config)))?;
    let settings = PlatformSettings {
        max_failed_attempts: config.tap.max_failed_attempts,
        tap_retention: time::Duration::days(i64::from(config.tap.retention_days)),
        audit_retention: (config.audit.retention_days > 0)
            .then(|| time::Duration::days(i64::from(config.audit.retention_days))),
        audit_coalesce_window: time::Duration::minutes(i64::from(
            config.audit.coalesce_window_minutes,
        )),
    };
    Ok(Arc::new(Platform::new(
        store,
        Arc::new(SystemClock),
        &secret,
        settings,
        Arc::default(),
    )))
}

/// The OpenID Connect provider over `platform`, issuing as `public_url`.
pub fn oidc(
    config: &Config,
    platform: &Arc<Platform>,
    public_url: &str,
) -> Result<Arc<plugin::platform::Oidc>> {
    let secret = server_secret(config)?;
    let issuer = if public_url.is_empty() {
        "http://localhost"
    } else {
        public_url
    };
    Ok(Arc::new(
        plugin::platform::Oidc::new(platform.clone(), &secret, config.oidc.settings(issuer))
            .with_entra_eam(config.oidc.entra_eam.platform()),
    ))
}
