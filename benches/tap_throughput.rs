//! Issue and redeem throughput through the real store, next to the floor it stands on: the
//! same write transaction with nothing else in it, and the cost of the keyed hash; on SQLite
//! (both durabilities) and on a PostgreSQL cluster the bench starts (fsync on), side by side.
//!
//! `cargo bench --bench tap_throughput [-- USERS]` (default 2000 users). Prints one table.

use std::sync::Arc;
use std::time::{Duration, Instant};

use plugin::clock::SystemClock;
use plugin::domain::directory::{NewUser, UserRef};
use plugin::domain::tap_policy::TapRequest;
use plugin::platform::{Caller, Platform, PlatformSettings};
use plugin::secret::{Purpose, SecretString, ServerSecret};
use plugin::store::{DatabaseSettings, Durability, Store};

struct Row {
    what: String,
    ops: usize,
    elapsed: Duration,
}

impl Row {
    fn print(&self) {
        let per_sec = self.ops as f64 / self.elapsed.as_secs_f64();
        let us = self.elapsed.as_secs_f64() * 1e6 / self.ops as f64;
        println!("{:<58} {:>10.0}/s {:>9.1} µs/op", self.what, per_sec, us);
    }
}

async fn platform(settings: DatabaseSettings) -> Arc<Platform> {
    let store = Store::open(&settings).await.expect("store");
    let secret = ServerSecret::from_bytes(vec![9; 32]).expect("secret");
    Arc::new(Platform::new(
        store,
        Arc::new(SystemClock),
        &secret,
        PlatformSettings::default(),
        Arc::default(),
    ))
}

async fn users(p: &Platform, n: usize) -> Vec<String> {
    let mut upns = Vec::with_capacity(n);
    for i in 0..n {
        let upn = format!("bench{i}@example.com");
        p.create_user(
            &Caller::operator(),
            NewUser {
                user_principal_name: upn.clone(),
                account_enabled: true,
                ..Default::default()
            },
        )
        .await
        .expect("user");
        upns.push(upn);
    }
    upns
}

/// One write transaction (the store's own: `BEGIN IMMEDIATE` on SQLite, the writers' lock on
/// PostgreSQL) with one small insert, per op, from `concurrency` tasks at once: the floor
/// under any write that must be durable. One at a time each pays its own commit; concurrent
/// ones share commits (the store's group commit). The store's probe table serves, emptied
/// afterwards.
async fn raw_transactions(p: &Arc<Platform>, n: usize, concurrency: usize) -> Row {
    let started = Instant::now();
    let commits = p.store().commits();
    let per = n.div_ceil(concurrency);
    let mut handles = Vec::new();
    for t in 0..concurrency {
        let p = p.clone();
        handles.push(tokio::spawn(async move {
            for i in t * per..((t + 1) * per).min(n) {
                let mut tx = p.store().write().await.expect("tx");
                plugin::store::query("INSERT INTO store_probe (id, filler) VALUES (?, ?)")
                    .bind(i as i64 + 1_000_000)
                    .bind(i.to_le_bytes().to_vec())
                    .execute(&mut tx)
                    .await
                    .expect("insert");
                tx.commit().await.expect("commit");
            }
        }));
    }
    for h in handles {
        h.await.expect("task");
    }
    let elapsed = started.elapsed();
    let commits = p.store().commits() - commits;
    let mut tx = p.store().write().await.expect("tx");
    plugin::store::query("DELETE FROM store_probe")
        .execute(&mut tx)
        .await
        .expect("delete");
    tx.commit().await.expect("commit");
    Row {
        what: format!(
            "  floor: write transaction, 1 insert ({concurrency} concurrent, {:.1}/commit)",
            n as f64 / commits.max(1) as f64
        ),
        ops: n,
        elapsed,
    }
}

