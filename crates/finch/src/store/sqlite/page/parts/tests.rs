//! Cutting the ids into parts, and which connections may read them.

use futures_util::future::try_join_all;

use super::*;
use crate::store::Store;
use crate::store::sqlite::page::tests::{add, split_store, until_idle};

/// Whether `ranges` hold every id exactly once, in order.
fn covers_in_order(ranges: &[IdRange]) -> bool {
    let (Some(first), Some(last)) = (ranges.first(), ranges.last()) else {
        return false;
    };
    first.after.is_none()
        && last.through.is_none()
        && ranges.windows(2).all(|pair| {
            pair[0].through.is_some()
                && pair[0].through == pair[1].after
                && pair[0]
                    .after
                    .is_none_or(|after| Some(after) <= pair[0].through)
        })
}

#[test]
fn ranges_hold_every_id_once_in_order() {
    for (lowest, highest) in [
        (1, 100_000),
        (1, 3),
        (7, 7),
        (-5, 5),
        (i64::MIN, i64::MAX),
        (i64::MIN, i64::MIN + 1),
        (i64::MAX - 2, i64::MAX),
    ] {
        for parts in 1..=5 {
            let ranges = IdRange::split(lowest, highest, parts);
            assert_eq!(ranges.len(), parts);
            assert!(
                covers_in_order(&ranges),
                "{lowest}..={highest} in {parts}: {ranges:?}"
            );
        }
    }
    assert_eq!(
        IdRange::split(1, 100_000, 2),
        [
            IdRange {
                after: None,
                through: Some(50_000)
            },
            IdRange {
                after: Some(50_000),
                through: None
            }
        ]
    );
}

#[test]
fn small_tables_are_read_whole() {
    let split = Split::new(4, MIN_IDS_PER_PART);
    assert_eq!(split.parts_for(1, 19_999), 1);
    assert_eq!(split.parts_for(1, 20_000), 2);
    assert_eq!(split.parts_for(1, 100_000), 4);
    assert_eq!(split.parts_for(i64::MIN, i64::MAX), 4);
    assert_eq!(Split::NEVER.parts_for(1, 100_000), 1);
    assert!(Split::for_pool(4).parts <= 3);
    assert_eq!(Split::for_pool(1).parts, 1);
}

/// A read that answers with the range it was given.
struct Ranges;

impl PartRead for Ranges {
    type Part = IdRange;

    async fn read(
        &self,
        _conn: &mut SqliteConnection,
        range: IdRange,
    ) -> Result<IdRange, StoreError> {
        Ok(range)
    }
}

async fn add_agents(store: &Store, count: usize) {
    for n in 0..count {
        add(store, &format!("host-{n}"), &[]).await;
    }
}

#[tokio::test]
async fn idle_connections_read_the_other_parts() {
    let dir = tempfile::tempdir().unwrap();
    let store = split_store(dir.path(), 3).await;
    let Store::Sqlite(sqlite) = &store else {
        panic!("a SQLite store expected")
    };
    let mut main = sqlite.pool.begin().await.unwrap();
    // An empty table is one part.
    let parts = read_in_parts(&sqlite.pool, sqlite.split, &mut main, &Ranges)
        .await
        .unwrap();
    assert_eq!(parts, [IdRange::ALL]);
    main.commit().await.unwrap();

    add_agents(&store, 9).await;
    until_idle(&sqlite.pool, 3).await;
    let mut main = sqlite.pool.begin().await.unwrap();
    let parts = read_in_parts(&sqlite.pool, sqlite.split, &mut main, &Ranges)
        .await
        .unwrap();
    assert_eq!(parts.len(), 3);
    assert!(covers_in_order(&parts), "{parts:?}");
    assert_eq!(parts[0].through, Some(3));
    main.commit().await.unwrap();

    // With every other connection of the pool (four) busy, the first reads it all.
    let mut main = sqlite.pool.begin().await.unwrap();
    let busy = try_join_all((0..3).map(|_| sqlite.pool.acquire()))
        .await
        .unwrap();
    let parts = read_in_parts(&sqlite.pool, sqlite.split, &mut main, &Ranges)
        .await
        .unwrap();
    assert_eq!(parts, [IdRange::ALL]);
    drop((main, busy));
    store.close().await;
}

#[tokio::test]
async fn a_helper_that_sees_another_version_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let store = split_store(dir.path(), 3).await;
    let Store::Sqlite(sqlite) = &store else {
        panic!("a SQLite store expected")
    };
    add_agents(&store, 3).await;
    until_idle(&sqlite.pool, 3).await;
    let mut main = sqlite.pool.begin().await.unwrap();
    let version = read_version(&mut *main).await.unwrap();
    let mut spares = idle_connections(&sqlite.pool, 2);
    assert_eq!(spares.len(), 2);
    assert_eq!(agreeing(&mut spares, version).await.len(), 2);

    // A registration after the first snapshot: the helpers' snapshots would count it.
    add(&store, "late", &[]).await;
    assert_eq!(agreeing(&mut spares, version).await.len(), 0);
    drop(spares);
    assert_eq!(
        read_in_parts(&sqlite.pool, sqlite.split, &mut main, &Ranges)
            .await
            .unwrap(),
        [IdRange::ALL]
    );
    store.close().await;
}

#[tokio::test]
async fn the_bundled_sqlite_gives_each_connection_its_own_page_cache() {
    let store = Store::open("sqlite://:memory:", std::path::Path::new("/"))
        .await
        .unwrap();
    let Store::Sqlite(sqlite) = &store else {
        panic!("a SQLite store expected")
    };
    let options: Vec<String> = sqlx::query_scalar("PRAGMA compile_options")
        .fetch_all(&sqlite.pool)
        .await
        .unwrap();
    // Set by `.cargo/config.toml` (`LIBSQLITE3_FLAGS`): without it every connection's page cache
    // sits behind one lock, and the parts of a read queue for it.
    assert!(
        !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
        "{options:?}"
    );
    for option in ["DEFAULT_MEMSTATUS=0", "DEFAULT_PCACHE_INITSZ=0"] {
        assert!(options.iter().any(|o| o == option), "{option}: {options:?}");
    }
}
