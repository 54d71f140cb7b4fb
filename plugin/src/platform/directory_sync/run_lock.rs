//! The run lock of a source: one run at a time, whether `serve`'s scheduler or the CLI starts
//! it, and a run that dies does not block its source for long.
//!
//! The lock is a row in `run_locks` naming its holder (host, process, start) and carrying a
//! heartbeat that a task renews every `heartbeat` while the run lives. A lock whose heartbeat
//! is older than `grace` belongs to a run that died (`kill -9`, a crash, a lost machine) and
//! is taken over by the next run. `--force` also takes the lock of a holder on this host whose
//! process is gone, at once; it never takes a lock whose holder may be alive.
//!
//! Every batch the run writes renews the heartbeat inside its own transaction and fails if the
//! lock is no longer the run's (see [`Fence`]): a run that lost its lock — frozen past the
//! grace, then taken over — writes nothing more and stops.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::domain::directory_sync::state::{RunLockHolder, RunRecord};
use crate::platform::Platform;
use crate::store::{Connection, Store, ldap, run_locks};
use crate::{Error, Result};

/// How a run lock is kept and when it counts as abandoned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockSettings {
    /// How often the holder renews its heartbeat.
    pub heartbeat: Duration,
    /// How long a heartbeat may be silent before the lock is taken over.
    pub grace: Duration,
}

impl Default for LockSettings {
    fn default() -> Self {
        LockSettings {
            heartbeat: Duration::from_secs(5),
            grace: Duration::from_secs(30),
        }
    }
}

/// The lock's current holder as operators see it.
#[derive(Debug, Clone, PartialEq)]
pub struct HolderView {
    pub host: String,
    pub pid: u32,
    pub started_at: OffsetDateTime,
    pub heartbeat_at: OffsetDateTime,
    /// The heartbeat is older than the grace: the next run takes the lock over.
    pub stale: bool,
}

/// The holder of `name`'s lock, if any.
#[cfg(test)]
async fn holder(
    conn: &mut Connection,
    name: &str,
    settings: LockSettings,
    now: OffsetDateTime,
) -> Result<Option<HolderView>> {
    Ok(run_locks::get(conn, name)
        .await?
        .map(|h| HolderView::of(h, settings, now)))
}

impl HolderView {
    /// A holder as operators see it at `now`: stale once its heartbeat is older than the grace.
    pub fn of(h: RunLockHolder, settings: LockSettings, now: OffsetDateTime) -> HolderView {
        HolderView {
            stale: h.heartbeat_at < stale_before(now, settings),
            host: h.host,
            pid: h.pid,
            started_at: h.started_at,
            heartbeat_at: h.heartbeat_at,
        }
    }
}

fn stale_before(now: OffsetDateTime, settings: LockSettings) -> OffsetDateTime {
    now - time::Duration::try_from(settings.grace).unwrap_or(time::Duration::minutes(1))
}

/// This process as a lock holder: host name, pid and (Linux) its start time.
fn this_process() -> (String, u32, Option<u64>) {
    let host = hostname::get()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let pid = std::process::id();
    (host, pid, process_state(pid).map(|(_, start)| start))
}

