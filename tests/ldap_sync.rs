//! LDAP sync against a real slapd started per test (see `common::slapd`): full and delta runs,
//! renames, deletes, nested groups, quarantine, the mass-deprovisioning guard, a server killed
//! mid-run, StartTLS with a test CA, non-ASCII names, and the run lock: a killed run's lock
//! taken over after its grace, a live one never.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::directory::{events, members, query, sync_report as sync, user, users};
use common::slapd::{self, ADMIN_DN, ADMIN_PW, BASE, Slapd, person};
use serde_json::Value;

fn write_config(dir: &Path, s: &Slapd, extra: &str) {
    write_config_with(dir, s, "", extra);
}

/// A configuration directory for `s` (with `extra`) whose store is a fresh PostgreSQL
/// database, and that database's URL; `None` where PostgreSQL is not installed (outside CI).
fn on_postgresql(s: &Slapd, extra: &str) -> Option<(tempfile::TempDir, String)> {
    let url = testkit::postgres::fresh_database()?;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), s, extra);
    use_postgresql(dir.path(), &url);
    Some((dir, url))
}

/// Points the test's configuration at a PostgreSQL database instead of the embedded file.
fn use_postgresql(dir: &Path, url: &str) {
    let config = dir.join("tapbridge.toml");
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "[database]\n",
        &format!("[database]\nurl = \"{url}\"\n"),
        1,
    );
    std::fs::write(&config, text).unwrap();
}

/// [`write_config`] with keys of the `[ldap]` section itself.
fn write_config_with(dir: &Path, s: &Slapd, ldap: &str, extra: &str) {
    std::fs::write(dir.join("ldap.pw"), format!("{ADMIN_PW}\n")).expect("pw");
    // Small pages and batches, so even a small directory crosses page and batch boundaries.
    let paging = if extra.contains("page_size") {
        ""
    } else {
        "page_size = 7\nbatch_size = 5\n"
    };
    let timeout = if extra.contains("operation_timeout_seconds") {
        ""
    } else {
        "operation_timeout_seconds = 5\n"
    };
    std::fs::write(
        dir.join("tapbridge.toml"),
        format!(
            "[database]\ndurability = \"normal\"\n\n[ldap]\n{ldap}\n\n[[ldap.sources]]\nname = \"corp\"\nurl = \"{}\"\nbind_dn = \"{ADMIN_DN}\"\npassword_file = \"{}\"\nbase_dns = [\"{BASE}\"]\n{timeout}{paging}{extra}\n",
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

/// A delta reads only the groups its changes reach, and still gets every membership right:
/// a group nesting a changed group (itself unchanged), a group that named a person before
/// the person existed, and a posixGroup naming a new login. A group nothing reached keeps
/// its members and is not read.
#[test]
fn a_delta_recomputes_the_groups_its_changes_reach() {
    let Some(s) = slapd::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &s, "max_deprovision_share = 0.5");
    delta_reaches_its_groups(&s, dir.path(), &|g: &str| members(dir.path(), g));
}

/// The same on PostgreSQL, whose look-ups by DN, login and membership are other statements.
#[test]
fn a_delta_recomputes_the_groups_its_changes_reach_on_postgresql() {
    let Some(s) = slapd::start() else { return };
    let Some((dir, url)) = on_postgresql(&s, "max_deprovision_share = 0.5") else {
        return;
    };
    delta_reaches_its_groups(&s, dir.path(), &|g: &str| pg_members(&url, g));
}

/// User names of a group's members, sorted, on PostgreSQL.
fn pg_members(url: &str, group: &str) -> Vec<String> {
    use sqlx::{Connection, Row};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
        let rows = sqlx::query(
            "SELECT u.user_principal_name FROM group_members gm JOIN groups g ON g.id = gm.group_id \
             JOIN users u ON u.id = gm.user_id WHERE g.display_name = $1 ORDER BY 1",
        )
        .bind(group)
        .fetch_all(&mut c)
        .await
        .expect("members");
        rows.iter().map(|r| r.get::<String, _>(0)).collect()
    })
}

