//! The components of an agent's config, in the order the agent's pipeline reads best: logging,
//! the Loki writer and its local receiver, each log source, metrics, profiles.
//!
//! Component labels (`"journal"`, `"file"`, `"event_<i>"`, ...) are the ones Finch 1.x rendered:
//! Alloy keys each component's saved state (journal cursors, file positions, event-log
//! bookmarks) by component id, so keeping them means an agent that moves to a config from this
//! version resumes where it was instead of shipping its logs again.

use time::macros::format_description;

use super::escape::string;
use super::target::ScrapeTarget;
use super::writer::{Doc, list, reference};
use super::{AlloyConfig, RenderError};
use crate::agents::{LogSource, Node, label_pair};

/// Local receivers: Alloy listens here for apps on the agent's host. Fixed, as in 1.x, because
/// applications on agent hosts are configured against them.
const LOCAL_ADDRESS: &str = "127.0.0.1";
const LOKI_RECEIVER_PORT: u16 = 3100;
const PROMETHEUS_RECEIVER_PORT: u16 = 9091;
const PYROSCOPE_RECEIVER_PORT: u16 = 4040;

/// How often the node exporter and custom targets are scraped: Prometheus' common 15 s.
const SCRAPE_INTERVAL: &str = "\"15s\"";

const DOCKER_SOCKET: &str = "unix:///var/run/docker.sock";

/// Renders the whole config.
pub(crate) fn render(config: &AlloyConfig<'_>) -> Result<String, RenderError> {
    let targets = config
        .agent
        .metrics_targets
        .iter()
        .map(|t| ScrapeTarget::parse(t))
        .collect::<Result<Vec<_>, _>>()?;
    let expiry = config
        .token
        .expires_at
        .to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
        ))
        .map_err(|_| RenderError::Expiry)?;
    let writer = Writer { config, expiry };
    let mut doc = Doc::default();
    doc.open("logging")
        .attr("level", "\"info\"")
        .close()
        .blank();
    writer.logs(&mut doc);
    if config.agent.metrics {
        writer.metrics(&mut doc, &targets);
    }
    if config.agent.profiles {
        writer.profiles(&mut doc);
    }
    Ok(doc.finish())
}

struct Writer<'a> {
    config: &'a AlloyConfig<'a>,
    expiry: String,
}

// === impl Writer ===

