//! From a directory entry to the person or group tapbridge keeps: which attribute means what
//! for each kind of directory, and why an entry cannot be imported (it is then quarantined).

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use plugin::domain::directory::NewUser;

use super::config::{AttributeOverrides, Kind};
use super::controls::guid::ObjectGuid;
use super::dn;
use super::entry::Attributes;

/// AD `userAccountControl` ACCOUNTDISABLE.
pub const UAC_ACCOUNT_DISABLE: i64 = 0x2;

/// Attribute names for one source: the kind's defaults with the configured overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeMap {
    pub kind: Kind,
    pub anchor: String,
    pub user_name: String,
    pub login: String,
    pub display_name: String,
    pub given_name: String,
    pub surname: String,
    pub mail: String,
    pub other_mails: String,
    pub personal_email: String,
    pub manager: String,
    pub hire_date: String,
    pub group_name: String,
}

impl AttributeMap {
    pub fn new(kind: Kind, o: &AttributeOverrides) -> Self {
        let (anchor, user_name, login, other_mails) = match kind {
            Kind::Openldap => ("entryUUID", "mail", "uid", ""),
            Kind::Ad => (
                "objectGUID",
                "userPrincipalName",
                "sAMAccountName",
                "proxyAddresses",
            ),
            Kind::Generic => ("nsUniqueId", "mail", "uid", ""),
        };
        let pick = |v: &Option<String>, d: &str| v.clone().unwrap_or_else(|| d.to_owned());
        AttributeMap {
            kind,
            anchor: pick(&o.anchor, anchor),
            user_name: pick(&o.user_name, user_name),
            login: pick(&o.login, login),
            display_name: pick(&o.display_name, "displayName"),
            given_name: pick(&o.given_name, "givenName"),
            surname: pick(&o.surname, "sn"),
            mail: pick(&o.mail, "mail"),
            other_mails: pick(&o.other_mails, other_mails),
            personal_email: pick(&o.personal_email, ""),
            manager: pick(&o.manager, "manager"),
            hire_date: pick(&o.hire_date, ""),
            group_name: pick(&o.group_name, "cn"),
        }
    }

    pub fn default_user_filter(&self) -> &'static str {
        match self.kind {
            Kind::Openldap => "(objectClass=inetOrgPerson)",
            Kind::Ad => "(&(objectCategory=person)(objectClass=user))",
            Kind::Generic => "(objectClass=person)",
        }
    }

    pub fn default_group_filter(&self) -> &'static str {
        match self.kind {
            Kind::Ad => "(objectClass=group)",
            _ => {
                "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))"
            }
        }
    }

    /// The attributes a user search asks for.
    pub fn user_attributes(&self) -> Vec<String> {
        let mut v: Vec<String> = [
            &self.anchor,
            &self.user_name,
            &self.login,
            &self.display_name,
            &self.given_name,
            &self.surname,
            &self.mail,
            &self.other_mails,
            &self.personal_email,
            &self.manager,
            &self.hire_date,
            "cn",
            "objectClass",
        ]
        .into_iter()
        .filter(|a| !a.is_empty())
        .map(|a| a.to_owned())
        .collect();
        if self.kind == Kind::Ad {
            v.push("userAccountControl".into());
        }
        v.sort_by_key(|a| a.to_ascii_lowercase());
        v.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        v
    }

    /// The attributes a group search asks for.
    pub fn group_attributes(&self) -> Vec<String> {
        let mut v = vec![
            self.anchor.clone(),
            self.group_name.clone(),
            "description".into(),
            "member".into(),
            "uniqueMember".into(),
            "memberUid".into(),
            "objectClass".into(),
        ];
        v.sort_by_key(|a| a.to_ascii_lowercase());
        v.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        v
    }

    /// Whether an entry (from a combined delta search) is a group.
    pub fn is_group(&self, e: &impl Attributes) -> bool {
        ["groupOfNames", "groupOfUniqueNames", "posixGroup", "group"]
            .iter()
            .any(|c| e.has_object_class(c))
    }

    /// The anchor in the form stored in `users.anchor`: objectGUID as GUID text, others as
    /// their (lower-cased) text.
    pub fn anchor_of(&self, e: &impl Attributes) -> Result<String, String> {
        let raw = e
            .values(&self.anchor)
            .next()
            .ok_or_else(|| format!("no {} (the anchor)", self.anchor))?;
        if self.anchor.eq_ignore_ascii_case("objectGUID") {
            return ObjectGuid::from_slice(raw)
                .map(|g| g.to_string())
                .map_err(|e| format!("objectGUID: {e}"));
        }
        let text = std::str::from_utf8(raw)
            .map_err(|_| format!("{} is not text", self.anchor))?
            .trim()
            .to_lowercase();
        if text.is_empty() {
            return Err(format!("{} is empty", self.anchor));
        }
        Ok(text)
    }
}

