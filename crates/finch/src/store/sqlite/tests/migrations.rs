//! Schema creation, the legacy migrations of 1.x databases, and what 1.x reads back.

use super::*;

/// Finch 1.x's table as GORM created it, before the `tags` rename and with the basic-auth
/// columns still present (a database that went through every 1.x release).
const LEGACY_1X_SCHEMA: &str = r#"
CREATE TABLE `agents` (`id` integer PRIMARY KEY AUTOINCREMENT,`created_at` datetime,
  `updated_at` datetime,`active` numeric NOT NULL DEFAULT true,`hostname` text NOT NULL UNIQUE,
  `last_seen` datetime NULL DEFAULT NULL,`log_sources` text NOT NULL DEFAULT "[]",
  `metrics` numeric NOT NULL DEFAULT false,`metrics_targets` text NOT NULL DEFAULT "[]",
  `profiles` numeric NOT NULL DEFAULT false,
  `registered_at` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `resource_id` text NOT NULL UNIQUE,`tags` text,`node` text NOT NULL DEFAULT "unix",
  `username` text,`password` text,`password_hash` text);
CREATE UNIQUE INDEX `uidx_agents_resource_id` ON `agents`(`resource_id`);
"#;

/// The same table with GORM's named unique constraints, as newer GORM releases write it.
const LEGACY_1X_SCHEMA_NAMED_CONSTRAINTS: &str = r#"
CREATE TABLE `agents` (`id` integer PRIMARY KEY AUTOINCREMENT,`created_at` datetime,
  `updated_at` datetime,`active` numeric NOT NULL DEFAULT true,`hostname` text NOT NULL,
  `last_seen` datetime DEFAULT NULL,`log_sources` text NOT NULL DEFAULT "[]",
  `metrics` numeric NOT NULL DEFAULT false,`metrics_targets` text NOT NULL DEFAULT "[]",
  `profiles` numeric NOT NULL DEFAULT false,
  `registered_at` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `resource_id` text NOT NULL,`tags` text,`node` text NOT NULL DEFAULT "unix",
  `username` text,`password` text,`password_hash` text,
  CONSTRAINT `uni_agents_hostname` UNIQUE (`hostname`),
  CONSTRAINT `uni_agents_resource_id` UNIQUE (`resource_id`));
CREATE UNIQUE INDEX `uidx_agents_resource_id` ON `agents`(`resource_id`);
"#;

#[tokio::test]
async fn schema_has_exactly_the_14_columns_of_1x() {
    let db = TestDb::new();
    let store = db.open().await;
    let columns = db.column_names().await;
    assert_eq!(columns.len(), 14);
    assert_eq!(columns, expected_columns());
    let mut sorted_1x = vec![
        "id",
        "created_at",
        "updated_at",
        "active",
        "hostname",
        "last_seen",
        "log_sources",
        "metrics",
        "metrics_targets",
        "profiles",
        "registered_at",
        "resource_id",
        "labels",
        "node",
    ];
    sorted_1x.sort_unstable();
    assert_eq!(columns, sorted_1x);
    store.close().await;
}

#[tokio::test]
async fn legacy_1x_database_migrates_and_reads_back() {
    legacy_database_migrates_and_reads_back(LEGACY_1X_SCHEMA).await;
}

#[tokio::test]
async fn legacy_1x_database_with_named_constraints_migrates_and_reads_back() {
    legacy_database_migrates_and_reads_back(LEGACY_1X_SCHEMA_NAMED_CONSTRAINTS).await;
}

