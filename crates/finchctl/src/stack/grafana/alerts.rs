//! The alert rules, one group in the Finch folder, each a Mimir query reduced to its last value
//! and compared with a threshold:
//!
//! - a stack service that stops answering its scrape (`up{job="finch/<service>"}`);
//! - a file system of the stack's host almost full;
//! - an agent that sent metrics in the last week but none for `--alert.silence` (agents'
//!   series carry their `rid` and `host` labels, so the alert names the agent);
//! - Finch refusing many agent writes (`finch_auth_requests_total` with a result other than
//!   `allowed`: revoked or forged tokens, agents pushing where they may not);
//! - a certificate Traefik serves that expires within 14 days (`traefik_tls_certs_not_after`;
//!   Let's Encrypt renews 30 days ahead, a deploy renews a self-signed one as early).
//!
//! Rules whose query is empty when all is well (no silent agent, no refusal, no certificate
//! yet) treat no data as normal; the others treat it as an alert. Written through serde, so
//! every value is escaped; where the alerts go is [`super::contact_points`].

use std::collections::BTreeMap;

use serde::Serialize;

use super::{FOLDER, MIMIR_UID};
use crate::stack::alerts::Silence;

/// The rules file in the library.
pub const PATH: &str = "grafana/provisioning/alerting/finch.yaml";
/// The uid of the silent-agent rule, whose query carries `--alert.silence`.
pub const SILENT_AGENT_UID: &str = "finch-agent-silent";

/// Services whose scrape (`up{job="finch/<service>"}`) must succeed, with their display names.
const WATCHED: [(&str, &str); 5] = [
    ("finch", "Finch"),
    ("traefik", "Traefik"),
    ("loki", "Loki"),
    ("mimir", "Mimir"),
    ("pyroscope", "Pyroscope"),
];

/// The silent-agent query up to the silence, and after it.
const SILENT_PREFIX: &str = "group by (host, rid) (present_over_time(up{rid=~\".+\"}[7d])) unless group by (host, rid) (present_over_time(up{rid=~\".+\"}[";
const SILENT_SUFFIX: &str = "]))";

