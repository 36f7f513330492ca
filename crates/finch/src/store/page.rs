//! One page of agents and the fleet's counters, for the dashboard: the request and the answer,
//! the same for every backend, and the search and paging rules they share.
//!
//! Finch 1.x listed every agent, filtered and paged in memory and then read each agent again (one
//! query per agent) on every refresh of every open dashboard. Here the database does the work: a
//! page is one pass over the matching agents that yields their count and the ids of the page (in
//! a few statements of one read transaction), then the page's rows by id, and the counters are
//! one aggregate query. Both honour the dashboard token's scope in SQL. Each backend decides how
//! (SQLite in `sqlite/page.rs`).

use crate::agents::Agent;

/// Which agents a dashboard may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentScope {
    /// Every agent (a token whose scope is empty or absent).
    All,
    /// Agents whose resource id or hostname equals one of these entries exactly. Empty entries
    /// are dropped: an empty resource id matches nothing, and a scope of only empty entries is
    /// still a restriction that matches no agent.
    Only(Vec<String>),
}

/// A request for one page of agents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentQuery {
    /// Which agents are visible.
    pub scope: AgentScope,
    /// Case-insensitive (ASCII) substring of the hostname, resource id or any label; empty for
    /// no filter.
    pub search: String,
    /// The page wanted, from 1; clamped to the last page.
    pub page: u32,
    /// Agents per page, at least 1.
    pub page_size: u32,
}

/// Where the page a query asks for lies among the matching agents, as every backend pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::store) struct PageWindow {
    /// The page returned: the one asked for, clamped to `1..=total_pages`.
    pub(in crate::store) page: u32,
    /// How many pages the matches fill; at least 1.
    pub(in crate::store) total_pages: u32,
    /// The position among the matches of the page's first row.
    pub(in crate::store) start: u64,
    /// The position after the page's last row (`start` for an empty page).
    pub(in crate::store) end: u64,
    /// How many agents match.
    pub(in crate::store) total: u64,
}

/// One page of agents, in registration order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentPage {
    /// The agents on this page.
    pub agents: Vec<Agent>,
    /// The page returned (the one asked for, clamped to `1..=total_pages`).
    pub page: u32,
    /// How many pages the matching agents fill; at least 1.
    pub total_pages: u32,
    /// How many agents match the scope and search.
    pub total_agents: u64,
}

/// Counters over the agents in a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AgentStats {
    /// Agents in scope.
    pub total: u64,
    /// Of those, how many push metrics.
    pub metrics: u64,
    /// Of those, how many push profiles.
    pub profiles: u64,
    /// Of those, how many were last seen at or after the `active_since` given.
    pub active: u64,
}

// === impl PageWindow ===

impl PageWindow {
    /// The window of the page `query` asks for, among `total` matches.
    pub(in crate::store) fn new(query: &AgentQuery, total: u64) -> PageWindow {
        let total_pages = total_pages(total, query.page_size);
        let page = query.page.clamp(1, total_pages);
        let size = u64::from(query.page_size.max(1));
        let start = u64::from(page - 1) * size;
        PageWindow {
            page,
            total_pages,
            start,
            end: (start + size).min(total),
            total,
        }
    }

    /// The answer: the window with the page's agents.
    pub(in crate::store) fn answer(self, agents: Vec<Agent>) -> AgentPage {
        AgentPage {
            agents,
            page: self.page,
            total_pages: self.total_pages,
            total_agents: self.total,
        }
    }
}

// === impl AgentStats ===

impl AgentStats {
    /// The counters from a backend's four counts, in field order. A database never counts below
    /// zero; should one, the count reads as 0 rather than wrapping.
    pub(in crate::store) fn from_counts(
        (total, metrics, profiles, active): (i64, i64, i64, i64),
    ) -> AgentStats {
        let count = |value: i64| u64::try_from(value).unwrap_or(0);
        AgentStats {
            total: count(total),
            metrics: count(metrics),
            profiles: count(profiles),
            active: count(active),
        }
    }
}

// === impl AgentScope ===

impl AgentScope {
    /// The scope of a dashboard token's list: empty means every agent.
    pub fn from_claims(scope: &[String]) -> AgentScope {
        if scope.is_empty() {
            AgentScope::All
        } else {
            AgentScope::Only(scope.iter().filter(|s| !s.is_empty()).cloned().collect())
        }
    }

    /// Whether an agent with `rid` and `hostname` is visible. An empty resource id never
    /// matches a restricted scope.
    pub fn allows(&self, rid: &str, hostname: &str) -> bool {
        match self {
            AgentScope::All => true,
            AgentScope::Only(entries) => entries
                .iter()
                .any(|e| (!rid.is_empty() && e == rid) || (!hostname.is_empty() && e == hostname)),
        }
    }
}

// === impl AgentQuery ===

impl AgentQuery {
    /// The search without surrounding whitespace, or `None` for no filter.
    pub(in crate::store) fn search_term(&self) -> Option<&str> {
        Some(self.search.trim()).filter(|term| !term.is_empty())
    }
}

/// `term` as a `LIKE` pattern for a substring, with `\` as the escape character.
pub(in crate::store) fn like_pattern(term: &str) -> String {
    let mut pattern = String::with_capacity(term.len() + 2);
    pattern.push('%');
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Pages needed for `total` items at `page_size` per page: at least one.
pub(in crate::store) fn total_pages(total: u64, page_size: u32) -> u32 {
    let size = u64::from(page_size.max(1));
    u32::try_from(total.div_ceil(size).max(1)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(search: &str) -> AgentQuery {
        AgentQuery {
            scope: AgentScope::All,
            search: search.to_owned(),
            page: 1,
            page_size: 5,
        }
    }

    #[test]
    fn search_terms_are_trimmed_and_like_patterns_escape_wildcards() {
        assert_eq!(query("").search_term(), None);
        assert_eq!(query("  ").search_term(), None);
        assert_eq!(query(" web\t").search_term(), Some("web"));
        assert_eq!(like_pattern("web"), "%web%");
        assert_eq!(like_pattern(r"50%_a\b"), r"%50\%\_a\\b%");
    }

    #[test]
    fn scope_matches_rid_or_hostname_exactly() {
        let scope = AgentScope::from_claims(&["web-01".into(), "rid:finch:x:agent:1".into()]);
        assert!(scope.allows("rid:finch:x:agent:9", "web-01"));
        assert!(scope.allows("rid:finch:x:agent:1", "db"));
        assert!(!scope.allows("rid:finch:x:agent:2", "WEB-01"));
        assert!(!scope.allows("rid:finch:x:agent:2", "web"));
        // "all" is not special, and an empty entry or rid matches nothing.
        assert!(!AgentScope::from_claims(&["all".into()]).allows("rid:a", "web"));
        let empty_entry = AgentScope::from_claims(&[String::new()]);
        assert_eq!(empty_entry, AgentScope::Only(Vec::new()));
        assert!(!empty_entry.allows("", ""));
        assert!(AgentScope::from_claims(&[]).allows("rid:a", "web"));
    }

    #[test]
    fn page_counts() {
        assert_eq!(total_pages(0, 5), 1);
        assert_eq!(total_pages(5, 5), 1);
        assert_eq!(total_pages(6, 5), 2);
        assert_eq!(total_pages(6, 0), 6);
    }
}
