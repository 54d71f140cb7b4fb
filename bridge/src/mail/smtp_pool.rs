//! SMTP connections of our own making, reused across messages.
//!
//! lettre's pooled transport leaves Nagle's algorithm on. An SMTP client writes the message and
//! then the small `.` terminator before it reads the reply, so every message waits for the
//! server's delayed ACK — about 40 ms on Linux, which capped delivery at ~25 messages per second
//! per connection here. These connections set TCP_NODELAY and are otherwise lettre's own
//! (`AsyncSmtpConnection`: EHLO, STARTTLS, AUTH, MAIL/RCPT/DATA). Implicit TLS keeps lettre's
//! transport, which opens the TLS stream itself.

use std::sync::Mutex;
use std::time::Duration;

use lettre::Message;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::net::TcpStream;

use super::transport::{Accepted, Refused};

pub struct SmtpPool {
    host: String,
    port: u16,
    /// `Some` to require STARTTLS.
    starttls: Option<TlsParameters>,
    credentials: Option<Credentials>,
    timeout: Duration,
    max_idle: usize,
    hello: ClientId,
    idle: Mutex<Vec<AsyncSmtpConnection>>,
}

fn refused(e: lettre::transport::smtp::Error) -> Refused {
    Refused {
        permanent: e.is_permanent(),
        reason: e.to_string(),
    }
}

fn temporary(reason: impl Into<String>) -> Refused {
    Refused {
        permanent: false,
        reason: reason.into(),
    }
}

impl SmtpPool {
    pub fn new(
        host: String,
        port: u16,
        starttls: Option<TlsParameters>,
        credentials: Option<Credentials>,
        timeout: Duration,
        max_idle: usize,
    ) -> Self {
        SmtpPool {
            host,
            port,
            starttls,
            credentials,
            timeout,
            max_idle: max_idle.max(1),
            hello: ClientId::default(),
            idle: Mutex::new(Vec::new()),
        }
    }

    async fn open(&self) -> Result<AsyncSmtpConnection, Refused> {
        let tcp = tokio::time::timeout(
            self.timeout,
            TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| {
            temporary(format!(
                "connecting to {}:{} timed out",
                self.host, self.port
            ))
        })?
        .map_err(|e| {
            temporary(format!(
                "cannot connect to {}:{}: {e}",
                self.host, self.port
            ))
        })?;
        tcp.set_nodelay(true)
            .map_err(|e| temporary(format!("TCP_NODELAY: {e}")))?;
        let setup = async {
            let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
                .await
                .map_err(refused)?;
            if let Some(tls) = &self.starttls {
                if !conn.can_starttls() {
                    return Err(temporary(
                        "the server does not offer STARTTLS, which is required",
                    ));
                }
                conn.starttls(tls.clone(), &self.hello)
                    .await
                    .map_err(refused)?;
            }
            if let Some(credentials) = &self.credentials {
                conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                    .await
                    .map_err(refused)?;
            }
            Ok(conn)
        };
        tokio::time::timeout(self.timeout, setup)
            .await
            .map_err(|_| temporary("the SMTP greeting, STARTTLS or AUTH timed out"))?
    }

    /// A live idle connection, checked with NOOP so that a message is never written to a
    /// connection the server has already closed (a retry there could not tell whether the
    /// first try was accepted).
    async fn reuse(&self) -> Option<AsyncSmtpConnection> {
        loop {
            let conn = self.idle.lock().ok()?.pop();
            let mut conn = conn?;
            let alive = tokio::time::timeout(self.timeout, conn.test_connected())
                .await
                .unwrap_or(false);
            if alive {
                return Some(conn);
            }
        }
    }

    fn put_back(&self, conn: AsyncSmtpConnection) {
        if conn.has_broken() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < self.max_idle
        {
            idle.push(conn);
        }
    }

    pub async fn send(&self, message: &Message) -> Result<Accepted, Refused> {
        let mut conn = match self.reuse().await {
            Some(conn) => conn,
            None => self.open().await?,
        };
        let envelope = message.envelope();
        let bytes = message.formatted();
        match tokio::time::timeout(self.timeout, conn.send(envelope, &bytes)).await {
            Ok(Ok(response)) => {
                self.put_back(conn);
                Ok(Accepted {
                    reply: format!(
                        "{} {}",
                        response.code(),
                        response.message().collect::<Vec<_>>().join(" ")
                    ),
                })
            }
            Ok(Err(e)) => {
                // lettre resets the session after a refused transaction; a connection that
                // survived can carry the next message.
                let failure = refused(e);
                self.put_back(conn);
                Err(failure)
            }
            Err(_) => Err(temporary("the SMTP transaction timed out")),
        }
    }
}
