//! `finchctl service pin`: trusts a stack's current server certificate by its SHA-256.
//!
//! A Finch 2 addition. A stack with Traefik's self-signed certificate cannot be verified by
//! host name; pinning the certificate lets every later command verify it without
//! `--tls.skip-verify`. The pin is stored as `server_pin` in the stack's finch.json entry (a key
//! 1.x ignores). With `--server.pin` the presented certificate must match the value given,
//! obtained out of band (for example over SSH on the host); without it, the certificate the
//! service presents now is trusted (trust on first use), and its pin is printed for comparison.

use clap::Args;
use serde::Serialize;

use crate::cli::Context;
use crate::cli::args::{OutputArgs, ServiceArg};
use crate::client::{self, ServerPin};
use crate::output::{Output, Problem};

/// Flags of `service pin`.
#[derive(Debug, Clone, Args)]
pub struct PinArgs {
    /// The stack.
    #[command(flatten)]
    pub service: ServiceArg,
    /// The pin the server must present (sha256/<base64>); default: whatever it presents now
    #[arg(long = "server.pin", value_name = "PIN")]
    pub pin: Option<String>,
    /// Remove the pin, going back to host-name verification
    #[arg(long = "unset", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", conflicts_with = "pin")]
    pub unset: Option<bool>,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The JSON and YAML schema.
#[derive(Debug, Serialize)]
pub struct PinResult {
    /// The stack.
    pub service: String,
    /// The stored pin; absent after `--unset`.
    pub server_pin: Option<String>,
}

/// Fetches or checks the server's certificate and stores its pin.
pub async fn run(args: &PinArgs, cx: &Context) -> anyhow::Result<()> {
    let service = &args.service.service;
    let expected: Option<ServerPin> = args
        .pin
        .as_deref()
        .map(|p| {
            p.parse()
                .map_err(|e| Problem::usage(format!("--server.pin: {e}")))
        })
        .transpose()?;
    let (mut profile, _) = cx.stack(service)?;
    let pin = if args.unset == Some(true) {
        None
    } else {
        let presented = client::fetch_server_pin(service, cx.rpc_timeout())
            .await
            .map_err(|e| Problem::failed(e.to_string()))?;
        if let Some(expected) = expected.filter(|e| *e != presented) {
            return Err(Problem::failed(format!(
                "{service} presents {presented}, not the expected {expected}"
            ))
            .hint("check the value with the stack's operator; nothing was stored")
            .into());
        }
        Some(presented.to_string())
    };
    profile.set_pin(service, pin.clone());
    profile.save()?;
    match &pin {
        Some(p) => cx.output.status("Pinned", &format!("{service} to {p}")),
        None => cx.output.status("Unpinned", service),
    }
    let result = PinResult {
        service: service.clone(),
        server_pin: pin,
    };
    Output {
        format: args.output.format(),
    }
    .data(&result, || {
        result
            .server_pin
            .clone()
            .map(|p| format!("{p}\n"))
            .unwrap_or_default()
    })
}
