//! Tokenizer shared by the filter and path parsers.

use serde_json::Number;

use super::FilterError;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token<'a> {
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// A `.` that is not part of a word: only valid right after `]` in a PATCH path.
    Dot,
    /// A run of name characters: an attribute path, operator or keyword.
    Word(&'a str),
    Str(String),
    Num(Number),
}

impl Token<'_> {
    pub(super) fn describe(&self) -> String {
        match self {
            Token::LParen => "'('".to_owned(),
            Token::RParen => "')'".to_owned(),
            Token::LBracket => "'['".to_owned(),
            Token::RBracket => "']'".to_owned(),
            Token::Dot => "'.'".to_owned(),
            Token::Word(w) => format!("'{w}'"),
            Token::Str(_) => "a string".to_owned(),
            Token::Num(_) => "a number".to_owned(),
        }
    }
}

/// A token and the byte offset it starts at.
pub(super) type Spanned<'a> = (Token<'a>, usize);

/// Characters that may appear in an attribute path, operator or keyword. `:` and `.` join URN
/// segments and sub-attributes; `$` starts `$ref`.
fn is_word_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':' | b'$')
}

pub(super) fn tokenize(input: &str) -> Result<Vec<Spanned<'_>>, FilterError> {
    let bytes = input.as_bytes();
    let mut tokens = Vec::new();
    let mut pos = 0;
    while let Some(&b) = bytes.get(pos) {
        let start = pos;
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => {
                pos += 1;
                continue;
            }
            b'(' => tokens.push((Token::LParen, start)),
            b')' => tokens.push((Token::RParen, start)),
            b'[' => tokens.push((Token::LBracket, start)),
            b']' => tokens.push((Token::RBracket, start)),
            b'.' => tokens.push((Token::Dot, start)),
            b'"' => {
                let (s, end) = lex_string(input, start)?;
                tokens.push((Token::Str(s), start));
                pos = end;
                continue;
            }
            b'-' | b'0'..=b'9' => {
                let end = scan(bytes, start, |c| {
                    c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E')
                });
                let text = input.get(start..end).unwrap_or_default();
                let number = lex_number(text).ok_or_else(|| {
                    FilterError::new(format!("invalid number literal '{text}'"), start)
                })?;
                tokens.push((Token::Num(number), start));
                pos = end;
                continue;
            }
            b if b.is_ascii_alphabetic() || b == b'$' => {
                let end = scan(bytes, start, is_word_char);
                tokens.push((
                    Token::Word(input.get(start..end).unwrap_or_default()),
                    start,
                ));
                pos = end;
                continue;
            }
            _ => {
                let shown = input
                    .get(start..)
                    .and_then(|s| s.chars().next())
                    .unwrap_or('?');
                return Err(FilterError::new(
                    format!("unexpected character '{}'", shown.escape_default()),
                    start,
                ));
            }
        }
        pos += 1;
    }
    Ok(tokens)
}

/// Index of the first byte at or after `start` that does not satisfy `accept`.
fn scan(bytes: &[u8], start: usize, accept: impl Fn(u8) -> bool) -> usize {
    bytes
        .iter()
        .skip(start)
        .position(|&c| !accept(c))
        .map_or(bytes.len(), |offset| start + offset)
}

/// Parses a JSON number. serde_json checks the syntax; fractional and out-of-range values are
/// then re-read with the standard library, whose rounding is exact, so that printing and
/// re-parsing a number always gives it back.
fn lex_number(text: &str) -> Option<Number> {
    let number = serde_json::from_str::<Number>(text).ok()?;
    if number.is_f64() {
        text.parse::<f64>().ok().and_then(Number::from_f64)
    } else {
        Some(number)
    }
}

/// Lexes the JSON string starting with the quote at `start`; returns it unescaped and the index
/// just past its closing quote.
fn lex_string(input: &str, start: usize) -> Result<(String, usize), FilterError> {
    let bytes = input.as_bytes();
    let mut pos = start + 1;
    loop {
        match bytes.get(pos) {
            None => return Err(FilterError::new("unterminated string literal", start)),
            Some(b'\\') => pos += 2,
            Some(b'"') => break,
            Some(_) => pos += 1,
        }
    }
    let end = pos + 1;
    // The closing quote is ASCII, so `end` is a char boundary; serde_json applies the JSON rules
    // for escapes, control characters and surrogate pairs.
    let literal = input.get(start..end).unwrap_or_default();
    let value = serde_json::from_str::<String>(literal).map_err(|_| {
        FilterError::new(
            "invalid string literal: bad escape sequence or unescaped control character",
            start,
        )
    })?;
    Ok((value, end))
}
