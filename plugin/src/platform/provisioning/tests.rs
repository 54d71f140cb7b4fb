//! The provisioning operations through the real store (on the suite's engine): ownership by
//! source, refusals, the caller's decision inside the transaction, and the records a write
//! leaves (audit, events, versions).

use serde_json::{Value, json};
use uuid::Uuid;

use crate::domain::audit::AuditQuery;
use crate::domain::directory::NewUser;
use crate::domain::lifecycle::{DirectoryEvent, EventKind};
use crate::domain::provisioned::{
    GroupWrite, ProvisionedGroup, ProvisionedUser, Refusal, UserChange, UserWrite,
};
use crate::platform::testing::{Fixture, fixture};
use crate::platform::{Caller, Platform, Provisioner};

/// A caller's error: the platform's failures and refusals, and its own.
#[derive(Debug, PartialEq)]
enum Failed {
    Platform(String),
    Refused(Refusal),
    Client(&'static str),
}

impl From<crate::Error> for Failed {
    fn from(e: crate::Error) -> Self {
        Failed::Platform(e.to_string())
    }
}

impl From<Refusal> for Failed {
    fn from(r: Refusal) -> Self {
        Failed::Refused(r)
    }
}

fn source(name: &str) -> Provisioner {
    Provisioner {
        token_id: Uuid::new_v4(),
        token_name: name.into(),
        source: format!("scim:{name}"),
    }
}

fn user_write(who: &Provisioner, upn: &str) -> UserWrite {
    UserWrite {
        user: NewUser {
            user_principal_name: upn.into(),
            display_name: Some(upn.into()),
            source: who.source.clone(),
            account_enabled: true,
            ..Default::default()
        },
        manager: None,
        external_id: Some(format!("ext-{upn}")),
        body: json!({"userName": upn}),
        discarded: Vec::new(),
    }
}

async fn create(p: &Platform, who: &Provisioner, upn: &str) -> ProvisionedUser {
    p.create_provisioned_user::<Failed>(who, None, user_write(who, upn))
        .await
        .unwrap()
}

fn group_write(name: &str, members: &[Uuid]) -> GroupWrite {
    GroupWrite {
        display_name: name.into(),
        members: members.iter().copied().collect(),
        external_id: None,
        body: json!({"displayName": name}),
    }
}

async fn events(f: &Fixture) -> Vec<DirectoryEvent> {
    let mut conn = f.platform.store().read().await.unwrap();
    crate::store::events::since(&mut conn, 0, 1000)
        .await
        .unwrap()
}

async fn activities(p: &Platform) -> Vec<(String, Vec<(String, String)>)> {
    let query = AuditQuery {
        limit: 1000,
        ..Default::default()
    };
    p.audit_log(&Caller::operator(), &query)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.activity, e.details))
        .collect()
}

async fn version(p: &Platform, who: &Provisioner, id: Uuid) -> i64 {
    p.provisioned_user(who, id)
        .await
        .unwrap()
        .unwrap()
        .row
        .version
}

#[tokio::test]
async fn a_source_sees_only_its_own_users() {
    let f = fixture().await;
    let (okta, entra) = (source("okta"), source("entra"));
    let ada = create(&f.platform, &okta, "ada@example.com").await;
    assert_eq!(ada.row.version, 1);
    assert_eq!(ada.row.source, "scim:okta");
    assert_eq!(ada.row.external_id.as_deref(), Some("ext-ada@example.com"));

    let read = f
        .platform
        .provisioned_user(&okta, ada.user.id)
        .await
        .unwrap();
    assert_eq!(read.as_ref().map(|p| &p.row.body), Some(&ada.row.body));
    assert!(
        f.platform
            .provisioned_user(&entra, ada.user.id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        f.platform
            .provisioned_users(&okta, None)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        f.platform
            .provisioned_users(&entra, None)
            .await
            .unwrap()
            .is_empty()
    );
    let by_name = f
        .platform
        .provisioned_users(&okta, Some("ADA@example.com"))
        .await
        .unwrap();
    assert_eq!(by_name.len(), 1);
    assert!(
        f.platform
            .provisioned_users(&entra, Some("ada@example.com"))
            .await
            .unwrap()
            .is_empty()
    );
    // Another source cannot write or delete it, and is not told it exists.
    let refused = f
        .platform
        .write_provisioned_user(&entra, None, ada.user.id, |_, _| -> Result<_, Failed> {
            panic!("the decision runs only for the owner")
        })
        .await;
    assert_eq!(
        refused.unwrap_err(),
        Failed::Refused(Refusal::NotFound(
            crate::domain::provisioned::Kind::User,
            ada.user.id
        ))
    );
    let refused = f
        .platform
        .delete_provisioned_user(&entra, None, ada.user.id, |_| Ok::<_, Failed>(()))
        .await;
    assert!(matches!(
        refused,
        Err(Failed::Refused(Refusal::NotFound(..)))
    ));
    let joiners: Vec<_> = events(&f)
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::Joiner)
        .map(|e| e.user_id)
        .collect();
    assert_eq!(joiners, [ada.user.id]);
}