fn delta_reaches_its_groups(s: &Slapd, dir: &Path, members: &dyn Fn(&str) -> Vec<String>) {
    s.add(&format!(
        "{}{}{}",
        person("r0", "Reach 0", Some("r0@example.com")),
        person("r1", "Reach 1", Some("r1@example.com")),
        person("r2", "Reach 2", Some("r2@example.com")),
    ));
    s.add(&format!(
        "dn: cn=Eng,ou=Groups,{BASE}\nobjectClass: groupOfNames\ncn: Eng\nmember: uid=r0,ou=People,{BASE}\n\n\
         dn: cn=Staff,ou=Groups,{BASE}\nobjectClass: groupOfNames\ncn: Staff\nmember: cn=Eng,ou=Groups,{BASE}\nmember: uid=r2,ou=People,{BASE}\n\n\
         dn: cn=All,ou=Groups,{BASE}\nobjectClass: groupOfUniqueNames\ncn: All\nuniqueMember: cn=Staff,ou=Groups,{BASE}\n\n\
         dn: cn=Pending,ou=Groups,{BASE}\nobjectClass: groupOfNames\ncn: Pending\nmember: uid=r1,ou=People,{BASE}\nmember: uid=newbie,ou=People,{BASE}\n\n\
         dn: cn=unix,ou=Groups,{BASE}\nobjectClass: posixGroup\ncn: unix\ngidNumber: 5000\nmemberUid: r2\nmemberUid: newbie\n\n\
         dn: cn=Outer,ou=Groups,{BASE}\nobjectClass: groupOfNames\ncn: Outer\nmember: cn=Pending,ou=Groups,{BASE}\n\n\
         dn: cn=Other,ou=Groups,{BASE}\nobjectClass: groupOfNames\ncn: Other\nmember: uid=r2,ou=People,{BASE}\n"
    ));
    let (ok, r) = sync(dir, &[]);
    assert!(ok, "{r}");
    assert_eq!(r["mode"], "full");
    assert_eq!(members("All"), ["r0@example.com", "r2@example.com"]);
    assert_eq!(members("Pending"), ["r1@example.com"]);
    assert_eq!(members("unix"), ["r2@example.com"]);

    // Eng changes (Staff and All nest it, unchanged themselves); newbie arrives, named
    // before by Pending and unix, neither of which changes, and joins Outer through Pending.
    s.modify(&format!(
        "dn: cn=Eng,ou=Groups,{BASE}\nchangetype: modify\nadd: member\nmember: uid=r1,ou=People,{BASE}\n"
    ));
    s.add(&person("newbie", "New Bie", Some("newbie@example.com")));
    let (ok, r) = sync(dir, &[]);
    assert!(ok, "{r}");
    assert_eq!(r["mode"], "delta", "{r}");
    assert_eq!(r["counts"]["added"], 1, "{r}");
    assert_eq!(members("Eng"), ["r0@example.com", "r1@example.com"]);
    let everyone = ["r0@example.com", "r1@example.com", "r2@example.com"];
    assert_eq!(members("Staff"), everyone);
    assert_eq!(members("All"), everyone);
    assert_eq!(members("Pending"), ["newbie@example.com", "r1@example.com"]);
    assert_eq!(members("unix"), ["newbie@example.com", "r2@example.com"]);
    assert_eq!(members("Outer"), ["newbie@example.com", "r1@example.com"]);
    assert_eq!(members("Other"), ["r2@example.com"]);
    // Eng, Staff and All were recomputed, newbie added to Pending, unix and Outer; Other
    // was neither read nor written.
    assert_eq!(r["counts"]["groupsUpdated"], 6, "{r}");
    assert_eq!(r["counts"]["membershipsAdded"], 6, "{r}");

    // Eng leaves Staff: All, which nests Staff, loses Eng's people too.
    s.modify(&format!(
        "dn: cn=Staff,ou=Groups,{BASE}\nchangetype: modify\ndelete: member\nmember: cn=Eng,ou=Groups,{BASE}\n"
    ));
    let (ok, r) = sync(dir, &[]);
    assert!(ok, "{r}");
    assert_eq!(r["mode"], "delta", "{r}");
    assert_eq!(members("Staff"), ["r2@example.com"]);
    assert_eq!(members("All"), ["r2@example.com"]);
    assert_eq!(members("Eng"), ["r0@example.com", "r1@example.com"]);
    assert_eq!(r["counts"]["groupsUpdated"], 2, "{r}");
}

