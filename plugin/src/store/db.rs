//! One way to write a query for both engines.
//!
//! SQL is written once, with `?` placeholders (SQLite's form, which SQLite runs as is);
//! on PostgreSQL the placeholders are numbered (`$1`, `$2` …) just before the statement is
//! sent. Values are bound through [`Query::bind`] into an engine-neutral list and handed to
//! the engine's own driver at execution, so SQLite keeps its native driver (no `Any` layer
//! and its per-row conversions). Where the two dialects differ, the store module picks the
//! text with [`Connection::engine`].

use std::borrow::Cow;
use std::fmt;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{AssertSqlSafe, Postgres, Row as _, SqlStr, Sqlite};

use std::sync::Arc;

use super::fault::Health;
use super::sqlite::{BUSY_POLL, Waiting};
use super::sqlite_direct::{Cell, Direct, DirectRow, Stepped, is_busy};
use super::sqlite_warm::{Checkout, Lease};

/// The database engine behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The embedded default: one file, one writer at a time.
    Sqlite,
    /// For several nodes over one database.
    Postgres,
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        })
    }
}

/// A pooled connection of either engine. Store functions take `&mut Connection` so the
/// platform can compose several of them inside one transaction. Failed statements are
/// reported to the store's [`Health`].
pub struct Connection {
    inner: Inner,
    health: Arc<Health>,
    /// Open savepoints (their names are numbered by depth).
    savepoints: u32,
    /// A savepoint dropped without `release`: rolled back before the next statement, since a
    /// drop cannot wait for the database.
    abandoned: Option<u32>,
    /// Inside a transaction that other operations may share (see `tx`).
    pub(super) shared: bool,
}

enum Inner {
    Sqlite(SqliteSide),
    Postgres(PoolConnection<Postgres>),
}

/// A pooled SQLite connection and, once a statement ran, its lock (see `sqlite_direct`);
/// kept locked for the next checkout when it ends cleanly (see `sqlite_warm`).
struct SqliteSide {
    /// Declared first: dropped before the connection whose state it borrows.
    direct: Option<Direct>,
    /// Always present until the side drops (taken there to be given back).
    conn: Option<PoolConnection<Sqlite>>,
    lease: Option<Lease>,
    /// The store's waiting marker and busy timeout (see `unblocking`).
    waiting: &'static Waiting,
}

impl SqliteSide {
    /// The connection locked for statements on this thread (locked on first use).
    async fn direct(&mut self) -> Result<&mut Direct, sqlx::Error> {
        if self.direct.is_none() {
            let waiting = self.waiting;
            let guard = self.pooled().lock_handle().await?;
            // SAFETY: `direct` is dropped before `conn` (field order, and `Lease::give_back`
            // keeps or drops them in that order), and `conn` is not used through sqlx while
            // it is locked (every statement goes through `direct`).
            self.direct = Some(unsafe { Direct::new(guard, waiting) });
        }
        Ok(self.direct.as_mut().expect("locked just above"))
    }

    /// Runs `f` on the locked connection. Outside a transaction, a statement that finds
    /// another connection's write lock (a `BEGIN IMMEDIATE`, a write on its own; this
    /// process's or another's) is tried again every millisecond, awaiting in between, for
    /// up to the busy timeout: waiting inside SQLite would hold this async thread, which the
    /// lock's holder may need to finish. While it waits, the other process's background
    /// writers leave the lock free (the marker, see `sqlite::Waiting`). A caller that goes
    /// away stops waiting; nothing is left half-begun.
    async fn unblocking<T>(
        &mut self,
        mut f: impl FnMut(&mut Direct) -> Result<T, sqlx::Error>,
    ) -> Result<T, sqlx::Error> {
        let waiting = self.waiting;
        let mut since: Option<std::time::Instant> = None;
        loop {
            let d = self.direct().await?;
            match f(d) {
                Err(e) if is_busy(&e) && !d.in_transaction() => {
                    let first = *since.get_or_insert_with(|| {
                        waiting.mark();
                        std::time::Instant::now()
                    });
                    if first.elapsed() >= waiting.timeout() {
                        waiting.clear();
                        return Err(e);
                    }
                    tokio::time::sleep(BUSY_POLL).await;
                }
                done => {
                    if since.is_some() {
                        waiting.clear();
                    }
                    return done;
                }
            }
        }
    }

