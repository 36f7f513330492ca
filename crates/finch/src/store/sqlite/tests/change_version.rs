//! The change version moved by a writer in another process, the `sqlite3` CLI (the suite both
//! backends run, `store/tests/change_version.rs`, covers the rest).

use super::*;

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
