//! Onboarding through Entra: N joiners → outbox → pass created in Entra → SMTP, against the
//! local Entra of the tests (`tests/common/graph.rs`: token endpoint and Graph over loopback
//! HTTP) and a minimal SMTP sink, next to the floors it stands on: the Graph call alone through
//! tapbridge's client, and the same pipeline minting locally.
//!
//! Graph's own latency is not on loopback; rows with an added delay per Graph request show
//! what `entra.concurrency` buys against a real tenant.
//!
//! `cargo bench --bench entra_throughput [-- N]` (default 2000).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bridge::entra::{Entra, EntraConfig, PassRequest};
use bridge::mail::entra::EntraMinting;
use bridge::mail::{Branding, MailSettings, Mailer, Security, SmtpSettings, TransportSettings};
use bridge::onboarding::{Mint, Onboarding, Recipient, Rule, Timing};
use plugin::clock::SystemClock;
use plugin::domain::audit::Initiator;
use plugin::domain::directory::NewUser;
use plugin::platform::lifecycle::{Writer, create_user};
use plugin::platform::{Platform, PlatformSettings};
use plugin::secret::{SecretString, ServerSecret};
use plugin::store::{DatabaseSettings, Durability, Store};

#[path = "common/sink.rs"]
mod sink;

#[allow(dead_code)]
#[path = "../tests/common/graph.rs"]
mod graph;

use graph::{CLIENT_ID, LocalEntra, SECRET, TENANT};

