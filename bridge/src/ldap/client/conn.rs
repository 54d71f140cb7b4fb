//! The connection under the client: TCP, LDAPS or StartTLS (rustls), requests written whole,
//! responses cut from the stream one message at a time. A message is handed on as the bytes
//! that carried it (a reference into the read buffer, not a copy); reading it is the
//! caller's business. Every wait is bounded.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use rustls::ClientConfig;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::super::config::SourceConfig;
use super::super::tls;
use super::message::{self, Message};
use crate::error::{Error, Result};

const START_TLS_OID: &str = "1.3.6.1.4.1.1466.20037";
/// What one read asks the socket for, at least.
const READ_CHUNK: usize = 64 * 1024;
/// The most reserved ahead for the rest of a large message: the buffer then grows with what
/// actually arrives, not with what a header announced.
const RESERVE_AHEAD: usize = 4 << 20;

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// An open connection.
pub struct Conn {
    stream: Stream,
    buf: BytesMut,
    timeout: Duration,
}

/// `ldap://host[:port][/…]` or `ldaps://…`: (TLS from the start, host, port).
fn parse_url(url: &str) -> Result<(bool, String, u16)> {
    let bad = || Error::Ldap(format!("`{url}` is not an ldap:// or ldaps:// URL"));
    let (tls, rest) = if let Some(r) = url.strip_prefix("ldaps://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("ldap://") {
        (false, r)
    } else {
        return Err(bad());
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let default_port = if tls { 636 } else { 389 };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if after.is_empty() => default_port,
            None => return Err(bad()),
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| bad())?),
            None => (authority, default_port),
        }
    };
    let host = if host.is_empty() { "localhost" } else { host };
    Ok((tls, host.to_owned(), port))
}

/// The system's trust store, read once (as ldap3 did): certificates it cannot parse are left
/// out.
static SYSTEM_ROOTS: LazyLock<Arc<RootCertStore>> = LazyLock::new(|| {
    let mut roots = RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        let _ = roots.add(cert);
    }
    Arc::new(roots)
});

fn tls_config(cfg: &SourceConfig) -> Result<Arc<ClientConfig>> {
    tls::install_crypto_provider();
    if !cfg.verify {
        let mut config = ClientConfig::builder()
            .with_root_certificates(RootCertStore::empty())
            .with_no_client_auth();
        config
            .dangerous()
            .set_certificate_verifier(Arc::new(NoVerification));
        return Ok(Arc::new(config));
    }
    match &cfg.ca_file {
        Some(ca) => tls::client_config(ca).map_err(Error::Ldap),
        None => Ok(Arc::new(
            ClientConfig::builder()
                .with_root_certificates(SYSTEM_ROOTS.clone())
                .with_no_client_auth(),
        )),
    }
}

/// `verify = false`: any certificate is accepted (documented as for testing only).
#[derive(Debug)]
struct NoVerification;

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

async fn handshake(cfg: &SourceConfig, host: &str, tcp: TcpStream) -> Result<Stream> {
    let name = ServerName::try_from(host.to_owned()).map_err(|e| {
        Error::Ldap(format!(
            "`{host}` cannot be checked against a certificate: {e}"
        ))
    })?;
    let tls = TlsConnector::from(tls_config(cfg)?)
        .connect(name, tcp)
        .await
        .map_err(|e| Error::Ldap(format!("TLS with {host} failed: {e}")))?;
    Ok(Stream::Tls(Box::new(tls)))
}

