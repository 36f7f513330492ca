//! The alert rules: a stack service that stops answering its scrape for two minutes, and a stack
//! host whose disk is almost full. No contact point is provisioned; the rules show in Grafana's
//! alerting page until one is added there.

use super::{FOLDER, MIMIR_UID};

/// Services whose scrape (`up{job="finch/<service>"}`) must succeed, with their display names.
const WATCHED: [(&str, &str); 5] = [
    ("finch", "Finch"),
    ("traefik", "Traefik"),
    ("loki", "Loki"),
    ("mimir", "Mimir"),
    ("pyroscope", "Pyroscope"),
];

/// Renders the alerting provisioning file.
pub fn render() -> String {
    let mut text = format!(
        "# Grafana's alert rules, rendered by finchctl: a deploy or update overwrites this file.
apiVersion: 1
groups:
  - orgId: 1
    name: finch
    folder: {FOLDER}
    interval: 1m
    rules:
"
    );
    for (job, name) in WATCHED {
        text.push_str(&rule(
            &format!("finch-{job}-down"),
            &format!("{name} is down"),
            &format!("up{{job=\"finch/{job}\"}}"),
            "lt",
            1.0,
            &format!("{name} has not answered its metrics scrape for two minutes."),
        ));
    }
    text.push_str(&rule(
        "finch-disk-full",
        "Stack disk almost full",
        "min(node_filesystem_avail_bytes{job=\"finch/host\",fstype!~\"tmpfs|overlay\"} / node_filesystem_size_bytes{job=\"finch/host\",fstype!~\"tmpfs|overlay\"})",
        "lt",
        0.1,
        "A file system of the stack host has less than 10% free space; shorten --stack.retention or grow the disk.",
    ));
    text
}

/// One rule: `expr`'s last value compared with `threshold` by `evaluator` (`lt`, `gt`).
fn rule(
    uid: &str,
    title: &str,
    expr: &str,
    evaluator: &str,
    threshold: f64,
    summary: &str,
) -> String {
    let q = super::super::quoted;
    format!(
        "      - uid: {uid}
        title: {title}
        condition: C
        data:
          - refId: A
            relativeTimeRange:
              from: 600
              to: 0
            datasourceUid: {MIMIR_UID}
            model:
              refId: A
              expr: {expr}
              instant: true
          - refId: B
            datasourceUid: __expr__
            model:
              refId: B
              type: reduce
              expression: A
              reducer: last
          - refId: C
            datasourceUid: __expr__
            model:
              refId: C
              type: threshold
              expression: B
              conditions:
                - evaluator:
                    type: {evaluator}
                    params: [{threshold}]
        noDataState: Alerting
        execErrState: Alerting
        for: 2m
        labels:
          severity: critical
        annotations:
          summary: {summary}
",
        title = q(title),
        expr = q(expr),
        summary = q(summary),
    )
}
