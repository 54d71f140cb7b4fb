//! Write transactions, managed by the store itself rather than by the driver, and committed
//! in groups.
//!
//! The driver's transaction guard keeps its own count of open transactions per connection.
//! When SQLite rolled a transaction back on its own (it does on a full disk), that count
//! stayed at one, the connection went back to the pool looking healthy, and every later
//! `BEGIN` on it failed with `InvalidSavePointStatement` until a restart. Here the store
//! issues `BEGIN`, `COMMIT` and `ROLLBACK` itself, and a connection whose transaction state
//! is in doubt — a failed `COMMIT` or `ROLLBACK` — is closed instead of pooled.
//!
//! Group commit: writes are serialised anyway (SQLite has one writer; on PostgreSQL the
//! writers' advisory lock makes it so across nodes), and with durability `full` each one paid
//! its own commit (an fsync) while the others queued. Now an operation that ends while others
//! wait for the writer lock does not commit: it leaves the open transaction to the next one
//! and waits. Each operation of such a batch runs inside its own savepoint, so one that fails
//! is undone alone; the batch commits once, when nobody queues any more (or it is full), and
//! every member is answered with that commit's outcome — "committed" still means committed,
//! and a failed COMMIT fails them all. Operations run one after another on one connection
//! inside one transaction, so each sees what the ones before it wrote, exactly as if they had
//! committed in between: a one-time pass redeemed by one member is seen as used by the next.
//! What may not share a batch opens its transaction with [`Store::write_alone`] (see there).
//!
//! An operation must not wait, inside its transaction, for another writer's answer: that
//! writer may be waiting for the same commit.
//!
//! [`Store::write_alone`]: super::Store::write_alone

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::{Mutex, OwnedMutexGuard, oneshot};

use super::db::{Connection, Engine};
use super::fault::{Cause, classify};
use crate::Result;
use crate::error::StorageError;

/// This process's writers: the lock they queue on, and the transaction left open for the next
/// of them.
#[derive(Debug)]
pub(super) struct Writer {
    slot: Arc<Mutex<Slot>>,
    /// The most operations one commit covers: a bound on how long the first of them waits.
    max_batch: usize,
    /// Operations waiting for the lock that would join an open batch.
    queued: AtomicUsize,
    /// Transactions committed (each may hold several operations).
    commits: AtomicU64,
}

/// What the writer lock guards: a transaction whose members are done and wait for its commit.
#[derive(Debug, Default)]
pub(super) struct Slot {
    open: Option<Batch>,
    next_id: u64,
}

#[derive(Debug)]
pub(super) struct Batch {
    id: u64,
    conn: Connection,
    /// The operations done with their part, waiting for the commit's outcome.
    members: Vec<oneshot::Sender<Outcome>>,
}

/// The outcome of a shared commit, as each member receives it.
type Outcome = std::result::Result<(), Failure>;

#[derive(Debug, Clone)]
struct Failure {
    fault: Option<Cause>,
    message: String,
}

impl Failure {
    fn of(e: &sqlx::Error) -> Failure {
        Failure {
            fault: classify(e),
            message: format!("the shared commit of concurrent writes failed: {e}"),
        }
    }

    fn lost() -> Failure {
        Failure {
            fault: None,
            message: "the shared transaction of concurrent writes was rolled back".into(),
        }
    }
}

impl From<Failure> for crate::Error {
    fn from(f: Failure) -> Self {
        crate::Error::Storage(StorageError {
            fault: f.fault,
            source: f.message.into(),
        })
    }
}

/// Whether a transaction may take others' operations into its commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sharing {
    Shared,
    Alone,
}

/// Counts a writer in [`Writer::queued`] for as long as it waits (a cancelled wait too).
struct Queued<'a>(&'a AtomicUsize);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Writer {
    pub(super) fn new(max_batch: u32) -> Writer {
        Writer {
            slot: Arc::default(),
            max_batch: usize::try_from(max_batch).unwrap_or(usize::MAX).max(1),
            queued: AtomicUsize::new(0),
            commits: AtomicU64::new(0),
        }
    }

