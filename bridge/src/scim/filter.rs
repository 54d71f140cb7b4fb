//! The RFC 7644 §3.4.2.2 filter language and the attribute-path grammar of RFC 7644 §3.5.2.
//!
//! [`parse_filter`] turns a filter expression such as
//! `emails[type eq "work" and primary eq true] or userName sw "j"` into a [`Filter`] AST,
//! [`matches()`] evaluates that AST against a JSON resource, and the [`fmt::Display`]
//! implementations print it back in canonical form (single spaces, lower-case operators and
//! keywords, JSON-escaped strings, and only the parentheses needed to rebuild the same tree), so
//! that `parse_filter(&f.to_string()) == Ok(f)` for every `f` the parser can produce.
//!
//! [`parse_path`] parses the `path` of a PATCH operation (`attrPath / valuePath [subAttr]`).
//!
//! Both parsers reject input longer than [`MAX_INPUT_LEN`] bytes or nested (parentheses, `not`,
//! value filters) deeper than [`MAX_DEPTH`], so hostile input yields an error rather than
//! exhausting the stack.

mod eval;
mod lexer;
mod parser;
#[cfg(test)]
mod tests;

use std::fmt;

use serde_json::Number;

pub(crate) use eval::{get_ci, parse_date_time};
pub use eval::{matches, matches_element};
pub use parser::{parse_filter, parse_path};

/// Longest filter or path, in bytes, the parsers accept.
pub const MAX_INPUT_LEN: usize = 8192;

/// Deepest nesting of parentheses, `not (...)` and value filters the parsers accept.
pub const MAX_DEPTH: usize = 64;

/// An attribute reference: `[schemaURN ":"] name ["." subAttr]`.
///
/// Names keep the spelling they were written with; SCIM attribute names are case-insensitive,
/// so compare them with [`str::eq_ignore_ascii_case`] (the grammar only admits ASCII names).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// Schema URN prefix, without the trailing `:`.
    pub urn: Option<String>,
    /// Attribute name.
    pub name: String,
    /// Sub-attribute name, for complex attributes (`name.familyName`).
    pub sub_attr: Option<String>,
}

