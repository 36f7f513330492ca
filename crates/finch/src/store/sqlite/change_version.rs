//! Reading the change version: the one row of `finch_change_version`, which the triggers of
//! `schema.rs` bump on every change the directory cares about.
//!
//! Writes read it in their own transaction, so the version they return includes them; the page
//! reads compare it across connections to know their snapshots agree (`page/parts.rs`).

use sqlx::{Row as _, SqliteConnection};

use super::error::{SqliteError, map_sqlx};
use crate::store::error::StoreError;
use crate::store::records::ChangeVersion;

/// Reads the change version.
pub(super) async fn read_version(conn: &mut SqliteConnection) -> Result<ChangeVersion, StoreError> {
    let row = sqlx::query("SELECT version FROM finch_change_version WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await
        .map_err(map_sqlx)?
        .ok_or(SqliteError::MissingChangeVersion)?;
    row.try_get::<i64, _>(0)
        .map(ChangeVersion)
        .map_err(|e| StoreError::Database(Box::new(e)))
}
