//! A failed pass sign-in does the same work whatever made it fail: unknown user, user without
//! a pass, wrong code, a locked or expired pass. Not a timing test: the store's own statement
//! log (the store's `tapbridge::sql` events and sqlx's `sqlx::query`) is recorded for each path and compared, statement by
//! statement, with the rows each returned. If one path skips a read (the policy, the user's
//! groups) or gets more rows handed over, the lists differ and an attacker could tell from the
//! answer's timing whether a user exists or holds a pass.
//!
//! One test in its own binary: it installs the process-wide subscriber that records the
//! statements.

use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use plugin::clock::ManualClock;
use plugin::domain::directory::{NewUser, UserRef};
use plugin::domain::tap_policy::TapRequest;
use plugin::platform::{Caller, Platform, PlatformSettings};
use plugin::secret::{SecretString, ServerSecret};
use plugin::store::{DatabaseSettings, Durability, Store};
use time::Duration;
use time::macros::datetime;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Every statement the store runs, as SQL text with white space collapsed, and the rows it
/// returned.
#[derive(Clone, Default)]
struct Statements(Arc<Mutex<Vec<(String, u64)>>>);

#[derive(Default)]
struct Fields {
    summary: String,
    statement: String,
    rows_returned: u64,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "summary" => self.summary = value.to_owned(),
            "db.statement" | "statement" => self.statement = value.to_owned(),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "rows_returned" {
            self.rows_returned = value;
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

impl<S: Subscriber> Layer<S> for Statements {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        // SQLite statements run on the caller's thread and are logged by the store; sqlx logs
        // what it runs itself (PostgreSQL, BEGIN).
        if !["sqlx::query", "tapbridge::sql"].contains(&event.metadata().target()) {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        // sqlx gives the full text only when it differs from the summary.
        let sql = if f.statement.trim().is_empty() {
            f.summary
        } else {
            f.statement
        };
        let sql = sql.split_whitespace().collect::<Vec<_>>().join(" ");
        self.0.lock().unwrap().push((sql, f.rows_returned));
    }
}

impl Statements {
    /// The statements recorded since the last call. sqlx logs a statement when its worker
    /// thread finishes with it, which may be just after the caller has its answer: wait for
    /// the list to settle first.
    async fn take(&self) -> Vec<(String, u64)> {
        let mut seen = usize::MAX;
        loop {
            tokio::time::sleep(StdDuration::from_millis(50)).await;
            let n = self.0.lock().unwrap().len();
            if n == seen {
                return std::mem::take(&mut *self.0.lock().unwrap());
            }
            seen = n;
        }
    }
}

#[tokio::test]
async fn every_failed_pass_sign_in_runs_the_same_statements() {
    let statements = Statements::default();
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(statements.clone()),
    )
    .expect("the only subscriber of this test binary");

    let dir = tempfile::tempdir().unwrap();
    let mut settings = DatabaseSettings::at(dir.path().join("work.db"));
    settings.durability = Durability::Normal;
    // One connection: no connection is opened (and no PRAGMA logged) in the middle.
    settings.max_connections = 1;
    let store = Store::open(&settings).await.unwrap();
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-27 09:00 UTC)));
    let platform = Platform::new(
        store,
        clock.clone(),
        &ServerSecret::from_bytes(vec![7; 32]).unwrap(),
        PlatformSettings::default(),
        Arc::default(),
    );
    let op = Caller::operator();
    for upn in [
        "nopass@example.com",
        "holder@example.com",
        "locked@example.com",
        "expired@example.com",
    ] {
        platform
            .create_user(
                &op,
                NewUser {
                    user_principal_name: upn.into(),
                    account_enabled: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    let issue = |upn: &'static str, minutes: u32| {
        let platform = &platform;
        let op = &op;
        async move {
            platform
                .issue_tap(
                    op,
                    &UserRef::parse(upn).unwrap(),
                    TapRequest {
                        start_date_time: None,
                        lifetime_in_minutes: Some(minutes),
                        is_usable_once: Some(false),
                    },
                )
                .await
                .unwrap()
        }
    };
    issue("holder@example.com", 480).await;
    issue("locked@example.com", 480).await;
    let wrong = SecretString::new("WRONGCODE".into());
    for _ in 0..10 {
        let _ = platform
            .redeem_tap("locked@example.com", &wrong, None)
            .await;
    }
    issue("expired@example.com", 60).await;
    clock.advance(Duration::minutes(90));
    // Warm up: the first statements of a connection are prepared, not cached.
    let _ = platform
        .redeem_tap("warm-up@example.com", &wrong, None)
        .await;
    statements.take().await;

    let mut runs = Vec::new();
    for (path, upn) in [
        ("unknown user", "nobody@example.com"),
        ("user without a pass", "nopass@example.com"),
        ("wrong code", "holder@example.com"),
        ("locked pass", "locked@example.com"),
        ("expired pass", "expired@example.com"),
    ] {
        let refused = platform.redeem_tap(upn, &wrong, None).await;
        assert!(
            matches!(refused, Err(plugin::Error::InvalidPass)),
            "{path}: {refused:?}"
        );
        runs.push((path, statements.take().await));
    }
    let (first, reference) = &runs[0];
    for needed in [
        "auth_method_policies",
        "group_members",
        "temporary_access_passes",
    ] {
        assert!(
            reference.iter().any(|(s, _)| s.contains(needed)),
            "{first} reads {needed}: {reference:#?}"
        );
    }
    assert!(
        reference
            .iter()
            .any(|(s, rows)| s.contains("group_members") && *rows == 1),
        "one row, even for nobody: {reference:#?}"
    );
    for (path, run) in &runs[1..] {
        assert_eq!(run, reference, "{path} differs from {first}");
    }
}
