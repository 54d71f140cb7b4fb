//! SCIM against the real binary: a recorded Entra provisioning sequence, and the public
//! conformance suite (scim2-tester, through `scim2 test`), which must pass completely.

mod common;

use common::{Daemon, json, send};
use serde_json::json;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

fn scim_token(dir: &std::path::Path, source: &str) -> String {
    let v = json(
        dir,
        &[
            "token",
            "create",
            "--name",
            source,
            "--scim-source",
            source,
            "--json",
        ],
    );
    v["token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn entra_sequence_against_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), &[]);
    let token = scim_token(dir.path(), "entra");
    let c = reqwest::Client::new();
    let scim = |path: &str| daemon.url(&format!("/scim/v2{path}"));

    let (status, body) = send(
        c.get(scim("/Users"))
            .query(&[("filter", "userName eq \"joiner@contoso.com\"")])
            .bearer_auth(&token),
    )
    .await;
    assert_eq!((status, body["totalResults"].as_u64()), (200, Some(0)));
    let (status, created) = send(
        c.post(scim("/Users"))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body(json!({"schemas": [USER], "userName": "joiner@contoso.com", "active": true, "externalId": "j1"}).to_string()),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, patched) = send(
        c.patch(scim(&format!("/Users/{id}")))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})
                .to_string(),
            ),
    )
    .await;
    assert_eq!(
        (status, patched["active"].as_bool()),
        (200, Some(false)),
        "{patched}"
    );

    // The same user through the admin API: disabled, owned by the SCIM source.
    let admin = common::admin_token(dir.path());
    let (status, user) = send(
        c.get(daemon.url(&format!("/v1.0/users/{id}")))
            .bearer_auth(&admin),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            user["accountEnabled"].as_bool(),
            user["source@tapbridge"].as_str()
        ),
        (Some(false), Some("scim:entra"))
    );
    daemon.stop();
}

fn on_path(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| std::path::Path::new(d).join(program))
        .find(|p| p.is_file())
}

#[test]
fn scim2_tester_conformance_suite_passes_completely() {
    let Some(scim2) = on_path("scim2") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "scim2 (pip install scim2-cli) is required in CI"
        );
        eprintln!("skipping: scim2 not installed (pip install scim2-cli)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), &[]);
    let token = scim_token(dir.path(), "conformance");
    let out = std::process::Command::new(scim2)
        .args(["--url", &daemon.url("/scim/v2"), "test"])
        // Passed through the environment, not argv, so other users cannot read it.
        .env("SCIM_CLI_HEADERS", format!("Authorization: Bearer {token}"))
        .output()
        .expect("run scim2 test");
    let report =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let passed = report.lines().filter(|l| l.starts_with("SUCCESS")).count();
    let failures: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("ERROR") || l.starts_with("CRITICAL"))
        .collect();
    std::fs::create_dir_all("target/scim-conformance").ok();
    std::fs::write("target/scim-conformance/report.txt", &report).ok();
    assert!(
        failures.is_empty() && out.status.success(),
        "{} checks failed:\n{report}",
        failures.len()
    );
    assert!(passed >= 80, "only {passed} checks ran:\n{report}");
    eprintln!("scim2-tester: {passed} passed, 0 failed");
    daemon.stop();
}