#[tokio::test]
async fn a_taken_name_is_refused_and_writes_nothing() {
    let f = fixture().await;
    let okta = source("okta");
    let ada = create(&f.platform, &okta, "ada@example.com").await;
    let again = f
        .platform
        .create_provisioned_user::<Failed>(&okta, None, user_write(&okta, "ADA@example.com"))
        .await;
    assert!(matches!(again, Err(Failed::Refused(Refusal::UserTaken(_)))));
    let grace = create(&f.platform, &okta, "grace@example.com").await;
    let renamed = f
        .platform
        .write_provisioned_user(&okta, None, grace.user.id, |_, _| {
            Ok::<_, Failed>(UserChange::Changed(Box::new(user_write(
                &okta,
                "ada@example.com",
            ))))
        })
        .await;
    assert!(matches!(
        renamed,
        Err(Failed::Refused(Refusal::UserTaken(_)))
    ));
    assert_eq!(version(&f.platform, &okta, grace.user.id).await, 1);
    assert_eq!(
        f.platform
            .provisioned_users(&okta, None)
            .await
            .unwrap()
            .len(),
        2
    );
    // A role is not a conflict: the platform's own refusal passes through as it is.
    let mut admin = user_write(&okta, "root@example.com");
    admin.user.roles =
        crate::domain::role::Roles::new([crate::domain::role::Role::UserAdministrator]);
    let refused = f
        .platform
        .create_provisioned_user::<Failed>(&okta, None, admin)
        .await;
    assert!(matches!(refused, Err(Failed::Platform(_))), "{refused:?}");
    assert_eq!(ada.row.version, 1);
}

#[tokio::test]
async fn the_callers_decision_runs_inside_the_write() {
    let f = fixture().await;
    let okta = source("okta");
    let ada = create(&f.platform, &okta, "ada@example.com").await;
    let id = ada.user.id;

    // The caller refuses: its error comes back as it is, nothing is written.
    let refused = f
        .platform
        .write_provisioned_user(&okta, None, id, |_, row| {
            assert_eq!(row.version, 1);
            Err::<UserChange, _>(Failed::Client("precondition failed"))
        })
        .await;
    assert_eq!(refused.unwrap_err(), Failed::Client("precondition failed"));

    // Unchanged, but a password was offered: audited, nothing else stored.
    let before = activities(&f.platform).await.len();
    let same = f
        .platform
        .write_provisioned_user(&okta, None, id, |_, _| {
            Ok::<_, Failed>(UserChange::Unchanged {
                discarded: vec!["password".into()],
            })
        })
        .await
        .unwrap();
    assert_eq!(same.row.version, 1);
    let log = activities(&f.platform).await;
    assert_eq!(log.len(), before + 1);
    assert!(
        log.iter()
            .any(|(_, d)| d.contains(&("discardedAttributes".into(), "password".into())))
    );
    // Unchanged without anything offered writes nothing at all.
    f.platform
        .write_provisioned_user(&okta, None, id, |_, _| {
            Ok::<_, Failed>(UserChange::Unchanged { discarded: vec![] })
        })
        .await
        .unwrap();
    assert_eq!(activities(&f.platform).await.len(), before + 1);

    // Changed: body, version and record together; disabling makes a leaver.
    let written = f
        .platform
        .write_provisioned_user(&okta, None, id, |user, row| {
            let mut write = user_write(&okta, &user.user_principal_name);
            write.user.account_enabled = false;
            write.body = json!({"userName": user.user_principal_name, "active": false});
            assert_ne!(write.body, row.body);
            Ok::<_, Failed>(UserChange::Changed(Box::new(write)))
        })
        .await
        .unwrap();
    assert_eq!(written.row.version, 2);
    assert!(!written.user.account_enabled);
    let read = f
        .platform
        .provisioned_user(&okta, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.row.body["active"], Value::Bool(false));
    assert_eq!(read.row.version, 2);
    let kinds: Vec<EventKind> = events(&f).await.into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::Joiner, EventKind::Leaver]);
}

#[tokio::test]
async fn a_manager_must_be_a_user_of_the_same_source() {
    let f = fixture().await;
    let (okta, entra) = (source("okta"), source("entra"));
    let boss = create(&f.platform, &okta, "boss@example.com").await;
    let other = create(&f.platform, &entra, "other@example.com").await;
    let mut write = user_write(&okta, "ada@example.com");
    write.manager = Some(other.user.id);
    let ada = f
        .platform
        .create_provisioned_user::<Failed>(&okta, None, write)
        .await
        .unwrap();
    assert_eq!(ada.user.manager_id, None);
    let ada = f
        .platform
        .write_provisioned_user(&okta, None, ada.user.id, |_, _| {
            let mut write = user_write(&okta, "ada@example.com");
            write.manager = Some(boss.user.id);
            Ok::<_, Failed>(UserChange::Changed(Box::new(write)))
        })
        .await
        .unwrap();
    assert_eq!(ada.user.manager_id, Some(boss.user.id));
}

