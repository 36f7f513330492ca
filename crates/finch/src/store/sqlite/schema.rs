//! The `agents` schema and the legacy migrations of Finch 1.x databases.
//!
//! There is no schema-version table, as in 1.x: every open inspects the table and applies what is
//! missing, so a database may come from any 1.x release, go back to 1.x, and return. In order:
//!
//! 1. the 2025-12 rename of `tags` to `labels`;
//! 2. dropping the `password`, `password_hash` and `username` columns of the basic-auth era;
//! 3. creating the table with 1.x's 14 columns (the DDL GORM's AutoMigrate produced), or adding
//!    those an older table lacks, as AutoMigrate did, plus the unique index on `resource_id`;
//! 4. the change-version table and the triggers that bump it (see the `store` module's docs);
//! 5. the dashboard's search index (see [`search_index`]).
//!
//! Everything 2.x adds is `IF NOT EXISTS` and outside the `agents` columns, so 1.x, which ignores
//! unknown tables, triggers and indexes, keeps working on the same file. It is also plain SQL that
//! any SQLite since 3.9 evaluates (no JSON or FTS functions), because 1.x's own writes fire the
//! triggers and maintain the index. SQLite DDL is transactional, so the whole migration runs in
//! one `BEGIN IMMEDIATE` transaction: a failure leaves the file as it was, and two processes
//! opening the same file at once migrate one after the other.

use sqlx::{SqliteConnection, SqlitePool};

use super::error::map_sqlx;
use crate::store::backend::{drop_legacy_columns, execute, lowercase_names};
use crate::store::error::StoreError;

/// A column of 1.x's `agents` table.
struct Column {
    /// Column name.
    name: &'static str,
    /// Type and constraints in `CREATE TABLE`.
    definition: &'static str,
    /// Type and constraints for `ALTER TABLE ADD COLUMN`, which refuses `UNIQUE`, primary keys
    /// and non-constant defaults; `None` when the column cannot be added that way.
    added_as: Option<&'static str>,
    /// Fills the column after it was added, when its default could not do so.
    backfill: Option<&'static str>,
}

/// Why an `agents` table cannot be brought up to date.
#[derive(Debug, thiserror::Error)]
pub(super) enum SchemaError {
    /// The table lacks a key column that SQLite cannot add to an existing table.
    #[error(
        "table agents has no column {0} and cannot be migrated: restore the database from a backup or move it away to start empty"
    )]
    MissingKeyColumn(&'static str),
}

/// The 14 columns, in 1.x's order.
const COLUMNS: [Column; 14] = [
    column("id", "integer PRIMARY KEY AUTOINCREMENT", None),
    column("created_at", "datetime", Some("datetime")),
    column("updated_at", "datetime", Some("datetime")),
    column(
        "active",
        "numeric NOT NULL DEFAULT true",
        Some("numeric NOT NULL DEFAULT true"),
    ),
    column("hostname", "text NOT NULL UNIQUE", None),
    column(
        "last_seen",
        "datetime NULL DEFAULT NULL",
        Some("datetime NULL DEFAULT NULL"),
    ),
    column(
        "log_sources",
        "text NOT NULL DEFAULT '[]'",
        Some("text NOT NULL DEFAULT '[]'"),
    ),
    column(
        "metrics",
        "numeric NOT NULL DEFAULT false",
        Some("numeric NOT NULL DEFAULT false"),
    ),
    column(
        "metrics_targets",
        "text NOT NULL DEFAULT '[]'",
        Some("text NOT NULL DEFAULT '[]'"),
    ),
    column(
        "profiles",
        "numeric NOT NULL DEFAULT false",
        Some("numeric NOT NULL DEFAULT false"),
    ),
    Column {
        name: "registered_at",
        definition: "datetime NOT NULL DEFAULT CURRENT_TIMESTAMP",
        // SQLite refuses to add a column whose default is CURRENT_TIMESTAMP; add it nullable and
        // fill it from `created_at`, the closest thing an old row has.
        added_as: Some("datetime"),
        backfill: Some(
            "UPDATE agents SET registered_at = COALESCE(created_at, CURRENT_TIMESTAMP) \
             WHERE registered_at IS NULL",
        ),
    },
    column("resource_id", "text NOT NULL UNIQUE", None),
    column("labels", "text", Some("text")),
    column(
        "node",
        "text NOT NULL DEFAULT 'unix'",
        Some("text NOT NULL DEFAULT 'unix'"),
    ),
];

/// The column names of `agents`; none when the table does not exist.
const COLUMN_NAMES: &str = "SELECT name FROM pragma_table_info('agents')";

/// The index 1.x's GORM model declares on `resource_id` (redundant with `UNIQUE`, kept for 1.x).
const RESOURCE_ID_INDEX: &str =
    "CREATE UNIQUE INDEX IF NOT EXISTS uidx_agents_resource_id ON agents (resource_id)";

/// The change counter: one row, id 1.
const CHANGE_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS finch_change_version \
     (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)";

/// Seeds the counter's single row.
const CHANGE_VERSION_ROW: &str =
    "INSERT OR IGNORE INTO finch_change_version (id, version) VALUES (1, 0)";

/// Triggers that bump the counter on every change the directory cares about, whoever the writer.
/// `last_seen`, `updated_at` and `active` are left out on purpose: recording when agents were
/// seen must not make every replica reload the directory. A changed definition needs a new
/// trigger name, since `IF NOT EXISTS` keeps an old one.
const TRIGGERS: [&str; 3] = [
    "CREATE TRIGGER IF NOT EXISTS finch_agents_after_insert AFTER INSERT ON agents \
     BEGIN UPDATE finch_change_version SET version = version + 1; END",
    "CREATE TRIGGER IF NOT EXISTS finch_agents_after_delete AFTER DELETE ON agents \
     BEGIN UPDATE finch_change_version SET version = version + 1; END",
    "CREATE TRIGGER IF NOT EXISTS finch_agents_after_update AFTER UPDATE OF resource_id, \
     hostname, metrics, profiles, log_sources, metrics_targets, labels ON agents \
     BEGIN UPDATE finch_change_version SET version = version + 1; END",
];

