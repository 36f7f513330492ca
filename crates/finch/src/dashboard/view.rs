//! What the page shows, as JSON: agents with their liveness, the counters, the endpoints.
//!
//! # Liveness
//!
//! `/auth` records `last_seen` at most once per agent every 30 s
//! ([`crate::liveness::MARK_INTERVAL_SECS`]), stamped with the time of the request; the write
//! waits up to 5 s in its queue (some seconds more while a whole fleet's first marks after a
//! restart are spread out, see [`crate::liveness`]). A healthy Alloy pushes logs every few seconds and metrics at least once a minute (its
//! default scrape interval). An agent is therefore **active** if seen within
//! [`ACTIVE_WITHIN`] (2 minutes: the 60 s scrape interval plus the 30 s mark interval and the
//! 5 s write, with room for one late push), **stale** if seen longer ago, and **never seen** if `/auth` has
//! not let any of its requests through.

use serde::Serialize;
use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Duration, OffsetDateTime, UtcOffset};

use crate::agents::Agent;
use crate::config::FinchConfig;
use crate::store::{AgentPage, AgentStats};

/// Seen within this long ago: active. See the module docs for why 2 minutes.
pub const ACTIVE_WITHIN: Duration = Duration::minutes(2);

/// 1.x's `Registered` format, shown in UTC.
const REGISTERED: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");

/// An agent's liveness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Liveness {
    /// Seen within [`ACTIVE_WITHIN`].
    Active,
    /// Seen, but longer ago.
    Stale,
    /// Never seen.
    NeverSeen,
}

/// One agent on the page.
#[derive(Debug, Clone, Serialize)]
pub struct AgentView {
    /// Resource id.
    pub rid: String,
    /// Host name.
    pub hostname: String,
    /// `unix` or `windows`.
    pub node: &'static str,
    /// Labels as stored (`key=value` or `key`).
    pub labels: Vec<String>,
    /// Log sources in their input form (`journal://`, `file:///var/log/x.log`).
    pub log_sources: Vec<String>,
    /// Pushes metrics.
    pub metrics: bool,
    /// Extra scrape targets.
    pub metrics_targets: Vec<String>,
    /// Pushes profiles.
    pub profiles: bool,
    /// `YYYY-MM-DD HH:MM:SS` (UTC), if known.
    pub registered_at: Option<String>,
    /// RFC 3339 (UTC), if ever seen.
    pub last_seen: Option<String>,
    /// Derived from `last_seen`.
    pub liveness: Liveness,
}

/// The `agents` message's data.
#[derive(Debug, Clone, Serialize)]
pub struct AgentsView {
    /// This page's agents.
    pub agents: Vec<AgentView>,
    /// The page shown.
    pub page: u32,
    /// Pages in all.
    pub total_pages: u32,
    /// Matching agents in all.
    pub total_agents: u64,
    /// Agents per page.
    pub page_size: u32,
    /// The search applied.
    pub search: String,
}

/// The `stats` message's data.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct StatsView {
    /// Agents in scope.
    pub total_agents: u64,
    /// Agents seen within [`ACTIVE_WITHIN`].
    pub active_agents: u64,
    /// Agents pushing metrics.
    pub metrics_enabled: u64,
    /// Agents pushing profiles.
    pub profiles_enabled: u64,
}

/// The `endpoints` message's data: where agents and people reach the stack.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointsView {
    /// Grafana.
    pub grafana: String,
    /// Loki's push API.
    pub loki: String,
    /// Mimir's push API.
    pub mimir: String,
    /// Pyroscope.
    pub pyroscope: String,
}

// === impl Liveness ===

impl Liveness {
    /// The state of an agent last seen at `last_seen`, at `now`.
    pub fn at(last_seen: Option<OffsetDateTime>, now: OffsetDateTime) -> Liveness {
        match last_seen {
            None => Liveness::NeverSeen,
            Some(seen) if now - seen <= ACTIVE_WITHIN => Liveness::Active,
            Some(_) => Liveness::Stale,
        }
    }
}

