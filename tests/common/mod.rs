//! Black-box harness: the real `tapbridge` binary, a private data directory per test, port 0.

#![allow(dead_code)]

pub mod browser;

pub mod directory;
pub mod graph;
pub mod oidc;
pub mod slapd;
pub mod smtp;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_tapbridge");

/// A command for the binary with a clean `TAPBRIDGE_*` environment rooted in `dir`.
pub fn command(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("TAPBRIDGE_") {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(dir)
        .env("TAPBRIDGE_DATA_DIR", dir.join("data"));
    cmd
}

/// Sends a request; returns the status and the body as JSON (or as a JSON string if it is not).
pub async fn send(req: ::reqwest::RequestBuilder) -> (u16, serde_json::Value) {
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

pub fn run(dir: &Path, args: &[&str]) -> Output {
    command(dir).args(args).output().expect("run tapbridge")
}

/// The CLI with extra settings (the daemon's, so that both use the same database).
pub fn run_with(dir: &Path, env: &[(String, String)], args: &[&str]) -> Output {
    let mut cmd = command(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args).output().expect("run tapbridge")
}

/// Runs a CLI command that must succeed; returns its standard output.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(
        out.status.success(),
        "tapbridge {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

pub fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(dir, args)).expect("JSON output")
}

/// Creates an API token holding every administrative role.
pub fn admin_token(dir: &Path) -> String {
    let v = json(
        dir,
        &[
            "token",
            "create",
            "--name",
            "admin",
            "--json",
            "--role",
            "privileged-authentication-administrator",
            "--role",
            "authentication-policy-administrator",
            "--role",
            "user-administrator",
        ],
    );
    v["token"].as_str().expect("token").to_owned()
}

pub struct Daemon {
    pub child: Child,
    pub base: String,
    pub stderr: Arc<Mutex<String>>,
    pub dir: PathBuf,
}

impl Daemon {
    /// Starts `tapbridge serve` on a free port and waits until `/readyz` answers.
    pub fn start(dir: &Path, env: &[(&str, &str)]) -> Daemon {
        let mut cmd = command(dir);
        cmd.arg("serve")
            .env("TAPBRIDGE_SERVER__LISTEN", "127.0.0.1:0")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn tapbridge serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let mut err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("daemon exited early:\n{}", stderr.lock().unwrap()))
            .expect("read stdout");
        let base = line
            .strip_prefix("tapbridge listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_owned();
        std::thread::spawn(move || for _ in lines {});
        let daemon = Daemon {
            child,
            base,
            stderr,
            dir: dir.to_owned(),
        };
        daemon.wait_ready();
        daemon
    }

    /// [`Daemon::start`] with owned settings.
    pub fn start_with(dir: &Path, env: &[(String, String)]) -> Daemon {
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Daemon::start(dir, &pairs)
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = probe::status_getter();
        while Instant::now() < deadline {
            if client(&format!("{}/readyz", self.base)) == Some(200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("daemon not ready:\n{}", self.stderr.lock().unwrap());
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits pid_t");
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("daemon did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn logs(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A failing test shows what the daemon said: the only trace of a server-side error
        // behind a page that just says "something went wrong".
        if std::thread::panicking() {
            let log = self.stderr.lock().map(|s| s.clone()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!("--- the daemon's last log lines ({}):", self.base);
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// A tiny blocking GET for readiness polling, without a second HTTP client stack.
mod probe {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    pub fn status_getter() -> impl Fn(&str) -> Option<u16> {
        |url: &str| {
            let rest = url.strip_prefix("http://")?;
            let (host, path) = rest
                .split_once('/')
                .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
            let mut s = TcpStream::connect(host).ok()?;
            s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
            write!(
                s,
                "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
            )
            .ok()?;
            let mut buf = String::new();
            s.read_to_string(&mut buf).ok()?;
            buf.split_whitespace().nth(1)?.parse().ok()
        }
    }
}
