//! Where the alerts go: one contact point, `Finch`, with an e-mail and a webhook integration
//! as `--alert.email` and `--alert.webhook` ask, and the notification policy that sends every
//! alert to it.
//!
//! Grafana keeps provisioned contact points when a file stops naming them, so the file also
//! deletes the integration that is not configured (a no-op when it never existed), and once
//! the policy was ours, a render without any contact point resets it to Grafana's default
//! before deleting the integrations (Grafana refuses to delete a contact point a policy still
//! uses). A stack that never had a contact point gets no file: a policy made by hand in
//! Grafana stays. The integrations' settings reach Grafana as written (provisioning does not
//! expand `$` in them); serde escapes them for YAML.

use serde::Serialize;

use crate::stack::alerts::Alerts;

/// The contact points file in the library.
pub const PATH: &str = "grafana/provisioning/alerting/contact-points.yaml";
/// The contact point's name.
pub const NAME: &str = "Finch";
/// The e-mail integration's uid.
pub const EMAIL_UID: &str = "finch-email";
/// The webhook integration's uid.
pub const WEBHOOK_UID: &str = "finch-webhook";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContactFile {
    api_version: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    contact_points: Vec<ContactPoint>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    policies: Vec<Policy>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reset_policies: Vec<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    delete_contact_points: Vec<Delete>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContactPoint {
    org_id: u32,
    name: &'static str,
    receivers: Vec<Receiver>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Receiver {
    uid: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    settings: Settings,
    disable_resolve_message: bool,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Settings {
    Email {
        addresses: String,
        #[serde(rename = "singleEmail")]
        single_email: bool,
    },
    Webhook {
        url: String,
        #[serde(rename = "httpMethod")]
        http_method: &'static str,
    },
}

/// The root of the policy tree (Grafana's keys are snake case here).
#[derive(Serialize)]
struct Policy {
    #[serde(rename = "orgId")]
    org_id: u32,
    receiver: &'static str,
    group_by: [&'static str; 2],
    group_wait: &'static str,
    group_interval: &'static str,
    repeat_interval: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Delete {
    org_id: u32,
    uid: &'static str,
}

/// Renders the contact points file, or nothing when there is nothing to provision or undo.
pub fn render(alerts: &Alerts) -> Result<Option<String>, serde_norway::Error> {
    if !alerts.has_contact_point() && !alerts.owns_policy {
        return Ok(None);
    }
    let mut receivers = Vec::new();
    let mut deletes = Vec::new();
    if alerts.emails.is_empty() {
        deletes.push(Delete {
            org_id: 1,
            uid: EMAIL_UID,
        });
    } else {
        receivers.push(Receiver {
            uid: EMAIL_UID,
            kind: "email",
            settings: Settings::Email {
                addresses: alerts.emails.join(";"),
                single_email: true,
            },
            disable_resolve_message: false,
        });
    }
    match &alerts.webhook {
        Some(url) => receivers.push(Receiver {
            uid: WEBHOOK_UID,
            kind: "webhook",
            settings: Settings::Webhook {
                url: url.clone(),
                http_method: "POST",
            },
            disable_resolve_message: false,
        }),
        None => deletes.push(Delete {
            org_id: 1,
            uid: WEBHOOK_UID,
        }),
    }
    let used = !receivers.is_empty();
    let file = ContactFile {
        api_version: 1,
        contact_points: if used {
            vec![ContactPoint {
                org_id: 1,
                name: NAME,
                receivers,
            }]
        } else {
            Vec::new()
        },
        policies: if used {
            // Alerts of one rule travel together; a firing alert is repeated every four hours.
            vec![Policy {
                org_id: 1,
                receiver: NAME,
                group_by: ["grafana_folder", "alertname"],
                group_wait: "30s",
                group_interval: "5m",
                repeat_interval: "4h",
            }]
        } else {
            Vec::new()
        },
        reset_policies: if used { Vec::new() } else { vec![1] },
        delete_contact_points: deletes,
    };
    Ok(Some(format!(
        "# Grafana's contact points and notification policy, rendered by finchctl (--alert.*): a deploy or update overwrites this file.\n{}",
        serde_norway::to_string(&file)?
    )))
}
