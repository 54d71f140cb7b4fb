//! `kind = "ad"` sources against a real Samba Active Directory domain controller started per
//! test (see `common/samba.rs`): full runs import people with objectGUID anchors, UPNs, names,
//! mail, proxy addresses, hire dates and managers; disabled accounts; nested groups; leavers
//! deprovisioned by the next full run; a search from the domain root.

mod common;
#[path = "common/samba.rs"]
mod samba;

use std::path::Path;

use samba::{ADMIN_DN, ADMIN_PW, BASE, Samba, User};
use serde_json::Value;

/// A source `corp` of kind "ad" reading `base`, bound as Administrator.
fn write_config(dir: &Path, s: &Samba, base: &str, extra: &str) {
    std::fs::write(dir.join("ad.pw"), format!("{ADMIN_PW}\n")).expect("pw");
    // Small pages and batches, so even a small directory crosses page and batch boundaries.
    std::fs::write(
        dir.join("tapbridge.toml"),
        format!(
            "[database]\ndurability = \"normal\"\n\n[[ldap.sources]]\nname = \"corp\"\nkind = \"ad\"\nurl = \"{}\"\nbind_dn = \"{ADMIN_DN}\"\npassword_file = \"{}\"\nbase_dns = [\"{base}\"]\noperation_timeout_seconds = 10\npage_size = 3\nbatch_size = 2\n{extra}\n",
            s.url,
            dir.join("ad.pw").display()
        ),
    )
    .expect("config");
}

/// Runs `sync ldap --json --full` (the only kind of run an AD source has) and returns
/// (success, the one report).
fn sync(dir: &Path, args: &[&str]) -> (bool, Value) {
    let mut all = vec!["sync", "ldap", "--json", "--full"];
    all.extend_from_slice(args);
    let out = common::run(dir, &all);
    let text = String::from_utf8_lossy(&out.stdout);
    let reports: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}): {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), reports[0].clone())
}

/// A run that must succeed; returns its counts.
fn sync_ok(dir: &Path, args: &[&str]) -> Value {
    let (ok, r) = sync(dir, args);
    assert!(ok, "{r}");
    assert_eq!(r["status"], "ok", "{r}");
    r["counts"].clone()
}

fn users(dir: &Path) -> Vec<Value> {
    common::json(dir, &["user", "list", "--json", "--limit", "1000"])
        .as_array()
        .expect("array")
        .clone()
}

fn user<'a>(all: &'a [Value], upn: &str) -> Option<&'a Value> {
    all.iter()
        .find(|u| u["userPrincipalName"].as_str() == Some(upn))
}

fn enabled(dir: &Path, upn: &str) -> bool {
    user(&users(dir), upn).unwrap_or_else(|| panic!("no user {upn}"))["accountEnabled"]
        .as_bool()
        .expect("accountEnabled")
}

