//! Group membership planning, pure: nested groups resolved transitively (cycles are safe),
//! then the difference to what the store holds.
//!
//! tapbridge's `group_members` table holds, for a synced group, its *effective* user
//! members: direct ones and those of nested groups, however deep. The pass policy targets
//! groups by id and looks at a user's rows there, so a person in `Engineering ⊂ Staff` is
//! targeted by a policy naming `Staff`. The nesting itself stays in the directory; each full or
//! delta run recomputes the closure from the group entries.

use std::collections::{BTreeSet, HashMap, HashSet};

use uuid::Uuid;

use super::SourceGroup;

/// How member references resolve to users.
pub struct Resolver<'a> {
    /// Normalised user DN → user id.
    pub users_by_dn: &'a HashMap<String, Uuid>,
    /// Login name → user id (posixGroup `memberUid`).
    pub users_by_login: &'a HashMap<String, Uuid>,
}

/// Effective user members of each group (by anchor): direct users, plus the users of every
/// group reachable through `member` values that name groups. References to unknown entries
/// are ignored.
pub fn effective_members(
    groups: &[SourceGroup],
    r: &Resolver<'_>,
) -> HashMap<String, BTreeSet<Uuid>> {
    let by_dn: HashMap<&str, usize> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.dn_key.as_str(), i))
        .collect();
    let direct: Vec<(BTreeSet<Uuid>, Vec<usize>)> = groups
        .iter()
        .map(|g| {
            let mut users = BTreeSet::new();
            let mut nested = Vec::new();
            for m in &g.member_dns {
                if let Some(id) = r.users_by_dn.get(m) {
                    users.insert(*id);
                } else if let Some(&j) = by_dn.get(m.as_str()) {
                    nested.push(j);
                }
            }
            for uid in &g.member_uids {
                if let Some(id) = r.users_by_login.get(uid) {
                    users.insert(*id);
                }
            }
            (users, nested)
        })
        .collect();
    groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            // Iterative depth-first walk with a visited set: a cycle ends the walk, deep
            // nesting cannot overflow the stack.
            let mut seen = HashSet::from([i]);
            let mut stack = vec![i];
            let mut users = BTreeSet::new();
            while let Some(k) = stack.pop() {
                let Some((direct_users, nested)) = direct.get(k) else {
                    continue;
                };
                users.extend(direct_users.iter().copied());
                for &n in nested {
                    if seen.insert(n) {
                        stack.push(n);
                    }
                }
            }
            (g.anchor.clone(), users)
        })
        .collect()
}

/// Membership rows to add and remove for one group.
pub fn diff(current: &BTreeSet<Uuid>, desired: &BTreeSet<Uuid>) -> (Vec<Uuid>, Vec<Uuid>) {
    (
        desired.difference(current).copied().collect(),
        current.difference(desired).copied().collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(anchor: &str, dn: &str, members: &[&str], uids: &[&str]) -> SourceGroup {
        SourceGroup {
            anchor: anchor.into(),
            dn_key: dn.into(),
            name: anchor.into(),
            description: None,
            member_dns: members.iter().map(|m| (*m).to_owned()).collect(),
            member_uids: uids.iter().map(|m| (*m).to_owned()).collect(),
            fingerprint: String::new(),
        }
    }

    #[test]
    fn nested_cycles_and_posix() {
        let (ada, bob, eve) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let by_dn = HashMap::from([("uid=ada".to_owned(), ada), ("uid=bob".to_owned(), bob)]);
        let by_login = HashMap::from([("eve".to_owned(), eve)]);
        let r = Resolver {
            users_by_dn: &by_dn,
            users_by_login: &by_login,
        };
        let groups = vec![
            group("staff", "cn=staff", &["cn=eng", "uid=ada"], &[]),
            group("eng", "cn=eng", &["uid=bob", "cn=ops"], &[]),
            // ops ⊂ eng ⊂ staff and eng ⊂ ops: a cycle
            group("ops", "cn=ops", &["cn=eng", "uid=gone"], &["eve", "nobody"]),
            group("self", "cn=self", &["cn=self"], &[]),
            group("empty", "cn=empty", &[], &[]),
        ];
        let m = effective_members(&groups, &r);
        let set = |ids: &[Uuid]| ids.iter().copied().collect::<BTreeSet<_>>();
        assert_eq!(m["staff"], set(&[ada, bob, eve]));
        assert_eq!(m["eng"], set(&[bob, eve]));
        assert_eq!(m["ops"], set(&[bob, eve]));
        assert!(m["self"].is_empty());
        assert!(m["empty"].is_empty());
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        let ada = Uuid::new_v4();
        let by_dn = HashMap::from([("uid=ada".to_owned(), ada)]);
        let none = HashMap::new();
        let r = Resolver {
            users_by_dn: &by_dn,
            users_by_login: &none,
        };
        let n = 2_000;
        let groups: Vec<SourceGroup> = (0..n)
            .map(|i| {
                let next = if i + 1 < n {
                    format!("cn=g{}", i + 1)
                } else {
                    "uid=ada".into()
                };
                group(&format!("g{i}"), &format!("cn=g{i}"), &[&next], &[])
            })
            .collect();
        let m = effective_members(&groups, &r);
        assert!(m["g0"].contains(&ada));
    }

    #[test]
    fn membership_diff() {
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let cur = BTreeSet::from([a, b]);
        let want = BTreeSet::from([b, c]);
        assert_eq!(diff(&cur, &want), (vec![c], vec![a]));
    }
}