/// A process's state letter and start time (clock ticks since boot) from `/proc/<pid>/stat`;
/// `None` if there is no such process or no `/proc`.
fn process_state(pid: u32) -> Option<(char, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state …`: comm may hold spaces and parentheses; the fields after the last
    // `)` are plain. The start time is field 22 of the line, the 20th after comm.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// Whether the holder is known to be dead: it ran on this host, and its process no longer
/// exists (or is a zombie, or the pid now belongs to a process started at another time).
/// Without `/proc` nothing is known, and the answer is no.
fn known_dead(h: &RunLockHolder, host: &str) -> bool {
    if h.host != host || process_state(std::process::id()).is_none() {
        return false;
    }
    match process_state(h.pid) {
        None => true,
        Some(('Z' | 'X', _)) => true,
        Some((_, start)) => h.pid_start.is_some_and(|s| s != start),
    }
}

fn describe(h: &RunLockHolder, now: OffsetDateTime) -> String {
    format!(
        "process {} on host {} since {}, last heartbeat {} s ago",
        h.pid,
        h.host,
        crate::domain::timefmt::rfc3339(h.started_at),
        (now - h.heartbeat_at).whole_seconds().max(0)
    )
}

/// Proof of holding a lock, checked inside a write transaction.
#[derive(Debug, Clone)]
pub struct Fence {
    name: String,
    token: String,
}

impl Fence {
    /// Renews the heartbeat in `tx`; an error (and the caller's rollback) if the lock is no
    /// longer ours. Run it in each transaction the run commits.
    pub(super) async fn check(&self, tx: &mut Connection, now: OffsetDateTime) -> Result<()> {
        if run_locks::renew(tx, &self.name, &self.token, now).await? {
            Ok(())
        } else {
            // Its message is the run's error as operators read it.
            Err(Error::Conflict(format!(
                "the run lost its lock on {}: another run took it over",
                self.name
            )))
        }
    }
}

/// A held lock. Its heartbeat task stops when the value is dropped; [`RunLock::release`]
/// gives the lock up (a dropped, unreleased lock is taken over after the grace).
pub struct RunLock {
    fence: Fence,
    lost: watch::Receiver<bool>,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl RunLock {
    /// Takes `name`'s lock, or says who holds it. `force` adds the holders known dead (see
    /// [`known_dead`]) to the stale ones.
    pub async fn acquire(
        platform: &Platform,
        name: &str,
        settings: LockSettings,
        force: bool,
    ) -> std::result::Result<RunLock, String> {
        let (host, pid, pid_start) = this_process();
        let now = platform.now();
        let me = RunLockHolder {
            token: uuid::Uuid::new_v4().to_string(),
            host: host.clone(),
            pid,
            pid_start,
            started_at: now,
            heartbeat_at: now,
        };
        let attempt = async {
            let mut tx = platform.store().write().await?;
            let before = run_locks::get(&mut tx, name).await?;
            let dead = before
                .as_ref()
                .filter(|h| force && known_dead(h, &host))
                .map(|h| h.token.clone());
            let got = run_locks::take(
                &mut tx,
                name,
                &me,
                stale_before(now, settings),
                dead.as_deref(),
            )
            .await?;
            tx.commit().await?;
            Ok::<_, Error>((got, before))
        };
        let (got, before) = attempt
            .await
            .map_err(|e| format!("cannot take the source for a run: {e}"))?;
        match (got, before) {
            (true, Some(old)) => {
                tracing::warn!(lock = %name, previous = %describe(&old, now), "took over the lock of a run that stopped");
            }
            (true, None) => {}
            (false, Some(holder)) => {
                let mut why = format!(
                    "another run of this source is in progress ({}); a run whose heartbeat stops is taken over after {} s",
                    describe(&holder, now),
                    settings.grace.as_secs()
                );
                if force {
                    why.push_str(
                        "; --force takes only the lock of a run on this host whose process is gone",
                    );
                }
                return Err(why);
            }
            (false, None) => return Err("the source's lock changed hands; try again".into()),
        }
        let (lost_tx, lost) = watch::channel(false);
        let heartbeat = tokio::spawn(keep_alive(
            platform.store().clone(),
            platform.clock(),
            name.to_owned(),
            me.token.clone(),
            settings,
            lost_tx,
        ));
        Ok(RunLock {
            fence: Fence {
                name: name.to_owned(),
                token: me.token,
            },
            lost,
            heartbeat,
        })
    }

    pub fn fence(&self) -> Fence {
        self.fence.clone()
    }

    /// Resolves once the heartbeat finds the lock taken over.
    pub async fn lost(&self) {
        let mut lost = self.lost.clone();
        if lost.wait_for(|l| *l).await.is_err() {
            // The heartbeat task ended without reporting a loss: it never does unless
            // aborted, so the lock is not known lost.
            std::future::pending::<()>().await;
        }
    }

    /// Records how the run ended and gives the lock up, in one transaction, only while the
    /// run still holds the source: a run that lost it must not overwrite the state of the run
    /// that took over. If that fails, the lock is still given up (on its own); failures are
    /// logged, the run's report stands.
    pub async fn finish(&self, platform: &Platform, record: &RunRecord<'_>) {
        let saved = async {
            let mut tx = platform.store().write().await?;
            self.fence.check(&mut tx, platform.now()).await?;
            ldap::record_run(&mut tx, record).await?;
            self.release(&mut tx).await?;
            tx.commit().await?;
            Ok::<_, Error>(())
        };
        if let Err(e) = saved.await {
            tracing::error!(source = %record.source, error = %e, "cannot record the sync result");
            let freed = async {
                let mut tx = platform.store().write().await?;
                self.release(&mut tx).await?;
                tx.commit().await?;
                Ok::<_, Error>(())
            };
            if let Err(e) = freed.await {
                tracing::error!(source = %record.source, error = %e, "cannot release the source's run lock; it is taken over once its heartbeat is older than the grace");
            }
        }
    }

    /// Gives the lock up inside the caller's transaction (with the run's record).
    async fn release(&self, tx: &mut Connection) -> Result<()> {
        self.heartbeat.abort();
        run_locks::release(tx, &self.fence.name, &self.fence.token).await?;
        Ok(())
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

/// Renews the heartbeat every `settings.heartbeat` until the lock turns out to be someone
/// else's. A renewal that fails (the database busy or unwritable) is retried within a second:
/// the lock is only lost once another run took it over.
async fn keep_alive(
    store: Store,
    clock: Arc<dyn Clock>,
    name: String,
    token: String,
    settings: LockSettings,
    lost: watch::Sender<bool>,
) {
    let retry = settings.heartbeat.min(Duration::from_secs(1));
    let mut wait = settings.heartbeat;
    loop {
        tokio::time::sleep(wait).await;
        let renewed = async {
            let mut tx = store.write().await?;
            let held = run_locks::renew(&mut tx, &name, &token, clock.now()).await?;
            tx.commit().await?;
            Ok::<_, Error>(held)
        };
        match renewed.await {
            Ok(true) => wait = settings.heartbeat,
            Ok(false) => {
                tracing::error!(lock = %name, "the run lost its lock to another run; stopping it");
                let _ = lost.send(true);
                return;
            }
            Err(e) => {
                tracing::warn!(lock = %name, error = %e, "cannot renew the run lock's heartbeat; retrying");
                wait = retry;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_finished_one_is_dead() {
        let (host, pid, start) = this_process();
        assert!(!host.is_empty());
        if start.is_none() {
            return; // no /proc here: nothing can be known dead
        }
        let holder = |pid, pid_start, host: &str| RunLockHolder {
            token: "t".into(),
            host: host.into(),
            pid,
            pid_start,
            started_at: OffsetDateTime::UNIX_EPOCH,
            heartbeat_at: OffsetDateTime::UNIX_EPOCH,
        };
        assert!(!known_dead(&holder(pid, start, &host), &host));
        // The same pid with another start time: recycled, the holder is gone.
        assert!(known_dead(&holder(pid, start.map(|s| s + 1), &host), &host));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        assert!(known_dead(&holder(gone, None, &host), &host));
        // Another host's processes cannot be checked from here.
        assert!(!known_dead(&holder(gone, None, "elsewhere"), &host));
    }

    #[test]
    fn comm_with_spaces_and_parentheses() {
        let line = "42 (a) b) c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 123456 0 0";
        let rest = &line[line.rfind(')').unwrap() + 1..];
        let mut f = rest.split_whitespace();
        assert_eq!(f.next(), Some("S"));
        assert_eq!(f.nth(18), Some("123456"));
    }

    /// A platform over a fresh database of the suite's engine (SQLite or PostgreSQL).
    async fn platform() -> (Arc<Platform>, crate::store::testing::TestDb) {
        let (store, db) = crate::store::testing::store().await;
        let secret = crate::secret::ServerSecret::from_bytes(vec![7; 32]).unwrap();
        let platform = Platform::new(
            store,
            Arc::new(crate::clock::SystemClock),
            &secret,
            Default::default(),
            Arc::default(),
        );
        (Arc::new(platform), db)
    }

    #[tokio::test]
    async fn a_held_lock_refuses_a_second_run_and_a_stolen_one_is_noticed() {
        let (p, _dir) = platform().await;
        let settings = LockSettings {
            heartbeat: Duration::from_millis(50),
            grace: Duration::from_secs(30),
        };
        let first = RunLock::acquire(&p, "ldap:x", settings, false)
            .await
            .unwrap();
        // Live, and held by this very process: not even --force takes it.
        for force in [false, true] {
            let refused = RunLock::acquire(&p, "ldap:x", settings, force)
                .await
                .err()
                .unwrap();
            assert!(refused.contains("in progress"), "{refused}");
            assert!(
                refused.contains(&std::process::id().to_string()),
                "{refused}"
            );
        }
        // The heartbeat moves.
        let beat = |p: Arc<Platform>| async move {
            let mut c = p.store().read().await.unwrap();
            run_locks::get(&mut c, "ldap:x")
                .await
                .unwrap()
                .unwrap()
                .heartbeat_at
        };
        let b0 = beat(p.clone()).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(beat(p.clone()).await > b0);
        // Someone else takes it over (as after a stall past the grace): the heartbeat
        // notices, and the fence refuses the next write.
        {
            let mut tx = p.store().write().await.unwrap();
            let thief = RunLockHolder {
                token: "thief".into(),
                host: "elsewhere".into(),
                pid: 1,
                pid_start: None,
                started_at: p.now(),
                heartbeat_at: p.now(),
            };
            let token = run_locks::get(&mut tx, "ldap:x")
                .await
                .unwrap()
                .unwrap()
                .token;
            assert!(
                run_locks::take(&mut tx, "ldap:x", &thief, p.now(), Some(&token))
                    .await
                    .unwrap()
            );
            tx.commit().await.unwrap();
        }
        tokio::time::timeout(Duration::from_secs(5), first.lost())
            .await
            .expect("the loss is noticed");
        let mut tx = p.store().write().await.unwrap();
        assert!(first.fence().check(&mut tx, p.now()).await.is_err());
        // Releasing a lost lock leaves the new holder's alone.
        first.release(&mut tx).await.unwrap();
        assert_eq!(
            run_locks::get(&mut tx, "ldap:x")
                .await
                .unwrap()
                .unwrap()
                .token,
            "thief"
        );
    }

    #[tokio::test]
    async fn a_silent_lock_is_taken_over_after_the_grace_and_a_released_one_at_once() {
        let (p, _dir) = platform().await;
        let settings = LockSettings {
            heartbeat: Duration::from_secs(60),
            grace: Duration::from_millis(300),
        };
        let first = RunLock::acquire(&p, "ldap:y", settings, false)
            .await
            .unwrap();
        assert!(
            RunLock::acquire(&p, "ldap:y", settings, false)
                .await
                .is_err()
        );
        // No heartbeat within the grace (its interval is a minute): abandoned.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let second = RunLock::acquire(&p, "ldap:y", settings, false)
            .await
            .unwrap();
        let mut tx = p.store().write().await.unwrap();
        assert!(first.fence().check(&mut tx, p.now()).await.is_err());
        assert!(second.fence().check(&mut tx, p.now()).await.is_ok());
        second.release(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
        let third = RunLock::acquire(&p, "ldap:y", settings, false).await;
        assert!(third.is_ok());
        let mut c = p.store().read().await.unwrap();
        let view = holder(&mut c, "ldap:y", settings, p.now())
            .await
            .unwrap()
            .unwrap();
        assert_eq!((view.pid, view.stale), (std::process::id(), false));
    }
}
