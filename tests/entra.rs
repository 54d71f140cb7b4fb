//! The Entra connector against a local Entra (tests/common/graph.rs: the v2.0 token endpoint
//! and Graph, over real HTTP on loopback, answering as Microsoft documents them).

mod common;

use common::graph::{CLIENT_ID, LocalEntra, SECRET, TENANT, test_certificate};
use common::{Daemon, admin_token, run, send};

fn write_config(dir: &std::path::Path, text: &str) {
    std::fs::write(
        dir.join("tapbridge.toml"),
        format!("[database]\ndurability = \"normal\"\n{text}"),
    )
    .unwrap();
}

const RULES: &str = r#"
[onboarding]
poll_interval_ms = 100
[[onboarding.rules]]
name = "new hires"
lifetime_minutes = 120
usable_once = true
mint = "entra"
[[onboarding.rules]]
name = "contractors"
lifetime_minutes = 600
mint = "entra"
[[onboarding.rules]]
name = "local ones"
lifetime_minutes = 600
"#;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn check_says_what_is_missing_until_the_tenant_is_ready() {
    let entra = LocalEntra::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_config(d, &format!("{RULES}\n{}", entra.config()));

    // Only User.Read.All granted: no pass can be created, the policy cannot be read.
    entra.set_roles(&["User.Read.All"]);
    let out = run(d, &["entra", "check"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("token        ok (valid until"), "{text}");
    assert!(
        text.contains("MISSING: UserAuthenticationMethod.ReadWrite.All or UserAuthMethod-TAP.ReadWrite.All (for creating and deleting users' Temporary Access Passes); Policy.Read.All"),
        "{text}"
    );
    assert!(
        text.contains(
            "TAP policy   cannot be read: 403 accessDenied: Request Authorization failed"
        ),
        "{text}"
    );
    assert!(text.contains("\"new hires\" not checked"), "{text}");
    assert!(
        !text.contains("local ones"),
        "a local rule is not Entra's business"
    );

    // Permissions granted: the policy is read, and the 600-minute rule does not fit it.
    entra.set_roles(&[
        "UserAuthMethod-TAP.ReadWrite.All",
        "User.Read.All",
        "Policy.Read.All",
    ]);
    let out = run(d, &["entra", "check", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["permissions"]["missing"], serde_json::json!([]));
    assert_eq!(report["policy"]["enabled"], true);
    assert_eq!(
        report["policy"]["temporaryAccessPass"]["maximumLifetimeInMinutes"],
        480
    );
    assert_eq!(report["rules"][0]["fits"], true);
    assert_eq!(report["rules"][1]["name"], "contractors");
    assert_eq!(report["rules"][1]["fits"], false);
    assert!(
        report["rules"][1]["problems"][0]
            .as_str()
            .unwrap()
            .contains("between 60 and 480")
    );

    // The tenant allows longer passes: everything fits.
    entra.patch_policy(serde_json::json!({"maximumLifetimeInMinutes": 1440}));
    let out = run(d, &["entra", "check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("result       ok: tapbridge can mint passes in this tenant"));

    // A tenant that switched the method off.
    entra.patch_policy(serde_json::json!({"state": "disabled"}));
    let out = run(d, &["entra", "check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("NOT ENABLED (disabled)"),
        "{}",
        stdout(&out)
    );
    assert!(
        !format!("{out:?}").contains(SECRET),
        "the secret is never printed"
    );
}

#[test]
fn a_wrong_secret_is_reported_with_entras_code_and_never_printed() {
    let entra = LocalEntra::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let wrong = "Wr0ng~secret.value";
    write_config(
        d,
        &entra
            .config()
            .replace(SECRET, wrong)
            .replace("[entra]", "[log]\nlevel = \"debug\"\n[entra]"),
    );
    let out = run(d, &["entra", "check"]);
    let all = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("FAILED: 401 invalid_client: AADSTS7000215: Invalid client secret provided."),
        "{all}"
    );
    assert!(!all.contains(wrong), "{all}");
    // The wrong tenant, and a connector that is not configured.
    write_config(
        d,
        &entra.config().replace(TENANT, "contoso.onmicrosoft.com"),
    );
    let out = run(d, &["entra", "check"]);
    assert!(
        stdout(&out).contains(
            "400 invalid_request: AADSTS90002: Tenant 'contoso.onmicrosoft.com' not found."
        ),
        "{}",
        stdout(&out)
    );
    write_config(d, "");
    let out = run(d, &["entra", "check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not configured"));
}

#[test]
fn a_certificate_signs_the_client_assertion() {
    let entra = LocalEntra::start();
    let cert = test_certificate();
    entra.register_certificate(cert.public_key.clone(), cert.x5t);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let section = entra.config().replace(
        &format!("client_secret = \"{SECRET}\"\n"),
        &format!(
            "certificate_key_file = \"{}\"\ncertificate_thumbprint = \"{}\"\n",
            cert.key_file.display(),
            cert.thumbprint
        ),
    );
    write_config(d, &section);
    let out = run(d, &["entra", "check", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["credential"], "certificate");
    assert_eq!(report["ok"], true, "{report:#}");
    // A certificate Entra does not know is refused with its code.
    let other = section.replace(cert.thumbprint, &"AB".repeat(20));
    write_config(d, &other);
    let out = run(d, &["entra", "check", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["token"]["error"]["code"], "invalid_client");
    assert!(
        report["token"]["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS700027")
    );
}

#[test]
fn configuration_mistakes_name_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_config(d, "[[onboarding.rules]]\nname = \"x\"\nmint = \"entra\"\n");
    let out = run(d, &["entra", "check"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`onboarding.rules[0].mint`"), "{err}");
    write_config(
        d,
        &format!("[entra]\ntenant_id = \"{TENANT}\"\nclient_id = \"{CLIENT_ID}\"\n"),
    );
    let out = run(d, &["entra", "check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(
        "`entra.client_secret` (env TAPBRIDGE_ENTRA__CLIENT_SECRET): set exactly one of"
    ));
    write_config(
        d,
        "[[onboarding.rules]]\nname = \"x\"\nreplace_existing_pass = true\n",
    );
    let out = run(d, &["entra", "check"]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("`onboarding.rules[0].replace_existing_pass`")
    );
}

#[tokio::test]
async fn the_admin_api_shows_the_same_facts() {
    let entra = LocalEntra::start();
    entra.set_roles(&["UserAuthenticationMethod.ReadWrite.All", "User.Read.All"]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_config(d, &format!("{RULES}\n{}", entra.config()));
    let token = admin_token(d);
    let reader = common::json(
        d,
        &[
            "token", "create", "--name", "r", "--role", "reader", "--json",
        ],
    )["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let daemon = Daemon::start(d, &[]);
    let c = reqwest::Client::new();
    let (status, body) = send(
        c.get(daemon.url("/v1.0/tapbridge/entra"))
            .bearer_auth(&reader),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["configured"], true);
    assert_eq!(body["ok"], false);
    assert_eq!(
        body["permissions"]["missing"][0]["permission"],
        "Policy.Read.All"
    );
    assert_eq!(body["rules"].as_array().unwrap().len(), 2);
    let (status, body) = send(c.get(daemon.url("/v1.0/tapbridge/entra"))).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    let (status, _) = send(
        c.get(daemon.url("/v1.0/tapbridge/entra"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(status, 200);
    assert!(!daemon.logs().contains(SECRET));
    daemon.stop();

    let bare = tempfile::tempdir().unwrap();
    let token = admin_token(bare.path());
    let daemon = Daemon::start(bare.path(), &[]);
    let (status, body) = send(
        c.get(daemon.url("/v1.0/tapbridge/entra"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(
        (status, body["configured"].clone()),
        (200, serde_json::json!(false))
    );
}