// === impl AgentView ===

impl AgentView {
    /// The view of `agent` at `now`.
    pub fn new(agent: &Agent, now: OffsetDateTime) -> AgentView {
        AgentView {
            rid: agent.rid.as_str().to_owned(),
            hostname: agent.hostname.clone(),
            node: agent.node.as_str(),
            labels: agent.labels.clone(),
            log_sources: agent.log_sources.iter().map(ToString::to_string).collect(),
            metrics: agent.metrics,
            metrics_targets: agent.metrics_targets.clone(),
            profiles: agent.profiles,
            registered_at: agent
                .registered_at
                .and_then(|at| at.to_offset(UtcOffset::UTC).format(REGISTERED).ok()),
            last_seen: agent
                .last_seen
                .and_then(|at| at.to_offset(UtcOffset::UTC).format(&Rfc3339).ok()),
            liveness: Liveness::at(agent.last_seen, now),
        }
    }
}

// === impl AgentsView ===

impl AgentsView {
    /// The view of a page.
    pub fn new(page: &AgentPage, page_size: u32, search: &str, now: OffsetDateTime) -> Self {
        AgentsView {
            agents: page.agents.iter().map(|a| AgentView::new(a, now)).collect(),
            page: page.page,
            total_pages: page.total_pages,
            total_agents: page.total_agents,
            page_size,
            search: search.to_owned(),
        }
    }
}

// === impl StatsView ===

impl From<AgentStats> for StatsView {
    fn from(stats: AgentStats) -> StatsView {
        StatsView {
            total_agents: stats.total,
            active_agents: stats.active,
            metrics_enabled: stats.metrics,
            profiles_enabled: stats.profiles,
        }
    }
}

// === impl EndpointsView ===

impl EndpointsView {
    /// The endpoints of the stack `config` describes, as 1.x lists them, with the stack's
    /// HTTPS port when it is not 443.
    pub fn new(config: &FinchConfig) -> EndpointsView {
        EndpointsView {
            grafana: config.public_url("/grafana"),
            loki: config.public_url("/loki/loki/api/v1/push"),
            mimir: config.public_url("/mimir/api/v1/push"),
            pyroscope: config.public_url("/pyroscope"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn liveness_thresholds() {
        let now = datetime!(2026-11-23 12:00:00 UTC);
        assert_eq!(Liveness::at(None, now), Liveness::NeverSeen);
        assert_eq!(Liveness::at(Some(now), now), Liveness::Active);
        assert_eq!(
            Liveness::at(Some(now - Duration::seconds(120)), now),
            Liveness::Active
        );
        assert_eq!(
            Liveness::at(Some(now - Duration::seconds(121)), now),
            Liveness::Stale
        );
    }

    #[test]
    fn endpoints_carry_the_https_port_unless_it_is_443() {
        let mut config = FinchConfig::generate(
            std::path::PathBuf::from("/x"),
            "finch.example.com",
            "sqlite://finch.db",
            OffsetDateTime::UNIX_EPOCH,
        )
        .expect("generates");
        let endpoints = EndpointsView::new(&config);
        assert_eq!(endpoints.grafana, "https://finch.example.com/grafana");
        assert_eq!(
            endpoints.loki,
            "https://finch.example.com/loki/loki/api/v1/push"
        );
        config.https_port = 8443;
        let endpoints = EndpointsView::new(&config);
        assert_eq!(endpoints.grafana, "https://finch.example.com:8443/grafana");
        assert_eq!(
            endpoints.loki,
            "https://finch.example.com:8443/loki/loki/api/v1/push"
        );
        assert_eq!(
            endpoints.mimir,
            "https://finch.example.com:8443/mimir/api/v1/push"
        );
        assert_eq!(
            endpoints.pyroscope,
            "https://finch.example.com:8443/pyroscope"
        );
    }
}
