//! The alert settings an earlier render left in a library, read back from the files it wrote:
//! the contact points file (addresses, webhook), Grafana's SMTP environment in the compose file
//! and the SMTP password file, and the silence in the silent-agent rule. A file that is
//! missing or unreadable keeps nothing of its part, as a missing `loki.yaml` keeps no retention.

use serde_norway::Value;

use super::{Alerts, Smtp, SmtpCredentials};
use crate::stack::compose::{self, SMTP_FROM, SMTP_HOST, SMTP_USER, unescape_dollars};
use crate::stack::grafana::{SMTP_PASSWORD_PATH, alerts, contact_points};

/// The library files [`Alerts::kept`] reads.
pub const FILES: [&str; 4] = [
    contact_points::PATH,
    alerts::PATH,
    compose::PATH,
    SMTP_PASSWORD_PATH,
];

// === impl Alerts ===

impl Alerts {
    /// The settings in the files `file` returns (by library path); defaults where absent.
    pub fn kept<'a>(file: impl Fn(&str) -> Option<&'a [u8]>) -> Alerts {
        let yaml = |path: &str| file(path).and_then(|b| serde_norway::from_slice::<Value>(b).ok());
        let mut kept = Alerts::default();
        if let Some(contacts) = yaml(contact_points::PATH) {
            kept.owns_policy = true;
            for receiver in receivers(&contacts) {
                let setting = |key: &str| {
                    receiver
                        .get("settings")
                        .and_then(|s| s.get(key))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                };
                match receiver.get("uid").and_then(Value::as_str) {
                    Some(contact_points::EMAIL_UID) => {
                        kept.emails = setting("addresses")
                            .map(|a| a.split(';').map(str::to_owned).collect())
                            .unwrap_or_default();
                    }
                    Some(contact_points::WEBHOOK_UID) => kept.webhook = setting("url"),
                    _ => {}
                }
            }
        }
        if !kept.emails.is_empty() {
            kept.smtp = yaml(compose::PATH).and_then(|c| smtp(&c, &file));
            if kept.smtp.is_none() {
                kept.emails.clear();
            }
        }
        if let Some(silence) = yaml(alerts::PATH).and_then(|r| silence(&r)) {
            kept.silence = silence;
        }
        kept
    }
}

/// The receivers of the contact points in a contact points file.
fn receivers(contacts: &Value) -> Vec<&Value> {
    contacts
        .get("contactPoints")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("receivers").and_then(Value::as_sequence))
        .flatten()
        .collect()
}

/// Grafana's SMTP settings in a compose file, with the password file's contents.
fn smtp<'a>(compose: &Value, file: &impl Fn(&str) -> Option<&'a [u8]>) -> Option<Smtp> {
    let environment = compose
        .get("services")?
        .get("grafana")?
        .get("environment")?;
    let variable = |key: &str| environment.get(key)?.as_str().map(unescape_dollars);
    let credentials = match (variable(SMTP_USER), file(SMTP_PASSWORD_PATH)) {
        (Some(user), Some(password)) => Some(SmtpCredentials {
            user,
            password: String::from_utf8(password.to_vec()).ok()?,
        }),
        _ => None,
    };
    Some(Smtp {
        host: variable(SMTP_HOST)?,
        from: variable(SMTP_FROM)?,
        credentials,
    })
}

/// The silence in the silent-agent rule of a rules file.
fn silence(rules: &Value) -> Option<super::Silence> {
    rules
        .get("groups")?
        .as_sequence()?
        .iter()
        .filter_map(|g| g.get("rules").and_then(Value::as_sequence))
        .flatten()
        .find(|r| r.get("uid").and_then(Value::as_str) == Some(alerts::SILENT_AGENT_UID))?
        .get("data")?
        .get(0)?
        .get("model")?
        .get("expr")?
        .as_str()
        .and_then(alerts::silence_of)
}
