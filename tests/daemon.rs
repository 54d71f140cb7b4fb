//! The real binary: serve with no configuration, CLI and API together, configuration errors,
//! graceful shutdown, and no plaintext pass in the database files or the logs.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Daemon, admin_token, json, ok, run, send};
use serde_json::{Value, json};

const TAPS: &str = "/authentication/temporaryAccessPassMethods";
const POLICY: &str = "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass";

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn serve_with_no_configuration_then_restart_keeps_secret_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), &[]);
    assert!(
        daemon.logs().contains("tapbridge token create"),
        "first start explains how to get a token"
    );
    let secret = dir.path().join("data/server.secret");
    assert_eq!(
        std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let secret_before = std::fs::read(&secret).unwrap();
    assert!(dir.path().join("data/tapbridge.db").exists());
    let (status, _) = send(client().get(daemon.url("/healthz"))).await;
    assert_eq!(status, 200);

    let token = admin_token(dir.path());
    let (status, _) = send(client().get(daemon.url("/v1.0/users")).bearer_auth(&token)).await;
    assert_eq!(status, 200);
    assert!(daemon.stop().success());

    let daemon = Daemon::start(dir.path(), &[]);
    assert_eq!(std::fs::read(&secret).unwrap(), secret_before);
    assert!(
        !daemon.logs().contains("tapbridge token create"),
        "no hint once a token exists"
    );
    let (status, _) = send(client().get(daemon.url("/v1.0/users")).bearer_auth(&token)).await;
    assert_eq!(status, 200, "token survives restart");
    let status = daemon.stop();
    assert!(status.success(), "SIGTERM exits cleanly: {status}");
}