/// The same full → delta cycle with the store on PostgreSQL: the run's state and cursor are
/// recorded there too, so a delta stays a delta (a statement PostgreSQL refused once made
/// every run there a full one, while the same test on SQLite passed).
#[test]
fn delta_sync_on_postgresql() {
    let Some(s) = slapd::start() else { return };
    let Some((dir, _)) = on_postgresql(&s, "max_deprovision_share = 0.5") else {
        return;
    };
    let mut ldif = String::new();
    for i in 0..6 {
        ldif.push_str(&person(
            &format!("p{i}"),
            &format!("Post {i}"),
            Some(&format!("p{i}@example.com")),
        ));
    }
    s.add(&ldif);
    let (ok, r) = sync(dir.path(), &[]);
    assert!(ok, "{r}");
    assert_eq!(r["mode"], "full", "{r}");
    let (ok, r) = sync(dir.path(), &[]);
    assert!(ok, "{r}");
    assert_eq!(r["mode"], "delta", "{r}");
    s.add(&person("p9", "Post 9", Some("p9@example.com")));
    s.delete(&format!("uid=p2,ou=People,{BASE}"));
    let (ok, r) = sync(dir.path(), &[]);
    assert!(ok, "{r}");
    assert_eq!(r["mode"], "delta", "{r}");
    assert_eq!(r["counts"]["added"], 1, "{r}");
    assert_eq!(r["counts"]["disabled"], 1, "{r}");
    let all = users(dir.path());
    assert!(user(&all, "p9@example.com").is_some());
    assert_eq!(
        user(&all, "p2@example.com").unwrap()["accountEnabled"],
        false
    );
    assert!(
        !dir.path().join("data/tapbridge.db").exists(),
        "the store is PostgreSQL, not the embedded file"
    );
}

/// Row counts of the tables a sync writes, in the PostgreSQL database at `url`.
fn pg_counts(url: &str) -> Vec<(&'static str, i64)> {
    use sqlx::{Connection, Row};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
        let mut out = Vec::new();
        for table in [
            "users",
            "groups",
            "group_members",
            "audit_log",
            "directory_events",
            "ldap_objects",
            "ldap_quarantine",
            "ldap_sync_state",
            "run_locks",
        ] {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&mut c)
                .await
                .expect(table);
            out.push((table, row.try_get::<i64, _>(0).expect("count")));
        }
        out
    })
}

