//! The alerting files: golden files of a stack with every `--alert.*` flag (its contact points,
//! policy, rules and Grafana's SMTP settings), every key checked against the pinned Grafana's
//! provisioning reference (`tests/data/grafana-alerting-provisioning.json`), hostile values
//! escaped, the password kept out of every file but its own, and what a later render keeps.

use std::collections::BTreeMap;

use super::*;
use crate::stack::alerts::{Alerts, Smtp, SmtpCredentials};
use crate::stack::grafana::{SMTP_PASSWORD_PATH, alerts as rules, contact_points};

/// The reference (see `tests/data/README.md`).
const REFERENCE: &str = include_str!("../../../tests/data/grafana-alerting-provisioning.json");
const PASSWORD: &str = "smtp-password-for-the-golden-files";

fn alerts() -> Alerts {
    Alerts {
        emails: vec!["ops@example.com".into(), "oncall@example.org".into()],
        smtp: Some(Smtp {
            host: "smtp.example.com:587".into(),
            from: "finch@example.com".into(),
            credentials: Some(SmtpCredentials {
                user: "finch@example.com".into(),
                password: PASSWORD.into(),
            }),
        }),
        webhook: Some("https://hooks.example.com/services/T0/B0?token=x".into()),
        silence: "30m".parse().expect("silence"),
        owns_policy: false,
    }
}

fn with(alerts: Alerts) -> StackSettings {
    let mut settings = settings(TlsMode::SelfSigned(pair()));
    settings.alerts = alerts;
    settings
}

fn is_alerting(path: &str) -> bool {
    path.starts_with("grafana/provisioning/alerting/")
        || path == SMTP_PASSWORD_PATH
        || path == compose::PATH
}

#[test]
fn a_stack_with_every_contact_point() {
    let differing: BTreeMap<String, RenderedFile> = rendered(&with(alerts()))
        .into_iter()
        .filter(|(path, _)| is_alerting(path) && path != SMTP_PASSWORD_PATH)
        .collect();
    assert_golden("alerts", &differing);
}

#[test]
fn only_grafana_is_recreated_and_the_password_stays_in_its_file() {
    let plain = hashes(&with(Alerts::default()));
    assert_eq!(changed(&plain, &hashes(&with(alerts()))), ["grafana"]);
    let files = rendered(&with(alerts()));
    let password = &files[SMTP_PASSWORD_PATH];
    assert!(password.secret && password.mode == 0o400);
    assert_eq!(password.owner, GRAFANA_USER);
    assert_eq!(password.contents, PASSWORD.as_bytes());
    for file in files.values().filter(|f| f.path != SMTP_PASSWORD_PATH) {
        let text = String::from_utf8_lossy(&file.contents);
        assert!(!text.contains(PASSWORD), "{} holds the password", file.path);
    }
}

#[test]
fn without_contact_points_no_file_unless_the_policy_was_ours() {
    let files = rendered(&with(Alerts::default()));
    assert!(!files.contains_key(contact_points::PATH));
    assert!(!files.contains_key(SMTP_PASSWORD_PATH));
    let undo = rendered(&with(Alerts {
        owns_policy: true,
        ..Alerts::default()
    }));
    let doc = yaml(&undo[contact_points::PATH]);
    assert_eq!(doc["resetPolicies"], serde_json::json!([1]));
    assert_eq!(doc["deleteContactPoints"].as_array().map(Vec::len), Some(2));
    assert!(doc.get("contactPoints").is_none() && doc.get("policies").is_none());
    let webhook_only = rendered(&with(Alerts {
        emails: Vec::new(),
        smtp: None,
        ..alerts()
    }));
    let doc = yaml(&webhook_only[contact_points::PATH]);
    assert_eq!(
        doc["deleteContactPoints"],
        serde_json::json!([{"orgId": 1, "uid": contact_points::EMAIL_UID}])
    );
}

/// What a later render reads back from `files`.
fn kept(files: &BTreeMap<String, RenderedFile>) -> Alerts {
    Alerts::kept(|path| files.get(path).map(|f| f.contents.as_slice()))
}

fn yaml(file: &RenderedFile) -> serde_json::Value {
    serde_norway::from_slice(&file.contents).expect("YAML")
}

/// Every key of `value` at `path`, checked against the reference; returns what is not in it.
fn unknown_keys(
    reference: &serde_json::Map<String, serde_json::Value>,
    path: &str,
    value: &serde_json::Value,
    out: &mut Vec<String>,
) {
    match value {
        serde_json::Value::Array(items) => {
            for item in items {
                unknown_keys(reference, &format!("{path}[]"), item, out);
            }
        }
        serde_json::Value::Object(map) => {
            let allowed = reference.get(path);
            if allowed == Some(&serde_json::Value::from("*")) {
                return;
            }
            let Some(keys) = allowed.and_then(|a| a.as_array()) else {
                out.push(format!(
                    "{path} (an object the reference does not describe)"
                ));
                return;
            };
            for (key, child) in map {
                if !keys.iter().any(|k| k == key) {
                    out.push(format!("{path}.{key}"));
                    continue;
                }
                let mut child_path = format!("{path}.{key}");
                if key == "settings" && path.ends_with(".receivers[]") {
                    let kind = map.get("type").and_then(|t| t.as_str()).unwrap_or("?");
                    child_path = format!("{child_path}@{kind}");
                }
                unknown_keys(reference, &child_path, child, out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_key_is_in_the_pinned_grafanas_provisioning_reference() {
    let reference: serde_json::Value = serde_json::from_str(REFERENCE).expect("JSON");
    assert_eq!(
        reference["grafana"],
        Images::pinned("x")
            .get(Service::Grafana)
            .rsplit(':')
            .next()
            .expect("a tag"),
        "the reference is for the pinned Grafana"
    );
    let objects = reference["objects"].as_object().expect("objects");
    for alerts in [
        alerts(),
        Alerts {
            owns_policy: true,
            ..Alerts::default()
        },
    ] {
        let files = rendered(&with(alerts));
        for path in [rules::PATH, contact_points::PATH] {
            let mut unknown = Vec::new();
            unknown_keys(objects, "", &yaml(&files[path]), &mut unknown);
            assert!(
                unknown.is_empty(),
                "{path}: not in the reference: {unknown:#?}"
            );
        }
    }
}

#[test]
fn hostile_values_are_escaped_and_come_back_as_they_were() {
    let evil = "\"'\n: #{{ $x }} ${GF_SECURITY_ADMIN_PASSWORD} - [a] &b *c";
    let hostile = Alerts {
        emails: vec![format!("a{}@example.com", "$x#:")],
        smtp: Some(Smtp {
            host: "smtp.example.com:587".into(),
            from: "f$GF_X@example.com".into(),
            credentials: Some(SmtpCredentials {
                user: format!("u{evil}"),
                password: evil.into(),
            }),
        }),
        webhook: Some(format!("https://h.example.com/x?q={evil}")),
        ..alerts()
    };
    let files = rendered(&with(hostile.clone()));
    let compose = yaml(&files[compose::PATH]);
    let environment = &compose["services"]["grafana"]["environment"];
    assert_eq!(environment["GF_SMTP_FROM_ADDRESS"], "f$$GF_X@example.com");
    assert_eq!(
        kept(&files),
        Alerts {
            owns_policy: true,
            ..hostile
        }
    );
}

#[test]
fn a_later_render_keeps_what_the_library_has() {
    assert_eq!(
        kept(&rendered(&with(alerts()))),
        Alerts {
            owns_policy: true,
            ..alerts()
        }
    );
    assert_eq!(Alerts::kept(|_| None), Alerts::default());
}
