//! Paging, search, scope and counters on a real SQLite database.

use std::path::Path;

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use proptest::prelude::*;
use sqlx::Row as _;

use super::HEAD_LIMIT;
use super::filter::{Filter, MATCHES_FIELDS, Walk};
use super::parts::{IdRange, Split};
use crate::agents::AgentRid;
use crate::store::page::like_pattern;
use crate::store::sqlite::SqliteStore;
use crate::store::sqlite::schema::VISIBLE;
use crate::store::{AgentQuery, AgentScope, Store};

mod deep_pages;
mod search;

pub(super) use crate::store::tests::pages::{add, agent as spec, query};

async fn store() -> Store {
    Store::open("sqlite://:memory:", Path::new("/"))
        .await
        .unwrap()
}

/// What only SQLite holds: timestamps and booleans as 1.x and other tools wrote them (the suite
/// both backends run counts what Finch writes, `store/tests/pages.rs`).
#[tokio::test]
async fn stats_read_timestamps_and_booleans_as_1x_wrote_them() {
    let store = store().await;
    let now = datetime!(2026-11-23 12:00:00 UTC);
    let never = AgentRid::mint("svc");
    store
        .insert_agent(&never, &spec("never", &[], false, false))
        .await
        .unwrap();
    // A 1.x row written in a local zone with SQLite's own datetime form still counts.
    let Store::Sqlite(sqlite) = &store else {
        panic!("a SQLite store expected")
    };
    sqlx::query(
        "UPDATE agents SET last_seen = '2026-11-23 13:59:30+02:00' WHERE hostname = 'never'",
    )
    .execute(&sqlite.pool)
    .await
    .unwrap();
    let stats = store
        .agent_stats(&AgentScope::All, now - Duration::minutes(2))
        .await
        .unwrap();
    assert_eq!(stats.active, 1);

    // Booleans as other tools may have stored them count as the rows read them.
    for (n, (metrics, profiles)) in [
        ("' Yes'", "'off'"),
        ("2.5", "'0.0'"),
        ("'on'", "0.0"),
        ("'1e3'", "'T'"),
        ("'no'", "''"),
        ("' 0 '", "'TRUE '"),
    ]
    .iter()
    .enumerate()
    {
        sqlx::query(&format!(
            "INSERT INTO agents (hostname, resource_id, metrics, profiles, node) \
             VALUES ('word-{n}', 'rid-word-{n}', {metrics}, {profiles}, 'unix')"
        ))
        .execute(&sqlite.pool)
        .await
        .unwrap();
    }
    let stats = store.agent_stats(&AgentScope::All, now).await.unwrap();
    let rows = store.list_agents().await.unwrap();
    let count = |on: fn(&crate::agents::Agent) -> bool| {
        u64::try_from(rows.iter().filter(|a| on(a)).count()).unwrap()
    };
    assert_eq!(
        (stats.total, stats.metrics, stats.profiles),
        (7, count(|a| a.metrics), count(|a| a.profiles))
    );
    assert_eq!((stats.metrics, stats.profiles), (4, 2));
}

/// A database file in `dir` whose reads split into up to `parts` parts of at least one id, with
/// that many connections open and idle, as a running service keeps them.
pub(super) async fn split_store(dir: &Path, parts: usize) -> Store {
    let Store::Sqlite(mut sqlite) = Store::open("sqlite://finch.db", dir).await.unwrap() else {
        panic!("a SQLite store expected")
    };
    sqlite.split = Split::new(parts, 1);
    let open: Vec<_> =
        futures_util::future::try_join_all((0..parts).map(|_| sqlite.pool.acquire()))
            .await
            .unwrap();
    drop(open);
    until_idle(&sqlite.pool, parts).await;
    Store::Sqlite(sqlite)
}

/// Waits (at most 5 s) until `pool` holds `count` idle connections: a dropped connection goes
/// back by a task of its own.
pub(super) async fn until_idle(pool: &sqlx::SqlitePool, count: usize) {
    for _ in 0..500 {
        if pool.num_idle() >= count {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!(
        "{count} idle connections expected, {} found",
        pool.num_idle()
    );
}