async fn legacy_database_migrates_and_reads_back(legacy_schema: &str) {
    let db = TestDb::new();
    db.write_raw(legacy_schema).await;
    db.write_raw(
        r#"
        INSERT INTO agents (created_at, updated_at, hostname, log_sources, metrics,
            metrics_targets, profiles, resource_id, tags, node, username, password, password_hash)
        VALUES
          ('2026-02-05 10:11:12.123456789+01:00', '2026-02-05T10:11:12Z', 'web-1',
           '["journal:","docker:"]', 1, '', 0, 'rid:finch:test-id:agent:1', NULL, 'unix',
           'web-1', 'c2VjcmV0', '$2a$10$x'),
          ('2026-02-06 08:00:00+00:00', '2026-02-06 08:00:00+00:00', 'win-1',
           '[]', 'true', '["http://a:9100/metrics"]', 1, 'rid:finch:test-id:agent:2',
           '["env=prod"]', 'windows', NULL, NULL, NULL),
          ('not a time', NULL, 'old-1', '', 0, '[]', 0, 'rid:finch:test-id:agent:3', '',
           'unix', NULL, NULL, NULL);
        UPDATE agents SET registered_at = '2026-02-05 09:11:13' WHERE hostname = 'web-1';
        "#,
    )
    .await;

    let store = db.open().await;
    assert_eq!(db.column_names().await, expected_columns());

    let agents = store.list_agents().await.unwrap();
    let hostnames: Vec<&str> = agents.iter().map(|a| a.hostname.as_str()).collect();
    assert_eq!(hostnames, ["web-1", "win-1", "old-1"]);

    let web = &agents[0];
    assert_eq!(web.rid.as_str(), "rid:finch:test-id:agent:1");
    assert_eq!(web.log_sources, [LogSource::Journal, LogSource::Docker]);
    assert!(web.metrics && !web.profiles);
    assert!(web.metrics_targets.is_empty());
    assert!(web.labels.is_empty());
    assert_eq!(web.node, Node::Unix);
    assert_eq!(
        web.created_at,
        Some(datetime!(2026-02-05 10:11:12.123456789 +01:00))
    );
    assert_eq!(web.registered_at, Some(datetime!(2026-02-05 09:11:13 UTC)));
    assert_eq!(web.last_seen, None);

    let win = &agents[1];
    assert!(win.log_sources.is_empty());
    assert!(win.metrics && win.profiles);
    assert_eq!(win.metrics_targets, ["http://a:9100/metrics"]);
    assert_eq!(win.labels, ["env=prod"]);
    assert_eq!(win.node, Node::Windows);

    let old = &agents[2];
    assert!(old.log_sources.is_empty() && old.labels.is_empty());
    assert_eq!(old.created_at, None);
    assert!(old.registered_at.is_some());

    // The migrated database takes writes and counts them.
    let before = store.change_version().await.unwrap();
    let (_, after) = store.insert_agent(&rid(), &spec("new-1")).await.unwrap();
    assert_eq!(after.0, before.0 + 1);
    assert_eq!(snapshot(&store).await.1.len(), 4);
    // The unique constraints survived the column surgery.
    assert!(matches!(
        store.insert_agent(&rid(), &spec("web-1")).await,
        Err(StoreError::AlreadyExists)
    ));
    store.close().await;
}

#[tokio::test]
async fn old_table_gets_the_columns_it_lacks() {
    let db = TestDb::new();
    db.write_raw(
        "CREATE TABLE agents (id integer PRIMARY KEY AUTOINCREMENT, created_at datetime, \
         updated_at datetime, active numeric NOT NULL DEFAULT true, hostname text NOT NULL UNIQUE, \
         log_sources text NOT NULL DEFAULT '[]', metrics numeric NOT NULL DEFAULT false, \
         resource_id text NOT NULL UNIQUE, tags text, username text, password text); \
         INSERT INTO agents (created_at, hostname, log_sources, resource_id) \
         VALUES ('2025-11-01 12:00:00+00:00', 'old-1', '[\"journal:\"]', 'rid:finch:x:agent:1');",
    )
    .await;

    let store = db.open().await;
    assert_eq!(db.column_names().await, expected_columns());
    let agents = store.list_agents().await.unwrap();
    assert_eq!(agents.len(), 1);
    assert_eq!(agents[0].node, Node::Unix);
    assert!(!agents[0].profiles);
    assert!(agents[0].metrics_targets.is_empty());
    assert_eq!(
        agents[0].registered_at,
        Some(datetime!(2025-11-01 12:00 UTC)),
        "backfilled from created_at"
    );
    store.insert_agent(&rid(), &spec("new-1")).await.unwrap();
    store.close().await;
}

