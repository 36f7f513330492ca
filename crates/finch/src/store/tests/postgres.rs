//! What only the PostgreSQL backend has: migrations under an advisory lock, several replicas on
//! one database, the announcements of changes, and its URI and connection errors.

use std::path::Path;

use super::pages::check_every_kind_of_page;
use super::{TestDb, rid, spec};
use crate::store::{ChangeNotice, ChangeVersion, Store, StoreError, UriError};

/// The PostgreSQL test database, or `None` when the test is skipped.
async fn postgres() -> Option<TestDb> {
    TestDb::postgres().await
}

/// Runs a query returning one `bigint` on its own connection.
async fn scalar(db: &TestDb, sql: &str) -> i64 {
    use sqlx::Connection as _;
    let TestDb::Postgres(pg) = db else {
        panic!("a PostgreSQL test database expected");
    };
    let mut conn = sqlx::PgConnection::connect(&pg.uri).await.unwrap();
    sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
}

#[tokio::test]
async fn replicas_starting_together_migrate_once() {
    let Some(db) = postgres().await else { return };
    let opened = futures_util::future::join_all((0..4).map(|_| db.open())).await;
    assert_eq!(
        scalar(&db, "SELECT version::bigint FROM finch_schema").await,
        4
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'agents'"
        )
        .await,
        14
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'finch_agents_%'"
        )
        .await,
        3
    );
    // One replica's write is the others' to read, and bumps the one version they share.
    let (agent, version) = opened[0]
        .insert_agent(&rid(), &spec("web-1"))
        .await
        .unwrap();
    for store in &opened {
        assert_eq!(store.get_agent(&agent.rid).await.unwrap(), agent);
        assert_eq!(store.change_version().await.unwrap(), version);
        store.close().await;
    }
}

#[tokio::test]
async fn one_hostname_registered_through_two_replicas_has_one_winner() {
    let Some(db) = postgres().await else { return };
    let (a, b) = (db.open().await, db.open().await);
    for round in 0..20 {
        let hostname = format!("race-{round}");
        let (spec, rid_a, rid_b) = (spec(&hostname), rid(), rid());
        let (first, second) =
            tokio::join!(a.insert_agent(&rid_a, &spec), b.insert_agent(&rid_b, &spec),);
        let outcomes = [first.is_ok(), second.is_ok()];
        assert_eq!(outcomes.iter().filter(|ok| **ok).count(), 1, "{hostname}");
        let loser = if first.is_ok() { second } else { first };
        assert!(matches!(loser, Err(StoreError::AlreadyExists)), "{loser:?}");
    }
    assert_eq!(a.list_agents().await.unwrap().len(), 20);
}

#[tokio::test]
async fn every_change_is_announced_with_its_version_and_ids() {
    let Some(db) = postgres().await else { return };
    let store = db.open().await;
    let mut feed = store.change_feed().await.unwrap().unwrap();
    let rid = rid();
    let (_, inserted) = store.insert_agent(&rid, &spec("web-1")).await.unwrap();
    // By SQL, as an operator would: a rename names the old and the new id.
    db.execute(&format!(
        "UPDATE agents SET resource_id = 'rid:renamed' WHERE resource_id = '{rid}'"
    ))
    .await;
    db.execute("TRUNCATE agents").await;
    let announced = |version: i64, rids: &[&str]| ChangeNotice::Agents {
        version: ChangeVersion(version),
        rids: rids.iter().map(|r| (*r).to_owned()).collect(),
    };
    assert_eq!(
        feed.next().await.unwrap(),
        Some(announced(inserted.0, &[rid.as_str()]))
    );
    let Some(ChangeNotice::Agents { version, mut rids }) = feed.next().await.unwrap() else {
        panic!("the rename is announced with its ids");
    };
    rids.sort();
    assert_eq!(version.0, inserted.0 + 1);
    assert_eq!(rids, [rid.as_str(), "rid:renamed"]);
    assert_eq!(feed.next().await.unwrap(), Some(ChangeNotice::Unknown));
}

