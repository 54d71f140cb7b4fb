//! Sync planning for users, as pure functions: what the directory says plus what tapbridge
//! knows in, steps out. The executor applies the steps; nothing here reads or writes.
//!
//! Destructive steps (disabling or removing someone) are never applied while the directory is
//! still being read: they are collected, counted against the guard once the read completed,
//! and applied only then. A read that fails or is cut off therefore deprovisions nobody.

use std::collections::HashSet;

use uuid::Uuid;

use super::mapping::SourceUser;

/// What tapbridge knows of a user the directory entry may already be.
pub use plugin::store::ldap::Known;

/// Whether writing `incoming` over this user may change group memberships: a new DN or login,
/// or a user coming back (deprovisioning dropped their memberships).
pub fn moves_references(known: &Known, incoming: &SourceUser) -> bool {
    !known.enabled
        || known
            .references
            .as_ref()
            .is_none_or(|(dn, login)| *dn != incoming.dn_key || *login != incoming.login)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStep {
    Create,
    /// Nothing changed since the last import.
    Unchanged,
    /// Profile change, or re-enabling (a joiner again).
    Update,
    /// The directory disabled the account: destructive, deferred until the read completed.
    Disable,
}

pub fn plan_user(incoming: &SourceUser, known: Option<&Known>) -> UserStep {
    match known {
        None => UserStep::Create,
        Some(k) if k.enabled && !incoming.profile.account_enabled => UserStep::Disable,
        Some(k) if k.fingerprint.as_deref() == Some(incoming.fingerprint.as_str()) => {
            UserStep::Unchanged
        }
        Some(_) => UserStep::Update,
    }
}

/// The imported users a complete read did not see: they left the directory (or its filter).
pub fn plan_sweep<'a>(
    imported: impl IntoIterator<Item = (&'a str, Uuid)>,
    seen: &HashSet<String>,
) -> Vec<(String, Uuid)> {
    imported
        .into_iter()
        .filter(|(anchor, _)| !seen.contains(*anchor))
        .map(|(a, id)| (a.to_owned(), id))
        .collect()
}

/// The mass-deprovisioning guard tripped: the run stopped before disabling or deleting anyone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "this run would disable or delete {count} of {population} users, more than the allowed {limit} (max_deprovision_share); nothing was disabled or deleted — check the directory, or rerun with --force"
)]
pub struct GuardTripped {
    pub count: u64,
    pub population: u64,
    pub limit: u64,
}

/// Whether `count` deprovisions out of `population` enabled users stay within `share`.
pub fn check_guard(
    count: u64,
    population: u64,
    share: f64,
    force: bool,
) -> Result<(), GuardTripped> {
    // Rounded down: with share 0.1, 9 users allow none, 10 allow one.
    let limit = (population as f64 * share).floor() as u64;
    if force || count <= limit {
        Ok(())
    } else {
        Err(GuardTripped {
            count,
            population,
            limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugin::domain::directory::NewUser;

    fn incoming(enabled: bool, fp: &str) -> SourceUser {
        SourceUser {
            anchor: "a".into(),
            dn: "uid=a".into(),
            dn_key: "uid=a".into(),
            login: None,
            profile: NewUser {
                user_principal_name: "a@x.io".into(),
                account_enabled: enabled,
                ..Default::default()
            },
            manager_dn: None,
            fingerprint: fp.into(),
        }
    }

    #[test]
    fn only_a_new_dn_login_or_a_return_moves_memberships() {
        let mut u = incoming(true, "f2");
        u.dn_key = "uid=a,dc=x".into();
        u.login = Some("a".into());
        let k = |enabled, refs: Option<(&str, Option<&str>)>| Known {
            id: Uuid::new_v4(),
            enabled,
            fingerprint: Some("f1".into()),
            references: refs.map(|(d, l)| (d.to_owned(), l.map(str::to_owned))),
        };
        assert!(!moves_references(
            &k(true, Some(("uid=a,dc=x", Some("a")))),
            &u
        ));
        assert!(moves_references(
            &k(true, Some(("uid=b,dc=x", Some("a")))),
            &u
        ));
        assert!(moves_references(&k(true, Some(("uid=a,dc=x", None))), &u));
        assert!(moves_references(
            &k(false, Some(("uid=a,dc=x", Some("a")))),
            &u
        ));
        assert!(moves_references(&k(true, None), &u));
    }

    #[test]
    fn user_steps() {
        let id = Uuid::new_v4();
        let known = |enabled, fp: Option<&str>| Known {
            references: None,
            id,
            enabled,
            fingerprint: fp.map(str::to_owned),
        };
        let table = [
            (incoming(true, "f1"), None, UserStep::Create),
            (incoming(false, "f1"), None, UserStep::Create),
            (
                incoming(true, "f1"),
                Some(known(true, Some("f1"))),
                UserStep::Unchanged,
            ),
            (
                incoming(true, "f2"),
                Some(known(true, Some("f1"))),
                UserStep::Update,
            ),
            (
                incoming(true, "f1"),
                Some(known(true, None)),
                UserStep::Update,
            ),
            (
                incoming(true, "f1"),
                Some(known(false, Some("f0"))),
                UserStep::Update,
            ),
            (
                incoming(false, "f2"),
                Some(known(true, Some("f1"))),
                UserStep::Disable,
            ),
            (
                incoming(false, "f1"),
                Some(known(false, Some("f1"))),
                UserStep::Unchanged,
            ),
        ];
        for (i, (u, k, want)) in table.iter().enumerate() {
            assert_eq!(plan_user(u, k.as_ref()), *want, "row {i}");
        }
    }

    #[test]
    fn sweep_takes_the_unseen() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let seen: HashSet<String> = ["a".to_owned()].into();
        assert_eq!(
            plan_sweep([("a", a), ("b", b)], &seen),
            vec![("b".to_owned(), b)]
        );
        assert!(plan_sweep([("a", a)], &seen).is_empty());
    }

    #[test]
    fn guard() {
        let table = [
            // count, population, share, force, ok
            (0, 0, 0.1, false, true),
            (1, 9, 0.1, false, false),
            (1, 10, 0.1, false, true),
            (2, 10, 0.1, false, false),
            (2, 10, 0.1, true, true),
            (10, 100, 0.1, false, true),
            (11, 100, 0.1, false, false),
            (5, 5, 1.0, false, true),
            (1, 100, 0.0, false, false),
        ];
        for (count, pop, share, force, ok) in table {
            assert_eq!(
                check_guard(count, pop, share, force).is_ok(),
                ok,
                "{count}/{pop} at {share} force={force}"
            );
        }
        let e = check_guard(3, 10, 0.1, false).unwrap_err();
        assert_eq!((e.count, e.population, e.limit), (3, 10, 1));
    }
}