    fn pooled(&mut self) -> &mut PoolConnection<Sqlite> {
        self.conn.as_mut().expect("a live side has its connection")
    }
}

impl Drop for SqliteSide {
    fn drop(&mut self) {
        if let Some(lease) = self.lease.take() {
            lease.give_back(self.direct.take(), self.conn.take());
        }
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Connection({})", self.engine())
    }
}

impl Connection {
    pub(super) fn sqlite(
        checkout: Checkout,
        health: Arc<Health>,
        waiting: &'static Waiting,
    ) -> Self {
        Connection {
            inner: Inner::Sqlite(SqliteSide {
                direct: checkout.direct,
                conn: Some(checkout.conn),
                lease: Some(checkout.lease),
                waiting,
            }),
            health,
            savepoints: 0,
            abandoned: None,
            shared: false,
        }
    }

    pub(super) fn postgres(conn: PoolConnection<Postgres>, health: Arc<Health>) -> Self {
        Connection {
            inner: Inner::Postgres(conn),
            health,
            savepoints: 0,
            abandoned: None,
            shared: false,
        }
    }

    pub fn engine(&self) -> Engine {
        match self.inner {
            Inner::Sqlite(_) => Engine::Sqlite,
            Inner::Postgres(_) => Engine::Postgres,
        }
    }

    /// The text for this connection's engine, where the dialects differ.
    pub fn pick<'a>(&self, sqlite: &'a str, postgres: &'a str) -> &'a str {
        match self.engine() {
            Engine::Sqlite => sqlite,
            Engine::Postgres => postgres,
        }
    }

    /// Runs statements without parameters (transaction control, `SET`, migrations' DDL).
    pub async fn batch(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        self.settle().await?;
        self.raw(sql).await
    }

    async fn raw(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        let result = match &mut self.inner {
            Inner::Sqlite(c) => c.unblocking(|d| d.batch(sql)).await,
            Inner::Postgres(c) => sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                .execute(&mut **c)
                .await
                .map(|_| ()),
        };
        self.observed(result)
    }

    /// Rolls back a savepoint that was dropped unreleased, before anything else runs.
    async fn settle(&mut self) -> Result<(), sqlx::Error> {
        if let Some(depth) = self.abandoned.take() {
            self.raw(&format!(
                "ROLLBACK TO SAVEPOINT sp{depth}; RELEASE SAVEPOINT sp{depth}"
            ))
            .await?;
            self.savepoints = depth - 1;
        }
        Ok(())
    }

    /// A savepoint inside the current transaction: its writes can be undone alone (one entry
    /// of a batch that the store refuses) without failing the rest. Dropping it without
    /// [`Savepoint::release`] undoes them.
    pub async fn savepoint(&mut self) -> Result<Savepoint<'_>, sqlx::Error> {
        self.settle().await?;
        let depth = self.savepoints + 1;
        self.raw(&format!("SAVEPOINT sp{depth}")).await?;
        self.savepoints = depth;
        Ok(Savepoint {
            conn: self,
            depth,
            done: false,
        })
    }

    /// Reports a failure to the store's health and hands the result on.
    fn observed<T>(&self, result: Result<T, sqlx::Error>) -> Result<T, sqlx::Error> {
        if let Err(e) = &result {
            self.health.observe(e);
        }
        result
    }

    pub(super) fn health(&self) -> &Arc<Health> {
        &self.health
    }

    /// Marks the connection to be closed instead of going back to the pool: its transaction
    /// state is not known any more (a failed COMMIT or ROLLBACK), and a connection left inside
    /// a transaction would fail every later writer that receives it. (An SQLite connection
    /// is asked instead, and kept when no transaction is open.)
    pub fn discard(&mut self) {
        match &mut self.inner {
            // Closed if it goes back to sqlx's pool; kept if SQLite says it is outside any
            // transaction (see `sqlite_warm`).
            Inner::Sqlite(c) => c.pooled().close_on_drop(),
            Inner::Postgres(c) => c.close_on_drop(),
        }
    }

    /// Runs a statement on the SQLite connection, on this thread.
    async fn sqlite_run(
        side: &mut SqliteSide,
        sql: &str,
        values: &[Value<'_>],
        limit: Option<usize>,
    ) -> Result<Stepped, sqlx::Error> {
        side.unblocking(|d| d.run(sql, values, limit)).await
    }
}

