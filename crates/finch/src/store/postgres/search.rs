//! The `WHERE` clause of a dashboard read on PostgreSQL: visible rows, in a scope, matching a
//! search, with the same answers as SQLite's (`sqlite/page/filter.rs`).
//!
//! - **Case:** SQLite's `LIKE` folds ASCII letters only, whatever the locale; `ILIKE` would fold
//!   `Ü` too under most collations. So both sides are folded with `translate` over `A`–`Z`
//!   ([`fold`]) and compared with `LIKE`, which depends on no locale.
//! - **Exact on JSON:** labels match entry by entry, decoded, never across the JSON between
//!   them. A row's search text ([`SEARCH_TEXT`]) holds hostname, resource id and each label
//!   entry on lines of their own, so a term without a newline found in it is found in one field.
//!   It exists when the labels are *plain* (no escapes or control characters, every entry a
//!   string), where splitting at `","` decodes them. Other rows, and terms with a newline, are
//!   matched field by field through `finch_label_entries` ([`MATCHES_FIELDS`]).
//! - **Indexed:** the search text is the expression of a trigram index (see `schema.rs`), so a
//!   term of three characters or more seeks instead of reading every row.
//!
//! Scope and search are bound parameters, never spliced into the SQL: `$1` the search pattern,
//! `$2` the scope's entries as a `text[]`. Statements number their own parameters from `$3`.

use crate::store::page::{AgentScope, like_pattern};

/// Rows the dashboard shows: those with a resource id. Also the condition of the search indexes.
pub(super) const VISIBLE: &str = "resource_id <> ''";

/// A row's search text, folded; `NULL` when its labels are not plain. The expression of the
/// trigram index, so a query must use this exact text for PostgreSQL to use the index.
pub(super) const SEARCH_TEXT: &str = "translate(CASE \
     WHEN labels IS NULL OR labels IN ('', '[]') THEN hostname || E'\\n' || resource_id \
     WHEN labels ~ '^\\[\"[^\"\\\\[:cntrl:]]*\"(,\"[^\"\\\\[:cntrl:]]*\")*\\]$' \
     THEN hostname || E'\\n' || resource_id || E'\\n' || \
     replace(substr(labels, 3, length(labels) - 4), '\",\"', E'\\n') END, \
     'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')";

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

/// A `WHERE` clause over `agents` and its two parameters.
pub(super) struct Filter {
    /// The clause, without `WHERE`.
    pub(super) sql: String,
    /// `$1`: the search as a folded, escaped `LIKE` pattern (empty without a search).
    pub(super) pattern: String,
    /// `$2`: the scope's entries (empty for every agent).
    pub(super) scope: Vec<String>,
}

// === impl Filter ===

impl Filter {
    /// Visible rows in `scope` that contain `term` (already trimmed), if any.
    pub(super) fn new(scope: &AgentScope, term: Option<&str>) -> Filter {
        let mut sql = VISIBLE.to_owned();
        let mut pattern = String::new();
        if let Some(term) = term {
            pattern = like_pattern(&term.to_ascii_lowercase());
            sql.push_str(&if term.contains('\n') {
                format!(" AND {MATCHES_FIELDS}")
            } else {
                format!(
                    " AND ({SEARCH_TEXT} LIKE $1 OR ({SEARCH_TEXT} IS NULL AND {MATCHES_FIELDS}))"
                )
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
            sql,
            pattern,
            scope,
        }
    }
}

/// `expr` with ASCII letters lowercased, as [`SEARCH_TEXT`] and [`MATCHES_FIELDS`] fold.
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
