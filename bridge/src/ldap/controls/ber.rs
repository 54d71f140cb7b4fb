//! Minimal BER reader and DER writer for LDAP control values.
//!
//! The reader accepts the subset of X.690 BER that RFC 4511 §5.1 permits in
//! LDAP messages, and nothing else:
//!
//! * identifiers use the single-octet (low-tag-number) form; the
//!   high-tag-number form is rejected with [`BerError::UnsupportedTag`];
//! * lengths are definite; the indefinite form (`0x80`) and the reserved
//!   initial octet `0xFF` are rejected;
//! * long-form lengths of up to [`MAX_LENGTH_OCTETS`] octets are accepted,
//!   including non-minimal ones such as `84 00 00 00 05`, which Active
//!   Directory emits; every length is checked against the bytes actually
//!   present before anything is sliced or copied;
//! * INTEGER and ENUMERATED contents are non-empty, minimally encoded two's
//!   complement (X.690 §8.3.2) of at most eight octets;
//! * BOOLEAN contents are exactly one octet (`00` is false, anything else
//!   true, as BER allows);
//! * constructed elements nest at most `max_depth` levels deep (see
//!   [`Reader::with_max_depth`] and [`validate`]).
//!
//! The reader never allocates in proportion to a length it has not yet
//! verified, never recurses, and reports every violation as a [`BerError`]
//! carrying the byte offset at which it was found.
//!
//! The [`Writer`] produces DER: minimal lengths, minimal integers, `FF` for
//! TRUE, and SET OF components sorted by their encodings.

use std::fmt;

/// Largest number of subsequent octets accepted in a long-form length.
///
/// Four octets cover every length up to 4 GiB, far beyond any LDAP control
/// value; more octets can only be an attack or corruption.
pub const MAX_LENGTH_OCTETS: usize = 4;

/// Nesting depth allowed by [`Reader::new`].
///
/// The deepest structure in the controls of this module is two constructed
/// levels (Sync Info `syncIdSet` holding a SET OF), so this leaves ample room
/// while still bounding hostile input.
pub const DEFAULT_MAX_DEPTH: usize = 16;

/// A failure to read BER input. Offsets are byte positions in the buffer
/// given to the outermost [`Reader`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BerError {
    /// The input ended inside an identifier or length field, or where an
    /// element was required.
    #[error("input ends unexpectedly at offset {offset}")]
    Truncated {
        /// Where more input was needed.
        offset: usize,
    },
    /// The identifier uses the high-tag-number form (tag number 31 or more).
    #[error("high-tag-number identifier at offset {offset} is not supported")]
    UnsupportedTag {
        /// Offset of the identifier octet.
        offset: usize,
    },
    /// The length uses the indefinite form, which LDAP forbids.
    #[error("indefinite length at offset {offset}")]
    IndefiniteLength {
        /// Offset of the length octet.
        offset: usize,
    },
    /// The length's initial octet is the reserved value `0xFF`.
    #[error("reserved length octet 0xFF at offset {offset}")]
    ReservedLength {
        /// Offset of the length octet.
        offset: usize,
    },
    /// A long-form length uses more than [`MAX_LENGTH_OCTETS`] octets.
    #[error(
        "length at offset {offset} uses {octets} octets, more than the {MAX_LENGTH_OCTETS} allowed"
    )]
    LengthTooLong {
        /// Offset of the length's initial octet.
        offset: usize,
        /// Number of subsequent length octets announced.
        octets: usize,
    },
    /// The announced content length runs past the end of the enclosing
    /// element or input.
    #[error("length {length} at offset {offset} exceeds the {available} bytes available")]
    LengthExceedsInput {
        /// Offset of the element's identifier.
        offset: usize,
        /// The announced content length.
        length: u64,
        /// Bytes actually left after the header.
        available: usize,
    },
    /// A different element was found where a specific one was required.
    #[error("expected tag {expected} at offset {offset}, found {found}")]
    UnexpectedTag {
        /// Offset of the identifier.
        offset: usize,
        /// The tag the caller required.
        expected: Tag,
        /// The tag present in the input.
        found: Tag,
    },
    /// Constructed elements nest deeper than the reader's limit.
    #[error("element at offset {offset} nests deeper than {max_depth} levels")]
    DepthExceeded {
        /// Offset of the element that would exceed the limit.
        offset: usize,
        /// The limit in force.
        max_depth: usize,
    },
    /// An INTEGER or ENUMERATED has no content octets or is not minimally
    /// encoded.
    #[error("integer at offset {offset} is empty or not minimally encoded")]
    InvalidInteger {
        /// Offset of the element's identifier.
        offset: usize,
    },
    /// An INTEGER or ENUMERATED does not fit the requested width.
    #[error("integer at offset {offset} does not fit in {bits} bits")]
    IntegerOverflow {
        /// Offset of the element's identifier.
        offset: usize,
        /// Width of the requested Rust integer type.
        bits: u32,
    },
    /// A BOOLEAN's content is not exactly one octet.
    #[error("boolean at offset {offset} has {length} content octets instead of 1")]
    InvalidBoolean {
        /// Offset of the element's identifier.
        offset: usize,
        /// The content length found.
        length: usize,
    },
    /// Bytes remain after the last expected element.
    #[error("{count} unexpected trailing bytes at offset {offset}")]
    TrailingData {
        /// Offset of the first unexpected byte.
        offset: usize,
        /// Number of unexpected bytes.
        count: usize,
    },
}

