use serde_json::{Number, Value, json};

use super::*;

mod proptests;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn parse(input: &str) -> Filter {
    match parse_filter(input) {
        Ok(filter) => filter,
        Err(e) => panic!("{input:?} should parse: {e}"),
    }
}

fn path(name: &str) -> AttrPath {
    match AttrPath::parse(name) {
        Ok(p) => p,
        Err(e) => panic!("{name:?} should parse: {e}"),
    }
}

fn pr(name: &str) -> Filter {
    Filter::Present(path(name))
}

#[test]
fn parses_to_canonical_form() {
    let cases = [
        (r#"userName eq "bjensen""#, r#"userName eq "bjensen""#),
        (
            "  userName   EQ   \"bjensen\"  ",
            r#"userName eq "bjensen""#,
        ),
        (r#"userName eq"bjensen""#, r#"userName eq "bjensen""#),
        ("\tuserName\neq\r\n\"x\"", r#"userName eq "x""#),
        (
            r#"name.familyName co "O'Malley""#,
            r#"name.familyName co "O'Malley""#,
        ),
        (r#"userName sw "J""#, r#"userName sw "J""#),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
        ),
        ("title pr", "title pr"),
        ("TITLE PR", "TITLE pr"),
        (
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        ),
        (
            r#"meta.lastModified GE "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
        ),
        ("a pr and b pr or c pr", "a pr and b pr or c pr"),
        ("a pr or b pr and c pr", "a pr or b pr and c pr"),
        ("a pr AND b pr OR c pr", "a pr and b pr or c pr"),
        ("(a pr or b pr) and c pr", "(a pr or b pr) and c pr"),
        ("a pr and (b pr or c pr)", "a pr and (b pr or c pr)"),
        ("a pr and (b pr and c pr)", "a pr and (b pr and c pr)"),
        ("(a pr and b pr) and c pr", "(a pr and b pr) and c pr"),
        ("a pr or (b pr or c pr)", "a pr or (b pr or c pr)"),
        ("(a pr or b pr) or c pr", "(a pr or b pr) or c pr"),
        ("a pr or b pr or c pr", "a pr or b pr or c pr"),
        (
            "a pr and b pr and c pr and d pr",
            "a pr and b pr and c pr and d pr",
        ),
        ("(a pr and b pr) or c pr", "a pr and b pr or c pr"),
        ("((a pr))", "a pr"),
        ("not(a pr)", "not (a pr)"),
        ("NOT (a pr or b pr)", "not (a pr or b pr)"),
        ("not (a pr) and not (b pr)", "not (a pr) and not (b pr)"),
        (
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
        ),
        (
            r#"emails[type eq "work" and value co "@example.com"]"#,
            r#"emails[type eq "work" and value co "@example.com"]"#,
        ),
        (
            r#"emails[type eq "work" and primary eq true]"#,
            r#"emails[type eq "work" and primary eq true]"#,
        ),
        (
            r#"emails[ type eq "work" ] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            r#"emails[type eq "work"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
        ),
        (
            r#"emails[not (type eq "work")]"#,
            r#"emails[not (type eq "work")]"#,
        ),
        (
            r#"emails[type eq "work"].value eq "x""#,
            r#"emails[type eq "work" and value eq "x"]"#,
        ),
        (
            r#"emails[type eq "work" or type eq "home"].value pr"#,
            r#"emails[(type eq "work" or type eq "home") and value pr]"#,
        ),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"]"#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"]"#,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915""#,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915""#,
        ),
        (
            r#"members.$ref eq "https://x/Users/1""#,
            r#"members.$ref eq "https://x/Users/1""#,
        ),
        (
            r#"x eq "a\"b\\c\n\u00e9\ud83d\ude00""#,
            "x eq \"a\\\"b\\\\c\\n\u{e9}\u{1f600}\"",
        ),
        (r#"x eq "\/\b\f\t\u0001""#, r#"x eq "/\b\f\t\u0001""#),
        ("x eq 42", "x eq 42"),
        ("x eq -7", "x eq -7"),
        ("x gt 1.25", "x gt 1.25"),
        ("x lt -1.5e3", "x lt -1500.0"),
        ("x eq 0", "x eq 0"),
        ("x eq 18446744073709551615", "x eq 18446744073709551615"),
        ("x eq TRUE", "x eq true"),
        ("x eq False", "x eq false"),
        ("x ne NULL", "x ne null"),
        // Keywords are only keywords where the grammar expects one.
        ("not pr", "not pr"),
        ("and pr and or pr", "and pr and or pr"),
        (r#"pr eq "pr""#, r#"pr eq "pr""#),
        ("not[a pr]", "not[a pr]"),
    ];
    for (input, expected) in cases {
        let filter = parse(input);
        assert_eq!(filter.to_string(), expected, "display of {input:?}");
        assert_eq!(parse(expected), filter, "re-parse of {expected:?}");
    }
}

#[test]
fn builds_the_expected_tree() {
    let cases: Vec<(&str, Filter)> = vec![
        (
            "a pr or b pr and c pr",
            Filter::or(pr("a"), Filter::and(pr("b"), pr("c"))),
        ),
        (
            "a pr and b pr or c pr",
            Filter::or(Filter::and(pr("a"), pr("b")), pr("c")),
        ),
        (
            "a pr or b pr or c pr",
            Filter::Or(Operands::with_rest(pr("a"), pr("b"), [pr("c")])),
        ),
        (
            "a pr and b pr and c pr",
            Filter::And(Operands::with_rest(pr("a"), pr("b"), [pr("c")])),
        ),
        (
            "(a pr and b pr) and c pr",
            Filter::and(Filter::and(pr("a"), pr("b")), pr("c")),
        ),
        (
            "a pr and b pr or c pr and d pr or e pr",
            Filter::Or(Operands::with_rest(
                Filter::and(pr("a"), pr("b")),
                Filter::and(pr("c"), pr("d")),
                [pr("e")],
            )),
        ),
        (
            r#"emails[type eq "work" and primary eq true].value pr"#,
            Filter::value_path(
                path("emails"),
                Filter::And(Operands::with_rest(
                    Filter::compare(
                        path("type"),
                        CompareOp::Eq,
                        CompValue::String("work".into()),
                    ),
                    Filter::compare(path("primary"), CompareOp::Eq, CompValue::Bool(true)),
                    [pr("value")],
                )),
            ),
        ),
        ("not (a pr) and b pr", Filter::and(!pr("a"), pr("b"))),
        ("not (a pr and b pr)", !Filter::and(pr("a"), pr("b"))),
        (
            r#"emails[type eq "work"]"#,
            Filter::value_path(
                path("emails"),
                Filter::compare(
                    path("type"),
                    CompareOp::Eq,
                    CompValue::String("work".into()),
                ),
            ),
        ),
        (
            r#"emails[type eq "work"].value sw "b""#,
            Filter::value_path(
                path("emails"),
                Filter::and(
                    Filter::compare(
                        path("type"),
                        CompareOp::Eq,
                        CompValue::String("work".into()),
                    ),
                    Filter::compare(path("value"), CompareOp::Sw, CompValue::String("b".into())),
                ),
            ),
        ),
        (
            "score ge 1.5",
            Filter::compare(
                path("score"),
                CompareOp::Ge,
                CompValue::Number(Number::from_f64(1.5).unwrap_or_else(|| 0.into())),
            ),
        ),
        (
            "active eq true",
            Filter::compare(path("active"), CompareOp::Eq, CompValue::Bool(true)),
        ),
        (
            "x eq null",
            Filter::compare(path("x"), CompareOp::Eq, CompValue::Null),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(parse(input), expected, "{input}");
    }
}

#[test]
fn splits_urn_prefixed_paths() {
    let cases = [
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            Some(ENTERPRISE),
            "manager",
            Some("value"),
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            Some(ENTERPRISE),
            "employeeNumber",
            None,
        ),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:name.familyName",
            Some("urn:ietf:params:scim:schemas:core:2.0:User"),
            "name",
            Some("familyName"),
        ),
        ("name.familyName", None, "name", Some("familyName")),
        ("userName", None, "userName", None),
        ("members.$ref", None, "members", Some("$ref")),
        ("x-y_z9", None, "x-y_z9", None),
    ];
    for (input, urn, name, sub) in cases {
        let p = path(input);
        assert_eq!(p.urn.as_deref(), urn, "{input}");
        assert_eq!(p.name, name, "{input}");
        assert_eq!(p.sub_attr.as_deref(), sub, "{input}");
        assert_eq!(p.to_string(), input);
    }
}

/// The start of a possibly huge input, for assertion messages.
fn short(input: &str) -> String {
    input.chars().take(60).collect()
}

#[test]
fn rejects_invalid_filters() {
    let nested_ok = format!("{}a pr{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert!(
        parse_filter(&nested_ok).is_ok(),
        "{MAX_DEPTH} levels are allowed"
    );
    let too_deep = format!(
        "{}a pr{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    let too_deep_not = format!(
        "{}a pr{}",
        "not (".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    let hostile_depth = "(".repeat(MAX_INPUT_LEN);
    let too_long = format!("userName eq \"{}\"", "x".repeat(MAX_INPUT_LEN));
    let cases: Vec<(&str, &str)> = vec![
        ("", "empty"),
        ("   ", "empty"),
        ("userName", "expected an operator"),
        ("userName eq", "expected a value"),
        (
            "userName eq bjensen",
            "expected a string, number, true, false or null",
        ),
        (r#"userName xx "a""#, "unknown operator 'xx'"),
        ("(userName pr", "expected ')'"),
        ("userName pr)", "unbalanced ')'"),
        (r#"emails[type eq "work""#, "expected ']'"),
        (r#"emails[type eq "work"]]"#, "unbalanced ']'"),
        ("emails[types[x pr]]", "cannot be nested"),
        ("name.familyName[x pr]", "must follow a top-level attribute"),
        (r#"emails[urn:a:b:type eq "x"]"#, "take no schema URN"),
        (r#"emails[type.x eq "x"]"#, "cannot have their own"),
        ("a gt true", "cannot be used"),
        ("a lt null", "cannot be used"),
        ("a co 1", "cannot be used"),
        ("a sw false", "cannot be used"),
        ("a ew null", "cannot be used"),
        (r#""x" eq "y""#, "expected an attribute path"),
        ("not a pr", "unknown operator 'a'"),
        ("not (a pr", "expected ')'"),
        ("a pr and", "expected an attribute path"),
        ("a pr or", "expected an attribute path"),
        ("a pr b pr", "unexpected 'b'"),
        ("()", "expected an attribute path"),
        (r#"a eq "unterminated"#, "unterminated"),
        (r#"a eq "bad \x escape""#, "invalid string literal"),
        (r#"a eq "\ud800""#, "invalid string literal"),
        ("a eq \"tab\there\"", "invalid string literal"),
        ("a eq 01", "invalid number"),
        ("a eq 1e999", "invalid number"),
        ("a eq -", "invalid number"),
        ("a eq 1.", "invalid number"),
        ("foo:bar pr", "not a schema URN"),
        ("urn::x pr", "not a schema URN"),
        ("urn:a$b:x pr", "not a schema URN"),
        ("name.given.x pr", "more than one sub-attribute"),
        ("1abc pr", "expected an attribute path"),
        ("$ pr", "not a valid attribute path"),
        ("a pr & b pr", "unexpected character '&'"),
        ("a eq 'x'", "unexpected character '\\''"),
        ("userName eq \"x\" \u{e9}", "unexpected character"),
        (
            r#"emails[type eq "work"].value"#,
            "expected an operator after 'value'",
        ),
        (r#"emails[type eq "work"] pr"#, "unexpected 'pr'"),
        (
            r#"emails[type eq "work"].x.y pr"#,
            "not a valid sub-attribute name",
        ),
        (r#"a eq "x" .b"#, "unexpected '.'"),
        ("emails[]", "expected an attribute path"),
        (too_deep.as_str(), "nested more than"),
        (too_deep_not.as_str(), "nested more than"),
        (hostile_depth.as_str(), "nested more than"),
        (too_long.as_str(), "longer than"),
    ];
    for (input, expected) in cases {
        let shown = short(input);
        match parse_filter(input) {
            Ok(filter) => panic!("{shown:?} should not parse, got {filter}"),
            Err(e) => {
                assert!(
                    e.to_string().contains(expected),
                    "{shown:?}: {e} should mention {expected:?}"
                );
                assert_eq!(e.scim_type(), "invalidFilter");
                assert!(
                    e.position() <= input.len(),
                    "{input:?}: position {}",
                    e.position()
                );
            }
        }
    }
}

#[test]
fn reports_error_positions() {
    let cases = [
        (r#"userName xx "a""#, 9),
        ("userName eq", 11),
        ("a pr)", 4),
        ("a pr & b", 5),
        (r#"a eq "open"#, 5),
    ];
    for (input, position) in cases {
        match parse_filter(input) {
            Ok(_) => panic!("{input:?} should not parse"),
            Err(e) => assert_eq!(e.position(), position, "{input:?}: {e}"),
        }
    }
}

#[test]
fn extreme_inputs_stay_shallow() {
    // The longest chain the length limit admits is one flat node, and the deepest nesting is
    // bounded, so parsing, printing, evaluating, comparing and dropping fit in half the stack
    // a tokio worker thread gets, even in an unoptimized build.
    let term = "a pr or ";
    let mut chain = term.repeat((MAX_INPUT_LEN - 4) / term.len());
    chain.push_str("a pr");
    let nested = format!(
        "{}emails[{}value pr{}]{}",
        "not (".repeat(MAX_DEPTH / 2),
        "(".repeat(MAX_DEPTH / 2 - 1),
        ")".repeat(MAX_DEPTH / 2 - 1),
        ")".repeat(MAX_DEPTH / 2)
    );
    let handle = std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(move || {
            let resource = json!({"a": 1, "emails": [{"value": "x"}]});
            [chain, nested].map(|input| {
                let filter = parse(&input);
                let reparsed = parse(&filter.to_string());
                (reparsed == filter, matches(&filter, &resource, &|_| false))
            })
        });
    match handle.map(std::thread::JoinHandle::join) {
        Ok(Ok(results)) => assert_eq!(
            results,
            [(true, true), (true, (MAX_DEPTH / 2).is_multiple_of(2))]
        ),
        _ => panic!("extreme inputs were not handled"),
    }
}

fn sample_user() -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            ENTERPRISE
        ],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "701984",
        "userName": "bjensen@example.com",
        "name": {
            "formatted": "Ms. Barbara J Jensen, III",
            "familyName": "Jensen",
            "givenName": "Barbara"
        },
        "displayName": "Babs Jensen",
        "nickName": "",
        "title": null,
        "userType": "Employee",
        "active": true,
        "loginCount": 42,
        "score": 7.5,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [],
        "ims": [{"value": "someaimhandle", "type": "aim"}],
        "addresses": [{
            "type": "work",
            "streetAddress": "100 Universal City Plaza",
            "locality": "Hollywood",
            "postalCode": "91608",
            "country": "USA"
        }],
        "groups": [{"value": "e9e30dba-f08f-4109-8486-d5c6a331660a", "display": "Tour Guides"}],
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "version": "W/\"3694e05e9dff591\""
        },
        ENTERPRISE: {
            "employeeNumber": "701984",
            "costCenter": "4130",
            "department": "Tour Operations",
            "manager": {
                "value": "26118915-6090-4610-87e4-49d8ca9f808d",
                "displayName": "John Smith"
            }
        }
    })
}

/// Case-exactness as the RFC 7643 User schema defines it for the attributes used here.
fn user_case_exact(path: &AttrPath) -> bool {
    let name = path.name.to_ascii_lowercase();
    let sub = path.sub_attr.as_deref().map(str::to_ascii_lowercase);
    matches!(
        (name.as_str(), sub.as_deref()),
        ("id" | "externalid", None) | ("groups" | "manager", Some("value")) | ("manager", None)
    )
}

#[test]
fn evaluates_against_a_user() {
    let user = sample_user();
    let cases = [
        (r#"userName eq "bjensen@example.com""#, true),
        (r#"USERNAME EQ "BJENSEN@EXAMPLE.COM""#, true),
        (r#"id eq "2819C223-7F76-453A-919D-413861904646""#, false),
        (r#"id eq "2819c223-7f76-453a-919d-413861904646""#, true),
        (r#"externalId eq "701984""#, true),
        (r#"name.familyName co "ens""#, true),
        (r#"NAME.FAMILYNAME co "ENS""#, true),
        (r#"name.familyName sw "j""#, true),
        (r#"name.familyName ew "SEN""#, true),
        (r#"name.familyName ew "jen""#, false),
        (r#"userName ne "x""#, true),
        (r#"userName ne "BJENSEN@example.com""#, false),
        ("title pr", false),
        ("nickName pr", false),
        ("phoneNumbers pr", false),
        ("name pr", true),
        ("emails pr", true),
        ("displayName pr", true),
        ("nosuch pr", false),
        ("title eq null", true),
        ("nosuch eq null", true),
        ("userName eq null", false),
        ("userName ne null", true),
        (r#"emails co "jensen.org""#, true),
        (r#"emails eq "BABS@jensen.org""#, true),
        (r#"emails.value ew "example.com""#, true),
        (r#"emails.type eq "home""#, true),
        // `ne` negates `eq`: some email is of type home, so this does not match.
        (r#"emails.type ne "home""#, false),
        (r#"emails.type ne "other""#, true),
        (
            r#"emails[type eq "work" and value co "@example.com"]"#,
            true,
        ),
        (r#"emails[TYPE eq "WORK"]"#, true),
        (r#"emails[type eq "home" and primary eq true]"#, false),
        (r#"emails[type eq "work" and primary eq true]"#, true),
        (
            r#"emails[type eq "work"].value eq "bjensen@example.com""#,
            true,
        ),
        (
            r#"emails[type eq "home"].value eq "bjensen@example.com""#,
            false,
        ),
        (r#"emails[not (type eq "work")]"#, true),
        (r#"phoneNumbers[type eq "work"]"#, false),
        (r#"name[familyName eq "Jensen"]"#, true),
        ("active eq true", true),
        ("active eq false", false),
        ("active ne false", true),
        (r#"active eq "true""#, false),
        ("loginCount gt 41", true),
        ("loginCount ge 42", true),
        ("loginCount lt 42", false),
        ("loginCount le 42.0", true),
        ("loginCount eq 42.0", true),
        (r#"loginCount eq "42""#, false),
        ("score gt 7", true),
        ("score lt 7.5", false),
        ("score ge -1e2", true),
        (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
        (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
        // Chronological, not lexical: 06:00+02:00 is 04:00Z.
        (r#"meta.lastModified gt "2011-05-13T06:00:00+02:00""#, true),
        (r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#, true),
        (r#"meta.lastModified eq "2011-05-13T04:42:34.000Z""#, true),
        (r#"meta.created lt "2011-01-01T00:00:00Z""#, true),
        (r#"userName gt "a""#, true),
        (r#"userName lt "B""#, false),
        (r#"userName le "BJENSEN@EXAMPLE.COM""#, true),
        (r#"displayName gt "Babs""#, true),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87E4-49D8CA9F808D""#,
            false,
        ),
        (
            r#"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:DEPARTMENT eq "tour operations""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "bjensen""#,
            true,
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName pr",
            false,
        ),
        ("urn:example:other:userName pr", false),
        // Extension attributes are found only under their URN.
        ("employeeNumber pr", false),
        (r#"not (userName eq "x")"#, true),
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            true,
        ),
        (
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            false,
        ),
        (
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            true,
        ),
        (
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            true,
        ),
        // Precedence: `and` binds tighter, so this is `userName pr or (nosuch pr and nosuch pr)`.
        ("userName pr or nosuch pr and nosuch pr", true),
        ("(userName pr or nosuch pr) and nosuch pr", false),
        (r#"groups[display eq "tour guides"]"#, true),
        (
            r#"groups.value eq "E9E30DBA-F08F-4109-8486-D5C6A331660A""#,
            false,
        ),
        (
            r#"groups.value eq "e9e30dba-f08f-4109-8486-d5c6a331660a""#,
            true,
        ),
        (
            r#"schemas eq "urn:ietf:params:scim:schemas:core:2.0:User""#,
            true,
        ),
        (
            r#"schemas[value eq "urn:ietf:params:scim:schemas:core:2.0:user"]"#,
            true,
        ),
        (r#"addresses[type eq "work" and postalCode sw "916"]"#, true),
    ];
    for (input, expected) in cases {
        let filter = parse(input);
        assert_eq!(
            matches(&filter, &user, &user_case_exact),
            expected,
            "{input}"
        );
    }
}

#[test]
fn case_exactness_is_asked_with_qualified_paths() {
    let user = sample_user();
    let asked = std::cell::RefCell::new(Vec::new());
    let only_email_type = |p: &AttrPath| {
        asked.borrow_mut().push(p.to_string());
        p.name == "emails" && p.sub_attr.as_deref() == Some("type")
    };
    let filter = parse(r#"emails[type eq "WORK"]"#);
    assert!(!matches(&filter, &user, &only_email_type));
    assert!(matches(
        &parse(r#"emails[type eq "work"]"#),
        &user,
        &only_email_type
    ));
    assert!(matches(
        &parse(r#"emails[value eq "BABS@JENSEN.ORG"]"#),
        &user,
        &only_email_type
    ));
    assert!(asked.borrow().iter().all(|p| p.starts_with("emails.")));
    let element = json!({"type": "Work"});
    assert!(!matches_element(
        &parse(r#"x[type eq "work"]"#).value_filter(),
        &path("emails"),
        &element,
        &only_email_type
    ));
}

#[test]
fn non_object_resources_match_nothing_but_negations() {
    for resource in [json!(null), json!([1, 2]), json!("userName"), json!(3)] {
        assert!(!matches(&parse("userName pr"), &resource, &|_| false));
        assert!(!matches(&parse(r#"userName eq "x""#), &resource, &|_| {
            false
        }));
        assert!(matches(&parse(r#"userName ne "x""#), &resource, &|_| false));
    }
}

#[test]
fn parses_patch_paths() {
    let cases = [
        ("members", "members", None),
        ("name.familyName", "name.familyName", None),
        (
            r#"emails[type eq "work"].value"#,
            "emails.value",
            Some(r#"type eq "work""#),
        ),
        (
            r#"members[value eq "2819c223"]"#,
            "members",
            Some(r#"value eq "2819c223""#),
        ),
        (
            r#"addresses[type eq "work" and primary eq true].streetAddress"#,
            "addresses.streetAddress",
            Some(r#"type eq "work" and primary eq true"#),
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            None,
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            None,
        ),
    ];
    for (input, attr, filter) in cases {
        let parsed = match parse_path(input) {
            Ok(p) => p,
            Err(e) => panic!("{input:?}: {e}"),
        };
        assert_eq!(parsed.attr.to_string(), attr, "{input}");
        assert_eq!(
            parsed.filter.as_ref().map(ToString::to_string).as_deref(),
            filter,
            "{input}"
        );
        assert_eq!(parsed.to_string(), input);
        assert_eq!(parse_path(&parsed.to_string()), Ok(parsed));
    }
    let invalid = [
        "",
        "members pr",
        r#"userName eq "x""#,
        r#"emails[type eq "work"].value.x"#,
        r#"emails[type eq "work"]x"#,
        r#"emails.value[type eq "work"]"#,
        "emails[",
        "emails[]",
        r#"emails[type eq "work"]."#,
        r#"emails[type eq "work"].urn:x:y"#,
        r#"emails[type[x pr]]"#,
        "(members)",
        "members]",
        "foo:bar",
    ];
    for input in invalid {
        assert!(parse_path(input).is_err(), "{input:?} should not parse");
    }
}

impl Filter {
    /// The filter inside a value path, for tests that evaluate it on its own.
    fn value_filter(self) -> Filter {
        match self {
            Filter::ValuePath { filter, .. } => *filter,
            other => other,
        }
    }
}
