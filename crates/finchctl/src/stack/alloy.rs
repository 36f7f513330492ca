//! The server's own Alloy: it ships the stack host's container logs and journal to Loki, and
//! the host's metrics and the stack's own metrics (Finch, Traefik, Loki, Mimir, Pyroscope) to
//! Mimir, over the stack's network, without going through Traefik.
//!
//! Each stack service is scraped under the job `finch/<service>`: the alert rules watch `up` of
//! those jobs, and the Finch dashboard reads the `finch/finch` job (every replica's instance).

use super::{ROOT, RenderedFile, StackSettings, quoted};

/// The configuration's path in the library (1.x's).
pub const PATH: &str = "alloy/etc/alloy.config";

/// The stack services Alloy scrapes: (job suffix, address, metrics path).
const SCRAPED: [(&str, &str, &str); 5] = [
    ("finch", "finch:3003", "/metrics"),
    ("traefik", "traefik:8082", "/metrics"),
    ("loki", "loki:3100", "/metrics"),
    ("mimir", "mimir:8080", "/metrics"),
    ("pyroscope", "pyroscope:4040", "/metrics"),
];

/// Renders the configuration.
pub fn render(settings: &StackSettings) -> RenderedFile {
    let host = quoted(&settings.host);
    let mut text = format!(
        "// The stack server's own Alloy, rendered by finchctl: a deploy or update overwrites it.

logging {{
  level  = \"info\"
  format = \"logfmt\"
}}

loki.write \"stack\" {{
  endpoint {{
    url = \"http://loki:3100/loki/api/v1/push\"
  }}
  external_labels = {{ host = {host} }}
}}

prometheus.remote_write \"stack\" {{
  endpoint {{
    url = \"http://mimir:8080/api/v1/push\"
  }}
  external_labels = {{ host = {host} }}
}}

// Every container's log, labelled with its name as service_name (the agents' convention).
discovery.docker \"containers\" {{
  host = \"unix:///var/run/docker.sock\"
}}

discovery.relabel \"containers\" {{
  targets = discovery.docker.containers.targets

  rule {{
    source_labels = [\"__meta_docker_container_name\"]
    regex         = \"/(.*)\"
    target_label  = \"service_name\"
  }}
}}

loki.source.docker \"containers\" {{
  host       = \"unix:///var/run/docker.sock\"
  targets    = discovery.relabel.containers.output
  labels     = {{ platform = \"docker\" }}
  forward_to = [loki.write.stack.receiver]
}}

// The host's journal, read from the host's root mounted at /host.
loki.relabel \"journal\" {{
  forward_to = []

  rule {{
    source_labels = [\"__journal__systemd_unit\"]
    target_label  = \"unit\"
  }}

  rule {{
    source_labels = [\"__journal_priority_keyword\"]
    target_label  = \"level\"
  }}
}}

loki.source.journal \"journal\" {{
  path           = \"/host/var/log/journal\"
  format_as_json = true
  max_age        = \"12h\"
  relabel_rules  = loki.relabel.journal.rules
  forward_to     = [loki.write.stack.receiver]
}}

// The host's metrics.
prometheus.exporter.unix \"host\" {{
  rootfs_path    = \"/host\"
  procfs_path    = \"/host/proc\"
  sysfs_path     = \"/host/sys\"
  udev_data_path = \"/host/run/udev/data\"
}}

prometheus.scrape \"host\" {{
  targets         = prometheus.exporter.unix.host.targets
  job_name        = \"finch/host\"
  scrape_interval = \"15s\"
  forward_to      = [prometheus.remote_write.stack.receiver]
}}
"
    );
    for (service, address, path) in SCRAPED {
        // Every Finch replica under the one job.
        let targets: Vec<String> = match service {
            "finch" => settings
                .replicas
                .names()
                .iter()
                .map(|name| format!("{{ __address__ = \"{name}:3003\" }}"))
                .collect(),
            _ => vec![format!("{{ __address__ = \"{address}\" }}")],
        };
        let targets = targets.join(", ");
        text.push_str(&format!(
            "
prometheus.scrape \"{service}\" {{
  targets         = [{targets}]
  job_name        = \"finch/{service}\"
  metrics_path    = \"{path}\"
  scrape_interval = \"15s\"
  forward_to      = [prometheus.remote_write.stack.receiver]
}}
"
        ));
    }
    RenderedFile::new(PATH, text, ROOT)
}
