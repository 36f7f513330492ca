//! `finch backup`: a consistent copy of the agent registry, taken while Finch runs, for
//! `finchctl service backup` (which runs it inside the stack's `finch` container).
//!
//! Copying the database file itself is never safe while Finch writes it: the registry runs in
//! WAL mode, so recent writes may sit in `finch.db-wal`, and a file copied mid-write is torn.
//! A SQLite registry is copied with `VACUUM INTO`, which writes a compact database from one
//! read transaction: a snapshot of one instant, including what the WAL holds. A PostgreSQL
//! registry is exported into a new SQLite file with the same copy as `finch migrate` (one
//! `SELECT` is one snapshot, and the copy is read back and compared), so the archive holds one
//! format whatever the backend, and a restore needs no `pg_dump` of the server's exact version.
//! `--sqlite FILE` copies another SQLite database the same way (Grafana's, which the `finch`
//! container sees in the library). Every copy then passes `PRAGMA integrity_check`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _, SqliteConnection};

use crate::cli::BackupArgs;
use crate::config::{FinchConfig, redact_uri};
use crate::store::{DatabaseTarget, Store};

/// How long the copy waits for a writer's lock: Finch's own writes are short, and Grafana's
/// too; longer means something holds the database and the operator should look.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// What a backup wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    /// The agents in the copy (none for `--sqlite`).
    pub agents: Option<u64>,
}

/// Writes the copy `args` asks for and checks it.
pub async fn backup(args: &BackupArgs) -> anyhow::Result<Copied> {
    let to = absolute(&args.to)?;
    if to.exists() {
        bail!("--to {} exists: give a path for a new file", to.display());
    }
    if let Some(file) = &args.sqlite {
        vacuum_into(&absolute(file)?, &to).await?;
        check(&to).await?;
        return Ok(Copied { agents: None });
    }
    let config = FinchConfig::load(&absolute(&args.config)?)
        .with_context(|| format!("cannot read --config {}", args.config.display()))?;
    let database = redact_uri(&config.database);
    match DatabaseTarget::parse(&config.database, &config.library_dir)
        .with_context(|| format!("database {database} in {}", args.config.display()))?
    {
        DatabaseTarget::SqliteFile(path) => vacuum_into(&path, &to).await?,
        DatabaseTarget::SqliteMemory => {
            bail!("the registry is an in-memory database ({database}): there is nothing to copy")
        }
        DatabaseTarget::Postgres(_) => export(&config, &to).await?,
    }
    check(&to).await?;
    Ok(Copied {
        agents: Some(count_agents(&to).await?),
    })
}

/// `path` made absolute against the current directory.
fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))
}

/// A connection to an existing SQLite file, read-only: the copy never changes the source,
/// and never creates files beside it that its owner (Grafana's user) could not write.
async fn open_read_only(path: &Path) -> anyhow::Result<SqliteConnection> {
    SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .create_if_missing(false)
        .busy_timeout(BUSY_TIMEOUT)
        // A container without /tmp: SQLite keeps its temporary tables in memory.
        .pragma("temp_store", "memory")
        .connect()
        .await
        .with_context(|| format!("cannot open {}", path.display()))
}

/// Copies `from` into the new file `to` with `VACUUM INTO`.
async fn vacuum_into(from: &Path, to: &Path) -> anyhow::Result<()> {
    let mut conn = open_read_only(from).await?;
    let target = to
        .to_str()
        .with_context(|| format!("{} is not valid UTF-8", to.display()))?;
    let copied = sqlx::query("VACUUM INTO ?1")
        .bind(target)
        .execute(&mut conn)
        .await
        .with_context(|| format!("cannot copy {} into {}", from.display(), to.display()));
    let _ = conn.close().await;
    copied.map(|_| ())
}

/// Exports a PostgreSQL registry into the new SQLite file `to`.
async fn export(config: &FinchConfig, to: &Path) -> anyhow::Result<()> {
    let source = Store::open(&config.database, &config.library_dir)
        .await
        .with_context(|| format!("cannot open the registry {}", redact_uri(&config.database)))?;
    let uri = format!("sqlite://{}", to.display());
    let target = match Store::open(&uri, &config.library_dir).await {
        Ok(target) => target,
        Err(error) => {
            source.close().await;
            return Err(error).with_context(|| format!("cannot create {}", to.display()));
        }
    };
    let copied = crate::migrate::copy(&source, &target, false).await;
    source.close().await;
    target.close().await;
    copied.map(|_| ())
}

