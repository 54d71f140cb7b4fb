//! The part of OData `$filter` the user list supports: `eq` and `startswith` on
//! userPrincipalName, displayName, mail and id, `eq` on accountEnabled, joined by `and`.

use plugin::domain::directory::{UserCondition, UserField};
use plugin::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Open,
    Close,
    Comma,
}

fn tokenize(input: &str) -> Result<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' => {
                chars.next();
                tokens.push(Token::Close);
            }
            ',' => {
                chars.next();
                tokens.push(Token::Comma);
            }
            '\'' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return Err(invalid("a string literal is not closed")),
                        // '' inside a literal is one quote
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            s.push('\'');
                        }
                        Some('\'') => break,
                        Some(ch) => s.push(ch),
                    }
                }
                tokens.push(Token::Str(s));
            }
            c if c.is_alphanumeric() || c == '_' || c == '-' || c == '.' => {
                let mut s = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_alphanumeric() || ch == '_' || ch == '-' || ch == '.' {
                        s.push(ch);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Ident(s));
            }
            other => return Err(invalid(&format!("unexpected character `{other}`"))),
        }
    }
    Ok(tokens)
}

fn invalid(why: &str) -> Error {
    Error::invalid(format!("Invalid $filter: {why}"))
}

fn field(name: &str) -> Result<UserField> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "id" => UserField::Id,
        "userprincipalname" => UserField::UserPrincipalName,
        "displayname" => UserField::DisplayName,
        "mail" => UserField::Mail,
        "accountenabled" => UserField::AccountEnabled,
        _ => return Err(invalid(&format!("filtering on `{name}` is not supported"))),
    })
}

pub fn parse_user_filter(input: &str) -> Result<Vec<UserCondition>> {
    if input.len() > 2048 {
        return Err(invalid("the expression is too long"));
    }
    let tokens = tokenize(input)?;
    let mut conditions = Vec::new();
    let mut i = 0;
    let at = |i: usize| tokens.get(i);
    loop {
        match (at(i), at(i + 1)) {
            (Some(Token::Ident(f)), Some(Token::Open)) if f.eq_ignore_ascii_case("startswith") => {
                let (
                    Some(Token::Ident(name)),
                    Some(Token::Comma),
                    Some(Token::Str(value)),
                    Some(Token::Close),
                ) = (at(i + 2), at(i + 3), at(i + 4), at(i + 5))
                else {
                    return Err(invalid("expected startswith(property,'value')"));
                };
                let f = field(name)?;
                if f == UserField::AccountEnabled {
                    return Err(invalid("startswith needs a text property"));
                }
                conditions.push(UserCondition::StartsWith(f, value.clone()));
                i += 6;
            }
            (Some(Token::Ident(name)), Some(Token::Ident(op))) if op.eq_ignore_ascii_case("eq") => {
                let f = field(name)?;
                let value = match (f, at(i + 2)) {
                    (UserField::AccountEnabled, Some(Token::Ident(b)))
                        if b.eq_ignore_ascii_case("true") || b.eq_ignore_ascii_case("false") =>
                    {
                        b.to_ascii_lowercase()
                    }
                    (UserField::AccountEnabled, _) => {
                        return Err(invalid("accountEnabled compares with true or false"));
                    }
                    (_, Some(Token::Str(s))) => s.clone(),
                    _ => return Err(invalid("expected a quoted value after eq")),
                };
                conditions.push(UserCondition::Equals(f, value));
                i += 3;
            }
            _ => {
                return Err(invalid(
                    "expected `property eq 'value'` or `startswith(property,'value')`",
                ));
            }
        }
        match at(i) {
            None => break,
            Some(Token::Ident(and)) if and.eq_ignore_ascii_case("and") => i += 1,
            Some(_) => return Err(invalid("only `and` may join conditions")),
        }
        if conditions.len() > 8 {
            return Err(invalid("at most 8 conditions"));
        }
    }
    Ok(conditions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use UserCondition::*;
    use UserField::*;

    #[test]
    fn accepted_filters() {
        let cases: Vec<(&str, Vec<UserCondition>)> = vec![
            (
                "userPrincipalName eq 'ada@x.io'",
                vec![Equals(UserPrincipalName, "ada@x.io".into())],
            ),
            (
                "userprincipalname EQ 'o''brien@x.io'",
                vec![Equals(UserPrincipalName, "o'brien@x.io".into())],
            ),
            (
                "startswith(displayName,'Ad')",
                vec![StartsWith(DisplayName, "Ad".into())],
            ),
            (
                "startswith(mail, 'a') and accountEnabled eq false",
                vec![
                    StartsWith(Mail, "a".into()),
                    Equals(AccountEnabled, "false".into()),
                ],
            ),
            (
                "id eq '9d0f1c9e-5b0e-4a53-9e38-1f1f6b0c2a11'",
                vec![Equals(Id, "9d0f1c9e-5b0e-4a53-9e38-1f1f6b0c2a11".into())],
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_user_filter(input).unwrap(), expected, "{input}");
        }
    }

    #[test]
    fn rejected_filters() {
        for input in [
            "",
            "userPrincipalName eq",
            "userPrincipalName eq 'open",
            "userPrincipalName ne 'x'",
            "jobTitle eq 'x'",
            "userPrincipalName eq 'a' or mail eq 'b'",
            "startswith(accountEnabled,'t')",
            "accountEnabled eq 'true'",
            "startswith(mail 'a')",
            "mail eq 'a' and",
            "mail eq 'a' ; drop",
        ] {
            let err = parse_user_filter(input).unwrap_err().to_string();
            assert!(err.starts_with("Invalid $filter"), "{input}: {err}");
        }
    }
}
