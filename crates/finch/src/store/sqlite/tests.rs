//! Store tests on real SQLite files in temporary directories.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sqlx::{Connection, Row, SqliteConnection};
use tempfile::TempDir;
use time::macros::datetime;

use super::*;
use crate::agents::{LogSource, Node};
use crate::store::Store;
use crate::store::tests::{rid, snapshot, spec};

mod change_version;
mod migrations;

struct TestDb {
    // Held so the directory outlives the store.
    _dir: TempDir,
    path: PathBuf,
}

impl TestDb {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("finch.db");
        TestDb { _dir: dir, path }
    }

    fn library(&self) -> &Path {
        self.path.parent().unwrap()
    }

    async fn open(&self) -> Store {
        Store::open("sqlite://finch.db", self.library())
            .await
            .unwrap()
    }

    /// A plain connection, outside the store, for raw SQL.
    async fn raw(&self) -> SqliteConnection {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&self.path)
            .create_if_missing(true);
        SqliteConnection::connect_with(&options).await.unwrap()
    }

    /// Runs `sql` (possibly several statements) on a plain connection of its own, outside the
    /// store: a database as another program left it.
    async fn write_raw(&self, sql: &str) {
        let mut raw = self.raw().await;
        sqlx::raw_sql(sql).execute(&mut raw).await.unwrap();
        raw.close().await.unwrap();
    }

    /// Runs SQL through the `sqlite3` CLI, a writer in another process.
    async fn sqlite3(&self, sql: &str) {
        let out = tokio::process::Command::new("/usr/bin/sqlite3")
            .args(["-cmd", ".timeout 5000"])
            .arg(&self.path)
            .arg(sql)
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    async fn column_names(&self) -> Vec<String> {
        let mut conn = self.raw().await;
        let mut names: Vec<String> =
            sqlx::query_scalar("SELECT name FROM pragma_table_info('agents')")
                .fetch_all(&mut conn)
                .await
                .unwrap();
        names.sort();
        names
    }
}

fn expected_columns() -> Vec<String> {
    let mut names: Vec<String> = schema::column_list()
        .iter()
        .map(|c| c.to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn memory_database_is_one_shared_database() {
    let store = Store::open("sqlite:///:memory:", Path::new("/nonexistent"))
        .await
        .unwrap();
    let rid = rid();
    store.insert_agent(&rid, &spec("web-1")).await.unwrap();
    let mut readers = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (store, rid) = (store.clone(), rid.clone());
        readers.spawn(async move { store.get_agent(&rid).await.map(|a| a.hostname) });
    }
    while let Some(found) = readers.join_next().await {
        assert_eq!(found.unwrap().unwrap(), "web-1");
    }
    store.health_check().await.unwrap();
    store.close().await;
}

#[tokio::test]
async fn health_check_fails_when_read_only_or_gone() {
    let db = TestDb::new();
    let store = db.open().await;
    store.health_check().await.unwrap();

    std::fs::set_permissions(&db.path, std::fs::Permissions::from_mode(0o444)).unwrap();
    let err = store.health_check().await.unwrap_err();
    assert!(err.to_string().contains("database error"), "{err}");
    assert!(
        std::error::Error::source(&err)
            .unwrap()
            .to_string()
            .contains("read-only"),
        "{err:?}"
    );

    std::fs::set_permissions(&db.path, std::fs::Permissions::from_mode(0o644)).unwrap();
    store.health_check().await.unwrap();

    std::fs::remove_file(&db.path).unwrap();
    assert!(store.health_check().await.is_err());
    store.close().await;
}
