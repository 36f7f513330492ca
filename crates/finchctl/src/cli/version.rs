//! `finchctl version`: the release, the commit and this machine's client RID.
//!
//! The RID is what the stack's `certs.d/<RID>.pem` is named after, so operators need to see
//! it; when there is no machine id the line says why instead of failing the command.

use std::io::IsTerminal;

use clap::Args;

use crate::cli::Context;
use crate::mtls;

/// Flags of `version` (none).
#[derive(Debug, Clone, Args)]
pub struct VersionArgs {}

/// Prints the banner and the three lines 1.x prints.
pub fn run(_args: &VersionArgs, cx: &Context) -> anyhow::Result<()> {
    let color = !cx.env.no_color && std::io::stdout().is_terminal();
    let banner = if color {
        "\x1b[1;34mfinchctl\x1b[0m"
    } else {
        "finchctl"
    };
    let rid = match mtls::local_rid(&cx.env.machine_id_paths) {
        Ok(rid) => rid,
        Err(err) => {
            cx.output.warn(&err.to_string());
            "unavailable".to_owned()
        }
    };
    crate::output::stdout(&format!(
        "{banner}\n\nRelease:    {}\nCommit:     {}\nResourceID: {rid}\n",
        crate::RELEASE,
        crate::COMMIT
    ))
}