/// The class bits of an identifier octet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Types defined by X.680 itself (SEQUENCE, INTEGER, ...).
    Universal,
    /// Application-wide tags, as used by LDAP protocol operations.
    Application,
    /// Tags meaningful only inside the enclosing type, e.g. `[0]`.
    ContextSpecific,
    /// Privately defined tags.
    Private,
}

/// A single-octet BER identifier: class, primitive/constructed bit and a tag
/// number from 0 to 30.
///
/// Tag numbers of 31 and above need the high-tag-number form, which LDAP
/// controls never use; a `Tag` therefore cannot represent them.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tag(u8);

impl Tag {
    /// Universal 1, primitive.
    pub const BOOLEAN: Tag = Tag(0x01);
    /// Universal 2, primitive.
    pub const INTEGER: Tag = Tag(0x02);
    /// Universal 4, primitive (RFC 4511 forbids the constructed form).
    pub const OCTET_STRING: Tag = Tag(0x04);
    /// Universal 10, primitive.
    pub const ENUMERATED: Tag = Tag(0x0A);
    /// Universal 16, constructed.
    pub const SEQUENCE: Tag = Tag(0x30);
    /// Universal 17, constructed; also used for SET OF.
    pub const SET: Tag = Tag(0x31);

    /// The context-specific tag `[N]`, primitive or constructed.
    ///
    /// `N` above 30 is rejected at compile time.
    #[must_use]
    pub const fn context<const N: u8>(constructed: bool) -> Tag {
        const {
            assert!(
                N <= 30,
                "tag numbers above 30 need the high-tag-number form"
            );
        }
        Tag(0x80 | if constructed { 0x20 } else { 0 } | N)
    }

    /// The application tag `[APPLICATION N]`, primitive or constructed, as
    /// LDAP's protocol operations use them.
    ///
    /// `N` above 30 is rejected at compile time.
    #[must_use]
    pub const fn application<const N: u8>(constructed: bool) -> Tag {
        const {
            assert!(
                N <= 30,
                "tag numbers above 30 need the high-tag-number form"
            );
        }
        Tag(0x40 | if constructed { 0x20 } else { 0 } | N)
    }

    /// Interprets an identifier octet, or returns `None` if it introduces the
    /// high-tag-number form (low five bits all set).
    #[must_use]
    pub const fn from_identifier(octet: u8) -> Option<Tag> {
        if octet & 0x1F == 0x1F {
            None
        } else {
            Some(Tag(octet))
        }
    }

    /// The identifier octet as it appears on the wire.
    #[must_use]
    pub const fn identifier(self) -> u8 {
        self.0
    }

    /// The class bits.
    #[must_use]
    pub const fn class(self) -> Class {
        match self.0 >> 6 {
            0 => Class::Universal,
            1 => Class::Application,
            2 => Class::ContextSpecific,
            _ => Class::Private,
        }
    }

    /// Whether the constructed bit is set.
    #[must_use]
    pub const fn is_constructed(self) -> bool {
        self.0 & 0x20 != 0
    }

    /// The tag number, 0 to 30.
    #[must_use]
    pub const fn number(self) -> u8 {
        self.0 & 0x1F
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let class = match self.class() {
            Class::Universal => "UNIVERSAL",
            Class::Application => "APPLICATION",
            Class::ContextSpecific => "CONTEXT",
            Class::Private => "PRIVATE",
        };
        let form = if self.is_constructed() {
            "constructed"
        } else {
            "primitive"
        };
        write!(f, "0x{:02x} ([{class} {}] {form})", self.0, self.number())
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag(0x{:02x})", self.0)
    }
}

/// One decoded element: its tag, where it starts and its content octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The element's identifier.
    pub tag: Tag,
    /// Offset of the identifier octet.
    pub offset: usize,
    /// Offset of the first content octet.
    pub content_offset: usize,
    /// The content octets, exactly as long as the length field announced.
    pub content: &'a [u8],
}

