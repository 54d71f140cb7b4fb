//! From a SCIM User to the platform's user record: which attribute fills which field. Hire date
//! and personal e-mail come from configurable attribute paths, since every HR system puts them
//! somewhere else.

use plugin::domain::directory::NewUser;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use super::resource::{get_ci, user_schema, value_at};
use crate::error::{Error, Result, ScimType};
use crate::scim::filter::{AttrPath, PatchPath, matches_element, parse_path};
use crate::scim::schema::PatchSchema;

/// Where the onboarding fields are found. Paths use the PATCH path grammar, so a filter may
/// pick one value: `emails[type eq "home"].value`.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub personal_email: PatchPath,
    pub hire_date: PatchPath,
}

pub const DEFAULT_PERSONAL_EMAIL: &str =
    "urn:ietf:params:scim:schemas:extension:tapbridge:2.0:User:personalEmail";
pub const DEFAULT_HIRE_DATE: &str =
    "urn:ietf:params:scim:schemas:extension:tapbridge:2.0:User:hireDate";

impl Mapping {
    /// Parses both paths; an error names the path that is wrong.
    pub fn new(personal_email: &str, hire_date: &str) -> std::result::Result<Mapping, String> {
        let parse = |what: &str, p: &str| {
            let parsed = parse_path(p).map_err(|e| format!("{what} `{p}`: {e}"))?;
            if user_schema().resolve(&parsed.attr).is_none() {
                return Err(format!(
                    "{what} `{p}` names no attribute of the User schemas"
                ));
            }
            if user_schema().is_write_only(&parsed.attr) {
                return Err(format!(
                    "{what} `{p}` names a write-only attribute, which tapbridge never keeps"
                ));
            }
            Ok(parsed)
        };
        Ok(Mapping {
            personal_email: parse("personal e-mail path", personal_email)?,
            hire_date: parse("hire date path", hire_date)?,
        })
    }
}

impl Default for Mapping {
    fn default() -> Self {
        // The defaults are constants known to parse.
        Mapping::new(DEFAULT_PERSONAL_EMAIL, DEFAULT_HIRE_DATE)
            .unwrap_or_else(|e| unreachable!("{e}"))
    }
}

/// The value a PATCH-style path selects, if any.
pub fn extract<'v>(resource: &'v Value, path: &PatchPath) -> Option<&'v Value> {
    let schema = user_schema();
    let Some(filter) = &path.filter else {
        return value_at(resource, &path.attr, schema);
    };
    let resolved = schema.resolve(&AttrPath {
        sub_attr: None,
        ..path.attr.clone()
    })?;
    let container = if resolved.extension {
        get_ci(resource, resolved.schema)?
    } else {
        resource
    };
    let values = get_ci(container, &resolved.attribute.name)?.as_array()?;
    let attribute = AttrPath::new(resolved.attribute.name.clone());
    let case_exact = |p: &AttrPath| schema.is_case_exact(p);
    let element = values
        .iter()
        .find(|v| matches_element(filter, &attribute, v, &case_exact))?;
    match &path.attr.sub_attr {
        Some(sub) => get_ci(element, sub),
        None => get_ci(element, "value").or(Some(element)),
    }
    .filter(|v| !v.is_null())
}