#[tokio::test]
async fn cli_and_api_manage_the_same_passes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let daemon = Daemon::start(d, &[]);
    let token = admin_token(d);
    let c = client();

    ok(
        d,
        &[
            "user",
            "add",
            "ada@example.com",
            "--display-name",
            "Ada Lovelace",
            "--other-mail",
            "ada@home.example",
        ],
    );
    ok(d, &["group", "add", "Joiners"]);
    ok(d, &["group", "add-member", "Joiners", "ada@example.com"]);
    let (status, body) = send(
        c.post(daemon.url("/v1.0/users"))
            .bearer_auth(&token)
            .json(&json!({"userPrincipalName": "bob@example.com", "displayName": "Bob"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let users = json(d, &["user", "list", "--json"]);
    assert_eq!(users.as_array().unwrap().len(), 2);

    // The CLI issues; the API sees the pass (never its value).
    let issued = json(
        d,
        &[
            "tap",
            "create",
            "ada@example.com",
            "--lifetime",
            "120",
            "--once",
            "--json",
        ],
    );
    let pass = issued["temporaryAccessPass"].as_str().unwrap().to_owned();
    assert_eq!(pass.len(), 8);
    let (status, body) = send(
        c.get(daemon.url(&format!("/v1.0/users/ada@example.com{TAPS}")))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["value"][0]["id"], issued["id"]);
    assert_eq!(body["value"][0]["isUsableOnce"], true);
    assert!(body["value"][0]["temporaryAccessPass"].is_null());

    // The API issues; the CLI lists it.
    let (status, body) = send(
        c.post(daemon.url(&format!("/v1.0/users/bob@example.com{TAPS}")))
            .bearer_auth(&token)
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let listed = json(d, &["tap", "list", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(!listed.to_string().contains(&pass));

    // Policy through the CLI, seen by the API; targeting the group excludes bob.
    ok(
        d,
        &[
            "policy",
            "set",
            "--max-lifetime",
            "1440",
            "--include",
            "Joiners",
        ],
    );
    let (_, policy) = send(c.get(daemon.url(POLICY)).bearer_auth(&token)).await;
    assert_eq!(policy["maximumLifetimeInMinutes"], 1440);
    let out = run(d, &["tap", "create", "bob@example.com"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not include"));

    ok(d, &["tap", "delete", "ada@example.com"]);
    let (_, body) = send(
        c.get(daemon.url(&format!("/v1.0/users/ada@example.com{TAPS}")))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(body["value"].as_array().unwrap().len(), 0);

    let (status, audits) = send(
        c.get(daemon.url("/v1.0/auditLogs/directoryAudits?$top=50"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(status, 200);
    let names: Vec<&str> = audits["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["activityDisplayName"].as_str())
        .collect();
    assert!(names.contains(&"Admin deleted temporary access pass method for user"));
    assert!(names.contains(&"Authentication Methods Policy Update"));
    daemon.stop();
}

#[test]
fn cli_errors_have_messages_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let unknown = run(d, &["tap", "create", "nobody@example.com"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("nobody@example.com"));

    ok(d, &["user", "add", "ada@example.com"]);
    let range = run(d, &["tap", "create", "ada@example.com", "--lifetime", "5"]);
    assert_eq!(range.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&range.stderr).contains("between 60 and 480"));

    let role = run(d, &["token", "create", "--name", "x", "--role", "root"]);
    assert_eq!(role.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&role.stderr).contains("unknown role"));

    let start = run(
        d,
        &["tap", "create", "ada@example.com", "--start", "tomorrow"],
    );
    assert_eq!(start.status.code(), Some(2));
    let granted = ok(
        d,
        &["user", "set-roles", "ada@example.com", "--role", "reader"],
    );
    assert!(granted.contains("reader"));
    assert_eq!(json(d, &["user", "list", "--json"])[0]["roles"], "reader");
    ok(d, &["user", "set-roles", "ada@example.com"]);
    assert_eq!(json(d, &["user", "list", "--json"])[0]["roles"], "");
    let dup = run(d, &["user", "add", "ADA@example.com"]);
    assert_eq!(dup.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
}

#[test]
fn invalid_configuration_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: &[(&str, &str, &str)] = &[
        (
            "TAPBRIDGE_SERVER__LISTEN",
            "not-an-address",
            "server.listen",
        ),
        (
            "TAPBRIDGE_TAP__MAX_FAILED_ATTEMPTS",
            "0",
            "tap.max_failed_attempts",
        ),
        (
            "TAPBRIDGE_DATABASE__DURABILITY",
            "sometimes",
            "database.durability",
        ),
        (
            "TAPBRIDGE_SERVER__PUBLIC_URL",
            "ftp://x",
            "server.public_url",
        ),
        (
            "TAPBRIDGE_SECRETS__SERVER_SECRET",
            "short",
            "secrets.server_secret",
        ),
        (
            "TAPBRIDGE_SECRETS__SERVER_SECRET_FILE",
            "/nonexistent/secret",
            "secrets.server_secret_file",
        ),
        ("TAPBRIDGE_SERVR__LISTEN", "127.0.0.1:1", "servr"),
    ];
    for (key, value, named) in cases {
        let out = common::command(d)
            .arg("serve")
            .env(key, value)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}={value}: {stderr}");
        assert!(
            stderr.contains(named),
            "{key}={value} should name `{named}`: {stderr}"
        );
    }
    std::fs::write(d.join("bad.toml"), "[tap]\nretention_days = \"forever\"\n").unwrap();
    let out = common::command(d)
        .args(["--config", "bad.toml", "serve"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tap.retention_days"));
    let out = common::command(d)
        .args(["--config", "missing.toml", "serve"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn configured_secret_file_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("secret"),
        "0123456789abcdef0123456789abcdef-configured\n",
    )
    .unwrap();
    let out = common::command(d)
        .args(["user", "add", "ada@example.com"])
        .env("TAPBRIDGE_SECRETS__SERVER_SECRET_FILE", d.join("secret"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !d.join("data/server.secret").exists(),
        "no secret generated when one is configured"
    );
}

/// Issue passes through the API and the CLI with the most verbose logging, then search every
/// byte the daemon and the CLI wrote — logs, database, WAL — for them.
#[tokio::test]
async fn plaintext_passes_appear_only_in_the_create_responses() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let daemon = Daemon::start(
        d,
        &[
            ("TAPBRIDGE_LOG__LEVEL", "trace"),
            ("TAPBRIDGE_LOG__FORMAT", "json"),
        ],
    );
    let token = admin_token(d);
    let c = client();
    let mut passes = Vec::new();
    let mut cli_logs = String::new();
    for i in 0..10 {
        let upn = format!("user{i}@example.com");
        ok(d, &["user", "add", &upn]);
        let (status, body) = send(
            c.post(daemon.url(&format!("/v1.0/users/{upn}{TAPS}")))
                .bearer_auth(&token)
                .json(&json!({})),
        )
        .await;
        assert_eq!(status, 201);
        passes.push(body["temporaryAccessPass"].as_str().unwrap().to_owned());
        let out = common::command(d)
            .args(["tap", "create", &upn, "--json"])
            .env("TAPBRIDGE_LOG__LEVEL", "trace")
            .output()
            .unwrap();
        assert!(out.status.success());
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        passes.push(v["temporaryAccessPass"].as_str().unwrap().to_owned());
        cli_logs.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    let logs = daemon.logs();
    daemon.stop();
    assert!(logs.contains("\"status\":201"), "trace logs were captured");
    assert!(cli_logs.len() > 1000, "CLI trace logs were captured");
    // Everything under the data directory, the (empty: no onboarding rules) mail folder too.
    let mut files: Vec<Vec<u8>> = Vec::new();
    let mut dirs = vec![d.join("data")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(std::fs::read(path).unwrap());
            }
        }
    }
    assert!(files.iter().any(|f| {
        f.windows(18)
            .any(|w| w == b"user3@example.com\0" || w.starts_with(b"user3@example.com"))
    }));
    for pass in &passes {
        assert!(!logs.contains(pass.as_str()), "pass in daemon logs");
        assert!(!cli_logs.contains(pass.as_str()), "pass in CLI logs");
        assert!(
            !files
                .iter()
                .any(|f| f.windows(pass.len()).any(|w| w == pass.as_bytes())),
            "pass in data files"
        );
    }
}