fn row(what: &str, unit: &str, n: usize, elapsed: Duration) {
    println!(
        "{what:<66} {:>7.0} {unit}/s  ({n} in {:.2} s)",
        n as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
}

fn connector(entra: &LocalEntra, concurrency: usize) -> Arc<Entra> {
    let mut config = EntraConfig {
        tenant_id: TENANT.into(),
        client_id: CLIENT_ID.into(),
        client_secret: Some(SecretString::new(SECRET.into())),
        authority_url: entra.url.clone(),
        graph_url: entra.url.clone(),
        concurrency,
        ..EntraConfig::default()
    };
    assert!(config.validate().is_empty());
    Entra::from_config(&config, Arc::new(SystemClock))
        .expect("connector")
        .expect("configured")
}

struct Run {
    label: String,
    mint: Mint,
    replace: bool,
    latency: Duration,
    entra_concurrency: usize,
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir().expect("temp dir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let (port, accepted) = sink::sink().await;
        println!(
            "onboarding through Entra, {n} joiners, {} cores; local Entra (axum on loopback, its own runtime), minimal SMTP sink",
            std::thread::available_parallelism().map_or(1, |c| c.get())
        );

        // Floor: creating passes through tapbridge's Graph client alone (token cached).
        for (concurrency, latency) in [(4usize, Duration::ZERO), (16, Duration::ZERO), (4, Duration::from_millis(20)), (16, Duration::from_millis(20))] {
            let entra = LocalEntra::start();
            entra.set_latency(latency);
            let ids: Vec<String> = (0..n).map(|i| entra.add_user(&format!("g{i}@corp.example"))).collect();
            let connector = connector(&entra, concurrency);
            connector.graph().tokens().get().await.expect("token");
            let started = Instant::now();
            let mut tasks = tokio::task::JoinSet::new();
            for id in ids {
                let c = connector.clone();
                tasks.spawn(async move {
                    c.graph().create_pass(&id, &PassRequest::default()).await.expect("pass");
                });
            }
            while tasks.join_next().await.is_some() {}
            row(
                &format!("floor: Graph create pass alone, {concurrency} in flight, +{} ms/request", latency.as_millis()),
                "passes",
                n,
                started.elapsed(),
            );
        }

        let runs = [
            Run { label: "local pass (no Entra)".into(), mint: Mint::Local, replace: false, latency: Duration::ZERO, entra_concurrency: 4 },
            Run { label: "Entra, replace_existing_pass (look-up, create)".into(), mint: Mint::Entra, replace: true, latency: Duration::ZERO, entra_concurrency: 4 },
            Run { label: "Entra, keep others' passes (look-up, list, create)".into(), mint: Mint::Entra, replace: false, latency: Duration::ZERO, entra_concurrency: 4 },
            Run { label: "Entra, keep, +20 ms/request, entra.concurrency 4".into(), mint: Mint::Entra, replace: false, latency: Duration::from_millis(20), entra_concurrency: 4 },
            Run { label: "Entra, keep, +20 ms/request, entra.concurrency 16".into(), mint: Mint::Entra, replace: false, latency: Duration::from_millis(20), entra_concurrency: 16 },
        ];
        for (k, run) in runs.iter().enumerate() {
            let entra = LocalEntra::start();
            entra.set_latency(run.latency);
            let mut db = DatabaseSettings::at(dir.path().join(format!("bench-{k}.db")));
            db.durability = Durability::Full;
            let store = Store::open(&db).await.expect("store");
            let secret = ServerSecret::from_bytes(vec![5; 32]).expect("secret");
            let platform = Arc::new(Platform::new(store, Arc::new(SystemClock), &secret, PlatformSettings::default(), Arc::default()));
            let w = Writer { initiator: Initiator { kind: "service".into(), id: None, display_name: "bench".into() }, correlation_id: None, now: platform.now() };
            for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
                let mut tx = platform.store().write().await.expect("tx");
                for i in chunk {
                    let upn = format!("joiner{i}@corp.example");
                    entra.add_user(&upn);
                    let new = NewUser {
                        user_principal_name: upn,
                        personal_email: Some(format!("joiner{i}@home.example")),
                        account_enabled: true,
                        source: "scim:bench".into(),
                        ..Default::default()
                    };
                    create_user(&mut tx, new, &w).await.expect("user");
                }
                tx.commit().await.expect("commit");
            }
            let rule = Rule {
                name: "bench".into(), sources: vec![], groups: vec![], without_passkey: true, timing: Timing::AtCreation,
                lifetime_minutes: Some(120), usable_once: Some(true), start_at_hire_date: false,
                recipients: vec![Recipient::Personal], cc: vec![], mint: run.mint, replace_existing_pass: run.replace,
            };
            let onboarding = Onboarding::new(platform.clone(), vec![rule], "en".into(), Duration::from_millis(100));
            while onboarding.process_pending().await.expect("events") > 0 {}
            let settings = MailSettings {
                from: "tapbridge <tapbridge@localhost>".into(),
                transport: TransportSettings::Smtp(SmtpSettings {
                    host: "127.0.0.1".into(), port, security: Security::None, username: None, password: None,
                    timeout: Duration::from_secs(30), pool_size: 8, ca_file: None, verify: true,
                }),
                branding: Branding { org_name: "Bench".into(), logo_url: None, support_contact: None },
                public_url: "http://localhost:8080".into(),
                default_language: "en".into(),
                retry_base: Duration::from_secs(1),
                retry_max: Duration::from_secs(2),
                max_attempts: 3,
                concurrency: 16,
                lease: Duration::from_secs(300),
                poll_interval: Duration::from_millis(10),
            };
            let mailer = Mailer::new(platform.clone(), settings).expect("mailer").with_entra(EntraMinting {
                entra: connector(&entra, run.entra_concurrency),
                guid_sources: Default::default(),
            });
            let mailer = Arc::new(mailer);
            let before = accepted.load(std::sync::atomic::Ordering::Relaxed);
            let started = Instant::now();
            while mailer.deliver_due().await.expect("deliver") > 0 {}
            let elapsed = started.elapsed();
            let counts = platform.mail_counts().await.expect("counts");
            let sent = counts.iter().find(|(s, _)| s.as_str() == "sent").map_or(0, |(_, c)| *c);
            assert_eq!(sent as usize, n, "every message sent: {counts:?}");
            assert!(accepted.load(std::sync::atomic::Ordering::Relaxed) - before >= n as u64);
            if run.mint == Mint::Entra {
                assert_eq!(entra.passes().len(), n, "one pass per joiner in Entra");
            }
            row(&format!("tapbridge: {}", run.label), "joiners", n, elapsed);
            if run.mint == Mint::Entra {
                println!(
                    "{:<66} {:>7} Graph requests, {} token request(s), peak {} in flight",
                    "", entra.graph_requests(), entra.token_requests(), entra.peak_inflight()
                );
            }
            platform.store().close().await;
        }
    });
}