/// An open savepoint; derefs to its connection.
pub struct Savepoint<'c> {
    conn: &'c mut Connection,
    depth: u32,
    done: bool,
}

impl Savepoint<'_> {
    /// Keeps the savepoint's writes (they commit or roll back with the transaction).
    pub async fn release(mut self) -> Result<(), sqlx::Error> {
        self.conn.settle().await?;
        self.conn
            .raw(&format!("RELEASE SAVEPOINT sp{}", self.depth))
            .await?;
        self.conn.savepoints = self.depth - 1;
        self.done = true;
        Ok(())
    }
}

impl Drop for Savepoint<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.conn.abandoned = Some(self.depth);
        }
    }
}

impl std::ops::Deref for Savepoint<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl std::ops::DerefMut for Savepoint<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn
    }
}

/// A bound value, before it is handed to an engine. Text may borrow from the caller (`'a`):
/// SQLite reads it in place (see `sqlite_direct`), where a copy per value was an allocation
/// and a copy for each of a directory load's million values.
#[derive(Clone)]
pub enum Value<'a> {
    I64(Option<i64>),
    F64(Option<f64>),
    Bool(Option<bool>),
    Text(Option<Cow<'a, str>>),
    Bytes(Option<Vec<u8>>),
}

/// What [`Query::bind`] accepts: the column types both engines share.
pub trait Bind<'a> {
    fn value(self) -> Value<'a>;
    /// The typed NULL of this type (PostgreSQL wants a NULL's type).
    fn null() -> Value<'a>;
}

macro_rules! bind_as {
    ($variant:ident: $($t:ty => $conv:expr),* $(,)?) => {$(
        impl<'a> Bind<'a> for $t {
            #[allow(clippy::redundant_closure_call)]
            fn value(self) -> Value<'a> {
                Value::$variant(Some(($conv)(self)))
            }
            fn null() -> Value<'a> {
                Value::$variant(None)
            }
        }
    )*};
}

bind_as!(I64: i64 => |v| v, i32 => i64::from, u32 => i64::from, u16 => i64::from, u8 => i64::from);
bind_as!(F64: f64 => |v| v);
bind_as!(Bool: bool => |v| v);
bind_as!(Text:
    String => Cow::Owned,
    &'a str => Cow::Borrowed,
    &'a String => |v: &'a String| Cow::Borrowed(v.as_str()),
    Cow<'a, str> => |v| v,
);
bind_as!(Bytes: Vec<u8> => |v| v, &[u8] => <[u8]>::to_vec, &Vec<u8> => Vec::clone);

impl<'a, T: Bind<'a>> Bind<'a> for Option<T> {
    fn value(self) -> Value<'a> {
        match self {
            Some(v) => v.value(),
            None => T::null(),
        }
    }
    fn null() -> Value<'a> {
        T::null()
    }
}

impl<'a, 'b, T> Bind<'a> for &'b Option<T>
where
    &'b T: Bind<'a>,
{
    fn value(self) -> Value<'a> {
        match self {
            Some(v) => v.value(),
            None => <&T>::null(),
        }
    }
    fn null() -> Value<'a> {
        <&T>::null()
    }
}

impl<'a, const N: usize> Bind<'a> for &[u8; N] {
    fn value(self) -> Value<'a> {
        Value::Bytes(Some(self.to_vec()))
    }
    fn null() -> Value<'a> {
        Value::Bytes(None)
    }
}

