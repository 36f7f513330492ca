//! `finchctl service doctor`: checks that hosts can run the stack, and how a deployed one is.
//!
//! Per host, three short plans: the [targets] facts and the Compose probe as the connecting
//! user; then, when root steps are possible, the library (its `finch.json`, Traefik's
//! certificate and the compose file, whose published ports are the ones to check); then the
//! root probe of [`crate::stack::doctor`]. The result is a table or JSON, one entry per host
//! with its facts and checks, and the command exits 1 when a required check fails anywhere.
//!
//! [targets]: crate::target::facts

use clap::Args;
use serde::Serialize;
use time::OffsetDateTime;

use super::host_args::HostArgs;
use super::on_host::published_port;
use crate::cli::Context;
use crate::cli::args::{DoctorOutputArgs, RunArgs, TargetsArg};
use crate::cli::transport;
use crate::mtls;
use crate::output::{Output, Problem};
use crate::stack::deploy::requirements::{self, Compose};
use crate::stack::deploy::{Library, library};
use crate::stack::doctor::{self, Check, Inputs, Status};
use crate::stack::{compose, finch_json, tls};
use crate::target::facts::{self, TransportFacts};
use crate::target::fleet;
use crate::target::run::PlanRun;
use crate::target::{Plan, TargetSpec};

/// The ports Traefik publishes unless the library's compose file says otherwise.
const DEFAULT_PORTS: [u16; 2] = [80, 443];

/// Flags of `service doctor`.
#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// The hosts.
    #[command(flatten)]
    pub targets: TargetsArg,
    /// Step reporting, dry run and parallelism.
    #[command(flatten)]
    pub run: RunArgs,
    /// Output format.
    #[command(flatten)]
    pub output: DoctorOutputArgs,
    /// The library and the Docker daemon.
    #[command(flatten)]
    pub host: HostArgs,
}

/// What the doctor found on one host.
#[derive(Debug, Clone, Serialize)]
pub struct HostReport {
    /// The target.
    pub target: String,
    /// The transport facts, when the host was reached.
    pub facts: Option<TransportFacts>,
    /// The checks, in order.
    pub checks: Vec<Check>,
    /// Whether every required check passed.
    pub ok: bool,
}

/// Checks each host, prints the reports, and fails when one has a failed required check.
pub async fn run(args: &DoctorArgs, cx: &Context) -> anyhow::Result<()> {
    args.host.docker(Compose::Plugin)?;
    let mut reports = Vec::new();
    for target in &args.targets.targets {
        if let Some(report) = examine(target, args, cx).await? {
            reports.push(report);
        }
    }
    if reports.is_empty() {
        return Ok(());
    }
    Output {
        format: args.output.format(),
    }
    .data(&reports, || table(&reports))?;
    let failed: Vec<&str> = reports
        .iter()
        .filter(|r| !r.ok)
        .map(|r| r.target.as_str())
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    Err(
        Problem::failed(format!("required checks failed on {}", failed.join(", ")))
            .hint("fix what the FAIL rows say, then run the doctor again")
            .into(),
    )
}

