//! `tapbridge db copy`: an SQLite deployment moved into an empty PostgreSQL database, so a
//! user who outgrows one machine loses nothing. Every table is copied in one PostgreSQL
//! transaction (foreign keys checked at its end), the row counts of both sides compared
//! before it commits, and identity counters carried over. Passes, tokens and sessions are
//! stored as keyed hashes of the server secret: the new nodes keep working with them as long
//! as they are given the same secret.

use super::{Connection, Engine, QueryBuilder, Row, Store, query, query_owned};
use crate::{Error, Result};

/// Tables the store keeps for itself, not copied (each side has its own).
const OWN: [&str; 2] = ["schema_migrations", "store_probe"];

/// Rows per `INSERT` (PostgreSQL takes up to 65,535 parameters a statement).
const ROWS_PER_INSERT: usize = 500;
/// Rows read from the source at a time.
const PAGE: i64 = 5000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub table: String,
    pub rows: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Boolean,
    Bytes,
    Text,
}

struct Table {
    name: String,
    columns: Vec<(String, Kind)>,
    /// Columns the target fills itself (identities), copied with `OVERRIDING SYSTEM VALUE`.
    identity: Option<String>,
    order_by: String,
}

/// Copies every table of `from` (SQLite) into `to` (PostgreSQL, migrated and empty).
pub async fn copy(from: &Store, to: &Store) -> Result<Vec<Copied>> {
    if from.engine() != Engine::Sqlite || to.engine() != Engine::Postgres {
        return Err(Error::invalid(
            "db copy moves an SQLite database into PostgreSQL",
        ));
    }
    let mut src = from.read().await?;
    let mut dst = to.write_alone().await?;
    let source_version: i64 = query("SELECT coalesce(max(version), 0) FROM schema_migrations")
        .scalar(&mut src)
        .await?;
    let target_version: i64 = query("SELECT coalesce(max(version), 0) FROM schema_migrations")
        .scalar(&mut dst)
        .await?;
    if source_version != target_version {
        return Err(Error::invalid(format!(
            "the schemas differ (SQLite at version {source_version}, PostgreSQL at {target_version}): \
             run the same tapbridge version on both"
        )));
    }
    let tables = tables(&mut src, &mut dst).await?;
    for t in &tables {
        let n: i64 = query_owned(format!("SELECT count(*) FROM {}", t.name))
            .scalar(&mut dst)
            .await?;
        if n > 0 {
            return Err(Error::invalid(format!(
                "the PostgreSQL database is not empty: table {} holds {n} rows",
                t.name
            )));
        }
    }
    super::defer_foreign_keys(&mut dst).await?;
    let mut copied = Vec::with_capacity(tables.len());
    for t in &tables {
        let rows = copy_table(&mut src, &mut dst, t).await?;
        let n: i64 = query_owned(format!("SELECT count(*) FROM {}", t.name))
            .scalar(&mut dst)
            .await?;
        if u64::try_from(n).ok() != Some(rows) {
            return Err(Error::Internal(format!(
                "table {}: {rows} rows read, {n} in PostgreSQL",
                t.name
            )));
        }
        if let Some(id) = &t.identity {
            query_owned(format!(
                "SELECT setval(pg_get_serial_sequence('{0}', '{id}'), coalesce(max({id}), 0) + 1, false) FROM {0}",
                t.name
            ))
            .execute(&mut dst)
            .await?;
        }
        copied.push(Copied {
            table: t.name.clone(),
            rows,
        });
    }
    dst.commit().await?;
    Ok(copied)
}

/// The source's tables, typed by the target's columns.
async fn tables(src: &mut Connection, dst: &mut Connection) -> Result<Vec<Table>> {
    let names: Vec<String> = query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .scalars(src)
    .await?;
    let mut out = Vec::new();
    for name in names.into_iter().filter(|n| !OWN.contains(&n.as_str())) {
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(Error::Internal(format!("unexpected table name {name:?}")));
        }
        let cols = query(
            "SELECT column_name, data_type, is_identity FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
        )
        .bind(&name)
        .fetch_all(dst)
        .await?;
        if cols.is_empty() {
            return Err(Error::Internal(format!(
                "table {name} is missing in PostgreSQL"
            )));
        }
        let mut columns = Vec::new();
        let mut identity = None;
        for c in &cols {
            let column: String = c.try_get("column_name")?;
            let kind = match c.try_get::<String, _>("data_type")?.as_str() {
                "bigint" | "integer" | "smallint" => Kind::Integer,
                "boolean" => Kind::Boolean,
                "bytea" => Kind::Bytes,
                _ => Kind::Text,
            };
            if c.try_get::<String, _>("is_identity")? == "YES" {
                identity = Some(column.clone());
            }
            columns.push((column, kind));
        }
        let pk: Vec<String> = query_owned(format!(
            "SELECT name FROM pragma_table_info('{name}') WHERE pk > 0 ORDER BY pk"
        ))
        .scalars(src)
        .await?;
        let order_by = if pk.is_empty() {
            "rowid".to_owned()
        } else {
            pk.join(", ")
        };
        out.push(Table {
            name,
            columns,
            identity,
            order_by,
        });
    }
    Ok(out)
}

async fn copy_table(src: &mut Connection, dst: &mut Connection, t: &Table) -> Result<u64> {
    let names: Vec<&str> = t.columns.iter().map(|(c, _)| c.as_str()).collect();
    let select = format!(
        "SELECT {} FROM {} ORDER BY {} LIMIT ? OFFSET ?",
        names.join(", "),
        t.name,
        t.order_by
    );
    let mut offset = 0i64;
    let mut total = 0u64;
    loop {
        let rows = query_owned(select.clone())
            .bind(PAGE)
            .bind(offset)
            .fetch_all(src)
            .await?;
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            insert(dst, t, &names, chunk).await?;
        }
        total += rows.len() as u64;
        offset += PAGE;
        if (rows.len() as i64) < PAGE {
            return Ok(total);
        }
    }
}

async fn insert(dst: &mut Connection, t: &Table, names: &[&str], rows: &[Row]) -> Result<()> {
    let mut qb = QueryBuilder::new(format!(
        "INSERT INTO {} ({}) {}",
        t.name,
        names.join(", "),
        if t.identity.is_some() {
            "OVERRIDING SYSTEM VALUE "
        } else {
            ""
        }
    ));
    let mut failed = None;
    qb.push_values(rows, |b, row| {
        for (i, (_, kind)) in t.columns.iter().enumerate() {
            let bound = match kind {
                Kind::Integer => row.try_get::<Option<i64>, _>(i).map(|v| {
                    b.push_bind(v);
                }),
                Kind::Boolean => row.try_get::<Option<i64>, _>(i).map(|v| {
                    b.push_bind(v.map(|n| n != 0));
                }),
                Kind::Bytes => row.try_get::<Option<Vec<u8>>, _>(i).map(|v| {
                    b.push_bind(v);
                }),
                Kind::Text => row.try_get::<Option<String>, _>(i).map(|v| {
                    b.push_bind(v);
                }),
            };
            if let Err(e) = bound {
                failed.get_or_insert(e);
                b.push_sql("NULL");
            }
        }
    });
    if let Some(e) = failed {
        return Err(Error::Internal(format!("table {}: {e}", t.name)));
    }
    qb.build().execute(dst).await?;
    Ok(())
}
