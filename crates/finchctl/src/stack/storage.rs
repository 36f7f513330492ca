//! The storage backends' configurations: Loki (logs), Mimir (metrics) and Pyroscope (profiles),
//! each a single process keeping its data on the host's disk under its own library directory,
//! and each deleting data older than `--stack.retention`.
//!
//! These are the only files the retention reaches, so changing it recreates these three
//! containers and nothing else. Loki's schema starts on 2020-05-15, the date 1.x's stacks
//! started with: a different date would hide the logs a 1.x stack already holds.

use super::{RenderedFile, Retention, STORAGE_USER};

/// Loki's configuration in the library.
pub const LOKI_PATH: &str = "loki/etc/loki.yaml";
/// Mimir's configuration in the library.
pub const MIMIR_PATH: &str = "mimir/etc/mimir.yaml";
/// Pyroscope's configuration in the library.
pub const PYROSCOPE_PATH: &str = "pyroscope/etc/pyroscope.yaml";

/// Renders the three configurations.
pub fn render(retention: Retention) -> Vec<RenderedFile> {
    vec![
        RenderedFile::new(LOKI_PATH, loki(retention), STORAGE_USER),
        RenderedFile::new(MIMIR_PATH, mimir(retention), STORAGE_USER),
        RenderedFile::new(PYROSCOPE_PATH, pyroscope(retention), STORAGE_USER),
    ]
}

fn loki(retention: Retention) -> String {
    format!(
        "# Loki, rendered by finchctl: a deploy or update overwrites this file.
# One process, no tenants (Traefik and Finch decide who may push), data on local disk.
auth_enabled: false
server:
  http_listen_port: 3100
  log_level: info
common:
  path_prefix: /var/lib/loki
  replication_factor: 1
  ring:
    kvstore:
      store: inmemory
  storage:
    filesystem:
      chunks_directory: /var/lib/loki/chunks
      rules_directory: /var/lib/loki/rules
schema_config:
  configs:
    - from: \"2020-05-15\"
      store: tsdb
      object_store: filesystem
      schema: v13
      index:
        prefix: index_
        period: 24h
limits_config:
  retention_period: {retention}
  allow_structured_metadata: true
  volume_enabled: true
compactor:
  working_directory: /var/lib/loki/compactor
  retention_enabled: true
  delete_request_store: filesystem
"
    )
}

fn mimir(retention: Retention) -> String {
    format!(
        "# Mimir, rendered by finchctl: a deploy or update overwrites this file.
# Monolithic mode, no tenants, blocks on local disk. Each store has its own directory: Mimir
# refuses to start when blocks share a path with the ruler's or Alertmanager's store.
multitenancy_enabled: false
server:
  http_listen_port: 8080
  log_level: info
blocks_storage:
  backend: filesystem
  filesystem:
    dir: /var/lib/mimir/blocks
  bucket_store:
    sync_dir: /var/lib/mimir/tsdb-sync
  tsdb:
    dir: /var/lib/mimir/tsdb
compactor:
  data_dir: /var/lib/mimir/compactor
distributor:
  ring:
    instance_addr: 127.0.0.1
ingester:
  ring:
    instance_addr: 127.0.0.1
    kvstore:
      store: inmemory
    replication_factor: 1
ruler:
  rule_path: /var/lib/mimir/ruler
ruler_storage:
  backend: filesystem
  filesystem:
    dir: /var/lib/mimir/rules
store_gateway:
  sharding_ring:
    replication_factor: 1
activity_tracker:
  filepath: /var/lib/mimir/metrics-activity.log
limits:
  compactor_blocks_retention_period: {retention}
  # A busy host's agent sends bursts after a restart; the defaults refuse them.
  ingestion_rate: 100000
  ingestion_burst_size: 1000000
"
    )
}

fn pyroscope(retention: Retention) -> String {
    format!(
        "# Pyroscope, rendered by finchctl: a deploy or update overwrites this file.
server:
  http_listen_port: 4040
  log_level: info
pyroscopedb:
  data_path: /var/lib/pyroscope
storage:
  backend: filesystem
  filesystem:
    dir: /var/lib/pyroscope/data-shared
limits:
  compactor_blocks_retention_period: {retention}
"
    )
}
