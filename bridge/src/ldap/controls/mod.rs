//! LDAP controls that `ldap3` does not provide, as pure functions over bytes.
//!
//! * [`dirsync`]: Active Directory DirSync request and response.
//! * [`ad`]: Active Directory Show Deleted, Show Recycled and Extended DN.
//! * [`content_sync`]: RFC 4533 Sync Request, Sync State, Sync Done and the
//!   Sync Info intermediate response.
//! * [`paged`]: RFC 2696 paged results, so malformed responses are handled
//!   the same way as for every other control here.
//! * [`guid`]: `objectGUID`, `entryUUID` and `objectSid` conversions and
//!   RFC 4515 filter escaping of binary values.
//! * [`ber`]: the strict BER reader and DER writer underneath.
//!
//! Request encoders return a [`Control`], whose fields map one to one onto
//! `ldap3::controls::RawControl { ctype, crit, val }`. Decoders take the raw
//! control value and never panic: every malformed, truncated, oversized or
//! hostile input yields a [`ControlError`] naming the control and the defect.
//! The lints below hold the non-test code to that.

#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented
)]

pub mod ad;
pub mod ber;
pub mod content_sync;
pub mod control;
pub mod dirsync;
pub mod guid;
pub mod paged;

#[cfg(test)]
mod proptests;

pub use control::{Control, ControlError, ControlErrorKind, expect_value};
