//! Sync planning for users, as a pure function: what the directory says plus what tapbridge
//! knows in, a step out. The executor applies the steps; nothing here reads or writes.

use std::collections::{BTreeSet, HashMap};

use uuid::Uuid;

use super::SourceUser;
pub use super::state::Known;

/// The names groups may know a run's moved users by, split by what the move can do to
/// memberships.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MovedReferences {
    /// Users whose names are new to the groups' view (created, back after deprovisioning,
    /// imported after quarantine): they can only gain memberships, in the groups naming them
    /// and the groups nesting those.
    pub joined: Vec<Names>,
    /// Normalised DNs and logins, old and new, of users who changed a name: a group naming
    /// either may gain or lose them.
    pub renamed: Names,
}

/// How groups may name one user.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Names {
    pub dns: BTreeSet<String>,
    pub logins: BTreeSet<String>,
}

impl Names {
    pub fn is_empty(&self) -> bool {
        self.dns.is_empty() && self.logins.is_empty()
    }

    fn add(&mut self, dn: &str, login: Option<&str>) {
        self.dns.insert(dn.to_owned());
        self.logins.extend(login.map(str::to_owned));
    }
}

impl MovedReferences {
    pub fn is_empty(&self) -> bool {
        self.joined.is_empty() && self.renamed.is_empty()
    }

    /// Records a user whose write moves references ([`moves_references`], or a new user).
    pub fn note(&mut self, known: Option<&Known>, incoming: &SourceUser) {
        let old = known
            .filter(|k| k.enabled)
            .and_then(|k| k.references.as_ref());
        match old {
            // Named before, by other names: both matter.
            Some((dn, login)) => {
                self.renamed.add(dn, login.as_deref());
                self.renamed
                    .add(&incoming.dn_key, incoming.login.as_deref());
            }
            None => {
                let mut names = Names::default();
                names.add(&incoming.dn_key, incoming.login.as_deref());
                self.joined.push(names);
            }
        }
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

/// An order of a batch's new users, given as (id, manager id), in which each user comes
/// after its manager when that manager is in the batch, and the users to write without their
/// manager because they close a reporting cycle inside the batch (bad data: someone managing
/// themselves, or two people managing each other). Indexes into `links`.
pub fn managers_first(links: &[(Uuid, Option<Uuid>)]) -> (Vec<usize>, Vec<usize>) {
    const NEW: u8 = 0;
    const ON_PATH: u8 = 1;
    const PLACED: u8 = 2;
    let at: HashMap<Uuid, usize> = links
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (*id, i))
        .collect();
    let mut state = vec![NEW; links.len()];
    let (mut order, mut cut) = (Vec::with_capacity(links.len()), Vec::new());
    let mut path = Vec::new();
    for start in 0..links.len() {
        // Up the management chain until a user already placed, one outside the batch, or
        // one on this very path (a cycle, cut at the user pointing back).
        let mut i = start;
        while state[i] == NEW {
            state[i] = ON_PATH;
            path.push(i);
            match links[i].1.and_then(|m| at.get(&m).copied()) {
                Some(m) if state[m] == NEW => i = m,
                Some(m) if state[m] == ON_PATH => cut.push(i),
                _ => {}
            }
        }
        // The top of the chain first.
        for &k in path.iter().rev() {
            state[k] = PLACED;
            order.push(k);
        }
        path.clear();
    }
    (order, cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moved_references_split_joiners_from_renames() {
        let mut moved = MovedReferences::default();
        assert!(moved.is_empty());
        let mut renamed = incoming(true, "fp");
        renamed.login = Some("a".into());
        let known = |enabled| Known {
            id: Uuid::nil(),
            enabled,
            fingerprint: None,
            references: Some(("uid=old".into(), Some("old".into()))),
        };
        moved.note(Some(&known(true)), &renamed);
        moved.note(None, &incoming(true, "fp"));
        // Back after deprovisioning: its memberships were dropped, it can only gain.
        moved.note(Some(&known(false)), &renamed);
        assert_eq!(
            moved.renamed.dns,
            BTreeSet::from(["uid=old".to_owned(), "uid=a".to_owned()])
        );
        assert_eq!(
            moved.renamed.logins,
            BTreeSet::from(["old".to_owned(), "a".to_owned()])
        );
        assert_eq!(moved.joined.len(), 2);
        assert_eq!(moved.joined[0].dns, BTreeSet::from(["uid=a".to_owned()]));
        assert!(moved.joined[0].logins.is_empty());
        assert_eq!(moved.joined[1].logins, BTreeSet::from(["a".to_owned()]));
    }
    use crate::domain::directory::NewUser;

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
    fn managers_come_before_their_reports_and_a_cycle_is_cut_once() {
        let id: Vec<Uuid> = (0..6).map(|_| Uuid::new_v4()).collect();
        // 0 reports to 1, 1 to 2 (a chain written bottom up); 3 and 4 manage each other;
        // 5 manages itself; 2's manager is outside the batch.
        let links = vec![
            (id[0], Some(id[1])),
            (id[1], Some(id[2])),
            (id[2], Some(Uuid::new_v4())),
            (id[3], Some(id[4])),
            (id[4], Some(id[3])),
            (id[5], Some(id[5])),
        ];
        let (order, cut) = managers_first(&links);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..6).collect::<Vec<_>>(), "every user once");
        let place = |i: usize| order.iter().position(|&k| k == i).unwrap();
        assert!(place(2) < place(1) && place(1) < place(0), "{order:?}");
        assert_eq!(cut.len(), 2, "one cut per cycle: {cut:?}");
        assert!(cut.contains(&5));
        assert!(cut.contains(&3) ^ cut.contains(&4));
        // Apart from the cut links, every in-batch manager is placed first.
        for (i, (_, m)) in links.iter().enumerate() {
            if let Some(j) = m.and_then(|m| id.iter().position(|x| *x == m))
                && !cut.contains(&i)
            {
                assert!(place(j) < place(i), "{i} before its manager {j}");
            }
        }
    }
}
