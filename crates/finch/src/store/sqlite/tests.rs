//! Store tests on real SQLite files in temporary directories.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sqlx::{Connection, Row, SqliteConnection};
use tempfile::TempDir;
use time::OffsetDateTime;
use time::macros::datetime;

use super::*;
use crate::agents::{LogSource, Node};
use crate::store::Store;

mod change_version;
mod migrations;

const SERVICE: &str = "test-id";

/// The directory's rows, collected, and the version they reflect.
async fn snapshot(store: &Store) -> (ChangeVersion, Vec<DirectoryRow>) {
    let mut rows = Vec::new();
    let version = store
        .directory_snapshot(|row| rows.push(row))
        .await
        .unwrap();
    (version, rows)
}

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

fn spec(hostname: &str) -> AgentSpec {
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

fn rid() -> AgentRid {
    AgentRid::mint(SERVICE)
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
async fn round_trip_insert_get_update_delete_list() {
    let db = TestDb::new();
    let store = db.open().await;
    let rid = rid();
    let before = OffsetDateTime::now_utc() - time::Duration::seconds(1);
    let (inserted, _) = store.insert_agent(&rid, &spec("web-1")).await.unwrap();
    assert_eq!(inserted.rid, rid);
    assert_eq!(inserted.hostname, "web-1");
    assert_eq!(
        inserted.log_sources,
        [LogSource::Journal, LogSource::Docker]
    );
    assert_eq!(inserted.labels, ["env=prod", "edge"]);
    assert!(inserted.created_at.is_some_and(|t| t > before));
    assert!(inserted.registered_at.is_some_and(|t| t > before));
    assert_eq!(inserted.last_seen, None);
    assert_eq!(store.get_agent(&rid).await.unwrap(), inserted);

    let changes = AgentChanges {
        log_sources: vec![LogSource::Docker],
        metrics: false,
        metrics_targets: Vec::new(),
        profiles: true,
        labels: Vec::new(),
    };
    let (updated, _) = store.update_agent(&rid, &changes).await.unwrap();
    assert_eq!(updated.log_sources, [LogSource::Docker]);
    assert!(!updated.metrics && updated.profiles);
    assert!(updated.metrics_targets.is_empty() && updated.labels.is_empty());
    assert_eq!(updated.hostname, "web-1");
    assert_eq!(updated.created_at, inserted.created_at);
    assert_eq!(store.get_agent(&rid).await.unwrap(), updated);

    let other = AgentRid::mint(SERVICE);
    let mut windows = spec("win-1");
    windows.node = Node::Windows;
    store.insert_agent(&other, &windows).await.unwrap();
    let listed = store.list_agents().await.unwrap();
    let rids: Vec<&AgentRid> = listed.iter().map(|a| &a.rid).collect();
    assert_eq!(rids, [&rid, &other], "registration order");
    assert_eq!(listed[1].node, Node::Windows);

    store.delete_agent(&rid).await.unwrap();
    assert!(matches!(
        store.get_agent(&rid).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.list_agents().await.unwrap().len(), 1);
    store.close().await;
}

#[tokio::test]
async fn file_and_event_sources_round_trip() {
    let store = Store::open("sqlite:///:memory:", Path::new("/nonexistent"))
        .await
        .unwrap();
    let mut windows = spec("win-1");
    windows.node = Node::Windows;
    windows.log_sources = vec![
        LogSource::Event("Microsoft-Windows-Sysmon/Operational".to_owned()),
        LogSource::File("C:/ProgramData/app/*.log".to_owned()),
    ];
    let mut unix = spec("web-1");
    unix.log_sources = vec![LogSource::File("/var/log/*.log".to_owned())];
    for spec in [windows, unix] {
        let rid = rid();
        let (inserted, _) = store.insert_agent(&rid, &spec).await.unwrap();
        assert_eq!(inserted.log_sources, spec.log_sources);
        assert_eq!(
            store.get_agent(&rid).await.unwrap().log_sources,
            spec.log_sources
        );
    }
}

#[tokio::test]
async fn duplicates_are_already_exists() {
    let store = Store::open("sqlite://:memory:", Path::new("/nonexistent"))
        .await
        .unwrap();
    let first = rid();
    store.insert_agent(&first, &spec("web-1")).await.unwrap();
    let version = store.change_version().await.unwrap();
    assert!(matches!(
        store.insert_agent(&rid(), &spec("web-1")).await,
        Err(StoreError::AlreadyExists)
    ));
    assert!(matches!(
        store.insert_agent(&first, &spec("web-2")).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(store.change_version().await.unwrap(), version);
    assert_eq!(store.list_agents().await.unwrap().len(), 1);
}

#[tokio::test]
async fn unknown_agents_are_not_found() {
    let db = TestDb::new();
    let store = db.open().await;
    store.insert_agent(&rid(), &spec("web-1")).await.unwrap();
    let unknown = rid();
    let changes = AgentChanges {
        log_sources: vec![LogSource::Journal],
        metrics: false,
        metrics_targets: Vec::new(),
        profiles: false,
        labels: Vec::new(),
    };
    assert!(matches!(
        store.get_agent(&unknown).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.update_agent(&unknown, &changes).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_agent(&unknown).await,
        Err(StoreError::NotFound)
    ));
    store.close().await;
}

#[tokio::test]
async fn summaries_list_ids_and_host_names_in_registration_order() {
    let db = TestDb::new();
    let store = db.open().await;
    let first = rid();
    let second = rid();
    store.insert_agent(&first, &spec("web-1")).await.unwrap();
    store.insert_agent(&second, &spec("db-1")).await.unwrap();
    let summaries = store.list_agent_summaries().await.unwrap();
    let listed: Vec<(&str, &str)> = summaries
        .iter()
        .map(|s| (s.rid.as_str(), s.hostname.as_str()))
        .collect();
    assert_eq!(
        listed,
        [(first.as_str(), "web-1"), (second.as_str(), "db-1")]
    );
    store.close().await;
}

#[tokio::test]
async fn unreadable_stored_log_source_is_corrupt() {
    let db = TestDb::new();
    let store = db.open().await;
    let rid = rid();
    store.insert_agent(&rid, &spec("web-1")).await.unwrap();
    db.sqlite3("UPDATE agents SET log_sources = '[\"gopher:\"]';")
        .await;
    match store.get_agent(&rid).await {
        Err(StoreError::Corrupt { rid: bad, reason }) => {
            assert_eq!(bad, rid.as_str());
            assert!(reason.contains("gopher:"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    store.close().await;
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
