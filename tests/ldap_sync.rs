//! LDAP sync against a real slapd started per test (see `common::slapd`): full and delta runs,
//! renames, deletes, nested groups, quarantine, the mass-deprovisioning guard, a server killed
//! mid-run, StartTLS with a test CA, non-ASCII names.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::directory::{events, members, query, sync_report as sync, user, users};
use common::slapd::{self, ADMIN_DN, ADMIN_PW, BASE, Slapd, person};
use serde_json::Value;

fn write_config(dir: &Path, s: &Slapd, extra: &str) {
    std::fs::write(dir.join("ldap.pw"), format!("{ADMIN_PW}\n")).expect("pw");
    // Small pages and batches, so even a small directory crosses page and batch boundaries.
    let paging = if extra.contains("page_size") {
        ""
    } else {
        "page_size = 7\nbatch_size = 5\n"
    };
    std::fs::write(
        dir.join("tapbridge.toml"),
        format!(
            "[database]\ndurability = \"normal\"\n\n[[ldap.sources]]\nname = \"corp\"\nurl = \"{}\"\nbind_dn = \"{ADMIN_DN}\"\npassword_file = \"{}\"\nbase_dns = [\"{BASE}\"]\noperation_timeout_seconds = 5\n{paging}{extra}\n",
            s.url,
            dir.join("ldap.pw").display()
        ),
    )
    .expect("config");
}