/// A dry run on PostgreSQL, which has no snapshot to run on: it runs in one transaction that
/// it rolls back. Its plan and counts are the real run's — batch after batch it sees what the
/// batches before it wrote — and nothing of it stays in the database.
#[test]
fn dry_run_on_postgresql_shows_the_real_runs_plan_and_writes_nothing() {
    let Some(s) = slapd::start() else { return };
    let Some((dir, url)) = on_postgresql(&s, "max_deprovision_share = 0.5") else {
        return;
    };
    let mut ldif = String::new();
    for i in 0..6 {
        ldif.push_str(&person(
            &format!("d{i}"),
            &format!("Dry {i}"),
            Some(&format!("d{i}@example.com")),
        ));
    }
    s.add(&ldif);
    s.add(&format!(
        "dn: cn=Crew,ou=Groups,{BASE}\nobjectClass: groupOfNames\ncn: Crew\nmember: uid=d0,ou=People,{BASE}\nmember: uid=d1,ou=People,{BASE}\n"
    ));
    let (ok, r) = sync(dir.path(), &[]);
    assert!(ok, "{r}");
    assert_eq!(r["counts"]["added"], 6, "{r}");

    // Seven join (more than a batch of five; the last one managed by the first), one leaves,
    // one is renamed, a new group takes two of the joiners.
    let mut ldif = String::new();
    for i in 10..17 {
        ldif.push_str(&person(
            &format!("d{i}"),
            &format!("Dry {i}"),
            Some(&format!("d{i}@example.com")),
        ));
    }
    s.add(&ldif);
    s.modify(&format!(
        "dn: uid=d16,ou=People,{BASE}\nchangetype: modify\nreplace: manager\nmanager: uid=d10,ou=People,{BASE}\n\n\
         dn: uid=d1,ou=People,{BASE}\nchangetype: modify\nreplace: displayName\ndisplayName: Dry One\n"
    ));
    s.delete(&format!("uid=d2,ou=People,{BASE}"));
    s.add(&format!(
        "dn: cn=Ops,ou=Groups,{BASE}\nobjectClass: groupOfNames\ncn: Ops\nmember: uid=d10,ou=People,{BASE}\nmember: uid=d16,ou=People,{BASE}\n"
    ));

    let tables = pg_counts(&url);
    let people = users(dir.path());
    let (ok, dry) = sync(dir.path(), &["--full", "--dry-run"]);
    assert!(ok, "{dry}");
    assert_eq!(dry["status"], "dry-run", "{dry}");
    let plan: Vec<&str> = dry["plan"]
        .as_array()
        .expect("a plan")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for line in [
        "add d10@example.com",
        "add d16@example.com",
        "update d1@example.com",
        "disable d2@example.com (left the directory)",
        "add group Ops",
    ] {
        assert!(plan.iter().any(|l| l.starts_with(line)), "{line}: {plan:?}");
    }
    assert_eq!(pg_counts(&url), tables, "the dry run left rows behind");
    assert_eq!(users(dir.path()), people, "the dry run changed users");

    // The real run does what the dry run showed.
    let (ok, real) = sync(dir.path(), &["--full"]);
    assert!(ok, "{real}");
    assert_eq!(real["counts"], dry["counts"], "{real}\n{dry}");
    let all = users(dir.path());
    assert_eq!(
        user(&all, "d2@example.com").unwrap()["accountEnabled"],
        false
    );
    assert!(user(&all, "d16@example.com").is_some());
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
    // Enough entries, read two per page, that the run is still reading when the server
    // dies (1,500 were read within 400 ms once the store wrote on the caller's thread).
    const ENTRIES: usize = 5000;
    let Some(mut s) = slapd::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &s, "max_deprovision_share = 0.5\npage_size = 2");
    let mut ldif = String::new();
    for i in 0..ENTRIES {
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
    for i in 1..ENTRIES {
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
    std::thread::sleep(Duration::from_millis(300));
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
        one_user(dir.path(), "k1@example.com")["accountEnabled"],
        true
    );
    assert_eq!(
        one_user(dir.path(), "k0@example.com")["accountEnabled"],
        true
    );
    s.restart();
    let (ok, r) = sync(dir.path(), &["--full"]);
    assert!(ok, "{r}");
    assert_eq!(r["counts"]["disabled"], 1, "{r}");
    assert_eq!(
        one_user(dir.path(), "k0@example.com")["accountEnabled"],
        false
    );
}

