//! Writing whole agent records, as `finch migrate` copies them from another database: resource
//! id, registration time and last mark kept, not minted or stamped anew.
//!
//! The change-version trigger is switched off for the copy and the version bumped once at the
//! end, announcing a change that names no agent (every replica reads all again): bumping one
//! counter row per agent in one transaction leaves a chain of row versions that each update
//! walks, which made a copy of 100,000 agents take minutes. `ALTER TABLE` is transactional, so
//! the trigger is never off outside this transaction, and the lock it takes keeps every other
//! writer out until the commit.

use sqlx::PgPool;
use time::OffsetDateTime;

use super::error::map_sqlx;
use super::schema::{BUMP_TRIGGER, CHANGE_CHANNEL};
use crate::agents::Agent;
use crate::store::columns::{encode_list, labels_column, log_sources_column};
use crate::store::error::StoreError;

/// Stores `agents` in one transaction, in their order, after deleting every agent when
/// `replace`. A missing registration time takes the column default, as a registration would.
pub(super) async fn import_agents(
    pool: &PgPool,
    agents: &[Agent],
    replace: bool,
) -> Result<(), StoreError> {
    let now = OffsetDateTime::now_utc();
    let mut tx = pool.begin().await.map_err(map_sqlx)?;
    sqlx::raw_sql(&format!(
        "ALTER TABLE agents DISABLE TRIGGER {BUMP_TRIGGER}"
    ))
    .execute(&mut *tx)
    .await
    .map_err(map_sqlx)?;
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
             VALUES ($1, $2, true, $3, $4, $5, $6, $7, $8, coalesce($9, CURRENT_TIMESTAMP), \
             $10, $11, $12)",
        )
        .bind(agent.created_at)
        .bind(now)
        .bind(&agent.hostname)
        .bind(agent.last_seen)
        .bind(log_sources_column(&agent.log_sources)?)
        .bind(agent.metrics)
        .bind(encode_list(&agent.metrics_targets)?)
        .bind(agent.profiles)
        .bind(agent.registered_at)
        .bind(agent.rid.as_str())
        .bind(labels_column(&agent.labels)?)
        .bind(agent.node.as_str())
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?;
    }
    sqlx::raw_sql(&format!(
        "ALTER TABLE agents ENABLE TRIGGER {BUMP_TRIGGER}; \
         WITH bumped AS (UPDATE finch_change_version SET version = version + 1 WHERE id = 1 \
         RETURNING version) \
         SELECT pg_notify('{CHANGE_CHANNEL}', \
         json_build_object('version', version, 'rids', NULL)::text) FROM bumped"
    ))
    .execute(&mut *tx)
    .await
    .map_err(map_sqlx)?;
    tx.commit().await.map_err(map_sqlx)
}
