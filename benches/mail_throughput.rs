//! Onboarding mail throughput: N joiners → outbox → delivery to a local SMTP sink (a minimal
//! server in this file, accepting and discarding), through tapbridge's whole pipeline (claim, mint the pass, render,
//! send, record), next to what the SMTP path itself allows: lettre alone over pooled
//! connections, and one connection per message.
//!
//! `cargo bench --bench mail_throughput [-- N]` (default 10000).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bridge::mail::{Branding, MailSettings, Mailer, Security, SmtpSettings, TransportSettings};
use bridge::onboarding::{Mint, Onboarding, Recipient, Rule, Timing};
use lettre::message::Mailbox;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::client::{AsyncSmtpConnection, Tls};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use plugin::clock::SystemClock;
use plugin::domain::audit::Initiator;
use plugin::domain::directory::NewUser;
use plugin::platform::lifecycle::{Writer, create_user};
use plugin::platform::{Platform, PlatformSettings};
use plugin::secret::ServerSecret;
use plugin::store::{DatabaseSettings, Durability, Store};

#[path = "common/sink.rs"]
mod sink;
use sink::sink;

fn row(what: &str, n: usize, elapsed: Duration) {
    println!(
        "{what:<58} {:>8.0} msg/s  ({n} in {:.2} s)",
        n as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
}

fn message(i: usize) -> Message {
    Message::builder()
        .from(
            "tapbridge <tapbridge@localhost>"
                .parse::<Mailbox>()
                .expect("from"),
        )
        .to(format!("user{i}@example.com")
            .parse::<Mailbox>()
            .expect("to"))
        .subject("benchmark")
        .body(String::from("x").repeat(2000))
        .expect("message")
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let (port, accepted) = sink().await;
        println!(
            "onboarding mail, {n} joiners, {} cores, SMTP sink: minimal SMTP server on loopback (accepts, discards)",
            std::thread::available_parallelism().map_or(1, |c| c.get())
        );
        // The SMTP path alone, as fast as this sink goes.
        let pooled = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(port)
            .tls(Tls::None)
            .pool_config(PoolConfig::new().max_size(8))
            .build();
        let pooled = Arc::new(pooled);
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..8 {
            let t = pooled.clone();
            tasks.spawn(async move {
                for i in (worker..n / 4).step_by(8) {
                    t.send(message(i)).await.expect("send");
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        row("lettre's own pool, 8 connections (Nagle on)", n / 4, started.elapsed());

        // The floor under tapbridge's pipeline: its SMTP transport alone, no outbox, no pass.
        let transport = Arc::new(
            bridge::mail::transport::Transport::build(&TransportSettings::Smtp(SmtpSettings {
                host: "127.0.0.1".into(),
                port,
                security: Security::None,
                username: None,
                password: None,
                timeout: Duration::from_secs(30),
                pool_size: 8,
                ca_file: None,
                verify: true,
            }))
            .expect("transport"),
        );
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..8 {
            let t = transport.clone();
            tasks.spawn(async move {
                for i in (worker..n).step_by(8) {
                    if t.send(message(i)).await.is_err() {
                        panic!("send failed");
                    }
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        row("floor: tapbridge's SMTP transport alone, 8 connections", n, started.elapsed());

        let count = n / 20;
        let started = Instant::now();
        for i in 0..count {
            let m = message(i);
            let mut conn = AsyncSmtpConnection::connect_tokio1(("127.0.0.1", port), None, &ClientId::default(), None, None)
                .await
                .expect("connect");
            conn.send(m.envelope(), &m.formatted()).await.expect("send");
            conn.quit().await.expect("quit");
        }
        row("lettre, one connection per message", count, started.elapsed());

        // PostgreSQL with fsync on, as a production server runs, after the SQLite runs. The
        // last SQLite run: group commit off (each write its own commit), as before it.
        let cluster = testkit::postgres::Cluster::start_durable()
            .map_err(|why| println!("(PostgreSQL not measured: {why})"))
            .ok();
        let mut runs = Vec::new();
        for (durability, concurrency, group) in [(Durability::Full, 8usize, 64), (Durability::Full, 1, 64), (Durability::Normal, 8, 64), (Durability::Full, 8, 1)] {
            let mut db = DatabaseSettings::at(dir.path().join(format!("bench-{durability:?}-{concurrency}-{group}.db")));
            db.durability = durability;
            db.group_commit_max = group;
            let grouping = if group > 1 { "" } else { ", group commit off" };
            runs.push((format!("SQLite sync={durability:?}{grouping}"), db, concurrency));
        }
        if let Some(c) = &cluster {
            runs.push(("PostgreSQL".to_owned(), DatabaseSettings::postgres(c.create_database()), 8));
        }
        for (engine, db, concurrency) in runs {
            let store = Store::open(&db).await.expect("store");
            let secret = ServerSecret::from_bytes(vec![5; 32]).expect("secret");
            let platform = Arc::new(Platform::new(store, Arc::new(SystemClock), &secret, PlatformSettings::default(), Arc::default()));
            let started = Instant::now();
            let w = Writer { initiator: Initiator { kind: "service".into(), id: None, display_name: "bench".into() }, correlation_id: None, now: platform.now() };
            for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
                let mut tx = platform.store().write().await.expect("tx");
                for i in chunk {
                    let new = NewUser {
                        user_principal_name: format!("joiner{i}@corp.example"),
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
                lifetime_minutes: None, usable_once: Some(true), start_at_hire_date: false,
                recipients: vec![Recipient::Personal], cc: vec![], mint: Mint::Local, replace_existing_pass: false,
            };
            let onboarding = Onboarding::new(platform.clone(), vec![rule], "en".into(), Duration::from_millis(100));
            let queued_at = Instant::now();
            while onboarding.process_pending().await.expect("events") > 0 {}
            let queue_time = queued_at.elapsed();
            let setup = started.elapsed();
            let settings = MailSettings {
                from: "tapbridge <tapbridge@localhost>".into(),
                transport: TransportSettings::Smtp(SmtpSettings {
                    host: "127.0.0.1".into(), port, security: Security::None, username: None, password: None,
                    timeout: Duration::from_secs(30), pool_size: concurrency as u32, ca_file: None, verify: true,
                }),
                branding: Branding { org_name: "Bench".into(), logo_url: None, support_contact: None },
                public_url: "http://localhost:8080".into(),
                default_language: "en".into(),
                retry_base: Duration::from_secs(1),
                retry_max: Duration::from_secs(2),
                max_attempts: 3,
                concurrency,
                lease: Duration::from_secs(300),
                poll_interval: Duration::from_millis(10),
            };
            let mailer = Arc::new(Mailer::new(platform.clone(), settings).expect("mailer"));
            let started = Instant::now();
            while mailer.deliver_due().await.expect("deliver") > 0 {}
            let elapsed = started.elapsed();
            let counts = platform.mail_counts().await.expect("counts");
            let sent = counts.iter().find(|(s, _)| s.as_str() == "sent").map_or(0, |(_, c)| *c);
            assert_eq!(sent as usize, n, "every message accepted: {counts:?}");
            assert!(accepted.load(std::sync::atomic::Ordering::Relaxed) >= n as u64);
            row(&format!("tapbridge: outbox → pass → SMTP, {concurrency} conn, {engine}"), n, elapsed);
            println!("{:<58} {:>8.0} joiners/s  (users+events {:.2} s, rules → outbox {:.2} s)", "  setup: joiner events → outbox", n as f64 / queue_time.as_secs_f64(), (setup - queue_time).as_secs_f64(), queue_time.as_secs_f64());
            platform.store().close().await;
        }
    });
}
