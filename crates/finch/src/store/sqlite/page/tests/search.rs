//! The search's index and its exactness: counts and searches read the narrow index, and the
//! search text gives the answers of the fields themselves, whatever the labels column holds.

use super::*;

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
    let Store::Sqlite(sqlite) = &store else {
        panic!("a SQLite store expected")
    };
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
    let Store::Sqlite(sqlite) = store else {
        panic!("a SQLite store expected")
    };
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
    let Store::Sqlite(sqlite) = store else {
        panic!("a SQLite store expected")
    };
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
    let Store::Sqlite(sqlite) = &store else {
        panic!("a SQLite store expected")
    };
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
    let Store::Sqlite(sqlite) = &store else {
        panic!("a SQLite store expected")
    };
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
