//! [`StoreError`]: what the Store API fails with, whichever database is behind it.
//!
//! Each backend narrows its driver's errors to this type at its own boundary (SQLite's in
//! `sqlite/error.rs`, PostgreSQL's in `postgres/error.rs`), so callers branch on a variant and
//! nothing above the store sees sqlx.

use super::uri::UriError;
use crate::agents::AgentRid;

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
    /// The database cannot be reached: the connection was refused or lost, the server is
    /// shutting down or is a read-only standby, or no pooled connection came free in time. A
    /// later call may succeed once the database is back, so callers answer "try again"
    /// (gRPC `Unavailable`) rather than "internal error".
    #[error("database unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Refuses an empty resource id with [`StoreError::NotFound`]. [`AgentRid`] cannot be empty, but
/// rows written by hand can have `''`, and 1.x's lookups matched the first agent for an empty id:
/// every backend keeps that impossible even if the type's rule ever loosens.
pub(in crate::store) fn refuse_empty(rid: &AgentRid) -> Result<(), StoreError> {
    if rid.as_str().is_empty() {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}