impl Conn {
    /// Connects as `cfg` says; the connect timeout bounds TCP, StartTLS and the TLS handshake
    /// together.
    pub async fn open(cfg: &SourceConfig) -> Result<Conn> {
        let (ldaps, host, port) = parse_url(&cfg.url)?;
        let timeout = cfg.operation_timeout();
        let setup = async {
            let tcp = TcpStream::connect((host.as_str(), port))
                .await
                .map_err(|e| Error::Ldap(format!("cannot connect to {}: {e}", cfg.url)))?;
            // Requests are small and answered at once: no reason to hold them back.
            let _ = tcp.set_nodelay(true);
            if ldaps {
                return Ok(Conn::new(handshake(cfg, &host, tcp).await?, timeout));
            }
            if !cfg.starttls {
                return Ok(Conn::new(Stream::Plain(tcp), timeout));
            }
            let mut plain = Conn::new(Stream::Plain(tcp), timeout);
            plain
                .send(&message::extended_request(1, START_TLS_OID))
                .await?;
            let reply = plain.receive().await?;
            let result = (reply.op == message::EXTENDED_RESPONSE)
                .then(|| reply.result())
                .transpose()
                .map_err(Error::Ldap)?;
            match result {
                Some(r) if r.rc == 0 => {}
                Some(r) => {
                    return Err(Error::Ldap(format!(
                        "StartTLS refused (result code {}): {}",
                        r.rc, r.text
                    )));
                }
                None => return Err(Error::Ldap("StartTLS: unexpected answer".into())),
            }
            // Nothing may follow the answer in the clear: it would be read as if protected.
            if !plain.buf.is_empty() {
                return Err(Error::Ldap("StartTLS: data after the answer".into()));
            }
            let Stream::Plain(tcp) = plain.stream else {
                return Err(Error::Ldap("StartTLS on a TLS connection".into()));
            };
            Ok(Conn::new(handshake(cfg, &host, tcp).await?, timeout))
        };
        tokio::time::timeout(cfg.connect_timeout(), setup)
            .await
            .map_err(|_| Error::Ldap(format!("connecting to {} timed out", cfg.url)))?
    }

    fn new(stream: Stream, timeout: Duration) -> Conn {
        Conn {
            stream,
            buf: BytesMut::with_capacity(READ_CHUNK),
            timeout,
        }
    }

    /// Writes one request whole.
    pub async fn send(&mut self, request: &[u8]) -> Result<()> {
        let write = async {
            self.stream.write_all(request).await?;
            self.stream.flush().await
        };
        tokio::time::timeout(self.timeout, write)
            .await
            .map_err(|_| Error::Ldap("timed out sending a request".into()))?
            .map_err(|e| Error::Ldap(format!("cannot send to the server: {e}")))
    }

    /// The next message, waiting at most the operation timeout for it.
    pub async fn receive(&mut self) -> Result<Message> {
        let timeout = self.timeout;
        tokio::time::timeout(timeout, self.frame())
            .await
            .map_err(|_| Error::Ldap("timed out waiting for the server".into()))?
            .and_then(|bytes| Message::parse(bytes).map_err(Error::Ldap))
    }

