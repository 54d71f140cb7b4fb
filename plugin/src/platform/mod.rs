//! The platform's operations. Each one: checks the caller's roles, runs in one transaction,
//! writes its audit record inside that transaction (no action without its record, no record
//! without its action), and returns domain types.

mod audit;
mod directory;
pub mod directory_sync;
pub mod lifecycle;
mod mail_delivery;
pub mod oidc;
pub mod oidc_authorize;
pub mod oidc_client_auth;
mod oidc_clients;
pub mod oidc_eam;
mod oidc_keys;
pub mod oidc_logout;
pub mod oidc_tokens;
mod onboarding;
mod outbox;
pub mod pass_handover;
pub mod passkeys;
mod policy;
pub mod provisioning;
mod rate_limits;
pub mod sessions;
mod sync_sources;
mod taps;
mod tokens;

#[cfg(test)]
mod taps_tests;

use std::sync::Arc;

use time::Duration;
use uuid::Uuid;

use crate::Result;
use crate::clock::Clock;
use crate::domain::actor::Actor;
use crate::metrics::{Gauges, Metrics};
use crate::secret::{KeyedHasher, Purpose, ServerSecret};
use crate::store::{self, Store};

pub use mail_delivery::{MailOutcome, MailPass, RemovalOutcome};
pub use oidc::Oidc;
pub use oidc_eam::{EntraEamConfig, EntraKeySource};
pub use onboarding::{JoinerFacts, JoinerMail};
pub use outbox::OutboxListing;
pub use passkeys::{Passwordless, PasswordlessSettings, Registered, SecurityInfo};
pub use rate_limits::LimitScope;
pub use sessions::{OpenedSession, SignedIn};
pub use sync_sources::SyncSource;
pub use taps::{IssuedTap, PassAttempt, Redeemed, TapView};
pub use tokens::{CreatedToken, Provisioner, SCIM_SOURCE_PREFIX, TOKEN_PREFIX, TokenGrant};

/// Renders Prometheus text for series kept outside the platform (the mail outbox, LDAP sync).
pub type MetricsSource = std::sync::Arc<
    dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send>> + Send + Sync,
>;

#[derive(Debug, Clone)]
pub struct PlatformSettings {
    /// Wrong attempts after which a pass locks.
    pub max_failed_attempts: u32,
    /// How long expired or used passes stay visible before the purge removes them.
    pub tap_retention: Duration,
    /// How long audit records are kept; `None`: for ever.
    pub audit_retention: Option<Duration>,
    /// Repeats of an identical failed sign-in within this window are counted on one audit
    /// record.
    pub audit_coalesce_window: Duration,
}

impl Default for PlatformSettings {
    fn default() -> Self {
        PlatformSettings {
            max_failed_attempts: 10,
            tap_retention: Duration::days(30),
            audit_retention: Some(Duration::days(365)),
            audit_coalesce_window: Duration::minutes(15),
        }
    }
}

/// Who calls an operation, and the request it belongs to (for the audit log).
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    pub correlation_id: Option<Uuid>,
}

impl Caller {
    pub fn new(actor: Actor, correlation_id: Option<Uuid>) -> Self {
        Caller {
            actor,
            correlation_id,
        }
    }

    pub fn operator() -> Self {
        Caller {
            actor: Actor::operator(),
            correlation_id: None,
        }
    }
}

pub struct Platform {
    store: Store,
    clock: Arc<dyn Clock>,
    tap_hasher: KeyedHasher,
    token_hasher: KeyedHasher,
    /// Application (OAuth client) secrets.
    client_secret_hasher: KeyedHasher,
    /// Keys of the shared rate-limit counters.
    rate_limit_hasher: KeyedHasher,
    settings: PlatformSettings,
    metrics: Arc<Metrics>,
    /// Series other parts of the daemon (mail, LDAP) add to `/metrics`.
    metrics_sources: std::sync::RwLock<Vec<MetricsSource>>,
    /// Whether this node runs the jobs that must run once (several nodes on PostgreSQL).
    leadership: std::sync::RwLock<store::Leadership>,
}