    /// Takes the writer lock (in arrival order). A shared writer that finds a batch open joins
    /// it; an alone one commits it first.
    pub(super) async fn lock(&self, sharing: Sharing) -> Locked {
        let mut guard = if sharing == Sharing::Shared {
            self.queued.fetch_add(1, Ordering::AcqRel);
            let _queued = Queued(&self.queued);
            self.slot.clone().lock_owned().await
        } else {
            self.slot.clone().lock_owned().await
        };
        match guard.open.take() {
            Some(batch) if sharing == Sharing::Shared && batch.members.len() < self.max_batch => {
                Locked::Open(guard, Box::new(batch))
            }
            Some(batch) => {
                self.finish(batch).await;
                Locked::Free(guard)
            }
            None => Locked::Free(guard),
        }
    }

    fn others_queued(&self) -> bool {
        self.queued.load(Ordering::Acquire) > 0
    }

    /// Transactions committed since start: fewer than the write operations when they shared.
    pub(super) fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Commits a batch and tells each member the outcome.
    async fn finish(&self, batch: Batch) {
        let Batch {
            mut conn, members, ..
        } = batch;
        let outcome = self.commit(&mut conn).await.map_err(|e| Failure::of(&e));
        for m in members {
            let _ = m.send(outcome.clone());
        }
    }

    /// Ends the transaction on `conn`; on failure the connection is not pooled again.
    async fn commit(&self, conn: &mut Connection) -> std::result::Result<(), sqlx::Error> {
        match conn.batch("COMMIT").await {
            Ok(()) => {
                self.commits.fetch_add(1, Ordering::Relaxed);
                conn.health().recovered();
                Ok(())
            }
            Err(e) => {
                // A failed COMMIT may have left the transaction open (SQLITE_BUSY) or rolled
                // it back (SQLITE_FULL). Try to end it; either way the connection is closed.
                let _ = conn.batch("ROLLBACK").await;
                conn.discard();
                Err(e)
            }
        }
    }

    /// Waits for the outcome of batch `id`, which this member left open. If nobody else has
    /// committed it by the time this member holds the writer lock again (those queued before it
    /// had their turn, the lock being fair), it commits the batch itself.
    async fn outcome(&self, id: u64, mut rx: oneshot::Receiver<Outcome>) -> Result<()> {
        let outcome = tokio::select! {
            biased;
            outcome = &mut rx => outcome,
            mut guard = self.slot.clone().lock_owned() => {
                if guard.open.as_ref().is_some_and(|b| b.id == id) {
                    let batch = guard.open.take().expect("checked");
                    self.finish(batch).await;
                }
                drop(guard);
                // Sent before the lock was free, whoever committed.
                rx.await
            }
        };
        Ok(outcome.unwrap_or_else(|_| Err(Failure::lost()))?)
    }
}

/// What [`Writer::lock`] found.
pub(super) enum Locked {
    /// No transaction open: the caller begins one.
    Free(OwnedMutexGuard<Slot>),
    /// A batch to join.
    Open(OwnedMutexGuard<Slot>, Box<Batch>),
}

/// Rolls a batch back (its transaction is lost or in doubt) and fails every member.
async fn abandon(mut conn: Connection, members: Vec<oneshot::Sender<Outcome>>, why: Failure) {
    if conn.batch("ROLLBACK").await.is_err() {
        conn.discard();
    }
    // Closed rather than pooled: whatever failed may have left it in a state nobody checked.
    conn.discard();
    for m in members {
        let _ = m.send(Err(why.clone()));
    }
}

/// A write transaction holding the process-wide writer lock (and, on SQLite, the database's
/// write lock; on PostgreSQL, the writers' advisory lock). Dropping it without `commit`
/// undoes its writes, then frees the lock. A shared one (from [`Store::write`]) may commit
/// together with others; [`WriteTx::commit`] returns once the commit is done.
///
/// [`Store::write`]: super::Store::write
pub struct WriteTx {
    conn: Option<Connection>,
    guard: Option<OwnedMutexGuard<Slot>>,
    writer: Arc<Writer>,
    sharing: Sharing,
    /// The batch this operation belongs to.
    id: u64,
    /// The operations before this one in the batch, waiting for its commit.
    members: Vec<oneshot::Sender<Outcome>>,
}

