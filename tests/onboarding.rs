//! End to end: a person added to the directory (a real slapd) is synced, receives exactly one
//! onboarding mail (a real SMTP server), and the pass in it opens a bootstrap session at
//! `/onboard` — the page a mail scanner can fetch without spending anything.

mod common;

use std::time::Duration;

use common::slapd::{self, ADMIN_DN, ADMIN_PW, BASE, person};
use common::smtp::{Sink, available};
use common::{Daemon, ok};

/// `name=value` of every cookie a response sets.
fn cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_directory_joiner_gets_one_mail_whose_pass_opens_a_bootstrap_session() {
    if !available() {
        return;
    }
    let Some(ldap) = slapd::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sink = Sink::start(&d.join("sink"), &[]);
    std::fs::write(d.join("ldap.pw"), format!("{ADMIN_PW}\n")).unwrap();
    std::fs::write(
        d.join("tapbridge.toml"),
        format!(
            r#"
[database]
durability = "normal"

[mail]
poll_interval_ms = 100
[mail.smtp]
host = "127.0.0.1"
port = {port}
security = "none"

[onboarding]
poll_interval_ms = 100
[[onboarding.rules]]
name = "directory joiners"
sources = ["ldap:corp"]
recipients = ["work"]
usable_once = true

[ldap]
scheduler = false
[[ldap.sources]]
name = "corp"
url = "{url}"
bind_dn = "{ADMIN_DN}"
password_file = "{pw}"
base_dns = ["{BASE}"]
"#,
            port = sink.port,
            url = ldap.url,
            pw = d.join("ldap.pw").display(),
        ),
    )
    .unwrap();
    let daemon = Daemon::start(d, &[]);
    ldap.add(&person("jo", "Jo Iner", Some("jo@corp.example")));
    ok(d, &["sync", "ldap"]);
    let messages = sink.wait_for(1, Duration::from_secs(20));
    assert_eq!(messages.len(), 1, "{}", daemon.logs());
    assert!(messages[0].starts_with("X-Envelope-To: jo@corp.example\r\n"));
    let pass = messages[0]
        .lines()
        .find_map(|l| {
            l.strip_prefix("    ")
                .filter(|t| t.len() >= 9 && t.contains('-'))
        })
        .expect("a pass in the text part")
        .trim()
        .to_owned();
    assert!(messages[0].contains(&format!(
        "{}/onboard",
        daemon.base.replace("127.0.0.1", "localhost")
    )));

    // Re-syncing the same directory sends nothing more.
    ok(d, &["sync", "ldap"]);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(sink.messages().len(), 1);

    let web = daemon.url("").replace("127.0.0.1", "localhost");
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Fetching the link (as a scanner would) twice changes nothing.
    for _ in 0..2 {
        let head = c.head(format!("{web}/onboard")).send().await.unwrap();
        assert_eq!(head.status(), 200);
    }
    let page = c.get(format!("{web}/onboard")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let jar = cookies(&page);
    let html = page.text().await.unwrap();
    let csrf = html
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a CSRF token in the form")
        .to_owned();
    let signed_in = c
        .post(format!("{web}/signin/tap"))
        .header(reqwest::header::COOKIE, jar.join("; "))
        .header(reqwest::header::ORIGIN, &web)
        .form(&[
            ("csrf", csrf.as_str()),
            ("upn", "jo@corp.example"),
            ("pass", pass.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303, "{}", daemon.logs());
    assert_eq!(
        signed_in.headers()[reqwest::header::LOCATION],
        "/register",
        "a bootstrap session may only register"
    );
    assert!(
        cookies(&signed_in).iter().any(|c| !c.ends_with('=')),
        "a session cookie is set"
    );

    // The pass was one-time: a second sign-in with it fails.
    let again = c
        .post(format!("{web}/signin/tap"))
        .header(reqwest::header::COOKIE, jar.join("; "))
        .header(reqwest::header::ORIGIN, &web)
        .form(&[
            ("csrf", csrf.as_str()),
            ("upn", "jo@corp.example"),
            ("pass", pass.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_ne!(again.status(), 303);
    daemon.stop();
}
