//! What a deploy leaves on the workstation and says at the end: the operator's entry in the
//! profile (a new client certificate on a new stack, the pin of a self-signed certificate on
//! every deploy) and the closing summary, on stderr.

use crate::cli::Context;
use crate::client::ServerPin;
use crate::mtls::ClientCredentials;
use crate::output::Problem;
use crate::profile::Stack;
use crate::stack::{StackSettings, TlsMode};

/// The closing summary of a deploy or update.
#[derive(Debug)]
pub struct Summary<'a> {
    /// The target as given.
    pub target: &'a str,
    /// The stack's name in the profile.
    pub name: &'a str,
    /// What was deployed.
    pub settings: &'a StackSettings,
    /// Where the Grafana password is on the host.
    pub password_file: String,
    /// Whether this made the stack (then the Grafana password is printed, this once).
    pub first: bool,
    /// Whether this workstation is an operator of the stack.
    pub registered: bool,
}

/// The stack's name in the profile and the address gRPC commands dial: its host, with the
/// published HTTPS port when that is not 443.
pub fn service_name(host: &str, https_port: u16) -> String {
    if https_port == 443 {
        host.to_owned()
    } else {
        crate::stack::compose::url_authority(host, https_port)
    }
}

/// The pin of a self-signed certificate; none for Let's Encrypt and custom certificates,
/// which verify by host name.
pub fn pin(tls: &TlsMode) -> anyhow::Result<Option<String>> {
    let TlsMode::SelfSigned(pair) = tls else {
        return Ok(None);
    };
    let (_, pem) = x509_parser::pem::parse_x509_pem(pair.cert_pem.as_bytes())
        .map_err(|e| Problem::failed(format!("cannot read the self-signed certificate: {e}")))?;
    Ok(Some(ServerPin::of(&pem.contents).to_string()))
}

/// Records the stack in the profile: new credentials when given (a new stack), and the pin.
pub fn save(
    cx: &Context,
    name: &str,
    tls: &TlsMode,
    credentials: Option<&ClientCredentials>,
) -> anyhow::Result<()> {
    let pin = pin(tls)?;
    let mut profile = cx.load_profile()?;
    match credentials {
        Some(c) => profile.upsert(&Stack {
            name: name.to_owned(),
            cert_pem: c.cert_pem.clone(),
            key_pem: c.key_pem.clone(),
            server_pin: pin,
        }),
        None => {
            if !profile.set_pin(name, pin) {
                return Ok(());
            }
        }
    }
    profile.save()?;
    Ok(())
}

/// Whether the profile holds `name`.
pub fn known(cx: &Context, name: &str) -> bool {
    cx.load_profile()
        .ok()
        .and_then(|p| p.stack(name).ok().flatten())
        .is_some()
}

// === impl Summary ===

impl Summary<'_> {
    /// Prints the summary on stderr, whatever `--run.format` (stdout carries the step report
    /// in the `json` and `documentation` formats).
    pub fn print(&self) {
        eprint!("\n{}", self.text());
    }

    /// The summary's text.
    pub fn text(&self) -> String {
        let host = crate::stack::compose::url_authority(
            &self.settings.host,
            self.settings.ports.https.port,
        );
        let mut text = format!(
            "The Finch stack runs on {} (id {}).\n\n  Grafana    https://{host}/grafana/  (user admin)\n  Dashboard  https://{host}/dashboard  (`finchctl service dashboard --web {}`)\n  Password   Grafana's admin password is in {} on the host (`sudo cat` it)\n",
            self.target, self.settings.generated.id, self.name, self.password_file
        );
        if self.first {
            text.push_str(&format!(
                "             {}  (shown this once)\n",
                self.settings.generated.grafana_password
            ));
        }
        text.push('\n');
        if self.registered {
            text.push_str(&format!(
                "Next: enroll an agent with `finchctl agent register --agent.hostname <agent host> {}`\n",
                self.name
            ));
        } else {
            text.push_str(&format!(
                "This workstation is not an operator of the stack: `finchctl service register {}` makes it one\n",
                self.target
            ));
        }
        text
    }
}