/// A column type both engines decode (`&'r str` borrows from the row).
pub trait Column<'r>: FromCell<'r> + sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres> {}

impl<'r, T> Column<'r> for T where
    T: FromCell<'r> + sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>
{
}

/// Decoding from a value SQLite returned. As sqlx does: a NULL only into an `Option`, and no
/// conversion between storage classes other than integer to floating point.
pub trait FromCell<'r>: Sized {
    fn from_cell(cell: &'r Cell) -> Result<Self, String>;
}

fn mismatch<T>(cell: &Cell) -> Result<T, String> {
    Err(match cell {
        Cell::Null => "unexpected NULL".to_owned(),
        other => format!(
            "mismatched types: cannot decode {} as {}",
            match other {
                Cell::Int(_) => "INTEGER",
                Cell::Real(_) => "REAL",
                Cell::Text(_) => "TEXT",
                Cell::Blob(_) => "BLOB",
                Cell::Null => "NULL",
            },
            std::any::type_name::<T>()
        ),
    })
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl FromCell<'_> for $t {
            fn from_cell(cell: &Cell) -> Result<Self, String> {
                match cell {
                    Cell::Int(v) => <$t>::try_from(*v).map_err(|e| e.to_string()),
                    other => mismatch(other),
                }
            }
        }
    )*};
}

from_int!(i64, i32, i16);

impl FromCell<'_> for bool {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Int(v) => Ok(*v != 0),
            other => mismatch(other),
        }
    }
}

impl FromCell<'_> for f64 {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Real(v) => Ok(*v),
            Cell::Int(v) => Ok(*v as f64),
            other => mismatch(other),
        }
    }
}

impl FromCell<'_> for String {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Text(v) => Ok(v.clone()),
            other => mismatch(other),
        }
    }
}

impl<'r> FromCell<'r> for &'r str {
    fn from_cell(cell: &'r Cell) -> Result<Self, String> {
        match cell {
            Cell::Text(v) => Ok(v),
            other => mismatch(other),
        }
    }
}

impl FromCell<'_> for Vec<u8> {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Blob(v) => Ok(v.clone()),
            Cell::Text(v) => Ok(v.as_bytes().to_vec()),
            other => mismatch(other),
        }
    }
}

impl<'r> FromCell<'r> for &'r [u8] {
    fn from_cell(cell: &'r Cell) -> Result<Self, String> {
        match cell {
            Cell::Blob(v) => Ok(v),
            Cell::Text(v) => Ok(v.as_bytes()),
            other => mismatch(other),
        }
    }
}

impl<'r, T: FromCell<'r>> FromCell<'r> for Option<T> {
    fn from_cell(cell: &'r Cell) -> Result<Self, String> {
        match cell {
            Cell::Null => Ok(None),
            other => T::from_cell(other).map(Some),
        }
    }
}

/// Decoding a value moved out of a SQLite row: a text is handed over, not copied.
pub trait TakeCell: Sized {
    fn take_cell(cell: Cell) -> Result<Self, String>;
}

impl TakeCell for String {
    fn take_cell(cell: Cell) -> Result<Self, String> {
        match cell {
            Cell::Text(v) => Ok(v),
            other => mismatch(&other),
        }
    }
}

impl TakeCell for Option<String> {
    fn take_cell(cell: Cell) -> Result<Self, String> {
        match cell {
            Cell::Null => Ok(None),
            other => String::take_cell(other).map(Some),
        }
    }
}

/// A column by name or position, in either engine's rows.
pub trait ColumnIndex: sqlx::ColumnIndex<PgRow> + fmt::Debug {
    fn position(&self, row: &DirectRow) -> Option<usize>;
}

impl ColumnIndex for &str {
    fn position(&self, row: &DirectRow) -> Option<usize> {
        row.position(self)
    }
}

impl ColumnIndex for usize {
    fn position(&self, row: &DirectRow) -> Option<usize> {
        (*self < row.len()).then_some(*self)
    }
}

