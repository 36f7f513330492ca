//! The flow `service deploy` and `service update` share: look at the host in one round trip
//! (Docker and Compose, the library, which images it has), render the stack with the values it
//! keeps, then one plan that changes only what differs, starts the stack and waits until every
//! container is healthy.
//!
//! Two connections in the common case: the look is read-only, so a host that cannot run the
//! stack is refused before anything on it changes, and the plan is built from what the look
//! found (so a repeat uploads nothing and recreates no container). Both end alike
//! ([`Rollout::finish`]): the stack goes into the operator's profile, the plan runs, and a
//! summary says how to reach the stack.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use time::OffsetDateTime;

use super::alert_args::AlertArgs;
use super::host_args::HostArgs;
use super::operator;
use super::stack_args::StackArgs;
use crate::cli::Context;
use crate::cli::args::{RunArgs, TargetArg};
use crate::cli::transport;
use crate::mtls::ClientCredentials;
use crate::output::Problem;
use crate::stack::deploy::Docker;
use crate::stack::deploy::apply::{self, Apply};
use crate::stack::deploy::library::{self, Library};
use crate::stack::deploy::requirements::{self, Compose};
use crate::stack::{self, Existing, Images, RenderedFile, Service, StackSettings, TlsMode};
use crate::target::fleet::Fleet;
use crate::target::report::Reporter;
use crate::target::report::StepRecord;
use crate::target::run::{PlanError, PlanRun};
use crate::target::{Plan, Step};

/// The name of the image probe step.
const IMAGES_STEP: &str = "Check which of the stack's images the host has";

/// `$1…` image references: prints `present <ref>` for each the daemon has. Exits 0 even
/// without Docker (the requirements step says what is missing).
const IMAGES_SCRIPT: &str = r#"for i; do
  if docker image inspect "$i" >/dev/null 2>&1; then echo "present $i"; fi
done
exit 0"#;

/// Installs Docker and Compose from the distribution's own packages.
const INSTALL_SCRIPT: &str = r#"if ! command -v apt-get >/dev/null 2>&1; then
  echo "--docker.install knows apt-get only; install Docker and Compose with the host's package manager" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q && apt-get install -y -q docker.io docker-compose"#;

/// The flags deploy and update share.
#[derive(Debug, Clone, Args)]
pub struct RolloutArgs {
    /// Retention and images.
    #[command(flatten)]
    pub stack: StackArgs,
    /// Where alerts go.
    #[command(flatten)]
    pub alerts: AlertArgs,
    /// The library and the Docker daemon.
    #[command(flatten)]
    pub host: HostArgs,
    /// A `docker save` archive to load on the host when an image the stack names is missing
    /// there (repeatable), for hosts that cannot pull
    #[arg(long = "stack.image-archive", value_name = "FILE")]
    pub image_archives: Vec<PathBuf>,
}

/// What the first look at the host found.
#[derive(Debug)]
pub struct Look {
    /// How to reach Docker and Compose.
    pub docker: Docker,
    /// The library.
    pub library: Library,
    /// The image references the daemon has.
    pub present: Vec<String>,
}

/// The stack a rollout brings the host to.
#[derive(Debug)]
pub struct Rendered {
    /// Its settings.
    pub settings: StackSettings,
    /// The files they render to.
    pub files: Vec<RenderedFile>,
    /// Its name in the profile (see [`operator::service_name`]).
    pub name: String,
}

/// This workstation as the first operator of a new stack.
#[derive(Debug)]
pub struct NewOperator {
    /// Its resource id.
    pub rid: String,
    /// Its new CA and client certificate.
    pub credentials: ClientCredentials,
}

/// One host's rollout: the fleet of one target and how it reports.
#[derive(Debug)]
pub struct Rollout {
    /// The fleet (one target).
    pub fleet: Fleet,
    /// The step reporter.
    pub reporter: Reporter,
}

// === impl Rollout ===

impl Rollout {
    /// The rollout for `target`.
    pub fn new(target: &TargetArg, run: &RunArgs, cx: &Context) -> anyhow::Result<Rollout> {
        let fleet = transport::fleet(std::slice::from_ref(&target.target), run, &target.ssh, cx)?;
        let reporter = transport::reporter(run, &fleet, false, cx);
        Ok(Rollout { fleet, reporter })
    }

