//! Store tests on real SQLite files in temporary directories.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sqlx::{Connection, Row, SqliteConnection};
use tempfile::TempDir;
use time::OffsetDateTime;
use time::macros::datetime;

use super::*;
use crate::agents::{LogSource, Node};

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
async fn change_version_counts_writes_but_not_last_seen() {
    let db = TestDb::new();
    let store = db.open().await;
    let v0 = store.change_version().await.unwrap();
    let rid = rid();
    let (_, v1) = store.insert_agent(&rid, &spec("web-1")).await.unwrap();
    assert_eq!(v1.0, v0.0 + 1);
    let changes = AgentChanges {
        log_sources: vec![LogSource::Journal],
        metrics: true,
        metrics_targets: Vec::new(),
        profiles: true,
        labels: vec!["a".to_owned()],
    };
    let (_, v2) = store.update_agent(&rid, &changes).await.unwrap();
    assert_eq!(v2.0, v1.0 + 1);
    assert_eq!(store.change_version().await.unwrap(), v2);

    let seen_at = datetime!(2026-03-01 12:00:00.123456789 UTC);
    store
        .record_last_seen(&[(rid.clone(), seen_at)])
        .await
        .unwrap();
    assert_eq!(store.change_version().await.unwrap(), v2);
    assert_eq!(
        store.get_agent(&rid).await.unwrap().last_seen,
        Some(seen_at)
    );
    store.record_last_seen(&[]).await.unwrap();

    let v3 = store.delete_agent(&rid).await.unwrap();
    assert_eq!(v3.0, v2.0 + 1);
    assert_eq!(snapshot(&store).await.0, v3);
    store.close().await;
}

#[tokio::test]
async fn last_seen_marks_for_many_agents_and_seconds_land_on_the_right_rows() {
    let db = TestDb::new();
    let store = db.open().await;
    let mut marks = Vec::new();
    // Many agents, spread over two seconds, plus an unknown id.
    for i in 0..1_100 {
        let rid = rid();
        store
            .insert_agent(&rid, &spec(&format!("host-{i}")))
            .await
            .unwrap();
        let at = datetime!(2026-03-01 12:00:00 UTC) + time::Duration::seconds(i % 2);
        marks.push((rid, at));
    }
    // An id written by hand, with the characters JSON escapes.
    let odd = AgentRid::parse(r#"agent "odd" \ one"#).unwrap();
    store.insert_agent(&odd, &spec("odd")).await.unwrap();
    marks.push((odd, datetime!(2026-03-01 12:00:01 UTC)));
    marks.push((rid(), datetime!(2026-03-01 12:00:00 UTC)));
    // In parts, as the liveness writer hands over a large batch.
    store
        .record_last_seen_in_parts(marks.chunks(300))
        .await
        .unwrap();
    for (rid, at) in &marks[..1_101] {
        assert_eq!(store.get_agent(rid).await.unwrap().last_seen, Some(*at));
    }
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
async fn foreign_delete_by_sqlite3_bumps_the_version() {
    let db = TestDb::new();
    let store = db.open().await;
    let (_, v1) = store.insert_agent(&rid(), &spec("web-1")).await.unwrap();
    db.sqlite3("DELETE FROM agents WHERE hostname = 'web-1';")
        .await;
    assert_eq!(store.change_version().await.unwrap().0, v1.0 + 1);
    assert!(store.list_agents().await.unwrap().is_empty());
    // The operator's insert of a row without a resource id counts, but stays out of the
    // directory.
    db.sqlite3("INSERT INTO agents (hostname, resource_id) VALUES ('manual', '');")
        .await;
    let (version, rows) = snapshot(&store).await;
    assert_eq!(version.0, v1.0 + 2);
    assert!(rows.is_empty());
    store.close().await;
}

#[tokio::test]
async fn directory_snapshot_reads_rows_and_version_together() {
    let db = TestDb::new();
    let store = db.open().await;
    let web = rid();
    store.insert_agent(&web, &spec("web-1")).await.unwrap();
    let mut quiet = spec("db-1");
    quiet.metrics = false;
    quiet.profiles = true;
    let db_rid = rid();
    let (_, version) = store.insert_agent(&db_rid, &quiet).await.unwrap();
    let (read, rows) = snapshot(&store).await;
    assert_eq!(read, version);
    assert_eq!(
        rows,
        [
            DirectoryRow {
                rid: web,
                metrics: true,
                profiles: false,
            },
            DirectoryRow {
                rid: db_rid,
                metrics: false,
                profiles: true,
            },
        ]
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
async fn concurrent_inserts_on_a_file_all_land() {
    let db = TestDb::new();
    let store = db.open().await;
    let v0 = store.change_version().await.unwrap();
    let mut writers = tokio::task::JoinSet::new();
    for i in 0..16 {
        let store = store.clone();
        writers.spawn(async move {
            store
                .insert_agent(&rid(), &spec(&format!("host-{i}")))
                .await
        });
    }
    let mut versions = Vec::new();
    while let Some(done) = writers.join_next().await {
        versions.push(done.unwrap().unwrap().1.0);
    }
    versions.sort_unstable();
    let expected: Vec<i64> = (1..=16).map(|n| v0.0 + n).collect();
    assert_eq!(versions, expected, "each write sees its own version");
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
