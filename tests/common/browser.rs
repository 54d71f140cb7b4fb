//! Headless Chromium driven over the DevTools protocol: just enough of a client to open a
//! page, run script in it, add a virtual WebAuthn authenticator and take screenshots.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The Chromium binary, if one is installed.
pub fn find_chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for name in [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// Where screenshots go: `<target>/browser-artifacts/`.
pub fn artifacts_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map_or_else(|| PathBuf::from("target"), Path::to_path_buf)
        .join("browser-artifacts");
    std::fs::create_dir_all(&dir).expect("create artifacts dir");
    dir
}

pub struct Chromium {
    child: Child,
    _profile: tempfile::TempDir,
    pub ws_url: String,
}

impl Chromium {
    /// Starts headless Chromium with a throw-away profile; returns once DevTools listens.
    pub fn launch(exe: &Path) -> Chromium {
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = Command::new(exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--window-size=420,900",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let ws_url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("chromium printed no DevTools address");
        Chromium {
            child,
            _profile: profile,
            ws_url,
        }
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One DevTools connection, attached to one page.
pub struct Page {
    socket: Socket,
    next_id: u64,
    session: String,
}

impl Page {
    /// Opens a new tab and attaches to it.
    pub async fn open(chromium: &Chromium) -> Page {
        let (socket, _) = tokio_tungstenite::connect_async(chromium.ws_url.as_str())
            .await
            .expect("connect to DevTools");
        let mut page = Page {
            socket,
            next_id: 0,
            session: String::new(),
        };
        let target = page
            .call_browser("Target.createTarget", json!({"url": "about:blank"}))
            .await;
        let attached = page
            .call_browser(
                "Target.attachToTarget",
                json!({"targetId": target["targetId"], "flatten": true}),
            )
            .await;
        page.session = attached["sessionId"].as_str().expect("session").to_owned();
        page.call("Page.enable", json!({})).await;
        page.call("Runtime.enable", json!({})).await;
        page
    }

    async fn send(&mut self, session: Option<String>, method: &str, params: Value) -> Value {
        self.send_within(session, method, params, Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("{method}: no answer from DevTools"))
    }

    /// `None` when DevTools does not answer within `wait`. A late answer is skipped by the
    /// next call, which matches answers by id.
    async fn send_within(
        &mut self,
        session: Option<String>,
        method: &str,
        params: Value,
        wait: Duration,
    ) -> Option<Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = Value::from(s);
        }
        self.socket
            .send(Message::Text(msg.to_string().into()))
            .await
            .expect("send to DevTools");
        let deadline = Instant::now() + wait;
        loop {
            let next = tokio::time::timeout_at(deadline.into(), self.socket.next())
                .await
                .ok()?;
            let Some(Ok(Message::Text(text))) = next else {
                continue;
            };
            let v: Value = serde_json::from_str(text.as_str()).expect("DevTools JSON");
            if v["id"] == id {
                if let Some(e) = v.get("error") {
                    panic!("{method} failed: {e}");
                }
                return Some(v["result"].clone());
            }
        }
    }

    async fn call_browser(&mut self, method: &str, params: Value) -> Value {
        self.send(None, method, params).await
    }

    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.send(Some(session), method, params).await
    }

    /// Evaluates `expression` in the page (awaiting a promise) and returns its value.
    pub async fn eval(&mut self, expression: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true, "awaitPromise": true, "userGesture": true}),
            )
            .await;
        if let Some(e) = r.get("exceptionDetails") {
            panic!("script `{expression}` threw: {e}");
        }
        r["result"]["value"].clone()
    }

    pub async fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url})).await;
    }

    /// Waits until the page at `path` has loaded; dumps a screenshot and the page's text if
    /// it never does.
    pub async fn wait_for_path(&mut self, path: &str) {
        self.wait_for_any(&[path]).await;
    }

    /// Waits until the page at one of `paths` has loaded; returns which.
    pub async fn wait_for_any(&mut self, paths: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        let probe = "(document.readyState === 'complete' ? location.pathname : '')";
        loop {
            let now = self
                .call(
                    "Runtime.evaluate",
                    json!({"expression": probe, "returnByValue": true}),
                )
                .await;
            if let Some(at) = now["result"]["value"].as_str()
                && paths.contains(&at)
            {
                return at.to_owned();
            }
            if Instant::now() > deadline {
                self.screenshot("timeout").await;
                let text = self
                    .eval("document.body ? document.body.innerText : ''")
                    .await;
                panic!("page never reached {paths:?}; at {now}: {text}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a PNG of the page under the artifacts directory.
    /// Saves a screenshot, best effort: Chromium does not answer a capture while a navigation
    /// it is starting (a passkey answered by the virtual authenticator) is in flight, and an
    /// artifact is not worth failing the journey for.
    pub async fn screenshot(&mut self, name: &str) -> PathBuf {
        let path = artifacts_dir().join(format!("{name}.png"));
        let session = self.session.clone();
        let Some(shot) = self
            .send_within(
                Some(session),
                "Page.captureScreenshot",
                json!({"format": "png"}),
                Duration::from_secs(5),
            )
            .await
        else {
            eprintln!("screenshot {name}: Chromium did not render a frame in time; skipped");
            return path;
        };
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or(""))
            .expect("screenshot base64");
        std::fs::write(&path, png).expect("write screenshot");
        path
    }
}
