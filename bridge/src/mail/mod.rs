//! Onboarding mail: a durable outbox, delivered by a background worker through SMTP (lettre)
//! or into a folder of `.eml` files.
//!
//! The pass a message carries is never stored, in the outbox or anywhere: it is minted when the
//! message is delivered and exists only in memory until the server has it. The alternative —
//! storing it encrypted and wiping it after sending — would put a recoverable secret at rest
//! for as long as a message waits (days, for a hire date ahead) and across every backup taken
//! meanwhile. Minting late also means a retry after a failure carries a fresh pass, and the one
//! that never arrived stops working.

mod backoff;
mod delivery;
pub mod entra;
pub mod entra_removal;
mod folder;
pub use plugin::domain::outbox;
pub mod render;
mod smtp_pool;
pub mod transport;

use std::time::Duration;

pub use delivery::Mailer;
pub use transport::{Security, SmtpSettings, TransportSettings};

/// What the organisation looks like in its mail.
#[derive(Debug, Clone)]
pub struct Branding {
    pub org_name: String,
    pub logo_url: Option<String>,
    pub support_contact: Option<String>,
}

#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `Name <address>` of the sender.
    pub from: String,
    pub transport: TransportSettings,
    pub branding: Branding,
    /// The daemon's external base URL: mail links to `<public_url>/onboard`.
    pub public_url: String,
    pub default_language: String,
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Attempts after which a temporary failure becomes permanent.
    pub max_attempts: u32,
    /// Messages delivered at once (and pooled SMTP connections).
    pub concurrency: usize,
    /// How long a claimed message is reserved for its sender; a sender that dies is replaced
    /// after this.
    pub lease: Duration,
    pub poll_interval: Duration,
}