/// A cursor over a run of BER elements.
///
/// A reader created with [`Reader::new`] sits at depth 0; each constructed
/// element it enters yields a child reader one level deeper, and entering
/// beyond the reader's `max_depth` fails with [`BerError::DepthExceeded`].
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
    offset: usize,
    depth: usize,
    max_depth: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `input` allowing [`DEFAULT_MAX_DEPTH`] nested levels.
    #[must_use]
    pub fn new(input: &'a [u8]) -> Self {
        Self::with_max_depth(input, DEFAULT_MAX_DEPTH)
    }

    /// A reader over `input` allowing `max_depth` nested constructed levels.
    #[must_use]
    pub fn with_max_depth(input: &'a [u8], max_depth: usize) -> Self {
        Reader {
            rest: input,
            offset: 0,
            depth: 0,
            max_depth,
        }
    }

    /// Offset of the next unread byte.
    #[must_use]
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Nesting level of this reader (0 for the outermost).
    #[must_use]
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Whether every byte has been consumed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The unread bytes.
    #[must_use]
    pub fn remaining(&self) -> &'a [u8] {
        self.rest
    }

    /// The tag of the next element without consuming it, or `None` at the end
    /// of input.
    ///
    /// # Errors
    /// [`BerError::UnsupportedTag`] if the next identifier uses the
    /// high-tag-number form.
    pub fn peek_tag(&self) -> Result<Option<Tag>, BerError> {
        match self.rest.first() {
            None => Ok(None),
            Some(&octet) => Tag::from_identifier(octet)
                .map(Some)
                .ok_or(BerError::UnsupportedTag {
                    offset: self.offset,
                }),
        }
    }

    /// Whether the next element carries `tag`. False at the end of input.
    #[must_use]
    pub fn next_is(&self, tag: Tag) -> bool {
        self.rest.first() == Some(&tag.identifier())
    }

    /// Reads the next element of any tag.
    ///
    /// # Errors
    /// Any header or length violation listed in the module documentation.
    pub fn read_tlv(&mut self) -> Result<Tlv<'a>, BerError> {
        let start = self.offset;
        let (&identifier, after_tag) = self
            .rest
            .split_first()
            .ok_or(BerError::Truncated { offset: start })?;
        let tag =
            Tag::from_identifier(identifier).ok_or(BerError::UnsupportedTag { offset: start })?;

        let length_offset = start.saturating_add(1);
        let (&first, after_first) = after_tag.split_first().ok_or(BerError::Truncated {
            offset: length_offset,
        })?;
        let (length, after_length): (u64, &'a [u8]) = match first {
            0x00..=0x7F => (u64::from(first), after_first),
            0x80 => {
                return Err(BerError::IndefiniteLength {
                    offset: length_offset,
                });
            }
            0xFF => {
                return Err(BerError::ReservedLength {
                    offset: length_offset,
                });
            }
            _ => {
                let octets = usize::from(first & 0x7F);
                if octets > MAX_LENGTH_OCTETS {
                    return Err(BerError::LengthTooLong {
                        offset: length_offset,
                        octets,
                    });
                }
                let (length_octets, rest) =
                    after_first
                        .split_at_checked(octets)
                        .ok_or(BerError::Truncated {
                            offset: length_offset
                                .saturating_add(1)
                                .saturating_add(after_first.len()),
                        })?;
                // At most four octets, so the accumulator cannot overflow.
                let value = length_octets
                    .iter()
                    .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
                (value, rest)
            }
        };

        let available = after_length.len();
        let too_long = BerError::LengthExceedsInput {
            offset: start,
            length,
            available,
        };
        let length = usize::try_from(length).map_err(|_| too_long.clone())?;
        let (content, rest) = after_length.split_at_checked(length).ok_or(too_long)?;

        let header_len = self.rest.len().saturating_sub(available);
        let content_offset = start.saturating_add(header_len);
        self.offset = content_offset.saturating_add(length);
        self.rest = rest;
        Ok(Tlv {
            tag,
            offset: start,
            content_offset,
            content,
        })
    }

    /// Reads the next element, which must carry `expected`.
    ///
    /// # Errors
    /// [`BerError::UnexpectedTag`] on a different tag, or any error of
    /// [`Reader::read_tlv`].
    pub fn read_element(&mut self, expected: Tag) -> Result<Tlv<'a>, BerError> {
        if let Some(found) = self.peek_tag()?
            && found != expected
        {
            return Err(BerError::UnexpectedTag {
                offset: self.offset,
                expected,
                found,
            });
        }
        self.read_tlv()
    }

    /// A reader over the content of `tlv`, one level deeper than `self`.
    ///
    /// # Errors
    /// [`BerError::DepthExceeded`] if that level is beyond the limit.
    pub fn enter(&self, tlv: &Tlv<'a>) -> Result<Reader<'a>, BerError> {
        let depth = self.depth.saturating_add(1);
        if depth > self.max_depth {
            return Err(BerError::DepthExceeded {
                offset: tlv.offset,
                max_depth: self.max_depth,
            });
        }
        Ok(Reader {
            rest: tlv.content,
            offset: tlv.content_offset,
            depth,
            max_depth: self.max_depth,
        })
    }

    /// Reads a constructed element tagged `expected` and returns a reader
    /// over its content.
    ///
    /// # Errors
    /// As [`Reader::read_element`] and [`Reader::enter`].
    pub fn read_constructed(&mut self, expected: Tag) -> Result<Reader<'a>, BerError> {
        let tlv = self.read_element(expected)?;
        self.enter(&tlv)
    }

    /// Reads a SEQUENCE (or SEQUENCE OF) and returns a reader over its
    /// content.
    ///
    /// # Errors
    /// As [`Reader::read_constructed`].
    pub fn read_sequence(&mut self) -> Result<Reader<'a>, BerError> {
        self.read_constructed(Tag::SEQUENCE)
    }

    /// Reads a SET (or SET OF) and returns a reader over its content.
    ///
    /// # Errors
    /// As [`Reader::read_constructed`].
    pub fn read_set(&mut self) -> Result<Reader<'a>, BerError> {
        self.read_constructed(Tag::SET)
    }

    /// Reads a universal INTEGER as `i64`.
    ///
    /// # Errors
    /// Tag, length or integer-encoding violations; more than eight content
    /// octets yield [`BerError::IntegerOverflow`].
    pub fn read_integer(&mut self) -> Result<i64, BerError> {
        self.read_integer_tagged(Tag::INTEGER)
    }

    /// Reads an integer-encoded element carrying `tag` as `i64`.
    ///
    /// # Errors
    /// As [`Reader::read_integer`].
    pub fn read_integer_tagged(&mut self, tag: Tag) -> Result<i64, BerError> {
        let tlv = self.read_element(tag)?;
        decode_integer(tlv.content, tlv.offset)
    }

    /// Reads a universal INTEGER that must fit in `i32`.
    ///
    /// # Errors
    /// As [`Reader::read_integer`], plus [`BerError::IntegerOverflow`] for
    /// values outside the `i32` range.
    pub fn read_i32(&mut self) -> Result<i32, BerError> {
        let offset = self.offset;
        let value = self.read_integer()?;
        i32::try_from(value).map_err(|_| BerError::IntegerOverflow { offset, bits: 32 })
    }

    /// Reads a universal ENUMERATED.
    ///
    /// # Errors
    /// As [`Reader::read_integer`].
    pub fn read_enumerated(&mut self) -> Result<i64, BerError> {
        self.read_integer_tagged(Tag::ENUMERATED)
    }

    /// Reads a universal BOOLEAN.
    ///
    /// # Errors
    /// Tag or length violations, or [`BerError::InvalidBoolean`].
    pub fn read_boolean(&mut self) -> Result<bool, BerError> {
        let tlv = self.read_element(Tag::BOOLEAN)?;
        decode_boolean(tlv.content, tlv.offset)
    }

    /// Reads a universal OCTET STRING and borrows its content.
    ///
    /// # Errors
    /// Tag or length violations.
    pub fn read_octet_string(&mut self) -> Result<&'a [u8], BerError> {
        self.read_octet_string_tagged(Tag::OCTET_STRING)
    }

    /// Reads a primitive element carrying `tag` and borrows its content, for
    /// implicitly tagged OCTET STRINGs such as `[0] syncCookie`.
    ///
    /// # Errors
    /// Tag or length violations.
    pub fn read_octet_string_tagged(&mut self, tag: Tag) -> Result<&'a [u8], BerError> {
        Ok(self.read_element(tag)?.content)
    }

    /// Consumes the reader, requiring that nothing is left unread.
    ///
    /// # Errors
    /// [`BerError::TrailingData`] if bytes remain.
    pub fn finish(self) -> Result<(), BerError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(BerError::TrailingData {
                offset: self.offset,
                count: self.rest.len(),
            })
        }
    }
}