impl WriteTx {
    /// Begins a transaction of its own on `conn`. (Called from a task that runs to its end:
    /// see `Store::begin_write`.)
    pub(super) async fn begin(
        conn: Connection,
        mut guard: OwnedMutexGuard<Slot>,
        writer: Arc<Writer>,
        sharing: Sharing,
        lock_key: i64,
    ) -> Result<WriteTx> {
        let id = guard.next_id;
        guard.next_id += 1;
        // The transaction owns the connection before BEGIN is sent: whatever fails from here
        // on, its drop rolls back before the writer lock is freed.
        let mut tx = WriteTx {
            conn: Some(conn),
            guard: Some(guard),
            writer,
            sharing,
            id,
            members: Vec::new(),
        };
        let conn = tx.conn.as_mut().expect("just set");
        let mut begun = match conn.engine() {
            // IMMEDIATE takes SQLite's write lock up front, so read-then-write sequences
            // (a redemption) are serialised instead of failing with a lock upgrade error.
            Engine::Sqlite => conn.batch("BEGIN IMMEDIATE").await,
            Engine::Postgres => match conn.batch("BEGIN").await {
                Ok(()) => super::db::query("SELECT pg_advisory_xact_lock(?)")
                    .bind(lock_key)
                    .execute(&mut *conn)
                    .await
                    .map(|_| ()),
                Err(e) => Err(e),
            },
        };
        conn.shared = sharing == Sharing::Shared;
        if begun.is_ok() && sharing == Sharing::Shared {
            // Even the first member has a savepoint: releasing it proves the transaction is
            // still open (a statement that failed may have rolled all of it back).
            begun = conn.batch("SAVEPOINT op").await;
        }
        if let Err(e) = begun {
            // BEGIN failed (SQLITE_BUSY after the timeout, a lost server): the connection may
            // or may not be inside a transaction. Do not pool it.
            conn.discard();
            return Err(e.into());
        }
        Ok(tx)
    }

    /// Joins a batch left open by the operations before this one.
    pub(super) async fn join(
        guard: OwnedMutexGuard<Slot>,
        batch: Batch,
        writer: Arc<Writer>,
    ) -> Result<WriteTx> {
        let Batch {
            id,
            mut conn,
            members,
        } = batch;
        if let Err(e) = conn.batch("SAVEPOINT op").await {
            abandon(conn, members, Failure::of(&e)).await;
            drop(guard);
            return Err(e.into());
        }
        Ok(WriteTx {
            conn: Some(conn),
            guard: Some(guard),
            writer,
            sharing: Sharing::Shared,
            id,
            members,
        })
    }

    /// Makes this operation's writes durable, together with those of the operations it
    /// shares a batch with. Returns once they are committed (or failed, all of them).
    pub async fn commit(self) -> Result<()> {
        // Runs to its end even if the caller goes away meanwhile: a connection dropped bare
        // while RELEASE or COMMIT runs would go back to the pool inside a transaction, and
        // the members of a batch wait for this COMMIT's outcome. (A caller gone before
        // `commit` drops the transaction instead, which rolls its writes back.)
        tokio::spawn(self.commit_now())
            .await
            .map_err(|e| crate::Error::Internal(format!("a commit did not finish: {e}")))?
    }

