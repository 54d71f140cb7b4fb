//! The OpenID Connect tests' real parts: a relying party built on Authlib
//! (`tests/support/oidc_rp.py`, a small web application), and a plain HTTP browser with a
//! software authenticator for the journeys that do not need Chromium.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

/// Whether the relying party can run here (python3 with authlib and requests). In CI it must.
pub fn rp_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import authlib, requests, cryptography"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "authlib (pip install authlib requests) is required in CI"
        );
        eprintln!("skipping: python3 with authlib is not installed");
    }
    ok
}

pub struct RelyingParty {
    child: Child,
    pub base: String,
}

impl RelyingParty {
    pub fn start() -> RelyingParty {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/oidc_rp.py");
        let mut child = Command::new("python3")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the relying party");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("relying party output");
        let port: u16 = line
            .trim()
            .strip_prefix("ready ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("relying party said {line:?}"));
        RelyingParty {
            child,
            base: format!("http://localhost:{port}"),
        }
    }

    pub fn callback(&self) -> String {
        format!("{}/callback", self.base)
    }

    pub fn logged_out(&self) -> String {
        format!("{}/logged-out", self.base)
    }

    /// Tells the application its issuer and credentials.
    pub async fn configure(&self, config: Value) {
        let r = reqwest::Client::new()
            .post(format!(
                "{}/configure",
                self.base.replace("localhost", "127.0.0.1")
            ))
            .json(&config)
            .send()
            .await
            .expect("configure the relying party");
        assert!(r.status().is_success());
    }
}

impl Drop for RelyingParty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response as the browser saw it.
pub struct Seen {
    pub url: String,
    pub status: u16,
    pub location: Option<String>,
    pub text: String,
}

impl Seen {
    pub fn csrf(&self) -> String {
        let marker = if self.text.contains("name=\"csrf-token\" content=\"") {
            "name=\"csrf-token\" content=\""
        } else {
            "name=\"csrf\" value=\""
        };
        let start = self.text.find(marker).expect("csrf token in page") + marker.len();
        self.text[start..]
            .split('"')
            .next()
            .unwrap_or("")
            .to_owned()
    }

    /// The value of `attribute` in the tag that holds `marker`, HTML entities undone.
    pub fn attr(&self, marker: &str, attribute: &str) -> String {
        let at = self
            .text
            .find(marker)
            .unwrap_or_else(|| panic!("{marker} not in {}", self.text));
        let from = self.text[..at].rfind('<').unwrap_or(at);
        let rest = &self.text[from..];
        let key = format!("{attribute}=\"");
        let start = rest.find(&key).expect("attribute") + key.len();
        rest[start..]
            .split('"')
            .next()
            .unwrap()
            .replace("&amp;", "&")
            .replace("&#x2F;", "/")
            .replace("&#x3D;", "=")
    }

    /// The JSON the test application shows in its result page.
    pub fn result(&self) -> Value {
        let start = self.text.find("<pre id='result'>").expect("a result page") + 17;
        let end = self.text[start..].find("</pre>").unwrap() + start;
        let raw = self.text[start..end]
            .replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&");
        serde_json::from_str(&raw).expect("result JSON")
    }
}

/// A browser without a screen: cookies, redirects followed one by one, the pages' script
/// calls made by hand, and a software authenticator.
pub struct HttpBrowser {
    client: reqwest::Client,
    cookies: HashMap<String, String>,
    /// The tapbridge origin, sent as `Origin` on its pages' POSTs.
    pub origin: String,
    key: SoftPasskey,
    credential_id: Option<Value>,
    user_handle: Option<String>,
}

fn absolute(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        location.to_owned()
    } else {
        let origin: String = base.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
        format!("{origin}{location}")
    }
}

impl HttpBrowser {
    pub fn new(origin: &str) -> HttpBrowser {
        HttpBrowser {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
            origin: origin.to_owned(),
            key: SoftPasskey::new(true),
            credential_id: None,
            user_handle: None,
        }
    }

    pub fn has_cookie(&self, name: &str) -> bool {
        self.cookies.contains_key(name)
    }

