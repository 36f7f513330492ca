//! Deep pages, pages past the end, and pages and counters read in parts: the long ways give the
//! answers of the short ones.

use super::*;
use crate::store::tests::pages::check_every_kind_of_page;

#[tokio::test]
async fn deep_pages_and_pages_past_the_end_walk_from_the_nearer_end() {
    check_deep_pages(&store().await).await;
}

#[tokio::test]
async fn deep_pages_read_in_parts_are_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let store = split_store(dir.path(), 3).await;
    check_deep_pages(&store).await;
    store.close().await;
}

/// Registers more agents than the head of a page holds, so that deep pages walk on past it, and
/// checks every kind of page of a few searches.
async fn check_deep_pages(store: &Store) {
    let count = usize::try_from(HEAD_LIMIT).unwrap() + 7;
    check_every_kind_of_page(store, count, &[1, 3, 7, 1000, 1001]).await;
}

#[tokio::test]
async fn pages_and_counters_read_in_parts_are_those_read_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = split_store(dir.path(), 3).await;
    let Store::Sqlite(sqlite) = &store else {
        panic!("a SQLite store expected")
    };
    let whole = Store::Sqlite(SqliteStore {
        split: Split::new(1, 1),
        ..sqlite.clone()
    });
    let mut rids = Vec::new();
    for n in 0..40 {
        let labels: &[&str] = if n % 4 == 0 { &["env=prod"] } else { &[] };
        rids.push(add(&store, &format!("host-{n:02}"), labels).await);
    }
    // Gaps in the ids, and a row the dashboard never shows.
    for rid in rids.iter().skip(5).step_by(7) {
        store.delete_agent(rid).await.unwrap();
    }
    sqlx::query("INSERT INTO agents (hostname, resource_id, node) VALUES ('hidden', '', 'unix')")
        .execute(&sqlite.pool)
        .await
        .unwrap();
    let now = OffsetDateTime::now_utc();
    store
        .record_last_seen(&[(rids[1].clone(), now), (rids[30].clone(), now)])
        .await
        .unwrap();
    // The writes' connections back, so that at least the first reads find their helpers.
    until_idle(&sqlite.pool, 3).await;
    let scopes = [
        AgentScope::All,
        AgentScope::from_claims(&[
            "host-03".to_owned(),
            "host-33".to_owned(),
            rids[20].as_str().to_owned(),
        ]),
    ];
    for scope in &scopes {
        for term in ["", "host-1", "prod", "3", "nowhere", "hidden"] {
            for (page_size, page) in [(1, 1), (3, 2), (4, 7), (100, 1), (2, u32::MAX)] {
                let query = AgentQuery {
                    scope: scope.clone(),
                    page_size,
                    ..query(term, page)
                };
                assert_eq!(
                    store.page_agents(&query).await.unwrap(),
                    whole.page_agents(&query).await.unwrap(),
                    "{scope:?} {term:?}, page {page} of {page_size}"
                );
            }
        }
        let since = now - Duration::minutes(1);
        let stats = store.agent_stats(scope, since).await.unwrap();
        assert_eq!(stats, whole.agent_stats(scope, since).await.unwrap());
        if *scope == AgentScope::All {
            assert_eq!((stats.total, stats.active), (35, 2));
        }
    }
    store.close().await;
}