/// The mapped forms, as the platform applies them.
pub use plugin::domain::directory_sync::{Rejected, SourceGroup, SourceUser};

pub fn map_user(
    map: &AttributeMap,
    source: &str,
    e: &impl Attributes,
) -> Result<SourceUser, Rejected> {
    let anchor = map.anchor_of(e);
    let reject = |reason: String| Rejected {
        dn: e.dn().to_owned(),
        anchor: anchor.as_ref().ok().cloned(),
        reason,
    };
    let anchor = anchor.clone().map_err(&reject)?;
    let text = |attr: &str| -> Result<Option<String>, Rejected> {
        Ok(e.text(attr).map_err(&reject)?.map(str::to_owned))
    };
    let user_name = e
        .text(&map.user_name)
        .map_err(&reject)?
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| reject(format!("no usable name: {} is missing", map.user_name)))?;
    let mut other_mails = Vec::new();
    for v in e.texts(&map.other_mails).map_err(&reject)? {
        // AD proxyAddresses: `SMTP:` primary, `smtp:` aliases, other address types skipped.
        match v.split_once(':') {
            Some((t, addr)) if t.eq_ignore_ascii_case("smtp") => other_mails.push(addr.to_owned()),
            Some((t, _)) if !t.contains('@') => {}
            _ => other_mails.push(v.to_owned()),
        }
    }
    let mail = text(&map.mail)?;
    other_mails.retain(|m| Some(m.as_str()) != mail.as_deref());
    let enabled = match map.kind {
        Kind::Ad => match text("userAccountControl")? {
            None => true,
            Some(v) => {
                let flags: i64 = v
                    .trim()
                    .parse()
                    .map_err(|_| reject(format!("userAccountControl `{v}` is not a number")))?;
                flags & UAC_ACCOUNT_DISABLE == 0
            }
        },
        _ => true,
    };
    let hire_date = match text(&map.hire_date)? {
        None => None,
        Some(v) => Some(
            parse_date(&v)
                .ok_or_else(|| reject(format!("{} `{v}` is not a date", map.hire_date)))?,
        ),
    };
    let display_name = match text(&map.display_name)? {
        Some(name) => Some(name),
        None => text("cn")?,
    };
    let profile = NewUser {
        user_principal_name: user_name,
        display_name,
        given_name: text(&map.given_name)?,
        surname: text(&map.surname)?,
        mail,
        other_mails,
        personal_email: text(&map.personal_email)?,
        account_enabled: enabled,
        source: source.to_owned(),
        anchor: Some(anchor.clone()),
        manager_id: None,
        employee_hire_date: hire_date,
        ..Default::default()
    }
    .normalised()
    .map_err(|err| reject(err.to_string()))?;
    let manager_dn = e.text(&map.manager).map_err(&reject)?.map(dn::normalise);
    let login = e
        .text(&map.login)
        .map_err(&reject)?
        .map(|l| l.trim().to_owned());
    let dn_key = dn::normalise(e.dn());
    let fingerprint = fingerprint(&[
        &dn_key,
        login.as_deref().unwrap_or(""),
        &profile.user_principal_name,
        profile.display_name.as_deref().unwrap_or(""),
        profile.given_name.as_deref().unwrap_or(""),
        profile.surname.as_deref().unwrap_or(""),
        profile.mail.as_deref().unwrap_or(""),
        &profile.other_mails.join("\u{1e}"),
        profile.personal_email.as_deref().unwrap_or(""),
        if profile.account_enabled { "1" } else { "0" },
        manager_dn.as_deref().unwrap_or(""),
        &profile
            .employee_hire_date
            .map(|d| d.unix_timestamp().to_string())
            .unwrap_or_default(),
    ]);
    Ok(SourceUser {
        anchor,
        dn: e.dn().to_owned(),
        dn_key,
        login,
        profile,
        manager_dn,
        fingerprint,
    })
}

