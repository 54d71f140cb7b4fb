//! Onboarding mail against a real SMTP server (aiosmtpd): the MIME a joiner receives,
//! STARTTLS with a private CA and AUTH, implicit TLS, a server that is down, busy (4xx) or
//! refusing (5xx), and tapbridge killed mid-queue — every message arrives exactly once (see
//! `mail_crash.rs` for kills while the server holds a message).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::smtp::{Sink, available, eventually, pass_in};
use common::{Daemon, json, ok, run};
use serde_json::Value;

const RULES: &str =
    r#"[{ name = "joiners", recipients = ["personal", "work"], usable_once = true }]"#;

fn env(port: u16) -> Vec<(String, String)> {
    [
        ("TAPBRIDGE_MAIL__SMTP__HOST", "127.0.0.1".to_owned()),
        ("TAPBRIDGE_MAIL__SMTP__PORT", port.to_string()),
        ("TAPBRIDGE_MAIL__SMTP__SECURITY", "none".to_owned()),
        ("TAPBRIDGE_MAIL__RETRY_BASE_SECONDS", "1".to_owned()),
        ("TAPBRIDGE_MAIL__RETRY_MAX_SECONDS", "2".to_owned()),
        ("TAPBRIDGE_MAIL__POLL_INTERVAL_MS", "100".to_owned()),
        ("TAPBRIDGE_MAIL__LEASE_SECONDS", "10".to_owned()),
        ("TAPBRIDGE_ONBOARDING__POLL_INTERVAL_MS", "100".to_owned()),
        ("TAPBRIDGE_ONBOARDING__RULES", RULES.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn start(dir: &Path, env: &[(String, String)]) -> Daemon {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Daemon::start(dir, &pairs)
}

/// The CLI with the same mail settings as the daemon (it reads the same database).
fn cli(dir: &Path, env: &[(String, String)], args: &[&str]) -> std::process::Output {
    let mut cmd = common::command(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args).output().expect("run tapbridge")
}

fn outbox(dir: &Path) -> Vec<Value> {
    json(dir, &["mail", "list", "--json"])
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn add_user(dir: &Path, name: &str) {
    ok(
        dir,
        &[
            "user",
            "add",
            &format!("{name}@corp.example"),
            "--mail",
            &format!("{name}@corp.example"),
            "--personal-email",
            &format!("{name}@home.example"),
            "--display-name",
            name,
        ],
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_joiner_receives_one_well_formed_message() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(&dir.path().join("sink"), &[]);
    let mut e = env(sink.port);
    e.push(("TAPBRIDGE_MAIL__ORG_NAME".into(), "Zoë & Co".into()));
    let daemon = start(dir.path(), &e);
    ok(
        dir.path(),
        &[
            "user",
            "add",
            "zoe@corp.example",
            "--mail",
            "zoe@corp.example",
            "--personal-email",
            "zoe@home.example",
            "--display-name",
            "Zoë Ünal",
            "--given-name",
            "<b>Zoë</b>",
            "--language",
            "de-CH",
        ],
    );
    let messages = sink.wait_for(1, Duration::from_secs(20));
    assert_eq!(messages.len(), 1, "{}", daemon.logs());
    let m = &messages[0];
    let (headers, body) = m.split_once("\r\n\r\n").expect("headers and body");
    assert!(headers.contains("X-Envelope-To: zoe@home.example, zoe@corp.example"));
    assert!(headers.contains("Content-Type: multipart/alternative"));
    assert!(headers.contains("Message-ID: <") && headers.contains("Date: "));
    let subject = headers
        .lines()
        .find(|l| l.starts_with("Subject: "))
        .expect("subject");
    assert!(
        subject.contains("=?utf-8?"),
        "non-ASCII subject is RFC 2047-encoded: {subject}"
    );
    let to: String = headers
        .split("\r\nTo: ")
        .nth(1)
        .unwrap()
        .split("\r\nMIME")
        .next()
        .unwrap()
        .to_owned();
    assert!(
        to.contains("=?utf-8?")
            && to.contains("<zoe@home.example>")
            && to.contains("<zoe@corp.example>"),
        "{to}"
    );
    assert!(
        body.contains("Content-Type: text/plain; charset=utf-8")
            && body.contains("Content-Type: text/html; charset=utf-8")
    );
    let pass = pass_in(body);
    assert_eq!(m.matches(&pass).count(), 2, "once in each part");
    assert!(!headers.contains(&pass), "never in a header");
    let html = body.split("Content-Type: text/html").nth(1).unwrap();
    assert!(
        html.contains("&lt;b&gt;") && !html.contains("<b>"),
        "directory values are escaped in HTML"
    );
    assert!(
        body.contains("Hallo <b>Zo=C3=AB</b>"),
        "German, from the user's preferredLanguage; text is not escaped"
    );

    // The message is recorded as sent with the server's reply; the pass exists and is usable.
    let queued = outbox(dir.path());
    assert_eq!(
        (queued.len(), queued[0]["state"].as_str()),
        (1, Some("sent"))
    );
    assert!(
        queued[0]["serverReply"]
            .as_str()
            .unwrap()
            .starts_with("250")
    );
    let taps = json(dir.path(), &["tap", "list", "--json"]);
    assert_eq!(
        (
            taps[0]["userPrincipalName"].as_str(),
            taps[0]["isUsable"].as_bool()
        ),
        (Some("zoe@corp.example"), Some(true))
    );
    assert!(
        !daemon.logs().contains(&pass) && !daemon.logs().contains(&pass.replace('-', "")),
        "the pass is never logged"
    );
    // Re-processing cannot send twice: a second joiner event would need a new user.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(sink.messages().len(), 1);
    daemon.stop();
}

fn make_ca(dir: &Path) -> bool {
    let sh = |script: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(dir)
            .status()
            .is_ok_and(|s| s.success())
    };
    sh(
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=tapbridge test CA' 2>/dev/null \
        && openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj '/CN=localhost' 2>/dev/null \
        && printf 'subjectAltName=DNS:localhost\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext.cnf \
        && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf 2>/dev/null",
    )
}

#[test]
fn starttls_with_a_private_ca_and_auth() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    assert!(make_ca(&certs), "openssl could not make a test CA");
    let (cert, key) = (certs.join("server.pem"), certs.join("server.key"));
    let sink = Sink::start(
        &dir.path().join("sink"),
        &[
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--user",
            "tb",
            "--password",
            "s3cret",
        ],
    );
    let mut e = env(sink.port);
    e.retain(|(k, _)| k != "TAPBRIDGE_MAIL__SMTP__SECURITY" && k != "TAPBRIDGE_MAIL__SMTP__HOST");
    e.extend([
        (
            "TAPBRIDGE_MAIL__SMTP__HOST".to_owned(),
            "localhost".to_owned(),
        ),
        (
            "TAPBRIDGE_MAIL__SMTP__SECURITY".to_owned(),
            "starttls".to_owned(),
        ),
        (
            "TAPBRIDGE_MAIL__SMTP__CA_FILE".to_owned(),
            certs.join("ca.pem").to_string_lossy().into_owned(),
        ),
        ("TAPBRIDGE_MAIL__SMTP__USERNAME".to_owned(), "tb".to_owned()),
        (
            "TAPBRIDGE_MAIL__SMTP__PASSWORD".to_owned(),
            "s3cret".to_owned(),
        ),
    ]);
    let sent = cli(dir.path(), &e, &["send-test-email", "ops@corp.example"]);
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert!(String::from_utf8_lossy(&sent.stdout).contains("250"));
    assert_eq!(sink.wait_for(1, Duration::from_secs(10)).len(), 1);

    let mut wrong = e.clone();
    wrong.retain(|(k, _)| k != "TAPBRIDGE_MAIL__SMTP__PASSWORD");
    wrong.push(("TAPBRIDGE_MAIL__SMTP__PASSWORD".into(), "wrong".into()));
    let refused = cli(dir.path(), &wrong, &["send-test-email", "ops@corp.example"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("535"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let mut untrusted = e.clone();
    untrusted.retain(|(k, _)| k != "TAPBRIDGE_MAIL__SMTP__CA_FILE");
    let refused = cli(
        dir.path(),
        &untrusted,
        &["send-test-email", "ops@corp.example"],
    );
    assert!(
        !refused.status.success(),
        "a certificate from an unknown CA is refused"
    );
    assert_eq!(sink.messages().len(), 1, "nothing else got through");
}

#[test]
fn implicit_tls_with_a_private_ca() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    assert!(make_ca(&certs), "openssl could not make a test CA");
    let (cert, key) = (certs.join("server.pem"), certs.join("server.key"));
    let sink = Sink::start(
        &dir.path().join("sink"),
        &[
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--implicit-tls",
        ],
    );
    let mut e = env(sink.port);
    e.retain(|(k, _)| k != "TAPBRIDGE_MAIL__SMTP__SECURITY" && k != "TAPBRIDGE_MAIL__SMTP__HOST");
    e.extend([
        (
            "TAPBRIDGE_MAIL__SMTP__HOST".to_owned(),
            "localhost".to_owned(),
        ),
        (
            "TAPBRIDGE_MAIL__SMTP__SECURITY".to_owned(),
            "tls".to_owned(),
        ),
    ]);
    let untrusted = cli(dir.path(), &e, &["send-test-email", "ops@corp.example"]);
    assert!(
        !untrusted.status.success(),
        "a certificate from an unknown CA is refused"
    );
    e.push((
        "TAPBRIDGE_MAIL__SMTP__CA_FILE".to_owned(),
        certs.join("ca.pem").to_string_lossy().into_owned(),
    ));
    let sent = cli(dir.path(), &e, &["send-test-email", "ops@corp.example"]);
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert!(String::from_utf8_lossy(&sent.stdout).contains("250"));
    assert_eq!(sink.wait_for(1, Duration::from_secs(10)).len(), 1);
}

#[test]
fn server_down_then_up_delivers_exactly_once() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let e = env(port);
    let daemon = start(dir.path(), &e);
    add_user(dir.path(), "ada");
    assert!(
        eventually(Duration::from_secs(15), || outbox(dir.path())
            .first()
            .is_some_and(
                |m| m["attempts"].as_u64() >= Some(2) && m["lastError"].is_string()
            )),
        "the worker retries while the server is down: {:?}",
        outbox(dir.path())
    );
    let sink = Sink::start(&dir.path().join("sink"), &["--port", &port.to_string()]);
    let messages = sink.wait_for(1, Duration::from_secs(20));
    assert_eq!(messages.len(), 1, "{}", daemon.logs());
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(sink.messages().len(), 1, "no duplicate");
    assert_eq!(outbox(dir.path())[0]["state"], "sent");
    daemon.stop();
}

#[test]
fn temporary_failures_retry_then_succeed() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(&dir.path().join("sink"), &["--fail-first", "2"]);
    let daemon = start(dir.path(), &env(sink.port));
    add_user(dir.path(), "bo");
    assert_eq!(
        sink.wait_for(1, Duration::from_secs(30)).len(),
        1,
        "{}",
        daemon.logs()
    );
    assert!(eventually(Duration::from_secs(5), || outbox(dir.path())[0]
        ["state"]
        == "sent"));
    let m = &outbox(dir.path())[0];
    assert_eq!(m["attempts"], 3, "two 451 replies, then 250: {m}");
    daemon.stop();
}

#[test]
fn a_permanent_refusal_stops_and_revokes_the_unsent_pass() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(&dir.path().join("sink"), &["--reject", "cy@home.example"]);
    let daemon = start(dir.path(), &env(sink.port));
    add_user(dir.path(), "cy");
    assert!(eventually(Duration::from_secs(15), || outbox(dir.path())
        .first()
        .is_some_and(|m| m["state"] == "failed")));
    std::thread::sleep(Duration::from_secs(2));
    let m = &outbox(dir.path())[0];
    assert_eq!(
        (m["state"].as_str(), m["attempts"].as_u64()),
        (Some("failed"), Some(1)),
        "no retry after a 5xx: {m}"
    );
    assert!(
        m["lastError"].as_str().unwrap().contains("550"),
        "the server's reply is kept: {m}"
    );
    assert!(sink.messages().is_empty());
    let taps = json(dir.path(), &["tap", "list", "--json"]);
    assert_eq!(
        taps.as_array().map(Vec::len),
        Some(0),
        "a pass nobody received is deleted"
    );
    // An operator can retry it after fixing the address; a cancel stops it for good.
    let id = m["id"].as_str().unwrap().to_owned();
    ok(dir.path(), &["mail", "cancel", &id]);
    assert_eq!(outbox(dir.path())[0]["state"], "cancelled");
    assert!(!run(dir.path(), &["mail", "retry", &id]).status.success());
    daemon.stop();
}

#[test]
fn killed_mid_queue_and_restarted_every_message_arrives_once() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A slow server: the kill lands while messages are mid-DATA, before any acceptance.
    let sink = Sink::start(&dir.path().join("sink"), &["--delay", "0.8"]);
    let e = env(sink.port);
    let daemon = start(dir.path(), &e);
    let names: Vec<String> = (0..12).map(|i| format!("u{i}")).collect();
    for n in &names {
        add_user(dir.path(), n);
    }
    assert!(
        eventually(Duration::from_secs(20), || sink.started() >= 3),
        "delivery began"
    );
    std::thread::sleep(Duration::from_millis(200));
    daemon.kill();
    let before = sink.messages().len();

    let daemon = start(dir.path(), &e);
    let messages = sink.wait_for(names.len(), Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(2));
    let messages = if messages.len() < names.len() {
        messages
    } else {
        sink.messages()
    };
    for n in &names {
        let to = format!("X-Envelope-To: {n}@home.example,");
        assert_eq!(
            messages.iter().filter(|m| m.starts_with(&to)).count(),
            1,
            "{n}: {before} before the kill\n{}",
            daemon.logs()
        );
    }
    assert_eq!(messages.len(), names.len());
    daemon.stop();
}

#[tokio::test]
async fn a_leaver_s_pending_mail_is_cancelled() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(&dir.path().join("sink"), &[]);
    let mut e = env(sink.port);
    e.retain(|(k, _)| k != "TAPBRIDGE_ONBOARDING__RULES");
    e.push((
        "TAPBRIDGE_ONBOARDING__RULES".into(),
        r#"[{ name = "before start", when = "before_hire_date", days_before_hire = 2, start_at_hire_date = true, recipients = ["personal"] }]"#.into(),
    ));
    let daemon = start(dir.path(), &e);
    let token = json(
        dir.path(),
        &[
            "token",
            "create",
            "--name",
            "hr",
            "--scim-source",
            "hr",
            "--json",
        ],
    )["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let hire = (time::OffsetDateTime::now_utc() + time::Duration::days(30))
        .date()
        .to_string();
    let c = reqwest::Client::new();
    let created: Value = c
        .post(daemon.url("/scim/v2/Users"))
        .bearer_auth(&token)
        .header("content-type", "application/scim+json")
        .body(serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:tapbridge:2.0:User"],
            "userName": "late@corp.example",
            "urn:ietf:params:scim:schemas:extension:tapbridge:2.0:User": {"hireDate": hire, "personalEmail": "late@home.example"}
        }).to_string())
        .send().await.unwrap().json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(eventually(Duration::from_secs(10), || outbox(dir.path())
        .len()
        == 1));
    let m = &outbox(dir.path())[0];
    assert_eq!(m["state"], "pending");
    assert!(
        m["notBefore"].as_str().unwrap()
            > time::OffsetDateTime::now_utc().date().to_string().as_str(),
        "waits for the hire date: {m}"
    );
    let status = c
        .patch(daemon.url(&format!("/scim/v2/Users/{id}")))
        .bearer_auth(&token)
        .header("content-type", "application/scim+json")
        .body(r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}"#)
        .send().await.unwrap().status();
    assert_eq!(status, 200);
    assert!(eventually(Duration::from_secs(10), || outbox(dir.path())
        [0]["state"]
        == "cancelled"));
    assert!(sink.messages().is_empty());
    daemon.stop();
}

#[test]
fn one_connection_delivers_a_queue_in_order() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(&dir.path().join("sink"), &[]);
    let mut e = env(sink.port);
    e.push(("TAPBRIDGE_MAIL__CONCURRENCY".into(), "1".into()));
    let daemon = start(dir.path(), &e);
    for i in 0..6 {
        add_user(dir.path(), &format!("q{i}"));
    }
    let messages = sink.wait_for(6, Duration::from_secs(30));
    assert_eq!(messages.len(), 6, "{}", daemon.logs());
    daemon.stop();
}
