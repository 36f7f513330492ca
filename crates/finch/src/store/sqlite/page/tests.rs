//! Paging, search, scope and counters on a real SQLite database.

use std::path::Path;

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use proptest::prelude::*;
use sqlx::Row as _;

use super::HEAD_LIMIT;
use super::filter::{Filter, MATCHES_FIELDS, Walk};
use super::parts::{IdRange, Split};
use crate::agents::{AgentRid, AgentSpec, LogSource, Node};
use crate::store::page::{like_pattern, total_pages};
use crate::store::sqlite::SqliteStore;
use crate::store::sqlite::schema::VISIBLE;
use crate::store::{AgentQuery, AgentScope, AgentStats, Store};

mod deep_pages;
mod search;

async fn store() -> Store {
    Store::open("sqlite://:memory:", Path::new("/"))
        .await
        .unwrap()
}

fn spec(hostname: &str, labels: &[&str], metrics: bool, profiles: bool) -> AgentSpec {
    AgentSpec {
        hostname: hostname.to_owned(),
        node: Node::Unix,
        log_sources: vec![LogSource::Journal],
        metrics,
        metrics_targets: Vec::new(),
        profiles,
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
    }
}

pub(super) async fn add(store: &Store, hostname: &str, labels: &[&str]) -> AgentRid {
    let rid = AgentRid::mint("svc");
    store
        .insert_agent(&rid, &spec(hostname, labels, true, false))
        .await
        .unwrap();
    rid
}

fn query(search: &str, page: u32) -> AgentQuery {
    AgentQuery {
        scope: AgentScope::All,
        search: search.to_owned(),
        page,
        page_size: 2,
    }
}

fn hostnames(page: &crate::store::AgentPage) -> Vec<&str> {
    page.agents.iter().map(|a| a.hostname.as_str()).collect()
}

#[tokio::test]
async fn pages_in_registration_order_and_clamps() {
    let store = store().await;
    for host in ["a", "b", "c", "d", "e"] {
        add(&store, host, &[]).await;
    }
    let first = store.page_agents(&query("", 1)).await.unwrap();
    assert_eq!(hostnames(&first), ["a", "b"]);
    assert_eq!(
        (first.page, first.total_pages, first.total_agents),
        (1, 3, 5)
    );
    let last = store.page_agents(&query("", 3)).await.unwrap();
    assert_eq!(hostnames(&last), ["e"]);
    let beyond = store.page_agents(&query("", 99)).await.unwrap();
    assert_eq!((beyond.page, hostnames(&beyond)), (3, vec!["e"]));
    let zero = store.page_agents(&query("", 0)).await.unwrap();
    assert_eq!(zero.page, 1);
}

#[tokio::test]
async fn search_matches_hostname_rid_and_labels_case_insensitively() {
    let store = store().await;
    let web = add(&store, "Web-01", &["env=prod"]).await;
    add(&store, "db-01", &["env=staging", "team=data"]).await;
    add(&store, "cache_01", &[]).await;
    add(&store, "cacheX01", &[]).await;
    let found = |s: &str| {
        let store = store.clone();
        let s = s.to_owned();
        async move {
            store
                .page_agents(&AgentQuery {
                    page_size: 10,
                    ..query(&s, 1)
                })
                .await
                .unwrap()
        }
    };
    assert_eq!(hostnames(&found("web").await), ["Web-01"]);
    assert_eq!(hostnames(&found("PROD").await), ["Web-01"]);
    assert_eq!(hostnames(&found("team=data").await), ["db-01"]);
    assert_eq!(hostnames(&found(&web.as_str()[20..]).await), ["Web-01"]);
    // `_` and `%` are literal characters, not wildcards.
    assert_eq!(hostnames(&found("cache_").await), ["cache_01"]);
    assert_eq!(found("%").await.total_agents, 0);
    // The JSON between two labels is not searchable text.
    assert_eq!(found("\",\"").await.total_agents, 0);
    let none = found("nothing-like-this").await;
    assert_eq!((none.total_agents, none.total_pages, none.page), (0, 1, 1));
}

#[tokio::test]
async fn scope_restricts_pages_and_counts() {
    let store = store().await;
    let web = add(&store, "web", &[]).await;
    add(&store, "db", &[]).await;
    add(&store, "all", &[]).await;
    let scoped = |entries: &[&str]| AgentQuery {
        scope: AgentScope::from_claims(
            &entries.iter().map(|e| (*e).to_owned()).collect::<Vec<_>>(),
        ),
        page_size: 10,
        ..query("", 1)
    };
    let by_rid = store.page_agents(&scoped(&[web.as_str()])).await.unwrap();
    assert_eq!(hostnames(&by_rid), ["web"]);
    let by_host = store.page_agents(&scoped(&["db", "nope"])).await.unwrap();
    assert_eq!(hostnames(&by_host), ["db"]);
    let literal_all = store.page_agents(&scoped(&["all"])).await.unwrap();
    assert_eq!(hostnames(&literal_all), ["all"]);
    let empty_entry = store.page_agents(&scoped(&[""])).await.unwrap();
    assert_eq!(empty_entry.total_agents, 0);
    let now = OffsetDateTime::now_utc();
    let stats = store
        .agent_stats(&scoped(&["db", "web"]).scope, now)
        .await
        .unwrap();
    assert_eq!(stats.total, 2);
}

