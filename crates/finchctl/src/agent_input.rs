//! An agent's settings as the operator states them, and as the service stores them.
//!
//! [`AgentInput`] is what was *given*, raw and unchecked: every field optional, filled from `--agent.file` (YAML,
//! JSON or TOML with 1.x's keys) and then from flags, a flag winning only when it was given.
//! [`AgentSettings`] is the complete state the gRPC API sends. Registering applies a spec to the
//! defaults; editing applies it to the agent as the service returns it, so fields that were not
//! given stay as they were (1.x replaced everything, and ignored the edit flags: B2).
//! Log sources travel as 1.x's URIs: `journal://`, `docker://`, `file://<path>`, `event://<name>`;
//! they are read and written by `finch-agent-spec`'s [`LogSource`], the service's own parser. The
//! validated spec the service builds from all this is `finch_agent_spec::AgentSpec`.

use std::collections::BTreeMap;
use std::path::Path;

use finch_agent_spec::LogSource;
use serde::{Deserialize, Serialize};

use crate::output::Problem;

/// What the operator gave, from the agent file and flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentInput {
    /// `hostname`.
    pub hostname: Option<String>,
    /// `agent.node`: `unix` or `windows`.
    pub node: Option<String>,
    /// `rid` (edit only).
    pub rid: Option<String>,
    /// `logs.journal.enable`.
    pub journal: Option<bool>,
    /// `logs.docker.enable`.
    pub docker: Option<bool>,
    /// `logs.files`.
    pub files: Option<Vec<String>>,
    /// `logs.events`.
    pub events: Option<Vec<String>>,
    /// `metrics.enable`.
    pub metrics: Option<bool>,
    /// `metrics.targets`.
    pub metrics_targets: Option<Vec<String>>,
    /// `profiles.enable`.
    pub profiles: Option<bool>,
    /// `labels`: `key` or `key=value`.
    pub labels: Option<Vec<String>>,
    /// `hosts` (enroll only): a target as written on the command line → the agent's hostname.
    pub hosts: Option<BTreeMap<String, String>>,
}

/// An agent's complete settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AgentSettings {
    /// Labels, `key` or `key=value`.
    pub labels: Vec<String>,
    /// Collect the systemd journal.
    pub journal: bool,
    /// Collect Docker container logs.
    pub docker: bool,
    /// Log files (globs allowed), absolute paths on the agent host.
    pub files: Vec<String>,
    /// Windows event log names.
    pub events: Vec<String>,
    /// Collect metrics.
    pub metrics: bool,
    /// Extra Prometheus scrape targets.
    pub metrics_targets: Vec<String>,
    /// Receive profiles.
    pub profiles: bool,
}

#[derive(Debug, Default, Deserialize)]
struct FileSpec {
    hostname: Option<String>,
    rid: Option<String>,
    labels: Option<Vec<String>>,
    logs: Option<FileLogs>,
    metrics: Option<FileMetrics>,
    profiles: Option<Enable>,
    agent: Option<FileAgent>,
    hosts: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
struct FileLogs {
    journal: Option<Enable>,
    docker: Option<Enable>,
    files: Option<Vec<String>>,
    events: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
struct Enable {
    enable: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
struct FileMetrics {
    enable: Option<bool>,
    targets: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
struct FileAgent {
    node: Option<String>,
}

// === impl AgentInput ===

impl AgentInput {
    /// Reads an agent file; the format follows the extension (`.yaml`/`.yml`, `.json`, `.toml`).
    pub fn from_file(path: &Path) -> Result<Self, Problem> {
        let shown = path.display();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Problem::usage(format!("--agent.file {shown}: {e}")))?;
        let file: FileSpec = match ext.as_str() {
            "yaml" | "yml" => serde_norway::from_str(&text).map_err(|e| e.to_string()),
            "json" => serde_json::from_str(&text).map_err(|e| e.to_string()),
            "toml" => toml::from_str(&text).map_err(|e| e.to_string()),
            _ => {
                return Err(Problem::usage(format!(
                    "--agent.file {shown}: unknown format {ext:?}; name the file *.yaml, *.yml, *.json or *.toml"
                )));
            }
        }
        .map_err(|e| Problem::usage(format!("--agent.file {shown}: {e}")))?;
        Ok(file.into())
    }

