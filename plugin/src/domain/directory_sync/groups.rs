//! Group membership planning, pure: nested groups resolved transitively (cycles are safe),
//! then the difference to what the store holds.
//!
//! tapbridge's `group_members` table holds, for a synced group, its *effective* user
//! members: direct ones and those of nested groups, however deep. The pass policy targets
//! groups by id and looks at a user's rows there, so a person in `Engineering ⊂ Staff` is
//! targeted by a policy naming `Staff`. The nesting itself stays in the directory; each full or
//! delta run recomputes the closure from the group entries.

#[cfg(test)]
use std::collections::BTreeSet;
use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::SourceGroup;

/// Names (normalised DNs, logins) → user ids. Keyed by foldhash: a full run resolves every
/// member of every group through it, and SipHash cost most of building and probing it.
/// Per-process random seeds keep it from being steered by crafted names.
pub type Names = HashMap<String, Uuid, foldhash::fast::RandomState>;

/// How member references resolve to users.
pub struct Resolver<'a> {
    /// Normalised user DN → user id.
    pub users_by_dn: &'a Names,
    /// Login name → user id (posixGroup `memberUid`).
    pub users_by_login: &'a Names,
    /// Normalised DN → effective members as stored, for groups of the source that are not
    /// being recomputed (a delta reads only the groups its changes reach; the others'
    /// stored closure is still right).
    /// Sorted, without repeats.
    pub settled_groups: &'a HashMap<String, Vec<Uuid>>,
}

/// Effective user members of each group (by anchor): direct users, plus the users of every
/// group reachable through `member` values that name groups — recomputed for the groups given,
/// taken as stored for settled ones. References to unknown entries are ignored.
///
/// Member sets are sorted vectors: a group holding everyone has as many members as the
/// directory has people, and sorting a vector once costs far less than a tree insert per
/// member.
pub fn effective_members(groups: &[SourceGroup], r: &Resolver<'_>) -> HashMap<String, Vec<Uuid>> {
    let by_dn: HashMap<&str, usize> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.dn_key.as_str(), i))
        .collect();
    let direct: Vec<(Vec<Uuid>, Vec<usize>)> = groups
        .iter()
        .map(|g| {
            let mut users = Vec::with_capacity(g.member_dns.len() + g.member_uids.len());
            let mut nested = Vec::new();
            for m in &g.member_dns {
                if let Some(id) = r.users_by_dn.get(m) {
                    users.push(*id);
                } else if let Some(&j) = by_dn.get(m.as_str()) {
                    nested.push(j);
                } else if let Some(settled) = r.settled_groups.get(m) {
                    users.extend_from_slice(settled);
                }
            }
            for uid in &g.member_uids {
                if let Some(id) = r.users_by_login.get(uid) {
                    users.push(*id);
                }
            }
            sort_unique(&mut users);
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
            let mut users = Vec::new();
            let mut walked = 0;
            while let Some(k) = stack.pop() {
                let Some((direct_users, nested)) = direct.get(k) else {
                    continue;
                };
                users.extend_from_slice(direct_users);
                walked += 1;
                for &n in nested {
                    if seen.insert(n) {
                        stack.push(n);
                    }
                }
            }
            // One group's own members are sorted already.
            if walked > 1 {
                sort_unique(&mut users);
            }
            (g.anchor.clone(), users)
        })
        .collect()
}

fn sort_unique(ids: &mut Vec<Uuid>) {
    ids.sort_unstable();
    ids.dedup();
}

/// Membership rows to add and remove for one group; both sets sorted, without repeats.
pub fn diff(current: &[Uuid], desired: &[Uuid]) -> (Vec<Uuid>, Vec<Uuid>) {
    let (mut add, mut remove) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while let (Some(c), Some(d)) = (current.get(i), desired.get(j)) {
        match c.cmp(d) {
            std::cmp::Ordering::Equal => (i, j) = (i + 1, j + 1),
            std::cmp::Ordering::Less => {
                remove.push(*c);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                add.push(*d);
                j += 1;
            }
        }
    }
    remove.extend_from_slice(current.get(i..).unwrap_or_default());
    add.extend_from_slice(desired.get(j..).unwrap_or_default());
    (add, remove)
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
        let by_dn = Names::from_iter([("uid=ada".to_owned(), ada), ("uid=bob".to_owned(), bob)]);
        let by_login = Names::from_iter([("eve".to_owned(), eve)]);
        let r = Resolver {
            users_by_dn: &by_dn,
            users_by_login: &by_login,
            settled_groups: &HashMap::new(),
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
        let got = |a: &str| m[a].iter().copied().collect::<BTreeSet<_>>();
        assert_eq!(got("staff"), set(&[ada, bob, eve]));
        assert_eq!(got("eng"), set(&[bob, eve]));
        assert_eq!(got("ops"), set(&[bob, eve]));
        for ids in m.values() {
            assert!(ids.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
        }
        assert!(m["self"].is_empty());
        assert!(m["empty"].is_empty());
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        let ada = Uuid::new_v4();
        let by_dn = Names::from_iter([("uid=ada".to_owned(), ada)]);
        let none = Names::default();
        let r = Resolver {
            users_by_dn: &by_dn,
            users_by_login: &none,
            settled_groups: &HashMap::new(),
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

    /// A delta recomputes the groups its changes reach; a nested group it did not read counts
    /// with its stored members, a nested group it read with its new ones.
    #[test]
    fn settled_groups_count_as_stored() {
        let (ada, bob, cy) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let by_dn = Names::from_iter([("uid=ada".to_owned(), ada), ("uid=cy".to_owned(), cy)]);
        let none = Names::default();
        let settled = HashMap::from([("cn=ops".to_owned(), vec![bob])]);
        let r = Resolver {
            users_by_dn: &by_dn,
            users_by_login: &none,
            settled_groups: &settled,
        };
        let groups = vec![
            group(
                "staff",
                "cn=staff",
                &["cn=eng", "cn=ops", "cn=unknown"],
                &[],
            ),
            group("eng", "cn=eng", &["uid=ada", "uid=cy"], &[]),
        ];
        let m = effective_members(&groups, &r);
        let sorted = |mut v: Vec<Uuid>| {
            v.sort();
            v
        };
        assert_eq!(m["staff"], sorted(vec![ada, bob, cy]));
        assert_eq!(m["eng"], sorted(vec![ada, cy]));
        assert!(!m.contains_key("ops"), "a settled group is not recomputed");
    }

    #[test]
    fn membership_diff() {
        let mut ids: Vec<Uuid> = (0..6).map(|_| Uuid::new_v4()).collect();
        ids.sort();
        let [a, b, c, d, e, f] = ids[..] else {
            unreachable!()
        };
        assert_eq!(diff(&[a, b], &[b, c]), (vec![c], vec![a]));
        assert_eq!(diff(&[a, c, e], &[b, c, d, f]), (vec![b, d, f], vec![a, e]));
        assert_eq!(diff(&[], &[a, b]), (vec![a, b], vec![]));
        assert_eq!(diff(&[a, b], &[]), (vec![], vec![a, b]));
        assert_eq!(diff(&[a, b], &[a, b]), (vec![], vec![]));
    }
}