    /// The target's name.
    pub fn target(&self) -> &str {
        self.fleet.targets.first().map_or("", |t| t.raw.as_str())
    }

    /// The target's host.
    pub fn target_host(&self) -> &str {
        self.fleet.targets.first().map_or("", |t| t.host.as_str())
    }

    /// Runs `plan` and returns its run, or the target's error.
    pub async fn run(&self, plan: &Plan) -> anyhow::Result<PlanRun> {
        self.run_keeping_steps(plan).await?.map_err(|e| e.error)
    }

    /// Runs `plan`; a failed run keeps the steps that ran before the failure.
    async fn run_keeping_steps(&self, plan: &Plan) -> anyhow::Result<Result<PlanRun, PlanError>> {
        let runs = self.fleet.run(plan, &self.reporter).await?;
        runs.into_iter()
            .next()
            .map(|run| run.result)
            .ok_or_else(|| Problem::failed("the plan ran on no target").into())
    }

    /// Looks at the host: Docker and Compose (installing them first with `install`), the
    /// library (reading `files` of it) and which of `images` the daemon has. A dry run
    /// assumes the `docker compose` plugin and a host with nothing on it.
    pub async fn look(
        &self,
        host: &HostArgs,
        install: bool,
        files: &[&str],
        images: &Images,
    ) -> anyhow::Result<Look> {
        let references: Vec<String> = Service::ALL
            .iter()
            .map(|s| images.get(*s).to_owned())
            .collect();
        // The images step needs no Compose; the flavour is settled below.
        let probe_docker = host.docker(Compose::Plugin)?;
        let mut plan = Plan::new();
        plan.push(requirements::step());
        plan.push(library::step(&probe_docker.library, files));
        plan.push(probe_docker.script(IMAGES_STEP, IMAGES_SCRIPT, references));
        // A host without Docker fails the later steps: what the probe said comes first.
        let looked = self.run_keeping_steps(&plan).await?;
        let steps = match &looked {
            Ok(run) => &run.steps,
            Err(e) => &e.steps,
        };
        let probe = output(steps, requirements::STEP).trim().to_owned();
        let missing = matches!(probe.as_str(), "no-docker" | "no-compose");
        if missing && !install {
            requirements::from_probe(self.target(), &probe)?;
        }
        let mut run = match looked {
            Ok(run) => run,
            Err(e) if !missing => return Err(e.error),
            Err(_) => PlanRun {
                steps: Vec::new(),
                identity: None,
            },
        };
        if self.fleet.dry_run {
            return Ok(Look {
                docker: probe_docker,
                library: Library::default(),
                present: Vec::new(),
            });
        }
        if missing {
            self.reporter.note(&format!(
                "Installing docker.io and docker-compose on {} with apt-get (--docker.install)",
                self.target()
            ));
            let mut plan = Plan::new();
            plan.push(Step::script(
                "Install Docker and Compose from the distribution's packages",
                INSTALL_SCRIPT,
                Vec::<String>::new(),
            ));
            plan.push(requirements::step());
            plan.push(library::step(&probe_docker.library, files));
            run = self.run(&plan).await?;
        }
        let compose =
            requirements::from_probe(self.target(), output(&run.steps, requirements::STEP))?;
        let library = Library::parse(output(&run.steps, library::STEP))
            .map_err(|e| Problem::failed(format!("{}: {e}", self.target())))?;
        let present = output(&run.steps, IMAGES_STEP)
            .lines()
            .filter_map(|l| l.strip_prefix("present "))
            .map(str::to_owned)
            .collect();
        Ok(Look {
            docker: host.docker(compose)?,
            library,
            present,
        })
    }

    /// Applies the rendered stack and waits for it; a failing container is named with the
    /// tail of its logs. Returns whether anything ran: a dry run only records the plan (and
    /// says so).
    pub async fn apply(&self, apply: &Apply<'_>) -> anyhow::Result<bool> {
        let run = self.run(&apply.plan()).await?;
        if self.fleet.dry_run {
            self.reporter
                .note(&format!("Dry run: nothing changed on {}", self.target()));
            return Ok(false);
        }
        let failing = apply::failing(output(&run.steps, apply::READY_STEP));
        if failing.is_empty() {
            return Ok(true);
        }
        let mut message = format!(
            "the stack on {} is not ready after {} s:",
            self.target(),
            apply::READY_DEADLINE_SECS
        );
        for f in &failing {
            message.push_str(&format!("\n  {} is {}", f.container, f.state));
            for line in &f.logs {
                message.push_str(&format!("\n    | {line}"));
            }
        }
        Err(Problem::failed(message)
            .hint(format!(
                "fix what the logs say, then run the same command again; `sudo docker logs <container>` on {} shows more",
                self.target_host()
            ))
            .into())
    }

