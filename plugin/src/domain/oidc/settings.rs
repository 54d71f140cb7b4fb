//! How long the provider's artefacts live and how often its keys rotate.

use time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// The issuer identifier: the public URL, no trailing slash.
    pub issuer: String,
    /// An authorization code must be exchanged within this.
    pub code_lifetime: Duration,
    pub access_token_lifetime: Duration,
    pub id_token_lifetime: Duration,
    /// A refresh token unused for this long expires (each use issues a new one).
    pub refresh_token_idle: Duration,
    /// However often it is refreshed, a grant ends this long after the sign-in.
    pub refresh_token_absolute: Duration,
    /// Time to finish an authorization (sign-in, first passkey, consent) once it started.
    pub flow_lifetime: Duration,
    /// A signing key signs for this long, then the next key (published since the last
    /// rotation) takes over.
    pub key_rotation: Duration,
    /// A retired key stays published for the longest token lifetime plus this.
    pub key_retire_margin: Duration,
}

impl OidcSettings {
    pub fn with_issuer(issuer: &str) -> OidcSettings {
        OidcSettings {
            issuer: issuer.trim_end_matches('/').to_owned(),
            code_lifetime: Duration::seconds(60),
            access_token_lifetime: Duration::minutes(10),
            id_token_lifetime: Duration::minutes(10),
            refresh_token_idle: Duration::days(1),
            refresh_token_absolute: Duration::days(7),
            flow_lifetime: Duration::minutes(30),
            key_rotation: Duration::days(30),
            key_retire_margin: Duration::hours(1),
        }
    }

    /// How long a retired key must stay published: every token it signed has expired by
    /// then, with a margin for clocks and caches.
    pub fn retired_key_publication(&self) -> Duration {
        self.access_token_lifetime.max(self.id_token_lifetime) + self.key_retire_margin
    }
}
