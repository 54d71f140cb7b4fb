//! Microsoft Entra's external authentication method against the real binary. A test "Entra"
//! makes its own RSA key (openssl), publishes it behind a discovery document on loopback, and
//! signs hints as Entra does (RS256, `kid`, `exp` = `iat`: issued already expired). The user
//! proves a passkey (a software authenticator over HTTP; Chromium's virtual authenticator in
//! `eam_in_chromium`) and the test checks the ID token tapbridge POSTs to Entra: signature
//! against tapbridge's JWKS, every claim, nothing more in the form than `id_token` and
//! `state`. Refusals go back to Entra's endpoint as `error=…` with `state`, or are a page when
//! the redirect URI is not Entra's.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::browser::{Chromium, Page, find_chromium};
use common::oidc::{HttpBrowser, Seen};
use common::{Daemon, json, ok};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::{Value, json};

const TENANT: &str = "14c2f153-90a7-4689-9db7-9543bf084dad";
const FOREIGN_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const ENTRA: &str = "https://login.microsoftonline.com/common/federation/externalauthprovider";
const CLAIMS: &str = r#"{"id_token":{"acr":{"essential":true,"values":["possessionorinherence"]},"amr":{"essential":true,"values":["face","fido","fpt","hwk","iris","otp","pop","retina","sc","sms","swk","tel","vbm"]}}}"#;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// An RSA key made by openssl: ring signs with it; the JWK's modulus comes from openssl too,
/// so nothing of tapbridge's own JOSE code is involved on Entra's side.
struct EntraKey {
    pair: RsaKeyPair,
    kid: String,
    jwk: Value,
}

fn make_key(dir: &Path, kid: &str) -> EntraKey {
    let pem = dir.join(format!("{kid}.pem"));
    let made = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .arg("-out")
        .arg(&pem)
        .output()
        .expect("openssl (apt-get install openssl)");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let modulus = Command::new("openssl")
        .args(["rsa", "-noout", "-modulus", "-in"])
        .arg(&pem)
        .output()
        .expect("openssl");
    let hex = String::from_utf8(modulus.stdout).unwrap();
    let hex = hex.trim().strip_prefix("Modulus=").expect("modulus");
    let n: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    // genpkey writes PKCS#8 as PEM.
    let body: String = std::fs::read_to_string(&pem)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let pair = RsaKeyPair::from_pkcs8(&STANDARD.decode(body).unwrap()).expect("PKCS#8 RSA key");
    EntraKey {
        pair,
        kid: kid.into(),
        jwk: json!({"kty": "RSA", "use": "sig", "kid": kid, "x5t": kid, "n": b64(&n), "e": "AQAB"}),
    }
}

impl EntraKey {
    fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let mut sig = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .unwrap();
        format!("{input}.{}", b64(&sig))
    }
}

/// The test Entra: a discovery document and a JWKS on loopback (counting JWKS fetches), and
/// hints signed as Entra signs them.
struct Entra {
    key: EntraKey,
    jwks: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
    port: u16,
    dir: tempfile::TempDir,
}

