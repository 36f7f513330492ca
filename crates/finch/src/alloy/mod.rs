//! Grafana Alloy configs for agents: what `GetAgentConfig` and the dashboard's download return.
//!
//! [`render`] turns an [`Agent`] plus a freshly minted token into a complete config that pushes
//! logs to Loki, metrics to Mimir and profiles to Pyroscope through the stack's Traefik. The
//! document is built by a small block writer rather than a text template so that every value
//! from outside passes through [`string`], Alloy's string escaping: a label value such as
//! `x" } evil { "` stays one string. [`skip_tls_verify`] is the one filesystem rule: agents skip
//! certificate verification unless the stack has a real certificate.

mod escape;
mod render;
mod target;
#[cfg(test)]
mod tests;
mod writer;

pub use escape::string;
pub use target::TargetError;

use std::path::Path;

use crate::agents::Agent;
use crate::tokens::MintedToken;

/// Files in `certs.d` that mean the stack serves a certificate agents can verify: Traefik's ACME
/// store (Let's Encrypt) or an operator-provided certificate and key. Without any of them Traefik
/// serves its self-signed default certificate.
pub const VERIFIABLE_TLS_FILES: [&str; 3] = ["acme.json", "cert.pem", "key.pem"];

/// Everything a config is rendered from.
#[derive(Debug, Clone, Copy)]
pub struct AlloyConfig<'a> {
    /// The agent.
    pub agent: &'a Agent,
    /// The stack's public URL with no path, `https://<hostname>[:<https_port>]`
    /// ([`FinchConfig::public_url`](crate::config::FinchConfig::public_url)): every push URL
    /// starts with it.
    pub service_url: &'a str,
    /// The agent token to embed.
    pub token: &'a MintedToken,
    /// Whether agents skip TLS verification (see [`skip_tls_verify`]).
    pub skip_verify: bool,
}

/// Why a config could not be rendered: stored data that validation should have kept out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// A stored metrics target is not an http(s) URL.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// The token expiry cannot be formatted (a year beyond 9999).
    #[error("token expiry cannot be formatted")]
    Expiry,
}

/// Renders the config.
pub fn render(config: &AlloyConfig<'_>) -> Result<String, RenderError> {
    let mut text = render::render(config)?;
    // Components are separated by blank lines; the document ends with a single newline.
    while text.ends_with("\n\n") {
        text.pop();
    }
    Ok(text)
}

/// Whether agents should skip TLS verification: true unless `certs_dir` holds one of
/// [`VERIFIABLE_TLS_FILES`]. Checked on every render, as in 1.x, so adding a certificate takes
/// effect for the next config without a restart.
pub fn skip_tls_verify(certs_dir: &Path) -> bool {
    !VERIFIABLE_TLS_FILES
        .iter()
        .any(|name| certs_dir.join(name).exists())
}