pub fn map_group(map: &AttributeMap, e: &impl Attributes) -> Result<SourceGroup, Rejected> {
    let anchor = map.anchor_of(e);
    let reject = |reason: String| Rejected {
        dn: e.dn().to_owned(),
        anchor: anchor.as_ref().ok().cloned(),
        reason,
    };
    let anchor = anchor.clone().map_err(&reject)?;
    let name = e
        .text(&map.group_name)
        .map_err(&reject)?
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| dn::first_value(e.dn()))
        .ok_or_else(|| reject("no usable group name".into()))?;
    let description = e.text("description").map_err(&reject)?.map(str::to_owned);
    let mut member_dns: Vec<String> = e
        .texts("member")
        .map_err(&reject)?
        .into_iter()
        .chain(e.texts("uniquemember").map_err(&reject)?)
        .map(|m| dn::normalise(dn::strip_unique_id(m)))
        .collect();
    member_dns.sort();
    member_dns.dedup();
    let mut member_uids: Vec<String> = e
        .texts("memberuid")
        .map_err(&reject)?
        .into_iter()
        .map(|u| u.trim().to_owned())
        .collect();
    member_uids.sort();
    member_uids.dedup();
    let dn_key = dn::normalise(e.dn());
    // The member lists are hashed as they are, not joined into one string first: a group of
    // everyone would otherwise be copied whole once more.
    let mut f = Fingerprint::default();
    f.part(&dn_key);
    f.part(&name);
    f.part(description.as_deref().unwrap_or(""));
    f.joined(&member_dns, "\u{1e}");
    f.joined(&member_uids, "\u{1e}");
    let fingerprint = f.finish();
    Ok(SourceGroup {
        anchor,
        dn_key,
        name,
        description,
        member_dns,
        member_uids,
        fingerprint,
    })
}

fn fingerprint(parts: &[&str]) -> String {
    let mut f = Fingerprint::default();
    for p in parts {
        f.part(p);
    }
    f.finish()
}

/// The first 128 bits of SHA-256 over the parts, each followed by 0x1f, in hex.
#[derive(Default)]
struct Fingerprint(Sha256);

impl Fingerprint {
    fn part(&mut self, p: &str) {
        self.0.update(p.as_bytes());
        self.0.update([0x1f]);
    }

    /// One part made of `items` joined by `separator`, hashed without joining them.
    fn joined(&mut self, items: &[String], separator: &str) {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.0.update(separator.as_bytes());
            }
            self.0.update(item.as_bytes());
        }
        self.0.update([0x1f]);
    }

    fn finish(self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(32);
        for b in self.0.finalize().iter().take(16) {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        out
    }
}