impl Entra {
    fn start() -> Entra {
        let dir = tempfile::tempdir().unwrap();
        let key = make_key(dir.path(), "entra-key-1");
        let jwks = Arc::new(Mutex::new(json!({"keys": [key.jwk.clone()]})));
        let fetches = Arc::new(AtomicUsize::new(0));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (served, counted) = (jwks.clone(), fetches.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                let _ = reader.read_line(&mut first);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                let path = first.split(' ').nth(1).unwrap_or("").to_owned();
                let body = match path.as_str() {
                    "/common/v2.0/.well-known/openid-configuration" => json!({
                        "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0",
                        "jwks_uri": format!("http://127.0.0.1:{port}/common/discovery/v2.0/keys"),
                        "id_token_signing_alg_values_supported": ["RS256"],
                    }),
                    "/common/discovery/v2.0/keys" => {
                        counted.fetch_add(1, Ordering::SeqCst);
                        served.lock().unwrap().clone()
                    }
                    _ => json!({"error": "not found"}),
                }
                .to_string();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Entra {
            key,
            jwks,
            fetches,
            port,
            dir,
        }
    }

    fn discovery_url(&self) -> String {
        format!(
            "http://127.0.0.1:{}/common/v2.0/.well-known/openid-configuration",
            self.port
        )
    }

    fn claims(&self, aud: &str, upn: &str, oid: &str) -> Value {
        let iat = now();
        json!({
            "ver": "2.0",
            "iss": format!("https://login.microsoftonline.com/{TENANT}/v2.0"),
            "sub": format!("pairwise-{oid}"),
            "aud": aud,
            "exp": iat,
            "iat": iat,
            "nbf": iat,
            "name": "Test User",
            "preferred_username": upn,
            "oid": oid,
            "tid": TENANT,
        })
    }

    fn sign(&self, claims: &Value) -> String {
        self.key.sign(
            &json!({"typ": "JWT", "alg": "RS256", "kid": self.key.kid}),
            claims,
        )
    }

    fn hint(&self, aud: &str, upn: &str, oid: &str) -> String {
        self.sign(&self.claims(aud, upn, oid))
    }
}

/// Entra's request, as its page POSTs it.
fn request(client_id: &str, hint: &str, state: &str) -> Vec<(String, String)> {
    [
        ("scope", "openid"),
        ("response_type", "id_token"),
        ("response_mode", "form_post"),
        ("client_id", client_id),
        ("redirect_uri", ENTRA),
        ("claims", CLAIMS),
        ("nonce", "nonce-from-entra-0000"),
        ("state", state),
        ("client-request-id", "8f3b9f4e-0c3a-4c1e-9a59-6c1b4c0e2d11"),
        ("id_token_hint", hint),
        ("x-client-SKU", "ignored"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

async fn post(browser: &mut HttpBrowser, base: &str, fields: &[(String, String)]) -> Seen {
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    browser
        .form(&format!("{base}/oauth2/authorize"), &pairs)
        .await
}

/// The hidden fields of a form_post page, and where it posts.
fn form_post(seen: &Seen) -> (String, HashMap<String, String>) {
    assert!(
        seen.text.contains("id=\"form-post\""),
        "not a form_post page: {}",
        seen.text
    );
    let action = seen.attr("id=\"form-post\"", "action");
    let start = seen.text.find("id=\"form-post\"").unwrap();
    let form = &seen.text[start..];
    let form = &form[..form.find("</form>").unwrap()];
    let mut fields = HashMap::new();
    for part in form.split("<input type=\"hidden\" name=\"").skip(1) {
        let (name, rest) = part.split_once('"').unwrap();
        let value = rest
            .split_once("value=\"")
            .unwrap()
            .1
            .split('"')
            .next()
            .unwrap()
            .replace("&#x2F;", "/")
            .replace("&#x3D;", "=")
            .replace("&amp;", "&");
        fields.insert(name.to_owned(), value);
    }
    (action, fields)
}

fn refused(seen: &Seen, state: &str) -> String {
    let (action, fields) = form_post(seen);
    assert_eq!(action, ENTRA);
    assert!(!fields.contains_key("id_token"), "{fields:?}");
    assert_eq!(fields.get("state").map(String::as_str), Some(state));
    fields["error"].clone()
}

/// Verifies an ID token against tapbridge's JWKS (RS256, a key with `x5c`); returns its claims.
async fn verify_id_token(base: &str, token: &str) -> Value {
    let jwks: Value = reqwest::get(format!("{base}/oauth2/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut parts = token.split('.');
    let (h, c, s) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap();
    assert_eq!(header["alg"], "RS256", "{header}");
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .unwrap_or_else(|| panic!("kid {} not in {jwks}", header["kid"]));
    assert_eq!(key["kty"], "RSA");
    let x5c = key["x5c"][0].as_str().expect("x5c on the RSA key");
    assert!(!STANDARD.decode(x5c).unwrap().is_empty());
    let n = URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap();
    let e = URL_SAFE_NO_PAD.decode(key["e"].as_str().unwrap()).unwrap();
    ring::signature::RsaPublicKeyComponents { n: &n, e: &e }
        .verify(
            &RSA_PKCS1_2048_8192_SHA256,
            format!("{h}.{c}").as_bytes(),
            &URL_SAFE_NO_PAD.decode(s).unwrap(),
        )
        .expect("the ID token verifies with tapbridge's published key");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(c).unwrap()).unwrap()
}

fn check_answer(claims: &Value, issuer: &str, client_id: &str, sub: &str) {
    let keys: Vec<&String> = claims.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["acr", "amr", "aud", "exp", "iat", "iss", "nonce", "sub"],
        "exactly what Entra checks: {claims}"
    );
    assert_eq!(claims["iss"], issuer);
    assert_eq!(claims["aud"], client_id);
    assert_eq!(claims["sub"], sub);
    assert_eq!(claims["nonce"], "nonce-from-entra-0000");
    assert_eq!(claims["acr"], "possessionorinherence");
    assert_eq!(claims["amr"], json!(["fido"]));
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert!((iat - now()).abs() < 60, "{claims}");
    assert!(exp > iat && exp - iat <= 600, "{claims}");
}

/// A daemon whose Entra is the test's, an EAM application for TENANT, and users.
fn setup(entra: &Entra, d: &Path) -> (Daemon, String) {
    ok(
        d,
        &["user", "add", "ada@contoso.com", "--display-name", "Ada"],
    );
    ok(
        d,
        &["user", "add", "ben@contoso.com", "--display-name", "Ben"],
    );
    ok(d, &["user", "add", "dora@contoso.com", "--disabled"]);
    let app = json(
        d,
        &[
            "app",
            "add",
            "Entra MFA",
            "--entra-tenant",
            TENANT,
            "--json",
        ],
    );
    let client_id = app["appId"].as_str().unwrap().to_owned();
    let daemon = Daemon::start_with(
        d,
        &[(
            "TAPBRIDGE_OIDC__ENTRA_EAM__DISCOVERY_URL".to_owned(),
            entra.discovery_url(),
        )],
    );
    (daemon, client_id)
}

fn pass(d: &Path, upn: &str) -> String {
    json(d, &["tap", "create", upn, "--once", "--json"])["temporaryAccessPass"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn audits(d: &Path, daemon: &Daemon) -> Vec<Value> {
    let admin = common::admin_token(d);
    let all: Value = reqwest::Client::new()
        .get(daemon.url("/v1.0/auditLogs/directoryAudits"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    all["value"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_hire_and_a_returning_user_complete_entras_mfa_with_a_passkey() {
    let entra = Entra::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (daemon, client_id) = setup(&entra, d);
    let base = daemon.base.replace("127.0.0.1", "localhost");
    // Entra's keys are fetched at start, before anyone needs them.
    let fetched = "Microsoft Entra's keys for external authentication fetched";
    for _ in 0..100 {
        if daemon.logs().contains(fetched) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(daemon.logs().contains(fetched), "{}", daemon.logs());
    assert_eq!(
        entra.fetches.load(Ordering::SeqCst),
        1,
        "keys fetched at start"
    );
    let app = json(d, &["app", "list", "--json"]);
    let listed = &app.as_array().unwrap()[0];
    assert_eq!(listed["idTokenSigningAlgorithm"], "RS256");
    assert_eq!(listed["web"].as_array().unwrap().len(), 3);
    let meta: Value = reqwest::get(format!("{base}/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        meta["response_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("id_token"))
    );
    assert!(
        meta["response_modes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("form_post"))
    );
    assert!(
        meta["id_token_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("RS256"))
    );

    // 1. A new hire: Entra's request → sign-in page → pass → first passkey → sign-in → answer.
    let ada_oid = "951ddb04-b16d-45f3-bbf7-b0fa18fa7aee";
    let mut browser = HttpBrowser::new(&base);
    let hint = entra.hint(&client_id, "ada@contoso.com", ada_oid);
    let started = post(&mut browser, &base, &request(&client_id, &hint, "state-1")).await;
    assert_eq!(started.status, 303, "{}", started.text);
    let signin = browser.open(started.location.as_deref().unwrap()).await;
    assert_eq!(signin.status, 200, "{}", signin.text);
    let answer = browser
        .onboard(&signin, "ada@contoso.com", &pass(d, "ada@contoso.com"))
        .await;
    let (action, fields) = form_post(&answer);
    assert_eq!(action, ENTRA);
    let mut names: Vec<&String> = fields.keys().collect();
    names.sort();
    assert_eq!(
        names,
        ["id_token", "state"],
        "Entra gets id_token and state only"
    );
    assert_eq!(fields["state"], "state-1");
    let claims = verify_id_token(&base, &fields["id_token"]).await;
    check_answer(&claims, &base, &client_id, &format!("pairwise-{ada_oid}"));
    assert_eq!(entra.fetches.load(Ordering::SeqCst), 1, "keys fetched once");

    // 2. The same user again, renamed in Entra meanwhile: the link made on first use holds;
    //    an existing session is no second factor, a new passkey sign-in is.
    let hint = entra.hint(&client_id, "ada.lovelace@contoso.com", ada_oid);
    let again = post(&mut browser, &base, &request(&client_id, &hint, "state-2")).await;
    assert_eq!(again.status, 303);
    let signin = browser.open(again.location.as_deref().unwrap()).await;
    assert!(signin.url.contains("/oauth2/signin"), "{}", signin.url);
    let answer = browser.sign_in_and_continue(&signin).await;
    let (_, fields) = form_post(&answer);
    assert_eq!(fields["state"], "state-2");
    let claims = verify_id_token(&base, &fields["id_token"]).await;
    check_answer(&claims, &base, &client_id, &format!("pairwise-{ada_oid}"));
    assert_eq!(entra.fetches.load(Ordering::SeqCst), 1, "keys cached");

    // 3. Signed in as someone else than Entra named: access_denied.
    let hint = entra.hint(
        &client_id,
        "ben@contoso.com",
        "0c0e0b4e-1111-4222-8333-444455556666",
    );
    let other = post(&mut browser, &base, &request(&client_id, &hint, "state-3")).await;
    let signin = browser.open(other.location.as_deref().unwrap()).await;
    let answer = browser.sign_in_and_continue(&signin).await;
    assert_eq!(refused(&answer, "state-3"), "access_denied");

    // 4. A pass alone never satisfies Entra: Ben's pass opens a session that only registers.
    let mut ben = HttpBrowser::new(&base);
    let hint = entra.hint(
        &client_id,
        "ben@contoso.com",
        "0c0e0b4e-1111-4222-8333-444455556666",
    );
    let started = post(&mut ben, &base, &request(&client_id, &hint, "state-4")).await;
    let signin = ben.open(started.location.as_deref().unwrap()).await;
    let tap = ben
        .open(&format!("{base}{}", signin.attr("id=\"use-tap\"", "href")))
        .await;
    let action = format!("{base}{}", tap.attr("<form method=\"post\"", "action"));
    let csrf = tap.csrf();
    let ben_pass = pass(d, "ben@contoso.com");
    let opened = ben
        .form(
            &action,
            &[
                ("csrf", &csrf),
                ("upn", "ben@contoso.com"),
                ("pass", &ben_pass),
            ],
        )
        .await;
    assert_eq!(opened.status, 303, "{}", opened.text);
    assert!(
        opened
            .location
            .as_deref()
            .unwrap()
            .contains("/oauth2/register")
    );
    let flow = opened
        .location
        .as_deref()
        .unwrap()
        .split("flow=")
        .nth(1)
        .unwrap()
        .to_owned();
    let resumed = ben
        .get(&format!("{base}/oauth2/authorize/resume?flow={flow}"))
        .await;
    assert_eq!(resumed.status, 303, "{}", resumed.text);
    assert!(
        resumed
            .location
            .as_deref()
            .unwrap()
            .contains("/oauth2/signin?"),
        "a pass session is sent to sign in with a passkey: {:?}",
        resumed.location
    );
    assert!(!resumed.text.contains("id_token"));

    // The audit log tells who was verified for Entra, and the refusal with its reason.
    let records = audits(d, &daemon).await;
    let ok_count = records
        .iter()
        .filter(|a| {
            a["activityDisplayName"]
                == "User verified for Microsoft Entra (external authentication method)"
                && a["result"] == "success"
        })
        .count();
    assert_eq!(ok_count, 2, "{records:?}");
    let failed = records
        .iter()
        .find(|a| {
            a["activityDisplayName"]
                == "Verification for Microsoft Entra failed (external authentication method)"
        })
        .expect("the refusal is audited");
    assert!(
        failed["resultReason"]
            .as_str()
            .unwrap()
            .contains("another user"),
        "{failed}"
    );
    let logs = daemon.logs();
    for secret in [hint.as_str(), fields["id_token"].as_str()] {
        assert!(!logs.contains(secret), "a token in the logs");
    }
    daemon.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_hints_and_foreign_redirects_are_refused() {
    let entra = Entra::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (daemon, client_id) = setup(&entra, d);
    let base = daemon.base.clone();
    let mut browser = HttpBrowser::new(&base);
    let ada = "951ddb04-b16d-45f3-bbf7-b0fa18fa7aee";
    let good = entra.claims(&client_id, "ada@contoso.com", ada);

    let mut cases: Vec<(&str, String, &str)> = vec![];
    // Issued ten minutes ago (the limit is five): exp = iat, as always, does not matter.
    let mut old = good.clone();
    old["iat"] = json!(now() - 600);
    old["exp"] = old["iat"].clone();
    cases.push(("old iat", entra.sign(&old), "invalid_request"));
    // Another tenant (its own issuer), not allowed for this application.
    let mut foreign = good.clone();
    foreign["tid"] = json!(FOREIGN_TENANT);
    foreign["iss"] = json!(format!(
        "https://login.microsoftonline.com/{FOREIGN_TENANT}/v2.0"
    ));
    cases.push(("foreign tenant", entra.sign(&foreign), "access_denied"));
    // An issuer that is not the tenant's.
    let mut issuer = good.clone();
    issuer["iss"] = json!(format!("https://sts.windows.net/{TENANT}/"));
    cases.push(("v1 issuer", entra.sign(&issuer), "invalid_request"));
    // For another application.
    let mut aud = good.clone();
    aud["aud"] = json!("00001111-aaaa-2222-bbbb-3333cccc4444");
    cases.push(("wrong aud", entra.sign(&aud), "invalid_request"));
    // Signed by someone else with Entra's kid.
    let impostor = make_key(entra.dir.path(), "impostor");
    let forged = impostor.sign(
        &json!({"typ": "JWT", "alg": "RS256", "kid": entra.key.kid}),
        &good,
    );
    cases.push(("bad signature", forged, "invalid_request"));
    // Tampered claims under a real signature.
    let real = entra.sign(&good);
    let mut p = real.split('.');
    let (h, _, s) = (p.next().unwrap(), p.next().unwrap(), p.next().unwrap());
    let mut evil = good.clone();
    evil["preferred_username"] = json!("ben@contoso.com");
    evil["oid"] = json!("0c0e0b4e-1111-4222-8333-444455556666");
    cases.push((
        "tampered",
        format!("{h}.{}.{s}", b64(evil.to_string().as_bytes())),
        "invalid_request",
    ));
    // alg none, and HS256 keyed with the public modulus.
    let none = format!(
        "{}.{}.",
        b64(br#"{"typ":"JWT","alg":"none"}"#),
        b64(good.to_string().as_bytes())
    );
    cases.push(("alg none", none, "invalid_request"));
    let hs = format!(
        "{}.{}.{s}",
        b64(format!(r#"{{"typ":"JWT","alg":"HS256","kid":"{}"}}"#, entra.key.kid).as_bytes()),
        b64(good.to_string().as_bytes())
    );
    cases.push(("HS256", hs, "invalid_request"));
    // Users tapbridge does not have, or has disabled.
    cases.push((
        "unknown user",
        entra.hint(
            &client_id,
            "nobody@contoso.com",
            "11111111-2222-4333-8444-555555555555",
        ),
        "access_denied",
    ));
    cases.push((
        "disabled user",
        entra.hint(
            &client_id,
            "dora@contoso.com",
            "66666666-7777-4888-8999-aaaaaaaaaaaa",
        ),
        "access_denied",
    ));
    cases.push(("no hint", String::new(), "invalid_request"));
    for (i, (what, hint, expected)) in cases.iter().enumerate() {
        let state = format!("s-{i}");
        let seen = post(&mut browser, &base, &request(&client_id, hint, &state)).await;
        assert_eq!(seen.status, 200, "{what}: {}", seen.text);
        assert_eq!(refused(&seen, &state), *expected, "{what}");
    }

    // Entra may send the request as a GET too.
    let query: String = reqwest::Url::parse_with_params(
        "http://x.invalid/",
        request(&client_id, &entra.sign(&good), "s-g"),
    )
    .unwrap()
    .query()
    .unwrap()
    .to_owned();
    let seen = browser
        .get(&format!("{base}/oauth2/authorize?{query}"))
        .await;
    assert_eq!(seen.status, 303, "{}", seen.text);
    assert!(
        seen.location
            .as_deref()
            .unwrap()
            .contains("/oauth2/signin?flow=")
    );

    // Not Entra's endpoint (even a near miss): a page, nothing sent anywhere.
    for redirect in [
        "https://evil.example.com/collect",
        "https://login.microsoftonline.com/common/federation/externalauthprovider/",
        "https://login.microsoftonline.com/common/federation/externalauthprovider?x=1",
    ] {
        let mut fields = request(&client_id, &entra.sign(&good), "s-r");
        fields.retain(|(k, _)| k != "redirect_uri");
        fields.push(("redirect_uri".into(), redirect.into()));
        let seen = post(&mut browser, &base, &fields).await;
        assert_eq!(seen.status, 400, "{redirect}: {}", seen.text);
        assert!(!seen.text.contains("id=\"form-post\""), "{redirect}");
    }
    // An ordinary request to the EAM client (a code), and an EAM client registered with
    // another redirect URI over Graph: refused.
    let mut code = request(&client_id, &entra.sign(&good), "s-c");
    code.retain(|(k, _)| k != "response_type");
    code.push(("response_type".into(), "code".into()));
    let seen = post(&mut browser, &base, &code).await;
    assert_eq!(refused(&seen, "s-c"), "unsupported_response_type");
    let admin = json(
        d,
        &[
            "token",
            "create",
            "--name",
            "apps",
            "--role",
            "application-administrator",
            "--json",
        ],
    )["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = common::send(
        reqwest::Client::new()
            .post(daemon.url("/v1.0/applications"))
            .bearer_auth(&admin)
            .json(&json!({
                "displayName": "Not Entra",
                "web": {"redirectUris": ["https://evil.example.com/collect"]},
                "entraExternalAuthentication@tapbridge": {"tenantIds": [TENANT]},
            })),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("Entra"),
        "{body}"
    );
    let (status, body) = common::send(
        reqwest::Client::new()
            .post(daemon.url("/v1.0/applications"))
            .bearer_auth(&admin)
            .json(&json!({
                "displayName": "Entra MFA (US Gov)",
                "web": {"redirectUris": ["https://login.microsoftonline.us/common/federation/externalauthprovider"]},
                "entraExternalAuthentication@tapbridge": {"tenantIds": [TENANT], "appId": "00001111-aaaa-2222-bbbb-3333cccc4444"},
            })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["idTokenSigningAlgorithm@tapbridge"], "RS256");
    assert_eq!(
        body["web"]["implicitGrantSettings"]["enableIdTokenIssuance"],
        true
    );
    assert_eq!(
        body["entraExternalAuthentication@tapbridge"]["appId"],
        "00001111-aaaa-2222-bbbb-3333cccc4444"
    );
    // The marking comes off with null; a tenant id that is not a GUID is refused.
    let id = body["id"].as_str().unwrap().to_owned();
    let (status, body) = common::send(
        reqwest::Client::new()
            .patch(daemon.url(&format!("/v1.0/applications/{id}")))
            .bearer_auth(&admin)
            .json(&json!({"entraExternalAuthentication@tapbridge": {"tenantIds": ["contoso"]}})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = common::send(
        reqwest::Client::new()
            .patch(daemon.url(&format!("/v1.0/applications/{id}")))
            .bearer_auth(&admin)
            .json(&json!({"entraExternalAuthentication@tapbridge": null})),
    )
    .await;
    assert!(status == 200 || status == 204, "{status}");
    let (_, body) = common::send(
        reqwest::Client::new()
            .get(daemon.url(&format!("/v1.0/applications/{id}")))
            .bearer_auth(&admin),
    )
    .await;
    assert_eq!(
        body["entraExternalAuthentication@tapbridge"],
        Value::Null,
        "{body}"
    );

    // Entra rolls its key: a hint with a new kid fetches the keys again, once; a made-up kid
    // right after does not make tapbridge fetch again.
    let fetched = entra.fetches.load(Ordering::SeqCst);
    let rolled = make_key(entra.dir.path(), "entra-key-2");
    entra.jwks.lock().unwrap()["keys"]
        .as_array_mut()
        .unwrap()
        .push(rolled.jwk.clone());
    let hint = rolled.sign(
        &json!({"typ": "JWT", "alg": "RS256", "kid": rolled.kid}),
        &good,
    );
    let seen = post(&mut browser, &base, &request(&client_id, &hint, "s-k")).await;
    assert_eq!(
        seen.status, 303,
        "the rolled key is fetched and accepted: {}",
        seen.text
    );
    assert_eq!(entra.fetches.load(Ordering::SeqCst), fetched + 1);
    let made_up = impostor.sign(
        &json!({"typ": "JWT", "alg": "RS256", "kid": "made-up"}),
        &good,
    );
    let seen = post(&mut browser, &base, &request(&client_id, &made_up, "s-m")).await;
    assert_eq!(refused(&seen, "s-m"), "invalid_request");
    assert_eq!(
        entra.fetches.load(Ordering::SeqCst),
        fetched + 1,
        "bounded refetch"
    );

    // Every refusal is audited with its reason; nothing of the tokens is logged.
    let records = audits(d, &daemon).await;
    let reasons: Vec<String> = records
        .iter()
        .filter(|a| {
            a["activityDisplayName"]
                == "Verification for Microsoft Entra failed (external authentication method)"
        })
        .filter_map(|a| a["resultReason"].as_str().map(str::to_owned))
        .collect();
    for expected in [
        "too old",
        "tenant 72f988bf-86f1-41af-91ab-2d7cd011db47 is not allowed",
        "another application",
        "does not verify",
        "no tapbridge user",
        "disabled",
        "no id_token_hint",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(expected)),
            "{expected} not in {reasons:?}"
        );
    }
    let logs = daemon.logs();
    assert!(
        !logs.contains(&entra.sign(&good)[..60]),
        "a hint in the logs"
    );
    daemon.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eam_in_chromium() {
    let Some(exe) = find_chromium() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("chromium is not installed; .ci/run installs it");
        }
        eprintln!("SKIPPED: chromium not found (install it: apt-get install chromium)");
        return;
    };
    let entra = Entra::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (daemon, client_id) = setup(&entra, d);
    let base = daemon.base.replace("127.0.0.1", "localhost");
    let pass = pass(d, "ada@contoso.com");
    let ada_oid = "951ddb04-b16d-45f3-bbf7-b0fa18fa7aee";

    let chromium = Chromium::launch(&exe);
    let mut page = Page::open(&chromium).await;
    page.navigate("about:blank").await;
    page.call("WebAuthn.enable", json!({})).await;
    page.call(
        "WebAuthn.addVirtualAuthenticator",
        json!({"options": {
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
            "hasUserVerification": true, "isUserVerified": true,
            "automaticPresenceSimulation": true,
        }}),
    )
    .await;
    // Entra's endpoint is played by the test: the browser's POST there is held and answered.
    page.call(
        "Fetch.enable",
        json!({"patterns": [{"urlPattern": "https://login.microsoftonline.com/*", "requestStage": "Request"}]}),
    )
    .await;

    // 1. Entra's page POSTs the request (cross-site, as from login.microsoftonline.com).
    let hint = entra.hint(&client_id, "ada@contoso.com", ada_oid);
    let fields = serde_json::to_string(&request(&client_id, &hint, "chromium-state")).unwrap();
    page.eval(&format!(
        "(() => {{ const f = document.createElement('form'); f.method = 'post';
           f.action = {action};
           for (const [k, v] of {fields}) {{ const i = document.createElement('input');
             i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i); }}
           document.body.appendChild(f); setTimeout(() => f.submit(), 0); return true; }})()",
        action = serde_json::to_string(&format!("{base}/oauth2/authorize")).unwrap(),
    ))
    .await;
    page.wait_for_path("/oauth2/signin").await;
    page.screenshot("eam-01-signin").await;
    // 2. A new hire: pass, first passkey, sign-in with it.
    page.eval("setTimeout(() => document.getElementById('use-tap').click(), 0); true")
        .await;
    page.wait_for_path("/oauth2/signin/tap").await;
    page.eval(&format!(
        "document.getElementById('upn').value = 'ada@contoso.com';
         document.getElementById('pass').value = {};
         setTimeout(() => document.querySelector('form button[type=submit]').click(), 0); true",
        serde_json::to_string(&pass).unwrap()
    ))
    .await;
    page.wait_for_path("/oauth2/register").await;
    // A real mouse click: the ceremony needs the user's gesture.
    page.click("#passkey-register").await;
    // The virtual authenticator may answer the page's conditional request by itself (then
    // the answer is on its way to Entra already); otherwise press the button, again if a
    // busy machine swallowed the first press.
    let mut paused = None;
    for _ in 0..4 {
        if let Some(p) = page
            .try_event("Fetch.requestPaused", std::time::Duration::from_secs(4))
            .await
        {
            paused = Some(p);
            break;
        }
        page.eval("(() => { const b = document.getElementById('passkey-signin'); if (b) setTimeout(() => b.click(), 0); return true; })()")
            .await;
        if let Some(p) = page
            .try_event("Fetch.requestPaused", std::time::Duration::from_secs(10))
            .await
        {
            paused = Some(p);
            break;
        }
    }
    let Some(paused) = paused else {
        page.screenshot("eam-timeout").await;
        panic!("the answer never left for Entra: {}", page.text().await);
    };
    // 3. The answer went to Entra as an auto-submitted form.
    let req = &paused["request"];
    assert_eq!(req["method"], "POST");
    assert_eq!(req["url"], ENTRA);
    let body = req["postData"].as_str().expect("the form's body");
    let posted: HashMap<String, String> = form_urlencoded_pairs(body);
    let mut names: Vec<&String> = posted.keys().collect();
    names.sort();
    assert_eq!(names, ["id_token", "state"]);
    assert_eq!(posted["state"], "chromium-state");
    page.call(
        "Fetch.fulfillRequest",
        json!({"requestId": paused["requestId"], "responseCode": 200,
               "responseHeaders": [{"name": "Content-Type", "value": "text/html"}],
               "body": STANDARD.encode("<!doctype html><title>Entra</title><p>MFA done</p>")}),
    )
    .await;
    let claims = verify_id_token(&base, &posted["id_token"]).await;
    check_answer(&claims, &base, &client_id, &format!("pairwise-{ada_oid}"));
    drop(page);
    drop(chromium);
    daemon.stop();
}

fn form_urlencoded_pairs(body: &str) -> HashMap<String, String> {
    reqwest::Url::parse(&format!("http://form.invalid/?{body}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
