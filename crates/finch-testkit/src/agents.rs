//! Agent specs for tests: the validated [`AgentSpec`] the registry takes, and the
//! [`RegisterAgentRequest`] a client sends.

use finch::agents::{AgentSpec, LogSource, Node};
use finch_api::RegisterAgentRequest;

/// A valid Unix agent reading the journal, with the given switches and no labels.
pub fn agent_spec(hostname: &str, metrics: bool, profiles: bool) -> AgentSpec {
    AgentSpec {
        hostname: hostname.to_owned(),
        node: Node::Unix,
        log_sources: vec![LogSource::Journal],
        metrics,
        metrics_targets: Vec::new(),
        profiles,
        labels: Vec::new(),
    }
}

/// [`agent_spec`] with metrics on and the label `env=test`, as the dashboard shows agents.
pub fn labelled_spec(hostname: &str) -> AgentSpec {
    AgentSpec {
        labels: vec!["env=test".to_owned()],
        ..agent_spec(hostname, true, false)
    }
}

/// A registration using every field: two labels, two log sources, a metrics target, profiles.
pub fn registration(hostname: &str) -> RegisterAgentRequest {
    RegisterAgentRequest {
        hostname: hostname.into(),
        labels: vec!["env=prod".into(), "canary".into()],
        log_sources: vec!["journal://".into(), "file:///var/log/nginx/*.log".into()],
        metrics: true,
        metrics_targets: vec!["https://app.example.com:8443/stats?format=prom".into()],
        profiles: true,
        node: "unix".into(),
    }
}
