//! LDAP and Active Directory. [`controls`] encodes and decodes the request and response
//! controls the sync needs and `ldap3` lacks (AD DirSync, Show Deleted, RFC 4533 content sync,
//! paged results), with a strict BER reader that returns errors, never panics.

pub mod controls;
