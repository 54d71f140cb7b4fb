//! `serve` runs each source on its schedule: a delta every `interval_minutes` (or a full run
//! when no delta is possible), a full mark-and-sweep every `full_interval_hours`. Runs of one
//! source never overlap, here or with a CLI run: each holds the source's run lock (see
//! `plugin::platform::directory_sync::RunLock`). A run refused because another holds the
//! lock, or one that failed, is retried at the next tick.

use std::sync::Arc;
use std::time::Duration;

use plugin::platform::Platform;
use tokio::sync::watch;

use super::config::LdapConfig;
use super::sync::{RunOptions, run};

/// Spawns one task per scheduled source; they end when `stop` turns true.
pub fn spawn(
    platform: Arc<Platform>,
    config: &LdapConfig,
    stop: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    if !config.scheduler {
        return Vec::new();
    }
    config
        .sources
        .iter()
        .filter(|s| s.interval_minutes > 0)
        .cloned()
        .map(|source| {
            let platform = platform.clone();
            let mut stop = stop.clone();
            let lock = config.lock_settings();
            tokio::spawn(async move {
                let every = Duration::from_secs(source.interval_minutes * 60);
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        () = async { let _ = stop.wait_for(|s| *s).await; } => return,
                    }
                    // Several nodes: the leader runs the schedule.
                    if !platform.leads() {
                        continue;
                    }
                    let full =
                        full_due(&platform, &source.source_id(), source.full_interval_hours).await;
                    let opts = RunOptions {
                        full,
                        lock,
                        ..Default::default()
                    };
                    // The run holds the source's lock like a CLI run would; shutdown stops it
                    // at its next await (the batch in flight rolls back, the lock is freed).
                    run(&platform, &source, opts, &stop, &|_| {}).await;
                    if *stop.borrow() {
                        return;
                    }
                }
            })
        })
        .collect()
}

async fn full_due(platform: &Platform, source: &str, hours: u64) -> bool {
    if hours == 0 {
        return false;
    }
    match platform.directory_sync_state(source).await {
        Ok(s) => match s.last_full_at {
            None => true,
            Some(at) => {
                platform.now() - at
                    >= time::Duration::hours(i64::try_from(hours).unwrap_or(i64::MAX / 3600))
            }
        },
        Err(_) => true,
    }
}
