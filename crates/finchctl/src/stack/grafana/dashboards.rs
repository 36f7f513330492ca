//! Our dashboards, built as data: Docker logs, journal, file logs, host metrics, profiles, and
//! Finch itself from its `/metrics` (`crates/finch/src/metrics.rs` names the series).
//!
//! Every dashboard filters by the `host` label that agents and the server's Alloy put on
//! everything they send, and reads the labels agents set: `platform="docker"` and
//! `service_name` for containers, the journal component's `job` with `unit` and `level`, and
//! `service_name="loki.source.file.files"` with `filename` for files.

use serde_json::{Value, json};

use super::{LOKI_UID, MIMIR_UID, PYROSCOPE_UID};

/// Grafana's dashboard schema version the JSON is written in.
const SCHEMA_VERSION: u32 = 39;

/// A log dashboard: the streams `stream` selects, filtered by `host` and `label`.
struct LogDashboard {
    file: &'static str,
    uid: &'static str,
    title: &'static str,
    stream: &'static str,
    label: &'static str,
    /// A LogQL pipeline for the lines panel.
    pipeline: &'static str,
}

const LOG_DASHBOARDS: [LogDashboard; 3] = [
    LogDashboard {
        file: "logs-docker",
        uid: "finch-logs-docker",
        title: "Logs / Docker",
        stream: r#"platform="docker""#,
        label: "service_name",
        pipeline: "",
    },
    LogDashboard {
        file: "logs-journal",
        uid: "finch-logs-journal",
        title: "Logs / Journal",
        stream: r#"job="loki.source.journal.journal""#,
        label: "unit",
        pipeline: r#" | json | line_format "{{.MESSAGE}}""#,
    },
    LogDashboard {
        file: "logs-files",
        uid: "finch-logs-files",
        title: "Logs / Files",
        stream: r#"service_name="loki.source.file.files""#,
        label: "filename",
        pipeline: "",
    },
];

