//! SCIM 2.0 resource logic that is independent of HTTP and storage.
//!
//! - [`filter`]: the RFC 7644 §3.4.2.2 filter language (parser, AST, canonical printer and
//!   evaluator over JSON resources), plus the attribute-path grammar PATCH uses.
//! - [`patch`]: the RFC 7644 §3.5.2 PATCH engine, including the request-body parser and the
//!   tolerances real provisioning clients (Microsoft Entra ID, Okta) need.
//! - [`schema`]: attribute definitions the PATCH engine consults, with the RFC 7643 core User
//!   (plus Enterprise User extension) and Group schemas built in.
//!
//! Every function here works on [`serde_json::Value`] resources and never panics on any input;
//! all failures are returned as errors that carry the SCIM `scimType` to report with HTTP 400.

pub mod filter;
pub mod patch;
pub mod schema;