fn text(resource: &Value, path: &str) -> Option<String> {
    let path = AttrPath::parse(path).ok()?;
    value_at(resource, &path, user_schema())
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// An address the platform will accept as an e-mail address.
fn looks_like_mail(value: &str) -> bool {
    NewUser {
        user_principal_name: "x@x".into(),
        mail: Some(value.to_owned()),
        ..Default::default()
    }
    .normalised()
    .is_ok()
}

/// A date-time, or a plain date (HR systems send `2026-12-01`) read as midnight UTC.
fn parse_date(value: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(value, &Rfc3339) {
        return Some(t);
    }
    let date = time::Date::parse(value, format_description!("[year]-[month]-[day]")).ok()?;
    Some(date.midnight().assume_utc())
}

/// The platform fields of a normalised SCIM User. The manager is resolved by the platform,
/// inside the write (it must be a user of the same source).
pub fn to_new_user(resource: &Value, source: &str, mapping: &Mapping) -> Result<NewUser> {
    let user_name = text(resource, "userName")
        .ok_or_else(|| Error::bad(ScimType::InvalidValue, "userName is required"))?;
    let mut emails: Vec<(bool, bool, String)> = get_ci(resource, "emails")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|e| {
                    let value = get_ci(e, "value")?.as_str()?.trim().to_owned();
                    let primary = get_ci(e, "primary").and_then(Value::as_bool) == Some(true);
                    let work = get_ci(e, "type")
                        .and_then(Value::as_str)
                        .is_some_and(|t| t.eq_ignore_ascii_case("work"));
                    (!value.is_empty()).then_some((primary, work, value))
                })
                .collect()
        })
        .unwrap_or_default();
    // The primary address, else the work one, else the first, is the work mail.
    emails.sort_by_key(|(primary, work, _)| (!primary, !work));
    // Only real addresses reach the user record (mail is sent to them); anything else a client
    // stores in these attributes stays in its SCIM resource.
    let mut addresses = emails
        .into_iter()
        .map(|(_, _, v)| v)
        .filter(|v| looks_like_mail(v));
    let mail = addresses.next();
    let other_mails: Vec<String> = addresses.collect();
    let personal_email = extract(resource, &mapping.personal_email)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|v| looks_like_mail(v))
        .map(str::to_owned);
    // A value that is not a date stays in the SCIM resource but cannot schedule onboarding;
    // it is reported rather than refused, as SCIM gives string attributes no format.
    let employee_hire_date = match extract(resource, &mapping.hire_date).and_then(Value::as_str) {
        None => None,
        Some(s) => {
            let parsed = parse_date(s.trim());
            if parsed.is_none() {
                tracing::warn!(user = %user_name, "hire date is not a date; ignored for onboarding");
            }
            parsed
        }
    };
    let active = get_ci(resource, "active")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    Ok(NewUser {
        user_principal_name: user_name,
        display_name: text(resource, "displayName").or_else(|| text(resource, "name.formatted")),
        given_name: text(resource, "name.givenName"),
        surname: text(resource, "name.familyName"),
        mail,
        other_mails,
        personal_email,
        // Only a plausible BCP 47 tag picks the mail's language; other text stays SCIM data.
        preferred_language: text(resource, "preferredLanguage").filter(|l| {
            l.len() <= 35
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        }),
        account_enabled: active,
        source: source.to_owned(),
        anchor: None,
        manager_id: None,
        employee_hire_date,
        roles: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_from_a_scim_user() {
        let r = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada@example.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace", "formatted": "Ada Lovelace"},
            "emails": [
                {"value": "ada@home.example", "type": "home"},
                {"value": "ada@example.com", "type": "work", "primary": true}
            ],
            "active": false,
            "urn:ietf:params:scim:schemas:extension:tapbridge:2.0:User": {"hireDate": "2026-12-01", "personalEmail": "ada@home.example"}
        });
        let u = to_new_user(&r, "scim:hr", &Mapping::default()).unwrap();
        assert_eq!(u.user_principal_name, "ada@example.com");
        assert_eq!(u.display_name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(u.mail.as_deref(), Some("ada@example.com"));
        assert_eq!(u.other_mails, vec!["ada@home.example"]);
        assert_eq!(u.personal_email.as_deref(), Some("ada@home.example"));
        assert!(!u.account_enabled);
        assert_eq!(
            u.employee_hire_date.unwrap().date().to_string(),
            "2026-12-01"
        );

        let junk = json!({"schemas": [], "userName": "j", "emails": [{"value": "not-mail"}],
            "urn:ietf:params:scim:schemas:extension:tapbridge:2.0:User": {"personalEmail": "nope"}});
        let u = to_new_user(&junk, "scim:hr", &Mapping::default()).unwrap();
        assert_eq!(
            (u.mail, u.personal_email),
            (None, None),
            "non-addresses stay out of the record"
        );

        let home = Mapping::new(r#"emails[type eq "home"].value"#, DEFAULT_HIRE_DATE).unwrap();
        let u = to_new_user(&r, "scim:hr", &home).unwrap();
        assert_eq!(u.personal_email.as_deref(), Some("ada@home.example"));
        assert!(Mapping::new("nonsense[", DEFAULT_HIRE_DATE).is_err());
        assert!(Mapping::new("shoeSize", DEFAULT_HIRE_DATE).is_err());
        assert!(Mapping::new(DEFAULT_PERSONAL_EMAIL, "password").is_err());
    }
}
