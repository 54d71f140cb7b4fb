//! The OpenID Connect provider's rules, free of HTTP, SQL and cryptography types: signing-key
//! rotation, OAuth errors, and (in later files) clients, authorization requests, PKCE,
//! claims and refresh-token families.

pub mod client;
pub mod error;
pub mod keys;
pub mod settings;

pub use error::{OAuthError, OAuthErrorCode};
pub use settings::OidcSettings;
