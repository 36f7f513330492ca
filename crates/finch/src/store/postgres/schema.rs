//! The `agents` schema on PostgreSQL, and the migrations that bring a database up to it.
//!
//! The table is Finch 1.x's, column for column, with the types GORM's PostgreSQL dialect gives
//! 1.x's model (`bigserial`, `timestamptz`, `boolean`, JSON lists as `text`), so a database 1.x
//! created opens and works. Beside it Finch keeps what SQLite has too: the change version and
//! the triggers that bump it for every writer, and the dashboard's search index.
//!
//! Migrations are numbered steps recorded in `finch_schema`, each applied once. Several replicas
//! may start at the same moment, so the whole migration runs in one transaction that first takes
//! a transaction-scoped advisory lock ([`MIGRATION_LOCK`]): the others wait for it, then find
//! the steps recorded and do nothing. PostgreSQL's DDL is transactional, so a failed step leaves
//! the database as it was.
//!
//! The trigram index that makes a search seek rather than scan needs the `pg_trgm` extension
//! (shipped with PostgreSQL, trusted since 13, so a database owner may create it). Where it
//! cannot be created the search reads every row, with the same answers; each start tries again.

use sqlx::{PgConnection, PgPool};

use super::error::{PostgresError, map_sqlx};
use crate::store::backend::{drop_legacy_columns, execute, lowercase_names};
use crate::store::error::StoreError;

/// The advisory lock key the migration holds: the bytes of `"finch-mg"` as an `i64`, a value
/// unlikely to collide with another application's keys on a shared database.
const MIGRATION_LOCK: i64 = i64::from_be_bytes(*b"finch-mg");

/// The table of the schema's version: one row, id 1.
const SCHEMA_TABLE: &str = "CREATE TABLE IF NOT EXISTS finch_schema \
     (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL)";

/// 1.x's 14 columns, with the types GORM's PostgreSQL dialect gives them, and its unique
/// constraints under GORM's names.
const CREATE_AGENTS: &str = "CREATE TABLE agents (\
     id bigserial PRIMARY KEY, \
     created_at timestamptz, \
     updated_at timestamptz, \
     active boolean NOT NULL DEFAULT true, \
     hostname text NOT NULL, \
     last_seen timestamptz NULL DEFAULT NULL, \
     log_sources text NOT NULL DEFAULT '[]', \
     metrics boolean NOT NULL DEFAULT false, \
     metrics_targets text NOT NULL DEFAULT '[]', \
     profiles boolean NOT NULL DEFAULT false, \
     registered_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP, \
     resource_id text NOT NULL, \
     labels text, \
     node text NOT NULL DEFAULT 'unix', \
     CONSTRAINT uni_agents_hostname UNIQUE (hostname), \
     CONSTRAINT uni_agents_resource_id UNIQUE (resource_id))";

/// Columns an older 1.x table may lack, as `ADD COLUMN` adds them.
const ADDABLE_COLUMNS: [(&str, &str); 11] = [
    ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
    ("active", "boolean NOT NULL DEFAULT true"),
    ("last_seen", "timestamptz NULL DEFAULT NULL"),
    ("log_sources", "text NOT NULL DEFAULT '[]'"),
    ("metrics", "boolean NOT NULL DEFAULT false"),
    ("metrics_targets", "text NOT NULL DEFAULT '[]'"),
    ("profiles", "boolean NOT NULL DEFAULT false"),
    (
        "registered_at",
        "timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP",
    ),
    ("labels", "text"),
    ("node", "text NOT NULL DEFAULT 'unix'"),
];

/// Columns without which a table cannot be migrated: the key and the two unique names.
const KEY_COLUMNS: [&str; 3] = ["id", "hostname", "resource_id"];

/// The column names of `agents` in the current schema; none when there is no table.
const COLUMN_NAMES: &str = "SELECT column_name::text FROM information_schema.columns \
     WHERE table_schema = current_schema() AND table_name = 'agents'";

/// The change counter, its row, and the trigger function that bumps it. The triggers fire for
/// every writer (a replica, `psql`); `last_seen`, `updated_at` and `active` are left out on
/// purpose, as on SQLite: recording when agents were seen must not make every replica reload.
const CHANGE_VERSION: &str = "\
     CREATE UNIQUE INDEX IF NOT EXISTS uidx_agents_resource_id ON agents (resource_id); \
     CREATE TABLE finch_change_version \
       (id integer PRIMARY KEY CHECK (id = 1), version bigint NOT NULL); \
     INSERT INTO finch_change_version (id, version) VALUES (1, 0); \
     CREATE FUNCTION finch_bump_change_version() RETURNS trigger LANGUAGE plpgsql AS $$ \
       BEGIN UPDATE finch_change_version SET version = version + 1 WHERE id = 1; RETURN NULL; END \
     $$; \
     CREATE TRIGGER finch_agents_after_insert_delete AFTER INSERT OR DELETE ON agents \
       FOR EACH ROW EXECUTE FUNCTION finch_bump_change_version(); \
     CREATE TRIGGER finch_agents_after_update AFTER UPDATE OF resource_id, hostname, metrics, \
       profiles, log_sources, metrics_targets, labels ON agents \
       FOR EACH ROW EXECUTE FUNCTION finch_bump_change_version(); \
     CREATE TRIGGER finch_agents_after_truncate AFTER TRUNCATE ON agents \
       FOR EACH STATEMENT EXECUTE FUNCTION finch_bump_change_version();";