    async fn commit_now(mut self) -> Result<()> {
        let mut conn = self
            .conn
            .take()
            .expect("a live transaction has its connection");
        let mut guard = self
            .guard
            .take()
            .expect("a live transaction holds the lock");
        let mut members = std::mem::take(&mut self.members);
        if self.sharing == Sharing::Shared {
            // Fails if the transaction is gone (SQLite rolled it back on a full disk): the
            // members before this one must not be told their writes committed.
            if let Err(e) = conn.batch("RELEASE SAVEPOINT op").await {
                abandon(conn, members, Failure::of(&e)).await;
                drop(guard);
                return Err(e.into());
            }
            if self.writer.others_queued() && members.len() + 1 < self.writer.max_batch {
                let (tx, rx) = oneshot::channel();
                members.push(tx);
                guard.open = Some(Batch {
                    id: self.id,
                    conn,
                    members,
                });
                drop(guard);
                return self.writer.outcome(self.id, rx).await;
            }
        }
        let committed = self.writer.commit(&mut conn).await;
        let outcome = committed.as_ref().map(|_| ()).map_err(Failure::of);
        for m in members {
            let _ = m.send(outcome.clone());
        }
        drop(conn);
        drop(guard);
        Ok(committed?)
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        let guard = self.guard.take();
        let members = std::mem::take(&mut self.members);
        let (id, shared) = (self.id, self.sharing == Sharing::Shared);
        match tokio::runtime::Handle::try_current() {
            // Undo before the writer lock is freed, so the next writer never meets this
            // operation's writes or locks.
            Ok(rt) => {
                rt.spawn(async move {
                    if members.is_empty() {
                        if conn.batch("ROLLBACK").await.is_err() {
                            conn.discard();
                        }
                        drop(conn);
                        drop(guard);
                        return;
                    }
                    // Members before this one wait for their commit: undo this operation's
                    // part only and leave the batch for them (or the next writer) to commit.
                    debug_assert!(shared);
                    match conn
                        .batch("ROLLBACK TO SAVEPOINT op; RELEASE SAVEPOINT op")
                        .await
                    {
                        Ok(()) => {
                            if let Some(mut guard) = guard {
                                guard.open = Some(Batch { id, conn, members });
                            }
                        }
                        Err(e) => {
                            abandon(conn, members, Failure::of(&e)).await;
                            drop(guard);
                        }
                    }
                });
            }
            // No runtime to roll back on: closing the connection rolls back (the members
            // before this one learn that their commit is lost).
            Err(_) => {
                conn.discard();
                drop(conn);
                drop(members);
                drop(guard);
            }
        }
    }
}

impl std::ops::Deref for WriteTx {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
            .as_ref()
            .expect("a live transaction has its connection")
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn
            .as_mut()
            .expect("a live transaction has its connection")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::{Cause, Connection, Engine, Store, query, testing};

    /// A row of the probe table, `size` bytes of filler.
    async fn put(conn: &mut Connection, id: i64, size: usize) -> Result<u64, sqlx::Error> {
        query("INSERT INTO store_probe (id, filler) VALUES (?, ?)")
            .bind(id)
            .bind(vec![7u8; size])
            .execute(conn)
            .await
    }