/// Every dashboard, by file name.
pub fn all() -> Vec<(&'static str, Value)> {
    let mut all: Vec<(&'static str, Value)> = LOG_DASHBOARDS
        .iter()
        .map(|d| (d.file, log_dashboard(d)))
        .collect();
    all.extend([
        ("host-metrics", host_metrics()),
        ("profiles", profiles()),
        ("finch", finch()),
    ]);
    all
}

/// The `host` and label variables, the line count by label, and the lines.
fn log_dashboard(d: &LogDashboard) -> Value {
    let (stream, label) = (d.stream, d.label);
    let selector = format!(r#"{{{stream}, host=~"$host", {label}=~"${label}"}}"#);
    dashboard(
        d.uid,
        d.title,
        vec![
            loki_variable("host", &format!("label_values({{{stream}}}, host)")),
            loki_variable(
                label,
                &format!(r#"label_values({{{stream}, host=~"$host"}}, {label})"#),
            ),
        ],
        vec![
            log_volume(&selector, label, 0),
            logs(&format!("{selector}{}", d.pipeline), 8),
        ],
    )
}

fn host_metrics() -> Value {
    let on = r#"host=~"$host""#;
    dashboard(
        "finch-host-metrics",
        "Metrics / Hosts",
        vec![mimir_variable(
            "host",
            "label_values(node_uname_info, host)",
        )],
        vec![
            timeseries(
                "CPU busy",
                "percentunit",
                &[(
                    &format!(
                        r#"1 - avg by (host) (rate(node_cpu_seconds_total{{mode="idle", {on}}}[$__rate_interval]))"#
                    ),
                    "{{host}}",
                )],
                (0, 0, 12),
            ),
            timeseries(
                "Memory used",
                "percentunit",
                &[(
                    &format!(
                        "1 - node_memory_MemAvailable_bytes{{{on}}} / node_memory_MemTotal_bytes{{{on}}}"
                    ),
                    "{{host}}",
                )],
                (12, 0, 12),
            ),
            timeseries(
                "Load (1 minute)",
                "short",
                &[(&format!("node_load1{{{on}}}"), "{{host}}")],
                (0, 8, 12),
            ),
            timeseries(
                "Disk space used",
                "percentunit",
                &[(
                    &format!(
                        r#"1 - node_filesystem_avail_bytes{{{on}, fstype!~"tmpfs|overlay"}} / node_filesystem_size_bytes{{{on}, fstype!~"tmpfs|overlay"}}"#
                    ),
                    "{{host}} {{mountpoint}}",
                )],
                (12, 8, 12),
            ),
            timeseries(
                "Network received",
                "Bps",
                &[(
                    &format!(
                        r#"rate(node_network_receive_bytes_total{{{on}, device!="lo"}}[$__rate_interval])"#
                    ),
                    "{{host}} {{device}}",
                )],
                (0, 16, 12),
            ),
            timeseries(
                "Network sent",
                "Bps",
                &[(
                    &format!(
                        r#"rate(node_network_transmit_bytes_total{{{on}, device!="lo"}}[$__rate_interval])"#
                    ),
                    "{{host}} {{device}}",
                )],
                (12, 16, 12),
            ),
        ],
    )
}

fn profiles() -> Value {
    dashboard(
        "finch-profiles",
        "Profiles",
        vec![json!({
            "name": "service",
            "label": "service",
            "type": "query",
            "datasource": pyroscope_datasource(),
            "query": { "queryType": "labelValues", "label": "service_name", "refId": "service" },
            "refresh": 2,
        })],
        vec![
            flamegraph("CPU", "process_cpu:cpu:nanoseconds:cpu:nanoseconds", 0),
            flamegraph("Memory in use", "memory:inuse_space:bytes:space:bytes", 14),
        ],
    )
}

/// A flame graph of one profile type of the chosen service, full width at row `y`.
fn flamegraph(title: &str, profile_type: &str, y: u32) -> Value {
    json!({
        "type": "flamegraph",
        "title": title,
        "gridPos": { "x": 0, "y": y, "w": 24, "h": 14 },
        "datasource": pyroscope_datasource(),
        "targets": [{
            "refId": "A",
            "datasource": pyroscope_datasource(),
            "queryType": "profile",
            "profileTypeId": profile_type,
            "labelSelector": "{service_name=\"$service\"}",
            "groupBy": [],
        }],
    })
}

fn pyroscope_datasource() -> Value {
    json!({ "type": "grafana-pyroscope-datasource", "uid": PYROSCOPE_UID })
}

fn finch() -> Value {
    let job = r#"job="finch/finch""#;
    dashboard(
        "finch-service",
        "Finch",
        Vec::new(),
        vec![
            stat(
                "Agents",
                &format!("sum(finch_directory_agents{{{job}}})"),
                (0, 0, 6),
            ),
            stat("Finch up", &format!("min(up{{{job}}})"), (6, 0, 6)),
            table(
                "Release",
                &format!("finch_build_info{{{job}}}"),
                (12, 0, 12),
            ),
            timeseries(
                "Agent writes checked, by result",
                "reqps",
                &[(
                    &format!(
                        "sum by (result) (rate(finch_auth_requests_total{{{job}}}[$__rate_interval]))"
                    ),
                    "{{result}}",
                )],
                (0, 6, 12),
            ),
            timeseries(
                "Refusals, by reason",
                "reqps",
                &[(
                    &format!(
                        r#"sum by (reason) (rate(finch_auth_requests_total{{{job}, result!="allowed"}}[$__rate_interval]))"#
                    ),
                    "{{reason}}",
                )],
                (12, 6, 12),
            ),
            timeseries(
                "Time to decide (99th percentile)",
                "s",
                &[(
                    &format!(
                        "histogram_quantile(0.99, sum by (le) (rate(finch_auth_request_duration_seconds_bucket{{{job}}}[$__rate_interval])))"
                    ),
                    "p99",
                )],
                (0, 14, 12),
            ),
            timeseries(
                "Last-seen marks dropped",
                "short",
                &[(
                    &format!(
                        "sum(rate(finch_auth_liveness_dropped_total{{{job}}}[$__rate_interval]))"
                    ),
                    "dropped",
                )],
                (12, 14, 12),
            ),
        ],
    )
}

/// A dashboard with a `host`-style templating list and panels numbered in order.
fn dashboard(uid: &str, title: &str, variables: Vec<Value>, mut panels: Vec<Value>) -> Value {
    for (i, panel) in panels.iter_mut().enumerate() {
        panel["id"] = json!(i + 1);
    }
    json!({
        "uid": uid,
        "title": title,
        "tags": ["finch"],
        "editable": false,
        "schemaVersion": SCHEMA_VERSION,
        "time": { "from": "now-6h", "to": "now" },
        "refresh": "1m",
        "templating": { "list": variables },
        "panels": panels,
    })
}

fn loki_variable(name: &str, query: &str) -> Value {
    variable(name, "loki", LOKI_UID, query)
}

fn mimir_variable(name: &str, query: &str) -> Value {
    variable(name, "prometheus", MIMIR_UID, query)
}

fn variable(name: &str, kind: &str, uid: &str, query: &str) -> Value {
    json!({
        "name": name,
        "label": name,
        "type": "query",
        "datasource": { "type": kind, "uid": uid },
        "query": query,
        "refresh": 2,
        "includeAll": true,
        "multi": true,
        "allValue": ".*",
        "current": { "text": "All", "value": "$__all" },
    })
}

fn loki_datasource() -> Value {
    json!({ "type": "loki", "uid": LOKI_UID })
}

fn mimir_datasource() -> Value {
    json!({ "type": "prometheus", "uid": MIMIR_UID })
}

/// Log lines per minute, split by `by`, across the top of a log dashboard.
fn log_volume(selector: &str, by: &str, y: u32) -> Value {
    json!({
        "type": "timeseries",
        "title": "Log lines",
        "gridPos": { "x": 0, "y": y, "w": 24, "h": 8 },
        "datasource": loki_datasource(),
        "fieldConfig": { "defaults": { "custom": { "drawStyle": "bars", "stacking": { "mode": "normal" } } } },
        "targets": [{
            "refId": "A",
            "datasource": loki_datasource(),
            "expr": format!("sum by ({by}) (count_over_time({selector} [$__interval]))"),
            "legendFormat": format!("{{{{{by}}}}}"),
        }],
    })
}

fn logs(selector: &str, y: u32) -> Value {
    json!({
        "type": "logs",
        "title": "Lines",
        "gridPos": { "x": 0, "y": y, "w": 24, "h": 20 },
        "datasource": loki_datasource(),
        "options": { "showTime": true, "wrapLogMessage": true, "sortOrder": "Descending" },
        "targets": [{ "refId": "A", "datasource": loki_datasource(), "expr": selector }],
    })
}

/// A time series of Mimir queries `(expr, legend)` at `(x, y, width)`, 8 rows high.
fn timeseries(title: &str, unit: &str, queries: &[(&str, &str)], at: (u32, u32, u32)) -> Value {
    let targets: Vec<Value> = queries
        .iter()
        .zip('A'..)
        .map(|((expr, legend), ref_id)| {
            json!({
                "refId": ref_id.to_string(),
                "datasource": mimir_datasource(),
                "expr": expr,
                "legendFormat": legend,
            })
        })
        .collect();
    json!({
        "type": "timeseries",
        "title": title,
        "gridPos": { "x": at.0, "y": at.1, "w": at.2, "h": 8 },
        "datasource": mimir_datasource(),
        "fieldConfig": { "defaults": { "unit": unit } },
        "targets": targets,
    })
}

fn stat(title: &str, expr: &str, at: (u32, u32, u32)) -> Value {
    single(title, "stat", expr, at)
}

fn table(title: &str, expr: &str, at: (u32, u32, u32)) -> Value {
    let mut panel = single(title, "table", expr, at);
    panel["targets"][0]["format"] = json!("table");
    panel["targets"][0]["instant"] = json!(true);
    panel
}

fn single(title: &str, kind: &str, expr: &str, at: (u32, u32, u32)) -> Value {
    json!({
        "type": kind,
        "title": title,
        "gridPos": { "x": at.0, "y": at.1, "w": at.2, "h": 6 },
        "datasource": mimir_datasource(),
        "targets": [{ "refId": "A", "datasource": mimir_datasource(), "expr": expr, "instant": true }],
    })
}
