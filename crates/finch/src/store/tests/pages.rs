//! Paging, search, scope and counters: the dashboard's reads.

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::{TestDb, on_both_backends};
use crate::agents::{AgentRid, AgentSpec, LogSource, Node};
use crate::store::page::total_pages;
use crate::store::{AgentPage, AgentQuery, AgentScope, AgentStats, Store};

on_both_backends!(
    pages_in_registration_order_and_clamps,
    every_kind_of_page_of_a_few_searches,
    search_matches_hostname_rid_and_labels_case_insensitively,
    scope_restricts_pages_and_counts,
    rows_without_a_resource_id_are_never_shown,
    stats_count_switches_and_active_agents,
    labels_are_searched_decoded_entry_by_entry,
);

/// An agent with these host name, labels and switches.
pub(in crate::store) fn agent(
    hostname: &str,
    labels: &[&str],
    metrics: bool,
    profiles: bool,
) -> AgentSpec {
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

/// Registers an agent that pushes metrics.
pub(in crate::store) async fn add(store: &Store, hostname: &str, labels: &[&str]) -> AgentRid {
    let rid = AgentRid::mint("svc");
    store
        .insert_agent(&rid, &agent(hostname, labels, true, false))
        .await
        .unwrap();
    rid
}

/// Page `page`, two agents a page, of the agents matching `search`.
pub(in crate::store) fn query(search: &str, page: u32) -> AgentQuery {
    AgentQuery {
        scope: AgentScope::All,
        search: search.to_owned(),
        page,
        page_size: 2,
    }
}

fn hostnames(page: &AgentPage) -> Vec<&str> {
    page.agents.iter().map(|a| a.hostname.as_str()).collect()
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

async fn pages_in_registration_order_and_clamps(db: TestDb) {
    let store = db.open().await;
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
    store.close().await;
}

async fn every_kind_of_page_of_a_few_searches(db: TestDb) {
    let store = db.open().await;
    check_every_kind_of_page(&store, 23, &[1, 3, 7, 30]).await;
    store.close().await;
}

/// Registers `count` agents and checks every kind of page (first, deep, last, past the end) of
/// a few searches at each of `page_sizes` against the answer computed here.
pub(in crate::store) async fn check_every_kind_of_page(
    store: &Store,
    count: usize,
    page_sizes: &[u32],
) {
    let names: Vec<String> = (1..=count)
        .map(|n| format!("{}-{n:04}", if n % 3 == 0 { "odd" } else { "plain" }))
        .collect();
    for name in &names {
        add(store, name, &[]).await;
    }
    for term in ["", "odd", "plain-1", "plain-001", "nowhere"] {
        let matching: Vec<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|name| name.contains(term))
            .collect();
        let total = u64::try_from(matching.len()).unwrap();
        for &page_size in page_sizes {
            let last_page = total_pages(total, page_size);
            for page in [
                1,
                2,
                last_page / 2,
                last_page - 1,
                last_page,
                last_page + 1,
                u32::MAX,
            ] {
                let got = store
                    .page_agents(&AgentQuery {
                        page_size,
                        ..query(term, page)
                    })
                    .await
                    .unwrap();
                let shown = page.clamp(1, last_page);
                let size = usize::try_from(page_size).unwrap();
                let start = usize::try_from(shown - 1).unwrap() * size;
                let expected =
                    &matching[start.min(matching.len())..(start + size).min(matching.len())];
                assert_eq!(
                    (hostnames(&got), got.page, got.total_pages, got.total_agents),
                    (expected.to_vec(), shown, last_page, total),
                    "{term:?}, page {page} of {page_size}"
                );
            }
        }
    }
}

async fn search_matches_hostname_rid_and_labels_case_insensitively(db: TestDb) {
    let store = db.open().await;
    let web = add(&store, "Web-01", &["env=prod"]).await;
    add(&store, "db-01", &["env=staging", "team=data"]).await;
    add(&store, "cache_01", &[]).await;
    add(&store, "cacheX01", &[]).await;
    assert_eq!(search(&store, "web").await, ["Web-01"]);
    assert_eq!(search(&store, "PROD").await, ["Web-01"]);
    assert_eq!(search(&store, "team=data").await, ["db-01"]);
    assert_eq!(search(&store, &web.as_str()[20..]).await, ["Web-01"]);
    // `_` and `%` are literal characters, not wildcards.
    assert_eq!(search(&store, "cache_").await, ["cache_01"]);
    assert!(search(&store, "%").await.is_empty());
    // The JSON between two labels is not searchable text.
    assert!(search(&store, "\",\"").await.is_empty());
    let none = store
        .page_agents(&query("nothing-like-this", 1))
        .await
        .unwrap();
    assert_eq!((none.total_agents, none.total_pages, none.page), (0, 1, 1));
    store.close().await;
}

async fn scope_restricts_pages_and_counts(db: TestDb) {
    let store = db.open().await;
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
    store.close().await;
}

async fn rows_without_a_resource_id_are_never_shown(db: TestDb) {
    let store = db.open().await;
    add(&store, "web", &[]).await;
    db.execute("INSERT INTO agents (hostname, resource_id, node) VALUES ('ghost', '', 'unix')")
        .await;
    let page = store.page_agents(&query("", 1)).await.unwrap();
    assert_eq!(hostnames(&page), ["web"]);
    assert_eq!(search(&store, "ghost").await, Vec::<String>::new());
    let ghost_scope = AgentScope::from_claims(&[String::new(), "ghost".to_owned()]);
    let stats = store
        .agent_stats(&ghost_scope, OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(stats.total, 0);
    assert_eq!(store.list_agent_summaries().await.unwrap().len(), 1);
    store.close().await;
}

async fn stats_count_switches_and_active_agents(db: TestDb) {
    let store = db.open().await;
    let now = datetime!(2026-11-23 12:00:00 UTC);
    let fresh = AgentRid::mint("svc");
    store
        .insert_agent(&fresh, &agent("fresh", &[], true, true))
        .await
        .unwrap();
    let old = AgentRid::mint("svc");
    store
        .insert_agent(&old, &agent("old", &[], false, true))
        .await
        .unwrap();
    let never = AgentRid::mint("svc");
    store
        .insert_agent(&never, &agent("never", &[], false, false))
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
    store.close().await;
}

async fn labels_are_searched_decoded_entry_by_entry(db: TestDb) {
    let store = db.open().await;
    // Stored by Finch as `["quote=a\"b","path=c:\\d"]`: JSON escapes.
    add(&store, "escaped", &["quote=a\"b", "path=c:\\d"]).await;
    // Stored as is: non-ASCII text needs no escape.
    add(&store, "accent", &["city=Zürich"]).await;
    add(&store, "pair", &["ab", "cd"]).await;
    add(&store, "punctuated", &["list=x,y", "idx=[1]"]).await;
    // As 1.x's encoding/json writes `&`, and a hand edit may write any character.
    add(&store, "go", &[]).await;
    db.execute(
        r#"UPDATE agents SET labels = '["team=r\u0026d","caf\u00e9"]' WHERE hostname = 'go'"#,
    )
    .await;
    // Not JSON at all: no label of it matches.
    add(&store, "broken", &[]).await;
    db.execute(r#"UPDATE agents SET labels = '["unclosed' WHERE hostname = 'broken'"#)
        .await;

    assert_eq!(search(&store, "a\"b").await, ["escaped"]);
    assert_eq!(search(&store, r"c:\d").await, ["escaped"]);
    // The backslashes of the escapes are not part of any label.
    assert!(search(&store, r#"\""#).await.is_empty());
    assert!(search(&store, r"\u").await.is_empty());
    assert!(search(&store, "u0026").await.is_empty());
    assert_eq!(search(&store, "r&d").await, ["go"]);
    assert_eq!(search(&store, "CAFé").await, ["go"]);
    // Case-insensitive for ASCII only.
    assert_eq!(search(&store, "ZüRICH").await, ["accent"]);
    assert!(search(&store, "zÜrich").await.is_empty());
    assert!(search(&store, "CAFÉ").await.is_empty());
    // Punctuation inside a label matches; the JSON around and between labels does not.
    assert_eq!(search(&store, "x,y").await, ["punctuated"]);
    assert_eq!(search(&store, "[1]").await, ["punctuated"]);
    assert_eq!(search(&store, ",").await, ["punctuated"]);
    for between in [r#"b","c"#, r#"",""#, r#"["a"#, r#"d"]"#, "[\"", "\"]"] {
        assert!(search(&store, between).await.is_empty(), "{between}");
    }
    assert_eq!(search(&store, "]").await, ["punctuated"]);
    assert_eq!(search(&store, "\"").await, ["escaped"]);
    assert!(search(&store, "unclosed").await.is_empty());
    store.close().await;
}
