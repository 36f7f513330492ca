//! `finchctl service backup [user@]host FILE`: one archive on this workstation with what a
//! restore needs (see [`crate::stack::backup`]): consistent copies of the registry and of
//! Grafana's database taken while the stack runs, `finch.json`, the operators' CAs and the
//! TLS material, Grafana's admin password and the rendered configuration, with a manifest of
//! versions and SHA-256 checksums. `--backup.data` adds the services' data.
//!
//! The archive is written 0600 and renamed into place; the command says how large it is and
//! what it holds.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use clap::Args;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::on_host::{OnHost, OnHostArgs};
use crate::cli::Context;
use crate::output::Problem;
use crate::stack::backup::{self, Archive, Manifest, Snapshot, archive, manifest};
use crate::stack::deploy::apply::CERTS_DIR;
use crate::stack::{compose, finch_json, grafana};
use crate::target::{Plan, fleet};

/// Flags of `service backup`.
#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// The host, step reporting, the library and the Docker daemon.
    #[command(flatten)]
    pub on: OnHostArgs,
    /// The archive to write on this workstation (a gzip-compressed tar, mode 0600; an
    /// existing file is replaced only once the new archive is complete)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Add Loki's, Mimir's, Pyroscope's and Alloy's data (large; copied while they run)
    #[arg(long = "backup.data", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub data: Option<bool>,
}

/// Takes the backup.
pub async fn run(args: &BackupArgs, cx: &Context) -> anyhow::Result<()> {
    check_destination(&args.file)?;
    let on = OnHost::read(&args.on, false, cx).await?;
    let data = args.data == Some(true);
    let mut plan = Plan::new();
    plan.push(backup::take_step(&on.docker, data));
    let (ok, error) = fleet::outcome(on.fleet.run(&plan, &on.reporter).await?);
    if let Some(error) = error {
        return Err(error);
    }
    if on.fleet.dry_run {
        return Ok(());
    }
    let stdout = ok
        .iter()
        .flat_map(|(_, r)| &r.steps)
        .find(|s| s.name == backup::TAKE_STEP)
        .map(|s| s.stdout.as_str())
        .unwrap_or_default();
    let encoded: String = stdout.chars().filter(|c| !c.is_whitespace()).collect();
    let tar = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| Problem::failed(format!("the library the host sent is cut short: {e}")))?;
    let snapshot = Snapshot::parse(&tar).map_err(|e| Problem::failed(e.to_string()))?;
    let agents = match (snapshot.has(backup::snapshot::REGISTRY.1), snapshot.agents) {
        (true, Some(agents)) => agents,
        _ => {
            return Err(Problem::failed(format!(
                "the host sent no copy of the registry from {}",
                on.target.host
            ))
            .into());
        }
    };
    let manifest = manifest_of(&on, &snapshot, agents, data)?;
    let archive = Archive {
        manifest,
        contents: snapshot.contents.clone(),
    };
    let size = archive::write(&args.file, &archive).map_err(|e| Problem::failed(e.to_string()))?;
    cx.output.status(
        "Wrote",
        &format!(
            "{} ({}): {}",
            args.file.display(),
            human_size(size),
            holds(&snapshot, agents, data)
        ),
    );
    Ok(())
}

/// Refuses, before connecting, a destination whose directory does not exist.
fn check_destination(file: &Path) -> anyhow::Result<()> {
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty());
    if file.is_dir() || dir.is_some_and(|d| !d.is_dir()) {
        return Err(Problem::usage(format!(
            "{} is not a file in an existing directory",
            file.display()
        ))
        .hint("give the archive's path, such as finch-backup.tar.gz")
        .into());
    }
    Ok(())
}

/// The manifest of what the host sent.
fn manifest_of(
    on: &OnHost,
    snapshot: &Snapshot,
    agents: u64,
    data: bool,
) -> anyhow::Result<Manifest> {
    let json: serde_json::Value = serde_json::from_slice(on.finch_json())
        .map_err(|e| Problem::failed(format!("the host's finch.json is not valid JSON: {e}")))?;
    let text = |key: &str| json.get(key).and_then(|v| v.as_str()).unwrap_or_default();
    let database = if text("database").starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    };
    let compose: serde_norway::Value = on
        .library
        .files
        .get(compose::PATH)
        .and_then(|c| serde_norway::from_slice(c).ok())
        .unwrap_or_default();
    let images = compose
        .get("services")
        .and_then(|s| s.as_mapping())
        .map(|services| {
            services
                .iter()
                .filter_map(|(name, service)| {
                    Some((
                        name.as_str()?.to_owned(),
                        service.get("image")?.as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let now = OffsetDateTime::now_utc();
    Ok(Manifest {
        format: manifest::FORMAT,
        created_at: now.format(&Rfc3339).unwrap_or_else(|_| now.to_string()),
        finchctl: crate::RELEASE.to_owned(),
        id: text("id").to_owned(),
        hostname: on.hostname()?,
        service_name: on.service_name()?,
        database: database.to_owned(),
        agents,
        data,
        images,
        entries: snapshot.entries.clone(),
    })
}

/// What the archive holds, for people.
fn holds(snapshot: &Snapshot, agents: u64, data: bool) -> String {
    let cas = snapshot
        .entries
        .iter()
        .filter(|e| {
            e.path
                .strip_prefix(CERTS_DIR)
                .and_then(|r| r.strip_prefix('/'))
                .is_some_and(|name| {
                    name.ends_with(".pem") && name != "cert.pem" && name != "key.pem"
                })
        })
        .count();
    let mut parts = vec![
        finch_json::PATH.to_owned(),
        format!("the registry ({agents} agents)"),
        format!("{cas} operator CAs"),
        "the TLS material".to_owned(),
    ];
    if snapshot.has(backup::snapshot::GRAFANA.1) {
        parts.push("Grafana's database".to_owned());
    }
    if snapshot.has(grafana::PASSWORD_PATH) {
        parts.push("Grafana's admin password".to_owned());
    }
    if data {
        let files: usize = backup::DATA_DIRS
            .iter()
            .map(|d| snapshot.files_under(d))
            .sum();
        parts.push(format!(
            "Loki, Mimir, Pyroscope and Alloy data ({files} files)"
        ));
    } else {
        parts.push("no service data (--backup.data adds it)".to_owned());
    }
    parts.join(", ")
}

/// A size in bytes as people read it: `812 B`, `4.2 KiB`, `1.3 GiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: BackupArgs,
    }

    #[test]
    fn test_backup_data() {
        let parse = |argv: &[&str]| Cli::try_parse_from(argv).map(|c| (c.args.data, c.args.file));
        let (data, file) = parse(&["x", "web", "b.tar.gz"]).unwrap();
        assert_eq!((data, file), (None, PathBuf::from("b.tar.gz")));
        assert_eq!(
            parse(&["x", "web", "b", "--backup.data"]).unwrap().0,
            Some(true)
        );
        assert_eq!(
            parse(&["x", "web", "b", "--backup.data=false"]).unwrap().0,
            Some(false)
        );
        assert!(parse(&["x", "web"]).is_err(), "FILE is required");
    }

    #[test]
    fn sizes_read_as_people_read_them() {
        assert_eq!(human_size(812), "812 B");
        assert_eq!(human_size(4300), "4.2 KiB");
        assert_eq!(human_size(3 * 1024 * 1024 * 1024 / 2), "1.5 GiB");
    }
}
