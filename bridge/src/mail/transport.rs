//! Where messages go: an SMTP server through lettre (pooled connections, STARTTLS or implicit
//! TLS with certificate verification, AUTH, timeouts), or, with no SMTP configured, `.eml`
//! files in an outbox folder so the daemon works out of the box. Either way in two steps —
//! [`Transport::prepare`] (nothing delivered yet), then [`Prepared::hand_over`], the one step
//! whose outcome a crash or a lost connection can leave unknown.

use std::path::PathBuf;
use std::time::Duration;

use lettre::Message;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, TlsParameters};
use plugin::secret::SecretString;

use super::folder::{Folder, Staged};
use super::smtp_pool::{self, Encryption, SmtpPool};

/// How the SMTP connection is protected; `mail.smtp.security` in the configuration
/// (`starttls`, `tls`, `none`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain connection upgraded with STARTTLS; refuses servers that do not offer it.
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption. For a relay on the same host only.
    None,
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub timeout: Duration,
    pub pool_size: u32,
    /// An extra trusted root (a private CA) in PEM.
    pub ca_file: Option<PathBuf>,
    /// Off only for testing against a server with a throw-away certificate.
    pub verify: bool,
}

#[derive(Debug, Clone)]
pub enum TransportSettings {
    /// Write each message to `<dir>/<id>.eml`.
    Folder(PathBuf),
    Smtp(SmtpSettings),
}

pub enum Transport {
    Folder(Folder),
    /// Our own connections, reused (see `smtp_pool`).
    Smtp(SmtpPool),
}

/// A message ready to be handed over: the SMTP envelope accepted, or the file written and
/// flushed but not yet visible. Nothing has been delivered; dropping it delivers nothing.
pub enum Prepared<'a> {
    Smtp(Box<smtp_pool::Prepared<'a>>),
    File(Staged),
}

impl Prepared<'_> {
    /// Delivers: SMTP DATA and the message, or the file's rename into place. The only step
    /// after which a crash leaves the outcome unknown.
    pub async fn hand_over(self) -> Result<Accepted, Refused> {
        match self {
            Prepared::Smtp(p) => p.hand_over().await,
            Prepared::File(f) => f.hand_over().await,
        }
    }
}

/// The server accepted the message.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub reply: String,
}

/// Delivery failed. `permanent` for a 5xx reply or a message the server can never take;
/// everything else (connection refused, timeouts, 4xx) is worth retrying.
#[derive(Debug, Clone)]
pub struct Refused {
    pub permanent: bool,
    /// The message was handed over but no reply came (the connection dropped, the reply
    /// timed out): the server may have it.
    pub unconfirmed: bool,
    pub reason: String,
}

impl Transport {
    /// Builds the transport. Must run inside the Tokio runtime (lettre's pool spawns tasks).
    pub fn build(settings: &TransportSettings) -> Result<Transport, String> {
        match settings {
            TransportSettings::Folder(dir) => Ok(Transport::Folder(Folder::new(dir)?)),
            TransportSettings::Smtp(s) => {
                let mut tls = TlsParameters::builder(s.host.clone())
                    .dangerous_accept_invalid_certs(!s.verify);
                if let Some(ca) = &s.ca_file {
                    let pem = std::fs::read(ca)
                        .map_err(|e| format!("cannot read `{}`: {e}", ca.display()))?;
                    let cert = Certificate::from_pem(&pem)
                        .map_err(|e| format!("`{}`: {e}", ca.display()))?;
                    tls = tls.add_root_certificate(cert);
                }
                let tls = tls
                    .build_rustls()
                    .map_err(|e| format!("TLS settings: {e}"))?;
                let credentials = match (&s.username, &s.password) {
                    (Some(user), Some(password)) => {
                        Some(Credentials::new(user.clone(), password.expose().to_owned()))
                    }
                    _ => None,
                };
                let tls = match s.security {
                    Security::StartTls => Encryption::StartTls(tls),
                    Security::Tls => Encryption::Implicit(tls),
                    Security::None => Encryption::Plain,
                };
                Ok(Transport::Smtp(SmtpPool::new(
                    s.host.clone(),
                    s.port,
                    tls,
                    credentials,
                    s.timeout,
                    s.pool_size as usize,
                )))
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Transport::Folder(f) => format!("folder {}", f.dir().display()),
            Transport::Smtp(_) => "SMTP".into(),
        }
    }

    /// Before delivering anything: removes what a process that died mid-write left in the
    /// `.eml` folder. Nothing to do for SMTP.
    pub fn clean_up(&self) {
        if let Transport::Folder(f) = self {
            match f.remove_temporary_files() {
                Ok(0) => {}
                Ok(n) => tracing::warn!(
                    count = n,
                    folder = %f.dir().display(),
                    "removed temporary mail files left by a writer that stopped"
                ),
                Err(e) => tracing::error!(
                    error = %e,
                    folder = %f.dir().display(),
                    "cannot clean the mail folder of temporary files"
                ),
            }
        }
    }

    /// Everything short of delivery (see [`Prepared`]). `name` names the `.eml` file: the
    /// same name for every attempt of one message.
    pub async fn prepare(&self, message: &Message, name: &str) -> Result<Prepared<'_>, Refused> {
        match self {
            Transport::Folder(f) => f.stage(name, message.formatted()).await.map(Prepared::File),
            Transport::Smtp(pool) => pool
                .prepare(message)
                .await
                .map(|p| Prepared::Smtp(Box::new(p))),
        }
    }

    /// Prepares and hands over at once, for a message nobody records (a test message).
    pub async fn send(&self, message: Message) -> Result<Accepted, Refused> {
        let name = uuid::Uuid::new_v4().to_string();
        self.prepare(&message, &name).await?.hand_over().await
    }
}
