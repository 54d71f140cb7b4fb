//! SMTP connections of our own making, reused across messages.
//!
//! lettre's pooled transport leaves Nagle's algorithm on. An SMTP client writes the message and
//! then the small `.` terminator before it reads the reply, so every message waits for the
//! server's delayed ACK — about 40 ms on Linux, which capped delivery at ~25 messages per second
//! per connection here. These connections set TCP_NODELAY and are otherwise lettre's own
//! (`AsyncSmtpConnection`: EHLO, STARTTLS, AUTH, MAIL/RCPT/DATA). Implicit TLS connections
//! are opened by lettre, which makes the TLS stream itself (without TCP_NODELAY).
//!
//! A message goes out in two steps: [`SmtpPool::prepare`] opens the transaction (MAIL FROM,
//! RCPT TO), after which nothing has been delivered; [`Prepared::hand_over`] sends DATA, the
//! message and its final `.`, and reads the reply. Only a connection lost or a timeout between
//! that `.` and the reply leaves the outcome unknown (`Refused::unconfirmed`): the server may
//! have taken the message. The caller times the second step: it is the window in which a
//! crash sends a message twice.

use std::sync::Mutex;
use std::time::Duration;

use lettre::Message;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use tokio::net::TcpStream;

use super::transport::{Accepted, Refused};

/// How the connection is secured.
pub enum Encryption {
    Plain,
    /// Upgrade with STARTTLS; refuse a server that does not offer it.
    StartTls(TlsParameters),
    /// TLS from the first byte (port 465).
    Implicit(TlsParameters),
}

pub struct SmtpPool {
    host: String,
    port: u16,
    tls: Encryption,
    credentials: Option<Credentials>,
    timeout: Duration,
    max_idle: usize,
    hello: ClientId,
    idle: Mutex<Vec<AsyncSmtpConnection>>,
}

/// A refusal before the message's end was sent: nothing was delivered.
fn refused(e: lettre::transport::smtp::Error) -> Refused {
    Refused {
        // A 5xx reply, or a message lettre cannot even put on the wire.
        permanent: e.is_permanent() || e.is_client(),
        unconfirmed: false,
        reason: e.to_string(),
    }
}

fn temporary(reason: impl Into<String>) -> Refused {
    Refused {
        permanent: false,
        unconfirmed: false,
        reason: reason.into(),
    }
}

impl SmtpPool {
    pub fn new(
        host: String,
        port: u16,
        tls: Encryption,
        credentials: Option<Credentials>,
        timeout: Duration,
        max_idle: usize,
    ) -> Self {
        SmtpPool {
            host,
            port,
            tls,
            credentials,
            timeout,
            max_idle: max_idle.max(1),
            hello: ClientId::default(),
            idle: Mutex::new(Vec::new()),
        }
    }

