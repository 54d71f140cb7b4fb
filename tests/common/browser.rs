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
    /// axe-core's source, once read.
    axe: Option<String>,
    /// The page's own scripts are turned off ([`Page::set_scripts`]).
    scripts_off: bool,
    /// `Fetch.*` events received while waiting for answers, for [`Page::wait_event`].
    events: Vec<Value>,
}

/// How a page is looked at: the accessibility audit and the contrast checks run in each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// 1280 × 900, light colour scheme.
    Light,
    /// 1280 × 900, dark colour scheme.
    Dark,
    /// 375 × 812 (a small phone), light.
    Narrow,
}

impl View {
    pub const ALL: [View; 3] = [View::Light, View::Dark, View::Narrow];

    pub fn name(self) -> &'static str {
        match self {
            View::Light => "light",
            View::Dark => "dark",
            View::Narrow => "375px",
        }
    }
}

impl Page {
    /// Opens a new tab in the default browser context and attaches to it.
    pub async fn open(chromium: &Chromium) -> Page {
        Self::open_in(chromium, false).await
    }

    /// Opens a new tab in a browser context of its own: its own cookies, as another person's
    /// browser would have.
    pub async fn open_isolated(chromium: &Chromium) -> Page {
        Self::open_in(chromium, true).await
    }

    async fn open_in(chromium: &Chromium, isolated: bool) -> Page {
        let (socket, _) = tokio_tungstenite::connect_async(chromium.ws_url.as_str())
            .await
            .expect("connect to DevTools");
        let mut page = Page {
            socket,
            next_id: 0,
            session: String::new(),
            axe: None,
            scripts_off: false,
            events: Vec::new(),
        };
        let mut params = json!({"url": "about:blank"});
        if isolated {
            let context = page
                .call_browser("Target.createBrowserContext", json!({}))
                .await;
            params["browserContextId"] = context["browserContextId"].clone();
        }
        let target = page.call_browser("Target.createTarget", params).await;
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
        match self
            .send_within(session, method, params, Duration::from_secs(30))
            .await
        {
            Some(Ok(v)) => v,
            Some(Err(e)) => panic!("{method} failed: {e}"),
            None => panic!("{method}: no answer from DevTools"),
        }
    }

