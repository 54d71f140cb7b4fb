//! Onboarding: turns joiner events into one onboarding mail each, by rule, and cancels a
//! leaver's pending mail.

pub mod rules;
mod worker;

pub use rules::{Mint, Recipient, Rule, Timing};
pub use worker::{Onboarding, resend};