    /// Records `rendered` in the profile (with `operator`'s credentials for a new stack), applies
    /// it as `look` found the host, loading `archives` when an image is missing there, and
    /// prints the summary. `reset` starts the stack over (see [`Apply`]).
    pub async fn finish(
        &self,
        cx: &Context,
        look: &Look,
        rendered: &Rendered,
        archives: &[(String, Vec<u8>)],
        operator: Option<&NewOperator>,
        reset: bool,
    ) -> anyhow::Result<()> {
        let Rendered {
            settings,
            files,
            name,
        } = rendered;
        if !self.fleet.dry_run {
            operator::save(cx, name, &settings.tls, operator.map(|o| &o.credentials))?;
        }
        let apply = Apply {
            docker: &look.docker,
            files,
            library: &look.library,
            reset,
            operator: operator.map(|o| (o.rid.clone(), o.credentials.ca_pem.clone())),
            archives: archives_needed(settings, &look.present, archives),
        };
        if self.apply(&apply).await? {
            operator::Summary {
                target: self.target(),
                name,
                settings,
                password_file: look.docker.path(stack::grafana::PASSWORD_PATH),
                first: operator.is_some(),
                registered: operator.is_some() || operator::known(cx, name),
            }
            .print();
        }
        Ok(())
    }
}

// === impl Rendered ===

impl Rendered {
    /// The stack for `host` with `tls`: the stack and alert flags of `args` (where not given,
    /// the retention, ports, database, replicas and contact points the library has), the values
    /// `existing` keeps, and the daemon's socket for Alloy.
    pub fn new(
        host: &str,
        tls: TlsMode,
        args: &RolloutArgs,
        existing: &Existing,
        look: &Look,
        now: OffsetDateTime,
    ) -> anyhow::Result<Rendered> {
        let RolloutArgs { stack, alerts, .. } = args;
        let generated = existing.generated(host, now)?;
        let (database, replicas) =
            stack.database_or(existing, &generated, look.library.replicas())?;
        let settings = StackSettings {
            host: host.to_owned(),
            tls,
            retention: stack.retention_or(look.library.retention()),
            images: stack.images()?,
            ports: stack.ports_or(look.library.ports())?,
            generated,
            database,
            replicas,
            docker_socket: look.docker.socket().to_owned(),
            alerts: alerts.resolve(look.library.alerts(), host)?,
        };
        let files = crate::stack::render(&settings).context("cannot render the stack")?;
        let name = operator::service_name(host, settings.ports.https.port);
        Ok(Rendered {
            settings,
            files,
            name,
        })
    }
}

/// Reads the archives the flags name, before anything on the host changes.
pub fn read_archives(args: &RolloutArgs) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    args.image_archives
        .iter()
        .map(|path| {
            let bytes = std::fs::read(path).map_err(|e| {
                Problem::failed(format!(
                    "--stack.image-archive: cannot read {}: {e}",
                    path.display()
                ))
            })?;
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            Ok((name, bytes))
        })
        .collect()
}

/// The archives to load: all of them when an image the stack names is missing, else none.
fn archives_needed<'a>(
    settings: &StackSettings,
    present: &[String],
    archives: &'a [(String, Vec<u8>)],
) -> &'a [(String, Vec<u8>)] {
    let missing = Service::ALL
        .iter()
        .any(|s| !present.iter().any(|p| p == settings.images.get(*s)));
    if missing { archives } else { &[] }
}

/// The current time, for certificates and `created_at`.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// The stdout of the step called `name` in `steps`.
pub fn output<'r>(steps: &'r [StepRecord], name: &str) -> &'r str {
    steps
        .iter()
        .find(|s| s.name == name)
        .map_or("", |s| s.stdout.as_str())
}