/// A result row of either engine.
pub enum Row {
    Sqlite(DirectRow),
    Postgres(PgRow),
}

impl Row {
    pub fn try_get<'r, T: Column<'r>, I: ColumnIndex>(
        &'r self,
        index: I,
    ) -> Result<T, sqlx::Error> {
        match self {
            Row::Sqlite(r) => {
                let cell = r.cell(column(r, &index)?).unwrap_or(&Cell::Null);
                T::from_cell(cell).map_err(|e| decode_error(&index, e))
            }
            Row::Postgres(r) => r.try_get(index),
        }
    }

    /// [`Row::try_get`] for readers that keep the value: a SQLite row hands its text over
    /// instead of copying it (a directory run reads hundreds of thousands), and the cell
    /// reads NULL afterwards.
    pub fn take<T, I>(&mut self, index: I) -> Result<T, sqlx::Error>
    where
        T: TakeCell + for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
        I: ColumnIndex,
    {
        match self {
            Row::Sqlite(r) => {
                let at = column(r, &index)?;
                T::take_cell(r.take(at)).map_err(|e| decode_error(&index, e))
            }
            Row::Postgres(r) => r.try_get(index),
        }
    }
}

/// Where `index` is in a SQLite row, as sqlx reports a missing column.
fn column(row: &DirectRow, index: &impl ColumnIndex) -> Result<usize, sqlx::Error> {
    index
        .position(row)
        .ok_or_else(|| sqlx::Error::ColumnNotFound(format!("{index:?}")))
}

/// A cell that does not decode, as sqlx reports it.
fn decode_error(index: &impl ColumnIndex, why: String) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: format!("{index:?}"),
        source: why.into(),
    }
}

/// A statement and its bound values.
#[must_use = "a query does nothing until it is executed"]
pub struct Query<'a> {
    sql: SqlStr,
    values: Vec<Value<'a>>,
}

/// A statement written in the source (the usual case).
pub fn query(sql: &'static str) -> Query<'static> {
    Query {
        sql: SqlStr::from_static(sql),
        values: Vec::new(),
    }
}

/// A statement assembled at run time from fixed fragments (never from input: values are
/// bound).
pub fn query_owned(sql: String) -> Query<'static> {
    Query {
        sql: sqlx::SqlSafeStr::into_sql_str(AssertSqlSafe(sql)),
        values: Vec::new(),
    }
}

impl<'a> Query<'a> {
    pub fn bind(mut self, value: impl Bind<'a>) -> Self {
        self.values.push(value.value());
        self
    }

    /// Runs the statement; the number of rows it changed.
    pub async fn execute(self, conn: &mut Connection) -> Result<u64, sqlx::Error> {
        conn.settle().await?;
        let Query { sql, values } = self;
        let result = match &mut conn.inner {
            Inner::Sqlite(c) => Connection::sqlite_run(c, sql.as_str(), &values, None)
                .await
                .map(|s| s.changed),
            Inner::Postgres(c) => {
                sqlx::query_with(numbered(sql), arguments::<PgArguments>(values)?)
                    .execute(&mut **c)
                    .await
                    .map(|r| r.rows_affected())
            }
        };
        conn.observed(result)
    }

    pub async fn fetch_all(self, conn: &mut Connection) -> Result<Vec<Row>, sqlx::Error> {
        conn.settle().await?;
        let Query { sql, values } = self;
        let result = match &mut conn.inner {
            Inner::Sqlite(c) => Connection::sqlite_run(c, sql.as_str(), &values, None)
                .await
                .map(|s| s.rows.into_iter().map(Row::Sqlite).collect()),
            Inner::Postgres(c) => {
                sqlx::query_with(numbered(sql), arguments::<PgArguments>(values)?)
                    .fetch_all(&mut **c)
                    .await
                    .map(|rows| rows.into_iter().map(Row::Postgres).collect())
            }
        };
        conn.observed(result)
    }

