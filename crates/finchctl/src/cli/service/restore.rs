//! `finchctl service restore [user@]host FILE`: brings a backed-up stack back, on the host it
//! came from or on a new one.
//!
//! The archive is read and every checksum verified before connecting, so a damaged archive
//! changes nothing on the host. A host with a stack needs `--restore.replace` (its containers
//! stop and its databases, CAs and TLS material give way to the archive's). The archive is
//! unpacked into the library and a deploy, taking every deploy flag, brings the stack up with
//! the archive's lifelong values: its id and token secret (so the agents' tokens keep
//! working), its operator CAs and certificate (so operators' client certificates and pins do
//! too), its registry and Grafana. When the stack's profile name changes (other ports), this
//! workstation's entry is copied to the new name.

use std::path::PathBuf;

use clap::Args;

use super::deploy::{self, DeployArgs};
use super::operator;
use super::rollout::Rollout;
use super::teardown::DOWN_SCRIPT;
use crate::cli::Context;
use crate::output::Problem;
use crate::profile::Stack;
use crate::stack::backup::{self, Archive, archive};
use crate::stack::compose::{self, NETWORK};
use crate::stack::deploy::Library;
use crate::stack::deploy::docker::PROJECT;
use crate::stack::finch_json;
use crate::target::{Plan, Step, Upload};

/// Where the payload lands in the library before it is unpacked.
const PAYLOAD: &str = ".finch-restore.tar";

/// `$1` the library: created 0700 when missing.
const LIBRARY_SCRIPT: &str = r#"if [ ! -d "$1" ]; then mkdir -p -- "$1"; chmod 0700 -- "$1"; fi"#;

/// Flags of `service restore`.
#[derive(Debug, Clone, Args)]
#[command(mut_arg("host", |a| a.help("The stack's host name (default: the archive's)")))]
pub struct RestoreArgs {
    /// The host and every deploy flag (the restore deploys the stack).
    #[command(flatten)]
    pub deploy: DeployArgs,
    /// The archive `finchctl service backup` wrote
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Replace the stack the host runs with the archive's (its agents, operators and data
    /// give way)
    #[arg(long = "restore.replace", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub replace: Option<bool>,
}

