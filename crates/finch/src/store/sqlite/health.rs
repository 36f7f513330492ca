//! The health check behind `/healthz`: the database answers and accepts writes.
//!
//! As in 1.x, the check pings and then runs a write probe (a transaction that takes the write
//! lock, changes nothing and rolls back), all within one second. A probe on a pooled connection
//! alone cannot see a file made read-only or deleted after it was opened: open descriptors keep
//! writing, and a process with `CAP_DAC_OVERRIDE` (root, as Finch runs in its container) may
//! write whatever the permission bits say. So, for a file, the check also reads the permission
//! bits (the operator's intent, and the only signal when running as root), then probes on a fresh
//! connection, which SQLite opens read-only when this process may not write the file and which
//! fails when the file is gone. Opening a connection per check is cheap next to the sidecar's
//! polling interval. The file is only ever `stat`ed, never opened outside SQLite: closing a
//! descriptor of a database file would drop the POSIX locks SQLite holds on it.

use std::path::PathBuf;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use sqlx::{Connection, SqliteConnection};

use super::error::{map_sqlx, open_error};
use crate::store::error::StoreError;

/// The budget of a health check, as 1.x's healthz.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(1);

/// The write probe: takes the write lock and changes nothing.
const WRITE_PROBE: &str = "UPDATE agents SET resource_id = resource_id WHERE 1 = 0";

/// A database file and the options every connection to it uses: what the check needs to open a
/// fresh connection.
#[derive(Clone, Debug)]
pub(super) struct FileDatabase {
    /// The database file.
    pub(super) path: PathBuf,
    /// How every connection opens it.
    pub(super) options: SqliteConnectOptions,
}

/// Why the database is not healthy, beyond what sqlx reports; boxed into
/// [`StoreError::Database`].
#[derive(Debug, thiserror::Error)]
enum HealthError {
    /// The file is gone while the store is open.
    #[error("sqlite database {} no longer exists: restore it and restart finch", path.display())]
    Missing {
        /// The database file.
        path: PathBuf,
    },
    /// The file's permission bits forbid writing.
    #[error("sqlite database {} is read-only: make it writable (chmod u+w)", path.display())]
    ReadOnly {
        /// The database file.
        path: PathBuf,
    },
    /// The check did not finish in time.
    #[error(
        "database health check took longer than {HEALTH_TIMEOUT:?}: the database is locked or slow"
    )]
    Timeout,
}

// === impl HealthError ===

impl From<HealthError> for StoreError {
    fn from(e: HealthError) -> Self {
        StoreError::Database(Box::new(e))
    }
}

/// Checks the database behind `pool` and, for a file, the file itself, within [`HEALTH_TIMEOUT`].
pub(super) async fn health_check(
    pool: &SqlitePool,
    file: Option<&FileDatabase>,
) -> Result<(), StoreError> {
    tokio::time::timeout(HEALTH_TIMEOUT, check_health(pool, file))
        .await
        .map_err(|_| HealthError::Timeout)?
}

/// The health check without its time limit.
async fn check_health(pool: &SqlitePool, file: Option<&FileDatabase>) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await.map_err(map_sqlx)?;
    conn.ping().await.map_err(map_sqlx)?;
    write_probe(&mut conn).await?;
    drop(conn);
    let Some(file) = file else {
        return Ok(());
    };
    let path = &file.path;
    match tokio::fs::metadata(path).await {
        Ok(meta) if meta.permissions().readonly() => {
            return Err(HealthError::ReadOnly { path: path.clone() }.into());
        }
        Ok(_) => {}
        Err(_) => return Err(HealthError::Missing { path: path.clone() }.into()),
    }
    let options = file.options.clone().create_if_missing(false);
    let mut fresh = SqliteConnection::connect_with(&options)
        .await
        .map_err(|source| open_error(path, source))?;
    let probed = write_probe(&mut fresh).await;
    // A failure to close cleanly says nothing about the database's health.
    let _ = fresh.close().await;
    probed
}

/// Starts a transaction, takes the write lock with a statement that changes nothing, and rolls
/// back: fails when the connection cannot write.
async fn write_probe(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    let mut tx = conn.begin().await.map_err(map_sqlx)?;
    sqlx::query(WRITE_PROBE)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?;
    tx.rollback().await.map_err(map_sqlx)
}
