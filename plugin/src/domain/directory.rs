//! Users and groups as the platform sees them. The bridges fill them from LDAP and SCIM; the CLI
//! and the admin API create local ones.

use time::OffsetDateTime;
use uuid::Uuid;

use super::role::Roles;
use crate::{Error, Result};

/// The source of objects created by an administrator rather than a directory bridge.
pub const LOCAL_SOURCE: &str = "local";

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: Uuid,
    pub user_principal_name: String,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub mail: Option<String>,
    pub other_mails: Vec<String>,
    /// Where onboarding mail goes before the work mailbox exists.
    pub personal_email: Option<String>,
    /// A BCP 47 tag (`de-CH`): the language of mail sent to the user.
    pub preferred_language: Option<String>,
    pub account_enabled: bool,
    /// Who owns the object: `local`, or a bridge source such as `ldap:corp`.
    pub source: String,
    /// The source's immutable identifier (entryUUID, objectGUID, SCIM externalId). `None` for
    /// local users.
    pub anchor: Option<String>,
    pub manager_id: Option<Uuid>,
    pub employee_hire_date: Option<OffsetDateTime>,
    pub roles: Roles,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl User {
    pub fn is_admin(&self) -> bool {
        !self.roles.is_empty()
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewUser {
    pub user_principal_name: String,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub mail: Option<String>,
    pub other_mails: Vec<String>,
    pub personal_email: Option<String>,
    pub preferred_language: Option<String>,
    pub account_enabled: bool,
    pub source: String,
    pub anchor: Option<String>,
    pub manager_id: Option<Uuid>,
    pub employee_hire_date: Option<OffsetDateTime>,
    pub roles: Roles,
}

impl NewUser {
    /// Trims every field and checks the shapes the store relies on.
    pub fn normalised(mut self) -> Result<Self> {
        self.user_principal_name = trimmed(std::mem::take(&mut self.user_principal_name));
        if self.source.trim().is_empty() {
            self.source = LOCAL_SOURCE.to_owned();
        }
        if self.source == LOCAL_SOURCE {
            validate_upn(&self.user_principal_name)?;
        } else {
            validate_provisioned_name(&self.user_principal_name)?;
        }
        for field in [
            &mut self.display_name,
            &mut self.given_name,
            &mut self.surname,
            &mut self.mail,
            &mut self.personal_email,
            &mut self.preferred_language,
        ] {
            trim_optional(field);
        }
        check_len("displayName", self.display_name.as_deref(), 256)?;
        check_len("givenName", self.given_name.as_deref(), 64)?;
        check_len("surname", self.surname.as_deref(), 64)?;
        check_len("preferredLanguage", self.preferred_language.as_deref(), 35)?;
        if let Some(mail) = &self.mail {
            validate_mail("mail", mail)?;
        }
        if let Some(mail) = &self.personal_email {
            validate_mail("personalEmail", mail)?;
        }
        self.other_mails = self
            .other_mails
            .into_iter()
            .map(trimmed)
            .filter(|m| !m.is_empty())
            .collect();
        for m in &self.other_mails {
            validate_mail("otherMails", m)?;
        }
        Ok(self)
    }
}

fn trim_optional(field: &mut Option<String>) {
    if let Some(v) = field.take() {
        let t = trimmed(v);
        if !t.is_empty() {
            *field = Some(t);
        }
    }
}

/// A new user's or group's id. Time-ordered (UUID version 7): a directory's users are
/// created in runs of thousands, and every index keyed by their id (the users' own, the
/// directory index's, a manager's reports, a group's members) then takes them at its end,
/// where random ids (version 4) landed each on a random page of an index larger than the
/// page cache: a first load wrote every such page again at every batch's commit. An id is
/// no secret (it names the object in every API); its first 48 bits are the creation time in
/// milliseconds, which `createdDateTime` shows anyway, and 74 bits stay random.
pub fn new_object_id() -> Uuid {
    Uuid::now_v7()
}

/// `s` without the white space around it, trimmed where it is: a directory run normalises
/// every field of every user, and nearly all of them have none to remove (a copy each was a
/// tenth of a steady run's allocations).
pub fn trimmed(mut s: String) -> String {
    let end = s.trim_end().len();
    s.truncate(end);
    let start = s.len() - s.trim_start().len();
    if start > 0 {
        s.drain(..start);
    }
    s
}

fn check_len(name: &str, value: Option<&str>, max: usize) -> Result<()> {
    match value {
        Some(v) if v.chars().count() > max => Err(Error::invalid(format!(
            "{name} is longer than {max} characters"
        ))),
        Some(v) if v.chars().any(char::is_control) => Err(Error::invalid(format!(
            "{name} contains control characters"
        ))),
        _ => Ok(()),
    }
}

/// A user principal name is `local@domain`, as in Entra: no spaces or control characters, at
/// most 113 characters before the `@` and 256 in all.
pub fn validate_upn(upn: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::invalid(format!(
            "userPrincipalName `{upn}` is invalid: {why}"
        )))
    };
    if upn.is_empty() {
        return Err(Error::invalid("userPrincipalName is required"));
    }
    if upn.chars().count() > 256 {
        return bad("longer than 256 characters");
    }
    if upn.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("it contains white space or control characters");
    }
    let Some((local, domain)) = upn.rsplit_once('@') else {
        return bad("it must have the form name@domain");
    };
    if local.is_empty() || domain.is_empty() || local.contains('@') {
        return bad("it must have the form name@domain");
    }
    if local.chars().count() > 113 {
        return bad("the part before @ is longer than 113 characters");
    }
    if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
        return bad("the domain is malformed");
    }
    Ok(())
}