    pub async fn fetch_optional(self, conn: &mut Connection) -> Result<Option<Row>, sqlx::Error> {
        conn.settle().await?;
        let Query { sql, values } = self;
        let result = match &mut conn.inner {
            Inner::Sqlite(c) => Connection::sqlite_run(c, sql.as_str(), &values, Some(1))
                .await
                .map(|s| s.rows.into_iter().next().map(Row::Sqlite)),
            Inner::Postgres(c) => {
                sqlx::query_with(numbered(sql), arguments::<PgArguments>(values)?)
                    .fetch_optional(&mut **c)
                    .await
                    .map(|row| row.map(Row::Postgres))
            }
        };
        conn.observed(result)
    }

    pub async fn fetch_one(self, conn: &mut Connection) -> Result<Row, sqlx::Error> {
        self.fetch_optional(conn)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }

    /// The first column of the first row.
    pub async fn scalar<T: for<'r> Column<'r>>(
        self,
        conn: &mut Connection,
    ) -> Result<T, sqlx::Error> {
        self.fetch_one(conn).await?.try_get(0)
    }

    /// The first column of the first row, if there is a row.
    pub async fn scalar_optional<T: for<'r> Column<'r>>(
        self,
        conn: &mut Connection,
    ) -> Result<Option<T>, sqlx::Error> {
        match self.fetch_optional(conn).await? {
            Some(row) => Ok(Some(row.try_get(0)?)),
            None => Ok(None),
        }
    }

    /// The first column of every row.
    pub async fn scalars<T: for<'r> Column<'r>>(
        self,
        conn: &mut Connection,
    ) -> Result<Vec<T>, sqlx::Error> {
        self.fetch_all(conn)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect()
    }
}

/// `items` in chunks of `max` rows, then what is left in chunks whose sizes are powers of two,
/// largest first. A multi-row statement is prepared once per row count: a remainder of any
/// size was a statement of its own, parsed anew each time (a group step wrote one per
/// group); these take at most ten sizes, each prepared once.
pub fn row_chunks<T>(items: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = if rest.len() >= max {
            max.max(1)
        } else {
            1 << rest.len().ilog2()
        };
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Some(head)
    })
}

/// Builds a statement whose shape depends on the input (lists of values, optional
/// conditions). Fragments are fixed text; values are always bound.
#[derive(Default)]
pub struct QueryBuilder<'a> {
    sql: String,
    values: Vec<Value<'a>>,
}

impl<'a> QueryBuilder<'a> {
    pub fn new(start: impl Into<String>) -> Self {
        QueryBuilder {
            sql: start.into(),
            values: Vec::new(),
        }
    }

    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    pub fn push_bind(&mut self, value: impl Bind<'a>) -> &mut Self {
        self.sql.push('?');
        self.values.push(value.value());
        self
    }

    /// `(?, ?, …), (?, ?, …)` for each item, with `VALUES ` in front.
    pub fn push_values<I, F>(&mut self, items: I, mut each: F) -> &mut Self
    where
        I: IntoIterator,
        F: FnMut(&mut Tuple<'_, 'a>, I::Item),
    {
        self.sql.push_str("VALUES ");
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.sql.push('(');
            let mut tuple = Tuple {
                builder: self,
                first: true,
            };
            each(&mut tuple, item);
            self.sql.push(')');
        }
        self
    }

    /// `?, ?, ?` for each value (the inside of an `IN (…)`).
    pub fn push_list<T: Bind<'a>>(&mut self, values: impl IntoIterator<Item = T>) -> &mut Self {
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.push_bind(v);
        }
        self
    }

    pub fn build(self) -> Query<'a> {
        Query {
            sql: sqlx::SqlSafeStr::into_sql_str(AssertSqlSafe(self.sql)),
            values: self.values,
        }
    }
}

/// One row of a `VALUES` list.
pub struct Tuple<'b, 'a> {
    builder: &'b mut QueryBuilder<'a>,
    first: bool,
}