#[tokio::test]
async fn table_without_a_key_column_is_refused() {
    let db = TestDb::new();
    db.write_raw("CREATE TABLE agents (id integer PRIMARY KEY, hostname text)")
        .await;
    let err = Store::open("sqlite://finch.db", db.library())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("has no column resource_id"),
        "{err}"
    );
}

#[tokio::test]
async fn stored_values_are_readable_by_1x() {
    let db = TestDb::new();
    let store = db.open().await;
    let mut no_labels = spec("web-1");
    no_labels.labels.clear();
    let rid = rid();
    store.insert_agent(&rid, &no_labels).await.unwrap();
    let mut raw = db.raw().await;
    let row = sqlx::query(
        "SELECT log_sources, metrics_targets, labels IS NULL, typeof(metrics), metrics, active, \
         created_at, registered_at, node FROM agents",
    )
    .fetch_one(&mut raw)
    .await
    .unwrap();
    assert_eq!(row.get::<String, _>(0), r#"["journal:","docker:"]"#);
    assert_eq!(
        row.get::<String, _>(1),
        r#"["http://localhost:9100/metrics"]"#
    );
    assert!(row.get::<bool, _>(2), "empty labels are NULL");
    assert_eq!(row.get::<String, _>(3), "integer");
    assert_eq!(row.get::<i64, _>(4), 1);
    assert_eq!(row.get::<i64, _>(5), 1);
    let created_at: String = row.get(6);
    assert_eq!(
        created_at.len(),
        "2026-02-05 10:11:12.123456789+00:00".len()
    );
    assert!(created_at.ends_with("+00:00"), "{created_at}");
    assert_eq!(created_at.as_bytes()[10], b' ');
    let registered_at: String = row.get(7);
    assert_eq!(
        registered_at.len(),
        "2026-02-05 10:11:12".len(),
        "DB default"
    );
    assert_eq!(row.get::<String, _>(8), "unix");
    store.close().await;
}

#[tokio::test]
async fn reopening_is_idempotent() {
    let db = TestDb::new();
    let store = db.open().await;
    let rid = rid();
    let (agent, version) = store.insert_agent(&rid, &spec("web-1")).await.unwrap();
    store.close().await;

    for _ in 0..2 {
        let store = db.open().await;
        assert_eq!(db.column_names().await, expected_columns());
        assert_eq!(store.change_version().await.unwrap(), version);
        assert_eq!(store.list_agents().await.unwrap(), vec![agent.clone()]);
        store.close().await;
    }
    let mut raw = db.raw().await;
    let objects: Vec<String> = sqlx::query_scalar(
        "SELECT type || ':' || name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY 1",
    )
    .fetch_all(&mut raw)
    .await
    .unwrap();
    assert_eq!(
        objects,
        [
            "index:finch_agents_search",
            "index:uidx_agents_resource_id",
            "table:agents",
            "table:finch_change_version",
            "trigger:finch_agents_after_delete",
            "trigger:finch_agents_after_insert",
            "trigger:finch_agents_after_update",
        ]
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM finch_change_version")
        .fetch_one(&mut raw)
        .await
        .unwrap();
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn missing_directory_is_named_and_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let err = Store::open("sqlite://missing/finch.db", dir.path())
        .await
        .unwrap_err();
    let missing = dir.path().join("missing");
    assert!(
        matches!(&err, StoreError::Uri(UriError::MissingDirectory(p)) if *p == missing),
        "{err:?}"
    );
    assert!(err.to_string().contains(&missing.display().to_string()));
    assert!(!missing.exists());
}