/// One user by name (the directory of that test holds more users than a listing shows).
fn one_user(dir: &Path, upn: &str) -> Value {
    let found = common::json(dir, &["user", "list", "--json", "--prefix", upn]);
    user(found.as_array().expect("array"), upn)
        .unwrap_or_else(|| panic!("{upn} not found"))
        .clone()
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

/// The one source's entry of `GET /v1.0/tapbridge/syncSources`.
async fn source_status(client: &reqwest::Client, url: &str, token: &str) -> Value {
    let (code, body) = common::send(client.get(url).bearer_auth(token)).await;
    assert_eq!(code, 200, "{body}");
    body["value"][0].clone()
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// The process holding the source's run lock, if any: (pid, host).
fn lock_holder(dir: &Path) -> Option<(u32, String)> {
    if !dir.join("data/tapbridge.db").exists() {
        return None;
    }
    query(
        dir,
        "SELECT pid, host FROM run_locks WHERE name = 'ldap:corp'",
    )
    .into_iter()
    .next()
    .map(|r| (r[0].parse().expect("pid"), r[1].clone()))
}

fn imported(dir: &Path) -> usize {
    if !dir.join("data/tapbridge.db").exists() {
        return 0;
    }
    query(dir, "SELECT count(*) FROM users WHERE source = 'ldap:corp'")[0][0]
        .parse()
        .expect("count")
}

fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    check()
}

/// `n` people, `p0` … `p{n-1}`.
fn people(n: usize) -> String {
    (0..n)
        .map(|i| {
            person(
                &format!("p{i}"),
                &format!("Person {i}"),
                Some(&format!("p{i}@example.com")),
            )
        })
        .collect()
}

/// `sync ldap --json` as a child process, to be killed or waited for.
fn spawn_sync(dir: &Path, args: &[&str]) -> std::process::Child {
    common::command(dir)
        .args(["sync", "ldap", "--json"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sync")
}

/// Starts a sync of a large enough directory and freezes slapd once the run has written its
/// first batches: the run is then alive, mid-run, holding the source. Returns it.
fn sync_frozen_mid_run(dir: &Path, s: &Slapd, args: &[&str]) -> std::process::Child {
    // The schema exists before the run's first look at the database races its migration.
    common::ok(dir, &["db", "migrate"]);
    let before = imported(dir);
    let child = spawn_sync(dir, args);
    let pid = child.id();
    // A run over a directory it already imported writes nothing: freeze it once it holds
    // the lock. A first run: once it wrote something.
    assert!(
        eventually(Duration::from_secs(30), || lock_holder(dir)
            .is_some_and(|(p, _)| p == pid)
            && (before > 0 || imported(dir) > 0)),
        "the run did not start"
    );
    s.pause();
    child
}

/// One run per source: a second run is refused with the holder named, `--force` does not take
/// a lock whose holder may be alive (another host, fresh heartbeat), and a lock whose
/// heartbeat stopped longer ago than the grace is taken over.
#[test]
fn one_run_per_source_at_a_time() {
    let Some(s) = slapd::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &s, "");
    s.add(&person("ada", "Ada Lovelace", Some("ada@example.com")));
    let (ok, _) = sync(dir.path(), &[]);
    assert!(ok, "a first run takes and releases the source");
    assert_eq!(lock_holder(dir.path()), None);

    // Another run holds the source (on another machine sharing the database): a second run
    // does not start, forced or not.
    let now = now_ms();
    query(
        dir.path(),
        &format!(
            "INSERT INTO run_locks (name, token, host, pid, pid_start, started_at, heartbeat_at) \
             VALUES ('ldap:corp', 'theirs', 'elsewhere', 4242, NULL, {now}, {now})"
        ),
    );
    s.add(&person("bob", "Bob", Some("bob@example.com")));
    for args in [&[][..], &["--force"]] {
        let (ok, report) = sync(dir.path(), args);
        assert!(!ok);
        let error = report["error"].as_str().unwrap_or("");
        assert!(
            error.contains("in progress") && error.contains("process 4242 on host elsewhere"),
            "{report}"
        );
        assert_eq!(
            error.contains("--force takes only"),
            !args.is_empty(),
            "{error}"
        );
    }
    assert!(
        user(&users(dir.path()), "bob@example.com").is_none(),
        "nothing was written"
    );

    // Its heartbeat stopped a minute ago, beyond the 30 s grace: the run died; taken over.
    query(
        dir.path(),
        &format!("UPDATE run_locks SET heartbeat_at = {}", now - 60_000),
    );
    let (ok, report) = sync(dir.path(), &[]);
    assert!(ok, "{report}");
    assert!(user(&users(dir.path()), "bob@example.com").is_some());
    assert_eq!(lock_holder(dir.path()), None, "released at the end");
}

/// `kill -9` of a sync mid-run leaves a lock that names the dead process and whose heartbeat
/// stops; the next run is refused until the grace has passed (never sooner), then takes the
/// lock over and completes. The status route shows the holder while it lives.
#[test]
fn a_killed_run_s_lock_is_taken_over_after_the_grace() {
    let Some(s) = slapd::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (heartbeat, grace) = (1u64, 4u64);
    write_config_with(
        d,
        &s,
        &format!("lock_heartbeat_seconds = {heartbeat}\nlock_grace_seconds = {grace}"),
        "operation_timeout_seconds = 60",
    );
    s.add(&people(300));
    let token = common::admin_token(d);
    let daemon = common::Daemon::start(d, &[("TAPBRIDGE_LDAP__SCHEDULER", "false")]);
    // The test's SQL helper runs its own runtime: this one only serves the status calls.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::new();
    let url = daemon.url("/v1.0/tapbridge/syncSources");
    let status = || rt.block_on(source_status(&client, &url, &token));
    assert_eq!(status()["runLock"], Value::Null);

    let mut run = sync_frozen_mid_run(d, &s, &[]);
    let pid = run.id();
    let held = status()["runLock"].clone();
    assert_eq!(held["processId"], pid, "{held}");
    assert_eq!(held["state"], "running", "{held}");
    assert!(
        held["host"].as_str().is_some_and(|h| !h.is_empty()) && held["startedDateTime"].is_string(),
        "{held}"
    );
    // Frozen in the middle of a read, the run is alive: its heartbeat goes on.
    std::thread::sleep(Duration::from_millis(2500));
    let later = status()["runLock"].clone();
    assert!(
        later["lastHeartbeatDateTime"].as_str() > held["lastHeartbeatDateTime"].as_str(),
        "{held} then {later}"
    );
    let partial = imported(d);
    assert!(partial > 0 && partial < 300, "mid-run: {partial} imported");

    run.kill().unwrap();
    run.wait().unwrap();
    let killed = std::time::Instant::now();
    s.resume();
    let (ok, report) = sync(d, &[]);
    assert!(!ok, "the dead run's lock is not taken at once: {report}");
    assert!(
        report["error"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("process {pid} ")),
        "the refusal names the holder: {report}"
    );
    let mut refused = 1;
    let report = loop {
        let (ok, report) = sync(d, &[]);
        if ok {
            break report;
        }
        assert!(
            report["error"]
                .as_str()
                .unwrap_or("")
                .contains("in progress"),
            "{report}"
        );
        refused += 1;
        assert!(
            killed.elapsed() < Duration::from_secs(60),
            "never taken over"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let takeover = killed.elapsed();
    eprintln!(
        "a killed run's lock (heartbeat {heartbeat} s, grace {grace} s): the next run completed {:.2} s after the kill ({refused} runs refused before), its own run taking {} ms",
        takeover.as_secs_f64(),
        report["durationMs"]
    );
    // The last heartbeat came at most one interval before the kill.
    assert!(
        takeover >= Duration::from_secs(grace - heartbeat),
        "taken over before the grace: {takeover:?}"
    );
    assert!(takeover < Duration::from_secs(grace + 10), "{takeover:?}");
    assert_eq!(report["counts"]["added"], 300 - partial as u64, "{report}");
    assert_eq!(imported(d), 300);
    let after = status();
    assert_eq!(after["runLock"], Value::Null, "{after}");
    assert_eq!(after["lastStatus"], "ok", "{after}");
    assert!(daemon.stop().success());
}

/// A live run's lock is never taken: not with `--force`, not by `serve`'s scheduler. `--force`
/// takes a killed run's lock at once (its process is gone from this host). A run whose lock
/// is taken from under it writes nothing more and says so.
#[test]
fn force_takes_only_a_dead_run_s_lock_and_a_run_that_lost_its_lock_stops() {
    let Some(s) = slapd::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A grace of a minute: whatever is taken over below within it is by --force alone.
    write_config_with(
        d,
        &s,
        "lock_heartbeat_seconds = 1\nlock_grace_seconds = 60",
        "operation_timeout_seconds = 60",
    );
    s.add(&people(300));

    let live = sync_frozen_mid_run(d, &s, &[]);
    let (ok, report) = sync(d, &["--force"]);
    assert!(!ok, "{report}");
    let error = report["error"].as_str().unwrap_or("");
    assert!(
        error.contains(&format!("process {} ", live.id())) && error.contains("--force takes only"),
        "{report}"
    );
    // serve's scheduler (first run at start) is refused the same way.
    let daemon = common::Daemon::start(d, &[]);
    assert!(
        eventually(Duration::from_secs(20), || daemon
            .logs()
            .contains("another run of this source is in progress")),
        "{}",
        daemon.logs()
    );
    assert_eq!(lock_holder(d).map(|(p, _)| p), Some(live.id()));
    assert!(daemon.stop().success());
    s.resume();
    let out = live.wait_with_output().unwrap();
    let reports: Value = serde_json::from_slice(&out.stdout).expect("report");
    assert!(out.status.success(), "the live run completes: {reports}");
    assert_eq!(reports[0]["counts"]["added"], 300, "{reports}");

    // Killed: --force needs no grace, the holder's process is gone from this host.
    s.pause();
    let mut dead = spawn_sync(d, &["--full"]);
    let pid = dead.id();
    assert!(eventually(Duration::from_secs(20), || lock_holder(d)
        .is_some_and(|(p, _)| p == pid)));
    dead.kill().unwrap();
    dead.wait().unwrap();
    let killed = std::time::Instant::now();
    s.resume();
    let (ok, report) = sync(d, &[]);
    assert!(!ok, "without --force it waits for the grace: {report}");
    let (ok, report) = sync(d, &["--force"]);
    assert!(ok, "{report}");
    eprintln!(
        "--force took a killed run's lock and completed {:.2} s after the kill",
        killed.elapsed().as_secs_f64()
    );
    assert_eq!(lock_holder(d), None);

    // A run whose lock another run takes over (as after a stall past the grace) stops and
    // writes nothing more — not even its record over the new holder's. The directory is
    // frozen before the run starts: it takes the lock, then waits for the directory, so it
    // has read nothing when the lock goes (frozen mid-read instead, a fast run could have
    // written this change before the take-over, legitimately, and the check below raced).
    s.modify(&format!(
        "dn: uid=p299,ou=People,{BASE}\nchangetype: modify\nreplace: mail\nmail: p299.new@example.com\n"
    ));
    let runs_before = query(d, "SELECT runs_ok + runs_failed FROM ldap_sync_state")[0][0].clone();
    s.pause();
    let robbed = spawn_sync(d, &["--full"]);
    let pid = robbed.id();
    assert!(
        eventually(Duration::from_secs(20), || lock_holder(d)
            .is_some_and(|(p, _)| p == pid)),
        "the run did not take the lock"
    );
    query(
        d,
        &format!(
            "UPDATE run_locks SET token = 'taken-over', pid = 1, host = 'elsewhere', heartbeat_at = {}",
            now_ms() + 600_000
        ),
    );
    s.resume();
    let out = robbed.wait_with_output().unwrap();
    let reports: Value = serde_json::from_slice(&out.stdout).expect("report");
    assert!(!out.status.success(), "{reports}");
    assert!(
        reports[0]["error"]
            .as_str()
            .unwrap_or("")
            .contains("lost its lock"),
        "{reports}"
    );
    assert!(
        user(&users(d), "p299.new@example.com").is_none(),
        "nothing written after the loss"
    );
    assert_eq!(
        lock_holder(d).map(|(_, h)| h),
        Some("elsewhere".into()),
        "the new holder's lock stays"
    );
    assert_eq!(
        query(d, "SELECT runs_ok + runs_failed FROM ldap_sync_state")[0][0],
        runs_before,
        "the robbed run records nothing"
    );
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
