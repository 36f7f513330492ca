//! The PostgreSQL side of `finch migrate`'s copy of whole agent records (`store/import.rs`).
//!
//! The change-version trigger is switched off for the copy and the version bumped once at the
//! end, announcing a change that names no agent (every replica reads all again): bumping one
//! counter row per agent in one transaction leaves a chain of row versions that each update
//! walks, which made a copy of 100,000 agents take minutes. `ALTER TABLE` is transactional, so
//! the trigger is never off outside this transaction, and the lock it takes keeps every other
//! writer out until the commit.
//!
//! The copy ends with `ANALYZE` of the tables it filled, in the same transaction (as
//! PostgreSQL's own advice after a bulk load has it): until autovacuum gets to them, a minute or
//! more later, the planner would plan dashboard reads for the tables as they were before the
//! copy, often empty.

use sqlx::PgPool;

use super::error::map_sqlx;
use super::schema::{BUMP_TRIGGER, CHANGE_CHANNEL};
use crate::agents::Agent;
use crate::store::error::StoreError;
use crate::store::import::write_agents;

/// Stores `agents` in one transaction, in their order, after deleting every agent when
/// `replace`, with the change trigger off and one change announced at the end.
pub(super) async fn import_agents(
    pool: &PgPool,
    agents: &[Agent],
    replace: bool,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(map_sqlx)?;
    sqlx::raw_sql(&format!(
        "ALTER TABLE agents DISABLE TRIGGER {BUMP_TRIGGER}"
    ))
    .execute(&mut *tx)
    .await
    .map_err(map_sqlx)?;
    write_agents(&mut *tx, agents, replace).await?;
    sqlx::raw_sql(&format!(
        "ALTER TABLE agents ENABLE TRIGGER {BUMP_TRIGGER}; \
         WITH bumped AS (UPDATE finch_change_version SET version = version + 1 WHERE id = 1 \
         RETURNING version) \
         SELECT pg_notify('{CHANGE_CHANNEL}', \
         json_build_object('version', version, 'rids', NULL)::text) FROM bumped; \
         ANALYZE agents, finch_agent_search"
    ))
    .execute(&mut *tx)
    .await
    .map_err(map_sqlx)?;
    tx.commit().await.map_err(map_sqlx)
}
