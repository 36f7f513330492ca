//! What the SQL backends do alike, written once over [`sqlx::Database`].
//!
//! Both backends keep the same `agents` table and change-version row, so reading the version,
//! deleting an agent, streaming rows through a converter, running DDL and the legacy column
//! drops are the same statements on either; [`Backend`] holds the little that differs (how
//! sqlx's errors map to [`StoreError`], how a time is bound). Statements here use `$n`
//! placeholders, which both PostgreSQL and sqlx's SQLite driver read by number. What one backend
//! does its own way (its select lists, its transactions' isolation, its search) stays in that
//! backend.

use futures_util::TryStreamExt as _;
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Pool, Type};
use time::OffsetDateTime;

use crate::agents::AgentRid;
use crate::store::error::{StoreError, refuse_empty};
use crate::store::records::ChangeVersion;

/// A database Finch stores agents in, as the shared statements need to know it.
pub(in crate::store) trait Backend: Database {
    /// A nullable timestamp column's value as this backend binds it.
    type TimeColumn: for<'q> Encode<'q, Self> + Type<Self> + Send;

    /// A timestamp, or `NULL`, as this backend's timestamp columns hold it.
    fn time_column(at: Option<OffsetDateTime>) -> Result<Self::TimeColumn, StoreError>;

    /// Narrows one of sqlx's errors to [`StoreError`], as this backend's boundary does.
    fn map_sqlx(e: sqlx::Error) -> StoreError;

    /// How many rows a statement changed.
    fn rows_affected(done: &Self::QueryResult) -> u64;
}

/// Columns of the basic-auth era, dropped when present.
const LEGACY_COLUMNS: [&str; 3] = ["password", "password_hash", "username"];

/// The row of `finch_change_version` was deleted from outside Finch.
#[derive(Debug, thiserror::Error)]
#[error("the row of finch_change_version is missing: restart finch to recreate it")]
struct MissingChangeVersion;

/// Reads the change version.
pub(in crate::store) async fn read_version<C, DB>(conn: &mut C) -> Result<ChangeVersion, StoreError>
where
    for<'c> &'c mut C: Executor<'c, Database = DB>,
    DB: Backend,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
{
    sqlx::query_as::<_, (i64,)>("SELECT version FROM finch_change_version WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await
        .map_err(DB::map_sqlx)?
        .map(|(version,)| ChangeVersion(version))
        .ok_or_else(|| StoreError::Database(Box::new(MissingChangeVersion)))
}

/// Deletes the agent `rid` and returns the change version its deletion produced.
pub(in crate::store) async fn delete_agent<DB>(
    pool: &Pool<DB>,
    rid: &AgentRid,
) -> Result<ChangeVersion, StoreError>
where
    DB: Backend,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
{
    refuse_empty(rid)?;
    let mut tx = pool.begin().await.map_err(DB::map_sqlx)?;
    let done = sqlx::query("DELETE FROM agents WHERE resource_id = $1")
        .bind(rid.as_str())
        .execute(&mut *tx)
        .await
        .map_err(DB::map_sqlx)?;
    if DB::rows_affected(&done) == 0 {
        return Err(StoreError::NotFound);
    }
    let version = read_version(&mut *tx).await?;
    tx.commit().await.map_err(DB::map_sqlx)?;
    Ok(version)
}

/// Runs `sql` and hands each row to `each` as it streams in: a fleet's raw rows are never held
/// at once, as they cost many times what they become.
pub(in crate::store) async fn for_each_row<'c, E, DB>(
    conn: E,
    sql: &str,
    mut each: impl FnMut(&DB::Row) -> Result<(), StoreError>,
) -> Result<(), StoreError>
where
    E: Executor<'c, Database = DB>,
    DB: Backend,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    let mut found = sqlx::query(sql).fetch(conn);
    while let Some(row) = found.try_next().await.map_err(DB::map_sqlx)? {
        each(&row)?;
    }
    Ok(())
}

/// Runs `sql` and converts each row as it streams in (see [`for_each_row`]).
pub(in crate::store) async fn collect_rows<'c, E, DB, T>(
    conn: E,
    sql: &str,
    convert: impl Fn(&DB::Row) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError>
where
    E: Executor<'c, Database = DB>,
    DB: Backend,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    let mut converted = Vec::new();
    for_each_row(conn, sql, |row| {
        converted.push(convert(row)?);
        Ok(())
    })
    .await?;
    Ok(converted)
}

/// Runs DDL (possibly several statements), outside the prepared-statement cache.
pub(in crate::store) async fn execute<C, DB>(conn: &mut C, sql: &str) -> Result<(), StoreError>
where
    for<'c> &'c mut C: Executor<'c, Database = DB>,
    DB: Backend,
{
    sqlx::raw_sql(sql)
        .execute(&mut *conn)
        .await
        .map(drop)
        .map_err(DB::map_sqlx)
}

/// The lowercased names `sql` selects: a table's column names, as the schema checks compare them.
pub(in crate::store) async fn lowercase_names<C, DB>(
    conn: &mut C,
    sql: &str,
) -> Result<Vec<String>, StoreError>
where
    for<'c> &'c mut C: Executor<'c, Database = DB>,
    DB: Backend,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    (String,): for<'r> FromRow<'r, DB::Row>,
{
    let names: Vec<String> = sqlx::query_scalar(sql)
        .fetch_all(&mut *conn)
        .await
        .map_err(DB::map_sqlx)?;
    Ok(names.into_iter().map(|n| n.to_ascii_lowercase()).collect())
}

/// Drops the columns of the basic-auth era that `existing` (lowercased names) holds, as 1.x's
/// own migration did.
pub(in crate::store) async fn drop_legacy_columns<C, DB>(
    conn: &mut C,
    existing: &[String],
) -> Result<(), StoreError>
where
    for<'c> &'c mut C: Executor<'c, Database = DB>,
    DB: Backend,
{
    for legacy in LEGACY_COLUMNS {
        if existing.iter().any(|c| c == legacy) {
            execute(conn, &format!("ALTER TABLE agents DROP COLUMN {legacy}")).await?;
            tracing::info!(db.column = legacy, "dropped legacy column");
        }
    }
    Ok(())
}
