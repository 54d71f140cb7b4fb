//! Recursive-descent parser for filters and PATCH paths.
//!
//! Precedence, loosest first: `or`, `and`, then `not (...)`, parentheses and attribute
//! expressions. Recursion only happens on nesting (parentheses, `not`, brackets), which is
//! bounded by [`MAX_DEPTH`]; `and`/`or` chains are collected iteratively into one node.

use super::lexer::{Spanned, Token, tokenize};
use super::{
    AttrPath, CompValue, CompareOp, Filter, FilterError, MAX_DEPTH, MAX_INPUT_LEN, Operands,
    PatchPath,
};

/// Parses a complete filter expression (RFC 7644 §3.4.2.2 `FILTER`).
///
/// Keywords, operators and the literals `true`/`false`/`null` are case-insensitive. As an
/// extension of the RFC grammar, `attr[valFilter].sub op value` and `attr[valFilter].sub pr` are
/// accepted and read as `attr[(valFilter) and sub op value]` (respectively `sub pr`).
///
/// Errors: empty input, input over [`MAX_INPUT_LEN`] bytes, nesting over [`MAX_DEPTH`],
/// malformed attribute paths or literals, unknown operators, `co`/`sw`/`ew` with a non-string,
/// `gt`/`ge`/`lt`/`le` with a boolean or null, nested value filters, trailing input.
///
/// # Errors
///
/// A [`FilterError`] (`scimType` `invalidFilter`) locating the first problem.
pub fn parse_filter(input: &str) -> Result<Filter, FilterError> {
    let mut parser = Parser::new(input)?;
    let filter = parser.parse_or(0, Scope::Resource)?;
    parser.expect_end("filter")?;
    Ok(filter)
}

/// Parses a PATCH operation path (RFC 7644 §3.5.2 `PATH = attrPath / valuePath [subAttr]`),
/// e.g. `name.familyName`, `members[value eq "2819c223"]` or `emails[type eq "work"].value`.
///
/// The same limits and literal rules as [`parse_filter`] apply to the bracketed filter.
///
/// # Errors
///
/// A [`FilterError`] locating the first problem; report it as `invalidPath` (see
/// [`crate::scim::patch::parse_patch_path`]).
pub fn parse_path(input: &str) -> Result<PatchPath, FilterError> {
    let mut parser = Parser::new(input)?;
    let (word, at) = parser.expect_word("an attribute path")?;
    let mut attr = attr_path(word, at, Scope::Resource)?;
    let mut filter = None;
    if parser.peek() == Some(&Token::LBracket) {
        if attr.sub_attr.is_some() {
            return Err(FilterError::new(
                "a value filter must follow a top-level attribute, not a sub-attribute",
                at,
            ));
        }
        parser.advance();
        let inner = parser.parse_or(1, Scope::Value)?;
        parser.expect(&Token::RBracket, "']' to close the value filter")?;
        if parser.peek() == Some(&Token::Dot) {
            parser.advance();
            let (sub, sub_at) = parser.expect_word("a sub-attribute name after '.'")?;
            attr.sub_attr = Some(plain_name(sub, sub_at)?.to_owned());
        }
        filter = Some(inner);
    }
    parser.expect_end("path")?;
    Ok(PatchPath { attr, filter })
}

/// Parses a lone attribute path (no filter, no brackets).
pub(super) fn parse_attr_path_only(input: &str) -> Result<AttrPath, FilterError> {
    let mut parser = Parser::new(input)?;
    let (word, at) = parser.expect_word("an attribute path")?;
    let path = attr_path(word, at, Scope::Resource)?;
    parser.expect_end("attribute path")?;
    Ok(path)
}

/// Where an attribute path appears: at the top of a filter, or inside `[...]`, where it names a
/// sub-attribute of the bracketed attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Resource,
    Value,
}