#[tokio::test]
async fn group_writes_keep_members_events_and_versions_together() {
    let f = fixture().await;
    let (okta, entra) = (source("okta"), source("entra"));
    let ada = create(&f.platform, &okta, "ada@example.com").await.user.id;
    let bob = create(&f.platform, &okta, "bob@example.com").await.user.id;
    let eve = create(&f.platform, &entra, "eve@example.com").await.user.id;

    // Another source's user is no member; nothing is written.
    let foreign = f
        .platform
        .create_provisioned_group::<Failed>(&okta, None, group_write("Sales", &[ada, eve]))
        .await;
    assert_eq!(
        foreign.unwrap_err(),
        Failed::Refused(Refusal::ForeignMember(eve))
    );
    assert!(
        f.platform
            .provisioned_groups(&okta, true)
            .await
            .unwrap()
            .is_empty()
    );

    let sales = f
        .platform
        .create_provisioned_group::<Failed>(&okta, None, group_write("Sales", &[ada, bob]))
        .await
        .unwrap();
    let gid = sales.group.id;
    assert_eq!(sales.members.len(), 2);
    // Each member's resource lists its groups: a new version each, and one mover each.
    assert_eq!(version(&f.platform, &okta, ada).await, 2);
    let user = f
        .platform
        .provisioned_user(&okta, ada)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.groups.iter().map(|g| g.id).collect::<Vec<_>>(), [gid]);
    let movers = events(&f)
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::Mover)
        .count();
    assert_eq!(movers, 2);

    // Names are unique per source, ignoring case; another source may share one.
    let taken = f
        .platform
        .create_provisioned_group::<Failed>(&okta, None, group_write(" sales ", &[]))
        .await;
    assert_eq!(
        taken.unwrap_err(),
        Failed::Refused(Refusal::GroupNameTaken(" sales ".into()))
    );
    f.platform
        .create_provisioned_group::<Failed>(&entra, None, group_write("Sales", &[eve]))
        .await
        .unwrap();

    // The decision sees the current members; a rename and a removal in one write.
    let (v, back) = f
        .platform
        .write_provisioned_group(&okta, None, gid, true, |current: &ProvisionedGroup| {
            assert_eq!(current.members.len(), 2);
            Ok::<_, Failed>(Some(group_write("Sales EMEA", &[ada])))
        })
        .await
        .unwrap();
    assert_eq!(v, 2);
    let back = back.unwrap();
    assert_eq!(back.group.display_name, "Sales EMEA");
    assert_eq!(back.row.body, json!({"displayName": "Sales EMEA"}));
    assert_eq!(back.members.iter().map(|u| u.id).collect::<Vec<_>>(), [ada]);
    assert_eq!(version(&f.platform, &okta, bob).await, 3);
    // Without read-back nothing comes back; unchanged, the version stays.
    let (v, back) = f
        .platform
        .write_provisioned_group(&okta, None, gid, false, |_| Ok::<_, Failed>(None))
        .await
        .unwrap();
    assert_eq!((v, back), (2, None));
    // Another source's group is not found, for writes and reads alike.
    let other = f
        .platform
        .write_provisioned_group(&entra, None, gid, false, |_| Ok::<_, Failed>(None))
        .await;
    assert!(matches!(other, Err(Failed::Refused(Refusal::NotFound(..)))));
    assert!(
        f.platform
            .provisioned_group(&entra, gid, false)
            .await
            .unwrap()
            .is_none()
    );

    // Deleting a user gives its groups a new version.
    f.platform
        .delete_provisioned_user(&okta, None, ada, |_| Ok::<_, Failed>(()))
        .await
        .unwrap();
    let group = f
        .platform
        .provisioned_group(&okta, gid, true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(group.row.version, 3);
    assert!(group.members.is_empty());

    // A refused precondition keeps the group; an accepted one removes it and its members.
    let kept = f
        .platform
        .delete_provisioned_group(&okta, None, gid, |_| Err(Failed::Client("stale")))
        .await;
    assert_eq!(kept.unwrap_err(), Failed::Client("stale"));
    f.platform
        .write_provisioned_group(&okta, None, gid, false, |_| {
            Ok::<_, Failed>(Some(group_write("Sales EMEA", &[bob])))
        })
        .await
        .unwrap();
    f.platform
        .delete_provisioned_group(&okta, None, gid, |_| Ok::<_, Failed>(()))
        .await
        .unwrap();
    assert!(
        f.platform
            .provisioned_group(&okta, gid, true)
            .await
            .unwrap()
            .is_none()
    );
    let bob_now = f
        .platform
        .provisioned_user(&okta, bob)
        .await
        .unwrap()
        .unwrap();
    assert!(bob_now.groups.is_empty());
    assert_eq!(bob_now.row.version, 5);
}
