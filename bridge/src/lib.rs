//! The directory side of tapbridge.
//!
//! It brings people in from where enterprises keep them and turns arrivals into onboarding:
//! - LDAP and Active Directory sync (paged full reads, RFC 4533 content sync, AD DirSync and
//!   `uSNChanged` polling) into the platform's directory store, never deleting on a failed or
//!   partial read;
//! - a SCIM 2.0 service provider for HR systems and identity providers;
//! - onboarding rules that issue a Temporary Access Pass to each joiner and queue one e-mail,
//!   delivered through a durable outbox.
//!
//! It depends on `plugin` for the store, the audit log and pass issuance.

pub mod entra;
pub mod error;
pub mod ldap;
pub mod mail;
pub mod onboarding;
pub mod provisioning;
pub mod scim;