impl<'a> Tuple<'_, 'a> {
    pub fn push_bind(&mut self, value: impl Bind<'a>) -> &mut Self {
        if !self.first {
            self.builder.sql.push_str(", ");
        }
        self.first = false;
        self.builder.push_bind(value);
        self
    }

    /// A fixed fragment in place of a value (a constant, or `NULL`).
    pub fn push_sql(&mut self, sql: &str) -> &mut Self {
        if !self.first {
            self.builder.sql.push_str(", ");
        }
        self.first = false;
        self.builder.sql.push_str(sql);
        self
    }
}

/// The engine's own argument list for the bound values.
fn arguments<A>(values: Vec<Value<'_>>) -> Result<A, sqlx::Error>
where
    A: sqlx::Arguments,
    for<'q> Option<i64>: sqlx::Encode<'q, A::Database> + sqlx::Type<A::Database>,
    for<'q> Option<f64>: sqlx::Encode<'q, A::Database> + sqlx::Type<A::Database>,
    for<'q> Option<bool>: sqlx::Encode<'q, A::Database> + sqlx::Type<A::Database>,
    for<'q> Option<String>: sqlx::Encode<'q, A::Database> + sqlx::Type<A::Database>,
    for<'q> Option<Vec<u8>>: sqlx::Encode<'q, A::Database> + sqlx::Type<A::Database>,
{
    let mut args = A::default();
    for v in values {
        match v {
            Value::I64(v) => args.add(v),
            Value::F64(v) => args.add(v),
            Value::Bool(v) => args.add(v),
            Value::Text(v) => args.add(v.map(Cow::into_owned)),
            Value::Bytes(v) => args.add(v),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(args)
}

/// SQLite's `?` placeholders as PostgreSQL's `$1`, `$2` …; quoted text, quoted names and
/// comments are left alone.
fn numbered(sql: SqlStr) -> SqlStr {
    let text = sql.as_str();
    if !text.contains('?') {
        return sql;
    }
    sqlx::SqlSafeStr::into_sql_str(AssertSqlSafe(number_placeholders(text)))
}

pub(crate) fn number_placeholders(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut n = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    if d == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    if d == '\n' {
                        break;
                    }
                }
            }
            // `?NNN` names its parameter; a bare `?` is the next one.
            '?' if chars.peek().is_some_and(char::is_ascii_digit) => out.push('$'),
            '?' => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{number_placeholders, row_chunks};

    #[test]
    fn row_chunks_are_full_then_powers_of_two() {
        let sizes = |n: usize, max: usize| -> Vec<usize> {
            let items: Vec<usize> = (0..n).collect();
            let chunks: Vec<&[usize]> = row_chunks(&items, max).collect();
            let flat: Vec<usize> = chunks.concat();
            assert_eq!(flat, items, "every item once, in order");
            chunks.iter().map(|c| c.len()).collect()
        };
        assert_eq!(sizes(0, 1000), Vec::<usize>::new());
        assert_eq!(sizes(2950, 1000), [1000, 1000, 512, 256, 128, 32, 16, 4, 2]);
        assert_eq!(sizes(7, 5000), [4, 2, 1]);
        assert_eq!(sizes(10000, 5000), [5000, 5000]);
        assert_eq!(sizes(3, 0), [1, 1, 1]);
    }

    #[test]
    fn placeholders_are_numbered_outside_quotes_and_comments() {
        assert_eq!(
            number_placeholders("SELECT a FROM t WHERE b = ? AND c IN (?, ?)"),
            "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"
        );
        assert_eq!(
            number_placeholders("SELECT '?', \"x?\" -- why?\n FROM t WHERE a = ?"),
            "SELECT '?', \"x?\" -- why?\n FROM t WHERE a = $1"
        );
        // '' inside a string closes and reopens it: still one literal.
        assert_eq!(
            number_placeholders("SELECT 'it''s ?' WHERE a = ?"),
            "SELECT 'it''s ?' WHERE a = $1"
        );
        assert_eq!(number_placeholders("SELECT 1"), "SELECT 1");
        assert_eq!(
            number_placeholders("VALUES (?1, ?2) WHERE x < ?1"),
            "VALUES ($1, $2) WHERE x < $1"
        );
    }
}
