//! Where Grafana sends the stack's alerts (`--alert.*`): e-mail through an SMTP server, a
//! webhook, and how long an agent may stay silent before it counts as down.
//!
//! [`Alerts`] is one value of the settings, rendered into Grafana's provisioning
//! ([`super::grafana`]) and Grafana's SMTP settings ([`super::compose`]). Like the retention
//! and the ports, the contact points are kept: [`Alerts::kept`] reads them back from the files
//! an earlier render wrote, so a later deploy without the flags changes nothing.

mod kept;
mod silence;

use std::fmt;

pub use kept::FILES;
pub use silence::{DEFAULT_SILENCE, Silence, SilenceError};

/// The stack's alerting settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Alerts {
    /// The addresses e-mail alerts go to; none when alerts are not mailed.
    pub emails: Vec<String>,
    /// The mail server, present exactly when `emails` is not empty.
    pub smtp: Option<Smtp>,
    /// The webhook's URL.
    pub webhook: Option<String>,
    /// How long an agent may send nothing before its alert fires.
    pub silence: Silence,
    /// Whether an earlier render provisioned the notification policy. The policy then stays
    /// ours: when no contact point remains it is reset (Grafana's default) rather than left
    /// pointing at a removed contact point. A stack that never had one leaves the policy to
    /// whoever edits it in Grafana.
    pub owns_policy: bool,
}

/// The SMTP server Grafana sends e-mail alerts through.
#[derive(Clone, PartialEq, Eq)]
pub struct Smtp {
    /// `HOST:PORT`.
    pub host: String,
    /// The sender address.
    pub from: String,
    /// The login, when the server wants one.
    pub credentials: Option<SmtpCredentials>,
}

/// An SMTP login (from `--alert.smtp.credentials`); the password is a secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpCredentials {
    /// The user name.
    pub user: String,
    /// The password: only ever written to a 0400 file of Grafana's user.
    pub password: String,
}

// === impl Alerts ===

impl Alerts {
    /// Whether any contact point is configured.
    pub fn has_contact_point(&self) -> bool {
        !self.emails.is_empty() || self.webhook.is_some()
    }
}

impl fmt::Debug for Smtp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Smtp")
            .field("host", &self.host)
            .field("from", &self.from)
            .field("credentials", &self.credentials)
            .finish()
    }
}

impl fmt::Debug for SmtpCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpCredentials")
            .field("user", &self.user)
            .field("password", &"REDACTED")
            .finish()
    }
}

/// Checks `HOST:PORT` of an SMTP server: a host name or IP address (IPv6 in brackets) and a
/// port from 1 to 65535.
pub fn check_smtp_host(text: &str) -> bool {
    let Some((host, port)) = text.rsplit_once(':') else {
        return false;
    };
    let port_ok = port.parse::<u16>().is_ok_and(|p| p > 0);
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => !host.contains(':') && super::check_host(host).is_ok(),
    };
    port_ok && host_ok
}

/// Checks a webhook URL: `http` or `https` with a host, and nothing a header or a YAML
/// scalar could be broken with (no white space or control characters).
pub fn check_webhook(url: &str) -> bool {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Ok(uri) = url.parse::<http::Uri>() else {
        return false;
    };
    matches!(uri.scheme_str(), Some("http" | "https"))
        && uri.authority().is_some_and(|a| !a.host().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_hosts_need_a_port() {
        for good in ["smtp.example.com:587", "10.0.0.1:25", "[2001:db8::1]:465"] {
            assert!(check_smtp_host(good), "{good}");
        }
        for bad in [
            "smtp.example.com",
            "smtp.example.com:0",
            "smtp.example.com:70000",
            ":25",
            "2001:db8::1:25",
            "a b:25",
            "smtp\n.example.com:25",
        ] {
            assert!(!check_smtp_host(bad), "{bad}");
        }
    }

    #[test]
    fn webhooks_are_http_urls() {
        for good in [
            "https://hooks.example.com/T0/B0/x?y=1",
            "http://10.0.0.1:8080/alert",
        ] {
            assert!(check_webhook(good), "{good}");
        }
        for bad in [
            "",
            "hooks.example.com/x",
            "ftp://example.com/",
            "https:///x",
            "https://example.com/a b",
            "https://example.com/\n",
        ] {
            assert!(!check_webhook(bad), "{bad}");
        }
    }

    #[test]
    fn debug_hides_the_smtp_password() {
        let smtp = Smtp {
            host: "smtp.example.com:587".into(),
            from: "finch@example.com".into(),
            credentials: Some(SmtpCredentials {
                user: "finch".into(),
                password: "hunter2".into(),
            }),
        };
        let text = format!("{smtp:?}");
        assert!(
            !text.contains("hunter2") && text.contains("REDACTED"),
            "{text}"
        );
    }
}