/// Rows of a query against the test's database, every column as text.
fn query(dir: &Path, sql: &str) -> Vec<Vec<String>> {
    use sqlx::{Connection, Row};
    let path = dir.join("data/tapbridge.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .expect("open db");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_all(&mut c)
            .await
            .expect("query");
        rows.iter()
            .map(|r| {
                (0..r.columns().len())
                    .map(|i| {
                        r.try_get::<String, _>(i)
                            .or_else(|_| r.try_get::<i64, _>(i).map(|v| v.to_string()))
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .collect()
    })
}

/// One user's columns, by UPN.
fn row(dir: &Path, upn: &str, columns: &str) -> Vec<String> {
    let mut rows = query(
        dir,
        &format!("SELECT {columns} FROM users WHERE user_principal_name = '{upn}'"),
    );
    assert_eq!(rows.len(), 1, "user {upn}");
    rows.remove(0)
}

fn members(dir: &Path, group: &str) -> Vec<String> {
    let mut m: Vec<String> = query(
        dir,
        &format!(
            "SELECT u.user_principal_name FROM group_members gm JOIN groups g ON g.id = gm.group_id \
             JOIN users u ON u.id = gm.user_id WHERE g.display_name = '{group}'"
        ),
    )
    .into_iter()
    .map(|r| r[0].clone())
    .collect();
    m.sort();
    m
}

fn events(dir: &Path, upn: &str) -> Vec<String> {
    query(
        dir,
        &format!(
            "SELECT kind FROM directory_events WHERE user_principal_name = '{upn}' ORDER BY seq"
        ),
    )
    .into_iter()
    .map(|r| r[0].clone())
    .collect()
}

#[test]
fn full_sync_imports_people_with_object_guid_anchors() {
    let Some(s) = samba::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let corp = s.add_ou("Corp", BASE);
    write_config(
        dir.path(),
        &s,
        &corp,
        "[ldap.sources.attributes]\nhire_date = \"employeeHireDate\"",
    );
    let ada = s.add_user(
        &corp,
        &User::new("ada")
            .cn("Ada Lovelace")
            .name("Ada", "Lovelace")
            .mail("ada@example.com")
            .hire_date("20240102000000.0Z")
            .password("Ada-Passw0rd!")
            .with("proxyAddresses", "SMTP:ada@example.com")
            .with("proxyAddresses", "smtp:countess@example.com")
            .with("proxyAddresses", "X500:/o=Example/cn=ada"),
    );
    let bob = s.add_user(
        &corp,
        &User::new("bob")
            .cn("Bob, Jr.")
            .name("Bob", "Builder")
            .mail("bob@example.com")
            .manager(&ada),
    );
    s.add_user(
        &corp,
        &User::new("zoe")
            .cn("Zoë Ærø-Ñúñez")
            .name("Zoë", "Ærø-Ñúñez")
            .mail("zoe@example.org"),
    );
    // Neither a person (a computer) nor a user (a contact): the default filter
    // (&(objectCategory=person)(objectClass=user)) leaves them out.
    s.add(&format!(
        "dn: CN=WS01,{corp}\nobjectClass: computer\nsAMAccountName: WS01$\nuserAccountControl: 4096\n\n\
         dn: CN=Carol Contact,{corp}\nobjectClass: contact\nmail: carol@example.net\n"
    ));
    // A service account without a UPN cannot be named: quarantined.
    s.add_user(&corp, &User::new("svc-backup").upn(None));

    let c = sync_ok(dir.path(), &[]);
    assert_eq!(c["added"], 3, "{c}");
    assert_eq!(c["quarantined"], 1, "{c}");

    // The anchor is objectGUID in the GUID text form, as the server itself prints it (extended
    // DN); the attribute value holds the first three fields little-endian.
    let guid = s.guid(&ada);
    let raw = s.object_guid(&ada);
    assert_eq!(samba::guid_text(&raw), guid);
    assert_eq!(
        format!("{:02x}{:02x}{:02x}{:02x}", raw[3], raw[2], raw[1], raw[0]),
        guid[..8]
    );
    let r = row(
        dir.path(),
        "ada@tap.test",
        "anchor, given_name, surname, display_name, mail, employee_hire_date, source",
    );
    assert_eq!(
        r,
        [
            guid.as_str(),
            "Ada",
            "Lovelace",
            "Ada Lovelace",
            "ada@example.com",
            "1704153600000",
            "ldap:corp"
        ]
    );
    let all = users(dir.path());
    let ada_json = user(&all, "ada@tap.test").expect("ada");
    assert_eq!(ada_json["accountEnabled"], true);
    // proxyAddresses: the primary SMTP: address is `mail`, smtp: aliases are other mails, other
    // address types are skipped.
    assert_eq!(
        ada_json["otherMails"],
        serde_json::json!(["countess@example.com"])
    );
    assert_eq!(
        user(&all, "zoe@tap.test").expect("non-ASCII names")["displayName"],
        "Zoë Ærø-Ñúñez"
    );
    assert_eq!(
        row(dir.path(), "bob@tap.test", "anchor")[0],
        s.guid(&bob),
        "each user has their own GUID"
    );
    let manager = query(
        dir.path(),
        "SELECT m.user_principal_name FROM users u JOIN users m ON m.id = u.manager_id WHERE u.user_principal_name = 'bob@tap.test'",
    );
    assert_eq!(manager, vec![vec!["ada@tap.test".to_owned()]]);
    assert_eq!(events(dir.path(), "ada@tap.test"), ["joiner"]);

    // A second run with no change writes nothing.
    let c = sync_ok(dir.path(), &[]);
    assert_eq!(
        (c["added"].as_u64(), c["updated"].as_u64()),
        (Some(0), Some(0)),
        "{c}"
    );
    assert_eq!(c["unchanged"], 3, "{c}");

    // Renamed and moved within the base, new UPN and mail: the same person (same objectGUID).
    // Bob's manager attribute follows Ada's new DN (a linked attribute).
    let id = ada_json["id"].clone();
    let alumni = s.add_ou("Alumni", &corp);
    let ada = s.rename(&ada, "CN=Ada King", Some(&alumni));
    s.set(&ada, "userPrincipalName", &["ada.king@tap.test"]);
    s.set(&ada, "mail", &["ada.king@example.com"]);
    assert_eq!(s.guid(&ada), guid);
    let c = sync_ok(dir.path(), &[]);
    assert_eq!(
        (
            c["added"].as_u64(),
            c["disabled"].as_u64(),
            c["deleted"].as_u64()
        ),
        (Some(0), Some(0), Some(0)),
        "{c}"
    );
    let all = users(dir.path());
    assert!(user(&all, "ada@tap.test").is_none());
    assert_eq!(user(&all, "ada.king@tap.test").expect("renamed")["id"], id);
    assert_eq!(row(dir.path(), "ada.king@tap.test", "anchor")[0], guid);
    let manager = query(
        dir.path(),
        "SELECT m.user_principal_name FROM users u JOIN users m ON m.id = u.manager_id WHERE u.user_principal_name = 'bob@tap.test'",
    );
    assert_eq!(manager, vec![vec!["ada.king@tap.test".to_owned()]]);
}

#[test]
fn disabled_accounts_are_inactive() {
    let Some(s) = samba::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let corp = s.add_ou("Corp", BASE);
    write_config(dir.path(), &s, &corp, "max_deprovision_share = 0.5");
    let eve = s.add_user(&corp, &User::new("eve").name("Eve", "Adams").disabled());
    let fay = s.add_user(&corp, &User::new("fay").name("Fay", "Baker"));
    assert_eq!(s.user_account_control(&eve), 0x202);
    assert_eq!(s.user_account_control(&fay), 0x200);

    let c = sync_ok(dir.path(), &[]);
    assert_eq!(c["added"], 2, "{c}");
    assert!(!enabled(dir.path(), "eve@tap.test"));
    assert!(enabled(dir.path(), "fay@tap.test"));

    // Flip both: the disable bit alone decides, whatever else is set (PASSWD_NOTREQD here).
    s.enable(&eve);
    s.set(
        &fay,
        "userAccountControl",
        &[&(0x200 | 0x20 | 0x2).to_string()],
    );
    let c = sync_ok(dir.path(), &[]);
    // A disable counts as one (and against max_deprovision_share), a re-enable as an update.
    assert_eq!(
        (c["updated"].as_u64(), c["disabled"].as_u64()),
        (Some(1), Some(1)),
        "{c}"
    );
    assert!(enabled(dir.path(), "eve@tap.test"));
    assert!(!enabled(dir.path(), "fay@tap.test"));
    assert_eq!(events(dir.path(), "fay@tap.test"), ["joiner", "leaver"]);

    // Disabling the last enabled user is more than the allowed share: guarded until forced.
    s.disable(&eve);
    assert_eq!(s.user_account_control(&eve), 0x202);
    let (ok, r) = sync(dir.path(), &[]);
    assert!(!ok);
    assert_eq!(r["status"], "guarded", "{r}");
    assert!(enabled(dir.path(), "eve@tap.test"));
    let c = sync_ok(dir.path(), &["--force"]);
    assert_eq!(c["disabled"], 1, "{c}");
    assert!(!enabled(dir.path(), "eve@tap.test"));
}

#[test]
fn group_membership_follows_nested_groups() {
    let Some(s) = samba::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let corp = s.add_ou("Corp", BASE);
    let people = s.add_ou("People", &corp);
    let groups = s.add_ou("Groups", &corp);
    write_config(dir.path(), &s, &corp, "");
    let [ada, bob, carl, dan] =
        ["ada", "bob", "carl", "dan"].map(|n| s.add_user(&people, &User::new(n)));
    let eng = s.add_group(&groups, "Eng", &[&ada, &bob]);
    let staff = s.add_group(&groups, "Staff", &[&eng, &carl]);
    // Members outside the base (Administrator, Domain Users) are not users of this source.
    let ops = s.add_group(
        &groups,
        "Ops",
        &[&dan, ADMIN_DN, &format!("CN=Domain Users,CN=Users,{BASE}")],
    );
    s.add_group(&groups, "Empty", &[]);
    // A cycle: Eng ⊂ Staff ⊂ All ⊂ Eng.
    let all = s.add_group(&groups, "All", &[&staff]);
    s.add_members(&eng, &[&all]);

    let c = sync_ok(dir.path(), &[]);
    assert_eq!(c["added"], 4, "{c}");
    assert_eq!(c["groupsAdded"], 5, "{c}");
    let abc = ["ada@tap.test", "bob@tap.test", "carl@tap.test"];
    assert_eq!(members(dir.path(), "Eng"), abc);
    assert_eq!(members(dir.path(), "Staff"), abc);
    assert_eq!(members(dir.path(), "All"), abc);
    assert_eq!(members(dir.path(), "Ops"), ["dan@tap.test"]);
    assert!(members(dir.path(), "Empty").is_empty());
    let anchor = query(
        dir.path(),
        "SELECT anchor FROM groups WHERE display_name = 'Staff'",
    );
    assert_eq!(
        anchor,
        vec![vec![s.guid(&staff)]],
        "groups are anchored by objectGUID too"
    );

    // Membership changes, and a group renamed: the same group (objectGUID), new name.
    s.remove_members(&eng, &[&bob]);
    s.add_members(&staff, &[&dan]);
    s.remove_members(&ops, &[&dan]);
    let eng = s.rename(&eng, "CN=Engineering", None);
    s.set(&eng, "sAMAccountName", &["Engineering"]);
    let c = sync_ok(dir.path(), &[]);
    assert_eq!(c["groupsAdded"], 0, "{c}");
    assert_eq!(c["groupsDeleted"], 0, "{c}");
    // Engineering still contains All (the cycle), so it still reaches everyone in Staff.
    let acd = ["ada@tap.test", "carl@tap.test", "dan@tap.test"];
    assert_eq!(members(dir.path(), "Engineering"), acd);
    assert!(members(dir.path(), "Eng").is_empty());
    assert_eq!(members(dir.path(), "Staff"), acd);
    assert!(members(dir.path(), "Ops").is_empty());
}

#[test]
fn deleted_users_are_deprovisioned_on_the_next_full_run() {
    let Some(s) = samba::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let corp = s.add_ou("Corp", BASE);
    write_config(
        dir.path(),
        &s,
        &corp,
        "on_delete = \"disable\"\nmax_deprovision_share = 0.5",
    );
    let dns: Vec<String> = (0..4)
        .map(|i| {
            s.add_user(
                &corp,
                &User::new(&format!("u{i}")).mail(&format!("u{i}@example.com")),
            )
        })
        .collect();
    s.add_group(&corp, "Team", &[&dns[0], &dns[1]]);
    let c = sync_ok(dir.path(), &[]);
    assert_eq!(c["added"], 4, "{c}");
    assert_eq!(members(dir.path(), "Team"), ["u0@tap.test", "u1@tap.test"]);

    // Deleted in AD: a tombstone under CN=Deleted Objects keeps the objectGUID (Show Deleted
    // control); the next full run no longer sees the user and disables them.
    let guid = s.guid(&dns[0]);
    s.delete(&dns[0]);
    let tombstones = s.search(
        &format!("CN=Deleted Objects,{BASE}"),
        "(&(isDeleted=TRUE)(sAMAccountName=u0))",
        &["objectGUID", "lastKnownParent"],
        &["-E", "!showDeleted"],
    );
    assert_eq!(tombstones.len(), 1);
    let raw: [u8; 16] = tombstones[0].raw("objectGUID").unwrap().try_into().unwrap();
    assert_eq!(samba::guid_text(&raw), guid);
    assert_eq!(
        tombstones[0].text("lastKnownParent").as_deref(),
        Some(corp.as_str())
    );
    let c = sync_ok(dir.path(), &[]);
    assert_eq!(c["disabled"], 1, "{c}");
    assert!(!enabled(dir.path(), "u0@tap.test"));
    assert_eq!(events(dir.path(), "u0@tap.test"), ["joiner", "leaver"]);
    assert_eq!(members(dir.path(), "Team"), ["u1@tap.test"]);

    // Moved out of the base: a leaver too.
    s.rename(&dns[1], "CN=u1", Some(&format!("CN=Users,{BASE}")));
    let c = sync_ok(dir.path(), &[]);
    assert_eq!(c["disabled"], 1, "{c}");
    assert!(!enabled(dir.path(), "u1@tap.test"));
    assert!(members(dir.path(), "Team").is_empty());

    // With on_delete = "delete" a leaver is removed.
    write_config(
        dir.path(),
        &s,
        &corp,
        "on_delete = \"delete\"\nmax_deprovision_share = 0.6",
    );
    s.delete(&dns[2]);
    let c = sync_ok(dir.path(), &[]);
    assert_eq!(c["deleted"], 1, "{c}");
    assert!(user(&users(dir.path()), "u2@tap.test").is_none());
    assert_eq!(events(dir.path(), "u2@tap.test"), ["joiner", "leaver"]);
    assert!(enabled(dir.path(), "u3@tap.test"));
}

#[test]
fn domain_root_base_skips_referrals_and_unnamed_builtin_accounts() {
    let Some(s) = samba::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    // A subtree search from the domain root also returns a continuation reference (to the
    // Configuration partition); the built-in accounts (Administrator, Guest, krbtgt) have no
    // userPrincipalName.
    write_config(dir.path(), &s, BASE, "");
    let corp = s.add_ou("Corp", BASE);
    s.add_user(&corp, &User::new("ada").name("Ada", "Lovelace"));
    s.add_user(
        &format!("CN=Users,{BASE}"),
        &User::new("bob").name("Bob", "Builder"),
    );
    let unnamed = s.search(
        BASE,
        "(&(objectCategory=person)(objectClass=user)(!(userPrincipalName=*)))",
        &["sAMAccountName"],
        &[],
    );
    let unnamed: Vec<String> = unnamed
        .iter()
        .filter_map(|e| e.text("sAMAccountName"))
        .collect();
    assert!(unnamed.contains(&"Administrator".to_owned()), "{unnamed:?}");

    let c = sync_ok(dir.path(), &[]);
    assert_eq!(c["added"], 2, "{c}");
    assert_eq!(c["quarantined"], unnamed.len(), "{c} {unnamed:?}");
    let mut upns: Vec<String> = users(dir.path())
        .iter()
        .map(|u| u["userPrincipalName"].as_str().unwrap().to_owned())
        .collect();
    upns.sort();
    assert_eq!(upns, ["ada@tap.test", "bob@tap.test"]);
    // Built-in groups are groups of this source like any other; none has a member here.
    assert!(members(dir.path(), "Domain Admins").is_empty());
}
