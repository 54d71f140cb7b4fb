//! The SCIM 2.0 service provider's HTTP side, nested under `/scim/v2`: the routes over
//! [`bridge::provisioning::Scim`] and the mapping of bridge errors to SCIM's error response.

pub mod error;
mod routes;

#[cfg(test)]
mod tests;

pub use routes::routes;
