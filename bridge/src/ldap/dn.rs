//! Distinguished names in one canonical form, so a member written `CN=Doe\, Jane,OU=People`
//! by one tool and `cn=doe\2c jane, ou=people` by another is recognised as the same entry.
//!
//! The form: attribute types in lower case, values unescaped (RFC 4514 `\,` and `\2C` alike),
//! white space around separators dropped, values lower-cased (the directories we read compare
//! naming attributes case-insensitively), then re-escaped one way. Multi-valued RDNs are sorted.
//! A string that is not a DN still yields a stable key (its trimmed lower-case text): a bad
//! member value never stops a sync, it only fails to match.

/// The canonical form of `dn`.
pub fn normalise(dn: &str) -> String {
    // Every user and member DN of a sync passes here; most need no unescaping at all.
    normalise_plain(dn).unwrap_or_else(|| normalise_parsed(dn))
}

/// [`normalise`] through the full parser.
fn normalise_parsed(dn: &str) -> String {
    match parse(dn) {
        Some(rdns) => rdns
            .into_iter()
            .map(|mut avas| {
                avas.sort();
                avas.into_iter()
                    .map(|(t, v)| format!("{t}={}", escape(&v)))
                    .collect::<Vec<_>>()
                    .join("+")
            })
            .collect::<Vec<_>>()
            .join(","),
        None => dn.trim().to_lowercase(),
    }
}

/// The canonical form of an ASCII DN without escapes, quotes or multi-valued RDNs, in one
/// pass over its bytes; `None` for anything else (the full parser then decides).
fn normalise_plain(dn: &str) -> Option<String> {
    let dn = dn.trim();
    if dn.is_empty() {
        return None;
    }
    let plain =
        |b: u8| b.is_ascii() && !matches!(b, b'\\' | b'"' | b'+' | b';' | b'#' | b'<' | b'>' | 0);
    let mut out = Vec::with_capacity(dn.len());
    for (i, rdn) in dn.as_bytes().split(|&b| b == b',').enumerate() {
        let eq = rdn.iter().position(|&b| b == b'=')?;
        let (t, v) = rdn.split_at(eq);
        // As the parser: white space around the type, only spaces around the value.
        let (t, v) = (trim(t, is_white), trim(v.get(1..)?, |b| *b == b' '));
        if t.is_empty() {
            return None;
        }
        if i > 0 {
            out.push(b',');
        }
        for &b in t {
            if !plain(b) {
                return None;
            }
            out.push(b.to_ascii_lowercase());
        }
        out.push(b'=');
        for &b in v {
            if !plain(b) || b == b'=' {
                return None;
            }
            out.push(b.to_ascii_lowercase());
        }
    }
    // Only ASCII was pushed.
    String::from_utf8(out).ok()
}

/// `s` without the leading and trailing bytes `ws` names.
fn trim(mut s: &[u8], ws: impl Fn(&u8) -> bool) -> &[u8] {
    while let [first, rest @ ..] = s
        && ws(first)
    {
        s = rest;
    }
    while let [rest @ .., last] = s
        && ws(last)
    {
        s = rest;
    }
    s
}

/// The ASCII bytes `char::is_whitespace` (and so `str::trim`) takes for white space.
fn is_white(b: &u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The value of the first RDN (e.g. the `cn` of a group), unescaped, as written.
pub fn first_value(dn: &str) -> Option<String> {
    let rdns = parse_raw(dn)?;
    rdns.into_iter().next()?.into_iter().next().map(|(_, v)| v)
}

type Rdn = Vec<(String, String)>;

fn parse(dn: &str) -> Option<Vec<Rdn>> {
    let rdns = parse_raw(dn)?;
    Some(
        rdns.into_iter()
            .map(|avas| {
                avas.into_iter()
                    .map(|(t, v)| (t.to_ascii_lowercase(), v.to_lowercase()))
                    .collect()
            })
            .collect(),
    )
}

/// Splits a DN into RDNs of (type, unescaped value), or `None` if it is malformed.
fn parse_raw(dn: &str) -> Option<Vec<Rdn>> {
    let dn = dn.trim();
    if dn.is_empty() {
        return Some(Vec::new());
    }
    let mut rdns = Vec::new();
    let mut avas: Rdn = Vec::new();
    let mut chars = dn.chars().peekable();
    loop {
        // attribute type up to '='
        let mut attr = String::new();
        let mut found_eq = false;
        for c in chars.by_ref() {
            if c == '=' {
                found_eq = true;
                break;
            }
            attr.push(c);
        }
        let attr = attr.trim().to_owned();
        if !found_eq || attr.is_empty() || attr.contains([',', '+', '\\']) {
            return None;
        }
        // value up to an unescaped ',' or '+'; each byte remembers whether it was escaped,
        // because escaped spaces at either end are part of the value and others are not.
        let mut value: Vec<(u8, bool)> = Vec::new();
        let mut end = None;
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    let a = chars.next()?;
                    if a.is_ascii_hexdigit() {
                        let b = chars.next()?;
                        let byte = u8::from_str_radix(&format!("{a}{b}"), 16).ok()?;
                        value.push((byte, true));
                    } else {
                        let mut buf = [0u8; 4];
                        value.extend(a.encode_utf8(&mut buf).bytes().map(|b| (b, true)));
                    }
                }
                ',' | ';' | '+' => {
                    end = Some(c);
                    break;
                }
                _ => {
                    let mut buf = [0u8; 4];
                    value.extend(c.encode_utf8(&mut buf).bytes().map(|b| (b, false)));
                }
            }
        }
        let is_pad = |(b, escaped): &(u8, bool)| *b == b' ' && !escaped;
        let start = value.iter().position(|v| !is_pad(v)).unwrap_or(value.len());
        let stop = value
            .iter()
            .rposition(|v| !is_pad(v))
            .map_or(start, |i| i + 1);
        let bytes: Vec<u8> = value
            .get(start..stop)
            .unwrap_or_default()
            .iter()
            .map(|(b, _)| *b)
            .collect();
        let value = String::from_utf8(bytes).ok()?;
        avas.push((attr, value));
        match end {
            Some('+') => continue,
            Some(_) => rdns.push(std::mem::take(&mut avas)),
            None => {
                rdns.push(avas);
                return Some(rdns);
            }
        }
    }
}

fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            _ => out.push(c),
        }
    }
    out
}

/// `uniqueMember` values may carry an optional unique identifier after the DN
/// (`cn=x,dc=y#'0101'B`); only the DN names the member.
pub fn strip_unique_id(value: &str) -> &str {
    match value.rfind("#'") {
        Some(i) if value.ends_with("'B") => value.get(..i).unwrap_or(value),
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equivalent_spellings_normalise_alike() {
        let cases: &[(&str, &str)] = &[
            (
                "CN=Doe\\, Jane,OU=People,DC=Example,DC=COM",
                "cn=doe\\, jane,ou=people,dc=example,dc=com",
            ),
            (
                "cn=doe\\2C jane, ou=people ,dc=example,dc=com",
                "cn=doe\\, jane,ou=people,dc=example,dc=com",
            ),
            ("uid=ZOË,dc=x", "uid=zoë,dc=x"),
            ("uid=zo\\C3\\AB,dc=x", "uid=zoë,dc=x"),
            ("cn=a+sn=B,dc=x", "cn=a+sn=b,dc=x"),
            ("sn=b+CN=A,dc=x", "cn=a+sn=b,dc=x"),
            ("cn=\\ lead,dc=x", "cn=\\ lead,dc=x"),
            ("cn=x;dc=y", "cn=x,dc=y"),
            ("", ""),
            // not a DN: a stable key, no panic
            ("garbage", "garbage"),
            ("cn=bad\\", "cn=bad\\"),
        ];
        for (input, want) in cases {
            assert_eq!(normalise(input), *want, "{input}");
        }
    }

    fn parsed(dn: &str) -> String {
        normalise_parsed(dn)
    }

    proptest::proptest! {
        #[test]
        fn the_plain_path_agrees_with_the_parser_on_any_text(dn in "[a-cA-C =,+;#\\\\\t\u{b}\u{c}\rÄé]{0,24}") {
            if let Some(fast) = normalise_plain(&dn) {
                proptest::prop_assert_eq!(fast, parsed(&dn));
            }
        }
    }

    #[test]
    fn the_plain_path_agrees_with_the_parser() {
        for dn in [
            "uid=User1,ou=People,dc=Example,dc=com",
            "  CN = Ada Lovelace , OU=Corp ,DC=tap,DC=test ",
            "cn=,dc=x",
            "cn=a,,dc=x",
            "cn=a,dc=x,",
            "=a,dc=x",
            "cn=a=b,dc=x",
            "cn",
            "cn=a b,dc=x",
            "cn=\ta b\t, dc=x",
            "\tcn\t=a,dc=x",
            "cn= \u{b}a,dc=x",
        ] {
            if let Some(fast) = normalise_plain(dn) {
                assert_eq!(fast, parsed(dn), "{dn}");
            }
            assert_eq!(normalise(dn), parsed(dn), "{dn}");
        }
    }

    #[test]
    fn first_value_and_unique_member() {
        assert_eq!(
            first_value("CN=Doe\\, Jane,OU=x").as_deref(),
            Some("Doe, Jane")
        );
        assert_eq!(first_value("x"), None);
        assert_eq!(strip_unique_id("cn=a,dc=b#'0101'B"), "cn=a,dc=b");
        assert_eq!(strip_unique_id("cn=a#b,dc=c"), "cn=a#b,dc=c");
    }

    #[test]
    fn never_panics_on_odd_input() {
        for s in [
            "=", ",", "+", "\\", "a=\\4", "a=\\ff", "a=b,", ",a=b", "a=b++c=d", "é=è",
        ] {
            let _ = normalise(s);
            let _ = first_value(s);
        }
    }
}