    /// `None` when DevTools does not answer within `wait`, `Some(Err(error))` when it answers
    /// with an error. A late answer is skipped by the next call, which matches answers by id.
    async fn send_within(
        &mut self,
        session: Option<String>,
        method: &str,
        params: Value,
        wait: Duration,
    ) -> Option<Result<Value, Value>> {
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
            if v["method"]
                .as_str()
                .is_some_and(|m| m.starts_with("Fetch."))
            {
                self.events.push(v);
                continue;
            }
            if v["id"] == id {
                if let Some(e) = v.get("error") {
                    return Some(Err(e.clone()));
                }
                return Some(Ok(v["result"].clone()));
            }
        }
    }

    /// Waits for a `Fetch.*` event (requests paused by `Fetch.enable`); returns its params.
    pub async fn wait_event(&mut self, method: &str) -> Value {
        self.try_event(method, Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("no {method} event"))
    }

    /// [`Page::wait_event`], `None` after `wait`.
    pub async fn try_event(&mut self, method: &str, wait: Duration) -> Option<Value> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(i) = self.events.iter().position(|e| e["method"] == method) {
                return Some(self.events.remove(i)["params"].clone());
            }
            let next = tokio::time::timeout_at(deadline.into(), self.socket.next())
                .await
                .ok()?;
            let Some(Ok(Message::Text(text))) = next else {
                continue;
            };
            let v: Value = serde_json::from_str(text.as_str()).expect("DevTools JSON");
            if v["method"]
                .as_str()
                .is_some_and(|m| m.starts_with("Fetch."))
            {
                self.events.push(v);
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

    /// `expression`'s value now, or `None` while the page cannot tell (a navigation replacing
    /// the document, a slow answer): for polling only.
    async fn probe(&mut self, expression: &str) -> Option<Value> {
        let session = self.session.clone();
        let r = self
            .send_within(
                Some(session),
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true}),
                Duration::from_secs(5),
            )
            .await?
            .ok()?;
        if r.get("exceptionDetails").is_some() {
            return None;
        }
        Some(r["result"]["value"].clone())
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
            let now = self.probe(probe).await.unwrap_or_default();
            if let Some(at) = now.as_str()
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

    /// Saves a PNG of the page under the artifacts directory, best effort: Chromium does not answer a capture while a navigation
    /// it is starting (a passkey answered by the virtual authenticator) is in flight, and an
    /// artifact is not worth failing the journey for.
    pub async fn screenshot(&mut self, name: &str) -> PathBuf {
        let path = artifacts_dir().join(format!("{name}.png"));
        let session = self.session.clone();
        let Some(Ok(shot)) = self
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

impl Page {
    /// Looks at the page as `view` would (colour scheme and window size); the page stays
    /// loaded.
    pub async fn set_view(&mut self, view: View) {
        let (width, height, scheme) = match view {
            View::Light => (1280, 900, "light"),
            View::Dark => (1280, 900, "dark"),
            View::Narrow => (375, 812, "light"),
        };
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": view == View::Narrow}),
        )
        .await;
        self.call(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]}),
        )
        .await;
    }

    /// Sends `Accept-Language: value` with every request from now on.
    pub async fn set_accept_language(&mut self, value: &str) {
        self.call("Network.enable", json!({})).await;
        self.call(
            "Network.setExtraHTTPHeaders",
            json!({"headers": {"Accept-Language": value}}),
        )
        .await;
    }

    /// Turns the page's own scripts off (or on again), as a browser without JavaScript.
    /// DevTools can still evaluate expressions.
    pub async fn set_scripts(&mut self, enabled: bool) {
        self.call(
            "Emulation.setScriptExecutionDisabled",
            json!({"value": !enabled}),
        )
        .await;
        self.scripts_off = !enabled;
    }

    /// The page's visible text.
    pub async fn text(&mut self) -> String {
        self.eval("document.body ? document.body.innerText : ''")
            .await
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    /// The text of the element `selector` finds, `None` if none.
    pub async fn text_of(&mut self, selector: &str) -> Option<String> {
        let js = format!(
            "(() => {{ const e = document.querySelector({}); return e ? e.innerText : null; }})()",
            serde_json::to_string(selector).unwrap()
        );
        self.eval(&js).await.as_str().map(str::to_owned)
    }

    /// Waits until the element with `id` has the focus (autofocus lands a moment after the
    /// page is parsed); fails naming the element that has it instead.
    pub async fn wait_for_focus(&mut self, id: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let expression = format!(
            "document.readyState === 'complete' && !!document.activeElement && document.activeElement.id === {}",
            serde_json::to_string(id).unwrap()
        );
        while self.probe(&expression).await != Some(Value::Bool(true)) {
            if Instant::now() > deadline {
                let at = self.focused_id().await;
                panic!("the focus never reached #{id}; it is on #{at}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The id of the element that has the focus ("" for none or the body).
    pub async fn focused_id(&mut self) -> String {
        self.eval("document.activeElement ? document.activeElement.id : ''")
            .await
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    /// Sets a field's value as if typed.
    pub async fn fill(&mut self, selector: &str, value: &str) {
        let js = format!(
            "(() => {{ const e = document.querySelector({}); e.value = {}; return true; }})()",
            serde_json::to_string(selector).unwrap(),
            serde_json::to_string(value).unwrap()
        );
        assert_eq!(self.eval(&js).await, true, "no field {selector}");
    }

    /// Clicks the element `selector` finds: a real mouse press at its centre, so the browser
    /// does what it does for a person (form validation, default actions).
    pub async fn click(&mut self, selector: &str) {
        self.clicks(selector, 1).await;
    }

    /// A double click on the element `selector` finds: two presses in quick succession at
    /// the same place, whatever the first one starts.
    pub async fn double_click(&mut self, selector: &str) {
        self.clicks(selector, 2).await;
    }

    async fn clicks(&mut self, selector: &str, count: u32) {
        let js = format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return null; e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()",
            serde_json::to_string(selector).unwrap()
        );
        let at = self.eval(&js).await;
        let (x, y) = (
            at[0]
                .as_f64()
                .unwrap_or_else(|| panic!("nothing to click at {selector}")),
            at[1].as_f64().unwrap(),
        );
        for n in 1..=count {
            for kind in ["mousePressed", "mouseReleased"] {
                self.call(
                    "Input.dispatchMouseEvent",
                    json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": n}),
                )
                .await;
            }
        }
    }

    /// Whether the element `selector` finds takes up room on the page.
    pub async fn is_displayed(&mut self, selector: &str) -> bool {
        let js = format!(
            "(() => {{ const e = document.querySelector({}); return !!e && getComputedStyle(e).display !== 'none' && e.getClientRects().length > 0; }})()",
            serde_json::to_string(selector).unwrap()
        );
        self.eval(&js).await == true
    }

    /// Waits until `expression` is true in the page.
    pub async fn wait_until(&mut self, expression: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let expression = format!("!!({expression})");
        loop {
            if self.probe(&expression).await == Some(Value::Bool(true)) {
                return;
            }
            if Instant::now() > deadline {
                self.screenshot("timeout").await;
                let text = self.text().await;
                panic!("never true: {expression}; page: {text}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs axe-core's WCAG 2.1 A and AA rules on the page in every [`View`], saving a
    /// screenshot of each; returns the violations found, described. Empty when axe-core is
    /// not installed (and then says so), except under `CI=true`, where that fails.
    pub async fn audit(&mut self, name: &str) -> Vec<String> {
        let Some(source) = self.axe_source() else {
            return vec![];
        };
        // axe waits on timers, which do not run while scripts are off. Turning them on does
        // not run the page's own script again: the page stays as it loaded.
        let scripts_off = self.scripts_off;
        if scripts_off {
            self.set_scripts(true).await;
        }
        let mut found = Vec::new();
        for view in View::ALL {
            self.set_view(view).await;
            let loaded = self.eval("typeof window.axe === 'object'").await == true;
            if !loaded {
                let r = self
                    .call(
                        "Runtime.evaluate",
                        json!({"expression": source, "returnByValue": true}),
                    )
                    .await;
                assert!(
                    r.get("exceptionDetails").is_none(),
                    "axe-core did not load: {r}"
                );
            }
            let result = self
                .eval(
                    "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, resultTypes: ['violations']})
                       .then(r => r.violations.map(v => v.id + ' (' + v.impact + '): ' + v.help + ' — ' + v.nodes.map(n => n.target.join(' ')).join(', ')))",
                )
                .await;
            for v in result.as_array().into_iter().flatten() {
                found.push(format!(
                    "{name} [{}] {}",
                    view.name(),
                    v.as_str().unwrap_or("")
                ));
            }
            self.screenshot(&format!("{name}-{}", view.name())).await;
        }
        self.set_view(View::Light).await;
        if scripts_off {
            self.set_scripts(false).await;
        }
        found
    }

    fn axe_source(&mut self) -> Option<String> {
        if self.axe.is_none() {
            self.axe = axe_core();
        }
        self.axe.clone()
    }

    /// The contrast ratio of the colour `property` of `selector`, as it is styled now (focus
    /// it first to measure its focus ring), against the nearest background behind it.
    pub async fn contrast(&mut self, selector: &str, property: &str) -> f64 {
        let js = format!(
            r#"(() => {{
  const e = document.querySelector({sel});
  if (!e) return -1;
  const rgb = (c) => {{ const m = c.match(/[\d.]+/g).map(Number); return m.length > 3 && m[3] === 0 ? null : m.slice(0, 3); }};
  const lum = ([r, g, b]) => [r, g, b].map(v => {{ v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }})
    .reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
  let bg = null;
  for (let n = e.parentElement; n && !bg; n = n.parentElement) bg = rgb(getComputedStyle(n).backgroundColor);
  bg = bg || [255, 255, 255];
  const fg = rgb(getComputedStyle(e)[{prop}]);
  if (!fg) return 0;
  const [a, b] = [lum(fg), lum(bg)];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}})()"#,
            sel = serde_json::to_string(selector).unwrap(),
            prop = serde_json::to_string(property).unwrap()
        );
        self.eval(&js).await.as_f64().expect("a contrast ratio")
    }
}

/// axe-core's browser build: `$AXE_CORE_JS`, else `<target>/axe/node_modules/axe-core/axe.min.js`
/// (`npm install --prefix <target>/axe axe-core`, as `.ci/run` does). `None`, with a notice,
/// when neither exists; under `CI=true` that fails the test.
pub fn axe_core() -> Option<String> {
    let path = std::env::var_os("AXE_CORE_JS").map_or_else(
        || {
            artifacts_dir()
                .parent()
                .map_or_else(|| PathBuf::from("target"), Path::to_path_buf)
                .join("axe/node_modules/axe-core/axe.min.js")
        },
        PathBuf::from,
    );
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(e) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "axe-core is not at {} ({e}); .ci/run installs it with npm",
                    path.display()
                );
            }
            eprintln!(
                "SKIPPED accessibility audit: axe-core not at {} (npm install --prefix <target>/axe axe-core)",
                path.display()
            );
            None
        }
    }
}
