//! The pass lifecycle through the real store, with an injected clock.

use std::sync::Arc;

use time::Duration;
use uuid::Uuid;

use super::testing::{Fixture, caller, fixture};
use super::{Caller, Platform};
use crate::Error;
use crate::domain::audit::AuditQuery;
use crate::domain::directory::{NewGroup, NewUser, User, UserRef};
use crate::domain::role::{Role, Roles};
use crate::domain::tap::{UsabilityDetail, UsabilityReason};
use crate::domain::tap_policy::{PolicyState, TapPolicyPatch, TapRequest, Target};
use crate::secret::SecretString;

async fn user(p: &Platform, upn: &str, roles: &[Role]) -> User {
    p.create_user(
        &Caller::operator(),
        NewUser {
            user_principal_name: upn.into(),
            account_enabled: true,
            roles: Roles::new(roles.iter().copied()),
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

fn upn(u: &User) -> UserRef {
    UserRef::Upn(u.user_principal_name.clone())
}

fn once() -> TapRequest {
    TapRequest {
        is_usable_once: Some(true),
        ..Default::default()
    }
}

async fn issue(f: &Fixture, u: &User, req: TapRequest) -> SecretString {
    f.platform
        .issue_tap(&Caller::operator(), &upn(u), req)
        .await
        .unwrap()
        .pass
}

async fn audit_activities(p: &Platform) -> Vec<String> {
    p.audit_log(
        &Caller::operator(),
        &AuditQuery {
            limit: 1000,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .into_iter()
    .map(|e| e.activity)
    .collect()
}

#[tokio::test]
async fn issue_then_redeem_multi_use_until_expiry() {
    let f = fixture().await;
    let ada = user(&f.platform, "ada@example.com", &[]).await;
    let pass = issue(&f, &ada, TapRequest::default()).await;
    assert_eq!(pass.expose().len(), 8);

    for _ in 0..3 {
        let r = f
            .platform
            .redeem_tap("ADA@example.com", &pass, None)
            .await
            .unwrap();
        assert_eq!(r.user.id, ada.id);
    }
    // Typed with spaces and a dash, as read from a printout.
    let spaced = format!("{} {}-", &pass.expose()[..4], &pass.expose()[4..]);
    assert!(
        f.platform
            .redeem_tap("ada@example.com", &SecretString::new(spaced), None)
            .await
            .is_ok()
    );

    f.clock.advance(Duration::minutes(60));
    assert!(matches!(
        f.platform.redeem_tap("ada@example.com", &pass, None).await,
        Err(Error::InvalidPass)
    ));
    let (_, views) = f
        .platform
        .taps(&Caller::operator(), &upn(&ada))
        .await
        .unwrap();
    assert_eq!(views[0].usability.reason, UsabilityReason::Expired);
    assert_eq!(views[0].record.use_count, 4);
}

#[tokio::test]
async fn one_time_pass_is_consumed() {
    let f = fixture().await;
    let ada = user(&f.platform, "ada@example.com", &[]).await;
    let pass = issue(&f, &ada, once()).await;
    f.platform
        .redeem_tap("ada@example.com", &pass, None)
        .await
        .unwrap();
    assert!(matches!(
        f.platform.redeem_tap("ada@example.com", &pass, None).await,
        Err(Error::InvalidPass)
    ));
    let (_, views) = f
        .platform
        .taps(&Caller::operator(), &upn(&ada))
        .await
        .unwrap();
    assert_eq!(views[0].usability.reason, UsabilityReason::OneTimeUsed);
    assert!(!views[0].usability.is_usable());
}

#[tokio::test]
async fn future_start_is_not_yet_valid() {
    let f = fixture().await;
    let ada = user(&f.platform, "ada@example.com", &[]).await;
    let start = f.platform.now() + Duration::days(3);
    let pass = issue(
        &f,
        &ada,
        TapRequest {
            start_date_time: Some(start),
            ..Default::default()
        },
    )
    .await;
    assert!(
        f.platform
            .redeem_tap("ada@example.com", &pass, None)
            .await
            .is_err()
    );
    let (_, views) = f
        .platform
        .taps(&Caller::operator(), &upn(&ada))
        .await
        .unwrap();
    assert_eq!(views[0].usability.reason, UsabilityReason::NotYetValid);
    // Failing on a not-yet-valid pass does not count towards the lock-out.
    assert_eq!(views[0].record.failed_attempts, 0);
    f.clock.set(start);
    assert!(
        f.platform
            .redeem_tap("ada@example.com", &pass, None)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn wrong_codes_lock_the_pass_and_everything_is_audited() {
    let f = fixture().await;
    let ada = user(&f.platform, "ada@example.com", &[]).await;
    let pass = issue(&f, &ada, TapRequest::default()).await;
    let wrong = SecretString::new("WRONGpw9".into());
    for _ in 0..10 {
        assert!(matches!(
            f.platform.redeem_tap("ada@example.com", &wrong, None).await,
            Err(Error::InvalidPass)
        ));
    }
    assert!(matches!(
        f.platform.redeem_tap("ada@example.com", &pass, None).await,
        Err(Error::InvalidPass)
    ));
    let (_, views) = f
        .platform
        .taps(&Caller::operator(), &upn(&ada))
        .await
        .unwrap();
    assert_eq!(views[0].usability.detail, Some(UsabilityDetail::LockedOut));
    assert_eq!(views[0].record.failed_attempts, 10);
    let log = audit_activities(&f.platform).await;
    // Ten wrong codes from one client are one record counting ten (the latest attempt's
    // details); the refusal of the right code once locked is another.
    let failed = f
        .platform
        .audit_log(
            &Caller::operator(),
            &crate::domain::audit::AuditQuery {
                limit: 100,
                activity: Some("Temporary access pass sign-in failed".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let seen: Vec<_> = failed
        .iter()
        .map(|e| (e.result_reason.as_deref().unwrap_or(""), e.occurrences))
        .collect();
    assert_eq!(seen, [("LockedOut", 1), ("wrong pass", 10)]);
    assert!(
        failed[1]
            .details
            .contains(&("failedAttempts".to_owned(), "10".to_owned()))
    );
    assert_eq!(
        log.iter()
            .filter(|a| *a == "Temporary access pass locked after repeated failures")
            .count(),
        1
    );
}

#[tokio::test]
async fn unknown_user_and_user_without_pass_look_the_same() {
    let f = fixture().await;
    user(&f.platform, "nopass@example.com", &[]).await;
    let code = SecretString::new("abcdefgh".into());
    let a = f
        .platform
        .redeem_tap("nobody@example.com", &code, None)
        .await
        .unwrap_err();
    let b = f
        .platform
        .redeem_tap("nopass@example.com", &code, None)
        .await
        .unwrap_err();
    assert_eq!(a.to_string(), b.to_string());
    assert!(matches!((a, b), (Error::InvalidPass, Error::InvalidPass)));
}

#[tokio::test]
async fn a_new_pass_replaces_the_old_and_the_replacement_is_audited() {
    let f = fixture().await;
    let ada = user(&f.platform, "ada@example.com", &[]).await;
    let first = issue(&f, &ada, TapRequest::default()).await;
    let second = issue(&f, &ada, TapRequest::default()).await;
    assert!(
        f.platform
            .redeem_tap("ada@example.com", &first, None)
            .await
            .is_err()
    );
    assert!(
        f.platform
            .redeem_tap("ada@example.com", &second, None)
            .await
            .is_ok()
    );
    let (_, views) = f
        .platform
        .taps(&Caller::operator(), &upn(&ada))
        .await
        .unwrap();
    assert_eq!(views.len(), 1);
    let entries = f
        .platform
        .audit_log(
            &Caller::operator(),
            &AuditQuery {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let replaced = entries
        .iter()
        .find(|e| e.activity == "Admin deleted temporary access pass method for user")
        .expect("replacement audited");
    assert_eq!(
        replaced.result_reason.as_deref(),
        Some("replaced by a new pass")
    );
}

#[tokio::test]
async fn one_hundred_concurrent_redemptions_of_a_one_time_pass_succeed_once() {
    let f = fixture().await;
    let ada = user(&f.platform, "ada@example.com", &[]).await;
    let pass = issue(&f, &ada, once()).await;
    let platform = f.platform.clone();
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (p, code) = (platform.clone(), pass.clone());
        tasks.push(tokio::spawn(async move {
            p.redeem_tap("ada@example.com", &code, None).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(Error::InvalidPass) => {}
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn roles_decide_who_may_issue_for_whom() {
    let f = fixture().await;
    let plain = user(&f.platform, "plain@example.com", &[]).await;
    let admin = user(&f.platform, "admin@example.com", &[Role::Reader]).await;
    let auth_admin = caller(&[Role::AuthenticationAdministrator]);
    let privileged = caller(&[Role::PrivilegedAuthenticationAdministrator]);
    let reader = caller(&[Role::Reader]);
    let p = &f.platform;
    assert!(
        p.issue_tap(&auth_admin, &upn(&plain), TapRequest::default())
            .await
            .is_ok()
    );
    assert!(matches!(
        p.issue_tap(&auth_admin, &upn(&admin), TapRequest::default())
            .await,
        Err(Error::Forbidden(_))
    ));
    assert!(
        p.issue_tap(&privileged, &upn(&admin), TapRequest::default())
            .await
            .is_ok()
    );
    assert!(matches!(
        p.issue_tap(&reader, &upn(&plain), TapRequest::default())
            .await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        p.delete_tap(&reader, &upn(&plain), None).await,
        Err(Error::Forbidden(_))
    ));
    assert!(p.taps(&reader, &upn(&plain)).await.is_ok());
    assert!(matches!(
        p.update_tap_policy(
            &auth_admin,
            TapPolicyPatch {
                state: Some(PolicyState::Disabled),
                ..Default::default()
            }
        )
        .await,
        Err(Error::Forbidden(_))
    ));
}

#[tokio::test]
async fn policy_targets_and_state_gate_issuance_and_use() {
    let f = fixture().await;
    let p = &f.platform;
    let op = Caller::operator();
    let ada = user(p, "ada@example.com", &[]).await;
    let bob = user(p, "bob@example.com", &[]).await;
    let joiners = p
        .create_group(
            &op,
            NewGroup {
                display_name: "Joiners".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    p.add_group_member(&op, joiners.id, &upn(&ada))
        .await
        .unwrap();
    let ada_pass = issue(&f, &ada, TapRequest::default()).await;

    p.update_tap_policy(
        &op,
        TapPolicyPatch {
            include_targets: Some(vec![Target::group(joiners.id)]),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(matches!(
        p.issue_tap(&op, &upn(&bob), TapRequest::default()).await,
        Err(Error::PolicyViolation(_))
    ));
    assert!(
        p.redeem_tap("ada@example.com", &ada_pass, None)
            .await
            .is_ok()
    );

    p.update_tap_policy(
        &op,
        TapPolicyPatch {
            state: Some(PolicyState::Disabled),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(
        p.redeem_tap("ada@example.com", &ada_pass, None)
            .await
            .is_err(),
        "a disabled policy disables existing passes"
    );
    let (_, views) = p.taps(&op, &upn(&ada)).await.unwrap();
    assert_eq!(
        views[0].usability.detail,
        Some(UsabilityDetail::PolicyDisabled)
    );

    // A target group that does not exist is refused and nothing changes.
    let before = p.tap_policy(&op).await.unwrap();
    let bad = TapPolicyPatch {
        include_targets: Some(vec![Target::group(Uuid::new_v4())]),
        ..Default::default()
    };
    assert!(matches!(
        p.update_tap_policy(&op, bad).await,
        Err(Error::InvalidInput(_))
    ));
    assert_eq!(p.tap_policy(&op).await.unwrap(), before);
}

#[tokio::test]
async fn purge_removes_only_passes_past_retention() {
    let f = fixture().await;
    let ada = user(&f.platform, "ada@example.com", &[]).await;
    let bob = user(&f.platform, "bob@example.com", &[]).await;
    issue(&f, &ada, TapRequest::default()).await;
    f.clock.advance(Duration::days(20));
    issue(&f, &bob, TapRequest::default()).await;
    f.clock.advance(Duration::days(11));
    // ada's expired 31 days minus an hour ago; bob's 11 days ago: only ada's goes.
    assert_eq!(
        f.platform
            .purge_expired_taps(&Caller::operator())
            .await
            .unwrap(),
        1
    );
    assert!(
        f.platform
            .taps(&Caller::operator(), &upn(&ada))
            .await
            .unwrap()
            .1
            .is_empty()
    );
    assert_eq!(
        f.platform
            .taps(&Caller::operator(), &upn(&bob))
            .await
            .unwrap()
            .1
            .len(),
        1
    );
}

/// The pass must appear nowhere but in the value returned to the issuer: not in the database
/// files (WAL included), not in any log line at the most verbose level.
#[tokio::test]
async fn plaintext_passes_never_reach_the_database_or_logs() {
    use std::io::Write;
    use std::sync::Mutex;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);
    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let f = fixture().await;
    let mut passes = Vec::new();
    for i in 0..20 {
        let u = user(&f.platform, &format!("u{i}@example.com"), &[]).await;
        let pass = issue(
            &f,
            &u,
            TapRequest {
                is_usable_once: Some(i % 2 == 0),
                ..Default::default()
            },
        )
        .await;
        f.platform
            .redeem_tap(&u.user_principal_name, &pass, None)
            .await
            .unwrap();
        let wrong = SecretString::new(format!("{}x", pass.expose()));
        let _ = f
            .platform
            .redeem_tap(&u.user_principal_name, &wrong, None)
            .await;
        passes.push(pass.expose().to_owned());
    }
    tracing::info!(?passes, "self-check: this line must be found");
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    let files: Vec<Vec<u8>> = f
        ._dir
        .files()
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .collect();
    let in_files = |needle: &str| {
        files
            .iter()
            .any(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
    };
    // The scan itself must be able to see a pass: the deliberate line above, and a UPN in the files.
    assert!(logs.contains(&passes[0]), "log capture works");
    assert!(in_files("u7@example.com"), "database scan works");
    let logs_before_self_check = &logs[..logs.find("self-check").unwrap()];
    for pass in &passes {
        assert!(
            !logs_before_self_check.contains(pass.as_str()),
            "pass found in logs"
        );
        assert!(!in_files(pass), "pass found in the database files");
    }
}