#[test]
fn full_sync_renames_nested_groups_and_non_ascii_names() {
    let Some(s) = slapd::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &s, "max_deprovision_share = 0.5");
    s.add(&format!(
        "{}{}{}{}",
        person("ada", "Ada Lovelace", Some("ada@example.com")),
        person("zoë", "Zoë Ærø-Ñúñez", Some("zoe@example.org")),
        person("bob", "Bob", Some("bob@example.com")),
        person("eve", "Eve", Some("eve@example.com")),
    ));
    s.modify(&format!(
        "dn: uid=bob,ou=People,{BASE}\nchangetype: modify\nreplace: manager\nmanager: uid=ada,ou=People,{BASE}\n"
    ));
    s.add(&format!(
        "dn: cn=Eng,ou=Groups,{BASE}\nobjectClass: groupOfNames\ncn: Eng\nmember: uid=bob,ou=People,{BASE}\n\n\
         dn: cn=Staff,ou=Groups,{BASE}\nobjectClass: groupOfNames\ncn: Staff\nmember: UID=Ada,OU=People,DC=example,DC=com\nmember: cn=Eng,ou=Groups,{BASE}\n\n\
         dn: cn=Ops,ou=Groups,{BASE}\nobjectClass: groupOfUniqueNames\ncn: Ops\nuniqueMember: uid=zo\\C3\\AB,ou=People,{BASE}\nuniqueMember: cn=Staff,ou=Groups,{BASE}\n\n\
         dn: cn=unix,ou=Groups,{BASE}\nobjectClass: posixGroup\ncn: unix\ngidNumber: 5000\nmemberUid: eve\n"
    ));
    // a cycle: Eng ⊂ Ops ⊂ … ⊂ Eng
    s.modify(&format!(
        "dn: cn=Eng,ou=Groups,{BASE}\nchangetype: modify\nadd: member\nmember: cn=Ops,ou=Groups,{BASE}\n"
    ));
    let (ok, r) = sync(dir.path(), &["--full"]);
    assert!(ok, "{r}");
    assert_eq!(r["status"], "ok");
    assert_eq!(r["counts"]["added"], 4, "{r}");
    assert_eq!(r["counts"]["groupsAdded"], 4, "{r}");
    let all = users(dir.path());
    let zoe = user(&all, "zoe@example.org").expect("non-ASCII user");
    assert_eq!(zoe["displayName"], "Zoë Ærø-Ñúñez");
    assert_eq!(zoe["source"], "ldap:corp");
    assert_eq!(
        members(dir.path(), "Staff"),
        ["ada@example.com", "bob@example.com", "zoe@example.org"]
    );
    assert_eq!(
        members(dir.path(), "Ops"),
        ["ada@example.com", "bob@example.com", "zoe@example.org"]
    );
    assert_eq!(
        members(dir.path(), "Eng"),
        ["ada@example.com", "bob@example.com", "zoe@example.org"]
    );
    assert_eq!(members(dir.path(), "unix"), ["eve@example.com"]);
    let manager = query(
        dir.path(),
        "SELECT m.user_principal_name FROM users u JOIN users m ON m.id = u.manager_id WHERE u.user_principal_name = 'bob@example.com'",
    );
    assert_eq!(manager, vec![vec!["ada@example.com".to_owned()]]);
    assert_eq!(events(dir.path(), "ada@example.com"), ["joiner"]);

    // A second full run with no change writes nothing.
    let (ok, r) = sync(dir.path(), &["--full"]);
    assert!(ok);
    assert_eq!(
        (
            r["counts"]["added"].as_u64(),
            r["counts"]["updated"].as_u64()
        ),
        (Some(0), Some(0)),
        "{r}"
    );
    assert_eq!(r["counts"]["unchanged"], 4);

    // Rename and move: same person (same entryUUID), new DN and mail.
    let id_before = user(&users(dir.path()), "ada@example.com").unwrap()["id"].clone();
    s.add(&format!(
        "dn: ou=Alumni,{BASE}\nobjectClass: organizationalUnit\nou: Alumni\n"
    ));
    s.modify(&format!(
        "dn: uid=ada,ou=People,{BASE}\nchangetype: modrdn\nnewrdn: uid=ada.king\ndeleteoldrdn: 1\nnewsuperior: ou=Alumni,{BASE}\n\n\
         dn: uid=ada.king,ou=Alumni,{BASE}\nchangetype: modify\nreplace: mail\nmail: ada.king@example.com\n"
    ));
    let (ok, r) = sync(dir.path(), &["--full"]);
    assert!(ok, "{r}");
    // Ada, and Bob whose manager attribute refint rewrote to Ada's new DN.
    assert_eq!(r["counts"]["updated"], 2, "{r}");
    assert_eq!(
        (
            r["counts"]["added"].as_u64(),
            r["counts"]["deleted"].as_u64(),
            r["counts"]["disabled"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
    let all = users(dir.path());
    assert!(user(&all, "ada@example.com").is_none());
    assert_eq!(
        user(&all, "ada.king@example.com").expect("renamed")["id"],
        id_before
    );
    // refint rewrote the member DN; the membership follows the person.
    assert!(members(dir.path(), "Staff").contains(&"ada.king@example.com".to_owned()));
    assert_eq!(events(dir.path(), "ada.king@example.com"), ["mover"]);
}

#[test]
fn delete_disable_policy_and_the_mass_deprovisioning_guard() {
    let Some(s) = slapd::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &s,
        "on_delete = \"disable\"\nmax_deprovision_share = 0.2",
    );
    let mut ldif = String::new();
    for i in 0..10 {
        ldif.push_str(&person(
            &format!("u{i}"),
            &format!("User {i}"),
            Some(&format!("u{i}@example.com")),
        ));
    }
    s.add(&ldif);
    s.add(&format!(
        "dn: cn=All,ou=Groups,{BASE}\nobjectClass: groupOfNames\ncn: All\nmember: uid=u0,ou=People,{BASE}\nmember: uid=u1,ou=People,{BASE}\n"
    ));
    let (ok, r) = sync(dir.path(), &[]);
    assert!(ok, "{r}");
    assert_eq!(r["counts"]["added"], 10);

    // One leaves (10 %, within 20 %): disabled by policy, pass revoked, out of the groups.
    common::ok(dir.path(), &["tap", "create", "u0@example.com"]);
    s.delete(&format!("uid=u0,ou=People,{BASE}"));
    let (ok, r) = sync(dir.path(), &["--full"]);
    assert!(ok, "{r}");
    assert_eq!(r["counts"]["disabled"], 1, "{r}");
    let all = users(dir.path());
    assert_eq!(
        user(&all, "u0@example.com").unwrap()["accountEnabled"],
        false
    );
    assert_eq!(events(dir.path(), "u0@example.com"), ["joiner", "leaver"]);
    assert!(query(dir.path(), "SELECT 1 FROM temporary_access_passes t JOIN users u ON u.id = t.user_id WHERE u.user_principal_name = 'u0@example.com'").is_empty());
    assert_eq!(members(dir.path(), "All"), ["u1@example.com"]);
    let audited = query(
        dir.path(),
        "SELECT count(*) FROM audit_log WHERE activity = 'Disable account'",
    );
    assert_eq!(audited[0][0], "1");

    // Four of the nine left leave at once (44 % > 20 %): the run stops, nobody is touched.
    for i in 1..5 {
        s.delete(&format!("uid=u{i},ou=People,{BASE}"));
    }
    let (ok, r) = sync(dir.path(), &["--full"]);
    assert!(!ok);
    assert_eq!(r["status"], "guarded", "{r}");
    assert!(r["error"].as_str().unwrap().contains("--force"));
    let all = users(dir.path());
    for i in 1..5 {
        assert_eq!(
            user(&all, &format!("u{i}@example.com")).unwrap()["accountEnabled"],
            true
        );
    }
    // A dry run shows the plan and writes nothing.
    let out = common::ok(
        dir.path(),
        &["sync", "ldap", "--full", "--dry-run", "--force"],
    );
    assert!(
        out.contains("disable u1@example.com (left the directory)"),
        "{out}"
    );
    assert_eq!(
        user(&users(dir.path()), "u1@example.com").unwrap()["accountEnabled"],
        true
    );
    // It ran on a snapshot, removed after.
    let leftovers: Vec<String> = std::fs::read_dir(dir.path().join("data"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("dry-run"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // Forced, they go.
    let (ok, r) = sync(dir.path(), &["--full", "--force"]);
    assert!(ok, "{r}");
    assert_eq!(r["counts"]["disabled"], 4);

    // With on_delete = "delete" a leaver is removed.
    write_config(
        dir.path(),
        &s,
        "on_delete = \"delete\"\nmax_deprovision_share = 0.5",
    );
    s.delete(&format!("uid=u5,ou=People,{BASE}"));
    let (ok, r) = sync(dir.path(), &["--full"]);
    assert!(ok, "{r}");
    assert_eq!(r["counts"]["deleted"], 1, "{r}");
    assert!(user(&users(dir.path()), "u5@example.com").is_none());
    assert_eq!(events(dir.path(), "u5@example.com"), ["joiner", "leaver"]);
}

#[test]
fn bad_entries_are_quarantined_one_by_one() {
    let Some(s) = slapd::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &s,
        "max_deprovision_share = 0.5\n[ldap.sources.attributes]\nhire_date = \"description\"",
    );
    s.add(&format!(
        "{}{}{}{}",
        person("good", "Good", Some("good@example.com")),
        person("noname", "No Name", None),
        person("dup", "Duplicate", Some("GOOD@example.com")),
        person("date", "Bad Date", Some("date@example.com")),
    ));
    s.modify(&format!(
        "dn: uid=date,ou=People,{BASE}\nchangetype: modify\nadd: description\ndescription: next tuesday\n"
    ));
    let (ok, r) = sync(dir.path(), &[]);
    assert!(ok, "{r}");
    assert_eq!(r["counts"]["added"], 1, "{r}");
    assert_eq!(r["counts"]["quarantined"], 3, "{r}");
    let q = query(
        dir.path(),
        "SELECT dn, reason FROM ldap_quarantine ORDER BY dn",
    );
    assert_eq!(q.len(), 3);
    assert!(
        q.iter()
            .any(|r| r[0].starts_with("uid=noname") && r[1].contains("no usable name")),
        "{q:?}"
    );
    assert!(
        q.iter()
            .any(|r| r[0].starts_with("uid=dup") && r[1].contains("already exists")),
        "{q:?}"
    );
    assert!(
        q.iter()
            .any(|r| r[0].starts_with("uid=date") && r[1].contains("not a date")),
        "{q:?}"
    );
    // Fixed at the source: imported, and out of quarantine.
    s.modify(&format!(
        "dn: uid=noname,ou=People,{BASE}\nchangetype: modify\nadd: mail\nmail: noname@example.com\n"
    ));
    let (ok, r) = sync(dir.path(), &["--full"]);
    assert!(ok, "{r}");
    assert_eq!(r["counts"]["added"], 1);
    assert_eq!(
        query(dir.path(), "SELECT count(*) FROM ldap_quarantine")[0][0],
        "2"
    );
}

#[test]
fn delta_sync_with_content_sync_cookie() {
    let Some(s) = slapd::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &s, "max_deprovision_share = 0.5");
    let mut ldif = String::new();
    for i in 0..6 {
        ldif.push_str(&person(
            &format!("d{i}"),
            &format!("Delta {i}"),
            Some(&format!("d{i}@example.com")),
        ));
    }
    s.add(&ldif);
    s.add(&format!(
        "dn: cn=Team,ou=Groups,{BASE}\nobjectClass: groupOfNames\ncn: Team\nmember: uid=d0,ou=People,{BASE}\n"
    ));
    let (ok, r) = sync(dir.path(), &[]);
    assert!(ok, "{r}");
    assert_eq!(r["mode"], "full");
    // Nothing changed: a delta that reads nothing much and writes nothing.
    let (ok, r) = sync(dir.path(), &[]);
    assert!(ok, "{r}");
    assert_eq!(r["mode"], "delta", "{r}");
    assert_eq!(
        (
            r["counts"]["added"].as_u64(),
            r["counts"]["updated"].as_u64(),
            r["counts"]["disabled"].as_u64()
        ),
        (Some(0), Some(0), Some(0)),
        "{r}"
    );
    // Add, modify, delete, and a membership change.
    s.add(&person("d9", "Delta 9", Some("d9@example.com")));
    s.modify(&format!(
        "dn: uid=d1,ou=People,{BASE}\nchangetype: modify\nreplace: cn\ncn: Delta One\n-\nreplace: displayName\ndisplayName: Delta One\n\n\
         dn: cn=Team,ou=Groups,{BASE}\nchangetype: modify\nadd: member\nmember: uid=d9,ou=People,{BASE}\n"
    ));
    s.delete(&format!("uid=d2,ou=People,{BASE}"));
    let (ok, r) = sync(dir.path(), &[]);
    assert!(ok, "{r}");
    assert_eq!(r["mode"], "delta", "{r}");
    assert_eq!(r["counts"]["added"], 1, "{r}");
    assert_eq!(r["counts"]["updated"], 1, "{r}");
    assert_eq!(r["counts"]["disabled"], 1, "{r}");
    let all = users(dir.path());
    assert_eq!(
        user(&all, "d1@example.com").unwrap()["displayName"],
        "Delta One"
    );
    assert_eq!(
        user(&all, "d2@example.com").unwrap()["accountEnabled"],
        false
    );
    assert_eq!(
        members(dir.path(), "Team"),
        ["d0@example.com", "d9@example.com"]
    );
    // A garbled cookie: the server asks for a refresh, and a full run follows.
    query(
        dir.path(),
        "UPDATE ldap_sync_state SET cursor = '{\"cookies\":{\"dc=example,dc=com\":\"7269643d3939392c63736e3d3139373030313031303030303030\"}}'",
    );
    let (ok, r) = sync(dir.path(), &[]);
    assert!(ok, "{r}");
}

#[test]
fn generic_source_polls_modify_timestamp_and_sweeps_on_full_runs() {
    let Some(s) = slapd::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &s,
        "kind = \"generic\"\nmax_deprovision_share = 0.5\n[ldap.sources.attributes]\nanchor = \"entryUUID\"",
    );
    let mut ldif = String::new();
    for i in 0..6 {
        ldif.push_str(&person(
            &format!("g{i}"),
            &format!("Generic {i}"),
            Some(&format!("g{i}@example.com")),
        ));
    }
    s.add(&ldif);
    s.add(&format!(
        "dn: cn=Crew,ou=Groups,{BASE}\nobjectClass: groupOfNames\ncn: Crew\nmember: uid=g0,ou=People,{BASE}\n"
    ));
    let (ok, r) = sync(dir.path(), &[]);
    assert!(ok, "{r}");
    assert_eq!(
        (r["mode"].as_str(), r["counts"]["added"].as_u64()),
        (Some("full"), Some(6)),
        "{r}"
    );
    let (ok, r) = sync(dir.path(), &[]);
    assert!(ok, "{r}");
    assert_eq!(r["mode"], "delta", "{r}");
    assert_eq!(r["deltaMethod"], "timestamp", "{r}");
    assert_eq!(r["counts"]["updated"], 0, "{r}");
    s.add(&person("g9", "Generic 9", Some("g9@example.com")));
    s.modify(&format!(
        "dn: uid=g1,ou=People,{BASE}\nchangetype: modify\nreplace: displayName\ndisplayName: Generic One\n\n\
         dn: cn=Crew,ou=Groups,{BASE}\nchangetype: modify\nadd: member\nmember: uid=g9,ou=People,{BASE}\n"
    ));
    s.delete(&format!("uid=g2,ou=People,{BASE}"));
    let (ok, r) = sync(dir.path(), &[]);
    assert!(ok, "{r}");
    assert_eq!(r["mode"], "delta", "{r}");
    assert_eq!(
        (
            r["counts"]["added"].as_u64(),
            r["counts"]["updated"].as_u64(),
            r["counts"]["disabled"].as_u64()
        ),
        (Some(1), Some(1), Some(0)),
        "a timestamp delta cannot see deletions: {r}"
    );
    let all = users(dir.path());
    assert_eq!(
        user(&all, "g1@example.com").unwrap()["displayName"],
        "Generic One"
    );
    assert_eq!(
        user(&all, "g2@example.com").unwrap()["accountEnabled"],
        true
    );
    assert_eq!(
        members(dir.path(), "Crew"),
        ["g0@example.com", "g9@example.com"]
    );
    // The periodic full run sweeps the deletion.
    let (ok, r) = sync(dir.path(), &["--full"]);
    assert!(ok, "{r}");
    assert_eq!(r["counts"]["disabled"], 1, "{r}");
    let all = users(dir.path());
    assert_eq!(
        user(&all, "g2@example.com").unwrap()["accountEnabled"],
        false
    );
}

#[test]
fn killed_server_mid_sync_deprovisions_nobody_and_the_next_run_completes() {
    let Some(mut s) = slapd::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &s, "max_deprovision_share = 0.5\npage_size = 2");
    let mut ldif = String::new();
    for i in 0..1500 {
        ldif.push_str(&person(
            &format!("k{i}"),
            &format!("K {i}"),
            Some(&format!("k{i}@example.com")),
        ));
    }
    s.add(&ldif);
    let (ok, r) = sync(dir.path(), &["--full"]);
    assert!(ok, "{r}");
    s.delete(&format!("uid=k0,ou=People,{BASE}"));
    // Change every entry, so the next run has real work and is still reading when the
    // server dies.
    let mut changes = String::new();
    for i in 1..1500 {
        changes.push_str(&format!(
            "dn: uid=k{i},ou=People,{BASE}\nchangetype: modify\nreplace: displayName\ndisplayName: Changed {i}\n\n"
        ));
    }
    s.modify(&changes);
    let child = common::command(dir.path())
        .args(["sync", "ldap", "--full", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sync");
    std::thread::sleep(Duration::from_millis(400));
    s.kill();
    let out = child.wait_with_output().expect("wait");
    assert!(
        !out.status.success(),
        "the run should fail once the server is gone"
    );
    let r: Value = serde_json::from_slice(&out.stdout).expect("report");
    assert_eq!(r[0]["status"], "failed", "{}", r[0]);
    assert_eq!(r[0]["counts"]["disabled"], 0);
    assert_eq!(
        user(&users(dir.path()), "k1@example.com").unwrap()["accountEnabled"],
        true
    );
    assert_eq!(
        user(&users(dir.path()), "k0@example.com").unwrap()["accountEnabled"],
        true
    );
    s.restart();
    let (ok, r) = sync(dir.path(), &["--full"]);
    assert!(ok, "{r}");
    assert_eq!(r["counts"]["disabled"], 1, "{r}");
    assert_eq!(
        user(&users(dir.path()), "k0@example.com").unwrap()["accountEnabled"],
        false
    );
}

#[test]
fn starttls_with_a_test_ca() {
    let Some(s) = slapd::start_with(true) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    s.add(&person("tls", "TLS", Some("tls@example.com")));
    let ca = s.ca_file.clone().expect("ca");
    // The system store does not know the test CA: refused.
    write_config(dir.path(), &s, "starttls = true");
    let (ok, r) = sync(dir.path(), &[]);
    assert!(!ok);
    assert_eq!(r["status"], "failed");
    write_config(
        dir.path(),
        &s,
        &format!("starttls = true\nca_file = \"{}\"", ca.display()),
    );
    let (ok, r) = sync(dir.path(), &[]);
    assert!(ok, "{r}");
    assert_eq!(r["counts"]["added"], 1);
}

#[test]
fn one_run_per_source_at_a_time() {
    let Some(s) = slapd::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &s, "");
    s.add(&person("ada", "Ada Lovelace", Some("ada@example.com")));
    let (ok, _) = sync(dir.path(), &[]);
    assert!(ok, "a first run takes and releases the source");
    assert_eq!(
        query(
            dir.path(),
            "SELECT count(*) FROM ldap_sync_state WHERE running_until IS NOT NULL"
        )[0][0],
        "0"
    );

    // Another run holds the source (the scheduler, say): a second one does not start.
    let far = (time::OffsetDateTime::now_utc().unix_timestamp() + 3600) * 1000;
    query(
        dir.path(),
        &format!("UPDATE ldap_sync_state SET running_until = {far}"),
    );
    s.add(&person("bob", "Bob", Some("bob@example.com")));
    let (ok, report) = sync(dir.path(), &[]);
    assert!(!ok);
    assert!(
        report["error"]
            .as_str()
            .unwrap_or("")
            .contains("in progress"),
        "{report}"
    );
    assert!(
        user(&users(dir.path()), "bob@example.com").is_none(),
        "nothing was written"
    );

    // A lease left by a run that died lapses.
    let past = (time::OffsetDateTime::now_utc().unix_timestamp() - 60) * 1000;
    query(
        dir.path(),
        &format!("UPDATE ldap_sync_state SET running_until = {past}"),
    );
    let (ok, _) = sync(dir.path(), &[]);
    assert!(ok);
    assert!(user(&users(dir.path()), "bob@example.com").is_some());
}

/// `serve` runs the source on its schedule (the first run at start); the status route and
/// `/metrics` report it, and the status names what the next delta resumes from.
#[tokio::test]
async fn serve_runs_the_source_and_reports_it() {
    let Some(s) = slapd::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &s, "");
    s.add(&person("sv", "Served", Some("sv@example.com")));
    let token = common::admin_token(dir.path());
    let daemon = common::Daemon::start(dir.path(), &[]);
    let client = reqwest::Client::new();
    let url = daemon.url("/v1.0/tapbridge/syncSources");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let source = loop {
        let (status, body) = common::send(client.get(&url).bearer_auth(&token)).await;
        assert_eq!(status, 200, "{body}");
        let source = body["value"][0].clone();
        if source["lastStatus"] == "ok" {
            break source;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no completed run: {source}\n{}",
            daemon.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(source["name"], "corp");
    assert_eq!(source["lastMode"], "full", "{source}");
    assert_eq!(source["deltaCursor"], "content-sync", "{source}");
    assert_eq!(source["lastCounts"]["added"], 1, "{source}");
    assert!(user(&users(dir.path()), "sv@example.com").is_some());
    // Without a token: refused, nothing shown.
    let (status, _) = common::send(client.get(&url)).await;
    assert_eq!(status, 401);
    let metrics = client
        .get(daemon.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("tapbridge_ldap_sync_last_success{source=\"corp\"} 1"),
        "{metrics}"
    );
    assert!(daemon.stop().success());
}