/// Decodes INTEGER/ENUMERATED content octets as `i64`.
///
/// `offset` is only used in errors.
///
/// # Errors
/// [`BerError::InvalidInteger`] for empty or non-minimal content,
/// [`BerError::IntegerOverflow`] for more than eight octets.
pub fn decode_integer(content: &[u8], offset: usize) -> Result<i64, BerError> {
    let negative = match content {
        [] => return Err(BerError::InvalidInteger { offset }),
        // X.690 §8.3.2: the first nine bits must not be all zeros or all ones.
        [0x00, next, ..] if next & 0x80 == 0 => return Err(BerError::InvalidInteger { offset }),
        [0xFF, next, ..] if next & 0x80 != 0 => return Err(BerError::InvalidInteger { offset }),
        [first, ..] => first & 0x80 != 0,
    };
    if content.len() > 8 {
        return Err(BerError::IntegerOverflow { offset, bits: 64 });
    }
    let mut buf = if negative { [0xFF; 8] } else { [0x00; 8] };
    for (slot, &byte) in buf.iter_mut().rev().zip(content.iter().rev()) {
        *slot = byte;
    }
    Ok(i64::from_be_bytes(buf))
}

/// Decodes BOOLEAN content octets.
///
/// # Errors
/// [`BerError::InvalidBoolean`] unless `content` is exactly one octet.
pub fn decode_boolean(content: &[u8], offset: usize) -> Result<bool, BerError> {
    match content {
        [value] => Ok(*value != 0),
        _ => Err(BerError::InvalidBoolean {
            offset,
            length: content.len(),
        }),
    }
}

