//! The identity-platform side of tapbridge.
//!
//! Layers, from the inside out:
//! - [`domain`]: users, groups, roles, the Temporary Access Pass policy and state machine, audit
//!   events. Pure: no HTTP, SQL or template types, time comes from a [`clock::Clock`].
//! - [`store`]: SQLite and PostgreSQL through sqlx, the only code that writes SQL. Functions
//!   take a connection so that the platform can compose them inside one transaction.
//! - [`platform`]: the operations (issue a pass, redeem it, patch the policy …). Each runs in one
//!   transaction, checks the caller's capability and writes its audit record in that transaction.
//!
//! HTTP is not here: the server crate (`tapbridge-server`) holds the Graph-compatible admin API,
//! the pages and every other route, as thin handlers over [`platform`].

pub mod clock;
pub mod domain;
pub mod error;
pub mod jose;
pub mod metrics;
pub mod platform;
pub mod secret;
pub mod store;

pub use error::{Error, Result};