    /// This spec with every field that `flags` gives replaced by the flag's value.
    pub fn overlay(self, flags: AgentInput) -> AgentInput {
        AgentInput {
            hostname: flags.hostname.or(self.hostname),
            node: flags.node.or(self.node),
            rid: flags.rid.or(self.rid),
            journal: flags.journal.or(self.journal),
            docker: flags.docker.or(self.docker),
            files: flags.files.or(self.files),
            events: flags.events.or(self.events),
            metrics: flags.metrics.or(self.metrics),
            metrics_targets: flags.metrics_targets.or(self.metrics_targets),
            profiles: flags.profiles.or(self.profiles),
            labels: flags.labels.or(self.labels),
            hosts: flags.hosts.or(self.hosts),
        }
    }
}

impl From<FileSpec> for AgentInput {
    fn from(f: FileSpec) -> Self {
        let logs = f.logs.unwrap_or_default();
        let metrics = f.metrics.unwrap_or_default();
        AgentInput {
            hostname: f.hostname,
            node: f.agent.and_then(|a| a.node),
            rid: f.rid,
            journal: logs.journal.and_then(|e| e.enable),
            docker: logs.docker.and_then(|e| e.enable),
            files: logs.files,
            events: logs.events,
            metrics: metrics.enable,
            metrics_targets: metrics.targets,
            profiles: f.profiles.and_then(|e| e.enable),
            labels: f.labels,
            hosts: f.hosts,
        }
    }
}

// === impl AgentSettings ===

impl AgentSettings {
    /// Settings from the service's log-source URIs and fields (the reverse of [`Self::log_sources`]).
    pub fn from_service(
        labels: Vec<String>,
        log_sources: &[String],
        metrics: bool,
        metrics_targets: Vec<String>,
        profiles: bool,
    ) -> Self {
        let mut settings = AgentSettings {
            labels,
            metrics,
            metrics_targets,
            profiles,
            ..AgentSettings::default()
        };
        for source in log_sources {
            // The service returns the stored form (1.x's Go URLs, percent-escaped) or the input
            // form; the text after `file://` or `event://` is decoded as a whole, so `/` and `?`
            // in it survive (1.x cut event names at `/`, B16).
            match LogSource::from_stored(source) {
                Ok(LogSource::Journal) => settings.journal = true,
                Ok(LogSource::Docker) => settings.docker = true,
                Ok(LogSource::File(path)) => settings.files.push(path),
                Ok(LogSource::Event(name)) => settings.events.push(name),
                // A scheme this release does not know: leave it out rather than guess.
                Err(_) => {}
            }
        }
        settings
    }

    /// The log-source URIs, in 1.x's order: journal, docker, files, events.
    pub fn log_sources(&self) -> Vec<String> {
        let journal = self.journal.then_some(LogSource::Journal);
        let docker = self.docker.then_some(LogSource::Docker);
        let files = self.files.iter().cloned().map(LogSource::File);
        let events = self.events.iter().cloned().map(LogSource::Event);
        journal
            .into_iter()
            .chain(docker)
            .chain(files)
            .chain(events)
            .map(|source| source.to_string())
            .collect()
    }

    /// Applies the fields `spec` gives. Metrics targets without an explicit `metrics.enable`
    /// switch metrics on, as in 1.x.
    pub fn apply(&mut self, spec: &AgentInput) {
        let clean = |v: &Vec<String>| -> Vec<String> {
            v.iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        };
        if let Some(v) = spec.journal {
            self.journal = v;
        }
        if let Some(v) = spec.docker {
            self.docker = v;
        }
        if let Some(v) = &spec.files {
            self.files = clean(v);
        }
        if let Some(v) = &spec.events {
            self.events = clean(v);
        }
        if let Some(v) = &spec.labels {
            self.labels = clean(v);
        }
        if let Some(v) = &spec.metrics_targets {
            self.metrics_targets = clean(v);
        }
        if let Some(v) = spec.profiles {
            self.profiles = v;
        }
        match spec.metrics {
            Some(v) => self.metrics = v,
            None if spec
                .metrics_targets
                .as_ref()
                .is_some_and(|t| !clean(t).is_empty()) =>
            {
                self.metrics = true;
            }
            None => {}
        }
    }

    /// Checks what the service would refuse, naming the flag.
    pub fn validate(&self) -> Result<(), Problem> {
        if self.log_sources().is_empty() {
            return Err(Problem::usage(
                "at least one log source must be enabled: give --agent.logs.journal, \
                 --agent.logs.docker, --agent.logs.files or --agent.logs.events",
            ));
        }
        if let Some(file) = self.files.iter().find(|f| !f.starts_with('/')) {
            return Err(Problem::usage(format!(
                "--agent.logs.files: {file:?} is not an absolute path; give the path on the agent host, e.g. /var/log/syslog"
            )));
        }
        if let Some(target) = self
            .metrics_targets
            .iter()
            .find(|t| !(t.starts_with("http://") || t.starts_with("https://")))
        {
            return Err(Problem::usage(format!(
                "--agent.metrics.targets: {target:?} is not an http(s) URL, e.g. http://localhost:9100/metrics"
            )));
        }
        if let Some(label) = self
            .labels
            .iter()
            .find(|l| l.split('=').next().is_none_or(|k| k.trim().is_empty()))
        {
            return Err(Problem::usage(format!(
                "--agent.labels: {label:?} has no key; write key or key=value"
            )));
        }
        Ok(())
    }
}

/// Checks a node kind.
pub fn validate_node(node: &str) -> Result<(), Problem> {
    match node {
        "unix" | "windows" => Ok(()),
        other => Err(Problem::usage(format!(
            "--agent.node: {other:?} is not a node kind; use unix or windows"
        ))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests;