impl Platform {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        secret: &ServerSecret,
        settings: PlatformSettings,
        metrics: Arc<Metrics>,
    ) -> Self {
        Platform {
            store,
            clock,
            tap_hasher: secret.hasher(Purpose::TemporaryAccessPass),
            token_hasher: secret.hasher(Purpose::ApiToken),
            client_secret_hasher: secret.hasher(Purpose::ClientSecret),
            rate_limit_hasher: secret.hasher(Purpose::RateLimitKey),
            settings,
            metrics,
            metrics_sources: Default::default(),
            leadership: std::sync::RwLock::new(store::Leadership::always()),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The platform's clock, for background tasks that outlive a borrow of the platform.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// The same platform over another store (a dry run's snapshot).
    pub fn with_store(&self, store: Store) -> Platform {
        Platform {
            store,
            clock: self.clock.clone(),
            tap_hasher: self.tap_hasher.clone(),
            token_hasher: self.token_hasher.clone(),
            client_secret_hasher: self.client_secret_hasher.clone(),
            rate_limit_hasher: self.rate_limit_hasher.clone(),
            settings: self.settings.clone(),
            metrics: self.metrics.clone(),
            metrics_sources: Default::default(),
            leadership: std::sync::RwLock::new(store::Leadership::always()),
        }
    }

    /// Sets how this node learns whether it leads (see [`store::Leadership`]).
    pub fn set_leadership(&self, leadership: store::Leadership) {
        if let Ok(mut l) = self.leadership.write() {
            *l = leadership;
        }
    }

    /// Whether this node runs the jobs that must run once (the LDAP schedule, purges): always
    /// on SQLite; on PostgreSQL, the one node holding the leader lock.
    pub fn leads(&self) -> bool {
        self.leadership.read().map(|l| l.leads()).unwrap_or(false)
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The clock's time at the store's precision (milliseconds).
    pub fn now(&self) -> time::OffsetDateTime {
        crate::domain::timefmt::to_millis(self.clock.now())
    }

    /// Registers a source of extra Prometheus series for `/metrics`.
    pub fn add_metrics_source(&self, source: MetricsSource) {
        if let Ok(mut sources) = self.metrics_sources.write() {
            sources.push(source);
        }
    }

    /// The text of every registered metrics source, concatenated.
    pub async fn extra_metrics(&self) -> String {
        let sources: Vec<MetricsSource> = self
            .metrics_sources
            .read()
            .map(|s| s.clone())
            .unwrap_or_default();
        let mut out = String::new();
        for source in sources {
            out.push_str(&source().await);
        }
        out
    }

    /// Store-derived values for `/metrics`.
    pub async fn gauges(&self) -> Result<Gauges> {
        let mut conn = self.store.read().await?;
        let users = store::users::count(&mut conn).await?;
        let (taps_usable, taps_stored) = store::taps::counts(&mut conn, self.now()).await?;
        let api_tokens = store::tokens::count_live(&mut conn).await?;
        Ok(Gauges {
            users,
            taps_usable,
            taps_stored,
            api_tokens,
        })
    }
}

/// A platform over a fresh test store, for this crate's tests and the server crate's.
#[cfg(any(test, feature = "test-util"))]
pub mod testing {
    use super::*;
    use crate::clock::ManualClock;
    use time::macros::datetime;

    pub struct Fixture {
        pub platform: Arc<Platform>,
        pub clock: Arc<ManualClock>,
        pub _dir: store::testing::TestDb,
    }

    pub async fn fixture() -> Fixture {
        let (store, dir) = store::testing::store().await;
        let clock = Arc::new(ManualClock::new(datetime!(2026-11-27 09:00 UTC)));
        let platform = Arc::new(Platform::new(
            store,
            clock.clone(),
            &ServerSecret::from_bytes(vec![42; 32]).unwrap(),
            PlatformSettings::default(),
            Arc::default(),
        ));
        Fixture {
            platform,
            clock,
            _dir: dir,
        }
    }

    /// A caller holding `roles` through an API token.
    pub fn caller(roles: &[crate::domain::role::Role]) -> Caller {
        let principal = crate::domain::actor::Principal::ApiToken {
            id: Uuid::new_v4(),
            name: "test".into(),
        };
        let roles = crate::domain::role::Roles::new(roles.iter().copied());
        Caller::new(Actor { principal, roles }, None)
    }

    /// The OpenID Connect provider over the fixture's platform, issuing as a local URL.
    pub fn oidc(f: &Fixture) -> super::Oidc {
        super::Oidc::new(
            f.platform.clone(),
            &ServerSecret::from_bytes(vec![42; 32]).unwrap(),
            crate::domain::oidc::OidcSettings::with_issuer("http://localhost:8080"),
        )
    }
}
