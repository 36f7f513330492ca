//! The store's one test suite, run on both backends: each test is an `async fn(TestDb)`, and
//! [`on_both_backends!`] makes a `sqlite` and a `postgres` test of it. SQLite runs on a file in a
//! temporary directory, PostgreSQL on a throw-away server (the test kit's `postgres`). What only one backend has
//! (SQLite's legacy migrations, file health, `sqlite3`; PostgreSQL's advisory lock) is tested
//! beside that backend.

use std::path::PathBuf;

use sqlx::Connection as _;
use tempfile::TempDir;

use finch_testkit::postgres as pg;

use crate::agents::{AgentRid, AgentSpec, LogSource, Node};
use crate::store::{DirectoryRow, Store};

mod change_version;
mod crud;
pub(in crate::store) mod pages;
mod postgres;

/// A database for one test, on one backend.
pub(super) enum TestDb {
    /// A SQLite file in a temporary directory.
    Sqlite(TempDir),
    /// A database on a throw-away PostgreSQL server.
    Postgres(pg::PgDatabase),
}

/// Makes a `sqlite::<name>` and a `postgres::<name>` test of each `async fn <name>(TestDb)`.
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(crate::store::tests::TestDb::sqlite()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    if let Some(db) = crate::store::tests::TestDb::postgres().await {
                        super::$test(db).await;
                    }
                }
            )*
        }
    };
}
pub(super) use on_both_backends;

// === impl TestDb ===

impl TestDb {
    pub(super) fn sqlite() -> TestDb {
        TestDb::Sqlite(tempfile::tempdir().unwrap())
    }

    /// `None` when PostgreSQL is not installed (and `CI` is unset): the test is skipped.
    pub(super) async fn postgres() -> Option<TestDb> {
        pg::database().await.map(TestDb::Postgres)
    }

    /// The database URI, as `finch.json` would hold it.
    pub(super) fn uri(&self) -> String {
        match self {
            TestDb::Sqlite(_) => "sqlite://finch.db".to_owned(),
            TestDb::Postgres(db) => db.uri.clone(),
        }
    }

    /// Opens the store (another one each call, as a second replica would).
    pub(super) async fn open(&self) -> Store {
        match Store::open(&self.uri(), &self.library()).await {
            Ok(store) => store,
            Err(e) => panic!("cannot open {}: {e:?}\n{}", self.uri(), self.server_log()),
        }
    }

    /// Runs SQL on a connection of its own, as a writer outside Finch (an operator's `sqlite3`
    /// or `psql`).
    pub(super) async fn execute(&self, sql: &str) {
        match self {
            TestDb::Sqlite(dir) => {
                let options =
                    sqlx::sqlite::SqliteConnectOptions::new().filename(dir.path().join("finch.db"));
                let mut conn = sqlx::SqliteConnection::connect_with(&options)
                    .await
                    .unwrap();
                sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
                conn.close().await.unwrap();
            }
            TestDb::Postgres(db) => {
                let mut conn = sqlx::PgConnection::connect(&db.uri).await.unwrap();
                sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
                conn.close().await.unwrap();
            }
        }
    }

    fn library(&self) -> PathBuf {
        match self {
            TestDb::Sqlite(dir) => dir.path().to_owned(),
            TestDb::Postgres(_) => PathBuf::from("/nonexistent"),
        }
    }

    fn server_log(&self) -> String {
        match self {
            TestDb::Sqlite(_) => String::new(),
            TestDb::Postgres(db) => db.log(),
        }
    }
}

/// An agent with every field set.
pub(super) fn spec(hostname: &str) -> AgentSpec {
    AgentSpec {
        hostname: hostname.to_owned(),
        node: Node::Unix,
        log_sources: vec![LogSource::Journal, LogSource::Docker],
        metrics: true,
        metrics_targets: vec!["http://localhost:9100/metrics".to_owned()],
        profiles: false,
        labels: vec!["env=prod".to_owned(), "edge".to_owned()],
    }
}

/// A fresh resource id.
pub(super) fn rid() -> AgentRid {
    AgentRid::mint("test-id")
}

/// The directory's rows, collected, and the version they reflect.
pub(super) async fn snapshot(store: &Store) -> (crate::store::ChangeVersion, Vec<DirectoryRow>) {
    let mut rows = Vec::new();
    let version = store
        .directory_snapshot(|row| rows.push(row))
        .await
        .unwrap();
    (version, rows)
}