/// The report of one host; none in a dry run (which prints the steps alone).
async fn examine(
    target: &str,
    args: &DoctorArgs,
    cx: &Context,
) -> anyhow::Result<Option<HostReport>> {
    let spec = TargetSpec::parse(target).map_err(|e| Problem::usage(e.to_string()))?;
    let fleet = transport::fleet(&[target.to_owned()], &args.run, &args.targets.ssh, cx)?;
    let reporter = transport::reporter(&args.run, &fleet, true, cx);
    let run = |plan: Plan| {
        let (fleet, reporter) = (&fleet, &reporter);
        async move {
            let (mut ok, error) = fleet::outcome(fleet.run(&plan, reporter).await?);
            anyhow::Ok(match error {
                Some(error) => Err(error),
                None => Ok(ok.pop().map(|(_, r)| r)),
            })
        }
    };
    let unreached = |error: anyhow::Error| HostReport {
        target: target.to_owned(),
        facts: None,
        checks: vec![fail("connection", format!("{error:#}"))],
        ok: false,
    };
    let mut first = facts::plan();
    first.push(requirements::step());
    let first = match run(first).await? {
        Ok(run) => run,
        Err(error) => return Ok(Some(unreached(error))),
    };
    if fleet.dry_run {
        let mut rest = Plan::new();
        rest.push(library::step(&args.host.library, &[]));
        rest.push(doctor::probe_step(
            &args.host.docker(Compose::Plugin)?,
            &DEFAULT_PORTS,
        ));
        run(rest).await??;
        return Ok(None);
    }
    let Some(first) = first else { return Ok(None) };
    let facts = facts::from_run(&spec.raw, &first);
    let compose = requirements::from_probe(target, &step_output(&first, requirements::STEP))
        .map_err(|p| p.message);
    let mut checks = vec![sudo_check(&facts)];
    if facts.ok {
        let docker = args
            .host
            .docker(*compose.as_ref().unwrap_or(&Compose::Plugin))?;
        let mut read = Plan::new();
        read.push(library::step(
            &docker.library,
            &[finch_json::PATH, tls::CERT_PATH, compose::PATH],
        ));
        let library = match run(read).await? {
            Ok(r) => Library::parse(
                &r.map(|r| step_output(&r, library::STEP))
                    .unwrap_or_default(),
            )?,
            Err(error) => return Ok(Some(unreached(error))),
        };
        let ports = ports(&library);
        let mut probe = Plan::new();
        probe.push(doctor::probe_step(&docker, &ports));
        let probe = match run(probe).await? {
            Ok(r) => doctor::parse(&r.map(|r| step_output(&r, doctor::STEP)).unwrap_or_default()),
            Err(error) => return Ok(Some(unreached(error))),
        };
        let inputs = Inputs {
            compose,
            tls_cert_pem: text(&library, tls::CERT_PATH),
            deployed: library.files.contains_key(finch_json::PATH),
            operator_cert_pem: operator_cert(&library, cx),
        };
        checks.extend(doctor::checks(&probe, &inputs, OffsetDateTime::now_utc()));
    }
    let ok = !checks.iter().any(Check::failed);
    Ok(Some(HostReport {
        target: target.to_owned(),
        facts: Some(facts),
        checks,
        ok,
    }))
}

/// The ports Traefik publishes according to the library's compose file, else 80 and 443.
fn ports(library: &Library) -> Vec<u16> {
    let compose = library.files.get(compose::PATH);
    DEFAULT_PORTS
        .iter()
        .map(|p| compose.and_then(|c| published_port(c, *p)).unwrap_or(*p))
        .collect()
}

/// This workstation's certificate for the stack in `library`, found in the profile by the
/// stack's host name.
fn operator_cert(library: &Library, cx: &Context) -> Option<String> {
    let json: serde_json::Value =
        serde_json::from_slice(library.files.get(finch_json::PATH)?).ok()?;
    let host = json.get("hostname")?.as_str()?;
    let profile = cx.load_profile().ok()?;
    let name = profile
        .names()
        .into_iter()
        .find(|n| mtls::service_host(n) == host)?;
    profile.stack(&name).ok().flatten().map(|s| s.cert_pem)
}

fn sudo_check(facts: &TransportFacts) -> Check {
    if facts.ok {
        Check {
            check: "sudo".to_owned(),
            status: Status::Ok,
            required: true,
            detail: facts.sudo.clone(),
        }
    } else {
        fail(
            "sudo",
            format!(
                "{}: connect as root, or allow {} passwordless sudo (NOPASSWD in /etc/sudoers.d)",
                facts.sudo, facts.user
            ),
        )
    }
}

fn fail(check: &str, detail: String) -> Check {
    Check {
        check: check.to_owned(),
        status: Status::Fail,
        required: true,
        detail,
    }
}

fn step_output(run: &PlanRun, name: &str) -> String {
    run.steps
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.stdout.clone())
        .unwrap_or_default()
}

fn text(library: &Library, path: &str) -> Option<String> {
    library
        .files
        .get(path)
        .map(|b| String::from_utf8_lossy(b).into_owned())
}

/// The reports as one table: the facts, then the checks, per host.
fn table(reports: &[HostReport]) -> String {
    let mut rows = Vec::new();
    for report in reports {
        if let Some(f) = &report.facts {
            rows.push(vec![
                report.target.clone(),
                "host".to_owned(),
                "".to_owned(),
                format!(
                    "{}, {} {}, {}, user {}",
                    f.os, f.kernel, f.arch, f.init, f.user
                ),
            ]);
        }
        for check in &report.checks {
            rows.push(vec![
                report.target.clone(),
                check.check.clone(),
                check.status.word().to_owned(),
                check.detail.clone(),
            ]);
        }
    }
    crate::output::table(Some(&["TARGET", "CHECK", "STATUS", "DETAIL"]), &rows)
}
