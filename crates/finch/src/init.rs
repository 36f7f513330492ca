//! `finch init`: a new library's `finch.json`, written by the same code the test kit uses, so
//! that scripts never spell the file out themselves.

use std::path::PathBuf;

use anyhow::Context as _;
use time::OffsetDateTime;

use crate::cli::InitArgs;
use crate::config::FinchConfig;

/// Writes a fresh `finch.json` at `args.config_file` and returns its absolute path.
pub fn init(args: &InitArgs) -> anyhow::Result<PathBuf> {
    let path = std::path::absolute(&args.config_file)
        .with_context(|| format!("cannot resolve {}", args.config_file.display()))?;
    let library_dir = path
        .parent()
        .with_context(|| format!("{} names no file inside a directory", path.display()))?
        .to_owned();
    let config = FinchConfig::generate(
        library_dir,
        &args.hostname,
        &args.database,
        OffsetDateTime::now_utc(),
    )?;
    config.write_new(&path)?;
    Ok(path)
}
