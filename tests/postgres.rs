//! tapbridge on PostgreSQL, as several nodes: the real binary against a throwaway cluster the
//! harness starts (`testkit::postgres`). An SQLite deployment copied into PostgreSQL keeps
//! working; two `serve` processes on one database deliver each joiner's mail once, let one
//! redemption of a one-time pass win, count lock-outs together and hand leadership over when
//! the leader is killed; readiness follows the database.
//!
//! Without PostgreSQL installed a test skips with a notice; with `CI=true` it fails instead.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::smtp::{Sink, available};
use common::{Daemon, json, ok, send};
use reqwest::Client;
use serde_json::json;

/// Settings every node of a test shares: the database, the web origin a load balancer would
/// present, sign-in limits out of the way, quick background loops.
fn node_env(url: &str) -> Vec<(String, String)> {
    [
        ("TAPBRIDGE_DATABASE__URL", url),
        ("TAPBRIDGE_DATABASE__LEADER_INTERVAL_SECONDS", "1"),
        ("TAPBRIDGE_SERVER__PUBLIC_URL", "http://localhost:1"),
        ("TAPBRIDGE_WEB__SECURE_COOKIES", "false"),
        ("TAPBRIDGE_WEB__SIGNIN_PER_MINUTE_PER_ADDRESS", "10000"),
        ("TAPBRIDGE_WEB__SIGNIN_PER_MINUTE_PER_USER", "10000"),
        ("TAPBRIDGE_ONBOARDING__POLL_INTERVAL_MS", "100"),
        ("TAPBRIDGE_MAIL__POLL_INTERVAL_MS", "100"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The CLI against the same database as the nodes.
fn cli_ok(dir: &Path, env: &[(String, String)], args: &[&str]) -> String {
    let out = common::run_with(dir, env, args);
    assert!(
        out.status.success(),
        "tapbridge {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// One pass sign-in at a node: the double-submit token is the client's own, as a browser's
/// cookie and form field would carry it.
async fn sign_in_with_pass(http: &Client, node: &str, upn: &str, pass: &str) -> u16 {
    let token = "t".repeat(43);
    let res = http
        .post(format!("{node}/signin/tap"))
        .header("origin", "http://localhost:1")
        .header("cookie", format!("tapbridge_csrf={token}"))
        .form(&[("csrf", token.as_str()), ("upn", upn), ("pass", pass)])
        .send()
        .await
        .expect("sign-in request");
    res.status().as_u16()
}

fn no_redirects() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn metric(http: &Client, node: &Daemon, series: &str) -> Option<f64> {
    let text = http
        .get(node.url("/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

/// An SQLite deployment moved with `db copy` into PostgreSQL: every row arrives, the same
/// server secret keeps its API token and its pass working, and a second copy into the now
/// non-empty database is refused.
#[tokio::test(flavor = "multi_thread")]
async fn an_sqlite_deployment_copied_into_postgres_keeps_working() {
    let Some(url) = testkit::postgres::fresh_database() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let admin = common::admin_token(dir.path());
    ok(
        dir.path(),
        &["user", "add", "ada@example.com", "--display-name", "Ada"],
    );
    ok(dir.path(), &["group", "add", "Staff"]);
    ok(
        dir.path(),
        &["group", "add-member", "Staff", "ada@example.com"],
    );
    let pass =
        json(dir.path(), &["tap", "create", "ada@example.com", "--json"])["temporaryAccessPass"]
            .as_str()
            .unwrap()
            .to_owned();
    // SCIM objects and an audit trail too.
    let scim = json(
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
    let sqlite_node = Daemon::start(dir.path(), &[]);
    let http = Client::new();
    for i in 0..25 {
        let (status, body) = send(
            http.post(sqlite_node.url("/scim/v2/Users"))
                .bearer_auth(&scim)
                .header("content-type", "application/scim+json")
                .json(&json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": format!("hire{i}@example.com"),
                    "active": true,
                })),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    sqlite_node.stop();

    let out = common::run(dir.path(), &["db", "copy", "--to", &url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(report.contains("users"), "{report}");
    let rows = |table: &str| -> u64 {
        report
            .lines()
            .find_map(|l| {
                let mut it = l.split_whitespace();
                (it.next()? == table).then(|| it.next()?.parse().ok())?
            })
            .unwrap_or_else(|| panic!("no {table} in {report}"))
    };
    assert_eq!(rows("users"), 26);
    assert_eq!(rows("scim_users"), 25);
    assert_eq!(rows("temporary_access_passes"), 1);
    assert!(rows("audit_log") > 25);

    // The same data directory (and so the same server secret), now on PostgreSQL.
    let env = node_env(&url);
    let node = Daemon::start_with(dir.path(), &env);
    let (status, body) = send(
        http.get(node.url("/v1.0/users?$top=100"))
            .bearer_auth(&admin),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["value"].as_array().unwrap().len(), 26);
    let (status, body) = send(
        http.get(node.url("/scim/v2/Users?filter=userName%20eq%20%22hire7%40example.com%22"))
            .bearer_auth(&scim),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["totalResults"], 1);
    assert_eq!(
        sign_in_with_pass(&no_redirects(), &node.base, "ada@example.com", &pass).await,
        303,
        "the copied pass opens a session"
    );
    // New rows get new sequence numbers after the copied ones.
    let (status, _) = send(
        http.post(node.url("/v1.0/users"))
            .bearer_auth(&admin)
            .json(&json!({"userPrincipalName": "new@example.com", "displayName": "New"})),
    )
    .await;
    assert_eq!(status, 201);
    node.stop();

    let again = common::run(dir.path(), &["db", "copy", "--to", &url]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

/// Two nodes on one database, each with its own data directory and the same server secret,
/// the way a deployment runs them.
struct TwoNodes {
    _dirs: [tempfile::TempDir; 2],
    a: Daemon,
    b: Daemon,
    env: Vec<(String, String)>,
    dir: std::path::PathBuf,
}

fn two_nodes(url: &str, extra: &[(String, String)]) -> TwoNodes {
    let secret = "s".repeat(48);
    let mut env = node_env(url);
    env.push(("TAPBRIDGE_SECRETS__SERVER_SECRET".into(), secret));
    env.extend(extra.iter().cloned());
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let a = Daemon::start_with(dirs[0].path(), &env);
    let b = Daemon::start_with(dirs[1].path(), &env);
    TwoNodes {
        dir: dirs[0].path().to_owned(),
        _dirs: dirs,
        a,
        b,
        env,
    }
}

/// Joiners provisioned through both nodes while both deliver: every joiner gets exactly one
/// mail (claims skip each other's rows).
#[tokio::test(flavor = "multi_thread")]
async fn two_nodes_mail_each_joiner_once() {
    if !available() {
        return;
    }
    let Some(url) = testkit::postgres::fresh_database() else {
        return;
    };
    let sink_dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(sink_dir.path(), &[]);
    let mail = [
        ("TAPBRIDGE_MAIL__SMTP__HOST", "127.0.0.1".to_owned()),
        ("TAPBRIDGE_MAIL__SMTP__PORT", sink.port.to_string()),
        ("TAPBRIDGE_MAIL__SMTP__SECURITY", "none".to_owned()),
        (
            "TAPBRIDGE_ONBOARDING__RULES",
            r#"[{ name = "joiners", recipients = ["personal"], usable_once = true }]"#.to_owned(),
        ),
    ]
    .map(|(k, v)| (k.to_owned(), v));
    let nodes = two_nodes(&url, &mail);
    // The token lives in the shared database: both nodes accept it.
    let token = serde_json::from_str::<serde_json::Value>(&cli_ok(
        &nodes.dir,
        &nodes.env,
        &[
            "token",
            "create",
            "--name",
            "hr",
            "--scim-source",
            "hr",
            "--json",
        ],
    ))
    .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let http = Client::new();
    let joiners = 40;
    for i in 0..joiners {
        let node = if i % 2 == 0 { &nodes.a } else { &nodes.b };
        let (status, body) = send(
            http.post(node.url("/scim/v2/Users"))
                .bearer_auth(&token)
                .header("content-type", "application/scim+json")
                .json(&json!({
                    "schemas": [
                        "urn:ietf:params:scim:schemas:core:2.0:User",
                        "urn:ietf:params:scim:schemas:extension:tapbridge:2.0:User"
                    ],
                    "userName": format!("j{i}@corp.example"),
                    "active": true,
                    "urn:ietf:params:scim:schemas:extension:tapbridge:2.0:User": {
                        "personalEmail": format!("j{i}@home.example")
                    }
                })),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let messages = sink.wait_for(joiners, Duration::from_secs(60));
    // Let any duplicate arrive before counting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let messages = if sink.messages().len() > messages.len() {
        sink.messages()
    } else {
        messages
    };
    let mut per_user = std::collections::HashMap::new();
    for m in &messages {
        let to = m
            .lines()
            .find_map(|l| l.strip_prefix("To: "))
            .unwrap_or_default()
            .to_owned();
        *per_user.entry(to).or_insert(0) += 1;
    }
    assert_eq!(per_user.len(), joiners, "{per_user:?}");
    assert!(per_user.values().all(|n| *n == 1), "{per_user:?}");
    drop(nodes);
}

/// A one-time pass raced at both nodes: one redemption wins. Wrong passes tried at both
/// nodes add up to one lock-out count.
#[tokio::test(flavor = "multi_thread")]
async fn two_nodes_share_one_time_use_and_lock_out() {
    let Some(url) = testkit::postgres::fresh_database() else {
        return;
    };
    let nodes = two_nodes(&url, &[]);
    cli_ok(&nodes.dir, &nodes.env, &["user", "add", "race@example.com"]);
    let pass = serde_json::from_str::<serde_json::Value>(&cli_ok(
        &nodes.dir,
        &nodes.env,
        &["tap", "create", "race@example.com", "--once", "--json"],
    ))
    .unwrap()["temporaryAccessPass"]
        .as_str()
        .unwrap()
        .to_owned();
    let http = no_redirects();
    let mut attempts = Vec::new();
    for i in 0..50 {
        let http = http.clone();
        let pass = pass.clone();
        let node = if i % 2 == 0 {
            nodes.a.base.clone()
        } else {
            nodes.b.base.clone()
        };
        attempts.push(tokio::spawn(async move {
            sign_in_with_pass(&http, &node, "race@example.com", &pass).await
        }));
    }
    let mut wins = 0;
    for a in attempts {
        match a.await.unwrap() {
            303 => wins += 1,
            400 => {}
            other => panic!("a redemption answered {other}"),
        }
    }
    assert_eq!(
        wins, 1,
        "exactly one of 50 redemptions across two nodes wins"
    );

    // Lock-out: ten wrong passes, alternating nodes, lock the pass for both.
    cli_ok(
        &nodes.dir,
        &nodes.env,
        &["user", "add", "guess@example.com"],
    );
    let good = serde_json::from_str::<serde_json::Value>(&cli_ok(
        &nodes.dir,
        &nodes.env,
        &["tap", "create", "guess@example.com", "--json"],
    ))
    .unwrap()["temporaryAccessPass"]
        .as_str()
        .unwrap()
        .to_owned();
    for i in 0..10 {
        let node = if i % 2 == 0 { &nodes.a } else { &nodes.b };
        assert_eq!(
            sign_in_with_pass(&http, &node.base, "guess@example.com", "WRONG-pass-1").await,
            400
        );
    }
    assert_eq!(
        sign_in_with_pass(&http, &nodes.b.base, "guess@example.com", &good).await,
        400,
        "locked after ten wrong passes across the nodes"
    );
    let listed = cli_ok(&nodes.dir, &nodes.env, &["tap", "list", "--json"]);
    assert!(listed.contains("LockedOut"), "{listed}");
}

/// The sign-in rate limits count every node's attempts together: a user's allowance is not
/// doubled by a second node behind the load balancer.
#[tokio::test(flavor = "multi_thread")]
async fn two_nodes_share_the_sign_in_rate_limits() {
    let Some(url) = testkit::postgres::fresh_database() else {
        return;
    };
    let nodes = two_nodes(
        &url,
        &[(
            "TAPBRIDGE_WEB__SIGNIN_PER_MINUTE_PER_USER".to_owned(),
            "4".to_owned(),
        )],
    );
    cli_ok(&nodes.dir, &nodes.env, &["user", "add", "lim@example.com"]);
    let http = no_redirects();
    // Four wrong passes, alternating nodes: each node saw two, fewer than its own limit.
    for i in 0..4 {
        let node = if i % 2 == 0 { &nodes.a } else { &nodes.b };
        assert_eq!(
            sign_in_with_pass(&http, &node.base, "lim@example.com", "WRONG-pass-1").await,
            400,
            "attempt {i}"
        );
    }
    for node in [&nodes.a, &nodes.b] {
        assert_eq!(
            sign_in_with_pass(&http, &node.base, "LIM@example.com", "WRONG-pass-1").await,
            429,
            "the fifth attempt within the minute is refused by whichever node gets it"
        );
    }
    // Another user is not affected.
    assert_eq!(
        sign_in_with_pass(&http, &nodes.a.base, "other@example.com", "WRONG-pass-1").await,
        400
    );
    for node in [&nodes.a, &nodes.b] {
        let refused = metric(
            &http,
            node,
            "tapbridge_signin_rate_limited_total{limit=\"user\"}",
        )
        .await;
        assert_eq!(
            refused,
            Some(1.0),
            "each node counts its refusal in /metrics"
        );
    }
}

/// The leader runs the scheduled jobs; killed with SIGKILL, the other node leads within one
/// interval.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_leader_is_replaced_within_one_interval() {
    let Some(url) = testkit::postgres::fresh_database() else {
        return;
    };
    let nodes = two_nodes(&url, &[]);
    let http = Client::new();
    let series = "tapbridge_node_leader";
    let deadline = Instant::now() + Duration::from_secs(10);
    let (leader_a, leader_b) = loop {
        let a = metric(&http, &nodes.a, series).await.unwrap_or(0.0);
        let b = metric(&http, &nodes.b, series).await.unwrap_or(0.0);
        if a + b >= 1.0 {
            break (a, b);
        }
        assert!(Instant::now() < deadline, "no node leads");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(leader_a + leader_b, 1.0, "exactly one leader");
    let TwoNodes { a, b, _dirs, .. } = nodes;
    let (leader, other) = if leader_a == 1.0 { (a, b) } else { (b, a) };
    leader.kill();
    let killed = Instant::now();
    while metric(&http, &other, series).await != Some(1.0) {
        assert!(
            killed.elapsed() < Duration::from_secs(5),
            "the other node did not take over"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = killed.elapsed();
    eprintln!("leadership moved {took:?} after the leader was killed (interval 1 s)");
    assert!(took < Duration::from_millis(2500), "took {took:?}");
    drop(other);
}

/// `/readyz` turns 503 while the database is down and 200 again when it is back, without a
/// restart; requests meanwhile get their API's 503.
#[tokio::test(flavor = "multi_thread")]
async fn readiness_follows_the_database() {
    let cluster = match testkit::postgres::Cluster::start_private() {
        Ok(c) => c,
        Err(why) => {
            assert!(!testkit::ci(), "CI=true and {why}");
            eprintln!("SKIPPED: {why}");
            return;
        }
    };
    let url = cluster.create_database();
    let dir = tempfile::tempdir().unwrap();
    let env = node_env(&url);
    let admin = {
        let out = cli_ok(
            dir.path(),
            &env,
            &[
                "token",
                "create",
                "--name",
                "a",
                "--role",
                "user-administrator",
                "--json",
            ],
        );
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let node = Daemon::start_with(dir.path(), &env);
    let http = Client::new();
    let ready = |http: Client, url: String| async move {
        http.get(url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    assert_eq!(ready(http.clone(), node.url("/readyz")).await, 200);
    cluster.stop();
    let deadline = Instant::now() + Duration::from_secs(10);
    while ready(http.clone(), node.url("/readyz")).await != 503 {
        assert!(Instant::now() < deadline, "/readyz stayed ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = send(
        http.post(node.url("/v1.0/users"))
            .bearer_auth(&admin)
            .timeout(Duration::from_secs(15))
            .json(&json!({"userPrincipalName": "down@example.com", "displayName": "D"})),
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "serviceNotAvailable");
    cluster.serve().expect("the database comes back");
    let back = Instant::now();
    while ready(http.clone(), node.url("/readyz")).await != 200 {
        assert!(
            back.elapsed() < Duration::from_secs(15),
            "/readyz did not recover"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "ready again {:?} after the database returned",
        back.elapsed()
    );
    let (status, body) = send(
        http.post(node.url("/v1.0/users"))
            .bearer_auth(&admin)
            .json(&json!({"userPrincipalName": "up@example.com", "displayName": "U"})),
    )
    .await;
    assert_eq!(status, 201, "{body}\n{}", node.logs());
    node.stop();
}