/// Checks that `input` is a run of zero or more well-formed elements whose
/// constructed elements nest at most `max_depth` levels, descending into every
/// constructed element.
///
/// Works iteratively, so hostile input cannot exhaust the stack whatever
/// `max_depth` is.
///
/// # Errors
/// The first violation found, in input order.
pub fn validate(input: &[u8], max_depth: usize) -> Result<(), BerError> {
    let mut stack = vec![Reader::with_max_depth(input, max_depth)];
    while let Some(top) = stack.last_mut() {
        if top.is_empty() {
            stack.pop();
            continue;
        }
        let tlv = top.read_tlv()?;
        if tlv.tag.is_constructed() {
            let child = top.enter(&tlv)?;
            stack.push(child);
        }
    }
    Ok(())
}

/// Builds DER encodings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a primitive element with the given content.
    pub fn write_primitive(&mut self, tag: Tag, content: &[u8]) {
        self.buf.push(tag.identifier());
        push_length(&mut self.buf, content.len());
        self.buf.extend_from_slice(content);
    }

    /// Appends elements encoded elsewhere (an LDAP filter), unchanged.
    pub fn write_raw(&mut self, encoded: &[u8]) {
        self.buf.extend_from_slice(encoded);
    }

    /// Appends a universal BOOLEAN (`FF` for true, as DER requires).
    pub fn write_boolean(&mut self, value: bool) {
        self.write_primitive(Tag::BOOLEAN, &[if value { 0xFF } else { 0x00 }]);
    }

    /// Appends a universal INTEGER in minimal two's complement.
    pub fn write_integer(&mut self, value: i64) {
        self.write_integer_tagged(Tag::INTEGER, value);
    }

    /// Appends an integer-encoded element carrying `tag`.
    pub fn write_integer_tagged(&mut self, tag: Tag, value: i64) {
        let bytes = value.to_be_bytes();
        // Drop leading octets that only repeat the sign bit of the next one.
        let redundant = bytes
            .windows(2)
            .take_while(|pair| match pair {
                [0x00, next] => next & 0x80 == 0,
                [0xFF, next] => next & 0x80 != 0,
                _ => false,
            })
            .count();
        self.write_primitive(tag, bytes.get(redundant..).unwrap_or(&bytes));
    }

    /// Appends a universal ENUMERATED.
    pub fn write_enumerated(&mut self, value: i64) {
        self.write_integer_tagged(Tag::ENUMERATED, value);
    }

    /// Appends a universal OCTET STRING.
    pub fn write_octet_string(&mut self, value: &[u8]) {
        self.write_primitive(Tag::OCTET_STRING, value);
    }

    /// Appends a constructed element whose content `build` writes.
    pub fn write_constructed(&mut self, tag: Tag, build: impl FnOnce(&mut Writer)) {
        let mut inner = Writer::new();
        build(&mut inner);
        self.write_primitive(tag, &inner.buf);
    }

    /// Appends a SEQUENCE whose content `build` writes.
    pub fn write_sequence(&mut self, build: impl FnOnce(&mut Writer)) {
        self.write_constructed(Tag::SEQUENCE, build);
    }

    /// Appends a SET OF with one component per item, each written by
    /// `encode`, sorted by encoding as DER requires (X.690 §11.6).
    pub fn write_set_of<T>(
        &mut self,
        items: impl IntoIterator<Item = T>,
        mut encode: impl FnMut(&mut Writer, T),
    ) {
        let mut components: Vec<Vec<u8>> = items
            .into_iter()
            .map(|item| {
                let mut component = Writer::new();
                encode(&mut component, item);
                component.buf
            })
            .collect();
        components.sort_unstable();
        let content: Vec<u8> = components.concat();
        self.write_primitive(Tag::SET, &content);
    }

    /// The bytes written so far.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Consumes the writer, returning its bytes.
    #[must_use]
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