#[tokio::test]
async fn rows_without_a_resource_id_are_never_shown() {
    let store = store().await;
    add(&store, "web", &[]).await;
    let Store::Sqlite(sqlite) = &store;
    sqlx::query("INSERT INTO agents (hostname, resource_id, node) VALUES ('ghost', '', 'unix')")
        .execute(&sqlite.pool)
        .await
        .unwrap();
    let page = store.page_agents(&query("", 1)).await.unwrap();
    assert_eq!(hostnames(&page), ["web"]);
    let ghost_scope = AgentScope::from_claims(&[String::new(), "ghost".to_owned()]);
    let stats = store
        .agent_stats(&ghost_scope, OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(stats.total, 0);
}

#[tokio::test]
async fn stats_count_switches_and_active_agents() {
    let store = store().await;
    let now = datetime!(2026-11-23 12:00:00 UTC);
    let fresh = AgentRid::mint("svc");
    store
        .insert_agent(&fresh, &spec("fresh", &[], true, true))
        .await
        .unwrap();
    let old = AgentRid::mint("svc");
    store
        .insert_agent(&old, &spec("old", &[], false, true))
        .await
        .unwrap();
    let never = AgentRid::mint("svc");
    store
        .insert_agent(&never, &spec("never", &[], false, false))
        .await
        .unwrap();
    store
        .record_last_seen(&[
            (fresh.clone(), now - Duration::seconds(30)),
            (old.clone(), now - Duration::minutes(10)),
        ])
        .await
        .unwrap();
    let stats = store
        .agent_stats(&AgentScope::All, now - Duration::minutes(2))
        .await
        .unwrap();
    assert_eq!(
        stats,
        AgentStats {
            total: 3,
            metrics: 1,
            profiles: 2,
            active: 1
        }
    );
    // A 1.x row written in a local zone with SQLite's own datetime form still counts.
    let Store::Sqlite(sqlite) = &store;
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
    assert_eq!(stats.active, 2);

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
        (9, count(|a| a.metrics), count(|a| a.profiles))
    );
    assert_eq!((stats.metrics, stats.profiles), (5, 4));
}

/// Searches `store` with a page large enough for every match.
async fn search(store: &Store, term: &str) -> Vec<String> {
    let page = store
        .page_agents(&AgentQuery {
            page_size: 100,
            ..query(term, 1)
        })
        .await
        .unwrap();
    hostnames(&page).into_iter().map(str::to_owned).collect()
}

/// Overwrites an agent's labels column with `raw`, as 1.x or a hand edit may have written it.
async fn set_raw_labels(store: &Store, hostname: &str, raw: &str) {
    let Store::Sqlite(sqlite) = store;
    sqlx::query("UPDATE agents SET labels = ? WHERE hostname = ?")
        .bind(raw)
        .bind(hostname)
        .execute(&sqlite.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn labels_are_searched_decoded_entry_by_entry() {
    let store = store().await;
    // Stored by Finch as `["quote=a\"b","path=c:\\d"]`: JSON escapes.
    add(&store, "escaped", &["quote=a\"b", "path=c:\\d"]).await;
    // Stored as is: non-ASCII text needs no escape.
    add(&store, "accent", &["city=Zürich"]).await;
    add(&store, "pair", &["ab", "cd"]).await;
    add(&store, "punctuated", &["list=x,y", "idx=[1]"]).await;
    // As 1.x's encoding/json writes `&`, and a hand edit may write any character.
    add(&store, "go", &[]).await;
    set_raw_labels(&store, "go", r#"["team=r\u0026d","caf\u00e9"]"#).await;

    assert_eq!(search(&store, "a\"b").await, ["escaped"]);
    assert_eq!(search(&store, r"c:\d").await, ["escaped"]);
    // The backslashes of the escapes are not part of any label.
    assert_eq!(search(&store, r#"\""#).await, Vec::<String>::new());
    assert_eq!(search(&store, r"\u").await, Vec::<String>::new());
    assert_eq!(search(&store, "u0026").await, Vec::<String>::new());
    assert_eq!(search(&store, "r&d").await, ["go"]);
    assert_eq!(search(&store, "CAFé").await, ["go"]);
    // Case-insensitive for ASCII only, as SQLite's LIKE.
    assert_eq!(search(&store, "ZüRICH").await, ["accent"]);
    assert_eq!(search(&store, "zÜrich").await, Vec::<String>::new());
    assert_eq!(search(&store, "CAFÉ").await, Vec::<String>::new());
    // Punctuation inside a label matches; the JSON around and between labels does not.
    assert_eq!(search(&store, "x,y").await, ["punctuated"]);
    assert_eq!(search(&store, "[1]").await, ["punctuated"]);
    assert_eq!(search(&store, ",").await, ["punctuated"]);
    for between in [r#"b","c"#, r#"",""#, r#"["a"#, r#"d"]"#, "[\"", "\"]"] {
        assert_eq!(
            search(&store, between).await,
            Vec::<String>::new(),
            "{between}"
        );
    }
    assert_eq!(search(&store, "]").await, ["punctuated"]);
    assert_eq!(search(&store, "\"").await, ["escaped"]);
}

/// A database file in `dir` whose reads split into up to `parts` parts of at least one id, with
/// that many connections open and idle, as a running service keeps them.
pub(super) async fn split_store(dir: &Path, parts: usize) -> Store {
    let Store::Sqlite(mut sqlite) = Store::open("sqlite://finch.db", dir).await.unwrap();
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