    /// A database that ran out of room writes again once room is back, on the same pool and
    /// without a restart; while it cannot, its health says why. (Before the store managed its
    /// own transactions, the driver's transaction count on a connection that SQLite had
    /// rolled back stayed at one, and every later write on it failed.)
    #[tokio::test]
    async fn a_full_database_writes_again_once_room_is_back() {
        if testing::engine() != Engine::Sqlite {
            return; // the size cap is SQLite's; PostgreSQL faults are tested black-box
        }
        let (mut settings, _db) = testing::settings();
        settings.max_connections = 2;
        settings.max_size_mib = 1;
        let store = Store::open(&settings).await.unwrap();
        let mut full = None;
        for i in 0..1000i64 {
            let mut tx = store.write().await.unwrap();
            let inserted = put(&mut tx, i + 10, 8192).await;
            match inserted {
                Ok(_) => tx.commit().await.unwrap(),
                Err(e) => {
                    full = Some(e);
                    break;
                }
            }
        }
        let e = full.expect("a 1 MiB database fills up");
        assert_eq!(
            super::super::fault::classify(&e),
            Some(Cause::DiskFull),
            "{e}"
        );
        assert_eq!(store.health().fault().unwrap().cause, Cause::DiskFull);
        assert!(
            store.writable(Duration::ZERO).await.is_err(),
            "probe fails while full"
        );
        // Every connection of the pool keeps failing cleanly (no poisoned transaction state).
        for _ in 0..4 {
            let mut tx = store.write().await.unwrap();
            let err = put(&mut tx, 5000i64, 8192).await.unwrap_err();
            assert_eq!(super::super::fault::classify(&err), Some(Cause::DiskFull));
        }
        // Room comes back: deletes free pages for new rows.
        let mut tx = store.write().await.unwrap();
        query("DELETE FROM store_probe WHERE id >= 10 AND id < 60")
            .execute(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        for i in 0..4i64 {
            let mut tx = store.write().await.unwrap();
            put(&mut tx, 9000 + i, 8192)
                .await
                .expect("writes succeed again");
            tx.commit().await.unwrap();
        }
        assert!(store.health().fault().is_none());
        assert!(store.writable(Duration::ZERO).await.is_ok());
    }

    /// A database that turned read-only under the daemon: writes fail with that cause and the
    /// health says so; once it is writable again, the same pooled connection writes.
    #[tokio::test]
    async fn a_read_only_database_writes_again_once_writable() {
        if testing::engine() != Engine::Sqlite {
            return; // `query_only` is SQLite's; PostgreSQL faults are tested black-box
        }
        let (mut settings, _db) = testing::settings();
        settings.max_connections = 1;
        let store = Store::open(&settings).await.unwrap();
        let mut c = store.read().await.unwrap();
        c.batch("PRAGMA query_only = ON").await.unwrap();
        drop(c);
        // SQLite refuses even the write lock (BEGIN IMMEDIATE) on a read-only database.
        let err = match store.write().await {
            Err(e) => e,
            Ok(mut tx) => put(&mut tx, 1i64, 1).await.unwrap_err().into(),
        };
        assert_eq!(err.store_fault(), Some(Cause::ReadOnly), "{err}");
        assert_eq!(store.health().fault().unwrap().cause, Cause::ReadOnly);
        let mut c = store.read().await.unwrap();
        c.batch("PRAGMA query_only = OFF").await.unwrap();
        drop(c);
        let mut tx = store.write().await.unwrap();
        put(&mut tx, 1i64, 1).await.unwrap();
        tx.commit().await.unwrap();
        assert!(store.health().fault().is_none());
    }

    /// A transaction dropped without commit leaves nothing behind, and the connection serves
    /// the next writer.
    #[tokio::test]
    async fn a_dropped_transaction_rolls_back() {
        let (store, _db) = testing::store().await;
        {
            let mut tx = store.write().await.unwrap();
            put(&mut tx, 1i64, 1).await.unwrap();
        }
        let mut tx = store.write().await.unwrap();
        let n: i64 = query("SELECT count(*) FROM store_probe")
            .scalar(&mut tx)
            .await
            .unwrap();
        assert_eq!(n, 0);
        {
            let mut sp = tx.savepoint().await.unwrap();
            put(&mut sp, 2i64, 1).await.unwrap();
        }
        let mut kept = tx.savepoint().await.unwrap();
        put(&mut kept, 3i64, 1).await.unwrap();
        kept.release().await.unwrap();
        tx.commit().await.unwrap();
        let mut c = store.read().await.unwrap();
        let ids: Vec<i64> = query("SELECT id FROM store_probe ORDER BY id")
            .scalars(&mut c)
            .await
            .unwrap();
        assert_eq!(
            ids,
            vec![3],
            "the dropped savepoint's row is gone, the released one kept"
        );
    }

    /// A writer whose caller gave up while it waited for the database's write lock (a client
    /// that hung up while another process wrote) leaves no pooled connection inside a
    /// transaction: the next writers get the lock as soon as the other process lets go.
    #[tokio::test]
    async fn a_writer_dropped_while_waiting_for_the_lock_leaves_none_behind() {
        if testing::engine() != Engine::Sqlite {
            return; // PostgreSQL's writer lock is an advisory lock ended with the session
        }
        let (mut settings, _db) = testing::settings();
        settings.max_connections = 2;
        settings.busy_timeout = Duration::from_secs(3);
        let store = Store::open(&settings).await.unwrap();
        // Another process (a second pool on the same file) holds the write lock.
        let other = Store::open(&settings).await.unwrap();
        let held = other.write().await.unwrap();
        let gave_up = tokio::time::timeout(Duration::from_millis(100), store.write()).await;
        assert!(gave_up.is_err(), "the write lock was held elsewhere");
        drop(held);
        // The lock is free: every connection of the pool begins and commits at once, far
        // inside the busy timeout (the abandoned BEGIN would have kept the lock for good).
        for i in 0..4i64 {
            let started = std::time::Instant::now();
            let mut tx = store.write().await.unwrap();
            put(&mut tx, 100 + i, 1).await.unwrap();
            tx.commit().await.unwrap();
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "write {i} waited {:?}",
                started.elapsed()
            );
        }
    }

