//! `kind = "ad"` sources against a real Samba Active Directory domain controller started per
//! test (see `common/samba.rs`): full runs import people with objectGUID anchors, UPNs, names,
//! mail, proxy addresses, hire dates and managers; disabled accounts; nested groups; leavers
//! deprovisioned by the next full run; a search from the domain root. Deltas, each scenario
//! by DirSync and by uSNChanged: every kind of user and group change in one run, new and
//! removed groups, the deprovisioning guard, refused cookies and USN marks of another DC or
//! incarnation (a full run instead), the fallback to USN for an account refused DirSync.

mod common;
#[path = "common/samba.rs"]
mod samba;

use std::path::Path;

use common::directory::{events, members, query, sync_report, user, users};
use samba::{ADMIN_DN, ADMIN_PW, BASE, Samba, User};
use serde_json::Value;

/// A source `corp` of kind "ad" reading `base`, bound as Administrator.
fn write_config(dir: &Path, s: &Samba, base: &str, extra: &str) {
    write_config_as(dir, s, base, ADMIN_DN, ADMIN_PW, extra);
}

/// A source `corp` of kind "ad" reading `base`, bound as `bind_dn`.
fn write_config_as(dir: &Path, s: &Samba, base: &str, bind_dn: &str, pw: &str, extra: &str) {
    std::fs::write(dir.join("ad.pw"), format!("{pw}\n")).expect("pw");
    // Small pages and batches, so even a small directory crosses page and batch boundaries.
    std::fs::write(
        dir.join("tapbridge.toml"),
        format!(
            "[database]\ndurability = \"normal\"\n\n[[ldap.sources]]\nname = \"corp\"\nkind = \"ad\"\nurl = \"{}\"\nbind_dn = \"{bind_dn}\"\npassword_file = \"{}\"\nbase_dns = [\"{base}\"]\noperation_timeout_seconds = 10\npage_size = 3\nbatch_size = 2\n{extra}\n",
            s.url,
            dir.join("ad.pw").display()
        ),
    )
    .expect("config");
}

/// Runs `sync ldap --json --full` and returns (success, the one report).
fn sync(dir: &Path, args: &[&str]) -> (bool, Value) {
    let mut all = vec!["--full"];
    all.extend_from_slice(args);
    sync_report(dir, &all)
}

/// A run that must succeed; returns its counts.
fn sync_ok(dir: &Path, args: &[&str]) -> Value {
    let (ok, r) = sync(dir, args);
    assert!(ok, "{r}");
    assert_eq!(r["status"], "ok", "{r}");
    r["counts"].clone()
}