impl AttrPath {
    /// A path naming a top-level attribute without a schema prefix.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            urn: None,
            name: name.into(),
            sub_attr: None,
        }
    }

    /// This path with `urn` as its schema prefix.
    #[must_use]
    pub fn with_urn(mut self, urn: impl Into<String>) -> Self {
        self.urn = Some(urn.into());
        self
    }

    /// This path with `sub_attr` as its sub-attribute.
    #[must_use]
    pub fn with_sub_attr(mut self, sub_attr: impl Into<String>) -> Self {
        self.sub_attr = Some(sub_attr.into());
        self
    }

    /// Parses a bare attribute path such as `name.familyName` or
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`.
    ///
    /// # Errors
    ///
    /// A [`FilterError`] when `input` is not exactly one valid attribute path.
    pub fn parse(input: &str) -> Result<Self, FilterError> {
        parser::parse_attr_path_only(input)
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// A comparison operator of RFC 7644 §3.4.2.2 (other than `pr`, which takes no value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `eq`: equal.
    Eq,
    /// `ne`: not equal (the negation of `eq`).
    Ne,
    /// `co`: contains.
    Co,
    /// `sw`: starts with.
    Sw,
    /// `ew`: ends with.
    Ew,
    /// `gt`: greater than.
    Gt,
    /// `ge`: greater than or equal.
    Ge,
    /// `lt`: less than.
    Lt,
    /// `le`: less than or equal.
    Le,
}

impl CompareOp {
    /// All operators, in RFC order.
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    /// The operator's lower-case keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// Looks an operator keyword up case-insensitively.
    pub fn from_keyword(word: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }

    /// Whether `value` is a literal this operator accepts: `co`/`sw`/`ew` need a string,
    /// `gt`/`ge`/`lt`/`le` a string or number (RFC 7644 rejects ordering on booleans and null).
    pub fn accepts(self, value: &CompValue) -> bool {
        match self {
            CompareOp::Eq | CompareOp::Ne => true,
            CompareOp::Co | CompareOp::Sw | CompareOp::Ew => matches!(value, CompValue::String(_)),
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le => {
                matches!(value, CompValue::String(_) | CompValue::Number(_))
            }
        }
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A comparison literal: `false / null / true / number / string`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CompValue {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A JSON number.
    Number(Number),
    /// A JSON string, already unescaped.
    String(String),
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::String(s) => write_json_string(f, s),
        }
    }
}

/// Writes `s` as a JSON string literal.
fn write_json_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\u{8}' => f.write_str("\\b")?,
            '\u{c}' => f.write_str("\\f")?,
            c if u32::from(c) < 0x20 => write!(f, "\\u{:04x}", u32::from(c))?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

/// A parsed filter expression.
///
/// A chain such as `a pr and b pr and c pr` is one [`Filter::And`] node with three operands, so
/// the tree is only as deep as the expression's nesting (bounded by [`MAX_DEPTH`] when parsed).
/// Parentheses that group a chain inside a chain of the same operator, such as
/// `(a pr and b pr) and c pr`, are kept as a nested node; other grouping parentheses leave no
/// trace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Filter {
    /// `attrPath pr`: the attribute has a value that is not null or empty.
    Present(AttrPath),
    /// `attrPath compareOp compValue`.
    Compare {
        /// The attribute compared.
        path: AttrPath,
        /// The operator.
        op: CompareOp,
        /// The literal compared against.
        value: CompValue,
    },
    /// `attrPath "[" valFilter "]"`: some value of the multi-valued complex attribute `path`
    /// matches `filter`, whose attribute paths name sub-attributes of `path`.
    ValuePath {
        /// The multi-valued attribute (no sub-attribute).
        path: AttrPath,
        /// The filter each value is tested against.
        filter: Box<Filter>,
    },
    /// `not (filter)`.
    Not(Box<Filter>),
    /// `a and b and ...`: every operand matches.
    And(Operands),
    /// `a or b or ...`: some operand matches.
    Or(Operands),
}

impl Filter {
    /// `left and right`.
    pub fn and(left: Filter, right: Filter) -> Self {
        Filter::And(Operands::new(left, right))
    }

    /// `left or right`.
    pub fn or(left: Filter, right: Filter) -> Self {
        Filter::Or(Operands::new(left, right))
    }

    /// `path op value`.
    pub fn compare(path: AttrPath, op: CompareOp, value: CompValue) -> Self {
        Filter::Compare { path, op, value }
    }

    /// `path[filter]`.
    pub fn value_path(path: AttrPath, filter: Filter) -> Self {
        Filter::ValuePath {
            path,
            filter: Box::new(filter),
        }
    }
}

impl std::ops::Not for Filter {
    type Output = Filter;

    /// `not (self)`.
    fn not(self) -> Filter {
        Filter::Not(Box::new(self))
    }
}

/// The operands of an `and` or `or` chain: always at least two.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Operands(Vec<Filter>);

impl Operands {
    /// The operands `first` and `second`.
    pub fn new(first: Filter, second: Filter) -> Self {
        Self(vec![first, second])
    }

    /// `first`, `second` and then `rest`.
    pub fn with_rest(
        first: Filter,
        second: Filter,
        rest: impl IntoIterator<Item = Filter>,
    ) -> Self {
        let mut operands = Self::new(first, second);
        operands.0.extend(rest);
        operands
    }

    /// Each operand replaced by `f` of it, in order; the first error stops.
    ///
    /// # Errors
    ///
    /// The first error `f` returns.
    pub fn try_map<E>(&self, f: impl FnMut(&Filter) -> Result<Filter, E>) -> Result<Self, E> {
        Ok(Self(self.0.iter().map(f).collect::<Result<_, _>>()?))
    }

    /// Appends an operand.
    pub fn push(&mut self, operand: Filter) {
        self.0.push(operand);
    }

    /// The operands, in order.
    pub fn as_slice(&self) -> &[Filter] {
        &self.0
    }

    /// Iterates over the operands in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Filter> {
        self.0.iter()
    }

    /// The operands, in order.
    pub fn into_vec(self) -> Vec<Filter> {
        self.0
    }
}

impl<'a> IntoIterator for &'a Operands {
    type Item = &'a Filter;
    type IntoIter = std::slice::Iter<'a, Filter>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
            Filter::Not(inner) => write!(f, "not ({inner})"),
            // `and` binds tighter than `or`; any nested chain under `and`, and an `or` chain
            // under `or`, is parenthesized so that it parses back as the same node.
            Filter::And(operands) => write_chain(f, operands, " and ", |operand| {
                matches!(operand, Filter::And(_) | Filter::Or(_))
            }),
            Filter::Or(operands) => write_chain(f, operands, " or ", |operand| {
                matches!(operand, Filter::Or(_))
            }),
        }
    }
}

fn write_chain(
    f: &mut fmt::Formatter<'_>,
    operands: &Operands,
    separator: &str,
    parenthesize: impl Fn(&Filter) -> bool,
) -> fmt::Result {
    for (index, operand) in operands.iter().enumerate() {
        if index > 0 {
            f.write_str(separator)?;
        }
        if parenthesize(operand) {
            write!(f, "({operand})")?;
        } else {
            write!(f, "{operand}")?;
        }
    }
    Ok(())
}

/// The `path` of a PATCH operation: `attrPath / valuePath [subAttr]` (RFC 7644 §3.5.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PatchPath {
    /// The attribute targeted. With a `filter`, `attr.sub_attr` is the sub-attribute written
    /// after the closing bracket (`emails[type eq "work"].value`).
    pub attr: AttrPath,
    /// The value-selection filter between brackets, if any.
    pub filter: Option<Filter>,
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(filter) = &self.filter else {
            return write!(f, "{}", self.attr);
        };
        if let Some(urn) = &self.attr.urn {
            write!(f, "{urn}:")?;
        }
        write!(f, "{}[{filter}]", self.attr.name)?;
        if let Some(sub) = &self.attr.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// A filter or path that could not be parsed. Report it with HTTP 400 and
/// `scimType` [`FilterError::scim_type`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at byte {position})")]
pub struct FilterError {
    message: String,
    position: usize,
}

impl FilterError {
    pub(crate) fn new(message: impl Into<String>, position: usize) -> Self {
        Self {
            message: message.into(),
            position,
        }
    }

    /// What is wrong, without the position.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Byte offset in the input where the problem was found.
    pub fn position(&self) -> usize {
        self.position
    }

    /// The SCIM error type for this failure: always `invalidFilter`.
    pub fn scim_type(&self) -> &'static str {
        "invalidFilter"
    }
}