/// `PRAGMA integrity_check` on the copy: `ok`, or the first problems it names.
async fn check(path: &Path) -> anyhow::Result<()> {
    let mut conn = open_read_only(path).await?;
    let rows: Vec<(String,)> = sqlx::query_as("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .with_context(|| format!("cannot check {}", path.display()))?;
    let _ = conn.close().await;
    match rows.as_slice() {
        [(ok,)] if ok == "ok" => Ok(()),
        problems => {
            let first: Vec<&str> = problems.iter().take(3).map(|(p,)| p.as_str()).collect();
            bail!(
                "the copy {} fails its integrity check: {}",
                path.display(),
                first.join("; ")
            )
        }
    }
}

/// The number of agents in a copied registry.
async fn count_agents(path: &Path) -> anyhow::Result<u64> {
    let mut conn = open_read_only(path).await?;
    let count: Result<(i64,), _> = sqlx::query_as("SELECT count(*) FROM agents")
        .fetch_one(&mut conn)
        .await;
    let _ = conn.close().await;
    let (count,) =
        count.with_context(|| format!("cannot count the agents in {}", path.display()))?;
    Ok(u64::try_from(count).unwrap_or_default())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::agents::{AgentRid, journal_only};

    /// A library with a SQLite registry of `hostnames`, Finch still holding it open.
    async fn library(dir: &Path, hostnames: &[&str]) -> Store {
        let json = r#"{"created_at":"2026-01-01T00:00:00Z","database":"sqlite://finch.db","hostname":"h","id":"0123456789abcdef","secret":"s"}"#;
        std::fs::write(dir.join("finch.json"), json).unwrap();
        let store = Store::open("sqlite://finch.db", dir).await.unwrap();
        for hostname in hostnames {
            let rid = AgentRid::mint("0123456789abcdef");
            store
                .insert_agent(&rid, &journal_only(hostname))
                .await
                .unwrap();
        }
        store
    }

    fn args(dir: &Path, sqlite: Option<PathBuf>, to: &str) -> BackupArgs {
        BackupArgs {
            config: dir.join("finch.json"),
            sqlite,
            to: dir.join(to),
        }
    }

    #[tokio::test]
    async fn copies_a_live_registry_with_what_its_wal_holds() {
        let dir = tempfile::tempdir().unwrap();
        let live = library(dir.path(), &["web-1", "web-2", "web-3"]).await;
        // Finch is still running: the writes may sit in finch.db-wal only.
        let copied = backup(&args(dir.path(), None, "copy.db")).await.unwrap();
        assert_eq!(copied.agents, Some(3));
        let copy = Store::open("sqlite://copy.db", dir.path()).await.unwrap();
        assert_eq!(
            copy.list_agents().await.unwrap(),
            live.list_agents().await.unwrap()
        );
        copy.close().await;
        live.close().await;
    }

    #[tokio::test]
    async fn exports_a_postgresql_registry_into_sqlite() {
        let Some(db) = finch_testkit::postgres::database().await else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let json = format!(
            r#"{{"created_at":"2026-01-01T00:00:00Z","database":"{}","hostname":"h","id":"0123456789abcdef","secret":"s"}}"#,
            db.uri
        );
        std::fs::write(dir.path().join("finch.json"), json).unwrap();
        let live = Store::open(&db.uri, dir.path()).await.unwrap();
        for hostname in ["pg-1", "pg-2"] {
            let rid = AgentRid::mint("0123456789abcdef");
            live.insert_agent(&rid, &journal_only(hostname))
                .await
                .unwrap();
        }
        let copied = backup(&args(dir.path(), None, "copy.db")).await.unwrap();
        assert_eq!(copied.agents, Some(2));
        let copy = Store::open("sqlite://copy.db", dir.path()).await.unwrap();
        assert_eq!(copy.list_agents().await.unwrap().len(), 2);
        copy.close().await;
        live.close().await;
    }

    #[tokio::test]
    async fn copies_another_sqlite_file_and_refuses_an_existing_target() {
        let dir = tempfile::tempdir().unwrap();
        library(dir.path(), &["web-1"]).await.close().await;
        let other = dir.path().join("finch.db");
        let copied = backup(&args(dir.path(), Some(other.clone()), "grafana.db"))
            .await
            .unwrap();
        assert_eq!(copied.agents, None);
        let refused = backup(&args(dir.path(), Some(other), "grafana.db"))
            .await
            .unwrap_err();
        assert!(format!("{refused:#}").contains("exists"), "{refused:#}");
    }

    #[tokio::test]
    async fn a_file_that_is_not_a_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, vec![7u8; 8192]).unwrap();
        let refused = backup(&args(dir.path(), Some(junk), "copy.db"))
            .await
            .unwrap_err();
        assert!(format!("{refused:#}").contains("junk.db"), "{refused:#}");
    }
}
