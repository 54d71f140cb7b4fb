//! The SMTP sink the mail benchmarks send to.

use std::sync::Arc;

/// A minimal SMTP server: enough of RFC 5321 for lettre (EHLO, MAIL, RCPT, DATA, RSET, NOOP,
/// QUIT), accepting and discarding, with no per-command delay of its own. Python's aiosmtpd,
/// which the tests use, tops out near 170 messages/s here and would measure itself.
/// It runs on a runtime of its own, on its own thread, as a separate server would.
pub async fn sink() -> (u16, Arc<std::sync::atomic::AtomicU64>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    std_listener.set_nonblocking(true).expect("nonblocking");
    let port = std_listener.local_addr().expect("addr").port();
    let accepted = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = accepted.clone();
    let server = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("sink runtime");
    std::thread::spawn(move || {
        server.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let _ = socket.set_nodelay(true);
                let counter = counter.clone();
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read);
                    if write.write_all(b"220 sink ESMTP\r\n").await.is_err() {
                        return;
                    }
                    let mut line = String::new();
                    let mut in_data = false;
                    loop {
                        line.clear();
                        match lines.read_line(&mut line).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                        if in_data {
                            if line == ".\r\n" {
                                in_data = false;
                                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                let _ = write.write_all(b"250 2.0.0 queued\r\n").await;
                            }
                            continue;
                        }
                        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                        let reply: &[u8] = match verb.as_str() {
                            "EHLO" => b"250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
                            "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 2.0.0 ok\r\n",
                            "DATA" => {
                                in_data = true;
                                b"354 go ahead\r\n"
                            }
                            "QUIT" => {
                                let _ = write.write_all(b"221 bye\r\n").await;
                                return;
                            }
                            _ => b"502 5.5.2 not implemented\r\n",
                        };
                        if write.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        })
    });
    (port, accepted)
}
