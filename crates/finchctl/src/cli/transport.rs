//! The resolve step of every SSH command: target strings and `--run.*`/`--ssh.*` flags become
//! a [`Fleet`] and a [`Reporter`]; plus the doctors' shared transport check.

use std::time::Duration;

use crate::cli::Context;
use crate::cli::args::{RunArgs, SshArgs};
use crate::output::Problem;
use crate::target::fleet::{self, Fleet};
use crate::target::report::Reporter;
use crate::target::{HostKeyCheck, SshOptions, TargetSpec, facts};

/// The fleet for `targets`; a bad target is a usage error naming it. Warns when host keys
/// are not checked.
pub fn fleet(
    targets: &[String],
    run: &RunArgs,
    ssh: &SshArgs,
    cx: &Context,
) -> anyhow::Result<Fleet> {
    let targets = targets
        .iter()
        .map(|t| TargetSpec::parse(t).map_err(|e| Problem::usage(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    if ssh.host_key_check == HostKeyCheck::No {
        cx.output.warn(
            "--ssh.host-key-check=no: host keys are not checked, anyone on the path can impersonate the host",
        );
    }
    Ok(Fleet {
        targets,
        dry_run: run.dry_run == Some(true),
        ssh: SshOptions {
            config: ssh.ssh_config.clone(),
            options: ssh.ssh_options.clone(),
            host_key_check: ssh.host_key_check,
        },
        parallel: run.parallel,
        timeout: Duration::from_secs(cx.global.cmd_timeout),
        cancel: cx.cancel.clone(),
    })
}

/// The reporter for `run`; `data_on_stdout` when the command prints data of its own.
pub fn reporter(run: &RunArgs, fleet: &Fleet, data_on_stdout: bool, cx: &Context) -> Reporter {
    Reporter::new(
        run.format,
        data_on_stdout,
        fleet.targets.len() > 1,
        cx.env.no_color,
    )
}

/// Runs the transport probes on every target and prints their facts (in the command's
/// `--output` format); fails when a target could not be reached or cannot run root steps. A
/// dry run prints the plan alone.
pub async fn doctor(
    targets: &[String],
    run: &RunArgs,
    ssh: &SshArgs,
    cx: &Context,
) -> anyhow::Result<()> {
    let fleet = fleet(targets, run, ssh, cx)?;
    let reporter = reporter(run, &fleet, true, cx);
    let runs = fleet.run(&facts::plan(), &reporter).await?;
    if runs.len() > 1 {
        reporter.note(&fleet::summary(&runs));
    }
    if fleet.dry_run {
        return fleet::outcome(runs).1.map_or(Ok(()), Err);
    }
    let (ok, error) = fleet::outcome(runs);
    let found: Vec<facts::TransportFacts> = ok.iter().map(|(t, r)| facts::from_run(t, r)).collect();
    if !found.is_empty() {
        cx.output.data(&found, || facts::table(&found))?;
    }
    if let Some(error) = error {
        return Err(error);
    }
    let unable: Vec<&str> = found
        .iter()
        .filter(|f| !f.ok)
        .map(|f| f.target.as_str())
        .collect();
    if unable.is_empty() {
        Ok(())
    } else {
        Err(Problem::failed(format!(
            "cannot run root steps on {}: the user is not root and sudo is not passwordless",
            unable.join(", ")
        ))
        .hint("connect as root, or allow the user passwordless sudo (NOPASSWD in /etc/sudoers.d)")
        .into())
    }
}
