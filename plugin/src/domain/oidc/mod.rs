//! The OpenID Connect provider's rules, free of HTTP, SQL and cryptography types: signing-key
//! rotation, OAuth errors, and (in later files) clients, authorization requests, PKCE,
//! claims and refresh-token families.

pub mod authn;
pub mod claims;
pub mod client;
pub mod eam;
pub mod error;
pub mod flow;
pub mod grant;
pub mod keys;
pub mod pkce;
pub mod problem;
pub mod request;
pub mod scope;
pub mod settings;

pub use error::{OAuthError, OAuthErrorCode};
pub use settings::OidcSettings;
