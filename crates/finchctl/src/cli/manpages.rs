//! `finchctl manpages <dir>` (hidden): one roff man page per command, from the clap
//! definitions, for packagers (`finchctl.1`, `finchctl-agent-register.1`, …).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, CommandFactory};

use crate::cli::{Cli, Context};

/// Flags of `manpages`.
#[derive(Debug, Clone, Args)]
pub struct ManpagesArgs {
    /// The directory to write the pages into (created when missing)
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// Writes every page.
pub fn run(args: &ManpagesArgs, cx: &Context) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let mut command = Cli::command();
    command.build();
    let count = write_pages(&command, "finchctl", &args.dir)?;
    cx.output.status(
        "Wrote",
        &format!("{count} man pages to {}", args.dir.display()),
    );
    Ok(())
}

fn write_pages(command: &clap::Command, name: &str, dir: &Path) -> anyhow::Result<usize> {
    let page = command.clone().display_name(name.to_owned());
    let mut roff = Vec::new();
    clap_mangen::Man::new(page).render(&mut roff)?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, roff).with_context(|| format!("cannot write {}", path.display()))?;
    let mut count = 1;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() == "help" {
            continue;
        }
        count += write_pages(sub, &format!("{name}-{}", sub.get_name()), dir)?;
    }
    Ok(count)
}