/// The search text of every visible agent, kept by triggers for every writer: hostname, resource
/// id and each label entry (decoded from the JSON) on lines of their own, ASCII letters folded to
/// lowercase (see `search.rs`). Computed once per write rather than per row of every search:
/// `finch_label_entries` decodes the labels, or gives none where they are not a JSON array, with
/// an exception handler, which costs a subtransaction.
const SEARCH_TEXT: &str = "\
     CREATE TABLE finch_agent_search (agent_id bigint PRIMARY KEY, search text NOT NULL); \
     CREATE FUNCTION finch_label_entries(labels text) RETURNS SETOF text \
       LANGUAGE plpgsql IMMUTABLE AS $$ \
       BEGIN \
         IF labels IS NULL OR btrim(labels) IN ('', 'null') THEN RETURN; END IF; \
         RETURN QUERY SELECT jsonb_array_elements_text(labels::jsonb); \
       EXCEPTION WHEN others THEN RETURN; \
       END $$; \
     CREATE FUNCTION finch_search_text(hostname text, resource_id text, labels text) \
       RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$ \
       BEGIN \
         RETURN translate(concat_ws(E'\\n', hostname, resource_id, \
           (SELECT string_agg(entry, E'\\n') FROM finch_label_entries(labels) AS entry)), \
           'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'); \
       END $$; \
     CREATE FUNCTION finch_keep_search_text() RETURNS trigger LANGUAGE plpgsql AS $$ \
       BEGIN \
         IF TG_OP = 'TRUNCATE' THEN TRUNCATE finch_agent_search; RETURN NULL; END IF; \
         IF TG_OP <> 'INSERT' THEN DELETE FROM finch_agent_search WHERE agent_id = OLD.id; END IF; \
         IF TG_OP <> 'DELETE' AND NEW.resource_id <> '' THEN \
           INSERT INTO finch_agent_search (agent_id, search) \
             VALUES (NEW.id, finch_search_text(NEW.hostname, NEW.resource_id, NEW.labels)); \
         END IF; \
         RETURN NULL; \
       END $$; \
     CREATE TRIGGER finch_search_after_insert_delete AFTER INSERT OR DELETE ON agents \
       FOR EACH ROW EXECUTE FUNCTION finch_keep_search_text(); \
     CREATE TRIGGER finch_search_after_update AFTER UPDATE OF id, hostname, resource_id, labels \
       ON agents FOR EACH ROW EXECUTE FUNCTION finch_keep_search_text(); \
     CREATE TRIGGER finch_search_after_truncate AFTER TRUNCATE ON agents \
       FOR EACH STATEMENT EXECUTE FUNCTION finch_keep_search_text(); \
     INSERT INTO finch_agent_search (agent_id, search) \
       SELECT id, finch_search_text(hostname, resource_id, labels) FROM agents \
       WHERE resource_id <> '';";

/// The row trigger that bumps the change version on inserts and deletes (see [`CHANGE_VERSION`]).
pub(super) const BUMP_TRIGGER: &str = "finch_agents_after_insert_delete";

/// The channel every change to `agents` is announced on (see [`NOTIFY_CHANGES`]).
pub(super) const CHANGE_CHANNEL: &str = "finch_agents";

/// Makes the change-version trigger also announce each change on [`CHANGE_CHANNEL`], so that
/// every replica applies it within milliseconds instead of finding it by polling. The payload
/// is `{"version": <the version this change produced>, "rids": [<resource ids it touched>]}`;
/// `rids` is null for a `TRUNCATE`, which touches every agent. PostgreSQL delivers notifications
/// at commit, in commit order, and the counter row stays locked until commit, so a listener sees
/// the versions in order and can tell a missed one by the gap.
const NOTIFY_CHANGES: &str = "\
     CREATE OR REPLACE FUNCTION finch_bump_change_version() RETURNS trigger LANGUAGE plpgsql AS $$ \
       DECLARE changed bigint; rids text[]; \
       BEGIN \
         UPDATE finch_change_version SET version = version + 1 WHERE id = 1 \
           RETURNING version INTO changed; \
         IF TG_LEVEL = 'ROW' THEN \
           rids := ARRAY(SELECT DISTINCT rid FROM unnest(ARRAY[ \
             CASE WHEN TG_OP <> 'INSERT' THEN OLD.resource_id END, \
             CASE WHEN TG_OP <> 'DELETE' THEN NEW.resource_id END]) AS rid \
             WHERE rid IS NOT NULL); \
         END IF; \
         PERFORM pg_notify('finch_agents', \
           json_build_object('version', changed, 'rids', rids)::text); \
         RETURN NULL; \
       END $$;";