fn push_length(out: &mut Vec<u8>, length: usize) {
    match u8::try_from(length) {
        Ok(short) if short < 0x80 => out.push(short),
        _ => {
            let bytes = u64::try_from(length).unwrap_or(u64::MAX).to_be_bytes();
            let skip = bytes.iter().take_while(|&&b| b == 0).count();
            let significant = bytes.get(skip..).unwrap_or(&bytes);
            // `significant` holds one to eight octets, so this fits in 7 bits.
            let count = u8::try_from(significant.len()).unwrap_or(8);
            out.push(0x80 | count);
            out.extend_from_slice(significant);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn integer_der(value: i64) -> Vec<u8> {
        let mut w = Writer::new();
        w.write_integer(value);
        w.into_bytes()
    }

    #[test]
    fn integers_encode_minimally() {
        let cases: &[(i64, &[u8])] = &[
            (0, &[0x02, 0x01, 0x00]),
            (1, &[0x02, 0x01, 0x01]),
            (127, &[0x02, 0x01, 0x7F]),
            (128, &[0x02, 0x02, 0x00, 0x80]),
            (256, &[0x02, 0x02, 0x01, 0x00]),
            (0x800, &[0x02, 0x02, 0x08, 0x00]),
            (0x2000, &[0x02, 0x02, 0x20, 0x00]),
            (-1, &[0x02, 0x01, 0xFF]),
            (-128, &[0x02, 0x01, 0x80]),
            (-129, &[0x02, 0x02, 0xFF, 0x7F]),
            (i64::from(i32::MAX), &[0x02, 0x04, 0x7F, 0xFF, 0xFF, 0xFF]),
            (i64::from(i32::MIN), &[0x02, 0x04, 0x80, 0x00, 0x00, 0x00]),
            (0x8000_0000, &[0x02, 0x05, 0x00, 0x80, 0x00, 0x00, 0x00]),
            (
                i64::MAX,
                &[0x02, 0x08, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
            ),
            (
                i64::MIN,
                &[0x02, 0x08, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
            ),
        ];
        for &(value, expected) in cases {
            assert_eq!(integer_der(value), expected, "encoding {value}");
            let mut r = Reader::new(expected);
            assert_eq!(r.read_integer().unwrap(), value, "decoding {value}");
            r.finish().unwrap();
        }
    }

    #[test]
    fn integer_decoding_rejects_bad_content() {
        let cases: &[(&[u8], BerError)] = &[
            (&[0x02, 0x00], BerError::InvalidInteger { offset: 0 }),
            (
                &[0x02, 0x02, 0x00, 0x01],
                BerError::InvalidInteger { offset: 0 },
            ),
            (
                &[0x02, 0x02, 0xFF, 0x80],
                BerError::InvalidInteger { offset: 0 },
            ),
            (
                &[0x02, 0x09, 0x01, 0, 0, 0, 0, 0, 0, 0, 0],
                BerError::IntegerOverflow {
                    offset: 0,
                    bits: 64,
                },
            ),
            (
                &[0x02, 0x09, 0x00, 0x80, 0, 0, 0, 0, 0, 0, 0],
                BerError::IntegerOverflow {
                    offset: 0,
                    bits: 64,
                },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(Reader::new(input).read_integer().unwrap_err(), *expected);
        }
    }

    #[test]
    fn i32_range_is_enforced() {
        let ok = [0x02, 0x04, 0x80, 0x00, 0x00, 0x00];
        assert_eq!(Reader::new(&ok).read_i32().unwrap(), i32::MIN);
        let too_big = [0x02, 0x05, 0x00, 0x80, 0x00, 0x00, 0x00];
        assert_eq!(
            Reader::new(&too_big).read_i32().unwrap_err(),
            BerError::IntegerOverflow {
                offset: 0,
                bits: 32
            }
        );
    }

    #[test]
    fn booleans() {
        let mut w = Writer::new();
        w.write_boolean(true);
        w.write_boolean(false);
        assert_eq!(w.as_bytes(), [0x01, 0x01, 0xFF, 0x01, 0x01, 0x00]);

        let mut r = Reader::new(&[0x01, 0x01, 0xFF, 0x01, 0x01, 0x00, 0x01, 0x01, 0x01]);
        assert!(r.read_boolean().unwrap());
        assert!(!r.read_boolean().unwrap());
        // BER allows any non-zero octet for TRUE.
        assert!(r.read_boolean().unwrap());
        r.finish().unwrap();

        for bad in [&[0x01, 0x00][..], &[0x01, 0x02, 0xFF, 0xFF]] {
            assert!(matches!(
                Reader::new(bad).read_boolean(),
                Err(BerError::InvalidBoolean { .. })
            ));
        }
    }

    #[test]
    fn lengths_encode_minimally() {
        for (len, header) in [
            (0usize, vec![0x04, 0x00]),
            (127, vec![0x04, 0x7F]),
            (128, vec![0x04, 0x81, 0x80]),
            (255, vec![0x04, 0x81, 0xFF]),
            (256, vec![0x04, 0x82, 0x01, 0x00]),
            (65_535, vec![0x04, 0x82, 0xFF, 0xFF]),
            (65_536, vec![0x04, 0x83, 0x01, 0x00, 0x00]),
        ] {
            let content = vec![0xAB; len];
            let mut w = Writer::new();
            w.write_octet_string(&content);
            let bytes = w.into_bytes();
            assert_eq!(&bytes[..header.len()], &header[..], "length {len}");
            assert_eq!(bytes.len(), header.len() + len);
            let mut r = Reader::new(&bytes);
            assert_eq!(r.read_octet_string().unwrap(), &content[..]);
            r.finish().unwrap();
        }
    }

    #[test]
    fn non_minimal_long_form_lengths_are_accepted() {
        // Active Directory pads lengths to four octets.
        let input = [0x30, 0x84, 0x00, 0x00, 0x00, 0x03, 0x02, 0x01, 0x05];
        let mut r = Reader::new(&input);
        let mut seq = r.read_sequence().unwrap();
        assert_eq!(seq.offset(), 6);
        assert_eq!(seq.read_integer().unwrap(), 5);
        seq.finish().unwrap();
        r.finish().unwrap();

        let input = [0x04, 0x81, 0x01, 0x61];
        assert_eq!(Reader::new(&input).read_octet_string().unwrap(), b"a");
    }

    #[test]
    fn header_violations() {
        let cases: &[(&[u8], BerError)] = &[
            (&[], BerError::Truncated { offset: 0 }),
            (&[0x30], BerError::Truncated { offset: 1 }),
            (
                &[0x30, 0x80, 0x00, 0x00],
                BerError::IndefiniteLength { offset: 1 },
            ),
            (&[0x30, 0xFF], BerError::ReservedLength { offset: 1 }),
            (
                &[0x30, 0x85, 0, 0, 0, 0, 1, 0],
                BerError::LengthTooLong {
                    offset: 1,
                    octets: 5,
                },
            ),
            (
                &[0x30, 0x88, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
                BerError::LengthTooLong {
                    offset: 1,
                    octets: 8,
                },
            ),
            (&[0x30, 0x82, 0x01], BerError::Truncated { offset: 3 }),
            (
                &[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF, 0x00],
                BerError::LengthExceedsInput {
                    offset: 0,
                    length: 0xFFFF_FFFF,
                    available: 1,
                },
            ),
            (
                &[0x04, 0x03, 0x61, 0x62],
                BerError::LengthExceedsInput {
                    offset: 0,
                    length: 3,
                    available: 2,
                },
            ),
            (&[0x1F, 0x01, 0x00], BerError::UnsupportedTag { offset: 0 }),
            (
                &[0xBF, 0x81, 0x00, 0x00],
                BerError::UnsupportedTag { offset: 0 },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                Reader::new(input).read_tlv().unwrap_err(),
                *expected,
                "input {input:02x?}"
            );
        }
    }

    #[test]
    fn child_lengths_cannot_escape_their_parent() {
        // The SEQUENCE holds two bytes, but its child claims three.
        let input = [0x30, 0x02, 0x04, 0x03, 0x61, 0x62, 0x63];
        let mut r = Reader::new(&input);
        let mut seq = r.read_sequence().unwrap();
        assert_eq!(
            seq.read_octet_string().unwrap_err(),
            BerError::LengthExceedsInput {
                offset: 2,
                length: 3,
                available: 0,
            }
        );
    }

    #[test]
    fn unexpected_tag_is_reported_without_consuming() {
        let input = [0x04, 0x00];
        let mut r = Reader::new(&input);
        assert_eq!(
            r.read_integer().unwrap_err(),
            BerError::UnexpectedTag {
                offset: 0,
                expected: Tag::INTEGER,
                found: Tag::OCTET_STRING,
            }
        );
        assert_eq!(r.read_octet_string().unwrap(), b"");
    }

    #[test]
    fn trailing_data_is_reported() {
        let input = [0x02, 0x01, 0x00, 0xAA, 0xBB];
        let mut r = Reader::new(&input);
        r.read_integer().unwrap();
        assert_eq!(
            r.finish().unwrap_err(),
            BerError::TrailingData {
                offset: 3,
                count: 2
            }
        );
    }

    fn nested_sequences(levels: usize) -> Vec<u8> {
        let mut encoded = Vec::new();
        for _ in 0..levels {
            let mut w = Writer::new();
            w.write_primitive(Tag::SEQUENCE, &encoded);
            encoded = w.into_bytes();
        }
        encoded
    }

    #[test]
    fn nesting_depth_is_bounded() {
        let ok = nested_sequences(DEFAULT_MAX_DEPTH);
        validate(&ok, DEFAULT_MAX_DEPTH).unwrap();

        let deep = nested_sequences(DEFAULT_MAX_DEPTH + 1);
        assert!(matches!(
            validate(&deep, DEFAULT_MAX_DEPTH),
            Err(BerError::DepthExceeded {
                max_depth: DEFAULT_MAX_DEPTH,
                ..
            })
        ));

        // Walking by hand hits the same limit.
        let mut reader = Reader::new(&deep);
        let mut levels = 0;
        let err = loop {
            match reader.read_sequence() {
                Ok(child) => {
                    levels += 1;
                    reader = child;
                }
                Err(err) => break err,
            }
        };
        assert_eq!(levels, DEFAULT_MAX_DEPTH);
        assert!(matches!(err, BerError::DepthExceeded { .. }));
    }

    #[test]
    fn validate_survives_very_deep_input() {
        // Far deeper than any call stack would allow if the walk recursed.
        let mut deep = Vec::new();
        for _ in 0..200_000 {
            deep.extend_from_slice(&[0x30, 0x80]);
        }
        assert!(matches!(
            validate(&deep, usize::MAX),
            Err(BerError::IndefiniteLength { offset: 1 })
        ));

        let mut deep = Vec::new();
        for _ in 0..100_000 {
            deep.extend_from_slice(&[0x31, 0x00]);
        }
        // Many siblings are one level deep however many there are.
        validate(&deep, 1).unwrap();
        assert!(matches!(
            validate(&deep, 0),
            Err(BerError::DepthExceeded {
                offset: 0,
                max_depth: 0
            })
        ));
        let nested = nested_sequences(100);
        validate(&nested, usize::MAX).unwrap();
        assert!(validate(&nested, 99).is_err());
    }

    #[test]
    fn validate_rejects_truncation_everywhere() {
        let mut w = Writer::new();
        w.write_sequence(|w| {
            w.write_integer(300);
            w.write_octet_string(b"cookie");
            w.write_set_of([b"b".as_slice(), b"a"], |w, item| {
                w.write_octet_string(item)
            });
        });
        let bytes = w.into_bytes();
        validate(&bytes, 4).unwrap();
        for cut in 0..bytes.len() {
            // An empty prefix is an empty run of elements, which is valid.
            if cut > 0 {
                assert!(validate(&bytes[..cut], 4).is_err(), "prefix {cut}");
            }
        }
    }

    #[test]
    fn set_of_is_sorted() {
        let mut w = Writer::new();
        w.write_set_of([3i64, 1, 2, 256], |w, v| w.write_integer(v));
        assert_eq!(
            w.as_bytes(),
            [
                0x31, 0x0D, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02, 0x02, 0x01, 0x03, 0x02, 0x02, 0x01,
                0x00
            ]
        );
    }

    #[test]
    fn tags() {
        assert_eq!(Tag::context::<0>(false).identifier(), 0x80);
        assert_eq!(Tag::context::<3>(true).identifier(), 0xA3);
        assert_eq!(Tag::context::<30>(true).identifier(), 0xBE);
        assert_eq!(Tag::SEQUENCE.class(), Class::Universal);
        assert!(Tag::SEQUENCE.is_constructed());
        assert_eq!(Tag::SET.number(), 17);
        assert_eq!(Tag::context::<2>(true).class(), Class::ContextSpecific);
        assert_eq!(
            Tag::from_identifier(0x61).map(Tag::class),
            Some(Class::Application)
        );
        assert_eq!(
            Tag::from_identifier(0xC0).map(Tag::class),
            Some(Class::Private)
        );
        assert_eq!(Tag::from_identifier(0x3F), None);
        assert_eq!(
            Tag::SEQUENCE.to_string(),
            "0x30 ([UNIVERSAL 16] constructed)"
        );
    }

    #[test]
    fn offsets_are_absolute() {
        let input = [0x30, 0x06, 0x02, 0x01, 0x00, 0x04, 0x01, 0x61, 0x00];
        let mut r = Reader::new(&input);
        let mut seq = r.read_sequence().unwrap();
        seq.read_integer().unwrap();
        let tlv = seq.read_tlv().unwrap();
        assert_eq!((tlv.offset, tlv.content_offset), (5, 7));
        seq.finish().unwrap();
        assert_eq!(
            r.finish().unwrap_err(),
            BerError::TrailingData {
                offset: 8,
                count: 1
            }
        );
    }
}