/// Restores the archive.
pub async fn run(args: &RestoreArgs, cx: &Context) -> anyhow::Result<()> {
    if args.deploy.reset == Some(true) {
        return Err(Problem::usage("--stack.reset makes no sense with a restore")
            .hint("drop --stack.reset: the archive's id, secret and CAs are what a restore brings back")
            .into());
    }
    let archive = archive::read(&args.file).map_err(|e| {
        Problem::failed(format!("refusing to restore: {e}")).hint(
            "nothing changed on the host; take a new backup, or use an intact copy of this one",
        )
    })?;
    let manifest = &archive.manifest;
    let mut deploy_args = args.deploy.clone();
    let host = deploy_args
        .host
        .get_or_insert_with(|| manifest.hostname.clone())
        .clone();
    let rollout = Rollout::new(&args.deploy.target, &args.deploy.run, cx)?;
    let look = rollout
        .look(
            &args.deploy.rollout.host,
            args.deploy.install == Some(true),
            &[finch_json::PATH, compose::PATH],
            &args.deploy.rollout.stack.images()?,
        )
        .await?;
    let docker = &look.docker;
    let replace = look.library.files.contains_key(finch_json::PATH);
    if replace && args.replace != Some(true) {
        return Err(Problem::failed(format!(
            "a stack ({}) runs from {} on {}: refusing to replace it",
            look.library.hostname().unwrap_or_default(),
            docker.library,
            rollout.target()
        ))
        .hint("pass --restore.replace to replace it with the archive's, or restore into another --service.library")
        .into());
    }
    rollout.reporter.note(&format!(
        "Restoring stack {} ({}, {} agents, taken {}) onto {}{}",
        manifest.id,
        manifest.hostname,
        manifest.agents,
        manifest.created_at,
        rollout.target(),
        if replace {
            ", replacing the stack there"
        } else {
            ""
        }
    ));
    let payload = archive
        .payload()
        .map_err(|e| Problem::failed(format!("cannot pack the archive for the host: {e}")))?;
    let mut plan = Plan::new();
    if replace {
        plan.push(docker.script(
            "Stop the stack being replaced",
            DOWN_SCRIPT,
            [
                docker.path(compose::PATH),
                PROJECT.to_owned(),
                NETWORK.to_owned(),
            ],
        ));
    }
    plan.push(Step::script(
        "Create the library",
        LIBRARY_SCRIPT,
        [docker.library.clone()],
    ))
    .push(Step::upload(
        "Upload the archive",
        Upload {
            dest: docker.path(PAYLOAD),
            contents: payload.into(),
            mode: 0o600,
            owner: Some("0:0".to_owned()),
        },
    ))
    .push(backup::put_step(
        docker,
        &docker.path(PAYLOAD),
        replace,
        manifest.data,
    ));
    rollout.run(&plan).await?;
    if !rollout.fleet.dry_run {
        carry_profile(cx, &archive, &host, &deploy_args)?;
    }
    deploy::run(&deploy_args, cx).await?;
    if rollout.fleet.dry_run {
        return Ok(());
    }
    if manifest.database == "postgres" {
        cx.output.warn(&format!(
            "the registry is in PostgreSQL, which a restore leaves as it is; to bring back the archive's {} agents, run `finch migrate --from sqlite:///var/lib/finch/finch.db --to <the database> --replace` in the finch container",
            manifest.agents
        ));
    }
    cx.output.status(
        "Restored",
        &format!(
            "stack {} with {} agents from {} onto {}",
            manifest.id,
            manifest.agents,
            args.file.display(),
            rollout.target()
        ),
    );
    Ok(())
}

/// Copies this workstation's profile entry of the backed-up stack to the name the restored
/// stack gets (its host and published HTTPS port), when they differ: the credentials are
/// the same, since the operators' CAs and the certificate came back with the archive.
fn carry_profile(
    cx: &Context,
    archive: &Archive,
    host: &str,
    args: &DeployArgs,
) -> anyhow::Result<()> {
    let manifest = &archive.manifest;
    let archived = Library {
        present: true,
        files: archive
            .contents
            .get(compose::PATH)
            .map(|c| [(compose::PATH.to_owned(), c.clone())].into())
            .unwrap_or_default(),
        ..Library::default()
    };
    let ports = args.rollout.stack.ports_or(archived.ports())?;
    let name = operator::service_name(host, ports.https.port);
    let mut profile = cx.load_profile()?;
    if profile.stack(&name)?.is_some() {
        return Ok(());
    }
    let Some(old) = profile.stack(&manifest.service_name)? else {
        cx.output.warn(&format!(
            "this workstation's profile has no entry for {}: restore from the workstation of an operator of the backed-up stack to keep using its credentials",
            manifest.service_name
        ));
        return Ok(());
    };
    profile.upsert(&Stack {
        name: name.clone(),
        ..old
    });
    profile.save()?;
    cx.output.status(
        "Copied",
        &format!(
            "the credentials of {} to {name} in {}",
            manifest.service_name,
            profile.path().display()
        ),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: RestoreArgs,
    }

    #[test]
    fn test_restore_replace() {
        let parse = |argv: &[&str]| Cli::try_parse_from(argv).map(|c| c.args);
        let args = parse(&["x", "web", "b.tar.gz"]).unwrap();
        assert_eq!(args.replace, None);
        assert_eq!(args.file, PathBuf::from("b.tar.gz"));
        assert_eq!(args.deploy.target.target, "web");
        let args = parse(&[
            "x",
            "web",
            "b",
            "--restore.replace",
            "--stack.https-port",
            "8443",
        ])
        .unwrap();
        assert_eq!(args.replace, Some(true));
        assert!(parse(&["x", "web"]).is_err(), "FILE is required");
    }
}
