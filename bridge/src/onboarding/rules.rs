//! Onboarding rules: which joiners get a pass by mail, when, with which terms, and to whom.
//! Pure: the worker gathers the facts, these functions decide.

use std::collections::HashSet;

use plugin::domain::directory::User;
use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipient {
    /// The user's personal address (before their work mailbox exists).
    Personal,
    /// The user's work address.
    Work,
    /// Their manager's work address, resolved from the directory.
    Manager,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// As soon as the user appears.
    AtCreation,
    /// This many days before the hire date; at once if that moment has passed or the hire
    /// date is unknown.
    DaysBeforeHire(u32),
}

/// Where a rule's pass is minted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mint {
    /// By tapbridge, redeemed on its own pages.
    Local,
    /// In the Microsoft Entra tenant of `[entra]`, redeemed there.
    Entra,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub name: String,
    /// Sources the rule covers (`scim:workday`, `ldap:corp`, `local`); empty: any.
    pub sources: Vec<String>,
    /// Group names or ids the user must belong to (any of them); empty: no condition.
    pub groups: Vec<String>,
    /// Only users with no passkey yet.
    pub without_passkey: bool,
    pub timing: Timing,
    /// Pass lifetime in minutes; `None`: the TAP policy's default.
    pub lifetime_minutes: Option<u32>,
    /// One-time pass; `None`: the TAP policy's choice.
    pub usable_once: Option<bool>,
    /// The pass starts at the hire date when that is still ahead.
    pub start_at_hire_date: bool,
    pub recipients: Vec<Recipient>,
    pub cc: Vec<String>,
    pub mint: Mint,
    /// Entra keeps one pass per user: whether a pass the user already has there (not one this
    /// rule's message created) may be replaced.
    pub replace_existing_pass: bool,
}

/// The facts a rule looks at.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub user: &'a User,
    /// Names and ids (as text) of the user's groups, lower-cased.
    pub groups: HashSet<String>,
    pub has_passkey: bool,
    pub manager_mail: Option<&'a str>,
}

impl Rule {
    pub fn matches(&self, c: &Candidate<'_>) -> bool {
        let source_ok = self.sources.is_empty()
            || self
                .sources
                .iter()
                .any(|s| s.eq_ignore_ascii_case(&c.user.source));
        let group_ok = self.groups.is_empty()
            || self
                .groups
                .iter()
                .any(|g| c.groups.contains(&g.to_lowercase()));
        source_ok && group_ok && c.user.account_enabled && !(self.without_passkey && c.has_passkey)
    }

    /// When the mail goes out.
    pub fn send_at(&self, user: &User, now: OffsetDateTime) -> OffsetDateTime {
        match (self.timing, user.employee_hire_date) {
            (Timing::DaysBeforeHire(days), Some(hire)) => {
                (hire - Duration::days(i64::from(days))).max(now)
            }
            _ => now,
        }
    }

    /// When the pass becomes valid: the hire date if asked for and still ahead.
    pub fn pass_start(&self, user: &User, now: OffsetDateTime) -> Option<OffsetDateTime> {
        user.employee_hire_date
            .filter(|h| self.start_at_hire_date && *h > now)
    }

    /// The addresses to send to (in order, without repeats) and to copy. Empty `to`: nobody
    /// can be reached, and the rule cannot be applied.
    pub fn addresses(&self, c: &Candidate<'_>) -> (Vec<String>, Vec<String>) {
        let mut to: Vec<String> = Vec::new();
        let push = |list: &mut Vec<String>, a: Option<&str>| {
            if let Some(a) = a.map(str::trim).filter(|a| !a.is_empty())
                && !list.iter().any(|x| x.eq_ignore_ascii_case(a))
            {
                list.push(a.to_owned());
            }
        };
        for r in &self.recipients {
            let address = match r {
                Recipient::Personal => c.user.personal_email.as_deref(),
                Recipient::Work => c.user.mail.as_deref(),
                Recipient::Manager => c.manager_mail,
            };
            push(&mut to, address);
        }
        let mut cc = Vec::new();
        for a in &self.cc {
            if !to.iter().any(|t| t.eq_ignore_ascii_case(a)) {
                push(&mut cc, Some(a));
            }
        }
        (to, cc)
    }
}