impl Writer<'_> {
    fn url(&self, path: &str) -> String {
        string(&format!("{}{path}", self.config.service_url))
    }

    /// The `endpoint` block every writer shares: URL, token and the TLS rule.
    fn endpoint(&self, doc: &mut Doc, path: &str) {
        doc.open("endpoint")
            .attr("url", &self.url(path))
            .comment(&format!("Token expires: {}", self.expiry))
            .attr("bearer_token", &string(&self.config.token.token));
        if self.config.skip_verify {
            // The stack serves Traefik's self-signed default certificate.
            doc.open("tls_config")
                .attr("insecure_skip_verify", "true")
                .close();
        }
        doc.close();
    }

    /// `host` and `rid` first, then the user labels (which may not reuse those keys).
    fn external_labels(&self, doc: &mut Doc) {
        let agent = self.config.agent;
        doc.open_object("external_labels")
            .entry("\"host\"", &string(&agent.hostname))
            .entry("\"rid\"", &string(agent.rid.as_str()));
        for label in &agent.labels {
            let (key, value) = label_pair(label);
            doc.entry(&string(key), &string(value));
        }
        doc.close();
    }

    fn local_http(doc: &mut Doc, port: u16) {
        doc.open("http")
            .attr("listen_address", &string(LOCAL_ADDRESS))
            .attr("listen_port", &port.to_string())
            .close();
    }

    fn logs(&self, doc: &mut Doc) {
        let loki = list([reference(&["loki", "write", "default", "receiver"])]);
        doc.open("loki.write \"default\"");
        self.endpoint(doc, "/loki/loki/api/v1/push");
        self.external_labels(doc);
        doc.close().blank();

        doc.open("loki.source.api \"default\"");
        Self::local_http(doc, LOKI_RECEIVER_PORT);
        doc.attr("forward_to", &loki).close().blank();

        let sources = &self.config.agent.log_sources;
        if sources.contains(&LogSource::Journal) {
            Self::journal(doc, &loki);
        }
        if sources.contains(&LogSource::Docker) {
            Self::docker(doc, &loki);
        }
        let files: Vec<&str> = sources
            .iter()
            .filter_map(|s| match s {
                LogSource::File(path) => Some(path.as_str()),
                _ => None,
            })
            .collect();
        if !files.is_empty() {
            Self::files(doc, &loki, &files);
        }
        let events = sources.iter().filter_map(|s| match s {
            LogSource::Event(channel) => Some(channel.as_str()),
            _ => None,
        });
        for (i, channel) in events.enumerate() {
            doc.open(&format!("loki.source.windowsevent \"event_{i}\""))
                .attr("eventlog_name", &string(channel))
                .attr("forward_to", &loki)
                .close()
                .blank();
        }
    }

    fn journal(doc: &mut Doc, loki: &str) {
        doc.open("loki.relabel \"journal\"")
            .attr("forward_to", "[]");
        for (source, target) in [
            ("__journal__systemd_unit", "unit"),
            ("__journal__boot_id", "boot_id"),
            ("__journal__transport", "transport"),
            ("__journal_priority_keyword", "level"),
        ] {
            doc.open("rule")
                .attr("source_labels", &list([string(source)]))
                .attr("target_label", &string(target))
                .close();
        }
        doc.close().blank();
        doc.open("loki.source.journal \"journal\"")
            .attr("format_as_json", "true")
            .attr("max_age", "\"12h\"")
            .attr(
                "relabel_rules",
                &reference(&["loki", "relabel", "journal", "rules"]),
            )
            .attr("forward_to", loki)
            .close()
            .blank();
    }

    fn docker(doc: &mut Doc, loki: &str) {
        doc.open("discovery.docker \"linux\"")
            .attr("host", &string(DOCKER_SOCKET))
            .close()
            .blank();
        doc.open("loki.relabel \"docker\"")
            .attr("forward_to", "[]")
            .open("rule")
            .attr(
                "source_labels",
                &list([string("__meta_docker_container_name")]),
            )
            .attr("regex", &string("/(.*)"))
            .attr("target_label", &string("service_name"))
            .close()
            .close()
            .blank();
        doc.open("loki.source.docker \"docker\"")
            .attr("host", &string(DOCKER_SOCKET))
            .attr(
                "targets",
                &reference(&["discovery", "docker", "linux", "targets"]),
            )
            .open_object("labels")
            .entry("\"platform\"", "\"docker\"")
            .close()
            .attr(
                "relabel_rules",
                &reference(&["loki", "relabel", "docker", "rules"]),
            )
            .attr("forward_to", loki)
            .close()
            .blank();
    }

    fn files(doc: &mut Doc, loki: &str, paths: &[&str]) {
        doc.open("loki.process \"files\"")
            .open("stage.static_labels")
            .open_object("values")
            .entry("service_name", &string("loki.source.file.files"))
            .close()
            .close()
            .attr("forward_to", loki)
            .close()
            .blank();
        let targets = paths
            .iter()
            .map(|path| format!("{{\"__path__\" = {}}}", string(path)));
        doc.open("local.file_match \"files\"")
            .attr("path_targets", &list(targets))
            .close()
            .blank();
        doc.open("loki.source.file \"file\"")
            .attr(
                "targets",
                &reference(&["local", "file_match", "files", "targets"]),
            )
            .attr(
                "forward_to",
                &list([reference(&["loki", "process", "files", "receiver"])]),
            )
            .close()
            .blank();
    }

    fn metrics(&self, doc: &mut Doc, targets: &[ScrapeTarget]) {
        let mimir = list([reference(&[
            "prometheus",
            "remote_write",
            "default",
            "receiver",
        ])]);
        doc.open("prometheus.remote_write \"default\"");
        self.endpoint(doc, "/mimir/api/v1/push");
        self.external_labels(doc);
        doc.close().blank();

        let exporter = match self.config.agent.node {
            Node::Unix => {
                doc.open("prometheus.exporter.unix \"node\"")
                    .attr("include_exporter_metrics", "true")
                    .attr("enable_collectors", &list([string("systemd")]))
                    .close()
                    .blank();
                "unix"
            }
            Node::Windows => {
                doc.open("prometheus.exporter.windows \"node\"")
                    .close()
                    .blank();
                "windows"
            }
        };
        doc.open("prometheus.scrape \"node\"")
            .attr(
                "targets",
                &reference(&["prometheus", "exporter", exporter, "node", "targets"]),
            )
            .attr("scrape_interval", SCRAPE_INTERVAL)
            .attr("forward_to", &mimir)
            .close()
            .blank();

        doc.open("prometheus.receive_http \"default\"");
        Self::local_http(doc, PROMETHEUS_RECEIVER_PORT);
        doc.attr("forward_to", &mimir).close().blank();

        for (i, target) in targets.iter().enumerate() {
            Self::scrape(doc, i, target, &mimir);
        }
    }

    fn scrape(doc: &mut Doc, index: usize, target: &ScrapeTarget, mimir: &str) {
        doc.open(&format!("prometheus.scrape \"custom_{index}\""))
            .attr(
                "targets",
                &format!("[{{\"__address__\" = {}}}]", string(&target.address)),
            )
            .attr("scheme", &string(&target.scheme));
        if let Some(path) = &target.metrics_path {
            doc.attr("metrics_path", &string(path));
        }
        if !target.params.is_empty() {
            doc.open_object("params");
            for (key, values) in &target.params {
                doc.entry(&string(key), &list(values.iter().map(|v| string(v))));
            }
            doc.close();
        }
        if let Some((username, password)) = &target.basic_auth {
            doc.open("basic_auth")
                .attr("username", &string(username))
                .attr("password", &string(password))
                .close();
        }
        doc.attr("scrape_interval", SCRAPE_INTERVAL)
            .attr("forward_to", mimir)
            .close()
            .blank();
    }

    fn profiles(&self, doc: &mut Doc) {
        doc.open("pyroscope.write \"backend\"");
        self.endpoint(doc, "/pyroscope");
        self.external_labels(doc);
        doc.close().blank();

        doc.open("pyroscope.receive_http \"default\"");
        Self::local_http(doc, PYROSCOPE_RECEIVER_PORT);
        doc.attr(
            "forward_to",
            &list([reference(&["pyroscope", "write", "backend", "receiver"])]),
        )
        .close()
        .blank();
    }
}