fn validate_mail(name: &str, mail: &str) -> Result<()> {
    let ok = mail.chars().count() <= 254
        && !mail.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"')
        })
        && matches!(mail.rsplit_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{name} `{mail}` is not a valid e-mail address"
        )))
    }
}

/// A directory or HR system may name people by login or employee number rather than
/// `name@domain`: accept any printable name without white space.
pub fn validate_provisioned_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid("userName is required"));
    }
    if name.chars().count() > 256 {
        return Err(Error::invalid("userName is longer than 256 characters"));
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid(
            "userName contains white space or control characters",
        ));
    }
    Ok(())
}

/// The lookup key that makes user principal names unique regardless of case.
pub fn upn_key(upn: &str) -> String {
    upn.trim().to_lowercase()
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub id: Uuid,
    pub display_name: String,
    pub description: Option<String>,
    pub source: String,
    pub anchor: Option<String>,
    pub created_at: OffsetDateTime,
    /// Last rename or membership change.
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewGroup {
    pub display_name: String,
    pub description: Option<String>,
    pub source: String,
    pub anchor: Option<String>,
}

impl NewGroup {
    pub fn normalised(mut self) -> Result<Self> {
        self.display_name = trimmed(std::mem::take(&mut self.display_name));
        if self.display_name.is_empty() {
            return Err(Error::invalid("displayName is required"));
        }
        check_len("displayName", Some(&self.display_name), 256)?;
        trim_optional(&mut self.description);
        check_len("description", self.description.as_deref(), 1024)?;
        if self.source.trim().is_empty() {
            self.source = LOCAL_SOURCE.to_owned();
        }
        Ok(self)
    }
}

/// How a request names a user: by id or by user principal name, as Graph allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    Id(Uuid),
    Upn(String),
}

impl UserRef {
    pub fn parse(value: &str) -> Result<Self> {
        let value = value.trim();
        if let Ok(id) = Uuid::parse_str(value) {
            return Ok(UserRef::Id(id));
        }
        if value.contains('@') {
            return Ok(UserRef::Upn(value.to_owned()));
        }
        Err(Error::invalid(format!(
            "`{value}` is neither a user id nor a userPrincipalName"
        )))
    }
}

impl std::fmt::Display for UserRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UserRef::Id(id) => write!(f, "{id}"),
            UserRef::Upn(upn) => f.write_str(upn),
        }
    }
}