#[tokio::test]
async fn a_1x_table_migrates_and_reads_back() {
    let Some(db) = postgres().await else { return };
    // 1.x's table before the `tags` rename, with the basic-auth columns.
    db.execute(
        "CREATE TABLE agents (id bigserial PRIMARY KEY, created_at timestamptz, \
         updated_at timestamptz, active boolean NOT NULL DEFAULT true, \
         hostname text NOT NULL UNIQUE, last_seen timestamptz, \
         log_sources text NOT NULL DEFAULT '[]', metrics boolean NOT NULL DEFAULT false, \
         metrics_targets text NOT NULL DEFAULT '[]', profiles boolean NOT NULL DEFAULT false, \
         registered_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP, \
         resource_id text NOT NULL UNIQUE, tags text, username text, password_hash text); \
         INSERT INTO agents (hostname, resource_id, log_sources, metrics, tags, username) \
         VALUES ('old-1', 'rid:old:1', '[\"journal:\"]', true, '[\"env=prod\"]', 'u')",
    )
    .await;
    let store = db.open().await;
    let agents = store.list_agents().await.unwrap();
    assert_eq!(agents.len(), 1);
    assert_eq!(agents[0].hostname, "old-1");
    assert_eq!(agents[0].labels, ["env=prod"]);
    assert_eq!(agents[0].node, crate::agents::Node::Unix);
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'agents'"
        )
        .await,
        14
    );
    let page = store
        .page_agents(&crate::store::AgentQuery {
            scope: crate::store::AgentScope::All,
            search: "PROD".to_owned(),
            page: 1,
            page_size: 10,
        })
        .await
        .unwrap();
    assert_eq!(page.total_agents, 1);
}

#[tokio::test]
async fn searches_use_the_trigram_index() {
    let Some(db) = postgres().await else { return };
    let store = db.open().await;
    store.close().await;
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'finch_agents_search_trgm'"
        )
        .await,
        1
    );
}

/// Searches with more matches than a page reads the ids of at once are counted and walked, and
/// give the pages those with fewer give.
#[tokio::test]
async fn pages_of_many_matches_are_walked_to_the_same_answers() {
    let Some(db) = postgres().await else { return };
    let Store::Postgres(store) = db.open().await else {
        panic!("a PostgreSQL store expected")
    };
    let store = Store::Postgres(store.with_ids_at_once(4));
    check_every_kind_of_page(&store, 23, &[1, 3, 7, 30]).await;
    store.close().await;
}

/// A migration leaves the planner statistics of what it copied, not of the empty tables.
#[tokio::test]
async fn an_import_leaves_statistics_of_the_copied_agents() {
    let Some(db) = postgres().await else { return };
    let store = db.open().await;
    for hostname in ["one", "two", "three"] {
        store.insert_agent(&rid(), &spec(hostname)).await.unwrap();
    }
    let agents = store.list_agents().await.unwrap();
    store.import_agents(&agents, true).await.unwrap();
    store.close().await;
    for table in ["agents", "finch_agent_search"] {
        assert_eq!(
            scalar(
                &db,
                &format!("SELECT reltuples::bigint FROM pg_class WHERE relname = '{table}'")
            )
            .await,
            3,
            "{table}"
        );
    }
}

#[tokio::test]
async fn bad_uris_are_named_without_their_password() {
    let err = Store::open("postgres://finch:secret@db:notaport/finch", Path::new("/"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Uri(UriError::InvalidPostgres { .. })),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("postgres://finch:***@db"), "{message}");
    assert!(!message.contains("secret"), "{message}");
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    // A loopback port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let uri = format!("postgres://finch@127.0.0.1:{port}/finch?sslmode=disable");
    let err = Store::open(&uri, Path::new("/")).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}
