//! The PostgreSQL backend's error boundary: sqlx's errors narrowed to [`StoreError`] here, so
//! nothing above the backend sees sqlx.
//!
//! A database that cannot be reached is [`StoreError::Unavailable`], not a failure of Finch: the
//! pool could not connect or hand out a connection in time, the connection broke, or the server
//! said it is shutting down, starting, full or a read-only standby (a failover in progress).
//! Those are the SQLSTATEs of [`UNAVAILABLE_STATES`] and [`UNAVAILABLE_CLASSES`].

use sqlx::Postgres;
use sqlx::postgres::PgQueryResult;
use time::OffsetDateTime;

use crate::store::backend::Backend;
use crate::store::error::StoreError;

/// SQLSTATE classes that mean the server cannot be used now: `08`, connection exceptions.
const UNAVAILABLE_CLASSES: [&str; 1] = ["08"];

/// Single SQLSTATEs that mean the same: too many connections, administrator or crash shutdown,
/// cannot connect now (starting up or recovering), and a write on a read-only standby.
const UNAVAILABLE_STATES: [&str; 5] = ["53300", "57P01", "57P02", "57P03", "25006"];

/// PostgreSQL failures that carry more than sqlx's own error; boxed into [`StoreError::Database`].
#[derive(Debug, thiserror::Error)]
pub(super) enum PostgresError {
    /// The `agents` table lacks a column Finch cannot add to a table holding rows.
    #[error(
        "table agents has no column {0} and cannot be migrated: restore the database from a backup or move the table away to start empty"
    )]
    MissingKeyColumn(&'static str),
    /// The database's schema is newer than this build knows.
    #[error(
        "the database schema is version {found}, newer than the {known} this finch knows: upgrade finch"
    )]
    SchemaTooNew {
        /// The version recorded in the database.
        found: i32,
        /// The newest version this build applies.
        known: i32,
    },
    /// The health check did not finish in time.
    #[error("database health check took longer than {0:?}: the database is overloaded or slow")]
    HealthTimeout(std::time::Duration),
}

// === impl PostgresError ===

impl From<PostgresError> for StoreError {
    fn from(e: PostgresError) -> Self {
        StoreError::Database(Box::new(e))
    }
}

// === impl Backend for Postgres ===

impl Backend for Postgres {
    type TimeColumn = Option<OffsetDateTime>;

    fn time_column(at: Option<OffsetDateTime>) -> Result<Self::TimeColumn, StoreError> {
        Ok(at)
    }

    fn map_sqlx(e: sqlx::Error) -> StoreError {
        map_sqlx(e)
    }

    fn rows_affected(done: &PgQueryResult) -> u64 {
        done.rows_affected()
    }
}

/// Maps a sqlx error: a missing row is [`StoreError::NotFound`], a unique violation (hostname or
/// resource id) [`StoreError::AlreadyExists`], an unreachable database
/// [`StoreError::Unavailable`], anything else [`StoreError::Database`].
pub(super) fn map_sqlx(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::AlreadyExists,
        sqlx::Error::Database(db) if db.code().is_some_and(|code| is_unavailable(&code)) => {
            StoreError::Unavailable(Box::new(e))
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(Box::new(e)),
        _ => StoreError::Database(Box::new(e)),
    }
}

/// Whether a SQLSTATE says the server cannot be used now.
fn is_unavailable(code: &str) -> bool {
    UNAVAILABLE_STATES.contains(&code)
        || UNAVAILABLE_CLASSES
            .iter()
            .any(|class| code.starts_with(class))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_states_are_unavailable_and_others_are_not() {
        for code in ["08006", "08001", "57P01", "57P03", "53300", "25006"] {
            assert!(is_unavailable(code), "{code}");
        }
        for code in ["23505", "42P01", "40P01", "22P02"] {
            assert!(!is_unavailable(code), "{code}");
        }
    }

    #[test]
    fn pool_and_socket_failures_are_unavailable() {
        assert!(matches!(
            map_sqlx(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(matches!(
            map_sqlx(sqlx::Error::Io(refused)),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            map_sqlx(sqlx::Error::RowNotFound),
            StoreError::NotFound
        ));
    }
}