/// Rows the dashboard shows: those with a resource id. Also the condition of the search index
/// ([`search_index`]): a query must contain this exact term for SQLite to use that index.
pub(super) const VISIBLE: &str = "COALESCE(CAST(resource_id AS TEXT), '') <> ''";

/// A row's search text: hostname, resource id and labels joined by `"`, so that a term no field
/// contains is missing from it too. It exists only where that holds, which takes two things.
/// No field holds a NUL, where `LIKE` stops reading. And the labels are `NULL`, `''`, `'[]'` or
/// *plain*: text that starts with `["` and ends with `"]`, with no `\`, no control character, and
/// no `"` or `,` left once the `","` between entries are removed (as Finch writes labels without
/// quotes or commas). Plain labels are valid JSON whose entries stand verbatim between `["`,
/// `","` and `"]`. Other labels (escapes such as `\u00e9`, spaces, numbers, blobs, which SQLite's
/// JSON functions read differently from their text, a hand edit) make it `NULL`: such rows are
/// searched by decoding the JSON.
pub(super) const SEARCH_TEXT: &str = "(CASE \
     WHEN instr(hostname || resource_id || COALESCE(labels, ''), char(0)) = 0 \
     AND (labels IS NULL OR labels IN ('', '[]') \
     OR (typeof(labels) = 'text' AND labels GLOB '[[]\"*\"]' \
     AND instr(labels, '\\') = 0 \
     AND NOT labels GLOB ('*[' || char(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, \
     18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31) || ']*') \
     AND NOT replace(substr(labels, 3, length(labels) - 4), '\",\"', '') GLOB '*[\",]*')) \
     THEN hostname || '\"' || resource_id || '\"' || COALESCE(labels, '') END)";

/// The dashboard's search index: the visible rows in id order with their [`SEARCH_TEXT`]. A
/// search reads every row (`LIKE '%term%'` cannot seek), and this is the narrowest thing to read:
/// about half the bytes of the table, one `LIKE` per row and no JSON decoding. Counting visible
/// rows reads it too. A changed definition needs a new name, since `IF NOT EXISTS` keeps an old
/// one. Without it (dropped by hand) searches give the same answers, only slower, until the next
/// start recreates it.
fn search_index() -> String {
    format!(
        "CREATE INDEX IF NOT EXISTS finch_agents_search ON agents (id, {SEARCH_TEXT}) \
         WHERE {VISIBLE}"
    )
}

/// Brings the schema of the database behind `pool` up to date.
pub(super) async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(map_sqlx)?;
    migrate_agents(&mut tx).await?;
    execute(&mut *tx, RESOURCE_ID_INDEX).await?;
    execute(&mut *tx, CHANGE_VERSION_TABLE).await?;
    execute(&mut *tx, CHANGE_VERSION_ROW).await?;
    for trigger in TRIGGERS {
        execute(&mut *tx, trigger).await?;
    }
    execute(&mut *tx, &search_index()).await?;
    tx.commit().await.map_err(map_sqlx)
}

/// Steps 1 to 3: legacy renames and drops, then create or complete the table.
async fn migrate_agents(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    let existing = lowercase_names(conn, COLUMN_NAMES).await?;
    if existing.is_empty() {
        return execute(conn, &create_table()).await;
    }
    let has = |name: &str| existing.iter().any(|c| c == name);
    if has("tags") {
        if has("labels") {
            tracing::warn!(
                "table agents has both tags and labels columns; leaving the legacy tags column alone"
            );
        } else {
            execute(conn, "ALTER TABLE agents RENAME COLUMN tags TO labels").await?;
            tracing::info!(db.column = "tags", "renamed legacy column tags to labels");
        }
    }
    drop_legacy_columns(conn, &existing).await?;
    let existing = lowercase_names(conn, COLUMN_NAMES).await?;
    for column in COLUMNS
        .iter()
        .filter(|c| !existing.iter().any(|e| e == c.name))
    {
        let added_as = column.added_as.ok_or(StoreError::Database(Box::new(
            SchemaError::MissingKeyColumn(column.name),
        )))?;
        execute(
            conn,
            &format!("ALTER TABLE agents ADD COLUMN {} {added_as}", column.name),
        )
        .await?;
        if let Some(backfill) = column.backfill {
            execute(conn, backfill).await?;
        }
        tracing::info!(db.column = column.name, "added missing column to agents");
    }
    Ok(())
}

/// The `CREATE TABLE` statement for a new database.
fn create_table() -> String {
    let columns: Vec<String> = COLUMNS
        .iter()
        .map(|c| format!("`{}` {}", c.name, c.definition))
        .collect();
    format!(
        "CREATE TABLE IF NOT EXISTS `agents` ({})",
        columns.join(",")
    )
}

/// A column that `ADD COLUMN` can add as defined, or not at all.
const fn column(
    name: &'static str,
    definition: &'static str,
    added_as: Option<&'static str>,
) -> Column {
    Column {
        name,
        definition,
        added_as,
        backfill: None,
    }
}

/// The names of the 14 columns, for tests.
#[cfg(test)]
pub(super) fn column_list() -> Vec<&'static str> {
    COLUMNS.iter().map(|c| c.name).collect()
}
