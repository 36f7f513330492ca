//! The `--alert.*` flags of `service deploy`, `update` and `render`: where Grafana sends the
//! stack's alerts. Parsing does no I/O; [`AlertArgs::resolve`] reads the credentials file and
//! merges the flags with what the stack has (a flag not given keeps the deployed value; an
//! empty `--alert.email` or `--alert.webhook` removes that contact point).
//!
//! The SMTP password comes from a file, never a flag, so it is in no process list; the file
//! must be private to its owner, as ssh asks of a key.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;

use crate::output::Problem;
use crate::stack::alerts::{self, Alerts, Silence, Smtp, SmtpCredentials};

/// Where alerts go.
#[derive(Debug, Clone, Default, Args)]
pub struct AlertArgs {
    /// Send alerts by e-mail to ADDRESS (repeatable; needs --alert.smtp); an empty value stops
    /// e-mail alerts; default: what a deployed stack has
    #[arg(long = "alert.email", value_name = "ADDRESS")]
    pub email: Vec<String>,
    /// The SMTP server Grafana sends e-mail through, as HOST:PORT ([ADDR]:PORT for IPv6)
    #[arg(long = "alert.smtp", value_name = "HOST:PORT")]
    pub smtp: Option<String>,
    /// A YAML file with the SMTP login (`user:` and `password:`), readable by its owner alone
    #[arg(long = "alert.smtp.credentials", value_name = "FILE")]
    pub smtp_credentials: Option<PathBuf>,
    /// The sender of e-mail alerts (default: the SMTP user when it is an address, else
    /// finch@<service host>)
    #[arg(long = "alert.smtp.from", value_name = "ADDRESS")]
    pub smtp_from: Option<String>,
    /// Send alerts as JSON to this http(s) URL; an empty value stops webhook alerts; default:
    /// what a deployed stack has
    #[arg(long = "alert.webhook", value_name = "URL")]
    pub webhook: Option<String>,
    /// How long an agent may send no metrics before it alerts: minutes, hours or days (15m, 2h,
    /// 1d); default 15m, or on a deployed stack what it has
    #[arg(long = "alert.silence", value_name = "DURATION")]
    pub silence: Option<Silence>,
}

/// The credentials file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsFile {
    user: String,
    password: String,
}

// === impl AlertArgs ===

impl AlertArgs {
    /// The alert settings for a stack on `host`: the flags over `kept` (a deployed stack's).
    pub fn resolve(&self, kept: Alerts, host: &str) -> anyhow::Result<Alerts> {
        let emails = match self.email.as_slice() {
            [] => kept.emails.clone(),
            [only] if only.is_empty() => Vec::new(),
            given => {
                for address in given {
                    crate::stack::tls::check_email(address).map_err(|_| {
                        usage(
                            &format!("--alert.email {address:?} is not an e-mail address"),
                            "give an address such as ops@example.com",
                        )
                    })?;
                }
                given.to_vec()
            }
        };
        let smtp = self.smtp(&emails, kept.smtp, host)?;
        let webhook = match self.webhook.as_deref() {
            None => kept.webhook,
            Some("") => None,
            Some(url) if alerts::check_webhook(url) => Some(url.to_owned()),
            Some(url) => {
                return Err(usage(
                    &format!("--alert.webhook {url:?} is not an http or https URL"),
                    "give the URL the webhook receiver listens on, such as https://hooks.example.com/finch",
                ));
            }
        };
        Ok(Alerts {
            emails,
            smtp,
            webhook,
            silence: self.silence.unwrap_or(kept.silence),
            owns_policy: kept.owns_policy,
        })
    }

    /// The mail server for `emails`: none without addresses (the SMTP flags are then refused).
    fn smtp(
        &self,
        emails: &[String],
        kept: Option<Smtp>,
        host: &str,
    ) -> anyhow::Result<Option<Smtp>> {
        let given =
            self.smtp.is_some() || self.smtp_credentials.is_some() || self.smtp_from.is_some();
        if emails.is_empty() {
            if given {
                return Err(usage(
                    "--alert.smtp, --alert.smtp.credentials and --alert.smtp.from need --alert.email",
                    "add --alert.email with the address alerts go to",
                ));
            }
            return Ok(None);
        }
        let Some(server) = self
            .smtp
            .clone()
            .or_else(|| kept.as_ref().map(|k| k.host.clone()))
        else {
            return Err(usage(
                "--alert.email needs --alert.smtp HOST:PORT",
                "give the mail server Grafana sends through, such as smtp.example.com:587",
            ));
        };
        if !alerts::check_smtp_host(&server) {
            return Err(usage(
                &format!("--alert.smtp {server:?} is not HOST:PORT"),
                "give the mail server with its port, such as smtp.example.com:587",
            ));
        }
        let credentials = match &self.smtp_credentials {
            Some(path) => Some(read_credentials(path)?),
            None => kept.as_ref().and_then(|k| k.credentials.clone()),
        };
        let from = match (&self.smtp_from, &kept) {
            (Some(from), _) => {
                crate::stack::tls::check_email(from).map_err(|_| {
                    usage(
                        &format!("--alert.smtp.from {from:?} is not an e-mail address"),
                        "give the sender address the mail server accepts",
                    )
                })?;
                from.clone()
            }
            (None, Some(kept)) => kept.from.clone(),
            (None, None) => match &credentials {
                Some(login) if crate::stack::tls::check_email(&login.user).is_ok() => {
                    login.user.clone()
                }
                _ => format!("finch@{host}"),
            },
        };
        Ok(Some(Smtp {
            host: server,
            from,
            credentials,
        }))
    }
}

/// Reads `--alert.smtp.credentials`: refused when others may read it, or when it is not the
/// two keys with printable values.
fn read_credentials(path: &Path) -> anyhow::Result<SmtpCredentials> {
    use std::os::unix::fs::PermissionsExt as _;
    let flag = "--alert.smtp.credentials";
    let failed = |what: String| Problem::failed(format!("{flag}: {}: {what}", path.display()));
    let metadata = std::fs::metadata(path).map_err(|e| failed(e.to_string()))?;
    if metadata.permissions().mode() & 0o077 != 0 {
        return Err(failed(format!(
            "readable by others (mode {:04o})",
            metadata.permissions().mode() & 0o7777
        ))
        .hint(format!(
            "make it private with `chmod 600 {}`",
            path.display()
        ))
        .into());
    }
    let text = std::fs::read_to_string(path).map_err(|e| failed(e.to_string()))?;
    let file: CredentialsFile = serde_norway::from_str(&text).map_err(|e| {
        failed(format!("not a YAML mapping of user and password: {e}"))
            .hint("write two lines, `user: NAME` and `password: SECRET`")
    })?;
    let printable = |s: &str| !s.is_empty() && !s.chars().any(char::is_control);
    if !printable(&file.user) || !printable(&file.password) {
        return Err(failed("user and password must be non-empty text on one line".into()).into());
    }
    Ok(SmtpCredentials {
        user: file.user,
        password: file.password,
    })
}

fn usage(message: &str, hint: &str) -> anyhow::Error {
    Problem::usage(message).hint(hint).into()
}

#[cfg(test)]
mod tests;
