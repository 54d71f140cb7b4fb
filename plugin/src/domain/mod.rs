//! Domain model. Nothing here knows about HTTP, SQL or templates.

pub mod actor;
pub mod audit;
pub mod directory;
pub mod directory_sync;
pub mod fido2_policy;
pub mod lifecycle;
pub mod oidc;
pub mod outbox;
pub mod provisioned;
pub mod role;
pub mod session;
pub mod tap;
pub mod tap_policy;
pub mod timefmt;
pub mod webauthn;
