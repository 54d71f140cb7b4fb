//! Where messages go: an SMTP server through lettre (pooled connections, STARTTLS or implicit
//! TLS with certificate verification, AUTH, timeouts), or, with no SMTP configured, `.eml`
//! files in an outbox folder so the daemon works out of the box.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;
use std::time::Duration;

use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use plugin::secret::SecretString;

use super::smtp_pool::SmtpPool;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    Folder(PathBuf),
    /// STARTTLS or plain: our own connections (TCP_NODELAY), reused.
    Smtp(SmtpPool),
    /// Implicit TLS: lettre's pooled transport.
    SmtpTls(AsyncSmtpTransport<Tokio1Executor>),
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
    pub reason: String,
}

impl Transport {
    /// Builds the transport. Must run inside the Tokio runtime (lettre's pool spawns tasks).
    pub fn build(settings: &TransportSettings) -> Result<Transport, String> {
        match settings {
            TransportSettings::Folder(dir) => {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(|e| format!("cannot create mail folder `{}`: {e}", dir.display()))?;
                Ok(Transport::Folder(dir.clone()))
            }
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
                if s.security != Security::Tls {
                    let starttls = (s.security == Security::StartTls).then_some(tls);
                    let pool = SmtpPool::new(
                        s.host.clone(),
                        s.port,
                        starttls,
                        credentials,
                        s.timeout,
                        s.pool_size as usize,
                    );
                    return Ok(Transport::Smtp(pool));
                }
                let mut builder =
                    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.clone())
                        .port(s.port)
                        .timeout(Some(s.timeout))
                        .tls(Tls::Wrapper(tls))
                        .pool_config(PoolConfig::new().max_size(s.pool_size.max(1)));
                if let Some(credentials) = credentials {
                    builder = builder.credentials(credentials);
                }
                Ok(Transport::SmtpTls(builder.build()))
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Transport::Folder(dir) => format!("folder {}", dir.display()),
            Transport::Smtp(_) | Transport::SmtpTls(_) => "SMTP".into(),
        }
    }

    pub async fn send(&self, message: Message) -> Result<Accepted, Refused> {
        match self {
            Transport::Folder(dir) => write_file(dir, &message).await,
            Transport::Smtp(pool) => pool.send(&message).await,
            Transport::SmtpTls(smtp) => match smtp.send(message).await {
                Ok(response) => Ok(Accepted {
                    reply: format!(
                        "{} {}",
                        response.code(),
                        response.message().collect::<Vec<_>>().join(" ")
                    ),
                }),
                Err(e) => Err(Refused {
                    // A 5xx reply, or a message lettre cannot even put on the wire.
                    permanent: e.is_permanent() || e.is_client(),
                    reason: e.to_string(),
                }),
            },
        }
    }
}

/// Writes the message to a temporary file and renames it into place: a reader never sees half
/// a message. Mode 0600: the file holds a pass.
async fn write_file(dir: &std::path::Path, message: &Message) -> Result<Accepted, Refused> {
    let id = uuid::Uuid::new_v4();
    let bytes = message.formatted();
    let tmp = dir.join(format!(".{id}.tmp"));
    let path = dir.join(format!("{id}.eml"));
    let result = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    })
    .await;
    match result {
        Ok(Ok(())) => Ok(Accepted {
            reply: format!("written to {id}.eml"),
        }),
        Ok(Err(e)) => Err(Refused {
            permanent: false,
            reason: format!("cannot write the message file: {e}"),
        }),
        Err(e) => Err(Refused {
            permanent: false,
            reason: format!("file writer failed: {e}"),
        }),
    }
}