    async fn open(&self) -> Result<AsyncSmtpConnection, Refused> {
        if let Encryption::Implicit(tls) = &self.tls {
            let connect = AsyncSmtpConnection::connect_tokio1(
                (self.host.as_str(), self.port),
                Some(self.timeout),
                &self.hello,
                Some(tls.clone()),
                None,
            );
            let setup = async {
                let mut conn = connect.await.map_err(|e| {
                    temporary(format!(
                        "cannot connect to {}:{}: {e}",
                        self.host, self.port
                    ))
                })?;
                self.authenticate(&mut conn).await?;
                Ok(conn)
            };
            return tokio::time::timeout(self.timeout, setup)
                .await
                .map_err(|_| temporary("the TLS connection, greeting or AUTH timed out"))?;
        }
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
            if let Encryption::StartTls(tls) = &self.tls {
                if !conn.can_starttls() {
                    return Err(temporary(
                        "the server does not offer STARTTLS, which is required",
                    ));
                }
                conn.starttls(tls.clone(), &self.hello)
                    .await
                    .map_err(refused)?;
            }
            self.authenticate(&mut conn).await?;
            Ok(conn)
        };
        tokio::time::timeout(self.timeout, setup)
            .await
            .map_err(|_| temporary("the SMTP greeting, STARTTLS or AUTH timed out"))?
    }

    async fn authenticate(&self, conn: &mut AsyncSmtpConnection) -> Result<(), Refused> {
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(refused)?;
        }
        Ok(())
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

    /// Opens a mail transaction for `message` (MAIL FROM, RCPT TO) on a live connection.
    /// Nothing is delivered yet; dropping the result abandons the transaction.
    pub async fn prepare(&self, message: &Message) -> Result<Prepared<'_>, Refused> {
        let mut conn = match self.reuse().await {
            Some(conn) => conn,
            None => self.open().await?,
        };
        let envelope = message.envelope();
        let bytes = message.formatted();
        // What lettre's `send` asks of the server before MAIL FROM.
        let mut options = Vec::new();
        let non_ascii = envelope
            .from()
            .into_iter()
            .chain(envelope.to())
            .any(|a: &lettre::Address| !AsRef::<str>::as_ref(a).is_ascii());
        if non_ascii {
            if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
                return Err(Refused {
                    permanent: true,
                    unconfirmed: false,
                    reason:
                        "a recipient address is not ASCII and the server does not support SMTPUTF8"
                            .into(),
                });
            }
            options.push(MailParameter::SmtpUtfEight);
        }
        if !bytes.is_ascii() {
            if !conn.server_info().supports_feature(Extension::EightBitMime) {
                return Err(Refused {
                    permanent: true,
                    unconfirmed: false,
                    reason: "the message is not ASCII and the server does not support 8BITMIME"
                        .into(),
                });
            }
            options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let open = async {
            conn.command(Mail::new(envelope.from().cloned(), options))
                .await?;
            for to in envelope.to() {
                conn.command(Rcpt::new(to.clone(), vec![])).await?;
            }
            Ok::<_, lettre::transport::smtp::Error>(())
        };
        match tokio::time::timeout(self.timeout, open).await {
            Ok(Ok(())) => Ok(Prepared {
                pool: self,
                conn,
                bytes,
            }),
            Ok(Err(e)) => {
                let failure = refused(e);
                conn.abort().await;
                Err(failure)
            }
            Err(_) => Err(temporary("MAIL FROM or RCPT TO timed out")),
        }
    }

    /// [`Self::prepare`] and [`Prepared::hand_over`] at once, for a message nobody records.
    pub async fn send(&self, message: &Message) -> Result<Accepted, Refused> {
        self.prepare(message).await?.hand_over().await
    }
}

/// An open mail transaction: the envelope is accepted, the message not yet sent.
pub struct Prepared<'a> {
    pool: &'a SmtpPool,
    conn: AsyncSmtpConnection,
    bytes: Vec<u8>,
}

impl Prepared<'_> {
    /// Sends DATA and the message. A reply to DATA or to the message's end is definite (the
    /// message was taken, or it was not); a connection lost or a timeout after the end was
    /// sent is not, and is reported `unconfirmed`.
    pub async fn hand_over(self) -> Result<Accepted, Refused> {
        let Prepared {
            pool,
            mut conn,
            bytes,
        } = self;
        match tokio::time::timeout(pool.timeout, conn.command(Data)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                let failure = refused(e);
                conn.abort().await;
                return Err(failure);
            }
            Err(_) => return Err(temporary("the SMTP server did not answer DATA in time")),
        }
        match tokio::time::timeout(pool.timeout, conn.message(&bytes)).await {
            Ok(Ok(response)) => {
                let reply = format!(
                    "{} {}",
                    response.code(),
                    response.message().collect::<Vec<_>>().join(" ")
                );
                pool.put_back(conn);
                Ok(Accepted { reply })
            }
            // The server answered the message with a refusal: it does not have it.
            Ok(Err(e)) if e.is_permanent() || e.is_transient() => {
                let failure = refused(e);
                conn.abort().await;
                Err(failure)
            }
            Ok(Err(e)) => Err(Refused {
                permanent: false,
                unconfirmed: true,
                reason: format!("no reply to the message, which the server may have taken: {e}"),
            }),
            Err(_) => Err(Refused {
                permanent: false,
                unconfirmed: true,
                reason: "no reply to the message in time; the server may have taken it".into(),
            }),
        }
    }
}
