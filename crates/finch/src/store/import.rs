//! Writing whole agent records, as `finch migrate` copies them from another database: resource
//! id, registration time and last mark kept, not minted or stamped anew.
//!
//! The rows are written alike on every backend; each backend wraps [`write_agents`] in its own
//! transaction, with what it needs around the copy (PostgreSQL switches its change trigger off).

use sqlx::{Encode, Executor, IntoArguments, Type};
use time::OffsetDateTime;

use crate::agents::Agent;
use crate::store::backend::Backend;
use crate::store::columns::{encode_list, labels_column, log_sources_column};
use crate::store::error::StoreError;

/// Writes `agents` on `conn`, in their order, after deleting every agent when `replace`. A
/// missing registration time takes the column default, as a registration would.
pub(in crate::store) async fn write_agents<C, DB>(
    conn: &mut C,
    agents: &[Agent],
    replace: bool,
) -> Result<(), StoreError>
where
    DB: Backend,
    for<'c> &'c mut C: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
{
    let now = DB::time_column(Some(OffsetDateTime::now_utc()))?;
    if replace {
        sqlx::query("DELETE FROM agents")
            .execute(&mut *conn)
            .await
            .map_err(DB::map_sqlx)?;
    }
    for agent in agents {
        sqlx::query(
            "INSERT INTO agents (created_at, updated_at, active, hostname, last_seen, \
             log_sources, metrics, metrics_targets, profiles, registered_at, resource_id, \
             labels, node) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, coalesce($10, CURRENT_TIMESTAMP), \
             $11, $12, $13)",
        )
        .bind(DB::time_column(agent.created_at)?)
        .bind(&now)
        .bind(true)
        .bind(agent.hostname.as_str())
        .bind(DB::time_column(agent.last_seen)?)
        .bind(log_sources_column(&agent.log_sources)?)
        .bind(agent.metrics)
        .bind(encode_list(&agent.metrics_targets)?)
        .bind(agent.profiles)
        .bind(DB::time_column(agent.registered_at)?)
        .bind(agent.rid.as_str())
        .bind(labels_column(&agent.labels)?)
        .bind(agent.node.as_str())
        .execute(&mut *conn)
        .await
        .map_err(DB::map_sqlx)?;
    }
    Ok(())
}