    async fn frame(&mut self) -> Result<Bytes> {
        loop {
            if let Some(total) = message::frame_length(&self.buf).map_err(Error::Ldap)? {
                if self.buf.len() >= total {
                    // A copy of its own. Split off the buffer (`split_to`), messages shared
                    // its allocations, and those of a whole user read stayed allocated until
                    // the read ended (heaptrack: 42 MB of a 71 MB heap peak in a full run at
                    // 100,000 users; first loads peaked at 111-147 MiB RSS, 104-106 since).
                    // Copied, the buffer is never shared and is read into again in place;
                    // the copy is a memcpy of what was read.
                    let message = Bytes::copy_from_slice(&self.buf[..total]);
                    self.buf.advance(total);
                    return Ok(message);
                }
                let missing = total - self.buf.len();
                self.buf.reserve(missing.clamp(READ_CHUNK, RESERVE_AHEAD));
            } else {
                self.buf.reserve(READ_CHUNK);
            }
            let n = self
                .stream
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| Error::Ldap(format!("reading from the server failed: {e}")))?;
            if n == 0 {
                return Err(Error::Ldap(if self.buf.is_empty() {
                    "the server closed the connection".into()
                } else {
                    "the server closed the connection in the middle of a message".into()
                }));
            }
        }
    }

    /// Closes the connection (TLS close_notify included), waiting at most `wait`.
    pub async fn close(mut self, wait: Duration) {
        let _ = tokio::time::timeout(wait, self.stream.shutdown()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::super::message::SEARCH_ENTRY;
    use super::super::message::testing::{entry_body, response};
    use super::*;
    use tokio::net::TcpListener;

    /// A connection whose other end the test writes to.
    async fn pair() -> (Conn, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (client, server) = tokio::join!(client, listener.accept());
        let conn = Conn::new(Stream::Plain(client.unwrap()), Duration::from_secs(5));
        (conn, server.unwrap().0)
    }

    #[tokio::test]
    async fn messages_are_cut_out_of_any_chunking() {
        let (mut conn, mut server) = pair().await;
        let big = vec![b'x'; 300_000];
        let messages: Vec<Bytes> = (1..=40)
            .map(|i| {
                let value: &[u8] = if i == 20 { &big } else { b"v" };
                response(
                    i,
                    SEARCH_ENTRY,
                    &entry_body(&format!("cn={i}"), &[("a", &[value])]),
                    &[],
                )
            })
            .collect();
        let stream: Vec<u8> = messages.iter().flat_map(|m| m.to_vec()).collect();
        let writer = tokio::spawn(async move {
            // Odd chunk sizes split headers, lengths and values everywhere.
            let mut rest = stream.as_slice();
            for size in [1usize, 2, 3, 5, 7, 11, 64, 1000, 65_537].iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (now, later) = rest.split_at((*size).min(rest.len()));
                server.write_all(now).await.unwrap();
                server.flush().await.unwrap();
                rest = later;
                tokio::task::yield_now().await;
            }
            server
        });
        for want in &messages {
            let got = conn.receive().await.unwrap();
            assert_eq!(got.body(), Message::parse(want.clone()).unwrap().body());
        }
        let mut server = writer.await.unwrap();
        // A message cut off by the server going away.
        server.write_all(&messages[0][..10]).await.unwrap();
        drop(server);
        let err = conn.receive().await.unwrap_err().to_string();
        assert!(err.contains("in the middle of a message"), "{err}");
    }

    #[tokio::test]
    async fn what_is_not_a_message_is_refused_without_buffering_it() {
        for (bytes, why) in [
            (vec![0x04, 0x01, 0x00], "not an LDAP message"),
            (vec![0x30, 0x80, 0x00], "indefinite length"),
            // A header announcing a gigabyte, then silence: refused from the header alone.
            (vec![0x30, 0x84, 0x40, 0x00, 0x00, 0x00], "more than"),
        ] {
            let (mut conn, mut server) = pair().await;
            server.write_all(&bytes).await.unwrap();
            let err = conn.receive().await.unwrap_err().to_string();
            assert!(err.contains(why), "{why}: {err}");
            assert!(conn.buf.capacity() < 1 << 20);
        }
        let (mut conn, server) = pair().await;
        drop(server);
        let err = conn.receive().await.unwrap_err().to_string();
        assert!(err.contains("closed the connection"), "{err}");
        // Nothing comes: the wait is bounded.
        let (mut conn, _server) = pair().await;
        conn.timeout = Duration::from_millis(50);
        let err = conn.receive().await.unwrap_err().to_string();
        assert!(err.contains("timed out"), "{err}");
    }

    #[test]
    fn urls() {
        for (url, want) in [
            ("ldap://dc1.corp.example", (false, "dc1.corp.example", 389)),
            ("ldaps://dc1.corp.example", (true, "dc1.corp.example", 636)),
            ("ldap://127.0.0.1:3890/", (false, "127.0.0.1", 3890)),
            ("ldap://[::1]:10389/dc=x??sub", (false, "::1", 10389)),
            ("ldaps://[fe80::1]", (true, "fe80::1", 636)),
            ("ldap://", (false, "localhost", 389)),
        ] {
            let (tls, host, port) = parse_url(url).unwrap();
            assert_eq!((tls, host.as_str(), port), want, "{url}");
        }
        for bad in [
            "http://x",
            "ldap://x:port",
            "ldap://[::1",
            "ldap://[::1]x",
            "ldap://x:70000",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
