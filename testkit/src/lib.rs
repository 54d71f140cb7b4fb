//! Fixtures for tapbridge's tests (never linked into the daemon).

pub mod postgres;

/// Whether the suite runs under CI, where a missing dependency fails instead of skipping.
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}
