//! [`StoreError`]: what the Store API fails with, whichever database is behind it.
//!
//! Each backend narrows its driver's errors to this type at its own boundary (SQLite's in
//! `sqlite/error.rs`), so callers branch on a variant and nothing above the store sees sqlx.

use super::uri::UriError;

/// What the store can fail with. Callers branch on the variant; the database's own error text
/// stays inside [`StoreError::Database`] and is logged, never shown to clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No agent has that resource id (an empty id included).
    #[error("agent not found")]
    NotFound,
    /// An agent with that hostname (or resource id) already exists.
    #[error("agent already exists")]
    AlreadyExists,
    /// The database URI cannot be used.
    #[error(transparent)]
    Uri(#[from] UriError),
    /// A stored row cannot be read back.
    #[error("stored agent {rid:?} is not readable: {reason}")]
    Corrupt {
        /// The row's resource id.
        rid: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
}
