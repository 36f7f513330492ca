//! Writing whole agent records, as `finch migrate` copies them from another database: resource
//! id, registration time and last mark kept, not minted or stamped anew.

use sqlx::SqlitePool;
use time::OffsetDateTime;

use super::error::map_sqlx;
use super::timestamp;
use crate::agents::Agent;
use crate::store::columns::{encode_list, labels_column, log_sources_column};
use crate::store::error::StoreError;

/// Stores `agents` in one transaction, in their order, after deleting every agent when
/// `replace`. A missing registration time takes the column default, as a registration would.
pub(super) async fn import_agents(
    pool: &SqlitePool,
    agents: &[Agent],
    replace: bool,
) -> Result<(), StoreError> {
    let now = time_text(Some(OffsetDateTime::now_utc()))?;
    let mut tx = pool.begin().await.map_err(map_sqlx)?;
    if replace {
        sqlx::query("DELETE FROM agents")
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
    }
    for agent in agents {
        sqlx::query(
            "INSERT INTO agents (created_at, updated_at, active, hostname, last_seen, \
             log_sources, metrics, metrics_targets, profiles, registered_at, resource_id, \
             labels, node) \
             VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, coalesce(?, CURRENT_TIMESTAMP), ?, ?, ?)",
        )
        .bind(time_text(agent.created_at)?)
        .bind(&now)
        .bind(&agent.hostname)
        .bind(time_text(agent.last_seen)?)
        .bind(log_sources_column(&agent.log_sources)?)
        .bind(agent.metrics)
        .bind(encode_list(&agent.metrics_targets)?)
        .bind(agent.profiles)
        .bind(time_text(agent.registered_at)?)
        .bind(agent.rid.as_str())
        .bind(labels_column(&agent.labels)?)
        .bind(agent.node.as_str())
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?;
    }
    tx.commit().await.map_err(map_sqlx)
}

/// A time as its column text, or NULL.
fn time_text(at: Option<OffsetDateTime>) -> Result<Option<String>, StoreError> {
    at.map(timestamp::format)
        .transpose()
        .map_err(|e| StoreError::Database(Box::new(e)))
}