async fn issue_all(
    p: &Arc<Platform>,
    upns: &[String],
    concurrency: usize,
) -> (Row, Vec<SecretString>) {
    let started = Instant::now();
    let chunks: Vec<Vec<String>> = upns
        .chunks(upns.len().div_ceil(concurrency))
        .map(|c| c.to_vec())
        .collect();
    let mut handles = Vec::new();
    for chunk in chunks {
        let p = p.clone();
        handles.push(tokio::spawn(async move {
            let mut passes = Vec::new();
            for upn in chunk {
                let issued = p
                    .issue_tap(
                        &Caller::operator(),
                        &UserRef::Upn(upn),
                        TapRequest::default(),
                    )
                    .await
                    .expect("issue");
                passes.push(issued.pass);
            }
            passes
        }));
    }
    let mut passes = Vec::new();
    for h in handles {
        passes.extend(h.await.expect("task"));
    }
    let row = Row {
        what: format!("  tapbridge: issue pass ({concurrency} concurrent)"),
        ops: upns.len(),
        elapsed: started.elapsed(),
    };
    (row, passes)
}

async fn redeem_all(
    p: &Arc<Platform>,
    upns: &[String],
    passes: &[SecretString],
    concurrency: usize,
) -> Row {
    let started = Instant::now();
    let pairs: Vec<(String, SecretString)> =
        upns.iter().cloned().zip(passes.iter().cloned()).collect();
    let mut handles = Vec::new();
    for chunk in pairs.chunks(pairs.len().div_ceil(concurrency)) {
        let (p, chunk) = (p.clone(), chunk.to_vec());
        handles.push(tokio::spawn(async move {
            for (upn, pass) in chunk {
                p.redeem_tap(&upn, &pass, None).await.expect("redeem");
            }
        }));
    }
    for h in handles {
        h.await.expect("task");
    }
    Row {
        what: format!("  tapbridge: redeem pass ({concurrency} concurrent)"),
        ops: upns.len(),
        elapsed: started.elapsed(),
    }
}

fn hmac_rate(n: usize) -> Row {
    let hasher = ServerSecret::from_bytes(vec![1; 32])
        .expect("secret")
        .hasher(Purpose::TemporaryAccessPass);
    let started = Instant::now();
    let mut acc = 0u8;
    for i in 0..n {
        acc ^= hasher.hash(&i.to_le_bytes(), b"AbCd2345")[0];
    }
    std::hint::black_box(acc);
    Row {
        what: "  keyed hash (HMAC-SHA-256) of one pass".into(),
        ops: n,
        elapsed: started.elapsed(),
    }
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        println!(
            "tapbridge pass throughput, {n} users, {} cores",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
        hmac_rate(200_000).print();
        // PostgreSQL with fsync on, as a production server runs: the same operations, side
        // by side.
        let cluster = testkit::postgres::Cluster::start_durable()
            .map_err(|why| println!("\n(PostgreSQL not measured: {why})"))
            .ok();
        let mut engines = Vec::new();
        for durability in [Durability::Full, Durability::Normal] {
            let mut settings =
                DatabaseSettings::at(dir.path().join(format!("bench-{durability:?}.db")));
            settings.durability = durability;
            engines.push((format!("SQLite synchronous = {durability:?}"), settings));
        }
        // The same without group commit (each write its own commit), as before it.
        let mut alone = DatabaseSettings::at(dir.path().join("bench-alone.db"));
        alone.group_commit_max = 1;
        engines.insert(
            1,
            (
                "SQLite synchronous = Full, group commit off (database.group_commit_max = 1)"
                    .to_owned(),
                alone,
            ),
        );
        if let Some(c) = &cluster {
            engines.push((
                "PostgreSQL (fsync on, synchronous_commit on)".to_owned(),
                DatabaseSettings::postgres(c.create_database()),
            ));
        }
        for (name, settings) in engines {
            println!("\n{name}");
            let p = platform(settings).await;
            let upns = users(&p, n).await;
            raw_transactions(&p, n, 1).await.print();
            raw_transactions(&p, n, 8).await.print();
            let (row, _) = issue_all(&p, &upns, 1).await;
            row.print();
            let (row, passes) = issue_all(&p, &upns, 8).await;
            row.print();
            redeem_all(&p, &upns, &passes, 1).await.print();
            let (_, passes) = issue_all(&p, &upns, 8).await;
            redeem_all(&p, &upns, &passes, 8).await.print();
            p.store().close().await;
        }
    });
}