    async fn send(&mut self, req: reqwest::RequestBuilder, url: &str) -> Seen {
        let jar: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let req = if jar.is_empty() {
            req
        } else {
            req.header("cookie", jar.join("; "))
        };
        let r = req.send().await.expect("request");
        for c in r.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.into(), v.into());
            }
        }
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(|l| absolute(url, l));
        Seen {
            url: url.to_owned(),
            status,
            location,
            text: r.text().await.unwrap_or_default(),
        }
    }

    /// Loopback addresses by number: `localhost` may resolve to ::1 first.
    fn dial(url: &str) -> String {
        url.replacen("//localhost:", "//127.0.0.1:", 1)
    }

    pub async fn get(&mut self, url: &str) -> Seen {
        let req = self.client.get(Self::dial(url));
        self.send(req, url).await
    }

    /// GETs `url` and follows redirects until a page.
    pub async fn open(&mut self, url: &str) -> Seen {
        let mut seen = self.get(url).await;
        for _ in 0..20 {
            match (&seen.location, seen.status) {
                (Some(next), 301..=303 | 307 | 308) => {
                    let next = next.clone();
                    seen = self.get(&next).await;
                }
                _ => return seen,
            }
        }
        panic!("too many redirects from {url}");
    }

    pub async fn form(&mut self, url: &str, fields: &[(&str, &str)]) -> Seen {
        let req = self
            .client
            .post(Self::dial(url))
            .header("origin", &self.origin)
            .form(fields);
        self.send(req, url).await
    }

    async fn script(&mut self, path: &str, csrf: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.origin);
        let req = self
            .client
            .post(Self::dial(&url))
            .header("origin", &self.origin)
            .header("x-csrf-token", csrf)
            .json(&body);
        let seen = self.send(req, &url).await;
        assert_eq!(seen.status, 200, "{path}: {}", seen.text);
        serde_json::from_str(&seen.text).expect("JSON")
    }

    /// What the registration page's script does.
    pub async fn register(&mut self, page: &Seen) {
        let csrf = page.csrf();
        let start = self.script("/register/options", &csrf, json!({})).await;
        let mut options: CreationChallengeResponse =
            serde_json::from_value(start["options"].clone()).unwrap();
        self.user_handle = Some(URL_SAFE_NO_PAD.encode(&options.public_key.user.id));
        // The software key makes no resident keys; it keeps the user handle as one would.
        if let Some(sel) = options.public_key.authenticator_selection.as_mut() {
            sel.require_resident_key = false;
            sel.resident_key = None;
        }
        let reg = self
            .key
            .do_registration(Url::parse(&self.origin).unwrap(), options)
            .expect("registration");
        let credential = serde_json::to_value(&reg).unwrap();
        self.credential_id = Some(credential["rawId"].clone());
        self.script(
            "/register",
            &csrf,
            json!({"ceremony": start["ceremony"], "name": "", "credential": credential}),
        )
        .await;
    }

    /// What the sign-in page's script does.
    pub async fn sign_in(&mut self, page: &Seen) {
        let csrf = page.csrf();
        let start = self
            .script("/signin/passkey/options", &csrf, json!({}))
            .await;
        let mut options: RequestChallengeResponse =
            serde_json::from_value(start["options"].clone()).unwrap();
        let id = self.credential_id.clone().expect("a passkey");
        options.public_key.allow_credentials =
            vec![serde_json::from_value(json!({"type": "public-key", "id": id})).unwrap()];
        options.mediation = None;
        let assertion = self
            .key
            .do_authentication(Url::parse(&self.origin).unwrap(), options)
            .expect("assertion");
        let mut credential = serde_json::to_value(&assertion).unwrap();
        credential["response"]["userHandle"] = json!(self.user_handle);
        self.script(
            "/signin/passkey",
            &csrf,
            json!({"ceremony": start["ceremony"], "credential": credential}),
        )
        .await;
    }

    /// From the flow's sign-in page: a new hire's pass, a first passkey, a sign-in with it.
    /// Returns the page the flow goes on to (consent, or the application).
    pub async fn onboard(&mut self, signin: &Seen, upn: &str, pass: &str) -> Seen {
        let tap = self
            .open(&absolute(
                &signin.url,
                &signin.attr("id=\"use-tap\"", "href"),
            ))
            .await;
        let action = absolute(&tap.url, &tap.attr("<form method=\"post\"", "action"));
        let csrf = tap.csrf();
        let opened = self
            .form(&action, &[("csrf", &csrf), ("upn", upn), ("pass", pass)])
            .await;
        assert_eq!(opened.status, 303, "{}", opened.text);
        let register = self.open(opened.location.as_deref().unwrap()).await;
        assert_eq!(register.status, 200, "{}", register.text);
        self.register(&register).await;
        let next = absolute(&register.url, &register.attr("data-page=", "data-next"));
        let signin = self.open(&next).await;
        assert!(
            signin.text.contains("Your passkey is ready"),
            "{}",
            signin.text
        );
        self.sign_in(&signin).await;
        let resume = absolute(&signin.url, &signin.attr("data-page=", "data-next"));
        self.open(&resume).await
    }

    /// From the flow's sign-in page, with the passkey already registered.
    pub async fn sign_in_and_continue(&mut self, signin: &Seen) -> Seen {
        self.sign_in(signin).await;
        let resume = absolute(&signin.url, &signin.attr("data-page=", "data-next"));
        self.open(&resume).await
    }

    /// Allows on a consent page; returns where that leads.
    pub async fn allow(&mut self, consent: &Seen) -> Seen {
        let flow = consent.attr("name=\"flow\"", "value");
        let csrf = consent.csrf();
        let url = format!("{}/oauth2/consent", self.origin);
        let answer = self
            .form(
                &url,
                &[("csrf", &csrf), ("flow", &flow), ("decision", "allow")],
            )
            .await;
        match &answer.location {
            Some(next) => {
                let next = next.clone();
                self.open(&next).await
            }
            None => answer,
        }
    }
}