/// Refused writes per second, over five minutes, that count as many: far above an agent
/// retrying with a revoked token, well below a fleet that lost its secret.
const REFUSED_PER_SECOND: f64 = 1.0;
/// Seconds of validity left below which a certificate alerts: 14 days.
const CERTIFICATE_SECONDS: f64 = 14.0 * 86400.0;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RulesFile {
    api_version: u32,
    groups: Vec<Group>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Group {
    org_id: u32,
    name: &'static str,
    folder: &'static str,
    interval: &'static str,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    uid: String,
    title: String,
    condition: &'static str,
    data: [Query; 3],
    no_data_state: &'static str,
    exec_err_state: &'static str,
    #[serde(rename = "for")]
    pending: &'static str,
    labels: BTreeMap<&'static str, &'static str>,
    annotations: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Query {
    ref_id: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    relative_time_range: Option<TimeRange>,
    datasource_uid: &'static str,
    model: Model,
}

#[derive(Serialize)]
struct TimeRange {
    from: u32,
    to: u32,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct Model {
    ref_id: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    instant: Option<bool>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expression: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reducer: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    conditions: Option<[Condition; 1]>,
}

#[derive(Serialize)]
struct Condition {
    evaluator: Evaluator,
}

#[derive(Serialize)]
struct Evaluator {
    #[serde(rename = "type")]
    kind: &'static str,
    params: [f64; 1],
}

/// What one rule watches, before it becomes Grafana's three queries.
struct Watch {
    uid: String,
    title: String,
    expr: String,
    /// `lt` or `gt`.
    evaluator: &'static str,
    threshold: f64,
    /// Whether an empty query is an alert (a service gone) or normal (nothing refused).
    no_data_alerts: bool,
    pending: &'static str,
    severity: &'static str,
    summary: String,
}

/// Renders the rules file.
pub fn render(silence: Silence) -> Result<String, serde_norway::Error> {
    let mut rules: Vec<Rule> = WATCHED
        .iter()
        .map(|(job, name)| {
            Watch {
                uid: format!("finch-{job}-down"),
                title: format!("{name} is down"),
                expr: format!("up{{job=\"finch/{job}\"}}"),
                evaluator: "lt",
                threshold: 1.0,
                no_data_alerts: true,
                pending: "2m",
                severity: "critical",
                summary: format!("{name} has not answered its metrics scrape for two minutes."),
            }
            .rule()
        })
        .collect();
    rules.push(Watch {
        uid: "finch-disk-full".into(),
        title: "Stack disk almost full".into(),
        expr: "min(node_filesystem_avail_bytes{job=\"finch/host\",fstype!~\"tmpfs|overlay\"} / node_filesystem_size_bytes{job=\"finch/host\",fstype!~\"tmpfs|overlay\"})".into(),
        evaluator: "lt",
        threshold: 0.1,
        no_data_alerts: true,
        pending: "2m",
        severity: "critical",
        summary: "A file system of the stack host has less than 10% free space; shorten --stack.retention or grow the disk.".into(),
    }.rule());
    rules.push(
        Watch {
            uid: SILENT_AGENT_UID.into(),
            title: "Agent silent".into(),
            expr: silent_expr(silence),
            evaluator: "gt",
            threshold: 0.0,
            no_data_alerts: false,
            pending: "0s",
            severity: "warning",
            summary: format!(
                "The agent on {{{{ $labels.host }}}} has sent no metrics for more than {silence}."
            ),
        }
        .rule(),
    );
    rules.push(Watch {
        uid: "finch-writes-refused".into(),
        title: "Finch refuses many agent writes".into(),
        expr: "sum(rate(finch_auth_requests_total{job=\"finch/finch\",result!=\"allowed\"}[5m]))".into(),
        evaluator: "gt",
        threshold: REFUSED_PER_SECOND,
        no_data_alerts: false,
        pending: "10m",
        severity: "warning",
        summary: "Finch has refused more than one agent write a second for ten minutes: agents with revoked or wrong tokens, or someone guessing.".into(),
    }.rule());
    rules.push(
        Watch {
            uid: "finch-certificate-expiring".into(),
            title: "Certificate expiring".into(),
            expr: "min by (cn) (traefik_tls_certs_not_after{job=\"finch/traefik\"}) - time()"
                .into(),
            evaluator: "lt",
            threshold: CERTIFICATE_SECONDS,
            no_data_alerts: false,
            pending: "1h",
            severity: "warning",
            summary: "The certificate of {{ $labels.cn }} expires within 14 days: check Let's Encrypt in Traefik's log, or deploy again to renew a self-signed one.".into(),
        }
        .rule(),
    );
    let file = RulesFile {
        api_version: 1,
        groups: vec![Group {
            org_id: 1,
            name: "finch",
            folder: FOLDER,
            interval: "1m",
            rules,
        }],
    };
    Ok(format!(
        "# Grafana's alert rules, rendered by finchctl: a deploy or update overwrites this file.\n{}",
        serde_norway::to_string(&file)?
    ))
}

/// The silent-agent query for `silence`.
fn silent_expr(silence: Silence) -> String {
    format!("{SILENT_PREFIX}{silence}{SILENT_SUFFIX}")
}

/// The silence in a silent-agent query this module wrote.
pub fn silence_of(expr: &str) -> Option<Silence> {
    expr.strip_prefix(SILENT_PREFIX)?
        .strip_suffix(SILENT_SUFFIX)?
        .parse()
        .ok()
}

// === impl Watch ===

impl Watch {
    fn rule(self) -> Rule {
        let state = if self.no_data_alerts {
            "Alerting"
        } else {
            "OK"
        };
        Rule {
            uid: self.uid,
            title: self.title,
            condition: "C",
            data: [
                Query {
                    ref_id: "A",
                    relative_time_range: Some(TimeRange { from: 600, to: 0 }),
                    datasource_uid: MIMIR_UID,
                    model: Model {
                        ref_id: "A",
                        expr: Some(self.expr),
                        instant: Some(true),
                        ..Model::default()
                    },
                },
                Query {
                    ref_id: "B",
                    relative_time_range: None,
                    datasource_uid: "__expr__",
                    model: Model {
                        ref_id: "B",
                        kind: Some("reduce"),
                        expression: Some("A"),
                        reducer: Some("last"),
                        ..Model::default()
                    },
                },
                Query {
                    ref_id: "C",
                    relative_time_range: None,
                    datasource_uid: "__expr__",
                    model: Model {
                        ref_id: "C",
                        kind: Some("threshold"),
                        expression: Some("B"),
                        conditions: Some([Condition {
                            evaluator: Evaluator {
                                kind: self.evaluator,
                                params: [self.threshold],
                            },
                        }]),
                        ..Model::default()
                    },
                },
            ],
            no_data_state: state,
            exec_err_state: "Alerting",
            pending: self.pending,
            labels: BTreeMap::from([("severity", self.severity)]),
            annotations: BTreeMap::from([("summary", self.summary)]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_silence_comes_back_from_its_query() {
        for text in ["5m", "15m", "2h", "6d"] {
            let silence: Silence = text.parse().expect("valid");
            assert_eq!(silence_of(&silent_expr(silence)), Some(silence));
        }
        assert_eq!(silence_of("up"), None);
    }
}