/// Name of the trigram index on the search texts.
const TRIGRAM_INDEX: &str = "finch_agents_search_trgm";

/// Brings the schema of the database behind `pool` up to date, once, whoever else is starting.
pub(super) async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(map_sqlx)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?;
    execute(&mut *tx, SCHEMA_TABLE).await?;
    let version: Option<i32> = sqlx::query_scalar("SELECT version FROM finch_schema WHERE id = 1")
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx)?;
    let version = version.unwrap_or(0);
    let known = i32::try_from(STEPS).unwrap_or(i32::MAX);
    if version > known {
        return Err(PostgresError::SchemaTooNew {
            found: version,
            known,
        }
        .into());
    }
    for step in version..known {
        apply(&mut tx, step).await?;
        tracing::info!(db.schema = step + 1, "applied postgres schema step");
    }
    sqlx::query(
        "INSERT INTO finch_schema (id, version) VALUES (1, $1) \
         ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version",
    )
    .bind(known)
    .execute(&mut *tx)
    .await
    .map_err(map_sqlx)?;
    ensure_trigram_index(&mut tx).await?;
    tx.commit().await.map_err(map_sqlx)
}

/// How many steps [`apply`] knows.
const STEPS: usize = 4;

/// Applies step `step` (from 0).
async fn apply(conn: &mut PgConnection, step: i32) -> Result<(), StoreError> {
    match step {
        0 => migrate_agents(conn).await,
        1 => execute(conn, CHANGE_VERSION).await,
        2 => execute(conn, SEARCH_TEXT).await,
        _ => execute(conn, NOTIFY_CHANGES).await,
    }
}

/// Step 0: create the table, or bring a 1.x table to the 14 columns (legacy rename and drops,
/// then the columns it lacks), as 1.x's own migration did.
async fn migrate_agents(conn: &mut PgConnection) -> Result<(), StoreError> {
    let existing = lowercase_names(conn, COLUMN_NAMES).await?;
    if existing.is_empty() {
        return execute(conn, CREATE_AGENTS).await;
    }
    let has = |name: &str| existing.iter().any(|c| c == name);
    if has("tags") && !has("labels") {
        execute(conn, "ALTER TABLE agents RENAME COLUMN tags TO labels").await?;
        tracing::info!(db.column = "tags", "renamed legacy column tags to labels");
    }
    drop_legacy_columns(conn, &existing).await?;
    let existing = lowercase_names(conn, COLUMN_NAMES).await?;
    let has = |name: &str| existing.iter().any(|c| c == name);
    if let Some(missing) = KEY_COLUMNS.into_iter().find(|c| !has(c)) {
        return Err(PostgresError::MissingKeyColumn(missing).into());
    }
    for (name, definition) in ADDABLE_COLUMNS {
        if !has(name) {
            execute(
                conn,
                &format!("ALTER TABLE agents ADD COLUMN {name} {definition}"),
            )
            .await?;
            tracing::info!(db.column = name, "added missing column to agents");
        }
    }
    Ok(())
}

/// Creates the trigram index on the search text when it is missing and `pg_trgm` can be had.
/// Tried in a savepoint: a database where the extension is not allowed keeps working, unindexed.
async fn ensure_trigram_index(conn: &mut PgConnection) -> Result<(), StoreError> {
    let present: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(TRIGRAM_INDEX)
        .fetch_one(&mut *conn)
        .await
        .map_err(map_sqlx)?;
    if present {
        return Ok(());
    }
    execute(conn, "SAVEPOINT finch_trigram").await?;
    let created = sqlx::raw_sql(&format!(
        "CREATE EXTENSION IF NOT EXISTS pg_trgm; \
         CREATE INDEX {TRIGRAM_INDEX} ON finch_agent_search USING gin (search gin_trgm_ops)"
    ))
    .execute(&mut *conn)
    .await;
    match created {
        Ok(_) => execute(conn, "RELEASE SAVEPOINT finch_trigram").await,
        Err(e) => {
            tracing::warn!(
                error = %e,
                "cannot create the pg_trgm index for dashboard searches; they will read every row \
                 (CREATE EXTENSION pg_trgm as a superuser to enable it)"
            );
            execute(conn, "ROLLBACK TO SAVEPOINT finch_trigram").await
        }
    }
}
