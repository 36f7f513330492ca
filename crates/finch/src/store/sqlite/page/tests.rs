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
    let names: Vec<String> = (1..=count)
        .map(|n| format!("{}-{n:04}", if n % 3 == 0 { "odd" } else { "plain" }))
        .collect();
    for name in &names {
        add(store, name, &[]).await;
    }
    for term in ["", "odd", "plain-1", "nowhere"] {
        let matching: Vec<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|name| name.contains(term))
            .collect();
        let total = u64::try_from(matching.len()).unwrap();
        for page_size in [1_u32, 3, 7, 1000, 1001] {
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

#[tokio::test]
async fn pages_and_counters_read_in_parts_are_those_read_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = split_store(dir.path(), 3).await;
    let Store::Sqlite(sqlite) = &store;
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

/// The rows of an `EXPLAIN` statement over `filter`.
async fn explain(
    pool: &sqlx::SqlitePool,
    filter: &Filter,
    sql: &str,
) -> Vec<sqlx::sqlite::SqliteRow> {
    sqlx::query_with(sql, filter.arguments(IdRange::default()).unwrap())
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn counts_and_searches_read_the_search_index() {
    let store = store().await;
    let Store::Sqlite(sqlite) = &store;
    let scope = AgentScope::from_claims(&["web".to_owned()]);
    for (scope, term) in [
        (&AgentScope::All, None),
        (&AgentScope::All, Some("web")),
        (&AgentScope::All, Some("a\",\"b")),
        (&scope, Some("web")),
    ] {
        let filter = Filter::new(scope, term).unwrap();
        // As a page reads: the head from the first row, the count after its last id, and both
        // within the bounds of a part.
        let part = IdRange {
            after: Some(1),
            through: Some(9),
        };
        for sql in [
            filter.ids_sql(IdRange::ALL, Walk::Up),
            filter.count_sql(IdRange::ALL.after(1)),
            filter.ids_sql(part, Walk::Up),
            filter.count_sql(part),
        ] {
            let plan: Vec<String> =
                explain(&sqlite.pool, &filter, &format!("EXPLAIN QUERY PLAN {sql}"))
                    .await
                    .iter()
                    .map(|row| row.get("detail"))
                    .collect();
            assert!(
                plan.iter()
                    .any(|step| step.contains("INDEX finch_agents_search")),
                "{term:?}: {plan:?}"
            );
            // The search text comes out of the index: the functions that compute it never run.
            // (SQLite substitutes an indexed expression only where the query spells it the same.)
            let functions: Vec<String> = explain(&sqlite.pool, &filter, &format!("EXPLAIN {sql}"))
                .await
                .iter()
                .filter(|op| op.get::<String, _>("opcode") == "Function")
                .filter_map(|op| {
                    op.try_get_unchecked::<Option<String>, _>("p4")
                        .ok()
                        .flatten()
                })
                .collect();
            assert!(
                !functions.iter().any(|f| f.starts_with("replace(")),
                "{term:?}: {functions:?}"
            );
        }
    }
}

/// Characters that stress the search: JSON punctuation and escapes, spaces, control characters
/// (NUL ends a string for `LIKE` but not for every function), non-ASCII, letters in both cases,
/// parts of numbers and `LIKE` wildcards.
const TRICKY: [char; 19] = [
    'a', 'B', 'é', '"', '\\', ',', '[', ']', '{', ':', ' ', '\t', '\u{0}', '\u{1}', '1', 'e', '.',
    '%', '_',
];

fn tricky_text(max: usize) -> impl Strategy<Value = String> + Clone {
    prop::collection::vec(prop::sample::select(TRICKY.as_slice()), 0..=max)
        .prop_map(|chars| chars.into_iter().collect())
}

/// A labels column as anyone may have written it: Finch's JSON, JSON with every non-alphanumeric
/// character escaped (as 1.x escapes `&`, `<` and `>`), JSON with spaces, labels joined without
/// escaping (invalid when one holds `"`, `\` or a control character), other JSON values, or any
/// text; also `NULL` and blobs.
fn raw_labels() -> impl Strategy<Value = Option<(String, bool)>> {
    let labels = prop::collection::vec(tricky_text(4), 0..3);
    let text = prop_oneof![
        labels
            .clone()
            .prop_map(|l| serde_json::to_string(&l).unwrap()),
        labels.clone().prop_map(|l| {
            let escaped: Vec<String> = l
                .iter()
                .map(|label| {
                    label
                        .chars()
                        .map(|c| {
                            if c.is_ascii_alphanumeric() {
                                c.to_string()
                            } else {
                                format!("\\u{:04x}", u32::from(c))
                            }
                        })
                        .collect()
                })
                .collect();
            format!("[\"{}\"]", escaped.join("\",\""))
        }),
        labels.clone().prop_map(|l| {
            let quoted: Vec<String> = l
                .iter()
                .map(|s| serde_json::to_string(s).unwrap())
                .collect();
            format!("[ {} ]", quoted.join(" , "))
        }),
        labels.prop_map(|l| format!("[\"{}\"]", l.join("\",\""))),
        prop::sample::select(vec![
            "",
            "[]",
            "null",
            "[\"a\"",
            "[1e5,true,null]",
            "[[\"a\" ,\"b\"],{\"a\":1}]",
            "[1.50,-0]",
        ])
        .prop_map(str::to_owned),
        tricky_text(8),
    ];
    prop::option::weighted(0.9, (text, prop::bool::weighted(0.25)))
}

/// The ids of the visible rows that match `term` field by field: what a search means.
async fn matching_fields(store: &Store, term: &str) -> Vec<i64> {
    let Store::Sqlite(sqlite) = store;
    let sql = format!("SELECT id FROM agents WHERE {VISIBLE} AND {MATCHES_FIELDS} ORDER BY id");
    sqlx::query_scalar(&sql)
        .bind(None::<String>)
        .bind(like_pattern(term))
        .fetch_all(&sqlite.pool)
        .await
        .unwrap()
}

/// The ids the dashboard's filter finds for `term`, with its count.
async fn filtered(store: &Store, term: &str) -> (Vec<i64>, u64) {
    let Store::Sqlite(sqlite) = store;
    let filter = Filter::new(&AgentScope::All, Some(term)).unwrap();
    let mut conn = sqlite.pool.acquire().await.unwrap();
    let range = IdRange::default();
    let ids = filter
        .ids(&mut conn, range, Walk::Up, 1000, 0)
        .await
        .unwrap();
    let count = filter.count(&mut conn, range).await.unwrap();
    (ids, count)
}

#[tokio::test]
async fn odd_label_columns_get_the_answers_of_the_fields() {
    let store = store().await;
    let Store::Sqlite(sqlite) = &store;
    // Each is kept out of the search text by one of its conditions, or is read by SQLite's JSON
    // functions as something other than its text.
    let odd = [
        "CAST('[\"ab\",\"cd\"]' AS BLOB)",
        "CAST('[\"ab\"]' AS BLOB)",
        "'[\"ab\"' || char(0) || ',\"cd\"]'",
        "'[\"a' || char(9) || 'b\",\"cd\"]'",
        "'[\"ab\",\"c\\u0064\"]'",
        "'[\"ab\", \"cd\"]'",
        "'[\"ab\",\"c,d\"]'",
        "'[\"ab\",\"cd\"'",
        "'[\"ab\"\"cd\"]'",
        "'[1e5,true,[\"ab\" ,\"cd\"]]'",
        "'null'",
    ];
    for (n, labels) in odd.iter().enumerate() {
        sqlx::query(&format!(
            "INSERT INTO agents (hostname, resource_id, labels, node) \
             VALUES ('h{n}', 'r{n}', {labels}, 'unix')"
        ))
        .execute(&sqlite.pool)
        .await
        .unwrap();
    }
    for term in ["ab", "cd", "c,d", "b\"", "100000", "[", "1"] {
        let expected = matching_fields(&store, term).await;
        let count = u64::try_from(expected.len()).unwrap();
        assert_eq!(filtered(&store, term).await, (expected, count), "{term}");
    }
}

/// A row for the property test: hostname, resource id, and the labels column with whether it is
/// stored as a blob.
type RawRow = (String, String, Option<(String, bool)>);

/// Stores `rows`, then checks that each of `terms` finds what the fields hold, with the search
/// index and without it.
async fn check_search(rows: &[RawRow], terms: &[String]) -> Result<(), TestCaseError> {
    let store = store().await;
    let Store::Sqlite(sqlite) = &store;
    for (n, (host, rid, labels)) in rows.iter().enumerate() {
        // Every fifth row has no resource id, and is never found.
        let rid = if n % 5 == 4 {
            String::new()
        } else {
            format!("rid:{n}{rid}")
        };
        let (labels, blob) = labels.clone().unzip();
        let value = if blob == Some(true) {
            "CAST(? AS BLOB)"
        } else {
            "?"
        };
        sqlx::query(&format!(
            "INSERT INTO agents (hostname, resource_id, labels, node) \
             VALUES (?, ?, {value}, 'unix')"
        ))
        .bind(format!("h{n}{host}"))
        .bind(rid)
        .bind(labels)
        .execute(&sqlite.pool)
        .await
        .unwrap();
    }
    let terms: Vec<&str> = terms
        .iter()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .collect();
    for indexed in [true, false] {
        if !indexed {
            sqlx::query("DROP INDEX finch_agents_search")
                .execute(&sqlite.pool)
                .await
                .unwrap();
        }
        for term in &terms {
            let expected = matching_fields(&store, term).await;
            let count = u64::try_from(expected.len()).unwrap();
            prop_assert_eq!(
                filtered(&store, term).await,
                (expected, count),
                "{:?} in {:?}, indexed: {}",
                term,
                rows,
                indexed
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever the rows hold, the search text and its index give the answers of the field by
    /// field search.
    #[test]
    fn search_finds_what_the_fields_hold(
        rows in prop::collection::vec((tricky_text(3), tricky_text(3), raw_labels()), 1..6),
        terms in prop::collection::vec(tricky_text(3), 1..5),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(check_search(&rows, &terms))?;
    }
}
