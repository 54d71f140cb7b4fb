//! A real SMTP server for the mail tests: `tests/support/smtp_sink.py` (Python's aiosmtpd),
//! started on a free loopback port, writing each accepted message to a folder.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Sink {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

/// Whether the SMTP server can run here. In CI it must: a missing dependency fails the test.
pub fn available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "aiosmtpd (pip install aiosmtpd) is required in CI"
        );
        eprintln!("skipping: python3 with aiosmtpd is not installed");
    }
    ok
}

impl Sink {
    /// Starts the server; `args` are the script's options (`--fail-first 2`, `--reject a@b` …).
    pub fn start(dir: &Path, args: &[&str]) -> Sink {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg("--dir")
            .arg(dir)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP sink");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("sink output");
        let port = line
            .trim()
            .strip_prefix("ready ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("sink said {line:?}"));
        Sink {
            child,
            port,
            dir: dir.to_owned(),
        }
    }

    /// The accepted messages, in arrival order.
    pub fn messages(&self) -> Vec<String> {
        let mut numbered: Vec<(u32, String)> = std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .filter_map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        let n = name.strip_suffix(".eml")?.parse().ok()?;
                        Some((n, std::fs::read_to_string(e.path()).ok()?))
                    })
                    .collect()
            })
            .unwrap_or_default();
        numbered.sort();
        numbered.into_iter().map(|(_, m)| m).collect()
    }

    /// Accepted messages per envelope recipient (lower case).
    pub fn per_recipient(&self) -> std::collections::HashMap<String, Vec<String>> {
        let mut out: std::collections::HashMap<String, Vec<String>> = Default::default();
        for m in self.messages() {
            let to = m
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("X-Envelope-To: "))
                .unwrap_or_default()
                .to_owned();
            for rcpt in to.split(", ").filter(|r| !r.is_empty()) {
                out.entry(rcpt.to_ascii_lowercase())
                    .or_default()
                    .push(m.clone());
            }
        }
        out
    }

    /// DATA commands begun (accepted or not).
    pub fn started(&self) -> usize {
        std::fs::read_dir(&self.dir)
            .map(|e| {
                e.filter_map(|e| e.ok())
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".started"))
                    .count()
            })
            .unwrap_or(0)
    }

    /// Waits until at least `n` messages arrived; returns them.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let m = self.messages();
            if m.len() >= n || Instant::now() > deadline {
                return m;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The pass in a message's text part: the indented `XXXX-XXXX…` line.
pub fn pass_in(message: &str) -> String {
    message
        .lines()
        .map(str::trim_end)
        .find_map(|l| {
            let t = l.strip_prefix("    ")?;
            (t.len() >= 9
                && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && t.contains('-'))
            .then(|| t.to_owned())
        })
        .expect("a pass in the text part")
}

/// Waits until `check` holds, polling; false on timeout.
pub fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}

/// The decoded `text/plain` part of a message (quoted-printable, base64 or as is).
pub fn text_part(message: &str) -> String {
    let start = message
        .find("Content-Type: text/plain")
        .unwrap_or_else(|| panic!("no text part in {message}"));
    let part = &message[start..];
    let (headers, rest) = part
        .split_once("\r\n\r\n")
        .or_else(|| part.split_once("\n\n"))
        .expect("part headers");
    let body = rest.split("\r\n--").next().unwrap_or(rest);
    let encoding = headers.to_ascii_lowercase();
    if encoding.contains("content-transfer-encoding: base64") {
        use base64::Engine;
        let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .expect("base64 body"),
        )
        .expect("utf-8 text")
    } else if encoding.contains("content-transfer-encoding: quoted-printable") {
        let joined = body.replace("=\r\n", "").replace("=\n", "");
        let bytes = joined.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'='
                && i + 2 < bytes.len()
                && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8(out).expect("utf-8 text")
    } else {
        body.to_owned()
    }
}
