//! `finchctl agent deploy` and `agent update`: one command line and one run, which resolves the
//! flags, reads the host's platform, fetches the binary where it can be fetched, and installs.
//!
//! Deploy installs Alloy with an agent config on a host, as a service of the host's own service
//! manager (systemd, launchd, rc.d) run by an unprivileged user where the platform allows. Update
//! replaces the agent config and/or the Alloy binary; with `--agent.rid RID --agent.service NAME`
//! it installs a fresh config with a new token, fetched into memory: the renewal path after
//! `service rotate-secret`. Both are the same install, safe to repeat (Alloy restarts only when
//! something changed), so update also repairs a host where something was removed.
//!
//! Resolving comes first and touches no host: the config (a file, or fetched over gRPC into
//! memory with `--agent.rid`/`--agent.service`), `--alloy.binary`, the release and the prefix.
//! Then an unprivileged probe reads the platform and whether the host can reach the release
//! server, so a host that cannot run an agent is refused before anything on it changes.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context as _;
use bytes::Bytes;
use clap::Args;

use crate::agent_install::layout::{Layout, check_prefix};
use crate::agent_install::plan::{ACTIVATE_STEP, BinarySource, Install};
use crate::agent_install::platform::{self, Arch, Os, Platform};
use crate::agent_install::release::{self, DEFAULT_MIRROR, Release};
use crate::cli::Context;
use crate::cli::agent::config;
use crate::cli::args::{RunArgs, TargetArg};
use crate::cli::transport;
use crate::output::Problem;
use crate::stack::images::ALLOY_VERSION;
use crate::target::Plan;
use crate::target::fleet::{self, Fleet};
use crate::target::report::Reporter;
use crate::target::run::PlanRun;

/// The platform a dry run plans for unless `--agent.platform` names another.
const DRY_RUN_PLATFORM: Platform = Platform::new(Os::Linux, Arch::Amd64);

/// The command line of `agent deploy` and `agent update`.
#[derive(Debug, Clone, Args)]
pub struct InstallCommand {
    /// The host.
    #[command(flatten)]
    pub target: TargetArg,
    /// Step reporting and dry run.
    #[command(flatten)]
    pub run: RunArgs,
    /// What to install or replace.
    #[command(flatten)]
    pub install: InstallArgs,
}

/// The flags of deploy and update besides the host's.
#[derive(Debug, Clone, Args)]
pub struct InstallArgs {
    /// The agent config to install (from `agent register` or `agent config`)
    #[arg(
        long = "agent.config",
        value_name = "FILE",
        conflicts_with = "rid",
        required_unless_present_any = ["rid", "skip_config"]
    )]
    pub config: Option<PathBuf>,
    /// Fetch a fresh config of this agent from the service instead (kept in memory, never written here)
    #[arg(long = "agent.rid", value_name = "RID", requires = "service")]
    pub rid: Option<String>,
    /// The stack to fetch the config from, with --agent.rid (its service name in finch.json)
    #[arg(long = "agent.service", value_name = "NAME", requires = "rid")]
    pub service: Option<String>,
    /// Keep the installed config
    #[arg(long = "skip.config", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub skip_config: Option<bool>,
    /// The binary and the host.
    #[command(flatten)]
    pub alloy: AlloyArgs,
}

/// The flags about Alloy itself and where it goes, shared by deploy, update and enroll.
#[derive(Debug, Clone, Args)]
pub struct AlloyArgs {
    /// Keep the installed Alloy binary
    #[arg(long = "skip.binaries", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub skip_binaries: Option<bool>,
    /// The Alloy release, such as v1.18.0 (default: the one pinned with the stack)
    #[arg(long = "alloy.version", default_value = ALLOY_VERSION, value_name = "VERSION")]
    pub alloy_version: String,
    /// Where Alloy's releases are downloaded from: GitHub, or a mirror of its layout
    #[arg(long = "alloy.mirror", default_value = DEFAULT_MIRROR, value_name = "URL")]
    pub alloy_mirror: String,
    /// Upload this Alloy binary instead of downloading a release (hosts with no route out)
    #[arg(
        long = "alloy.binary",
        value_name = "PATH",
        conflicts_with = "skip_binaries"
    )]
    pub alloy_binary: Option<PathBuf>,
    /// Refuse to start when Alloy's ports (12345, 3100) are taken on the host
    #[arg(long = "check.ports", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub check_ports: Option<bool>,
    /// Require the host to download Alloy itself (curl, unzip, the release server) instead of falling back to this workstation
    #[arg(long = "check.optionals", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub check_optionals: Option<bool>,
    /// Install under this directory, with a service and user of its own (several agents on one host; enroll replaces {host} with each target's host)
    #[arg(long = "agent.prefix", value_name = "DIR")]
    pub prefix: Option<String>,
    /// The host's platform for a dry run, such as darwin-arm64 (a real run reads it from the host)
    #[arg(long = "agent.platform", value_name = "OS-ARCH", value_parser = Platform::parse)]
    pub platform: Option<Platform>,
}