/// The first rule that matches, in configuration order.
pub fn first_match<'r>(rules: &'r [Rule], c: &Candidate<'_>) -> Option<&'r Rule> {
    rules.iter().find(|r| r.matches(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugin::domain::role::Roles;
    use time::macros::datetime;
    use uuid::Uuid;

    const NOW: OffsetDateTime = datetime!(2026-11-27 09:00 UTC);

    fn user() -> User {
        User {
            id: Uuid::nil(),
            user_principal_name: "new@corp.example".into(),
            display_name: Some("New Person".into()),
            given_name: None,
            surname: None,
            mail: Some("new@corp.example".into()),
            other_mails: vec![],
            personal_email: Some("new@home.example".into()),
            preferred_language: None,
            account_enabled: true,
            source: "scim:workday".into(),
            anchor: None,
            manager_id: None,
            employee_hire_date: Some(datetime!(2026-12-07 00:00 UTC)),
            roles: Roles::default(),
            created_at: NOW,
            updated_at: NOW,
        }
    }

    fn rule() -> Rule {
        Rule {
            name: "joiners".into(),
            sources: vec![],
            groups: vec![],
            without_passkey: true,
            timing: Timing::AtCreation,
            lifetime_minutes: None,
            usable_once: Some(true),
            start_at_hire_date: false,
            recipients: vec![Recipient::Personal, Recipient::Manager, Recipient::Work],
            cc: vec!["it@corp.example".into(), "NEW@home.example".into()],
            mint: Mint::Local,
            replace_existing_pass: false,
        }
    }

    fn candidate(u: &User) -> Candidate<'_> {
        Candidate {
            user: u,
            groups: HashSet::new(),
            has_passkey: false,
            manager_mail: Some("boss@corp.example"),
        }
    }

    #[test]
    fn matching_table() {
        let u = user();
        let c = candidate(&u);
        let with = |f: &dyn Fn(&mut Rule)| {
            let mut r = rule();
            f(&mut r);
            r
        };
        assert!(rule().matches(&c));
        assert!(with(&|r| r.sources = vec!["SCIM:workday".into()]).matches(&c));
        assert!(!with(&|r| r.sources = vec!["ldap:corp".into()]).matches(&c));
        assert!(!with(&|r| r.groups = vec!["Engineering".into()]).matches(&c));
        let mut in_group = candidate(&u);
        in_group.groups.insert("engineering".into());
        assert!(with(&|r| r.groups = vec!["Engineering".into()]).matches(&in_group));
        let mut has_key = candidate(&u);
        has_key.has_passkey = true;
        assert!(!rule().matches(&has_key));
        assert!(with(&|r| r.without_passkey = false).matches(&has_key));
        let disabled = User {
            account_enabled: false,
            ..user()
        };
        assert!(!rule().matches(&candidate(&disabled)));
        assert_eq!(
            first_match(&[with(&|r| r.sources = vec!["x".into()]), rule()], &c)
                .map(|r| r.name.as_str()),
            Some("joiners")
        );
    }

    #[test]
    fn timing_and_start() {
        let u = user();
        let r = Rule {
            timing: Timing::DaysBeforeHire(3),
            start_at_hire_date: true,
            ..rule()
        };
        assert_eq!(r.send_at(&u, NOW), datetime!(2026-12-04 00:00 UTC));
        assert_eq!(r.pass_start(&u, NOW), Some(datetime!(2026-12-07 00:00 UTC)));
        let late = User {
            employee_hire_date: Some(datetime!(2026-11-28 00:00 UTC)),
            ..user()
        };
        assert_eq!(
            r.send_at(&late, NOW),
            NOW,
            "at once when the moment has passed"
        );
        let unknown = User {
            employee_hire_date: None,
            ..user()
        };
        assert_eq!(
            (r.send_at(&unknown, NOW), r.pass_start(&unknown, NOW)),
            (NOW, None)
        );
        assert_eq!(rule().send_at(&u, NOW), NOW);
        assert_eq!(rule().pass_start(&u, NOW), None);
    }

    #[test]
    fn recipients_in_order_without_repeats() {
        let u = user();
        let (to, cc) = rule().addresses(&candidate(&u));
        assert_eq!(
            to,
            ["new@home.example", "boss@corp.example", "new@corp.example"]
        );
        assert_eq!(
            cc,
            ["it@corp.example"],
            "an address already in To is not copied again"
        );
        let nobody = User {
            personal_email: None,
            mail: None,
            ..user()
        };
        let r = Rule {
            recipients: vec![Recipient::Personal, Recipient::Work],
            ..rule()
        };
        let (to, _) = r.addresses(&Candidate {
            manager_mail: None,
            ..candidate(&nobody)
        });
        assert!(to.is_empty());
    }
}
