//! The `WHERE` clause of a dashboard read on PostgreSQL: visible rows, in a scope, matching a
//! search, with the same answers as SQLite's (`sqlite/page/filter.rs`).
//!
//! - **Case:** SQLite's `LIKE` folds ASCII letters only, whatever the locale; `ILIKE` would fold
//!   `Ü` too under most collations. So both sides are folded with `translate` over `A`–`Z`
//!   and compared with `LIKE`, which depends on no locale.
//! - **Exact on JSON:** labels match entry by entry, decoded, never across the JSON between
//!   them. A visible agent's search text (in `finch_agent_search`, kept by triggers, see
//!   `schema.rs`) holds hostname, resource id and each decoded label entry on lines of their
//!   own, so a term without a newline found in it is found in one field. A term with a newline
//!   is matched field by field ([`MATCHES_FIELDS`]).
//! - **Indexed:** the search texts have a trigram index, so a term of three characters or more
//!   seeks instead of reading every row, and the rows read are compared by one `LIKE` on stored
//!   text.
//!
//! Scope and search are bound parameters, never spliced into the SQL: `$1` the search pattern,
//! `$2` the scope's entries as a `text[]`. Statements number their own parameters from `$3`.

use crate::store::page::{AgentScope, like_pattern};

/// Rows the dashboard shows: those with a resource id, the rows that have a search text.
pub(super) const VISIBLE: &str = "resource_id <> ''";

/// Rows whose search text contains the folded pattern `$1`.
const MATCHES_SEARCH_TEXT: &str =
    "id IN (SELECT agent_id FROM finch_agent_search WHERE search LIKE $1)";

/// The search, field by field, for the folded pattern `$1`: hostname, resource id, or one entry
/// of the labels array, decoded.
const MATCHES_FIELDS: &str = "(translate(hostname, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', \
     'abcdefghijklmnopqrstuvwxyz') LIKE $1 \
     OR translate(resource_id, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') LIKE $1 \
     OR EXISTS (SELECT 1 FROM finch_label_entries(labels) AS entry(value) \
     WHERE translate(entry.value, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') \
     LIKE $1))";

/// The scope restriction, reading the `text[]` `$2`.
const IN_SCOPE: &str = "(resource_id = ANY($2) OR hostname = ANY($2))";

/// Where a dashboard read finds its rows: a table, its agent id column and a `WHERE` clause, with
/// the clause's two parameters. An unscoped search reads the search texts alone: they are only
/// the visible agents', so neither the join nor the wider rows of `agents` are needed to count
/// the matches or to walk to a page.
pub(super) struct Filter {
    /// The table read.
    pub(super) table: &'static str,
    /// Its column holding the agent's `id`.
    pub(super) id: &'static str,
    /// The clause, without `WHERE`.
    pub(super) sql: String,
    /// `$1`: the search as a folded, escaped `LIKE` pattern (empty without a search).
    pub(super) pattern: String,
    /// `$2`: the scope's entries (empty for every agent).
    pub(super) scope: Vec<String>,
}

// === impl Filter ===

impl Filter {
    /// Rows of a dashboard page: as [`Filter::new`], except that every visible agent (no scope,
    /// no search) is read from the search texts too. They hold exactly the visible agents, in a
    /// table a fraction of the width of `agents`, so counting the fleet reads far fewer pages.
    pub(super) fn for_page(scope: &AgentScope, term: Option<&str>) -> Filter {
        match (scope, term) {
            (AgentScope::All, None) => Filter {
                table: "finch_agent_search",
                id: "agent_id",
                sql: "true".to_owned(),
                pattern: String::new(),
                scope: Vec::new(),
            },
            _ => Filter::new(scope, term),
        }
    }

    /// Visible rows in `scope` that contain `term` (already trimmed), if any.
    pub(super) fn new(scope: &AgentScope, term: Option<&str>) -> Filter {
        let pattern = term.map_or_else(String::new, |t| like_pattern(&t.to_ascii_lowercase()));
        match (scope, term) {
            (AgentScope::All, Some(term)) if !term.contains('\n') => Filter {
                table: "finch_agent_search",
                id: "agent_id",
                sql: "search LIKE $1".to_owned(),
                pattern,
                scope: Vec::new(),
            },
            _ => {
                let mut sql = VISIBLE.to_owned();
                if let Some(term) = term {
                    sql.push_str(" AND ");
                    sql.push_str(if term.contains('\n') {
                        MATCHES_FIELDS
                    } else {
                        MATCHES_SEARCH_TEXT
                    });
                }
                let scope = match scope {
                    AgentScope::All => Vec::new(),
                    AgentScope::Only(entries) => {
                        sql.push_str(" AND ");
                        sql.push_str(IN_SCOPE);
                        entries.clone()
                    }
                };
                Filter {
                    table: "agents",
                    id: "id",
                    sql,
                    pattern,
                    scope,
                }
            }
        }
    }
}

/// `expr` with ASCII letters lowercased, as [`MATCHES_FIELDS`] and `finch_search_text` fold.
#[cfg(test)]
fn fold(expr: &str) -> String {
    format!("translate({expr}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_folded_the_same_way() {
        assert!(MATCHES_FIELDS.contains(&fold("hostname")));
        assert!(MATCHES_FIELDS.contains(&fold("resource_id")));
        assert!(MATCHES_FIELDS.contains(&fold("entry.value")));
    }

    #[test]
    fn scope_and_search_are_parameters() {
        let filter = Filter::new(&AgentScope::Only(vec!["web'--".to_owned()]), Some("A%b"));
        assert!(!filter.sql.contains("web'--"));
        assert_eq!(filter.pattern, r"%a\%b%");
        assert_eq!(filter.scope, ["web'--"]);
    }
}