/// Where each host's binary comes from: resolved once from the flags, a release fetched on
/// this workstation at most once per platform.
pub struct Binaries {
    release: Release,
    skip: bool,
    /// `--alloy.binary`; shared, never copied, by every host's upload.
    local: Option<Bytes>,
    host_only: bool,
    /// What this workstation downloaded, per platform, for the hosts with no route out.
    fetched: HashMap<Platform, Bytes>,
}

/// What the probe found on the host.
pub struct Probed {
    /// The platform.
    pub platform: Platform,
    /// Whether the host can download the release itself.
    pub reachable: bool,
}

/// Resolves the flags, reads the host, installs.
pub async fn run(command: &InstallCommand, cx: &Context) -> anyhow::Result<()> {
    let InstallCommand {
        target,
        run,
        install: args,
    } = command;
    let skip_config = check_flags(args)?;
    let mut binaries = Binaries::new(&args.alloy)?;
    let fleet = transport::fleet(std::slice::from_ref(&target.target), run, &target.ssh, cx)?;
    let config = resolve_config(args, skip_config, fleet.dry_run, cx).await?;
    let reporter = transport::reporter(run, &fleet, false, cx);
    let probed = probe(&fleet, &reporter, args.alloy.platform, binaries.download()).await?;
    let install = Install {
        platform: probed.platform,
        layout: Layout::new(probed.platform.os, args.alloy.prefix.as_deref()),
        binary: binaries.source(&probed, &target.target, cx).await?,
        config,
        check_ports: args.alloy.check_ports == Some(true),
    };
    let (ok, error) = fleet::outcome(fleet.run(&install.plan(), &reporter).await?);
    if let Some(error) = error {
        return Err(error);
    }
    if !fleet.dry_run {
        for (host, run) in &ok {
            report(host, run, &install, cx);
        }
    }
    Ok(())
}

/// The checks clap cannot express; returns `--skip.config`.
fn check_flags(args: &InstallArgs) -> Result<bool, Problem> {
    let skip_config = args.skip_config == Some(true);
    if skip_config && args.alloy.skip_binaries == Some(true) {
        return Err(Problem::usage(
            "--skip.config and --skip.binaries together leave nothing to install",
        ));
    }
    if let Some(prefix) = &args.alloy.prefix {
        check_prefix(prefix).map_err(Problem::usage)?;
    }
    Ok(skip_config)
}

// === impl Binaries ===

impl Binaries {
    /// Reads `--alloy.binary` and checks the release flags.
    pub fn new(args: &AlloyArgs) -> anyhow::Result<Self> {
        Ok(Self {
            release: Release::new(&args.alloy_version, &args.alloy_mirror)?,
            skip: args.skip_binaries == Some(true),
            local: args.alloy_binary.as_deref().map(read_binary).transpose()?,
            host_only: args.check_optionals == Some(true),
            fetched: HashMap::new(),
        })
    }

    /// The release to ask the host about, when the binary is to be downloaded.
    pub fn download(&self) -> Option<&Release> {
        (!self.skip && self.local.is_none()).then_some(&self.release)
    }

    /// The binary for a host the probe read: kept, uploaded, or downloaded by the host when it
    /// can reach the release server, else by this workstation (refused with
    /// `--check.optionals`).
    pub async fn source(
        &mut self,
        probed: &Probed,
        host: &str,
        cx: &Context,
    ) -> anyhow::Result<BinarySource> {
        if self.skip {
            return Ok(BinarySource::Keep);
        }
        if let Some(bytes) = &self.local {
            return Ok(BinarySource::Upload(bytes.clone()));
        }
        let release = &self.release;
        if probed.reachable {
            return Ok(BinarySource::Download(release.clone()));
        }
        if self.host_only {
            return Err(Problem::failed(format!(
                "{host} cannot download Alloy itself (it needs curl, unzip and a route to {}), and --check.optionals asks it to",
                release.mirror
            ))
            .hint("install curl and unzip there and open the route, or drop --check.optionals to fetch on this workstation")
            .into());
        }
        if let Some(bytes) = self.fetched.get(&probed.platform) {
            return Ok(BinarySource::Upload(bytes.clone()));
        }
        cx.output.status(
            "Fetching",
            &format!(
                "Alloy {} for {} on this workstation ({host} cannot reach {})",
                release.version, probed.platform, release.mirror
            ),
        );
        let bytes = Bytes::from(release.fetch_locally(probed.platform).await?);
        self.fetched.insert(probed.platform, bytes.clone());
        Ok(BinarySource::Upload(bytes))
    }
}

