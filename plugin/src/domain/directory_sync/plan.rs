//! Sync planning for users, as a pure function: what the directory says plus what tapbridge
//! knows in, a step out. The executor applies the steps; nothing here reads or writes.

use std::collections::BTreeSet;

use super::SourceUser;
pub use super::state::Known;

/// The names groups may know a run's moved users by (normalised DNs, logins), old and new:
/// the groups naming any of them are the only ones whose memberships the move can change.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MovedReferences {
    pub dns: BTreeSet<String>,
    pub logins: BTreeSet<String>,
}

impl MovedReferences {
    pub fn is_empty(&self) -> bool {
        self.dns.is_empty() && self.logins.is_empty()
    }

    /// Records a user whose write moves references ([`moves_references`], or a new user):
    /// the names it had and the names it has.
    pub fn note(&mut self, known: Option<&Known>, incoming: &SourceUser) {
        if let Some((dn, login)) = known.and_then(|k| k.references.as_ref()) {
            self.dns.insert(dn.clone());
            self.logins.extend(login.iter().cloned());
        }
        self.dns.insert(incoming.dn_key.clone());
        self.logins.extend(incoming.login.iter().cloned());
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moved_references_keep_old_and_new_names() {
        let mut moved = MovedReferences::default();
        assert!(moved.is_empty());
        let known = Known {
            id: Uuid::nil(),
            enabled: true,
            fingerprint: None,
            references: Some(("uid=old".into(), Some("old".into()))),
        };
        let mut user = incoming(true, "fp");
        user.login = Some("a".into());
        moved.note(Some(&known), &user);
        moved.note(None, &incoming(true, "fp"));
        assert_eq!(
            moved.dns,
            BTreeSet::from(["uid=old".to_owned(), "uid=a".to_owned()])
        );
        assert_eq!(
            moved.logins,
            BTreeSet::from(["old".to_owned(), "a".to_owned()])
        );
    }
    use crate::domain::directory::NewUser;
    use uuid::Uuid;

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
}
