//! Prometheus metrics, served on the healthz listener at `/metrics`.
//!
//! Names follow `finch_<component>_<what>_<unit>`. Labels come from closed sets (decision
//! result and reason); agent ids never become labels, so cardinality stays fixed however large
//! the fleet grows.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::directory::Directory;
use crate::version;

/// Every metric Finch exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// ForwardAuth decisions.
    pub auth: AuthMetrics,
    agents: Gauge,
}

/// Metrics of the ForwardAuth path.
#[derive(Debug, Clone)]
pub struct AuthMetrics {
    /// Decisions by result and reason.
    pub decisions: Family<AuthDecisionLabels, Counter>,
    /// Time from request to decision.
    pub duration: Histogram,
    /// `last_seen` marks dropped because the writer fell behind.
    pub liveness_dropped: Counter,
}

/// Labels of `finch_auth_requests_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AuthDecisionLabels {
    /// `allowed`, `unauthorized` (401) or `forbidden` (403); see [`AuthResult::as_str`].
    pub result: &'static str,
    /// Why: `ok`, or the refusal reason.
    pub reason: &'static str,
}

/// The outcome of a ForwardAuth check.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum AuthResult {
    /// 200.
    Allowed,
    /// 401: no valid agent credential.
    Unauthorized,
    /// 403: a valid agent asking for something it may not do.
    Forbidden,
}

/// Histogram buckets for the auth decision: from 5 µs, where a decision from memory lands, up
/// to 10 ms, far beyond anything but a stalled process.
const AUTH_BUCKETS: [f64; 12] = [
    0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005,
    0.01, 0.025,
];

// === impl AuthResult ===

impl AuthResult {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthResult::Allowed => "allowed",
            AuthResult::Unauthorized => "unauthorized",
            AuthResult::Forbidden => "forbidden",
        }
    }
}

// === impl Metrics ===

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("finch");
        let auth = AuthMetrics {
            decisions: Family::default(),
            duration: Histogram::new(AUTH_BUCKETS),
            liveness_dropped: Counter::default(),
        };
        let sub = registry.sub_registry_with_prefix("auth");
        sub.register(
            "requests",
            "ForwardAuth decisions on agent writes, by result and reason",
            auth.decisions.clone(),
        );
        sub.register(
            "request_duration_seconds",
            "Time from receiving a ForwardAuth request to its decision",
            auth.duration.clone(),
        );
        sub.register(
            "liveness_dropped",
            "Agent last-seen marks dropped because the database writer fell behind",
            auth.liveness_dropped.clone(),
        );
        let agents = Gauge::default();
        registry.register(
            "directory_agents",
            "Agents registered and known to the ForwardAuth directory",
            agents.clone(),
        );
        registry.register(
            "build",
            "The release and commit of this finch",
            Info::new(vec![
                ("release", version::RELEASE),
                ("commit", version::COMMIT),
            ]),
        );
        Metrics {
            registry,
            auth,
            agents,
        }
    }

    /// Renders every metric in the Prometheus text format, reading the live agent count first.
    pub fn render(&self, directory: &Directory) -> String {
        self.agents.set(directory.len() as i64);
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}