/// Says whether Alloy was (re)started on `host` or left alone.
pub fn report(host: &str, run: &PlanRun, install: &Install, cx: &Context) {
    let service = &install.layout.service;
    match step_output(run, ACTIVATE_STEP).as_str() {
        "unchanged" => cx.output.status(
            "Unchanged",
            &format!("{service} on {host}: nothing differed, not restarted"),
        ),
        _ => cx.output.status(
            "Started",
            &format!("{service} on {host} ({})", install.platform),
        ),
    }
}

/// The platform of the only target: read by the probe, or for a dry run `--agent.platform`.
/// Also asks whether the host can reach `release` when the binary is to be downloaded.
pub async fn probe(
    fleet: &Fleet,
    reporter: &Reporter,
    flag: Option<Platform>,
    release: Option<&Release>,
) -> anyhow::Result<Probed> {
    if fleet.dry_run {
        return Ok(Probed::dry(flag));
    }
    let (ok, error) = fleet::outcome(fleet.run(&probe_plan(release), reporter).await?);
    if let Some(error) = error {
        return Err(error);
    }
    let (host, run) = ok
        .first()
        .ok_or_else(|| Problem::failed("no target ran the probe"))?;
    Ok(Probed::read(host, run, flag)?)
}

/// The unprivileged probe: the platform, and whether the host reaches `release`.
pub fn probe_plan(release: Option<&Release>) -> Plan {
    let mut plan = Plan::new();
    plan.push(Platform::probe());
    if let Some(release) = release {
        plan.push(release.reach_step());
    }
    plan
}

// === impl Probed ===

impl Probed {
    /// What a dry run assumes: `--agent.platform` (or linux-amd64), and a reachable release.
    pub fn dry(flag: Option<Platform>) -> Self {
        Probed {
            platform: flag.unwrap_or(DRY_RUN_PLATFORM),
            reachable: true,
        }
    }

    /// What [`probe_plan`]'s run on `host` found; refused when `--agent.platform` differs.
    pub fn read(host: &str, run: &PlanRun, flag: Option<Platform>) -> Result<Self, Problem> {
        let platform = Platform::from_probe(host, &step_output(run, platform::STEP))?;
        if let Some(flag) = flag.filter(|f| *f != platform) {
            return Err(Problem::usage(format!(
                "--agent.platform says {flag}, but {host} is {platform}"
            )));
        }
        let reachable = step_output(run, release::REACH_STEP).trim() == "reachable";
        Ok(Probed {
            platform,
            reachable,
        })
    }
}

/// The config to install: `--agent.config`'s file, or fetched into memory with `--agent.rid`
/// (not for a dry run: fetching mints a token), or none with `--skip.config`.
async fn resolve_config(
    args: &InstallArgs,
    skip: bool,
    dry_run: bool,
    cx: &Context,
) -> anyhow::Result<Option<Vec<u8>>> {
    if skip {
        return Ok(None);
    }
    match (&args.config, &args.rid, &args.service) {
        (Some(path), _, _) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("--agent.config: cannot read {}", path.display()))?;
            Ok(Some(bytes))
        }
        (None, Some(_), Some(_)) if dry_run => Ok(Some(Vec::new())),
        (None, Some(rid), Some(service)) => Ok(Some(config::fetch(cx, service, rid).await?)),
        _ => Err(Problem::usage(
            "no agent config: pass --agent.config FILE, or --agent.rid RID --agent.service NAME to fetch one, or --skip.config to keep the installed one",
        )
        .into()),
    }
}

/// Reads `--alloy.binary`.
fn read_binary(path: &std::path::Path) -> anyhow::Result<Bytes> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("--alloy.binary: cannot read {}", path.display()))?;
    if bytes.is_empty() {
        return Err(Problem::usage(format!("--alloy.binary: {} is empty", path.display())).into());
    }
    Ok(bytes.into())
}

/// The trimmed stdout of the step named `name`, or nothing.
pub fn step_output(run: &PlanRun, name: &str) -> String {
    run.steps
        .iter()
        .find(|s| s.name == name || s.name.starts_with(&format!("{name} ")))
        .map(|s| s.stdout.trim().to_owned())
        .unwrap_or_default()
}