/// LDAP GeneralizedTime (`20260301090000Z`, fractions and offsets allowed), RFC 3339, or a
/// plain `YYYY-MM-DD` (midnight UTC).
pub fn parse_date(v: &str) -> Option<OffsetDateTime> {
    let v = v.trim();
    if let Some(t) = plugin::domain::timefmt::parse_rfc3339(v) {
        return Some(t);
    }
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if v.len() == 10 && v.as_bytes().get(4) == Some(&b'-') && v.as_bytes().get(7) == Some(&b'-') {
        return plugin::domain::timefmt::parse_rfc3339(&format!("{v}T00:00:00Z"));
    }
    // GeneralizedTime: YYYYMMDDHH[MM[SS]][.fff](Z|±HHMM)
    let (body, zone) = match v.find(['Z', '+', '-']) {
        Some(i) => (v.get(..i)?, v.get(i..)?),
        None => return None,
    };
    let body = body.split(['.', ',']).next()?;
    if body.len() < 10 || !digits(body) {
        return None;
    }
    let part = |r: std::ops::Range<usize>| body.get(r).unwrap_or("00");
    let zone = match zone {
        "Z" => "Z".to_owned(),
        // `+0100` → `+01:00`
        z if z.len() == 5 && digits(z.get(1..)?) => format!("{}:{}", z.get(..3)?, z.get(3..)?),
        _ => return None,
    };
    plugin::domain::timefmt::parse_rfc3339(&format!(
        "{}-{}-{}T{}:{}:{}{}",
        part(0..4),
        part(4..6),
        part(6..8),
        part(8..10),
        part(10..12),
        part(12..14),
        zone
    ))
}

#[cfg(test)]
mod tests {
    use super::super::entry::Entry;
    use super::*;

    #[test]
    fn fingerprints_keep_their_form() {
        // Stored fingerprints decide "unchanged": their form must never drift.
        assert_eq!(fingerprint(&["a", "b"]), "023b8059a924f728a2155e4cc8b90738");
        // A group's member lists hash as if joined.
        let g = map_group(
            &openldap(),
            &Entry::new("cn=G,dc=x")
                .with("entryUUID", &["g1"])
                .with("member", &["uid=b,dc=x", "uid=a,dc=x"])
                .with("memberUid", &["z", "y"]),
        )
        .unwrap();
        let joined = fingerprint(&[
            "cn=g,dc=x",
            "G",
            "",
            "uid=a,dc=x\u{1e}uid=b,dc=x",
            "y\u{1e}z",
        ]);
        assert_eq!(g.fingerprint, joined);
        assert_eq!(g.fingerprint, "318bedd04d6a3153524893f490ca1bcc");
    }

    fn openldap() -> AttributeMap {
        AttributeMap::new(Kind::Openldap, &AttributeOverrides::default())
    }

    fn person(uid: &str) -> Entry {
        Entry::new(format!("uid={uid},ou=People,dc=example,dc=com"))
            .with("entryUUID", &["6F1C9D0E-2B5A-4C3D-8E9F-0A1B2C3D4E5F"])
            .with("objectClass", &["inetOrgPerson"])
            .with("uid", &[uid])
            .with("mail", &[&format!("{uid}@example.com")])
            .with("cn", &["Ada Lovelace"])
            .with("sn", &["Lovelace"])
    }