    /// Runs one write operation per entry at once, all queued behind a first operation held
    /// open until they wait for the writer lock: each inserts its id, then commits (`true`)
    /// or gives up (`false`). Returns each operation's outcome and the ids in the table.
    async fn batch_of(store: &Store, ops: &[(i64, bool)]) -> (Vec<crate::Result<()>>, Vec<i64>) {
        let mut first = store.write().await.unwrap();
        put(&mut first, 1, 1).await.unwrap();
        let mut tasks = Vec::new();
        for &(id, keep) in ops {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = store.write().await?;
                put(&mut tx, id, 1).await?;
                if !keep {
                    return Err(crate::Error::Internal("given up".into()));
                }
                tx.commit().await
            }));
        }
        while store
            .writer
            .queued
            .load(std::sync::atomic::Ordering::Acquire)
            < ops.len()
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        first.commit().await.unwrap();
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        let mut c = store.read().await.unwrap();
        let kept: Vec<i64> = query("SELECT id FROM store_probe WHERE id > 1 ORDER BY id")
            .scalars(&mut c)
            .await
            .unwrap();
        (outcomes, kept)
    }

    /// Writers that queue while one writes commit together: one COMMIT for all of them, and
    /// each is answered only once its row is there.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_one_commit() {
        let (store, _db) = testing::store().await;
        let before = store.commits();
        let ops: Vec<(i64, bool)> = (2..18).map(|id| (id, true)).collect();
        let (outcomes, kept) = batch_of(&store, &ops).await;
        for o in &outcomes {
            o.as_ref().expect("every member committed");
        }
        assert_eq!(kept, (2..18).collect::<Vec<_>>());
        assert_eq!(
            store.commits() - before,
            1,
            "the first operation and the 16 queued behind it committed once"
        );
    }

    /// One operation of a batch that fails (here: gives up after writing) is undone alone;
    /// the others commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_member_is_undone_alone() {
        let (store, _db) = testing::store().await;
        let ops = [(2, true), (3, false), (4, true), (5, false), (6, true)];
        let (outcomes, kept) = batch_of(&store, &ops).await;
        let ok: Vec<bool> = outcomes.iter().map(|o| o.is_ok()).collect();
        assert_eq!(ok, vec![true, false, true, false, true]);
        assert_eq!(kept, vec![2, 4, 6]);
        // The store writes on afterwards.
        let mut tx = store.write().await.unwrap();
        put(&mut tx, 7, 1).await.unwrap();
        tx.commit().await.unwrap();
    }

    /// A shared COMMIT that fails fails every member: none is told its write committed, and
    /// none of the writes is there. (A foreign key checked at COMMIT makes it fail here; the
    /// schema's own keys are checked per statement.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_shared_commit_fails_every_member() {
        let (store, _db) = testing::store().await;
        let mut c = store.read().await.unwrap();
        c.batch(c.pick(
            "CREATE TABLE probe_child (id INTEGER PRIMARY KEY, \
             parent BIGINT REFERENCES store_probe(id) DEFERRABLE INITIALLY DEFERRED)",
            "CREATE TABLE probe_child (id BIGINT PRIMARY KEY, \
             parent BIGINT REFERENCES store_probe(id) DEFERRABLE INITIALLY DEFERRED)",
        ))
        .await
        .unwrap();
        drop(c);
        let mut first = store.write().await.unwrap();
        put(&mut first, 1, 1).await.unwrap();
        let mut tasks = Vec::new();
        for id in 2..6i64 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = store.write().await?;
                put(&mut tx, id, 1).await?;
                // The third names a row that does not exist: checked only at COMMIT.
                let parent = if id == 4 { 999 } else { id };
                query("INSERT INTO probe_child (id, parent) VALUES (?, ?)")
                    .bind(id)
                    .bind(parent)
                    .execute(&mut tx)
                    .await?;
                tx.commit().await
            }));
        }
        while store
            .writer
            .queued
            .load(std::sync::atomic::Ordering::Acquire)
            < 4
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let first = first.commit().await;
        assert!(first.is_err(), "the first member shares the failed commit");
        for t in tasks {
            assert!(t.await.unwrap().is_err(), "no member is told it committed");
        }
        let mut c = store.read().await.unwrap();
        let n: i64 = query("SELECT count(*) FROM store_probe")
            .scalar(&mut c)
            .await
            .unwrap();
        assert_eq!(n, 0, "nothing of the batch committed");
        drop(c);
        let mut tx = store.write().await.unwrap();
        put(&mut tx, 7, 1).await.unwrap();
        tx.commit().await.expect("the store writes again");
    }

    /// Foreign keys deferred to COMMIT would let one operation fail a whole batch: only a
    /// transaction of its own may defer them.
    #[tokio::test]
    async fn foreign_keys_are_deferred_only_alone() {
        let (store, _db) = testing::store().await;
        let mut tx = store.write().await.unwrap();
        assert!(super::super::defer_foreign_keys(&mut tx).await.is_err());
        drop(tx);
        let mut tx = store.write_alone().await.unwrap();
        super::super::defer_foreign_keys(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
    }

    /// A transaction that commits alone first commits the batch it finds open, and its own
    /// writes are not part of that batch.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_alone_writer_commits_the_open_batch_first() {
        let (store, _db) = testing::store().await;
        let before = store.commits();
        let mut first = store.write().await.unwrap();
        put(&mut first, 1, 1).await.unwrap();
        let alone = {
            let store = store.clone();
            tokio::spawn(async move {
                let mut tx = store.write_alone().await?;
                put(&mut tx, 3, 1).await?;
                tx.commit().await
            })
        };
        let shared = {
            let store = store.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let mut tx = store.write().await?;
                put(&mut tx, 2, 1).await?;
                tx.commit().await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        first.commit().await.unwrap();
        alone.await.unwrap().unwrap();
        shared.await.unwrap().unwrap();
        let mut c = store.read().await.unwrap();
        let n: i64 = query("SELECT count(*) FROM store_probe")
            .scalar(&mut c)
            .await
            .unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            store.commits() - before,
            3,
            "the batch, the alone write, the shared write after it"
        );
    }

    /// A member whose caller goes away while its commit runs (a client that hung up) does not
    /// take the batch with it: the others are answered with the commit, and the next writer
    /// finds the lock free.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_gone_during_commit_leaves_the_batch_whole() {
        let (store, _db) = testing::store().await;
        let mut first = store.write().await.unwrap();
        put(&mut first, 1, 1).await.unwrap();
        let mut tasks = Vec::new();
        for id in 2..8i64 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = store.write().await?;
                put(&mut tx, id, 1).await?;
                if id == 4 {
                    // Gone at the first await of its commit.
                    let _ = tokio::time::timeout(Duration::ZERO, tx.commit()).await;
                    return Ok(());
                }
                tx.commit().await
            }));
        }
        while store
            .writer
            .queued
            .load(std::sync::atomic::Ordering::Acquire)
            < 6
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        first.commit().await.unwrap();
        for t in tasks {
            t.await
                .unwrap()
                .expect("every member that waited is answered: committed");
        }
        let started = std::time::Instant::now();
        let mut tx = store.write().await.unwrap();
        put(&mut tx, 100, 1).await.unwrap();
        tx.commit().await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(1));
        let mut c = store.read().await.unwrap();
        let n: i64 = query("SELECT count(*) FROM store_probe")
            .scalar(&mut c)
            .await
            .unwrap();
        assert_eq!(
            n, 8,
            "the batch (the gone caller's write too) and the write after it"
        );
    }
}