struct Parser<'a> {
    tokens: Vec<Spanned<'a>>,
    pos: usize,
    input_len: usize,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Result<Self, FilterError> {
        if input.len() > MAX_INPUT_LEN {
            return Err(FilterError::new(
                format!("input is longer than {MAX_INPUT_LEN} bytes"),
                MAX_INPUT_LEN,
            ));
        }
        let tokens = tokenize(input)?;
        if tokens.is_empty() {
            return Err(FilterError::new("input is empty", 0));
        }
        Ok(Self {
            tokens,
            pos: 0,
            input_len: input.len(),
        })
    }

    fn peek(&self) -> Option<&Token<'a>> {
        self.tokens.get(self.pos).map(|(token, _)| token)
    }

    fn peek_nth(&self, n: usize) -> Option<&Token<'a>> {
        self.tokens.get(self.pos + n).map(|(token, _)| token)
    }

    /// Offset of the next token, or the end of input.
    fn offset(&self) -> usize {
        self.tokens
            .get(self.pos)
            .map_or(self.input_len, |(_, at)| *at)
    }

    fn advance(&mut self) {
        self.pos += 1;
    }

    fn next(&mut self) -> Option<Spanned<'a>> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    fn found(&self) -> String {
        self.peek()
            .map_or_else(|| "end of input".to_owned(), Token::describe)
    }

    // Error construction stays out of line: the recursive descent functions must keep small
    // stack frames so that MAX_DEPTH levels of nesting fit comfortably in any thread's stack.
    #[cold]
    #[inline(never)]
    fn unexpected(&self, what: &str) -> FilterError {
        FilterError::new(
            format!("expected {what}, found {}", self.found()),
            self.offset(),
        )
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    fn expect(&mut self, token: &Token<'_>, what: &str) -> Result<(), FilterError> {
        if self.peek() == Some(token) {
            self.advance();
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    fn expect_word(&mut self, what: &str) -> Result<(&'a str, usize), FilterError> {
        match self.tokens.get(self.pos) {
            Some((Token::Word(word), at)) => {
                let found = (*word, *at);
                self.advance();
                Ok(found)
            }
            _ => Err(self.unexpected(what)),
        }
    }

    #[inline(never)]
    fn expect_end(&self, what: &str) -> Result<(), FilterError> {
        match self.peek() {
            None => Ok(()),
            Some(Token::RParen) => Err(FilterError::new("unbalanced ')'", self.offset())),
            Some(Token::RBracket) => Err(FilterError::new("unbalanced ']'", self.offset())),
            Some(token) => Err(FilterError::new(
                format!(
                    "unexpected {} after the end of the {what}",
                    token.describe()
                ),
                self.offset(),
            )),
        }
    }

    /// Depth check for entering one more level of nesting.
    fn enter(&self, depth: usize) -> Result<usize, FilterError> {
        if depth >= MAX_DEPTH {
            Err(self.too_deep())
        } else {
            Ok(depth + 1)
        }
    }

    #[cold]
    #[inline(never)]
    fn too_deep(&self) -> FilterError {
        FilterError::new(
            format!("filter is nested more than {MAX_DEPTH} levels deep"),
            self.offset(),
        )
    }

    fn parse_or(&mut self, depth: usize, scope: Scope) -> Result<Filter, FilterError> {
        let first = self.parse_and(depth, scope)?;
        if !self.peek_keyword("or") {
            return Ok(first);
        }
        self.advance();
        let mut operands = Operands::new(first, self.parse_and(depth, scope)?);
        while self.peek_keyword("or") {
            self.advance();
            operands.push(self.parse_and(depth, scope)?);
        }
        Ok(Filter::Or(operands))
    }

    fn parse_and(&mut self, depth: usize, scope: Scope) -> Result<Filter, FilterError> {
        let first = self.parse_unary(depth, scope)?;
        if !self.peek_keyword("and") {
            return Ok(first);
        }
        self.advance();
        let mut operands = Operands::new(first, self.parse_unary(depth, scope)?);
        while self.peek_keyword("and") {
            self.advance();
            operands.push(self.parse_unary(depth, scope)?);
        }
        Ok(Filter::And(operands))
    }

    fn parse_unary(&mut self, depth: usize, scope: Scope) -> Result<Filter, FilterError> {
        match self.peek() {
            // `not` is only the operator when a parenthesis follows; otherwise it is an
            // attribute that happens to be called "not".
            Some(Token::Word(w))
                if w.eq_ignore_ascii_case("not") && self.peek_nth(1) == Some(&Token::LParen) =>
            {
                let depth = self.enter(depth)?;
                self.pos += 2;
                let inner = self.parse_or(depth, scope)?;
                self.expect(&Token::RParen, "')' to close 'not ('")?;
                Ok(!inner)
            }
            Some(Token::LParen) => {
                let depth = self.enter(depth)?;
                self.advance();
                let inner = self.parse_or(depth, scope)?;
                self.expect(&Token::RParen, "')'")?;
                Ok(inner)
            }
            Some(Token::Word(_)) => self.parse_attr_expr(depth, scope),
            _ => Err(self.unexpected("an attribute path, '(' or 'not ('")),
        }
    }

    fn parse_attr_expr(&mut self, depth: usize, scope: Scope) -> Result<Filter, FilterError> {
        let (path, at) = self.parse_attr_path(scope)?;
        if self.peek() != Some(&Token::LBracket) {
            return self.parse_operation(path);
        }
        let depth = self.open_value_filter(&path, at, depth, scope)?;
        let inner = self.parse_or(depth, Scope::Value)?;
        self.close_value_filter(path, inner)
    }

    #[inline(never)]
    fn parse_attr_path(&mut self, scope: Scope) -> Result<(AttrPath, usize), FilterError> {
        let (word, at) = self.expect_word("an attribute path")?;
        Ok((attr_path(word, at, scope)?, at))
    }

    /// Checks that `path[` may open a value filter here and consumes the bracket.
    #[inline(never)]
    fn open_value_filter(
        &mut self,
        path: &AttrPath,
        at: usize,
        depth: usize,
        scope: Scope,
    ) -> Result<usize, FilterError> {
        if scope == Scope::Value {
            return Err(FilterError::new(
                "value filters cannot be nested",
                self.offset(),
            ));
        }
        if path.sub_attr.is_some() {
            return Err(FilterError::new(
                "a value filter must follow a top-level attribute, not a sub-attribute",
                at,
            ));
        }
        let depth = self.enter(depth)?;
        self.advance();
        Ok(depth)
    }

    /// Consumes `]` and an optional `.subAttr op value` (read as one more `and` condition).
    #[inline(never)]
    fn close_value_filter(&mut self, path: AttrPath, inner: Filter) -> Result<Filter, FilterError> {
        self.expect(&Token::RBracket, "']' to close the value filter")?;
        if self.peek() != Some(&Token::Dot) {
            return Ok(Filter::value_path(path, inner));
        }
        self.advance();
        let (sub, sub_at) = self.expect_word("a sub-attribute name after '.'")?;
        let sub_path = AttrPath::new(plain_name(sub, sub_at)?);
        let condition = self.parse_operation(sub_path)?;
        let inner = match inner {
            Filter::And(mut operands) => {
                operands.push(condition);
                Filter::And(operands)
            }
            other => Filter::and(other, condition),
        };
        Ok(Filter::value_path(path, inner))
    }

    /// Parses `pr` or `compareOp compValue` following `path`.
    #[inline(never)]
    fn parse_operation(&mut self, path: AttrPath) -> Result<Filter, FilterError> {
        let (word, at) = self.expect_word(&format!("an operator after '{path}'"))?;
        if word.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let op = CompareOp::from_keyword(word)
            .ok_or_else(|| FilterError::new(format!("unknown operator '{word}'"), at))?;
        let value_at = self.offset();
        let value = match self.next() {
            Some((Token::Str(s), _)) => CompValue::String(s),
            Some((Token::Num(n), _)) => CompValue::Number(n),
            Some((Token::Word(w), _)) if w.eq_ignore_ascii_case("true") => CompValue::Bool(true),
            Some((Token::Word(w), _)) if w.eq_ignore_ascii_case("false") => CompValue::Bool(false),
            Some((Token::Word(w), _)) if w.eq_ignore_ascii_case("null") => CompValue::Null,
            Some((token, _)) => {
                return Err(FilterError::new(
                    format!(
                        "expected a string, number, true, false or null after '{op}', found {}",
                        token.describe()
                    ),
                    value_at,
                ));
            }
            None => {
                return Err(FilterError::new(
                    format!("expected a value after '{op}', found end of input"),
                    value_at,
                ));
            }
        };
        if !op.accepts(&value) {
            return Err(FilterError::new(
                format!("operator '{op}' cannot be used with {value}"),
                value_at,
            ));
        }
        Ok(Filter::Compare { path, op, value })
    }
}

/// Splits and validates `[URN ":"] ATTRNAME ["." ATTRNAME]`.
fn attr_path(word: &str, at: usize, scope: Scope) -> Result<AttrPath, FilterError> {
    let (urn, rest) = match word.rfind(':') {
        Some(colon) => (
            Some(word.get(..colon).unwrap_or_default()),
            word.get(colon + 1..).unwrap_or_default(),
        ),
        None => (None, word),
    };
    if let Some(urn) = urn {
        if scope == Scope::Value {
            return Err(FilterError::new(
                "attributes inside a value filter are sub-attributes and take no schema URN",
                at,
            ));
        }
        if !is_urn(urn) {
            return Err(FilterError::new(format!("'{urn}' is not a schema URN"), at));
        }
    }
    let mut parts = rest.split('.');
    let name = parts.next().unwrap_or_default();
    let sub = parts.next();
    if parts.next().is_some() {
        return Err(FilterError::new(
            format!("'{word}' has more than one sub-attribute level"),
            at,
        ));
    }
    if !is_attr_name(name) || sub.is_some_and(|s| !is_attr_name(s)) {
        return Err(FilterError::new(
            format!("'{word}' is not a valid attribute path"),
            at,
        ));
    }
    if scope == Scope::Value && sub.is_some() {
        return Err(FilterError::new(
            "attributes inside a value filter are sub-attributes and cannot have their own",
            at,
        ));
    }
    Ok(AttrPath {
        urn: urn.map(str::to_owned),
        name: name.to_owned(),
        sub_attr: sub.map(str::to_owned),
    })
}

/// Validates a lone `ATTRNAME` (no URN, no dot).
fn plain_name(word: &str, at: usize) -> Result<&str, FilterError> {
    if is_attr_name(word) {
        Ok(word)
    } else {
        Err(FilterError::new(
            format!("'{word}' is not a valid sub-attribute name"),
            at,
        ))
    }
}

/// `ATTRNAME = ALPHA *(nameChar)`, plus the `$ref` spelling RFC 7643 uses for references.
fn is_attr_name(name: &str) -> bool {
    let rest = name.strip_prefix('$').unwrap_or(name);
    let mut chars = rest.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A `urn:` URI made of non-empty colon-separated segments of URN characters.
fn is_urn(urn: &str) -> bool {
    urn.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
        && urn.split(':').all(|segment| {
            !segment.is_empty()
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        })
}