    #[test]
    fn maps_an_openldap_person() {
        let u = map_user(&openldap(), "ldap:corp", &person("ada")).unwrap();
        assert_eq!(u.anchor, "6f1c9d0e-2b5a-4c3d-8e9f-0a1b2c3d4e5f");
        assert_eq!(u.profile.user_principal_name, "ada@example.com");
        assert_eq!(u.profile.display_name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(u.profile.source, "ldap:corp");
        assert_eq!(u.login.as_deref(), Some("ada"));
        assert!(u.profile.account_enabled);
        assert_eq!(u.dn_key, "uid=ada,ou=people,dc=example,dc=com");
    }

    #[test]
    fn rejections_name_the_reason() {
        let m = openldap();
        let cases: Vec<(Entry, &str)> = vec![
            (Entry::new("uid=x,dc=y").with("mail", &["x@y.z"]), "anchor"),
            (
                Entry::new("uid=x,dc=y").with("entryUUID", &["u1"]),
                "no usable name",
            ),
            (
                person("bad").with("displayName", &["a\u{7}b"]),
                "control characters",
            ),
            (
                Entry::new("uid=x,dc=y")
                    .with("entryUUID", &["u1"])
                    .with("mail", &["not an address"]),
                "userName",
            ),
            (
                Entry::new("uid=x,dc=y")
                    .with("entryUUID", &["u1"])
                    .with_binary("mail", &[0xff, 0xfe]),
                "UTF-8",
            ),
        ];
        for (e, why) in cases {
            let r = map_user(&m, "ldap:corp", &e).unwrap_err();
            assert!(r.reason.contains(why), "{why}: {}", r.reason);
        }
        let r = map_user(
            &m,
            "ldap:corp",
            &person("bad").with("displayName", &["a\u{7}b"]),
        )
        .unwrap_err();
        assert!(r.anchor.is_some(), "the anchor is kept for a bad entry");
    }

    #[test]
    fn active_directory_disable_bit_guid_and_proxy_addresses() {
        let m = AttributeMap::new(Kind::Ad, &AttributeOverrides::default());
        let guid = [
            0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff,
        ];
        let e = |uac: &str| {
            Entry::new("CN=Jane Doe,OU=Staff,DC=corp,DC=example")
                .with_binary("objectGUID", &guid)
                .with("userPrincipalName", &["jane@corp.example"])
                .with("mail", &["jane@corp.example"])
                .with(
                    "proxyAddresses",
                    &[
                        "SMTP:jane@corp.example",
                        "smtp:jd@corp.example",
                        "X500:/o=x",
                    ],
                )
                .with("userAccountControl", &[uac])
        };
        let on = map_user(&m, "ldap:ad", &e("512")).unwrap();
        assert_eq!(on.anchor, "00112233-4455-6677-8899-aabbccddeeff");
        assert!(on.profile.account_enabled);
        assert_eq!(on.profile.other_mails, vec!["jd@corp.example"]);
        assert!(
            !map_user(&m, "ldap:ad", &e("514"))
                .unwrap()
                .profile
                .account_enabled
        );
        assert!(map_user(&m, "ldap:ad", &e("many")).is_err());
        assert_ne!(
            on.fingerprint,
            map_user(&m, "ldap:ad", &e("514")).unwrap().fingerprint
        );
    }

    #[test]
    fn groups_of_every_shape() {
        let m = openldap();
        let g = map_group(
            &m,
            &Entry::new("cn=Staff,ou=Groups,dc=x")
                .with("entryUUID", &["g1"])
                .with(
                    "member",
                    &["UID=Ada,OU=People,DC=x", "uid=ada,ou=people,dc=x"],
                )
                .with("uniqueMember", &["uid=bob,ou=People,dc=x#'0101'B"])
                .with("memberUid", &["carol", " carol "]),
        )
        .unwrap();
        assert_eq!(g.name, "Staff");
        assert_eq!(
            g.member_dns,
            vec!["uid=ada,ou=people,dc=x", "uid=bob,ou=people,dc=x"]
        );
        assert_eq!(g.member_uids, vec!["carol"]);
    }

    #[test]
    fn dates() {
        for (v, unix) in [
            ("20260301090000Z", Some(1_772_355_600)),
            ("20260301090000.0Z", Some(1_772_355_600)),
            ("20260301100000+0100", Some(1_772_355_600)),
            ("2026-03-01", Some(1_772_323_200)),
            ("2026-03-01T09:00:00Z", Some(1_772_355_600)),
            ("yesterday", None),
            ("2026", None),
            ("20261301000000Z", None),
        ] {
            assert_eq!(parse_date(v).map(|d| d.unix_timestamp()), unix, "{v}");
        }
    }
}
