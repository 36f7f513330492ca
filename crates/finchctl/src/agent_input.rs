//! An agent's settings as the operator states them, and as the service stores them.
//!
//! [`AgentSpec`] is what was *given*: every field optional, filled from `--agent.file` (YAML,
//! JSON or TOML with 1.x's keys) and then from flags, a flag winning only when it was given.
//! [`AgentSettings`] is the complete state the gRPC API sends. Registering applies a spec to the
//! defaults; editing applies it to the agent as the service returns it, so fields that were not
//! given stay as they were (1.x replaced everything, and ignored the edit flags: B2).
//! Log sources travel as 1.x's URIs: `journal://`, `docker://`, `file://<path>`, `event://<name>`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::output::Problem;

/// The URI of the journal log source.
pub const JOURNAL: &str = "journal://";
/// The URI of the Docker log source.
pub const DOCKER: &str = "docker://";
/// The prefix of file log sources.
pub const FILE_PREFIX: &str = "file://";
/// The prefix of Windows event log sources.
pub const EVENT_PREFIX: &str = "event://";

/// What the operator gave, from the agent file and flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentSpec {
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

// === impl AgentSpec ===

impl AgentSpec {
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
    pub fn overlay(self, flags: AgentSpec) -> AgentSpec {
        AgentSpec {
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
        }
    }
}

impl From<FileSpec> for AgentSpec {
    fn from(f: FileSpec) -> Self {
        let logs = f.logs.unwrap_or_default();
        let metrics = f.metrics.unwrap_or_default();
        AgentSpec {
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
            match parse_log_source(source) {
                Some(LogSource::Journal) => settings.journal = true,
                Some(LogSource::Docker) => settings.docker = true,
                Some(LogSource::File(path)) => settings.files.push(path),
                Some(LogSource::Event(name)) => settings.events.push(name),
                // A scheme this release does not know: leave it out rather than guess.
                None => {}
            }
        }
        settings
    }

    /// The log-source URIs, in 1.x's order: journal, docker, files, events.
    pub fn log_sources(&self) -> Vec<String> {
        let mut sources = Vec::new();
        if self.journal {
            sources.push(JOURNAL.to_owned());
        }
        if self.docker {
            sources.push(DOCKER.to_owned());
        }
        sources.extend(self.files.iter().map(|f| format!("{FILE_PREFIX}{f}")));
        sources.extend(self.events.iter().map(|e| format!("{EVENT_PREFIX}{e}")));
        sources
    }

    /// Applies the fields `spec` gives. Metrics targets without an explicit `metrics.enable`
    /// switch metrics on, as in 1.x.
    pub fn apply(&mut self, spec: &AgentSpec) {
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

/// One log source as the service reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogSource {
    /// `journal://` (stored `journal:`).
    Journal,
    /// `docker://` (stored `docker:`).
    Docker,
    /// A file path or glob.
    File(String),
    /// A Windows event log name.
    Event(String),
}

/// Reads a log source in the form the service returns it: 1.x's stored form (Go's URLs:
/// `journal:`, `docker:`, `file:///var/log/a%20b.log`, `event://System`, percent-escaped) or
/// the input form (`journal://`, `file://<path>`). Schemes match in any case. The text after
/// `file://` or `event://` is percent-decoded as a whole, so `/` and `?` in it survive (1.x cut
/// event names at `/`, B16); a file URL's host is dropped, as Go does.
///
/// ```
/// use finchctl::agent_spec::{LogSource, parse_log_source};
/// assert_eq!(parse_log_source("journal:"), Some(LogSource::Journal));
/// assert_eq!(parse_log_source("DOCKER://"), Some(LogSource::Docker));
/// assert_eq!(
///     parse_log_source("file:///var/log/a%20b.log"),
///     Some(LogSource::File("/var/log/a b.log".into()))
/// );
/// assert_eq!(
///     parse_log_source("event://Microsoft-Windows-Sysmon%2FOperational"),
///     Some(LogSource::Event("Microsoft-Windows-Sysmon/Operational".into()))
/// );
/// ```
pub fn parse_log_source(value: &str) -> Option<LogSource> {
    let (scheme, rest) = value.split_once(':')?;
    let scheme_is = |name: &str| scheme.eq_ignore_ascii_case(name);
    let bare = rest.is_empty() || rest == "//";
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .ok()
            .map(|s| s.into_owned())
            .filter(|s| !s.is_empty())
    };
    if scheme_is("journal") && bare {
        Some(LogSource::Journal)
    } else if scheme_is("docker") && bare {
        Some(LogSource::Docker)
    } else if scheme_is("file") {
        // `file:///path`, `file://host/path` (host dropped) or `file:/path`.
        let path = match rest.strip_prefix("//") {
            Some(after) => &after[after.find('/')?..],
            None => rest,
        };
        decode(path).map(LogSource::File)
    } else if scheme_is("event") {
        decode(rest.strip_prefix("//").unwrap_or(rest)).map(LogSource::Event)
    } else {
        None
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