/// The user properties a list may be filtered on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserField {
    Id,
    UserPrincipalName,
    DisplayName,
    Mail,
    AccountEnabled,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserCondition {
    Equals(UserField, String),
    StartsWith(UserField, String),
}

/// A conjunction of conditions (`$filter=a eq 'x' and startswith(b,'y')`), with paging.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    pub conditions: Vec<UserCondition>,
    /// Return users whose upn key sorts after this one (keyset paging).
    pub after: Option<String>,
    pub limit: u32,
}

/// What an administrator typed to find a user, as the store matches it (case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserSearch {
    /// Nothing typed: everyone.
    All,
    /// The start of a user principal name, of a display name or of any word in it, or of a
    /// mail address.
    Text(String),
    /// `@example.com`: users whose mail or user principal name is at a domain starting so.
    Domain(String),
}

impl UserSearch {
    /// The longest search text used; the rest is ignored.
    pub const MAX_CHARS: usize = 256;

    pub fn parse(typed: &str) -> Self {
        let text: String = typed.trim().chars().take(Self::MAX_CHARS).collect();
        match text.strip_prefix('@') {
            _ if text.is_empty() => UserSearch::All,
            Some(domain) if !domain.trim().is_empty() => {
                UserSearch::Domain(domain.trim().to_lowercase())
            }
            Some(_) => UserSearch::All,
            None => UserSearch::Text(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimmed_removes_white_space_around_only() {
        for (given, want) in [
            ("ada", "ada"),
            ("  ada lovelace\t", "ada lovelace"),
            ("\u{3000}zoë\n", "zoë"),
            ("   ", ""),
            ("", ""),
        ] {
            assert_eq!(trimmed(given.to_owned()), want, "{given:?}");
        }
    }

    #[test]
    fn upn_shapes() {
        for ok in ["a@b", "first.last@contoso.com", "zoë@exämple.org"] {
            assert!(validate_upn(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "nobody",
            "@x.com",
            "a@",
            "a b@c.com",
            "a@b@c",
            "a@.com",
            "a@b..com",
            "a\u{7}@b.c",
        ] {
            assert!(validate_upn(bad).is_err(), "{bad}");
        }
        assert!(validate_upn(&format!("{}@x.com", "a".repeat(114))).is_err());
    }

    #[test]
    fn new_user_is_trimmed_and_checked() {
        let u = NewUser {
            user_principal_name: "  ada@example.com ".into(),
            display_name: Some("  ".into()),
            mail: Some(" ada@example.com".into()),
            other_mails: vec!["".into(), "ada.home@example.net".into()],
            ..Default::default()
        }
        .normalised()
        .unwrap();
        assert_eq!(u.user_principal_name, "ada@example.com");
        assert_eq!(u.display_name, None);
        assert_eq!(u.mail.as_deref(), Some("ada@example.com"));
        assert_eq!(u.other_mails, vec!["ada.home@example.net"]);
        assert_eq!(u.source, LOCAL_SOURCE);

        let bad = NewUser {
            user_principal_name: "ada@example.com".into(),
            mail: Some("Ada <ada@example.com>".into()),
            ..Default::default()
        };
        assert!(bad.normalised().is_err());
    }

    #[test]
    fn searches() {
        assert_eq!(UserSearch::parse("  "), UserSearch::All);
        assert_eq!(UserSearch::parse("@"), UserSearch::All);
        assert_eq!(
            UserSearch::parse(" @Example.COM "),
            UserSearch::Domain("example.com".into())
        );
        assert_eq!(
            UserSearch::parse("Jürgen M"),
            UserSearch::Text("Jürgen M".into())
        );
        let long = "x".repeat(300);
        assert_eq!(
            UserSearch::parse(&long),
            UserSearch::Text("x".repeat(UserSearch::MAX_CHARS))
        );
    }

    #[test]
    fn user_refs() {
        let id = Uuid::new_v4();
        assert_eq!(UserRef::parse(&id.to_string()).unwrap(), UserRef::Id(id));
        assert_eq!(
            UserRef::parse("a@b.c").unwrap(),
            UserRef::Upn("a@b.c".into())
        );
        assert!(UserRef::parse("nope").is_err());
    }
}
