//! The SQLite backend's error boundary: sqlx's errors, and SQLite failures of its own, narrowed
//! to [`StoreError`] here, so nothing above the backend sees sqlx.

use std::path::{Path, PathBuf};

use sqlx::Sqlite;
use sqlx::sqlite::SqliteQueryResult;
use time::OffsetDateTime;

use super::timestamp;
use crate::store::backend::Backend;
use crate::store::error::StoreError;

/// SQLite failures that carry more than sqlx's own error; boxed into [`StoreError::Database`].
#[derive(Debug, thiserror::Error)]
pub(super) enum SqliteError {
    /// The file cannot be opened or created.
    #[error("cannot open sqlite database {}: check the path and its permissions", path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: sqlx::Error,
    },
}

// === impl SqliteError ===

impl From<SqliteError> for StoreError {
    fn from(e: SqliteError) -> Self {
        StoreError::Database(Box::new(e))
    }
}

// === impl Backend for Sqlite ===

/// Timestamps are text, in the format 1.x wrote (`timestamp.rs`).
impl Backend for Sqlite {
    type TimeColumn = Option<String>;

    fn time_column(at: Option<OffsetDateTime>) -> Result<Self::TimeColumn, StoreError> {
        at.map(timestamp::format)
            .transpose()
            .map_err(|e| StoreError::Database(Box::new(e)))
    }

    fn map_sqlx(e: sqlx::Error) -> StoreError {
        map_sqlx(e)
    }

    fn rows_affected(done: &SqliteQueryResult) -> u64 {
        done.rows_affected()
    }
}

/// Maps a sqlx error: a missing row is [`StoreError::NotFound`], a unique constraint (hostname or
/// resource id) [`StoreError::AlreadyExists`], anything else [`StoreError::Database`].
pub(super) fn map_sqlx(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::AlreadyExists,
        _ => StoreError::Database(Box::new(e)),
    }
}

/// The file at `path` cannot be opened: names the file, which SQLite's own message does not.
pub(super) fn open_error(path: &Path, source: sqlx::Error) -> StoreError {
    SqliteError::Open {
        path: path.to_owned(),
        source,
    }
    .into()
}