fn enabled(dir: &Path, upn: &str) -> bool {
    user(&users(dir), upn).unwrap_or_else(|| panic!("no user {upn}"))["accountEnabled"]
        .as_bool()
        .expect("accountEnabled")
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
    // Imported disabled, eve joined only when enabled.
    assert_eq!(events(dir.path(), "eve@tap.test"), ["joiner"]);

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

// ---------------------------------------------------------------------------------------------
// Deltas: DirSync and uSNChanged. Every scenario runs once per method.

/// A delta run that must succeed, by `method`; returns its counts.
fn delta_ok(dir: &Path, method: &str) -> Value {
    let (ok, r) = sync_report(dir, &[]);
    assert!(ok, "{r}");
    assert_eq!(r["status"], "ok", "{r}");
    assert_eq!(r["mode"], "delta", "{r}");
    assert_eq!(r["deltaMethod"], method, "{r}");
    r["counts"].clone()
}

/// A run without `--full` that must succeed as a full one (the cursor did not allow a delta);
/// returns its counts.
fn refresh_ok(dir: &Path) -> Value {
    let (ok, r) = sync_report(dir, &[]);
    assert!(ok, "{r}");
    assert_eq!(r["status"], "ok", "{r}");
    assert_eq!(r["mode"], "full", "{r}");
    assert!(r.get("deltaMethod").is_none(), "{r}");
    r["counts"].clone()
}

/// The listed counters of `c`, in order (missing ones as -1, so a mismatch shows).
fn pick(c: &Value, keys: &[&str]) -> Vec<i64> {
    keys.iter().map(|k| c[*k].as_i64().unwrap_or(-1)).collect()
}

/// added, updated, disabled, deleted.
const PEOPLE: [&str; 4] = ["added", "updated", "disabled", "deleted"];
/// groupsAdded, groupsUpdated, groupsDeleted, membershipsAdded, membershipsRemoved.
const GROUPS: [&str; 5] = [
    "groupsAdded",
    "groupsUpdated",
    "groupsDeleted",
    "membershipsAdded",
    "membershipsRemoved",
];

/// A run that changed nothing at all.
fn assert_quiet(c: &Value) {
    assert_eq!(pick(c, &PEOPLE), [0, 0, 0, 0], "{c}");
    assert_eq!(pick(c, &GROUPS), [0, 0, 0, 0, 0], "{c}");
    assert_eq!(c["quarantined"], 0, "{c}");
}

/// The stored cursor of the source.
fn cursor(dir: &Path) -> Value {
    let rows = query(
        dir,
        "SELECT cursor FROM ldap_sync_state WHERE source = 'ldap:corp'",
    );
    serde_json::from_str(&rows[0][0]).expect("cursor JSON")
}

fn set_cursor(dir: &Path, cursor: &Value) {
    let text = cursor.to_string().replace('\'', "''");
    query(
        dir,
        &format!("UPDATE ldap_sync_state SET cursor = '{text}' WHERE source = 'ldap:corp'"),
    );
    assert_eq!(&self::cursor(dir), cursor);
}

/// The cursor a full run of `method` leaves: a DirSync cookie, or a USN mark of this DC.
fn assert_cursor_of(dir: &Path, method: &str) {
    let c = cursor(dir);
    assert_eq!(c["naming_context"], BASE, "{c}");
    match method {
        "dirsync" => {
            assert!(c["dirsync"].as_str().is_some_and(|h| h.len() > 8), "{c}");
            assert!(c.get("usn").is_none(), "{c}");
        }
        _ => {
            assert!(c.get("dirsync").is_none(), "{c}");
            assert!(c["usn"]["usn"].as_i64().is_some_and(|n| n > 0), "{c}");
            assert!(
                c["usn"]["server"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("CN=NTDS Settings,CN=DC1,")),
                "{c}"
            );
            assert_eq!(c["usn"]["invocation_id"].as_str().map(str::len), Some(36));
        }
    }
}

/// User ids by UPN.
fn user_ids(dir: &Path) -> std::collections::BTreeMap<String, String> {
    users(dir)
        .iter()
        .map(|u| {
            (
                u["userPrincipalName"].as_str().unwrap().to_owned(),
                u["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn group_id(dir: &Path, name: &str) -> Option<String> {
    query(
        dir,
        &format!("SELECT id FROM groups WHERE display_name = '{name}'"),
    )
    .pop()
    .map(|r| r[0].clone())
}

/// UPNs of enabled and of disabled users.
fn split_by_enabled(dir: &Path) -> (Vec<String>, Vec<String>) {
    let mut on = Vec::new();
    let mut off = Vec::new();
    for u in users(dir) {
        let upn = u["userPrincipalName"].as_str().unwrap().to_owned();
        if u["accountEnabled"].as_bool().unwrap() {
            on.push(upn);
        } else {
            off.push(upn);
        }
    }
    on.sort();
    off.sort();
    (on, off)
}

fn upns(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| format!("{n}@tap.test")).collect()
}

/// 1 and 2: a delta right after the full run changes nothing; then one delta applies a new
/// user, a changed one, a disabled one, a deleted one, one renamed and moved within the base,
/// one moved out of it, and a member added to and another removed from a nested group,
/// exactly as a full run would (which then finds nothing left to do).
fn delta_applies_every_kind_of_change(method: &str) {
    let Some(s) = samba::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let corp = s.add_ou("Corp", BASE);
    let people = s.add_ou("People", &corp);
    let groups = s.add_ou("Groups", &corp);
    let alumni = s.add_ou("Alumni", &corp);
    // Three leavers of ten in one run.
    write_config(
        dir.path(),
        &s,
        &corp,
        &format!("delta = \"{method}\"\nmax_deprovision_share = 0.3"),
    );
    let names = [
        "ada", "bob", "carl", "dan", "eve", "fay", "gus", "hal", "ivy", "jon",
    ];
    let dn: std::collections::HashMap<&str, String> = names
        .iter()
        .map(|&n| {
            let mut u = User::new(n).mail(&format!("{n}@example.com"));
            if n == "bob" {
                u = u.name("Bob", "Builder");
            }
            (n, s.add_user(&people, &u))
        })
        .collect();
    let eng = s.add_group(
        &groups,
        "Eng",
        &[&dn["bob"], &dn["carl"], &dn["dan"], &dn["fay"], &dn["gus"]],
    );
    s.add_group(&groups, "Staff", &[&eng, &dn["hal"], &dn["eve"]]);
    let outside = format!("CN=Users,{BASE}");
    let lou = s.add_user(&outside, &User::new("lou"));

    let c = sync_ok(dir.path(), &[]);
    assert_eq!(c["added"], 10, "{c}");
    assert_eq!(c["groupsAdded"], 2, "{c}");
    assert_cursor_of(dir.path(), method);
    let ids = user_ids(dir.path());
    let (eng_id, staff_id) = (group_id(dir.path(), "Eng"), group_id(dir.path(), "Staff"));
    assert!(eng_id.is_some() && staff_id.is_some());
    assert_eq!(
        members(dir.path(), "Staff"),
        upns(&["bob", "carl", "dan", "eve", "fay", "gus", "hal"])
    );

    // 1. Nothing changed.
    let c = delta_ok(dir.path(), method);
    assert_quiet(&c);
    assert_cursor_of(dir.path(), method);

    // 2. Everything at once.
    let kim = s.add_user(&people, &User::new("kim").mail("kim@example.com"));
    // A new manager, imported in the same run.
    s.set(&dn["ada"], "manager", &[&kim]);
    s.set(&dn["bob"], "mail", &["robert@example.com"]);
    s.set(&dn["bob"], "displayName", &["Robert Builder"]);
    s.disable(&dn["carl"]);
    assert_eq!(s.user_account_control(&dn["carl"]), 0x202);
    s.delete(&dn["dan"]);
    // No displayName: the display name follows the CN.
    s.rename(&dn["eve"], "CN=Eve Moved", Some(&alumni));
    let fay = s.rename(&dn["fay"], "CN=fay", Some(&outside));
    s.rename(&lou, "CN=lou", Some(&people));
    s.add_members(&eng, &[&dn["ivy"]]);
    s.remove_members(&eng, &[&dn["gus"]]);

    // A dry run counts the same and writes nothing, not even the cursor.
    let before = (split_by_enabled(dir.path()), cursor(dir.path()));
    let (ok, dry) = sync_report(dir.path(), &["--dry-run"]);
    assert!(ok, "{dry}");
    assert_eq!(
        (&dry["status"], &dry["mode"]),
        (&"dry-run".into(), &"delta".into()),
        "{dry}"
    );
    assert_eq!((split_by_enabled(dir.path()), cursor(dir.path())), before);

    let c = delta_ok(dir.path(), method);
    // kim and lou (moved in); ada, bob and eve; carl (disabled), dan (deleted) and fay
    // (moved out; on_delete disable).
    assert_eq!(pick(&c, &PEOPLE), [2, 3, 3, 0], "{c}");
    // Eng and Staff both change: ivy joins both, gus, dan and fay leave both.
    assert_eq!(pick(&c, &GROUPS), [0, 2, 0, 2, 6], "{c}");
    assert_eq!(c["quarantined"], 0, "{c}");
    assert_cursor_of(dir.path(), method);

    let (on, off) = split_by_enabled(dir.path());
    assert_eq!(
        on,
        upns(&[
            "ada", "bob", "eve", "gus", "hal", "ivy", "jon", "kim", "lou"
        ])
    );
    assert_eq!(off, upns(&["carl", "dan", "fay"]));
    let now = user_ids(dir.path());
    for (upn, id) in &ids {
        assert_eq!(now.get(upn), Some(id), "{upn} keeps its id");
    }
    let all = users(dir.path());
    let bob = user(&all, "bob@tap.test").unwrap();
    assert_eq!(
        (&bob["mail"], &bob["displayName"]),
        (
            &Value::from("robert@example.com"),
            &Value::from("Robert Builder")
        )
    );
    assert_eq!(
        user(&all, "eve@tap.test").unwrap()["displayName"],
        "Eve Moved"
    );
    assert_eq!(
        row(dir.path(), "kim@tap.test", "anchor")[0],
        s.guid(&format!("CN=kim,{people}"))
    );
    assert_eq!(group_id(dir.path(), "Eng"), eng_id, "Eng keeps its id");
    assert_eq!(
        group_id(dir.path(), "Staff"),
        staff_id,
        "Staff keeps its id"
    );
    assert_eq!(members(dir.path(), "Eng"), upns(&["bob", "carl", "ivy"]));
    // eve is still a member under her new DN.
    assert_eq!(
        members(dir.path(), "Staff"),
        upns(&["bob", "carl", "eve", "hal", "ivy"])
    );
    for leaver in ["carl", "dan", "fay"] {
        assert_eq!(
            events(dir.path(), &format!("{leaver}@tap.test")),
            ["joiner", "leaver"],
            "{leaver}"
        );
    }
    assert_eq!(events(dir.path(), "kim@tap.test"), ["joiner"]);
    assert!(events(dir.path(), "gus@tap.test").contains(&"mover".to_owned()));
    let manager = query(
        dir.path(),
        "SELECT m.user_principal_name FROM users u JOIN users m ON m.id = u.manager_id WHERE u.user_principal_name = 'ada@tap.test'",
    );
    assert_eq!(manager, vec![vec!["kim@tap.test".to_owned()]]);
    // The dry run counted what the delta then changed.
    assert_eq!(pick(&dry["counts"], &PEOPLE), pick(&c, &PEOPLE), "{dry}");

    // The cursor moved on: the same changes are not applied twice.
    assert_quiet(&delta_ok(dir.path(), method));
    // And a full run finds nothing the delta missed.
    let c = sync_ok(dir.path(), &[]);
    assert_quiet(&c);
    assert_eq!(c["unchanged"], 10, "{c}");

    // Back again: carl re-enabled, fay moved back into the base (the same user, enabled,
    // back in her groups: Eng still names her).
    s.enable(&dn["carl"]);
    s.rename(&fay, "CN=fay", Some(&people));
    let c = delta_ok(dir.path(), method);
    assert_eq!(pick(&c, &PEOPLE), [0, 2, 0, 0], "{c}");
    assert_eq!(pick(&c, &GROUPS), [0, 2, 0, 2, 0], "{c}");
    assert!(enabled(dir.path(), "carl@tap.test") && enabled(dir.path(), "fay@tap.test"));
    assert_eq!(user_ids(dir.path())["fay@tap.test"], ids["fay@tap.test"]);
    assert_eq!(
        members(dir.path(), "Eng"),
        upns(&["bob", "carl", "fay", "ivy"])
    );
    assert_quiet(&sync_ok(dir.path(), &[]));
}

#[test]
fn dirsync_delta_applies_every_kind_of_change() {
    delta_applies_every_kind_of_change("dirsync");
}

#[test]
fn usn_delta_applies_every_kind_of_change() {
    delta_applies_every_kind_of_change("usn");
}

/// 3: a user created inside a new group nested in a known one; a new group of known users
/// only (nothing else changed); groups deleted and moved out of the base.
fn delta_follows_new_and_removed_groups(method: &str) {
    let Some(s) = samba::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let corp = s.add_ou("Corp", BASE);
    let people = s.add_ou("People", &corp);
    let groups = s.add_ou("Groups", &corp);
    write_config(dir.path(), &s, &corp, &format!("delta = \"{method}\""));
    let ada = s.add_user(&people, &User::new("ada"));
    let bob = s.add_user(&people, &User::new("bob"));
    let staff = s.add_group(&groups, "Staff", &[&ada]);
    let c = sync_ok(dir.path(), &[]);
    assert_eq!(
        (c["added"].as_i64(), c["groupsAdded"].as_i64()),
        (Some(2), Some(1))
    );
    let staff_id = group_id(dir.path(), "Staff");

    let lea = s.add_user(&people, &User::new("lea"));
    let interns = s.add_group(&groups, "Interns", &[&lea]);
    s.add_members(&staff, &[&interns]);
    let c = delta_ok(dir.path(), method);
    assert_eq!(pick(&c, &PEOPLE), [1, 0, 0, 0], "{c}");
    // Interns is new (not an update); Staff gains lea through it.
    assert_eq!(pick(&c, &GROUPS), [1, 1, 0, 2, 0], "{c}");
    assert_eq!(members(dir.path(), "Interns"), upns(&["lea"]));
    assert_eq!(members(dir.path(), "Staff"), upns(&["ada", "lea"]));
    assert_eq!(group_id(dir.path(), "Staff"), staff_id);

    // A new group is the only change.
    let leads = s.add_group(&groups, "Leads", &[&bob]);
    let c = delta_ok(dir.path(), method);
    assert_eq!(pick(&c, &PEOPLE), [0, 0, 0, 0], "{c}");
    assert_eq!(pick(&c, &GROUPS), [1, 0, 0, 1, 0], "{c}");
    assert_eq!(members(dir.path(), "Leads"), upns(&["bob"]));
    assert_eq!(
        query(
            dir.path(),
            "SELECT anchor FROM groups WHERE display_name = 'Leads'"
        ),
        vec![vec![s.guid(&leads)]]
    );

    // Leads deleted (a tombstone), Interns moved out of the base: both go; Staff loses lea.
    s.delete(&leads);
    s.rename(&interns, "CN=Interns", Some(&format!("CN=Users,{BASE}")));
    let c = delta_ok(dir.path(), method);
    assert_eq!(pick(&c, &PEOPLE), [0, 0, 0, 0], "{c}");
    assert_eq!(pick(&c, &GROUPS), [0, 1, 2, 0, 1], "{c}");
    assert!(group_id(dir.path(), "Leads").is_none());
    assert!(group_id(dir.path(), "Interns").is_none());
    assert_eq!(members(dir.path(), "Staff"), upns(&["ada"]));
    assert_eq!(group_id(dir.path(), "Staff"), staff_id);
    assert!(enabled(dir.path(), "lea@tap.test"));
    assert_quiet(&sync_ok(dir.path(), &[]));
}

#[test]
fn dirsync_delta_follows_new_and_removed_groups() {
    delta_follows_new_and_removed_groups("dirsync");
}

#[test]
fn usn_delta_follows_new_and_removed_groups() {
    delta_follows_new_and_removed_groups("usn");
}

/// 4: deletions seen by a delta count against max_deprovision_share like a full run's.
fn delta_deprovisioning_is_guarded(method: &str) {
    let Some(s) = samba::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let corp = s.add_ou("Corp", BASE);
    // One leaver of six allowed.
    write_config(
        dir.path(),
        &s,
        &corp,
        &format!("delta = \"{method}\"\nmax_deprovision_share = 0.2"),
    );
    let dns: Vec<String> = (0..6)
        .map(|i| s.add_user(&corp, &User::new(&format!("u{i}"))))
        .collect();
    s.add_group(&corp, "Team", &[&dns[0], &dns[5]]);
    assert_eq!(sync_ok(dir.path(), &[])["added"], 6);

    for d in &dns[..3] {
        s.delete(d);
    }
    let (ok, r) = sync_report(dir.path(), &[]);
    assert!(!ok, "{r}");
    assert_eq!(r["status"], "guarded", "{r}");
    assert_eq!(r["mode"], "delta", "{r}");
    assert_eq!(r["deltaMethod"], method, "{r}");
    assert_eq!(r["counts"]["disabled"], 0, "{r}");
    assert!(
        r["error"].as_str().is_some_and(|e| e.contains("3 of 6")),
        "{r}"
    );
    assert_eq!(split_by_enabled(dir.path()).0.len(), 6);
    assert_eq!(members(dir.path(), "Team"), upns(&["u0", "u5"]));

    // Guarded again until forced: the cursor did not move.
    let (ok, r) = sync_report(dir.path(), &[]);
    assert!(!ok && r["status"] == "guarded", "{r}");
    let (ok, r) = sync_report(dir.path(), &["--force"]);
    assert!(ok, "{r}");
    assert_eq!(
        (&r["status"], &r["mode"]),
        (&"ok".into(), &"delta".into()),
        "{r}"
    );
    assert_eq!(pick(&r["counts"], &PEOPLE), [0, 0, 3, 0], "{r}");
    let (on, off) = split_by_enabled(dir.path());
    assert_eq!(on, upns(&["u3", "u4", "u5"]));
    assert_eq!(off, upns(&["u0", "u1", "u2"]));
    assert_eq!(members(dir.path(), "Team"), upns(&["u5"]));
    assert_quiet(&delta_ok(dir.path(), method));
}

#[test]
fn dirsync_delta_deprovisioning_is_guarded() {
    delta_deprovisioning_is_guarded("dirsync");
}

#[test]
fn usn_delta_deprovisioning_is_guarded() {
    delta_deprovisioning_is_guarded("usn");
}

/// 5: a DirSync cookie the server refuses turns the run into a full one, which takes a new
/// cookie; an old but genuine cookie replays changes already applied, harmlessly.
#[test]
fn refused_dirsync_cookie_falls_back_to_a_full_run() {
    let Some(s) = samba::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let corp = s.add_ou("Corp", BASE);
    write_config(dir.path(), &s, &corp, "delta = \"dirsync\"");
    s.add_user(&corp, &User::new("ada"));
    assert_eq!(sync_ok(dir.path(), &[])["added"], 1);
    let first = cursor(dir.path());
    let cookie = first["dirsync"].as_str().unwrap().to_owned();

    let garbled = [
        "deadbeef".to_owned(),
        // Right signature, cut short.
        cookie[..cookie.len() / 2].to_owned(),
        // Every byte after the signature flipped.
        cookie[..8].to_owned()
            + &cookie[8..]
                .chars()
                .map(|c| {
                    let v = c.to_digit(16).unwrap();
                    char::from_digit(15 - v, 16).unwrap()
                })
                .collect::<String>(),
    ];
    for (i, bad) in garbled.iter().enumerate() {
        let n = format!("new{i}");
        s.add_user(&corp, &User::new(&n));
        let mut c = first.clone();
        c["dirsync"] = Value::from(bad.as_str());
        set_cursor(dir.path(), &c);
        let c = refresh_ok(dir.path());
        assert_eq!(pick(&c, &PEOPLE), [1, 0, 0, 0], "cookie {bad}: {c}");
        assert_cursor_of(dir.path(), "dirsync");
        assert_ne!(cursor(dir.path())["dirsync"].as_str(), Some(bad.as_str()));
        assert!(enabled(dir.path(), &format!("{n}@tap.test")));
        assert_quiet(&delta_ok(dir.path(), "dirsync"));
    }

    // The first cookie again: a delta that reads every change since, all applied already, and
    // the user added since.
    s.add_user(&corp, &User::new("zed"));
    set_cursor(dir.path(), &first);
    let c = delta_ok(dir.path(), "dirsync");
    assert_eq!(pick(&c, &PEOPLE), [1, 0, 0, 0], "{c}");
    assert_eq!(split_by_enabled(dir.path()).0.len(), 5);

    // A cursor that is not JSON at all: a full run.
    query(
        dir.path(),
        "UPDATE ldap_sync_state SET cursor = 'garbage' WHERE source = 'ldap:corp'",
    );
    assert_quiet(&refresh_ok(dir.path()));
    assert_cursor_of(dir.path(), "dirsync");
    assert_quiet(&delta_ok(dir.path(), "dirsync"));
}

/// 6: USNs belong to one domain controller and one incarnation of its database: another
/// dsServiceName or invocationId in the cursor forces a full run.
#[test]
fn usn_cursor_of_another_server_or_incarnation_forces_a_full_run() {
    let Some(s) = samba::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let corp = s.add_ou("Corp", BASE);
    write_config(dir.path(), &s, &corp, "delta = \"usn\"");
    let ada = s.add_user(&corp, &User::new("ada"));
    assert_eq!(sync_ok(dir.path(), &[])["added"], 1);
    let first = cursor(dir.path());
    let mark = first["usn"].clone();
    // The cursor names this DC (as its root DSE does) and its NTDS Settings' invocationId.
    let root = s.read("", &["dsServiceName"]);
    assert_eq!(
        root.text("dsServiceName").as_deref(),
        mark["server"].as_str()
    );
    let ntds = s.read(mark["server"].as_str().unwrap(), &["invocationId"]);
    let raw: [u8; 16] = ntds.raw("invocationId").unwrap().try_into().unwrap();
    assert_eq!(
        Some(samba::guid_text(&raw).as_str()),
        mark["invocation_id"].as_str()
    );

    let tamper = [
        ("invocation_id", "0badc0de-0000-4000-8000-000000000001"),
        (
            "server",
            &*format!(
                "CN=NTDS Settings,CN=DC2,CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration,{BASE}"
            ),
        ),
    ];
    for (i, (key, value)) in tamper.iter().enumerate() {
        s.set(&ada, "displayName", &[&format!("Ada {i}")]);
        let mut c = cursor(dir.path());
        c["usn"][*key] = Value::from(*value);
        set_cursor(dir.path(), &c);
        let c = refresh_ok(dir.path());
        assert_eq!(pick(&c, &PEOPLE), [0, 1, 0, 0], "{key}: {c}");
        let now = cursor(dir.path());
        assert_eq!(now["usn"]["server"], mark["server"], "{now}");
        assert_eq!(now["usn"]["invocation_id"], mark["invocation_id"], "{now}");
        assert!(now["usn"]["usn"].as_i64() > mark["usn"].as_i64(), "{now}");
        assert_quiet(&delta_ok(dir.path(), "usn"));
    }
    s.set(&ada, "displayName", &["Ada Again"]);
    let c = delta_ok(dir.path(), "usn");
    assert_eq!(pick(&c, &PEOPLE), [0, 1, 0, 0], "{c}");
    assert_eq!(
        user(&users(dir.path()), "ada@tap.test").unwrap()["displayName"],
        "Ada Again"
    );
}

/// 7: an account without the Replicating Directory Changes right reads the directory but may
/// not use DirSync: `delta = "auto"` falls back to uSNChanged polling.
#[test]
fn auto_falls_back_to_usn_for_an_account_refused_dirsync() {
    let Some(s) = samba::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let corp = s.add_ou("Corp", BASE);
    let users_cn = format!("CN=Users,{BASE}");
    let pw = "Sync-Passw0rd!";
    let svc = s.add_user(&users_cn, &User::new("svc-sync").password(pw));
    let ada = s.add_user(&corp, &User::new("ada").mail("ada@example.com"));
    let bob = s.add_user(&corp, &User::new("bob"));
    s.add_group(&corp, "Team", &[&ada, &bob]);

    // It reads users and groups like anyone authenticated; DirSync is refused
    // (insufficientAccessRights).
    let seen = s
        .search_as(
            &svc,
            pw,
            &corp,
            "(objectClass=user)",
            &["objectGUID", "mail"],
            &[],
        )
        .expect("an ordinary account reads the directory");
    assert_eq!(seen.len(), 2);
    let refused = s
        .search_as(
            &svc,
            pw,
            BASE,
            "(objectClass=user)",
            &["objectGUID"],
            &["-E", "!dirSync=0/0"],
        )
        .expect_err("DirSync is refused");
    assert!(refused.contains("(50)"), "{refused}");
    s.search_as(
        ADMIN_DN,
        ADMIN_PW,
        BASE,
        "(objectClass=user)",
        &["objectGUID"],
        &["-E", "!dirSync=0/0"],
    )
    .expect("Administrator may use DirSync");

    write_config_as(dir.path(), &s, &corp, &svc, pw, "delta = \"auto\"");
    let c = sync_ok(dir.path(), &[]);
    assert_eq!(pick(&c, &PEOPLE), [2, 0, 0, 0], "{c}");
    assert_eq!(members(dir.path(), "Team"), upns(&["ada", "bob"]));
    assert_cursor_of(dir.path(), "usn");

    assert_quiet(&delta_ok(dir.path(), "usn"));
    s.set(&ada, "mail", &["ada.l@example.com"]);
    s.add_user(&corp, &User::new("cy"));
    s.remove_members(&format!("CN=Team,{corp}"), &[&bob]);
    let c = delta_ok(dir.path(), "usn");
    assert_eq!(pick(&c, &PEOPLE), [1, 1, 0, 0], "{c}");
    assert_eq!(pick(&c, &GROUPS), [0, 1, 0, 0, 1], "{c}");
    assert_eq!(
        user(&users(dir.path()), "ada@tap.test").unwrap()["mail"],
        "ada.l@example.com"
    );
    assert_eq!(members(dir.path(), "Team"), upns(&["ada"]));
    assert_cursor_of(dir.path(), "usn");
}

/// The same account's USN deltas still see deletions: an ordinary account does not see
/// tombstones (Samba, like Windows, shows `CN=Deleted Objects` but none of the objects in it),
/// so USN deltas also list who is still in scope and treat the missing as gone.
#[test]
fn usn_delta_of_an_ordinary_account_sees_deletions() {
    let Some(s) = samba::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let corp = s.add_ou("Corp", BASE);
    let pw = "Sync-Passw0rd!";
    let svc = s.add_user(
        &format!("CN=Users,{BASE}"),
        &User::new("svc-sync").password(pw),
    );
    let dns: Vec<String> = (0..4)
        .map(|i| s.add_user(&corp, &User::new(&format!("u{i}"))))
        .collect();
    write_config_as(
        dir.path(),
        &s,
        &corp,
        &svc,
        pw,
        "delta = \"auto\"\nmax_deprovision_share = 0.5",
    );
    assert_eq!(sync_ok(dir.path(), &[])["added"], 4);
    assert_cursor_of(dir.path(), "usn");

    s.delete(&dns[0]);
    // Administrator sees the tombstone; the sync account does not.
    let deleted = format!("CN=Deleted Objects,{BASE}");
    let tombstones = |dn: &str, pw: &str| {
        s.search_as(
            dn,
            pw,
            &deleted,
            "(&(objectClass=user)(isDeleted=TRUE))",
            &["objectGUID"],
            &["-E", "!showDeleted"],
        )
        .expect("search Deleted Objects")
        .len()
    };
    assert_eq!(tombstones(ADMIN_DN, ADMIN_PW), 1);
    assert_eq!(tombstones(&svc, pw), 0);

    let c = delta_ok(dir.path(), "usn");
    assert_eq!(pick(&c, &PEOPLE), [0, 0, 1, 0], "{c}");
    assert!(!enabled(dir.path(), "u0@tap.test"));
}

/// Switching `delta` between the AD methods: a DirSync cookie is no start for USN polling (a
/// full run takes a USN mark first); a USN mark goes on serving `dirsync` (as when DirSync
/// was refused) until a full run takes a cookie.
#[test]
fn switching_between_dirsync_and_usn() {
    let Some(s) = samba::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let corp = s.add_ou("Corp", BASE);
    let ada = s.add_user(&corp, &User::new("ada"));
    write_config(dir.path(), &s, &corp, "delta = \"dirsync\"");
    assert_eq!(sync_ok(dir.path(), &[])["added"], 1);
    assert_cursor_of(dir.path(), "dirsync");

    write_config(dir.path(), &s, &corp, "delta = \"usn\"");
    s.set(&ada, "mail", &["ada@example.com"]);
    let c = refresh_ok(dir.path());
    assert_eq!(pick(&c, &PEOPLE), [0, 1, 0, 0], "{c}");
    assert_cursor_of(dir.path(), "usn");
    s.set(&ada, "mail", &["ada@example.org"]);
    assert_eq!(pick(&delta_ok(dir.path(), "usn"), &PEOPLE), [0, 1, 0, 0]);
    assert_cursor_of(dir.path(), "usn");

    write_config(dir.path(), &s, &corp, "delta = \"dirsync\"");
    s.set(&ada, "mail", &["ada@example.net"]);
    assert_eq!(pick(&delta_ok(dir.path(), "usn"), &PEOPLE), [0, 1, 0, 0]);
    assert_quiet(&sync_ok(dir.path(), &[]));
    assert_cursor_of(dir.path(), "dirsync");
    s.set(&ada, "mail", &["ada@example.com"]);
    assert_eq!(
        pick(&delta_ok(dir.path(), "dirsync"), &PEOPLE),
        [0, 1, 0, 0]
    );
    assert_eq!(
        user(&users(dir.path()), "ada@tap.test").unwrap()["mail"],
        "ada@example.com"
    );
}

/// A dry run's counts are the real run's, memberships included: it runs on a snapshot where
/// each batch sees what the ones before it did (a leaver's memberships are dropped once; a
/// renamed member is found under the new DN).
#[test]
fn dry_run_delta_counts_memberships_as_the_real_run() {
    let Some(s) = samba::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let corp = s.add_ou("Corp", BASE);
    write_config(
        dir.path(),
        &s,
        &corp,
        "delta = \"dirsync\"\nmax_deprovision_share = 0.5",
    );
    let [ada, bob, carl] = ["ada", "bob", "carl"].map(|n| s.add_user(&corp, &User::new(n)));
    s.add_group(&corp, "Team", &[&ada, &bob, &carl]);
    assert_eq!(sync_ok(dir.path(), &[])["added"], 3);

    s.delete(&ada);
    s.rename(&bob, "CN=Bob Renamed", None);
    let (ok, dry) = sync_report(dir.path(), &["--dry-run"]);
    assert!(ok, "{dry}");
    assert_eq!(dry["status"], "dry-run", "{dry}");
    let c = delta_ok(dir.path(), "dirsync");
    assert_eq!(pick(&c, &GROUPS), [0, 0, 0, 0, 1], "{c}");
    assert_eq!(members(dir.path(), "Team"), upns(&["bob", "carl"]));
    assert_eq!(pick(&dry["counts"], &GROUPS), pick(&c, &GROUPS), "{dry}");
}

/// Active Directory hands out at most MaxValRange values of a large attribute at once
/// (`member;range=0-1499`) and the rest on request. Samba never cuts values on its own, but it
/// answers the requests: starting from a first range read as Windows would send it, the
/// client fetches the others until the last (`…-*`) and files them under `member`.
#[test]
fn ranged_member_values_are_read_to_the_end() {
    let Some(s) = samba::start() else { return };
    let ou = s.add_ou("Big", BASE);
    let mut ldif = String::new();
    let mut dns = Vec::new();
    for i in 0..250 {
        let dn = format!("CN=big{i},{ou}");
        ldif.push_str(&User::new(&format!("big{i}")).ldif(&dn));
        ldif.push('\n');
        dns.push(dn);
    }
    s.add(&ldif);
    let refs: Vec<&str> = dns.iter().map(String::as_str).collect();
    let group = s.add_group(&ou, "Everyone", &refs);

    let cfg = bridge::ldap::SourceConfig {
        name: "corp".into(),
        kind: bridge::ldap::config::Kind::Ad,
        url: s.url.clone(),
        bind_dn: ADMIN_DN.into(),
        password: Some(plugin::secret::SecretString::new(ADMIN_PW.to_owned())),
        base_dns: vec![BASE.into()],
        operation_timeout_seconds: 10,
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (first, all) = rt.block_on(async {
        use bridge::ldap::client::{Client, Scope};
        let mut client = Client::connect(&cfg).await.expect("connect");
        let answer = client
            .search_all(
                &group,
                Scope::Base,
                "(objectClass=*)",
                vec!["member;range=0-99".into()],
                Vec::new(),
            )
            .await
            .expect("first range");
        let mut entry = answer.entries.into_iter().next().unwrap().unwrap();
        let first = entry.raw("member;range=0-99").len();
        client
            .complete_ranges(&mut entry)
            .await
            .expect("the other ranges");
        assert!(
            !entry.attrs.keys().any(|k| k.contains(";range=")),
            "{:?}",
            entry.attrs.keys()
        );
        let mut all: Vec<String> = entry
            .texts("member")
            .unwrap()
            .into_iter()
            .map(|v| v.to_ascii_lowercase())
            .collect();
        all.sort();
        client.unbind().await;
        (first, all)
    });
    assert_eq!(first, 100);
    let mut want: Vec<String> = dns.iter().map(|d| d.to_ascii_lowercase()).collect();
    want.sort();
    assert_eq!(all, want);
}
